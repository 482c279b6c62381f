/* SPDX-License-Identifier: MIT */
/*
 * What dp_shard_open does with files it did not write, or that a crash left half made:
 *  - garbage named like a segment (random bytes, all 0xff, a damaged or foreign header, a file
 *    longer than its header says): QUARANTINED, nothing deleted, not one byte changed;
 *  - a zero-length segment, or one of zeros (fallocated, header never written: an interrupted
 *    creation): removed, and the log starts fresh or continues without it;
 *  - a file not named like a segment: ignored and left alone;
 *  - zero-length data and maximal records: round trip through close and recovery.
 */
#include "dp_log.h"
#include "dp_log_internal.h"

#include <fcntl.h>
#include <ftw.h>
#include <stdbool.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dp_crc32c.h"
#include "dp_test.h"

#define BUF_MIN (1024u * 1024u + 4096u)
#define SEG_BYTES (BUF_MIN + 4096u)

static const struct dp_shard_info info = { .shard_index = 12, .created_ms = 1650000000000 };

static uint64_t rng_state = UINT64_C(0x3c6ef372fe94f82b);

static uint64_t rng(void)
{
	return dp_test_rng(&rng_state);
}

static char tmp[64];
static struct dp_committer *c;
static struct dp_log_config cfg;
static int ndirs;

/* A fresh shard directory for one case. */
static const char *new_dir(void)
{
	static char dir[128];
	snprintf(dir, sizeof(dir), "%s/case%d", tmp, ndirs++);
	return mkdir(dir, 0755) == 0 ? dir : NULL;
}

static char *file_in(const char *dir, const char *name)
{
	static char path[256];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return path;
}

static int put_file(const char *dir, const char *name, const void *buf, size_t len)
{
	int fd = open(file_in(dir, name), O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0)
		return -errno;
	int rc = len == 0 || write(fd, buf, len) == (ssize_t)len ? 0 : -EIO;
	close(fd);
	return rc;
}

/* The whole file, malloc'ed; *len gets its size. NULL when it does not exist. */
static uint8_t *get_file(const char *dir, const char *name, size_t *len)
{
	int fd = open(file_in(dir, name), O_RDONLY);
	if (fd < 0)
		return NULL;
	struct stat st;
	fstat(fd, &st);
	uint8_t *buf = malloc((size_t)st.st_size + 1);
	*len = buf ? (size_t)pread(fd, buf, (size_t)st.st_size, 0) : 0;
	close(fd);
	return buf;
}

/* A valid segment header as the format defines it. */
static void make_hdr(uint8_t *p, uint32_t shard, uint64_t base, uint64_t seg_bytes)
{
	struct dp_seg_hdr h = {
		.version = DP_SEG_VERSION,
		.shard_index = shard,
		.buffer_bytes = BUF_MIN,
		.base_seq = base,
		.shard_created_ms = info.created_ms,
		.seg_created_ms = info.created_ms,
		.seg_bytes = seg_bytes,
	};
	memcpy(h.magic, DP_SEG_MAGIC, 8);
	h.crc = dp_crc32c(0, &h, sizeof(h));
	memcpy(p, &h, sizeof(h));
}

/* Nothing readable, appends refused, state QUARANTINED. */
static void check_quarantined(struct dp_shard *sh, const struct dp_shard_recovery *rep,
			      uint64_t corrupt_seq, const char *what)
{
	CHECK(rep->quarantined);
	CHECK_EQ(dp_shard_state(sh), DP_SHARD_QUARANTINED);
	CHECK_EQ_U64(rep->corrupt_seq, corrupt_seq);
	CHECK(strstr(rep->detail, what) != NULL);
	CHECK_EQ_U64(rep->segments_removed, 0);
	CHECK_EQ_U64(rep->torn_bytes, 0);
	CHECK_EQ_U64(dp_shard_readable_next(sh), corrupt_seq);
	uint8_t k = 'k';
	struct dp_record_in in = { .key = &k, .key_len = 1 };
	uint64_t first;
	CHECK_EQ(dp_shard_append(sh, &in, 1, 0, &first), -EROFS);
	struct dp_reader *rd;
	REQUIRE(dp_reader_new(sh, DP_POS_TRIM_HORIZON, 0, &rd) == 0);
	struct dp_record_out out[4];
	CHECK_EQ(dp_reader_read(rd, out, 4, 1u << 20), 0);
	dp_reader_free(rd);
	CHECK_EQ(dp_shard_retention_run(sh, INT64_MAX / 2), 0);
}

