/* SPDX-License-Identifier: MIT */
/*
 * Torn tails and corruption: recovery must cut exactly what was never durable and must refuse to
 * cut anything that was.
 *
 * The log under test is built in two phases so that its durable mark is known from the format:
 *  1. durable mode, every batch acked before the next is staged (each batch's durable_seq covers
 *     all batches before it); the segment is copied before close, i.e. an unclean stop;
 *  2. the copy is reopened (recovery writes a SKIP claiming all of phase 1) in "none" mode and a
 *     tail is appended and written, but never fdatasync'ed: every tail batch claims only up to
 *     the SKIP, so the whole tail lies above the durable mark.
 * Offsets come from the format (segment header 64 bytes, batch = align8(48 + sum(6 + key +
 * data)), SKIP 48 bytes), not from the code under test.
 *
 * Torn cases: on a fresh copy, cut the tail at a random offset by ftruncate, or overwrite from
 * there to the end of the written area with random bytes or zeros. A short file (truncated below
 * the size its header records) is treated as a torn file: the missing bytes count as zeros and
 * the file gets its preallocated size back. Recovery must keep every batch that was complete
 * before the cut and nothing after it, report as torn_bytes the span from the cut batch to the
 * end of the last non-zero 8-byte word (the file end when it ends inside one), and hand out
 * sequence numbers above everything phase 2 handed out.
 *
 * Corruption cases: flip one byte below the durable mark (a phase-1 batch or the SKIP): the shard
 * opens QUARANTINED, the file is byte for byte unchanged, appends fail -EROFS and everything
 * below the damage reads back.
 */
#include "dp_log.h"
#include "dp_log_internal.h"

#include <fcntl.h>
#include <ftw.h>
#include <stdbool.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dp_test.h"

#define BUF_MIN (1024u * 1024u + 4096u)
#define SEG_BYTES (BUF_MIN + 4096u)
#define SEG_NAME "00000000000000000001.log"
#define P1_BATCHES 40
#define TAIL_BATCHES 60
#define TORN_CASES 240

static const struct dp_shard_info info = { .shard_index = 7, .created_ms = 1650000000000 };

static uint64_t rng_state = UINT64_C(0x6a09e667f3bcc909);

static uint64_t rng(void)
{
	return dp_test_rng(&rng_state);
}

static char tmp[64];

/* ---- the log being damaged ------------------------------------------------------------------- */

struct rec {
	uint64_t seq, seed;
	int64_t ts;
	uint32_t dl;
	uint16_t kl;
};

struct batch {
	uint64_t off, end;   /* from the format */
	uint64_t first_seq;
	unsigned n;
	size_t rec0;         /* index of its first record in recs[] */
};

static struct rec recs[4096];
static size_t nrecs;
static struct batch p1[P1_BATCHES], tail[TAIL_BATCHES];
static uint64_t skip_off, p1_next, tail_last_seq;
static size_t tail_end_rec;   /* records in recs[] after phase 2 */
static uint8_t *tmpl;         /* the segment after phase 2, never closed */
static uint64_t tmpl_written; /* end of the tail */

static void drain(struct dp_committer *c, struct dp_shard *sh)
{
	for (int i = 0; i < 100000; i++) {
		if (dp_committer_inflight(c) == 0 && dp_shard_readable_next(sh) >= dp_shard_next_seq(sh))
			return;
		if (dp_committer_poll(c, true) < 0 || dp_shard_state(sh) != DP_SHARD_OPEN)
			return;
	}
}

