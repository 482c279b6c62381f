/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for dp_dedup, the per-producer retry window: hits return what was noted, the window
 * and the floor turn old batches STALE (never NEW), eviction of groups and producers follows the
 * documented order, and a table rebuilt from notes in any order answers like the original.
 */
#include "dp_dedup.h"
#include "dp_log.h"

#include "dp_test.h"

static uint64_t rng_state = UINT64_C(0xdedbdedbdedb0001);

static uint64_t rng(void)
{
	return dp_test_rng(&rng_state);
}

static void test_hit_after_note(void)
{
	struct dp_dedup *d = NULL;
	uint64_t seq = 0;
	uint32_t n = 0;

	REQUIRE(dp_dedup_new(16, 8, 16, &d) == 0);
	CHECK_EQ(dp_dedup_lookup(d, 42, 1, 3, &seq, &n), DP_DEDUP_NEW);
	CHECK_EQ(dp_dedup_note(d, 42, 1, 3, 1000, 17), 1);
	CHECK_EQ(dp_dedup_note(d, 42, 1, 4, 50, 2), 1);
	CHECK_EQ(dp_dedup_lookup(d, 42, 1, 3, &seq, &n), DP_DEDUP_HIT);
	CHECK_EQ_U64(seq, 1000);
	CHECK_EQ(n, 17);
	CHECK_EQ(dp_dedup_lookup(d, 42, 1, 4, &seq, &n), DP_DEDUP_HIT);
	CHECK_EQ_U64(seq, 50);
	CHECK_EQ(n, 2);
	/* Another shard, batch or producer is not the same group. */
	CHECK_EQ(dp_dedup_lookup(d, 42, 1, 5, &seq, &n), DP_DEDUP_NEW);
	CHECK_EQ(dp_dedup_lookup(d, 42, 2, 3, &seq, &n), DP_DEDUP_NEW);
	CHECK_EQ(dp_dedup_lookup(d, 43, 1, 3, &seq, &n), DP_DEDUP_NEW);
	/* A second note for the same group replaces it. */
	CHECK_EQ(dp_dedup_note(d, 42, 1, 3, 2000, 5), 1);
	CHECK_EQ(dp_dedup_lookup(d, 42, 1, 3, &seq, &n), DP_DEDUP_HIT);
	CHECK_EQ_U64(seq, 2000);
	CHECK_EQ(n, 5);
	dp_dedup_free(d);
	dp_dedup_free(NULL);
}

static void test_bad_arguments(void)
{
	struct dp_dedup *d = NULL;

	CHECK_EQ(dp_dedup_new(3, 8, 8, &d), -EINVAL);
	CHECK_EQ(dp_dedup_new(16, 0, 8, &d), -EINVAL);
	CHECK_EQ(dp_dedup_new(16, 8, 0, &d), -EINVAL);
	CHECK_EQ(dp_dedup_new(16, 8, DP_DEDUP_ENTRIES_MAX + 1, &d), -EINVAL);
	REQUIRE(dp_dedup_new(5, 8, 8, &d) == 0); /* rounded up to 8 */
	CHECK_EQ(dp_dedup_note(d, 1, 1, 1, 0, 0), -EINVAL);
	CHECK_EQ(dp_dedup_note(d, 1, 1, 1, 0, 65536), -EINVAL);
	CHECK_EQ(dp_dedup_note(d, 1, 1, 1, DP_SEQ_MAX + 1, 1), -EINVAL);
	CHECK_EQ(dp_dedup_note(d, 1, 1, 1, DP_SEQ_MAX - 1, 3), -EINVAL);
	CHECK_EQ(dp_dedup_note(d, 1, 1, 1, DP_SEQ_MAX - 1, 2), 1);
	dp_dedup_free(d);
}

