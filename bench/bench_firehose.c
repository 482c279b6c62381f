/* SPDX-License-Identifier: MIT */
/*
 * bench_firehose: delivery throughput of a DirectPut delivery stream into the local S3
 * directory, uncompressed and with each codec, beside the raw sequential write bandwidth of the
 * same disk, measured in the same run (bench/run firehose drives it; docs/performance.md).
 *
 *   bench_firehose DIR MIB OBJECT_MIB REPETITIONS [CODEC,...]
 *
 * Firehose_<CODEC>/<MIB>: a delivery stream (SizeInMBs OBJECT_MIB, IntervalInSeconds 900, so
 * that only size cuts buffers) whose log was filled beforehand with MIB MiB of 1 KiB JSON-like
 * records (untimed, durable); then the clock runs from the first delivery tick until the
 * stream reports every record delivered: the engine reads its log, buffers, and its worker
 * compresses, writes, fsyncs and renames each OBJECT_MIB object and fsyncs its directory.
 * bytes = input bytes; cpu = the process's CPU time (control thread and worker).
 * Baseline_RawWrite/<MIB>: write() of 8 MiB blocks to one file under DIR, fdatasync after every
 * OBJECT_MIB and at the end: the disk's sequential write bandwidth with the same sync points.
 *
 * One JSON object per measurement on stdout: {"name", "seconds", "cpu_seconds", "bytes",
 * "items"}; the order alternates between repetitions so that a drift of the disk hits all.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "ctl_aws.h"
#include "ctl_firehose_internal.h"
#include "ctl_meta.h"

#define REC 1024u
#define RAW_BLOCK (8u << 20)

static struct {
	const char *dir;
	char s3[4096];
	struct ctl_meta *meta;
	struct dp_committer *c;
	struct ctl_fh *fh;
	struct ctl_aws *aws;
	struct dp_log_config log;
} B;

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int64_t wall_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static double cpu_s(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
	       (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static void on_ack(void *arg, struct dp_shard *sh, uint64_t ack_next)
{
	(void)arg;
	ctl_fh_on_ack(B.fh, sh, ack_next);
}

struct answer {
	unsigned status;
	char *body;
};

static void answer(void *arg, unsigned status, const char *ct, char *body, size_t len,
		   const char *rid, const char *const *headers)
{
	(void)ct, (void)len, (void)rid, (void)headers;
	struct answer *a = arg;
	a->status = status;
	a->body = body;
}

static int api(const char *op, const char *body)
{
	char target[96];
	snprintf(target, sizeof(target), "Firehose_20150804.%s", op);
	struct ctl_aws_request r = { .method = "POST", .target = target, .body = body,
				     .len = strlen(body) };
	struct answer a = { 0, NULL };
	struct ctl_aws_call *call = ctl_aws_invoke(B.aws, &r, answer, &a);
	ctl_aws_call_free(call);
	if (a.status != 200)
		fprintf(stderr, "bench_firehose: %s: %u %s\n", op, a.status, a.body ? a.body : "");
	free(a.body);
	return a.status == 200 ? 0 : -EIO;
}

/* JSON event records: fields from small vocabularies and numbers, so that they compress about
 * as much as event logs do (gzip: about 4x). */
static void fill_record(uint8_t *p, uint64_t i)
{
	static const char *const ev[] = { "click", "view", "purchase", "scroll", "login" };
	static const char *const words[] = {
		"alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india",
		"juliet", "kilo", "lima", "mike", "november", "oscar", "papa", "quebec", "romeo",
		"sierra", "tango", "uniform", "victor", "whiskey", "xray", "yankee", "zulu", "home",
		"cart", "search", "checkout", "profile", "settings" };
	uint64_t x = (i + 1) * 0x9e3779b97f4a7c15ull;
	int w = snprintf((char *)p, REC, "{\"seq\":%" PRIu64 ",\"user\":\"u%05u\",\"event\":\"%s\","
			 "\"price\":%u.%02u,\"path\":\"", i, (unsigned)(x >> 40) % 50000,
			 ev[(x >> 20) % 5], (unsigned)(x >> 8) % 1000, (unsigned)x % 100);
	unsigned k = (unsigned)w;
	while (k < REC - 16) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		const char *wd = words[x % 32];
		size_t l = strlen(wd);
		if (k + l + 1 >= REC - 3)
			break;
		memcpy(p + k, wd, l);
		p[k + l] = '/';
		k += (unsigned)l + 1;
	}
	while (k < REC - 3)
		p[k++] = ' ';
	memcpy(p + REC - 3, "\"}\n", 3);
}

