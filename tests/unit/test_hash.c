/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for dp_hash: MD5 hash keys, 128-bit decimal text, the Kinesis even split of the
 * key space, the routing map and shard id strings.
 *
 * Expected values are not produced by the code under test: the MD5 values come from
 * `printf %s KEY | md5sum` converted to decimal with python3's int(hex, 16); the split values
 * from python3 `2**128 // n` and from the real-AWS 3-shard stream quoted in
 * reference/kinesis_firehose.md §3.1.
 */
#include "dp_hash.h"

#include "dp_test.h"

#define U128_2POW127 ((dp_u128)1 << 127)

/* Decimal text of v, for CHECK_STR; each call uses its own buffer slot. */
static const char *u128s(dp_u128 v)
{
	static char buf[8][DP_U128_DIGITS + 1];
	static unsigned slot;
	char *b = buf[slot++ % 8];

	dp_u128_format(v, b);
	return b;
}

/* Parse a decimal literal that the test knows to be valid. */
static dp_u128 U(const char *s)
{
	dp_u128 v = 0;

	if (dp_u128_parse(s, strlen(s), &v) != 0) {
		printf("# bad test literal %s\n", s);
		abort();
	}
	return v;
}

/* xorshift64*: a fixed, reproducible sequence for the randomized checks. */
static uint64_t rng_state = UINT64_C(0x9e3779b97f4a7c15);

static uint64_t rng(void)
{
	return dp_test_rng(&rng_state);
}

static dp_u128 rng128(void)
{
	return (dp_u128)rng() << 64 | rng();
}

/* ---- MD5 -------------------------------------------------------------------------------------- */

static const struct {
	const char *key;
	const char *md5_dec;
} md5_vectors[] = {
	/* printf a | md5sum = 0cc175b9c0f1b6a831c399e269772661; also quoted in the reference. */
	{ "a", "16955237001963240173058271559858726497" },
	/* d41d8cd98f00b204e9800998ecf8427e */
	{ "", "281949768489412648962353822266799178366" },
	/* 916fb4607e9099fa19225279d711a12e */
	{ "partitionKey", "193318062818912349798954611745638949166" },
	/* 5eb63bbbe01eeed093cb22bb8f5acdc3 */
	{ "hello world", "125893641179230474042701625388361764291" },
	/* 4032af8d61035123906e58e067140cc5 */
	{ "0123456789abcdef", "85333767196036966698723792217724685509" },
};

static void test_md5_matches_md5sum(void)
{
	struct dp_hasher *h = NULL;
	dp_u128 v;

	REQUIRE(dp_hasher_new(&h) == 0);
	/* Twice over, to prove the reused context is re-initialised between keys. */
	for (int round = 0; round < 2; round++)
		for (size_t i = 0; i < sizeof(md5_vectors) / sizeof(md5_vectors[0]); i++) {
			v = 0;
			CHECK_EQ(dp_hasher_md5(h, md5_vectors[i].key, strlen(md5_vectors[i].key), &v), 0);
			CHECK_STR(u128s(v), md5_vectors[i].md5_dec);
		}
	dp_hasher_free(h);
}

static void test_md5_empty_key_accepts_null(void)
{
	struct dp_hasher *h = NULL;
	dp_u128 v = 0;

	REQUIRE(dp_hasher_new(&h) == 0);
	CHECK_EQ(dp_hasher_md5(h, NULL, 0, &v), 0);
	CHECK_STR(u128s(v), "281949768489412648962353822266799178366");
	dp_hasher_free(h);
	dp_hasher_free(NULL);
}

static void test_md5_is_big_endian(void)
{
	struct dp_hasher *h = NULL;
	dp_u128 v = 0;

	REQUIRE(dp_hasher_new(&h) == 0);
	CHECK_EQ(dp_hasher_md5(h, "a", 1, &v), 0);
	/* Digest bytes 0c c1 75 b9 ... 26 61: the first byte is the top byte. */
	CHECK_EQ_U64((uint64_t)(v >> 120), 0x0c);
	CHECK_EQ_U64((uint64_t)(v & 0xffff), 0x2661);
	dp_hasher_free(h);
}

