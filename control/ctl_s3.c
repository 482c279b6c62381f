/* SPDX-License-Identifier: MIT */
/*
 * ctl_s3: see ctl_s3.h. Request decoding (path, query, Range, tokens) and the listing page cut
 * are pure functions at the top; the file system walk, the ETag cache and the handlers follow.
 * XML is written with stdio on an open_memstream() buffer; every text that came from a client or
 * a file name goes through xml_text().
 */
#include "ctl_s3.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "ctl_b64.h"
#include "ctl_log.h"

#define S3_NS "http://s3.amazonaws.com/doc/2006-03-01/"
#define S3_XML "application/xml"
#define S3_READ_ONLY "This appliance's S3 view is read-only: objects come from delivery streams"
/* ETag cache slots: 8192 objects' hashes (about 1 MB with their paths). A slot is replaced on
 * collision; a miss only costs one more read of the file. */
#define S3_ETAG_SLOTS 8192
/* Deepest key: 1024 bytes hold at most 512 levels ("a/a/..."). */
#define S3_MAX_DEPTH 512

struct etag_ent {
	char *path;            /* "bucket/key" */
	dev_t dev;
	ino_t ino;
	uint64_t size;
	int64_t mtime_ns;
	unsigned char md5[16];
};

struct ctl_s3 {
	char *root;
	struct etag_ent *etags;  /* S3_ETAG_SLOTS */
};

/* ---- request decoding ----------------------------------------------------------------------------- */

static bool starts_with(const char *s, const char *p)
{
	return strncmp(s, p, strlen(p)) == 0;
}

