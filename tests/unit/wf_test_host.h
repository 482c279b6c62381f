/* SPDX-License-Identifier: MIT */
/*
 * A host for wf_exec in tests: a fake clock, a task runner with a few built-in resources, a
 * timer list fired in due order, and a recorder of history events.
 *
 * Resources (the part after the last ':' decides, other forms are failures):
 *   ...:echo        succeeds with its input
 *   ...:fail        fails with error input.error (default "CustomError"), cause input.cause
 *   ...:flaky       fails with "Flaky" until $$.State.RetryCount reaches input.ok_after
 *   ...:sleep       never reports: only a timeout or a stop ends it
 *   ...:big         succeeds with a 300 KiB string (States.DataLimitExceeded)
 * Header-only, like dp_test.h.
 */
#ifndef WF_TEST_HOST_H
#define WF_TEST_HOST_H

#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "wf_asl.h"
#include "wf_exec.h"

#define TH_MAX 4096

struct th_task {
	uint64_t token;
	char resource[128];
	json_t *input;
	uint32_t retry_count;
};

struct th_timer {
	uint64_t id;
	int64_t due;
};

struct th_host {
	int64_t now;
	struct th_task tasks[TH_MAX];
	size_t ntasks;
	struct th_timer timers[TH_MAX];
	size_t ntimers;
	struct wf_event events[TH_MAX];
	size_t nevents;
	uint64_t invoked[TH_MAX]; /* tokens, in invocation order */
	size_t ninvoked;
	size_t cancelled;
};

static inline void th_task(void *arg, const struct wf_task_req *req)
{
	struct th_host *h = arg;
	struct th_task *t = &h->tasks[h->ntasks++];

	t->token = req->token;
	snprintf(t->resource, sizeof(t->resource), "%s", req->resource);
	t->input = json_incref(req->input);
	t->retry_count = req->retry_count;
	h->invoked[h->ninvoked++] = req->token;
}

static inline void th_cancel(void *arg, uint64_t token)
{
	struct th_host *h = arg;

	h->cancelled++;
	for (size_t i = 0; i < h->ntasks; i++)
		if (h->tasks[i].token == token) {
			json_decref(h->tasks[i].input);
			memmove(&h->tasks[i], &h->tasks[i + 1], (h->ntasks - i - 1) * sizeof(h->tasks[0]));
			h->ntasks--;
			return;
		}
}

static inline void th_timer(void *arg, uint64_t id, int64_t due)
{
	struct th_host *h = arg;

	for (size_t i = 0; i < h->ntimers; i++)
		if (h->timers[i].id == id) {
			h->timers[i].due = due;
			return;
		}
	h->timers[h->ntimers].id = id;
	h->timers[h->ntimers++].due = due;
}

static inline void th_event(void *arg, const struct wf_event *ev)
{
	struct th_host *h = arg;

	if (h->nevents < TH_MAX) {
		h->events[h->nevents] = *ev;
		h->events[h->nevents++].details = json_incref(ev->details);
	}
}

static inline struct wf_host th_host_of(struct th_host *h)
{
	struct wf_host w = {
		.task = th_task, .task_cancel = th_cancel, .timer = th_timer, .event = th_event,
		.arg = h,
	};
	return w;
}

static inline void th_clear(struct th_host *h)
{
	for (size_t i = 0; i < h->ntasks; i++)
		json_decref(h->tasks[i].input);
	for (size_t i = 0; i < h->nevents; i++)
		json_decref(h->events[i].details);
	memset(h, 0, sizeof(*h));
}

/* Complete one task the way its resource says. Returns the input function's result. */
static inline int th_complete(struct th_host *h, struct wf_exec *ex, struct th_task *t)
{
	const char *kind = strrchr(t->resource, ':');
	int r;

	kind = kind ? kind + 1 : t->resource;
	if (!strcmp(kind, "echo")) {
		r = wf_exec_task_done(ex, t->token, true, t->input, NULL, NULL, h->now);
	} else if (!strcmp(kind, "fail")) {
		const char *e = "CustomError", *c = "it failed";

		json_unpack(t->input, "{s?s,s?s}", "error", &e, "cause", &c);
		r = wf_exec_task_done(ex, t->token, false, NULL, e, c, h->now);
	} else if (!strcmp(kind, "flaky")) {
		json_int_t ok_after = 2;

		json_unpack(t->input, "{s?I}", "ok_after", &ok_after);
		if ((json_int_t)t->retry_count >= ok_after)
			r = wf_exec_task_succeeded(ex, t->token, t->input, h->now);
		else
			r = wf_exec_task_failed(ex, t->token, "Flaky", "not yet", h->now);
	} else if (!strcmp(kind, "big")) {
		char *s = malloc(300 * 1024 + 1);
		json_t *v;

		memset(s, 'x', 300 * 1024);
		s[300 * 1024] = '\0';
		v = json_string(s);
		free(s);
		r = wf_exec_task_succeeded(ex, t->token, v, h->now);
		json_decref(v);
	} else {
		r = wf_exec_task_failed(ex, t->token, "UnknownResource", t->resource, h->now);
	}
	return r;
}

