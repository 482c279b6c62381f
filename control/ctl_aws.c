/* SPDX-License-Identifier: MIT */
/* ctl_aws: see ctl_aws.h. */
#include "ctl_aws.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <openssl/rand.h>

#include "ctl_cbor.h"
#include "ctl_log.h"
#include "ctl_uuid.h"

#define AWS_MAX_SERVICES 16
#define JSON_TYPE "application/x-amz-json-1.1"
#define JSON10_TYPE "application/x-amz-json-1.0"
#define CBOR_TYPE "application/x-amz-cbor-1.1"
#define AWS_MAX_REST 8

struct ctl_aws {
	const struct ctl_sigv4_creds *creds;
	char account[16];
	char region[32];
	struct ctl_aws_service svc[AWS_MAX_SERVICES];
	unsigned n_svc;
	struct ctl_aws_rest rest[AWS_MAX_REST];
	unsigned n_rest;
	struct ctl_aws_call *zombies;  /* answered detached calls, freed by ctl_aws_reap() */
};

struct ctl_aws_call {
	struct ctl_aws *a;
	ctl_aws_reply_fn reply;
	void *reply_arg;
	const struct ctl_aws_op *op;
	json_t *in;
	const struct ctl_aws_request *req;  /* while the handler runs */
	const char *json_type;              /* the JSON content type answered (1.0 or 1.1) */
	bool cbor;                          /* request and answer in CBOR */
	const struct ctl_cbor_hints *hints;  /* the service's blob and timestamp members */
	char region[32];
	char request_id[37];
	int64_t now_ms;
	bool answered, deferred;
	bool detached;                      /* freed by the module once answered */
	struct ctl_aws_call *next_zombie;
	const struct ctl_aws_rest *rest;    /* the REST service that took the request, or NULL */
	ctl_aws_reply_fd_fn reply_fd;
	void *state;
	void (*state_free)(void *);
};

int ctl_aws_new(const struct ctl_aws_config *cfg, struct ctl_aws **ret)
{
	struct ctl_aws *a = calloc(1, sizeof(*a));
	if (!a)
		return -ENOMEM;
	snprintf(a->account, sizeof(a->account), "%s", cfg->account_id ? cfg->account_id
								   : "000000000000");
	snprintf(a->region, sizeof(a->region), "%s", cfg->region ? cfg->region : "us-east-1");
	a->creds = cfg->creds;
	*ret = a;
	return 0;
}

void ctl_aws_free(struct ctl_aws *a)
{
	if (!a)
		return;
	ctl_aws_reap(a);
	free(a);
}

int ctl_aws_register(struct ctl_aws *a, const struct ctl_aws_service *s)
{
	for (unsigned i = 0; i < a->n_svc; i++)
		if (strcmp(a->svc[i].target_prefix, s->target_prefix) == 0)
			return -EEXIST;
	if (a->n_svc == AWS_MAX_SERVICES)
		return -ENOSPC;
	a->svc[a->n_svc++] = *s;
	return 0;
}

int ctl_aws_register_rest(struct ctl_aws *a, const struct ctl_aws_rest *r)
{
	if (a->n_rest == AWS_MAX_REST)
		return -ENOSPC;
	a->rest[a->n_rest++] = *r;
	return 0;
}

/* A detached call cannot be freed inside its answer (the handler may still hold it): it waits
 * on the zombie list for the next ctl_aws_reap(). */
static void mark_answered(struct ctl_aws_call *c)
{
	c->answered = true;
	if (c->detached) {
		c->next_zombie = c->a->zombies;
		c->a->zombies = c;
	}
}

void ctl_aws_reap(struct ctl_aws *a)
{
	while (a->zombies) {
		struct ctl_aws_call *c = a->zombies;
		a->zombies = c->next_zombie;
		ctl_aws_call_free(c);
	}
}

void ctl_aws_invoke_detached(struct ctl_aws *a, const struct ctl_aws_request *r,
			     ctl_aws_reply_fn fn, void *arg)
{
	struct ctl_aws_call *c = ctl_aws_invoke(a, r, fn, arg);
	if (!c)
		return;
	if (!c->answered) {
		c->detached = true;
		return;
	}
	ctl_aws_call_free(c);
}

