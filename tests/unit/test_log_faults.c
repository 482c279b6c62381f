/* SPDX-License-Identifier: MIT */
/*
 * Fault injection through struct dp_io_ops: EIO and ECANCELED on an io_uring fdatasync, ENOSPC on
 * a write, short writes, and a failing fallocate / fdatasync while a segment rolls.
 *
 * What fail-stop means here, checked after every failure: the shard is FAILED, dp_shard_error()
 * gives the errno, the ack mark (and the readable mark) never passes the last flush that fully
 * succeeded, the ack callback ran exactly once with the shard FAILED and the unchanged mark,
 * appends return -EROFS, close returns the error, and a reopen with the real system calls finds
 * every acked record intact and hands out numbers above everything handed out before.
 * Short writes are not failures: they are resubmitted and the log is byte for byte correct.
 * Zero-ahead writes (dp_log.c) are held to the same rule: one that fails fails the shard, and
 * one that comes back short leaves the log intact.
 */
#include "dp_log.h"
#include "dp_log_internal.h"

#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdbool.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dp_test.h"

#define BUF_MIN (1024u * 1024u + 4096u)

static const struct dp_shard_info info = { .shard_index = 1, .created_ms = 1650000000000 };

static uint64_t rng_state = UINT64_C(0xbb67ae8584caa73b);

static uint64_t rng(void)
{
	return dp_test_rng(&rng_state);
}

static char tmp[64];

/* ---- the fault table ------------------------------------------------------------------------- */

struct fault {
	/* 1-based call numbers at which to fail (0: never) and the errno to return. */
	int fsync_at, fsync_err;         /* io_uring fdatasync completions */
	int write_at, write_err;         /* io_uring write completions */
	int falloc_at, falloc_err;       /* fallocate calls */
	int sync_at, sync_err;           /* synchronous fdatasync calls (segment creation) */
	int short_every;                 /* halve every Nth write completion */
	int zero_at, zero_err;           /* io_uring zero-ahead write completions */
	bool zero_short;                 /* every zero-ahead write comes back with 4 KiB */
	int fsyncs, writes, fallocs, syncs, shorts, zeros;
};

static int f_fallocate(void *arg, int fd, int mode, off_t off, off_t len)
{
	struct fault *f = arg;
	if (++f->fallocs == f->falloc_at)
		return f->falloc_err;
	return dp_io_default()->fallocate(NULL, fd, mode, off, len);
}

static int f_fdatasync(void *arg, int fd)
{
	struct fault *f = arg;
	if (++f->syncs == f->sync_at)
		return f->sync_err;
	return dp_io_default()->fdatasync(NULL, fd);
}

static int f_cqe(void *arg, enum dp_io_op op, int fd, int res)
{
	struct fault *f = arg;
	(void)fd;
	if (op == DP_IO_FSYNC)
		return ++f->fsyncs == f->fsync_at ? f->fsync_err : res;
	if (op == DP_IO_ZERO) {
		if (++f->zeros == f->zero_at)
			return f->zero_err;
		return f->zero_short && res > 4096 ? 4096 : res;
	}
	++f->writes;
	if (f->writes == f->write_at)
		return f->write_err;
	if (f->short_every && f->writes % f->short_every == 0 && res >= 2) {
		f->shorts++;
		return res / 2;
	}
	return res;
}

static struct dp_io_ops fault_ops(struct fault *f)
{
	struct dp_io_ops ops = *dp_io_default();
	ops.fallocate = f_fallocate;
	ops.fdatasync = f_fdatasync;
	ops.cqe_filter = f_cqe;
	ops.arg = f;
	return ops;
}

/* ---- model ------------------------------------------------------------------------------------ */

struct rec {
	uint64_t seq, seed;
	int64_t ts;
	uint32_t dl;
	uint16_t kl;
};

static struct rec recs[8192];
static size_t nrecs;

struct acks {
	unsigned calls, failed_calls;
	uint64_t last;
	int last_state;
};

