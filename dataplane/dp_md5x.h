/* SPDX-License-Identifier: MIT */
/*
 * dp_md5x: MD5 of a burst of independent short messages (partition keys), computed in SIMD
 * lanes, one message per 32-bit lane.
 *
 * What it owns. The per-record MD5 of a partition key is the largest fixed cost of routing a
 * record (dp_hash.h: the hash key is MD5(key) read as a big-endian 128-bit integer). Workers
 * handle records in bursts of 32, and MD5 of one message is one long serial dependency chain, so
 * hashing a burst side by side in vector lanes is far cheaper than one key at a time. Keys may
 * have different lengths within one call: each lane walks its own blocks and padding, and lanes
 * are grouped by block count so that few lanes idle. Three implementations, picked at load time
 * from the CPU's features: "avx512" (AVX-512F, 16 lanes per vector), "avx2" (8 lanes per
 * vector), "scalar" (portable C, one message at a time). The SIMD code is compiled for its
 * target with function attributes, so the build needs no -march flag.
 *
 * Threads. Every function here may be called from any thread at any time; the calls keep their
 * state on the stack and allocate nothing. dp_md5x_impl_set() changes the implementation for
 * the whole process and is meant for tests and benchmarks; a call already hashing finishes with
 * the implementation it started with.
 *
 * The header compiles as C and as C++ (benchmarks include it inside extern "C").
 */
#ifndef DP_MD5X_H
#define DP_MD5X_H

#include <stdint.h>

#include "dp_hash.h"

/* Longest key hashed in lanes. Kinesis partition keys are at most 256 Unicode code points;
 * longer byte strings (multi-byte UTF-8) are still hashed correctly, one at a time by the scalar
 * code. */
#define DP_MD5X_KEY_MAX 256

/*
 * out[i] = MD5(keys[i][0 .. lens[i])) as the 16 digest bytes, for every i < n (any n, 0
 * included). Any lens[i] (see DP_MD5X_KEY_MAX); keys[i] may be NULL when lens[i] is 0.
 */
void dp_md5x(const uint8_t *const *keys, const uint16_t *lens, unsigned n, uint8_t (*out)[16]);

/*
 * Same, producing the hash keys dp_hash routes by: out[i] is MD5(keys[i]) read as a big-endian
 * 128-bit integer, the value dp_hasher_md5() gives for the same key.
 */
void dp_md5x_hashkeys(const uint8_t *const *keys, const uint16_t *lens, unsigned n, dp_u128 *out);

/* The implementation in use: "avx512", "avx2" or "scalar". */
const char *dp_md5x_impl(void);

/*
 * Force an implementation by name ("avx512", "avx2", "scalar"), or NULL for the best one this
 * CPU supports (the load-time choice). For tests and benchmarks; see Threads above.
 * Returns 0; -EINVAL for an unknown name; -ENOTSUP when this CPU lacks the instructions.
 */
int dp_md5x_impl_set(const char *name);

#endif