/* Append one batch of 1..6 random records at file offset off (from the format); fills *b. */
static int append_one(struct dp_committer *c, struct dp_shard *sh, uint64_t off, int64_t ts,
		      struct batch *b)
{
	unsigned n = 1 + (unsigned)(rng() % 6);
	struct dp_record_in in[6];
	static uint8_t bytes[6 * (DP_KEY_MAX + 2100)];
	uint8_t *p = bytes;
	uint32_t payload = 0;
	for (unsigned i = 0; i < n; i++) {
		struct rec *r = &recs[nrecs + i];
		r->kl = (uint16_t)(1 + rng() % 40);
		r->dl = rng() % 5 == 0 ? 0 : (uint32_t)(rng() % 2100);
		r->seed = rng();
		r->ts = ts;
		dp_test_fill(r->seed, p, r->kl);
		in[i].key = p;
		in[i].key_len = r->kl;
		p += r->kl;
		dp_test_fill(~r->seed, p, r->dl);
		in[i].data = p;
		in[i].data_len = r->dl;
		p += r->dl;
		payload += DP_REC_HDR_BYTES + r->kl + r->dl;
	}
	uint64_t first;
	int rc = dp_shard_append(sh, in, n, ts, &first);
	if (rc != (int)n)
		return rc < 0 ? rc : -EIO;
	for (unsigned i = 0; i < n; i++)
		recs[nrecs + i].seq = first + i;
	*b = (struct batch){ .off = off, .end = off + dp_align8(DP_BATCH_HDR_BYTES + payload),
			     .first_seq = first, .n = n, .rec0 = nrecs };
	nrecs += n;
	drain(c, sh);
	return 0;
}

static bool rec_matches(const struct dp_record_out *o, const struct rec *e)
{
	static uint8_t buf[DP_KEY_MAX + 2100];
	if (o->seq != e->seq || o->ts_ms != e->ts || o->key_len != e->kl || o->data_len != e->dl)
		return false;
	dp_test_fill(e->seed, buf, e->kl);
	if (memcmp(o->key, buf, e->kl) != 0)
		return false;
	dp_test_fill(~e->seed, buf, e->dl);
	return e->dl == 0 || memcmp(o->data, buf, e->dl) == 0;
}

/* Read the whole shard; it must be exactly recs[0..p1_recs), then recs[t0..t1), then *extra. */
static bool read_exact(struct dp_shard *sh, size_t p1_recs, size_t t0, size_t t1,
		       const struct rec *extra)
{
	struct dp_reader *rd;
	if (dp_reader_new(sh, DP_POS_TRIM_HORIZON, 0, &rd) < 0)
		return false;
	struct dp_record_out out[64];
	size_t k = 0, want = p1_recs + (t1 - t0) + (extra != NULL);
	bool ok = true;
	int r;
	while (ok && (r = dp_reader_read(rd, out, 64, 1u << 20)) != 0) {
		if (r < 0) {
			printf("# dp_reader_read: %d after %zu records\n", r, k);
			ok = false;
			break;
		}
		for (int i = 0; ok && i < r; i++, k++) {
			size_t idx = k < p1_recs ? k : t0 + (k - p1_recs);
			const struct rec *e = extra && k + 1 == want ? extra : &recs[idx];
			ok = k < want && rec_matches(&out[i], e);
			if (!ok)
				printf("# record %zu: got seq %" PRIu64 ", expected %" PRIu64 "\n", k,
				       out[i].seq, k < want ? e->seq : 0);
		}
	}
	dp_reader_free(rd);
	if (ok && k != want) {
		printf("# read %zu records, expected %zu\n", k, want);
		ok = false;
	}
	return ok;
}

/* Append one record with arrival time 0 (clamped to last_ts by the log) and wait for its ack. */
static bool append_extra(struct dp_committer *c, struct dp_shard *sh, struct rec *e, int64_t last_ts)
{
	static uint8_t kb[16], db[128];
	e->kl = (uint16_t)(1 + rng() % 16);
	e->dl = (uint32_t)(rng() % 128);
	e->seed = rng();
	e->ts = last_ts;
	dp_test_fill(e->seed, kb, e->kl);
	dp_test_fill(~e->seed, db, e->dl);
	struct dp_record_in in = { .key = kb, .key_len = e->kl, .data = db, .data_len = e->dl };
	if (dp_shard_append(sh, &in, 1, 0, &e->seq) != 1)
		return false;
	drain(c, sh);
	return dp_shard_ack_next(sh) == e->seq + 1;
}

static int read_file(const char *path, uint8_t *buf, size_t cap, size_t *len)
{
	int fd = open(path, O_RDONLY);
	if (fd < 0)
		return -errno;
	ssize_t n = pread(fd, buf, cap, 0);
	close(fd);
	if (n < 0)
		return -EIO;
	*len = (size_t)n;
	return 0;
}