static void ack_cb(void *arg, struct dp_shard *sh, uint64_t ack_next)
{
	struct acks *a = arg;
	a->calls++;
	a->last = ack_next;
	a->last_state = (int)dp_shard_state(sh);
	a->failed_calls += dp_shard_state(sh) == DP_SHARD_FAILED;
}

/* Stage one batch of n records with key kl and data dl bytes (0: random sizes, data up to
 * max_data); no polling. Returns the append result. */
static int stage_sized(struct dp_shard *sh, unsigned n, uint16_t kl, uint32_t dl, uint32_t max_data,
		       int64_t ts)
{
	static uint8_t bytes[16 * (64 + 40000)];
	struct dp_record_in in[16] = { { 0 } };
	uint8_t *p = bytes;
	for (unsigned i = 0; i < n; i++) {
		struct rec *r = &recs[nrecs + i];
		r->kl = kl ? kl : (uint16_t)(1 + rng() % 64);
		r->dl = kl ? dl : (uint32_t)(rng() % (max_data + 1));
		r->seed = rng();
		r->ts = ts;
		dp_test_fill(r->seed, p, r->kl);
		in[i] = (struct dp_record_in){ .key = p, .key_len = r->kl, .data = p + r->kl,
					       .data_len = r->dl };
		dp_test_fill(~r->seed, p + r->kl, r->dl);
		p += r->kl + r->dl;
	}
	uint64_t first;
	int rc = dp_shard_append(sh, in, n, ts, &first);
	if (rc == (int)n) {
		for (unsigned i = 0; i < n; i++)
			recs[nrecs + i].seq = first + i;
		nrecs += n;
	}
	return rc;
}

static int stage(struct dp_shard *sh, unsigned n, uint32_t max_data, int64_t ts)
{
	return stage_sized(sh, n, 0, 0, max_data, ts);
}

/* Poll until nothing is in flight and everything staged on sh is readable (or sh stopped). */
static void wait_idle(struct dp_committer *c, struct dp_shard *sh)
{
	for (int i = 0; i < 100000; i++) {
		if (dp_committer_inflight(c) == 0 && (dp_shard_state(sh) != DP_SHARD_OPEN ||
						      dp_shard_readable_next(sh) >= dp_shard_next_seq(sh)))
			return;
		dp_committer_poll(c, true);
	}
}

/* A committer acking into a, and a shard at dir whose I/O goes through ops, with the smallest
 * staging buffers, segments of segment_bytes and the given durability (its config in *cfg, for
 * reopening). Returns 0, or -1 when either could not be made. */
static int open_faulty(const char *dir, const struct dp_io_ops *ops, struct acks *a,
		       uint64_t segment_bytes, enum dp_durability dur, struct dp_log_config *cfg,
		       struct dp_committer **c, struct dp_shard **sh)
{
	if (dp_committer_new(64, ack_cb, a, c) != 0)
		return -1;
	dp_log_config_default(cfg);
	cfg->buffer_bytes = BUF_MIN;
	cfg->segment_bytes = segment_bytes;
	cfg->durability = dur;
	cfg->io = ops;
	return dp_shard_open(*c, dir, &info, cfg, NULL, sh) == 0 ? 0 : -1;
}

static bool rec_matches(const struct dp_record_out *o, const struct rec *e)
{
	static uint8_t buf[64 + 40000];
	if (o->seq != e->seq || o->ts_ms != e->ts || o->key_len != e->kl || o->data_len != e->dl)
		return false;
	dp_test_fill(e->seed, buf, e->kl);
	if (memcmp(o->key, buf, e->kl) != 0)
		return false;
	dp_test_fill(~e->seed, buf, e->dl);
	return e->dl == 0 || memcmp(o->data, buf, e->dl) == 0;
}

/* Read the shard from the horizon: the first `n` records must be recs[0..n); returns how many
 * records were read in all (-1 on a mismatch or error). */
