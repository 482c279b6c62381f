/* SPDX-License-Identifier: MIT */
/*
 * ic_apply: see ic_apply.h. One table of kinds; each kind knows its resources' names, the
 * fields its declaration must have, and the requests that create, find, update and remove one.
 */
#include "ic_apply.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "ctl_b64.h"
#include "ic_yaml.h"

#define NAME_MAX_LEN 256
#define FILE_MAX (16u << 20)

struct ctx {
	const struct ic_api *api;
	const struct ic_apply_opts *o;
	struct ic_yaml *y;
	const char *dir;     /* the file's directory, for relative paths in declarations */
	char region[32], account[16];
};

struct kind;

struct res {
	const struct kind *k;
	char name[NAME_MAX_LEN];
	char pointer[64];        /* where it is declared */
	json_t *decl;            /* borrowed from the document */
};

typedef int (*exists_fn)(struct ctx *x, const char *name, json_t *extra);
typedef int (*create_fn)(struct ctx *x, const struct res *r, json_t *extra);
typedef int (*update_fn)(struct ctx *x, const struct res *r, json_t *old, json_t *extra);
typedef int (*remove_fn)(struct ctx *x, const char *name, json_t *old, json_t *extra);

struct kind {
	const char *section;
	const char *label;
	const char *name_field;      /* "StreamName", or "GrokClassifier.Name"-style handled by fn */
	const char *const *required; /* NULL-terminated */
	int (*name)(const json_t *decl, char *out, size_t n);  /* NULL: name_field's value */
	exists_fn exists;
	create_fn create;
	update_fn update;            /* NULL: replaced */
	remove_fn remove;
};

/* ---- messages ------------------------------------------------------------------------------- */

