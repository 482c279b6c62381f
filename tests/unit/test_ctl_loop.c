/* SPDX-License-Identifier: MIT */
/*
 * The control loop's ticks and descriptors (ctl_loop), and the AWS front-end's REST routing with
 * its extra answer headers (ctl_aws_register_rest, ctl_aws_reply).
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ctl_aws.h"
#include "ctl_loop.h"
#include "dp_test.h"

struct tick_state {
	int calls;
	int64_t every;  /* 0: never again */
};

static int64_t tick_fn(void *arg, int64_t now_ms)
{
	struct tick_state *t = arg;
	t->calls++;
	return t->every ? now_ms + t->every : CTL_LOOP_NEVER;
}

static int one_turn(struct ctl_loop *l, int64_t now, int timeout)
{
	struct pollfd p[40];
	unsigned n = ctl_loop_pollfds(l, p, 40);
	int r = poll(p, n, timeout);
	return ctl_loop_dispatch(l, p, r > 0 ? n : 0, now);
}

static void test_loop_ticks_run_when_due(void)
{
	struct ctl_loop *l;
	REQUIRE(ctl_loop_new(&l) == 0);
	struct tick_state a = { 0, 100 }, b = { 0, 0 };
	REQUIRE(ctl_loop_add_tick(l, "a", tick_fn, &a) == 0);
	REQUIRE(ctl_loop_add_tick(l, "b", tick_fn, &b) == 0);
	CHECK_EQ(ctl_loop_add_tick(l, "c", NULL, NULL), -EINVAL);
	/* Both run at the first turn; a wants 100 ms later, b never. */
	CHECK_EQ(one_turn(l, 1000, 0), 100);
	CHECK_EQ(a.calls, 1);
	CHECK_EQ(b.calls, 1);
	/* Not due yet: nothing runs, the wait shrinks. */
	CHECK_EQ(one_turn(l, 1050, 0), 50);
	CHECK_EQ(a.calls, 1);
	CHECK_EQ(one_turn(l, 1100, 0), 100);
	CHECK_EQ(a.calls, 2);
	CHECK_EQ(b.calls, 1);
	/* A wake runs every tick, also the one that wants no time. */
	ctl_loop_wake(l);
	ctl_loop_wake(l);
	one_turn(l, 1101, 0);
	CHECK_EQ(a.calls, 3);
	CHECK_EQ(b.calls, 2);
	/* The wake was consumed. */
	one_turn(l, 1102, 0);
	CHECK_EQ(b.calls, 2);
	ctl_loop_free(l);
}

static void *waker(void *arg)
{
	usleep(20000);
	ctl_loop_wake(arg);
	return NULL;
}

static void test_loop_wake_from_another_thread(void)
{
	struct ctl_loop *l;
	REQUIRE(ctl_loop_new(&l) == 0);
	struct tick_state t = { 0, 0 };
	REQUIRE(ctl_loop_add_tick(l, "t", tick_fn, &t) == 0);
	CHECK_EQ(one_turn(l, 0, 0), -1);
	pthread_t th;
	REQUIRE(pthread_create(&th, NULL, waker, l) == 0);
	/* Sleeps in poll() until the other thread wakes it (or 5 s pass: failure). */
	one_turn(l, 1, 5000);
	pthread_join(th, NULL);
	CHECK_EQ(t.calls, 2);
	ctl_loop_free(l);
}

static int fd_calls;

static void fd_fn(void *arg, int fd)
{
	(void)arg;
	char buf[8];
	CHECK(read(fd, buf, sizeof(buf)) > 0);
	fd_calls++;
}

static void test_loop_descriptors(void)
{
	struct ctl_loop *l;
	REQUIRE(ctl_loop_new(&l) == 0);
	int pp[2];
	REQUIRE(pipe(pp) == 0);
	REQUIRE(ctl_loop_add_fd(l, pp[0], fd_fn, NULL) == 0);
	CHECK_EQ(ctl_loop_add_fd(l, -1, fd_fn, NULL), -EINVAL);
	one_turn(l, 0, 0);
	CHECK_EQ(fd_calls, 0);
	CHECK(write(pp[1], "x", 1) == 1);
	one_turn(l, 0, 1000);
	CHECK_EQ(fd_calls, 1);
	CHECK_EQ(ctl_loop_del_fd(l, pp[0]), 0);
	CHECK_EQ(ctl_loop_del_fd(l, pp[0]), -ENOENT);
	CHECK(write(pp[1], "y", 1) == 1);
	one_turn(l, 0, 0);
	CHECK_EQ(fd_calls, 1);
	close(pp[0]);
	close(pp[1]);
	ctl_loop_free(l);
}

/* ---- REST routing ---- */

struct answer {
	unsigned status;
	char ctype[64];
	char body[256];
	char hdr[128];
	int count;
};

