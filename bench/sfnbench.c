/* SPDX-License-Identifier: MIT */
/*
 * sfnbench: state transitions per second of the Step Functions service layer (ctl_sfn), on one
 * core, without HTTP, for the 10-state Pass/Choice machine of bench/bench_asl.cc (every
 * execution walks all ten states).
 *
 *   sfnbench express  DATA_DIR N          N express executions, in memory, one after another
 *                                         (ctl_sfn_exec_run_sync: machine lookup, start, run)
 *   sfnbench standard DATA_DIR N BATCH    N standard executions started BATCH at a time, each
 *                                         batch journaled in one transaction (ctl_sfn_flush:
 *                                         what the daemon does once per loop turn) into
 *                                         DATA_DIR/meta.db (SQLite WAL, synchronous=FULL)
 *
 * Prints one JSON object: {"executions", "transitions", "seconds", "cpu_seconds", "commits"}.
 * bench/run's workflow suite runs it; it is not a test.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "ctl_meta.h"
#include "ctl_sfn.h"
#include "wf_exec.h"

static const char k_machine10[] =
	"{\"StartAt\":\"S0\",\"States\":{"
	"\"S0\":{\"Type\":\"Pass\",\"Result\":{\"x\":1},\"ResultPath\":\"$.r\",\"Next\":\"S1\"},"
	"\"S1\":{\"Type\":\"Choice\",\"Choices\":[{\"Variable\":\"$.kind\",\"StringEquals\":\"a\","
	"\"Next\":\"S2\"}],\"Default\":\"S9\"},"
	"\"S2\":{\"Type\":\"Pass\",\"Next\":\"S3\"},"
	"\"S3\":{\"Type\":\"Choice\",\"Choices\":[{\"Variable\":\"$.n\",\"NumericGreaterThan\":5,"
	"\"Next\":\"S4\"}],\"Default\":\"S5\"},"
	"\"S4\":{\"Type\":\"Pass\",\"InputPath\":\"$\",\"Next\":\"S5\"},"
	"\"S5\":{\"Type\":\"Choice\",\"Choices\":[{\"And\":[{\"Variable\":\"$.flag\","
	"\"BooleanEquals\":true},{\"Variable\":\"$.r.x\",\"NumericEquals\":1}],\"Next\":\"S6\"}],"
	"\"Default\":\"S9\"},"
	"\"S6\":{\"Type\":\"Pass\",\"Parameters\":{\"n.$\":\"$.n\",\"kind.$\":\"$.kind\","
	"\"flag.$\":\"$.flag\",\"r.$\":\"$.r\"},\"Next\":\"S7\"},"
	"\"S7\":{\"Type\":\"Choice\",\"Choices\":[{\"Variable\":\"$.kind\",\"IsPresent\":true,"
	"\"Next\":\"S8\"}],\"Default\":\"S9\"},"
	"\"S8\":{\"Type\":\"Pass\",\"Next\":\"S9\"},"
	"\"S9\":{\"Type\":\"Succeed\"}}}";

static const char k_input[] = "{\"kind\":\"a\",\"n\":7,\"flag\":true}";

static double now_s(clockid_t clk)
{
	struct timespec ts;
	clock_gettime(clk, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int64_t wall_ms(void)
{
	return (int64_t)(now_s(CLOCK_REALTIME) * 1000.0);
}

int main(int argc, char **argv)
{
	if (argc < 4 || (strcmp(argv[1], "express") != 0 && strcmp(argv[1], "standard") != 0) ||
	    (strcmp(argv[1], "standard") == 0 && argc < 5)) {
		fprintf(stderr, "usage: sfnbench express DATA_DIR N | sfnbench standard DATA_DIR N "
			"BATCH\n");
		return 2;
	}
	bool express = strcmp(argv[1], "express") == 0;
	long n = strtol(argv[3], NULL, 10), batch = express ? 1 : strtol(argv[4], NULL, 10);
	if (n <= 0 || batch <= 0) {
		fprintf(stderr, "sfnbench: N and BATCH must be positive\n");
		return 2;
	}
	char path[4096], arn[256], err[512];
	snprintf(path, sizeof(path), "%s/meta.db", argv[2]);
	struct ctl_meta *meta = NULL;
	struct ctl_sfn *s = NULL;
	if (ctl_meta_open(path, &meta) < 0)
		return 1;
	struct ctl_sfn_config cfg = { .meta = meta };
	int64_t created;
	if (ctl_sfn_new(&cfg, &s) < 0 ||
	    ctl_sfn_machine_create(s, "bench", k_machine10, strlen(k_machine10), express, NULL,
				   wall_ms(), arn, &created, err, sizeof(err)) < 0) {
		fprintf(stderr, "sfnbench: cannot create the machine: %s\n", err);
		return 1;
	}
	json_t *input = json_loads(k_input, 0, NULL);
	struct ctl_sfn_stats st0, st1;
	ctl_sfn_stats_get(s, &st0);
	double t0 = now_s(CLOCK_MONOTONIC), c0 = now_s(CLOCK_PROCESS_CPUTIME_ID);
	int rc = 0;
	if (express) {
		for (long i = 0; i < n && rc == 0; i++) {
			int status;
			json_t *out = NULL;
			rc = ctl_sfn_exec_run_sync(s, "bench", input, wall_ms(), &status, &out);
			if (rc == 0 && status != WF_EXEC_SUCCEEDED)
				rc = -EPROTO;
			json_decref(out);
		}
	} else {
		for (long i = 0; i < n && rc == 0;) {
			for (long j = 0; j < batch && i < n && rc == 0; j++, i++)
				rc = ctl_sfn_exec_start(s, "bench", NULL, k_input, sizeof(k_input) - 1,
							wall_ms(), arn);
			if (rc == 0 && ctl_sfn_flush(s) < 0)
				rc = -EIO;
		}
	}
	double secs = now_s(CLOCK_MONOTONIC) - t0, cpu = now_s(CLOCK_PROCESS_CPUTIME_ID) - c0;
	ctl_sfn_stats_get(s, &st1);
	json_decref(input);
	if (rc < 0) {
		fprintf(stderr, "sfnbench: an execution failed: %s\n", strerror(-rc));
		return 1;
	}
	if (st1.executions_closed - st0.executions_closed != (uint64_t)n) {
		fprintf(stderr, "sfnbench: %llu of %ld executions finished\n",
			(unsigned long long)(st1.executions_closed - st0.executions_closed), n);
		return 1;
	}
	printf("{\"executions\": %ld, \"transitions\": %llu, \"seconds\": %.6f, \"cpu_seconds\": "
	       "%.6f, \"commits\": %llu, \"journal_events\": %llu}\n", n,
	       (unsigned long long)(st1.transitions - st0.transitions), secs, cpu,
	       (unsigned long long)(st1.journal_commits - st0.journal_commits),
	       (unsigned long long)(st1.journal_events - st0.journal_events));
	ctl_sfn_free(s);
	ctl_meta_close(meta);
	return 0;
}
