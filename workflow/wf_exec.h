/* SPDX-License-Identifier: MIT */
/*
 * wf_exec: the Amazon States Language interpreter. One struct wf_exec is one execution of a
 * compiled machine (wf_asl.h), run as a resumable step machine driven by a host.
 *
 * Driving it. wf_exec_start() creates the execution and records ExecutionStarted;
 * wf_exec_run() advances it until it needs the outside world:
 *   - a Task: the host's task() callback receives the resource, the effective input (after
 *     InputPath and Parameters), a task token and the timeout/heartbeat; the host later reports
 *     wf_exec_task_succeeded() or wf_exec_task_failed() (and may send wf_exec_task_heartbeat());
 *   - a timer (Wait, Retry backoff, Task timeout and heartbeat, execution TimeoutSeconds): the
 *     host's timer() callback receives an id and a due time; the host calls
 *     wf_exec_timer_fired() at or after that time (firing a timer the engine no longer wants is
 *     harmless: it is ignored);
 *   - completion: wf_exec_status() leaves WF_EXEC_RUNNING, with the output or the error/cause.
 * Each input function (task_succeeded, task_failed, timer_fired, stop) applies its input and runs
 * the execution until it blocks again. Callbacks must not call back into the same wf_exec: the
 * host queues what it learns and reports after the callback returns.
 *
 * Time. The engine never reads a clock: every input carries `now_ms` (milliseconds since the
 * epoch), which stamps the events it causes and fills $$.State.EnteredTime.
 *
 * Parallel branches and Map iterations run as sub-runs inside the one wf_exec, in a fixed order
 * (branch order, item order, first-in first-out among runnable sub-runs), so two executions fed
 * the same inputs produce the same events.
 *
 * History. The host's event() callback receives every Step Functions history event, in order:
 * ids from 1, previousEventId linking each event to the one before it in the same branch, and
 * the type's details object (input/output are JSON values; the front-end serialises them to the
 * strings the wire carries). Without an event callback no details are built (express mode).
 *
 * Durability contract (the journal of a standard execution). The engine is deterministic: given
 * the same machine, the same wf_exec_info (seed included) and the same sequence of inputs with
 * their times, it emits the same events and makes the same task and timer requests. Every input
 * that changes the execution marks the first event it causes with `trigger` (and
 * `trigger_ref`: the task token or timer id), and that event's details carry the input's data:
 *   WF_TRIGGER_START  ExecutionStarted   {input}
 *   WF_TRIGGER_TASK   TaskSucceeded      {output}   or TaskFailed {error, cause}
 *   WF_TRIGGER_TIMER  (the first event the timer causes)
 *   WF_TRIGGER_STOP   ExecutionAborted   {error, cause}
 * So the list of events is the journal. After a crash, wf_exec_replay() rebuilds the execution
 * from any prefix of that list: it re-applies each recorded input at its recorded time, checks
 * that the engine emits the recorded events again (-EPROTO if not: the machine or the engine
 * changed), and delivers to the host only the events beyond the prefix. Tasks whose completion
 * is in the prefix are not invoked again; a task that was scheduled but not completed is issued
 * again (same token), and every timer still pending is requested again with its original due
 * time. Heartbeats are not journaled: a re-issued task's heartbeat clock restarts at the replay.
 * Task tokens and timer ids are counters inside the execution, identical after a replay.
 *
 * Errors. Failures follow Step Functions: States.Runtime (bad paths, bad Wait values) is never
 * retried or caught; States.TaskFailed matches any error but States.Timeout; States.ALL matches
 * any but States.Runtime; retriers are scanned in order and the first match decides (an
 * exhausted one does not fall through); then catchers in order. Parallel and Map pass the failing
 * branch's error through unchanged; a Map that exceeds its tolerated failures fails with
 * States.ExceedToleratedFailureThreshold. Task results over 256 KiB fail with
 * States.DataLimitExceeded.
 *
 * Threading: one thread drives a wf_exec at a time; different executions are independent (the
 * machine they share is immutable).
 */
