/* SPDX-License-Identifier: MIT */
/*
 * bench_fn: the function runtime and event source mappings (bench/run functions).
 *
 *  BM_FnBuiltinFlatten        invocations/s of the flatten_json built-in through wf_fn_invoke
 *                             and wf_fn_runtime_poll (a 300-byte nested record)
 *  BM_Baseline_FlattenDirect  the same record parsed, flattened and printed with no runtime
 *  BM_FnProgram/W             invocations/s of a tiny C program (bench/fn_tiny.c) run by W
 *                             workers, with 4 x W calls queued
 *  BM_Baseline_ForkExec       fork + execve + pipes + waitpid of the same program, one at a time
 *  BM_EsmFlatten/B            records/s from a 1-shard stream through an event source mapping
 *                             (BatchSize B) into flatten_data (each record's data decoded and
 *                             flattened as flatten_json does), until the mapping processed them
 *                             all: the modules composed as ingestd composes them
 *  BM_Baseline_ReadFlatten/B  the same records read with GetRecords (Limit B) through the same
 *                             front-end and flattened directly, with no mapping or invocation
 *
 * Repetitions interleave: every benchmark runs once, then every one again, and so on.
 * It speaks enough of Google Benchmark's command line (--benchmark_format=json,
 * --benchmark_out=F, --benchmark_repetitions=N, --benchmark_min_time=T (T < 1 means a short
 * run), --benchmark_filter=RE, --benchmark_list_tests=true) and writes its JSON, so bench/run
 * treats it as any other suite.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <libgen.h>
#include <limits.h>
#include <math.h>
#include <poll.h>
#include <regex.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "ctl_aws.h"
#include "ctl_b64.h"
#include "ctl_config.h"
#include "ctl_dataplane.h"
#include "ctl_kinesis.h"
#include "ctl_lambda.h"
#include "ctl_log.h"
#include "ctl_loop.h"
#include "ctl_meta.h"
#include "ctl_shards.h"
#include "dp_ingest.h"
#include "dp_log.h"
#include "wf_fn.h"

static const char RECORD[] =
	"{\"id\":42,\"timestamp\":\"2026-01-01T00:00:00Z\",\"user\":{\"name\":\"alice\",\"age\":31,"
	"\"address\":{\"city\":\"Hanoi\",\"country\":\"VN\",\"geo\":{\"lat\":21.0,\"lon\":105.8}}},"
	"\"event\":{\"type\":\"click\",\"value\":12.5,\"device\":{\"os\":\"linux\",\"mobile\":false}},"
	"\"tags\":[\"generated\",\"view\"],\"session\":{\"id\":\"s-1\",\"page\":{\"path\":\"/a\","
	"\"ref\":\"/b\"}}}";

static bool g_quick;
static char g_tiny[PATH_MAX];

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- runtime benchmarks ---------------------------------------------------------------------- */

static void count_done(void *arg, const struct wf_fn_result *r)
{
	uint64_t *n = arg;
	if (r->ok)
		(*n)++;
}

static int bm_builtin(long arg, uint64_t *items, double *secs)
{
	(void)arg;
	struct wf_fn_config cfg = { .workers = 1, .queue_max = 4096 };
	struct wf_fn_runtime *rt;
	if (wf_fn_runtime_new(&cfg, &rt) < 0)
		return -1;
	struct wf_fn_def d = { .name = "flat", .kind = WF_FN_BUILTIN, .handler = "flatten_json" };
	uint64_t n = g_quick ? 20000 : 50000, done = 0;
	double t = now_s();
	for (uint64_t i = 0; i < n; i++) {
		if (wf_fn_invoke(rt, &d, RECORD, sizeof(RECORD) - 1, count_done, &done) < 0)
			return -1;
		if ((i & 255) == 255)
			wf_fn_runtime_poll(rt);
	}
	wf_fn_runtime_poll(rt);
	*secs = now_s() - t;
	*items = done;
	wf_fn_runtime_free(rt);
	return done == n ? 0 : -1;
}

static int bm_flatten_direct(long arg, uint64_t *items, double *secs)
{
	(void)arg;
	uint64_t n = g_quick ? 20000 : 50000;
	double t = now_s();
	for (uint64_t i = 0; i < n; i++) {
		json_t *in = json_loadb(RECORD, sizeof(RECORD) - 1, 0, NULL);
		json_t *out = wf_fn_flatten(in);
		char *s = json_dumps(out, JSON_COMPACT);
		if (!s)
			return -1;
		free(s);
		json_decref(out);
		json_decref(in);
	}
	*secs = now_s() - t;
	*items = n;
	return 0;
}