/* Open a directory holding exactly one file `name` = buf; it must be quarantined, untouched. */
static void quarantine_case(const char *name, const uint8_t *buf, size_t len, uint64_t corrupt_seq,
			    const char *what)
{
	const char *dir = new_dir();
	REQUIRE(dir);
	char d[128];
	snprintf(d, sizeof(d), "%s", dir);
	REQUIRE(put_file(d, name, buf, len) == 0);
	struct dp_shard *sh;
	struct dp_shard_recovery rep;
	REQUIRE(dp_shard_open(c, d, &info, &cfg, &rep, &sh) == 0);
	check_quarantined(sh, &rep, corrupt_seq, what);
	CHECK_EQ(dp_shard_close(sh), 0);
	size_t got = 0;
	uint8_t *after = get_file(d, name, &got);
	CHECK(after != NULL);
	CHECK_EQ(got, len);
	CHECK(after && got == len && memcmp(after, buf, len) == 0);
	free(after);
}

static void test_garbage_quarantines(void)
{
	size_t len = 100000;
	uint8_t *buf = malloc(len);
	REQUIRE(buf);
	for (size_t i = 0; i < len; i++)
		buf[i] = (uint8_t)rng();
	quarantine_case("00000000000000000001.log", buf, len, 1, "corrupt segment header");
	quarantine_case("00000000000000000001.log", buf, 17, 1, "corrupt segment header");
	quarantine_case("00000000000000004242.log", buf, 4096, 4242, "corrupt segment header");
	memset(buf, 0xff, len);
	quarantine_case("00000000000000000001.log", buf, 65536, 1, "corrupt segment header");

	/* Behind a valid log, named as its next segment or as any later one: the valid records
	 * stay readable, the garbage stays, retention deletes neither. */
	static const char *const later[] = { "00000000000000000004.log", "00000000000000009999.log" };
	for (int i = 0; i < 2; i++) {
		const char *dir = new_dir();
		REQUIRE(dir);
		char d[128];
		snprintf(d, sizeof(d), "%s", dir);
		struct dp_shard *sh;
		REQUIRE(dp_shard_open(c, d, &info, &cfg, NULL, &sh) == 0);
		uint8_t k = 'k';
		struct dp_record_in in[3] = { { .key = &k, .key_len = 1 }, { .key = &k, .key_len = 1 },
					      { .key = &k, .key_len = 1 } };
		uint64_t first;
		CHECK_EQ(dp_shard_append(sh, in, 3, 0, &first), 3);
		CHECK_EQ(dp_shard_close(sh), 0);
		size_t l0 = 0;
		uint8_t *seg0 = get_file(d, "00000000000000000001.log", &l0);
		REQUIRE(seg0 && put_file(d, later[i], buf, 4096) == 0);
		struct dp_shard_recovery rep;
		REQUIRE(dp_shard_open(c, d, &info, &cfg, &rep, &sh) == 0);
		CHECK(rep.quarantined);
		CHECK_EQ(dp_shard_state(sh), DP_SHARD_QUARANTINED);
		CHECK_EQ_U64(rep.corrupt_seq, 4);
		CHECK_EQ(rep.segments, 2);
		CHECK_EQ(rep.segments_removed, 0);
		CHECK_EQ_U64(rep.records, 3);
		CHECK_EQ_U64(dp_shard_readable_next(sh), 4);
		struct dp_reader *rd;
		REQUIRE(dp_reader_new(sh, DP_POS_TRIM_HORIZON, 0, &rd) == 0);
		struct dp_record_out out[8];
		CHECK_EQ(dp_reader_read(rd, out, 8, 1u << 20), 3);
		dp_reader_free(rd);
		CHECK_EQ(dp_shard_retention_run(sh, INT64_MAX / 2), 0);
		CHECK_EQ(dp_shard_close(sh), 0);
		size_t l1 = 0, l2 = 0;
		uint8_t *a0 = get_file(d, "00000000000000000001.log", &l1);
		uint8_t *a1 = get_file(d, later[i], &l2);
		CHECK(a0 && l1 == l0 && memcmp(a0, seg0, l0) == 0);
		CHECK(a1 && l2 == 4096 && memcmp(a1, buf, 4096) == 0);
		free(seg0);
		free(a0);
		free(a1);
	}
	free(buf);
}

