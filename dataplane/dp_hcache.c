/* SPDX-License-Identifier: MIT */
/*
 * dp_hcache: per-worker partition-key -> hash-key cache (contract in dp_hcache.h).
 *
 * One set is 4 ways: the tags and lengths first (one cache line holds them and the start of the
 * hash keys), then the hash keys, then the inline keys. A lookup reads the tag line, and touches
 * a key only when tag and length both match, which for a key that is not cached almost never
 * happens. A length of EMPTY marks a free way. The set index is the CRC's low bits; the tag is
 * the whole CRC, so a tag match on a different key needs a full 32-bit collision.
 */
#include "dp_hcache.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "dp_crc32c.h"
#include "dp_md5x.h"

#define EMPTY UINT16_MAX
/* Misses hashed together: a worker's burst of 32 fits in one call of dp_md5x_hashkeys. */
#define MISS_BATCH 64
/* Keys between a set's prefetch and its probe: about one DRAM latency of CRC and probe work. */
#define PREFETCH_AHEAD 8
/*
 * Bypass. Keys are counted in windows of WINDOW cacheable keys; a window with fewer than one
 * hit in BYPASS_BELOW sends the next BYPASS keys straight to dp_md5x, after which the cache is
 * tried again for a window. At 4 % hits the probe and insert cost 25 % on top of the hash
 * (docs/performance.md, HashCache/16/100000), so a cache that does not help costs about 1/16
 * of that, and a working set that shrinks again is noticed within BYPASS + WINDOW keys.
 */
#define WINDOW 1024
#define BYPASS_BELOW 8
#define BYPASS (15 * WINDOW)

struct set {
	uint32_t tag[DP_HCACHE_WAYS];
	uint16_t len[DP_HCACHE_WAYS];
	uint8_t next;                   /* way the next insert replaces when none is free */
	dp_u128 hash[DP_HCACHE_WAYS];
	uint8_t key[DP_HCACHE_WAYS][DP_HCACHE_KEY_MAX];
} __attribute__((aligned(64)));

/* The header's "96 bytes a way": 4 ways, tags and lengths and hash keys and keys, 6 lines. */
_Static_assert(sizeof(struct set) == 96 * DP_HCACHE_WAYS, "a set is 6 cache lines");

struct dp_hcache {
	struct set *sets;
	uint32_t mask;                  /* sets - 1 */
	uint32_t win_keys, win_hits;    /* cacheable keys and hits in the current window */
	uint32_t bypass_left;           /* keys still to hash without the cache */
	struct dp_hcache_stats st;
};

int dp_hcache_new(unsigned entries, struct dp_hcache **ret)
{
	struct dp_hcache *c;
	unsigned nsets = 1;

	if (entries == 0 || entries > DP_HCACHE_ENTRIES_MAX)
		return -EINVAL;
	while (nsets * DP_HCACHE_WAYS < entries)
		nsets <<= 1;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->sets = aligned_alloc(_Alignof(struct set), (size_t)nsets * sizeof(struct set));
	if (!c->sets) {
		free(c);
		return -ENOMEM;
	}
	memset(c->sets, 0, (size_t)nsets * sizeof(struct set));
	for (unsigned s = 0; s < nsets; s++)
		for (unsigned w = 0; w < DP_HCACHE_WAYS; w++)
			c->sets[s].len[w] = EMPTY;
	c->mask = nsets - 1;
	*ret = c;
	return 0;
}

void dp_hcache_free(struct dp_hcache *c)
{
	if (!c)
		return;
	free(c->sets);
	free(c);
}

/*
 * a[0..len) == b[0..len) for len <= DP_HCACHE_KEY_MAX, without a call: 8-byte words, the last
 * one overlapping its predecessor so that no byte outside either key is read.
 */
static inline int key_eq(const uint8_t *a, const uint8_t *b, unsigned len)
{
	uint64_t x, y, diff = 0;

	if (len >= 8) {
		for (unsigned i = 0; i + 8 < len; i += 8) {
			memcpy(&x, a + i, 8);
			memcpy(&y, b + i, 8);
			diff |= x ^ y;
		}
		memcpy(&x, a + len - 8, 8);
		memcpy(&y, b + len - 8, 8);
		return (diff | (x ^ y)) == 0;
	}
	for (unsigned i = 0; i < len; i++)
		diff |= a[i] ^ b[i];
	return diff == 0;
}

/* The way holding key in set s, or -1. len <= DP_HCACHE_KEY_MAX. */
static inline int find(const struct set *s, uint32_t crc, const void *key, unsigned len)
{
	for (int w = 0; w < DP_HCACHE_WAYS; w++)
		if (s->tag[w] == crc && s->len[w] == len && key_eq(s->key[w], key, len))
			return w;
	return -1;
}

static void insert_crc(struct dp_hcache *c, uint32_t crc, const void *key, unsigned len,
		       dp_u128 hash)
{
	struct set *s = &c->sets[crc & c->mask];
	int w = find(s, crc, key, len);

	if (w < 0) {
		for (w = 0; w < DP_HCACHE_WAYS && s->len[w] != EMPTY; w++)
			;
		if (w == DP_HCACHE_WAYS) {
			w = s->next;
			s->next = (uint8_t)((s->next + 1) % DP_HCACHE_WAYS);
		}
		s->tag[w] = crc;
		s->len[w] = (uint16_t)len;
		if (len)
			memcpy(s->key[w], key, len);
	}
	s->hash[w] = hash;
}