/* Write a segment file: the first `len` bytes of buf, sparse up to `size`. */
static int write_file(const char *dir, const uint8_t *buf, size_t len, size_t size)
{
	if (mkdir(dir, 0755) < 0)
		return -errno;
	char path[256];
	snprintf(path, sizeof(path), "%s/" SEG_NAME, dir);
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0644);
	if (fd < 0)
		return -errno;
	int rc = pwrite(fd, buf, len, 0) == (ssize_t)len && ftruncate(fd, (off_t)size) == 0 ? 0 : -EIO;
	close(fd);
	return rc;
}

static bool build_template(void)
{
	struct dp_committer *c;
	if (dp_committer_new(64, NULL, NULL, &c) < 0)
		return false;
	struct dp_log_config cfg;
	dp_log_config_default(&cfg);
	cfg.buffer_bytes = BUF_MIN;
	cfg.segment_bytes = SEG_BYTES;
	char a[128], b[128], path[256];
	snprintf(a, sizeof(a), "%s/phase1", tmp);
	snprintf(b, sizeof(b), "%s/phase2", tmp);

	/* Phase 1: durable, each batch acked before the next. */
	struct dp_shard *sh;
	if (dp_shard_open(c, a, &info, &cfg, NULL, &sh) < 0)
		return false;
	uint64_t off = DP_SEG_HDR_BYTES;
	int64_t ts = 1700000000000;
	for (int i = 0; i < P1_BATCHES; i++) {
		if (append_one(c, sh, off, ts += 3, &p1[i]) < 0)
			return false;
		off = p1[i].end;
		if (dp_shard_ack_next(sh) != p1[i].first_seq + p1[i].n)
			return false;
	}
	p1_next = dp_shard_next_seq(sh);
	skip_off = off;
	size_t len;
	tmpl = malloc(SEG_BYTES);
	snprintf(path, sizeof(path), "%s/" SEG_NAME, a);
	if (!tmpl || read_file(path, tmpl, SEG_BYTES, &len) < 0 || len != SEG_BYTES)
		return false;
	if (write_file(b, tmpl, skip_off, SEG_BYTES) < 0) /* the unclean copy */
		return false;
	if (dp_shard_close(sh) < 0)
		return false;

	/* Phase 2: reopen the copy, append a tail that is written but never synced. */
	struct dp_shard_recovery rep;
	cfg.durability = DP_DUR_NONE;
	if (dp_shard_open(c, b, &info, &cfg, &rep, &sh) < 0 || rep.clean || rep.quarantined ||
	    rep.records != nrecs)
		return false;
	off = skip_off + DP_BATCH_HDR_BYTES;
	for (int i = 0; i < TAIL_BATCHES; i++) {
		if (append_one(c, sh, off, ts += 3, &tail[i]) < 0)
			return false;
		off = tail[i].end;
	}
	tmpl_written = off;
	tail_end_rec = nrecs;
	tail_last_seq = dp_shard_next_seq(sh) - 1;
	snprintf(path, sizeof(path), "%s/" SEG_NAME, b);
	if (read_file(path, tmpl, SEG_BYTES, &len) < 0 || len != SEG_BYTES)
		return false;
	dp_shard_close(sh);
	dp_committer_free(c);

	/* The format says where everything is; check the template agrees before relying on it. */
	struct dp_batch_hdr h;
	for (int i = 0; i < P1_BATCHES; i++)
		if (dp_batch_check(tmpl + p1[i].off, SEG_BYTES - p1[i].off, &h) < 0 ||
		    h.first_seq != p1[i].first_seq || h.len != p1[i].end - p1[i].off)
			return false;
	if (dp_batch_check(tmpl + skip_off, SEG_BYTES - skip_off, &h) < 0 || h.kind != DP_BATCH_SKIP ||
	    h.durable_seq != p1_next || h.first_seq != tail[0].first_seq)
		return false;
	for (int i = 0; i < TAIL_BATCHES; i++)
		if (dp_batch_check(tmpl + tail[i].off, SEG_BYTES - tail[i].off, &h) < 0 ||
		    h.first_seq != tail[i].first_seq || h.durable_seq > tail[0].first_seq)
			return false;
	for (uint64_t o = tmpl_written; o < SEG_BYTES; o++)
		if (tmpl[o])
			return false;
	printf("# phase 1: %d batches to offset %" PRIu64 "; tail: %d batches, %" PRIu64
	       "..%" PRIu64 "\n", P1_BATCHES, skip_off, TAIL_BATCHES, skip_off + 48, tmpl_written);
	return true;
}