#ifndef WF_EXEC_H
#define WF_EXEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "wf_asl.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Payload limit of Step Functions (input, output, task result): 256 KiB. */
#define WF_PAYLOAD_MAX (256 * 1024)

#define WF_EVENT_TYPES(X) \
	X(ExecutionStarted) X(ExecutionSucceeded) X(ExecutionFailed) X(ExecutionAborted) \
	X(ExecutionTimedOut) \
	X(PassStateEntered) X(PassStateExited) \
	X(TaskStateEntered) X(TaskStateExited) X(TaskScheduled) X(TaskStarted) \
	X(TaskSucceeded) X(TaskFailed) X(TaskTimedOut) \
	X(ChoiceStateEntered) X(ChoiceStateExited) \
	X(WaitStateEntered) X(WaitStateExited) \
	X(SucceedStateEntered) X(SucceedStateExited) \
	X(FailStateEntered) \
	X(ParallelStateEntered) X(ParallelStateStarted) X(ParallelStateSucceeded) \
	X(ParallelStateFailed) X(ParallelStateAborted) X(ParallelStateExited) \
	X(MapStateEntered) X(MapStateStarted) X(MapStateSucceeded) X(MapStateFailed) \
	X(MapStateAborted) X(MapStateExited) \
	X(MapIterationStarted) X(MapIterationSucceeded) X(MapIterationFailed) \
	X(MapIterationAborted)

enum wf_event_type {
#define WF_EV_ENUM(n) WF_EV_##n,
	WF_EVENT_TYPES(WF_EV_ENUM)
#undef WF_EV_ENUM
	WF_EV__COUNT
};

/* "TaskStateEntered" etc.; NULL for an unknown value. */
const char *wf_event_type_name(enum wf_event_type t);
/* The details member name: "taskStateEnteredEventDetails" etc. (buf of 64 bytes). */
void wf_event_details_name(enum wf_event_type t, char buf[64]);
/* Parse a type name; -EINVAL when unknown. */
int wf_event_type_parse(const char *name, enum wf_event_type *t);

enum wf_trigger {
	WF_TRIGGER_NONE, WF_TRIGGER_START, WF_TRIGGER_TASK, WF_TRIGGER_TIMER, WF_TRIGGER_STOP,
};

struct wf_event {
	uint64_t id;          /* 1, 2, ... */
	uint64_t prev_id;     /* 0 for the first */
	int64_t time_ms;
	enum wf_event_type type;
	json_t *details;      /* borrowed during the callback; NULL in replayed input only if none */
	enum wf_trigger trigger;
	uint64_t trigger_ref; /* task token or timer id */
};

struct wf_task_req {
	uint64_t token;
	const char *resource;
	const char *state_name;
	json_t *input;         /* borrowed: the effective input (payload) */
	int64_t timeout_s;     /* 0: none */
	int64_t heartbeat_s;   /* 0: none */
	uint32_t retry_count;  /* $$.State.RetryCount of this attempt */
};

struct wf_host {
	/* A task to run; report with wf_exec_task_succeeded/failed(token). */
	void (*task)(void *arg, const struct wf_task_req *req);
	/* A task the execution no longer waits for (its branch failed, the execution stopped). */
	void (*task_cancel)(void *arg, uint64_t token);
	/* Call wf_exec_timer_fired(id) at or after due_ms. */
	void (*timer)(void *arg, uint64_t timer_id, int64_t due_ms);
	/* A history event (optional). */
	void (*event)(void *arg, const struct wf_event *ev);
	void *arg;
	/* Deliver events without their details (NULL): for a host that journals only the types
	 * and the inputs it fed in itself, and rebuilds details later by running the journal again
	 * (the durability contract makes that run emit the same events). Saves building them. */
	bool no_details;
};