static void test_md5_a_routes_to_shard0_of_2(void)
{
	struct dp_hasher *h = NULL;
	struct dp_shard_map *m = NULL;
	dp_u128 v = 0;

	REQUIRE(dp_hasher_new(&h) == 0);
	REQUIRE(dp_shard_map_even(2, &m) == 0);
	CHECK_EQ(dp_hasher_md5(h, "a", 1, &v), 0);
	CHECK_EQ(dp_shard_map_lookup(m, v), 0);
	/* "" hashes to 0xd4..., above 2^127: shard 1. */
	CHECK_EQ(dp_hasher_md5(h, "", 0, &v), 0);
	CHECK_EQ(dp_shard_map_lookup(m, v), 1);
	dp_shard_map_free(m);
	dp_hasher_free(h);
}

/* ---- decimal ---------------------------------------------------------------------------------- */

static void test_u128_parse_accepts_pattern(void)
{
	dp_u128 v = 7;

	CHECK_EQ(dp_u128_parse("0", 1, &v), 0);
	CHECK(v == 0);
	CHECK_EQ(dp_u128_parse("1", 1, &v), 0);
	CHECK(v == 1);
	CHECK_EQ(dp_u128_parse("18446744073709551616", 20, &v), 0);
	CHECK(v == (dp_u128)1 << 64);
	CHECK_EQ(dp_u128_parse("340282366920938463463374607431768211455", 39, &v), 0);
	CHECK(v == DP_U128_MAX);
	CHECK_EQ(dp_u128_parse("170141183460469231731687303715884105728", 39, &v), 0);
	CHECK(v == U128_2POW127);
	/* len bounds the input: trailing bytes are not looked at. */
	CHECK_EQ(dp_u128_parse("123xyz", 3, &v), 0);
	CHECK(v == 123);
	CHECK_EQ(dp_u128_parse("99999999999999999999999999999999999999", 38, &v), 0);
	CHECK_STR(u128s(v), "99999999999999999999999999999999999999");
}

static void test_u128_parse_rejects_bad_syntax(void)
{
	static const char *bad[] = {
		"00", "01", "000", "-1", "+1", "-0", " 1", "1 ", "1a", "a1", "abc", "1.0", "1e5",
		"0x10", "１", /* fullwidth digit one, UTF-8 */
		/* 40 digits: fails the {0,38} repetition even though it is a number. */
		"1000000000000000000000000000000000000000",
		"0340282366920938463463374607431768211455",
	};
	dp_u128 v = 42;

	CHECK_EQ(dp_u128_parse("", 0, &v), -EINVAL);
	CHECK_EQ(dp_u128_parse(NULL, 0, &v), -EINVAL);
	CHECK_EQ(dp_u128_parse("1\0" "2", 3, &v), -EINVAL);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int r = dp_u128_parse(bad[i], strlen(bad[i]), &v);

		if (r != -EINVAL)
			printf("# input \"%s\"\n", bad[i]);
		CHECK_EQ(r, -EINVAL);
	}
	CHECK(v == 42); /* never written on failure */
}

static void test_u128_parse_rejects_out_of_range(void)
{
	dp_u128 v = 42;

	CHECK_EQ(dp_u128_parse("340282366920938463463374607431768211456", 39, &v), -ERANGE);
	CHECK_EQ(dp_u128_parse("340282366920938463463374607431768211460", 39, &v), -ERANGE);
	CHECK_EQ(dp_u128_parse("340282366920938463463374607431768211465", 39, &v), -ERANGE);
	CHECK_EQ(dp_u128_parse("340282366920938463463374607431768212455", 39, &v), -ERANGE);
	CHECK_EQ(dp_u128_parse("999999999999999999999999999999999999999", 39, &v), -ERANGE);
	CHECK_EQ(dp_u128_parse("400000000000000000000000000000000000000", 39, &v), -ERANGE);
	CHECK(v == 42);
}