/* ---- answers ------------------------------------------------------------------------------------ */

static void send_json(ctl_aws_reply_fn fn, void *arg, const char *rid, const char *ctype,
		      unsigned status, json_t *body)
{
	char *text = json_dumps(body, JSON_COMPACT | JSON_REAL_PRECISION(13));
	if (!text) {
		static const char oom[] = "{\"__type\":\"InternalFailure\",\"message\":\"out of memory\"}";
		text = strdup(oom);
		status = 500;
	}
	fn(arg, status, ctype, text, text ? strlen(text) : 0, rid, NULL);
}

static json_t *err_doc(const char *type, const char *msg);

/* Answer in the request's encoding: CBOR for application/x-amz-cbor-1.1, JSON otherwise. */
static void send_body(struct ctl_aws_call *c, unsigned status, json_t *body)
{
	if (!c->cbor) {
		send_json(c->reply, c->reply_arg, c->request_id, c->json_type, status, body);
		return;
	}
	uint8_t *buf = NULL;
	size_t len = 0;
	if (ctl_json_to_cbor(body, c->hints, &buf, &len) < 0) {
		/* Only a handler bug (a Data member that is not base64) gets here. */
		json_t *e = json_pack("{s:s, s:s}", "__type", "InternalFailure", "message",
				      "the answer could not be encoded as CBOR");
		free(buf);
		buf = NULL;
		status = 500;
		if (!e || ctl_json_to_cbor(e, NULL, &buf, &len) < 0) {
			free(buf);
			buf = NULL;
			len = 0;
		}
		json_decref(e);
	}
	c->reply(c->reply_arg, status, CBOR_TYPE, (char *)buf, len, c->request_id, NULL);
}

void ctl_aws_ok(struct ctl_aws_call *c, json_t *out)
{
	if (c->answered) {
		json_decref(out);
		return;
	}
	mark_answered(c);
	if (!out)
		out = json_object();
	send_body(c, 200, out);
	json_decref(out);
}

/* The error document; a message quoting client input that is not UTF-8 is quoted safely. */
static json_t *err_doc(const char *type, const char *msg)
{
	json_t *m = json_string(msg);
	if (!m) {
		char safe[1024];
		size_t i = 0;
		for (; msg[i] && i < sizeof(safe) - 1; i++)
			safe[i] = (unsigned char)msg[i] < 0x80 && (unsigned char)msg[i] >= 0x20 ? msg[i] : '?';
		safe[i] = '\0';
		m = json_string(safe);
	}
	return json_pack("{s:s, s:o}", "__type", type, "message", m);
}

void ctl_aws_ok_text(struct ctl_aws_call *c, char *text, size_t len)
{
	if (c->answered) {
		free(text);
		return;
	}
	mark_answered(c);
	if (!c->cbor) {
		c->reply(c->reply_arg, 200, c->json_type, text, len, c->request_id, NULL);
		return;
	}
	json_error_t je;
	json_t *j = json_loadb(text, len, 0, &je);
	free(text);
	if (!j) {
		json_t *e = err_doc("InternalFailure", "the answer could not be encoded as CBOR");
		send_body(c, 500, e);
		json_decref(e);
		return;
	}
	send_body(c, 200, j);
	json_decref(j);
}

static void err_plain(ctl_aws_reply_fn fn, void *arg, const char *rid, unsigned status,
		      const char *type, const char *msg)
{
	json_t *e = err_doc(type, msg);
	send_json(fn, arg, rid, JSON_TYPE, status, e);
	json_decref(e);
}

void ctl_aws_err(struct ctl_aws_call *c, unsigned status, const char *type, const char *fmt, ...)
{
	if (c->answered)
		return;
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (c->rest && c->rest->error) {
		/* The REST service words it in its protocol's shape (S3's XML). */
		c->rest->error(c->rest->svc, c, status, type, msg);
		if (c->answered)
			return;
	}
	mark_answered(c);
	json_t *e = err_doc(type, msg);
	send_body(c, status, e);
	json_decref(e);
}

