/* SPDX-License-Identifier: MIT */
/*
 * Firehose delivery helpers used by the control thread and the workers alike: growable
 * buffers, the prefix expression language (`!{timestamp:...}`, `!{firehose:...}`,
 * `!{partitionKeyFrom...:...}`) with the rules that keep every object inside its bucket, the
 * codecs (zlib, libzip, libsnappy with the framing and Hadoop block containers, libzstd) and the
 * atomic object writer. Stateless except for the random source; safe from any thread.
 */
#include "ctl_firehose_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <snappy-c.h>
#include <zip.h>
#include <zlib.h>
#include <zstd.h>

#include "dp_crc32c.h"

/* ---- buffers ------------------------------------------------------------------------------------ */

int fh_buf_reserve(struct fh_buf *b, size_t extra)
{
	if (b->cap - b->len >= extra)
		return 0;
	size_t cap = b->cap ? b->cap : 4096;
	while (cap - b->len < extra) {
		if (cap > SIZE_MAX / 2)
			return -ENOMEM;
		cap *= 2;
	}
	uint8_t *p;
	if (cap >= FH_ALIGNED_MIN) {
		/* Page-aligned, so that fh_object_write can hand it to the disk directly (O_DIRECT):
		 * big buffers are objects on their way out. */
		void *q;
		if (posix_memalign(&q, 4096, cap) != 0)
			return -ENOMEM;
		p = q;
		if (b->len)
			memcpy(p, b->p, b->len);
		free(b->p);
	} else {
		p = realloc(b->p, cap);
		if (!p)
			return -ENOMEM;
	}
	b->p = p;
	b->cap = cap;
	return 0;
}

int fh_buf_put(struct fh_buf *b, const void *p, size_t n)
{
	if (n == 0)
		return 0;
	int r = fh_buf_reserve(b, n);
	if (r < 0)
		return r;
	memcpy(b->p + b->len, p, n);
	b->len += n;
	return 0;
}

void fh_buf_free(struct fh_buf *b)
{
	free(b->p);
	*b = (struct fh_buf){ 0 };
}

/* ---- prefixes ----------------------------------------------------------------------------------- */

static const char alnum[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";

static void random_bytes(void *p, size_t n)
{
	uint8_t *b = p;
	while (n > 0) {
		ssize_t r = getrandom(b, n, 0);
		if (r <= 0) {
			/* getrandom cannot fail after boot except by EINTR; fall back to a clock mix
			 * rather than leave the bytes unset (names only need to be distinct). */
			struct timespec ts;
			clock_gettime(CLOCK_MONOTONIC, &ts);
			for (size_t i = 0; i < n; i++)
				b[i] = (uint8_t)(ts.tv_nsec >> (i % 24)) ^ (uint8_t)i;
			return;
		}
		b += r;
		n -= (size_t)r;
	}
}

static bool ts_format_ok(const char *f, size_t n)
{
	if (n == 0)
		return false;
	for (size_t i = 0; i < n;) {
		char ch = f[i];
		if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z')) {
			size_t j = i;
			while (j < n && f[j] == ch)
				j++;
			size_t run = j - i;
			bool ok = (ch == 'y' && (run == 4 || run == 2)) ||
				  (strchr("MdHms", ch) && run == 2);
			if (!ok)
				return false;
			i = j;
		} else if (strchr("/-_=.", ch)) {
			i++;
		} else {
			return false;
		}
	}
	return true;
}

static int ts_format(const char *f, size_t n, int64_t ts_ms, char *out, size_t cap)
{
	time_t t = (time_t)(ts_ms / 1000);
	struct tm tm;
	gmtime_r(&t, &tm);
	size_t o = 0;
	for (size_t i = 0; i < n;) {
		char ch = f[i];
		size_t j = i;
		while (j < n && f[j] == ch)
			j++;
		char tmp[8];
		int w;
		switch (ch) {
		case 'y':
			w = j - i == 4 ? snprintf(tmp, sizeof(tmp), "%04d", tm.tm_year + 1900) :
					 snprintf(tmp, sizeof(tmp), "%02d", (tm.tm_year + 1900) % 100);
			break;
		case 'M': w = snprintf(tmp, sizeof(tmp), "%02d", tm.tm_mon + 1); break;
		case 'd': w = snprintf(tmp, sizeof(tmp), "%02d", tm.tm_mday); break;
		case 'H': w = snprintf(tmp, sizeof(tmp), "%02d", tm.tm_hour); break;
		case 'm': w = snprintf(tmp, sizeof(tmp), "%02d", tm.tm_min); break;
		case 's': w = snprintf(tmp, sizeof(tmp), "%02d", tm.tm_sec); break;
		default:
			tmp[0] = ch;
			w = 1;
			j = i + 1;
			break;
		}
		if (o + (size_t)w >= cap)
			return -ENAMETOOLONG;
		memcpy(out + o, tmp, (size_t)w);
		o += (size_t)w;
		i = j;
	}
	return (int)o;
}

