/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for dp_hcache: hits give the hash key the key was hashed to; keys that share a set,
 * share a CRC32C (found by search), or were evicted never return another key's hash key; long
 * keys bypass the cache; the counters count what happened.
 *
 * The expected hash keys are not produced by the code under test: they come from libcrypto's MD5
 * (through dp_hasher_md5, itself checked against md5sum in test_hash).
 */
#include "dp_hcache.h"

#include "dp_crc32c.h"
#include "dp_md5x.h"
#include "dp_test.h"

static uint64_t rng_state = UINT64_C(0x9e3779b97f4a7c15);

static uint64_t rng(void)
{
	return dp_test_rng(&rng_state);
}

static struct dp_hasher *hasher;

static dp_u128 md5key(const void *key, unsigned len)
{
	dp_u128 v = 0;

	if (dp_hasher_md5(hasher, key, len, &v) != 0)
		abort();
	return v;
}

static void test_new_rejects_bad_sizes(void)
{
	struct dp_hcache *c = NULL;

	CHECK_EQ(dp_hcache_new(0, &c), -EINVAL);
	CHECK_EQ(dp_hcache_new(DP_HCACHE_ENTRIES_MAX + 1, &c), -EINVAL);
	CHECK(c == NULL);
	REQUIRE(dp_hcache_new(1, &c) == 0);
	CHECK_EQ(dp_hcache_capacity(c), DP_HCACHE_WAYS);
	dp_hcache_free(c);
	REQUIRE(dp_hcache_new(1000, &c) == 0);
	CHECK_EQ(dp_hcache_capacity(c), 1024);
	dp_hcache_free(c);
	dp_hcache_free(NULL);
}

static void test_hit_returns_inserted_hash(void)
{
	static const char *const words[] = { "", "a", "ab", "abc", "abcd", "partitionKey" };
	const uint8_t *keys[6];
	uint16_t lens[6];
	dp_u128 out[6], v = 0;
	struct dp_hcache_stats st;
	struct dp_hcache *c = NULL;

	REQUIRE(dp_hcache_new(64, &c) == 0);
	for (int i = 0; i < 6; i++) {
		keys[i] = (const uint8_t *)words[i];
		lens[i] = (uint16_t)strlen(words[i]);
	}
	for (int round = 0; round < 3; round++) {
		memset(out, 0, sizeof(out));
		dp_hcache_hashkeys(c, keys, lens, 6, out);
		for (int i = 0; i < 6; i++)
			CHECK(out[i] == md5key(words[i], lens[i]));
	}
	dp_hcache_stats(c, &st);
	CHECK_EQ_U64(st.misses, 6);
	CHECK_EQ_U64(st.hits, 12);
	CHECK_EQ_U64(st.uncacheable, 0);
	/* Prefixes of one another are different keys. */
	CHECK_EQ(dp_hcache_lookup(c, "abcde", 5, &v), 0);
	CHECK_EQ(dp_hcache_lookup(c, "abc", 3, &v), 1);
	CHECK(v == md5key("abc", 3));
	CHECK_EQ(dp_hcache_lookup(c, NULL, 0, &v), 1);
	CHECK(v == md5key("", 0));
	dp_hcache_free(c);
}

/* The same key several times in one burst, all misses at first: each lane still right. */
static void test_duplicates_in_one_burst(void)
{
	const uint8_t *keys[40];
	uint16_t lens[40];
	dp_u128 out[40];
	struct dp_hcache *c = NULL;
	struct dp_hcache_stats st;

	REQUIRE(dp_hcache_new(16, &c) == 0);
	for (int i = 0; i < 40; i++) {
		keys[i] = (const uint8_t *)(i % 2 ? "odd-key" : "even-key");
		lens[i] = (uint16_t)strlen((const char *)keys[i]);
	}
	dp_hcache_hashkeys(c, keys, lens, 40, out);
	for (int i = 0; i < 40; i++)
		CHECK(out[i] == md5key(keys[i], lens[i]));
	dp_hcache_stats(c, &st);
	CHECK_EQ_U64(st.hits + st.misses, 40);
	CHECK_EQ(dp_hcache_lookup(c, "odd-key", 7, &out[0]), 1);
	CHECK(out[0] == md5key("odd-key", 7));
	dp_hcache_free(c);
}