static void test_u128_format_round_trips(void)
{
	char buf[DP_U128_DIGITS + 1];
	dp_u128 p = 1, v;

	CHECK_EQ(dp_u128_format(0, buf), 1);
	CHECK_STR(buf, "0");
	CHECK_EQ(dp_u128_format(DP_U128_MAX, buf), 39);
	CHECK_STR(buf, "340282366920938463463374607431768211455");
	CHECK_EQ(dp_u128_format((dp_u128)UINT64_MAX, buf), 20);
	CHECK_STR(buf, "18446744073709551615");
	/* Every power of ten and its neighbours: the chunk boundaries at 10^19 and 10^38. */
	for (int e = 0; e <= 38; e++, p *= 10) {
		dp_u128 c[3] = { p - 1, p, p + 1 };

		for (int k = 0; k < 3; k++) {
			int n = dp_u128_format(c[k], buf);

			CHECK_EQ(n, (int)strlen(buf));
			CHECK_EQ(dp_u128_parse(buf, (size_t)n, &v), 0);
			CHECK(v == c[k]);
		}
		CHECK_EQ(dp_u128_format(p, buf), e + 1);
	}
	for (int i = 0; i < 10000; i++) {
		dp_u128 x = rng128() >> (rng() % 128);
		int n = dp_u128_format(x, buf);

		CHECK(n >= 1 && n <= 39 && (buf[0] != '0' || n == 1));
		CHECK_EQ(dp_u128_parse(buf, (size_t)n, &v), 0);
		CHECK(v == x);
	}
}

/* ---- even split ------------------------------------------------------------------------------- */

static void test_range_even_3_matches_real_aws(void)
{
	static const char *want[3][2] = {
		{ "0", "113427455640312821154458202477256070484" },
		{ "113427455640312821154458202477256070485", "226854911280625642308916404954512140969" },
		{ "226854911280625642308916404954512140970", "340282366920938463463374607431768211455" },
	};
	dp_u128 s, e;

	for (uint32_t i = 0; i < 3; i++) {
		dp_hash_range_even(3, i, &s, &e);
		CHECK_STR(u128s(s), want[i][0]);
		CHECK_STR(u128s(e), want[i][1]);
	}
}

static void test_range_even_uses_floor_2pow128_over_n(void)
{
	dp_u128 s, e;

	/* n = 2: split at 2^127 exactly; (2^128 - 1) / 2 would put it one lower. */
	dp_hash_range_even(2, 0, &s, &e);
	CHECK(s == 0);
	CHECK_STR(u128s(e), "170141183460469231731687303715884105727");
	dp_hash_range_even(2, 1, &s, &e);
	CHECK_STR(u128s(s), "170141183460469231731687303715884105728");
	CHECK(e == DP_U128_MAX);

	/* n = 4: h = 2^126 (python3: 2**128 // 4). */
	dp_hash_range_even(4, 1, &s, &e);
	CHECK_STR(u128s(s), "85070591730234615865843651857942052864");
	CHECK_STR(u128s(e), "170141183460469231731687303715884105727");
	dp_hash_range_even(4, 3, &s, &e);
	CHECK_STR(u128s(s), "255211775190703847597530955573826158592");
	CHECK(e == DP_U128_MAX);

	/* n = 1: one shard owns everything (2^128 / 1 does not fit in 128 bits). */
	dp_hash_range_even(1, 0, &s, &e);
	CHECK(s == 0 && e == DP_U128_MAX);

	/* n = 1024 and n = 2^32 - 1, last shards; python3: (n - 1) * (2**128 // n). */
	dp_hash_range_even(1024, 1023, &s, &e);
	CHECK_STR(u128s(s), "339950059921992234495148655666698125312");
	CHECK(e == DP_U128_MAX);
	dp_hash_range_even(UINT32_MAX, 1, &s, &e);
	CHECK_STR(u128s(s), "79228162532711081671548469249");
	dp_hash_range_even(UINT32_MAX, UINT32_MAX - 1, &s, &e);
	CHECK_STR(u128s(s), "340282366841710300930663525760219742206");
	CHECK(e == DP_U128_MAX);
}

static void test_range_even_is_contiguous(void)
{
	static const uint32_t ns[] = { 1, 2, 3, 4, 5, 7, 10, 16, 100, 1000, 1024, 4096 };

	for (size_t k = 0; k < sizeof(ns) / sizeof(ns[0]); k++) {
		dp_u128 prev_end = 0, s, e;

		for (uint32_t i = 0; i < ns[k]; i++) {
			dp_hash_range_even(ns[k], i, &s, &e);
			CHECK(i == 0 ? s == 0 : s == prev_end + 1);
			CHECK(s <= e);
			prev_end = e;
		}
		CHECK(prev_end == DP_U128_MAX);
	}
}

