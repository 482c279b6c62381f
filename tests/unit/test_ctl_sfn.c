/* SPDX-License-Identifier: MIT */
/*
 * ctl_sfn without HTTP: journal lines parsed and refused, a standard execution journaled,
 * the service freed while it waits (as a crash leaves it) and rebuilt from its journal with the
 * Wait's original due time, its history rebuilt with details by running the journal again, and
 * express executions run in memory.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ctl_meta.h"
#include "ctl_sfn.h"
#include "ctl_sfn_internal.h"
#include "dp_test.h"

static const char waits[] =
	"{\"StartAt\":\"A\",\"States\":{"
	"\"A\":{\"Type\":\"Pass\",\"Result\":1,\"ResultPath\":\"$.a\",\"Next\":\"W\"},"
	"\"W\":{\"Type\":\"Wait\",\"Seconds\":5,\"Next\":\"B\"},"
	"\"B\":{\"Type\":\"Pass\",\"Parameters\":{\"u.$\":\"States.UUID()\",\"a.$\":\"$.a\"},"
	"\"End\":true}}}";

static void test_journal_parse(void)
{
	struct wf_event *evs = NULL;
	size_t n = 0, cap = 0;
	static const char ok[] = "ExecutionStarted 1000 1 0 {\"input\":{\"x\":1}}\n"
				 "PassStateEntered\nPassStateExited\n"
				 "WaitStateExited 6000 3 2 null\n";
	REQUIRE(sfn_journal_parse(ok, sizeof(ok) - 1, &evs, &n, &cap) == 0);
	CHECK_EQ(n, 4);
	CHECK_EQ(evs[0].type, WF_EV_ExecutionStarted);
	CHECK_EQ(evs[0].trigger, WF_TRIGGER_START);
	CHECK(json_is_object(json_object_get(evs[0].details, "input")));
	CHECK_EQ(evs[2].id, 3);
	CHECK_EQ(evs[2].time_ms, 1000);   /* events between inputs carry the input's time */
	CHECK_EQ(evs[3].trigger, WF_TRIGGER_TIMER);
	CHECK_EQ(evs[3].trigger_ref, 2);
	CHECK(evs[3].details == NULL);
	sfn_events_free(evs, n);

	static const char *const bad[] = {
		"NoSuchEvent\n", "PassStateEntered 1000\n", "TaskSucceeded 1 2 3 {broken\n",
		"TaskSucceeded 1 9 3 null\n", "TaskSucceeded x 2 3 null\n", " \n",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		evs = NULL;
		n = cap = 0;
		CHECK(sfn_journal_parse(bad[i], strlen(bad[i]), &evs, &n, &cap) == -EINVAL);
		sfn_events_free(evs, n);
	}
}