bool ctl_s3_bucket_valid(const char *name, size_t len)
{
	if (len < 3 || len > CTL_S3_MAX_BUCKET)
		return false;
	bool dotted_digits = true;  /* an IPv4 address: only digits and three dots */
	unsigned dots = 0;
	for (size_t i = 0; i < len; i++) {
		char ch = name[i];
		bool alnum = (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9');
		if (!alnum && ch != '.' && ch != '-')
			return false;
		if ((i == 0 || i == len - 1) && !alnum)
			return false;
		if (ch == '.') {
			dots++;
			if (i + 1 < len && name[i + 1] == '.')
				return false;
		} else if (ch < '0' || ch > '9') {
			dotted_digits = false;
		}
	}
	if (dotted_digits && dots == 3)
		return false;
	if (strncmp(name, "xn--", 4) == 0)
		return false;
	if ((len >= 8 && memcmp(name + len - 8, "-s3alias", 8) == 0) ||
	    (len >= 7 && memcmp(name + len - 7, "--ol-s3", 7) == 0))
		return false;
	return true;
}

static int hexval(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

long ctl_s3_decode(const char *in, size_t n, bool plus_space, char *out, size_t outsz)
{
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		char ch = in[i];
		if (ch == '%') {
			if (n - i < 3)
				return -EINVAL;
			int hi = hexval(in[i + 1]);
			int lo = hexval(in[i + 2]);
			if (hi < 0 || lo < 0)
				return -EINVAL;
			ch = (char)(hi << 4 | lo);
			i += 2;
		} else if (ch == '+' && plus_space) {
			ch = ' ';
		}
		if (ch == '\0')
			return -EINVAL;
		if (o + 1 >= outsz)
			return -ENAMETOOLONG;
		out[o++] = ch;
	}
	if (outsz == 0)
		return -ENAMETOOLONG;
	out[o] = '\0';
	return (long)o;
}

int ctl_s3_target_parse(const char *path, struct ctl_s3_target *t)
{
	t->bucket[0] = '\0';
	t->key[0] = '\0';
	t->key_len = 0;
	if (path[0] != '/')
		return -EINVAL;
	const char *b = path + 1;
	size_t bl = strcspn(b, "/");
	if (bl == 0)
		return b[0] == '\0' ? 0 : -EINVAL;  /* "/" alone, or "//..." */
	if (bl > 3 * CTL_S3_MAX_BUCKET)
		return -EBADR;
	long r = ctl_s3_decode(b, bl, false, t->bucket, sizeof(t->bucket));
	if (r == -ENAMETOOLONG)
		return -EBADR;
	if (r < 0)
		return (int)r;
	if (!ctl_s3_bucket_valid(t->bucket, (size_t)r))
		return -EBADR;
	if (b[bl] == '\0' || b[bl + 1] == '\0')
		return 0;
	const char *k = b + bl + 1;
	r = ctl_s3_decode(k, strlen(k), false, t->key, sizeof(t->key));
	if (r < 0) {
		t->key[0] = '\0';
		return (int)r;
	}
	t->key_len = (size_t)r;
	return 0;
}

bool ctl_s3_utf8_valid(const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0;
	while (i < n) {
		unsigned c = p[i];
		if (c < 0x80) {
			i++;
			continue;
		}
		size_t len;
		uint32_t cp, min;
		if ((c & 0xe0) == 0xc0) {
			len = 2; cp = c & 0x1f; min = 0x80;
		} else if ((c & 0xf0) == 0xe0) {
			len = 3; cp = c & 0x0f; min = 0x800;
		} else if ((c & 0xf8) == 0xf0) {
			len = 4; cp = c & 0x07; min = 0x10000;
		} else {
			return false;
		}
		if (i + len > n)
			return false;
		for (size_t j = 1; j < len; j++) {
			if ((p[i + j] & 0xc0) != 0x80)
				return false;
			cp = cp << 6 | (p[i + j] & 0x3f);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		i += len;
	}
	return true;
}

int ctl_s3_key_check(const char *key, size_t len)
{
	if (len == 0)
		return -ENOENT;
	if (key[0] == '/')
		return -EPERM;
	if (memchr(key, '\0', len))
		return -EPERM;
	int hidden = 0;
	for (size_t i = 0; i <= len;) {
		size_t e = i;
		while (e < len && key[e] != '/')
			e++;
		size_t sl = e - i;
		if ((sl == 1 && key[i] == '.') || (sl == 2 && key[i] == '.' && key[i + 1] == '.'))
			return -EPERM;
		if (sl == 0 || key[i] == '.')
			hidden = -ENOENT;  /* keep looking: a later ".." segment is refused outright */
		i = e + 1;
	}
	if (hidden)
		return hidden;
	return ctl_s3_utf8_valid(key, len) ? 0 : -ENOENT;
}

int ctl_s3_query_get(const char *query, const char *name, char *out, size_t outsz)
{
	size_t nl = strlen(name);
	const char *p = query ? query : "";
	while (*p) {
		size_t pl = strcspn(p, "&");
		size_t kl = strcspn(p, "=&");
		/* Names are compared decoded: clients escape nothing in S3's parameter names, but a
		 * "%2D" spelling must not slip past a check. */
		char kbuf[64];
		long k = kl < sizeof(kbuf) * 3 ? ctl_s3_decode(p, kl, true, kbuf, sizeof(kbuf)) : -1;
		if (k >= 0 && (size_t)k == nl && memcmp(kbuf, name, nl) == 0) {
			const char *v = p + kl;
			size_t vl = 0;
			if (kl < pl) {
				v++;
				vl = pl - kl - 1;
			}
			long r = ctl_s3_decode(v, vl, true, out, outsz);
			return r < 0 ? (int)r : 1;
		}
		p += pl;
		if (*p == '&')
			p++;
	}
	return 0;
}

static int parse_u64(const char *s, size_t n, uint64_t *out)
{
	if (n == 0 || n > 19)
		return -EINVAL;
	uint64_t v = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -EINVAL;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	*out = v;
	return 0;
}

int ctl_s3_range_parse(const char *hdr, uint64_t size, uint64_t *first, uint64_t *last)
{
	if (!hdr)
		return 0;
	while (*hdr == ' ' || *hdr == '\t')
		hdr++;
	if (strncasecmp(hdr, "bytes=", 6) != 0)
		return 0;
	const char *r = hdr + 6;
	size_t n = strlen(r);
	while (n && (r[n - 1] == ' ' || r[n - 1] == '\t'))
		n--;
	const char *dash = memchr(r, '-', n);
	if (!dash || memchr(r, ',', n))
		return 0;  /* not one range: the whole object, as S3 answers */
	size_t al = (size_t)(dash - r), bl = n - al - 1;
	uint64_t a, b;
	if (al == 0) {
		/* bytes=-N: the last N bytes. */
		if (parse_u64(dash + 1, bl, &b) < 0)
			return 0;
		if (b == 0 || size == 0)
			return -ERANGE;
		*first = b >= size ? 0 : size - b;
		*last = size - 1;
		return 1;
	}
	if (parse_u64(r, al, &a) < 0)
		return 0;
	if (bl == 0) {
		b = UINT64_MAX;
	} else if (parse_u64(dash + 1, bl, &b) < 0 || b < a) {
		return 0;  /* syntactically invalid: ignored (RFC 9110 14.2) */
	}
	if (a >= size)
		return -ERANGE;
	*first = a;
	*last = b >= size ? size - 1 : b;
	return 1;
}

size_t ctl_s3_list_page(char *const *keys, size_t n, const struct ctl_s3_list_query *q,
			struct ctl_s3_item *items, bool *truncated)
{
	size_t plen = strlen(q->prefix), dlen = strlen(q->delimiter), count = 0;
	*truncated = false;
	for (size_t i = 0; i < n; i++) {
		const char *k = keys[i];
		if (strncmp(k, q->prefix, plen) != 0)
			continue;
		if (q->after[0]) {
			if (strcmp(k, q->after) <= 0)
				continue;
			if (q->after_is_prefix && starts_with(k, q->after))
				continue;
		}
		const char *d = dlen ? strstr(k + plen, q->delimiter) : NULL;
		if (d) {
			size_t cl = (size_t)(d - k) + dlen;
			if (count && items[count - 1].prefix && items[count - 1].len == cl &&
			    strncmp(keys[items[count - 1].idx], k, cl) == 0)
				continue;  /* already rolled up */
			if (count == q->max_keys) {
				*truncated = true;
				break;
			}
			items[count++] = (struct ctl_s3_item){ i, cl, true };
			continue;
		}
		if (count == q->max_keys) {
			*truncated = true;
			break;
		}
		items[count++] = (struct ctl_s3_item){ i, strlen(k), false };
	}
	return count;
}

int ctl_s3_token_encode(const char *last, size_t len, bool prefix, char *out, size_t outsz)
{
	char raw[CTL_S3_MAX_KEY + 2];
	if (len > CTL_S3_MAX_KEY || ctl_b64_enc_len(len + 1) + 1 > outsz)
		return -ENAMETOOLONG;
	raw[0] = prefix ? 'P' : 'K';
	memcpy(raw + 1, last, len);
	ctl_b64_encode(raw, len + 1, out);
	return 0;
}

int ctl_s3_token_decode(const char *token, char *after, size_t aftersz, bool *prefix)
{
	size_t n = strlen(token);
	uint8_t raw[CTL_S3_MAX_KEY + 4];
	if (n == 0 || ctl_b64_dec_max(n) > sizeof(raw))
		return -EINVAL;
	long r = ctl_b64_decode(token, n, raw);
	if (r < 1 || (raw[0] != 'P' && raw[0] != 'K') || memchr(raw + 1, '\0', (size_t)r - 1) ||
	    (size_t)r > aftersz)
		return -EINVAL;
	*prefix = raw[0] == 'P';
	memcpy(after, raw + 1, (size_t)r - 1);
	after[r - 1] = '\0';
	return 0;
}

/* ---- XML ----------------------------------------------------------------------------------------- */

/* Text content: XML's five escapes, control characters as character references (S3 does the
 * same; encoding-type=url avoids them altogether), or URL encoding for encoding-type=url (all
 * but RFC 3986's unreserved characters and '/', so '+' and ' ' survive botocore's unquote_plus). */
static void xml_text(FILE *f, const char *s, size_t n, bool url)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];
		if (url) {
			if ((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
			    (ch >= '0' && ch <= '9') || strchr("-_.~/", ch))
				fputc(ch, f);
			else
				fprintf(f, "%%%02X", ch);
			continue;
		}
		switch (ch) {
		case '<': fputs("&lt;", f); break;
		case '>': fputs("&gt;", f); break;
		case '&': fputs("&amp;", f); break;
		case '"': fputs("&quot;", f); break;
		case '\'': fputs("&apos;", f); break;
		default:
			if (ch < 0x20 || ch == 0x7f)
				fprintf(f, "&#x%X;", ch);
			else
				fputc(ch, f);
		}
	}
}