static void collect(void *arg, unsigned status, const char *ctype, char *body, size_t len,
		    const char *rid, const char *const *headers)
{
	struct answer *a = arg;
	(void)rid;
	a->count++;
	a->status = status;
	snprintf(a->ctype, sizeof(a->ctype), "%s", ctype ? ctype : "");
	snprintf(a->body, sizeof(a->body), "%.*s", (int)len, body ? body : "");
	a->hdr[0] = '\0';
	for (size_t i = 0; headers && headers[i] && headers[i + 1]; i += 2) {
		size_t l = strlen(a->hdr);
		snprintf(a->hdr + l, sizeof(a->hdr) - l, "%s=%s;", headers[i], headers[i + 1]);
	}
	free(body);
}

static bool match_things(void *svc, const char *method, const char *path)
{
	(void)svc;
	return strcmp(method, "GET") == 0 && strncmp(path, "/things/", 8) == 0;
}

static void things(void *svc, struct ctl_aws_call *c)
{
	(*(int *)svc)++;
	size_t len;
	const char *body = ctl_aws_body(c, &len);
	char *out = NULL;
	if (asprintf(&out, "%s|%s|%s|%.*s", ctl_aws_path(c), ctl_aws_query(c),
		     ctl_aws_header(c, "x-thing") ? ctl_aws_header(c, "x-thing") : "-", (int)len,
		     body) < 0)
		out = NULL;
	const char *hdrs[] = { "ETag", "\"abc\"", NULL };
	ctl_aws_reply(c, 206, "text/plain", out, out ? strlen(out) : 0, hdrs);
}

static void json10_op(void *svc, struct ctl_aws_call *c)
{
	(void)svc;
	ctl_aws_ok(c, json_pack("{s:i}", "n", 1));
}

static void test_rest_routing(void)
{
	struct ctl_aws *a;
	struct ctl_aws_config cfg = { 0 };
	REQUIRE(ctl_aws_new(&cfg, &a) == 0);
	int calls = 0;
	struct ctl_aws_rest rest = { "things", match_things, things, &calls };
	REQUIRE(ctl_aws_register_rest(a, &rest) == 0);
	static const struct ctl_aws_op ops[] = { { "Op", json10_op, NULL } };
	struct ctl_aws_service svc = { "Svc", ops, 1, NULL, NULL };
	REQUIRE(ctl_aws_register(a, &svc) == 0);

	struct ctl_sigv4_header h[] = { { "X-Thing", "7" } };
	struct ctl_aws_request r = { .method = "GET", .path = "/things/a%20b", .query = "x=1",
				     .hdrs = h, .n_hdrs = 1, .body = "B", .len = 1 };
	struct answer ans = { 0 };
	ctl_aws_call_free(ctl_aws_invoke(a, &r, collect, &ans));
	CHECK_EQ(calls, 1);
	CHECK_EQ(ans.count, 1);
	CHECK_EQ(ans.status, 206u);
	CHECK_STR(ans.body, "/things/a%20b|x=1|7|B");
	CHECK_STR(ans.hdr, "ETag=\"abc\";");

	/* A path no REST service takes falls through to the JSON front-end's error. */
	r.path = "/other";
	memset(&ans, 0, sizeof(ans));
	ctl_aws_call_free(ctl_aws_invoke(a, &r, collect, &ans));
	CHECK_EQ(calls, 1);
	CHECK_EQ(ans.status, 403u);
	CHECK(strstr(ans.body, "AccessDeniedException") != NULL);

	/* X-Amz-Target always wins over REST matching; JSON 1.0 is answered as 1.0. */
	struct ctl_aws_request j = { .method = "POST", .path = "/things/x", .target = "Svc.Op",
				     .content_type = "application/x-amz-json-1.0", .body = "{}",
				     .len = 2 };
	memset(&ans, 0, sizeof(ans));
	ctl_aws_call_free(ctl_aws_invoke(a, &j, collect, &ans));
	CHECK_EQ(ans.status, 200u);
	CHECK_STR(ans.ctype, "application/x-amz-json-1.0");
	CHECK_STR(ans.body, "{\"n\":1}");
	CHECK_EQ(calls, 1);

	/* An oversize body is refused before the handler runs. */
	r.path = "/things/big";
	r.too_big = true;
	memset(&ans, 0, sizeof(ans));
	ctl_aws_call_free(ctl_aws_invoke(a, &r, collect, &ans));
	CHECK_EQ(ans.status, 413u);
	CHECK_EQ(calls, 1);
	ctl_aws_free(a);
}

int main(void)
{
	DP_TEST_RUN(test_loop_ticks_run_when_due);
	DP_TEST_RUN(test_loop_wake_from_another_thread);
	DP_TEST_RUN(test_loop_descriptors);
	DP_TEST_RUN(test_rest_routing);
	return dp_test_done();
}
