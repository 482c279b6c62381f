/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for dp_log on a healthy disk: framing round trips, sequence numbers (dense within a
 * run, never reused across a clean close or an unclean stop), the three durability modes, group
 * commit, segment roll, every reader position through the sparse index, the readable mark,
 * retention, config and append validation.
 *
 * Expected values come from a model kept by the test (every record's seq, arrival time and the
 * seed its bytes are generated from) and from the format in dp_log_internal.h (segment rolls are
 * predicted by replaying the staging arithmetic), never from the code under test.
 */
#include "dp_log.h"
#include "dp_log_internal.h"

#include <dirent.h>
#include <fcntl.h>
#include <sched.h>
#include <ftw.h>
#include <stdbool.h>
#include <stdlib.h>
#include <linux/fiemap.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "dp_test.h"

#define BUF_MIN (1024u * 1024u + 4096u) /* smallest staging buffer dp_log_config_check allows */
#define SEG_SMALL (2u << 20)

static const struct dp_shard_info info = { .shard_index = 3, .created_ms = 1600000000000 };

/* ---- helpers ------------------------------------------------------------------------------------ */

static uint64_t rng_state = UINT64_C(0x853c49e6748fea9b);

static uint64_t rng(void)
{
	return dp_test_rng(&rng_state);
}

static void tmpdir_rm(const char *dir)
{
	dp_test_rm_tree(dir);
}

/* A fresh directory under /tmp for one test; the shard lives in <tmp>/<name>. */
static char tmproot[64];

static const char *tmp_new(void)
{
	snprintf(tmproot, sizeof(tmproot), "/tmp/dp_log_basic.XXXXXX");
	return mkdtemp(tmproot);
}

static char *path_in(const char *dir, const char *name)
{
	static char buf[8][256];
	static int k;
	k = (k + 1) % 8;
	snprintf(buf[k], sizeof(buf[k]), "%s/%s", dir, name);
	return buf[k];
}

/* Segment file names in dir, sorted; returns the count (at most max). */
static int list_logs(const char *dir, char names[][DP_SEG_NAME_LEN + 1], int max)
{
	DIR *d = opendir(dir);
	if (!d)
		return -1;
	int n = 0;
	struct dirent *e;
	while ((e = readdir(d)))
		if (strlen(e->d_name) == DP_SEG_NAME_LEN && strstr(e->d_name, ".log") && n < max)
			memcpy(names[n++], e->d_name, DP_SEG_NAME_LEN + 1);
	closedir(d);
	for (int i = 1; i < n; i++)
		for (int j = i; j > 0 && strcmp(names[j - 1], names[j]) > 0; j--) {
			char t[DP_SEG_NAME_LEN + 1];
			memcpy(t, names[j], sizeof(t));
			memcpy(names[j], names[j - 1], sizeof(t));
			memcpy(names[j - 1], t, sizeof(t));
		}
	return n;
}

