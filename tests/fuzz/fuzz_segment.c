/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for shard log recovery and the reader: the input becomes the only segment file
 * of a fresh shard directory, which is opened (recovery), read end to end and closed.
 *
 * Input: byte 0 selects the mode. Odd: a valid segment header (base 1, this shard) is written
 * first, the rest of the input follows as batches, and the file is extended with zeros to the
 * smallest segment size a config makes (as the log preallocates; small, because recovery scans
 * all of it), so the fuzzer works on the batch parser and the torn/corrupt decision. Even: the rest is the whole file, header included.
 *
 * Any open result is fine. A crash, a sanitizer report, or one of these is not (abort()):
 *  - a reader of a successfully opened shard gets an error, or sequence numbers that do not
 *    increase or that reach the readable mark;
 *  - an OPEN shard cannot take an append, or after a clean close reopens quarantined, unclean,
 *    or without that record as its last one.
 * The directory lives under /dev/shm when it exists (fdatasync is free there), else /tmp.
 */
#include "dp_log.h"
#include "dp_log_internal.h"

#include <fcntl.h>
#include <ftw.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dp_crc32c.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define BUF_MIN (1024u * 1024u + 4096u)

static const struct dp_shard_info info = { .shard_index = 0, .created_ms = 1700000000000 };

static int rm_cb(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st, (void)flag, (void)ftw;
	return remove(path);
}

static void check(bool ok)
{
	if (!ok)
		abort();
}

/* Read the shard from `pos`; returns the last sequence number read (0 if none). */
static uint64_t read_all(struct dp_shard *sh, enum dp_pos pos, uint64_t arg)
{
	struct dp_reader *rd;
	if (dp_reader_new(sh, pos, arg, &rd) < 0)
		return 0;
	uint64_t mark = dp_shard_readable_next(sh), prev = 0;
	struct dp_record_out out[64];
	int r;
	while ((r = dp_reader_read(rd, out, 64, 1u << 20)) > 0)
		for (int i = 0; i < r; i++) {
			check(out[i].seq > prev && out[i].seq < mark);
			check(out[i].key_len >= 1 && out[i].key_len <= DP_KEY_MAX);
			prev = out[i].seq;
		}
	check(r == 0);
	dp_reader_free(rd);
	return prev;
}

static int write_segment(const char *dir, const uint8_t *data, size_t size, uint64_t seg_bytes)
{
	char path[256];
	snprintf(path, sizeof(path), "%s/00000000000000000001.log", dir);
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0644);
	if (fd < 0)
		return -1;
	int rc = 0;
	uint64_t file_bytes = DP_SEG_HDR_BYTES + size - 1;
	if (file_bytes < seg_bytes)
		file_bytes = seg_bytes; /* preallocated like the log's own: zeros after the input */
	if (data[0] & 1) {
		struct dp_seg_hdr h = {
			.version = DP_SEG_VERSION,
			.shard_index = info.shard_index,
			.buffer_bytes = BUF_MIN,
			.base_seq = 1,
			.shard_created_ms = info.created_ms,
			.seg_created_ms = info.created_ms,
			.seg_bytes = file_bytes,
		};
		memcpy(h.magic, DP_SEG_MAGIC, 8);
		h.crc = dp_crc32c(0, &h, sizeof(h));
		rc = write(fd, &h, sizeof(h)) == sizeof(h) ? 0 : -1;
	}
	if (rc == 0 && size > 1 && write(fd, data + 1, size - 1) != (ssize_t)(size - 1))
		rc = -1;
	if (rc == 0 && (data[0] & 1) && ftruncate(fd, (off_t)file_bytes) < 0)
		rc = -1;
	close(fd);
	return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct dp_committer *c;
	if (size < 1 || size > (4u << 20))
		return 0;
	if (!c && dp_committer_new(16, NULL, NULL, &c) < 0)
		abort();
	char dir[64];
	snprintf(dir, sizeof(dir), "%s/fuzz_segment.XXXXXX",
		 access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
	if (!mkdtemp(dir))
		abort();
	struct dp_log_config cfg;
	dp_log_config_default(&cfg);
	cfg.buffer_bytes = BUF_MIN;
	cfg.segment_bytes = BUF_MIN + 4096;
	cfg.index_interval = 512;
	if (write_segment(dir, data, size, DP_SEG_MIN_BYTES) < 0)
		abort();

	struct dp_shard *sh;
	struct dp_shard_recovery rep;
	if (dp_shard_open(c, dir, &info, &cfg, &rep, &sh) == 0) {
		uint64_t last = read_all(sh, DP_POS_TRIM_HORIZON, 0);
		/* Positioning through the rebuilt indexes must not trip over anything either. */
		uint64_t arg = 0;
		memcpy(&arg, data, size < 8 ? size : 8);
		read_all(sh, DP_POS_AT_TIMESTAMP, arg >> 1);
		read_all(sh, DP_POS_AT_SEQ, last / 2 + 1);
		read_all(sh, DP_POS_AFTER_SEQ, arg % (dp_shard_next_seq(sh) + 1));
		if (dp_shard_state(sh) == DP_SHARD_OPEN && dp_shard_next_seq(sh) < DP_SEQ_MAX) {
			uint8_t k = 'k';
			struct dp_record_in in = { .key = &k, .key_len = 1 };
			uint64_t first;
			check(dp_shard_append(sh, &in, 1, 0, &first) == 1);
			while (dp_shard_readable_next(sh) <= first && dp_committer_poll(c, true) >= 0)
				;
			check(dp_shard_close(sh) == 0);
			check(dp_shard_open(c, dir, &info, &cfg, &rep, &sh) == 0);
			check(!rep.quarantined && rep.clean && rep.torn_bytes == 0);
			check(read_all(sh, DP_POS_TRIM_HORIZON, 0) == first);
		}
		dp_shard_close(sh);
	}
	nftw(dir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
	return 0;
}
