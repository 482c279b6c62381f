/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for tagged batches in dp_log (dp_shard_append_tagged, dp_shard_open_tags): the
 * {producer, batch} tag of every kept batch is reported at open, after a clean close and after an
 * unclean stop; a torn tagged batch is cut and not reported; a log written without tags opens and
 * reports nothing; records of tagged batches read back byte for byte; a batch with an unknown flag,
 * or a tag on a marker batch, is invalid.
 *
 * Expected tags and sequence numbers come from what the test appended; offsets on disk come from
 * the format in dp_log_internal.h.
 */
#include "dp_crc32c.h"
#include "dp_log.h"
#include "dp_log_internal.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "dp_test.h"

#define BUF_BYTES (1024u * 1024u + 4096u)
#define SEG_BYTES (4u << 20)

static const struct dp_shard_info info = { .shard_index = 5, .created_ms = 1700000000000 };
static char tmp[64];

static const char *dir_new(const char *name)
{
	static char buf[128];
	snprintf(buf, sizeof(buf), "%s/%s", tmp, name);
	return buf;
}

static void cfg_init(struct dp_log_config *cfg)
{
	dp_log_config_default(cfg);
	cfg->segment_bytes = SEG_BYTES;
	cfg->buffer_bytes = BUF_BYTES;
}

struct tags {
	struct dp_batch_tag t[64];
	unsigned n;
};

static void tag_cb(void *arg, const struct dp_batch_tag *t)
{
	struct tags *g = arg;
	if (g->n < 64)
		g->t[g->n] = *t;
	g->n++;
}

static void drain(struct dp_committer *c, struct dp_shard *sh)
{
	for (int i = 0; i < 100000; i++) {
		if (dp_committer_inflight(c) == 0 && dp_shard_durable_next(sh) >= dp_shard_next_seq(sh))
			return;
		if (dp_committer_poll(c, true) < 0 || dp_shard_state(sh) != DP_SHARD_OPEN)
			return;
	}
}

/* Record i of batch b: key "k<b>-<i>", data derived from (b, i). */
static unsigned make_batch(unsigned b, unsigned n, struct dp_record_in *in, uint8_t (*keys)[16],
			   uint8_t (*data)[40])
{
	for (unsigned i = 0; i < n; i++) {
		int kl = snprintf((char *)keys[i], 16, "k%u-%u", b, i);
		dp_test_fill(b * 1000u + i, data[i], 40);
		in[i] = (struct dp_record_in){ .key = keys[i], .key_len = (uint16_t)kl,
					       .data = data[i], .data_len = 1 + (b + i) % 40 };
	}
	return n;
}

/* Append batch b (n records): tagged with (producer, b) unless producer is 0. */
static int append(struct dp_shard *sh, unsigned b, unsigned n, uint64_t producer, uint64_t *first)
{
	struct dp_record_in in[8];
	uint8_t keys[8][16], data[8][40];
	make_batch(b, n, in, keys, data);
	if (producer)
		return dp_shard_append_tagged(sh, in, n, 1000 + b, producer, b, first);
	return dp_shard_append(sh, in, n, 1000 + b, first);
}

/* Every record of the log, checked against make_batch() for batches 1..nb with n(b) records. */
static bool read_back(struct dp_shard *sh, unsigned nb, const unsigned *counts)
{
	struct dp_reader *rd;
	if (dp_reader_new(sh, DP_POS_TRIM_HORIZON, 0, &rd) < 0)
		return false;
	bool ok = true;
	for (unsigned b = 1; b <= nb && ok; b++) {
		struct dp_record_in in[8];
		uint8_t keys[8][16], data[8][40];
		make_batch(b, counts[b - 1], in, keys, data);
		struct dp_record_out out[8];
		int r = dp_reader_read(rd, out, counts[b - 1], 1u << 20);
		ok = r == (int)counts[b - 1];
		for (int i = 0; ok && i < r; i++)
			ok = out[i].key_len == in[i].key_len && out[i].data_len == in[i].data_len &&
			     memcmp(out[i].key, in[i].key, in[i].key_len) == 0 &&
			     memcmp(out[i].data, in[i].data, in[i].data_len) == 0;
	}
	dp_reader_free(rd);
	return ok;
}

