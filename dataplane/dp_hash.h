/* SPDX-License-Identifier: MIT */
/*
 * dp_hash: partition-key routing, Kinesis style.
 *
 * What it owns. A record's hash key is MD5(partition key bytes) read as an unsigned 128-bit
 * big-endian integer, or an ExplicitHashKey given in decimal; the record goes to the one open
 * shard whose [start, end] hash-key range contains it (reference kinesis_firehose.md §3.1).
 * This module provides the 128-bit integer type and its strict decimal text form, the Kinesis
 * even split of the key space over N shards (h = floor(2^128 / N), NOT (2^128 - 1) / N, which
 * kinesis-mock uses and which is off by one for N = 2, 4, ...), an immutable routing map from
 * ranges to shard indexes, and the "shardId-000000000001" names.
 *
 * Threads. A struct dp_hasher is used by one thread at a time (make one per worker: it keeps one
 * reusable EVP_MD_CTX so that hashing a key does no allocation and no algorithm fetch). A struct
 * dp_shard_map is immutable once built: any number of threads may look up in it concurrently;
 * a resharding builds a new map and publishes the pointer (the map does no reference counting).
 * Everything else here is a pure function.
 *
 * The header compiles as C and as C++ (benchmarks include it inside extern "C").
 */
#ifndef DP_HASH_H
#define DP_HASH_H

#include <stddef.h>
#include <stdint.h>

/* The hash-key space: 0 .. 2^128 - 1. __extension__ keeps -Wpedantic quiet about __int128. */
__extension__ typedef unsigned __int128 dp_u128;
#define DP_U128_MAX (~(dp_u128)0)

/* Longest decimal rendering of a dp_u128: 2^128 - 1 has 39 digits. */
#define DP_U128_DIGITS 39
/* "shardId-" plus 12 zero-padded digits, as AWS names shards. */
#define DP_SHARD_ID_LEN 20

/* ---- MD5 hash keys ---------------------------------------------------------------------------- */

struct dp_hasher;

/*
 * Create a hasher: one MD5 context that every dp_hasher_md5() call on this thread reuses.
 * Returns 0 or -ENOMEM.
 */
int dp_hasher_new(struct dp_hasher **ret);

/*
 * *out = MD5(key[0..len)) as a big-endian 128-bit integer. key may be NULL when len is 0.
 * The key is taken as raw bytes: the caller passes the partition key's UTF-8 encoding.
 * Returns 0, or -EIO when libcrypto fails (not expected once the hasher was created).
 */
int dp_hasher_md5(struct dp_hasher *h, const void *key, size_t len, dp_u128 *out);

/* Free a hasher. NULL is accepted. */
void dp_hasher_free(struct dp_hasher *h);

/* ---- decimal text ----------------------------------------------------------------------------- */

/*
 * Parse s[0..len) as Kinesis's ExplicitHashKey: the whole input must match `0|[1-9][0-9]{0,38}`
 * and the value must be <= 2^128 - 1. No sign, no spaces, no leading zeros; s need not be
 * NUL-terminated. *out is written only on success.
 * Returns 0; -EINVAL when the text does not match the pattern (empty, a non-digit, a leading
 * zero, more than 39 digits: Kinesis rejects these in validation); -ERANGE for 39 digits whose
 * value exceeds 2^128 - 1 (Kinesis's "must be in the range: [0, 2^128-1]").
 */
int dp_u128_parse(const char *s, size_t len, dp_u128 *out);

/*
 * Write v in decimal, without leading zeros ("0" for zero), NUL-terminated, into out (at least
 * DP_U128_DIGITS + 1 bytes). Returns the number of digits (1..39).
 */
int dp_u128_format(dp_u128 v, char out[DP_U128_DIGITS + 1]);

/* ---- key-space split -------------------------------------------------------------------------- */

/*
 * The hash-key range of shard i when the key space is split evenly over n shards, exactly as
 * Kinesis's CreateStream does: h = floor(2^128 / n); start = i * h; end = (i + 1) * h - 1,
 * except the last shard, which ends at 2^128 - 1. Requires 1 <= n and i < n (asserted).
 */
void dp_hash_range_even(uint32_t n, uint32_t i, dp_u128 *start, dp_u128 *end);

/* ---- routing map ------------------------------------------------------------------------------ */

/* One shard's inclusive hash-key range. */
struct dp_hash_range {
	dp_u128 start, end;
	uint32_t shard_index;
};

struct dp_shard_map;

/*
 * Build a routing map from n ranges given in any order (the array is copied; the caller keeps
 * it). The ranges must cover 0 .. 2^128 - 1 exactly: each start <= end, no gap, no overlap.
 * Each shard_index must be <= INT32_MAX (lookup returns it as an int) and appear only once (a
 * Kinesis shard owns one contiguous range; a repeated index is a caller bug).
 * Returns 0, -EINVAL (n == 0, a gap, an overlap, start > end, a bad or repeated index) or -ENOMEM.
 */
int dp_shard_map_new(const struct dp_hash_range *r, unsigned n, struct dp_shard_map **ret);

/*
 * Map for the Kinesis even split over n shards (1 <= n <= INT32_MAX + 1), shard i owning the
 * range dp_hash_range_even(n, i). Returns 0, -EINVAL or -ENOMEM.
 */
int dp_shard_map_even(uint32_t n, struct dp_shard_map **ret);

/*
 * The shard_index whose range contains hash (always >= 0: the map covers the whole key space).
 * O(log n): a branch-free binary search over the sorted range starts. No allocation, no lock.
 */
int dp_shard_map_lookup(const struct dp_shard_map *m, dp_u128 hash);

/* Number of ranges in the map. */
unsigned dp_shard_map_count(const struct dp_shard_map *m);

/* Free a map. NULL is accepted. */
void dp_shard_map_free(struct dp_shard_map *m);

/* ---- shard ids -------------------------------------------------------------------------------- */

/*
 * Write "shardId-" and index as 12 zero-padded decimal digits ("shardId-000000000001"),
 * NUL-terminated, into out (at least DP_SHARD_ID_LEN + 1 bytes). Returns DP_SHARD_ID_LEN.
 */
int dp_shard_id_format(uint32_t index, char out[DP_SHARD_ID_LEN + 1]);

/*
 * Parse a NUL-terminated shard id: "shardId-" followed by 1..12 decimal digits, or the digits
 * alone, as kinesalite accepts ("shardId-000000000001", "shardId-1", "1"). Leading zeros are
 * allowed; the value must be <= INT32_MAX (kinesalite's bound, and what lookups return).
 * *index is written only on success. Returns 0 or -EINVAL.
 */
int dp_shard_id_parse(const char *s, uint32_t *index);

#endif