/* ---- routing map ------------------------------------------------------------------------------ */

/* Reference lookup: linear scan of the ranges. */
static int linear_lookup(const struct dp_hash_range *r, unsigned n, dp_u128 h)
{
	for (unsigned i = 0; i < n; i++)
		if (r[i].start <= h && h <= r[i].end)
			return (int)r[i].shard_index;
	return -1;
}

static void test_map_even_boundaries(void)
{
	static const uint32_t ns[] = { 1, 2, 3, 4, 5, 31, 32, 33, 1024 };

	for (size_t k = 0; k < sizeof(ns) / sizeof(ns[0]); k++) {
		struct dp_shard_map *m = NULL;

		REQUIRE(dp_shard_map_even(ns[k], &m) == 0);
		CHECK_EQ(dp_shard_map_count(m), ns[k]);
		for (uint32_t i = 0; i < ns[k]; i++) {
			dp_u128 s, e;

			dp_hash_range_even(ns[k], i, &s, &e);
			CHECK_EQ(dp_shard_map_lookup(m, s), i);
			CHECK_EQ(dp_shard_map_lookup(m, e), i);
			CHECK_EQ(dp_shard_map_lookup(m, s + (e - s) / 2), i);
		}
		dp_shard_map_free(m);
	}
}

static void test_map_3_shards_real_aws_edges(void)
{
	struct dp_shard_map *m = NULL;

	REQUIRE(dp_shard_map_even(3, &m) == 0);
	CHECK_EQ(dp_shard_map_lookup(m, 0), 0);
	CHECK_EQ(dp_shard_map_lookup(m, U("113427455640312821154458202477256070484")), 0);
	CHECK_EQ(dp_shard_map_lookup(m, U("113427455640312821154458202477256070485")), 1);
	CHECK_EQ(dp_shard_map_lookup(m, U("226854911280625642308916404954512140969")), 1);
	CHECK_EQ(dp_shard_map_lookup(m, U("226854911280625642308916404954512140970")), 2);
	CHECK_EQ(dp_shard_map_lookup(m, DP_U128_MAX), 2);
	dp_shard_map_free(m);
}

static void test_map_any_order_matches_linear_scan(void)
{
	enum { N = 257 };
	static struct dp_hash_range r[N];
	struct dp_shard_map *m = NULL;
	dp_u128 cut[N - 1];

	/* Random distinct cut points, sorted, give N uneven ranges; then shuffle and renumber. */
	for (unsigned i = 0; i < N - 1; i++)
		cut[i] = rng128() | 1; /* odd: never 0, so no empty first range */
	for (unsigned i = 1; i < N - 1; i++)
		for (unsigned j = i; j > 0 && cut[j - 1] > cut[j]; j--) {
			dp_u128 t = cut[j];

			cut[j] = cut[j - 1];
			cut[j - 1] = t;
		}
	for (unsigned i = 0; i < N; i++) {
		r[i].start = i == 0 ? 0 : cut[i - 1];
		r[i].end = i == N - 1 ? DP_U128_MAX : cut[i] - 1;
		r[i].shard_index = 1000 + (i * 7919) % N; /* a permutation, not the position */
	}
	for (unsigned i = N - 1; i > 0; i--) {
		unsigned j = (unsigned)(rng() % (i + 1));
		struct dp_hash_range t = r[i];

		r[i] = r[j];
		r[j] = t;
	}
	REQUIRE(dp_shard_map_new(r, N, &m) == 0);
	for (unsigned i = 0; i < N; i++) {
		CHECK_EQ(dp_shard_map_lookup(m, r[i].start), r[i].shard_index);
		CHECK_EQ(dp_shard_map_lookup(m, r[i].end), r[i].shard_index);
	}
	for (int i = 0; i < 20000; i++) {
		dp_u128 h = rng128();

		CHECK_EQ(dp_shard_map_lookup(m, h), linear_lookup(r, N, h));
	}
	dp_shard_map_free(m);
}