static void test_tags_survive_clean_restart(void)
{
	const char *dir = dir_new("clean");
	struct dp_log_config cfg;
	cfg_init(&cfg);
	struct dp_committer *c;
	struct dp_shard *sh;
	REQUIRE(dp_committer_new(64, NULL, NULL, &c) == 0);
	REQUIRE(dp_shard_open(c, dir, &info, &cfg, NULL, &sh) == 0);
	/* Batches 1..6; 2 and 5 untagged; producers alternate. */
	static const unsigned counts[6] = { 3, 1, 5, 2, 4, 1 };
	uint64_t first[6];
	for (unsigned b = 1; b <= 6; b++) {
		uint64_t prod = (b == 2 || b == 5) ? 0 : UINT64_C(0xabcdef0000000000) + (b % 2);
		CHECK_EQ(append(sh, b, counts[b - 1], prod, &first[b - 1]), (int)counts[b - 1]);
	}
	drain(c, sh);
	CHECK(read_back(sh, 6, counts));
	CHECK_EQ(dp_shard_close(sh), 0);

	struct tags g = { .n = 0 };
	struct dp_shard_recovery rep;
	REQUIRE(dp_shard_open_tags(c, dir, &info, &cfg, &rep, tag_cb, &g, &sh) == 0);
	CHECK(rep.clean);
	CHECK_EQ_U64(rep.records, 16);
	CHECK_EQ(g.n, 4u);
	static const unsigned tagged[4] = { 1, 3, 4, 6 };
	for (unsigned i = 0; i < 4 && i < g.n; i++) {
		unsigned b = tagged[i];
		CHECK_EQ_U64(g.t[i].producer, UINT64_C(0xabcdef0000000000) + (b % 2));
		CHECK_EQ_U64(g.t[i].batch, b);
		CHECK_EQ_U64(g.t[i].first_seq, first[b - 1]);
		CHECK_EQ(g.t[i].count, counts[b - 1]);
		CHECK_EQ(g.t[i].ts_ms, (int64_t)(1000 + b));
	}
	CHECK(read_back(sh, 6, counts));
	CHECK_EQ(dp_shard_close(sh), 0);
	dp_committer_free(c);
}

/* The newest segment file of dir, mapped into a malloc'ed copy; returns its path. */
static int newest_segment(const char *dir, char *path, size_t cap)
{
	DIR *d = opendir(dir);
	if (!d)
		return -1;
	char best[DP_SEG_NAME_LEN + 1] = "";
	struct dirent *e;
	while ((e = readdir(d)))
		if (strlen(e->d_name) == DP_SEG_NAME_LEN && strstr(e->d_name, ".log") &&
		    strcmp(e->d_name, best) > 0)
			memcpy(best, e->d_name, sizeof(best));
	closedir(d);
	if (!best[0])
		return -1;
	snprintf(path, cap, "%s/%s", dir, best);
	return 0;
}

/* Offset of the end of the valid batches of a segment file, and the next seq they expect. */
static int64_t log_end(const char *path, uint64_t *next_seq)
{
	int fd = open(path, O_RDONLY);
	if (fd < 0)
		return -1;
	static uint8_t buf[SEG_BYTES];
	ssize_t len = pread(fd, buf, sizeof(buf), 0);
	close(fd);
	if (len < (ssize_t)DP_SEG_HDR_BYTES)
		return -1;
	uint64_t off = DP_SEG_HDR_BYTES;
	struct dp_batch_hdr h;
	while (dp_batch_check(buf + off, (uint64_t)len - off, &h) == 0) {
		*next_seq = h.first_seq + h.count;
		off += h.len;
	}
	return (int64_t)off;
}

static void unclean_child(const char *dir, const struct dp_log_config *cfg)
{
	struct dp_committer *c;
	struct dp_shard *sh;
	if (dp_committer_new(64, NULL, NULL, &c) < 0 || dp_shard_open(c, dir, &info, cfg, NULL, &sh) < 0)
		_exit(2);
	uint64_t first;
	for (unsigned b = 1; b <= 3; b++)
		if (append(sh, b, b, 77, &first) != (int)b)
			_exit(3);
	drain(c, sh);
	if (dp_shard_durable_next(sh) != dp_shard_next_seq(sh))
		_exit(4);
	_exit(0); /* no close: an unclean stop */
}

