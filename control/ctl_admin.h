/* SPDX-License-Identifier: MIT */
/*
 * ctl_admin: the admin API on the unix socket. GET /status and GET /stats answer JSON about the
 * daemon and its shard logs; GET /functions/NAME/logs?bytes=N a function's log tail; GET /applied?file=F and PUT /applied {"file", "doc"} keep what the
 * last `ingestctl apply` of a file declared (in the metadata database, module "admin");
 * everything else is the AWS API (the same handlers as on TCP:
 * ingestctl drives streams with the Kinesis operations, so both front-ends share one action
 * per operation). Control thread only.
 */
#ifndef CTL_ADMIN_H
#define CTL_ADMIN_H

#include <stdint.h>

#include "ctl_aws.h"
#include "ctl_http.h"
#include "ctl_kinesis.h"
#include "ctl_lambda.h"
#include "ctl_meta.h"
#include "ctl_shards.h"

/* A module's counters for GET /stats: fn adds them to out (one member named after the module). */
typedef void (*ctl_admin_stats_fn)(void *arg, json_t *out);

#define CTL_ADMIN_MAX_PROVIDERS 16
#include <jansson.h>

struct ctl_admin {
	struct ctl_aws *aws;
	struct ctl_kinesis *kinesis;
	struct ctl_shards *shards;
	struct ctl_lambda *lambda;  /* GET /functions/NAME/logs; NULL: none */
	struct ctl_meta *meta;  /* the record of declarative applies (GET/PUT /applied) */
	/* The dataplane's counters for GET /stats (NULL: none): a new JSON object. */
	json_t *(*dataplane_stats)(void *arg);
	void *dataplane_arg;
	const char *data_dir;
	const char *api_listen;
	int64_t started_ms;
	struct {
		ctl_admin_stats_fn fn;
		void *arg;
	} providers[CTL_ADMIN_MAX_PROVIDERS];
	unsigned n_providers;
};

/* Bring the admin module's tables (the apply records) to the current schema. Returns 0 or a
 * negative errno after logging. */
int ctl_admin_schema(struct ctl_meta *meta);

/* Add a module's counters to GET /stats. Returns 0 or -ENOSPC. */
int ctl_admin_add_stats(struct ctl_admin *a, ctl_admin_stats_fn fn, void *arg);

/* ctl_http route for the admin socket (arg = struct ctl_admin *). */
void ctl_admin_route(void *arg, struct ctl_http_req *rq);

#endif