/* Keys longer than DP_HCACHE_KEY_MAX are hashed every time and never stored. */
static void test_long_keys_bypass(void)
{
	static uint8_t buf[DP_MD5X_KEY_MAX];
	const uint8_t *keys[3] = { buf, buf, buf };
	uint16_t lens[3] = { DP_HCACHE_KEY_MAX, DP_HCACHE_KEY_MAX + 1, DP_MD5X_KEY_MAX };
	dp_u128 out[3], v;
	struct dp_hcache *c = NULL;
	struct dp_hcache_stats st;

	dp_test_fill(3, buf, sizeof(buf));
	REQUIRE(dp_hcache_new(16, &c) == 0);
	for (int round = 0; round < 2; round++) {
		dp_hcache_hashkeys(c, keys, lens, 3, out);
		for (int i = 0; i < 3; i++)
			CHECK(out[i] == md5key(buf, lens[i]));
	}
	dp_hcache_stats(c, &st);
	CHECK_EQ_U64(st.hits, 1);
	CHECK_EQ_U64(st.misses, 1);
	CHECK_EQ_U64(st.uncacheable, 4);
	CHECK_EQ(dp_hcache_lookup(c, buf, DP_HCACHE_KEY_MAX + 1, &v), 0);
	CHECK_EQ(dp_hcache_insert(c, buf, DP_HCACHE_KEY_MAX + 1, 1), -E2BIG);
	dp_hcache_free(c);
}

/*
 * A cache of one set (4 ways) under a stream of 200 distinct keys, re-requested at random: most
 * lookups evict, and every answer must still be the requesting key's own hash key.
 */
static void test_evictions_never_return_wrong_hash(void)
{
	enum { NKEYS = 200 };
	static uint8_t pool[NKEYS][24];
	dp_u128 want[NKEYS];
	struct dp_hcache *c = NULL;
	struct dp_hcache_stats st;
	unsigned bad = 0;

	REQUIRE(dp_hcache_new(4, &c) == 0);
	REQUIRE(dp_hcache_capacity(c) == 4);
	dp_test_fill(5, &pool[0][0], sizeof(pool));
	for (int i = 0; i < NKEYS; i++)
		want[i] = md5key(pool[i], 1 + i % 24);
	for (int r = 0; r < 2000; r++) {
		const uint8_t *keys[32];
		uint16_t lens[32];
		unsigned pick[32];
		dp_u128 out[32];
		unsigned n = 1 + (unsigned)(rng() % 32);

		for (unsigned i = 0; i < n; i++) {
			/* Half the picks from 6 hot keys, so that some lookups hit. */
			pick[i] = (unsigned)(rng() % (rng() & 1 ? 6 : NKEYS));
			keys[i] = pool[pick[i]];
			lens[i] = (uint16_t)(1 + pick[i] % 24);
		}
		dp_hcache_hashkeys(c, keys, lens, n, out);
		for (unsigned i = 0; i < n; i++)
			bad += out[i] != want[pick[i]];
	}
	CHECK_EQ(bad, 0);
	dp_hcache_stats(c, &st);
	CHECK(st.hits > 0);
	CHECK(st.misses > st.hits);
	dp_hcache_free(c);
}

struct crc_idx {
	uint32_t crc;
	uint32_t idx;
};

static int crc_idx_cmp(const void *a, const void *b)
{
	const struct crc_idx *x = a, *y = b;

	return (x->crc > y->crc) - (x->crc < y->crc);
}

/*
 * Two different 8-byte keys with the same CRC32C (same set, same tag, same length), found by a
 * birthday search: only the full key compare tells them apart.
 */
static void test_crc_collision_is_not_a_hit(void)
{
	enum { TRIES = 1 << 18 };
	struct crc_idx *t = malloc(TRIES * sizeof(*t));
	uint64_t k1 = 0, k2 = 0;
	struct dp_hcache *c = NULL;
	dp_u128 v = 0;
	int found = 0;

	REQUIRE(t != NULL);
	for (uint32_t i = 0; i < TRIES; i++) {
		uint64_t k = dp_test_splitmix(i);

		t[i].crc = dp_crc32c(0, &k, sizeof(k));
		t[i].idx = i;
	}
	qsort(t, TRIES, sizeof(*t), crc_idx_cmp);
	for (uint32_t i = 1; i < TRIES && !found; i++)
		if (t[i].crc == t[i - 1].crc) {
			k1 = dp_test_splitmix(t[i - 1].idx);
			k2 = dp_test_splitmix(t[i].idx);
			found = k1 != k2;
		}
	free(t);
	REQUIRE(found);
	REQUIRE(dp_crc32c(0, &k1, 8) == dp_crc32c(0, &k2, 8));

	REQUIRE(dp_hcache_new(1024, &c) == 0);
	CHECK_EQ(dp_hcache_insert(c, &k1, 8, md5key(&k1, 8)), 0);
	CHECK_EQ(dp_hcache_lookup(c, &k2, 8, &v), 0);
	{
		const uint8_t *keys[2] = { (const uint8_t *)&k2, (const uint8_t *)&k1 };
		uint16_t lens[2] = { 8, 8 };
		dp_u128 out[2];

		dp_hcache_hashkeys(c, keys, lens, 2, out);
		CHECK(out[0] == md5key(&k2, 8));
		CHECK(out[1] == md5key(&k1, 8));
		/* Both now cached in the same set, each under its own bytes. */
		CHECK_EQ(dp_hcache_lookup(c, &k1, 8, &v), 1);
		CHECK(v == md5key(&k1, 8));
		CHECK_EQ(dp_hcache_lookup(c, &k2, 8, &v), 1);
		CHECK(v == md5key(&k2, 8));
	}
	dp_hcache_free(c);
}