static void test_bad_headers_quarantine(void)
{
	uint8_t *buf = calloc(1, 65536);
	REQUIRE(buf);
	/* A valid header cut short. */
	make_hdr(buf, info.shard_index, 1, 65536);
	quarantine_case("00000000000000000001.log", buf, 40, 1, "corrupt segment header");
	/* A header whose CRC does not match (one bit of the creation time). */
	buf[41] ^= 0x10;
	quarantine_case("00000000000000000001.log", buf, 65536, 1, "corrupt segment header");
	/* A valid header in a file named for another base. */
	make_hdr(buf, info.shard_index, 1, 65536);
	quarantine_case("00000000000000000002.log", buf, 65536, 2, "corrupt segment header");
	/* A file longer than its header says: not the log's. */
	make_hdr(buf, info.shard_index, 1, 32768);
	quarantine_case("00000000000000000001.log", buf, 65536, 1, "corrupt segment header");
	/* Another shard's segment: refused outright. */
	make_hdr(buf, info.shard_index + 1, 1, 65536);
	const char *dir = new_dir();
	REQUIRE(dir && put_file(dir, "00000000000000000001.log", buf, 65536) == 0);
	struct dp_shard *sh;
	CHECK_EQ(dp_shard_open(c, dir, &info, &cfg, NULL, &sh), -ESTALE);
	free(buf);
}

/* Open dir (holding leftovers) and check the leftover was removed and a usable log is there. */
static void check_fresh(const char *dir, const char *name, uint64_t first_seq, uint32_t removed)
{
	struct dp_shard *sh;
	struct dp_shard_recovery rep;
	REQUIRE(dp_shard_open(c, dir, &info, &cfg, &rep, &sh) == 0);
	CHECK(!rep.quarantined);
	CHECK_EQ(dp_shard_state(sh), DP_SHARD_OPEN);
	CHECK_EQ(rep.segments_removed, removed);
	CHECK_EQ(rep.segments, 1);
	CHECK_EQ_U64(rep.records, 0);
	CHECK_EQ_U64(dp_shard_next_seq(sh), first_seq);
	/* The new segment replaced the leftover: full size, valid header. */
	size_t len = 0;
	uint8_t *f = get_file(dir, name, &len);
	CHECK(f != NULL);
	CHECK_EQ(len, SEG_BYTES);
	if (f && len >= DP_SEG_HDR_BYTES)
		CHECK(memcmp(f, DP_SEG_MAGIC, 8) == 0);
	free(f);
	uint8_t k = 'k', d = 'd';
	struct dp_record_in in = { .key = &k, .key_len = 1, .data = &d, .data_len = 1 };
	uint64_t first;
	CHECK_EQ(dp_shard_append(sh, &in, 1, 0, &first), 1);
	CHECK_EQ_U64(first, first_seq);
	while (dp_shard_readable_next(sh) < first + 1 && dp_committer_poll(c, true) >= 0)
		;
	CHECK_EQ(dp_shard_close(sh), 0);
	REQUIRE(dp_shard_open(c, dir, &info, &cfg, &rep, &sh) == 0);
	CHECK(rep.clean && !rep.quarantined);
	CHECK_EQ_U64(rep.records, 1);
	CHECK_EQ(dp_shard_close(sh), 0);
}

