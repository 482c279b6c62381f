/* SPDX-License-Identifier: MIT */
/*
 * ctl_lambda without a daemon: functions created through the REST front-end are stored and
 * come back after the module is opened again; invocation by name (the workflow engine's path);
 * answers in Lambda's shapes.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <poll.h>
#include <time.h>
#include <unistd.h>

#include "ctl_aws.h"
#include "ctl_lambda.h"
#include "ctl_loop.h"
#include "ctl_meta.h"
#include "dp_test.h"

static char g_dir[64];

struct mod {
	struct ctl_meta *meta;
	struct ctl_loop *loop;
	struct ctl_aws *aws;
	struct ctl_lambda *l;
};

struct answer {
	int count;
	unsigned status;
	char *body;
	char etype[64];
	char fn_error[32];
};

static void on_answer(void *arg, unsigned status, const char *ctype, char *body, size_t len,
		      const char *rid, const char *const *headers)
{
	(void)ctype, (void)rid;
	struct answer *a = arg;
	a->count++;
	a->status = status;
	a->body = strndup(body ? body : "", len);
	free(body);
	for (size_t i = 0; headers && headers[i] && headers[i + 1]; i += 2) {
		if (strcasecmp(headers[i], "X-Amzn-ErrorType") == 0)
			snprintf(a->etype, sizeof(a->etype), "%s", headers[i + 1]);
		if (strcasecmp(headers[i], "X-Amz-Function-Error") == 0)
			snprintf(a->fn_error, sizeof(a->fn_error), "%s", headers[i + 1]);
	}
}

struct delivered {
	int calls;
	char stream[64];
	char *data;
};
static struct delivered g_del;

static int deliver(void *arg, const char *stream, const char *data, size_t len)
{
	struct delivered *d = arg;
	d->calls++;
	snprintf(d->stream, sizeof(d->stream), "%s", stream);
	free(d->data);
	d->data = strndup(data, len);
	return 0;
}

static int mod_open(struct mod *m)
{
	char path[128];
	snprintf(path, sizeof(path), "%s/meta.db", g_dir);
	struct ctl_aws_config ac = { 0 };
	struct ctl_lambda_config lc = { .data_dir = g_dir, .workers = 1, .deliver = deliver,
					.deliver_arg = &g_del, .event_retry_ms = 50 };
	memset(m, 0, sizeof(*m));
	if (ctl_meta_open(path, &m->meta) < 0 || ctl_loop_new(&m->loop) < 0 ||
	    ctl_aws_new(&ac, &m->aws) < 0 ||
	    ctl_lambda_new(&lc, m->meta, m->aws, m->loop, &m->l) < 0 ||
	    ctl_lambda_register(m->l, m->aws) < 0)
		return -1;
	return 0;
}

static void mod_close(struct mod *m)
{
	ctl_lambda_free(m->l);
	ctl_aws_free(m->aws);
	ctl_meta_close(m->meta);
	ctl_loop_free(m->loop);
}

static void req(struct mod *m, const char *method, const char *path, const char *body,
		struct answer *a)
{
	memset(a, 0, sizeof(*a));
	struct ctl_aws_request r = { .method = method, .path = path, .body = body,
				     .len = body ? strlen(body) : 0 };
	struct ctl_aws_call *c = ctl_aws_invoke(m->aws, &r, on_answer, a);
	for (int i = 0; i < 2000 && !a->count; i++)
		if (wf_fn_runtime_poll(ctl_lambda_runtime(m->l)) == 0)
			usleep(1000);
	ctl_aws_call_free(c);
}

struct result {
	int calls;
	bool ok;
	char *text;
};

static void on_result(void *arg, const struct wf_fn_result *r)
{
	struct result *res = arg;
	res->calls++;
	res->ok = r->ok;
	res->text = strndup(r->text, r->len);
}

static void test_functions_survive_reopening(void)
{
	struct mod m;
	REQUIRE(mod_open(&m) == 0);
	struct answer a;
	req(&m, "POST", "/2015-03-31/functions", "{\"FunctionName\":\"flat\",\"Runtime\":"
	    "\"builtin\",\"Handler\":\"flatten_json\",\"Role\":\"r\",\"Code\":{},\"Timeout\":7,"
	    "\"Environment\":{\"Variables\":{\"K\":\"v\"}}}", &a);
	CHECK_EQ(a.status, 201u);
	CHECK(strstr(a.body, "\"FunctionArn\":\"arn:aws:lambda:us-east-1:000000000000:function:"
		     "flat\"") != NULL);
	free(a.body);
	req(&m, "POST", "/2015-03-31/functions", "{\"FunctionName\":\"flat\",\"Runtime\":"
	    "\"builtin\",\"Handler\":\"flatten_json\",\"Role\":\"r\",\"Code\":{}}", &a);
	CHECK_EQ(a.status, 409u);
	CHECK_STR(a.etype, "ResourceConflictException");
	CHECK_STR(a.body, "{\"Type\":\"User\",\"message\":\"Function already exist: flat\"}");
	free(a.body);
	mod_close(&m);

	REQUIRE(mod_open(&m) == 0);
	unsigned fns, maps;
	uint64_t recs;
	ctl_lambda_counts(m.l, &fns, &maps, &recs);
	CHECK_EQ(fns, 1u);
	CHECK_EQ(maps, 0u);
	req(&m, "GET", "/2015-03-31/functions/flat/configuration", NULL, &a);
	CHECK_EQ(a.status, 200u);
	CHECK(strstr(a.body, "\"Timeout\":7") != NULL);
	CHECK(strstr(a.body, "\"Environment\":{\"Variables\":{\"K\":\"v\"}}") != NULL);
	free(a.body);
	/* The workflow engine's path: by name or ARN. */
	struct result r = { 0 };
	CHECK_EQ(ctl_lambda_invoke_by_name(m.l, "arn:aws:lambda:us-east-1:000000000000:function:"
					   "flat", "{\"a\":{\"b\":2}}", 13, on_result, &r), 0);
	CHECK_EQ(r.calls, 0);
	for (int i = 0; i < 100 && !r.calls; i++)
		wf_fn_runtime_poll(ctl_lambda_runtime(m.l));
	CHECK(r.ok);
	CHECK_STR(r.text, "{\"a_b\":2}");
	free(r.text);
	CHECK_EQ(ctl_lambda_invoke_by_name(m.l, "nope", "{}", 2, on_result, &r), -ENOENT);
	/* Invoke through the API; a payload that is not JSON is refused. */
	req(&m, "POST", "/2015-03-31/functions/flat/invocations", "{\"x\":{\"y\":[1]}}", &a);
	CHECK_EQ(a.status, 200u);
	CHECK_STR(a.body, "{\"x_y\":[1]}");
	CHECK_STR(a.fn_error, "");
	free(a.body);
	req(&m, "POST", "/2015-03-31/functions/flat/invocations", "{\"x\"", &a);
	CHECK_EQ(a.status, 400u);
	CHECK_STR(a.etype, "InvalidRequestContentException");
	free(a.body);
	req(&m, "DELETE", "/2015-03-31/functions/flat", NULL, &a);
	CHECK_EQ(a.status, 204u);
	free(a.body);
	req(&m, "GET", "/2015-03-31/functions/flat", NULL, &a);
	CHECK_EQ(a.status, 404u);
	CHECK_STR(a.body, "{\"Type\":\"User\",\"message\":\"Function not found: arn:aws:lambda:"
		  "us-east-1:000000000000:function:flat\"}");
	free(a.body);
	mod_close(&m);

	REQUIRE(mod_open(&m) == 0);
	ctl_lambda_counts(m.l, &fns, &maps, &recs);
	CHECK_EQ(fns, 0u);
	mod_close(&m);
}