static void say(struct ctx *x, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void say(struct ctx *x, const char *fmt, ...)
{
	if (x->o->json)
		return;
	va_list ap;
	va_start(ap, fmt);
	vfprintf(x->o->out, fmt, ap);
	va_end(ap);
}

static int file_err(struct ctx *x, const char *pointer, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int file_err(struct ctx *x, const char *pointer, const char *fmt, ...)
{
	char where[512];
	ic_yaml_where(x->y, pointer, where, sizeof(where));
	fprintf(x->o->err, "%s: ", where);
	va_list ap;
	va_start(ap, fmt);
	vfprintf(x->o->err, fmt, ap);
	va_end(ap);
	fputc('\n', x->o->err);
	return IC_APPLY_ERR_FILE;
}

/* ---- requests ------------------------------------------------------------------------------- */

/* Who a request is for, in messages about its failure. */
struct req_ctx {
	struct ctx *x;
	char what[NAME_MAX_LEN + 64];  /* "stream terraform-kinesis-test" */
	char where[512];               /* "file:line:col" of the declaration, or "" */
};

static void rc_init(struct req_ctx *rc, struct ctx *x, const char *label, const char *name,
		    const char *pointer)
{
	rc->x = x;
	snprintf(rc->what, sizeof(rc->what), "%s %s", label, name);
	rc->where[0] = '\0';
	if (pointer)
		ic_yaml_where(x->y, pointer, rc->where, sizeof(rc->where));
}

/*
 * One request (in stolen). Returns 0 on 2xx (*out set when out is given), 1 when the answer is a
 * not-found error and not_found_ok, or an IC_APPLY_ERR_* code after printing the failure.
 */
static int request(struct req_ctx *rc, const char *target, const char *method, const char *path,
		   json_t *in, json_t **out, bool not_found_ok)
{
	json_t *ans = NULL;
	if (out)
		*out = NULL;
	int st = rc->x->api->call(rc->x->api->arg, target, method, path, in, &ans);
	json_decref(in);
	if (st < 0)
		return IC_APPLY_ERR_UNREACHABLE;
	if (st >= 200 && st < 300) {
		if (out)
			*out = ans;
		else
			json_decref(ans);
		return 0;
	}
	const char *type = json_string_value(json_object_get(ans, "__type"));
	/* Lambda's REST errors carry only "User"/"Server" in the body (the type is a header). */
	const char *msg = json_string_value(json_object_get(ans, "message"));
	if (!msg)
		msg = json_string_value(json_object_get(ans, "Message"));
	char t[64];
	if (!type) {
		snprintf(t, sizeof(t), "HTTP %d", st);
		type = t;
	}
	if (not_found_ok && (st == 404 || strstr(type, "NotFound") || strstr(type, "DoesNotExist"))) {
		json_decref(ans);
		return 1;
	}
	fprintf(rc->x->o->err, "%s%s%s: %s: %s\n", rc->where, rc->where[0] ? ": " : "", rc->what,
		type, msg ? msg : "(no message)");
	json_decref(ans);
	return IC_APPLY_ERR_SERVER;
}

/* ---- helpers for the kinds ------------------------------------------------------------------ */

static int field_name(const json_t *decl, const char *field, char *out, size_t n)
{
	const char *s = json_string_value(json_object_get(decl, field));
	if (!s || !*s || strlen(s) >= n)
		return -1;
	snprintf(out, n, "%s", s);
	return 0;
}

/* A copy of decl without the named members (extensions the create request does not take). */
static json_t *without(const json_t *decl, const char *const *drop)
{
	json_t *c = json_deep_copy(decl);
	for (size_t i = 0; c && drop[i]; i++)
		json_object_del(c, drop[i]);
	return c;
}

/* Requests need a role ARN that the appliance does not check: a declaration may leave it out. */
static void default_role(struct ctx *x, json_t *req, const char *field)
{
	if (json_object_get(req, field))
		return;
	char role[128];
	snprintf(role, sizeof(role), "arn:aws:iam::%s:role/ingestd", x->account);
	json_object_set_new(req, field, json_string(role));
}

/* Send the declaration itself as the request op (a JSON protocol), with a default role. */
static int send_decl(struct ctx *x, const struct res *r, const char *op, const char *role_field)
{
	struct req_ctx rc;
	rc_init(&rc, x, r->k->label, r->name, r->pointer);
	json_t *req = json_deep_copy(r->decl);
	if (req && role_field)
		default_role(x, req, role_field);
	return request(&rc, op, "POST", "/", req, NULL, false);
}

/* 1 when op {field: name} succeeds, 0 when it answers not-found (or fails: then printed). */
static int probe(struct ctx *x, const char *label, const char *op, const char *field,
		 const char *name)
{
	struct req_ctx rc;
	rc_init(&rc, x, label, name, NULL);
	return request(&rc, op, "POST", "/", json_pack("{s:s}", field, name), NULL, true) == 0;
}

/* op {field: name} as a removal: not-found counts as done. */
static int drop(struct ctx *x, const char *label, const char *op, const char *field,
		const char *name)
{
	struct req_ctx rc;
	rc_init(&rc, x, label, name, NULL);
	int e = request(&rc, op, "POST", "/", json_pack("{s:s}", field, name), NULL, true);
	return e == 1 ? 0 : e;
}

/* ---- streams -------------------------------------------------------------------------------- */


static int stream_exists(struct ctx *x, const char *name, json_t *extra)
{
	(void)extra;
	return probe(x, "stream", "Kinesis_20131202.DescribeStreamSummary", "StreamName", name);
}

static int stream_retention(struct req_ctx *rc, const char *name, const json_t *decl, long have)
{
	json_t *h = json_object_get(decl, "RetentionPeriodHours");
	if (!json_is_integer(h) || json_integer_value(h) == have)
		return 0;
	long want = (long)json_integer_value(h);
	return request(rc, want > have ? "Kinesis_20131202.IncreaseStreamRetentionPeriod"
				       : "Kinesis_20131202.DecreaseStreamRetentionPeriod",
		       "POST", "/", json_pack("{s:s, s:i}", "StreamName", name,
					       "RetentionPeriodHours", (int)want), NULL, false);
}

static int stream_create(struct ctx *x, const struct res *r, json_t *extra)
{
	(void)extra;
	struct req_ctx rc;
	rc_init(&rc, x, "stream", r->name, r->pointer);
	static const char *const drop[] = { "RetentionPeriodHours", NULL };
	int e = request(&rc, "Kinesis_20131202.CreateStream", "POST", "/", without(r->decl, drop),
			NULL, false);
	return e ? e : stream_retention(&rc, r->name, r->decl, 24);
}

static int stream_update(struct ctx *x, const struct res *r, json_t *old, json_t *extra)
{
	(void)extra;
	struct req_ctx rc;
	rc_init(&rc, x, "stream", r->name, r->pointer);
	json_t *sum = NULL;
	int e = request(&rc, "Kinesis_20131202.DescribeStreamSummary", "POST", "/",
			json_pack("{s:s}", "StreamName", r->name), &sum, false);
	if (e)
		return e;
	json_t *d = json_object_get(sum, "StreamDescriptionSummary");
	long have_shards = (long)json_integer_value(json_object_get(d, "OpenShardCount"));
	long have_ret = (long)json_integer_value(json_object_get(d, "RetentionPeriodHours"));
	json_decref(sum);
	json_t *want = json_object_get(r->decl, "ShardCount");
	if (json_is_integer(want) && json_integer_value(want) != have_shards)
		e = request(&rc, "Kinesis_20131202.UpdateShardCount", "POST", "/",
			    json_pack("{s:s, s:I, s:s}", "StreamName", r->name, "TargetShardCount",
				      json_integer_value(want), "ScalingType", "UNIFORM_SCALING"),
			    NULL, false);
	(void)old;
	return e ? e : stream_retention(&rc, r->name, r->decl, have_ret);
}

static int stream_remove(struct ctx *x, const char *name, json_t *old, json_t *extra)
{
	(void)old;
	(void)extra;
	struct req_ctx rc;
	rc_init(&rc, x, "stream", name, NULL);
	int e = request(&rc, "Kinesis_20131202.DeleteStream", "POST", "/",
			json_pack("{s:s, s:b}", "StreamName", name, "EnforceConsumerDeletion", 1),
			NULL, true);
	return e == 1 ? 0 : e;
}

/* ---- delivery streams ----------------------------------------------------------------------- */


static int delivery_exists(struct ctx *x, const char *name, json_t *extra)
{
	(void)extra;
	return probe(x, "delivery stream", "Firehose_20150804.DescribeDeliveryStream",
		     "DeliveryStreamName", name);
}

static int delivery_create(struct ctx *x, const struct res *r, json_t *extra)
{
	(void)extra;
	return send_decl(x, r, "Firehose_20150804.CreateDeliveryStream", NULL);
}

static int delivery_remove(struct ctx *x, const char *name, json_t *old, json_t *extra)
{
	(void)old;
	(void)extra;
	return drop(x, "delivery stream", "Firehose_20150804.DeleteDeliveryStream",
		    "DeliveryStreamName", name);
}

/* ---- functions ------------------------------------------------------------------------------ */


static void fn_path(const char *name, const char *suffix, char *out, size_t n)
{
	snprintf(out, n, "/2015-03-31/functions/%s%s", name, suffix);
}

static int function_exists(struct ctx *x, const char *name, json_t *extra)
{
	(void)extra;
	struct req_ctx rc;
	rc_init(&rc, x, "function", name, NULL);
	char path[NAME_MAX_LEN + 64];
	fn_path(name, "", path, sizeof(path));
	return request(&rc, NULL, "GET", path, NULL, NULL, true) == 0 ? 1 : 0;
}

/* Code.ZipFile in a declaration is a path to a ZIP file (relative to the declaring file); the
 * request carries its bytes in base64. */
static int read_zip(struct ctx *x, const struct res *r, json_t *req)
{
	json_t *code = json_object_get(req, "Code");
	const char *zp = json_string_value(json_object_get(code, "ZipFile"));
	if (!zp)
		return 0;
	char path[4096];
	if (zp[0] == '/')
		snprintf(path, sizeof(path), "%s", zp);
	else
		snprintf(path, sizeof(path), "%s/%s", x->dir, zp);
	char ptr[128];
	snprintf(ptr, sizeof(ptr), "%s/Code/ZipFile", r->pointer);
	FILE *f = fopen(path, "rb");
	if (!f)
		return file_err(x, ptr, "function %s: cannot read Code.ZipFile %s: %s", r->name, path,
				strerror(errno));
	struct stat st;
	if (fstat(fileno(f), &st) < 0 || st.st_size <= 0 || st.st_size > 50 * 1024 * 1024) {
		fclose(f);
		return file_err(x, ptr, "function %s: Code.ZipFile %s must be a ZIP file of 1 byte "
				"to 50 MiB", r->name, path);
	}
	size_t n = (size_t)st.st_size;
	char *raw = malloc(n), *b64 = malloc(ctl_b64_enc_len(n) + 1);
	int rc = 0;
	if (!raw || !b64 || fread(raw, 1, n, f) != n) {
		rc = file_err(x, ptr, "function %s: cannot read Code.ZipFile %s", r->name, path);
	} else {
		ctl_b64_encode(raw, n, b64);
		json_object_set_new(code, "ZipFile", json_string(b64));
	}
	fclose(f);
	free(raw);
	free(b64);
	return rc;
}

/* A program function's Handler written "./path" is relative to the declaring file. */
static void handler_path(struct ctx *x, json_t *req)
{
	const char *h = json_string_value(json_object_get(req, "Handler"));
	const char *rt = json_string_value(json_object_get(req, "Runtime"));
	if (!h || !rt || strncmp(rt, "provided", 8) != 0 || strncmp(h, "./", 2) != 0)
		return;
	char path[4096];
	snprintf(path, sizeof(path), "%s/%s", x->dir, h + 2);
	json_object_set_new(req, "Handler", json_string(path));
}

static int function_create(struct ctx *x, const struct res *r, json_t *extra)
{
	(void)extra;
	struct req_ctx rc;
	rc_init(&rc, x, "function", r->name, r->pointer);
	json_t *req = json_deep_copy(r->decl);
	default_role(x, req, "Role");
	handler_path(x, req);
	/* Built-ins and programs on the appliance have no package: Code is empty, as the CLI's
	 * --code '{}'. */
	if (!json_object_get(req, "Code"))
		json_object_set_new(req, "Code", json_object());
	int e = read_zip(x, r, req);
	if (e) {
		json_decref(req);
		return e;
	}
	return request(&rc, NULL, "POST", "/2015-03-31/functions", req, NULL, false);
}

static int function_update(struct ctx *x, const struct res *r, json_t *old, json_t *extra)
{
	(void)extra;
	struct req_ctx rc;
	rc_init(&rc, x, "function", r->name, r->pointer);
	char path[NAME_MAX_LEN + 64];
	static const char *const cfg_drop[] = { "FunctionName", "Code", "Publish", "Tags", NULL };
	json_t *cfg = without(r->decl, cfg_drop);
	handler_path(x, cfg);
	fn_path(r->name, "/configuration", path, sizeof(path));
	int e = request(&rc, NULL, "PUT", path, cfg, NULL, false);
	if (e)
		return e;
	json_t *code = json_object_get(r->decl, "Code");
	if (!code || json_equal(code, json_object_get(old, "Code")))
		return 0;
	json_t *req = json_deep_copy(code);
	json_t *wrap = json_pack("{s:O}", "Code", req);
	if ((e = read_zip(x, r, wrap)) == 0) {
		json_t *body = json_deep_copy(json_object_get(wrap, "Code"));
		fn_path(r->name, "/code", path, sizeof(path));
		e = request(&rc, NULL, "PUT", path, body, NULL, false);
	}
	json_decref(req);
	json_decref(wrap);
	return e;
}

static int function_remove(struct ctx *x, const char *name, json_t *old, json_t *extra)
{
	(void)old;
	(void)extra;
	struct req_ctx rc;
	rc_init(&rc, x, "function", name, NULL);
	char path[NAME_MAX_LEN + 64];
	fn_path(name, "", path, sizeof(path));
	int e = request(&rc, NULL, "DELETE", path, NULL, NULL, true);
	return e == 1 ? 0 : e;
}

/* ---- event source mappings ------------------------------------------------------------------ */

static int mapping_name(const json_t *d, char *out, size_t n)
{
	const char *fn = json_string_value(json_object_get(d, "FunctionName"));
	const char *src = json_string_value(json_object_get(d, "EventSourceArn"));
	if (!fn || !src || (size_t)snprintf(out, n, "%s<-%s", fn, src) >= n)
		return -1;
	return 0;
}

static int mapping_exists(struct ctx *x, const char *name, json_t *extra)
{
	const char *uuid = json_string_value(json_object_get(extra, "UUID"));
	if (!uuid)
		return 0;
	struct req_ctx rc;
	rc_init(&rc, x, "event source mapping", name, NULL);
	char path[128];
	snprintf(path, sizeof(path), "/2015-03-31/event-source-mappings/%s", uuid);
	return request(&rc, NULL, "GET", path, NULL, NULL, true) == 0 ? 1 : 0;
}

static int mapping_create(struct ctx *x, const struct res *r, json_t *extra)
{
	struct req_ctx rc;
	rc_init(&rc, x, "event source mapping", r->name, r->pointer);
	json_t *out = NULL;
	int e = request(&rc, NULL, "POST", "/2015-03-31/event-source-mappings/",
			json_deep_copy(r->decl), &out, false);
	if (!e) {
		json_t *uuid = json_object_get(out, "UUID");
		if (json_is_string(uuid))
			json_object_set(extra, "UUID", uuid);
	}
	json_decref(out);
	return e;
}

static int mapping_remove(struct ctx *x, const char *name, json_t *old, json_t *extra)
{
	(void)old;
	const char *uuid = json_string_value(json_object_get(extra, "UUID"));
	if (!uuid)
		return 0;
	struct req_ctx rc;
	rc_init(&rc, x, "event source mapping", name, NULL);
	char path[128];
	snprintf(path, sizeof(path), "/2015-03-31/event-source-mappings/%s", uuid);
	int e = request(&rc, NULL, "DELETE", path, NULL, NULL, true);
	return e == 1 ? 0 : e;
}

/* ---- schedules (EventBridge rules and their targets) ---------------------------------------- */


static int rule_exists(struct ctx *x, const char *name, json_t *extra)
{
	(void)extra;
	return probe(x, "schedule", "AWSEvents.DescribeRule", "Name", name);
}

static int rule_put(struct ctx *x, const struct res *r, json_t *old)
{
	struct req_ctx rc;
	rc_init(&rc, x, "schedule", r->name, r->pointer);
	static const char *const drop[] = { "Targets", NULL };
	int e = request(&rc, "AWSEvents.PutRule", "POST", "/", without(r->decl, drop), NULL, false);
	if (e)
		return e;
	json_t *targets = json_object_get(r->decl, "Targets");
	/* Targets an earlier apply declared and this one does not go first. */
	json_t *gone = json_array();
	size_t i;
	json_t *t;
	json_array_foreach(json_object_get(old, "Targets"), i, t) {
		const char *id = json_string_value(json_object_get(t, "Id"));
		bool keep = false;
		size_t j;
		json_t *u;
		json_array_foreach(targets, j, u)
			keep |= id && json_equal(json_object_get(u, "Id"), json_object_get(t, "Id"));
		if (id && !keep)
			json_array_append_new(gone, json_string(id));
	}
	if (json_array_size(gone))
		e = request(&rc, "AWSEvents.RemoveTargets", "POST", "/",
			    json_pack("{s:s, s:O}", "Rule", r->name, "Ids", gone), NULL, false);
	json_decref(gone);
	if (e || !json_array_size(targets))
		return e;
	json_t *out = NULL;
	e = request(&rc, "AWSEvents.PutTargets", "POST", "/",
		    json_pack("{s:s, s:O}", "Rule", r->name, "Targets", targets), &out, false);
	if (!e && json_integer_value(json_object_get(out, "FailedEntryCount")) > 0) {
		json_t *f = json_array_get(json_object_get(out, "FailedEntries"), 0);
		fprintf(x->o->err, "%s%s%s: target %s: %s: %s\n", rc.where, rc.where[0] ? ": " : "",
			rc.what,
			json_string_value(json_object_get(f, "TargetId")),
			json_string_value(json_object_get(f, "ErrorCode")),
			json_string_value(json_object_get(f, "ErrorMessage")));
		e = IC_APPLY_ERR_SERVER;
	}
	json_decref(out);
	return e;
}

static int rule_create(struct ctx *x, const struct res *r, json_t *extra)
{
	(void)extra;
	return rule_put(x, r, NULL);
}

static int rule_update(struct ctx *x, const struct res *r, json_t *old, json_t *extra)
{
	(void)extra;
	return rule_put(x, r, old);
}

static int rule_remove(struct ctx *x, const char *name, json_t *old, json_t *extra)
{
	(void)extra;
	struct req_ctx rc;
	rc_init(&rc, x, "schedule", name, NULL);
	json_t *out = NULL;
	int e = request(&rc, "AWSEvents.ListTargetsByRule", "POST", "/",
			json_pack("{s:s}", "Rule", name), &out, true);
	(void)old;
	if (e == 1)
		return 0;
	if (e)
		return e;
	json_t *ids = json_array();
	size_t i;
	json_t *t;
	json_array_foreach(json_object_get(out, "Targets"), i, t)
		json_array_append(ids, json_object_get(t, "Id"));
	json_decref(out);
	if (json_array_size(ids))
		e = request(&rc, "AWSEvents.RemoveTargets", "POST", "/",
			    json_pack("{s:s, s:O}", "Rule", name, "Ids", ids), NULL, false);
	json_decref(ids);
	if (!e)
		e = request(&rc, "AWSEvents.DeleteRule", "POST", "/",
			    json_pack("{s:s}", "Name", name), NULL, true);
	return e == 1 ? 0 : e;
}

/* ---- state machines ------------------------------------------------------------------------- */


static void machine_arn(struct ctx *x, const char *name, char *out, size_t n)
{
	snprintf(out, n, "arn:aws:states:%s:%s:stateMachine:%s", x->region, x->account, name);
}

static int machine_exists(struct ctx *x, const char *name, json_t *extra)
{
	(void)extra;
	char arn[NAME_MAX_LEN + 128];
	machine_arn(x, name, arn, sizeof(arn));
	return probe(x, "state machine", "AWSStepFunctions.DescribeStateMachine", "stateMachineArn",
		     arn);
}

/* A definition may be written as YAML/JSON structure; the API takes it as JSON text. */
static json_t *machine_request(struct ctx *x, const json_t *decl)
{
	json_t *req = json_deep_copy(decl);
	json_t *def = json_object_get(req, "definition");
	if (def && !json_is_string(def)) {
		char *text = json_dumps(def, JSON_COMPACT);
		json_object_set_new(req, "definition", json_string(text ? text : ""));
		free(text);
	}
	default_role(x, req, "roleArn");
	return req;
}

static int machine_create(struct ctx *x, const struct res *r, json_t *extra)
{
	(void)extra;
	struct req_ctx rc;
	rc_init(&rc, x, "state machine", r->name, r->pointer);
	return request(&rc, "AWSStepFunctions.CreateStateMachine", "POST", "/",
		       machine_request(x, r->decl), NULL, false);
}

static int machine_update(struct ctx *x, const struct res *r, json_t *old, json_t *extra)
{
	(void)extra;
	(void)old;
	struct req_ctx rc;
	rc_init(&rc, x, "state machine", r->name, r->pointer);
	char arn[NAME_MAX_LEN + 128];
	machine_arn(x, r->name, arn, sizeof(arn));
	json_t *full = machine_request(x, r->decl);
	json_t *req = json_pack("{s:s, s:O, s:O}", "stateMachineArn", arn, "definition",
				json_object_get(full, "definition"), "roleArn",
				json_object_get(full, "roleArn"));
	json_decref(full);
	return request(&rc, "AWSStepFunctions.UpdateStateMachine", "POST", "/", req, NULL, false);
}

static int machine_remove(struct ctx *x, const char *name, json_t *old, json_t *extra)
{
	(void)old;
	(void)extra;
	char arn[NAME_MAX_LEN + 128];
	machine_arn(x, name, arn, sizeof(arn));
	return drop(x, "state machine", "AWSStepFunctions.DeleteStateMachine", "stateMachineArn",
		    arn);
}

/* ---- Glue: databases, classifiers, crawlers ------------------------------------------------- */

static int glue_exists(struct ctx *x, const char *label, const char *op, const char *name)
{
	return probe(x, label, op, "Name", name);
}

static int glue_remove(struct ctx *x, const char *label, const char *op, const char *name)
{
	return drop(x, label, op, "Name", name);
}

static int database_exists(struct ctx *x, const char *name, json_t *extra)
{
	(void)extra;
	return glue_exists(x, "database", "AWSGlue.GetDatabase", name);
}

static int database_create(struct ctx *x, const struct res *r, json_t *extra)
{
	(void)extra;
	struct req_ctx rc;
	rc_init(&rc, x, "database", r->name, r->pointer);
	return request(&rc, "AWSGlue.CreateDatabase", "POST", "/",
		       json_pack("{s:O}", "DatabaseInput", r->decl), NULL, false);
}

static int database_update(struct ctx *x, const struct res *r, json_t *old, json_t *extra)
{
	(void)extra;
	(void)old;
	struct req_ctx rc;
	rc_init(&rc, x, "database", r->name, r->pointer);
	return request(&rc, "AWSGlue.UpdateDatabase", "POST", "/",
		       json_pack("{s:s, s:O}", "Name", r->name, "DatabaseInput", r->decl), NULL,
		       false);
}

static int database_remove(struct ctx *x, const char *name, json_t *old, json_t *extra)
{
	(void)old;
	(void)extra;
	return glue_remove(x, "database", "AWSGlue.DeleteDatabase", name);
}

static const char *const classifier_kinds[] = { "GrokClassifier", "JsonClassifier",
						"CsvClassifier", "XMLClassifier", NULL };

static int classifier_name(const json_t *d, char *out, size_t n)
{
	int found = 0;
	for (size_t i = 0; classifier_kinds[i]; i++) {
		json_t *c = json_object_get(d, classifier_kinds[i]);
		if (!c)
			continue;
		if (found++ || field_name(c, "Name", out, n) < 0)
			return -1;
	}
	return found == 1 ? 0 : -1;
}

static int classifier_exists(struct ctx *x, const char *name, json_t *extra)
{
	(void)extra;
	return glue_exists(x, "classifier", "AWSGlue.GetClassifier", name);
}

static int classifier_create(struct ctx *x, const struct res *r, json_t *extra)
{
	(void)extra;
	return send_decl(x, r, "AWSGlue.CreateClassifier", NULL);
}

static int classifier_update(struct ctx *x, const struct res *r, json_t *old, json_t *extra)
{
	(void)extra;
	(void)old;
	return send_decl(x, r, "AWSGlue.UpdateClassifier", NULL);
}

static int classifier_remove(struct ctx *x, const char *name, json_t *old, json_t *extra)
{
	(void)old;
	(void)extra;
	return glue_remove(x, "classifier", "AWSGlue.DeleteClassifier", name);
}

static int crawler_exists(struct ctx *x, const char *name, json_t *extra)
{
	(void)extra;
	return glue_exists(x, "crawler", "AWSGlue.GetCrawler", name);
}

static int crawler_create(struct ctx *x, const struct res *r, json_t *extra)
{
	(void)extra;
	return send_decl(x, r, "AWSGlue.CreateCrawler", "Role");
}

static int crawler_update(struct ctx *x, const struct res *r, json_t *old, json_t *extra)
{
	(void)extra;
	(void)old;
	return send_decl(x, r, "AWSGlue.UpdateCrawler", NULL);
}

static int crawler_remove(struct ctx *x, const char *name, json_t *old, json_t *extra)
{
	(void)old;
	(void)extra;
	return glue_remove(x, "crawler", "AWSGlue.DeleteCrawler", name);
}

/* ---- the table ------------------------------------------------------------------------------ */

static const char *const req_stream[] = { "StreamName", NULL };
static const char *const req_delivery[] = { "DeliveryStreamName", NULL };
static const char *const req_function[] = { "FunctionName", "Runtime", NULL };
static const char *const req_mapping[] = { "FunctionName", "EventSourceArn", NULL };
static const char *const req_rule[] = { "Name", NULL };
static const char *const req_machine[] = { "name", "definition", NULL };
static const char *const req_database[] = { "Name", NULL };
static const char *const req_none[] = { NULL };
static const char *const req_crawler[] = { "Name", "DatabaseName", "Targets", NULL };

/* In creation order. */
static const struct kind g_kinds[] = {
	{ "databases", "database", "Name", req_database, NULL, database_exists,
	  database_create, database_update, database_remove },
	{ "classifiers", "classifier", "GrokClassifier.Name", req_none, classifier_name,
	  classifier_exists, classifier_create, classifier_update, classifier_remove },
	{ "streams", "stream", "StreamName", req_stream, NULL, stream_exists, stream_create,
	  stream_update, stream_remove },
	{ "delivery_streams", "delivery stream", "DeliveryStreamName", req_delivery, NULL,
	  delivery_exists, delivery_create, NULL, delivery_remove },
	{ "functions", "function", "FunctionName", req_function, NULL, function_exists,
	  function_create, function_update, function_remove },
	{ "event_source_mappings", "event source mapping", "FunctionName", req_mapping,
	  mapping_name, mapping_exists, mapping_create, NULL, mapping_remove },
	{ "state_machines", "state machine", "name", req_machine, NULL, machine_exists,
	  machine_create, machine_update, machine_remove },
	{ "crawlers", "crawler", "Name", req_crawler, NULL, crawler_exists, crawler_create,
	  crawler_update, crawler_remove },
	{ "schedules", "schedule", "Name", req_rule, NULL, rule_exists, rule_create,
	  rule_update, rule_remove },
};
#define N_KINDS (sizeof(g_kinds) / sizeof(g_kinds[0]))

static const struct kind *kind_by_section(const char *s)
{
	for (size_t i = 0; i < N_KINDS; i++)
		if (strcmp(g_kinds[i].section, s) == 0)
			return &g_kinds[i];
	return NULL;
}

/* ---- reading the file ----------------------------------------------------------------------- */

/* Collect and validate the declarations. Returns 0 or IC_APPLY_ERR_FILE after printing. */
static int collect(struct ctx *x, struct res **out, size_t *n_out)
{
	json_t *root = ic_yaml_root(x->y);
	if (!json_is_object(root))
		return file_err(x, "", "the file must be a mapping of kinds (streams, functions, "
				"...), each a list of declarations");
	size_t cap = 0, n = 0;
	struct res *rs = NULL;
	const char *sect;
	json_t *list;
	int rc = 0;
	json_object_foreach(root, sect, list) {
		char sp[128];
		snprintf(sp, sizeof(sp), "/%s", sect);
		const struct kind *k = kind_by_section(sect);
		if (!k) {
			char known[512] = "";
			for (size_t i = 0; i < N_KINDS; i++) {
				size_t l = strlen(known);
				snprintf(known + l, sizeof(known) - l, "%s%s", i ? ", " : "",
					 g_kinds[i].section);
			}
			rc = file_err(x, sp, "unknown kind '%s': use %s", sect, known);
			goto fail;
		}
		if (json_is_null(list))
			continue;
		if (!json_is_array(list)) {
			rc = file_err(x, sp, "%s must be a list of declarations (each item starts "
				      "with '- ')", sect);
			goto fail;
		}
		size_t i;
		json_t *d;
		json_array_foreach(list, i, d) {
			char ptr[64];
			snprintf(ptr, sizeof(ptr), "/%s/%zu", sect, i);
			if (!json_is_object(d)) {
				rc = file_err(x, ptr, "%s[%zu] must be a mapping of request fields",
					      sect, i);
				goto fail;
			}
			for (size_t f = 0; k->required[f]; f++)
				if (!json_object_get(d, k->required[f])) {
					rc = file_err(x, ptr, "%s[%zu]: missing required field %s",
						      sect, i, k->required[f]);
					goto fail;
				}
			if (n == cap) {
				cap = cap ? 2 * cap : 16;
				struct res *nr = realloc(rs, cap * sizeof(*nr));
				if (!nr) {
					rc = file_err(x, ptr, "out of memory");
					goto fail;
				}
				rs = nr;
			}
			struct res *r = &rs[n];
			memset(r, 0, sizeof(*r));
			r->k = k;
			r->decl = d;
			snprintf(r->pointer, sizeof(r->pointer), "%s", ptr);
			if ((k->name ? k->name(d, r->name, sizeof(r->name))
				     : field_name(d, k->name_field, r->name, sizeof(r->name))) < 0) {
				rc = k == &g_kinds[1]
					     ? file_err(x, ptr, "%s[%zu]: a classifier declares exactly "
							"one of GrokClassifier, JsonClassifier, "
							"CsvClassifier or XMLClassifier, with its Name",
							sect, i)
					     : file_err(x, ptr, "%s[%zu]: %s must be a non-empty string "
							"(at most %d characters)", sect, i,
							k->name_field, NAME_MAX_LEN - 1);
				goto fail;
			}
			for (size_t j = 0; j < n; j++)
				if (rs[j].k == k && strcmp(rs[j].name, r->name) == 0) {
					char first[512];
					ic_yaml_where(x->y, rs[j].pointer, first, sizeof(first));
					rc = file_err(x, ptr, "%s %s is declared twice (first at %s)",
						      k->label, r->name, first);
					goto fail;
				}
			n++;
		}
	}
	*out = rs;
	*n_out = n;
	return 0;
fail:
	free(rs);
	return rc;
}

/* ---- plan and apply ------------------------------------------------------------------------- */

enum action { A_NONE, A_CREATE, A_UPDATE, A_REPLACE, A_REMOVE, A_ADOPT };

static const char *const action_word[] = { "unchanged", "create", "update", "replace",
					   "remove", "adopt" };
static const char action_sign[] = { '=', '+', '~', '!', '-', '=' };

static void url_escape(const char *s, char *out, size_t n)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t o = 0;
	for (; *s && o + 4 < n; s++) {
		unsigned char c = (unsigned char)*s;
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		    c == '-' || c == '_' || c == '.' || c == '~' || c == '/') {
			out[o++] = (char)c;
		} else {
			out[o++] = '%';
			out[o++] = hex[c >> 4];
			out[o++] = hex[c & 15];
		}
	}
	out[o] = '\0';
}

