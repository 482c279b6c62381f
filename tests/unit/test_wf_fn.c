/* SPDX-License-Identifier: MIT */
/*
 * The function runtime (wf_fn): programs run without a shell under their limits, each way a
 * program can fail ends in Lambda's error shape, built-ins, flatten_json.
 * argv[1] is the path of the test program (tests/unit/fn_prog.c).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "dp_test.h"
#include "wf_fn.h"

#define diag(...) (printf("# " __VA_ARGS__), printf("\n"))

static const char *prog;
static char tmpdir[256];

struct outcome {
	int calls;
	bool ok;
	char *text;
	char *log;
	char rid[40];
};

static void on_done(void *arg, const struct wf_fn_result *r)
{
	struct outcome *o = arg;
	o->calls++;
	o->ok = r->ok;
	free(o->text);
	free(o->log);
	o->text = strndup(r->text, r->len);
	o->log = strndup(r->log, r->log_len);
	snprintf(o->rid, sizeof(o->rid), "%s", r->request_id);
}

static void wait_all(struct wf_fn_runtime *rt)
{
	for (int i = 0; i < 3000 && wf_fn_runtime_pending(rt); i++) {
		if (wf_fn_runtime_poll(rt) == 0)
			usleep(5000);
	}
}

static struct wf_fn_runtime *runtime(unsigned workers)
{
	struct wf_fn_runtime *rt = NULL;
	struct wf_fn_config cfg = { .workers = workers };
	if (wf_fn_runtime_new(&cfg, &rt) < 0)
		return NULL;
	return rt;
}

/* Run fn_prog in MODE mode with payload; the outcome in *o. */
static void run_mode(struct wf_fn_runtime *rt, const char *mode, unsigned timeout,
		     const char *payload, struct outcome *o)
{
	char var[64], logp[512];
	snprintf(var, sizeof(var), "MODE=%s", mode);
	snprintf(logp, sizeof(logp), "%s/%s.log", tmpdir, mode);
	const char *env[] = { var, "HOME=/should/be/overridden/not", NULL };
	struct wf_fn_def d = { .name = "fn-test", .kind = WF_FN_PROGRAM, .handler = prog,
			       .task_root = tmpdir, .log_path = logp, .env = env,
			       .timeout_s = timeout, .memory_mb = 128 };
	memset(o, 0, sizeof(*o));
	REQUIRE(wf_fn_invoke(rt, &d, payload, payload ? strlen(payload) : 0, on_done, o) == 0);
	CHECK_EQ(o->calls, 0);  /* never inside invoke */
	wait_all(rt);
	CHECK_EQ(o->calls, 1);
}

static json_t *parse(const char *s)
{
	return s ? json_loads(s, JSON_DECODE_ANY, NULL) : NULL;
}

static void outcome_free(struct outcome *o)
{
	free(o->text);
	free(o->log);
}

static void test_payload_is_delivered_verbatim_without_a_shell(void)
{
	struct wf_fn_runtime *rt = runtime(2);
	REQUIRE(rt);
	char payload[2048], marker[400];
	snprintf(marker, sizeof(marker), "%s/x", tmpdir);
	snprintf(payload, sizeof(payload), "{\"cmd\":\"$(touch %s)\",\"next\":\"; rm -rf %s; `touch "
		 "%s`\",\"quote\":\"'\\\"\"}", marker, tmpdir, marker);
	struct outcome o;
	run_mode(rt, "echo", 5, payload, &o);
	CHECK(o.ok);
	CHECK_STR(o.text, payload);
	struct stat st;
	CHECK(stat(marker, &st) < 0 && errno == ENOENT);
	CHECK(stat(tmpdir, &st) == 0);
	outcome_free(&o);
	/* No payload: the event is {}. */
	run_mode(rt, "echo", 5, NULL, &o);
	CHECK_STR(o.text, "{}");
	outcome_free(&o);
	wf_fn_runtime_free(rt);
}