/* With window W, after batch B only batches > B - W are known; older ones are STALE. */
static void test_window_turns_old_batches_stale(void)
{
	struct dp_dedup *d = NULL;
	struct dp_dedup_stats st;
	uint64_t seq;
	uint32_t n;

	REQUIRE(dp_dedup_new(16, 4, 16, &d) == 0);
	for (uint64_t b = 10; b < 20; b++)
		REQUIRE(dp_dedup_note(d, 7, b, 0, b * 100, 1) == 1);
	/* B = 19, W = 4: 16..19 are held, 15 and below are stale. */
	for (uint64_t b = 16; b < 20; b++) {
		CHECK_EQ(dp_dedup_lookup(d, 7, b, 0, &seq, &n), DP_DEDUP_HIT);
		CHECK_EQ_U64(seq, b * 100);
	}
	CHECK_EQ(dp_dedup_lookup(d, 7, 15, 0, &seq, &n), DP_DEDUP_STALE);
	CHECK_EQ(dp_dedup_lookup(d, 7, 0, 0, &seq, &n), DP_DEDUP_STALE);
	/* A batch inside the window that never came is new; so is anything above B. */
	CHECK_EQ(dp_dedup_lookup(d, 7, 17, 1, &seq, &n), DP_DEDUP_NEW);
	CHECK_EQ(dp_dedup_lookup(d, 7, 1000, 0, &seq, &n), DP_DEDUP_NEW);
	/* A note older than the window is ignored. */
	CHECK_EQ(dp_dedup_note(d, 7, 15, 1, 1, 1), 0);
	CHECK_EQ(dp_dedup_lookup(d, 7, 15, 1, &seq, &n), DP_DEDUP_STALE);
	/* Batch numbers near 0 and near 2^64 do not wrap the window. */
	CHECK_EQ(dp_dedup_note(d, 8, 0, 0, 1, 1), 1);
	CHECK_EQ(dp_dedup_lookup(d, 8, 0, 0, &seq, &n), DP_DEDUP_HIT);
	CHECK_EQ(dp_dedup_note(d, 8, UINT64_MAX, 0, 1, 1), 1);
	CHECK_EQ(dp_dedup_lookup(d, 8, 0, 0, &seq, &n), DP_DEDUP_STALE);
	CHECK_EQ(dp_dedup_lookup(d, 8, UINT64_MAX, 0, &seq, &n), DP_DEDUP_HIT);
	dp_dedup_stats_get(d, &st);
	CHECK_EQ_U64(st.notes_ignored, 1);
	CHECK(st.stale >= 4);
	dp_dedup_free(d);
}

/* More groups than the table holds inside the window: the batch whose group goes becomes STALE,
 * and every batch below it. */
static void test_group_overflow_raises_floor(void)
{
	struct dp_dedup *d = NULL;
	struct dp_dedup_stats st;
	uint64_t seq;
	uint32_t n;

	REQUIRE(dp_dedup_new(16, 100, 4, &d) == 0);
	for (uint64_t b = 1; b <= 4; b++)
		REQUIRE(dp_dedup_note(d, 9, b, 2, b, 1) == 1);
	CHECK_EQ(dp_dedup_note(d, 9, 5, 2, 5, 1), 1);
	CHECK_EQ(dp_dedup_lookup(d, 9, 1, 2, &seq, &n), DP_DEDUP_STALE);
	/* Also the shards of batch 1 that were never noted: the table no longer knows batch 1. */
	CHECK_EQ(dp_dedup_lookup(d, 9, 1, 3, &seq, &n), DP_DEDUP_STALE);
	for (uint64_t b = 2; b <= 5; b++)
		CHECK_EQ(dp_dedup_lookup(d, 9, b, 2, &seq, &n), DP_DEDUP_HIT);
	CHECK_EQ(dp_dedup_lookup(d, 9, 6, 2, &seq, &n), DP_DEDUP_NEW);
	/* More groups of one batch than its slot holds spill into a ring of `entries` groups;
	 * when that ring is full its oldest group goes and the floor rises above that batch. */
	for (uint32_t sh = 10; sh < 14; sh++)
		CHECK_EQ(dp_dedup_note(d, 9, 3, sh, 100 + sh, 1), 1);
	for (uint32_t sh = 10; sh < 14; sh++)
		CHECK_EQ(dp_dedup_lookup(d, 9, 3, sh, &seq, &n), DP_DEDUP_HIT);
	CHECK_EQ(dp_dedup_note(d, 9, 4, 10, 200, 1), 1);  /* evicts (3, 10): batch 3 goes */
	CHECK_EQ(dp_dedup_lookup(d, 9, 3, 11, &seq, &n), DP_DEDUP_STALE);
	CHECK_EQ(dp_dedup_lookup(d, 9, 3, 2, &seq, &n), DP_DEDUP_STALE);
	CHECK_EQ(dp_dedup_lookup(d, 9, 2, 2, &seq, &n), DP_DEDUP_STALE);
	CHECK_EQ(dp_dedup_lookup(d, 9, 4, 10, &seq, &n), DP_DEDUP_HIT);
	CHECK_EQ_U64(seq, 200);
	CHECK_EQ(dp_dedup_lookup(d, 9, 5, 2, &seq, &n), DP_DEDUP_HIT);
	dp_dedup_stats_get(d, &st);
	CHECK_EQ_U64(st.entries_evicted, 2);
	dp_dedup_free(d);
}