static void test_mapping_needs_a_kinesis_arn_and_a_function(void)
{
	struct mod m;
	REQUIRE(mod_open(&m) == 0);
	struct answer a;
	req(&m, "POST", "/2015-03-31/functions", "{\"FunctionName\":\"g\",\"Runtime\":\"builtin\","
	    "\"Handler\":\"generate_record\",\"Role\":\"r\",\"Code\":{}}", &a);
	CHECK_EQ(a.status, 201u);
	free(a.body);
	static const char *const bad[] = {
		"{\"FunctionName\":\"g\",\"EventSourceArn\":\"arn:aws:sqs:us-east-1:1:q\","
		"\"StartingPosition\":\"LATEST\"}",
		"{\"FunctionName\":\"g\",\"EventSourceArn\":\"arn:aws:kinesis:us-east-1:1:stream/s\"}",
		"{\"FunctionName\":\"g\",\"EventSourceArn\":\"arn:aws:kinesis:us-east-1:1:stream/s\","
		"\"StartingPosition\":\"LATEST\",\"BatchSize\":0}",
		"{\"FunctionName\":\"g\",\"EventSourceArn\":\"arn:aws:kinesis:us-east-1:1:stream/s\","
		"\"StartingPosition\":\"AT_TIMESTAMP\"}",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		req(&m, "POST", "/2015-03-31/event-source-mappings/", bad[i], &a);
		CHECK_EQ(a.status, 400u);
		CHECK_STR(a.etype, "InvalidParameterValueException");
		free(a.body);
	}
	req(&m, "POST", "/2015-03-31/event-source-mappings/", "{\"FunctionName\":\"h\","
	    "\"EventSourceArn\":\"arn:aws:kinesis:us-east-1:1:stream/s\",\"StartingPosition\":"
	    "\"LATEST\"}", &a);
	CHECK_EQ(a.status, 404u);
	free(a.body);
	req(&m, "POST", "/2015-03-31/event-source-mappings/", "{\"FunctionName\":\"g\","
	    "\"EventSourceArn\":\"arn:aws:kinesis:us-east-1:1:stream/s\",\"StartingPosition\":"
	    "\"TRIM_HORIZON\",\"BatchSize\":5}", &a);
	CHECK_EQ(a.status, 202u);
	CHECK(strstr(a.body, "\"BatchSize\":5") != NULL);
	free(a.body);
	mod_close(&m);
	REQUIRE(mod_open(&m) == 0);
	unsigned fns, maps;
	uint64_t recs;
	ctl_lambda_counts(m.l, &fns, &maps, &recs);
	CHECK_EQ(maps, 1u);
	mod_close(&m);
}

