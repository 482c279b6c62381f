/* SPDX-License-Identifier: MIT */
/*
 * wf_exec: the interpreter (contract, events and durability in wf_exec.h).
 *
 * An execution is a tree of runs: the root run walks the machine's top-level states; a Parallel
 * or Map state owns one child run per branch or item. A run is resumed with a reason (enter the
 * current state, a task result, an error, a timer, children done) from a first-in first-out
 * queue that wf_exec_run() drains, which fixes the order of everything the execution does.
 * Everything waiting on the outside (tasks and timers) sits in one table of pending entries keyed
 * by token or timer id; a run that is cancelled loses its entries, so a late report finds
 * nothing and changes nothing.
 *
 * JSON values are immutable once made: states pass references along (InputPath `$`, Pass
 * without Result, ResultPath `$` copy nothing); ResultPath copies only the objects on its path.
 */
#include "wf_exec.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wf_asl_internal.h"

enum resume { RS_ENTER, RS_TASK_OK, RS_ERROR, RS_WAIT_DONE, RS_RETRY, RS_KIDS_OK };
enum step_res { GO, BLOCK, END };
enum pkind { P_TASK, P_WAIT, P_RETRY, P_TIMEOUT, P_HEARTBEAT, P_EXEC_TIMEOUT };

struct run;

struct pend {
	uint64_t id;
	enum pkind kind;
	bool issued;       /* the host has been told (false for requests rebuilt by replay) */
	struct run *run;
	int64_t due;       /* timers; the heartbeat deadline */
};

struct run {
	const struct wf_graph *g;
	struct run *parent;
	size_t index;
	int cur;
	json_t *input;          /* raw input of the current state */
	json_t *eff;            /* effective input */
	json_t *result;         /* RS_TASK_OK / RS_KIDS_OK */
	char *err, *cause;      /* RS_ERROR */
	enum resume resume;
	bool dead;
	uint64_t last_event, entered_id;
	int64_t entered_ms;
	uint32_t *retries;      /* per retrier, this state visit */
	uint32_t retry_count;
	uint64_t token;         /* the task of this visit */
	int64_t timeout_s, heartbeat_s;
	json_t *ctx;            /* cached context object of this visit */

	struct run **kids;
	size_t nkids, launched, finished, failed;
	json_t *results;
	json_t *kid_inputs;
	int64_t max_conc, tol_count;
	double tol_pct;
	bool tolerance;
};

struct wf_exec {
	const struct wf_machine *m;
	struct wf_host host;
	char *arn, *name, *sm_arn, *sm_name, *role;
	uint64_t rng;
	json_t *exec_input;
	int64_t start_ms, now_ms;
	enum wf_exec_status status;
	json_t *output;
	char *error, *cause;
	uint64_t last_event;
	uint64_t last_timer;
	uint64_t transitions;
	uint64_t max_events;
	struct run *root;

	struct run **queue;
	size_t qhead, qtail, qcap;
	struct pend *pend;
	size_t npend, cappend;
	struct run **grave;
	size_t ngrave, capgrave;

	enum wf_trigger trig;
	uint64_t trig_ref;

	const struct wf_event *rec; /* the record being replayed */
	uint64_t nrec;              /* events 1..nrec were delivered before: not again */
	int replay_err;
	int oom;
};

static const char *const ev_names[] = {
#define WF_EV_NAME(n) #n,
	WF_EVENT_TYPES(WF_EV_NAME)
#undef WF_EV_NAME
};

const char *wf_event_type_name(enum wf_event_type t)
{
	return (unsigned)t < WF_EV__COUNT ? ev_names[t] : NULL;
}

void wf_event_details_name(enum wf_event_type t, char buf[64])
{
	const char *n = wf_event_type_name(t);

	if (!n) {
		buf[0] = '\0';
		return;
	}
	snprintf(buf, 64, "%c%sEventDetails", n[0] - 'A' + 'a', n + 1);
}

int wf_event_type_parse(const char *name, enum wf_event_type *t)
{
	for (unsigned i = 0; i < WF_EV__COUNT; i++)
		if (!strcmp(ev_names[i], name)) {
			*t = (enum wf_event_type)i;
			return 0;
		}
	return -EINVAL;
}

/* Memory failures inside the step machine are remembered and reported by wf_exec_run(). */
static char *xstrdup(struct wf_exec *ex, const char *s)
{
	char *d;

	if (!s)
		return NULL;
	d = strdup(s);
	if (!d)
		ex->oom = 1;
	return d;
}

/* Events. */

static bool ev_live(const struct wf_exec *ex)
{
	return ex->host.event && ex->last_event + 1 > ex->nrec;
}

/* Details for the next event, built only when someone will see them. */
static json_t *details(struct wf_exec *ex, const char *fmt, ...)
{
	va_list ap;
	json_t *d;

	if (!ev_live(ex) || ex->host.no_details)
		return NULL;
	va_start(ap, fmt);
	d = json_vpack_ex(NULL, 0, fmt, ap);
	va_end(ap);
	if (!d)
		ex->oom = 1;
	return d;
}

static uint64_t emit(struct wf_exec *ex, struct run *r, enum wf_event_type t, json_t *d)
{
	uint64_t id = ++ex->last_event;
	struct wf_event ev = {
		.id = id,
		.prev_id = r ? r->last_event : id - 1,
		.time_ms = ex->now_ms,
		.type = t,
		.details = d,
		.trigger = ex->trig,
		.trigger_ref = ex->trig_ref,
	};

	if (id <= ex->nrec) {
		if (ex->rec && ex->rec[id - 1].type != t && !ex->replay_err)
			ex->replay_err = -EPROTO;
	} else if (ex->host.event) {
		ex->host.event(ex->host.arg, &ev);
	}
	ex->trig = WF_TRIGGER_NONE;
	ex->trig_ref = 0;
	if (r)
		r->last_event = id;
	json_decref(d);
	return id;
}

/* The type-specific event names of a state. */
static const struct {
	enum wf_event_type entered, exited;
} state_ev[] = {
	[WF_PASS] = {WF_EV_PassStateEntered, WF_EV_PassStateExited},
	[WF_TASK] = {WF_EV_TaskStateEntered, WF_EV_TaskStateExited},
	[WF_CHOICE] = {WF_EV_ChoiceStateEntered, WF_EV_ChoiceStateExited},
	[WF_WAIT] = {WF_EV_WaitStateEntered, WF_EV_WaitStateExited},
	[WF_SUCCEED] = {WF_EV_SucceedStateEntered, WF_EV_SucceedStateExited},
	[WF_FAIL] = {WF_EV_FailStateEntered, WF_EV_FailStateEntered},
	[WF_PARALLEL] = {WF_EV_ParallelStateEntered, WF_EV_ParallelStateExited},
	[WF_MAP] = {WF_EV_MapStateEntered, WF_EV_MapStateExited},
};

/* resource / resourceType as Step Functions splits them: arn:aws:states:::lambda:invoke. */
static void split_resource(const char *res, char *type, size_t tlen, const char **rest)
{
	const char *p = res, *q;

	*rest = res;
	snprintf(type, tlen, "%s", "task");
	if (!strncmp(p, "arn:", 4)) {
		for (int i = 0; i < 5 && p; i++)
			p = strchr(p + 1, ':');
		if (p && strstr(res, ":states:::") && (q = strpbrk(p + 1, ":."))) {
			snprintf(type, tlen, "%.*s", (int)(q - p - 1), p + 1);
			*rest = q + 1;
		} else if (strstr(res, ":lambda:")) {
			snprintf(type, tlen, "%s", "lambda");
		}
	}
}

/* Make room for one more element in the growable array *@arr of *@cap elements of @size bytes,
 * @used of them in use: doubles it (from @first). Returns false (and marks the execution out of
 * memory) when it cannot grow; the array is then unchanged. */
static bool room(struct wf_exec *ex, void *arr, size_t *cap, size_t used, size_t size,
		 size_t first)
{
	if (used < *cap)
		return true;
	size_t n = *cap ? *cap * 2 : first;
	void *old, *p;
	memcpy(&old, arr, sizeof(old)); /* any object pointer: no aliasing through void ** */
	p = realloc(old, n * size);
	if (!p) {
		ex->oom = 1;
		return false;
	}
	memcpy(arr, &p, sizeof(p));
	*cap = n;
	return true;
}

/* Queue and graveyard. */

static void enqueue(struct wf_exec *ex, struct run *r)
{
	if (ex->qtail == ex->qcap && ex->qhead > 0) {
		memmove(ex->queue, ex->queue + ex->qhead,
			(ex->qtail - ex->qhead) * sizeof(*ex->queue));
		ex->qtail -= ex->qhead;
		ex->qhead = 0;
	}
	if (!room(ex, &ex->queue, &ex->qcap, ex->qtail, sizeof(*ex->queue), 16))
		return;
	ex->queue[ex->qtail++] = r;
}