static void xml_elem(FILE *f, const char *name, const char *s, bool url)
{
	fprintf(f, "<%s>", name);
	xml_text(f, s, strlen(s), url);
	fprintf(f, "</%s>", name);
}

/* ISO 8601 as S3's listings write times: whole seconds (".000Z"), so that a listing and the
 * object's Last-Modified (an HTTP date, seconds only) name the same instant. */
static void iso_time(int64_t ns, char out[32])
{
	time_t t = (time_t)(ns / 1000000000);
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(out, 32, "%Y-%m-%dT%H:%M:%S.000Z", &tm);
}

/* RFC 7231 IMF-fixdate for Last-Modified. */
static void http_time(time_t t, char out[40])
{
	struct tm tm;
	gmtime_r(&t, &tm);
	static const char days[7][4] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" };
	static const char mons[12][4] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug",
					  "Sep", "Oct", "Nov", "Dec" };
	snprintf(out, 40, "%s, %02d %s %04d %02d:%02d:%02d GMT", days[tm.tm_wday], tm.tm_mday,
		 mons[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

static bool http_time_parse(const char *s, time_t *out)
{
	struct tm tm;
	memset(&tm, 0, sizeof(tm));
	const char *e = strptime(s, "%a, %d %b %Y %H:%M:%S GMT", &tm);
	if (!e || *e)
		return false;
	*out = timegm(&tm);
	return true;
}

/* ---- answers ------------------------------------------------------------------------------------- */

struct xbuf {
	FILE *f;
	char *buf;
	size_t len;
};

static int xopen(struct xbuf *x)
{
	x->buf = NULL;
	x->len = 0;
	x->f = open_memstream(&x->buf, &x->len);
	if (!x->f)
		return -ENOMEM;
	fputs("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n", x->f);
	return 0;
}

static void s3_error(struct ctl_aws_call *c, unsigned status, const char *code,
		     const char *resource, const char *const *extra, const char *fmt, ...)
	__attribute__((format(printf, 6, 7)));

/* Send x's document (200 or status) with the request id S3 names x-amz-request-id. */
static void xsend(struct ctl_aws_call *c, struct xbuf *x, unsigned status)
{
	if (fclose(x->f) != 0 || !x->buf) {
		free(x->buf);
		ctl_aws_reply(c, 500, S3_XML, NULL, 0, NULL);
		return;
	}
	const char *hdrs[] = { "x-amz-request-id", ctl_aws_request_id(c), NULL };
	ctl_aws_reply(c, status, S3_XML, x->buf, x->len, hdrs);
}

static void s3_error(struct ctl_aws_call *c, unsigned status, const char *code,
		     const char *resource, const char *const *extra, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	struct xbuf x;
	if (xopen(&x) < 0) {
		ctl_aws_reply(c, 500, S3_XML, NULL, 0, NULL);
		return;
	}
	fputs("<Error>", x.f);
	xml_elem(x.f, "Code", code, false);
	xml_elem(x.f, "Message", msg, false);
	if (resource)
		xml_elem(x.f, "Resource", resource, false);
	if (strcmp(code, "MethodNotAllowed") == 0) {
		xml_elem(x.f, "Method", ctl_aws_method(c), false);
		xml_elem(x.f, "ResourceType", strchr(resource ? resource + 1 : "", '/') ? "OBJECT"
										: "BUCKET", false);
	}
	xml_elem(x.f, "RequestId", ctl_aws_request_id(c), false);
	fputs("</Error>", x.f);
	if (fclose(x.f) != 0 || !x.buf) {
		free(x.buf);
		ctl_aws_reply(c, 500, S3_XML, NULL, 0, NULL);
		return;
	}
	const char *hdrs[8] = { "x-amz-request-id", ctl_aws_request_id(c) };
	size_t n = 2;
	for (size_t i = 0; extra && extra[i] && n < 6; i += 2) {
		hdrs[n++] = extra[i];
		hdrs[n++] = extra[i + 1];
	}
	hdrs[n] = NULL;
	ctl_aws_reply(c, status, S3_XML, x.buf, x.len, hdrs);
}

/* The front-end's own errors (signature, body size) in S3's shape. A request whose signature
 * names no scope gets the JSON protocols' names from ctl_sigv4: S3 calls them otherwise. */
static void s3_front_error(void *svc, struct ctl_aws_call *c, unsigned status, const char *code,
			   const char *message)
{
	static const struct { const char *json, *s3; } names[] = {
		{ "MissingAuthenticationTokenException", "AccessDenied" },
		{ "IncompleteSignatureException", "AuthorizationHeaderMalformed" },
		{ "InvalidSignatureException", "SignatureDoesNotMatch" },
		{ "UnrecognizedClientException", "InvalidAccessKeyId" },
		{ "RequestEntityTooLargeException", "EntityTooLarge" },
		{ "InternalFailure", "InternalError" },
	};
	(void)svc;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp(code, names[i].json) == 0)
			code = names[i].s3;
	s3_error(c, status, code, NULL, NULL, "%s", message);
}

/* ---- the file system ----------------------------------------------------------------------------- */

static int open_root(struct ctl_s3 *s)
{
	return open(s->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
}

/* The bucket's directory (never through a symlink), or -ENOENT and the like. */
static int open_bucket(struct ctl_s3 *s, const char *bucket)
{
	int rfd = open_root(s);
	if (rfd < 0)
		return -errno;
	int fd = openat(rfd, bucket, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	int e = errno;
	close(rfd);
	return fd < 0 ? -e : fd;
}

/*
 * Open key (checked with ctl_s3_key_check) below the bucket directory bfd one level at a time,
 * never following a symlink, and check it is a regular file. Returns the fd (blocking, read
 * only) with *st filled, or -ENOENT for anything that is not a servable object.
 */
static int open_object(int bfd, const char *key, struct stat *st)
{
	char seg[CTL_S3_MAX_KEY + 1];
	int dfd = bfd;
	const char *p = key;
	for (;;) {
		size_t sl = strcspn(p, "/");
		memcpy(seg, p, sl);
		seg[sl] = '\0';
		bool last = p[sl] == '\0';
		/* O_NONBLOCK: a FIFO planted in the tree must not stall the control thread. */
		int fd = openat(dfd, seg, O_RDONLY | O_NOFOLLOW | O_CLOEXEC |
				(last ? O_NONBLOCK : O_DIRECTORY));
		int e = errno;
		if (dfd != bfd)
			close(dfd);
		if (fd < 0)
			return e == ENOMEM ? -ENOMEM : -ENOENT;
		if (last) {
			if (fstat(fd, st) < 0 || !S_ISREG(st->st_mode)) {
				close(fd);
				return -ENOENT;
			}
			(void)fcntl(fd, F_SETFL, O_RDONLY);
			return fd;
		}
		dfd = fd;
		p += sl + 1;
	}
}

static int64_t mtime_ns(const struct stat *st)
{
	return (int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec;
}

/* ---- ETags --------------------------------------------------------------------------------------- */

static size_t etag_slot(const char *path, const struct stat *st)
{
	uint64_t h = 1469598103934665603ull;  /* FNV-1a */
	for (const char *p = path; *p; p++)
		h = (h ^ (unsigned char)*p) * 1099511628211ull;
	h ^= (uint64_t)st->st_ino * 0x9e3779b97f4a7c15ull;
	return (size_t)(h % S3_ETAG_SLOTS);
}

static int md5_fd(int fd, unsigned char md[16])
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	char *buf = malloc(1 << 20);
	int rc = -ENOMEM;
	if (!ctx || !buf || EVP_DigestInit_ex(ctx, EVP_md5(), NULL) != 1)
		goto out;
	off_t off = 0;
	for (;;) {
		ssize_t r = pread(fd, buf, 1 << 20, off);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			rc = -errno;
			goto out;
		}
		if (r == 0)
			break;
		EVP_DigestUpdate(ctx, buf, (size_t)r);
		off += r;
	}
	unsigned len = 16;
	rc = EVP_DigestFinal_ex(ctx, md, &len) == 1 ? 0 : -EIO;
out:
	free(buf);
	EVP_MD_CTX_free(ctx);
	return rc;
}

/* The quoted ETag of the object path ("bucket/key") open as fd with st. */
static int etag_get(struct ctl_s3 *s, const char *path, int fd, const struct stat *st,
		    char out[35])
{
	struct etag_ent *e = &s->etags[etag_slot(path, st)];
	if (!(e->path && e->dev == st->st_dev && e->ino == st->st_ino &&
	      e->size == (uint64_t)st->st_size && e->mtime_ns == mtime_ns(st) &&
	      strcmp(e->path, path) == 0)) {
		unsigned char md[16];
		int r = md5_fd(fd, md);
		if (r < 0)
			return r;
		char *p = strdup(path);
		if (!p)
			return -ENOMEM;
		free(e->path);
		*e = (struct etag_ent){ p, st->st_dev, st->st_ino, (uint64_t)st->st_size,
					mtime_ns(st), { 0 } };
		memcpy(e->md5, md, 16);
	}
	out[0] = '"';
	for (int i = 0; i < 16; i++)
		snprintf(out + 1 + 2 * i, 3, "%02x", e->md5[i]);
	out[33] = '"';
	out[34] = '\0';
	return 0;
}

/* ---- the walk ------------------------------------------------------------------------------------ */

struct s3_obj {
	char *key;
	uint64_t size;
	int64_t mtime_ns;
};

struct scan {
	struct s3_obj *v;
	size_t n, cap;
	const char *prefix;
	size_t plen;
	int err;
};

static int scan_add(struct scan *sc, const char *key, size_t kl, const struct stat *st)
{
	if (sc->n == CTL_S3_MAX_SCAN)
		return -EFBIG;
	if (sc->n == sc->cap) {
		size_t cap = sc->cap ? sc->cap * 2 : 256;
		struct s3_obj *nv = realloc(sc->v, cap * sizeof(*nv));
		if (!nv)
			return -ENOMEM;
		sc->v = nv;
		sc->cap = cap;
	}
	char *k = strndup(key, kl);
	if (!k)
		return -ENOMEM;
	sc->v[sc->n++] = (struct s3_obj){ k, (uint64_t)st->st_size, mtime_ns(st) };
	return 0;
}

/* Walk directory dfd (owned; closed here) whose entries have keys key[0..kl) + name. */
static int scan_dir(struct scan *sc, int dfd, char *key, size_t kl, unsigned depth)
{
	DIR *d = fdopendir(dfd);
	if (!d) {
		close(dfd);
		return -errno;
	}
	int rc = 0;
	struct dirent *de;
	while (rc == 0 && (de = readdir(d)) != NULL) {
		const char *name = de->d_name;
		size_t nl = strlen(name);
		if (name[0] == '.' || kl + nl > CTL_S3_MAX_KEY || !ctl_s3_utf8_valid(name, nl))
			continue;
		memcpy(key + kl, name, nl);
		key[kl + nl] = '\0';
		struct stat st;
		if (fstatat(dirfd(d), name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue;  /* gone since readdir */
		if (S_ISREG(st.st_mode)) {
			if (kl + nl >= sc->plen && strncmp(key, sc->prefix, sc->plen) == 0)
				rc = scan_add(sc, key, kl + nl, &st);
			continue;
		}
		if (!S_ISDIR(st.st_mode) || depth >= S3_MAX_DEPTH || kl + nl + 1 > CTL_S3_MAX_KEY)
			continue;
		key[kl + nl] = '/';
		key[kl + nl + 1] = '\0';
		/* Only directories that can hold keys under the prefix. */
		size_t dl = kl + nl + 1;
		if (strncmp(key, sc->prefix, dl < sc->plen ? dl : sc->plen) != 0)
			continue;
		int fd = openat(dirfd(d), name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0) {
			/* Out of descriptors or memory: fail the listing rather than leave keys out. */
			if (errno == EMFILE || errno == ENFILE || errno == ENOMEM)
				rc = -errno;
			continue;
		}
		rc = scan_dir(sc, fd, key, dl, depth + 1);
	}
	closedir(d);
	return rc;
}

static int obj_cmp(const void *a, const void *b)
{
	return strcmp(((const struct s3_obj *)a)->key, ((const struct s3_obj *)b)->key);
}

static void scan_free(struct scan *sc)
{
	for (size_t i = 0; i < sc->n; i++)
		free(sc->v[i].key);
	free(sc->v);
}

/* ---- handlers ------------------------------------------------------------------------------------- */

static void list_buckets(struct ctl_s3 *s, struct ctl_aws_call *c)
{
	int rfd = open_root(s);
	DIR *d = rfd >= 0 ? fdopendir(rfd) : NULL;
	if (rfd >= 0 && !d)
		close(rfd);
	struct scan names = { .prefix = "" };
	struct dirent *de;
	while (d && (de = readdir(d)) != NULL) {
		struct stat st;
		if (!ctl_s3_bucket_valid(de->d_name, strlen(de->d_name)) ||
		    fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
		    !S_ISDIR(st.st_mode))
			continue;
		/* Creation date: the directory's status change time, the closest a file system
		 * keeps to its birth without statx. */
		st.st_mtim = st.st_ctim;
		if (scan_add(&names, de->d_name, strlen(de->d_name), &st) < 0)
			break;
	}
	if (d)
		closedir(d);
	qsort(names.v, names.n, sizeof(*names.v), obj_cmp);
	struct xbuf x;
	if (xopen(&x) < 0) {
		scan_free(&names);
		ctl_aws_internal(c, "out of memory");
		return;
	}
	fprintf(x.f, "<ListAllMyBucketsResult xmlns=\"%s\"><Owner><ID>%s</ID><DisplayName>ingestd"
		"</DisplayName></Owner><Buckets>", S3_NS, ctl_aws_account(c));
	for (size_t i = 0; i < names.n; i++) {
		char t[32];
		iso_time(names.v[i].mtime_ns, t);
		fputs("<Bucket>", x.f);
		xml_elem(x.f, "Name", names.v[i].key, false);
		xml_elem(x.f, "CreationDate", t, false);
		fputs("</Bucket>", x.f);
	}
	fputs("</Buckets></ListAllMyBucketsResult>", x.f);
	scan_free(&names);
	xsend(c, &x, 200);
}

/* Query parameters that name S3 subresources this view does not implement. */
static const char *const unsupported[] = {
	"acl", "policy", "policyStatus", "versioning", "tagging", "lifecycle", "cors", "website",
	"logging", "uploads", "uploadId", "versions", "encryption", "notification", "replication",
	"requestPayment", "accelerate", "analytics", "inventory", "metrics", "ownershipControls",
	"publicAccessBlock", "object-lock", "intelligent-tiering", "attributes", "retention",
	"legal-hold", "torrent", "restore", "select", "delete", "versionId",
};

static const char *unsupported_param(const char *query)
{
	char v[8];
	for (size_t i = 0; i < sizeof(unsupported) / sizeof(unsupported[0]); i++) {
		int r = ctl_s3_query_get(query, unsupported[i], v, sizeof(v));
		if (r != 0)
			return unsupported[i];
	}
	return NULL;
}

/* Read a query parameter for a listing; answers InvalidArgument and returns -1 when bad. */
static int list_param(struct ctl_aws_call *c, const char *name, char *out, size_t n)
{
	int r = ctl_s3_query_get(ctl_aws_query(c), name, out, n);
	if (r < 0) {
		s3_error(c, 400, r == -ENAMETOOLONG ? "KeyTooLongError" : "InvalidArgument", NULL, NULL,
			 r == -ENAMETOOLONG ? "The value of %s is longer than 1024 bytes"
					    : "The value of %s is not properly percent-encoded", name);
		return -1;
	}
	if (r == 0)
		out[0] = '\0';
	return r;
}

static void list_objects(struct ctl_s3 *s, struct ctl_aws_call *c, const char *bucket, int bfd,
			 bool v2)
{
	char prefix[CTL_S3_MAX_KEY + 1], delim[CTL_S3_MAX_KEY + 1], after[CTL_S3_MAX_KEY + 1];
	char token[2 * CTL_S3_MAX_KEY], start_after[CTL_S3_MAX_KEY + 1], mk[32], enc[16], fo[8];
	char resource[CTL_S3_MAX_BUCKET + 2];
	snprintf(resource, sizeof(resource), "/%s", bucket);
	struct s3_obj *objs = NULL;
	char **keys = NULL;
	struct ctl_s3_item *items = NULL;
	struct scan sc = { 0 };
	int has_token = 0;
	fo[0] = '\0';
	bool after_prefix = false;
	if (list_param(c, "prefix", prefix, sizeof(prefix)) < 0 ||
	    list_param(c, "delimiter", delim, sizeof(delim)) < 0 ||
	    list_param(c, "max-keys", mk, sizeof(mk)) < 0 ||
	    list_param(c, "encoding-type", enc, sizeof(enc)) < 0)
		goto out;
	if (v2) {
		if ((has_token = list_param(c, "continuation-token", token, sizeof(token))) < 0 ||
		    list_param(c, "start-after", start_after, sizeof(start_after)) < 0 ||
		    list_param(c, "fetch-owner", fo, sizeof(fo)) < 0)
			goto out;
	} else if (list_param(c, "marker", start_after, sizeof(start_after)) < 0) {
		goto out;
	}
	if (enc[0] && strcmp(enc, "url") != 0) {
		s3_error(c, 400, "InvalidArgument", resource, NULL, "Invalid Encoding Method "
			 "specified in Request");
		goto out;
	}
	unsigned max_keys = CTL_S3_MAX_KEYS;
	if (mk[0]) {
		uint64_t v;
		if (parse_u64(mk, strlen(mk), &v) < 0 || v > INT32_MAX) {
			s3_error(c, 400, "InvalidArgument", resource, NULL, "Provided max-keys not an "
				 "integer or within integer range");
			goto out;
		}
		max_keys = v > CTL_S3_MAX_KEYS ? CTL_S3_MAX_KEYS : (unsigned)v;
	}
	snprintf(after, sizeof(after), "%s", start_after);
	if (has_token) {
		if (ctl_s3_token_decode(token, after, sizeof(after), &after_prefix) < 0) {
			s3_error(c, 400, "InvalidArgument", resource, NULL, "The continuation token "
				 "provided is incorrect");
			goto out;
		}
		/* start-after only counts when it is past the token's place. */
		if (strcmp(start_after, after) > 0) {
			snprintf(after, sizeof(after), "%s", start_after);
			after_prefix = false;
		}
	} else if (!v2 && delim[0] && after[0]) {
		/* A v1 NextMarker that is a common prefix continues after everything under it. */
		size_t al = strlen(after), dl = strlen(delim);
		after_prefix = al >= dl && strcmp(after + al - dl, delim) == 0;
	}

	char keybuf[CTL_S3_MAX_KEY + 2];
	sc.prefix = prefix;
	sc.plen = strlen(prefix);
	int r = scan_dir(&sc, bfd, keybuf, 0, 0);
	bfd = -1;
	if (r < 0) {
		if (r == -EFBIG)
			ctl_log(CTL_LOG_WARN, "S3 listing of bucket %s stopped at %d objects; list with "
				"a narrower prefix", bucket, CTL_S3_MAX_SCAN);
		s3_error(c, 500, "InternalError", resource, NULL, "The bucket could not be listed: %s",
			 r == -EFBIG ? "more objects under this prefix than one listing walks; use a "
				       "narrower prefix" : strerror(-r));
		goto out;
	}
	objs = sc.v;
	qsort(objs, sc.n, sizeof(*objs), obj_cmp);
	keys = malloc((sc.n + 1) * sizeof(*keys));
	items = malloc((max_keys + 1) * sizeof(*items));
	if (!keys || !items) {
		ctl_aws_internal(c, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < sc.n; i++)
		keys[i] = objs[i].key;
	struct ctl_s3_list_query q = { prefix, delim, after, after_prefix, max_keys };
	bool truncated;
	size_t ni = ctl_s3_list_page(keys, sc.n, &q, items, &truncated);

	bool url = enc[0] != '\0';
	struct xbuf x;
	if (xopen(&x) < 0) {
		ctl_aws_internal(c, "out of memory");
		goto out;
	}
	fprintf(x.f, "<ListBucketResult xmlns=\"%s\">", S3_NS);
	xml_elem(x.f, "Name", bucket, false);
	xml_elem(x.f, "Prefix", prefix, url);
	if (v2) {
		if (has_token)
			xml_elem(x.f, "ContinuationToken", token, false);
		if (start_after[0])
			xml_elem(x.f, "StartAfter", start_after, url);
		fprintf(x.f, "<KeyCount>%zu</KeyCount>", ni);
	} else {
		xml_elem(x.f, "Marker", start_after, url);
	}
	fprintf(x.f, "<MaxKeys>%u</MaxKeys>", max_keys);
	if (delim[0])
		xml_elem(x.f, "Delimiter", delim, url);
	if (url)
		xml_elem(x.f, "EncodingType", "url", false);
	fprintf(x.f, "<IsTruncated>%s</IsTruncated>", truncated ? "true" : "false");
	if (truncated && ni) {
		const struct ctl_s3_item *l = &items[ni - 1];
		if (v2) {
			char next[2 * CTL_S3_MAX_KEY];
			if (ctl_s3_token_encode(keys[l->idx], l->len, l->prefix, next,
						sizeof(next)) == 0)
				xml_elem(x.f, "NextContinuationToken", next, false);
		} else if (delim[0]) {
			fputs("<NextMarker>", x.f);
			xml_text(x.f, keys[l->idx], l->len, url);
			fputs("</NextMarker>", x.f);
		}
	}
	char path[CTL_S3_MAX_BUCKET + CTL_S3_MAX_KEY + 2];
	int root_b = -1;
	for (size_t i = 0; i < ni; i++) {
		if (items[i].prefix)
			continue;
		const struct s3_obj *o = &objs[items[i].idx];
		char t[32], etag[35] = "\"\"";
		iso_time(o->mtime_ns, t);
		if (root_b < 0)
			root_b = open_bucket(s, bucket);
		struct stat st;
		int fd = root_b >= 0 ? open_object(root_b, o->key, &st) : -ENOENT;
		if (fd >= 0) {
			snprintf(path, sizeof(path), "%s/%s", bucket, o->key);
			if (etag_get(s, path, fd, &st, etag) < 0)
				snprintf(etag, sizeof(etag), "\"\"");
			close(fd);
		}
		fputs("<Contents>", x.f);
		xml_elem(x.f, "Key", o->key, url);
		xml_elem(x.f, "LastModified", t, false);
		xml_elem(x.f, "ETag", etag, false);
		fprintf(x.f, "<Size>%" PRIu64 "</Size><StorageClass>STANDARD</StorageClass>", o->size);
		if (!v2 || strcmp(fo, "true") == 0)
			fprintf(x.f, "<Owner><ID>%s</ID><DisplayName>ingestd</DisplayName></Owner>",
				ctl_aws_account(c));
		fputs("</Contents>", x.f);
	}
	if (root_b >= 0)
		close(root_b);
	for (size_t i = 0; i < ni; i++) {
		if (!items[i].prefix)
			continue;
		fputs("<CommonPrefixes><Prefix>", x.f);
		xml_text(x.f, keys[items[i].idx], items[i].len, url);
		fputs("</Prefix></CommonPrefixes>", x.f);
	}
	fputs("</ListBucketResult>", x.f);
	xsend(c, &x, 200);
out:
	if (bfd >= 0)
		close(bfd);
	scan_free(&sc);
	free(keys);
	free(items);
}

/* An If-Match / If-None-Match list ("*", or quoted tags, weak or not) against etag. */
static bool etag_matches(const char *list, const char *etag)
{
	const char *p = list;
	while (*p) {
		while (*p == ' ' || *p == '\t' || *p == ',')
			p++;
		size_t n = strcspn(p, ",");
		size_t m = n;
		while (m && (p[m - 1] == ' ' || p[m - 1] == '\t'))
			m--;
		const char *t = p;
		if (m >= 2 && t[0] == 'W' && t[1] == '/') {
			t += 2;
			m -= 2;
		}
		if ((m == 1 && t[0] == '*') || (m == strlen(etag) && memcmp(t, etag, m) == 0) ||
		    (m == strlen(etag) - 2 && memcmp(t, etag + 1, m) == 0))
			return true;
		p += n;
	}
	return false;
}

static const char *content_type(const char *key)
{
	static const struct { const char *ext, *type; } types[] = {
		{ ".json", "application/json" }, { ".txt", "text/plain" }, { ".csv", "text/csv" },
		{ ".parquet", "application/vnd.apache.parquet" }, { ".html", "text/html" },
	};
	const char *dot = strrchr(key, '.');
	const char *slash = strrchr(key, '/');
	if (dot && (!slash || dot > slash))
		for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
			if (strcmp(dot, types[i].ext) == 0)
				return types[i].type;
	return "application/octet-stream";
}

/* GetObject and HeadObject: the transport sends HEAD's headers without the bytes. */
static void get_object(struct ctl_s3 *s, struct ctl_aws_call *c, const struct ctl_s3_target *t,
		       int bfd)
{
	char resource[CTL_S3_MAX_BUCKET + CTL_S3_MAX_KEY + 3];
	snprintf(resource, sizeof(resource), "/%s/%s", t->bucket, t->key);
	struct stat st;
	int fd = open_object(bfd, t->key, &st);
	close(bfd);
	if (fd < 0) {
		if (fd == -ENOMEM)
			ctl_aws_internal(c, "out of memory");
		else
			s3_error(c, 404, "NoSuchKey", resource, NULL, "The specified key does not exist.");
		return;
	}
	char etag[35];
	int r = etag_get(s, resource + 1, fd, &st, etag);
	if (r < 0) {
		close(fd);
		s3_error(c, 500, "InternalError", resource, NULL, "The object could not be read: %s",
			 strerror(-r));
		return;
	}
	char lm[40], cr[80];
	http_time(st.st_mtim.tv_sec, lm);
	uint64_t size = (uint64_t)st.st_size, first = 0, last = size ? size - 1 : 0;
	time_t when;
	const char *h;
	const char *hdrs[16] = { "x-amz-request-id", ctl_aws_request_id(c), "ETag", etag,
				 "Last-Modified", lm, "Accept-Ranges", "bytes" };
	size_t nh = 8;
	/* Preconditions in RFC 9110's order, as S3 evaluates them. */
	if ((h = ctl_aws_header(c, "If-Match")) && !etag_matches(h, etag)) {
		close(fd);
		s3_error(c, 412, "PreconditionFailed", resource, NULL, "At least one of the "
			 "pre-conditions you specified did not hold");
		return;
	}
	if (!ctl_aws_header(c, "If-Match") && (h = ctl_aws_header(c, "If-Unmodified-Since")) &&
	    http_time_parse(h, &when) && st.st_mtim.tv_sec > when) {
		close(fd);
		s3_error(c, 412, "PreconditionFailed", resource, NULL, "At least one of the "
			 "pre-conditions you specified did not hold");
		return;
	}
	bool not_modified = false;
	if ((h = ctl_aws_header(c, "If-None-Match")))
		not_modified = etag_matches(h, etag);
	else if ((h = ctl_aws_header(c, "If-Modified-Since")) && http_time_parse(h, &when))
		not_modified = st.st_mtim.tv_sec <= when;
	if (not_modified) {
		close(fd);
		hdrs[nh] = NULL;
		ctl_aws_reply(c, 304, NULL, NULL, 0, hdrs);
		return;
	}
	unsigned status = 200;
	r = ctl_s3_range_parse(ctl_aws_header(c, "Range"), size, &first, &last);
	if (r == -ERANGE) {
		close(fd);
		snprintf(cr, sizeof(cr), "bytes */%" PRIu64, size);
		const char *extra[] = { "Content-Range", cr, NULL };
		s3_error(c, 416, "InvalidRange", resource, extra, "The requested range is not "
			 "satisfiable");
		return;
	}
	if (r == 1) {
		status = 206;
		snprintf(cr, sizeof(cr), "bytes %" PRIu64 "-%" PRIu64 "/%" PRIu64, first, last, size);
		hdrs[nh++] = "Content-Range";
		hdrs[nh++] = cr;
	}
	uint64_t n = size ? last - first + 1 : 0;
	hdrs[nh] = NULL;
	ctl_aws_reply_fd(c, status, content_type(t->key), fd, first, n, hdrs);
}

static void bucket_op(struct ctl_s3 *s, struct ctl_aws_call *c, const char *bucket, bool head)
{
	char resource[CTL_S3_MAX_BUCKET + 2];
	snprintf(resource, sizeof(resource), "/%s", bucket);
	int bfd = open_bucket(s, bucket);
	if (bfd < 0) {
		s3_error(c, 404, "NoSuchBucket", resource, NULL, "The specified bucket does not exist");
		return;
	}
	const char *q = ctl_aws_query(c);
	if (head) {
		close(bfd);
		const char *hdrs[] = { "x-amz-request-id", ctl_aws_request_id(c),
				       "x-amz-bucket-region", ctl_aws_region(c), NULL };
		ctl_aws_reply(c, 200, S3_XML, NULL, 0, hdrs);
		return;
	}
	char v[8];
	if (ctl_s3_query_get(q, "location", v, sizeof(v)) != 0) {
		close(bfd);
		struct xbuf x;
		if (xopen(&x) < 0) {
			ctl_aws_internal(c, "out of memory");
			return;
		}
		/* us-east-1 is written as an empty constraint, as S3 does. */
		const char *region = ctl_aws_region(c);
		fprintf(x.f, "<LocationConstraint xmlns=\"%s\">", S3_NS);
		if (strcmp(region, "us-east-1") != 0)
			xml_text(x.f, region, strlen(region), false);
		fputs("</LocationConstraint>", x.f);
		xsend(c, &x, 200);
		return;
	}
	int lt = ctl_s3_query_get(q, "list-type", v, sizeof(v));
	if (lt == 1 && strcmp(v, "2") != 0) {
		close(bfd);
		s3_error(c, 400, "InvalidArgument", resource, NULL, "Invalid List Type specified in "
			 "Request");
		return;
	}
	list_objects(s, c, bucket, bfd, lt == 1);
}

static void s3_handle(void *svc, struct ctl_aws_call *c)
{
	struct ctl_s3 *s = svc;
	const char *method = ctl_aws_method(c);
	const char *path = ctl_aws_path(c);
	bool head = strcmp(method, "HEAD") == 0;
	struct ctl_s3_target t;
	int r = ctl_s3_target_parse(path, &t);
	char resource[CTL_S3_MAX_BUCKET + CTL_S3_MAX_KEY + 3];
	snprintf(resource, sizeof(resource), "/%s%s%s", t.bucket, t.key_len ? "/" : "", t.key);
	if (!head && strcmp(method, "GET") != 0) {
		s3_error(c, 405, "MethodNotAllowed", r == 0 ? resource : NULL, NULL,
			 "The specified method is not allowed against this resource. " S3_READ_ONLY);
		return;
	}
	if (r == -EBADR) {
		s3_error(c, 400, "InvalidBucketName", NULL, NULL, "The specified bucket is not valid.");
		return;
	}
	if (r == -ENAMETOOLONG) {
		s3_error(c, 400, "KeyTooLongError", NULL, NULL, "Your key is too long");
		return;
	}
	if (r < 0) {
		s3_error(c, 400, "InvalidArgument", NULL, NULL, "The request path is not a valid "
			 "percent-encoded /bucket/key (a malformed escape or a NUL byte)");
		return;
	}
	const char *sub = unsupported_param(ctl_aws_query(c));
	if (t.bucket[0] && sub) {
		s3_error(c, 501, "NotImplemented", resource, NULL, "A header or query you provided "
			 "implies functionality that is not implemented: ?%s", sub);
		return;
	}
	if (!t.bucket[0]) {
		if (head) {
			s3_error(c, 405, "MethodNotAllowed", NULL, NULL, "The specified method is not "
				 "allowed against this resource.");
			return;
		}
		list_buckets(s, c);
		return;
	}
	if (!t.key_len) {
		bucket_op(s, c, t.bucket, head);
		return;
	}
	r = ctl_s3_key_check(t.key, t.key_len);
	if (r == -EPERM) {
		s3_error(c, 400, "InvalidArgument", resource, NULL, "Keys with \".\" or \"..\" "
			 "segments or a leading '/' are not served by this appliance");
		return;
	}
	int bfd = open_bucket(s, t.bucket);
	if (bfd < 0) {
		s3_error(c, 404, "NoSuchBucket", resource, NULL, "The specified bucket does not exist");
		return;
	}
	if (r < 0) {
		close(bfd);
		s3_error(c, 404, "NoSuchKey", resource, NULL, "The specified key does not exist.");
		return;
	}
	get_object(s, c, &t, bfd);
}

static bool s3_match(void *svc, const char *method, const char *path)
{
	(void)svc;
	if (path[0] != '/')
		return false;
	if (path[1] == '\0')
		return strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;
	return true;
}

/* ---- lifetime ------------------------------------------------------------------------------------- */

int ctl_s3_new(const char *root, struct ctl_s3 **ret)
{
	struct ctl_s3 *s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->root = strdup(root);
	s->etags = calloc(S3_ETAG_SLOTS, sizeof(*s->etags));
	if (!s->root || !s->etags) {
		ctl_s3_free(s);
		return -ENOMEM;
	}
	*ret = s;
	return 0;
}

void ctl_s3_free(struct ctl_s3 *s)
{
	if (!s)
		return;
	for (size_t i = 0; s->etags && i < S3_ETAG_SLOTS; i++)
		free(s->etags[i].path);
	free(s->etags);
	free(s->root);
	free(s);
}

int ctl_s3_register(struct ctl_s3 *s, struct ctl_aws *aws)
{
	struct ctl_aws_rest r = { .name = "s3", .match = s3_match, .fn = s3_handle, .svc = s,
				  .error = s3_front_error };
	return ctl_aws_register_rest(aws, &r);
}