static void test_tags_survive_unclean_stop_and_torn_tail(void)
{
	const char *dir = dir_new("unclean");
	struct dp_log_config cfg;
	cfg_init(&cfg);
	pid_t pid = fork();
	REQUIRE(pid >= 0);
	if (pid == 0)
		unclean_child(dir, &cfg);
	int status;
	REQUIRE(waitpid(pid, &status, 0) == pid);
	REQUIRE(WIFEXITED(status) && WEXITSTATUS(status) == 0);

	/* A tagged batch that was being written when the process died: valid framing, one byte of
	 * a record torn. It claims nothing above what the log had made durable. */
	char path[256];
	REQUIRE(newest_segment(dir, path, sizeof(path)) == 0);
	uint64_t next = 0;
	int64_t end = log_end(path, &next);
	REQUIRE(end > 0);
	struct dp_record_in in[8];
	uint8_t keys[8][16], data[8][40], b[512];
	make_batch(4, 4, in, keys, data);
	uint32_t payload = DP_BATCH_TAG_BYTES;
	for (unsigned i = 0; i < 4; i++)
		payload += DP_REC_HDR_BYTES + in[i].key_len + in[i].data_len;
	const uint64_t tag[2] = { 77, 4 };
	uint32_t blen = dp_batch_encode(b, DP_BATCH_DATA, in, 4, payload, next, 1004, next, tag);
	struct dp_batch_hdr h;
	CHECK_EQ(dp_batch_check(b, blen, &h), 0);
	CHECK_EQ(h.flags, DP_BATCH_F_TAG);
	b[blen - 12] ^= 0x5a;
	int fd = open(path, O_WRONLY);
	REQUIRE(fd >= 0);
	CHECK_EQ(pwrite(fd, b, blen, end), (ssize_t)blen);
	close(fd);

	struct dp_committer *c;
	struct dp_shard *sh;
	struct tags g = { .n = 0 };
	struct dp_shard_recovery rep;
	REQUIRE(dp_committer_new(64, NULL, NULL, &c) == 0);
	REQUIRE(dp_shard_open_tags(c, dir, &info, &cfg, &rep, tag_cb, &g, &sh) == 0);
	CHECK(!rep.clean && !rep.quarantined);
	CHECK(rep.torn_bytes > 0);
	CHECK_EQ(g.n, 3u);
	uint64_t seq = 1;
	for (unsigned i = 0; i < 3 && i < g.n; i++) {
		CHECK_EQ_U64(g.t[i].producer, 77);
		CHECK_EQ_U64(g.t[i].batch, i + 1);
		CHECK_EQ_U64(g.t[i].first_seq, seq);
		CHECK_EQ(g.t[i].count, i + 1);
		seq += i + 1;
	}
	static const unsigned counts[3] = { 1, 2, 3 };
	CHECK(read_back(sh, 3, counts));
	/* Appending after the cut: the new tagged batch is reported by the next open. */
	uint64_t first;
	CHECK_EQ(append(sh, 4, 2, 78, &first), 2);
	CHECK_EQ(dp_shard_close(sh), 0);
	g.n = 0;
	REQUIRE(dp_shard_open_tags(c, dir, &info, &cfg, &rep, tag_cb, &g, &sh) == 0);
	CHECK_EQ(g.n, 4u);
	if (g.n == 4) {
		CHECK_EQ_U64(g.t[3].producer, 78);
		CHECK_EQ_U64(g.t[3].first_seq, first);
		CHECK_EQ(g.t[3].count, 2u);
	}
	CHECK_EQ(dp_shard_close(sh), 0);
	dp_committer_free(c);
}

