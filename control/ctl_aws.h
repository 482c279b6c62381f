/* SPDX-License-Identifier: MIT */
/*
 * ctl_aws: the AWS JSON 1.1 front-end. Routes `POST /` requests by their X-Amz-Target
 * ("<prefix>.<Operation>") to the operation tables that services register, decodes the body
 * with jansson, and answers in AWS's shapes: results as JSON objects, errors as
 * {"__type": ..., "message": ...} with AWS's HTTP status, an x-amzn-RequestId on every answer.
 *
 * What a handler sees. One struct ctl_aws_call per request: the decoded input object, the
 * caller's region (from the SigV4 credential scope, else the configured default) and account.
 * A handler answers exactly once with ctl_aws_ok() or ctl_aws_err(), either before it returns
 * or later after ctl_aws_defer() (e.g. once records are durable). The field getters below
 * validate types and limits the way AWS does and answer the error themselves when a field is
 * bad, so handlers read: `if (ctl_aws_str(c, "StreamName", 1, 128, true, &name) < 0) return;`
 *
 * Threads: the control thread only (see ctl_http.h).
 */
#ifndef CTL_AWS_H
#define CTL_AWS_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "ctl_http.h"
#include "ctl_sigv4.h"

struct ctl_aws;
struct ctl_aws_call;

typedef void (*ctl_aws_op_fn)(void *svc, struct ctl_aws_call *c);
/* An operation that reads its JSON text itself (the records path, where a faster parser than
 * the general one pays): body is the request as JSON text (CBOR requests arrive converted). */
typedef void (*ctl_aws_text_fn)(void *svc, struct ctl_aws_call *c, const char *body, size_t len);

struct ctl_aws_op {
	const char *name;     /* "PutRecords" */
	ctl_aws_op_fn fn;     /* decoded input in ctl_aws_input(); or NULL with text_fn */
	ctl_aws_text_fn text_fn;
};

struct ctl_aws_service {
	const char *target_prefix;      /* "Kinesis_20131202" */
	const struct ctl_aws_op *ops;   /* sorted by name is not required */
	unsigned n_ops;
	void *svc;                      /* handed to every op */
	const struct ctl_cbor_hints *cbor;  /* blob/timestamp members for CBOR requests; NULL:
	                                       the service speaks JSON only */
};

struct ctl_sigv4_creds;
struct ctl_cbor_hints;

struct ctl_aws_config {
	const char *account_id;  /* 12 digits; default 000000000000 */
	const char *region;      /* default region; us-east-1 */
	/* When set, every request's SigV4 signature is verified against these keys (ctl_sigv4.h);
	 * when NULL any signature is accepted and only the region is read from its scope. */
	const struct ctl_sigv4_creds *creds;
};

int ctl_aws_new(const struct ctl_aws_config *cfg, struct ctl_aws **ret);
void ctl_aws_free(struct ctl_aws *a);

/* Add a service; at most 16. Returns 0, -ENOSPC or -EEXIST. */
int ctl_aws_register(struct ctl_aws *a, const struct ctl_aws_service *s);

/*
 * REST services (S3, Lambda: the operation is named by method and path, not X-Amz-Target).
 * A request without X-Amz-Target goes to the first REST service whose match() accepts its
 * method and path (path still percent-encoded, without the query). Such a handler reads the
 * request with ctl_aws_method/path/query/header/body below and answers with ctl_aws_reply() in
 * its protocol's own shape (S3's XML errors, Lambda's JSON with X-Amzn-ErrorType), or with
 * ctl_aws_ok/ctl_aws_err where the JSON shape fits. Authentication (SigV4) is the same as for
 * the JSON services.
 */
struct ctl_aws_rest {
	const char *name;  /* "s3", "lambda": for logs */
	bool (*match)(void *svc, const char *method, const char *path);
	ctl_aws_op_fn fn;
	void *svc;
	/* How the service words the errors the front-end answers for it (a bad signature, an
	 * oversize body, a handler without an answer): it must answer with ctl_aws_reply(). NULL:
	 * AWS's JSON error shape. code is the AWS error name (S3's when the signature's scope is
	 * s3), message the text. */
	void (*error)(void *svc, struct ctl_aws_call *c, unsigned status, const char *code,
		      const char *message);
};