/* One expression `!{ns:arg}` starting at p (p[0..1] == "!{"): its namespace and argument. */
struct expr {
	const char *ns, *arg;
	size_t ns_len, arg_len, len;  /* len: the whole expression */
};

static int expr_parse(const char *p, struct expr *e)
{
	const char *close = strchr(p + 2, '}');
	if (!close)
		return -EINVAL;
	const char *colon = memchr(p + 2, ':', (size_t)(close - p - 2));
	if (!colon)
		return -EINVAL;
	e->ns = p + 2;
	e->ns_len = (size_t)(colon - e->ns);
	e->arg = colon + 1;
	e->arg_len = (size_t)(close - e->arg);
	e->len = (size_t)(close + 1 - p);
	return 0;
}

static bool is(const char *s, size_t n, const char *lit)
{
	return strlen(lit) == n && memcmp(s, lit, n) == 0;
}

bool fh_prefix_has_expr(const char *prefix)
{
	return prefix && strstr(prefix, "!{") != NULL;
}

bool fh_prefix_uses(const char *prefix, const char *ns)
{
	for (const char *p = prefix ? strstr(prefix, "!{") : NULL; p; p = strstr(p + 2, "!{")) {
		struct expr e;
		if (expr_parse(p, &e) == 0 && is(e.ns, e.ns_len, ns))
			return true;
	}
	return false;
}

bool fh_key_safe(const char *key)
{
	if (!key || !*key || key[0] == '/')
		return false;
	for (const char *s = key; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f || *s == '\\')
			return false;
	const char *seg = key;
	for (;;) {
		const char *slash = strchr(seg, '/');
		size_t n = slash ? (size_t)(slash - seg) : strlen(seg);
		if ((n == 0 && slash) || is(seg, n, ".") || is(seg, n, ".."))
			return false;
		if (!slash)
			return true;
		seg = slash + 1;
	}
}

int fh_keys_add(struct fh_keys *k, const char *name, const char *value, size_t vlen)
{
	size_t nl = strlen(name);
	if (nl == 0 || nl >= sizeof(k->name[0]) || vlen > FH_KEY_VALUE_MAX)
		return -EINVAL;
	if (k->n >= FH_KEYS_MAX)
		return -ENOSPC;
	memcpy(k->name[k->n], name, nl + 1);
	char *v = k->value[k->n];
	for (size_t i = 0; i < vlen; i++) {
		unsigned char ch = (unsigned char)value[i];
		v[i] = (ch < 0x20 || ch == 0x7f || ch == '/' || ch == '\\') ? '_' : (char)ch;
	}
	v[vlen] = 0;
	if (strcmp(v, ".") == 0)
		strcpy(v, "_");
	else if (strcmp(v, "..") == 0)
		strcpy(v, "__");
	k->n++;
	return 0;
}

static const char *keys_get(const struct fh_keys *k, const char *name, size_t n)
{
	for (unsigned i = 0; k && i < k->n; i++)
		if (is(name, n, k->name[i]))
			return k->value[i];
	return NULL;
}

