/* SPDX-License-Identifier: MIT */
/*
 * wf_fn: the function runtime. Runs functions the way Lambda runs them, for the Lambda API, the
 * event source mappings and the Step Functions Task states alike.
 *
 * Kinds.
 *  - Built-ins: C functions registered by name (wf_fn_builtin_register). Two come with the
 *    runtime: "flatten_json" (nested objects become `parent_child` keys; arrays are kept as they
 *    are) and "generate_record" (a JSON record with nested fields, like a producer's event).
 *    The daemon registers more that need its services (a put to a stream).
 *  - Programs: an executable started WITHOUT a shell (fork + execve, argv = { path, NULL }), the
 *    event JSON on its stdin, the result JSON on its stdout, exit status 0 meaning success. It
 *    runs in its own process group with a cleared environment (the function's Variables plus
 *    Lambda's standard ones), RLIMIT_AS = MemorySize MiB, RLIMIT_CPU = Timeout + 1 s,
 *    RLIMIT_NOFILE = 1024, RLIMIT_CORE = 0, no_new_privs set, SIGKILL when its worker goes,
 *    every descriptor of the daemon closed, the signal mask and dispositions reset, the working
 *    directory at its task root. A program that
 *    outlives Timeout has its whole process group killed. Its stderr goes to the function's log
 *    (between Lambda's START / END / REPORT lines), bounded per invocation and per file.
 *
 * Results. A call ends with a struct wf_fn_result: ok with the result JSON, or not ok with an
 * error object exactly as Lambda reports an unhandled error ({"errorType", "errorMessage",
 * ...}): a program that exits non-zero with such an object on stdout reports that object;
 * otherwise Runtime.ExitError ("RequestId: <id> Error: Runtime exited with error: exit status 3"
 * or "signal: killed"), Sandbox.Timedout ("RequestId: <id> Error: Task timed out after 3.00
 * seconds"), Runtime.InvalidEntrypoint (the program cannot be started), Runtime.MarshalError
 * (exit 0 but stdout is not one JSON document; empty stdout is the result `null`),
 * Function.ResponseSizeTooLarge (stdout beyond Lambda's 6 MB synchronous limit).
 *
 * Threads. Everything but wf_fn_complete() is for one thread, the owner's (the daemon's control
 * thread). Programs run on a pool of worker threads (cfg.workers: the concurrency bound); calls
 * beyond it wait in a bounded queue. No call ever blocks the owner on a running program: a
 * finished call is queued, cfg.wake() is called (from any thread), and the owner then calls
 * wf_fn_runtime_poll(), which runs the done callbacks. A done callback never runs inside
 * wf_fn_invoke().
 */
#ifndef WF_FN_H
#define WF_FN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

struct wf_fn_runtime;
struct wf_fn_call;

enum wf_fn_kind {
	WF_FN_BUILTIN = 0,  /* handler names a registered built-in */
	WF_FN_PROGRAM = 1,  /* handler is an executable's absolute path */
};

/* Lambda's limits for the two settings a program is held to. */
#define WF_FN_TIMEOUT_MAX_S 900u
#define WF_FN_MEMORY_MIN_MB 128u
#define WF_FN_MEMORY_MAX_MB 10240u
/* Lambda's synchronous response limit (bytes). */
#define WF_FN_RESPONSE_MAX 6291556u

/* One function as it is to be run. Copied by wf_fn_invoke(): the caller's memory may go. */
struct wf_fn_def {
	const char *name;        /* function name (AWS_LAMBDA_FUNCTION_NAME) */
	enum wf_fn_kind kind;
	const char *handler;     /* built-in name, or program path */
	const char *task_root;   /* program's working directory and LAMBDA_TASK_ROOT; NULL: "/" */
	const char *log_path;    /* the function's log file (appended); NULL: no file */
	const char *const *env;  /* the function's Variables: "NAME=value", NULL-terminated; or NULL */
	unsigned timeout_s;      /* 1..900; 0 means Lambda's default, 3 */
	unsigned memory_mb;      /* 128..10240; 0 means Lambda's default, 128 */
	const char *version;     /* NULL: "$LATEST" */
	const char *region;      /* NULL: "us-east-1" */
};

/* How a call ended. Valid during the done callback only. */
struct wf_fn_result {
	bool ok;
	const char *text;        /* result JSON (ok) or the error object (!ok), NUL-terminated */
	size_t len;
	const char *log;         /* this call's log: START line, output, END, REPORT (tail kept) */
	size_t log_len;
	const char *request_id;  /* the call's id, a UUID */
	uint64_t duration_us;
};