/* torn_bytes as the format defines it: from the cut to the end of the last non-zero 8-byte word
 * (or the file end when the file ends inside that word). */
static uint64_t expect_torn(const uint8_t *f, uint64_t size, uint64_t cut)
{
	uint64_t o = size;
	while (o > cut && f[o - 1] == 0)
		o--;
	if (o == cut)
		return 0;
	uint64_t end = ((o - 1) & ~7ull) + 8;
	return (end > size ? size : end) - cut;
}

static void test_torn_tails(void)
{
	static uint8_t f[SEG_BYTES];
	struct dp_committer *c;
	REQUIRE(dp_committer_new(64, NULL, NULL, &c) == 0);
	struct dp_log_config cfg;
	dp_log_config_default(&cfg);
	cfg.buffer_bytes = BUF_MIN;
	cfg.segment_bytes = SEG_BYTES;
	size_t p1_recs = tail[0].rec0;
	unsigned failed = 0, modes[3] = { 0 }, with_torn = 0, at_boundary = 0;
	uint64_t total_torn = 0;

	for (int cs = 0; cs < TORN_CASES && failed < 5; cs++) {
		/* A cut inside the tail; one in four exactly at a batch boundary. */
		uint64_t span = tmpl_written - tail[0].off;
		uint64_t x = tail[0].off + rng() % span;
		if (rng() % 4 == 0)
			x = tail[rng() % TAIL_BATCHES].off;
		int mode = (int)(rng() % 3); /* 0 truncate, 1 random bytes, 2 zeros */
		modes[mode]++;
		memcpy(f, tmpl, SEG_BYTES);
		uint64_t size = SEG_BYTES;
		if (mode == 0)
			size = x;
		else
			for (uint64_t o = x; o < tmpl_written; o++)
				f[o] = mode == 1 ? (uint8_t)rng() : 0;
		/* Batches whose bytes are all still there survive (zeros written over zero padding
		 * or a random byte equal to the old one damage nothing). */
		unsigned k = 0;
		while (k < TAIL_BATCHES && tail[k].end <= size &&
		       memcmp(f + tail[k].off, tmpl + tail[k].off, tail[k].end - tail[k].off) == 0)
			k++;
		uint64_t cut = k < TAIL_BATCHES ? tail[k].off : tmpl_written;
		size_t kept = k < TAIL_BATCHES ? tail[k].rec0 : tail_end_rec;
		at_boundary += cut == x;
		uint64_t torn = expect_torn(f, size, cut);

		char dir[128];
		snprintf(dir, sizeof(dir), "%s/torn%d", tmp, cs);
		REQUIRE(write_file(dir, f, mode == 0 ? size : tmpl_written, size) == 0);
		struct dp_shard *sh;
		struct dp_shard_recovery rep;
		int r = dp_shard_open(c, dir, &info, &cfg, &rep, &sh);
		bool ok = r == 0;
		if (ok) {
			ok = !rep.quarantined && !rep.clean && dp_shard_state(sh) == DP_SHARD_OPEN &&
			     rep.torn_bytes == torn && rep.segments == 1 && rep.records == kept &&
			     read_exact(sh, p1_recs, p1_recs, kept, NULL);
			total_torn += rep.torn_bytes;
			with_torn += rep.torn_bytes > 0;
			/* Fresh numbers above everything handed out before, and the tail stays cut:
			 * after a clean close the log reopens clean, nothing torn, the new record last. */
			struct rec extra;
			ok = ok && append_extra(c, sh, &extra, recs[kept - 1].ts) &&
			     extra.seq > tail_last_seq;
			ok = dp_shard_close(sh) == 0 && ok;
			struct stat st;
			char path[256];
			snprintf(path, sizeof(path), "%s/" SEG_NAME, dir);
			ok = ok && stat(path, &st) == 0 && (uint64_t)st.st_size == SEG_BYTES;
			struct dp_shard_recovery rep2;
			ok = ok && dp_shard_open(c, dir, &info, &cfg, &rep2, &sh) == 0;
			if (ok) {
				ok = rep2.clean && rep2.torn_bytes == 0 && !rep2.quarantined &&
				     rep2.records == rep.records + 1 &&
				     read_exact(sh, p1_recs, p1_recs, kept, &extra);
				dp_shard_close(sh);
			}
		}
		if (!ok) {
			failed++;
			printf("# case %d: mode %d cut at %" PRIu64 " (batch %u at %" PRIu64 "): open %d, "
			       "quarantined %d, torn %" PRIu64 " (expected %" PRIu64 "), records %" PRIu64
			       " (expected %zu): %s\n", cs, mode, x, k, cut, r, rep.quarantined,
			       rep.torn_bytes, torn, rep.records, kept, rep.detail);
		}
		dp_test_rm_tree(dir);
	}
	printf("# %d cases (truncate %u, random %u, zeros %u; %u at a batch boundary): %u with a torn "
	       "tail, %" PRIu64 " torn bytes\n", TORN_CASES, modes[0], modes[1], modes[2], at_boundary,
	       with_torn, total_torn);
	CHECK_EQ(failed, 0);
	CHECK(with_torn > TORN_CASES / 2);
	dp_committer_free(c);
}