static long read_check(struct dp_shard *sh, size_t n)
{
	struct dp_reader *rd;
	if (dp_reader_new(sh, DP_POS_TRIM_HORIZON, 0, &rd) < 0)
		return -1;
	struct dp_record_out out[64];
	long k = 0;
	int r;
	while ((r = dp_reader_read(rd, out, 64, 1u << 20)) > 0)
		for (int i = 0; i < r; i++, k++)
			if ((size_t)k < n && !rec_matches(&out[i], &recs[k])) {
				printf("# record %ld (seq %" PRIu64 ") differs\n", k, out[i].seq);
				dp_reader_free(rd);
				return -1;
			}
	dp_reader_free(rd);
	if (r < 0)
		printf("# dp_reader_read: %d\n", r);
	return r < 0 ? -1 : k;
}

static int count_logs(const char *dir)
{
	DIR *d = opendir(dir);
	int n = 0;
	struct dirent *e;
	while (d && (e = readdir(d)))
		n += strlen(e->d_name) == DP_SEG_NAME_LEN;
	if (d)
		closedir(d);
	return n;
}

/*
 * The checks every failure shares. acked: the ack mark of the last good flush; handed: the next
 * sequence number before the failure. Closes the shard, reopens with the real system calls.
 */
static void check_failed(struct dp_committer *c, struct dp_shard *sh, struct acks *a, int err,
			 const char *what, uint64_t acked, const char *dir, struct dp_log_config *cfg)
{
	const char *detail = NULL;
	CHECK_EQ(dp_shard_state(sh), DP_SHARD_FAILED);
	CHECK_EQ(dp_shard_error(sh, &detail), err);
	CHECK(detail && strstr(detail, what) != NULL);
	CHECK_EQ_U64(dp_shard_ack_next(sh), acked);
	CHECK(dp_shard_readable_next(sh) <= acked);
	CHECK(dp_shard_durable_next(sh) <= acked);
	CHECK_EQ(a->failed_calls, 1);
	CHECK_EQ(a->last_state, DP_SHARD_FAILED);
	CHECK_EQ_U64(a->last, acked);
	/* Nothing more is accepted, and nothing more is reported. */
	uint64_t handed = dp_shard_next_seq(sh);
	CHECK_EQ(stage(sh, 1, 10, 0), -EROFS);
	for (int i = 0; i < 3; i++)
		CHECK(dp_committer_poll(c, false) >= 0);
	CHECK_EQ(a->failed_calls, 1);
	CHECK_EQ_U64(dp_shard_ack_next(sh), acked);
	/* Readers see at most the acked records. */
	size_t acked_recs = 0;
	while (acked_recs < nrecs && recs[acked_recs].seq < acked)
		acked_recs++;
	CHECK_EQ(read_check(sh, acked_recs), (long)acked_recs);
	CHECK_EQ(dp_shard_close(sh), -err);

	/* With the fault gone: every acked record is there, numbers go on above all handed out. */
	cfg->io = NULL;
	struct dp_shard_recovery rep;
	REQUIRE(dp_shard_open(c, dir, &info, cfg, &rep, &sh) == 0);
	CHECK(!rep.quarantined && !rep.clean);
	CHECK(read_check(sh, acked_recs) >= (long)acked_recs);
	CHECK(dp_shard_next_seq(sh) > handed);
	nrecs = 0;
	CHECK_EQ(stage(sh, 2, 100, 0), 2);
	wait_idle(c, sh);
	CHECK_EQ(dp_shard_state(sh), DP_SHARD_OPEN);
	CHECK_EQ(dp_shard_close(sh), 0);
}

