/* SPDX-License-Identifier: MIT */
/*
 * ctl_s3: the delivery root served read-only through S3's REST API, path-style
 * (`http://HOST:PORT/BUCKET/KEY`, what the aws CLI and boto3 send to an --endpoint-url).
 *
 * What it maps. Every directory directly under the root (--s3-root, default DATA_DIR/s3) whose
 * name is a valid S3 bucket name is a bucket; every regular file below it is an object whose key
 * is its path relative to the bucket directory, '/' between the levels. Delivery streams write
 * S3_ROOT/B/K. What is not served: names starting with '.' at any level (delivery writes its
 * temporary files as dot files and renames them into place, so a half-written object is never
 * listed nor read; "." and ".." segments in a requested key are refused with InvalidArgument),
 * symbolic links (never followed: every level is opened with O_NOFOLLOW from the bucket's
 * directory, so no key reaches outside the root), names that are not UTF-8, and anything that is
 * neither a regular file nor a directory.
 *
 * What it answers. ListBuckets, HeadBucket, GetBucketLocation, ListObjectsV2 and ListObjects
 * (prefix, delimiter, max-keys up to 1000, continuation-token or start-after or marker,
 * encoding-type=url; keys in UTF-8 binary order), GetObject and HeadObject (Range as S3 takes it:
 * one "bytes=" range; If-None-Match, If-Match, If-Modified-Since, If-Unmodified-Since). Object
 * bodies are streamed from the file, never loaded whole. Errors are S3's XML documents with S3's
 * codes and statuses. Every write (PUT, POST, DELETE, ...) is refused with 405 MethodNotAllowed:
 * objects come from delivery streams only.
 *
 * ETags. The ETag is the MD5 of the object's bytes in quotes, as S3 gives for a single-part
 * upload, the same in listings and in GetObject/HeadObject. It is computed the first time an
 * object is listed or read and cached by (path, device, inode, size, mtime): delivery writes each
 * object once, so each file is hashed once per daemon run, and a rewritten file gets a new one.
 *
 * Threads. The control thread only (as ctl_aws). Listing walks the bucket directory below the
 * prefix on every request; a bucket's listing is bounded by CTL_S3_MAX_SCAN objects.
 */
#ifndef CTL_S3_H
#define CTL_S3_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ctl_aws.h"

/* S3's longest key: 1024 bytes of UTF-8. */
#define CTL_S3_MAX_KEY 1024
/* S3's longest bucket name. */
#define CTL_S3_MAX_BUCKET 63
/* Most keys (and common prefixes) one listing page returns, as S3. */
#define CTL_S3_MAX_KEYS 1000
/* Most objects one listing walks; a bucket with more answers 500 and says why. Keeps a request's
 * memory and time bounded: 1M keys of 100 bytes is ~150 MB and a second of sorting. */
#define CTL_S3_MAX_SCAN 1000000

struct ctl_s3;

/*
 * Serve the tree under root (copied; it need not exist yet: buckets appear as delivery creates
 * them). Returns 0 and *ret, or -ENOMEM.
 */
int ctl_s3_new(const char *root, struct ctl_s3 **ret);
/* NULL is accepted. */
void ctl_s3_free(struct ctl_s3 *s);

/*
 * Add the S3 REST service to aws. It takes GET and HEAD on "/" and every method on every other
 * path, so register it after every other REST service. Returns ctl_aws_register_rest()'s result.
 */
int ctl_s3_register(struct ctl_s3 *s, struct ctl_aws *aws);

/* ---- request decoding (exposed for the unit tests and the fuzz target) --------------------------- */

/* True when name (len bytes) follows S3's bucket naming rules: 3 to 63 of [a-z0-9.-], starting
 * and ending with a letter or digit, no "..", not an IPv4 address, no "xn--" prefix, no
 * "-s3alias" or "--ol-s3" suffix. */
bool ctl_s3_bucket_valid(const char *name, size_t len);