static inline bool th_is_sleep(const struct th_task *t)
{
	const char *k = strrchr(t->resource, ':');

	return !strcmp(k ? k + 1 : t->resource, "sleep");
}

/*
 * One step of the outside world: complete the oldest runnable task, else fire the earliest
 * timer (advancing the clock). Returns false when nothing is left to do.
 */
static inline bool th_step(struct th_host *h, struct wf_exec *ex)
{
	for (size_t i = 0; i < h->ntasks; i++) {
		struct th_task t = h->tasks[i];

		if (th_is_sleep(&t))
			continue;
		memmove(&h->tasks[i], &h->tasks[i + 1], (h->ntasks - i - 1) * sizeof(h->tasks[0]));
		h->ntasks--;
		th_complete(h, ex, &t);
		json_decref(t.input);
		return true;
	}
	if (h->ntimers) {
		size_t best = 0;

		for (size_t i = 1; i < h->ntimers; i++)
			if (h->timers[i].due < h->timers[best].due ||
			    (h->timers[i].due == h->timers[best].due &&
			     h->timers[i].id < h->timers[best].id))
				best = i;
		struct th_timer t = h->timers[best];

		memmove(&h->timers[best], &h->timers[best + 1],
			(h->ntimers - best - 1) * sizeof(h->timers[0]));
		h->ntimers--;
		if (t.due > h->now)
			h->now = t.due;
		wf_exec_timer_fired(ex, t.id, h->now);
		return true;
	}
	return false;
}

static inline void th_drive(struct th_host *h, struct wf_exec *ex)
{
	while (wf_exec_status(ex) == WF_EXEC_RUNNING && th_step(h, ex))
		;
}

/* The execution every test runs as. */
static const struct wf_exec_info th_info = {
	.execution_arn = "arn:aws:states:us-east-1:000000000000:execution:sm:ex1",
	.name = "ex1",
	.state_machine_arn = "arn:aws:states:us-east-1:000000000000:stateMachine:sm",
	.state_machine_name = "sm",
	.role_arn = "arn:aws:iam::000000000000:role/r",
	.seed = 42,
};

/* Parse, start at t=1,000,000 ms, drive to the end. NULL when the definition is refused. */
static inline struct wf_exec *th_run(struct th_host *h, struct wf_machine **m, const char *def,
				     const char *input)
{
	struct wf_host w = th_host_of(h);
	struct wf_exec *ex = NULL;
	char err[512];
	json_t *in;

	if (wf_machine_parse(def, strlen(def), m, err, sizeof(err)) < 0) {
		printf("# definition refused: %s\n", err);
		return NULL;
	}
	in = json_loads(input, JSON_DECODE_ANY, NULL);
	if (!in)
		return NULL;
	if (!h->now)
		h->now = 1000000;
	if (wf_exec_start(*m, &th_info, &w, in, h->now, &ex) == 0) {
		wf_exec_run(ex);
		th_drive(h, ex);
	}
	json_decref(in);
	return ex;
}

/* True when @v equals the JSON text @text. Prints both when not. */
static inline bool th_json_is(json_t *v, const char *text)
{
	json_t *e = json_loads(text, JSON_DECODE_ANY, NULL);
	bool ok = e && v && json_equal(v, e);

	if (!ok) {
		char *a = v ? json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT) : NULL;

		printf("# got %s, expected %s\n", a ? a : "(null)", text);
		free(a);
	}
	json_decref(e);
	return ok;
}

/* The event types recorded, as "A,B,C". */
static inline void th_types(const struct th_host *h, char *buf, size_t len)
{
	size_t o = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < h->nevents && o < len; i++)
		o += (size_t)snprintf(buf + o, len - o, "%s%s", i ? "," : "",
				      wf_event_type_name(h->events[i].type));
}

#endif
