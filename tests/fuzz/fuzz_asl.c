/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for wf_asl and wf_exec: a state machine definition is client input
 * (CreateStateMachine), and an accepted one is then run.
 *
 * Properties: parse returns 0 or -EINVAL with a message in Step Functions' form ("CODE: ... at
 * /pointer"); an accepted machine runs to an end under a simple host (tasks echo their input or
 * fail by resource name, timers fire in order) within a bounded number of host steps and events,
 * and every event id follows the one before it.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "wf_asl.h"
#include "wf_exec.h"

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);

#define PROPERTY(cond) do { if (!(cond)) abort(); } while (0)
#define MAXQ 256

struct fhost {
	uint64_t tasks[MAXQ];
	json_t *inputs[MAXQ];
	int fail[MAXQ];
	size_t ntasks;
	uint64_t timers[MAXQ];
	int64_t due[MAXQ];
	size_t ntimers;
	uint64_t last_id;
	bool overflow;
};

static void on_task(void *arg, const struct wf_task_req *req)
{
	struct fhost *h = arg;

	if (h->ntasks == MAXQ) {
		h->overflow = true;
		return;
	}
	h->tasks[h->ntasks] = req->token;
	h->inputs[h->ntasks] = json_incref(req->input);
	h->fail[h->ntasks++] = strstr(req->resource, "fail") != NULL;
}

static void on_timer(void *arg, uint64_t id, int64_t due)
{
	struct fhost *h = arg;

	if (h->ntimers == MAXQ) {
		h->overflow = true;
		return;
	}
	h->timers[h->ntimers] = id;
	h->due[h->ntimers++] = due;
}

static void on_event(void *arg, const struct wf_event *ev)
{
	struct fhost *h = arg;

	PROPERTY(ev->id == h->last_id + 1);
	PROPERTY(ev->prev_id < ev->id);
	PROPERTY(wf_event_type_name(ev->type) != NULL);
	h->last_id = ev->id;
}

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	struct fhost h = {0};
	struct wf_host w = {.task = on_task, .timer = on_timer, .event = on_event, .arg = &h};
	struct wf_exec_info info = {.name = "fuzz", .max_events = 2000};
	struct wf_machine *m = NULL;
	struct wf_exec *ex = NULL;
	json_t *in;
	char err[512];
	int64_t now = 0;
	int r, steps = 0;

	r = wf_machine_parse((const char *)d, n, &m, err, sizeof(err));
	PROPERTY(r == 0 || r == -EINVAL);
	if (r < 0) {
		PROPERTY(err[0] && strchr(err, ':'));
		PROPERTY(strstr(err, " at ") || !strncmp(err, "INVALID_JSON_DESCRIPTION", 24));
		return 0;
	}
	PROPERTY(wf_machine_state_count(m) >= 1);
	in = json_pack("{s:i,s:[i,i],s:s}", "n", 1, "items", 1, 2, "s", "x");
	r = wf_exec_start(m, &info, &w, in, 0, &ex);
	PROPERTY(r == 0);
	wf_exec_run(ex);
	while (wf_exec_status(ex) == WF_EXEC_RUNNING && steps++ < 500 && !h.overflow) {
		if (h.ntasks) {
			uint64_t tok = h.tasks[0];
			json_t *ti = h.inputs[0];
			int fail = h.fail[0];

			memmove(h.tasks, h.tasks + 1, --h.ntasks * sizeof(h.tasks[0]));
			memmove(h.inputs, h.inputs + 1, h.ntasks * sizeof(h.inputs[0]));
			memmove(h.fail, h.fail + 1, h.ntasks * sizeof(h.fail[0]));
			if (fail)
				wf_exec_task_failed(ex, tok, "Failed", "fuzz", now);
			else
				wf_exec_task_succeeded(ex, tok, ti, now);
			json_decref(ti);
		} else if (h.ntimers) {
			size_t b = 0;

			for (size_t i = 1; i < h.ntimers; i++)
				if (h.due[i] < h.due[b])
					b = i;
			uint64_t id = h.timers[b];

			if (h.due[b] > now)
				now = h.due[b];
			memmove(h.timers + b, h.timers + b + 1, (h.ntimers - b - 1) * sizeof(h.timers[0]));
			memmove(h.due + b, h.due + b + 1, (h.ntimers - b - 1) * sizeof(h.due[0]));
			h.ntimers--;
			wf_exec_timer_fired(ex, id, now);
		} else {
			break;
		}
	}
	PROPERTY(wf_exec_event_count(ex) <= 2000 + 8);
	for (size_t i = 0; i < h.ntasks; i++)
		json_decref(h.inputs[i]);
	wf_exec_free(ex);
	json_decref(in);
	wf_machine_free(m);
	return 0;
}