static int bm_program(long workers, uint64_t *items, double *secs)
{
	struct wf_fn_config cfg = { .workers = (unsigned)workers, .queue_max = 4096 };
	struct wf_fn_runtime *rt;
	if (wf_fn_runtime_new(&cfg, &rt) < 0)
		return -1;
	struct wf_fn_def d = { .name = "tiny", .kind = WF_FN_PROGRAM, .handler = g_tiny,
			       .timeout_s = 10 };
	uint64_t n = g_quick ? 200 : 2000, started = 0, done = 0;
	double t = now_s();
	while (done < n) {
		while (started < n && started - done < (uint64_t)workers * 4) {
			if (wf_fn_invoke(rt, &d, RECORD, sizeof(RECORD) - 1, count_done, &done) < 0)
				return -1;
			started++;
		}
		if (wf_fn_runtime_poll(rt) == 0)
			usleep(50);
		if (wf_fn_runtime_pending(rt) == 0 && done < started)
			return -1;  /* a call failed */
	}
	*secs = now_s() - t;
	*items = done;
	wf_fn_runtime_free(rt);
	return 0;
}

static int bm_fork_exec(long arg, uint64_t *items, double *secs)
{
	(void)arg;
	uint64_t n = g_quick ? 200 : 2000;
	char *argv[] = { g_tiny, NULL }, *envp[] = { NULL };
	double t = now_s();
	for (uint64_t i = 0; i < n; i++) {
		int in[2], out[2];
		if (pipe2(in, O_CLOEXEC) < 0 || pipe2(out, O_CLOEXEC) < 0)
			return -1;
		pid_t pid = fork();
		if (pid == 0) {
			dup2(in[0], 0);
			dup2(out[1], 1);
			execve(g_tiny, argv, envp);
			_exit(127);
		}
		close(in[0]);
		close(out[1]);
		if (write(in[1], RECORD, sizeof(RECORD) - 1) < 0)
			return -1;
		close(in[1]);
		char buf[256];
		while (read(out[0], buf, sizeof(buf)) > 0)
			;
		close(out[0]);
		int st;
		waitpid(pid, &st, 0);
		if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
			return -1;
	}
	*secs = now_s() - t;
	*items = n;
	return 0;
}

/* ---- the composed daemon --------------------------------------------------------------------- */

struct app {
	char dir[64];
	struct ctl_config cfg;
	struct ctl_dataplane dp;      /* --nic none: one engine this thread drives */
	struct ctl_shards *shards;
	struct ctl_meta *meta;
	struct ctl_kinesis *k;
	struct ctl_aws *aws;
	struct ctl_loop *loop;
	struct ctl_lambda *l;
	int cfd;
};

struct answer {
	bool in;
	unsigned status;
	json_t *body;
};

static void on_answer(void *arg, unsigned status, const char *ctype, char *body, size_t len,
		      const char *rid, const char *const *headers)
{
	(void)ctype, (void)rid, (void)headers;
	struct answer *a = arg;
	a->in = true;
	a->status = status;
	a->body = len ? json_loadb(body, len, JSON_DECODE_ANY, NULL) : NULL;
	free(body);
}

/* One turn of ingestd's loop (--nic none): the engine's flushes, finished puts, descriptors,
 * ticks. */