/* flatten_data as a mapping's target: each record's data decoded and flattened, the batch
 * handed to the delivery stream named by DELIVERY_STREAM, one JSON document per line. */
static void test_flatten_data_delivers_a_batch(void)
{
	struct mod m;
	REQUIRE(mod_open(&m) == 0);
	struct answer a;
	req(&m, "POST", "/2015-03-31/functions", "{\"FunctionName\":\"flatten_data\",\"Runtime\":"
	    "\"builtin\",\"Role\":\"r\",\"Code\":{},\"Environment\":{\"Variables\":"
	    "{\"DELIVERY_STREAM\":\"out\"}}}", &a);
	CHECK_EQ(a.status, 201u);
	free(a.body);
	/* {"a":{"b":1}} and {"c":[{"d":{}}],"e":{"f":{"g":"h"}}} and a record that is not JSON. */
	req(&m, "POST", "/2015-03-31/functions/flatten_data/invocations",
	    "{\"Records\":[{\"kinesis\":{\"data\":\"eyJhIjp7ImIiOjF9fQ==\"}},"
	    "{\"kinesis\":{\"data\":\"eyJjIjpbeyJkIjp7fX1dLCJlIjp7ImYiOnsiZyI6ImgifX19\"}},"
	    "{\"kinesis\":{\"data\":\"bm90IGpzb24=\"}}]}", &a);
	CHECK_EQ(a.status, 200u);
	CHECK_STR(a.fn_error, "");
	CHECK_STR(a.body, "[{\"a_b\":1},{\"c\":[{\"d\":{}}],\"e_f_g\":\"h\"},\"not json\"]");
	free(a.body);
	CHECK_EQ(g_del.calls, 1);
	CHECK_STR(g_del.stream, "out");
	CHECK_STR(g_del.data, "{\"a_b\":1}\n{\"c\":[{\"d\":{}}],\"e_f_g\":\"h\"}\n\"not json\"\n");
	free(g_del.data);
	g_del.data = NULL;
	mod_close(&m);
}

static int count_in_file(const char *path, const char *what)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return 0;
	char line[1024];
	int n = 0;
	while (fgets(line, sizeof(line), f))
		n += strstr(line, what) != NULL;
	fclose(f);
	return n;
}

/* An Event invocation that fails runs twice more (after the delay, then twice the delay) and
 * then stops. put_record fails here: this module has no Kinesis API behind it. */
static void test_event_invocations_retry_twice(void)
{
	struct mod m;
	REQUIRE(mod_open(&m) == 0);
	struct answer a;
	req(&m, "POST", "/2015-03-31/functions", "{\"FunctionName\":\"put_record\",\"Runtime\":"
	    "\"builtin\",\"Role\":\"r\",\"Code\":{}}", &a);
	CHECK_EQ(a.status, 201u);
	free(a.body);
	struct ctl_aws_request r = { .method = "POST",
				     .path = "/2015-03-31/functions/put_record/invocations",
				     .hdrs = (const struct ctl_sigv4_header[]){
					     { "X-Amz-Invocation-Type", "Event" } },
				     .n_hdrs = 1 };
	memset(&a, 0, sizeof(a));
	struct ctl_aws_call *c = ctl_aws_invoke(m.aws, &r, on_answer, &a);
	CHECK_EQ(a.status, 202u);
	free(a.body);
	ctl_aws_call_free(c);
	char log[128];
	snprintf(log, sizeof(log), "%s/functions/put_record/log", g_dir);
	/* Drive the loop for a second: the first call, retries at +50 ms and +150 ms, no more. */
	for (int i = 0; i < 100; i++) {
		struct pollfd p[40];
		unsigned n = ctl_loop_pollfds(m.loop, p, 40);
		int pr = poll(p, n, 10);
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ctl_loop_dispatch(m.loop, p, pr > 0 ? n : 0,
				  (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
	}
	CHECK_EQ(count_in_file(log, "START RequestId"), 3);
	CHECK_EQ(count_in_file(log, "UnknownOperationException"), 3);
	mod_close(&m);
}

int main(void)
{
	snprintf(g_dir, sizeof(g_dir), "/tmp/ctl_lambda_test.XXXXXX");
	if (!mkdtemp(g_dir))
		return 1;
	DP_TEST_RUN(test_functions_survive_reopening);
	DP_TEST_RUN(test_mapping_needs_a_kinesis_arn_and_a_function);
	DP_TEST_RUN(test_flatten_data_delivers_a_batch);
	DP_TEST_RUN(test_event_invocations_retry_twice);
	dp_test_rm_tree(g_dir);
	return dp_test_done();
}
