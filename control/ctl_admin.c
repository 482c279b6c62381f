/* SPDX-License-Identifier: MIT */
/* ctl_admin: see ctl_admin.h. */
#include "ctl_admin.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#define JSON_TYPE "application/json"

static int64_t wall_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void reply_json(struct ctl_http_req *rq, unsigned status, json_t *j)
{
	char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
	json_decref(j);
	if (!text) {
		static const char oom[] = "{\"message\":\"out of memory\"}";
		ctl_http_reply(rq, 500, JSON_TYPE, oom, sizeof(oom) - 1, false, NULL);
		return;
	}
	if (ctl_http_reply(rq, status, JSON_TYPE, text, strlen(text), true, NULL) < 0)
		free(text);
}

static void status(struct ctl_admin *a, struct ctl_http_req *rq)
{
	unsigned streams, open;
	ctl_kinesis_counts(a->kinesis, &streams, &open);
	reply_json(rq, 200, json_pack("{s:s, s:s, s:s?, s:I, s:i, s:i}", "version", INGESTD_VERSION,
				      "data_dir", a->data_dir, "api_listen", a->api_listen,
				      "uptime_ms", (json_int_t)(wall_ms() - a->started_ms),
				      "streams", (int)streams, "open_shards", (int)open));
}

static void stat_one(void *arg, const char *name, struct dp_shard *sh)
{
	json_t *arr = arg;
	struct dp_shard_stats st;
	dp_shard_stats_get(sh, &st);
	json_array_append_new(arr, json_pack(
		"{s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}",
		"shard", name, "state", dp_shard_state_name(dp_shard_state(sh)),
		"next_seq", (json_int_t)dp_shard_next_seq(sh),
		"durable_next", (json_int_t)dp_shard_durable_next(sh),
		"trim_seq", (json_int_t)dp_shard_trim_seq(sh),
		"appends", (json_int_t)st.appends, "records", (json_int_t)st.records,
		"bytes", (json_int_t)st.bytes_staged, "flushes", (json_int_t)st.flushes,
		"fsyncs", (json_int_t)st.fsyncs, "short_writes", (json_int_t)st.short_writes,
		"segments_live", (json_int_t)st.segments_live,
		"segments_deleted", (json_int_t)st.segments_deleted));
}

static void stats(struct ctl_admin *a, struct ctl_http_req *rq)
{
	json_t *arr = json_array();
	ctl_shards_each(a->shards, stat_one, arr);
	reply_json(rq, 200, json_pack("{s:o}", "shards", arr));
}

/* GET /functions/NAME/logs?bytes=N: the tail of a function's log, as text. */
static void function_logs(struct ctl_admin *a, struct ctl_http_req *rq, const char *url)
{
	char name[128];
	const char *p = url + strlen("/functions/");
	const char *slash = strchr(p, '/');
	if (!a->lambda || !slash || strcmp(slash, "/logs") != 0 || (size_t)(slash - p) >= sizeof(name)) {
		reply_json(rq, 404, json_pack("{s:s, s:s}", "__type", "NotFound", "message",
					      "use GET /functions/NAME/logs"));
		return;
	}
	memcpy(name, p, (size_t)(slash - p));
	name[slash - p] = '\0';
	const char *bytes = ctl_http_arg(rq, "bytes");
	long max = bytes ? strtol(bytes, NULL, 10) : 65536;
	if (max <= 0 || max > (16l << 20))
		max = 65536;
	char *text;
	size_t len;
	int r = ctl_lambda_log_tail(a->lambda, name, (size_t)max, &text, &len);
	if (r < 0) {
		reply_json(rq, 404, json_pack("{s:s, s:s}", "__type", "ResourceNotFoundException",
					      "message", "no such function"));
		return;
	}
	if (ctl_http_reply(rq, 200, "text/plain", text, len, true, NULL) < 0)
		free(text);
}

void ctl_admin_route(void *arg, struct ctl_http_req *rq)
{
	struct ctl_admin *a = arg;
	const char *m = ctl_http_method(rq), *url = ctl_http_url(rq);
	if (strcmp(m, "GET") == 0 && strcmp(url, "/status") == 0)
		status(a, rq);
	else if (strcmp(m, "GET") == 0 && strcmp(url, "/stats") == 0)
		stats(a, rq);
	else if (strcmp(m, "GET") == 0 && strncmp(url, "/functions/", 11) == 0)
		function_logs(a, rq, url);
	else if (strcmp(m, "POST") == 0 || strncmp(url, "/2015-03-31/", 12) == 0)
		ctl_aws_route(a->aws, rq);
	else
		reply_json(rq, 404, json_pack("{s:s, s:s}", "__type", "NotFound", "message",
					      "unknown admin path: use GET /status, GET /stats or POST "
					      "with X-Amz-Target"));
}