int dp_hcache_lookup(struct dp_hcache *c, const void *key, unsigned len, dp_u128 *out)
{
	uint32_t crc;
	int w;

	if (len > DP_HCACHE_KEY_MAX)
		return 0;
	crc = dp_crc32c(0, key, len);
	w = find(&c->sets[crc & c->mask], crc, key, len);
	if (w < 0)
		return 0;
	*out = c->sets[crc & c->mask].hash[w];
	c->st.hits++;
	return 1;
}

int dp_hcache_insert(struct dp_hcache *c, const void *key, unsigned len, dp_u128 hash)
{
	if (len > DP_HCACHE_KEY_MAX) {
		c->st.uncacheable++;
		return -E2BIG;
	}
	c->st.misses++;
	insert_crc(c, dp_crc32c(0, key, len), key, len, hash);
	return 0;
}

/* The misses of a burst, hashed together once MISS_BATCH are pending or the burst ends. */
struct misses {
	const uint8_t *keys[MISS_BATCH];
	uint16_t lens[MISS_BATCH];
	uint32_t crc[MISS_BATCH];
	unsigned idx[MISS_BATCH];
	unsigned n;
};

static void misses_flush(struct dp_hcache *c, struct misses *m, dp_u128 *out)
{
	dp_u128 h[MISS_BATCH];

	dp_md5x_hashkeys(m->keys, m->lens, m->n, h);
	for (unsigned k = 0; k < m->n; k++) {
		out[m->idx[k]] = h[k];
		if (m->lens[k] > DP_HCACHE_KEY_MAX) {
			c->st.uncacheable++;
			continue;
		}
		c->st.misses++;
		insert_crc(c, m->crc[k], m->keys[k], m->lens[k], h[k]);
	}
	m->n = 0;
}

/* A cacheable key's CRC, its set's first line prefetched; 0 for a key too long to cache. */
static inline uint32_t key_crc(const struct dp_hcache *c, const uint8_t *key, unsigned len)
{
	uint32_t crc;

	if (len > DP_HCACHE_KEY_MAX)
		return 0;
	crc = dp_crc32c(0, key, len);
	__builtin_prefetch(&c->sets[crc & c->mask]);
	return crc;
}

void dp_hcache_hashkeys(struct dp_hcache *c, const uint8_t *const *keys, const uint16_t *lens,
			unsigned n, dp_u128 *out)
{
	uint32_t crcs[PREFETCH_AHEAD];
	uint64_t hits0 = c->st.hits, miss0 = c->st.misses;
	struct misses m;

	if (c->bypass_left > 0) {
		/* Whole bursts only: a burst never mixes the two ways. */
		c->bypass_left = c->bypass_left > n ? c->bypass_left - n : 0;
		c->st.bypassed += n;
		dp_md5x_hashkeys(keys, lens, n, out);
		return;
	}

	/*
	 * The CRCs run PREFETCH_AHEAD keys ahead of the probes, each prefetching its set's tag
	 * line, and the keys' bytes are prefetched twice as far ahead for the CRCs: with keys or
	 * sets outside the CPU's caches, several memory accesses are in flight at once rather
	 * than one per key.
	 */
	for (unsigned i = 0; i < n && i < 2 * PREFETCH_AHEAD; i++)
		__builtin_prefetch(keys[i]);
	for (unsigned i = 0; i < n && i < PREFETCH_AHEAD; i++)
		crcs[i] = key_crc(c, keys[i], lens[i]);
	m.n = 0;
	for (unsigned i = 0; i < n; i++) {
		unsigned len = lens[i];
		uint32_t crc = crcs[i % PREFETCH_AHEAD];

		if (i + 2 * PREFETCH_AHEAD < n)
			__builtin_prefetch(keys[i + 2 * PREFETCH_AHEAD]);
		if (i + PREFETCH_AHEAD < n)
			crcs[i % PREFETCH_AHEAD] = key_crc(c, keys[i + PREFETCH_AHEAD],
							   lens[i + PREFETCH_AHEAD]);
		if (len <= DP_HCACHE_KEY_MAX) {
			const struct set *s;
			int w;

			s = &c->sets[crc & c->mask];
			w = find(s, crc, keys[i], len);
			if (w >= 0) {
				out[i] = s->hash[w];
				c->st.hits++;
				continue;
			}
		}
		m.keys[m.n] = keys[i];
		m.lens[m.n] = (uint16_t)len;
		m.crc[m.n] = crc;
		m.idx[m.n] = i;
		if (++m.n == MISS_BATCH)
			misses_flush(c, &m, out);
	}
	if (m.n)
		misses_flush(c, &m, out);

	c->win_hits += (uint32_t)(c->st.hits - hits0);
	c->win_keys += (uint32_t)(c->st.hits - hits0 + c->st.misses - miss0);
	if (c->win_keys >= WINDOW) {
		if (c->win_hits * BYPASS_BELOW < c->win_keys)
			c->bypass_left = BYPASS;
		c->win_keys = 0;
		c->win_hits = 0;
	}
}

void dp_hcache_stats(const struct dp_hcache *c, struct dp_hcache_stats *out)
{
	*out = c->st;
}

unsigned dp_hcache_capacity(const struct dp_hcache *c)
{
	return (c->mask + 1) * DP_HCACHE_WAYS;
}