int fh_prefix_check(const char *prefix, enum fh_prefix_kind kind, bool dynamic, char *why,
		    size_t n)
{
	if (strlen(prefix) > FH_PREFIX_MAX) {
		snprintf(why, n, "prefix longer than %d characters", FH_PREFIX_MAX);
		return -EINVAL;
	}
	/* A literal "." or ".." segment is refused even where the default time layout would follow
	 * it: a prefix names directories, and those two never name one inside the bucket. */
	for (const char *seg = prefix;;) {
		const char *slash = strchr(seg, '/');
		size_t sl = slash ? (size_t)(slash - seg) : strlen(seg);
		if (is(seg, sl, ".") || is(seg, sl, "..")) {
			snprintf(why, n, "prefix must not contain '.' or '..' path segments");
			return -EINVAL;
		}
		if (!slash)
			break;
		seg = slash + 1;
	}
	if (prefix[0] == '/') {
		snprintf(why, n, "prefix must not start with '/'");
		return -EINVAL;
	}
	for (const char *s = prefix; *s; s++) {
		if ((unsigned char)*s < 0x20 || *s == 0x7f || *s == '\\') {
			snprintf(why, n, "prefix contains a control character or backslash");
			return -EINVAL;
		}
	}
	struct fh_keys dummy = { 0 };
	for (const char *p = strstr(prefix, "!{"); p; p = strstr(p + 2, "!{")) {
		struct expr e;
		if (expr_parse(p, &e) < 0 || memchr(p + 2, '{', e.len - 2)) {
			snprintf(why, n, "expression at offset %zu is not of the form "
				 "!{namespace:value}", (size_t)(p - prefix));
			return -EINVAL;
		}
		if (is(e.ns, e.ns_len, "timestamp")) {
			if (!ts_format_ok(e.arg, e.arg_len)) {
				snprintf(why, n, "unsupported timestamp format '%.*s'", (int)e.arg_len,
					 e.arg);
				return -EINVAL;
			}
		} else if (is(e.ns, e.ns_len, "firehose")) {
			if (is(e.arg, e.arg_len, "random-string"))
				continue;
			if (!is(e.arg, e.arg_len, "error-output-type")) {
				snprintf(why, n, "unknown firehose expression '%.*s'", (int)e.arg_len,
					 e.arg);
				return -EINVAL;
			}
			if (kind != FH_PREFIX_ERROR) {
				snprintf(why, n, "!{firehose:error-output-type} is only allowed in "
					 "ErrorOutputPrefix");
				return -EINVAL;
			}
		} else if (is(e.ns, e.ns_len, "partitionKeyFromQuery") ||
			   is(e.ns, e.ns_len, "partitionKeyFromLambda")) {
			if (kind != FH_PREFIX_DATA || !dynamic) {
				snprintf(why, n, "partitionKeyFromQuery and partitionKeyFromLambda "
					 "expressions need dynamic partitioning and are not allowed "
					 "in ErrorOutputPrefix");
				return -EINVAL;
			}
			char name[64];
			if (e.arg_len == 0 || e.arg_len >= sizeof(name)) {
				snprintf(why, n, "partition key name must be 1..63 characters");
				return -EINVAL;
			}
			memcpy(name, e.arg, e.arg_len);
			name[e.arg_len] = 0;
			if (!keys_get(&dummy, name, e.arg_len))
				fh_keys_add(&dummy, name, "k", 1);
		} else {
			snprintf(why, n, "unknown expression namespace '%.*s'", (int)e.ns_len, e.ns);
			return -EINVAL;
		}
	}
	/* Whatever the expressions evaluate to, the literal parts must not leave the bucket: try
	 * it with harmless values. */
	char out[FH_EVAL_MAX + 64];
	int r = fh_prefix_eval(prefix, kind, 0, "processing-failed", &dummy, out, sizeof(out));
	if (r == -ENAMETOOLONG) {
		snprintf(why, n, "evaluated prefix longer than %d characters", FH_EVAL_MAX);
		return -EINVAL;
	}
	if (r < 0) {
		snprintf(why, n, "prefix cannot be evaluated");
		return -EINVAL;
	}
	if ((size_t)r + 1 < sizeof(out)) {
		out[r] = 'x';
		out[r + 1] = 0;
	}
	if (!fh_key_safe(out)) {
		snprintf(why, n, "prefix must not contain '.' or '..' path segments or '//'");
		return -EINVAL;
	}
	return 0;
}