static void test_environment_argv_and_limits(void)
{
	struct wf_fn_runtime *rt = runtime(1);
	REQUIRE(rt);
	setenv("SECRET_OF_THE_DAEMON", "leak", 1);
	struct outcome o;
	run_mode(rt, "env", 5, "{}", &o);
	REQUIRE(o.ok);
	json_t *v = parse(o.text);
	REQUIRE(v);
	CHECK_EQ(json_integer_value(json_object_get(v, "argc")), 1);
	CHECK_STR(json_string_value(json_object_get(v, "argv0")), prog);
	json_t *env = json_object_get(v, "env");
	CHECK(json_object_get(env, "SECRET_OF_THE_DAEMON") == NULL);
	CHECK_STR(json_string_value(json_object_get(env, "MODE")), "env");
	CHECK_STR(json_string_value(json_object_get(env, "HOME")), "/should/be/overridden/not");
	CHECK_STR(json_string_value(json_object_get(env, "AWS_LAMBDA_FUNCTION_NAME")), "fn-test");
	CHECK_STR(json_string_value(json_object_get(env, "AWS_LAMBDA_FUNCTION_MEMORY_SIZE")), "128");
	CHECK_STR(json_string_value(json_object_get(env, "AWS_LAMBDA_FUNCTION_VERSION")), "$LATEST");
	CHECK_STR(json_string_value(json_object_get(env, "AWS_REGION")), "us-east-1");
	CHECK_STR(json_string_value(json_object_get(env, "AWS_DEFAULT_REGION")), "us-east-1");
	CHECK_STR(json_string_value(json_object_get(env, "AWS_LAMBDA_LOG_GROUP_NAME")),
		  "/aws/lambda/fn-test");
	CHECK_STR(json_string_value(json_object_get(env, "_HANDLER")), prog);
	CHECK_STR(json_string_value(json_object_get(env, "LAMBDA_TASK_ROOT")), tmpdir);
	CHECK_STR(json_string_value(json_object_get(v, "cwd")), tmpdir);
	CHECK_EQ(json_integer_value(json_object_get(v, "nofile")), 1024);
	CHECK_EQ(json_integer_value(json_object_get(v, "as")), 128ll << 20);
	CHECK_EQ(json_integer_value(json_object_get(v, "cpu")), 6);
	CHECK_EQ(json_integer_value(json_object_get(v, "nnp")), 1);
	/* stdin, stdout, stderr and nothing of the daemon's. */
	CHECK_EQ(json_integer_value(json_object_get(v, "fds")), 3);
	json_decref(v);
	outcome_free(&o);
	wf_fn_runtime_free(rt);
}

static void check_error(const struct outcome *o, const char *type, const char *msg_part)
{
	CHECK(!o->ok);
	json_t *v = parse(o->text);
	CHECK(v && json_is_object(v));
	CHECK_STR(json_string_value(json_object_get(v, "errorType")), type);
	const char *m = json_string_value(json_object_get(v, "errorMessage"));
	CHECK(m && strstr(m, msg_part));
	if (!(m && strstr(m, msg_part)))
		diag("message: %s", m ? m : "(none)");
	json_decref(v);
}