static void test_untagged_log_opens(void)
{
	const char *dir = dir_new("untagged");
	struct dp_log_config cfg;
	cfg_init(&cfg);
	struct dp_committer *c;
	struct dp_shard *sh;
	REQUIRE(dp_committer_new(64, NULL, NULL, &c) == 0);
	REQUIRE(dp_shard_open(c, dir, &info, &cfg, NULL, &sh) == 0);
	static const unsigned counts[3] = { 2, 7, 1 };
	uint64_t first;
	for (unsigned b = 1; b <= 3; b++)
		CHECK_EQ(append(sh, b, counts[b - 1], 0, &first), (int)counts[b - 1]);
	drain(c, sh);
	CHECK_EQ(dp_shard_close(sh), 0);

	/* Untagged batches keep the version-1 layout byte for byte: flags 0, records at 48. */
	char path[256];
	REQUIRE(newest_segment(dir, path, sizeof(path)) == 0);
	int fd = open(path, O_RDONLY);
	REQUIRE(fd >= 0);
	uint8_t b[DP_BATCH_HDR_BYTES + 64];
	CHECK_EQ(pread(fd, b, sizeof(b), DP_SEG_HDR_BYTES), (ssize_t)sizeof(b));
	close(fd);
	struct dp_batch_hdr h;
	memcpy(&h, b, sizeof(h));
	CHECK_EQ(h.flags, 0);
	CHECK_EQ(h.kind, DP_BATCH_DATA);
	uint16_t kl;
	memcpy(&kl, b + DP_BATCH_HDR_BYTES + 4, 2);
	CHECK_EQ(kl, 4); /* "k1-0" */
	CHECK(memcmp(b + DP_BATCH_HDR_BYTES + DP_REC_HDR_BYTES, "k1-0", 4) == 0);

	struct tags g = { .n = 0 };
	struct dp_shard_recovery rep;
	REQUIRE(dp_shard_open_tags(c, dir, &info, &cfg, &rep, tag_cb, &g, &sh) == 0);
	CHECK(rep.clean);
	CHECK_EQ(g.n, 0u);
	CHECK(read_back(sh, 3, counts));
	CHECK_EQ(dp_shard_close(sh), 0);
	dp_committer_free(c);
}

/* Recompute a batch's CRC after the test changed its header. */
static void recrc(uint8_t *b)
{
	struct dp_batch_hdr h;
	memcpy(&h, b, sizeof(h));
	h.crc = dp_crc32c(0, b + 8, h.len - 8);
	memcpy(b + 4, &h.crc, 4);
}

static void test_bad_flags_invalid(void)
{
	uint8_t b[256];
	struct dp_record_in in = { .key = "k", .key_len = 1, .data = "dd", .data_len = 2 };
	const uint64_t tag[2] = { 1, 2 };
	uint32_t payload = DP_BATCH_TAG_BYTES + DP_REC_HDR_BYTES + 3;
	uint32_t len = dp_batch_encode(b, DP_BATCH_DATA, &in, 1, payload, 9, 0, 0, tag);
	struct dp_batch_hdr h;
	CHECK_EQ(dp_batch_check(b, len, &h), 0);
	CHECK_EQ(dp_batch_rec_off(&h), DP_BATCH_HDR_BYTES + DP_BATCH_TAG_BYTES);

	/* An unknown flag bit. */
	uint8_t x[256];
	memcpy(x, b, len);
	uint16_t fl = DP_BATCH_F_TAG | 0x8000u;
	memcpy(x + 14, &fl, 2);
	recrc(x);
	CHECK_EQ(dp_batch_check(x, len, &h), -EBADMSG);

	/* The same bytes read without the tag flag do not parse as records. */
	memcpy(x, b, len);
	fl = 0;
	memcpy(x + 14, &fl, 2);
	recrc(x);
	CHECK_EQ(dp_batch_check(x, len, &h), -EBADMSG);

	/* A tag on a marker batch. */
	uint32_t ml = dp_batch_encode(x, DP_BATCH_SKIP, NULL, 0, 0, 9, 0, 0, NULL);
	CHECK_EQ(dp_batch_check(x, ml, &h), 0);
	fl = DP_BATCH_F_TAG;
	memcpy(x + 14, &fl, 2);
	recrc(x);
	CHECK_EQ(dp_batch_check(x, ml, &h), -EBADMSG);

	/* A tagged batch too short to hold its tag. */
	struct dp_batch_hdr t = { .magic = DP_BATCH_MAGIC, .len = 56, .kind = DP_BATCH_DATA,
				  .flags = DP_BATCH_F_TAG, .count = 1, .payload_len = 8, .first_seq = 1 };
	memset(x, 0, 56);
	memcpy(x, &t, sizeof(t));
	recrc(x);
	CHECK_EQ(dp_batch_check(x, 56, &h), -EBADMSG);
}

int main(void)
{
	if (!mkdtemp(strcpy(tmp, "/tmp/dp_log_tags.XXXXXX"))) {
		printf("1..0 # SKIP no temp dir\n");
		return DP_TEST_SKIP;
	}
	DP_TEST_RUN(test_tags_survive_clean_restart);
	DP_TEST_RUN(test_tags_survive_unclean_stop_and_torn_tail);
	DP_TEST_RUN(test_untagged_log_opens);
	DP_TEST_RUN(test_bad_flags_invalid);
	dp_test_rm_tree(tmp);
	return dp_test_done();
}