int fh_prefix_eval(const char *prefix, enum fh_prefix_kind kind, int64_t ts_ms,
		   const char *error_type, const struct fh_keys *keys, char *out, size_t n)
{
	(void)kind;
	size_t o = 0;
	const char *p = prefix ? prefix : "";
	if (n == 0)
		return -ENAMETOOLONG;
	while (*p) {
		if (p[0] == '!' && p[1] == '{') {
			struct expr e;
			if (expr_parse(p, &e) < 0)
				return -EINVAL;
			char tmp[FH_KEY_VALUE_MAX + 1];
			int w;
			if (is(e.ns, e.ns_len, "timestamp")) {
				if (!ts_format_ok(e.arg, e.arg_len))
					return -EINVAL;
				w = ts_format(e.arg, e.arg_len, ts_ms, tmp, sizeof(tmp));
				if (w < 0)
					return w;
			} else if (is(e.ns, e.ns_len, "firehose") &&
				   is(e.arg, e.arg_len, "random-string")) {
				uint8_t rnd[11];
				random_bytes(rnd, sizeof(rnd));
				for (unsigned i = 0; i < 11; i++)
					tmp[i] = alnum[rnd[i] % (sizeof(alnum) - 1)];
				w = 11;
			} else if (is(e.ns, e.ns_len, "firehose") &&
				   is(e.arg, e.arg_len, "error-output-type")) {
				w = snprintf(tmp, sizeof(tmp), "%s", error_type ? error_type : "");
			} else if (is(e.ns, e.ns_len, "partitionKeyFromQuery") ||
				   is(e.ns, e.ns_len, "partitionKeyFromLambda")) {
				const char *v = keys_get(keys, e.arg, e.arg_len);
				if (!v)
					return -ENOENT;
				w = snprintf(tmp, sizeof(tmp), "%s", v);
			} else {
				return -EINVAL;
			}
			if (o + (size_t)w >= n || o + (size_t)w > FH_EVAL_MAX)
				return -ENAMETOOLONG;
			memcpy(out + o, tmp, (size_t)w);
			o += (size_t)w;
			p += e.len;
			continue;
		}
		if (o + 1 >= n || o + 1 > FH_EVAL_MAX)
			return -ENAMETOOLONG;
		out[o++] = *p++;
	}
	if (!fh_prefix_has_expr(prefix)) {
		/* Firehose's default time layout after a plain prefix. */
		int w = ts_format("yyyy/MM/dd/HH/", 14, ts_ms, out + o, n - o);
		if (w < 0 || o + (size_t)w > FH_EVAL_MAX)
			return -ENAMETOOLONG;
		o += (size_t)w;
	}
	out[o] = 0;
	return (int)o;
}

int fh_object_name(const char *stream, unsigned version, int64_t ts_ms, const char *ext,
		   char *out, size_t n)
{
	time_t t = (time_t)(ts_ms / 1000);
	struct tm tm;
	gmtime_r(&t, &tm);
	uint8_t u[16];
	random_bytes(u, sizeof(u));
	u[6] = (uint8_t)((u[6] & 0x0f) | 0x40);  /* version 4 */
	u[8] = (uint8_t)((u[8] & 0x3f) | 0x80);  /* RFC 4122 variant */
	int w = snprintf(out, n, "%s-%u-%04d-%02d-%02d-%02d-%02d-%02d-"
			 "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x%s",
			 stream, version, tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
			 tm.tm_min, tm.tm_sec, u[0], u[1], u[2], u[3], u[4], u[5], u[6], u[7], u[8],
			 u[9], u[10], u[11], u[12], u[13], u[14], u[15], ext ? ext : "");
	if (w < 0 || (size_t)w >= n)
		return -ENAMETOOLONG;
	return w;
}

/* ---- codecs ------------------------------------------------------------------------------------- */

static const char *const codec_names[FH_CODEC_COUNT] = {
	"UNCOMPRESSED", "GZIP", "ZIP", "Snappy", "HADOOP_SNAPPY", "ZSTD",
};
static const char *const codec_exts[FH_CODEC_COUNT] = {
	"", ".gz", ".zip", ".snappy", ".snappy", ".zst",
};

int fh_codec_parse(const char *s, enum fh_codec *out)
{
	for (int i = 0; i < FH_CODEC_COUNT; i++) {
		if (strcmp(s, codec_names[i]) == 0) {
			*out = (enum fh_codec)i;
			return 0;
		}
	}
	return -EINVAL;
}

const char *fh_codec_name(enum fh_codec c)
{
	return (unsigned)c < FH_CODEC_COUNT ? codec_names[c] : "UNCOMPRESSED";
}

const char *fh_codec_ext(enum fh_codec c)
{
	return (unsigned)c < FH_CODEC_COUNT ? codec_exts[c] : "";
}

#define FH_DEFLATE_LEVEL 1