static void test_timeout_kills_the_process_group(void)
{
	struct wf_fn_runtime *rt = runtime(1);
	REQUIRE(rt);
	struct outcome o;
	struct timespec a, b;
	clock_gettime(CLOCK_MONOTONIC, &a);
	run_mode(rt, "sleep", 1, "{}", &o);
	clock_gettime(CLOCK_MONOTONIC, &b);
	char want[128];
	snprintf(want, sizeof(want), "RequestId: %s Error: Task timed out after 1.00 seconds", o.rid);
	check_error(&o, "Sandbox.Timedout", want);
	double s = (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
	CHECK(s >= 0.9 && s < 5);
	outcome_free(&o);
	/* A stray child holding stdout does not hold the call. */
	clock_gettime(CLOCK_MONOTONIC, &a);
	run_mode(rt, "stray", 10, "{}", &o);
	clock_gettime(CLOCK_MONOTONIC, &b);
	CHECK(o.ok);
	CHECK_STR(o.text, "{\"stray\":true}\n");
	CHECK(b.tv_sec - a.tv_sec < 5);
	outcome_free(&o);
	wf_fn_runtime_free(rt);
}

static void test_failures_take_lambdas_shapes(void)
{
	struct wf_fn_runtime *rt = runtime(4);
	REQUIRE(rt);
	struct outcome o;
	char want[160];

	run_mode(rt, "alloc", 5, "{}", &o);
	snprintf(want, sizeof(want), "RequestId: %s Error: Runtime exited with error: exit status 12",
		 o.rid);
	check_error(&o, "Runtime.ExitError", want);
	CHECK(strstr(o.log, "allocation") != NULL);
	outcome_free(&o);

	run_mode(rt, "exit3", 5, "{}", &o);
	snprintf(want, sizeof(want), "RequestId: %s Error: Runtime exited with error: exit status 3",
		 o.rid);
	check_error(&o, "Runtime.ExitError", want);
	outcome_free(&o);

	run_mode(rt, "abort", 5, "{}", &o);
	check_error(&o, "Runtime.ExitError", "Runtime exited with error: signal: aborted");
	outcome_free(&o);

	run_mode(rt, "errobj", 5, "{}", &o);
	CHECK(!o.ok);
	CHECK_STR(o.text, "{\"errorType\":\"MyError\",\"errorMessage\":\"boom\",\"stackTrace\":"
		  "[\"at x\"]}");
	outcome_free(&o);

	run_mode(rt, "badjson", 5, "{}", &o);
	check_error(&o, "Runtime.MarshalError", "Unable to marshal response");
	outcome_free(&o);

	run_mode(rt, "big", 5, "{}", &o);
	check_error(&o, "Function.ResponseSizeTooLarge", "6291556");
	outcome_free(&o);

	/* Not executable: the entrypoint cannot start. */
	char path[400];
	snprintf(path, sizeof(path), "%s/noexec", tmpdir);
	FILE *f = fopen(path, "w");
	REQUIRE(f);
	fputs("#!/bin/sh\necho {}\n", f);
	fclose(f);
	struct wf_fn_def d = { .name = "ne", .kind = WF_FN_PROGRAM, .handler = path };
	memset(&o, 0, sizeof(o));
	REQUIRE(wf_fn_invoke(rt, &d, "{}", 2, on_done, &o) == 0);
	wait_all(rt);
	check_error(&o, "Runtime.InvalidEntrypoint", "Permission denied");
	outcome_free(&o);
	wf_fn_runtime_free(rt);
}

static void test_stderr_goes_to_the_log(void)
{
	struct wf_fn_runtime *rt = runtime(1);
	REQUIRE(rt);
	struct outcome o;
	run_mode(rt, "stderr", 5, "{}", &o);
	CHECK(o.ok);
	CHECK_STR(o.text, "{\"ok\":1}\n");
	char start[80];
	snprintf(start, sizeof(start), "START RequestId: %s Version: $LATEST\n", o.rid);
	CHECK(strncmp(o.log, start, strlen(start)) == 0);
	CHECK(strstr(o.log, "a line on stderr\nanother\nEND RequestId: ") != NULL);
	CHECK(strstr(o.log, "REPORT RequestId: ") != NULL);
	char logp[400], text[4096] = "";
	snprintf(logp, sizeof(logp), "%s/stderr.log", tmpdir);
	FILE *f = fopen(logp, "r");
	REQUIRE(f);
	size_t n = fread(text, 1, sizeof(text) - 1, f);
	text[n] = '\0';
	fclose(f);
	CHECK_STR(text, o.log);
	outcome_free(&o);
	wf_fn_runtime_free(rt);
}

static void dummy_builtin(void *arg, const struct wf_fn_def *def, const char *payload, size_t len,
			  struct wf_fn_call *call)
{
	(void)arg;
	(void)def;
	(void)payload;
	(void)len;
	wf_fn_complete(call, true, "{}", 2);
}

static void test_invoke_rejects_bad_definitions(void)
{
	struct wf_fn_runtime *rt = runtime(1);
	REQUIRE(rt);
	struct outcome o = { 0 };
	struct wf_fn_def d = { .name = "x", .kind = WF_FN_BUILTIN, .handler = "no_such" };
	CHECK_EQ(wf_fn_invoke(rt, &d, "{}", 2, on_done, &o), -EINVAL);
	d = (struct wf_fn_def){ .name = "x", .kind = WF_FN_PROGRAM, .handler = "relative/path" };
	CHECK_EQ(wf_fn_invoke(rt, &d, "{}", 2, on_done, &o), -EINVAL);
	d = (struct wf_fn_def){ .name = "x", .kind = WF_FN_PROGRAM, .handler = prog,
				.timeout_s = 901 };
	CHECK_EQ(wf_fn_invoke(rt, &d, "{}", 2, on_done, &o), -EINVAL);
	d.timeout_s = 3;
	d.memory_mb = 64;
	CHECK_EQ(wf_fn_invoke(rt, &d, "{}", 2, on_done, &o), -EINVAL);
	CHECK_EQ(wf_fn_builtin_register(rt, "flatten_json", dummy_builtin, NULL),
		 -EEXIST);
	CHECK_EQ(o.calls, 0);
	CHECK_EQ(wf_fn_runtime_pending(rt), 0u);
	wf_fn_runtime_free(rt);
}

static void test_builtins_flatten_and_generate(void)
{
	struct wf_fn_runtime *rt = runtime(1);
	REQUIRE(rt);
	struct outcome o = { 0 };
	struct wf_fn_def d = { .name = "flat", .kind = WF_FN_BUILTIN, .handler = "flatten_json" };
	const char *in = "{\"a\":{\"b\":1,\"c\":{\"d\":\"x\"}},\"e\":[{\"f\":{\"g\":1}}],\"h\":null}";
	REQUIRE(wf_fn_invoke(rt, &d, in, strlen(in), on_done, &o) == 0);
	CHECK_EQ(o.calls, 0);
	wait_all(rt);
	CHECK(o.ok);
	CHECK_STR(o.text, "{\"a_b\":1,\"a_c_d\":\"x\",\"e\":[{\"f\":{\"g\":1}}],\"h\":null}");
	outcome_free(&o);
	memset(&o, 0, sizeof(o));
	REQUIRE(wf_fn_invoke(rt, &d, "{not json", 9, on_done, &o) == 0);
	wait_all(rt);
	check_error(&o, "Runtime.MarshalError", "Unable to unmarshal input");
	outcome_free(&o);
	memset(&o, 0, sizeof(o));
	d.handler = "generate_record";
	REQUIRE(wf_fn_invoke(rt, &d, NULL, 0, on_done, &o) == 0);
	wait_all(rt);
	CHECK(o.ok);
	json_t *v = parse(o.text);
	CHECK(json_is_object(json_object_get(json_object_get(v, "user"), "address")));
	json_t *f = wf_fn_flatten(v);
	CHECK(json_is_string(json_object_get(f, "user_address_city")));
	CHECK(json_is_array(json_object_get(f, "tags")));
	json_decref(f);
	json_decref(v);
	outcome_free(&o);
	wf_fn_runtime_free(rt);
}

static void test_flatten_cases(void)
{
	static const struct { const char *in, *out; } cases[] = {
		{ "{}", "{}" },
		{ "{\"a\":{}}", "{}" },
		{ "{\"a\":1}", "{\"a\":1}" },
		{ "{\"a\":{\"b\":{\"c\":{\"d\":true}}}}", "{\"a_b_c_d\":true}" },
		{ "{\"a\":[1,{\"b\":{\"c\":2}}]}", "{\"a\":[1,{\"b\":{\"c\":2}}]}" },
		{ "[{\"a\":{\"b\":1}},2,\"s\"]", "[{\"a_b\":1},2,\"s\"]" },
		{ "{\"a_b\":1,\"a\":{\"b\":2}}", "{\"a_b\":2}" },
		{ "\"text\"", "\"text\"" },
		{ "{\"\":{\"x\":1}}", "{\"_x\":1}" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		json_t *in = json_loads(cases[i].in, JSON_DECODE_ANY, NULL);
		REQUIRE(in);
		json_t *out = wf_fn_flatten(in);
		char *s = json_dumps(out, JSON_COMPACT | JSON_ENCODE_ANY);
		CHECK_STR(s, cases[i].out);
		free(s);
		json_decref(out);
		json_decref(in);
	}
	/* Deeper than the bound: refused, not a stack overflow. */
	char deep[2000] = "";
	for (int i = 0; i < 100; i++)
		strcat(deep, "{\"a\":");
	strcat(deep, "1");
	for (int i = 0; i < 100; i++)
		strcat(deep, "}");
	json_t *in = json_loads(deep, 0, NULL);
	REQUIRE(in);
	CHECK(wf_fn_flatten(in) == NULL);
	json_decref(in);
}

static void test_concurrency_is_bounded(void)
{
	struct wf_fn_config cfg = { .workers = 2, .queue_max = 3 };
	struct wf_fn_runtime *rt;
	REQUIRE(wf_fn_runtime_new(&cfg, &rt) == 0);
	const char *env[] = { "MODE=echo", NULL };
	struct wf_fn_def d = { .name = "q", .kind = WF_FN_PROGRAM, .handler = prog, .env = env };
	struct outcome o[16];
	memset(o, 0, sizeof(o));
	int accepted = 0, refused = 0;
	for (int i = 0; i < 16; i++) {
		int r = wf_fn_invoke(rt, &d, "{\"i\":1}", 7, on_done, &o[i]);
		if (r == 0)
			accepted++;
		else if (r == -EAGAIN)
			refused++;
	}
	CHECK(refused > 0);
	CHECK(accepted >= 3 && accepted <= 5);
	wait_all(rt);
	int done = 0;
	for (int i = 0; i < 16; i++) {
		done += o[i].calls;
		if (o[i].calls)
			CHECK_STR(o[i].text, "{\"i\":1}");
		outcome_free(&o[i]);
	}
	CHECK_EQ(done, accepted);
	wf_fn_runtime_free(rt);
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		diag("usage: test_wf_fn PATH-OF-fn_prog");
		return 2;
	}
	prog = argv[1];
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/wf_fn_test.XXXXXX");
	if (!mkdtemp(tmpdir))
		return 1;
	DP_TEST_RUN(test_payload_is_delivered_verbatim_without_a_shell);
	DP_TEST_RUN(test_environment_argv_and_limits);
	DP_TEST_RUN(test_timeout_kills_the_process_group);
	DP_TEST_RUN(test_failures_take_lambdas_shapes);
	DP_TEST_RUN(test_stderr_goes_to_the_log);
	DP_TEST_RUN(test_invoke_rejects_bad_definitions);
	DP_TEST_RUN(test_builtins_flatten_and_generate);
	DP_TEST_RUN(test_flatten_cases);
	DP_TEST_RUN(test_concurrency_is_bounded);
	dp_test_rm_tree(tmpdir);
	return dp_test_done();
}