static int deliver(const char *codec, unsigned mib, unsigned obj_mib, int rep)
{
	char name[64], body[1024];
	snprintf(name, sizeof(name), "bench-%s-%d", codec, rep);
	for (char *s = name; *s; s++)
		if (*s == '_')
			*s = '-';
	snprintf(body, sizeof(body), "{\"DeliveryStreamName\":\"%s\","
		 "\"ExtendedS3DestinationConfiguration\":{\"RoleARN\":\"arn:aws:iam::0:role/b\","
		 "\"BucketARN\":\"arn:aws:s3:::bench-bucket\",\"Prefix\":\"%s/\","
		 "\"BufferingHints\":{\"SizeInMBs\":%u,\"IntervalInSeconds\":900},"
		 "\"CompressionFormat\":\"%s\"}}", name, name, obj_mib, codec);
	if (api("CreateDeliveryStream", body) < 0)
		return -EIO;
	/* Fill (untimed): batches of 1000 records, durable before the clock starts. */
	uint64_t n = (uint64_t)mib * (1u << 20) / REC;
	uint8_t *data = malloc(1000 * REC);
	struct dp_record_in recs[1000];
	if (!data)
		return -ENOMEM;
	for (uint64_t i = 0; i < n; i += 1000) {
		unsigned m = n - i < 1000 ? (unsigned)(n - i) : 1000;
		for (unsigned k = 0; k < m; k++) {
			fill_record(data + (size_t)k * REC, i + k);
			recs[k] = (struct dp_record_in){ "k", data + (size_t)k * REC, REC, 1 };
		}
		int r = fh_stream_append(B.fh, name, recs, m, wall_ms());
		if (r < 0) {
			fprintf(stderr, "bench_firehose: append: %s\n", strerror(-r));
			free(data);
			return r;
		}
		dp_committer_poll(B.c, false);
	}
	free(data);
	while (dp_committer_inflight(B.c) > 0 || dp_committer_poll(B.c, false) > 0)
		dp_committer_poll(B.c, true);
	double c0 = cpu_s(), t0 = now_s();
	uint64_t delivered = 0;
	for (;;) {
		ctl_fh_tick(B.fh, wall_ms());
		json_t *st = ctl_fh_stats(B.fh);
		size_t i;
		json_t *m;
		json_array_foreach(st, i, m)
			if (strcmp(json_string_value(json_object_get(m, "DeliveryStreamName")), name) == 0)
				delivered = (uint64_t)json_integer_value(json_object_get(m,
									   "DeliveredRecords"));
		json_decref(st);
		if (delivered >= n)
			break;
		/* 1 ms: the tick is cheap, but a tighter loop takes CPU from the worker. */
		struct timespec ts = { 0, 1000000 };
		nanosleep(&ts, NULL);
	}
	double secs = now_s() - t0, cpu = cpu_s() - c0;
	printf("{\"name\":\"Firehose_%s/%u\",\"seconds\":%.6f,\"cpu_seconds\":%.6f,\"bytes\":%" PRIu64
	       ",\"items\":%" PRIu64 "}\n", codec, mib, secs, cpu, n * REC, n);
	fflush(stdout);
	snprintf(body, sizeof(body), "{\"DeliveryStreamName\":\"%s\"}", name);
	api("DeleteDeliveryStream", body);
	char cmd[8192];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s/bench-bucket/%s'", B.s3, name);
	return system(cmd) == 0 ? 0 : -EIO;
}