static int gzip_compress(const void *in, size_t n, struct fh_buf *out)
{
	z_stream z = { 0 };
	/* 15 + 16: a gzip wrapper, as Firehose's .gz objects have. Level 1: a delivery stream
	 * trades a few percent of size for several times the speed (bench_firehose). */
	if (deflateInit2(&z, FH_DEFLATE_LEVEL, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) !=
	    Z_OK)
		return -ENOMEM;
	int rc = 0;
	z.next_in = (Bytef *)(uintptr_t)in;
	int zr;
	do {
		size_t left = n - (size_t)((const uint8_t *)z.next_in - (const uint8_t *)in);
		z.avail_in = left > (1u << 30) ? (1u << 30) : (uInt)left;
		bool last = left <= (1u << 30);
		do {
			if ((rc = fh_buf_reserve(out, 1 << 16)) < 0)
				goto out;
			size_t room = out->cap - out->len;
			z.next_out = out->p + out->len;
			z.avail_out = room > (1u << 30) ? (1u << 30) : (uInt)room;
			uInt before = z.avail_out;
			zr = deflate(&z, last ? Z_FINISH : Z_NO_FLUSH);
			out->len += before - z.avail_out;
			if (zr == Z_STREAM_ERROR) {
				rc = -EIO;
				goto out;
			}
		} while (z.avail_out == 0 || (last && zr != Z_STREAM_END));
		if (last)
			break;
	} while (1);
out:
	deflateEnd(&z);
	return rc;
}

static int gzip_decompress(const void *in, size_t n, struct fh_buf *out)
{
	z_stream z = { 0 };
	if (inflateInit2(&z, 15 + 32) != Z_OK)
		return -ENOMEM;
	int rc = 0;
	z.next_in = (Bytef *)(uintptr_t)in;
	z.avail_in = (uInt)n;
	int zr;
	do {
		if ((rc = fh_buf_reserve(out, 1 << 16)) < 0)
			break;
		z.next_out = out->p + out->len;
		z.avail_out = (uInt)(out->cap - out->len > (1u << 30) ? (1u << 30) :
				     out->cap - out->len);
		uInt before = z.avail_out;
		zr = inflate(&z, Z_NO_FLUSH);
		out->len += before - z.avail_out;
		if (zr != Z_OK && zr != Z_STREAM_END) {
			rc = -EBADMSG;
			break;
		}
		if (zr == Z_OK && z.avail_in == 0 && z.avail_out != 0) {
			rc = -EBADMSG;
			break;
		}
	} while (zr != Z_STREAM_END);
	inflateEnd(&z);
	return rc;
}

static int zip_compress(const void *in, size_t n, const char *entry, struct fh_buf *out)
{
	zip_error_t ze;
	zip_error_init(&ze);
	int rc = -EIO;
	zip_source_t *mem = zip_source_buffer_create(NULL, 0, 0, &ze);
	if (!mem)
		goto out;
	zip_source_keep(mem);
	zip_t *za = zip_open_from_source(mem, ZIP_TRUNCATE, &ze);
	if (!za)
		goto free_mem;
	zip_source_t *data = zip_source_buffer(za, in, n, 0);
	zip_int64_t idx = data ? zip_file_add(za, entry ? entry : "data", data, ZIP_FL_ENC_UTF_8) : -1;
	if (idx < 0) {
		zip_source_free(data);
		zip_discard(za);
		goto free_mem;
	}
	zip_set_file_compression(za, (zip_uint64_t)idx, ZIP_CM_DEFLATE, FH_DEFLATE_LEVEL);
	if (zip_close(za) < 0) {
		zip_discard(za);
		goto free_mem;
	}
	zip_stat_t st;
	if (zip_source_stat(mem, &st) < 0 || zip_source_open(mem) < 0)
		goto free_mem;
	if (fh_buf_reserve(out, (size_t)st.size) < 0) {
		rc = -ENOMEM;
		zip_source_close(mem);
		goto free_mem;
	}
	zip_int64_t got = zip_source_read(mem, out->p + out->len, st.size);
	zip_source_close(mem);
	if (got != (zip_int64_t)st.size)
		goto free_mem;
	out->len += (size_t)got;
	rc = 0;
free_mem:
	zip_source_free(mem);
out:
	zip_error_fini(&ze);
	return rc;
}