/* (a) -EIO, (c) -ECANCELED on the Nth fdatasync; a batch staged behind the failing flush. */
static void fsync_fails(int at, int err)
{
	char dir[128];
	snprintf(dir, sizeof(dir), "%s/fsync%d_%d", tmp, at, err);
	struct fault f = { .fsync_at = at, .fsync_err = -err };
	struct dp_io_ops ops = fault_ops(&f);
	struct acks a = { 0 };
	struct dp_committer *c;
	struct dp_log_config cfg;
	struct dp_shard *sh;
	REQUIRE(open_faulty(dir, &ops, &a, 4u << 20, DP_DUR_DURABLE, &cfg, &c, &sh) == 0);
	nrecs = 0;
	uint64_t acked = 1;
	for (int i = 1; i < at; i++) {
		REQUIRE(stage(sh, 1 + (unsigned)(rng() % 8), 2000, i) > 0);
		wait_idle(c, sh);
		CHECK_EQ(dp_shard_state(sh), DP_SHARD_OPEN);
		CHECK_EQ_U64(dp_shard_ack_next(sh), recs[nrecs - 1].seq + 1);
		acked = dp_shard_ack_next(sh);
	}
	CHECK_EQ(a.calls, at - 1);
	CHECK_EQ(a.failed_calls, 0);
	/* The failing flush, and a batch staged while it is in flight: that one starts its own
	 * flush at once when another slot is free and it does not overlap the first flush's
	 * zeros ahead, and whichever of the two fdatasyncs completes first is the failing one;
	 * nothing of either is acked, since the earlier one never retires as a success. */
	REQUIRE(stage(sh, 3, 2000, at) == 3);
	dp_committer_poll(c, false);
	REQUIRE(stage(sh, 2, 2000, at) == 2);
	wait_idle(c, sh);
	CHECK(f.fsyncs >= at && f.fsyncs <= at + (int)DP_FLUSH_MAX - 1);
	check_failed(c, sh, &a, err, "fdatasync", acked, dir, &cfg);
	dp_committer_free(c);
}

static void test_fsync_eio(void)
{
	fsync_fails(4, EIO);
	fsync_fails(1, EIO); /* the very first flush: nothing was ever acked */
}

static void test_fsync_ecanceled(void)
{
	fsync_fails(2, ECANCELED);
}

/* (d) -ENOSPC on the 3rd write. */
static void test_write_enospc(void)
{
	char dir[128];
	snprintf(dir, sizeof(dir), "%s/enospc", tmp);
	static const enum dp_durability modes[] = { DP_DUR_DURABLE, DP_DUR_WRITTEN };
	for (int m = 0; m < 2; m++) {
		snprintf(dir, sizeof(dir), "%s/enospc_%s", tmp, dp_durability_name(modes[m]));
		struct fault f = { .write_at = 3, .write_err = -ENOSPC };
		struct dp_io_ops ops = fault_ops(&f);
		struct acks a = { 0 };
		struct dp_committer *c;
		struct dp_log_config cfg;
		struct dp_shard *sh;
		REQUIRE(open_faulty(dir, &ops, &a, 4u << 20, modes[m], &cfg, &c, &sh) == 0);
		nrecs = 0;
		for (int i = 0; i < 2; i++) {
			REQUIRE(stage(sh, 4, 1000, i) == 4);
			wait_idle(c, sh);
		}
		uint64_t acked = dp_shard_ack_next(sh);
		CHECK_EQ_U64(acked, recs[nrecs - 1].seq + 1);
		REQUIRE(stage(sh, 4, 1000, 2) == 4);
		wait_idle(c, sh);
		CHECK_EQ(f.writes, 3);
		check_failed(c, sh, &a, ENOSPC, "write", acked, dir, &cfg);
		dp_committer_free(c);
	}
}