/* Add a REST service; at most 8. Returns 0 or -ENOSPC. */
int ctl_aws_register_rest(struct ctl_aws *a, const struct ctl_aws_rest *r);

/* A transport that can send a file's bytes without loading them (ctl_http_reply_fd): fd's
 * ownership passes; len bytes from offset. */
typedef void (*ctl_aws_reply_fd_fn)(void *arg, unsigned status, const char *content_type, int fd,
				    uint64_t offset, uint64_t len, const char *request_id,
				    const char *const *headers);

/* One request, independent of the transport. */
struct ctl_aws_request {
	const char *method;         /* "POST" */
	const char *target;         /* X-Amz-Target or NULL */
	const char *authorization;  /* Authorization header or NULL */
	const char *content_type;   /* Content-Type or NULL */
	const char *path;           /* request path as sent (still percent-encoded); NULL is "/" */
	const char *query;          /* raw query string without '?', or NULL */
	const struct ctl_sigv4_header *hdrs;  /* every header as received, for SigV4 */
	size_t n_hdrs;
	const char *body;
	size_t len;
	bool too_big;               /* the transport discarded an oversize body */
	bool trusted;               /* the peer is authenticated otherwise (the admin socket's
	                               SO_PEERCRED): no signature needed */
	ctl_aws_reply_fd_fn reply_fd;  /* NULL: ctl_aws_reply_fd() reads the file into memory */
};

/* How an answer leaves: body is malloc'd (ownership passes; NULL only when out of memory).
 * headers: extra response headers as a NULL-terminated name, value, ... list, or NULL (the
 * REST services' answers carry some: ETag, Content-Range, X-Amz-Function-Error, ...). */
typedef void (*ctl_aws_reply_fn)(void *arg, unsigned status, const char *content_type,
				 char *body, size_t len, const char *request_id,
				 const char *const *headers);

/*
 * Decode and run one request. fn is called exactly once, now or later (deferred handlers).
 * Returns the call, which the transport frees with ctl_aws_call_free() once the answer was
 * delivered (or NULL when out of memory; fn was then called).
 */
struct ctl_aws_call *ctl_aws_invoke(struct ctl_aws *a, const struct ctl_aws_request *r,
				    ctl_aws_reply_fn fn, void *arg);
/*
 * The same for a request made inside the daemon (a schedule invoking its target): nobody holds
 * the call; fn still receives the answer exactly once. A call answered later is freed by the next
 * ctl_aws_reap() after its answer, which the control loop runs every turn.
 */
void ctl_aws_invoke_detached(struct ctl_aws *a, const struct ctl_aws_request *r,
			     ctl_aws_reply_fn fn, void *arg);
void ctl_aws_reap(struct ctl_aws *a);

/* True while the call has not been answered. */
bool ctl_aws_pending(const struct ctl_aws_call *c);
void ctl_aws_call_free(struct ctl_aws_call *c);

/* ctl_http route and done functions (arg = struct ctl_aws *). */
void ctl_aws_route(void *arg, struct ctl_http_req *rq);
void ctl_aws_done(void *arg, struct ctl_http_req *rq, void *state);

/* ---- inside a handler ----------------------------------------------------------------------------- */

json_t *ctl_aws_input(const struct ctl_aws_call *c);
const char *ctl_aws_op_name(const struct ctl_aws_call *c);
const char *ctl_aws_region(const struct ctl_aws_call *c);
const char *ctl_aws_account(const struct ctl_aws_call *c);
/* Milliseconds since the epoch when the request arrived. */
int64_t ctl_aws_now_ms(const struct ctl_aws_call *c);

/* Answer 200 with out (reference stolen; NULL means {}). */
void ctl_aws_ok(struct ctl_aws_call *c, json_t *out);
/* Answer 200 with a JSON document already printed (malloc'd text, ownership passes; converted
 * to CBOR for CBOR requests). */
