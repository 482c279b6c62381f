/* SPDX-License-Identifier: MIT */
/*
 * dp_hcache: a worker's cache of recent partition keys and their 128-bit hash keys.
 *
 * What it owns. Producers often reuse few partition keys (device ids, tenant ids), so a worker
 * remembers the hash keys of the keys it saw last and skips MD5 for them. The cache is a fixed
 * array of 4-way sets allocated once by dp_hcache_new(); nothing is allocated afterwards. A key
 * picks its set by its CRC32C (dp_crc32c.h, one SSE4.2 instruction per 8 bytes), and each way
 * keeps that CRC as a tag, the key's length and the key's bytes inline: a hit needs an equal
 * tag, length and a full byte compare, so two keys whose CRCs collide never share a hash key.
 * A full set replaces its ways round robin.
 *
 * A cache that does not help costs: when the working set is much larger than the cache, every
 * key pays a probe and an insert on top of its hash. dp_hcache_hashkeys() therefore watches its
 * hit rate over windows of 1024 keys and, below 1 in 8, hashes the next 15 windows' worth of
 * bursts directly (counted as bypassed) before it tries the cache again.
 *
 * Only keys of at most DP_HCACHE_KEY_MAX bytes are cached. Storing the longest partition keys
 * (256 bytes) inline would make every way four times larger for keys that are rarely that long;
 * longer keys are hashed every time and counted as uncacheable.
 *
 * Threads. A cache belongs to one worker thread: every call on one cache must come from the
 * same thread (or be otherwise serialised). The counters are plain fields that the owner
 * updates; another thread reading them through dp_hcache_stats() gets values that may lag.
 *
 * The header compiles as C and as C++ (benchmarks include it inside extern "C").
 */
#ifndef DP_HCACHE_H
#define DP_HCACHE_H

#include <stdint.h>

#include "dp_hash.h"

/* Longest key the cache stores: covers UUIDs (36), most device and tenant ids, with each way
 * 96 bytes (key, tag, length, hash key). */
#define DP_HCACHE_KEY_MAX 64
/* Ways per set. */
#define DP_HCACHE_WAYS 4
/* Most entries one cache may have (2^24 ways of 96 bytes: 1.5 GiB, far past any useful size). */
#define DP_HCACHE_ENTRIES_MAX (1u << 24)

struct dp_hcache;

struct dp_hcache_stats {
	uint64_t hits;          /* keys answered from the cache */
	uint64_t misses;        /* cacheable keys hashed and inserted */
	uint64_t uncacheable;   /* keys longer than DP_HCACHE_KEY_MAX, hashed every time */
	uint64_t bypassed;      /* keys hashed without the cache while it was not helping */
};

/*
 * Create a cache of at least `entries` keys (rounded up to a power of two, at least
 * DP_HCACHE_WAYS). Returns 0; -EINVAL when entries is 0 or above DP_HCACHE_ENTRIES_MAX;
 * -ENOMEM.
 */
int dp_hcache_new(unsigned entries, struct dp_hcache **ret);

/* Free a cache. NULL is accepted. */
void dp_hcache_free(struct dp_hcache *c);

/*
 * out[i] = the hash key of keys[i][0 .. lens[i]) (MD5 read big-endian, as dp_hasher_md5), for
 * every i < n. Cached keys are answered from the cache; the others are hashed together with
 * dp_md5x_hashkeys() and the cacheable ones inserted. While the cache is bypassed (above), the
 * whole burst is hashed and nothing is looked up or inserted. keys[i] may be NULL when lens[i]
 * is 0. No allocation.
 */
void dp_hcache_hashkeys(struct dp_hcache *c, const uint8_t *const *keys, const uint16_t *lens,
			unsigned n, dp_u128 *out);

/*
 * Single-key access, for callers that hash by other means. lookup: 1 and *out set when the key
 * is cached, else 0 (counts a hit or nothing: the miss is counted by the insert that follows).
 * insert: remember hash for the key, replacing its set's ways in turn; returns 0, or -E2BIG for a
 * key longer than DP_HCACHE_KEY_MAX (counted as uncacheable). Inserting a key already cached
 * updates its hash key in place.
 */
int dp_hcache_lookup(struct dp_hcache *c, const void *key, unsigned len, dp_u128 *out);
int dp_hcache_insert(struct dp_hcache *c, const void *key, unsigned len, dp_u128 hash);

/* Counters since creation. */
void dp_hcache_stats(const struct dp_hcache *c, struct dp_hcache_stats *out);

/* Number of entries (ways in all sets) the cache has. */
unsigned dp_hcache_capacity(const struct dp_hcache *c);

#endif