static int zip_decompress(const void *in, size_t n, struct fh_buf *out)
{
	zip_error_t ze;
	zip_error_init(&ze);
	int rc = -EBADMSG;
	zip_source_t *src = zip_source_buffer_create(in, n, 0, &ze);
	zip_t *za = src ? zip_open_from_source(src, ZIP_RDONLY, &ze) : NULL;
	if (!za) {
		zip_source_free(src);
		goto out;
	}
	zip_stat_t st;
	zip_file_t *f = zip_stat_index(za, 0, 0, &st) == 0 ? zip_fopen_index(za, 0, 0) : NULL;
	if (f) {
		if (fh_buf_reserve(out, (size_t)st.size + 1) == 0) {
			zip_int64_t got = zip_fread(f, out->p + out->len, st.size);
			if (got == (zip_int64_t)st.size) {
				out->len += (size_t)got;
				rc = 0;
			}
		} else {
			rc = -ENOMEM;
		}
		zip_fclose(f);
	}
	zip_discard(za);  /* frees src */
out:
	zip_error_fini(&ze);
	return rc;
}

/* Snappy framing format: a stream identifier chunk, then chunks of at most 64 KiB of input,
 * each with the masked CRC32C of its uncompressed bytes. */
#define SNAPPY_CHUNK 65536u

static uint32_t snappy_mask(uint32_t crc)
{
	return ((crc >> 15) | (crc << 17)) + 0xa282ead8u;
}

static void le24(uint8_t *p, size_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
}

static void le32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

static void be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static uint32_t rd_le(const uint8_t *p, unsigned n)
{
	uint32_t v = 0;
	for (unsigned i = 0; i < n; i++)
		v |= (uint32_t)p[i] << (8 * i);
	return v;
}

static uint32_t rd_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int snappy_frame_compress(const void *in, size_t n, struct fh_buf *out)
{
	static const uint8_t ident[10] = { 0xff, 6, 0, 0, 's', 'N', 'a', 'P', 'p', 'Y' };
	int r = fh_buf_put(out, ident, sizeof(ident));
	size_t maxc = snappy_max_compressed_length(SNAPPY_CHUNK);
	for (size_t off = 0; r == 0 && off < n; off += SNAPPY_CHUNK) {
		size_t m = n - off < SNAPPY_CHUNK ? n - off : SNAPPY_CHUNK;
		const uint8_t *src = (const uint8_t *)in + off;
		if ((r = fh_buf_reserve(out, 8 + maxc)) < 0)
			break;
		uint8_t *h = out->p + out->len;
		size_t clen = maxc;
		if (snappy_compress((const char *)src, m, (char *)h + 8, &clen) != SNAPPY_OK)
			return -EIO;
		if (clen >= m) {  /* incompressible: an uncompressed chunk */
			h[0] = 0x01;
			memcpy(h + 8, src, m);
			clen = m;
		} else {
			h[0] = 0x00;
		}
		le24(h + 1, clen + 4);
		le32(h + 4, snappy_mask(dp_crc32c(0, src, m)));
		out->len += 8 + clen;
	}
	return r;
}

static int snappy_frame_decompress(const uint8_t *in, size_t n, struct fh_buf *out)
{
	size_t off = 0;
	bool ident = false;
	while (off < n) {
		if (n - off < 4)
			return -EBADMSG;
		uint8_t type = in[off];
		size_t len = rd_le(in + off + 1, 3);
		off += 4;
		if (len > n - off)
			return -EBADMSG;
		const uint8_t *p = in + off;
		off += len;
		if (type == 0xff) {
			if (len != 6 || memcmp(p, "sNaPpY", 6) != 0)
				return -EBADMSG;
			ident = true;
			continue;
		}
		if (!ident)
			return -EBADMSG;
		if (type >= 0x80)  /* skippable */
			continue;
		if ((type != 0x00 && type != 0x01) || len < 4)
			return -EBADMSG;
		uint32_t crc = rd_le(p, 4);
		size_t ulen = len - 4;
		if (type == 0x00 && snappy_uncompressed_length((const char *)p + 4, len - 4, &ulen) !=
		    SNAPPY_OK)
			return -EBADMSG;
		if (ulen > SNAPPY_CHUNK || fh_buf_reserve(out, ulen) < 0)
			return ulen > SNAPPY_CHUNK ? -EBADMSG : -ENOMEM;
		uint8_t *dst = out->p + out->len;
		if (type == 0x00) {
			if (snappy_uncompress((const char *)p + 4, len - 4, (char *)dst, &ulen) !=
			    SNAPPY_OK)
				return -EBADMSG;
		} else {
			memcpy(dst, p + 4, ulen);
		}
		if (snappy_mask(dp_crc32c(0, dst, ulen)) != crc)
			return -EBADMSG;
		out->len += ulen;
	}
	return ident ? 0 : -EBADMSG;
}