/* Four producers share a set in a 4-slot table; the least recently used one is forgotten. */
static void test_producer_eviction_is_lru(void)
{
	struct dp_dedup *d = NULL;
	struct dp_dedup_stats st;
	uint64_t seq;
	uint32_t n;

	REQUIRE(dp_dedup_new(4, 8, 4, &d) == 0);
	for (uint64_t p = 1; p <= 4; p++)
		REQUIRE(dp_dedup_note(d, p, 1, 0, p, 1) == 1);
	/* Use producer 1 again: producer 2 is now the least recently used. */
	CHECK_EQ(dp_dedup_lookup(d, 1, 1, 0, &seq, &n), DP_DEDUP_HIT);
	CHECK_EQ(dp_dedup_note(d, 5, 1, 0, 5, 1), 1);
	CHECK_EQ(dp_dedup_lookup(d, 2, 1, 0, &seq, &n), DP_DEDUP_NEW);
	for (uint64_t p = 1; p <= 5; p++)
		if (p != 2)
			CHECK_EQ(dp_dedup_lookup(d, p, 1, 0, &seq, &n), DP_DEDUP_HIT);
	dp_dedup_stats_get(d, &st);
	CHECK_EQ_U64(st.producers_evicted, 1);
	dp_dedup_free(d);
}

/*
 * Recovery: the same notes in log order and shuffled (as a scan over several shard logs yields
 * them) give tables that answer every lookup alike, and like the table that saw the traffic.
 */
static void test_rebuild_from_notes_in_any_order(void)
{
	enum { NOTES = 600, PRODUCERS = 5, SHARDS = 3 };
	static struct { uint64_t p, b, seq; uint32_t s, n; } log[NOTES];
	struct dp_dedup *live = NULL, *rebuilt = NULL;
	uint64_t next_seq[SHARDS] = { 0 }, batch[PRODUCERS] = { 0 };
	unsigned k = 0, agree = 0, hits = 0;

	REQUIRE(dp_dedup_new(64, 16, 64, &live) == 0);
	REQUIRE(dp_dedup_new(64, 16, 64, &rebuilt) == 0);
	/* Traffic: each batch touches 1..3 shards. */
	while (k < NOTES) {
		unsigned p = (unsigned)(rng() % PRODUCERS), touched = 1 + (unsigned)(rng() % SHARDS);

		batch[p] += 1 + rng() % 2; /* gaps are allowed */
		for (unsigned s = 0; s < touched && k < NOTES; s++, k++) {
			uint32_t n = 1 + (uint32_t)(rng() % 50);
			uint64_t seq, got;
			uint32_t gotn;

			REQUIRE(dp_dedup_lookup(live, 100 + p, batch[p], s, &got, &gotn) == DP_DEDUP_NEW);
			seq = next_seq[s];
			next_seq[s] += n;
			REQUIRE(dp_dedup_note(live, 100 + p, batch[p], s, seq, n) == 1);
			log[k].p = 100 + p;
			log[k].b = batch[p];
			log[k].s = s;
			log[k].seq = seq;
			log[k].n = n;
		}
	}
	for (unsigned i = NOTES - 1; i > 0; i--) {
		unsigned j = (unsigned)(rng() % (i + 1));
		__typeof__(log[0]) t = log[i];

		log[i] = log[j];
		log[j] = t;
	}
	for (unsigned i = 0; i < NOTES; i++)
		dp_dedup_note(rebuilt, log[i].p, log[i].b, log[i].s, log[i].seq, log[i].n);
	for (unsigned p = 0; p < PRODUCERS; p++)
		for (uint64_t b = 0; b <= batch[p] + 1; b++)
			for (uint32_t s = 0; s < SHARDS; s++) {
				uint64_t s1 = 0, s2 = 0;
				uint32_t n1 = 0, n2 = 0;
				int r1 = dp_dedup_lookup(live, 100 + p, b, s, &s1, &n1);
				int r2 = dp_dedup_lookup(rebuilt, 100 + p, b, s, &s2, &n2);

				CHECK_EQ(r1, r2);
				if (r1 == r2 && (r1 != DP_DEDUP_HIT || (s1 == s2 && n1 == n2)))
					agree++;
				hits += r1 == DP_DEDUP_HIT;
			}
	CHECK(hits > PRODUCERS * 10);
	printf("# %u lookups agree, %u hits\n", agree, hits);
	dp_dedup_free(live);
	dp_dedup_free(rebuilt);
}

