/* SPDX-License-Identifier: MIT */
/*
 * ctl_sfn internals shared by the runtime (ctl_sfn.c: definitions, executions, journal, tasks,
 * timers) and the API handlers (ctl_sfn_api.c). Not a public header.
 */
#ifndef CTL_SFN_INTERNAL_H
#define CTL_SFN_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include <sqlite3.h>

#include "ctl_sfn.h"
#include "wf_asl.h"
#include "wf_exec.h"

#define SFN_NAME_MAX 80
#define SFN_ARN_MAX 256
/* Running executions are found by id and by name through these many buckets (a power of 2). */
#define SFN_BUCKETS 4096

/* A compiled definition, shared by its machine and the executions that started from it. */
struct sfn_def {
	int64_t id;
	struct wf_machine *m;
	char *text;
	unsigned refs;
	struct sfn_def *next;
};

struct sfn_machine {
	char name[SFN_NAME_MAX + 1];
	char arn[SFN_ARN_MAX];
	char *role_arn;
	bool express;
	int64_t created_ms, updated_ms;
	uint64_t revision;
	struct sfn_def *def;
	struct sfn_machine *next;
};

/* A task handed to the host by the engine, waiting to be dispatched or for its answer. */
struct sfn_task {
	int64_t exec_id;
	uint64_t token;
	char *resource;
	json_t *input;
	struct ctl_sfn *s;
	bool callback;         /* .waitForTaskToken: the answer comes from SendTask* */
	bool lambda_invoke;    /* arn:aws:states:::lambda:invoke: wrap the result */
	char service[32];      /* "Kinesis", "Glue": prefix of integration errors */
	struct sfn_task *next;
};

/* An answer that arrived for a task, applied outside the engine's callbacks. */
struct sfn_done {
	int64_t exec_id;
	uint64_t token;
	bool ok;
	json_t *output;
	char *error, *cause;
	struct sfn_done *next;
};

struct sfn_exec {
	int64_t id;
	char arn[SFN_ARN_MAX];
	char name[SFN_NAME_MAX + 1];
	char machine[SFN_NAME_MAX + 1];
	bool express;
	bool persisted;         /* its row exists in the database */
	bool closed_written;    /* its final status is written */
	bool dirty;             /* on the flush list */
	bool journal_lost;      /* out of memory buffering an event: not resumable */
	/* The input being applied, journaled with the event it triggers. */
	json_t *in_output;
	const char *in_error, *in_cause;
	struct ctl_sfn *s_back;
	char *role;
	struct sfn_def *def;
	struct wf_exec *wf;
	char *input;            /* JSON text as given */
	int64_t start_ms, stop_ms;
	uint64_t seed;
	/* Journal text of this turn: one JSON object per line. */
	char *jbuf;
	size_t jlen, jcap;
	uint32_t jseq;          /* chunks written so far */
	struct sfn_waiter *sync;          /* StartSyncExecution waiting for the end */
	struct sfn_exec *next_id, *next_name, *next_dirty;
};

/* A call waiting for its answer: after the turn's commit (out set) or at the end of an express
 * execution (ex set). It is the call's state, so a call freed early (the client went away)
 * unlinks it. */
struct sfn_waiter {
	struct ctl_sfn *s;
	struct ctl_aws_call *call;
	json_t *out;
	struct sfn_exec *ex;
	struct sfn_waiter *prev, *next;
};

struct sfn_timer {
	int64_t due;
	int64_t exec_id;
	uint64_t timer_id;
};

