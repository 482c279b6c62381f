/* SPDX-License-Identifier: MIT */
/*
 * mklog: write a data directory of shard logs the way ingestd finds them at start, for the
 * end-to-end startup benchmark (`bench/run startup`).
 *
 *   mklog DATA_DIR STREAMS SHARDS_PER_STREAM MIB_PER_SHARD [RECORD_BYTES]
 *
 * Creates DATA_DIR/streams/stream-NNN/shardId-NNNNNNNNNNNN/ for STREAMS streams of
 * SHARDS_PER_STREAM shards each and fills every shard with MIB_PER_SHARD MiB of log (framing
 * included, as dp_shard_stats.bytes_staged counts it) of RECORD_BYTES-byte records (default 1024)
 * with 16-byte partition keys, through the shard log API in durability "none" (the fastest
 * writer; what is measured is the reading side). Each shard ends with a clean close, and the file
 * system is synced at the end so that no writeback of these files overlaps a timed run.
 * DATA_DIR may exist; a shard directory must not (mklog only creates new logs).
 *
 * Exit status: 0 done, 1 a file or log operation failed (one line naming it and the errno
 * text), 2 a bad command line (one line saying which argument and why).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "dp_hash.h"
#include "dp_log.h"

#define KEY_BYTES 16u
#define BURST_MAX 32u                 /* records per append (STYLE 9) */
#define BURST_BYTES (1024u * 1024u)   /* at most this much data per append: a batch must fit in
                                         a staging buffer (4 MiB by default) with its framing */
#define COMMITTER_ENTRIES 64u         /* one shard is written at a time: a few flushes in flight */
#define STREAMS_MAX 1024ul
#define SHARDS_MAX 1024ul
#define MIB_MAX (1024ul * 1024ul)     /* 1 TiB per shard: a bound against typos, not a limit */

static const char usage[] =
	"usage: mklog DATA_DIR STREAMS SHARDS_PER_STREAM MIB_PER_SHARD [RECORD_BYTES]\n";

/* Parse a decimal in [lo, hi]; returns 0 or -EINVAL (not a number, trailing text, out of range). */
static int parse_ul(const char *s, unsigned long lo, unsigned long hi, unsigned long *out)
{
	char *end;

	if (*s < '0' || *s > '9')   /* strtoul would take blanks and a sign */
		return -EINVAL;
	errno = 0;
	unsigned long v = strtoul(s, &end, 10);
	if (errno || *end || v < lo || v > hi)
		return -EINVAL;
	*out = v;
	return 0;
}

