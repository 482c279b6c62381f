/* SPDX-License-Identifier: MIT */
/*
 * ic_apply: `ingestctl plan -f FILE` and `ingestctl apply -f FILE`, the declarative set-up of an
 * appliance (see docs/apply.md for the file format).
 *
 * The file (YAML, or JSON which is YAML too) declares resources by kind, each written as the
 * request its AWS API takes to create it: streams (Kinesis CreateStream), delivery_streams
 * (Firehose CreateDeliveryStream), functions (Lambda CreateFunction), event_source_mappings,
 * schedules (EventBridge PutRule with its Targets), state_machines (Step Functions
 * CreateStateMachine), databases (Glue DatabaseInput), classifiers (Glue CreateClassifier) and
 * crawlers (Glue CreateCrawler).
 *
 * What it compares. The daemon keeps what the last apply of each file name declared (GET and PUT
 * /applied/NAME on the admin socket). A resource is created when the appliance does not have it,
 * updated when its declaration changed since it was applied (in place where the API allows it,
 * else replaced, which the plan says), removed when an earlier apply of the same file declared
 * it and this one does not, and left alone otherwise, so applying the same file twice changes
 * nothing. Resources nobody declared are never touched. Creation runs in dependency order
 * (databases and classifiers, streams, delivery streams, functions, mappings, state machines,
 * crawlers, schedules), removal in the reverse.
 *
 * Errors name the file, line and column of the declaration at fault and what to change.
 */
#ifndef IC_APPLY_H
#define IC_APPLY_H

#include <stdbool.h>
#include <stdio.h>

#include <jansson.h>

/*
 * How requests reach the daemon. target is "Prefix.Operation" for the JSON protocols (sent as
 * POST /); for REST operations target is NULL and method and path say what to do. in may be NULL.
 * Returns the HTTP status and sets *out to the parsed answer (NULL when the body was empty or
 * not JSON), or a negative errno when the daemon could not be reached (an error was printed).
 */
struct ic_api {
	int (*call)(void *arg, const char *target, const char *method, const char *path,
		    const json_t *in, json_t **out);
	void *arg;
	const char *region;   /* for ARNs built from names; default us-east-1 */
	const char *account;  /* default 000000000000 */
};

struct ic_apply_opts {
	bool apply;         /* false: plan only */
	bool json;          /* print the plan as JSON */
	FILE *out;          /* progress and the plan */
	FILE *err;          /* errors */
};

/* Exit codes beyond 0 (nothing to do / done). */
enum {
	IC_APPLY_ERR_SERVER = 1,  /* a request failed */
	IC_APPLY_ERR_FILE = 2,    /* the file is invalid */
	IC_APPLY_ERR_UNREACHABLE = 3,
};

/*
 * Read, validate, plan and (with opts->apply) carry out path. Returns 0 or an IC_APPLY_ERR_*
 * code after printing what went wrong.
 */
int ic_apply_file(const struct ic_api *api, const char *path, const struct ic_apply_opts *opts);

/* The same for a document already in memory (name labels messages; used by tests and fuzzing).
 * With api NULL, only parsing and validation run. */
int ic_apply_text(const struct ic_api *api, const char *name, const char *text, size_t len,
		  const struct ic_apply_opts *opts);

#endif
