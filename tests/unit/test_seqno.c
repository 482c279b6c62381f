/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for dp_seqno: the 56-digit Kinesis sequence number strings.
 *
 * Expected strings are not produced by the code under test: they were computed with python3
 * from kinesalite's version-2 layout (reference/kinesis_firehose.md §3.2), e.g.
 *   h = '2' + '%09x' % created + '%x' % (idx & 15) + '%016x' % counter + '00'
 *       + '%09x' % arrival + '%08x' % idx + '2';  str(int(h, 16))
 * and one is a real AWS StartingSequenceNumber quoted in the reference.
 */
#include "dp_seqno.h"

#include <stdbool.h>

#include "dp_test.h"

static uint64_t rng_state = UINT64_C(0x2545f4914f6cdd1d);

static uint64_t rng(void)
{
	return dp_test_rng(&rng_state);
}

static struct dp_seqno random_seqno(void)
{
	struct dp_seqno s = {
		.shard_created_s = (int64_t)(rng() & DP_SEQNO_TIME_MAX),
		.shard_index = (uint32_t)rng(),
		.counter = rng() & DP_SEQNO_COUNTER_MAX,
		.arrival_s = (int64_t)(rng() & DP_SEQNO_TIME_MAX),
	};

	/* Small values too: most real counters, indexes and the high digits' zero padding. */
	if (rng() & 1)
		s.counter >>= rng() % 63;
	if (rng() & 1)
		s.shard_index >>= rng() % 32;
	return s;
}

static bool seqno_eq(const struct dp_seqno *a, const struct dp_seqno *b)
{
	return a->shard_created_s == b->shard_created_s && a->shard_index == b->shard_index &&
	       a->counter == b->counter && a->arrival_s == b->arrival_s;
}

static const struct {
	struct dp_seqno s;
	const char *str;
} vectors[] = {
	/* Real AWS: shard 0 created 2019-02-02T07:42:40Z, counter 0 (a StartingSequenceNumber). */
	{ { 1549093360, 0, 0, 1549093360 },
	  "49592592288669974188510550010873737925033238827737546754" },
	{ { 1549093360, 1, 1, 1549093361 },
	  "49592592288692274933709080634016482569125501887137710098" },
	{ { 1700000000, 5, 123456789, 1700000123 },
	  "49646437577219980142909678771633436832284014880808239186" },
	{ { 1700000000, 0xabcdef12, DP_SEQNO_COUNTER_MAX, 1700000000 },
	  "49646437577164228279913202963678559795447435996983914786" },
	/* The smallest and largest values the layout allows: still 56 digits. */
	{ { 0, 0, 0, 0 },
	  "49039857307708443467467104868809893875799651909875269634" },
	{ { DP_SEQNO_TIME_MAX, UINT32_MAX, DP_SEQNO_COUNTER_MAX, DP_SEQNO_TIME_MAX },
	  "73559785961551514828601391991642868751110021924530421746" },
};

static void test_seqno_format_matches_python(void)
{
	char buf[DP_SEQNO_LEN + 1];

	for (size_t i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++) {
		memset(buf, 'x', sizeof(buf));
		CHECK_EQ(dp_seqno_format(&vectors[i].s, buf), DP_SEQNO_LEN);
		CHECK_STR(buf, vectors[i].str);
	}
}

static void test_seqno_parse_matches_python(void)
{
	for (size_t i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++) {
		struct dp_seqno s;

		memset(&s, 0xa5, sizeof(s));
		CHECK_EQ(dp_seqno_parse(vectors[i].str, strlen(vectors[i].str), &s), 0);
		CHECK(seqno_eq(&s, &vectors[i].s));
	}
}

static void test_seqno_always_56_digits(void)
{
	char buf[DP_SEQNO_LEN + 1];

	for (int i = 0; i < 200000; i++) {
		struct dp_seqno s = random_seqno();

		CHECK_EQ(dp_seqno_format(&s, buf), DP_SEQNO_LEN);
		CHECK_EQ(strlen(buf), DP_SEQNO_LEN);
		/* 2 * 16^46 = 4.9e55 and 3 * 16^46 = 7.4e55: the first digit is 4..7. */
		CHECK(buf[0] >= '4' && buf[0] <= '7');
		if (dp_test_cur_failed)
			break;
	}
}