typedef void (*wf_fn_done_fn)(void *arg, const struct wf_fn_result *r);

/*
 * A built-in: runs on the owner's thread inside wf_fn_invoke(); ends the call exactly once with
 * wf_fn_complete() (now, or later from any thread). payload is the event JSON (len may be 0).
 */
typedef void (*wf_fn_builtin_fn)(void *arg, const struct wf_fn_def *def, const char *payload,
				 size_t len, struct wf_fn_call *call);

struct wf_fn_config {
	unsigned workers;      /* programs running at once; default 4, at most 64 */
	unsigned queue_max;    /* calls waiting for a worker; default 1024 */
	size_t log_max_bytes;  /* a function's log file is rotated to <path>.1 beyond this; 1 MiB */
	void (*wake)(void *arg);  /* any thread: results are ready for wf_fn_runtime_poll() */
	void *wake_arg;
};

/* Start the workers and register the runtime's own built-ins. Returns 0, -EINVAL or -ENOMEM
 * (or a thread creation error). */
int wf_fn_runtime_new(const struct wf_fn_config *cfg, struct wf_fn_runtime **ret);
/* Kill running programs' process groups, join the workers, drop undelivered results (their
 * done callbacks are not run). NULL is accepted. */
void wf_fn_runtime_free(struct wf_fn_runtime *rt);

/* Register a built-in (name copied). Returns 0, -EEXIST, -ENOSPC (at most 32) or -EINVAL. */
int wf_fn_builtin_register(struct wf_fn_runtime *rt, const char *name, wf_fn_builtin_fn fn,
			   void *arg);
/* True when name is a registered built-in. */
bool wf_fn_builtin_exists(const struct wf_fn_runtime *rt, const char *name);

/*
 * Invoke def with the event payload (JSON text, len 0 means `{}`). done(arg, result) runs later
 * from wf_fn_runtime_poll(), exactly once when this returns 0. Returns 0, -EINVAL (an unknown
 * built-in, a program path that is not absolute, limits out of range), -EAGAIN (the queue is
 * full: Lambda's TooManyRequestsException) or -ENOMEM.
 */
int wf_fn_invoke(struct wf_fn_runtime *rt, const struct wf_fn_def *def, const char *payload,
		 size_t len, wf_fn_done_fn done, void *arg);

/*
 * Invoking a function by name (or ARN), for engines in workflow/ that must not see control/:
 * the daemon hands them ctl_lambda_invoke() with its struct ctl_lambda * as arg, which resolves
 * the Lambda API's function and calls wf_fn_invoke(). Same returns as wf_fn_invoke(), plus
 * -ENOENT for an unknown function.
 */
typedef int (*wf_fn_invoke_by_name_fn)(void *arg, const char *name, const char *payload,
				       size_t len, wf_fn_done_fn done, void *done_arg);

/* Run the done callbacks of finished calls. Returns how many ran. */
int wf_fn_runtime_poll(struct wf_fn_runtime *rt);
/* Calls started and not yet delivered. */
unsigned wf_fn_runtime_pending(const struct wf_fn_runtime *rt);

/* ---- inside a built-in ----------------------------------------------------------------------- */

/* End a built-in's call (any thread, once): text is the result JSON (ok) or an error object
 * (!ok; see wf_fn_error()); it is copied. Out of memory ends the call as a Runtime.Unknown
 * error. */
void wf_fn_complete(struct wf_fn_call *call, bool ok, const char *text, size_t len);
/* End a built-in's call with a JSON value (reference stolen). */
void wf_fn_complete_json(struct wf_fn_call *call, bool ok, json_t *v);
/* Append a line to the call's log (and the function's log file). */
void wf_fn_call_log(struct wf_fn_call *call, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* The call's request id. */
const char *wf_fn_call_id(const struct wf_fn_call *call);

/* An error object {"errorType": type, "errorMessage": message} (NULL when out of memory). */
json_t *wf_fn_error(const char *type, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ---- the built-ins' cores, for direct use ---------------------------------------------------- */

/*
 * flatten_json on one value: an object's nested objects become keys joined with '_' ({"a":
 * {"b": 1}} -> {"a_b": 1}), at any depth; arrays and scalars are kept as they are; an empty
 * nested object disappears. Where two paths give the same key, the later one wins. An array
 * at the top is flattened element by element. Returns a new reference, or NULL when out of memory
 * or nesting is deeper than 64.
 */
json_t *wf_fn_flatten(const json_t *v);

/* A generated record with nested fields; seq numbers it, seed varies its values. */
json_t *wf_fn_generate_record(uint64_t seq, uint64_t seed);

#endif