/* Hadoop's BlockCompressorStream: per block, the uncompressed length, then one compressed
 * chunk with its length (both 32-bit big-endian); 256 KiB blocks as Hadoop's default buffer. */
#define HSNAPPY_BLOCK (256u * 1024u)

static int hadoop_snappy_compress(const void *in, size_t n, struct fh_buf *out)
{
	size_t maxc = snappy_max_compressed_length(HSNAPPY_BLOCK);
	for (size_t off = 0; off < n; off += HSNAPPY_BLOCK) {
		size_t m = n - off < HSNAPPY_BLOCK ? n - off : HSNAPPY_BLOCK;
		int r = fh_buf_reserve(out, 8 + maxc);
		if (r < 0)
			return r;
		uint8_t *h = out->p + out->len;
		size_t clen = maxc;
		if (snappy_compress((const char *)in + off, m, (char *)h + 8, &clen) != SNAPPY_OK)
			return -EIO;
		be32(h, (uint32_t)m);
		be32(h + 4, (uint32_t)clen);
		out->len += 8 + clen;
	}
	return 0;
}

static int hadoop_snappy_decompress(const uint8_t *in, size_t n, struct fh_buf *out)
{
	size_t off = 0;
	while (off < n) {
		if (n - off < 8)
			return -EBADMSG;
		size_t ulen = rd_be32(in + off), clen = rd_be32(in + off + 4);
		off += 8;
		size_t got;
		if (clen > n - off || ulen > (64u << 20) ||
		    snappy_uncompressed_length((const char *)in + off, clen, &got) != SNAPPY_OK ||
		    got != ulen)
			return -EBADMSG;
		if (fh_buf_reserve(out, ulen) < 0)
			return -ENOMEM;
		if (snappy_uncompress((const char *)in + off, clen, (char *)out->p + out->len, &got) !=
		    SNAPPY_OK)
			return -EBADMSG;
		out->len += got;
		off += clen;
	}
	return 0;
}

static int zstd_compress(const void *in, size_t n, struct fh_buf *out)
{
	size_t bound = ZSTD_compressBound(n);
	int r = fh_buf_reserve(out, bound);
	if (r < 0)
		return r;
	size_t w = ZSTD_compress(out->p + out->len, bound, in, n, 3);
	if (ZSTD_isError(w))
		return -EIO;
	out->len += w;
	return 0;
}

static int zstd_decompress(const void *in, size_t n, struct fh_buf *out)
{
	ZSTD_DStream *ds = ZSTD_createDStream();
	if (!ds)
		return -ENOMEM;
	ZSTD_inBuffer ib = { in, n, 0 };
	int rc = 0;
	size_t zr = 1;
	while (ib.pos < ib.size) {
		if ((rc = fh_buf_reserve(out, 1 << 16)) < 0)
			break;
		ZSTD_outBuffer ob = { out->p + out->len, out->cap - out->len, 0 };
		zr = ZSTD_decompressStream(ds, &ob, &ib);
		out->len += ob.pos;
		if (ZSTD_isError(zr)) {
			rc = -EBADMSG;
			break;
		}
	}
	if (rc == 0 && zr != 0)
		rc = -EBADMSG;  /* truncated frame */
	ZSTD_freeDStream(ds);
	return rc;
}

int fh_compress(enum fh_codec c, const void *in, size_t n, const char *entry, struct fh_buf *out)
{
	switch (c) {
	case FH_UNCOMPRESSED: return fh_buf_put(out, in, n);
	case FH_GZIP: return gzip_compress(in, n, out);
	case FH_ZIP: return zip_compress(in, n, entry, out);
	case FH_SNAPPY: return snappy_frame_compress(in, n, out);
	case FH_HADOOP_SNAPPY: return hadoop_snappy_compress(in, n, out);
	case FH_ZSTD: return zstd_compress(in, n, out);
	default: return -EINVAL;
	}
}

int fh_decompress(enum fh_codec c, const void *in, size_t n, struct fh_buf *out)
{
	switch (c) {
	case FH_UNCOMPRESSED: return fh_buf_put(out, in, n);
	case FH_GZIP: return gzip_decompress(in, n, out);
	case FH_ZIP: return zip_decompress(in, n, out);
	case FH_SNAPPY: return snappy_frame_decompress(in, n, out);
	case FH_HADOOP_SNAPPY: return hadoop_snappy_decompress(in, n, out);
	case FH_ZSTD: return zstd_decompress(in, n, out);
	default: return -EINVAL;
	}
}