static void test_seqno_round_trips(void)
{
	char buf[DP_SEQNO_LEN + 1], again[DP_SEQNO_LEN + 1];

	for (int i = 0; i < 200000; i++) {
		struct dp_seqno s = random_seqno(), p;

		REQUIRE(dp_seqno_format(&s, buf) == DP_SEQNO_LEN);
		CHECK_EQ(dp_seqno_parse(buf, DP_SEQNO_LEN, &p), 0);
		CHECK(seqno_eq(&s, &p));
		CHECK_EQ(dp_seqno_format(&p, again), DP_SEQNO_LEN);
		CHECK_STR(again, buf);
		if (dp_test_cur_failed)
			break;
	}
}

/*
 * The property clients rely on: within one shard a larger counter sorts later, whatever the
 * arrival times. Equal length (56) with a non-zero first digit makes strcmp order the numeric
 * order, so checking both the length and strcmp checks both orders.
 */
static void test_seqno_counter_orders_strings(void)
{
	char a[DP_SEQNO_LEN + 1], b[DP_SEQNO_LEN + 1];

	for (int i = 0; i < 200000; i++) {
		struct dp_seqno x = random_seqno(), y = x;

		y.counter = rng() & DP_SEQNO_COUNTER_MAX;
		if (i % 4 == 0)
			y.counter = x.counter + 1 <= DP_SEQNO_COUNTER_MAX ? x.counter + 1 : 0;
		/* Arrival times are independent: the later counter may have the earlier time. */
		x.arrival_s = (int64_t)(rng() & DP_SEQNO_TIME_MAX);
		y.arrival_s = (int64_t)(rng() & DP_SEQNO_TIME_MAX);
		if (i % 8 == 1) {
			x.arrival_s = DP_SEQNO_TIME_MAX;
			y.arrival_s = 0;
		}
		REQUIRE(dp_seqno_format(&x, a) == DP_SEQNO_LEN);
		REQUIRE(dp_seqno_format(&y, b) == DP_SEQNO_LEN);
		if (x.counter < y.counter)
			CHECK(strcmp(a, b) < 0);
		else if (x.counter > y.counter)
			CHECK(strcmp(a, b) > 0);
		else
			CHECK((strcmp(a, b) == 0) == (x.arrival_s == y.arrival_s));
		if (dp_test_cur_failed) {
			printf("# %s vs %s\n", a, b);
			break;
		}
	}
}

static void test_seqno_consecutive_counters_strictly_increase(void)
{
	struct dp_seqno s = { 1549093360, 3, 0, 1549093360 };
	char prev[DP_SEQNO_LEN + 1], cur[DP_SEQNO_LEN + 1];

	REQUIRE(dp_seqno_format(&s, prev) == DP_SEQNO_LEN);
	for (int i = 0; i < 100000; i++) {
		s.counter++;
		s.arrival_s = 1549093360 + (i % 7 == 0 ? 0 : i); /* sometimes going back in time */
		REQUIRE(dp_seqno_format(&s, cur) == DP_SEQNO_LEN);
		CHECK(strcmp(prev, cur) < 0);
		memcpy(prev, cur, sizeof(cur));
	}
	/* Near the top of the counter range too. */
	s.counter = DP_SEQNO_COUNTER_MAX - 1;
	REQUIRE(dp_seqno_format(&s, prev) == DP_SEQNO_LEN);
	s.counter = DP_SEQNO_COUNTER_MAX;
	s.arrival_s = 0;
	REQUIRE(dp_seqno_format(&s, cur) == DP_SEQNO_LEN);
	CHECK(strcmp(prev, cur) < 0);
}