/* What the context object ($$) says about the execution. Strings are copied. */
struct wf_exec_info {
	const char *execution_arn;
	const char *name;
	const char *state_machine_arn;
	const char *state_machine_name;
	const char *role_arn;
	uint64_t seed; /* randomness of UUID, MathRandom and retry jitter */
	/* History events before the execution fails with States.Runtime; 0 means
	 * WF_EXEC_MAX_EVENTS. Bounds a machine that loops without waiting. */
	uint64_t max_events;
};

/* Step Functions' history limit for standard executions. */
#define WF_EXEC_MAX_EVENTS 25000

enum wf_exec_status {
	WF_EXEC_RUNNING, WF_EXEC_SUCCEEDED, WF_EXEC_FAILED, WF_EXEC_TIMED_OUT, WF_EXEC_ABORTED,
};

struct wf_exec;

/*
 * Create an execution of @m with @input (referenced, not copied) at @now_ms and record
 * ExecutionStarted. Nothing else runs until wf_exec_run(). -ENOMEM; -EINVAL for a NULL input.
 */
int wf_exec_start(const struct wf_machine *m, const struct wf_exec_info *info,
		  const struct wf_host *host, json_t *input, int64_t now_ms, struct wf_exec **ret);

/* Advance until blocked or finished. Returns the status (>= 0) or -ENOMEM. */
int wf_exec_run(struct wf_exec *ex);

/*
 * Inputs. Each returns the status after running, -ENOENT when the token or timer is unknown or
 * no longer wanted (nothing happens), -ENOMEM. @output is referenced, not copied.
 */
int wf_exec_task_succeeded(struct wf_exec *ex, uint64_t token, json_t *output, int64_t now_ms);
int wf_exec_task_failed(struct wf_exec *ex, uint64_t token, const char *error, const char *cause,
			int64_t now_ms);
/* Either of the two above: @ok selects @output or @error/@cause. */
int wf_exec_task_done(struct wf_exec *ex, uint64_t token, bool ok, json_t *output,
		      const char *error, const char *cause, int64_t now_ms);
int wf_exec_task_heartbeat(struct wf_exec *ex, uint64_t token, int64_t now_ms);
int wf_exec_timer_fired(struct wf_exec *ex, uint64_t timer_id, int64_t now_ms);
/* StopExecution: ExecutionAborted, every task cancelled. -EALREADY when not running. */
int wf_exec_stop(struct wf_exec *ex, const char *error, const char *cause, int64_t now_ms);

/*
 * Rebuild an execution from the first @n events of its history (see the durability contract),
 * then run it until it blocks. Events past the prefix go to @host. -EINVAL when the list does
 * not start with ExecutionStarted or lacks an input's data, -EPROTO when the engine diverges
 * from the record, -ENOMEM.
 */
int wf_exec_replay(const struct wf_machine *m, const struct wf_exec_info *info,
		   const struct wf_host *host, const struct wf_event *events, size_t n,
		   struct wf_exec **ret);

void wf_exec_free(struct wf_exec *ex);

enum wf_exec_status wf_exec_status(const struct wf_exec *ex);
/* The output of a succeeded execution (borrowed), else NULL. */
json_t *wf_exec_output(const struct wf_exec *ex);
/* Error and cause of a failed, timed out or aborted execution (NULL when none). */
const char *wf_exec_error(const struct wf_exec *ex);
const char *wf_exec_cause(const struct wf_exec *ex);
/* States entered so far (every state of every branch). */
uint64_t wf_exec_transitions(const struct wf_exec *ex);
/* Events recorded so far (the id of the last one). */
uint64_t wf_exec_event_count(const struct wf_exec *ex);
/* The string form of a task token, as $$.Task.Token shows it: "<execution name>:<token>". */
int wf_exec_token_format(const struct wf_exec *ex, uint64_t token, char *buf, size_t len);

#ifdef __cplusplus
}
#endif

#endif