static void test_standard_survives_restart(void)
{
	char dir[] = "/tmp/test_ctl_sfn_XXXXXX", path[256], arn[256], err[256];
	REQUIRE(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/meta.db", dir);
	struct ctl_meta *meta;
	struct ctl_sfn *s;
	int64_t created, t0 = 1700000000000;
	REQUIRE(ctl_meta_open(path, &meta) == 0);
	struct ctl_sfn_config cfg = { .meta = meta };
	REQUIRE(ctl_sfn_new(&cfg, &s) == 0);
	CHECK_EQ(ctl_sfn_machine_create(s, "m", waits, strlen(waits), false, NULL, t0, arn,
					&created, err, sizeof(err)), 0);
	CHECK_EQ(ctl_sfn_machine_create(s, "m", waits, strlen(waits), false, NULL, t0, arn,
					&created, err, sizeof(err)), 1);
	CHECK_EQ(ctl_sfn_machine_create(s, "m", "{}", 2, false, NULL, t0, arn, &created, err,
					sizeof(err)), -EEXIST);
	CHECK_EQ(ctl_sfn_machine_create(s, "bad", "{", 1, false, NULL, t0, arn, &created, err,
					sizeof(err)), -EINVAL);
	CHECK(strstr(err, "INVALID_JSON_DESCRIPTION") != NULL);
	REQUIRE(ctl_sfn_exec_start(s, "m", "e1", "{\"k\":1}", 7, t0, arn) == 0);
	CHECK_STR(arn, "arn:aws:states:us-east-1:000000000000:execution:m:e1");
	CHECK_EQ(ctl_sfn_exec_start(s, "m", "e1", "{\"k\":1}", 7, t0, arn), 1);
	CHECK_EQ(ctl_sfn_exec_start(s, "m", "e1", "{\"k\":2}", 7, t0, arn), -EEXIST);
	CHECK_EQ(ctl_sfn_exec_start(s, "nope", NULL, "{}", 2, t0, arn), -ENOENT);
	CHECK(ctl_sfn_flush(s) >= 1);
	/* Blocked in W until t0 + 5 s. */
	CHECK_EQ(ctl_sfn_tick(s, t0 + 1000), t0 + 5000);
	ctl_sfn_free(s);   /* nothing more is written: what a SIGKILL leaves */
	ctl_meta_close(meta);

	REQUIRE(ctl_meta_open(path, &meta) == 0);
	cfg.meta = meta;
	REQUIRE(ctl_sfn_new(&cfg, &s) == 0);
	struct ctl_sfn_stats st;
	ctl_sfn_stats_get(s, &st);
	CHECK_EQ(st.replayed, 1);
	CHECK_EQ(ctl_sfn_tick(s, t0 + 2000), t0 + 5000);   /* the original due time */
	CHECK_EQ(ctl_sfn_tick(s, t0 + 5000), CTL_LOOP_NEVER);
	ctl_sfn_stats_get(s, &st);
	CHECK_EQ(st.executions_closed, 1);

	/* The history, rebuilt from the journal with every detail. */
	struct wf_event *evs;
	size_t n;
	REQUIRE(sfn_history_build(s, 1, &evs, &n) == 0);
	static const enum wf_event_type want[] = {
		WF_EV_ExecutionStarted, WF_EV_PassStateEntered, WF_EV_PassStateExited,
		WF_EV_WaitStateEntered, WF_EV_WaitStateExited, WF_EV_PassStateEntered,
		WF_EV_PassStateExited, WF_EV_ExecutionSucceeded,
	};
	REQUIRE(n == sizeof(want) / sizeof(want[0]));
	for (size_t i = 0; i < n; i++)
		CHECK_EQ(evs[i].type, want[i]);
	CHECK_EQ(evs[4].time_ms, t0 + 5000);
	json_t *out = json_object_get(evs[7].details, "output");
	CHECK_EQ(json_integer_value(json_object_get(out, "a")), 1);
	CHECK_EQ(strlen(json_string_value(json_object_get(out, "u"))), 36);
	CHECK(json_is_object(json_object_get(evs[0].details, "input")));
	sfn_events_free(evs, n);
	CHECK_EQ(sfn_history_build(s, 99, &evs, &n), -ENOENT);
	ctl_sfn_free(s);
	ctl_meta_close(meta);
	char rm[300];
	snprintf(rm, sizeof(rm), "rm -rf %s", dir);
	CHECK_EQ(system(rm), 0);
}

static void test_express_in_memory(void)
{
	static const char pass[] = "{\"StartAt\":\"P\",\"States\":{\"P\":{\"Type\":\"Pass\","
				   "\"Result\":\"done\",\"End\":true}}}";
	struct ctl_meta *meta;
	struct ctl_sfn *s;
	char arn[256], err[256];
	int64_t created;
	REQUIRE(ctl_meta_open(":memory:", &meta) == 0);
	struct ctl_sfn_config cfg = { .meta = meta };
	REQUIRE(ctl_sfn_new(&cfg, &s) == 0);
	REQUIRE(ctl_sfn_machine_create(s, "x", pass, strlen(pass), true, NULL, 1, arn, &created,
				       err, sizeof(err)) == 0);
	REQUIRE(ctl_sfn_machine_create(s, "w", waits, strlen(waits), true, NULL, 1, arn, &created,
				       err, sizeof(err)) == 0);
	json_t *in = json_object(), *out = NULL;
	int status = -1;
	CHECK_EQ(ctl_sfn_exec_run_sync(s, "x", in, 1, &status, &out), 0);
	CHECK_EQ(status, WF_EXEC_SUCCEEDED);
	CHECK_STR(json_string_value(out), "done");
	json_decref(out);
	out = NULL;
	CHECK_EQ(ctl_sfn_exec_run_sync(s, "w", in, 1, &status, &out), -EAGAIN);
	CHECK_EQ(status, WF_EXEC_ABORTED);
	CHECK_EQ(ctl_sfn_exec_run_sync(s, "none", in, 1, &status, &out), -ENOENT);
	json_decref(in);
	/* An express execution started asynchronously is never journaled. */
	CHECK_EQ(ctl_sfn_exec_start(s, "x", NULL, "{}", 2, 1, arn), 0);
	CHECK(strstr(arn, ":express:x:") != NULL);
	CHECK_EQ(ctl_sfn_flush(s), 0);
	ctl_sfn_free(s);
	ctl_meta_close(meta);
}

int main(void)
{
	DP_TEST_RUN(test_journal_parse);
	DP_TEST_RUN(test_standard_survives_restart);
	DP_TEST_RUN(test_express_in_memory);
	return dp_test_done();
}