void ctl_aws_validation(struct ctl_aws_call *c, const char *value, const char *member,
			const char *what)
{
	char v[160];
	/* Long values are cut as AWS cuts them in its messages. */
	snprintf(v, sizeof(v), "%.128s%s", value ? value : "null",
		 value && strlen(value) > 128 ? "..." : "");
	ctl_aws_err(c, 400, "ValidationException", "1 validation error detected: Value '%s' at '%s' "
		    "failed to satisfy constraint: %s", v, member, what);
}

void ctl_aws_defer(struct ctl_aws_call *c)
{
	c->deferred = true;
}

bool ctl_aws_answered(const struct ctl_aws_call *c)
{
	return c->answered;
}

void ctl_aws_set_state(struct ctl_aws_call *c, void *state, void (*free_fn)(void *))
{
	c->state = state;
	c->state_free = free_fn;
}

void *ctl_aws_state(const struct ctl_aws_call *c)
{
	return c->state;
}

json_t *ctl_aws_input(const struct ctl_aws_call *c)
{
	return c->in;
}

const char *ctl_aws_op_name(const struct ctl_aws_call *c)
{
	return c->op ? c->op->name : "";
}

const char *ctl_aws_region(const struct ctl_aws_call *c)
{
	return c->region;
}

const char *ctl_aws_account(const struct ctl_aws_call *c)
{
	return c->a->account;
}

int64_t ctl_aws_now_ms(const struct ctl_aws_call *c)
{
	return c->now_ms;
}

json_t *ctl_aws_time_json(int64_t ms)
{
	return json_real((double)ms / 1000.0);
}

/* ---- routing ------------------------------------------------------------------------------------ */

static int64_t wall_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * SigV4: verified when credentials are configured; otherwise only the scope's region is read,
 * as emulators do. Returns 0, or -1 after answering AWS's error.
 */
static int authenticate(struct ctl_aws_call *c, const struct ctl_aws_request *r)
{
	struct ctl_sigv4_result res;
	if (!c->a->creds || r->trusted) {
		if (ctl_sigv4_scope(r->authorization, &res) == 0 && res.region[0])
			snprintf(c->region, sizeof(c->region), "%s", res.region);
		return 0;
	}
	struct ctl_sigv4_req sr = {
		.method = r->method, .path = r->path, .query = r->query, .hdrs = r->hdrs,
		.n_hdrs = r->n_hdrs, .body = r->body, .body_len = r->len,
	};
	int rc = ctl_sigv4_verify(&sr, ctl_sigv4_creds_secret, (void *)c->a->creds,
				  c->now_ms / 1000, &res);
	if (rc == -ENOMEM) {
		ctl_aws_internal(c, "out of memory");
		return -1;
	}
	if (rc < 0) {
		ctl_aws_err(c, (unsigned)res.http_status, res.error, "%s", res.message);
		return -1;
	}
	if (res.region[0])
		snprintf(c->region, sizeof(c->region), "%s", res.region);
	return 0;
}

static const struct ctl_aws_op *find_op(struct ctl_aws *a, const char *target, bool *svc_known)
{
	*svc_known = false;
	const char *dot = target ? strchr(target, '.') : NULL;
	if (!dot)
		return NULL;
	size_t pl = (size_t)(dot - target);
	for (unsigned i = 0; i < a->n_svc; i++) {
		const struct ctl_aws_service *s = &a->svc[i];
		if (strlen(s->target_prefix) != pl || strncmp(s->target_prefix, target, pl) != 0)
			continue;
		*svc_known = true;
		for (unsigned j = 0; j < s->n_ops; j++)
			if (strcmp(s->ops[j].name, dot + 1) == 0)
				return &s->ops[j];
	}
	return NULL;
}

static const struct ctl_cbor_hints *find_hints(struct ctl_aws *a, const struct ctl_aws_op *op)
{
	for (unsigned i = 0; i < a->n_svc; i++)
		if (op >= a->svc[i].ops && op < a->svc[i].ops + a->svc[i].n_ops)
			return a->svc[i].cbor;
	return NULL;
}

static void *find_svc(struct ctl_aws *a, const struct ctl_aws_op *op)
{
	for (unsigned i = 0; i < a->n_svc; i++)
		if (op >= a->svc[i].ops && op < a->svc[i].ops + a->svc[i].n_ops)
			return a->svc[i].svc;
	return NULL;
}

