/* SPDX-License-Identifier: MIT */
/*
 * ctl_sigv4: AWS Signature Version 4 verification for the AWS API listener, and the shared
 * credentials file that holds the accepted keys.
 *
 * The module is independent of the HTTP library: the listener hands it the request line, the
 * headers as received and the body, and maps a failure to its own error shape from the result's
 * AWS error name, HTTP status and message. Both signing forms are verified:
 *   - the Authorization header ("AWS4-HMAC-SHA256 Credential=AK/YYYYMMDD/REGION/SERVICE/
 *     aws4_request, SignedHeaders=a;b, Signature=hex") with X-Amz-Date or Date, the form every
 *     SDK uses for API calls;
 *   - presigned query strings (X-Amz-Algorithm, X-Amz-Credential, X-Amz-Date, X-Amz-Expires,
 *     X-Amz-SignedHeaders, X-Amz-Signature), the form of S3 GET links.
 * The canonical request follows AWS's rules: the URI path normalised (".", "..", repeated '/')
 * and URI-encoded once more for every service but s3, which signs the path as sent; the query
 * decoded, re-encoded and sorted; the signed headers lowercased, trimmed, inner whitespace runs
 * collapsed and repeated headers joined with ','; the payload hash taken from
 * X-Amz-Content-Sha256 when sent (then checked against the body when it is a hash, and taken
 * as is for UNSIGNED-PAYLOAD and the STREAMING-* forms, whose chunk signatures are not checked
 * here) and computed from the body otherwise. Signatures are compared in constant time. The
 * clock may be 15 minutes off either way, as AWS allows. X-Amz-Security-Token is accepted (it
 * is signed when the client signed it) and not checked against anything: this listener issues
 * no session tokens. Some clients add it to a presigned URL after signing; such a URL is checked
 * without it, as AWS does.
 *
 * The path and query must be the ones the client sent, before any URL decoding: with
 * libmicrohttpd that means an MHD_OPTION_UNESCAPE_CALLBACK that leaves the text as it is, the
 * request URL as path and the GET arguments joined back as the query.
 *
 * Threading: ctl_sigv4_verify and ctl_sigv4_scope keep no state and run on any thread. A
 * credentials set is read-only once loaded; any number of threads may look keys up in it.
 * Every parser here accepts any input: bounded lengths, no recursion, no assumptions.
 */
#ifndef CTL_SIGV4_H
#define CTL_SIGV4_H

#include <stddef.h>
#include <stdint.h>

/* How far a request's date may be from the server's clock: AWS's 15 minutes. */
#define CTL_SIGV4_MAX_SKEW_S (15 * 60)
/* Longest X-Amz-Expires AWS accepts on a presigned URL: 7 days. */
#define CTL_SIGV4_MAX_EXPIRES_S (7 * 24 * 3600)
/*
 * Most headers one signature may cover. SDKs sign under ten; the cap keeps the canonical
 * headers' cost (signed names times received headers) small for any request.
 */
#define CTL_SIGV4_MAX_SIGNED_HEADERS 64

struct ctl_sigv4_header {
	const char *name;   /* as received; compared case-insensitively */
	const char *value;  /* as received; surrounding and repeated whitespace is the module's job */
};

/* Which canonical URI rules apply. */
enum ctl_sigv4_uri {
	CTL_SIGV4_URI_AUTO = 0,   /* RAW when the credential scope's service is s3, else NORMALIZE */
	CTL_SIGV4_URI_NORMALIZE,  /* remove "." and "..", squeeze "//", then URI-encode the path */
	CTL_SIGV4_URI_RAW,        /* S3: no normalisation, the path decoded and encoded once */
};

struct ctl_sigv4_req {
	const char *method;          /* "POST" */
	const char *path;            /* the request-target's path exactly as sent on the wire, still
	                                percent-encoded ("/", "/2015-03-31/functions/x"); NULL is "/" */
	const char *query;           /* the query string without '?', or NULL: raw, or rebuilt as
	                                "k=v&k=v" from still-escaped pairs in any order (it is
	                                decoded, re-encoded and sorted here) */
	const struct ctl_sigv4_header *hdrs;
	size_t n_hdrs;
	const void *body;            /* the whole body; NULL with body_len 0 for none */
	size_t body_len;
	enum ctl_sigv4_uri uri;      /* 0 (AUTO) for the AWS listener */
};

/*
 * Why a request failed. Each reason has one AWS error name and status for the JSON protocols
 * (Kinesis, Firehose, Glue, Step Functions) and one for S3; the result carries the one that fits
 * the credential scope's service.
 */