static int raw_write(unsigned mib, unsigned obj_mib)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/raw-write.bin", B.dir);
	uint8_t *buf = aligned_alloc(4096, RAW_BLOCK);
	if (!buf)
		return -ENOMEM;
	for (size_t i = 0; i < RAW_BLOCK; i += REC)
		fill_record(buf + i, i);
	double c0 = cpu_s(), t0 = now_s();
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	int rc = fd < 0 ? -errno : 0;
	uint64_t total = (uint64_t)mib << 20, done = 0, since_sync = 0;
	while (rc == 0 && done < total) {
		size_t w = total - done < RAW_BLOCK ? (size_t)(total - done) : RAW_BLOCK;
		ssize_t r = write(fd, buf, w);
		if (r <= 0) {
			rc = r < 0 ? -errno : -EIO;
			break;
		}
		done += (uint64_t)r;
		since_sync += (uint64_t)r;
		if (since_sync >= (uint64_t)obj_mib << 20 || done == total) {
			if (fdatasync(fd) < 0)
				rc = -errno;
			since_sync = 0;
		}
	}
	if (fd >= 0)
		close(fd);
	double secs = now_s() - t0, cpu = cpu_s() - c0;
	unlink(path);
	free(buf);
	if (rc == 0)
		printf("{\"name\":\"Baseline_RawWrite/%u\",\"seconds\":%.6f,\"cpu_seconds\":%.6f,"
		       "\"bytes\":%" PRIu64 ",\"items\":%" PRIu64 "}\n", mib, secs, cpu, total,
		       total / REC);
	fflush(stdout);
	return rc;
}

int main(int argc, char **argv)
{
	if (argc != 5 && argc != 6) {
		fprintf(stderr, "usage: bench_firehose DIR MIB OBJECT_MIB REPETITIONS [CODEC,...]\n");
		return 2;
	}
	B.dir = argv[1];
	unsigned mib = (unsigned)atoi(argv[2]), obj = (unsigned)atoi(argv[3]);
	int reps = atoi(argv[4]);
	if (mib < 1 || obj < 1 || obj > 128 || reps < 1 || mib % obj) {
		fprintf(stderr, "bench_firehose: MIB must be a multiple of OBJECT_MIB (1..128)\n");
		return 2;
	}
	snprintf(B.s3, sizeof(B.s3), "%s/s3", B.dir);
	char path[4200];
	snprintf(path, sizeof(path), "%s/meta.db", B.dir);
	dp_log_config_default(&B.log);
	struct ctl_aws_config ac = { 0 };
	struct ctl_fh_config fc = { .data_dir = B.dir, .s3_root = B.s3, .log = &B.log };
	if (ctl_meta_open(path, &B.meta) < 0 || dp_committer_new(256, on_ack, NULL, &B.c) < 0 ||
	    ctl_fh_new(&fc, B.meta, B.c, NULL, NULL, &B.fh) < 0 || ctl_aws_new(&ac, &B.aws) < 0 ||
	    ctl_fh_register(B.fh, B.aws) < 0) {
		fprintf(stderr, "bench_firehose: setup under %s failed\n", B.dir);
		return 1;
	}
	static const char *const codecs[] = { "UNCOMPRESSED", "GZIP", "ZIP", "Snappy",
					      "HADOOP_SNAPPY", "ZSTD" };
	const unsigned nc = sizeof(codecs) / sizeof(codecs[0]);
	int rc = 0;
	for (int r = 0; r < reps && rc == 0; r++) {
		if (r % 2 == 0)
			rc = raw_write(mib, obj);
		for (unsigned i = 0; i < nc && rc == 0; i++) {
			const char *cd = codecs[r % 2 ? nc - 1 - i : i];
			if (argc == 6 && !strstr(argv[5], cd))
				continue;
			rc = deliver(cd, mib, obj, r);
		}
		if (r % 2 == 1 && rc == 0)
			rc = raw_write(mib, obj);
	}
	ctl_fh_free(B.fh);
	ctl_aws_free(B.aws);
	ctl_meta_close(B.meta);
	dp_committer_free(B.c);
	if (rc < 0)
		fprintf(stderr, "bench_firehose: %s\n", strerror(-rc));
	return rc < 0 ? 1 : 0;
}