static const struct ctl_aws_rest *find_rest(struct ctl_aws *a, const struct ctl_aws_request *r)
{
	if (r->target || !r->method)
		return NULL;
	const char *path = r->path ? r->path : "/";
	for (unsigned i = 0; i < a->n_rest; i++)
		if (a->rest[i].match(a->rest[i].svc, r->method, path))
			return &a->rest[i];
	return NULL;
}

struct ctl_aws_call *ctl_aws_invoke(struct ctl_aws *a, const struct ctl_aws_request *r,
				    ctl_aws_reply_fn fn, void *arg)
{
	struct ctl_aws_call *c = calloc(1, sizeof(*c));
	char rid[37];
	ctl_uuid4(rid);
	if (!c) {
		err_plain(fn, arg, rid, 500, "InternalFailure", "out of memory");
		return NULL;
	}
	c->a = a;
	c->reply = fn;
	c->reply_arg = arg;
	memcpy(c->request_id, rid, sizeof(rid));
	c->now_ms = wall_ms();
	snprintf(c->region, sizeof(c->region), "%s", a->region);
	c->cbor = r->content_type && strncasecmp(r->content_type, CBOR_TYPE, strlen(CBOR_TYPE)) == 0;
	c->json_type = r->content_type && strncasecmp(r->content_type, JSON10_TYPE,
						      strlen(JSON10_TYPE)) == 0 ? JSON10_TYPE
										 : JSON_TYPE;
	c->req = r;

	c->reply_fd = r->reply_fd;
	const struct ctl_aws_rest *rest = find_rest(a, r);
	c->rest = rest;
	if (rest) {
		if (r->too_big) {
			ctl_aws_err(c, 413, "RequestEntityTooLargeException", "Request body is "
				    "larger than this endpoint accepts (see --max-body)");
			goto out;
		}
		if (authenticate(c, r) < 0)
			goto out;
		rest->fn(rest->svc, c);
		if (!c->answered && !c->deferred)
			ctl_aws_internal(c, "%s produced no answer", rest->name);
		goto out;
	}
	if (!r->method || strcmp(r->method, "POST") != 0) {
		ctl_aws_err(c, 403, "AccessDeniedException",
			    "Unable to determine service/operation name to be authorized");
		goto out;
	}
	if (r->too_big) {
		ctl_aws_err(c, 413, "SerializationException", "Request body is larger than this "
			    "endpoint accepts (see --max-body)");
		goto out;
	}
	if (authenticate(c, r) < 0)
		goto out;
	bool svc_known;
	c->op = find_op(a, r->target, &svc_known);
	if (!c->op) {
		ctl_aws_err(c, 400, "UnknownOperationException", "%s%s",
			    r->target ? "Unknown operation " : "Missing X-Amz-Target header",
			    r->target ? r->target : "");
		goto out;
	}
	c->hints = find_hints(a, c->op);
	if (c->op->text_fn) {
		if (!c->cbor) {
			c->op->text_fn(find_svc(a, c->op), c, r->body, r->len);
			goto done;
		}
		/* CBOR for a text operation: decode, print as JSON, hand that over. */
		char why[160];
		json_t *j = NULL;
		if (ctl_cbor_to_json((const uint8_t *)r->body, r->len, c->hints, &j, why,
				     sizeof(why)) < 0) {
			ctl_aws_err(c, 400, "SerializationException", "Malformed CBOR request body: %s",
				    why);
			goto out;
		}
		char *text = json_dumps(j, JSON_COMPACT);
		json_decref(j);
		if (!text) {
			ctl_aws_internal(c, "out of memory");
			goto out;
		}
		c->op->text_fn(find_svc(a, c->op), c, text, strlen(text));
		free(text);
		goto done;
	}
	if (c->cbor) {
		char why[160];
		int rc = r->len ? ctl_cbor_to_json((const uint8_t *)r->body, r->len, c->hints, &c->in,
						   why, sizeof(why)) : 0;
		if (!r->len)
			c->in = json_object();
		if (rc < 0 || !c->in) {
			ctl_aws_err(c, 400, "SerializationException", "Malformed CBOR request body: %s",
				    rc < 0 ? why : "out of memory");
			goto out;
		}
	} else {
		json_error_t je;
		c->in = r->len ? json_loadb(r->body, r->len, JSON_REJECT_DUPLICATES, &je) : NULL;
		if (!c->in) {
			if (r->len)
				ctl_aws_err(c, 400, "SerializationException", "Malformed request body "
					    "at position %d: %s", je.position, je.text);
			else
				ctl_aws_err(c, 400, "SerializationException", "Empty request body: "
					    "expected a JSON object");
			goto out;
		}
	}
	if (!json_is_object(c->in)) {
		ctl_aws_err(c, 400, "SerializationException", "Start of %s found where a structure "
			    "was expected", json_is_array(c->in) ? "list" : "value");
		goto out;
	}
	c->op->fn(find_svc(a, c->op), c);
done:
	if (!c->answered && !c->deferred)
		ctl_aws_internal(c, "%s produced no answer", c->op->name);
out:
	c->req = NULL;
	return c;
}

