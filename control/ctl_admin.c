/* SPDX-License-Identifier: MIT */
/* ctl_admin: see ctl_admin.h. */
#include "ctl_admin.h"

#include <errno.h>
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

struct stat_visit {
	struct ctl_admin *a;
	json_t *arr;
};

struct stat_arg {
	struct dp_shard *sh;
	struct dp_shard_stats st;
};

/* Runs on the shard's owner: its statistics are plain fields the owner writes. */
static int stat_cb(void *arg)
{
	struct stat_arg *x = arg;
	dp_shard_stats_get(x->sh, &x->st);
	return 0;
}

static void stat_one(void *arg, const char *name, struct dp_shard *sh)
{
	struct stat_visit *v = arg;
	json_t *arr = v->arr;
	struct stat_arg x = { .sh = sh };
	if (ctl_shards_call(v->a->shards, sh, stat_cb, &x) < 0)
		return;
	struct dp_shard_stats st = x.st;
	struct dp_ingest_shard *is = ctl_shards_slot(v->a->shards, sh);
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
	json_t *o = json_array_get(arr, json_array_size(arr) - 1);
	if (o && is)
		json_object_set_new(o, "owner", json_integer(is->owner));
	if (o) {
		json_object_set_new(o, "flush_us_p50", json_integer(
			(json_int_t)dp_flush_hist_quantile(st.flush_us_hist, 0.5)));
		json_object_set_new(o, "flush_us_p99", json_integer(
			(json_int_t)dp_flush_hist_quantile(st.flush_us_hist, 0.99)));
	}
}

static void stats(struct ctl_admin *a, struct ctl_http_req *rq)
{
	struct stat_visit v = { a, json_array() };
	ctl_shards_each(a->shards, stat_one, &v);
	json_t *dp = a->dataplane_stats ? a->dataplane_stats(a->dataplane_arg) : NULL;
	json_t *out = json_pack("{s:o, s:o?}", "shards", v.arr, "dataplane", dp);
	for (unsigned n = 0; out && n < a->n_providers; n++)
		a->providers[n].fn(a->providers[n].arg, out);
	reply_json(rq, 200, out);
}

int ctl_admin_add_stats(struct ctl_admin *a, ctl_admin_stats_fn fn, void *arg)
{
	if (a->n_providers == CTL_ADMIN_MAX_PROVIDERS)
		return -ENOSPC;
	a->providers[a->n_providers].fn = fn;
	a->providers[a->n_providers++].arg = arg;
	return 0;
}

static const char *const admin_schema[] = {
	"CREATE TABLE admin_applied(file TEXT PRIMARY KEY, doc TEXT NOT NULL, "
	"updated_ms INTEGER NOT NULL);",
};

int ctl_admin_schema(struct ctl_meta *meta)
{
	return ctl_meta_schema(meta, "admin", 1, admin_schema);
}

static void applied_get(struct ctl_admin *a, struct ctl_http_req *rq)
{
	const char *file = ctl_http_arg(rq, "file");
	if (!file || !*file) {
		reply_json(rq, 400, json_pack("{s:s, s:s}", "__type", "ValidationException", "message",
					      "GET /applied needs ?file=PATH"));
		return;
	}
	sqlite3_stmt *q = NULL;
	if (sqlite3_prepare_v2(ctl_meta_db(a->meta), "SELECT doc FROM admin_applied WHERE file = ?1",
			       -1, &q, NULL) != SQLITE_OK) {
		ctl_meta_fail(a->meta, "read apply record");
		reply_json(rq, 500, json_pack("{s:s, s:s}", "__type", "InternalFailure", "message",
					      "metadata database error"));
		return;
	}
	sqlite3_bind_text(q, 1, file, -1, SQLITE_STATIC);
	json_t *doc = NULL;
	if (sqlite3_step(q) == SQLITE_ROW)
		doc = json_loads((const char *)sqlite3_column_text(q, 0), 0, NULL);
	sqlite3_finalize(q);
	if (!doc)
		reply_json(rq, 404, json_pack("{s:s, s:s}", "__type", "ResourceNotFoundException",
					      "message", "no apply of this file is recorded"));
	else
		reply_json(rq, 200, json_pack("{s:s, s:o}", "file", file, "doc", doc));
}

static void applied_put(struct ctl_admin *a, struct ctl_http_req *rq)
{
	size_t len;
	const char *body = ctl_http_body(rq, &len);
	json_t *in = json_loadb(body, len, 0, NULL);
	const char *file = json_string_value(json_object_get(in, "file"));
	json_t *doc = json_object_get(in, "doc");
	char *text = file && json_is_object(doc) ? json_dumps(doc, JSON_COMPACT) : NULL;
	if (!text) {
		json_decref(in);
		reply_json(rq, 400, json_pack("{s:s, s:s}", "__type", "ValidationException", "message",
					      "PUT /applied takes {\"file\": PATH, \"doc\": {...}}"));
		return;
	}
	sqlite3_stmt *q = NULL;
	int rc = sqlite3_prepare_v2(ctl_meta_db(a->meta), "INSERT OR REPLACE INTO admin_applied"
				    "(file, doc, updated_ms) VALUES(?1, ?2, ?3)", -1, &q, NULL);
	if (rc == SQLITE_OK) {
		sqlite3_bind_text(q, 1, file, -1, SQLITE_STATIC);
		sqlite3_bind_text(q, 2, text, -1, SQLITE_STATIC);
		sqlite3_bind_int64(q, 3, wall_ms());
		rc = sqlite3_step(q);
	}
	sqlite3_finalize(q);
	free(text);
	json_decref(in);
	if (rc != SQLITE_DONE) {
		ctl_meta_fail(a->meta, "record an apply");
		reply_json(rq, 500, json_pack("{s:s, s:s}", "__type", "InternalFailure", "message",
					      "metadata database error"));
		return;
	}
	reply_json(rq, 200, json_object());
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
	else if (strcmp(m, "GET") == 0 && strcmp(url, "/applied") == 0 && a->meta)
		applied_get(a, rq);
	else if (strcmp(m, "PUT") == 0 && strcmp(url, "/applied") == 0 && a->meta)
		applied_put(a, rq);
	else if (strcmp(m, "GET") == 0 && strcmp(url, "/stats") == 0)
		stats(a, rq);
	else if (strcmp(m, "GET") == 0 && strncmp(url, "/functions/", 11) == 0)
		function_logs(a, rq, url);
	else
		/* Everything else is the AWS API (JSON protocols and REST services alike). */
		ctl_aws_route(a->aws, rq);
}