static int load_applied(struct ctx *x, const char *file, json_t **doc)
{
	char esc[3 * 4096], path[3 * 4096 + 32];
	url_escape(file, esc, sizeof(esc));
	snprintf(path, sizeof(path), "/applied?file=%s", esc);
	json_t *out = NULL;
	struct req_ctx rc;
	rc_init(&rc, x, "the record of earlier applies", "", NULL);
	int e = request(&rc, NULL, "GET", path, NULL, &out, true);
	if (e == 1) {
		*doc = json_object();
		return 0;
	}
	if (e)
		return e;
	json_t *d = json_object_get(out, "doc");
	*doc = json_is_object(d) ? json_incref(d) : json_object();
	json_decref(out);
	return 0;
}

static int save_applied(struct ctx *x, const char *file, json_t *doc)
{
	struct req_ctx rc;
	rc_init(&rc, x, "the record of this apply", "", NULL);
	return request(&rc, NULL, "PUT", "/applied", json_pack("{s:s, s:O}", "file", file, "doc",
							       doc), NULL, false);
}

static int run(struct ctx *x, const char *file_id)
{
	struct res *rs = NULL;
	size_t n = 0;
	int rc = collect(x, &rs, &n);
	if (rc)
		return rc;
	if (!x->api) {
		free(rs);
		return 0;
	}
	json_t *applied = NULL;
	if ((rc = load_applied(x, file_id, &applied)) != 0) {
		free(rs);
		return rc;
	}
	json_t *recorded = json_object_get(applied, "resources");
	if (!json_is_object(recorded)) {
		recorded = json_object();
		json_object_set_new(applied, "resources", recorded);
	}
	enum action *act = calloc(n ? n : 1, sizeof(*act));
	json_t *plan = json_array();
	unsigned counts[6] = { 0 };
	if (!act || !plan) {
		rc = IC_APPLY_ERR_SERVER;
		goto out;
	}
	/* What each declaration needs. */
	for (size_t i = 0; i < n; i++) {
		char key[NAME_MAX_LEN + 64];
		snprintf(key, sizeof(key), "%s/%s", rs[i].k->section, rs[i].name);
		json_t *rec = json_object_get(recorded, key);
		json_t *extra = json_object_get(rec, "extra");
		int have = rs[i].k->exists(x, rs[i].name, extra);
		if (!have)
			act[i] = A_CREATE;
		else if (!rec)
			act[i] = rs[i].k->update ? A_UPDATE : A_ADOPT;
		else if (!json_equal(json_object_get(rec, "decl"), rs[i].decl))
			act[i] = rs[i].k->update ? A_UPDATE : A_REPLACE;
		else
			act[i] = A_NONE;
	}
	/* What earlier applies of this file declared and this one does not. */
	json_t *removals = json_array();
	const char *key;
	json_t *rec;
	json_object_foreach(recorded, key, rec) {
		bool still = false;
		for (size_t i = 0; i < n && !still; i++) {
			char k2[NAME_MAX_LEN + 64];
			snprintf(k2, sizeof(k2), "%s/%s", rs[i].k->section, rs[i].name);
			still = strcmp(k2, key) == 0;
		}
		if (!still)
			json_array_append_new(removals, json_string(key));
	}
	for (size_t i = 0; i < n; i++) {
		counts[act[i]]++;
		char where[512];
		ic_yaml_where(x->y, rs[i].pointer, where, sizeof(where));
		json_array_append_new(plan, json_pack("{s:s, s:s, s:s, s:s}", "action",
						      action_word[act[i]], "kind", rs[i].k->section,
						      "name", rs[i].name, "declared", where));
		if (act[i] != A_NONE)
			say(x, "%c %-9s %s %s\n", action_sign[act[i]], action_word[act[i]],
			    rs[i].k->label, rs[i].name);
	}
	size_t ri;
	json_t *rk;
	json_array_foreach(removals, ri, rk) {
		const char *k = json_string_value(rk), *slash = strchr(k, '/');
		counts[A_REMOVE]++;
		json_array_append_new(plan, json_pack("{s:s, s:s%, s:s}", "action", "remove", "kind",
						      k, (size_t)(slash - k), "name", slash + 1));
		say(x, "- %-9s %.*s %s\n", "remove", (int)(slash - k), k, slash + 1);
	}
	unsigned changes = counts[A_CREATE] + counts[A_UPDATE] + counts[A_REPLACE] +
			   counts[A_REMOVE] + counts[A_ADOPT];
	say(x, "%s: %u to create, %u to update, %u to replace, %u to remove, %u unchanged%s\n",
	    x->o->apply ? "Applying" : "Plan", counts[A_CREATE], counts[A_UPDATE],
	    counts[A_REPLACE], counts[A_REMOVE], counts[A_NONE] + counts[A_ADOPT],
	    counts[A_ADOPT] ? " (existing resources adopted)" : "");
	if (x->o->json && !x->o->apply) {
		json_t *doc = json_pack("{s:O, s:{s:i, s:i, s:i, s:i, s:i}}", "plan", plan, "summary",
					"create", counts[A_CREATE], "update", counts[A_UPDATE],
					"replace", counts[A_REPLACE], "remove", counts[A_REMOVE],
					"unchanged", counts[A_NONE] + counts[A_ADOPT]);
		char *t = json_dumps(doc, JSON_INDENT(2));
		if (t)
			fprintf(x->o->out, "%s\n", t);
		free(t);
		json_decref(doc);
	}
	if (!x->o->apply || !changes)
		goto removals_done;

	/* Removals first, in reverse creation order, so nothing removed is still referenced. */
	for (size_t k = N_KINDS; k-- > 0 && !rc;) {
		json_array_foreach(removals, ri, rk) {
			const char *kk = json_string_value(rk), *slash = strchr(kk, '/');
			size_t sl = (size_t)(slash - kk);
			if (strlen(g_kinds[k].section) != sl ||
			    strncmp(g_kinds[k].section, kk, sl) != 0)
				continue;
			json_t *r = json_object_get(recorded, kk);
			rc = g_kinds[k].remove(x, slash + 1, json_object_get(r, "decl"),
					       json_object_get(r, "extra"));
			if (rc)
				break;
			say(x, "removed %s %s\n", g_kinds[k].label, slash + 1);
			json_object_del(recorded, kk);
		}
	}
	/* Creations and updates in creation order (the declarations' order within a kind). */
	for (size_t k = 0; k < N_KINDS && !rc; k++) {
		for (size_t i = 0; i < n && !rc; i++) {
			if (rs[i].k != &g_kinds[k] || act[i] == A_NONE)
				continue;
			char key2[NAME_MAX_LEN + 64];
			snprintf(key2, sizeof(key2), "%s/%s", rs[i].k->section, rs[i].name);
			json_t *old = json_object_get(recorded, key2);
			json_t *extra = json_object_get(old, "extra");
			extra = extra ? json_deep_copy(extra) : json_object();
			json_t *old_decl = json_object_get(old, "decl");
			switch (act[i]) {
			case A_CREATE:
				rc = rs[i].k->create(x, &rs[i], extra);
				break;
			case A_UPDATE:
				rc = rs[i].k->update(x, &rs[i], old_decl, extra);
				break;
			case A_REPLACE:
				rc = rs[i].k->remove(x, rs[i].name, old_decl, extra);
				if (!rc)
					rc = rs[i].k->create(x, &rs[i], extra);
				break;
			default:
				break;
			}
			if (!rc) {
				json_object_set_new(recorded, key2, json_pack("{s:O, s:o}", "decl",
									      rs[i].decl, "extra",
									      extra));
				if (act[i] != A_ADOPT)
					say(x, "%s %s %s\n", act[i] == A_CREATE ? "created" :
							     act[i] == A_REPLACE ? "replaced" :
										  "updated",
					    rs[i].k->label, rs[i].name);
			} else {
				json_decref(extra);
			}
		}
	}
	/* Recorded even after a failure: what succeeded is not redone by the next apply. */
	{
		int src = save_applied(x, file_id, applied);
		if (!rc)
			rc = src;
	}
	if (!rc)
		say(x, "Done: %u change(s) applied.\n", changes);
removals_done:
	if (x->o->apply && !changes)
		say(x, "Nothing to do.\n");
	json_decref(removals);
out:
	json_decref(plan);
	json_decref(applied);
	free(act);
	free(rs);
	return rc;
}

