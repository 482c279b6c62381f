/* SPDX-License-Identifier: MIT */
/*
 * The durable-mark file: the newest acknowledged batch is claimed by no later batch, so damage to
 * it must still be told from a torn tail. With the mark file the shard is quarantined and nothing
 * is cut; the same damage without the file (a log from before it existed, or a lost file) is
 * indistinguishable from a torn tail and is cut, which the second case pins down.
 */
#include "dp_log.h"
#include "dp_log_internal.h"

#include <fcntl.h>
#include <ftw.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dp_test.h"

#define SEG_NAME "00000000000000000001.log"
#define BATCHES 5
#define RECS 4

static const struct dp_shard_info info = { .shard_index = 3, .created_ms = 1700000000000 };
static char tmp[64];

static int copy_file(const char *from, const char *to)
{
	int in = open(from, O_RDONLY), out = open(to, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	int rc = in >= 0 && out >= 0 ? 0 : -1;
	static char buf[1 << 16];
	ssize_t n;
	while (rc == 0 && (n = read(in, buf, sizeof(buf))) > 0)
		if (write(out, buf, (size_t)n) != n)
			rc = -1;
	if (in >= 0)
		close(in);
	if (out >= 0)
		close(out);
	return rc;
}

/* The small log every case uses: the smallest staging buffer, 4 MiB segments. */
static void mark_cfg(struct dp_log_config *cfg)
{
	dp_log_config_default(cfg);
	cfg->buffer_bytes = 1024 * 1024 + 4096;
	cfg->segment_bytes = 4 << 20;
}

/* Build a log of BATCHES acked batches, copy it (an unclean stop), return the last batch's
 * offset and first sequence number. */
static int build(const char *live, const char *copy, uint64_t *last_off, uint64_t *last_seq)
{
	struct dp_committer *c;
	struct dp_shard *sh;
	struct dp_log_config cfg;
	mark_cfg(&cfg);
	if (dp_committer_new(64, NULL, NULL, &c) < 0 || dp_shard_open(c, live, &info, &cfg, NULL, &sh) < 0)
		return -1;
	char data[100];
	memset(data, 'd', sizeof(data));
	struct dp_record_in in[RECS];
	for (int i = 0; i < RECS; i++)
		in[i] = (struct dp_record_in){ .key = "k", .key_len = 1, .data = data, .data_len = 100 };
	uint64_t off = DP_SEG_HDR_BYTES, first = 0;
	for (int b = 0; b < BATCHES; b++) {
		*last_off = off;
		if (dp_shard_append(sh, in, RECS, 1000 + b, &first) != RECS)
			return -1;
		off += dp_align8(DP_BATCH_HDR_BYTES + RECS * (DP_REC_HDR_BYTES + 1 + 100));
		while (dp_shard_ack_next(sh) < first + RECS)
			if (dp_committer_poll(c, true) < 0)
				return -1;
	}
	*last_seq = first;
	/* Let the mark write of the last flush land (a wait returns at once when none is out). */
	for (int i = 0; i < 3; i++)
		dp_committer_poll(c, true);
	mkdir(copy, 0755);
	char a[256], b2[256];
	snprintf(a, sizeof(a), "%s/%s", live, SEG_NAME);
	snprintf(b2, sizeof(b2), "%s/%s", copy, SEG_NAME);
	int rc = copy_file(a, b2);
	snprintf(a, sizeof(a), "%s/%s", live, DP_MARK_NAME);
	snprintf(b2, sizeof(b2), "%s/%s", copy, DP_MARK_NAME);
	rc |= copy_file(a, b2);
	dp_shard_close(sh);
	dp_committer_free(c);
	return rc;
}

static int flip(const char *dir, uint64_t off)
{
	char p[256];
	snprintf(p, sizeof(p), "%s/%s", dir, SEG_NAME);
	int fd = open(p, O_RDWR);
	uint8_t b = 0;
	int rc = fd >= 0 && pread(fd, &b, 1, (off_t)off) == 1 ? 0 : -1;
	b ^= 0x10;
	if (rc == 0 && pwrite(fd, &b, 1, (off_t)off) != 1)
		rc = -1;
	if (fd >= 0)
		close(fd);
	return rc;
}

static void test_damaged_newest_batch_quarantines(void)
{
	char live[128], copy[128];
	snprintf(live, sizeof(live), "%s/live1", tmp);
	snprintf(copy, sizeof(copy), "%s/copy1", tmp);
	uint64_t off, seq;
	REQUIRE(build(live, copy, &off, &seq) == 0);
	REQUIRE(flip(copy, off + DP_BATCH_HDR_BYTES + 20) == 0);

	struct dp_committer *c;
	struct dp_shard *sh;
	struct dp_shard_recovery rep;
	struct dp_log_config cfg;
	mark_cfg(&cfg);
	REQUIRE(dp_committer_new(64, NULL, NULL, &c) == 0);
	REQUIRE(dp_shard_open(c, copy, &info, &cfg, &rep, &sh) == 0);
	CHECK(rep.quarantined);
	CHECK_EQ_U64(rep.corrupt_seq, seq);
	CHECK_EQ_U64(rep.torn_bytes, 0);
	CHECK_EQ(dp_shard_state(sh), DP_SHARD_QUARANTINED);
	CHECK_EQ_U64(dp_shard_readable_next(sh), seq);
	struct dp_record_in in = { .key = "k", .key_len = 1 };
	uint64_t first;
	CHECK_EQ(dp_shard_append(sh, &in, 1, 0, &first), -EROFS);
	CHECK_EQ(dp_shard_close(sh), 0);
	dp_committer_free(c);
}

static void test_without_mark_file_it_is_a_torn_tail(void)
{
	char live[128], copy[128], p[256];
	snprintf(live, sizeof(live), "%s/live2", tmp);
	snprintf(copy, sizeof(copy), "%s/copy2", tmp);
	uint64_t off, seq;
	REQUIRE(build(live, copy, &off, &seq) == 0);
	REQUIRE(flip(copy, off + DP_BATCH_HDR_BYTES + 20) == 0);
	snprintf(p, sizeof(p), "%s/%s", copy, DP_MARK_NAME);
	REQUIRE(unlink(p) == 0);

	struct dp_committer *c;
	struct dp_shard *sh;
	struct dp_shard_recovery rep;
	struct dp_log_config cfg;
	mark_cfg(&cfg);
	REQUIRE(dp_committer_new(64, NULL, NULL, &c) == 0);
	REQUIRE(dp_shard_open(c, copy, &info, &cfg, &rep, &sh) == 0);
	CHECK(!rep.quarantined);
	CHECK(rep.torn_bytes > 0);
	CHECK_EQ_U64(rep.records, (BATCHES - 1) * RECS);
	CHECK(dp_shard_next_seq(sh) > seq + RECS); /* the cut numbers are never handed out again */
	CHECK_EQ(dp_shard_close(sh), 0);
	dp_committer_free(c);
}

static void test_missing_segments_refuse_to_start_empty(void)
{
	char live[128], copy[128], p[256];
	snprintf(live, sizeof(live), "%s/live3", tmp);
	snprintf(copy, sizeof(copy), "%s/copy3", tmp);
	uint64_t off, seq;
	REQUIRE(build(live, copy, &off, &seq) == 0);
	snprintf(p, sizeof(p), "%s/%s", copy, SEG_NAME);
	REQUIRE(unlink(p) == 0);

	struct dp_committer *c;
	struct dp_shard *sh = NULL;
	struct dp_shard_recovery rep;
	struct dp_log_config cfg;
	mark_cfg(&cfg);
	REQUIRE(dp_committer_new(64, NULL, NULL, &c) == 0);
	CHECK_EQ(dp_shard_open(c, copy, &info, &cfg, &rep, &sh), -EUCLEAN);
	CHECK(strstr(rep.detail, "every segment file is missing") != NULL);
	/* Nothing was created in its place. */
	CHECK_EQ(access(p, F_OK), -1);
	dp_committer_free(c);
}

int main(void)
{
	snprintf(tmp, sizeof(tmp), "/tmp/dp_mark.XXXXXX");
	if (!mkdtemp(tmp))
		return 1;
	DP_TEST_RUN(test_damaged_newest_batch_quarantines);
	DP_TEST_RUN(test_without_mark_file_it_is_a_torn_tail);
	DP_TEST_RUN(test_missing_segments_refuse_to_start_empty);
	dp_test_rm_tree(tmp);
	return dp_test_done();
}