static void test_map_new_rejects_bad_cover(void)
{
	const dp_u128 mid = U128_2POW127;
	struct dp_shard_map *m = (struct dp_shard_map *)&m; /* must stay untouched on failure */
	struct dp_shard_map *sentinel = m;
	struct dp_hash_range ok[2] = { { 0, mid - 1, 0 }, { mid, DP_U128_MAX, 1 } };
	struct dp_hash_range r[3];

	CHECK_EQ(dp_shard_map_new(ok, 0, &m), -EINVAL);

	memcpy(r, ok, sizeof(ok));
	r[1].start = mid + 1; /* gap of one key */
	CHECK_EQ(dp_shard_map_new(r, 2, &m), -EINVAL);

	memcpy(r, ok, sizeof(ok));
	r[1].start = mid - 1; /* overlap of one key */
	CHECK_EQ(dp_shard_map_new(r, 2, &m), -EINVAL);

	memcpy(r, ok, sizeof(ok));
	r[0].start = 1; /* key 0 uncovered */
	CHECK_EQ(dp_shard_map_new(r, 2, &m), -EINVAL);

	memcpy(r, ok, sizeof(ok));
	r[1].end = DP_U128_MAX - 1; /* top key uncovered */
	CHECK_EQ(dp_shard_map_new(r, 2, &m), -EINVAL);

	memcpy(r, ok, sizeof(ok));
	r[1].shard_index = 0; /* one shard owning two ranges */
	CHECK_EQ(dp_shard_map_new(r, 2, &m), -EINVAL);

	memcpy(r, ok, sizeof(ok));
	r[1].shard_index = (uint32_t)INT32_MAX + 1; /* not representable as lookup's int */
	CHECK_EQ(dp_shard_map_new(r, 2, &m), -EINVAL);

	/* Same range twice plus the rest: overlap. */
	r[0] = ok[0];
	r[1] = ok[0];
	r[1].shard_index = 2;
	r[2] = ok[1];
	CHECK_EQ(dp_shard_map_new(r, 3, &m), -EINVAL);

	/* start > end in the middle, with the cover otherwise complete. */
	r[0] = (struct dp_hash_range){ 0, 9, 0 };
	r[1] = (struct dp_hash_range){ 10, 5, 1 };
	r[2] = (struct dp_hash_range){ 6, DP_U128_MAX, 2 };
	CHECK_EQ(dp_shard_map_new(r, 3, &m), -EINVAL);

	/* A full-space range followed by anything: overlap past the top. */
	r[0] = (struct dp_hash_range){ 0, DP_U128_MAX, 0 };
	r[1] = (struct dp_hash_range){ 0, DP_U128_MAX, 1 };
	CHECK_EQ(dp_shard_map_new(r, 2, &m), -EINVAL);
	CHECK(m == sentinel);

	/* The valid inputs are accepted, reversed order too. */
	r[0] = ok[1];
	r[1] = ok[0];
	REQUIRE(dp_shard_map_new(r, 2, &m) == 0);
	CHECK_EQ(dp_shard_map_lookup(m, mid - 1), 0);
	CHECK_EQ(dp_shard_map_lookup(m, mid), 1);
	dp_shard_map_free(m);
	r[0] = (struct dp_hash_range){ 0, DP_U128_MAX, INT32_MAX };
	REQUIRE(dp_shard_map_new(r, 1, &m) == 0);
	CHECK_EQ(dp_shard_map_lookup(m, 12345), INT32_MAX);
	dp_shard_map_free(m);
	dp_shard_map_free(NULL);
}

static void test_map_even_rejects_bad_count(void)
{
	struct dp_shard_map *m = NULL;

	CHECK_EQ(dp_shard_map_even(0, &m), -EINVAL);
	CHECK_EQ(dp_shard_map_even(UINT32_MAX, &m), -EINVAL);
	CHECK_EQ(dp_shard_map_even((uint32_t)INT32_MAX + 2, &m), -EINVAL);
	CHECK(m == NULL);
}

/* ---- shard ids -------------------------------------------------------------------------------- */