static void test_seqno_format_rejects_out_of_range(void)
{
	static const struct dp_seqno bad[] = {
		{ 0, 0, DP_SEQNO_COUNTER_MAX + 1, 0 },
		{ 0, 0, UINT64_MAX, 0 },
		{ -1, 0, 0, 0 },
		{ DP_SEQNO_TIME_MAX + 1, 0, 0, 0 },
		{ INT64_MIN, 0, 0, 0 },
		{ 0, 0, 0, -1 },
		{ 0, 0, 0, DP_SEQNO_TIME_MAX + 1 },
		{ 0, 0, 0, INT64_MAX },
	};
	char buf[DP_SEQNO_LEN + 1];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(buf, 'x', sizeof(buf));
		CHECK_EQ(dp_seqno_format(&bad[i], buf), -EINVAL);
		CHECK(buf[0] == 'x' && buf[DP_SEQNO_LEN] == 'x');
	}
}

static void test_seqno_parse_rejects_bad_strings(void)
{
	static const char *bad[] = {
		"",
		"0",
		"1549093360",
		/* Version 1 (38 digits), as in Kinesis docs' examples. */
		"21269319989900637946712965403778482371",
		/* 55 and 57 digits. */
		"4959259228866997418851055001087373792503323882773754675",
		"495925922886699741885105500108737379250332388277375467540",
		/* Non-digits, at the start, at each chunk boundary, at the end. */
		"x9592592288669974188510550010873737925033238827737546754",
		"49592592288669974X88510550010873737925033238827737546754",
		"495925922886699741 8510550010873737925033238827737546754",
		"4959259228866997418851055001087373792-033238827737546754",
		"4959259228866997418851055001087373792503323882773754675a",
		"+9592592288669974188510550010873737925033238827737546754",
		" 9592592288669974188510550010873737925033238827737546754",
		/* 56 digits but not a value we write. */
		"00000000000000000000000000000000000000000000000000000000",
		"04959259228866997418851055001087373792503323882773754675", /* leading zero */
		"99999999999999999999999999999999999999999999999999999999", /* first hex digit 4 */
		"73559785961941777869575677896622156950154114708308754450", /* first hex digit 3 */
		"49039857308087556135842125462217210012254288753371119633", /* last hex digit 1 */
		"49039857308087556135842125462217210012254288753371119635", /* last hex digit 3 */
		"49039857308087556135842125462217214734620771623016333330", /* digits 27-28 = 01 */
		"49039857308109856881040656085358745730526937114877100050", /* digit 10 != index */
		"49039857308098706508441390773786768945570998304949403666", /* counter 2^63 */
		"49039857308109856881040656085356327878887707856527687698", /* counter 2^64 - 1 */
		"49592592288669974188510550010873737925033238827737546755", /* real value + 1 */
		"49592592288669974188510550010873737925033238827737546753", /* real value - 1 */
	};
	struct dp_seqno s = { 11, 22, 33, 44 }, keep = s;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int r = dp_seqno_parse(bad[i], strlen(bad[i]), &s);

		if (r != -EINVAL)
			printf("# input \"%s\"\n", bad[i]);
		CHECK_EQ(r, -EINVAL);
	}
	CHECK(seqno_eq(&s, &keep));
	/* A valid string with a NUL inside, and a valid prefix given a length that is too short. */
	CHECK_EQ(dp_seqno_parse("4959259228866997418851055001087373792503\0" "3238827737546754", 56, &s),
		 -EINVAL);
	CHECK_EQ(dp_seqno_parse(vectors[0].str, DP_SEQNO_LEN - 1, &s), -EINVAL);
	CHECK_EQ(dp_seqno_parse(NULL, 0, &s), -EINVAL);
	CHECK(seqno_eq(&s, &keep));
}

int main(void)
{
	DP_TEST_RUN(test_seqno_format_matches_python);
	DP_TEST_RUN(test_seqno_parse_matches_python);
	DP_TEST_RUN(test_seqno_always_56_digits);
	DP_TEST_RUN(test_seqno_round_trips);
	DP_TEST_RUN(test_seqno_counter_orders_strings);
	DP_TEST_RUN(test_seqno_consecutive_counters_strictly_increase);
	DP_TEST_RUN(test_seqno_format_rejects_out_of_range);
	DP_TEST_RUN(test_seqno_parse_rejects_bad_strings);
	return dp_test_done();
}