/* Short writes are resubmitted, in both modes that write, and the log comes out intact. */
static void test_short_writes(void)
{
	static const enum dp_durability modes[] = { DP_DUR_DURABLE, DP_DUR_WRITTEN };
	for (int m = 0; m < 2; m++) {
		char dir[128];
		snprintf(dir, sizeof(dir), "%s/short_%s", tmp, dp_durability_name(modes[m]));
		struct fault f = { .short_every = 2 };
		struct dp_io_ops ops = fault_ops(&f);
		struct acks a = { 0 };
		struct dp_committer *c;
		/* rolls too */
		struct dp_log_config cfg;
		struct dp_shard *sh;
		REQUIRE(open_faulty(dir, &ops, &a, BUF_MIN + 4096, modes[m], &cfg, &c, &sh) == 0);
		nrecs = 0;
		unsigned bad = 0;
		for (int i = 0; i < 300; i++) {
			int r;
			while ((r = stage(sh, 1 + (unsigned)(rng() % 8), 12000, i)) == -EAGAIN)
				dp_committer_poll(c, true);
			bad += r <= 0;
			if (rng() % 3 == 0)
				dp_committer_poll(c, rng() % 2);
		}
		while (dp_committer_inflight(c) || dp_shard_readable_next(sh) < dp_shard_next_seq(sh))
			if (dp_committer_poll(c, true) < 0 || dp_shard_state(sh) != DP_SHARD_OPEN)
				break;
		CHECK_EQ(bad, 0);
		CHECK_EQ(dp_shard_state(sh), DP_SHARD_OPEN);
		CHECK_EQ(a.failed_calls, 0);
		CHECK_EQ_U64(dp_shard_ack_next(sh), recs[nrecs - 1].seq + 1);
		struct dp_shard_stats st;
		dp_shard_stats_get(sh, &st);
		CHECK(st.short_writes > 0);
		CHECK_EQ_U64(st.short_writes, (uint64_t)f.shorts);
		CHECK_EQ_U64(st.writes, st.flushes + st.short_writes);
		CHECK_EQ_U64(st.fsyncs, modes[m] == DP_DUR_DURABLE ? st.writes : 0);
		CHECK(st.segments_rolled >= 2);
		printf("# %s: %" PRIu64 " flushes, %" PRIu64 " short writes resubmitted, %" PRIu64
		       " segments\n", dp_durability_name(modes[m]), st.flushes, st.short_writes,
		       st.segments_rolled + 1);
		CHECK_EQ(read_check(sh, nrecs), (long)nrecs);
		CHECK_EQ(dp_shard_close(sh), 0);
		cfg.io = NULL;
		struct dp_shard_recovery rep;
		REQUIRE(dp_shard_open(c, dir, &info, &cfg, &rep, &sh) == 0);
		CHECK(rep.clean && !rep.quarantined);
		CHECK_EQ_U64(rep.torn_bytes, 0);
		CHECK_EQ_U64(rep.records, nrecs);
		CHECK_EQ(read_check(sh, nrecs), (long)nrecs);
		CHECK_EQ(dp_shard_close(sh), 0);
		dp_committer_free(c);
	}
}

/*
 * (e) The segment roll fails: fallocate (ENOSPC) or the header's fdatasync (EIO). With `idle`,
 * everything is flushed before the append that rolls, so no flush is in flight to carry the news:
 * the callback must still report the failure.
 */
static void roll_fails(bool falloc, bool idle)
{
	char dir[128];
	snprintf(dir, sizeof(dir), "%s/roll_%s_%d", tmp, falloc ? "fallocate" : "fdatasync", idle);
	/* Armed after the open (which creates the first segment): the roll's first call fails. */
	struct fault f = { .falloc_err = -ENOSPC, .sync_err = -EIO };
	struct dp_io_ops ops = fault_ops(&f);
	struct acks a = { 0 };
	struct dp_committer *c;
	struct dp_log_config cfg;
	struct dp_shard *sh;
	REQUIRE(open_faulty(dir, &ops, &a, BUF_MIN + 4096, DP_DUR_DURABLE, &cfg, &c, &sh) == 0);
	CHECK_EQ(f.fallocs, 1);
	if (falloc)
		f.falloc_at = f.fallocs + 1;
	else
		f.sync_at = f.syncs + 1;
	nrecs = 0;
	/* Batches of one 30000-byte record: 35 fit the segment, the 36th rolls. */
	uint64_t acked = 0;
	int r = 0, i;
	for (i = 0; i < 100; i++) {
		while ((r = stage_sized(sh, 1, 1, 30000, 0, i)) == -EAGAIN)
			dp_committer_poll(c, true);
		acked = dp_shard_ack_next(sh); /* appends never move it: this is the mark at failure */
		if (r < 0)
			break;
		if (idle || i % 4 == 3)
			wait_idle(c, sh);
	}
	CHECK_EQ(i, 35);
	CHECK_EQ(r, falloc ? -ENOSPC : -EIO);
	CHECK_EQ(count_logs(dir), 1); /* the half-made segment is gone */
	/* The flush started just before the roll may still be in flight: it completes, but a FAILED
	 * shard acks nothing more. The callback reports the failure once, from the next poll. */
	CHECK_EQ(a.failed_calls, 0);
	wait_idle(c, sh);
	dp_committer_poll(c, false);
	check_failed(c, sh, &a, falloc ? ENOSPC : EIO, "creating a new segment", acked, dir, &cfg);
	dp_committer_free(c);
}