/* ---- objects ------------------------------------------------------------------------------------ */

const char *fh_bucket_of(const char *arn)
{
	static const char pre[] = "arn:aws:s3:::";
	if (!arn || strncmp(arn, pre, sizeof(pre) - 1) != 0)
		return NULL;
	const char *b = arn + sizeof(pre) - 1;
	size_t n = strlen(b);
	if (n < 3 || n > 63 || strspn(b, "abcdefghijklmnopqrstuvwxyz0123456789.-") != n ||
	    b[0] == '.' || b[0] == '-' || strstr(b, ".."))
		return NULL;
	return b;
}

static int fsync_path(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	int r = fsync(fd) < 0 ? -errno : 0;
	close(fd);
	return r;
}

/* mkdir -p of path's directories at and after `from` (the root part before it exists). */
static int mkdirs(char *path, size_t from)
{
	for (char *s = path + from; *s; s++) {
		if (*s != '/')
			continue;
		*s = 0;
		int r = 0;
		if (mkdir(path, 0755) == 0) {
			/* A new directory is durable only once its parent is synced. */
			char *slash = strrchr(path, '/');
			if (slash) {
				*slash = 0;
				r = fsync_path(path);
				*slash = '/';
			}
		} else if (errno != EEXIST) {
			r = -errno;
		}
		*s = '/';
		if (r < 0)
			return r;
	}
	return 0;
}

int fh_object_write(const char *root, const char *bucket, const char *key, const void *data,
		    size_t n)
{
	if (!bucket || !*bucket || strchr(bucket, '/') || strcmp(bucket, ".") == 0 ||
	    strcmp(bucket, "..") == 0 || !fh_key_safe(key))
		return -EINVAL;
	size_t need = strlen(root) + strlen(bucket) + strlen(key) + 3;
	char *path = malloc(need), *tmp = malloc(need + 16);
	int rc = -ENOMEM, fd = -1;
	if (!path || !tmp)
		goto out;
	snprintf(path, need, "%s/%s/%s", root, bucket, key);
	if ((rc = mkdirs(path, 1)) < 0)
		goto out;
	char *slash = strrchr(path, '/');
	snprintf(tmp, need + 16, "%.*s/.%s.XXXXXX", (int)(slash - path), path, slash + 1);
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0) {
		rc = -errno;
		goto out;
	}
	const uint8_t *p = data;
	size_t left = n;
	/* Big aligned objects bypass the page cache: the disk reads the buffer itself instead of
	 * the kernel copying it first (the copy was most of the delivery's CPU time, bench_firehose).
	 * The unaligned tail, and every file system without O_DIRECT, go the buffered way. */
	size_t direct = n >= FH_ALIGNED_MIN && ((uintptr_t)data & 4095) == 0 ? n & ~(size_t)4095 : 0;
	int fl = fcntl(fd, F_GETFL);
	if (direct && (fl < 0 || fcntl(fd, F_SETFL, fl | O_DIRECT) < 0))
		direct = 0;
	while (direct > 0) {
		ssize_t w = write(fd, p, direct);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0 || (w & 4095)) {
			if (w < 0 && errno != EINVAL) {
				rc = -errno;
				goto unlink;
			}
			if (w > 0) {
				p += w;
				left -= (size_t)w;
			}
			break;  /* EINVAL or a short write: finish buffered */
		}
		p += w;
		left -= (size_t)w;
		direct -= (size_t)w;
	}
	if (fl >= 0 && n >= FH_ALIGNED_MIN)
		fcntl(fd, F_SETFL, fl);
	while (left > 0) {
		ssize_t w = write(fd, p, left);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			rc = w < 0 ? -errno : -EIO;
			goto unlink;
		}
		p += w;
		left -= (size_t)w;
	}
	/* fdatasync: the data and the size are what must survive; the rename and the directory
	 * fsync below make the name durable. */
	if (fchmod(fd, 0644) < 0 || fdatasync(fd) < 0) {
		rc = -errno;
		goto unlink;
	}
	if (close(fd) < 0) {
		fd = -1;
		rc = -errno;
		goto unlink;
	}
	fd = -1;
	if (rename(tmp, path) < 0) {
		rc = -errno;
		goto unlink;
	}
	*slash = 0;
	rc = fsync_path(path);
	goto out;
unlink:
	if (fd >= 0)
		close(fd);
	fd = -1;
	unlink(tmp);
out:
	free(path);
	free(tmp);
	return rc;
}