static void turn(struct app *a, int wait_ms)
{
	uint64_t ev;
	if (read(a->cfd, &ev, sizeof(ev)) < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
		return;
	ctl_shards_poll(a->shards);
	ctl_kinesis_reap(a->k);
	struct pollfd p[42] = { { .fd = a->cfd, .events = POLLIN },
				{ .fd = dp_ingest_event_fd(a->dp.g), .events = POLLIN } };
	unsigned n = 2 + ctl_loop_pollfds(a->loop, p + 2, 40);
	int pr = poll(p, n, wait_ms);
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	ctl_loop_dispatch(a->loop, p + 2, pr > 0 ? n - 2 : 0,
			  (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
	ctl_shards_poll(a->shards);
	ctl_kinesis_reap(a->k);
}

/* A request through the front-end, driven until answered. Returns the status; *out the body. */
static unsigned call(struct app *a, const char *method, const char *target, const char *path,
		     const char *body, json_t **out)
{
	struct ctl_aws_request r = { .method = method, .target = target, .path = path,
				     .content_type = "application/x-amz-json-1.1", .body = body,
				     .len = body ? strlen(body) : 0, .trusted = true };
	struct answer an = { 0 };
	struct ctl_aws_call *c = ctl_aws_invoke(a->aws, &r, on_answer, &an);
	while (!an.in)
		turn(a, 1);
	ctl_aws_call_free(c);
	if (out)
		*out = an.body;
	else
		json_decref(an.body);
	return an.status;
}

static int rm_cb(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st, (void)flag, (void)ftw;
	remove(p);
	return 0;
}

static void app_free(struct app *a)
{
	ctl_kinesis_drain(a->k);
	ctl_lambda_free(a->l);
	ctl_kinesis_free(a->k);
	ctl_aws_free(a->aws);
	ctl_shards_close(a->shards);
	ctl_meta_close(a->meta);
	ctl_dataplane_stop(&a->dp);
	ctl_loop_free(a->loop);
	nftw(a->dir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

static int app_new(struct app *a)
{
	memset(a, 0, sizeof(*a));
	snprintf(a->dir, sizeof(a->dir), "/var/tmp/ingest-bench-fn-XXXXXX");
	if (!mkdtemp(a->dir))
		return -1;
	char *argv[] = { "bench_fn", "--data-dir", a->dir, "--nic", "none", NULL };
	char err[256], path[128];
	if (ctl_config_parse(5, argv, &a->cfg, err, sizeof(err)) < 0)
		return -1;
	snprintf(path, sizeof(path), "%s/meta.db", a->dir);
	struct ctl_shards_summary sum;
	struct ctl_kinesis_config kc = { .shard_limit = 64, .default_retention_h = 24,
					 .iterator_ttl_s = 300 };
	struct ctl_aws_config ac = { 0 };
	struct ctl_lambda_config lc = { .data_dir = a->dir, .poll_ms = 5 };
	if (ctl_loop_new(&a->loop) < 0 || ctl_dataplane_start(&a->cfg, 1, &a->dp) < 0 ||
	    !a->dp.own)
		return -1;
	a->cfd = dp_committer_event_fd(dp_ingest_committer(dp_ingest_worker(a->dp.own, 0)));
	if (a->cfd < 0 || ctl_meta_open(path, &a->meta) < 0 ||
	    ctl_shards_open(a->dir, &a->cfg.log, a->dp.g, a->dp.n, true, ctl_kinesis_max_record,
			    a->meta, &a->shards, &sum) < 0 ||
	    ctl_kinesis_new(&kc, a->meta, a->shards, &a->k) < 0 ||
	    ctl_aws_new(&ac, &a->aws) < 0 || ctl_kinesis_register(a->k, a->aws) < 0 ||
	    ctl_lambda_new(&lc, a->meta, a->aws, a->loop, &a->l) < 0 ||
	    ctl_lambda_register(a->l, a->aws) < 0)
		return -1;
	return 0;
}

/* A stream "s" of one shard holding n copies of RECORD, and a function "flat" (flatten_data). */
static int app_fill(struct app *a, unsigned n)
{
	if (call(a, "POST", "Kinesis_20131202.CreateStream", "/",
		 "{\"StreamName\":\"s\",\"ShardCount\":1}", NULL) != 200)
		return -1;
	char b64[sizeof(RECORD) * 2];
	ctl_b64_encode(RECORD, sizeof(RECORD) - 1, b64);
	for (unsigned done = 0; done < n;) {
		json_t *recs = json_array();
		for (unsigned i = 0; i < 500 && done + i < n; i++)
			json_array_append_new(recs, json_pack("{s:s, s:s}", "Data", b64,
							      "PartitionKey", "k"));
		done += (unsigned)json_array_size(recs);
		json_t *in = json_pack("{s:s, s:o}", "StreamName", "s", "Records", recs);
		char *text = json_dumps(in, JSON_COMPACT);
		json_decref(in);
		unsigned st = call(a, "POST", "Kinesis_20131202.PutRecords", "/", text, NULL);
		free(text);
		if (st != 200)
			return -1;
	}
	return call(a, "POST", NULL, "/2015-03-31/functions", "{\"FunctionName\":\"flat\","
		    "\"Runtime\":\"builtin\",\"Handler\":\"flatten_data\",\"Role\":\"r\","
		    "\"Code\":{}}", NULL) == 201 ? 0 : -1;
}

static int bm_esm(long batch, uint64_t *items, double *secs)
{
	struct app a;
	unsigned n = g_quick ? 5000 : 20000;
	int rc = -1;
	if (app_new(&a) < 0 || app_fill(&a, n) < 0)
		goto out;
	char body[512];
	snprintf(body, sizeof(body), "{\"FunctionName\":\"flat\",\"EventSourceArn\":\"arn:aws:"
		 "kinesis:us-east-1:000000000000:stream/s\",\"StartingPosition\":\"TRIM_HORIZON\","
		 "\"BatchSize\":%ld}", batch);
	double t = now_s();
	if (call(&a, "POST", NULL, "/2015-03-31/event-source-mappings/", body, NULL) != 202)
		goto out;
	unsigned fns, maps;
	uint64_t recs = 0;
	while (recs < n && now_s() - t < 120) {
		turn(&a, 1);
		ctl_lambda_counts(a.l, &fns, &maps, &recs);
	}
	*secs = now_s() - t;
	*items = recs;
	rc = recs == n ? 0 : -1;
out:
	app_free(&a);
	return rc;
}

static int bm_read_flatten(long batch, uint64_t *items, double *secs)
{
	struct app a;
	unsigned n = g_quick ? 5000 : 20000;
	uint64_t got = 0;
	int rc = -1;
	if (app_new(&a) < 0 || app_fill(&a, n) < 0)
		goto out;
	double t = now_s();
	json_t *out = NULL;
	if (call(&a, "POST", "Kinesis_20131202.GetShardIterator", "/", "{\"StreamName\":\"s\","
		 "\"ShardId\":\"shardId-000000000000\",\"ShardIteratorType\":\"TRIM_HORIZON\"}",
		 &out) != 200)
		goto out;
	char *it = strdup(json_string_value(json_object_get(out, "ShardIterator")));
	json_decref(out);
	while (it && got < n) {
		char body[1024];
		snprintf(body, sizeof(body), "{\"ShardIterator\":\"%s\",\"Limit\":%ld}", it, batch);
		free(it);
		it = NULL;
		if (call(&a, "POST", "Kinesis_20131202.GetRecords", "/", body, &out) != 200)
			break;
		size_t i;
		json_t *r;
		json_array_foreach(json_object_get(out, "Records"), i, r) {
			const char *d = json_string_value(json_object_get(r, "Data"));
			uint8_t raw[sizeof(RECORD) + 8];
			long len = ctl_b64_decode(d, strlen(d), raw);
			json_t *v = json_loadb((const char *)raw, (size_t)len, 0, NULL);
			json_t *f = wf_fn_flatten(v);
			char *s = json_dumps(f, JSON_COMPACT);
			free(s);
			json_decref(f);
			json_decref(v);
			got++;
		}
		const char *next = json_string_value(json_object_get(out, "NextShardIterator"));
		it = next ? strdup(next) : NULL;
		json_decref(out);
	}
	free(it);
	*secs = now_s() - t;
	*items = got;
	rc = got == n ? 0 : -1;
out:
	app_free(&a);
	return rc;
}

/* ---- Google Benchmark's shape ---------------------------------------------------------------- */

struct bm {
	const char *name;
	int (*fn)(long arg, uint64_t *items, double *secs);
	long arg;
};

static const struct bm g_bms[] = {
	{ "BM_FnBuiltinFlatten", bm_builtin, 0 },
	{ "BM_Baseline_FlattenDirect", bm_flatten_direct, 0 },
	{ "BM_FnProgram/1", bm_program, 1 },
	{ "BM_FnProgram/4", bm_program, 4 },
	{ "BM_Baseline_ForkExec", bm_fork_exec, 0 },
	{ "BM_EsmFlatten/100", bm_esm, 100 },
	{ "BM_EsmFlatten/1000", bm_esm, 1000 },
	{ "BM_Baseline_ReadFlatten/100", bm_read_flatten, 100 },
	{ "BM_Baseline_ReadFlatten/1000", bm_read_flatten, 1000 },
};
#define N_BMS (sizeof(g_bms) / sizeof(g_bms[0]))

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	const char *out_path = NULL, *filter = NULL;
	int reps = 1;
	bool list = false;
	for (int i = 1; i < argc; i++) {
		if (strncmp(argv[i], "--benchmark_out=", 16) == 0)
			out_path = argv[i] + 16;
		else if (strncmp(argv[i], "--benchmark_filter=", 19) == 0)
			filter = argv[i] + 19;
		else if (strncmp(argv[i], "--benchmark_repetitions=", 24) == 0)
			reps = atoi(argv[i] + 24) > 0 ? atoi(argv[i] + 24) : 1;
		else if (strncmp(argv[i], "--benchmark_min_time=", 21) == 0)
			g_quick = atof(argv[i] + 21) < 1.0;
		else if (strcmp(argv[i], "--benchmark_list_tests=true") == 0)
			list = true;
	}
	regex_t re;
	if (filter && regcomp(&re, filter, REG_EXTENDED | REG_NOSUB) != 0) {
		fprintf(stderr, "bench_fn: bad --benchmark_filter\n");
		return 2;
	}
	if (list) {
		for (size_t i = 0; i < N_BMS; i++)
			if (!filter || regexec(&re, g_bms[i].name, 0, NULL, 0) == 0)
				puts(g_bms[i].name);
		return 0;
	}
	char self[PATH_MAX];
	ssize_t sl = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (sl < 0)
		return 1;
	self[sl] = '\0';
	snprintf(g_tiny, sizeof(g_tiny), "%s/fn_tiny", dirname(self));
	ctl_log_set_level(CTL_LOG_WARN);

	/* Repetitions interleave (every benchmark once, then again), so that a change of the
	 * machine's load hits a benchmark and its baseline alike. */
	json_t *benches = json_array();
	int failed = 0;
	if (reps > 64)
		reps = 64;
	static double rate[N_BMS][64], ns[N_BMS][64];
	int n[N_BMS] = { 0 };
	for (int r = 0; r < reps; r++) {
		for (size_t i = 0; i < N_BMS; i++) {
			const struct bm *b = &g_bms[i];
			if (filter && regexec(&re, b->name, 0, NULL, 0) != 0)
				continue;
			uint64_t items = 0;
			double secs = 0;
			json_t *e = json_pack("{s:s, s:s, s:s, s:i, s:i, s:i}", "name", b->name,
					      "run_name", b->name, "run_type", "iteration",
					      "repetitions", reps, "repetition_index", r, "threads", 1);
			if (b->fn(b->arg, &items, &secs) < 0 || !items || secs <= 0) {
				json_object_set_new(e, "error_occurred", json_true());
				json_object_set_new(e, "error_message", json_string("run failed"));
				failed = 1;
				fprintf(stderr, "%-32s failed\n", b->name);
			} else {
				int k = n[i]++;
				rate[i][k] = (double)items / secs;
				ns[i][k] = secs * 1e9 / (double)items;
				json_object_set_new(e, "iterations", json_integer((json_int_t)items));
				json_object_set_new(e, "real_time", json_real(ns[i][k]));
				json_object_set_new(e, "cpu_time", json_real(ns[i][k]));
				json_object_set_new(e, "time_unit", json_string("ns"));
				json_object_set_new(e, "items_per_second", json_real(rate[i][k]));
				fprintf(stderr, "%-32s %12.0f items/s\n", b->name, rate[i][k]);
			}
			json_array_append_new(benches, e);
		}
	}
	for (size_t i = 0; reps > 1 && i < N_BMS; i++) {
		const struct bm *b = &g_bms[i];
		int k = n[i];
		if (!k)
			continue;
		double mean = 0, var = 0;
		for (int j = 0; j < k; j++)
			mean += rate[i][j] / k;
		for (int j = 0; j < k; j++)
			var += (rate[i][j] - mean) * (rate[i][j] - mean) / k;
		qsort(rate[i], (size_t)k, sizeof(double), cmp_d);
		qsort(ns[i], (size_t)k, sizeof(double), cmp_d);
		char agg[128];
		snprintf(agg, sizeof(agg), "%s_median", b->name);
		json_array_append_new(benches, json_pack(
			"{s:s, s:s, s:s, s:s, s:i, s:f, s:f, s:s, s:f}", "name", agg, "run_name",
			b->name, "run_type", "aggregate", "aggregate_name", "median", "repetitions",
			reps, "real_time", ns[i][k / 2], "cpu_time", ns[i][k / 2], "time_unit", "ns",
			"items_per_second", rate[i][k / 2]));
		snprintf(agg, sizeof(agg), "%s_cv", b->name);
		json_array_append_new(benches, json_pack(
			"{s:s, s:s, s:s, s:s, s:f, s:s}", "name", agg, "run_name", b->name,
			"run_type", "aggregate", "aggregate_name", "cv", "items_per_second",
			mean > 0 ? sqrt(var) / mean : 0.0, "time_unit", "ns"));
	}
	json_t *doc = json_pack("{s:{s:s, s:i}, s:o}", "context", "executable", argv[0],
				"num_cpus", (int)sysconf(_SC_NPROCESSORS_ONLN), "benchmarks", benches);
	if (out_path)
		json_dump_file(doc, out_path, JSON_INDENT(1));
	else
		json_dumpf(doc, stdout, JSON_INDENT(1));
	json_decref(doc);
	return failed;
}