const char *ctl_aws_method(const struct ctl_aws_call *c)
{
	return c->req && c->req->method ? c->req->method : "";
}

const char *ctl_aws_path(const struct ctl_aws_call *c)
{
	return c->req && c->req->path ? c->req->path : "/";
}

const char *ctl_aws_query(const struct ctl_aws_call *c)
{
	return c->req && c->req->query ? c->req->query : "";
}

const char *ctl_aws_header(const struct ctl_aws_call *c, const char *name)
{
	if (!c->req)
		return NULL;
	for (size_t i = 0; i < c->req->n_hdrs; i++)
		if (strcasecmp(c->req->hdrs[i].name, name) == 0)
			return c->req->hdrs[i].value;
	return NULL;
}

const char *ctl_aws_body(const struct ctl_aws_call *c, size_t *len)
{
	*len = c->req ? c->req->len : 0;
	return c->req && c->req->body ? c->req->body : "";
}

void ctl_aws_reply(struct ctl_aws_call *c, unsigned status, const char *content_type, char *body,
		   size_t len, const char *const *headers)
{
	if (c->answered) {
		free(body);
		return;
	}
	mark_answered(c);
	if (!body) {
		/* An empty answer still needs a buffer the transport can free. */
		body = malloc(1);
		len = 0;
	}
	c->reply(c->reply_arg, status, content_type, body, len, c->request_id, headers);
}

