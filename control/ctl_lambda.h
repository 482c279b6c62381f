/* SPDX-License-Identifier: MIT */
/*
 * ctl_lambda: Lambda's REST API (/2015-03-31/functions, /2015-03-31/event-source-mappings) on
 * the function runtime (wf_fn.h), so the aws CLI and the SDKs work unchanged.
 *
 * What it owns. The functions and event source mappings: their definitions in the metadata
 * database (tables lambda_*, module "lambda"), the code of packaged functions under
 * DATA_DIR/functions/<name>/code.<revision>/ (a ZIP's files, extracted with checked paths),
 * each function's log at DATA_DIR/functions/<name>/log, the runtime and its workers, and the
 * mappings' checkpoints (the last sequence number of each shard whose batch the function
 * processed, written after the batch succeeded: a restart neither skips nor repeats a committed
 * batch).
 *
 * Kinds of function (docs/functions.md):
 *  - Code.ZipFile with Runtime provided / provided.al2 / provided.al2023: the ZIP's `bootstrap`
 *    program runs (event on stdin, result on stdout).
 *  - Runtime provided* without a ZIP and Handler an absolute path: that program on the appliance.
 *  - Runtime `builtin`: Handler names a built-in (flatten_json, generate_record, put_record,
 *    flatten_data); without Handler the function's name is the built-in's.
 *
 * Streams. put_record, flatten_data and the mappings use the Kinesis API through the AWS front-end
 * (ctl_aws_invoke on the trusted path), so they see exactly what a client sees. flatten_data and
 * mapping output reach a delivery stream through cfg.deliver when it is set.
 *
 * Threads. The control thread; the runtime's workers only run programs and wake the loop.
 */
#ifndef CTL_LAMBDA_H
#define CTL_LAMBDA_H

#include <stddef.h>
#include <stdint.h>

#include "ctl_aws.h"
#include "ctl_loop.h"
#include "ctl_meta.h"
#include "wf_fn.h"

struct ctl_lambda;

struct ctl_lambda_config {
	const char *data_dir;    /* functions live under DATA_DIR/functions */
	const char *account_id;  /* for ARNs; "000000000000" */
	const char *region;      /* for ARNs and AWS_REGION; "us-east-1" */
	unsigned workers;        /* programs running at once; default 4 */
	unsigned poll_ms;        /* how often a mapping looks at its stream; default 250 */
	unsigned event_retry_ms; /* a failed Event invocation runs again after this, then after
	                            twice this (Lambda's two retries); default 60000 as Lambda */
	/* Write data (one or more newline-terminated JSON records) to a delivery stream. Returns
	 * >= 0 or a negative errno. NULL: mapping output goes to the function's result and log only. */
	int (*deliver)(void *arg, const char *delivery_stream, const char *data, size_t len);
	void *deliver_arg;
};

/*
 * Load the functions and mappings (creating the tables on first use), start the runtime and
 * register a tick on loop that delivers results and drives the mappings. aws is used for the
 * Kinesis calls of built-ins and mappings. Returns 0 or a negative errno after logging.
 */
int ctl_lambda_new(const struct ctl_lambda_config *cfg, struct ctl_meta *meta, struct ctl_aws *aws,
		   struct ctl_loop *loop, struct ctl_lambda **ret);
/* Stops the runtime (running programs are killed). Free after the Kinesis calls it made were
 * answered (ctl_kinesis_drain). NULL is accepted. */
void ctl_lambda_free(struct ctl_lambda *l);

/* Register the REST service with the AWS front-end. */
int ctl_lambda_register(struct ctl_lambda *l, struct ctl_aws *aws);

/* The runtime, for other engines (Step Functions Task states) that run definitions themselves. */
struct wf_fn_runtime *ctl_lambda_runtime(struct ctl_lambda *l);

/*
 * Invoke the function called name (or its ARN) with payload, as Invoke RequestResponse does:
 * done runs later on the control thread. Returns 0, -ENOENT (no such function), -EAGAIN (too
 * many calls waiting) or -ENOMEM.
 */
int ctl_lambda_invoke(struct ctl_lambda *l, const char *name, const char *payload, size_t len,
		      wf_fn_done_fn done, void *arg);
/* The same as a wf_fn_invoke_by_name_fn (arg = struct ctl_lambda *), for the workflow engine. */
int ctl_lambda_invoke_by_name(void *arg, const char *name, const char *payload, size_t len,
			      wf_fn_done_fn done, void *done_arg);

/* The last max bytes of a function's log (malloc'd into *out). Returns 0, -ENOENT or -ENOMEM. */
int ctl_lambda_log_tail(struct ctl_lambda *l, const char *name, size_t max, char **out,
			size_t *len);

/* Functions, mappings, and records the mappings processed since start, for status reports. */
void ctl_lambda_counts(const struct ctl_lambda *l, unsigned *functions, unsigned *mappings,
		       uint64_t *mapped_records);

#endif
