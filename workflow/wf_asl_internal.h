/* SPDX-License-Identifier: MIT */
/*
 * wf_asl internals: the compiled form of a state machine, read by the interpreter (wf_exec.c).
 * Immutable once wf_machine_parse() returns.
 */
#ifndef WF_ASL_INTERNAL_H
#define WF_ASL_INTERNAL_H

#include <jansson.h>

#include "wf_asl.h"
#include "wf_intrinsic.h"
#include "wf_path.h"

enum wf_state_type {
	WF_PASS, WF_TASK, WF_CHOICE, WF_WAIT, WF_SUCCEED, WF_FAIL, WF_PARALLEL, WF_MAP,
};

/* A payload template (Parameters, ResultSelector, ItemSelector) node. */
enum wf_tmpl_kind { WF_T_LIT, WF_T_OBJ, WF_T_ARR, WF_T_PATH, WF_T_FN };

struct wf_tmpl {
	enum wf_tmpl_kind kind;
	json_t *lit;               /* WF_T_LIT: a subtree with no `.$` key, shared */
	struct wf_path *path;      /* WF_T_PATH */
	struct wf_intrinsic *fn;   /* WF_T_FN */
	char *field;               /* the key as written ("x.$"), for error messages */
	size_t n;
	char **keys;               /* WF_T_OBJ: output keys (without `.$`) */
	struct wf_tmpl *kids;      /* WF_T_OBJ / WF_T_ARR */
};

/* An optional path field: absent (default `$`), null, or a compiled path. */
struct wf_opt_path {
	struct wf_path *path;
	bool is_null;
};

struct wf_retrier {
	char **errors;
	size_t nerr;
	bool all;
	int64_t interval_s;
	int64_t max_attempts;
	double backoff;
	int64_t max_delay_s; /* 0: no cap */
	bool jitter_full;
};

struct wf_catcher {
	char **errors;
	size_t nerr;
	bool all;
	int next;
	struct wf_opt_path result_path;
};

enum wf_rule_kind {
	WF_R_CMP, WF_R_MATCH, WF_R_TYPE, WF_R_AND, WF_R_OR, WF_R_NOT,
};
enum wf_fam { WF_F_STR, WF_F_NUM, WF_F_BOOL, WF_F_TS };
enum wf_cmp { WF_C_EQ, WF_C_LT, WF_C_GT, WF_C_LE, WF_C_GE };
enum wf_type_test { WF_IS_NULL, WF_IS_PRESENT, WF_IS_NUMERIC, WF_IS_STRING, WF_IS_BOOLEAN,
		    WF_IS_TIMESTAMP };

struct wf_rule {
	enum wf_rule_kind kind;
	struct wf_path *var;
	enum wf_fam fam;
	enum wf_cmp cmp;
	enum wf_type_test test;
	bool want;              /* WF_R_TYPE's expected result */
	struct wf_path *path2;  /* ...Path operators: the other side */
	json_t *lit;            /* literal other side (strings, numbers, booleans) */
	int64_t ts_ns;          /* Timestamp literal */
	char *pattern;          /* StringMatches */
	struct wf_rule *sub;
	size_t nsub;
	int next;               /* top-level rules */
};

struct wf_graph;

struct wf_state {
	char *name;
	json_t *name_json;  /* the name as a JSON string, for events and the context object */
	enum wf_state_type type;
	int next;           /* index in the graph, -1 when End */
	struct wf_opt_path input_path, output_path, result_path;
	struct wf_tmpl *parameters, *result_selector;
	json_t *result;     /* Pass */

	/* Task */
	char *resource;
	int64_t timeout_s, heartbeat_s; /* 0: none */
	struct wf_path *timeout_path, *heartbeat_path;
	struct wf_retrier *retry;
	size_t nretry;
	struct wf_catcher *catch;
	size_t ncatch;

	/* Choice */
	struct wf_rule *choices;
	size_t nchoices;
	int default_next;   /* -1: none */

	/* Wait */
	int64_t wait_s;     /* -1: not given */
	int64_t wait_ts_ns;
	bool has_wait_ts;
	struct wf_path *seconds_path, *ts_path;

	/* Fail */
	char *error, *cause;
	struct wf_path *error_path, *cause_path;
	struct wf_intrinsic *error_fn, *cause_fn;

	/* Parallel */
	struct wf_graph *branches;
	size_t nbranches;

	/* Map */
	struct wf_path *items_path;
	struct wf_tmpl *item_selector;
	struct wf_graph *processor;
	int64_t max_concurrency;
	struct wf_path *max_concurrency_path;
	int64_t tolerated_count;      /* -1: not given */
	double tolerated_pct;         /* -1: not given */
	struct wf_path *tolerated_count_path, *tolerated_pct_path;
};

struct wf_graph {
	struct wf_state *states;
	size_t n;
	int start;
};

struct wf_machine {
	struct wf_graph root;
	int64_t timeout_s;
	size_t nstates;
};

#endif