static void run_free(struct run *r)
{
	if (!r)
		return;
	json_decref(r->input);
	json_decref(r->eff);
	json_decref(r->result);
	json_decref(r->ctx);
	json_decref(r->results);
	json_decref(r->kid_inputs);
	free(r->err);
	free(r->cause);
	free(r->retries);
	free(r->kids);
	free(r);
}

static void kids_clear(struct wf_exec *ex, struct run *r);

/* Runs are freed when wf_exec_run() has drained its queue (a dead run may still be queued);
 * a buried run's own children go with it. */
static void bury(struct wf_exec *ex, struct run *r)
{
	kids_clear(ex, r);
	/* Out of memory: leaking beats a use after free (the run may still be queued). */
	if (!room(ex, &ex->grave, &ex->capgrave, ex->ngrave, sizeof(*ex->grave), 16))
		return;
	ex->grave[ex->ngrave++] = r;
}

/* Pending tasks and timers. */

static struct pend *pend_add(struct wf_exec *ex, uint64_t id, enum pkind kind, struct run *r,
			     int64_t due)
{
	struct pend *p;

	if (!room(ex, &ex->pend, &ex->cappend, ex->npend, sizeof(*ex->pend), 8))
		return NULL;
	p = &ex->pend[ex->npend++];
	*p = (struct pend){.id = id, .kind = kind, .run = r, .due = due};
	return p;
}

static struct pend *pend_find(struct wf_exec *ex, uint64_t id, bool task)
{
	for (size_t i = 0; i < ex->npend; i++)
		if (ex->pend[i].id == id && (ex->pend[i].kind == P_TASK) == task)
			return &ex->pend[i];
	return NULL;
}

static void pend_del(struct wf_exec *ex, struct pend *p)
{
	size_t i = (size_t)(p - ex->pend);

	memmove(p, p + 1, (ex->npend - i - 1) * sizeof(*p));
	ex->npend--;
}

/* Drop what @r waits for; tell the host about tasks it runs (unless keep_task). */
static void pend_drop_run(struct wf_exec *ex, struct run *r, bool timers_only)
{
	for (size_t i = 0; i < ex->npend;) {
		struct pend *p = &ex->pend[i];

		if (p->run != r || (timers_only && p->kind == P_TASK)) {
			i++;
			continue;
		}
		if (p->kind == P_TASK && p->issued && ex->host.task_cancel)
			ex->host.task_cancel(ex->host.arg, p->id);
		pend_del(ex, p);
	}
}

/* Requests reach the host at once, except while a replay runs: then they wait for reissue(),
 * which hands them out in the order the execution made them. */
static bool requests_live(const struct wf_exec *ex)
{
	return !ex->rec;
}

static uint64_t timer_arm(struct wf_exec *ex, struct run *r, enum pkind kind, int64_t due)
{
	uint64_t id = ++ex->last_timer;
	struct pend *p = pend_add(ex, id, kind, r, due);

	if (p && requests_live(ex)) {
		p->issued = true;
		if (ex->host.timer)
			ex->host.timer(ex->host.arg, id, due);
	}
	return id;
}

/* Errors. */