/* insert of a cached key replaces its hash key in place rather than adding a second way. */
static void test_insert_updates_in_place(void)
{
	struct dp_hcache *c = NULL;
	dp_u128 v = 0;

	REQUIRE(dp_hcache_new(4, &c) == 0);
	CHECK_EQ(dp_hcache_insert(c, "k", 1, 7), 0);
	CHECK_EQ(dp_hcache_insert(c, "k", 1, 9), 0);
	CHECK_EQ(dp_hcache_lookup(c, "k", 1, &v), 1);
	CHECK(v == 9);
	/* Three more keys fit beside it in the single set only if "k" took one way. */
	CHECK_EQ(dp_hcache_insert(c, "x", 1, 1), 0);
	CHECK_EQ(dp_hcache_insert(c, "y", 1, 2), 0);
	CHECK_EQ(dp_hcache_insert(c, "z", 1, 3), 0);
	CHECK_EQ(dp_hcache_lookup(c, "k", 1, &v), 1);
	CHECK(v == 9);
	CHECK_EQ(dp_hcache_lookup(c, "x", 1, &v), 1);
	CHECK(v == 1);
	CHECK_EQ(dp_hcache_lookup(c, "y", 1, &v), 1);
	CHECK(v == 2);
	CHECK_EQ(dp_hcache_lookup(c, "z", 1, &v), 1);
	CHECK(v == 3);
	dp_hcache_free(c);
}

/*
 * A stream of distinct keys (no hits) turns the cache off after one window of 1024 keys, for
 * 15 windows; a stream of two keys afterwards turns it back on. Answers stay right throughout.
 */
static void test_bypass_when_not_helping(void)
{
	enum { POOL = 4096, KLEN = 12 };
	static uint8_t pool[POOL][KLEN];
	const uint8_t *keys[32];
	uint16_t lens[32];
	dp_u128 out[32];
	struct dp_hcache *c = NULL;
	struct dp_hcache_stats st;
	unsigned bad = 0, next = 0;

	dp_test_fill(9, &pool[0][0], sizeof(pool));
	REQUIRE(dp_hcache_new(4, &c) == 0);
	for (unsigned b = 0; b < 33 + 480; b++) {
		for (unsigned i = 0; i < 32; i++) {
			keys[i] = pool[next++ % POOL];
			lens[i] = KLEN;
		}
		dp_hcache_hashkeys(c, keys, lens, 32, out);
		for (unsigned i = 0; i < 32; i++)
			bad += out[i] != md5key(keys[i], KLEN);
		dp_hcache_stats(c, &st);
		if (b == 31) {
			/* One full window, no hit: nothing bypassed yet. */
			CHECK_EQ_U64(st.hits, 0);
			CHECK_EQ_U64(st.misses, 1024);
			CHECK_EQ_U64(st.bypassed, 0);
		} else if (b == 32) {
			CHECK_EQ_U64(st.misses, 1024);
			CHECK_EQ_U64(st.bypassed, 32);
		}
	}
	/* 15 windows bypassed in all, then the cache is tried again. */
	dp_hcache_stats(c, &st);
	CHECK_EQ_U64(st.bypassed, 15 * 1024);
	CHECK_EQ_U64(st.misses, 1024 + 32);

	/* Two hot keys: within a bypass period and a window the cache answers again. */
	for (unsigned b = 0; b < 600; b++) {
		for (unsigned i = 0; i < 32; i++) {
			keys[i] = pool[i % 2];
			lens[i] = KLEN;
		}
		dp_hcache_hashkeys(c, keys, lens, 32, out);
		for (unsigned i = 0; i < 32; i++)
			bad += out[i] != md5key(keys[i], KLEN);
	}
	CHECK_EQ(bad, 0);
	{
		struct dp_hcache_stats st2;

		dp_hcache_stats(c, &st2);
		CHECK(st2.hits > 500 * 32);
	}
	dp_hcache_free(c);
}

int main(void)
{
	if (dp_hasher_new(&hasher) != 0)
		return 1;
	DP_TEST_RUN(test_new_rejects_bad_sizes);
	DP_TEST_RUN(test_hit_returns_inserted_hash);
	DP_TEST_RUN(test_duplicates_in_one_burst);
	DP_TEST_RUN(test_long_keys_bypass);
	DP_TEST_RUN(test_evictions_never_return_wrong_hash);
	DP_TEST_RUN(test_crc_collision_is_not_a_hit);
	DP_TEST_RUN(test_insert_updates_in_place);
	DP_TEST_RUN(test_bypass_when_not_helping);
	dp_hasher_free(hasher);
	return dp_test_done();
}