static void test_empty_leftovers_removed(void)
{
	/* Zero length. */
	const char *dir = new_dir();
	char d[128];
	REQUIRE(dir);
	snprintf(d, sizeof(d), "%s", dir);
	REQUIRE(put_file(d, "00000000000000000001.log", NULL, 0) == 0);
	check_fresh(d, "00000000000000000001.log", 1, 1);

	/* All zeros at the full size: fallocated, header never written. */
	uint8_t *zeros = calloc(1, SEG_BYTES);
	REQUIRE(zeros);
	dir = new_dir();
	REQUIRE(dir);
	snprintf(d, sizeof(d), "%s", dir);
	REQUIRE(put_file(d, "00000000000000000001.log", zeros, SEG_BYTES) == 0);
	check_fresh(d, "00000000000000000001.log", 1, 1);

	/* ...also under another base: the fresh log starts there. */
	dir = new_dir();
	REQUIRE(dir);
	snprintf(d, sizeof(d), "%s", dir);
	REQUIRE(put_file(d, "00000000000000000300.log", zeros, 4096) == 0);
	check_fresh(d, "00000000000000000300.log", 300, 1);

	/* An interrupted roll: a closed log plus a zero-filled next segment. */
	dir = new_dir();
	REQUIRE(dir);
	snprintf(d, sizeof(d), "%s", dir);
	struct dp_shard *sh;
	REQUIRE(dp_shard_open(c, d, &info, &cfg, NULL, &sh) == 0);
	uint8_t k = 'k';
	struct dp_record_in in[3] = { { .key = &k, .key_len = 1 }, { .key = &k, .key_len = 1 },
				      { .key = &k, .key_len = 1 } };
	uint64_t first;
	CHECK_EQ(dp_shard_append(sh, in, 3, 0, &first), 3);
	CHECK_EQ(dp_shard_close(sh), 0);
	REQUIRE(put_file(d, "00000000000000000004.log", zeros, SEG_BYTES) == 0);
	struct dp_shard_recovery rep;
	REQUIRE(dp_shard_open(c, d, &info, &cfg, &rep, &sh) == 0);
	CHECK(rep.clean && !rep.quarantined);
	CHECK_EQ(rep.segments_removed, 1);
	CHECK_EQ(rep.segments, 1);
	CHECK_EQ_U64(rep.records, 3);
	CHECK(access(file_in(d, "00000000000000000004.log"), F_OK) < 0);
	CHECK_EQ_U64(dp_shard_next_seq(sh), 4);
	CHECK_EQ(dp_shard_close(sh), 0);
	free(zeros);
}

static void test_other_files_ignored(void)
{
	const char *dir = new_dir();
	REQUIRE(dir);
	char d[128];
	snprintf(d, sizeof(d), "%s", dir);
	static const char *const names[] = {
		"notes.txt", "0000000000000000001.log", "000000000000000000001.log",
		"00000000000000000001.log.tmp", "0000000000000000000a.log", "00000000000000000001.LOG",
		"-0000000000000000001.log", ".00000000000000000001.log",
	};
	const size_t n = sizeof(names) / sizeof(names[0]);
	uint8_t junk[256];
	for (size_t i = 0; i < sizeof(junk); i++)
		junk[i] = (uint8_t)rng();
	for (size_t i = 0; i < n; i++)
		REQUIRE(put_file(d, names[i], junk, sizeof(junk)) == 0);
	struct dp_shard *sh;
	struct dp_shard_recovery rep;
	REQUIRE(dp_shard_open(c, d, &info, &cfg, &rep, &sh) == 0);
	CHECK(!rep.quarantined && rep.clean);
	CHECK_EQ(rep.segments, 1);
	CHECK_EQ(rep.segments_removed, 0);
	CHECK_EQ_U64(dp_shard_next_seq(sh), 1);
	uint8_t k = 'k';
	struct dp_record_in in = { .key = &k, .key_len = 1 };
	uint64_t first;
	CHECK_EQ(dp_shard_append(sh, &in, 1, 0, &first), 1);
	CHECK_EQ(dp_shard_close(sh), 0);
	REQUIRE(dp_shard_open(c, d, &info, &cfg, &rep, &sh) == 0);
	CHECK(!rep.quarantined && rep.clean);
	CHECK_EQ_U64(rep.records, 1);
	CHECK_EQ(dp_shard_close(sh), 0);
	for (size_t i = 0; i < n; i++) {
		size_t len = 0;
		uint8_t *f = get_file(d, names[i], &len);
		CHECK(f && len == sizeof(junk) && memcmp(f, junk, len) == 0);
		free(f);
	}
}