/* One cut looked at closely: what is on disk after recovery, and appends after it. */
static void test_cut_then_append(void)
{
	static uint8_t f[SEG_BYTES];
	struct dp_committer *c;
	REQUIRE(dp_committer_new(64, NULL, NULL, &c) == 0);
	struct dp_log_config cfg;
	dp_log_config_default(&cfg);
	cfg.buffer_bytes = BUF_MIN;
	cfg.segment_bytes = SEG_BYTES;
	size_t p1_recs = tail[0].rec0;
	/* Garble from the middle of tail batch 30 on, then append, close, reopen, read. */
	uint64_t x = tail[30].off + 20;
	memcpy(f, tmpl, SEG_BYTES);
	for (uint64_t o = x; o < tmpl_written; o++)
		f[o] = (uint8_t)(rng() | 1);
	char dir[128];
	snprintf(dir, sizeof(dir), "%s/cut_append", tmp);
	REQUIRE(write_file(dir, f, tmpl_written, SEG_BYTES) == 0);
	struct dp_shard *sh;
	struct dp_shard_recovery rep;
	REQUIRE(dp_shard_open(c, dir, &info, &cfg, &rep, &sh) == 0);
	CHECK(!rep.quarantined);
	CHECK_EQ_U64(rep.torn_bytes, dp_align8((uint32_t)tmpl_written) - tail[30].off);
	CHECK(strstr(rep.detail, "torn tail") != NULL);
	/* The cut bytes are zero on disk, apart from the SKIP written at the cut. */
	size_t len;
	static uint8_t g[SEG_BYTES];
	char path[256];
	snprintf(path, sizeof(path), "%s/" SEG_NAME, dir);
	REQUIRE(read_file(path, g, SEG_BYTES, &len) == 0 && len == SEG_BYTES);
	CHECK(memcmp(g, tmpl, tail[30].off) == 0);
	struct dp_batch_hdr h;
	CHECK_EQ(dp_batch_check(g + tail[30].off, 48, &h), 0);
	CHECK_EQ(h.kind, DP_BATCH_SKIP);
	CHECK_EQ_U64(h.durable_seq, tail[30].first_seq);
	unsigned nz = 0;
	for (uint64_t o = tail[30].off + 48; o < SEG_BYTES; o++)
		nz += g[o] != 0;
	CHECK_EQ(nz, 0);

	struct rec extra;
	REQUIRE(append_extra(c, sh, &extra, recs[tail[30].rec0 - 1].ts));
	CHECK(extra.seq > tail_last_seq);
	CHECK_EQ(dp_shard_close(sh), 0);
	REQUIRE(dp_shard_open(c, dir, &info, &cfg, &rep, &sh) == 0);
	CHECK(rep.clean && !rep.quarantined);
	CHECK_EQ_U64(rep.torn_bytes, 0);
	CHECK(read_exact(sh, p1_recs, p1_recs, tail[30].rec0, &extra));
	CHECK_EQ(dp_shard_close(sh), 0);
	dp_test_rm_tree(dir);
	dp_committer_free(c);
}