/*
 * The safety property, over random traffic with retries, out-of-order notes and group overflow:
 * a group that was noted is never reported NEW again (only HIT with the last noted numbers, or
 * STALE), as long as its producer keeps its slot (4 producers in a 4-way table: no eviction).
 * A reference map of every note ever made is the oracle.
 */
static void test_noted_group_is_never_new_again(void)
{
	enum { OPS = 20000, PRODUCERS = 4, SHARDS = 4, MAXB = 400 };
	static struct { uint64_t seq; uint32_t n; } ref[PRODUCERS][MAXB][SHARDS];
	struct dp_dedup *d = NULL;
	struct dp_dedup_stats st;
	unsigned hits = 0, stale = 0, news = 0;

	memset(ref, 0, sizeof(ref));
	REQUIRE(dp_dedup_new(4, 8, 12, &d) == 0);
	for (unsigned op = 0; op < OPS; op++) {
		unsigned p = (unsigned)(rng() % PRODUCERS), s = (unsigned)(rng() % SHARDS);
		/* Batches drift upwards with a spread, so retries, late notes and stale ones all occur. */
		uint64_t b = op * (MAXB - 20) / OPS + rng() % 20;
		uint64_t seq = 0;
		uint32_t n = 0;
		int r = dp_dedup_lookup(d, p, b, s, &seq, &n);

		if (ref[p][b][s].n) {
			CHECK(r != DP_DEDUP_NEW);
			if (r == DP_DEDUP_HIT) {
				CHECK_EQ_U64(seq, ref[p][b][s].seq);
				CHECK_EQ(n, ref[p][b][s].n);
			}
		} else if (r == DP_DEDUP_HIT) {
			CHECK(!"hit for a group never noted");
		}
		hits += r == DP_DEDUP_HIT;
		stale += r == DP_DEDUP_STALE;
		if (r == DP_DEDUP_NEW) {
			news++;
			ref[p][b][s].seq = rng() & DP_SEQ_MAX >> 1;
			ref[p][b][s].n = 1 + (uint32_t)(rng() % 100);
			CHECK(dp_dedup_note(d, p, b, s, ref[p][b][s].seq, ref[p][b][s].n) >= 0);
		}
	}
	dp_dedup_stats_get(d, &st);
	CHECK_EQ_U64(st.producers_evicted, 0);
	CHECK(hits > 1000 && stale > 1000 && news > 1000 && st.entries_evicted > 0);
	printf("# %u hits, %u stale, %u new, %llu groups evicted\n", hits, stale, news,
	       (unsigned long long)st.entries_evicted);
	dp_dedup_free(d);
}

/* A window of thousands of batches over 4 shards: every group of the window is found, the
 * oldest ones fall out as the ring turns over, and nothing forgotten is ever NEW. */
static void test_wide_window(void)
{
	struct dp_dedup *d = NULL;
	struct dp_dedup_stats st;
	uint64_t seq;
	uint32_t n;

	REQUIRE(dp_dedup_new(4, 8192, 4 * 8192, &d) == 0);
	for (uint64_t b = 1; b <= 3 * 8192; b++)
		for (uint32_t sh = 0; sh < 4; sh++)
			REQUIRE(dp_dedup_note(d, 77, b, sh, b * 16 + sh, 3) == 1);
	unsigned hits = 0, stale = 0;
	for (uint64_t b = 1; b <= 3 * 8192; b++)
		for (uint32_t sh = 0; sh < 4; sh++) {
			int r = dp_dedup_lookup(d, 77, b, sh, &seq, &n);
			if (b > 2 * 8192) {
				CHECK_EQ(r, DP_DEDUP_HIT);
				if (r == DP_DEDUP_HIT && seq == b * 16 + sh && n == 3)
					hits++;
			} else {
				CHECK_EQ(r, DP_DEDUP_STALE);
				stale++;
			}
		}
	CHECK_EQ(hits, 4 * 8192);
	CHECK_EQ(stale, 2 * 4 * 8192);
	dp_dedup_stats_get(d, &st);
	CHECK_EQ_U64(st.entries_evicted, 0);  /* the oldest had left the window first */
	dp_dedup_free(d);
}

int main(void)
{
	DP_TEST_RUN(test_hit_after_note);
	DP_TEST_RUN(test_bad_arguments);
	DP_TEST_RUN(test_window_turns_old_batches_stale);
	DP_TEST_RUN(test_group_overflow_raises_floor);
	DP_TEST_RUN(test_producer_eviction_is_lru);
	DP_TEST_RUN(test_rebuild_from_notes_in_any_order);
	DP_TEST_RUN(test_noted_group_is_never_new_again);
	DP_TEST_RUN(test_wide_window);
	return dp_test_done();
}