struct ctl_sfn {
	struct ctl_meta *meta;
	struct ctl_aws *aws;
	struct ctl_loop *loop;
	struct ctl_sfn_invoker invoker;
	char region[32], account[16];
	struct sfn_machine *machines;
	struct sfn_def *defs;
	struct sfn_exec *by_id[SFN_BUCKETS], *by_name[SFN_BUCKETS];
	int64_t next_exec_id;
	unsigned n_running;
	struct sfn_exec *dirty;
	struct sfn_waiter *replies;            /* answered after the commit */
	struct sfn_task *held, **held_tail;    /* tasks waiting for their commit */
	struct sfn_task *ready, **ready_tail;  /* to dispatch at the next pump */
	struct sfn_done *done, **done_tail;
	struct sfn_timer *timers;              /* min-heap by due */
	size_t n_timers, cap_timers;
	bool pumping, in_tick;
	uint64_t seed_state;
	sqlite3_stmt *st_ins_exec, *st_upd_exec, *st_ins_journal;
	struct ctl_sfn_stats st;
};

/* Runtime (ctl_sfn.c). */
struct sfn_machine *sfn_machine_find(struct ctl_sfn *s, const char *name);
struct sfn_exec *sfn_exec_find_arn(struct ctl_sfn *s, const char *arn);
struct sfn_exec *sfn_exec_find_token(struct ctl_sfn *s, const char *token, uint64_t *tok);
int sfn_machine_update(struct ctl_sfn *s, struct sfn_machine *m, const char *def, size_t len,
		       const char *role_arn, int64_t now_ms, char *err, size_t errlen);
int sfn_machine_delete(struct ctl_sfn *s, struct sfn_machine *m);
/* Start an execution; @sync (or NULL): a deferred StartSyncExecution answered at its end.
 * Returns as ctl_sfn_exec_start(). */
int sfn_exec_start(struct ctl_sfn *s, struct sfn_machine *m, const char *name,
		   const char *input, size_t len, int64_t now_ms, struct ctl_aws_call *sync,
		   char arn[SFN_ARN_MAX]);
/* Answer @c with @out once the current turn is committed. */
void sfn_reply_after_commit(struct ctl_sfn *s, struct ctl_aws_call *c, json_t *out);
/* Queue an answer for a task and apply the queue (unless already applying). */
void sfn_task_answer(struct ctl_sfn *s, int64_t exec_id, uint64_t token, bool ok,
		     json_t *output, const char *error, const char *cause);
int sfn_task_heartbeat(struct ctl_sfn *s, struct sfn_exec *ex, uint64_t token, int64_t now_ms);
/* SendTaskSuccess / SendTaskFailure: the engine's result (-ENOENT: not waiting for it). */
int sfn_task_report(struct ctl_sfn *s, struct sfn_exec *ex, uint64_t token, bool ok,
		    json_t *output, const char *error, const char *cause, int64_t now_ms);
int sfn_exec_stop(struct ctl_sfn *s, struct sfn_exec *ex, const char *error, const char *cause,
		  int64_t now_ms);
/* After an input: apply answers, journal, wake the loop. */
void sfn_pump(struct ctl_sfn *s);
sqlite3_stmt *sfn_prep(struct ctl_sfn *s, const char *sql);
const char *sfn_status_name(int status);
void sfn_exec_arn(struct ctl_sfn *s, bool express, const char *machine, const char *name,
		  char arn[SFN_ARN_MAX]);
void sfn_machine_arn(struct ctl_sfn *s, const char *machine, char arn[SFN_ARN_MAX]);
/* Parse one journal chunk (lines) into events appended to *evs (details referenced). */
int sfn_journal_parse(const char *text, size_t len, struct wf_event **evs, size_t *n,
		      size_t *cap);
/* Load the whole journal of execution row @id. Caller frees with sfn_events_free. */
int sfn_journal_load(struct ctl_sfn *s, int64_t id, struct wf_event **evs, size_t *n);
/* The full history of execution row @id, details included, rebuilt by running its journal
 * again. -ENOENT (no such execution), -EPROTO (the journal does not match), -EIO, -ENOMEM. */
int sfn_history_build(struct ctl_sfn *s, int64_t id, struct wf_event **evs, size_t *n);
void sfn_events_free(struct wf_event *evs, size_t n);

#endif
