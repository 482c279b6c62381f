/* SPDX-License-Identifier: MIT */
/*
 * ctl_sfn: the Step Functions service (AWSStepFunctions.* over AWS JSON 1.0) on the States
 * Language engine (workflow/wf_exec.h), so that `aws stepfunctions ...` and the SDKs work
 * unchanged: state machines (create, describe, update, delete, list), executions (start, start
 * synchronously, describe, list, stop, history) and callbacks (SendTaskSuccess / Failure /
 * Heartbeat).
 *
 * What it owns. State machines and their definitions, standard executions and their journals in
 * the metadata database (module "sfn"); every running execution in memory (a wf_exec), the timers
 * they asked for (one heap, served by a tick on the control loop), and the tasks they run.
 *
 * Durability (standard executions). The journal of an execution is its list of history events
 * (wf_exec.h's durability contract), kept small: each event's type, and on the event an input
 * caused that input's data (execution input, task result or error, timer, stop); the details of
 * the others are rebuilt for GetExecutionHistory by running the journal through the engine
 * again. Events are buffered in memory as the engine emits them and written at the end of the
 * loop turn, all executions together, in one transaction with their execution rows;
 * StartExecution, StopExecution and SendTask* are answered after that commit. A task is handed to its
 * resource only after the event that scheduled it is committed, so a daemon killed at any point
 * never runs a state whose completion is journaled again: at start every RUNNING execution is
 * rebuilt with wf_exec_replay() from its journal, its pending timers re-armed with their
 * original due times, and the tasks it still waits for issued again (at least once, as any
 * resource outside the journal is). Express executions run in memory only and are not listed.
 *
 * Task resources.
 *   arn:aws:lambda:REGION:ACCOUNT:function:NAME      the function, payload = effective input
 *   arn:aws:states:::lambda:invoke                   Parameters.FunctionName + Payload; result
 *                                                    {ExecutedVersion, Payload, StatusCode, ...}
 *   arn:aws:states:::kinesis:putRecord               StreamName, Data, PartitionKey
 *   arn:aws:states:::aws-sdk:glue:startCrawler       Name (any aws-sdk:glue:<action> is sent)
 * each optionally with `.waitForTaskToken` (the task then waits for SendTask*; the token is
 * $$.Task.Token, "<execution name>:<n>"). Functions go through the invoker in the config; with
 * none, a function task fails with States.TaskFailed, "functions are not available". A function
 * error {errorType, errorMessage} fails the task with Error = errorType and Cause = the error's
 * JSON text; a service integration's error with Error = "<Service>.<__type>".
 *
 * Threads. The control thread only; the invoker's done() must run there too.
 */
#ifndef CTL_SFN_H
#define CTL_SFN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "ctl_aws.h"
#include "ctl_loop.h"
#include "ctl_meta.h"

struct ctl_sfn;

/* Called when an invocation ends: ok with the function's result (JSON text), or not ok with
 * the error object ({"errorType", "errorMessage", ...}). Runs on the control thread, later or
 * before invoke() returns. */
typedef void (*ctl_sfn_done_fn)(void *done_arg, bool ok, const char *result_or_error_json,
				size_t n);

/* How tasks reach functions. invoke() starts one invocation of the function named by name or
 * ARN with payload (JSON text); it returns 0 when done() will be called exactly once, or a
 * negative errno (-ENOENT: no such function) when it will not. */
struct ctl_sfn_invoker {
	int (*invoke)(void *arg, const char *function_name_or_arn, const char *payload, size_t len,
		      ctl_sfn_done_fn done, void *done_arg);
	void *arg;
};

struct ctl_sfn_config {
	struct ctl_meta *meta;          /* tables and journals (borrowed) */
	struct ctl_aws *aws;            /* service integrations go through it; NULL: none */
	struct ctl_loop *loop;          /* timers and journal flushes; NULL: the caller runs
	                                   ctl_sfn_tick() itself (benchmarks, tests) */
	struct ctl_sfn_invoker invoker; /* invoke NULL: no functions */
	const char *region;             /* for ARNs; default us-east-1 */
	const char *account_id;         /* default 000000000000 */
};

struct ctl_sfn_stats {
	uint64_t executions_started, executions_closed, transitions, journal_commits,
		journal_events, tasks_issued, replayed;
};

/*
 * Bring the tables to the current schema, load the state machines, rebuild every running
 * standard execution from its journal and register the tick. Returns 0 or a negative errno
 * after logging.
 */
int ctl_sfn_new(const struct ctl_sfn_config *cfg, struct ctl_sfn **ret);
/* Frees memory only: running executions stay RUNNING in the database. NULL is accepted. */
void ctl_sfn_free(struct ctl_sfn *s);

/* Register the AWSStepFunctions operations. Returns ctl_aws_register()'s result. */
int ctl_sfn_register(struct ctl_sfn *s, struct ctl_aws *aws);

/* ---- actions shared by the front-ends (and the benchmark) ------------------------------------ */

/*
 * Create state machine @name. 0 when created, 1 when an identical one exists (idempotent);
 * -EINVAL with the definition's problem in @err, -EEXIST (same name, other definition or type),
 * -EIO. @arn (256 bytes) receives the machine's ARN, @created_ms its creation time.
 */
int ctl_sfn_machine_create(struct ctl_sfn *s, const char *name, const char *def, size_t len,
			   bool express, const char *role_arn, int64_t now_ms, char arn[256],
			   int64_t *created_ms, char *err, size_t errlen);

/*
 * Start an execution of machine @machine (a name) with @input (JSON text, validated by the
 * caller) named @name (NULL: a UUID). Standard executions are journaled at the next
 * ctl_sfn_flush(); express ones run now, in memory. Writes the execution ARN (256 bytes).
 * Returns 0, 1 when an identical running or finished execution exists (same ARN returned),
 * -ENOENT (no machine), -EEXIST (same name, other input), -ENOMEM.
 */
int ctl_sfn_exec_start(struct ctl_sfn *s, const char *machine, const char *name,
		       const char *input, size_t len, int64_t now_ms, char arn[256]);

/*
 * Run an express execution to completion now (no timers may be pending for that: a Wait or a
 * task that answers later makes it return -EAGAIN after stopping it). *status is the final
 * wf_exec_status; *output a new reference to its output (or NULL). For benchmarks.
 */
int ctl_sfn_exec_run_sync(struct ctl_sfn *s, const char *machine, json_t *input, int64_t now_ms,
			  int *status, json_t **output);

/* Write what the last turn buffered (journals, execution rows) in one transaction, answer the
 * calls that waited for it and hand newly scheduled tasks to their resources. Returns the number
 * of executions written or -EIO. */
int ctl_sfn_flush(struct ctl_sfn *s);

/* Fire due timers and flush; returns when it wants to run next (ctl_loop_tick_fn). */
int64_t ctl_sfn_tick(void *arg, int64_t now_ms);

void ctl_sfn_stats_get(const struct ctl_sfn *s, struct ctl_sfn_stats *st);
/* ctl_admin stats provider (arg = struct ctl_sfn *): adds "stepfunctions": {...}. */
void ctl_sfn_stats_json(void *arg, json_t *out);

#endif