/* Copy every file of src into dst (created): a snapshot of a shard that was never closed. */
static int copy_dir(const char *src, const char *dst)
{
	if (mkdir(dst, 0755) < 0)
		return -errno;
	DIR *d = opendir(src);
	if (!d)
		return -errno;
	struct dirent *e;
	int rc = 0;
	static uint8_t buf[1 << 16];
	while (rc == 0 && (e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		char from[512], to[512];
		snprintf(from, sizeof(from), "%s/%s", src, e->d_name);
		snprintf(to, sizeof(to), "%s/%s", dst, e->d_name);
		int in = open(from, O_RDONLY);
		int out = open(to, O_WRONLY | O_CREAT | O_EXCL, 0644);
		ssize_t got;
		while (in >= 0 && out >= 0 && (got = read(in, buf, sizeof(buf))) > 0)
			if (write(out, buf, (size_t)got) != got)
				rc = -EIO;
		if (in < 0 || out < 0)
			rc = -EIO;
		if (in >= 0)
			close(in);
		if (out >= 0)
			close(out);
	}
	closedir(d);
	return rc;
}

static void cfg_small(struct dp_log_config *cfg, enum dp_durability dur)
{
	dp_log_config_default(cfg);
	cfg->buffer_bytes = BUF_MIN;
	cfg->segment_bytes = SEG_SMALL;
	cfg->durability = dur;
}

/* ---- the model ---------------------------------------------------------------------------------- */

struct rec {
	uint64_t seq;
	int64_t ts;
	uint64_t seed;
	uint32_t dl;
	uint16_t kl;
};

struct model {
	struct rec *v;
	size_t n, cap;
	uint64_t next_seed;
	/* Segment roll prediction: the staging arithmetic of dp_log.c replayed on batch lengths. */
	uint64_t seg_bytes, seg_end;
	uint64_t seg_base[64];
	int64_t seg_max_ts[64];
	unsigned nsegs;
};

static void model_init(struct model *m, uint64_t seg_bytes)
{
	memset(m, 0, sizeof(*m));
	m->next_seed = rng();
	m->seg_bytes = seg_bytes;
	m->seg_end = DP_SEG_HDR_BYTES;
	m->seg_base[0] = 1;
	m->seg_max_ts[0] = INT64_MIN;
	m->nsegs = 1;
}

static void model_free(struct model *m)
{
	free(m->v);
}

static void model_push(struct model *m, const struct rec *r)
{
	if (m->n == m->cap) {
		m->cap = m->cap ? m->cap * 2 : 1024;
		m->v = realloc(m->v, m->cap * sizeof(*m->v));
		if (!m->v)
			abort();
	}
	m->v[m->n++] = *r;
}

/* Account a batch of blen bytes starting at first_seq: a new segment when it does not fit. */
static void model_stage(struct model *m, uint32_t blen, uint64_t first_seq, int64_t ts)
{
	if (m->seg_end + blen > m->seg_bytes) {
		m->seg_base[m->nsegs] = first_seq;
		m->seg_max_ts[m->nsegs] = INT64_MIN;
		m->nsegs++;
		m->seg_end = DP_SEG_HDR_BYTES;
	}
	m->seg_end += blen;
	if (ts > m->seg_max_ts[m->nsegs - 1])
		m->seg_max_ts[m->nsegs - 1] = ts;
}

static uint8_t scratch[DP_DATA_MAX + DP_KEY_MAX + 64];

/* Drive the committer until everything staged on sh is readable (or the shard stops being open). */
static void drain(struct dp_committer *c, struct dp_shard *sh)
{
	for (int i = 0; i < 100000; i++) {
		if (dp_committer_inflight(c) == 0 &&
		    (dp_shard_readable_next(sh) >= dp_shard_next_seq(sh) ||
		     dp_shard_state(sh) != DP_SHARD_OPEN))
			return;
		if (dp_committer_poll(c, true) < 0)
			return;
	}
}

/*
 * Append one batch of n records with key lengths kl[] and data lengths dl[] (NULL: random small
 * sizes), arrival time ts. Content comes from fresh seeds recorded in the model. -EAGAIN is
 * retried through the committer. Returns dp_shard_append's final result.
 */
static int append_batch(struct dp_committer *c, struct dp_shard *sh, struct model *m, unsigned n,
			const uint16_t *kl, const uint32_t *dl, int64_t ts)
{
	struct dp_record_in *in = calloc(n, sizeof(*in));
	struct rec *rs = calloc(n, sizeof(*rs));
	uint64_t total = 0;
	for (unsigned i = 0; i < n; i++) {
		rs[i].kl = kl ? kl[i] : (uint16_t)(1 + rng() % 16);
		rs[i].dl = dl ? dl[i] : (uint32_t)(rng() % 200);
		rs[i].seed = m->next_seed;
		m->next_seed += 2 * (DP_DATA_MAX + DP_KEY_MAX);
		total += rs[i].kl + rs[i].dl;
	}
	uint8_t *bytes = malloc(total ? total : 1), *p = bytes;
	uint64_t payload = 0;
	for (unsigned i = 0; i < n; i++) {
		dp_test_fill(rs[i].seed, p, rs[i].kl);
		in[i].key = p;
		in[i].key_len = rs[i].kl;
		p += rs[i].kl;
		dp_test_fill(rs[i].seed + DP_KEY_MAX + 8, p, rs[i].dl);
		in[i].data = rs[i].dl ? p : NULL;
		in[i].data_len = rs[i].dl;
		p += rs[i].dl;
		payload += DP_REC_HDR_BYTES + rs[i].kl + rs[i].dl;
	}
	uint64_t first = 0;
	int r;
	for (int tries = 0; (r = dp_shard_append(sh, in, n, ts, &first)) == -EAGAIN && tries < 1000;
	     tries++)
		dp_committer_poll(c, true);
	if (r == (int)n) {
		model_stage(m, dp_align8(DP_BATCH_HDR_BYTES + (uint32_t)payload), first, ts);
		for (unsigned i = 0; i < n; i++) {
			rs[i].seq = first + i;
			rs[i].ts = ts;
			model_push(m, &rs[i]);
		}
	}
	free(bytes);
	free(rs);
	free(in);
	return r;
}

/* Does o carry exactly the record e? */
static bool rec_matches(const struct dp_record_out *o, const struct rec *e)
{
	if (o->seq != e->seq || o->ts_ms != e->ts || o->key_len != e->kl || o->data_len != e->dl)
		return false;
	dp_test_fill(e->seed, scratch, e->kl);
	if (memcmp(o->key, scratch, e->kl) != 0)
		return false;
	dp_test_fill(e->seed + DP_KEY_MAX + 8, scratch, e->dl);
	return e->dl == 0 || memcmp(o->data, scratch, e->dl) == 0;
}

/*
 * Read from a reader until it returns 0 and compare with m->v[from..]. Returns the number of
 * records that matched in order, or -1 (with a diagnostic) at the first difference or error.
 */
static long read_compare(struct dp_reader *rd, const struct model *m, size_t from, size_t max_recs)
{
	struct dp_record_out out[64];
	size_t k = from;
	while (k - from < max_recs) {
		size_t left = max_recs - (k - from);
		int r = dp_reader_read(rd, out, left < 64 ? (unsigned)left : 64, 4u << 20);
		if (r < 0) {
			printf("# dp_reader_read: %d (%s) at model index %zu\n", r, strerror(-r), k);
			return -1;
		}
		if (r == 0)
			break;
		for (int i = 0; i < r; i++, k++) {
			if (k >= m->n || !rec_matches(&out[i], &m->v[k])) {
				printf("# record %zu: got seq %" PRIu64 " ts %" PRId64 " key %u data %u, "
				       "expected seq %" PRIu64 " ts %" PRId64 " key %u data %u\n", k,
				       out[i].seq, out[i].ts_ms, out[i].key_len, out[i].data_len,
				       k < m->n ? m->v[k].seq : 0, k < m->n ? m->v[k].ts : 0,
				       k < m->n ? m->v[k].kl : 0, k < m->n ? m->v[k].dl : 0);
				return -1;
			}
		}
	}
	return (long)(k - from);
}

static long read_all(struct dp_shard *sh, enum dp_pos pos, uint64_t arg, const struct model *m,
		     size_t from)
{
	struct dp_reader *rd;
	int r = dp_reader_new(sh, pos, arg, &rd);
	if (r < 0) {
		printf("# dp_reader_new(%d, %" PRIu64 "): %d\n", pos, arg, r);
		return -1;
	}
	long n = read_compare(rd, m, from, SIZE_MAX);
	dp_reader_free(rd);
	return n;
}

struct acks {
	unsigned calls, failed_calls;
	uint64_t last;
};

static void ack_cb(void *arg, struct dp_shard *sh, uint64_t ack_next)
{
	struct acks *a = arg;
	a->calls++;
	a->last = ack_next;
	if (dp_shard_state(sh) == DP_SHARD_FAILED)
		a->failed_calls++;
}

/* ---- tests -------------------------------------------------------------------------------------- */

static void test_config_check(void)
{
	struct dp_log_config cfg;
	const char *why = "unset";
	dp_log_config_default(&cfg);
	CHECK_EQ(dp_log_config_check(&cfg, &why), 0);
	CHECK(why == NULL);
	CHECK_EQ_U64(cfg.segment_bytes, 64u << 20);
	CHECK_EQ(cfg.buffer_bytes, 4u << 20);
	CHECK_EQ(cfg.index_interval, 64u << 10);
	CHECK_EQ(cfg.retention_hours, 24);
	CHECK_EQ(cfg.durability, DP_DUR_DURABLE);

	static const struct {
		uint64_t seg;
		uint32_t buf, interval, hours;
		int dur;
		int want;
	} cases[] = {
		{ 64u << 20, 4u << 20, 64u << 10, 24, 0, 0 },
		{ 64u << 20, BUF_MIN, 512, 8760, 2, 0 },
		{ BUF_MIN + 4096, BUF_MIN, 512, 24, 1, 0 },                 /* smallest segment */
		{ 64u << 20, BUF_MIN - 1, 64u << 10, 24, 0, -EINVAL },      /* buffer too small */
		{ 4ull << 30, (1u << 30) + 8, 64u << 10, 24, 0, -EINVAL },  /* buffer > 1 GiB */
		{ BUF_MIN + 4095, BUF_MIN, 512, 24, 0, -EINVAL },           /* segment < buffer+4K */
		{ 32u << 10, BUF_MIN, 512, 24, 0, -EINVAL },                /* segment < 64 KiB */
		{ 64u << 20, 4u << 20, 511, 24, 0, -EINVAL },               /* interval < 512 */
		{ 8u << 20, 4u << 20, (8u << 20) + 1, 24, 0, -EINVAL },     /* interval > segment */
		{ 64u << 20, 4u << 20, 64u << 10, 23, 0, -EINVAL },         /* retention < 24 h */
		{ 64u << 20, 4u << 20, 64u << 10, 8761, 0, -EINVAL },       /* retention > 1 year */
		{ 64u << 20, 4u << 20, 64u << 10, 24, 3, -EINVAL },         /* unknown durability */
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		cfg.segment_bytes = cases[i].seg;
		cfg.buffer_bytes = cases[i].buf;
		cfg.index_interval = cases[i].interval;
		cfg.retention_hours = cases[i].hours;
		cfg.durability = (enum dp_durability)cases[i].dur;
		why = NULL;
		int r = dp_log_config_check(&cfg, &why);
		if (r != cases[i].want)
			printf("# case %zu\n", i);
		CHECK_EQ(r, cases[i].want);
		CHECK(cases[i].want == 0 ? why == NULL : why != NULL && why[0] != 0);
	}
	CHECK_EQ(dp_log_config_check(&cfg, NULL), -EINVAL);

	/* dp_shard_open refuses a bad config before touching the disk. */
	const char *tmp = tmp_new();
	REQUIRE(tmp);
	struct dp_committer *c;
	REQUIRE(dp_committer_new(64, NULL, NULL, &c) == 0);
	struct dp_shard *sh = NULL; /* must stay untouched */
	struct dp_shard_recovery rep;
	CHECK_EQ(dp_shard_open(c, path_in(tmp, "s"), &info, &cfg, &rep, &sh), -EINVAL);
	CHECK(sh == NULL);
	CHECK(access(path_in(tmp, "s"), F_OK) < 0);
	CHECK_EQ(dp_committer_new(7, NULL, NULL, &c), -EINVAL);

	enum dp_durability d;
	CHECK_EQ(dp_durability_parse("durable", &d), 0);
	CHECK_EQ(d, DP_DUR_DURABLE);
	CHECK_EQ(dp_durability_parse("written", &d), 0);
	CHECK_EQ(d, DP_DUR_WRITTEN);
	CHECK_EQ(dp_durability_parse("none", &d), 0);
	CHECK_EQ(d, DP_DUR_NONE);
	CHECK_EQ(dp_durability_parse("Durable", &d), -EINVAL);
	CHECK_EQ(dp_durability_parse(NULL, &d), -EINVAL);
	CHECK_STR(dp_durability_name(DP_DUR_WRITTEN), "written");
	CHECK(dp_durability_name((enum dp_durability)3) == NULL);
	CHECK_STR(dp_shard_state_name(DP_SHARD_QUARANTINED), "quarantined");
	CHECK_STR(dp_shard_state_name((enum dp_shard_state)9), "unknown");
	dp_committer_free(c);
	tmpdir_rm(tmp);
}

static void test_append_validation(void)
{
	const char *tmp = tmp_new();
	REQUIRE(tmp);
	struct dp_committer *c;
	REQUIRE(dp_committer_new(64, NULL, NULL, &c) == 0);
	struct dp_log_config cfg;
	cfg_small(&cfg, DP_DUR_DURABLE);
	struct dp_shard *sh;
	REQUIRE(dp_shard_open(c, path_in(tmp, "s"), &info, &cfg, NULL, &sh) == 0);

	uint8_t *big = calloc(1, DP_DATA_MAX + 1);
	REQUIRE(big);
	uint8_t key[DP_KEY_MAX + 1];
	memset(key, 'k', sizeof(key));
	uint64_t first = 777;
	struct dp_record_in r = { .key = key, .key_len = 1, .data = big, .data_len = 1 };

	CHECK_EQ(dp_shard_append(sh, &r, 0, 0, &first), -EINVAL);
	r.key_len = 0;
	CHECK_EQ(dp_shard_append(sh, &r, 1, 0, &first), -EINVAL);
	r.key_len = DP_KEY_MAX + 1;
	CHECK_EQ(dp_shard_append(sh, &r, 1, 0, &first), -EINVAL);
	r.key_len = DP_KEY_MAX;
	r.data_len = DP_DATA_MAX + 1;
	CHECK_EQ(dp_shard_append(sh, &r, 1, 0, &first), -EINVAL);
	r.data_len = 1;
	r.data = NULL;
	CHECK_EQ(dp_shard_append(sh, &r, 1, 0, &first), -EINVAL);
	r.data = big;
	r.key = NULL;
	CHECK_EQ(dp_shard_append(sh, &r, 1, 0, &first), -EINVAL);
	r.key = key;
	/* One bad record spoils the batch: nothing is staged. */
	struct dp_record_in two[2] = { { .key = key, .key_len = 1 }, { .key = key, .key_len = 0 } };
	CHECK_EQ(dp_shard_append(sh, two, 2, 0, &first), -EINVAL);
	/* Two maximal records exceed one staging buffer. */
	struct dp_record_in maxi[2] = {
		{ .key = key, .key_len = DP_KEY_MAX, .data = big, .data_len = DP_DATA_MAX },
		{ .key = key, .key_len = DP_KEY_MAX, .data = big, .data_len = DP_DATA_MAX },
	};
	CHECK_EQ(dp_shard_append(sh, maxi, 2, 0, &first), -EMSGSIZE);
	CHECK_EQ(first, 777);
	CHECK_EQ_U64(dp_shard_next_seq(sh), 1);
	struct dp_shard_stats st;
	dp_shard_stats_get(sh, &st);
	CHECK_EQ_U64(st.appends, 0);
	CHECK_EQ_U64(st.bytes_staged, 0);

	/* A maximal record alone fits. */
	CHECK_EQ(dp_shard_append(sh, maxi, 1, 0, &first), 1);
	CHECK_EQ_U64(first, 1);
	drain(c, sh);
	CHECK_EQ_U64(dp_shard_ack_next(sh), 2);
	CHECK_EQ(dp_shard_close(sh), 0);
	dp_committer_free(c);
	free(big);
	tmpdir_rm(tmp);
}

static void test_roundtrip_framing(void)
{
	const char *tmp = tmp_new();
	REQUIRE(tmp);
	struct dp_committer *c;
	REQUIRE(dp_committer_new(64, NULL, NULL, &c) == 0);
	struct dp_log_config cfg;
	cfg_small(&cfg, DP_DUR_DURABLE);
	cfg.segment_bytes = 8u << 20;
	struct dp_shard *sh;
	struct dp_shard_recovery rep;
	const char *dir = path_in(tmp, "s");
	REQUIRE(dp_shard_open(c, dir, &info, &cfg, &rep, &sh) == 0);
	CHECK(rep.clean && !rep.quarantined);
	CHECK_EQ(rep.segments, 1);
	CHECK_EQ_U64(dp_shard_next_seq(sh), 1);

	struct model m;
	model_init(&m, cfg.segment_bytes);
	int64_t ts = 1700000000000;
	static const unsigned sizes[] = { 1, 2, 3, 7, 8, 64, 100, 1000, 5, 1 };
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
		CHECK_EQ(append_batch(c, sh, &m, sizes[i], NULL, NULL, ts + (int64_t)i), (int)sizes[i]);
	/* Zero-length data: alone, and mixed with non-empty records. */
	uint16_t kl[4] = { 1, 256, 17, 3 };
	uint32_t dl0[4] = { 0, 0, 0, 0 }, dlmix[4] = { 0, 9, 0, 1 };
	CHECK_EQ(append_batch(c, sh, &m, 1, kl, dl0, ts + 20), 1);
	CHECK_EQ(append_batch(c, sh, &m, 4, kl, dl0, ts + 21), 4);
	CHECK_EQ(append_batch(c, sh, &m, 4, kl, dlmix, ts + 22), 4);
	/* The maximal record: 256-byte key, 1 MiB data, alone in its batch. */
	uint16_t klmax = DP_KEY_MAX;
	uint32_t dlmax = DP_DATA_MAX;
	CHECK_EQ(append_batch(c, sh, &m, 1, &klmax, &dlmax, ts + 23), 1);
	CHECK_EQ(append_batch(c, sh, &m, 3, NULL, NULL, ts + 24), 3);
	drain(c, sh);
	CHECK_EQ_U64(dp_shard_next_seq(sh), m.n + 1);
	CHECK_EQ_U64(dp_shard_ack_next(sh), m.n + 1);
	CHECK_EQ(read_all(sh, DP_POS_TRIM_HORIZON, 0, &m, 0), (long)m.n);
	/* A max_bytes below one record still returns one record per call. */
	struct dp_reader *rd;
	REQUIRE(dp_reader_new(sh, DP_POS_AT_SEQ, m.v[m.n - 4].seq, &rd) == 0);
	struct dp_record_out out[8];
	CHECK_EQ(dp_reader_read(rd, out, 8, 1), 1);
	CHECK(rec_matches(&out[0], &m.v[m.n - 4]));
	CHECK_EQ_U64(dp_reader_position(rd), m.v[m.n - 4].seq + 1);
	dp_reader_free(rd);
	CHECK_EQ(dp_shard_close(sh), 0);

	/* The same bytes after recovery rebuilt everything from the file. */
	REQUIRE(dp_shard_open(c, dir, &info, &cfg, &rep, &sh) == 0);
	CHECK(rep.clean && !rep.quarantined);
	CHECK_EQ_U64(rep.records, m.n);
	CHECK_EQ_U64(rep.batches, 15 + 1); /* 15 data batches and the CLOSE marker */
	CHECK_EQ_U64(rep.torn_bytes, 0);
	CHECK_EQ(read_all(sh, DP_POS_TRIM_HORIZON, 0, &m, 0), (long)m.n);
	CHECK_EQ(dp_shard_close(sh), 0);
	model_free(&m);
	dp_committer_free(c);
	tmpdir_rm(tmp);
}

/* Child of test_seq_numbers: append acked records and vanish without closing. */
static void unclean_child(const char *dir, const struct dp_log_config *cfg, int fd)
{
	struct dp_committer *c;
	struct dp_shard *sh;
	if (dp_committer_new(64, NULL, NULL, &c) < 0 || dp_shard_open(c, dir, &info, cfg, NULL, &sh) < 0)
		_exit(2);
	uint8_t key = 'k';
	struct dp_record_in r = { .key = &key, .key_len = 1 };
	uint64_t first = 0, last = 0;
	for (int i = 0; i < 30; i++) {
		if (dp_shard_append(sh, &r, 1, 5, &first) != 1)
			_exit(3);
		last = first;
	}
	drain(c, sh);
	if (dp_shard_ack_next(sh) != last + 1)
		_exit(4);
	/* Stage more that is never flushed: handed out, never acked, lost with the process. */
	for (int i = 0; i < 10; i++)
		if (dp_shard_append(sh, &r, 1, 5, &last) != 1)
			_exit(5);
	if (write(fd, &last, sizeof(last)) != sizeof(last))
		_exit(6);
	_exit(0);
}

static void test_seq_numbers(void)
{
	const char *tmp = tmp_new();
	REQUIRE(tmp);
	struct dp_committer *c;
	REQUIRE(dp_committer_new(64, NULL, NULL, &c) == 0);
	struct dp_log_config cfg;
	cfg_small(&cfg, DP_DUR_DURABLE);
	const char *dir = path_in(tmp, "s");
	struct dp_shard *sh;
	struct dp_shard_recovery rep;
	REQUIRE(dp_shard_open(c, dir, &info, &cfg, &rep, &sh) == 0);
	CHECK_EQ(rep.segments, 1);

	struct model m;
	model_init(&m, cfg.segment_bytes);
	for (int i = 0; i < 50; i++)
		REQUIRE(append_batch(c, sh, &m, 1 + (unsigned)(rng() % 9), NULL, NULL, 100) > 0);
	CHECK_EQ_U64(m.v[0].seq, 1); /* a new shard starts at 1 */
	unsigned bad = 0;
	for (size_t i = 1; i < m.n; i++)
		bad += m.v[i].seq != m.v[i - 1].seq + 1; /* dense within a run */
	CHECK_EQ(bad, 0);
	drain(c, sh);
	uint64_t last = m.v[m.n - 1].seq;
	CHECK_EQ(dp_shard_close(sh), 0);

	/* A clean close continues densely. */
	REQUIRE(dp_shard_open(c, dir, &info, &cfg, &rep, &sh) == 0);
	CHECK(rep.clean);
	CHECK_EQ_U64(dp_shard_next_seq(sh), last + 1);
	REQUIRE(append_batch(c, sh, &m, 2, NULL, NULL, 101) == 2);
	CHECK_EQ_U64(m.v[m.n - 2].seq, last + 1);
	drain(c, sh);
	last = m.v[m.n - 1].seq;
	CHECK_EQ(dp_shard_close(sh), 0);

	/* Unclean stop 1: a child appends (acked, then more that is never flushed) and _exit()s. */
	int pfd[2];
	REQUIRE(pipe(pfd) == 0);
	pid_t pid = fork();
	REQUIRE(pid >= 0);
	if (pid == 0)
		unclean_child(dir, &cfg, pfd[1]);
	close(pfd[1]);
	uint64_t child_last = 0;
	CHECK_EQ(read(pfd[0], &child_last, sizeof(child_last)), (long)sizeof(child_last));
	close(pfd[0]);
	int status;
	CHECK_EQ(waitpid(pid, &status, 0), pid);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	CHECK_EQ_U64(child_last, last + 40);

	REQUIRE(dp_shard_open(c, dir, &info, &cfg, &rep, &sh) == 0);
	CHECK(!rep.clean && !rep.quarantined);
	CHECK_EQ_U64(rep.records, m.n + 30); /* the 30 acked ones; the 10 staged were never written */
	uint64_t next = dp_shard_next_seq(sh);
	CHECK(next > child_last);
	/* The acked records of the child are there, and nothing else between. */
	struct dp_reader *rd;
	REQUIRE(dp_reader_new(sh, DP_POS_AFTER_SEQ, last, &rd) == 0);
	struct dp_record_out out[64];
	CHECK_EQ(dp_reader_read(rd, out, 64, 1u << 20), 30);
	CHECK_EQ_U64(out[0].seq, last + 1);
	CHECK_EQ_U64(out[29].seq, last + 30);
	CHECK_EQ(dp_reader_read(rd, out, 64, 1u << 20), 0);
	CHECK_EQ_U64(dp_reader_position(rd), next);
	dp_reader_free(rd);
	/* Records after the skip are dense again and the reader crosses the gap. */
	uint64_t first;
	uint8_t key = 'x';
	struct dp_record_in r = { .key = &key, .key_len = 1 };
	CHECK_EQ(dp_shard_append(sh, &r, 1, 200, &first), 1);
	CHECK_EQ_U64(first, next);
	drain(c, sh);
	REQUIRE(dp_reader_new(sh, DP_POS_AFTER_SEQ, last + 29, &rd) == 0);
	CHECK_EQ(dp_reader_read(rd, out, 64, 1u << 20), 2);
	CHECK_EQ_U64(out[0].seq, last + 30);
	CHECK_EQ_U64(out[1].seq, next);
	dp_reader_free(rd);

	/* Unclean stop 2: a copy of the directory taken while the shard is open (acked, not closed). */
	const char *snap = path_in(tmp, "snap");
	REQUIRE(copy_dir(dir, snap) == 0);
	uint64_t before_snap = first;
	CHECK_EQ(dp_shard_close(sh), 0);
	REQUIRE(dp_shard_open(c, snap, &info, &cfg, &rep, &sh) == 0);
	CHECK(!rep.clean && !rep.quarantined);
	CHECK(dp_shard_next_seq(sh) > before_snap + 1);
	uint64_t next2 = dp_shard_next_seq(sh);
	CHECK_EQ(dp_shard_close(sh), 0);
	/* ...and once more without appending in between: still no reuse, still increasing. */
	const char *snap2 = path_in(tmp, "snap2");
	REQUIRE(dp_shard_open(c, snap, &info, &cfg, &rep, &sh) == 0);
	CHECK(rep.clean);
	CHECK_EQ_U64(dp_shard_next_seq(sh), next2);
	REQUIRE(copy_dir(snap, snap2) == 0);
	CHECK_EQ(dp_shard_close(sh), 0);
	REQUIRE(dp_shard_open(c, snap2, &info, &cfg, &rep, &sh) == 0);
	CHECK(!rep.clean);
	CHECK(dp_shard_next_seq(sh) > next2);
	CHECK_EQ(dp_shard_close(sh), 0);

	/* The shard index is checked against the segments. */
	struct dp_shard_info other = info;
	other.shard_index = 4;
	CHECK_EQ(dp_shard_open(c, dir, &other, &cfg, &rep, &sh), -ESTALE);
	model_free(&m);
	dp_committer_free(c);
	tmpdir_rm(tmp);
}

static void test_durability_modes(void)
{
	const char *tmp = tmp_new();
	REQUIRE(tmp);
	struct acks a;
	struct dp_committer *c;
	REQUIRE(dp_committer_new(64, ack_cb, &a, &c) == 0);
	static const enum dp_durability modes[] = { DP_DUR_DURABLE, DP_DUR_WRITTEN, DP_DUR_NONE };
	for (int k = 0; k < 3; k++) {
		memset(&a, 0, sizeof(a));
		struct dp_log_config cfg;
		cfg_small(&cfg, modes[k]);
		struct dp_shard *sh;
		const char *dir = path_in(tmp, dp_durability_name(modes[k]));
		REQUIRE(dp_shard_open(c, dir, &info, &cfg, NULL, &sh) == 0);
		CHECK_EQ_U64(dp_shard_ack_next(sh), 1);
		CHECK_EQ_U64(dp_shard_durable_next(sh), 1);
		CHECK_EQ_U64(dp_shard_readable_next(sh), 1);

		struct model m;
		model_init(&m, cfg.segment_bytes);
		REQUIRE(append_batch(c, sh, &m, 10, NULL, NULL, 1) == 10);
		/* Staged only: acked at once in none mode, nowhere else; readable nowhere. */
		CHECK_EQ_U64(dp_shard_ack_next(sh), modes[k] == DP_DUR_NONE ? 11 : 1);
		CHECK_EQ_U64(dp_shard_readable_next(sh), 1);
		CHECK_EQ_U64(dp_shard_durable_next(sh), 1);
		CHECK_EQ(a.calls, 0);

		/* Marks move exactly when the poll reports the flush complete. */
		int done = 0, polls = 0;
		while (done == 0 && polls++ < 10000) {
			uint64_t ack_before = dp_shard_ack_next(sh);
			done = dp_committer_poll(c, true);
			if (done == 0)
				CHECK_EQ_U64(dp_shard_ack_next(sh), ack_before);
		}
		CHECK_EQ(done, 1);
		CHECK_EQ(dp_committer_inflight(c), 0);
		CHECK_EQ_U64(dp_shard_ack_next(sh), 11);
		CHECK_EQ_U64(dp_shard_readable_next(sh), 11);
		CHECK_EQ_U64(dp_shard_durable_next(sh), modes[k] == DP_DUR_DURABLE ? 11 : 1);
		CHECK_EQ(a.calls, 1);
		CHECK_EQ_U64(a.last, 11);
		CHECK_EQ(a.failed_calls, 0);
		struct dp_shard_stats st;
		dp_shard_stats_get(sh, &st);
		CHECK_EQ_U64(st.flushes, 1);
		CHECK_EQ_U64(st.writes, 1);
		CHECK_EQ_U64(st.fsyncs, modes[k] == DP_DUR_DURABLE ? 1 : 0);
		CHECK_EQ_U64(st.appends, 1);
		CHECK_EQ_U64(st.records, 10);
		CHECK_EQ(read_all(sh, DP_POS_TRIM_HORIZON, 0, &m, 0), 10);
		CHECK_EQ(dp_shard_close(sh), 0);
		model_free(&m);
	}
	dp_committer_free(c);
	tmpdir_rm(tmp);
}

static void test_group_commit(void)
{
	const char *tmp = tmp_new();
	REQUIRE(tmp);
	struct acks a = { 0 };
	struct dp_committer *c;
	REQUIRE(dp_committer_new(64, ack_cb, &a, &c) == 0);
	struct dp_log_config cfg;
	cfg_small(&cfg, DP_DUR_DURABLE);
	struct dp_shard *sh;
	REQUIRE(dp_shard_open(c, path_in(tmp, "s"), &info, &cfg, NULL, &sh) == 0);
	struct model m;
	model_init(&m, cfg.segment_bytes);
	enum { APPENDS = 2000, EVERY = 50 };
	unsigned bad = 0;
	uint64_t prev_ack = 1;
	for (int i = 0; i < APPENDS; i++) {
		if (append_batch(c, sh, &m, 1, NULL, NULL, i) != 1)
			bad++;
		if (i % EVERY == EVERY - 1) {
			dp_committer_poll(c, false);
			uint64_t ack = dp_shard_ack_next(sh);
			bad += ack < prev_ack; /* never moves back */
			prev_ack = ack;
		}
	}
	drain(c, sh);
	CHECK_EQ(bad, 0);
	struct dp_shard_stats st;
	dp_shard_stats_get(sh, &st);
	CHECK_EQ_U64(st.appends, APPENDS);
	CHECK_EQ_U64(st.records, APPENDS);
	CHECK_EQ_U64(dp_shard_ack_next(sh), APPENDS + 1);
	/* One flush per poll at most, plus the ones the drain needed. */
	CHECK(st.flushes >= 1 && st.flushes <= APPENDS / EVERY + 2);
	CHECK(st.flushes < st.appends);
	CHECK_EQ_U64(st.fsyncs, st.flushes);
	CHECK_EQ_U64(st.writes, st.flushes);
	CHECK_EQ_U64(st.short_writes, 0);
	CHECK_EQ_U64(a.calls, st.flushes);
	CHECK_EQ_U64(a.last, APPENDS + 1);
	printf("# %d appends, %" PRIu64 " flushes\n", APPENDS, st.flushes);
	CHECK_EQ(read_all(sh, DP_POS_TRIM_HORIZON, 0, &m, 0), APPENDS);
	CHECK_EQ(dp_shard_close(sh), 0);
	model_free(&m);
	dp_committer_free(c);
	tmpdir_rm(tmp);
}

/* A batch staged while flushes are in flight starts its own flush at once (up to DP_FLUSH_MAX
 * in flight), and each flush retires on its own, in order. */
static void test_flushes_overlap(void)
{
	const char *tmp = tmp_new();
	REQUIRE(tmp);
	struct acks a = { 0 };
	struct dp_committer *c;
	REQUIRE(dp_committer_new(64, ack_cb, &a, &c) == 0);
	struct dp_log_config cfg;
	cfg_small(&cfg, DP_DUR_DURABLE);
	struct dp_shard *sh;
	REQUIRE(dp_shard_open(c, path_in(tmp, "o"), &info, &cfg, NULL, &sh) == 0);
	struct model m;
	model_init(&m, cfg.segment_bytes);
	unsigned full = 0, rounds = 50, most = 0;
	for (unsigned i = 0; i < rounds; i++) {
		uint64_t before = dp_shard_ack_next(sh);
		for (unsigned k = 0; k < DP_FLUSH_MAX; k++) {
			REQUIRE(append_batch(c, sh, &m, 1, NULL, NULL, i) == 1);
			CHECK(dp_committer_poll(c, false) >= 0);
		}
		/* Unless an fdatasync was already back, every batch has its own flush in flight now
		 * (one waits only for a zero write it would overlap, about once per page). */
		unsigned inflight = dp_committer_inflight(c);
		CHECK(inflight <= DP_FLUSH_MAX);
		if (inflight > most)
			most = inflight;
		if (inflight == DP_FLUSH_MAX) {
			full++;
			CHECK(dp_shard_ack_next(sh) == before);
		}
		while (dp_committer_inflight(c))
			CHECK(dp_committer_poll(c, true) >= 0);
		drain(c, sh);
		/* Each flush retired on its own: one callback each, the last at the end of all. */
		CHECK_EQ(a.calls, DP_FLUSH_MAX * (i + 1));
		CHECK_EQ_U64(a.last, before + DP_FLUSH_MAX);
		CHECK_EQ_U64(dp_shard_ack_next(sh), before + DP_FLUSH_MAX);
	}
	struct dp_shard_stats st;
	dp_shard_stats_get(sh, &st);
	CHECK_EQ_U64(st.flushes, DP_FLUSH_MAX * rounds);
	CHECK_EQ(a.failed_calls, 0);
	CHECK(most >= 2);
	printf("# %u of %u rounds had %u flushes in flight (most seen: %u)\n", full, rounds,
	       DP_FLUSH_MAX, most);
	CHECK_EQ(read_all(sh, DP_POS_TRIM_HORIZON, 0, &m, 0), (int)(DP_FLUSH_MAX * rounds));
	CHECK_EQ(dp_shard_close(sh), 0);
	model_free(&m);
	dp_committer_free(c);
	tmpdir_rm(tmp);
}

/* The committer keeps at most its flush depth in flight over all its shards, every shard still
 * gets its turn, and each flush lands in the latency histogram. */
static void test_flush_depth(void)
{
	enum { SHARDS = 3, ROUNDS = 40 };
	const char *tmp = tmp_new();
	REQUIRE(tmp);
	struct dp_committer *c;
	REQUIRE(dp_committer_new(64, NULL, NULL, &c) == 0);
	CHECK_EQ(dp_committer_set_flush_depth(c, 0), -EINVAL);
	CHECK_EQ(dp_committer_set_flush_depth(c, DP_COMMITTER_FLUSH_DEPTH_MAX + 1), -EINVAL);
	REQUIRE(dp_committer_set_flush_depth(c, 2) == 0);
	struct dp_log_config cfg;
	cfg_small(&cfg, DP_DUR_DURABLE);
	struct dp_shard *sh[SHARDS];
	for (unsigned s = 0; s < SHARDS; s++) {
		char name[8];
		snprintf(name, sizeof(name), "d%u", s);
		REQUIRE(dp_shard_open(c, path_in(tmp, name), &info, &cfg, NULL, &sh[s]) == 0);
	}
	uint8_t key[4] = "key", data[64];
	memset(data, 'd', sizeof(data));
	struct dp_record_in r = { .key = key, .key_len = 3, .data = data, .data_len = sizeof(data) };
	unsigned most = 0;
	for (unsigned i = 0; i < ROUNDS; i++) {
		for (unsigned s = 0; s < SHARDS; s++) {
			uint64_t first;
			CHECK_EQ(dp_shard_append(sh[s], &r, 1, 0, &first), 1);
			CHECK(dp_committer_poll(c, false) >= 0);
			unsigned n = dp_committer_inflight(c);
			CHECK(n <= 2);
			most = n > most ? n : most;
		}
	}
	CHECK_EQ(most, 2);
	for (unsigned s = 0; s < SHARDS; s++)
		drain(c, sh[s]);
	for (unsigned s = 0; s < SHARDS; s++) {
		CHECK_EQ_U64(dp_shard_ack_next(sh[s]), 1 + ROUNDS);
		struct dp_shard_stats st;
		dp_shard_stats_get(sh[s], &st);
		uint64_t counted = 0;
		for (unsigned b = 0; b < DP_FLUSH_HIST; b++)
			counted += st.flush_us_hist[b];
		CHECK_EQ_U64(counted, st.flushes);
		CHECK(dp_flush_hist_quantile(st.flush_us_hist, 0.99) > 0);
		CHECK_EQ(dp_shard_close(sh[s]), 0);
	}
	dp_committer_free(c);
	tmpdir_rm(tmp);
}

/* The io_uring workers of a committer's owner run where dp_committer_set_iowq_cpus says, once the
 * owner has polled: every iou-wrk thread of a fresh process (io_uring's workers belong to the
 * submitting thread, and this process's earlier tests left theirs) is found on that one CPU. */
static int iowq_child(int cpu)
{
	int bad = 0;
	cpu_set_t one, none;
	CPU_ZERO(&one);
	CPU_SET(cpu, &one);
	CPU_ZERO(&none);
	const char *tmp = tmp_new();
	struct dp_committer *c;
	struct dp_shard *sh;
	struct dp_log_config cfg;
	cfg_small(&cfg, DP_DUR_WRITTEN);
	if (!tmp || dp_committer_new(64, NULL, NULL, &c) < 0)
		return 100;
	bad += dp_committer_iowq_status(c) != 0;
	bad += dp_committer_set_iowq_cpus(c, &none) != -EINVAL;
	bad += dp_committer_iowq_status(c) != 0;
	bad += dp_committer_set_iowq_cpus(c, &one) != 0;
	bad += dp_committer_iowq_status(c) != 2;
	if (dp_shard_open(c, path_in(tmp, "w"), &info, &cfg, NULL, &sh) < 0)
		return 101;
	uint8_t key[4] = "key", data[4096];
	memset(data, 'w', sizeof(data));
	struct dp_record_in r = { .key = key, .key_len = 3, .data = data, .data_len = sizeof(data) };
	for (unsigned i = 0; i < 64; i++) {
		uint64_t first;
		bad += dp_shard_append(sh, &r, 1, 0, &first) != 1;
		bad += dp_committer_poll(c, false) < 0;
	}
	drain(c, sh);
	bad += dp_committer_iowq_status(c) != 1;
	/* Where the file system let the writes go to io_uring workers, they run on `cpu` only. */
	unsigned workers = 0, elsewhere = 0;
	DIR *d = opendir("/proc/self/task");
	struct dirent *e;
	while (d && (e = readdir(d))) {
		char path[288], comm[32] = "";
		snprintf(path, sizeof(path), "/proc/self/task/%s/comm", e->d_name);
		FILE *f = fopen(path, "r");
		if (!f)
			continue;
		if (!fgets(comm, sizeof(comm), f))
			comm[0] = 0;
		fclose(f);
		if (strncmp(comm, "iou-wrk-", 8) != 0)
			continue;
		cpu_set_t got;
		CPU_ZERO(&got);
		if (sched_getaffinity((pid_t)atoi(e->d_name), sizeof(got), &got) == 0) {
			workers++;
			elsewhere += !CPU_EQUAL(&got, &one);
		}
	}
	if (d)
		closedir(d);
	printf("# %u io_uring worker(s) seen, %u of them not on CPU %d only\n", workers, elsewhere,
	       cpu);
	bad += elsewhere;
	bad += dp_shard_close(sh) != 0;
	dp_committer_free(c);
	tmpdir_rm(tmp);
	return bad;
}

static void test_iowq_cpus(void)
{
	cpu_set_t mine;
	REQUIRE(sched_getaffinity(0, sizeof(mine), &mine) == 0);
	int cpu = 0;
	while (!CPU_ISSET(cpu, &mine))
		cpu++;
	fflush(stdout);
	pid_t pid = fork();
	REQUIRE(pid >= 0);
	if (pid == 0) {
		int bad = iowq_child(cpu);
		fflush(stdout);
		_exit(bad > 99 ? 99 : bad);
	}
	int status = 0;
	REQUIRE(waitpid(pid, &status, 0) == pid);
	CHECK(WIFEXITED(status));
	CHECK_EQ(WEXITSTATUS(status), 0);
}

/* Buckets: four per power of two, contiguous, each latency in the bucket whose range holds it;
 * a quantile answers its bucket's upper bound. */
static void test_flush_hist(void)
{
	for (unsigned b = 0; b + 1 < DP_FLUSH_HIST; b++) {
		CHECK(dp_flush_hist_low(b) < dp_flush_hist_low(b + 1));
		CHECK_EQ(dp_flush_hist_bucket(dp_flush_hist_low(b)), b);
		CHECK_EQ(dp_flush_hist_bucket(dp_flush_hist_low(b + 1) - 1), b);
	}
	CHECK_EQ(dp_flush_hist_bucket(UINT64_MAX), DP_FLUSH_HIST - 1);
	CHECK_EQ(dp_flush_hist_bucket(100), dp_flush_hist_bucket(111));  /* [96, 112) */
	CHECK(dp_flush_hist_bucket(112) != dp_flush_hist_bucket(111));
	uint64_t h[DP_FLUSH_HIST] = { 0 };
	CHECK_EQ_U64(dp_flush_hist_quantile(h, 0.99), 0);
	h[dp_flush_hist_bucket(200)] = 98;    /* [192, 224) */
	h[dp_flush_hist_bucket(5000)] = 2;    /* [4096, 5120) */
	CHECK_EQ_U64(dp_flush_hist_quantile(h, 0.5), 224);
	CHECK_EQ_U64(dp_flush_hist_quantile(h, 0.98), 224);
	CHECK_EQ_U64(dp_flush_hist_quantile(h, 0.99), 5120);
	CHECK_EQ_U64(dp_flush_hist_quantile(h, 1.0), 5120);
}

/* Whether [off, off + len) of fd lies in written extents: 1 yes, 0 some of it is preallocated
 * (unwritten) or a hole, -1 the file system cannot say (no FIEMAP). */
static int range_written(int fd, uint64_t off, uint64_t len)
{
	enum { EXTENTS = 32 };
	struct fiemap *fm = calloc(1, sizeof(*fm) + EXTENTS * sizeof(struct fiemap_extent));
	if (!fm)
		return -1;
	*fm = (struct fiemap){ .fm_start = off, .fm_length = len, .fm_flags = FIEMAP_FLAG_SYNC,
			       .fm_extent_count = EXTENTS };
	int res = -1;
	if (ioctl(fd, FS_IOC_FIEMAP, fm) < 0 || fm->fm_mapped_extents == 0)
		goto out;
	uint64_t at = off;
	res = 0;
	for (unsigned i = 0; i < fm->fm_mapped_extents; i++) {
		const struct fiemap_extent *e = &fm->fm_extents[i];
		if (e->fe_logical > at || (e->fe_flags & FIEMAP_EXTENT_UNWRITTEN))
			break;
		at = e->fe_logical + e->fe_length;
		if (at >= off + len) {
			res = 1;
			break;
		}
	}
out:
	free(fm);
	return res;
}

/* Durable mode writes zeros ahead of the tail after small flushes so that the next flushes
 * overwrite written blocks (their fdatasync then needs no journal commit); large flushes and the
 * other modes leave the preallocation alone. The log reads the same either way. */
static void test_zero_ahead(void)
{
	static const enum dp_durability modes[] = { DP_DUR_DURABLE, DP_DUR_WRITTEN };
	const char *tmp = tmp_new();
	REQUIRE(tmp);
	struct acks a = { 0 };
	struct dp_committer *c;
	REQUIRE(dp_committer_new(64, ack_cb, &a, &c) == 0);
	/* k = 2: durable, flushes of 8 x 10 KB, more than a small flush */
	static const uint32_t big[8] = { 10000, 10000, 10000, 10000, 10000, 10000, 10000, 10000 };
	static const uint16_t big_k[8] = { 8, 8, 8, 8, 8, 8, 8, 8 };
	for (int k = 0; k < 3; k++) {
		struct dp_log_config cfg;
		cfg_small(&cfg, modes[k % 2]);
		cfg.segment_bytes = 4u << 20;
		char name[16];
		snprintf(name, sizeof(name), "z%d", k);
		struct dp_shard *sh;
		REQUIRE(dp_shard_open(c, path_in(tmp, name), &info, &cfg, NULL, &sh) == 0);
		struct model m;
		model_init(&m, cfg.segment_bytes);
		unsigned n = k == 2 ? 8 : 3;
		for (int i = 0; i < 20; i++) {
			REQUIRE(append_batch(c, sh, &m, n, k == 2 ? big_k : NULL, k == 2 ? big : NULL,
					     i) == (int)n);
			drain(c, sh);
		}
		struct dp_shard_stats st;
		dp_shard_stats_get(sh, &st);
		struct dp_seg *seg = sh->segs[sh->nsegs - 1];
		uint64_t tail = (seg->end + 4095u) & ~(uint64_t)4095u;
		if (k == 0) {
			CHECK(st.zero_writes >= 1);
			CHECK(st.zero_bytes >= (1u << 20));
			CHECK(seg->zeroed >= seg->end + (256u << 10));
		} else {
			CHECK_EQ_U64(st.zero_writes, 0);
			CHECK_EQ_U64(st.zero_bytes, 0);
		}
		int w = range_written(seg->fd, tail, 256u << 10);
		if (w < 0)
			printf("# FIEMAP not supported here: extent states not checked\n");
		else
			CHECK_EQ(w, k == 0 ? 1 : 0);
		CHECK_EQ(read_all(sh, DP_POS_TRIM_HORIZON, 0, &m, 0), (int)(20 * n));
		CHECK_EQ(dp_shard_close(sh), 0);
		REQUIRE(dp_shard_open(c, path_in(tmp, name), &info, &cfg, NULL, &sh) == 0);
		CHECK_EQ(read_all(sh, DP_POS_TRIM_HORIZON, 0, &m, 0), (int)(20 * n));
		CHECK_EQ(dp_shard_close(sh), 0);
		model_free(&m);
	}
	dp_committer_free(c);
	tmpdir_rm(tmp);
}

/* The segment files of dir must be exactly the model's bases. */
static bool segs_match(const char *dir, const struct model *m, unsigned from)
{
	char names[64][DP_SEG_NAME_LEN + 1];
	int n = list_logs(dir, names, 64);
	bool ok = n == (int)(m->nsegs - from);
	for (unsigned i = from; ok && i < m->nsegs; i++) {
		char want[DP_SEG_NAME_LEN + 1];
		snprintf(want, sizeof(want), "%020" PRIu64 ".log", m->seg_base[i]);
		ok = strcmp(names[i - from], want) == 0;
	}
	if (!ok)
		printf("# %d segment files, model has %u from %u\n", n, m->nsegs, from);
	return ok;
}

static void test_segment_roll(void)
{
	const char *tmp = tmp_new();
	REQUIRE(tmp);
	struct dp_committer *c;
	REQUIRE(dp_committer_new(64, NULL, NULL, &c) == 0);
	struct dp_log_config cfg;
	cfg_small(&cfg, DP_DUR_DURABLE);
	const char *dir = path_in(tmp, "s");
	struct dp_shard *sh;
	REQUIRE(dp_shard_open(c, dir, &info, &cfg, NULL, &sh) == 0);
	struct model m;
	model_init(&m, cfg.segment_bytes);
	uint16_t kl[8];
	uint32_t dl[8];
	for (int b = 0; b < 400; b++) {
		unsigned n = 1 + (unsigned)(rng() % 8);
		for (unsigned i = 0; i < n; i++) {
			kl[i] = (uint16_t)(1 + rng() % 32);
			dl[i] = (uint32_t)(rng() % 8000);
		}
		REQUIRE(append_batch(c, sh, &m, n, kl, dl, 1000 + b) == (int)n);
		if (rng() % 4 == 0)
			dp_committer_poll(c, false);
	}
	drain(c, sh);
	CHECK(m.nsegs >= 3);
	struct dp_shard_stats st;
	dp_shard_stats_get(sh, &st);
	CHECK_EQ_U64(st.segments_rolled, m.nsegs - 1);
	CHECK_EQ(st.segments_live, m.nsegs);
	CHECK(segs_match(dir, &m, 0));
	CHECK_EQ(read_all(sh, DP_POS_TRIM_HORIZON, 0, &m, 0), (long)m.n);
	/* Positioning at each segment's first record, and at the last record of the one before. */
	for (unsigned s = 1; s < m.nsegs; s++) {
		size_t at = (size_t)(m.seg_base[s] - 1);
		CHECK_EQ(read_all(sh, DP_POS_AT_SEQ, m.seg_base[s], &m, at), (long)(m.n - at));
		CHECK_EQ(read_all(sh, DP_POS_AFTER_SEQ, m.seg_base[s] - 2, &m, at - 1),
			 (long)(m.n - at + 1));
	}
	CHECK_EQ(dp_shard_close(sh), 0);

	struct dp_shard_recovery rep;
	REQUIRE(dp_shard_open(c, dir, &info, &cfg, &rep, &sh) == 0);
	CHECK(rep.clean && !rep.quarantined);
	CHECK_EQ(rep.segments, m.nsegs);
	CHECK_EQ_U64(rep.records, m.n);
	CHECK_EQ_U64(rep.batches, 401);
	CHECK_EQ(read_all(sh, DP_POS_TRIM_HORIZON, 0, &m, 0), (long)m.n);
	CHECK_EQ(dp_shard_close(sh), 0);
	model_free(&m);
	dp_committer_free(c);
	tmpdir_rm(tmp);
}

/*
 * A sealed segment whose unused tail is shorter than a batch header (0, 8, 40 or 48 bytes) must
 * reopen as a clean, continuing log, closed or not.
 */
static void test_segment_tail_gap(void)
{
	const char *tmp = tmp_new();
	REQUIRE(tmp);
	struct dp_committer *c;
	REQUIRE(dp_committer_new(64, NULL, NULL, &c) == 0);
	static const uint32_t gaps[] = { 0, 8, 40, 48 };
	for (int g = 0; g < 4; g++) {
		struct dp_log_config cfg;
		cfg_small(&cfg, DP_DUR_DURABLE);
		char name[16];
		snprintf(name, sizeof(name), "gap%u", gaps[g]);
		const char *dir = path_in(tmp, name);
		struct dp_shard *sh;
		REQUIRE(dp_shard_open(c, dir, &info, &cfg, NULL, &sh) == 0);
		struct model m;
		model_init(&m, cfg.segment_bytes);
		/* 31 batches of 65536 bytes, one that leaves exactly `gap` bytes, one of 64 bytes. */
		uint16_t kl = 1;
		uint32_t dl = 65536 - 55;
		for (int i = 0; i < 31; i++)
			REQUIRE(append_batch(c, sh, &m, 1, &kl, &dl, i) == 1);
		dl = SEG_SMALL - DP_SEG_HDR_BYTES - gaps[g] - 31 * 65536 - 55;
		REQUIRE(append_batch(c, sh, &m, 1, &kl, &dl, 31) == 1);
		CHECK_EQ_U64(m.seg_end, SEG_SMALL - gaps[g]);
		dl = 9;
		REQUIRE(append_batch(c, sh, &m, 1, &kl, &dl, 32) == 1);
		drain(c, sh);
		CHECK_EQ(m.nsegs, 2);
		struct dp_shard_stats st;
		dp_shard_stats_get(sh, &st);
		CHECK_EQ_U64(st.segments_rolled, 1);
		const char *snap = path_in(tmp, "snap");
		REQUIRE(copy_dir(dir, snap) == 0);
		CHECK_EQ(dp_shard_close(sh), 0);

		struct dp_shard_recovery rep;
		REQUIRE(dp_shard_open(c, dir, &info, &cfg, &rep, &sh) == 0);
		CHECK(rep.clean && !rep.quarantined);
		if (rep.quarantined)
			printf("# gap %u: %s\n", gaps[g], rep.detail);
		CHECK_EQ(rep.segments, 2);
		CHECK_EQ(read_all(sh, DP_POS_TRIM_HORIZON, 0, &m, 0), 33);
		CHECK_EQ(dp_shard_close(sh), 0);

		REQUIRE(dp_shard_open(c, snap, &info, &cfg, &rep, &sh) == 0);
		CHECK(!rep.clean && !rep.quarantined);
		CHECK_EQ_U64(rep.torn_bytes, 0);
		CHECK_EQ(read_all(sh, DP_POS_TRIM_HORIZON, 0, &m, 0), 33);
		CHECK_EQ(dp_shard_close(sh), 0);
		tmpdir_rm(snap);
		model_free(&m);
	}
	dp_committer_free(c);
	tmpdir_rm(tmp);
}

/* First model index whose record has ts >= t (m->n when none). */
static size_t model_at_ts(const struct model *m, int64_t t)
{
	size_t lo = 0, hi = m->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (m->v[mid].ts < t)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* First model index whose seq >= s. */
static size_t model_at_seq(const struct model *m, uint64_t s)
{
	size_t lo = 0, hi = m->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (m->v[mid].seq < s)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static void test_reader_positions(void)
{
	const char *tmp = tmp_new();
	REQUIRE(tmp);
	struct dp_committer *c;
	REQUIRE(dp_committer_new(64, NULL, NULL, &c) == 0);
	struct dp_log_config cfg;
	cfg_small(&cfg, DP_DUR_DURABLE);
	struct dp_shard *sh;
	REQUIRE(dp_shard_open(c, path_in(tmp, "s"), &info, &cfg, NULL, &sh) == 0);
	struct model m;
	model_init(&m, cfg.segment_bytes);
	const int64_t t0 = 1700000000000;
	size_t batch_start[100];
	for (int b = 0; b < 100; b++) {
		batch_start[b] = m.n;
		/* Pairs of batches share an arrival time. */
		REQUIRE(append_batch(c, sh, &m, 1 + b % 5, NULL, NULL, t0 + 10 * (b / 2)) > 0);
	}
	drain(c, sh);
	uint64_t next = dp_shard_next_seq(sh);
	CHECK_EQ_U64(next, m.n + 1);
	long all = (long)m.n;

	CHECK_EQ(read_all(sh, DP_POS_TRIM_HORIZON, 0, &m, 0), all);
	CHECK_EQ(read_all(sh, DP_POS_AT_SEQ, 0, &m, 0), all); /* below the horizon: at it */
	CHECK_EQ(read_all(sh, DP_POS_AT_SEQ, 1, &m, 0), all);
	CHECK_EQ(read_all(sh, DP_POS_AT_SEQ, 37, &m, 36), all - 36);
	CHECK_EQ(read_all(sh, DP_POS_AFTER_SEQ, 37, &m, 37), all - 37);
	CHECK_EQ(read_all(sh, DP_POS_AFTER_SEQ, 0, &m, 0), all);
	CHECK_EQ(read_all(sh, DP_POS_AT_SEQ, next - 1, &m, m.n - 1), 1);
	CHECK_EQ(read_all(sh, DP_POS_AT_SEQ, next, &m, m.n), 0);
	CHECK_EQ(read_all(sh, DP_POS_AFTER_SEQ, next - 1, &m, m.n), 0);
	struct dp_reader *rd;
	CHECK_EQ(dp_reader_new(sh, DP_POS_AT_SEQ, next + 1, &rd), -ERANGE);
	CHECK_EQ(dp_reader_new(sh, DP_POS_AFTER_SEQ, next, &rd), -ERANGE);
	CHECK_EQ(dp_reader_new(sh, DP_POS_AT_SEQ, UINT64_MAX, &rd), -ERANGE);
	CHECK_EQ(dp_reader_new(sh, (enum dp_pos)17, 0, &rd), -EINVAL);
	CHECK_EQ(dp_reader_new(sh, DP_POS_AT_TIMESTAMP, (uint64_t)-5, &rd), -EINVAL);

	/* AT_TIMESTAMP: exactly a batch's time (the first of the pair), between two, before all. */
	CHECK_EQ(read_all(sh, DP_POS_AT_TIMESTAMP, (uint64_t)(t0 + 10 * 5), &m, batch_start[10]),
		 all - (long)batch_start[10]);
	CHECK_EQ(read_all(sh, DP_POS_AT_TIMESTAMP, (uint64_t)(t0 + 10 * 5 + 5), &m, batch_start[12]),
		 all - (long)batch_start[12]);
	CHECK_EQ(read_all(sh, DP_POS_AT_TIMESTAMP, (uint64_t)(t0 + 10 * 5 - 1), &m, batch_start[10]),
		 all - (long)batch_start[10]);
	CHECK_EQ(read_all(sh, DP_POS_AT_TIMESTAMP, 0, &m, 0), all);
	CHECK_EQ(read_all(sh, DP_POS_AT_TIMESTAMP, (uint64_t)(t0 + 10 * 49), &m, batch_start[98]),
		 all - (long)batch_start[98]);

	/* Beyond the end and LATEST: nothing now, the next matching batch once it is readable. */
	struct dp_reader *beyond, *latest;
	REQUIRE(dp_reader_new(sh, DP_POS_AT_TIMESTAMP, (uint64_t)(t0 + 1000), &beyond) == 0);
	REQUIRE(dp_reader_new(sh, DP_POS_LATEST, 0, &latest) == 0);
	CHECK_EQ_U64(dp_reader_position(latest), next);
	struct dp_record_out out[16];
	CHECK_EQ(dp_reader_read(beyond, out, 16, 1u << 20), 0);
	CHECK_EQ(dp_reader_read(latest, out, 16, 1u << 20), 0);
	size_t early = m.n;
	REQUIRE(append_batch(c, sh, &m, 2, NULL, NULL, t0 + 999) == 2); /* before the target */
	size_t late = m.n;
	REQUIRE(append_batch(c, sh, &m, 3, NULL, NULL, t0 + 1000) == 3);
	/* Appended but not flushed: not readable yet. */
	CHECK_EQ(dp_reader_read(latest, out, 16, 1u << 20), 0);
	drain(c, sh);
	CHECK_EQ(read_compare(beyond, &m, late, SIZE_MAX), 3);
	CHECK_EQ(read_compare(latest, &m, early, SIZE_MAX), 5);
	dp_reader_free(beyond);
	dp_reader_free(latest);
	CHECK_EQ(dp_shard_close(sh), 0);
	model_free(&m);
	dp_committer_free(c);
	tmpdir_rm(tmp);
}

/* Position a reader and compare the first up-to-3 records with the model from index `want`. */
static bool lookup_ok(struct dp_shard *sh, enum dp_pos pos, uint64_t arg, const struct model *m,
		      size_t want)
{
	struct dp_reader *rd;
	if (dp_reader_new(sh, pos, arg, &rd) < 0)
		return false;
	/* A read may stop short (at a segment boundary, say): read until 3 records or nothing. */
	struct dp_record_out out[3];
	int r = 0, got;
	while (r < 3 && (got = dp_reader_read(rd, out + r, 3 - (unsigned)r, 1u << 20)) > 0) {
		for (int i = 0; i < got; i++) /* pointers are only valid until the next call */
			if (!rec_matches(&out[r + i], &m->v[want + (size_t)(r + i)]))
				got = -1000;
		if (got < 0)
			break;
		r += got;
	}
	bool ok = r == (int)(m->n - want < 3 ? m->n - want : 3);
	if (!ok)
		printf("# pos %d arg %" PRIu64 ": read %d, want index %zu (seq %" PRIu64 ")\n", pos, arg,
		       r, want, want < m->n ? m->v[want].seq : 0);
	dp_reader_free(rd);
	return ok;
}

static unsigned random_lookups(struct dp_shard *sh, const struct model *m, int rounds)
{
	unsigned bad = 0;
	uint64_t next = dp_shard_next_seq(sh);
	int64_t t_first = m->v[0].ts, t_last = m->v[m->n - 1].ts;
	for (int i = 0; i < rounds; i++) {
		uint64_t s = 1 + rng() % (next - 1);
		bad += !lookup_ok(sh, DP_POS_AT_SEQ, s, m, model_at_seq(m, s));
		bad += !lookup_ok(sh, DP_POS_AFTER_SEQ, s, m, model_at_seq(m, s + 1));
		int64_t t = t_first - 5 + (int64_t)(rng() % (uint64_t)(t_last - t_first + 10));
		bad += !lookup_ok(sh, DP_POS_AT_TIMESTAMP, (uint64_t)t, m, model_at_ts(m, t));
	}
	return bad;
}

static void test_index_lookups(void)
{
	const char *tmp = tmp_new();
	REQUIRE(tmp);
	struct dp_committer *c;
	REQUIRE(dp_committer_new(64, NULL, NULL, &c) == 0);
	struct dp_log_config cfg;
	cfg_small(&cfg, DP_DUR_DURABLE);
	cfg.segment_bytes = BUF_MIN + 4096;
	cfg.index_interval = 512;
	const char *dir = path_in(tmp, "s");
	struct dp_shard *sh;
	REQUIRE(dp_shard_open(c, dir, &info, &cfg, NULL, &sh) == 0);
	struct model m;
	model_init(&m, cfg.segment_bytes);
	int64_t t = 1700000000000;
	uint16_t kl[4] = { 8, 8, 8, 8 };
	uint32_t dl[4];
	for (int b = 0; b < 5000; b++) {
		unsigned n = 1 + (unsigned)(rng() % 4);
		for (unsigned i = 0; i < n; i++)
			dl[i] = (uint32_t)(rng() % 300);
		/* Runs of equal times, small steps and the odd jump. */
		if (rng() % 3 == 0)
			t += rng() % 10 == 0 ? 5000 : 1 + (int64_t)(rng() % 7);
		REQUIRE(append_batch(c, sh, &m, n, kl, dl, t) == (int)n);
		if (b % 64 == 63)
			dp_committer_poll(c, false);
	}
	drain(c, sh);
	CHECK(m.nsegs >= 2);
	printf("# %zu records in %u segments\n", m.n, m.nsegs);
	CHECK_EQ(random_lookups(sh, &m, 1000), 0);
	CHECK_EQ(dp_shard_close(sh), 0);
	/* The same lookups on indexes rebuilt by recovery. */
	REQUIRE(dp_shard_open(c, dir, &info, &cfg, NULL, &sh) == 0);
	CHECK_EQ(random_lookups(sh, &m, 1000), 0);
	CHECK_EQ(dp_shard_close(sh), 0);
	model_free(&m);
	dp_committer_free(c);
	tmpdir_rm(tmp);
}

static void test_readable_mark(void)
{
	const char *tmp = tmp_new();
	REQUIRE(tmp);
	struct dp_committer *c;
	REQUIRE(dp_committer_new(64, NULL, NULL, &c) == 0);
	static const enum dp_durability modes[] = { DP_DUR_DURABLE, DP_DUR_WRITTEN, DP_DUR_NONE };
	for (int k = 0; k < 3; k++) {
		struct dp_log_config cfg;
		cfg_small(&cfg, modes[k]);
		struct dp_shard *sh;
		REQUIRE(dp_shard_open(c, path_in(tmp, dp_durability_name(modes[k])), &info, &cfg, NULL,
				      &sh) == 0);
		struct model m;
		model_init(&m, cfg.segment_bytes);
		struct dp_reader *rd;
		REQUIRE(dp_reader_new(sh, DP_POS_TRIM_HORIZON, 0, &rd) == 0);
		REQUIRE(append_batch(c, sh, &m, 4, NULL, NULL, 1) == 4);
		struct dp_record_out out[8];
		CHECK_EQ(dp_reader_read(rd, out, 8, 1u << 20), 0);
		CHECK_EQ_U64(dp_reader_position(rd), 1);
		drain(c, sh);
		CHECK_EQ(read_compare(rd, &m, 0, SIZE_MAX), 4);
		REQUIRE(append_batch(c, sh, &m, 2, NULL, NULL, 2) == 2);
		CHECK_EQ(dp_reader_read(rd, out, 8, 1u << 20), 0);
		drain(c, sh);
		CHECK_EQ(read_compare(rd, &m, 4, SIZE_MAX), 2);
		dp_reader_free(rd);
		CHECK_EQ(dp_shard_close(sh), 0);
		model_free(&m);
	}
	dp_committer_free(c);
	tmpdir_rm(tmp);
}

static void test_retention(void)
{
	const char *tmp = tmp_new();
	REQUIRE(tmp);
	struct dp_committer *c;
	REQUIRE(dp_committer_new(64, NULL, NULL, &c) == 0);
	struct dp_log_config cfg;
	cfg_small(&cfg, DP_DUR_DURABLE);
	cfg.segment_bytes = BUF_MIN + 4096;
	const char *dir = path_in(tmp, "s");
	struct dp_shard *sh;
	REQUIRE(dp_shard_open(c, dir, &info, &cfg, NULL, &sh) == 0);
	struct model m;
	model_init(&m, cfg.segment_bytes);
	const int64_t now = 1700000000000, hour = 3600 * 1000;
	uint16_t kl = 4;
	uint32_t dl = 30000;
	for (int b = 0; b < 100; b++) /* about 2.9 segments of records older than a day */
		REQUIRE(append_batch(c, sh, &m, 1, &kl, &dl, now - 48 * hour + b) == 1);
	for (int b = 0; b < 80; b++)
		REQUIRE(append_batch(c, sh, &m, 1, &kl, &dl, now - hour + b) == 1);
	drain(c, sh);
	REQUIRE(m.nsegs >= 5);
	/* Sealed segments whose newest record is older than the cutoff go, in order. */
	unsigned expect_del = 0;
	while (expect_del < m.nsegs - 1 && m.seg_max_ts[expect_del] < now - 24 * hour)
		expect_del++;
	CHECK_EQ(expect_del, 2);

	struct dp_reader *pinned;
	REQUIRE(dp_reader_new(sh, DP_POS_TRIM_HORIZON, 0, &pinned) == 0);
	CHECK_EQ(read_compare(pinned, &m, 0, 1), 1); /* pins segment 0 */

	CHECK_EQ(dp_shard_retention_run(sh, now - 24 * hour), 0);
	CHECK_EQ(dp_shard_retention_run(sh, now), (int)expect_del);
	CHECK(segs_match(dir, &m, expect_del));
	CHECK_EQ_U64(dp_shard_trim_seq(sh), m.seg_base[expect_del]);
	struct dp_shard_stats st;
	dp_shard_stats_get(sh, &st);
	CHECK_EQ_U64(st.segments_deleted, expect_del);
	CHECK_EQ(st.segments_live, m.nsegs - expect_del);
	CHECK_EQ(dp_shard_retention_run(sh, now), 0);

	/* The pinned reader finishes the deleted segment 0, then resumes at the horizon. */
	size_t seg1 = (size_t)(m.seg_base[1] - 1), horizon = (size_t)(m.seg_base[expect_del] - 1);
	CHECK_EQ(read_compare(pinned, &m, 1, seg1 - 1), (long)(seg1 - 1));
	CHECK_EQ(read_compare(pinned, &m, horizon, SIZE_MAX), (long)(m.n - horizon));
	dp_reader_free(pinned);
	CHECK_EQ(read_all(sh, DP_POS_TRIM_HORIZON, 0, &m, horizon), (long)(m.n - horizon));
	CHECK_EQ(read_all(sh, DP_POS_AT_SEQ, 1, &m, horizon), (long)(m.n - horizon));
	CHECK_EQ(read_all(sh, DP_POS_AT_TIMESTAMP, 0, &m, horizon), (long)(m.n - horizon));

	/* Far in the future everything sealed goes, the active segment never does. */
	CHECK_EQ(dp_shard_set_retention(sh, 23), -EINVAL);
	CHECK_EQ(dp_shard_set_retention(sh, 8761), -EINVAL);
	CHECK_EQ(dp_shard_set_retention(sh, 0), -EINVAL);
	CHECK_EQ(dp_shard_set_retention(sh, 48), 0);
	CHECK_EQ(dp_shard_retention_run(sh, now + 24 * hour), 0); /* 48 h now: nothing is that old */
	CHECK_EQ(dp_shard_set_retention(sh, 24), 0);
	CHECK_EQ(dp_shard_retention_run(sh, now + 10 * 24 * hour), (int)(m.nsegs - 1 - expect_del));
	CHECK(segs_match(dir, &m, m.nsegs - 1));
	CHECK_EQ_U64(dp_shard_trim_seq(sh), m.seg_base[m.nsegs - 1]);
	CHECK_EQ(dp_shard_retention_run(sh, INT64_MAX / 2), 0);
	size_t active = (size_t)(m.seg_base[m.nsegs - 1] - 1);
	CHECK_EQ(read_all(sh, DP_POS_TRIM_HORIZON, 0, &m, active), (long)(m.n - active));
	/* Appends go on in the active segment. */
	REQUIRE(append_batch(c, sh, &m, 1, &kl, &dl, now) == 1);
	drain(c, sh);
	CHECK_EQ(dp_shard_close(sh), 0);

	struct dp_shard_recovery rep;
	REQUIRE(dp_shard_open(c, dir, &info, &cfg, &rep, &sh) == 0);
	CHECK(rep.clean && !rep.quarantined);
	CHECK_EQ(rep.segments, 1);
	CHECK_EQ_U64(dp_shard_trim_seq(sh), m.seg_base[m.nsegs - 1]);
	CHECK_EQ(read_all(sh, DP_POS_TRIM_HORIZON, 0, &m, active), (long)(m.n - active));
	CHECK_EQ(dp_shard_close(sh), 0);
	model_free(&m);
	dp_committer_free(c);
	tmpdir_rm(tmp);
}

int main(void)
{
	DP_TEST_RUN(test_config_check);
	DP_TEST_RUN(test_append_validation);
	DP_TEST_RUN(test_roundtrip_framing);
	DP_TEST_RUN(test_seq_numbers);
	DP_TEST_RUN(test_durability_modes);
	DP_TEST_RUN(test_group_commit);
	DP_TEST_RUN(test_zero_ahead);
	DP_TEST_RUN(test_flushes_overlap);
	DP_TEST_RUN(test_flush_depth);
	DP_TEST_RUN(test_flush_hist);
	DP_TEST_RUN(test_iowq_cpus);
	DP_TEST_RUN(test_segment_roll);
	DP_TEST_RUN(test_segment_tail_gap);
	DP_TEST_RUN(test_reader_positions);
	DP_TEST_RUN(test_index_lookups);
	DP_TEST_RUN(test_readable_mark);
	DP_TEST_RUN(test_retention);
	return dp_test_done();
}
