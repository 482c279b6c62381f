/* SPDX-License-Identifier: MIT */
/*
 * ctl_sigv4: see ctl_sigv4.h. Verification rebuilds the canonical request and the string to
 * sign from what was received, derives the signing key with libcrypto's HMAC-SHA256 and compares
 * with CRYPTO_memcmp. Every string is built in a growing heap buffer whose size follows the
 * request (the listener bounds header and body sizes); nothing here trusts a length it did not
 * count itself.
 */
#include "ctl_sigv4.h"
#include "ctl_sigv4_internal.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#define ALGORITHM "AWS4-HMAC-SHA256"
#define TERMINATOR "aws4_request"
#define EMPTY_SHA256 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
/* How much of a client's text an error message quotes back. */
#define QUOTE_MAX 64

static const struct {
	const char *json, *s3;
	int json_status, s3_status;
} err_table[] = {
	[CTL_SIGV4_OK] = { NULL, NULL, 0, 0 },
#define CTL_SIGV4_ROW_(name, jt, js, st, ss) [CTL_SIGV4_ERR_##name] = { jt, st, js, ss },
	CTL_SIGV4_ERRORS(CTL_SIGV4_ROW_)
#undef CTL_SIGV4_ROW_
};

/* Fill res's error fields; the name and status follow the scope's service when it is known. */
__attribute__((format(printf, 3, 4)))
static int fail(struct ctl_sigv4_result *res, enum ctl_sigv4_err code, const char *fmt, ...)
{
	bool s3 = strcmp(res->service, "s3") == 0;
	va_list ap;

	res->code = code;
	res->error = s3 ? err_table[code].s3 : err_table[code].json;
	res->http_status = s3 ? err_table[code].s3_status : err_table[code].json_status;
	va_start(ap, fmt);
	vsnprintf(res->message, sizeof(res->message), fmt, ap);
	va_end(ap);
	return -EACCES;
}

static int fail_nomem(struct ctl_sigv4_result *res)
{
	res->code = CTL_SIGV4_OK;
	res->error = NULL;
	res->http_status = 500;
	snprintf(res->message, sizeof(res->message), "out of memory verifying the signature");
	return -ENOMEM;
}

/* ---- growing string buffer ---- */

struct sbuf {
	char *p;
	size_t len, cap;
	bool oom;
};

static void sb_put(struct sbuf *b, const void *s, size_t n)
{
	if (b->oom)
		return;
	if (n >= SIZE_MAX / 2 - b->len) {
		b->oom = true;
		return;
	}
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		while (cap < b->len + n + 1)
			cap *= 2;
		char *p = realloc(b->p, cap);
		if (!p) {
			b->oom = true;
			return;
		}
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static void sb_puts(struct sbuf *b, const char *s)
{
	sb_put(b, s, strlen(s));
}

static void sb_putc(struct sbuf *b, char c)
{
	sb_put(b, &c, 1);
}

/* ---- encoding helpers ---- */

static bool unreserved(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '_' || c == '.' || c == '~';
}

static int hexval(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* AWS's URI encoding of one byte: unreserved bytes as they are, the rest as %XX uppercase. */
static void sb_enc_byte(struct sbuf *b, unsigned char c)
{
	static const char hex[] = "0123456789ABCDEF";
	char e[3] = { '%', hex[c >> 4], hex[c & 15] };

	if (unreserved(c))
		sb_putc(b, (char)c);
	else
		sb_put(b, e, 3);
}

/* Encode n bytes of s, each one as it is (so an existing "%2F" becomes "%252F"). */
static void sb_enc(struct sbuf *b, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		sb_enc_byte(b, (unsigned char)s[i]);
}

/*
 * Decode %XX escapes of s[0..n) and encode the result: the canonical form of a query component
 * or an S3 path whatever escaping the client chose. A '%' not followed by two hex digits is a
 * literal '%'. keep_slash leaves a literal '/' alone (S3 paths); an escaped one stays escaped,
 * as it is part of an object key.
 */
static void sb_reenc(struct sbuf *b, const char *s, size_t n, bool keep_slash)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (keep_slash && c == '/') {
			sb_putc(b, '/');
			continue;
		}
		if (c == '%' && i + 2 < n &&
		    hexval((unsigned char)s[i + 1]) >= 0 && hexval((unsigned char)s[i + 2]) >= 0) {
			c = (unsigned char)(hexval((unsigned char)s[i + 1]) * 16 +
					    hexval((unsigned char)s[i + 2]));
			i += 2;
		}
		sb_enc_byte(b, c);
	}
}

/* Decode %XX escapes (and nothing else) into a new NUL-terminated string; *len gets its length. */
static char *pct_decode(const char *s, size_t n, size_t *len)
{
	char *out = malloc(n + 1);
	size_t w = 0;

	if (!out)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '%' && i + 2 < n &&
		    hexval((unsigned char)s[i + 1]) >= 0 && hexval((unsigned char)s[i + 2]) >= 0) {
			out[w++] = (char)(hexval((unsigned char)s[i + 1]) * 16 +
					  hexval((unsigned char)s[i + 2]));
			i += 2;
		} else {
			out[w++] = s[i];
		}
	}
	out[w] = '\0';
	*len = w;
	return out;
}

