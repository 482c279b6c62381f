/* SPDX-License-Identifier: MIT */
/*
 * ctl_admin: the admin API on the unix socket. GET /status and GET /stats answer JSON about the
 * daemon and its shard logs, GET /functions/NAME/logs?bytes=N a function's log tail; everything else is the AWS API (the same handlers as on TCP:
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
#include "ctl_shards.h"

struct ctl_admin {
	struct ctl_aws *aws;
	struct ctl_kinesis *kinesis;
	struct ctl_shards *shards;
	struct ctl_lambda *lambda;  /* GET /functions/NAME/logs; NULL: none */
	const char *data_dir;
	const char *api_listen;
	int64_t started_ms;
};

/* ctl_http route for the admin socket (arg = struct ctl_admin *). */
void ctl_admin_route(void *arg, struct ctl_http_req *rq);

#endif