static void test_extreme_records(void)
{
	const char *dir = new_dir();
	REQUIRE(dir);
	char d[128];
	snprintf(d, sizeof(d), "%s", dir);
	struct dp_shard *sh;
	REQUIRE(dp_shard_open(c, d, &info, &cfg, NULL, &sh) == 0);
	uint8_t *big = malloc(DP_DATA_MAX), key[DP_KEY_MAX];
	REQUIRE(big);
	for (size_t i = 0; i < DP_DATA_MAX; i++)
		big[i] = (uint8_t)rng();
	for (size_t i = 0; i < DP_KEY_MAX; i++)
		key[i] = (uint8_t)rng();
	/* Zero-length data (with a NULL and with a non-NULL pointer), a maximal record, one byte. */
	struct dp_record_in small[3] = {
		{ .key = key, .key_len = 1 },
		{ .key = key, .key_len = DP_KEY_MAX, .data = big, .data_len = 0 },
		{ .key = key + 5, .key_len = 2, .data = big + 7, .data_len = 1 },
	};
	struct dp_record_in maxi = { .key = key, .key_len = DP_KEY_MAX, .data = big,
				     .data_len = DP_DATA_MAX };
	uint64_t f1, f2, f3;
	CHECK_EQ(dp_shard_append(sh, small, 2, 10, &f1), 2);
	CHECK_EQ(dp_shard_append(sh, &maxi, 1, 11, &f2), 1);
	CHECK_EQ(dp_shard_append(sh, small + 2, 1, 12, &f3), 1);
	CHECK_EQ_U64(f1, 1);
	CHECK_EQ_U64(f2, 3);
	CHECK_EQ_U64(f3, 4);
	for (int pass = 0; pass < 2; pass++) {
		while (dp_shard_readable_next(sh) < 5 && dp_committer_poll(c, true) >= 0)
			;
		struct dp_reader *rd;
		REQUIRE(dp_reader_new(sh, DP_POS_TRIM_HORIZON, 0, &rd) == 0);
		struct dp_record_out o[4];
		int got = 0, r;
		/* One call per record at most: pointers only last until the next call. */
		while (got < 4 && (r = dp_reader_read(rd, o, 1, 0)) == 1) {
			switch (o[0].seq) {
			case 1:
				CHECK(o[0].key_len == 1 && o[0].data_len == 0 && o[0].key[0] == key[0]);
				break;
			case 2:
				CHECK(o[0].key_len == DP_KEY_MAX && o[0].data_len == 0 &&
				      memcmp(o[0].key, key, DP_KEY_MAX) == 0);
				break;
			case 3:
				CHECK(o[0].key_len == DP_KEY_MAX && o[0].data_len == DP_DATA_MAX &&
				      memcmp(o[0].key, key, DP_KEY_MAX) == 0 &&
				      memcmp(o[0].data, big, DP_DATA_MAX) == 0);
				CHECK_EQ(o[0].ts_ms, 11);
				break;
			case 4:
				CHECK(o[0].key_len == 2 && o[0].data_len == 1 && o[0].data[0] == big[7] &&
				      memcmp(o[0].key, key + 5, 2) == 0);
				break;
			default:
				CHECK(0);
			}
			got++;
		}
		CHECK_EQ(got, 4);
		CHECK_EQ(dp_reader_read(rd, o, 4, 1u << 20), 0);
		dp_reader_free(rd);
		CHECK_EQ(dp_shard_close(sh), 0);
		if (pass == 0) {
			struct dp_shard_recovery rep;
			REQUIRE(dp_shard_open(c, d, &info, &cfg, &rep, &sh) == 0);
			CHECK(rep.clean);
			CHECK_EQ_U64(rep.records, 4);
		}
	}
	free(big);
}

int main(void)
{
	if (!mkdtemp(strcpy(tmp, "/tmp/dp_log_badinput.XXXXXX"))) {
		printf("1..0 # SKIP no temp dir\n");
		return DP_TEST_SKIP;
	}
	dp_log_config_default(&cfg);
	cfg.buffer_bytes = BUF_MIN;
	cfg.segment_bytes = SEG_BYTES;
	if (dp_committer_new(64, NULL, NULL, &c) < 0) {
		printf("1..0 # SKIP no io_uring\n");
		return DP_TEST_SKIP;
	}
	DP_TEST_RUN(test_garbage_quarantines);
	DP_TEST_RUN(test_bad_headers_quarantine);
	DP_TEST_RUN(test_empty_leftovers_removed);
	DP_TEST_RUN(test_other_files_ignored);
	DP_TEST_RUN(test_extreme_records);
	dp_committer_free(c);
	dp_test_rm_tree(tmp);
	return dp_test_done();
}