void ctl_aws_reply_fd(struct ctl_aws_call *c, unsigned status, const char *content_type, int fd,
		      uint64_t offset, uint64_t len, const char *const *headers)
{
	if (c->answered) {
		close(fd);
		return;
	}
	if (c->reply_fd) {
		mark_answered(c);
		c->reply_fd(c->reply_arg, status, content_type, fd, offset, len, c->request_id,
			    headers);
		return;
	}
	/* A transport without file answers (tests, the admin socket's callers): read it here. */
	bool head = c->req && c->req->method && strcmp(c->req->method, "HEAD") == 0;
	size_t n = head ? 0 : (size_t)len;
	char *buf = (len > SIZE_MAX - 1) ? NULL : malloc(n + 1);
	size_t got = 0;
	while (buf && got < n) {
		ssize_t r = pread(fd, buf + got, n - got, (off_t)(offset + got));
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	close(fd);
	if (!buf || got < n) {
		free(buf);
		ctl_aws_internal(c, "the object could not be read");
		return;
	}
	ctl_aws_reply(c, status, content_type, buf, n, headers);
}

const char *ctl_aws_request_id(const struct ctl_aws_call *c)
{
	return c->request_id;
}

bool ctl_aws_pending(const struct ctl_aws_call *c)
{
	return c && !c->answered;
}

void ctl_aws_call_free(struct ctl_aws_call *c)
{
	if (!c)
		return;
	if (c->state_free)
		c->state_free(c->state);
	json_decref(c->in);
	free(c);
}

/* ---- the HTTP glue -------------------------------------------------------------------------------- */

#define AWS_MAX_REPLY_HEADERS 16

/* The request id first, then the handler's headers (at most AWS_MAX_REPLY_HEADERS). */
static void reply_headers(const char **hdrs, const char *rid, const char *const *extra)
{
	size_t n = 0;
	hdrs[n++] = "x-amzn-RequestId";
	hdrs[n++] = rid;
	for (size_t i = 0; extra && extra[i] && extra[i + 1] && n < 2 * AWS_MAX_REPLY_HEADERS + 2;
	     i += 2) {
		hdrs[n++] = extra[i];
		hdrs[n++] = extra[i + 1];
	}
	hdrs[n] = NULL;
}

static void http_reply(void *arg, unsigned status, const char *ctype, char *body, size_t len,
		       const char *rid, const char *const *extra)
{
	const char *hdrs[2 * AWS_MAX_REPLY_HEADERS + 3];
	reply_headers(hdrs, rid, extra);
	if (!body) {
		ctl_http_reply(arg, 500, ctype, "", 0, false, hdrs);
		return;
	}
	if (ctl_http_reply(arg, status, ctype, body, len, true, hdrs) < 0)
		free(body);
}

static void http_reply_fd(void *arg, unsigned status, const char *ctype, int fd, uint64_t offset,
			  uint64_t len, const char *rid, const char *const *extra)
{
	const char *hdrs[2 * AWS_MAX_REPLY_HEADERS + 3];
	reply_headers(hdrs, rid, extra);
	if (ctl_http_reply_fd(arg, status, ctype, fd, offset, len, hdrs) == -ENOMEM)
		ctl_http_reply(arg, 500, ctype, "", 0, false, hdrs);
}

#define AWS_MAX_HEADERS 128

struct hdr_list {
	struct ctl_sigv4_header h[AWS_MAX_HEADERS];
	size_t n;
};

static void hdr_add(void *arg, const char *name, const char *value)
{
	struct hdr_list *l = arg;
	if (l->n < AWS_MAX_HEADERS)
		l->h[l->n++] = (struct ctl_sigv4_header){ name, value };
}

void ctl_aws_route(void *arg, struct ctl_http_req *rq)
{
	size_t len;
	const char *body = ctl_http_body(rq, &len);
	struct hdr_list hl = { .n = 0 };
	ctl_http_headers_each(rq, hdr_add, &hl);
	/* The whole path, however long: a cut one could name another object (S3 keys of 1024
	 * bytes are up to 3 KB percent-encoded). */
	const char *raw = ctl_http_raw_target(rq);
	char *path = strndup(raw, strcspn(raw, "?"));
	if (!path) {
		static const char oom[] = "{\"__type\":\"InternalFailure\",\"message\":"
					  "\"out of memory\"}";
		ctl_http_reply(rq, 500, JSON_TYPE, oom, sizeof(oom) - 1, false, NULL);
		return;
	}
	struct ctl_aws_request r = {
		.method = ctl_http_method(rq),
		.target = ctl_http_header(rq, "X-Amz-Target"),
		.authorization = ctl_http_header(rq, "Authorization"),
		.content_type = ctl_http_header(rq, "Content-Type"),
		.path = path,
		.query = ctl_http_query_raw(rq),
		.hdrs = hl.h,
		.n_hdrs = hl.n,
		.body = body,
		.len = len,
		.too_big = ctl_http_body_too_big(rq),
		.trusted = ctl_http_is_admin(rq),
		.reply_fd = http_reply_fd,
	};
	struct ctl_aws_call *c = ctl_aws_invoke(arg, &r, http_reply, rq);
	free(path);  /* handlers read the request only while they run */
	ctl_http_req_set_state(rq, c);
	if (ctl_aws_pending(c))
		ctl_http_defer(rq);
}

void ctl_aws_done(void *arg, struct ctl_http_req *rq, void *state)
{
	(void)arg;
	(void)rq;
	ctl_aws_call_free(state);
}

/* ---- field getters -------------------------------------------------------------------------------- */

static json_t *member(struct ctl_aws_call *c, json_t *obj, const char *field)
{
	json_t *v = json_object_get(obj ? obj : c->in, field);
	return json_is_null(v) ? NULL : v;
}

void ctl_aws_member_name(const char *field, char *out, size_t n)
{
	snprintf(out, n, "%s", field);
	if (out[0] >= 'A' && out[0] <= 'Z')
		out[0] = (char)(out[0] - 'A' + 'a');
}

static int missing(struct ctl_aws_call *c, const char *field, bool required)
{
	if (!required)
		return 0;
	char m[64];
	ctl_aws_member_name(field, m, sizeof(m));
	ctl_aws_validation(c, NULL, m, "Member must not be null");
	return -1;
}

static int wrong_type(struct ctl_aws_call *c, const char *field, const char *want)
{
	ctl_aws_err(c, 400, "SerializationException", "Unexpected value type for '%s': expected %s",
		    field, want);
	return -1;
}

int ctl_aws_str(struct ctl_aws_call *c, json_t *obj, const char *field, size_t min, size_t max,
		bool required, const char **out)
{
	json_t *v = member(c, obj, field);
	if (!v)
		return missing(c, field, required);
	if (!json_is_string(v))
		return wrong_type(c, field, "a string");
	size_t len = json_string_length(v);
	if (len < min || len > max) {
		char m[64], what[96];
		ctl_aws_member_name(field, m, sizeof(m));
		snprintf(what, sizeof(what), "Member must have length %s %zu",
			 len < min ? "greater than or equal to" : "less than or equal to",
			 len < min ? min : max);
		ctl_aws_validation(c, json_string_value(v), m, what);
		return -1;
	}
	*out = json_string_value(v);
	return 1;
}

int ctl_aws_int(struct ctl_aws_call *c, json_t *obj, const char *field, int64_t min, int64_t max,
		bool required, int64_t *out)
{
	json_t *v = member(c, obj, field);
	if (!v)
		return missing(c, field, required);
	int64_t x;
	if (json_is_integer(v))
		x = json_integer_value(v);
	else if (json_is_real(v) && json_real_value(v) == floor(json_real_value(v)) &&
		 fabs(json_real_value(v)) < 9e18)
		x = (int64_t)json_real_value(v);
	else
		return wrong_type(c, field, "an integer");
	if (x < min || x > max) {
		char m[64], what[96], val[32];
		ctl_aws_member_name(field, m, sizeof(m));
		snprintf(val, sizeof(val), "%" PRId64, x);
		snprintf(what, sizeof(what), "Member must have value %s %" PRId64,
			 x < min ? "greater than or equal to" : "less than or equal to",
			 x < min ? min : max);
		ctl_aws_validation(c, val, m, what);
		return -1;
	}
	*out = x;
	return 1;
}

int ctl_aws_bool(struct ctl_aws_call *c, json_t *obj, const char *field, bool required, bool *out)
{
	json_t *v = member(c, obj, field);
	if (!v)
		return missing(c, field, required);
	if (!json_is_boolean(v))
		return wrong_type(c, field, "a boolean");
	*out = json_is_true(v);
	return 1;
}

int ctl_aws_time(struct ctl_aws_call *c, json_t *obj, const char *field, bool required,
		 int64_t *out_ms)
{
	json_t *v = member(c, obj, field);
	if (!v)
		return missing(c, field, required);
	double s;
	if (json_is_number(v))
		s = json_number_value(v);
	else
		return wrong_type(c, field, "a timestamp in epoch seconds");
	if (!(s >= 0 && s < 1e11))
		return wrong_type(c, field, "a timestamp in epoch seconds");
	*out_ms = (int64_t)llround(s * 1000.0);
	return 1;
}

int ctl_aws_array(struct ctl_aws_call *c, json_t *obj, const char *field, size_t min, size_t max,
		  bool required, json_t **out)
{
	json_t *v = member(c, obj, field);
	if (!v)
		return missing(c, field, required);
	if (!json_is_array(v))
		return wrong_type(c, field, "a list");
	size_t n = json_array_size(v);
	if (n < min || n > max) {
		char m[64], what[96], val[32];
		ctl_aws_member_name(field, m, sizeof(m));
		snprintf(val, sizeof(val), "[%zu items]", n);
		snprintf(what, sizeof(what), "Member must have length %s %zu",
			 n < min ? "greater than or equal to" : "less than or equal to",
			 n < min ? min : max);
		ctl_aws_validation(c, val, m, what);
		return -1;
	}
	*out = v;
	return 1;
}

int ctl_aws_object(struct ctl_aws_call *c, json_t *obj, const char *field, bool required,
		   json_t **out)
{
	json_t *v = member(c, obj, field);
	if (!v)
		return missing(c, field, required);
	if (!json_is_object(v))
		return wrong_type(c, field, "a structure");
	*out = v;
	return 1;
}