static int run_error(struct run *r, const char *error, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int run_error(struct run *r, const char *error, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;

	free(r->err);
	free(r->cause);
	r->err = strdup(error);
	r->cause = NULL;
	if (fmt) {
		va_start(ap, fmt);
		vsnprintf(buf, sizeof(buf), fmt, ap);
		va_end(ap);
		r->cause = strdup(buf);
	}
	r->resume = RS_ERROR;
	return -EINVAL;
}

static const char *cur_name(const struct run *r)
{
	return r->g->states[r->cur].name;
}

/* States.Runtime with AWS's cause prefix. */
static int runtime_error(struct run *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int runtime_error(struct run *r, const char *fmt, ...)
{
	char buf[768];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	return run_error(r, "States.Runtime",
			 "An error occurred while executing the state '%s' (entered at the event id "
			 "#%llu). %s", cur_name(r), (unsigned long long)r->entered_id, buf);
}

static char *dump_short(json_t *v)
{
	return json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
}

/* The context object. */

static json_t *ctx_build(struct wf_exec *ex, struct run *r, json_t *item_index, json_t *item_value)
{
	char st[32], en[32], tok[128];
	json_t *c, *map = NULL;

	wf_timestamp_format(ex->start_ms, st);
	wf_timestamp_format(r->entered_ms, en);
	if (item_index)
		map = json_pack("{s:{s:O,s:O}}", "Item", "Index", item_index, "Value", item_value);
	if (r->token)
		wf_exec_token_format(ex, r->token, tok, sizeof(tok));
	c = json_pack("{s:{s:s,s:O,s:s,s:s?,s:s,s:i},s:{s:s,s:s},s:{s:s,s:s,s:i},s:o*,s:o*}",
		      "Execution", "Id", ex->arn, "Input", ex->exec_input, "Name", ex->name,
		      "RoleArn", ex->role, "StartTime", st, "RedriveCount", 0,
		      "StateMachine", "Id", ex->sm_arn, "Name", ex->sm_name,
		      "State", "Name", cur_name(r), "EnteredTime", en, "RetryCount",
		      (json_int_t)r->retry_count,
		      "Task", r->token ? json_pack("{s:s}", "Token", tok) : NULL,
		      "Map", map);
	if (!c)
		ex->oom = 1;
	return c;
}

struct ctxarg {
	struct wf_exec *ex;
	struct run *r;
	json_t *item_index, *item_value;
	json_t *own; /* a context built for a Map item */
};

static json_t *ctx_get(void *arg)
{
	struct ctxarg *a = arg;

	if (a->item_index) {
		if (!a->own)
			a->own = ctx_build(a->ex, a->r, a->item_index, a->item_value);
		return a->own;
	}
	if (!a->r->ctx)
		a->r->ctx = ctx_build(a->ex, a->r, NULL, NULL);
	return a->r->ctx;
}

static void ctx_reset(struct run *r)
{
	json_decref(r->ctx);
	r->ctx = NULL;
}

/* Evaluate a path over the state data or the context. -ENOENT when nothing matches. */
static int path_eval(struct ctxarg *ca, const struct wf_path *p, json_t *doc, json_t **out)
{
	if (wf_path_is_context(p)) {
		doc = ctx_get(ca);
		if (!doc)
			return -ENOMEM;
	}
	return wf_path_eval(p, doc, out);
}

/* Payload templates. */
static int tmpl_eval(struct ctxarg *ca, const struct wf_tmpl *t, json_t *in, json_t **out)
{
	struct run *r = ca->r;
	json_t *o, *v;
	char cause[512];
	int rc;

	switch (t->kind) {
	case WF_T_LIT:
		*out = json_incref(t->lit);
		return 0;
	case WF_T_PATH:
		rc = path_eval(ca, t->path, in, out);
		if (rc == -ENOENT) {
			char *s = dump_short(in);

			runtime_error(r, "The JSONPath '%s' specified for the field '%s' could not be "
				      "found in the input '%s'", wf_path_text(t->path), t->field,
				      s ? s : "");
			free(s);
		}
		return rc;
	case WF_T_FN: {
		struct wf_intrinsic_env env = {
			.input = in, .context = ctx_get, .context_arg = ca, .rng = &ca->ex->rng,
		};

		rc = wf_intrinsic_eval(t->fn, &env, out, cause, sizeof(cause));
		if (rc == -ENOENT)
			runtime_error(r, "%s", cause);
		else if (rc == -EINVAL)
			run_error(r, "States.IntrinsicFailure", "%s", cause);
		return rc;
	}
	case WF_T_OBJ:
	case WF_T_ARR:
		o = t->kind == WF_T_OBJ ? json_object() : json_array();
		if (!o)
			return -ENOMEM;
		for (size_t i = 0; i < t->n; i++) {
			rc = tmpl_eval(ca, &t->kids[i], in, &v);
			if (rc < 0) {
				json_decref(o);
				return rc;
			}
			rc = t->kind == WF_T_OBJ ? json_object_set_new(o, t->keys[i], v)
						 : json_array_append_new(o, v);
			if (rc) {
				json_decref(o);
				return -ENOMEM;
			}
		}
		*out = o;
		return 0;
	}
	return -EINVAL;
}

/* InputPath then Parameters (when @params): the effective input. */
static int input_process(struct wf_exec *ex, struct run *r, const struct wf_state *s,
			 const struct wf_tmpl *params, json_t **out)
{
	struct ctxarg ca = {.ex = ex, .r = r};
	json_t *v;
	int rc;

	if (s->input_path.is_null) {
		v = json_object();
		if (!v)
			return -ENOMEM;
	} else if (!s->input_path.path || (wf_path_is_root(s->input_path.path) &&
					    !wf_path_is_context(s->input_path.path))) {
		v = json_incref(r->input);
	} else {
		rc = path_eval(&ca, s->input_path.path, r->input, &v);
		if (rc == -ENOENT)
			return runtime_error(r, "Invalid path '%s' : No results for path: %s",
					     wf_path_text(s->input_path.path),
					     wf_path_text(s->input_path.path));
		if (rc < 0)
			return rc;
	}
	if (params) {
		json_t *p;

		rc = tmpl_eval(&ca, params, v, &p);
		json_decref(v);
		if (rc < 0)
			return rc;
		v = p;
	}
	*out = v;
	return 0;
}

static int output_process(struct wf_exec *ex, struct run *r, const struct wf_state *s, json_t *in,
			  json_t **out)
{
	struct ctxarg ca = {.ex = ex, .r = r};
	int rc;

	if (s->output_path.is_null) {
		*out = json_object();
		return *out ? 0 : -ENOMEM;
	}
	if (!s->output_path.path || (wf_path_is_root(s->output_path.path) &&
				     !wf_path_is_context(s->output_path.path))) {
		*out = json_incref(in);
		return 0;
	}
	rc = path_eval(&ca, s->output_path.path, in, out);
	if (rc == -ENOENT)
		return runtime_error(r, "Invalid path '%s' : No results for path: %s",
				     wf_path_text(s->output_path.path),
				     wf_path_text(s->output_path.path));
	return rc;
}

/* Whether output_process can fail only for want of memory (which ends the execution anyway):
 * no OutputPath, OutputPath null, or `$`. */
static bool output_infallible(const struct wf_state *s)
{
	return s->output_path.is_null || !s->output_path.path ||
	       (wf_path_is_root(s->output_path.path) && !wf_path_is_context(s->output_path.path));
}

/* ResultPath over @raw. With @reuse, @raw is the run's input, which the state leaves with the
 * result whenever this succeeds: containers of it that only the run holds (r->input, and r->eff
 * when that is the same value) are changed in place (wf_path_set_reuse). */
static int result_path_apply(struct run *r, const struct wf_opt_path *rp, json_t *raw,
			     json_t *result, bool reuse, json_t **out)
{
	int rc;

	if (rp->is_null) {
		*out = json_incref(raw);
		return 0;
	}
	if (!rp->path) {
		*out = json_incref(result);
		return 0;
	}
	rc = reuse ? wf_path_set_reuse(rp->path, raw, r->eff == raw ? 2 : 1, result, out)
		   : wf_path_set(rp->path, raw, result, out);
	if (rc == -EINVAL) {
		char *s = dump_short(raw);

		run_error(r, "States.ResultPathMatchFailure",
			  "Unable to apply ResultPath \"%s\" to input \"%s\"", wf_path_text(rp->path),
			  s ? s : "");
		free(s);
	}
	return rc;
}

/* Forward declarations of the transitions between runs. */
static enum step_res run_succeed(struct wf_exec *ex, struct run *r, json_t *output);
static enum step_res run_fail(struct wf_exec *ex, struct run *r, const char *error,
			      const char *cause);
static void cancel_kids(struct wf_exec *ex, struct run *r);

/* Leave the current state for @next (or finish the run) with @output (owned). */
static enum step_res transition(struct wf_exec *ex, struct run *r, const struct wf_state *s,
				int next, json_t *output)
{
	emit(ex, r, state_ev[s->type].exited,
	     details(ex, "{s:O,s:O}", "name", s->name_json, "output", output));
	json_decref(r->eff);
	r->eff = NULL;
	if (next < 0)
		return run_succeed(ex, r, output);
	json_decref(r->input);
	r->input = output;
	r->cur = next;
	r->resume = RS_ENTER;
	return GO;
}

/* ResultSelector -> ResultPath -> OutputPath -> exit. @result is owned. */
static enum step_res finish_state(struct wf_exec *ex, struct run *r, const struct wf_state *s,
				  json_t *result)
{
	struct ctxarg ca = {.ex = ex, .r = r};
	json_t *merged, *out;
	int rc;

	if (s->result_selector) {
		json_t *sel;

		rc = tmpl_eval(&ca, s->result_selector, result, &sel);
		json_decref(result);
		if (rc < 0)
			goto fail;
		result = sel;
	}
	/* When nothing after this can fail, the state's input is not read again: ResultPath may
	 * build the output in it. */
	rc = result_path_apply(r, &s->result_path, r->input, result, output_infallible(s), &merged);
	json_decref(result);
	if (rc < 0)
		goto fail;
	rc = output_process(ex, r, s, merged, &out);
	json_decref(merged);
	if (rc < 0)
		goto fail;
	return transition(ex, r, s, s->next, out);
fail:
	if (rc == -ENOMEM)
		ex->oom = 1;
	return GO; /* r->resume is RS_ERROR */
}

/* Choice rules. */

/* StringMatches: `*` is any run of characters, `\*` a star, `\\` a backslash. Iterative,
 * backtracking only to the last star, so a pattern of many stars stays linear per star. */
static bool glob_match(const char *p, const char *s)
{
	const char *star = NULL, *mark = NULL;

	while (*s) {
		const char *q = p;
		char c = '\0';

		if (*p == '*') {
			star = ++p;
			mark = s;
			continue;
		}
		if (*q == '\\' && (q[1] == '*' || q[1] == '\\')) {
			c = q[1];
			q += 2;
		} else if (*q) {
			c = *q++;
		}
		if (c && c == *s) {
			p = q;
			s++;
			continue;
		}
		if (!star)
			return false;
		p = star;
		s = ++mark;
	}
	while (*p == '*')
		p++;
	return *p == '\0';
}

static bool cmp_ok(enum wf_cmp c, int d)
{
	switch (c) {
	case WF_C_EQ: return d == 0;
	case WF_C_LT: return d < 0;
	case WF_C_GT: return d > 0;
	case WF_C_LE: return d <= 0;
	case WF_C_GE: return d >= 0;
	}
	return false;
}

static int rule_eval(struct ctxarg *ca, const struct wf_rule *rule, json_t *in, bool *res)
{
	json_t *a = NULL, *b = NULL;
	int64_t ta, tb;
	int rc, d;
	bool ok;

	switch (rule->kind) {
	case WF_R_AND:
	case WF_R_OR:
		for (size_t i = 0; i < rule->nsub; i++) {
			if ((rc = rule_eval(ca, &rule->sub[i], in, &ok)) < 0)
				return rc;
			if (ok == (rule->kind == WF_R_OR)) {
				*res = ok;
				return 0;
			}
		}
		*res = rule->kind == WF_R_AND;
		return 0;
	case WF_R_NOT:
		if ((rc = rule_eval(ca, rule->sub, in, &ok)) < 0)
			return rc;
		*res = !ok;
		return 0;
	default:
		break;
	}
	rc = path_eval(ca, rule->var, in, &a);
	if (rc == -ENOENT) {
		if (rule->kind == WF_R_TYPE && rule->test == WF_IS_PRESENT) {
			*res = !rule->want;
			return 0;
		}
		return runtime_error(ca->r, "Invalid path '%s': The choice state's condition path "
				     "references an invalid value.", wf_path_text(rule->var));
	}
	if (rc < 0)
		return rc;
	if (rule->kind == WF_R_TYPE) {
		switch (rule->test) {
		case WF_IS_NULL: ok = json_is_null(a); break;
		case WF_IS_PRESENT: ok = true; break;
		case WF_IS_NUMERIC: ok = json_is_number(a); break;
		case WF_IS_STRING: ok = json_is_string(a); break;
		case WF_IS_BOOLEAN: ok = json_is_boolean(a); break;
		case WF_IS_TIMESTAMP:
			ok = json_is_string(a) && wf_timestamp_parse(json_string_value(a), &ta) == 0;
			break;
		default: ok = false;
		}
		*res = ok == rule->want;
		json_decref(a);
		return 0;
	}
	if (rule->kind == WF_R_MATCH) {
		*res = json_is_string(a) && glob_match(rule->pattern, json_string_value(a));
		json_decref(a);
		return 0;
	}
	if (rule->path2) {
		rc = path_eval(ca, rule->path2, in, &b);
		if (rc < 0) {
			json_decref(a);
			if (rc == -ENOENT)
				return runtime_error(ca->r, "Invalid path '%s': The choice state's "
						     "condition path references an invalid value.",
						     wf_path_text(rule->path2));
			return rc;
		}
	} else {
		b = json_incref(rule->lit);
	}
	ok = false;
	switch (rule->fam) {
	case WF_F_STR:
		if (json_is_string(a) && json_is_string(b)) {
			d = strcmp(json_string_value(a), json_string_value(b));
			ok = cmp_ok(rule->cmp, d);
		}
		break;
	case WF_F_NUM:
		if (json_is_number(a) && json_is_number(b)) {
			double x = json_number_value(a), y = json_number_value(b);

			ok = cmp_ok(rule->cmp, x < y ? -1 : x > y ? 1 : 0);
		}
		break;
	case WF_F_BOOL:
		ok = json_is_boolean(a) && json_is_boolean(b) && json_is_true(a) == json_is_true(b);
		break;
	case WF_F_TS:
		if (json_is_string(a) && wf_timestamp_parse(json_string_value(a), &ta) == 0 &&
		    (rule->path2 ? json_is_string(b) &&
				   wf_timestamp_parse(json_string_value(b), &tb) == 0
				 : (tb = rule->ts_ns, true)))
			ok = cmp_ok(rule->cmp, ta < tb ? -1 : ta > tb ? 1 : 0);
		break;
	}
	json_decref(a);
	json_decref(b);
	*res = ok;
	return 0;
}

/* Integer fields read through a path (SecondsPath, TimeoutSecondsPath, ...). */
static int int_from_path(struct wf_exec *ex, struct run *r, const struct wf_path *p, json_t *in,
			 const char *field, int64_t *out)
{
	struct ctxarg ca = {.ex = ex, .r = r};
	json_t *v;
	int rc = path_eval(&ca, p, in, &v);

	if (rc == -ENOENT)
		return runtime_error(r, "The %s field refers to a path '%s' that could not be found",
				     field, wf_path_text(p));
	if (rc < 0)
		return rc;
	if (!json_is_integer(v)) {
		char *s = dump_short(v);

		json_decref(v);
		rc = runtime_error(r, "The %s field refers to value \"%s\" which cannot be parsed as "
				   "a long value: %s", field, s ? s : "", wf_path_text(p));
		free(s);
		return rc;
	}
	*out = json_integer_value(v);
	json_decref(v);
	return 0;
}

/* The work of a Task / Parallel / Map state (also each retry). */

static enum step_res do_task(struct wf_exec *ex, struct run *r, const struct wf_state *s)
{
	char rtype[64];
	const char *rest;
	struct pend *p;
	int rc;

	json_decref(r->eff);
	r->eff = NULL;
	/* $$.Task.Token is the id of the TaskScheduled event about to be emitted. */
	r->token = ex->last_event + 1;
	ctx_reset(r);
	rc = input_process(ex, r, s, s->parameters, &r->eff);
	if (rc == 0 && s->timeout_path)
		rc = int_from_path(ex, r, s->timeout_path, r->input, "TimeoutSecondsPath",
				   &r->timeout_s);
	else
		r->timeout_s = s->timeout_s;
	if (rc == 0 && s->heartbeat_path)
		rc = int_from_path(ex, r, s->heartbeat_path, r->input, "HeartbeatSecondsPath",
				   &r->heartbeat_s);
	else if (rc == 0)
		r->heartbeat_s = s->heartbeat_s;
	if (rc < 0) {
		r->token = 0;
		if (rc == -ENOMEM)
			ex->oom = 1;
		return GO;
	}
	split_resource(s->resource, rtype, sizeof(rtype), &rest);
	emit(ex, r, WF_EV_TaskScheduled,
	     details(ex, "{s:s,s:s,s:s,s:O,s:I,s:I}", "resource", rest, "resourceType", rtype,
		     "region", "us-east-1", "parameters", r->eff, "timeoutInSeconds",
		     (json_int_t)r->timeout_s, "heartbeatInSeconds", (json_int_t)r->heartbeat_s));
	p = pend_add(ex, r->token, P_TASK, r, 0);
	if (p && requests_live(ex)) {
		struct wf_task_req req = {
			.token = r->token, .resource = s->resource, .state_name = s->name,
			.input = r->eff, .timeout_s = r->timeout_s, .heartbeat_s = r->heartbeat_s,
			.retry_count = r->retry_count,
		};

		p->issued = true;
		if (ex->host.task)
			ex->host.task(ex->host.arg, &req);
	}
	emit(ex, r, WF_EV_TaskStarted,
	     details(ex, "{s:s,s:s}", "resource", rest, "resourceType", rtype));
	if (r->timeout_s > 0)
		timer_arm(ex, r, P_TIMEOUT, ex->now_ms + r->timeout_s * 1000);
	if (r->heartbeat_s > 0)
		timer_arm(ex, r, P_HEARTBEAT, ex->now_ms + r->heartbeat_s * 1000);
	return BLOCK;
}

static void kids_clear(struct wf_exec *ex, struct run *r)
{
	for (size_t i = 0; i < r->nkids; i++)
		if (r->kids[i])
			bury(ex, r->kids[i]);
	free(r->kids);
	r->kids = NULL;
	r->nkids = r->launched = r->finished = r->failed = 0;
	json_decref(r->results);
	r->results = NULL;
	json_decref(r->kid_inputs);
	r->kid_inputs = NULL;
}

static void launch_kid(struct wf_exec *ex, struct run *p, size_t i)
{
	const struct wf_state *s = &p->g->states[p->cur];
	struct run *k = calloc(1, sizeof(*k));

	if (!k) {
		ex->oom = 1;
		return;
	}
	k->g = s->type == WF_PARALLEL ? &s->branches[i] : s->processor;
	k->parent = p;
	k->index = i;
	k->cur = k->g->start;
	k->input = json_incref(s->type == WF_PARALLEL ? p->eff : json_array_get(p->kid_inputs, i));
	k->resume = RS_ENTER;
	k->last_event = p->last_event;
	p->kids[i] = k;
	p->launched++;
	if (s->type == WF_MAP)
		emit(ex, k, WF_EV_MapIterationStarted,
		     details(ex, "{s:I,s:O}", "index", (json_int_t)i, "name", s->name_json));
	enqueue(ex, k);
}

static enum step_res do_parallel(struct wf_exec *ex, struct run *r, const struct wf_state *s)
{
	int rc;

	kids_clear(ex, r);
	json_decref(r->eff);
	r->eff = NULL;
	rc = input_process(ex, r, s, s->parameters, &r->eff);
	if (rc < 0) {
		if (rc == -ENOMEM)
			ex->oom = 1;
		return GO;
	}
	emit(ex, r, WF_EV_ParallelStateStarted, details(ex, "{}"));
	r->nkids = s->nbranches;
	r->kids = calloc(r->nkids, sizeof(*r->kids));
	r->results = json_array();
	if (!r->kids || !r->results) {
		ex->oom = 1;
		return BLOCK;
	}
	for (size_t i = 0; i < r->nkids; i++)
		json_array_append(r->results, json_null());
	for (size_t i = 0; i < r->nkids; i++)
		launch_kid(ex, r, i);
	return BLOCK;
}

static int map_limits(struct wf_exec *ex, struct run *r, const struct wf_state *s)
{
	struct ctxarg ca = {.ex = ex, .r = r};
	json_t *v;
	int rc;

	r->max_conc = s->max_concurrency;
	r->tol_count = s->tolerated_count;
	r->tol_pct = s->tolerated_pct;
	if (s->max_concurrency_path) {
		rc = path_eval(&ca, s->max_concurrency_path, r->input, &v);
		if (rc < 0)
			return rc == -ENOENT ? runtime_error(r, "The MaxConcurrencyPath field refers to "
				"a path that could not be found: %s",
				wf_path_text(s->max_concurrency_path)) : rc;
		if (!json_is_integer(v) || json_integer_value(v) < 0) {
			char *t = json_is_string(v) ? strdup(json_string_value(v)) : dump_short(v);

			json_decref(v);
			rc = runtime_error(r, "The MaxConcurrencyPath field refers to value \"%s\" which "
					   "is not a valid integer: %s", t ? t : "",
					   wf_path_text(s->max_concurrency_path));
			free(t);
			return rc;
		}
		r->max_conc = json_integer_value(v);
		json_decref(v);
	}
	if (s->tolerated_count_path) {
		rc = int_from_path(ex, r, s->tolerated_count_path, r->input,
				   "ToleratedFailureCountPath", &r->tol_count);
		if (rc < 0)
			return rc;
		if (r->tol_count < 0)
			return runtime_error(r, "ToleratedFailureCount cannot be negative.");
	}
	if (s->tolerated_pct_path) {
		rc = path_eval(&ca, s->tolerated_pct_path, r->input, &v);
		if (rc < 0)
			return rc == -ENOENT ? runtime_error(r, "The ToleratedFailurePercentagePath "
				"field refers to a path that could not be found") : rc;
		r->tol_pct = json_is_number(v) ? json_number_value(v) : -2;
		json_decref(v);
		if (r->tol_pct < 0 || r->tol_pct > 100)
			return runtime_error(r, "ToleratedFailurePercentage must be between 0 and "
					     "100.");
	}
	r->tolerance = r->tol_count >= 0 || r->tol_pct >= 0;
	return 0;
}

static enum step_res do_map(struct wf_exec *ex, struct run *r, const struct wf_state *s)
{
	struct ctxarg ca = {.ex = ex, .r = r};
	json_t *items, *x;
	size_t i, n;
	int rc;

	kids_clear(ex, r);
	json_decref(r->eff);
	r->eff = NULL;
	rc = input_process(ex, r, s, NULL, &r->eff);
	if (rc == 0)
		rc = map_limits(ex, r, s);
	if (rc < 0)
		goto fail;
	if (s->items_path) {
		rc = path_eval(&ca, s->items_path, r->eff, &items);
		if (rc == -ENOENT) {
			runtime_error(r, "Invalid path '%s' : No results for path: %s",
				      wf_path_text(s->items_path), wf_path_text(s->items_path));
			goto fail;
		}
		if (rc < 0)
			goto fail;
	} else {
		items = json_incref(r->eff);
	}
	if (!json_is_array(items)) {
		char *t = dump_short(items);

		json_decref(items);
		runtime_error(r, "Invalid path '%s' : The Map state's ItemsPath must point to a JSON "
			      "array, but it points to '%s'",
			      s->items_path ? wf_path_text(s->items_path) : "$", t ? t : "");
		free(t);
		goto fail;
	}
	n = json_array_size(items);
	r->kid_inputs = json_array();
	r->results = json_array();
	r->kids = calloc(n ? n : 1, sizeof(*r->kids));
	if (!r->kid_inputs || !r->results || !r->kids) {
		json_decref(items);
		rc = -ENOMEM;
		goto fail;
	}
	json_array_foreach(items, i, x) {
		json_t *in = x;

		json_array_append(r->results, json_null());
		if (s->item_selector) {
			json_t *ix = json_integer((json_int_t)i);

			ca.item_index = ix;
			ca.item_value = x;
			rc = tmpl_eval(&ca, s->item_selector, r->eff, &in);
			json_decref(ca.own);
			ca.own = NULL;
			json_decref(ix);
			if (rc < 0) {
				json_decref(items);
				goto fail;
			}
			json_array_append_new(r->kid_inputs, in);
		} else {
			json_array_append(r->kid_inputs, in);
		}
	}
	json_decref(items);
	r->nkids = n;
	emit(ex, r, WF_EV_MapStateStarted, details(ex, "{s:I}", "length", (json_int_t)n));
	if (n == 0) {
		emit(ex, r, WF_EV_MapStateSucceeded, details(ex, "{}"));
		r->result = r->results;
		r->results = NULL;
		r->resume = RS_KIDS_OK;
		return GO;
	}
	for (i = 0; i < n && (r->max_conc == 0 || (int64_t)i < r->max_conc); i++)
		launch_kid(ex, r, i);
	return BLOCK;
fail:
	if (rc == -ENOMEM)
		ex->oom = 1;
	return GO;
}

static enum step_res do_work(struct wf_exec *ex, struct run *r, const struct wf_state *s)
{
	switch (s->type) {
	case WF_TASK: return do_task(ex, r, s);
	case WF_PARALLEL: return do_parallel(ex, r, s);
	case WF_MAP: return do_map(ex, r, s);
	default: return GO;
	}
}

static enum step_res do_wait(struct wf_exec *ex, struct run *r, const struct wf_state *s)
{
	int64_t due = 0, secs, ns;
	struct ctxarg ca = {.ex = ex, .r = r};
	json_t *v;
	int rc;

	rc = input_process(ex, r, s, NULL, &r->eff);
	if (rc < 0)
		goto fail;
	if (s->wait_s >= 0) {
		due = ex->now_ms + s->wait_s * 1000;
	} else if (s->has_wait_ts) {
		due = s->wait_ts_ns / 1000000;
	} else if (s->seconds_path) {
		rc = path_eval(&ca, s->seconds_path, r->eff, &v);
		if (rc == -ENOENT) {
			runtime_error(r, "Invalid path '%s' : No results for path",
				      wf_path_text(s->seconds_path));
			goto fail;
		}
		if (rc < 0)
			goto fail;
		if (!json_is_integer(v)) {
			char *t = dump_short(v);

			runtime_error(r, "The SecondsPath parameter refers to value \"%s\" which cannot "
				      "be parsed as a long value: %s", t ? t : "",
				      wf_path_text(s->seconds_path));
			free(t);
			json_decref(v);
			goto fail;
		}
		secs = json_integer_value(v);
		json_decref(v);
		if (secs < 0) {
			runtime_error(r, "The SecondsPath parameter references a negative value: %s",
				      wf_path_text(s->seconds_path));
			goto fail;
		}
		due = ex->now_ms + secs * 1000;
	} else {
		rc = path_eval(&ca, s->ts_path, r->eff, &v);
		if (rc == -ENOENT) {
			runtime_error(r, "Invalid path '%s' : No results for path",
				      wf_path_text(s->ts_path));
			goto fail;
		}
		if (rc < 0)
			goto fail;
		if (!json_is_string(v) || wf_timestamp_parse(json_string_value(v), &ns) < 0) {
			json_decref(v);
			runtime_error(r, "The TimestampPath parameter does not reference a valid ISO-8601 "
				      "extended offset date-time format string: %s",
				      wf_path_text(s->ts_path));
			goto fail;
		}
		json_decref(v);
		due = ns / 1000000;
	}
	/* AWS keeps the delay in a 32-bit count of seconds (about 24855 days). */
	if ((due - ex->now_ms) / 1000 > INT32_MAX) {
		runtime_error(r, "Wait state delay is too long.");
		goto fail;
	}
	timer_arm(ex, r, P_WAIT, due);
	return BLOCK;
fail:
	if (rc == -ENOMEM)
		ex->oom = 1;
	return GO;
}

static enum step_res do_choice(struct wf_exec *ex, struct run *r, const struct wf_state *s)
{
	struct ctxarg ca = {.ex = ex, .r = r};
	json_t *out;
	int next = -1, rc;

	rc = input_process(ex, r, s, NULL, &r->eff);
	for (size_t i = 0; rc == 0 && i < s->nchoices; i++) {
		bool ok;

		rc = rule_eval(&ca, &s->choices[i], r->eff, &ok);
		if (rc == 0 && ok) {
			next = s->choices[i].next;
			break;
		}
	}
	if (rc == 0 && next < 0) {
		next = s->default_next;
		if (next < 0) {
			run_error(r, "States.NoChoiceMatched", "No Matches!");
			return GO;
		}
	}
	if (rc == 0)
		rc = output_process(ex, r, s, r->eff, &out);
	if (rc < 0) {
		if (rc == -ENOMEM)
			ex->oom = 1;
		return GO;
	}
	return transition(ex, r, s, next, out);
}

static enum step_res do_fail(struct wf_exec *ex, struct run *r, const struct wf_state *s)
{
	const struct wf_path *paths[2] = {s->error_path, s->cause_path};
	const struct wf_intrinsic *fns[2] = {s->error_fn, s->cause_fn};
	const char *names[2] = {"ErrorPath", "CausePath"};
	struct ctxarg ca = {.ex = ex, .r = r};
	char *vals[2] = {xstrdup(ex, s->error), xstrdup(ex, s->cause)};
	enum step_res res;

	for (int i = 0; i < 2; i++) {
		json_t *v = NULL;
		char cause[512];
		int rc = 0;

		if (paths[i]) {
			rc = path_eval(&ca, paths[i], r->input, &v);
			if (rc == -ENOENT) {
				char *t = dump_short(r->input);

				runtime_error(r, "The JSONPath '%s' specified for the field '%s' could "
					      "not be found in the input '%s'", wf_path_text(paths[i]),
					      names[i], t ? t : "");
				free(t);
			}
		} else if (fns[i]) {
			struct wf_intrinsic_env env = {
				.input = r->input, .context = ctx_get, .context_arg = &ca,
				.rng = &ex->rng,
			};

			rc = wf_intrinsic_eval(fns[i], &env, &v, cause, sizeof(cause));
			if (rc == -EINVAL)
				run_error(r, "States.IntrinsicFailure", "%s", cause);
			else if (rc == -ENOENT)
				runtime_error(r, "%s", cause);
		} else {
			continue;
		}
		if (rc == 0 && !json_is_string(v))
			rc = runtime_error(r, "The %s field must refer to a string", names[i]);
		if (rc == 0) {
			free(vals[i]);
			vals[i] = xstrdup(ex, json_string_value(v));
		}
		json_decref(v);
		if (rc < 0) {
			free(vals[0]);
			free(vals[1]);
			return run_fail(ex, r, r->err, r->cause);
		}
	}
	res = run_fail(ex, r, vals[0], vals[1]);
	free(vals[0]);
	free(vals[1]);
	return res;
}

static enum step_res enter(struct wf_exec *ex, struct run *r, const struct wf_state *s)
{
	json_t *res;
	int rc;

	ex->transitions++;
	r->entered_ms = ex->now_ms;
	r->retry_count = 0;
	r->token = 0;
	ctx_reset(r);
	free(r->retries);
	r->retries = NULL;
	if (s->nretry && !(r->retries = calloc(s->nretry, sizeof(*r->retries))))
		ex->oom = 1;
	r->entered_id = emit(ex, r, state_ev[s->type].entered,
			     details(ex, "{s:O,s:O}", "name", s->name_json, "input", r->input));

	switch (s->type) {
	case WF_PASS:
		rc = input_process(ex, r, s, s->parameters, &r->eff);
		if (rc < 0) {
			if (rc == -ENOMEM)
				ex->oom = 1;
			return GO;
		}
		res = s->result ? json_incref(s->result) : json_incref(r->eff);
		return finish_state(ex, r, s, res);
	case WF_CHOICE:
		return do_choice(ex, r, s);
	case WF_WAIT:
		return do_wait(ex, r, s);
	case WF_SUCCEED:
		rc = input_process(ex, r, s, NULL, &r->eff);
		if (rc == 0)
			rc = output_process(ex, r, s, r->eff, &res);
		if (rc < 0) {
			if (rc == -ENOMEM)
				ex->oom = 1;
			return GO;
		}
		return transition(ex, r, s, -1, res);
	case WF_FAIL:
		return do_fail(ex, r, s);
	case WF_TASK:
	case WF_PARALLEL:
	case WF_MAP:
		return do_work(ex, r, s);
	}
	return END;
}

static bool error_matches(char *const *errors, size_t n, bool all, const char *err)
{
	if (!strcmp(err, "States.Runtime"))
		return false;
	if (all)
		return true;
	for (size_t i = 0; i < n; i++) {
		if (!strcmp(errors[i], err))
			return true;
		if (!strcmp(errors[i], "States.TaskFailed") && strcmp(err, "States.Timeout") &&
		    strcmp(err, "States.HeartbeatTimeout"))
			return true;
	}
	return false;
}

static enum step_res handle_error(struct wf_exec *ex, struct run *r, const struct wf_state *s)
{
	const char *err = r->err ? r->err : "States.Runtime";
	bool catchable = s->type == WF_TASK || s->type == WF_PARALLEL || s->type == WF_MAP;
	size_t i;

	pend_drop_run(ex, r, false);
	if (catchable) {
		for (i = 0; i < s->nretry; i++) {
			const struct wf_retrier *rt = &s->retry[i];

			if (!error_matches(rt->errors, rt->nerr, rt->all, err))
				continue;
			if (r->retries && r->retries[i] < rt->max_attempts) {
				double delay = (double)rt->interval_s * pow(rt->backoff, r->retries[i]);

				if (rt->max_delay_s && delay > (double)rt->max_delay_s)
					delay = (double)rt->max_delay_s;
				if (rt->jitter_full)
					delay *= (double)(wf_rng_next(&ex->rng) >> 11) / 9007199254740992.0;
				r->retries[i]++;
				r->retry_count++;
				timer_arm(ex, r, P_RETRY, ex->now_ms + (int64_t)(delay * 1000.0));
				return BLOCK;
			}
			break; /* an exhausted retrier ends the retry scan */
		}
		for (i = 0; i < s->ncatch; i++) {
			const struct wf_catcher *c = &s->catch[i];
			json_t *eo, *out;

			if (!error_matches(c->errors, c->nerr, c->all, err))
				continue;
			eo = json_pack("{s:s,s:s*}", "Error", err, "Cause", r->cause);
			if (!eo) {
				ex->oom = 1;
				return END;
			}
			kids_clear(ex, r);
			if (result_path_apply(r, &c->result_path, r->input, eo, false, &out) < 0) {
				json_decref(eo);
				return run_fail(ex, r, r->err, r->cause);
			}
			json_decref(eo);
			return transition(ex, r, s, c->next, out);
		}
	}
	kids_clear(ex, r);
	return run_fail(ex, r, err, r->cause);
}

/* Children report to their Parallel or Map parent. */
static void kid_done(struct wf_exec *ex, struct run *k, json_t *output, const char *error,
		     const char *cause)
{
	struct run *p = k->parent;
	const struct wf_state *s = &p->g->states[p->cur];
	bool is_map = s->type == WF_MAP;

	p->finished++;
	if (!error) {
		json_array_set(p->results, k->index, output);
		if (is_map)
			emit(ex, k, WF_EV_MapIterationSucceeded,
			     details(ex, "{s:I,s:O}", "index", (json_int_t)k->index, "name",
				     s->name_json));
	} else {
		bool fail = true;

		if (is_map) {
			emit(ex, k, WF_EV_MapIterationFailed,
			     details(ex, "{s:I,s:O}", "index", (json_int_t)k->index, "name",
				     s->name_json));
			p->failed++;
			if (p->tolerance) {
				fail = false;
				if (p->tol_count >= 0 && (int64_t)p->failed > p->tol_count)
					fail = true;
				if (p->tol_pct >= 0 &&
				    (double)p->failed * 100.0 / (double)p->nkids > p->tol_pct)
					fail = true;
				if (p->tol_count < 0 && p->tol_pct < 0)
					fail = true;
				if (fail)
					error = "States.ExceedToleratedFailureThreshold";
				else
					json_array_set_new(p->results, k->index,
							   json_pack("{s:s,s:s*}", "Error", error,
								     "Cause", cause));
			}
		}
		if (fail) {
			p->last_event = k->last_event;
			cancel_kids(ex, p);
			emit(ex, p, is_map ? WF_EV_MapStateFailed : WF_EV_ParallelStateFailed,
			     details(ex, "{}"));
			run_error(p, error, cause ? "%s" : NULL, cause);
			enqueue(ex, p);
			return;
		}
	}
	if (is_map && p->launched < p->nkids)
		launch_kid(ex, p, p->launched);
	if (p->finished == p->nkids) {
		p->last_event = k->last_event;
		emit(ex, p, is_map ? WF_EV_MapStateSucceeded : WF_EV_ParallelStateSucceeded,
		     details(ex, "{}"));
		p->result = p->results;
		p->results = NULL;
		p->resume = RS_KIDS_OK;
		enqueue(ex, p);
	}
}

static void cancel_run(struct wf_exec *ex, struct run *r)
{
	r->dead = true;
	pend_drop_run(ex, r, false);
	cancel_kids(ex, r);
}

static void cancel_kids(struct wf_exec *ex, struct run *r)
{
	for (size_t i = 0; i < r->nkids; i++)
		if (r->kids[i] && !r->kids[i]->dead)
			cancel_run(ex, r->kids[i]);
}

static void exec_close(struct wf_exec *ex, enum wf_exec_status st, const char *error,
		       const char *cause)
{
	ex->status = st;
	free(ex->error);
	free(ex->cause);
	ex->error = xstrdup(ex, error);
	ex->cause = xstrdup(ex, cause);
	cancel_run(ex, ex->root);
	/* The execution timeout and anything else left. */
	while (ex->npend) {
		struct pend *p = &ex->pend[ex->npend - 1];

		if (p->kind == P_TASK && p->issued && ex->host.task_cancel)
			ex->host.task_cancel(ex->host.arg, p->id);
		ex->npend--;
	}
}

static enum step_res run_succeed(struct wf_exec *ex, struct run *r, json_t *output)
{
	if (r->parent) {
		kid_done(ex, r, output, NULL, NULL);
		json_decref(output);
		r->dead = true;
		return END;
	}
	emit(ex, r, WF_EV_ExecutionSucceeded, details(ex, "{s:O}", "output", output));
	ex->output = output;
	exec_close(ex, WF_EXEC_SUCCEEDED, NULL, NULL);
	return END;
}

static enum step_res run_fail(struct wf_exec *ex, struct run *r, const char *error,
			      const char *cause)
{
	char *e = xstrdup(ex, error), *c = xstrdup(ex, cause);

	pend_drop_run(ex, r, false);
	if (r->parent) {
		r->dead = true;
		cancel_kids(ex, r);
		/* A Fail state without Error still fails its branch: name the failure. */
		kid_done(ex, r, NULL, e ? e : "States.BranchFailed", c);
	} else {
		emit(ex, r, WF_EV_ExecutionFailed,
		     details(ex, "{s:s?,s:s?}", "error", e, "cause", c));
		exec_close(ex, WF_EXEC_FAILED, e, c);
	}
	free(e);
	free(c);
	return END;
}

static void step(struct wf_exec *ex, struct run *r)
{
	for (;;) {
		const struct wf_state *s;
		enum step_res res;
		json_t *v;

		if (ex->status != WF_EXEC_RUNNING || r->dead || ex->oom)
			return;
		if (ex->last_event >= ex->max_events) {
			static const char cause[] = "The execution reached the maximum number of "
						    "history events.";

			emit(ex, ex->root, WF_EV_ExecutionFailed,
			     details(ex, "{s:s,s:s}", "error", "States.Runtime", "cause", cause));
			exec_close(ex, WF_EXEC_FAILED, "States.Runtime", cause);
			return;
		}
		s = &r->g->states[r->cur];
		switch (r->resume) {
		case RS_ENTER:
			res = enter(ex, r, s);
			break;
		case RS_RETRY:
			res = do_work(ex, r, s);
			break;
		case RS_TASK_OK:
		case RS_KIDS_OK:
			v = r->result;
			r->result = NULL;
			if (r->resume == RS_KIDS_OK)
				kids_clear(ex, r);
			r->resume = RS_ENTER;
			res = finish_state(ex, r, s, v);
			break;
		case RS_WAIT_DONE:
			r->resume = RS_ENTER;
			if (output_process(ex, r, s, r->eff, &v) < 0)
				res = GO;
			else
				res = transition(ex, r, s, s->next, v);
			break;
		case RS_ERROR:
			r->resume = RS_ENTER;
			res = handle_error(ex, r, s);
			break;
		default:
			res = END;
		}
		if (res != GO)
			return;
	}
}

int wf_exec_run(struct wf_exec *ex)
{
	while (ex->qhead < ex->qtail && !ex->oom) {
		struct run *r = ex->queue[ex->qhead++];

		step(ex, r);
	}
	ex->qhead = ex->qtail = 0;
	/* An input that caused no event marks nothing. */
	ex->trig = WF_TRIGGER_NONE;
	ex->trig_ref = 0;
	for (size_t i = 0; i < ex->ngrave; i++)
		run_free(ex->grave[i]);
	ex->ngrave = 0;
	if (ex->oom)
		return -ENOMEM;
	if (ex->replay_err)
		return ex->replay_err;
	return (int)ex->status;
}

/* Creation. */

static int exec_new(const struct wf_machine *m, const struct wf_exec_info *info,
		    const struct wf_host *host, struct wf_exec **ret)
{
	struct wf_exec *ex = calloc(1, sizeof(*ex));

	if (!ex)
		return -ENOMEM;
	ex->m = m;
	if (host)
		ex->host = *host;
	ex->arn = strdup(info && info->execution_arn ? info->execution_arn : "");
	ex->name = strdup(info && info->name ? info->name : "");
	ex->sm_arn = strdup(info && info->state_machine_arn ? info->state_machine_arn : "");
	ex->sm_name = strdup(info && info->state_machine_name ? info->state_machine_name : "");
	ex->role = info && info->role_arn ? strdup(info->role_arn) : NULL;
	ex->rng = info ? info->seed : 0;
	ex->max_events = info && info->max_events ? info->max_events : WF_EXEC_MAX_EVENTS;
	ex->root = calloc(1, sizeof(*ex->root));
	if (!ex->arn || !ex->name || !ex->sm_arn || !ex->sm_name || !ex->root ||
	    (info && info->role_arn && !ex->role)) {
		wf_exec_free(ex);
		return -ENOMEM;
	}
	ex->root->g = &m->root;
	ex->root->cur = m->root.start;
	ex->root->resume = RS_ENTER;
	*ret = ex;
	return 0;
}

static void exec_begin(struct wf_exec *ex, json_t *input, int64_t now_ms)
{
	ex->exec_input = json_incref(input);
	ex->root->input = json_incref(input);
	ex->start_ms = ex->now_ms = now_ms;
	ex->trig = WF_TRIGGER_START;
	emit(ex, ex->root, WF_EV_ExecutionStarted,
	     details(ex, "{s:O,s:s?}", "input", input, "roleArn", ex->role));
	if (ex->m->timeout_s > 0)
		timer_arm(ex, NULL, P_EXEC_TIMEOUT, now_ms + ex->m->timeout_s * 1000);
	enqueue(ex, ex->root);
}

int wf_exec_start(const struct wf_machine *m, const struct wf_exec_info *info,
		  const struct wf_host *host, json_t *input, int64_t now_ms, struct wf_exec **ret)
{
	struct wf_exec *ex;
	int rc;

	if (!m || !input)
		return -EINVAL;
	rc = exec_new(m, info, host, &ex);
	if (rc < 0)
		return rc;
	exec_begin(ex, input, now_ms);
	if (ex->oom) {
		wf_exec_free(ex);
		return -ENOMEM;
	}
	*ret = ex;
	return 0;
}

void wf_exec_free(struct wf_exec *ex)
{
	if (!ex)
		return;
	/* Freeing is not cancelling: a host that drops an execution (a crash, a shutdown) keeps
	 * its tasks, which a replay will claim again. */
	ex->host.task_cancel = NULL;
	if (ex->root)
		cancel_run(ex, ex->root);
	for (size_t i = 0; i < ex->ngrave; i++)
		run_free(ex->grave[i]);
	/* Runs still attached to their parents. */
	struct run **stack = NULL;
	size_t n = 0, cap = 0;

	if (ex->root) {
		stack = malloc(sizeof(*stack) * (cap = 16));
		if (stack)
			stack[n++] = ex->root;
	}
	while (stack && n) {
		struct run *r = stack[--n];

		for (size_t i = 0; i < r->nkids; i++) {
			if (!r->kids[i])
				continue;
			if (n == cap) {
				struct run **ns = realloc(stack, sizeof(*ns) * (cap *= 2));

				if (!ns)
					break;
				stack = ns;
			}
			stack[n++] = r->kids[i];
		}
		run_free(r);
	}
	free(stack);
	free(ex->grave);
	free(ex->queue);
	free(ex->pend);
	json_decref(ex->exec_input);
	json_decref(ex->output);
	free(ex->arn);
	free(ex->name);
	free(ex->sm_arn);
	free(ex->sm_name);
	free(ex->role);
	free(ex->error);
	free(ex->cause);
	free(ex);
}

/* Inputs. */

static int input_begin(struct wf_exec *ex, int64_t now_ms)
{
	if (ex->status != WF_EXEC_RUNNING)
		return -ENOENT;
	ex->now_ms = now_ms;
	return 0;
}

static void task_timers_drop(struct wf_exec *ex, struct run *r)
{
	pend_drop_run(ex, r, true);
}

/* The run waiting on task @token, its task no longer pending and the next events triggered by
 * the task; NULL when no task has that token or the execution takes no input. */
static struct run *task_answered(struct wf_exec *ex, uint64_t token, int64_t now_ms,
				 char rtype[64], const char **rest)
{
	struct pend *p = pend_find(ex, token, true);
	if (!p || input_begin(ex, now_ms) < 0)
		return NULL;
	struct run *r = p->run;
	pend_del(ex, p);
	task_timers_drop(ex, r);
	ex->trig = WF_TRIGGER_TASK;
	ex->trig_ref = token;
	split_resource(r->g->states[r->cur].resource, rtype, 64, rest);
	return r;
}

int wf_exec_task_succeeded(struct wf_exec *ex, uint64_t token, json_t *output, int64_t now_ms)
{
	char rtype[64];
	const char *rest;
	size_t size;

	if (!output)
		return -ENOENT;
	struct run *r = task_answered(ex, token, now_ms, rtype, &rest);
	if (!r)
		return -ENOENT;
	const struct wf_state *s = &r->g->states[r->cur];
	emit(ex, r, WF_EV_TaskSucceeded,
	     details(ex, "{s:s,s:s,s:O}", "resource", rest, "resourceType", rtype, "output",
		     output));
	size = json_dumpb(output, NULL, 0, JSON_COMPACT | JSON_ENCODE_ANY);
	if (size > WF_PAYLOAD_MAX) {
		run_error(r, "States.DataLimitExceeded", "The state/task '%s' returned a result with "
			  "a size exceeding the maximum number of bytes service limit.",
			  s->resource);
	} else {
		r->result = json_incref(output);
		r->resume = RS_TASK_OK;
	}
	enqueue(ex, r);
	return wf_exec_run(ex);
}

int wf_exec_task_failed(struct wf_exec *ex, uint64_t token, const char *error, const char *cause,
			int64_t now_ms)
{
	char rtype[64];
	const char *rest;
	struct run *r = task_answered(ex, token, now_ms, rtype, &rest);

	if (!r)
		return -ENOENT;
	emit(ex, r, WF_EV_TaskFailed,
	     details(ex, "{s:s,s:s,s:s?,s:s?}", "resource", rest, "resourceType", rtype, "error",
		     error, "cause", cause));
	run_error(r, error ? error : "States.TaskFailed", cause ? "%s" : NULL, cause);
	enqueue(ex, r);
	return wf_exec_run(ex);
}

int wf_exec_task_done(struct wf_exec *ex, uint64_t token, bool ok, json_t *output,
		      const char *error, const char *cause, int64_t now_ms)
{
	return ok ? wf_exec_task_succeeded(ex, token, output, now_ms)
		  : wf_exec_task_failed(ex, token, error, cause, now_ms);
}

int wf_exec_task_heartbeat(struct wf_exec *ex, uint64_t token, int64_t now_ms)
{
	struct pend *p = pend_find(ex, token, true);

	if (!p || ex->status != WF_EXEC_RUNNING)
		return -ENOENT;
	for (size_t i = 0; i < ex->npend; i++)
		if (ex->pend[i].run == p->run && ex->pend[i].kind == P_HEARTBEAT)
			ex->pend[i].due = now_ms + p->run->heartbeat_s * 1000;
	return (int)ex->status;
}

int wf_exec_timer_fired(struct wf_exec *ex, uint64_t timer_id, int64_t now_ms)
{
	struct pend *p = pend_find(ex, timer_id, false);
	const struct wf_state *s;
	char rtype[64];
	const char *rest, *err;
	struct run *r;

	if (!p || input_begin(ex, now_ms) < 0)
		return -ENOENT;
	r = p->run;
	ex->trig = WF_TRIGGER_TIMER;
	ex->trig_ref = timer_id;
	switch (p->kind) {
	case P_EXEC_TIMEOUT:
		pend_del(ex, p);
		emit(ex, ex->root, WF_EV_ExecutionTimedOut,
		     details(ex, "{s:s,s:s}", "error", "States.Timeout", "cause",
			     "The execution timed out"));
		exec_close(ex, WF_EXEC_TIMED_OUT, "States.Timeout", "The execution timed out");
		return wf_exec_run(ex);
	case P_WAIT:
		pend_del(ex, p);
		r->resume = RS_WAIT_DONE;
		break;
	case P_RETRY:
		pend_del(ex, p);
		r->resume = RS_RETRY;
		break;
	case P_HEARTBEAT:
		if (now_ms < p->due) {
			/* A heartbeat moved the deadline: wait again, nothing happened. */
			ex->trig = WF_TRIGGER_NONE;
			if (ex->host.timer)
				ex->host.timer(ex->host.arg, p->id, p->due);
			return (int)ex->status;
		}
		/* fall through */
	case P_TIMEOUT:
		err = p->kind == P_HEARTBEAT ? "States.HeartbeatTimeout" : "States.Timeout";
		s = &r->g->states[r->cur];
		pend_drop_run(ex, r, false);
		split_resource(s->resource, rtype, sizeof(rtype), &rest);
		emit(ex, r, WF_EV_TaskTimedOut,
		     details(ex, "{s:s,s:s,s:s,s:s}", "resource", rest, "resourceType", rtype,
			     "error", err, "cause", "Task timed out"));
		run_error(r, err, "Task timed out");
		break;
	case P_TASK:
		return -ENOENT;
	}
	enqueue(ex, r);
	return wf_exec_run(ex);
}

int wf_exec_stop(struct wf_exec *ex, const char *error, const char *cause, int64_t now_ms)
{
	if (ex->status != WF_EXEC_RUNNING)
		return -EALREADY;
	ex->now_ms = now_ms;
	ex->trig = WF_TRIGGER_STOP;
	emit(ex, ex->root, WF_EV_ExecutionAborted,
	     details(ex, "{s:s?,s:s?}", "error", error, "cause", cause));
	exec_close(ex, WF_EXEC_ABORTED, error, cause);
	return wf_exec_run(ex);
}

/* Replay. */

static int replay_input(struct wf_exec *ex, const struct wf_event *e)
{
	json_t *d = e->details;
	const char *err = NULL, *cause = NULL;

	switch (e->trigger) {
	case WF_TRIGGER_TASK:
		if (e->type == WF_EV_TaskSucceeded) {
			if (!json_object_get(d, "output"))
				return -EINVAL;
			return wf_exec_task_succeeded(ex, e->trigger_ref, json_object_get(d, "output"),
						      e->time_ms);
		}
		if (e->type != WF_EV_TaskFailed)
			return -EINVAL;
		json_unpack(d, "{s?s,s?s}", "error", &err, "cause", &cause);
		return wf_exec_task_failed(ex, e->trigger_ref, err, cause, e->time_ms);
	case WF_TRIGGER_TIMER:
		return wf_exec_timer_fired(ex, e->trigger_ref, e->time_ms);
	case WF_TRIGGER_STOP:
		json_unpack(d, "{s?s,s?s}", "error", &err, "cause", &cause);
		return wf_exec_stop(ex, err, cause, e->time_ms);
	default:
		return -EINVAL;
	}
}

/* After a replay: hand the host every request it has not seen. */
static void reissue(struct wf_exec *ex)
{
	for (size_t i = 0; i < ex->npend; i++) {
		struct pend *p = &ex->pend[i];
		struct run *r = p->run;

		if (p->kind == P_HEARTBEAT)
			p->due = ex->now_ms + r->heartbeat_s * 1000;
		if (p->issued)
			continue;
		p->issued = true;
		if (p->kind == P_TASK) {
			const struct wf_state *s = &r->g->states[r->cur];
			struct wf_task_req req = {
				.token = p->id, .resource = s->resource, .state_name = s->name,
				.input = r->eff, .timeout_s = r->timeout_s,
				.heartbeat_s = r->heartbeat_s, .retry_count = r->retry_count,
			};

			if (ex->host.task)
				ex->host.task(ex->host.arg, &req);
		} else if (ex->host.timer) {
			ex->host.timer(ex->host.arg, p->id, p->due);
		}
	}
}

int wf_exec_replay(const struct wf_machine *m, const struct wf_exec_info *info,
		   const struct wf_host *host, const struct wf_event *events, size_t n,
		   struct wf_exec **ret)
{
	struct wf_exec *ex;
	json_t *input;
	int rc;

	if (!m || n == 0 || events[0].type != WF_EV_ExecutionStarted ||
	    !(input = json_object_get(events[0].details, "input")))
		return -EINVAL;
	rc = exec_new(m, info, host, &ex);
	if (rc < 0)
		return rc;
	ex->rec = events;
	ex->nrec = n;
	exec_begin(ex, input, events[0].time_ms);
	rc = wf_exec_run(ex);
	for (size_t i = 1; rc >= 0 && i < n; i++) {
		if (events[i].trigger == WF_TRIGGER_NONE)
			continue;
		if (ex->last_event != i) {
			rc = -EPROTO;
			break;
		}
		rc = replay_input(ex, &events[i]);
		if (rc == -ENOENT)
			rc = -EPROTO;
	}
	if (rc >= 0 && ex->last_event < n)
		rc = -EPROTO;
	if (rc >= 0 && ex->replay_err)
		rc = ex->replay_err;
	ex->rec = NULL;
	if (rc < 0) {
		wf_exec_free(ex);
		return rc;
	}
	if (ex->status == WF_EXEC_RUNNING)
		reissue(ex);
	*ret = ex;
	return 0;
}

/* Accessors. */

enum wf_exec_status wf_exec_status(const struct wf_exec *ex)
{
	return ex->status;
}

json_t *wf_exec_output(const struct wf_exec *ex)
{
	return ex->status == WF_EXEC_SUCCEEDED ? ex->output : NULL;
}

const char *wf_exec_error(const struct wf_exec *ex)
{
	return ex->error;
}

const char *wf_exec_cause(const struct wf_exec *ex)
{
	return ex->cause;
}

uint64_t wf_exec_transitions(const struct wf_exec *ex)
{
	return ex->transitions;
}

uint64_t wf_exec_event_count(const struct wf_exec *ex)
{
	return ex->last_event;
}

int wf_exec_token_format(const struct wf_exec *ex, uint64_t token, char *buf, size_t len)
{
	int n = snprintf(buf, len, "%s:%llu", ex->name, (unsigned long long)token);

	return n < 0 || (size_t)n >= len ? -ENOSPC : n;
}