static void test_roll_fallocate_fails(void)
{
	roll_fails(true, false);
	roll_fails(true, true);
}

static void test_roll_fdatasync_fails(void)
{
	roll_fails(false, false);
	roll_fails(false, true);
}

/* A zero-ahead write that fails fails the shard like a data write; nothing of its flush is acked.
 * Zero-ahead writes that come back short change nothing but how far ahead the log has written. */
static void test_zero_ahead_faults(void)
{
	for (int k = 0; k < 2; k++) {
		char dir[128];
		snprintf(dir, sizeof(dir), "%s/zero_%d", tmp, k);
		struct fault f = { .zero_at = k == 0 ? 2 : 0, .zero_err = -EIO, .zero_short = k == 1 };
		struct dp_io_ops ops = fault_ops(&f);
		struct acks a = { 0 };
		struct dp_committer *c;
		struct dp_log_config cfg;
		struct dp_shard *sh;
		REQUIRE(open_faulty(dir, &ops, &a, 8u << 20, DP_DUR_DURABLE, &cfg, &c, &sh) == 0);
		nrecs = 0;
		uint64_t acked = 0;
		/* 40 KB per flush: the 1st flush zeros ahead, the 2nd zeros ahead again when the 1st
		 * came back short, or (k == 0) fails when the zeros run out after ~1 MiB. */
		for (int i = 0; i < 200 && dp_shard_state(sh) == DP_SHARD_OPEN; i++) {
			acked = dp_shard_ack_next(sh);
			REQUIRE(stage_sized(sh, 4, 16, 10000, 0, i) == 4);
			wait_idle(c, sh);
		}
		struct dp_shard_stats st;
		dp_shard_stats_get(sh, &st);
		if (k == 0) {
			CHECK_EQ(f.zeros, 2);
			CHECK_EQ_U64(st.zero_writes, 2);
			check_failed(c, sh, &a, EIO, "zeros", acked, dir, &cfg);
		} else {
			CHECK_EQ(dp_shard_state(sh), DP_SHARD_OPEN);
			CHECK_EQ(a.failed_calls, 0);
			/* Each short zero write leaves the next flush to zero ahead again. */
			CHECK(st.zero_writes >= 100);
			CHECK_EQ_U64(st.zero_bytes, st.zero_writes * 4096);
			CHECK_EQ(read_check(sh, nrecs), (long)nrecs);
			CHECK_EQ(dp_shard_close(sh), 0);
			cfg.io = NULL;
			REQUIRE(dp_shard_open(c, dir, &info, &cfg, NULL, &sh) == 0);
			CHECK_EQ(read_check(sh, nrecs), (long)nrecs);
			CHECK_EQ(dp_shard_close(sh), 0);
		}
		dp_committer_free(c);
	}
}

int main(void)
{
	if (!mkdtemp(strcpy(tmp, "/tmp/dp_log_faults.XXXXXX"))) {
		printf("1..0 # SKIP no temp dir\n");
		return DP_TEST_SKIP;
	}
	DP_TEST_RUN(test_fsync_eio);
	DP_TEST_RUN(test_fsync_ecanceled);
	DP_TEST_RUN(test_write_enospc);
	DP_TEST_RUN(test_short_writes);
	DP_TEST_RUN(test_roll_fallocate_fails);
	DP_TEST_RUN(test_roll_fdatasync_fails);
	DP_TEST_RUN(test_zero_ahead_faults);
	dp_test_rm_tree(tmp);
	return dp_test_done();
}