void ctl_aws_ok_text(struct ctl_aws_call *c, char *text, size_t len);
/* Answer an error: HTTP status, AWS __type, printf-style message. */
void ctl_aws_err(struct ctl_aws_call *c, unsigned status, const char *type, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* The common cases. */
#define ctl_aws_invalid(c, ...) ctl_aws_err((c), 400, "InvalidArgumentException", __VA_ARGS__)
#define ctl_aws_notfound(c, ...) ctl_aws_err((c), 400, "ResourceNotFoundException", __VA_ARGS__)
#define ctl_aws_inuse(c, ...) ctl_aws_err((c), 400, "ResourceInUseException", __VA_ARGS__)
#define ctl_aws_limit(c, ...) ctl_aws_err((c), 400, "LimitExceededException", __VA_ARGS__)
#define ctl_aws_internal(c, ...) ctl_aws_err((c), 500, "InternalFailure", __VA_ARGS__)
/* AWS's "1 validation error detected: Value '<v>' at '<member>' failed to satisfy constraint:
 * <what>" (member is the lowerCamel path, e.g. "records.1.member.partitionKey"). */
void ctl_aws_validation(struct ctl_aws_call *c, const char *value, const char *member,
			const char *what);

/* A member's name as AWS's validation messages write it: "StreamName" -> "streamName". */
void ctl_aws_member_name(const char *field, char *out, size_t n);

/* Keep the call open after the handler returns; answer later with ctl_aws_ok/err. */
void ctl_aws_defer(struct ctl_aws_call *c);
/* True once the call has been answered. */
bool ctl_aws_answered(const struct ctl_aws_call *c);

/* The request as received. Valid while the handler runs (copy what a deferred answer needs):
 * method, path (percent-encoded, no query), raw query string ("" if none), a header by
 * case-insensitive name (NULL if absent), and the body (len may be 0). */
const char *ctl_aws_method(const struct ctl_aws_call *c);
const char *ctl_aws_path(const struct ctl_aws_call *c);
const char *ctl_aws_query(const struct ctl_aws_call *c);
const char *ctl_aws_header(const struct ctl_aws_call *c, const char *name);
const char *ctl_aws_body(const struct ctl_aws_call *c, size_t *len);

/* Answer with any status, content type and headers (NULL-terminated name, value list or NULL):
 * body is malloc'd and ownership passes (NULL with len 0 for an empty body). */
void ctl_aws_reply(struct ctl_aws_call *c, unsigned status, const char *content_type, char *body,
		   size_t len, const char *const *headers);

/*
 * Answer with len bytes of the open regular file fd from offset on (ownership of fd passes in
 * every case). The transport streams them when it can; otherwise they are read into memory
 * here (500 InternalFailure when that fails). A HEAD request gets the headers only.
 */
void ctl_aws_reply_fd(struct ctl_aws_call *c, unsigned status, const char *content_type, int fd,
		      uint64_t offset, uint64_t len, const char *const *headers);

/* The request id every answer carries (x-amzn-RequestId), for error documents that repeat it. */
const char *ctl_aws_request_id(const struct ctl_aws_call *c);

/* Per-call state for deferred handlers, released with fn when the request ends. */
void ctl_aws_set_state(struct ctl_aws_call *c, void *state, void (*free_fn)(void *));
void *ctl_aws_state(const struct ctl_aws_call *c);

/*
 * Field getters on an object (obj NULL means the call's input). Each returns 1 when the field is
 * present and valid (*out written), 0 when absent and not required, or -1 after answering the
 * error (SerializationException for a wrong JSON type, ValidationException for a missing
 * required field or a value out of its limits). JSON null counts as absent, as AWS treats it.
 */
int ctl_aws_str(struct ctl_aws_call *c, json_t *obj, const char *field, size_t min, size_t max,
		bool required, const char **out);
int ctl_aws_int(struct ctl_aws_call *c, json_t *obj, const char *field, int64_t min, int64_t max,
		bool required, int64_t *out);
int ctl_aws_bool(struct ctl_aws_call *c, json_t *obj, const char *field, bool required, bool *out);
/* A timestamp in epoch seconds (number, fractional allowed): written as milliseconds. */
int ctl_aws_time(struct ctl_aws_call *c, json_t *obj, const char *field, bool required,
		 int64_t *out_ms);
/* A JSON array / object member (type-checked, not copied). */
int ctl_aws_array(struct ctl_aws_call *c, json_t *obj, const char *field, size_t min, size_t max,
		  bool required, json_t **out);
int ctl_aws_object(struct ctl_aws_call *c, json_t *obj, const char *field, bool required,
		   json_t **out);

/* A timestamp for a response: epoch seconds with milliseconds, never in exponent form. */
json_t *ctl_aws_time_json(int64_t ms);

#endif