/* mkdir that accepts an existing directory when may_exist; returns 0 or a negative errno. */
static int make_dir(const char *path, bool may_exist)
{
	if (mkdir(path, 0750) == 0)
		return 0;
	if (errno == EEXIST && may_exist) {
		struct stat st;
		if (stat(path, &st) < 0)
			return -errno;
		return S_ISDIR(st.st_mode) ? 0 : -ENOTDIR;
	}
	return -errno;
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * Append records from recs (n of them per burst) to the shard in dir until its log holds
 * log_bytes, then close it cleanly. Returns 0 or a negative errno; *op names the operation.
 */
static int fill_shard(struct dp_committer *c, const char *dir, uint32_t index,
		      const struct dp_log_config *cfg, const struct dp_record_in *recs, unsigned n,
		      uint64_t log_bytes, const char **op)
{
	struct dp_shard_info info = { .shard_index = index, .created_ms = now_ms() };
	struct dp_shard_stats st = { 0 };
	struct dp_shard *sh;
	int r, rc;

	*op = "dp_shard_open";
	r = dp_shard_open(c, dir, &info, cfg, NULL, &sh);
	if (r < 0)
		return r;
	while (st.bytes_staged < log_bytes) {
		uint64_t first;

		for (;;) {
			*op = "dp_shard_append";
			r = dp_shard_append(sh, recs, n, now_ms(), &first);
			if (r != -EAGAIN)
				break;
			/* Every staging buffer is busy: wait for a flush to complete. */
			*op = "dp_committer_poll";
			r = dp_committer_poll(c, true);
			if (r < 0)
				goto close_shard;
		}
		if (r < 0)
			goto close_shard;
		*op = "dp_committer_poll";
		r = dp_committer_poll(c, false);
		if (r < 0)
			goto close_shard;
		dp_shard_stats_get(sh, &st);
	}
	r = 0;
close_shard:
	rc = dp_shard_close(sh);
	if (r == 0 && rc < 0) {
		*op = "dp_shard_close";
		r = rc;
	}
	return r;
}

/* path = the printf-style result; returns 0 or -ENAMETOOLONG. */
static int __attribute__((format(printf, 2, 3)))
path_fmt(char path[PATH_MAX], const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	int w = vsnprintf(path, PATH_MAX, fmt, ap);
	va_end(ap);
	return w < 0 || w >= PATH_MAX ? -ENAMETOOLONG : 0;
}

/*
 * Create the directories and fill every shard. Returns 0 or a negative errno, after printing
 * one line that names the directory or shard and the operation that failed.
 */
static int write_tree(struct dp_committer *c, const char *data_dir, unsigned long streams,
		      unsigned long shards, uint64_t log_bytes, const struct dp_record_in *recs,
		      unsigned burst)
{
	struct dp_log_config cfg;
	char path[PATH_MAX];
	const char *op;
	int r;

	dp_log_config_default(&cfg);
	cfg.durability = DP_DUR_NONE;

	if ((r = path_fmt(path, "%s", data_dir)) < 0 || (r = make_dir(path, true)) < 0 ||
	    (r = path_fmt(path, "%s/streams", data_dir)) < 0 || (r = make_dir(path, true)) < 0)
		goto dir_failed;
	for (unsigned long s = 0; s < streams; s++) {
		if ((r = path_fmt(path, "%s/streams/stream-%03lu", data_dir, s)) < 0 ||
		    (r = make_dir(path, true)) < 0)
			goto dir_failed;
		for (unsigned long i = 0; i < shards; i++) {
			char id[DP_SHARD_ID_LEN + 1];

			dp_shard_id_format((uint32_t)i, id);
			if ((r = path_fmt(path, "%s/streams/stream-%03lu/%s", data_dir, s, id)) < 0 ||
			    (r = make_dir(path, false)) < 0)
				goto dir_failed;
			r = fill_shard(c, path, (uint32_t)i, &cfg, recs, burst, log_bytes, &op);
			if (r < 0) {
				fprintf(stderr, "mklog: writing shard log %s failed in %s: %s\n", path, op,
					strerror(-r));
				return r;
			}
		}
	}

	/* The closes synced each active segment; sync the rest too (directories, rolled segments)
	 * so that a benchmark started next does not share the disk with this writeback. */
	int dfd = open(data_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0 || syncfs(dfd) < 0) {
		r = -errno;
		if (dfd >= 0)
			close(dfd);
		fprintf(stderr, "mklog: cannot sync the file system of %s: %s\n", data_dir,
			strerror(-r));
		return r;
	}
	close(dfd);
	return 0;

dir_failed:
	fprintf(stderr, "mklog: cannot create directory %s: %s%s\n", path, strerror(-r),
		r == -EEXIST ? " (mklog only creates new shard logs)" : "");
	return r;
}

int main(int argc, char **argv)
{
	unsigned long streams, shards, mib, record_bytes = 1024;
	static uint8_t keys[BURST_MAX][KEY_BYTES];
	struct dp_record_in recs[BURST_MAX];
	struct dp_committer *c;
	int rc = 1, r;

	if (argc < 5 || argc > 6) {
		fprintf(stderr, "mklog: expected 4 or 5 arguments, got %d; %s", argc - 1, usage);
		return 2;
	}
	if (!*argv[1]) {
		fprintf(stderr, "mklog: DATA_DIR must not be empty\n");
		return 2;
	}
	if (parse_ul(argv[2], 1, STREAMS_MAX, &streams) < 0) {
		fprintf(stderr, "mklog: STREAMS must be 1..%lu, got '%s'\n", STREAMS_MAX, argv[2]);
		return 2;
	}
	if (parse_ul(argv[3], 1, SHARDS_MAX, &shards) < 0) {
		fprintf(stderr, "mklog: SHARDS_PER_STREAM must be 1..%lu, got '%s'\n", SHARDS_MAX,
			argv[3]);
		return 2;
	}
	if (parse_ul(argv[4], 1, MIB_MAX, &mib) < 0) {
		fprintf(stderr, "mklog: MIB_PER_SHARD must be 1..%lu, got '%s'\n", MIB_MAX, argv[4]);
		return 2;
	}
	if (argc == 6 && parse_ul(argv[5], 1, DP_DATA_MAX, &record_bytes) < 0) {
		fprintf(stderr, "mklog: RECORD_BYTES must be 1..%u, got '%s'\n", DP_DATA_MAX, argv[5]);
		return 2;
	}

	/* One burst of records: distinct keys, the same deterministic data for all. */
	unsigned burst = (unsigned)(BURST_BYTES / record_bytes);
	burst = burst < 1 ? 1 : burst > BURST_MAX ? BURST_MAX : burst;
	uint8_t *data = malloc(record_bytes);
	if (!data) {
		fprintf(stderr, "mklog: cannot allocate a %lu-byte record: %s\n", record_bytes,
			strerror(ENOMEM));
		return 1;
	}
	for (unsigned long i = 0; i < record_bytes; i++)
		data[i] = (uint8_t)(i * 131u + 7u);
	for (unsigned i = 0; i < burst; i++) {
		char k[KEY_BYTES + 1];

		snprintf(k, sizeof(k), "pk-%012u", i);
		k[KEY_BYTES - 1] = 'k';
		memcpy(keys[i], k, KEY_BYTES);
		recs[i] = (struct dp_record_in){ .key = keys[i], .data = data,
			.data_len = (uint32_t)record_bytes, .key_len = KEY_BYTES };
	}

	r = dp_committer_new(COMMITTER_ENTRIES, NULL, NULL, &c);
	if (r < 0) {
		fprintf(stderr, "mklog: cannot set up io_uring (dp_committer_new): %s\n", strerror(-r));
		goto free_data;
	}
	if (write_tree(c, argv[1], streams, shards, (uint64_t)mib << 20, recs, burst) < 0)
		goto free_committer;
	printf("mklog: %lu stream(s) x %lu shard(s) x %lu MiB of %lu-byte records under %s/streams\n",
	       streams, shards, mib, record_bytes, argv[1]);
	rc = 0;
free_committer:
	dp_committer_free(c);
free_data:
	free(data);
	return rc;
}