static void test_corruption_quarantines(void)
{
	static uint8_t f[SEG_BYTES], g[SEG_BYTES];
	struct dp_committer *c;
	REQUIRE(dp_committer_new(64, NULL, NULL, &c) == 0);
	struct dp_log_config cfg;
	dp_log_config_default(&cfg);
	cfg.buffer_bytes = BUF_MIN;
	cfg.segment_bytes = SEG_BYTES;
	unsigned failed = 0;
	/* Every phase-1 batch (the SKIP's claim covers the last one too) and the SKIP itself. */
	for (int j = 0; j <= P1_BATCHES && failed < 5; j++) {
		uint64_t boff = j < P1_BATCHES ? p1[j].off : skip_off;
		uint64_t bend = j < P1_BATCHES ? p1[j].end : skip_off + 48;
		uint64_t seq = j < P1_BATCHES ? p1[j].first_seq : p1_next;
		size_t below = j < P1_BATCHES ? p1[j].rec0 : tail[0].rec0;
		/* Header fields, CRC, records and padding all count. */
		uint64_t at = boff + rng() % (bend - boff);
		if (j % 5 == 0)
			at = boff + rng() % DP_BATCH_HDR_BYTES;
		memcpy(f, tmpl, SEG_BYTES);
		f[at] ^= (uint8_t)(1u << (rng() % 8));
		char dir[128], path[256];
		snprintf(dir, sizeof(dir), "%s/corrupt%d", tmp, j);
		snprintf(path, sizeof(path), "%s/" SEG_NAME, dir);
		REQUIRE(write_file(dir, f, tmpl_written, SEG_BYTES) == 0);

		struct dp_shard *sh;
		struct dp_shard_recovery rep;
		bool ok = dp_shard_open(c, dir, &info, &cfg, &rep, &sh) == 0;
		if (ok) {
			uint8_t key = 'q';
			struct dp_record_in in = { .key = &key, .key_len = 1 };
			uint64_t first = 0;
			const char *why = NULL;
			ok = rep.quarantined && dp_shard_state(sh) == DP_SHARD_QUARANTINED &&
			     rep.corrupt_seq == seq && rep.torn_bytes == 0 &&
			     strstr(rep.detail, "below the durable mark") != NULL &&
			     dp_shard_append(sh, &in, 1, 0, &first) == -EROFS &&
			     dp_shard_readable_next(sh) == seq && dp_shard_error(sh, &why) == 0 &&
			     read_exact(sh, below, 0, 0, NULL);
			if (!ok)
				printf("# flip at %" PRIu64 " in batch %d: quarantined %d corrupt_seq %" PRIu64
				       " (expected %" PRIu64 "), torn %" PRIu64 ": %s\n", at, j,
				       rep.quarantined, rep.corrupt_seq, seq, rep.torn_bytes, rep.detail);
			CHECK_EQ(dp_shard_close(sh), 0);
		}
		size_t len = 0;
		ok = ok && read_file(path, g, SEG_BYTES, &len) == 0 && len == SEG_BYTES &&
		     memcmp(f, g, SEG_BYTES) == 0; /* nothing cut, nothing written */
		/* Still quarantined the second time: nothing was "repaired" behind our back. */
		ok = ok && dp_shard_open(c, dir, &info, &cfg, &rep, &sh) == 0 && rep.quarantined;
		if (ok)
			dp_shard_close(sh);
		if (!ok)
			failed++;
		dp_test_rm_tree(dir);
	}
	CHECK_EQ(failed, 0);
	dp_committer_free(c);
}

int main(void)
{
	if (!mkdtemp(strcpy(tmp, "/tmp/dp_log_torn.XXXXXX"))) {
		printf("1..0 # SKIP no temp dir\n");
		return DP_TEST_SKIP;
	}
	bool built = build_template();
	printf("%s 1 - build_template\n", built ? "ok" : "not ok");
	dp_test_n = 1;
	if (!built) {
		dp_test_failed_total = 1;
	} else {
		DP_TEST_RUN(test_torn_tails);
		DP_TEST_RUN(test_cut_then_append);
		DP_TEST_RUN(test_corruption_quarantines);
	}
	free(tmpl);
	dp_test_rm_tree(tmp);
	return dp_test_done();
}