/*
 * Percent-decode in[0..n) into out (outsz bytes, NUL-terminated); '+' is a space when
 * plus_space (query strings). Returns the decoded length, or -EINVAL for a malformed escape or
 * a decoded NUL, or -ENAMETOOLONG when the result does not fit.
 */
long ctl_s3_decode(const char *in, size_t n, bool plus_space, char *out, size_t outsz);

/* A request path split into bucket and key, both decoded. */
struct ctl_s3_target {
	char bucket[CTL_S3_MAX_BUCKET + 1];  /* "" for "/" */
	char key[CTL_S3_MAX_KEY + 1];        /* "" when the path names the bucket only */
	size_t key_len;
};

/*
 * Split a raw (percent-encoded) path: "/", "/B", "/B/", "/B/K...". Returns 0, or -EINVAL for a
 * path not starting with '/', a malformed escape or a NUL, -ENAMETOOLONG for a key over 1024
 * bytes (KeyTooLongError), -EBADR for an invalid bucket name.
 */
int ctl_s3_target_parse(const char *path, struct ctl_s3_target *t);

/*
 * Whether a decoded key can name a file under a bucket. Returns 0 when it can; -EPERM for a "."
 * or ".." segment or a leading '/' (refused: they would leave the bucket); -ENOENT for a key
 * this view never serves (an empty segment, a segment starting with '.', not UTF-8).
 */
int ctl_s3_key_check(const char *key, size_t len);

/* True when s[0..n) is well-formed UTF-8 (no overlongs, no surrogates, at most U+10FFFF). */
bool ctl_s3_utf8_valid(const char *s, size_t n);

/*
 * Find query parameter name in a raw query string and decode its value into out (outsz bytes).
 * Returns 1 when present (a parameter without '=' has the value ""), 0 when absent, -EINVAL for
 * a malformed escape, -ENAMETOOLONG when the value does not fit.
 */
int ctl_s3_query_get(const char *query, const char *name, char *out, size_t outsz);

/*
 * A Range header against an object of size bytes, as S3 reads it: one "bytes=FIRST-LAST",
 * "bytes=FIRST-" or "bytes=-SUFFIX". Returns 1 with [*first, *last] (inclusive, clamped to the
 * object), 0 when the header is absent or not a single byte range (the whole object is sent, as
 * S3 does), -ERANGE when the range cannot be satisfied (416 InvalidRange).
 */
int ctl_s3_range_parse(const char *hdr, uint64_t size, uint64_t *first, uint64_t *last);

/* ---- listing pages (exposed for the unit tests) ---------------------------------------------------- */

struct ctl_s3_list_query {
	const char *prefix;       /* "" for none */
	const char *delimiter;    /* "" for none */
	const char *after;        /* start after this key ("" for none) */
	bool after_is_prefix;     /* after was a common prefix: skip every key under it too */
	unsigned max_keys;        /* 0..CTL_S3_MAX_KEYS */
};

/* One entry of a page: keys[idx] itself, or its first len bytes as a common prefix. */
struct ctl_s3_item {
	size_t idx;
	size_t len;
	bool prefix;
};

/*
 * Cut one page out of keys[0..n), sorted in byte order (strcmp). items has room for
 * q->max_keys entries. Returns the number of items written; *truncated tells whether more
 * entries follow the page's last one.
 */
size_t ctl_s3_list_page(char *const *keys, size_t n, const struct ctl_s3_list_query *q,
			struct ctl_s3_item *items, bool *truncated);

/*
 * Continuation tokens: opaque to clients, base64 of the page's last entry and whether it was a
 * common prefix. encode writes into out (outsz bytes) and returns 0 or -ENAMETOOLONG; decode
 * returns 0 with the entry in after (aftersz bytes), or -EINVAL for a token this server did not
 * issue.
 */
int ctl_s3_token_encode(const char *last, size_t len, bool prefix, char *out, size_t outsz);
int ctl_s3_token_decode(const char *token, char *after, size_t aftersz, bool *prefix);

#endif
