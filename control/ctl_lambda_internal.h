/* SPDX-License-Identifier: MIT */
/*
 * ctl_lambda internals shared by its files: ctl_lambda.c (functions, the REST API, storage,
 * invocation) and ctl_lambda_stream.c (the stream built-ins put_record and flatten_data, event
 * source mappings, the Kinesis calls both make).
 */
#ifndef CTL_LAMBDA_INTERNAL_H
#define CTL_LAMBDA_INTERNAL_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "ctl_lambda.h"

#define L_NAME_MAX 64
#define L_ARN_MAX 300
#define L_STREAM_MAX 128
/* Lambda's synchronous and asynchronous payload limits. */
#define L_SYNC_PAYLOAD_MAX (6u * 1024u * 1024u)
#define L_ASYNC_PAYLOAD_MAX (256u * 1024u)

struct l_fn {
	char name[L_NAME_MAX + 1];
	char runtime[32];
	char role[256];
	char handler[256];
	char description[257];
	enum wf_fn_kind kind;
	char program[PATH_MAX];   /* the program to run, or the built-in's name */
	char code_dir[PATH_MAX];  /* task root of a ZIP's files; "" otherwise */
	unsigned timeout_s, memory_mb;
	json_t *vars;             /* Environment.Variables: an object of strings */
	char sha256[48];
	int64_t code_size;
	int64_t modified_ms;
	int64_t revision;
	char revision_id[37];
};

/* One shard of a mapping's stream, as the mapping reads it. */
struct l_esm_shard {
	char id[64];
	char *iter;               /* next GetRecords iterator; NULL: to be fetched */
	char checkpoint[64];      /* last sequence number processed; "" when none */
	bool ended;               /* closed shard read to its end */
	json_t *batch;            /* records fetched and not yet processed (array) */
	int64_t batch_first_ms;
	unsigned attempts;        /* failed invocations of the current batch */
	int64_t retry_at_ms;
	int64_t idle_until_ms;    /* the last GetRecords was empty: look again after this */
};

struct l_esm {
	struct l_esm *next;
	char uuid[37];
	char fn[L_NAME_MAX + 1];
	char source_arn[L_ARN_MAX];
	char stream[L_STREAM_MAX + 1];
	unsigned batch_size;
	unsigned window_s;
	char start_pos[16];       /* TRIM_HORIZON, LATEST, AT_TIMESTAMP */
	int64_t start_ms;         /* AT_TIMESTAMP, and LATEST's creation time */
	int retries;              /* MaximumRetryAttempts; -1: until the records expire */
	char on_failure[L_ARN_MAX];  /* DestinationConfig.OnFailure.Destination or "" */
	bool enabled;
	int64_t modified_ms;
	char last_result[80];
	/* reading */
	struct l_esm_shard *shards;
	unsigned n_shards;
	unsigned cursor;
	bool busy;                /* a Kinesis call or an invocation is outstanding */
	bool deleted;             /* gone from the API; freed with the module */
	int64_t next_list_ms;
	int64_t next_poll_ms;
	uint64_t records_done;    /* processed records since start */
};

/* A Kinesis call made through the front-end, answered now or later. */
struct l_kin;
struct l_retry;
typedef void (*l_kin_fn)(struct ctl_lambda *l, void *arg, unsigned status, json_t *out);

struct ctl_lambda {
	struct ctl_lambda_config cfg;
	char data_dir[PATH_MAX];
	char account[16];
	char region[32];
	struct ctl_meta *meta;
	struct ctl_aws *aws;
	struct ctl_loop *loop;
	struct wf_fn_runtime *rt;
	struct l_fn **fns;        /* sorted by name */
	unsigned n_fns;
	struct l_esm *esms;       /* live ones, in creation order */
	struct l_esm *graveyard;  /* deleted while a call was outstanding */
	struct l_kin *kin_pending;
	struct l_retry *retries;  /* failed Event invocations waiting for their retry */
	uint64_t put_seq;
};

/* ctl_lambda.c */
struct l_fn *l_fn_find(struct ctl_lambda *l, const char *name);
/* The function's run definition; env points into envbuf (NULL-terminated, at most n - 1). */
void l_fn_def(struct ctl_lambda *l, const struct l_fn *f, struct wf_fn_def *d, char **envbuf,
	      size_t n, char *logpath, size_t logn);
void l_fn_arn(const struct ctl_lambda *l, const char *name, char *out, size_t n);
/* A Variable of the definition's environment, or NULL. */
const char *l_def_var(const struct wf_fn_def *d, const char *name);

/* ctl_lambda_stream.c */
int l_kin_call(struct ctl_lambda *l, const char *op, json_t *in, l_kin_fn fn, void *arg);
void l_kin_reap(struct ctl_lambda *l);
void l_kin_free_all(struct ctl_lambda *l);
int l_builtins_register(struct ctl_lambda *l);
int l_esm_load(struct ctl_lambda *l);
void l_esm_free(struct l_esm *e);
json_t *l_esm_json(const struct ctl_lambda *l, const struct l_esm *e);
/* Drive every mapping; returns the ms until it wants to run again. */
int64_t l_esm_tick(struct ctl_lambda *l, int64_t now_ms);
void l_esm_op_create(struct ctl_lambda *l, struct ctl_aws_call *c);
void l_esm_op_list(struct ctl_lambda *l, struct ctl_aws_call *c);
void l_esm_op_get(struct ctl_lambda *l, struct ctl_aws_call *c, const char *uuid);
void l_esm_op_delete(struct ctl_lambda *l, struct ctl_aws_call *c, const char *uuid);
/* Lambda's REST error: status, X-Amzn-ErrorType and {"Type":"User","message":...}. */
void l_err(struct ctl_aws_call *c, unsigned status, const char *type, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
void l_reply_json(struct ctl_aws_call *c, unsigned status, json_t *body);
/* One query parameter, percent-decoded into out; returns 1 when present. */
int l_query(struct ctl_aws_call *c, const char *name, char *out, size_t n);
int64_t l_now_ms(void);

#endif