/* Parse text and run the plan (or the apply) with the file's identity and directory. */
static int apply_doc(const struct ic_api *api, const char *name, const char *id, const char *dir,
		     const char *text, size_t len, const struct ic_apply_opts *opts)
{
	struct ctx x = { .api = api, .o = opts, .dir = dir };
	snprintf(x.region, sizeof(x.region), "%s", api && api->region ? api->region : "us-east-1");
	snprintf(x.account, sizeof(x.account), "%s",
		 api && api->account ? api->account : "000000000000");
	char err[600];
	int r = ic_yaml_parse(name, text, len, &x.y, err, sizeof(err));
	if (r < 0) {
		fprintf(opts->err, "%s\n", r == -ENOMEM ? "out of memory" : err);
		return IC_APPLY_ERR_FILE;
	}
	r = run(&x, id);
	ic_yaml_free(x.y);
	return r;
}

int ic_apply_text(const struct ic_api *api, const char *name, const char *text, size_t len,
		  const struct ic_apply_opts *opts)
{
	return apply_doc(api, name, name, ".", text, len, opts);
}

int ic_apply_file(const struct ic_api *api, const char *path, const struct ic_apply_opts *opts)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		fprintf(opts->err, "%s: cannot open: %s\n", path, strerror(errno));
		return IC_APPLY_ERR_FILE;
	}
	char *buf = malloc(FILE_MAX + 1);
	size_t len = buf ? fread(buf, 1, FILE_MAX + 1, f) : 0;
	int rd_err = ferror(f);
	fclose(f);
	if (!buf || rd_err || len > FILE_MAX) {
		fprintf(opts->err, "%s: %s\n", path, !buf ? "out of memory" : rd_err ?
			"read error" : "larger than 16 MiB");
		free(buf);
		return IC_APPLY_ERR_FILE;
	}
	/* Earlier applies are recorded under the file's absolute path. */
	char abs[4096], dir[4096];
	if (!realpath(path, abs))
		snprintf(abs, sizeof(abs), "%s", path);
	snprintf(dir, sizeof(dir), "%s", abs);
	char *slash = strrchr(dir, '/');
	if (slash)
		*slash = '\0';
	int r = apply_doc(api, path, abs, slash ? dir : ".", buf, len, opts);
	free(buf);
	return r;
}