static void hex_encode(const uint8_t *in, size_t n, char *out)
{
	static const char hex[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = hex[in[i] >> 4];
		out[2 * i + 1] = hex[in[i] & 15];
	}
	out[2 * n] = '\0';
}

/* Exactly 2*n hex digits (either case) into n bytes. Returns 0 or -EINVAL. */
static int hex_decode(const char *s, size_t slen, uint8_t *out, size_t n)
{
	if (slen != 2 * n)
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		int hi = hexval((unsigned char)s[2 * i]), lo = hexval((unsigned char)s[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return -EINVAL;
		out[i] = (uint8_t)(hi * 16 + lo);
	}
	return 0;
}

static int sha256(const void *data, size_t n, uint8_t out[32])
{
	unsigned int len = 0;

	return EVP_Digest(data, n, out, &len, EVP_sha256(), NULL) == 1 && len == 32 ? 0 : -EIO;
}

static int hmac256(const void *key, size_t klen, const void *data, size_t n, uint8_t out[32])
{
	unsigned int len = 0;

	if (klen > INT32_MAX)
		return -EINVAL;
	return HMAC(EVP_sha256(), key, (int)klen, data, n, out, &len) && len == 32 ? 0 : -EIO;
}

/* ---- small string helpers ---- */

static bool is_ws(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

/* Copy s[0..n) into dst (dstlen bytes). Returns false, leaving dst empty, when it does not fit. */
static bool copy_field(char *dst, size_t dstlen, const char *s, size_t n)
{
	if (n >= dstlen) {
		dst[0] = '\0';
		return false;
	}
	memcpy(dst, s, n);
	dst[n] = '\0';
	return true;
}

/* The number of headers named name, and the first one's value. */
static size_t find_header(const struct ctl_sigv4_req *r, const char *name, const char **value)
{
	size_t count = 0;

	*value = NULL;
	for (size_t i = 0; i < r->n_hdrs; i++) {
		if (!r->hdrs[i].name || !r->hdrs[i].value || strcasecmp(r->hdrs[i].name, name) != 0)
			continue;
		if (!count++)
			*value = r->hdrs[i].value;
	}
	return count;
}

/* Value of query parameter name (compared after decoding), decoded, or NULL; *count how many. */
static char *find_query(const char *q, const char *name, size_t *count, bool *nomem)
{
	char *found = NULL;

	*count = 0;
	while (q && *q) {
		const char *amp = strchr(q, '&');
		size_t n = amp ? (size_t)(amp - q) : strlen(q);
		const char *eq = memchr(q, '=', n);
		size_t klen = eq ? (size_t)(eq - q) : n, dlen;
		char *key = pct_decode(q, klen, &dlen);
		if (!key) {
			*nomem = true;
			free(found);
			return NULL;
		}
		if (dlen == strlen(name) && memcmp(key, name, dlen) == 0) {
			if (!(*count)++) {
				found = eq ? pct_decode(eq + 1, n - klen - 1, &dlen) : strdup("");
				if (!found)
					*nomem = true;
			}
		}
		free(key);
		q += n + (amp ? 1 : 0);
	}
	return found;
}

/* ---- dates ---- */

/* "YYYYMMDDTHHMMSSZ" into seconds since the epoch. Returns 0 or -EINVAL. */
static int parse_iso_basic(const char *s, int64_t *t)
{
	struct tm tm = { 0 };
	int v[6] = { 0 };
	static const int pos[6] = { 0, 4, 6, 9, 11, 13 }, width[6] = { 4, 2, 2, 2, 2, 2 };

	if (strlen(s) != 16 || s[8] != 'T' || s[15] != 'Z')
		return -EINVAL;
	for (int f = 0; f < 6; f++)
		for (int k = 0; k < width[f]; k++) {
			char c = s[pos[f] + k];
			if (c < '0' || c > '9')
				return -EINVAL;
			v[f] = v[f] * 10 + (c - '0');
		}
	tm.tm_year = v[0] - 1900;
	tm.tm_mon = v[1] - 1;
	tm.tm_mday = v[2];
	tm.tm_hour = v[3];
	tm.tm_min = v[4];
	tm.tm_sec = v[5];
	if (v[0] < 1970 || v[1] < 1 || v[1] > 12 || v[2] < 1 || v[2] > 31 || v[3] > 23 ||
	    v[4] > 59 || v[5] > 59)
		return -EINVAL;
	time_t tt = timegm(&tm);
	/* timegm normalises 31 February into March: a date that moved was not a date. */
	if (tt == (time_t)-1 || tm.tm_mday != v[2] || tm.tm_mon != v[1] - 1)
		return -EINVAL;
	*t = (int64_t)tt;
	return 0;
}

static void format_iso_basic(int64_t t, char out[17])
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (!gmtime_r(&tt, &tm) || strftime(out, 17, "%Y%m%dT%H%M%SZ", &tm) != 16)
		snprintf(out, 17, "%s", "?");
}

/* The HTTP Date header's IMF-fixdate ("Sun, 30 Aug 2015 12:36:00 GMT") as ISO basic. */
static int http_date_to_iso(const char *s, char out[17])
{
	static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
	char iso[17];
	int mon = -1;

	if (strlen(s) != 29 || s[3] != ',' || s[4] != ' ' || s[7] != ' ' || s[11] != ' ' ||
	    s[16] != ' ' || s[19] != ':' || s[22] != ':' || strcmp(s + 25, " GMT") != 0)
		return -EINVAL;
	for (int m = 0; m < 12; m++)
		if (memcmp(s + 8, months + 3 * m, 3) == 0)
			mon = m + 1;
	if (mon < 0)
		return -EINVAL;
	/* Fields by position: YYYY at 12, DD at 5, HH:MM:SS at 17, 20, 23. */
	memcpy(iso, s + 12, 4);
	iso[4] = (char)('0' + mon / 10);
	iso[5] = (char)('0' + mon % 10);
	memcpy(iso + 6, s + 5, 2);
	iso[8] = 'T';
	memcpy(iso + 9, s + 17, 2);
	memcpy(iso + 11, s + 20, 2);
	memcpy(iso + 13, s + 23, 2);
	iso[15] = 'Z';
	iso[16] = '\0';
	int64_t t;
	if (parse_iso_basic(iso, &t) != 0)
		return -EINVAL;
	memcpy(out, iso, 17);
	return 0;
}

/* ---- the signature's parts, from the header or the query ---- */

struct sig_parts {
	char *signed_headers;     /* ';'-separated, as the client sent them */
	uint8_t signature[32];
	char ts[17];              /* the request time, ISO basic */
	int64_t t;
	int64_t expires;          /* presigned only */
	bool query_token;         /* presigned with X-Amz-Security-Token */
	char *creq_no_token;      /* then the canonical request without it */
};

/* "AK/YYYYMMDD/REGION/SERVICE/aws4_request" (n bytes) into res's scope fields. */
static int parse_credential(const char *s, size_t n, struct ctl_sigv4_result *res)
{
	const char *part[5];
	size_t plen[5], k = 0;
	const char *p = s, *end = s + n;

	while (k < 5) {
		const char *slash = memchr(p, '/', (size_t)(end - p));
		part[k] = p;
		plen[k] = slash ? (size_t)(slash - p) : (size_t)(end - p);
		k++;
		if (!slash)
			break;
		p = slash + 1;
	}
	if (k != 5 || part[4] + plen[4] != end)
		return fail(res, CTL_SIGV4_ERR_INCOMPLETE,
			    "Credential should be of the form "
			    "ACCESS_KEY/YYYYMMDD/REGION/SERVICE/aws4_request, not '%.*s'.",
			    (int)(n > QUOTE_MAX ? QUOTE_MAX : n), s);
	if (plen[0] == 0 || !copy_field(res->access_key, sizeof(res->access_key), part[0], plen[0]))
		return fail(res, CTL_SIGV4_ERR_INCOMPLETE,
			    "Credential has an empty or too long access key id.");
	/* Service first: the error names follow it from here on. */
	if (plen[3] == 0 || !copy_field(res->service, sizeof(res->service), part[3], plen[3]))
		return fail(res, CTL_SIGV4_ERR_INCOMPLETE,
			    "Credential should be scoped to a valid service, not '%.*s'.",
			    (int)(plen[3] > QUOTE_MAX ? QUOTE_MAX : plen[3]), part[3]);
	bool date_ok = plen[1] == 8;
	for (size_t i = 0; date_ok && i < 8; i++)
		date_ok = part[1][i] >= '0' && part[1][i] <= '9';
	if (!date_ok || !copy_field(res->date, sizeof(res->date), part[1], plen[1]))
		return fail(res, CTL_SIGV4_ERR_INCOMPLETE,
			    "Credential should be scoped to a valid date (YYYYMMDD), not '%.*s'.",
			    (int)(plen[1] > QUOTE_MAX ? QUOTE_MAX : plen[1]), part[1]);
	if (plen[2] == 0 || !copy_field(res->region, sizeof(res->region), part[2], plen[2]))
		return fail(res, CTL_SIGV4_ERR_INCOMPLETE,
			    "Credential should be scoped to a valid region, not '%.*s'.",
			    (int)(plen[2] > QUOTE_MAX ? QUOTE_MAX : plen[2]), part[2]);
	if (plen[4] != strlen(TERMINATOR) || memcmp(part[4], TERMINATOR, plen[4]) != 0)
		return fail(res, CTL_SIGV4_ERR_INCOMPLETE,
			    "Credential should be scoped with a valid terminator: '" TERMINATOR
			    "', not '%.*s'.",
			    (int)(plen[4] > QUOTE_MAX ? QUOTE_MAX : plen[4]), part[4]);
	return 0;
}

/* The signed header list: non-empty names of token characters separated by ';', host among them. */
static int check_signed_headers(const char *s, struct ctl_sigv4_result *res)
{
	bool host = false;
	const char *p = s;
	unsigned count = 0;

	for (;;) {
		if (++count > CTL_SIGV4_MAX_SIGNED_HEADERS)
			return fail(res, CTL_SIGV4_ERR_INCOMPLETE,
				    "SignedHeaders lists more than %d headers.",
				    CTL_SIGV4_MAX_SIGNED_HEADERS);
		const char *semi = strchr(p, ';');
		size_t n = semi ? (size_t)(semi - p) : strlen(p);
		if (n == 0)
			return fail(res, CTL_SIGV4_ERR_INCOMPLETE,
				    "SignedHeaders has an empty header name: '%.*s'.", QUOTE_MAX, s);
		for (size_t i = 0; i < n; i++) {
			unsigned char c = (unsigned char)p[i];
			if (c <= ' ' || c >= 0x7f || c == ':' || c == ',')
				return fail(res, CTL_SIGV4_ERR_INCOMPLETE,
					    "SignedHeaders has an invalid header name: '%.*s'.",
					    QUOTE_MAX, s);
		}
		if (n == 4 && strncasecmp(p, "host", 4) == 0)
			host = true;
		if (!semi)
			break;
		p = semi + 1;
	}
	if (!host)
		return fail(res, CTL_SIGV4_ERR_INCOMPLETE,
			    "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.");
	return 0;
}

static int parse_signature_hex(const char *s, size_t n, struct sig_parts *sp,
			       struct ctl_sigv4_result *res)
{
	if (hex_decode(s, n, sp->signature, sizeof(sp->signature)) != 0)
		return fail(res, CTL_SIGV4_ERR_INCOMPLETE,
			    "Signature should be 64 hexadecimal digits, not '%.*s'.",
			    (int)(n > QUOTE_MAX ? QUOTE_MAX : n), s);
	return 0;
}

/*
 * The Authorization header: "AWS4-HMAC-SHA256 Credential=..., SignedHeaders=..., Signature=...".
 * Components may come in any order, each once; spaces around them are allowed.
 */
static int parse_authorization(const char *auth, struct sig_parts *sp, struct ctl_sigv4_result *res)
{
	const char *p = auth, *val[3] = { NULL, NULL, NULL };
	size_t vlen[3] = { 0, 0, 0 };
	static const char *const names[3] = { "Credential", "SignedHeaders", "Signature" };
	int rc;

	while (is_ws(*p))
		p++;
	size_t alen = 0;
	while (p[alen] && !is_ws(p[alen]))
		alen++;
	if (alen != strlen(ALGORITHM) || memcmp(p, ALGORITHM, alen) != 0)
		return fail(res, CTL_SIGV4_ERR_INCOMPLETE,
			    "Unsupported AWS 'algorithm': '%.*s'; only '" ALGORITHM
			    "' is accepted.", (int)(alen > QUOTE_MAX ? QUOTE_MAX : alen), p);
	p += alen;
	while (*p) {
		while (is_ws(*p) || *p == ',')
			p++;
		if (!*p)
			break;
		const char *comma = strchr(p, ',');
		size_t n = comma ? (size_t)(comma - p) : strlen(p);
		while (n && is_ws(p[n - 1]))
			n--;
		const char *eq = memchr(p, '=', n);
		if (!eq)
			return fail(res, CTL_SIGV4_ERR_INCOMPLETE,
				    "Authorization header requires each component to be of the form "
				    "key=value, not '%.*s'.", (int)(n > QUOTE_MAX ? QUOTE_MAX : n), p);
		size_t klen = (size_t)(eq - p);
		bool known = false;
		for (int k = 0; k < 3; k++) {
			if (klen != strlen(names[k]) || memcmp(p, names[k], klen) != 0)
				continue;
			if (val[k])
				return fail(res, CTL_SIGV4_ERR_INCOMPLETE,
					    "Authorization header has '%s' more than once.", names[k]);
			val[k] = eq + 1;
			vlen[k] = n - klen - 1;
			known = true;
		}
		if (!known)
			return fail(res, CTL_SIGV4_ERR_INCOMPLETE,
				    "Authorization header has an unknown component '%.*s'.",
				    (int)(klen > QUOTE_MAX ? QUOTE_MAX : klen), p);
		p += comma ? (size_t)(comma - p) : strlen(p);
	}
	if (!val[0] || !val[1] || !val[2]) {
		char msg[200] = "";
		for (int k = 0; k < 3; k++)
			if (!val[k])
				snprintf(msg + strlen(msg), sizeof(msg) - strlen(msg),
					 "%sAuthorization header requires '%s' parameter.",
					 msg[0] ? " " : "", names[k]);
		return fail(res, CTL_SIGV4_ERR_INCOMPLETE, "%s", msg);
	}
	if ((rc = parse_credential(val[0], vlen[0], res)) != 0)
		return rc;
	if ((rc = parse_signature_hex(val[2], vlen[2], sp, res)) != 0)
		return rc;
	sp->signed_headers = strndup(val[1], vlen[1]);
	if (!sp->signed_headers)
		return fail_nomem(res);
	return check_signed_headers(sp->signed_headers, res);
}

/* The X-Amz-* parameters of a presigned query string. */
static int parse_presigned(const char *q, struct sig_parts *sp, struct ctl_sigv4_result *res)
{
	static const char *const names[6] = { "X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Date",
					      "X-Amz-Expires", "X-Amz-SignedHeaders",
					      "X-Amz-Signature" };
	char *v[6] = { NULL };
	bool nomem = false;
	int rc = 0;

	res->presigned = 1;
	for (int k = 0; k < 6; k++) {
		size_t count;
		v[k] = find_query(q, names[k], &count, &nomem);
		if (nomem) {
			rc = fail_nomem(res);
			goto out;
		}
		if (count != 1) {
			rc = fail(res, CTL_SIGV4_ERR_INCOMPLETE,
				  "Query-string authentication requires the %s parameter %s.", names[k],
				  count ? "only once" : "");
			goto out;
		}
	}
	if (strcmp(v[0], ALGORITHM) != 0) {
		rc = fail(res, CTL_SIGV4_ERR_INCOMPLETE,
			  "X-Amz-Algorithm only supports '" ALGORITHM "', not '%.*s'.", QUOTE_MAX, v[0]);
		goto out;
	}
	if ((rc = parse_credential(v[1], strlen(v[1]), res)) != 0)
		goto out;
	if (parse_iso_basic(v[2], &sp->t) != 0) {
		rc = fail(res, CTL_SIGV4_ERR_INCOMPLETE,
			  "X-Amz-Date must be in the ISO8601 Long Format \"yyyyMMdd'T'HHmmss'Z'\", "
			  "not '%.*s'.", QUOTE_MAX, v[2]);
		goto out;
	}
	memcpy(sp->ts, v[2], 17);
	char *end = NULL;
	errno = 0;
	long long e = strtoll(v[3], &end, 10);
	if (errno || end == v[3] || *end || v[3][0] < '0' || v[3][0] > '9' || e < 1 ||
	    e > CTL_SIGV4_MAX_EXPIRES_S) {
		rc = fail(res, CTL_SIGV4_ERR_INCOMPLETE,
			  "X-Amz-Expires must be a number of seconds from 1 to %d, not '%.*s'.",
			  CTL_SIGV4_MAX_EXPIRES_S, QUOTE_MAX, v[3]);
		goto out;
	}
	sp->expires = e;
	if ((rc = parse_signature_hex(v[5], strlen(v[5]), sp, res)) != 0)
		goto out;
	sp->signed_headers = v[4];
	v[4] = NULL;
	rc = check_signed_headers(sp->signed_headers, res);
out:
	for (int k = 0; k < 6; k++)
		free(v[k]);
	return rc;
}

/* ---- canonical request ---- */

static void canonical_uri(struct sbuf *b, const char *path, bool normalize)
{
	if (!path || !*path)
		path = "/";
	if (!normalize) {
		if (path[0] != '/')
			sb_putc(b, '/');
		sb_reenc(b, path, strlen(path), true);
		return;
	}
	/* Segments between '/': "" and "." dropped, ".." drops the one before, as AWS normalises. */
	size_t n = strlen(path), nseg = 0, cap = 1;
	for (size_t i = 0; i < n; i++)
		cap += path[i] == '/';
	struct { const char *s; size_t n; } *seg = malloc(cap * sizeof(*seg));
	if (!seg) {
		b->oom = true;
		return;
	}
	for (const char *p = path; p <= path + n;) {
		const char *slash = memchr(p, '/', (size_t)(path + n - p));
		size_t len = slash ? (size_t)(slash - p) : (size_t)(path + n - p);
		if (len == 2 && p[0] == '.' && p[1] == '.') {
			if (nseg)
				nseg--;
		} else if (len && !(len == 1 && p[0] == '.')) {
			seg[nseg].s = p;
			seg[nseg++].n = len;
		}
		if (!slash)
			break;
		p = slash + 1;
	}
	sb_putc(b, '/');
	for (size_t i = 0; i < nseg; i++) {
		if (i)
			sb_putc(b, '/');
		sb_enc(b, seg[i].s, seg[i].n);
	}
	if (nseg && path[n - 1] == '/')
		sb_putc(b, '/');
	free(seg);
}

struct qparam {
	char *kv;     /* "key=value", both encoded */
	size_t klen;  /* length of the key part */
};

static int qparam_cmp(const void *a, const void *b)
{
	const struct qparam *x = a, *y = b;
	size_t n = x->klen < y->klen ? x->klen : y->klen;
	int c = memcmp(x->kv, y->kv, n);

	if (c)
		return c;
	if (x->klen != y->klen)
		return x->klen < y->klen ? -1 : 1;
	return strcmp(x->kv + x->klen, y->kv + y->klen);
}

/*
 * Sorted "k=v&k=v", each part decoded then encoded. A presigned request's X-Amz-Signature is
 * left out, and so is its X-Amz-Security-Token when skip_token (a token added after signing).
 */
static void canonical_query(struct sbuf *b, const char *q, bool presigned, bool skip_token)
{
	size_t cap = 1, n = 0;

	if (!q || !*q)
		return;
	for (const char *p = q; *p; p++)
		cap += *p == '&';
	struct qparam *qp = calloc(cap, sizeof(*qp));
	if (!qp) {
		b->oom = true;
		return;
	}
	for (const char *p = q;;) {
		const char *amp = strchr(p, '&');
		size_t len = amp ? (size_t)(amp - p) : strlen(p);
		const char *eq = memchr(p, '=', len);
		size_t klen = eq ? (size_t)(eq - p) : len;
		if (len) {
			struct sbuf kv = { 0 };
			sb_reenc(&kv, p, klen, false);
			bool drop = presigned && kv.p &&
				    (strcmp(kv.p, "X-Amz-Signature") == 0 ||
				     (skip_token && strcmp(kv.p, "X-Amz-Security-Token") == 0));
			size_t ek = kv.len;
			sb_putc(&kv, '=');
			if (eq)
				sb_reenc(&kv, eq + 1, len - klen - 1, false);
			if (kv.oom) {
				free(kv.p);
				b->oom = true;
				break;
			}
			if (drop) {
				free(kv.p);
			} else {
				qp[n].kv = kv.p;
				qp[n++].klen = ek;
			}
		}
		if (!amp)
			break;
		p = amp + 1;
	}
	if (!b->oom) {
		qsort(qp, n, sizeof(*qp), qparam_cmp);
		for (size_t i = 0; i < n; i++) {
			if (i)
				sb_putc(b, '&');
			sb_puts(b, qp[i].kv);
		}
	}
	for (size_t i = 0; i < n; i++)
		free(qp[i].kv);
	free(qp);
}

/* Append a header value trimmed, with each run of whitespace inside as one space. */
static void sb_header_value(struct sbuf *b, const char *v)
{
	bool space = false, started = false;

	for (; *v; v++) {
		if (is_ws(*v)) {
			space = started;
			continue;
		}
		if (space)
			sb_putc(b, ' ');
		space = false;
		started = true;
		sb_putc(b, *v);
	}
}

/* "name:v1,v2\n" for each signed header, in the order of the list, names lowercased. */
static void canonical_headers(struct sbuf *b, const struct ctl_sigv4_req *r, const char *list)
{
	for (const char *p = list;;) {
		const char *semi = strchr(p, ';');
		size_t n = semi ? (size_t)(semi - p) : strlen(p);
		for (size_t i = 0; i < n; i++)
			sb_putc(b, (char)((p[i] >= 'A' && p[i] <= 'Z') ? p[i] + 32 : p[i]));
		sb_putc(b, ':');
		bool first = true;
		for (size_t i = 0; i < r->n_hdrs; i++) {
			const char *name = r->hdrs[i].name;
			if (!name || !r->hdrs[i].value || strlen(name) != n ||
			    strncasecmp(name, p, n) != 0)
				continue;
			if (!first)
				sb_putc(b, ',');
			first = false;
			sb_header_value(b, r->hdrs[i].value);
		}
		sb_putc(b, '\n');
		if (!semi)
			break;
		p = semi + 1;
	}
}

/* The hashed payload that goes into the canonical request, checking a sent hash against the body. */
static int payload_hash(const struct ctl_sigv4_req *r, bool presigned, char out[65],
			struct sbuf *b, struct ctl_sigv4_result *res)
{
	const char *sent;
	uint8_t md[32], claimed[32];
	bool s3 = strcmp(res->service, "s3") == 0;

	if (find_header(r, "x-amz-content-sha256", &sent) > 1)
		return fail(res, CTL_SIGV4_ERR_INCOMPLETE,
			    "x-amz-content-sha256 header must be sent only once.");
	if (sha256(r->body_len ? r->body : "", r->body_len, md) != 0)
		return fail_nomem(res);
	if (!sent) {
		if (presigned && s3)
			sb_puts(b, "UNSIGNED-PAYLOAD");
		else {
			hex_encode(md, 32, out);
			sb_puts(b, out);
		}
		return 0;
	}
	struct sbuf v = { 0 };
	sb_header_value(&v, sent);
	if (v.oom) {
		free(v.p);
		return fail_nomem(res);
	}
	const char *val = v.p ? v.p : "";
	if (hex_decode(val, strlen(val), claimed, 32) == 0) {
		if (CRYPTO_memcmp(claimed, md, 32) != 0) {
			free(v.p);
			return fail(res, CTL_SIGV4_ERR_PAYLOAD_MISMATCH,
				    "The provided 'x-amz-content-sha256' header does not match what "
				    "was computed.");
		}
	} else if (strcmp(val, "UNSIGNED-PAYLOAD") != 0 && strncmp(val, "STREAMING-", 10) != 0) {
		free(v.p);
		return fail(res, CTL_SIGV4_ERR_INCOMPLETE,
			    "x-amz-content-sha256 must be UNSIGNED-PAYLOAD, STREAMING-... or a SHA-256 "
			    "hex digest.");
	}
	sb_puts(b, val);
	free(v.p);
	return 0;
}

/* Everything up to the signature: parse, check the date, build the canonical request. */
/* The signature's parts from the Authorization header or the query, and the request time. */
static int parse_request(const struct ctl_sigv4_req *r, struct sig_parts *sp,
			 struct ctl_sigv4_result *res)
{
	const char *auth, *date;
	size_t nauth = find_header(r, "authorization", &auth);
	int rc;

	memset(res, 0, sizeof(*res));
	memset(sp, 0, sizeof(*sp));
	if (nauth > 1)
		return fail(res, CTL_SIGV4_ERR_INCOMPLETE,
			    "The request has more than one Authorization header.");
	if (nauth == 1) {
		if ((rc = parse_authorization(auth, sp, res)) != 0)
			return rc;
		size_t nd = find_header(r, "x-amz-date", &date);
		if (nd > 1)
			return fail(res, CTL_SIGV4_ERR_INCOMPLETE,
				    "X-Amz-Date header must be sent only once.");
		if (nd == 1) {
			struct sbuf d = { 0 };
			sb_header_value(&d, date);
			if (d.oom) {
				free(d.p);
				return fail_nomem(res);
			}
			rc = parse_iso_basic(d.p ? d.p : "", &sp->t);
			if (rc == 0)
				memcpy(sp->ts, d.p, 17);
			else
				fail(res, CTL_SIGV4_ERR_INCOMPLETE,
				     "Date must be in ISO-8601 'basic format'. Got '%.*s'.", QUOTE_MAX,
				     d.p ? d.p : "");
			free(d.p);
			if (rc)
				return -EACCES;
		} else if (find_header(r, "date", &date) == 1) {
			if (http_date_to_iso(date, sp->ts) != 0 || parse_iso_basic(sp->ts, &sp->t))
				return fail(res, CTL_SIGV4_ERR_INCOMPLETE,
					    "Date header must be an HTTP date "
					    "('Sun, 30 Aug 2015 12:36:00 GMT'). Got '%.*s'.",
					    QUOTE_MAX, date);
		} else {
			return fail(res, CTL_SIGV4_ERR_INCOMPLETE,
				    "Authorization header requires existence of either a 'X-Amz-Date' "
				    "or a 'Date' header.");
		}
	} else {
		size_t count;
		bool nomem = false;
		char *sig = find_query(r->query, "X-Amz-Signature", &count, &nomem);
		char *alg = find_query(r->query, "X-Amz-Algorithm", &count, &nomem);
		bool unsigned_req = !sig && !alg;
		free(sig);
		free(alg);
		if (nomem)
			return fail_nomem(res);
		if (unsigned_req)
			return fail(res, CTL_SIGV4_ERR_MISSING, "Missing Authentication Token");
		if ((rc = parse_presigned(r->query, sp, res)) != 0)
			return rc;
	}
	if (memcmp(res->date, sp->ts, 8) != 0)
		return fail(res, CTL_SIGV4_ERR_MISMATCH,
			    "Date in Credential scope does not match YYYYMMDD from ISO-8601 version "
			    "of date from HTTP: '%s' != '%.8s', from '%s'.", res->date, sp->ts, sp->ts);
	return 0;
}

/* The canonical request of r with the parts parse_request found. */
static int build_canonical(const struct ctl_sigv4_req *r, struct sig_parts *sp,
			   struct sbuf *creq, struct ctl_sigv4_result *res)
{
	bool nomem = false;
	size_t ntok;
	int rc;

	if (res->presigned) {
		free(find_query(r->query, "X-Amz-Security-Token", &ntok, &nomem));
		if (nomem)
			return fail_nomem(res);
		sp->query_token = ntok > 0;
	}
	bool normalize = r->uri == CTL_SIGV4_URI_NORMALIZE ||
			 (r->uri == CTL_SIGV4_URI_AUTO && strcmp(res->service, "s3") != 0);
	char hash[65];
	sb_puts(creq, r->method ? r->method : "");
	sb_putc(creq, '\n');
	canonical_uri(creq, r->path, normalize);
	sb_putc(creq, '\n');
	size_t query_start = creq->len;
	canonical_query(creq, r->query, res->presigned, false);
	size_t query_end = creq->len;
	sb_putc(creq, '\n');
	canonical_headers(creq, r, sp->signed_headers);
	sb_putc(creq, '\n');
	sb_puts(creq, sp->signed_headers);
	sb_putc(creq, '\n');
	if ((rc = payload_hash(r, res->presigned, hash, creq, res)) != 0)
		return rc;
	if (creq->oom)
		return fail_nomem(res);
	if (sp->query_token) {
		/*
		 * Some clients add X-Amz-Security-Token to a presigned URL after signing it (AWS's
		 * suite case post-sts-header-after): keep the canonical request without it as well.
		 */
		struct sbuf alt = { 0 };
		sb_put(&alt, creq->p, query_start);
		canonical_query(&alt, r->query, true, true);
		sb_puts(&alt, creq->p + query_end);
		if (alt.oom) {
			free(alt.p);
			return fail_nomem(res);
		}
		sp->creq_no_token = alt.p;
	}
	return 0;
}

int ctl_sigv4_canonical_request(const struct ctl_sigv4_req *r, bool without_query_token,
				char **out, struct ctl_sigv4_result *res)
{
	struct sig_parts sp;
	struct sbuf creq = { 0 };
	int rc = parse_request(r, &sp, res);

	if (rc == 0)
		rc = build_canonical(r, &sp, &creq, res);
	free(sp.signed_headers);
	if (rc == 0 && without_query_token) {
		free(creq.p);
		creq.p = sp.creq_no_token;
		sp.creq_no_token = NULL;
		if (!creq.p)
			rc = -ENOENT;
	}
	free(sp.creq_no_token);
	if (rc) {
		free(creq.p);
		return rc;
	}
	*out = creq.p;
	return 0;
}

/* The time check: 15 minutes either way, or a presigned URL's window. */
static int check_time(const struct sig_parts *sp, int64_t now, struct ctl_sigv4_result *res)
{
	char a[17], b[17];

	if (res->presigned) {
		if (sp->t - CTL_SIGV4_MAX_SKEW_S > now)
			return fail(res, CTL_SIGV4_ERR_EXPIRED, "Request is not valid yet");
		if (now > sp->t + sp->expires)
			return fail(res, CTL_SIGV4_ERR_EXPIRED, "Request has expired");
		return 0;
	}
	if (sp->t < now - CTL_SIGV4_MAX_SKEW_S) {
		format_iso_basic(now - CTL_SIGV4_MAX_SKEW_S, a);
		format_iso_basic(now, b);
		return fail(res, CTL_SIGV4_ERR_EXPIRED,
			    "Signature expired: %s is now earlier than %s (%s - 15 min.)", sp->ts, a, b);
	}
	if (sp->t > now + CTL_SIGV4_MAX_SKEW_S) {
		format_iso_basic(now + CTL_SIGV4_MAX_SKEW_S, a);
		format_iso_basic(now, b);
		return fail(res, CTL_SIGV4_ERR_EXPIRED,
			    "Signature not yet current: %s is still later than %s (%s + 15 min.)",
			    sp->ts, a, b);
	}
	return 0;
}

/* The signature of canonical request creq under secret: string to sign, then the key chain. */
static int signature(const char *creq, size_t len, const struct sig_parts *sp,
		     const struct ctl_sigv4_result *res, const char *secret, uint8_t sig[32])
{
	struct sbuf sts = { 0 }, kdate = { 0 };
	uint8_t h[32], k[32];
	char hex[65];
	int rc = -ENOMEM;

	if (sha256(creq, len, h) != 0)
		goto out;
	hex_encode(h, 32, hex);
	sb_puts(&sts, ALGORITHM "\n");
	sb_puts(&sts, sp->ts);
	sb_putc(&sts, '\n');
	sb_puts(&sts, res->date);
	sb_putc(&sts, '/');
	sb_puts(&sts, res->region);
	sb_putc(&sts, '/');
	sb_puts(&sts, res->service);
	sb_puts(&sts, "/" TERMINATOR "\n");
	sb_puts(&sts, hex);
	sb_puts(&kdate, "AWS4");
	sb_puts(&kdate, secret);
	if (sts.oom || kdate.oom)
		goto out;
	if (hmac256(kdate.p, kdate.len, res->date, strlen(res->date), k) ||
	    hmac256(k, 32, res->region, strlen(res->region), k) ||
	    hmac256(k, 32, res->service, strlen(res->service), k) ||
	    hmac256(k, 32, TERMINATOR, strlen(TERMINATOR), k) ||
	    hmac256(k, 32, sts.p, sts.len, sig))
		goto out;
	rc = 0;
out:
	OPENSSL_cleanse(k, sizeof(k));
	if (kdate.p)
		OPENSSL_cleanse(kdate.p, kdate.len);
	free(kdate.p);
	free(sts.p);
	return rc;
}

int ctl_sigv4_verify(const struct ctl_sigv4_req *r, ctl_sigv4_secret_fn secret, void *arg,
		     int64_t now_s, struct ctl_sigv4_result *res)
{
	struct sig_parts sp;
	struct sbuf creq = { 0 };
	uint8_t sig[32];
	int rc = parse_request(r, &sp, res);

	if (rc)
		goto out;
	/* Key and clock first: a stranger's request costs no canonicalisation. */
	const char *key = secret ? secret(arg, res->access_key) : NULL;
	if (!key) {
		rc = fail(res, CTL_SIGV4_ERR_UNKNOWN_KEY,
			  "The security token included in the request is invalid.");
		goto out;
	}
	if ((rc = check_time(&sp, now_s, res)) != 0)
		goto out;
	if ((rc = build_canonical(r, &sp, &creq, res)) != 0)
		goto out;
	if (signature(creq.p, creq.len, &sp, res, key, sig) != 0) {
		rc = fail_nomem(res);
		goto out;
	}
	rc = CRYPTO_memcmp(sig, sp.signature, 32) == 0 ? 0 : -EACCES;
	if (rc && sp.creq_no_token) {
		if (signature(sp.creq_no_token, strlen(sp.creq_no_token), &sp, res, key, sig) != 0) {
			rc = fail_nomem(res);
			goto out;
		}
		rc = CRYPTO_memcmp(sig, sp.signature, 32) == 0 ? 0 : -EACCES;
	}
	if (rc)
		fail(res, CTL_SIGV4_ERR_MISMATCH,
		     "The request signature we calculated does not match the signature you "
		     "provided. Check your AWS Secret Access Key and signing method. Consult "
		     "the service documentation for details.");
out:
	free(creq.p);
	free(sp.signed_headers);
	free(sp.creq_no_token);
	return rc;
}

int ctl_sigv4_scope(const char *authorization, struct ctl_sigv4_result *res)
{
	struct sig_parts sp;
	int rc;

	memset(res, 0, sizeof(*res));
	memset(&sp, 0, sizeof(sp));
	if (!authorization)
		return fail(res, CTL_SIGV4_ERR_MISSING, "Missing Authentication Token"), -EINVAL;
	rc = parse_authorization(authorization, &sp, res);
	free(sp.signed_headers);
	return rc == 0 ? 0 : rc == -ENOMEM ? -ENOMEM : -EINVAL;
}

int ctl_sigv4_scope_req(const struct ctl_sigv4_req *r, struct ctl_sigv4_result *res)
{
	const char *auth;
	size_t n = find_header(r, "authorization", &auth), count;
	bool nomem = false;
	int rc;

	if (n == 1)
		return ctl_sigv4_scope(auth, res);
	memset(res, 0, sizeof(*res));
	if (n > 1)
		return fail(res, CTL_SIGV4_ERR_INCOMPLETE,
			    "The request has more than one Authorization header."), -EINVAL;
	char *cred = find_query(r->query, "X-Amz-Credential", &count, &nomem);
	if (nomem) {
		free(cred);
		return fail_nomem(res);
	}
	if (!cred)
		return fail(res, CTL_SIGV4_ERR_MISSING, "Missing Authentication Token"), -EINVAL;
	res->presigned = 1;
	rc = parse_credential(cred, strlen(cred), res);
	free(cred);
	return rc ? -EINVAL : 0;
}