#define CTL_SIGV4_ERRORS(X) \
	/* reason           JSON __type                              status  S3 code                       status */ \
	X(MISSING,          "MissingAuthenticationTokenException",  403,    "AccessDenied",               403) \
	X(INCOMPLETE,       "IncompleteSignatureException",         400,    "AuthorizationHeaderMalformed", 400) \
	X(MISMATCH,         "InvalidSignatureException",            400,    "SignatureDoesNotMatch",      403) \
	X(EXPIRED,          "InvalidSignatureException",            400,    "AccessDenied",               403) \
	X(UNKNOWN_KEY,      "UnrecognizedClientException",          400,    "InvalidAccessKeyId",         403) \
	X(PAYLOAD_MISMATCH, "InvalidSignatureException",            400,    "XAmzContentSHA256Mismatch",  400)

enum ctl_sigv4_err {
	CTL_SIGV4_OK = 0,
#define CTL_SIGV4_ENUM_(name, jt, js, st, ss) CTL_SIGV4_ERR_##name,
	CTL_SIGV4_ERRORS(CTL_SIGV4_ENUM_)
#undef CTL_SIGV4_ENUM_
};

struct ctl_sigv4_result {
	enum ctl_sigv4_err code;   /* CTL_SIGV4_OK on success */
	const char *error;         /* NULL on success, else the AWS error name (a static string) */
	int http_status;           /* 0 on success, else 400 or 403 as AWS answers */
	char message[256];         /* what was wrong, worded as AWS words it; "" on success */
	/* From the credential scope, filled as far as it was parsed (also on failure). */
	char access_key[128], date[9], region[32], service[32];
	int presigned;             /* 1 when the signature came in the query string */
};

/* Signature's secret for an access key id, or NULL when the key is unknown. */
typedef const char *(*ctl_sigv4_secret_fn)(void *arg, const char *access_key);

/*
 * Verify r's signature at time now_s (seconds since the epoch). secret(arg, key) looks the
 * access key up (NULL secret: every key is unknown). The steps run in AWS's order, each failing
 * with its own reason: parse the Authorization header or presigned query (MISSING, INCOMPLETE),
 * match the scope's date with the request's (MISMATCH), look the key up (UNKNOWN_KEY), check the
 * clock (EXPIRED), check a sent payload hash against the body (PAYLOAD_MISMATCH), compare the
 * signature (MISMATCH).
 * Returns 0 with res->code CTL_SIGV4_OK when the signature is valid; -EACCES with res's code,
 * error, http_status and message filled, and the scope as far as it was parsed; -ENOMEM when
 * memory ran out (then res->error is NULL and http_status 500).
 */
int ctl_sigv4_verify(const struct ctl_sigv4_req *r, ctl_sigv4_secret_fn secret, void *arg,
		     int64_t now_s, struct ctl_sigv4_result *res);

/*
 * Parse only the credential scope of an Authorization header, without verifying anything: the
 * listener without credentials still takes the region from it. Returns 0 with access_key, date,
 * region and service filled, or -EINVAL with res's error fields filled as ctl_sigv4_verify
 * would (MISSING for a NULL header, INCOMPLETE for a malformed one).
 */
int ctl_sigv4_scope(const char *authorization, struct ctl_sigv4_result *res);

/*
 * The same for a whole request: the Authorization header, or else the X-Amz-Credential of a
 * presigned query string. Returns 0 or -EINVAL as ctl_sigv4_scope.
 */
int ctl_sigv4_scope_req(const struct ctl_sigv4_req *r, struct ctl_sigv4_result *res);

/*
 * The accepted keys: AWS's shared credentials file format (~/.aws/credentials): "[profile]"
 * section lines, "key = value" lines, whole-line comments starting with '#' or ';', indented
 * continuation lines (ignored). Every profile with aws_access_key_id and aws_secret_access_key
 * adds its key; other keys (aws_session_token, region, ...) are ignored.
 */
struct ctl_sigv4_creds;

/*
 * Load the credentials file at path. Returns 0 and *ret, or a negative errno after writing one
 * line into err (errlen bytes) that names the file, the line and what is wrong: -ENOENT and the
 * like when it cannot be read, -EFBIG over 1 MiB, -EINVAL for a malformed line, a profile with
 * only one of the two keys, a key id given twice with different secrets, or no key at all.
 */
int ctl_sigv4_creds_load(const char *path, struct ctl_sigv4_creds **ret, char *err, size_t errlen);

/* Parse credentials file text (len bytes, need not be NUL-terminated). Errors as above. */
int ctl_sigv4_creds_parse(const char *text, size_t len, struct ctl_sigv4_creds **ret, char *err,
			  size_t errlen);

/* Number of keys in c. */
size_t ctl_sigv4_creds_count(const struct ctl_sigv4_creds *c);

/* The secret of access_key in creds (a struct ctl_sigv4_creds *), or NULL: a ctl_sigv4_secret_fn. */
const char *ctl_sigv4_creds_secret(void *creds, const char *access_key);

/* Free c and wipe the secrets it held. NULL is fine. */
void ctl_sigv4_creds_free(struct ctl_sigv4_creds *c);

#endif