static void test_shard_id_format(void)
{
	char buf[DP_SHARD_ID_LEN + 1];

	CHECK_EQ(dp_shard_id_format(0, buf), 20);
	CHECK_STR(buf, "shardId-000000000000");
	CHECK_EQ(dp_shard_id_format(1, buf), 20);
	CHECK_STR(buf, "shardId-000000000001");
	CHECK_EQ(dp_shard_id_format(1234567, buf), 20);
	CHECK_STR(buf, "shardId-000001234567");
	CHECK_EQ(dp_shard_id_format(UINT32_MAX, buf), 20);
	CHECK_STR(buf, "shardId-004294967295");
}

static void test_shard_id_parse_accepts_kinesalite_forms(void)
{
	char buf[DP_SHARD_ID_LEN + 1];
	uint32_t ix = 99;

	CHECK_EQ(dp_shard_id_parse("shardId-000000000001", &ix), 0);
	CHECK_EQ(ix, 1);
	CHECK_EQ(dp_shard_id_parse("shardId-1", &ix), 0);
	CHECK_EQ(ix, 1);
	CHECK_EQ(dp_shard_id_parse("1", &ix), 0);
	CHECK_EQ(ix, 1);
	CHECK_EQ(dp_shard_id_parse("0", &ix), 0);
	CHECK_EQ(ix, 0);
	CHECK_EQ(dp_shard_id_parse("shardId-002147483647", &ix), 0);
	CHECK_EQ(ix, INT32_MAX);
	CHECK_EQ(dp_shard_id_parse("000000000007", &ix), 0);
	CHECK_EQ(ix, 7);
	for (uint32_t i = 0; i < 100000; i += 997) {
		dp_shard_id_format(i, buf);
		CHECK_EQ(dp_shard_id_parse(buf, &ix), 0);
		CHECK_EQ(ix, i);
	}
}

static void test_shard_id_parse_rejects_garbage(void)
{
	static const char *bad[] = {
		"", "shardId-", "shardId", "shardid-1", "ShardId-1", "shard-1", "x-1", "-1", "+1",
		" 1", "1 ", "shardId- 1", "shardId--1", "shardId-1a", "shardId-0x1", "1.0",
		"shardId-shardId-1",
		"shardId-0000000000001",  /* 13 digits */
		"0000000000001",          /* 13 digits */
		"shardId-002147483648",   /* INT32_MAX + 1 */
		"shardId-004294967295",   /* what format writes for UINT32_MAX: beyond parse's range */
		"shardId-999999999999",
	};
	uint32_t ix = 99;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int r = dp_shard_id_parse(bad[i], &ix);

		if (r != -EINVAL)
			printf("# input \"%s\"\n", bad[i]);
		CHECK_EQ(r, -EINVAL);
	}
	CHECK_EQ(ix, 99);
}

int main(void)
{
	DP_TEST_RUN(test_md5_matches_md5sum);
	DP_TEST_RUN(test_md5_empty_key_accepts_null);
	DP_TEST_RUN(test_md5_is_big_endian);
	DP_TEST_RUN(test_md5_a_routes_to_shard0_of_2);
	DP_TEST_RUN(test_u128_parse_accepts_pattern);
	DP_TEST_RUN(test_u128_parse_rejects_bad_syntax);
	DP_TEST_RUN(test_u128_parse_rejects_out_of_range);
	DP_TEST_RUN(test_u128_format_round_trips);
	DP_TEST_RUN(test_range_even_3_matches_real_aws);
	DP_TEST_RUN(test_range_even_uses_floor_2pow128_over_n);
	DP_TEST_RUN(test_range_even_is_contiguous);
	DP_TEST_RUN(test_map_even_boundaries);
	DP_TEST_RUN(test_map_3_shards_real_aws_edges);
	DP_TEST_RUN(test_map_any_order_matches_linear_scan);
	DP_TEST_RUN(test_map_new_rejects_bad_cover);
	DP_TEST_RUN(test_map_even_rejects_bad_count);
	DP_TEST_RUN(test_shard_id_format);
	DP_TEST_RUN(test_shard_id_parse_accepts_kinesalite_forms);
	DP_TEST_RUN(test_shard_id_parse_rejects_garbage);
	return dp_test_done();
}
