/* SPDX-License-Identifier: MIT */
/*
 * cat_crawl: see cat_crawl.h. The walk records folders and files in depth-first preorder, so a
 * folder's subtree is one contiguous range of folders and one of files; grouping then decides
 * tables over those ranges without another pass over the disk.
 */
#include "cat_crawl.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <zlib.h>
#include <zstd.h>

/* ---- Hive types ------------------------------------------------------------------------------ */

enum ty_kind { TY_PRIM, TY_ARRAY, TY_MAP, TY_STRUCT };

struct ty {
	enum ty_kind kind;
	char *prim;            /* TY_PRIM: "bigint", "decimal(10,2)" */
	unsigned n;            /* children: array 1, map 2, struct n */
	char **names;          /* struct field names */
	struct ty **sub;
};

static void ty_free(struct ty *t)
{
	if (!t)
		return;
	for (unsigned i = 0; i < t->n; i++) {
		if (t->names)
			free(t->names[i]);
		ty_free(t->sub[i]);
	}
	free(t->names);
	free(t->sub);
	free(t->prim);
	free(t);
}

struct ty_parser {
	const char *s;
	size_t len, pos;
	int err;
};

static void skip_ws(struct ty_parser *p)
{
	while (p->pos < p->len && (p->s[p->pos] == ' ' || p->s[p->pos] == '\t'))
		p->pos++;
}

static bool eat(struct ty_parser *p, char c)
{
	skip_ws(p);
	if (p->pos < p->len && p->s[p->pos] == c) {
		p->pos++;
		return true;
	}
	return false;
}

static bool is_ident(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '_';
}

static int ty_add(struct ty *t, char *name, struct ty *sub)
{
	struct ty **s = realloc(t->sub, (t->n + 1) * sizeof(*s));
	if (!s)
		return -ENOMEM;
	t->sub = s;
	if (t->kind == TY_STRUCT) {
		char **nm = realloc(t->names, (t->n + 1) * sizeof(*nm));
		if (!nm)
			return -ENOMEM;
		t->names = nm;
		nm[t->n] = name;
	}
	s[t->n++] = sub;
	return 0;
}

static struct ty *ty_new(enum ty_kind k)
{
	struct ty *t = calloc(1, sizeof(*t));
	if (t)
		t->kind = k;
	return t;
}

static struct ty *ty_parse(struct ty_parser *p, unsigned depth)
{
	if (depth > CAT_CRAWL_TYPE_DEPTH) {
		p->err = -EINVAL;
		return NULL;
	}
	skip_ws(p);
	size_t start = p->pos;
	while (p->pos < p->len && is_ident(p->s[p->pos]))
		p->pos++;
	size_t n = p->pos - start;
	if (n == 0) {
		p->err = -EINVAL;
		return NULL;
	}
	const char *w = p->s + start;
	enum ty_kind k = TY_PRIM;
	if (n == 5 && strncasecmp(w, "array", 5) == 0)
		k = TY_ARRAY;
	else if (n == 3 && strncasecmp(w, "map", 3) == 0)
		k = TY_MAP;
	else if (n == 6 && strncasecmp(w, "struct", 6) == 0)
		k = TY_STRUCT;
	struct ty *t = ty_new(k);
	if (!t) {
		p->err = -ENOMEM;
		return NULL;
	}
	if (k == TY_PRIM) {
		skip_ws(p);
		/* decimal(10,2), varchar(20): the arguments are kept as written. */
		if (p->pos < p->len && p->s[p->pos] == '(') {
			size_t close = p->pos;
			while (close < p->len && p->s[close] != ')' && p->s[close] != '<' &&
			       p->s[close] != '>')
				close++;
			if (close >= p->len || p->s[close] != ')')
				goto bad;
			n = close + 1 - start;
			p->pos = close + 1;
		}
		if (!(t->prim = strndup(w, n)))
			goto nomem;
		for (char *c = t->prim; *c; c++)
			if (*c >= 'A' && *c <= 'Z')
				*c = (char)(*c - 'A' + 'a');
		return t;
	}
	if (!eat(p, '<'))
		goto bad;
	if (k == TY_STRUCT && eat(p, '>'))
		return t;  /* struct<> */
	for (;;) {
		char *name = NULL;
		if (k == TY_STRUCT) {
			skip_ws(p);
			size_t ns = p->pos;
			while (p->pos < p->len && !strchr(":,<>", p->s[p->pos]))
				p->pos++;
			size_t ne = p->pos;
			while (ne > ns && (p->s[ne - 1] == ' ' || p->s[ne - 1] == '\t'))
				ne--;
			if (ne == ns || !eat(p, ':'))
				goto bad;
			/* A field named twice has no single type (Hive refuses it too). */
			for (unsigned i = 0; i < t->n; i++)
				if (strlen(t->names[i]) == ne - ns &&
				    memcmp(t->names[i], p->s + ns, ne - ns) == 0)
					goto bad;
			if (!(name = strndup(p->s + ns, ne - ns)))
				goto nomem;
		}
		struct ty *sub = ty_parse(p, depth + 1);
		if (!sub) {
			free(name);
			ty_free(t);
			return NULL;
		}
		if (ty_add(t, name, sub) < 0) {
			free(name);
			ty_free(sub);
			goto nomem;
		}
		if (eat(p, '>'))
			break;
		if (!eat(p, ','))
			goto bad;
	}
	if ((k == TY_ARRAY && t->n != 1) || (k == TY_MAP && t->n != 2))
		goto bad;
	return t;
bad:
	p->err = -EINVAL;
	ty_free(t);
	return NULL;
nomem:
	p->err = -ENOMEM;
	ty_free(t);
	return NULL;
}

static int ty_parse_all(const char *s, size_t len, struct ty **ret)
{
	if (len > CAT_CRAWL_TYPE_MAX)
		return -E2BIG;
	struct ty_parser p = { s, len, 0, 0 };
	struct ty *t = ty_parse(&p, 0);
	if (!t)
		return p.err ? p.err : -EINVAL;
	skip_ws(&p);
	if (p.pos != len) {
		ty_free(t);
		return -EINVAL;
	}
	*ret = t;
	return 0;
}

static int prim_rank(const char *p)
{
	static const char *const ints[] = { "tinyint", "smallint", "int", "bigint" };
	for (int i = 0; i < 4; i++)
		if (strcmp(p, ints[i]) == 0)
			return 1;
	if (strcmp(p, "float") == 0 || strcmp(p, "double") == 0 || strncmp(p, "decimal", 7) == 0)
		return 2;
	return 0;
}

static struct ty *ty_prim(const char *name)
{
	struct ty *t = ty_new(TY_PRIM);
	if (t && !(t->prim = strdup(name))) {
		free(t);
		return NULL;
	}
	return t;
}

static struct ty *ty_copy(const struct ty *a)
{
	struct ty *t = ty_new(a->kind);
	if (!t)
		return NULL;
	if (a->prim && !(t->prim = strdup(a->prim)))
		goto fail;
	for (unsigned i = 0; i < a->n; i++) {
		char *name = NULL;
		if (a->names && !(name = strdup(a->names[i])))
			goto fail;
		struct ty *sub = ty_copy(a->sub[i]);
		if (!sub || ty_add(t, name, sub) < 0) {
			free(name);
			ty_free(sub);
			goto fail;
		}
	}
	return t;
fail:
	ty_free(t);
	return NULL;
}

static struct ty *ty_merge(const struct ty *a, const struct ty *b)
{
	if (a->kind != b->kind)
		return ty_prim("string");
	if (a->kind == TY_PRIM) {
		if (strcmp(a->prim, b->prim) == 0)
			return ty_prim(a->prim);
		int ra = prim_rank(a->prim), rb = prim_rank(b->prim);
		if (ra == 1 && rb == 1)
			return ty_prim("bigint");
		if (ra && rb)
			return ty_prim("double");
		return ty_prim("string");
	}
	struct ty *t = ty_new(a->kind);
	if (!t)
		return NULL;
	if (a->kind != TY_STRUCT) {
		if (a->n != b->n)
			goto fail;
		for (unsigned i = 0; i < a->n; i++) {
			struct ty *m = ty_merge(a->sub[i], b->sub[i]);
			if (!m || ty_add(t, NULL, m) < 0) {
				ty_free(m);
				goto fail;
			}
		}
		return t;
	}
	/* Struct: a's fields in order (merged with b's of the same name), then b's new ones. */
	for (unsigned i = 0; i < a->n; i++) {
		const struct ty *other = NULL;
		for (unsigned j = 0; j < b->n && !other; j++)
			if (strcmp(a->names[i], b->names[j]) == 0)
				other = b->sub[j];
		struct ty *m = other ? ty_merge(a->sub[i], other) : ty_copy(a->sub[i]);
		char *name = strdup(a->names[i]);
		if (!m || !name || ty_add(t, name, m) < 0) {
			free(name);
			ty_free(m);
			goto fail;
		}
	}
	for (unsigned j = 0; j < b->n; j++) {
		bool seen = false;
		for (unsigned i = 0; i < a->n && !seen; i++)
			seen = strcmp(a->names[i], b->names[j]) == 0;
		if (seen)
			continue;
		struct ty *m = ty_copy(b->sub[j]);
		char *name = strdup(b->names[j]);
		if (!m || !name || ty_add(t, name, m) < 0) {
			free(name);
			ty_free(m);
			goto fail;
		}
	}
	return t;
fail:
	ty_free(t);
	return NULL;
}

struct sbuf {
	char *p;
	size_t len, cap;
	bool oom;
};

static void sb_add(struct sbuf *b, const char *s, size_t n)
{
	if (b->oom)
		return;
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 64;
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

static void sb_str(struct sbuf *b, const char *s)
{
	sb_add(b, s, strlen(s));
}

static void ty_format(const struct ty *t, struct sbuf *b)
{
	if (t->kind == TY_PRIM) {
		sb_str(b, t->prim);
		return;
	}
	sb_str(b, t->kind == TY_ARRAY ? "array<" : t->kind == TY_MAP ? "map<" : "struct<");
	for (unsigned i = 0; i < t->n; i++) {
		if (i)
			sb_str(b, ",");
		if (t->kind == TY_STRUCT) {
			sb_str(b, t->names[i]);
			sb_str(b, ":");
		}
		ty_format(t->sub[i], b);
	}
	sb_str(b, ">");
}

int cat_crawl_type_merge(const char *a, size_t alen, const char *b, size_t blen, char **out)
{
	struct ty *ta = NULL, *tb = NULL, *m = NULL;
	struct sbuf sb = { 0 };
	int r;
	if ((r = ty_parse_all(a, alen, &ta)) < 0 || (r = ty_parse_all(b, blen, &tb)) < 0)
		goto out;
	r = -ENOMEM;
	if (!(m = ty_merge(ta, tb)))
		goto out;
	ty_format(m, &sb);
	if (sb.oom)
		goto out;
	if (sb.len > CAT_CRAWL_TYPE_MAX) {
		r = -E2BIG;
		goto out;
	}
	*out = sb.p;
	sb.p = NULL;
	r = 0;
out:
	free(sb.p);
	ty_free(m);
	ty_free(tb);
	ty_free(ta);
	return r;
}

/* A primitive type already in canonical form (lower case, no arguments): parsing it is a no-op. */
static bool simple_type(const char *t)
{
	if (!*t || strcmp(t, "array") == 0 || strcmp(t, "map") == 0 || strcmp(t, "struct") == 0)
		return false;
	for (; *t; t++)
		if (!((*t >= 'a' && *t <= 'z') || (*t >= '0' && *t <= '9') || *t == '_'))
			return false;
	return true;
}

int cat_crawl_columns_merge(json_t *into, const json_t *cols)
{
	size_t i, j;
	json_t *c, *d;
	if (!json_is_array(into) || !json_is_array(cols))
		return -EINVAL;
	json_array_foreach(cols, i, c) {
		const char *name = json_string_value(json_object_get(c, "Name"));
		const char *type = json_string_value(json_object_get(c, "Type"));
		if (!name || !type)
			return -EINVAL;
		bool found = false;
		json_array_foreach(into, j, d) {
			const char *dn = json_string_value(json_object_get(d, "Name"));
			if (!dn || strcmp(dn, name) != 0)
				continue;
			const char *dt = json_string_value(json_object_get(d, "Type"));
			if (!dt)
				return -EINVAL;
			found = true;
			/* The common case (files of one table agree): nothing to parse. */
			if (strcmp(dt, type) == 0 && simple_type(type))
				break;
			char *m;
			int r = cat_crawl_type_merge(dt, strlen(dt), type, strlen(type), &m);
			if (r < 0)
				return r;
			r = json_object_set_new(d, "Type", json_string(m));
			free(m);
			if (r < 0)
				return -ENOMEM;
			break;
		}
		if (found)
			continue;
		/* Check the new column's type before taking it. */
		char *m = NULL;
		int r = simple_type(type) ? 0 :
			cat_crawl_type_merge(type, strlen(type), type, strlen(type), &m);
		if (r < 0)
			return r;
		json_t *col = json_pack("{s:s,s:s}", "Name", name, "Type", m ? m : type);
		free(m);
		if (!col || json_array_append_new(into, col) < 0)
			return -ENOMEM;
	}
	return 0;
}

int cat_crawl_partition_name(const char *name, size_t len, char *key, size_t keymax, char *val,
			     size_t valmax)
{
	if (len == 0 || memchr(name, '\0', len))
		return -EINVAL;
	const char *eq = memchr(name, '=', len);
	if (!eq || eq == name)
		return 0;
	size_t kn = (size_t)(eq - name), vn = len - kn - 1;
	if (kn + 1 > keymax || vn + 1 > valmax)
		return -E2BIG;
	memcpy(key, name, kn);
	key[kn] = '\0';
	memcpy(val, eq + 1, vn);
	val[vn] = '\0';
	return 1;
}

int cat_crawl_table_name(const char *prefix, const char *name, size_t len,
			 char out[CAT_CRAWL_TABLE_NAME_MAX + 1])
{
	size_t n = 0;
	const char *parts[2] = { prefix ? prefix : "", name };
	size_t lens[2] = { prefix ? strlen(prefix) : 0, len };
	for (int p = 0; p < 2; p++)
		for (size_t i = 0; i < lens[p] && n < CAT_CRAWL_TABLE_NAME_MAX; i++) {
			char c = parts[p][i];
			if (c >= 'A' && c <= 'Z')
				c = (char)(c - 'A' + 'a');
			out[n++] = is_ident(c) ? c : '_';
		}
	if (n == 0)
		out[n++] = '_';
	out[n] = '\0';
	return (int)n;
}

/* ---- the walk -------------------------------------------------------------------------------- */

/* What a file's format is: files of one table share it. */
struct cfmt {
	char classification[256];
	char compression[16];
	char delimiter, quote;
	bool header;
};

struct cfile {
	char *name;             /* within its folder */
	uint64_t size;
	unsigned dir;
	int fmt;                /* index into formats; -1 UNKNOWN or unreadable; -2 not sampled */
	bool quoted;            /* csv: the sample quotes fields */
	uint64_t records;       /* estimated for the whole file (sampled files) */
};

struct cdir {
	char *rel;              /* "" for the root, else "a/b" */
	const char *name;       /* last component of rel (points into rel) */
	unsigned depth;
	unsigned dir_end;       /* one past the last folder of this subtree */
	unsigned file_first, file_own_end, file_end;  /* own files, then the subtree's */
	int fmt;                /* the format of its classified files, -1 none, -3 several */
	json_t *cols;           /* merged columns of its own classified files */
};

struct crawl {
	const struct cat_crawl_config *cfg;
	struct cat_crawl_result *res;
	struct cfile *files;
	unsigned n_files, cap_files;
	struct cdir *dirs;
	unsigned n_dirs, cap_dirs;
	struct cfmt *fmts;
	unsigned n_fmts;
	uint8_t *buf, *zbuf;    /* CAT_CLASSIFY_SAMPLE_MAX each */
	char loc[4096];         /* cfg->location without trailing '/' */
	bool root_is_file;
	int err;                /* -ENOMEM */
};

static void note(struct crawl *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void note(struct crawl *c, const char *fmt, ...)
{
	if (json_array_size(c->res->messages) >= CAT_CRAWL_MESSAGES_MAX)
		return;
	char m[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(m, sizeof(m), fmt, ap);
	va_end(ap);
	json_array_append_new(c->res->messages, json_string(m));
}

static bool cancelled(struct crawl *c)
{
	if (c->cfg->cancel && atomic_load(c->cfg->cancel))
		c->res->cancelled = true;
	return c->res->cancelled;
}

static bool excluded(const struct crawl *c, const char *rel)
{
	for (unsigned i = 0; i < c->cfg->n_exclusions; i++) {
		const char *p = c->cfg->exclusions[i];
		if (!p)
			continue;
		/* A leading "**" + "/" also matches no folder at all, as Glue's does. */
		if (fnmatch(p, rel, 0) == 0 || (strncmp(p, "**/", 3) == 0 && fnmatch(p + 3, rel, 0) == 0))
			return true;
	}
	return false;
}

static int fmt_index(struct crawl *c, const struct cat_classification *cl)
{
	struct cfmt f = { 0 };
	snprintf(f.classification, sizeof(f.classification), "%s", cl->classification);
	snprintf(f.compression, sizeof(f.compression), "%s", cl->compression);
	if (strcmp(cl->classification, "csv") == 0) {
		f.delimiter = cl->delimiter;
		f.quote = cl->quote;
		f.header = cl->header;
	}
	for (unsigned i = 0; i < c->n_fmts; i++)
		if (memcmp(&c->fmts[i], &f, sizeof(f)) == 0)
			return (int)i;
	struct cfmt *n = realloc(c->fmts, (c->n_fmts + 1) * sizeof(*n));
	if (!n)
		return -ENOMEM;
	c->fmts = n;
	n[c->n_fmts] = f;
	return (int)c->n_fmts++;
}

/* Decompress src into c->zbuf (at most CAT_CLASSIFY_SAMPLE_MAX bytes): the length, or -1. */
static ssize_t inflate_sample(struct crawl *c, const char *comp, const uint8_t *src, size_t n)
{
	if (strcmp(comp, "gzip") == 0) {
		z_stream z = { 0 };
		if (inflateInit2(&z, 16 + MAX_WBITS) != Z_OK)
			return -1;
		z.next_in = (Bytef *)(uintptr_t)src;
		z.avail_in = (uInt)n;
		z.next_out = c->zbuf;
		z.avail_out = CAT_CLASSIFY_SAMPLE_MAX;
		int r = inflate(&z, Z_SYNC_FLUSH);
		size_t out = CAT_CLASSIFY_SAMPLE_MAX - z.avail_out;
		inflateEnd(&z);
		/* A sample cut in the middle of the stream is expected (Z_BUF_ERROR). */
		return (r == Z_OK || r == Z_STREAM_END || r == Z_BUF_ERROR) && out ? (ssize_t)out : -1;
	}
	if (strcmp(comp, "zstd") == 0) {
		ZSTD_DStream *d = ZSTD_createDStream();
		if (!d)
			return -1;
		ZSTD_inBuffer in = { src, n, 0 };
		ZSTD_outBuffer o = { c->zbuf, CAT_CLASSIFY_SAMPLE_MAX, 0 };
		size_t r = ZSTD_initDStream(d);
		while (!ZSTD_isError(r) && in.pos < in.size && o.pos < o.size) {
			r = ZSTD_decompressStream(d, &o, &in);
			if (r == 0)
				break;
		}
		ZSTD_freeDStream(d);
		return !ZSTD_isError(r) && o.pos ? (ssize_t)o.pos : -1;
	}
	return -1;
}

/* Read and classify one file (fd owned). */
static void sample_file(struct crawl *c, struct cfile *f, int fd, const char *rel)
{
	size_t got = 0;
	while (got < CAT_CLASSIFY_SAMPLE_MAX) {
		ssize_t n = read(fd, c->buf + got, CAT_CLASSIFY_SAMPLE_MAX - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			note(c, "%s: cannot read: %s; skipped", rel, strerror(errno));
			c->res->unreadable++;
			f->fmt = -1;
			close(fd);
			return;
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	close(fd);
	c->res->sampled++;
	c->res->bytes_read += got;
	struct cat_classification cl;
	const uint8_t *text = c->buf;
	size_t tlen = got;
	if (cat_classify_sample(c->cfg->classifiers, f->name, c->buf, got, &cl) < 0) {
		c->err = -ENOMEM;
		return;
	}
	char comp[16];
	snprintf(comp, sizeof(comp), "%s", cl.compression);
	if (strcmp(cl.classification, "UNKNOWN") == 0 && comp[0]) {
		ssize_t z = inflate_sample(c, comp, c->buf, got);
		cat_classification_clear(&cl);
		if (z <= 0) {
			note(c, "%s: %s data that cannot be decompressed here; skipped", rel, comp);
			c->res->unknown++;
			f->fmt = -1;
			return;
		}
		text = c->zbuf;
		tlen = (size_t)z;
		if (cat_classify_sample(c->cfg->classifiers, f->name, text, tlen, &cl) < 0) {
			c->err = -ENOMEM;
			return;
		}
		snprintf(cl.compression, sizeof(cl.compression), "%s", comp);
	}
	if (strcmp(cl.classification, "UNKNOWN") == 0) {
		c->res->unknown++;
		f->fmt = -1;
		if (got)
			note(c, "%s: no classifier recognizes it (UNKNOWN); skipped", rel);
		cat_classification_clear(&cl);
		return;
	}
	int fi = fmt_index(c, &cl);
	if (fi < 0) {
		c->err = fi;
		cat_classification_clear(&cl);
		return;
	}
	f->fmt = fi;
	f->quoted = cl.quote && memchr(text, cl.quote, tlen) != NULL;
	/* Records in the sample, scaled to the file by size when only a part was read. */
	uint64_t rec = cl.records;
	if (got < f->size && got > 0)
		rec = (uint64_t)((double)rec * (double)f->size / (double)got);
	if (cl.header && rec)
		rec--;
	f->records = rec;
	json_t *cols = json_array();
	for (unsigned i = 0; cols && i < cl.n_columns; i++) {
		/* A type Hive cannot spell (a nested field named "a:b") is kept as a string. */
		const char *type = cl.columns[i].type;
		char *canon = NULL;
		int tr = simple_type(type) ? 0 :
			 cat_crawl_type_merge(type, strlen(type), type, strlen(type), &canon);
		if (tr == -ENOMEM) {
			c->err = -ENOMEM;
		} else if (tr < 0) {
			note(c, "%s: column %s has a type Hive cannot express; typed string", rel,
			     cl.columns[i].name);
			type = "string";
		}
		json_array_append_new(cols, json_pack("{s:s,s:s}", "Name", cl.columns[i].name,
						      "Type", type));
		free(canon);
	}
	struct cdir *d = &c->dirs[f->dir];
	if (!d->cols)
		d->cols = json_array();
	if (!cols || !d->cols || cat_crawl_columns_merge(d->cols, cols) == -ENOMEM)
		c->err = -ENOMEM;
	json_decref(cols);
	d->fmt = d->fmt == -1 ? fi : d->fmt == fi ? fi : -3;
	cat_classification_clear(&cl);
}

/*
 * Room for item n in arr, an array of *cap items of size bytes (first of them at the first
 * allocation, twice as many at each next): arr itself, or its new place, or NULL (arr unchanged)
 * when out of memory.
 */
static void *room_for(void *arr, unsigned n, unsigned *cap, size_t size, unsigned first)
{
	if (n < *cap)
		return arr;
	unsigned want = *cap ? *cap * 2 : first;
	void *p = realloc(arr, (size_t)want * size);
	if (p)
		*cap = want;
	return p;
}

static int add_file(struct crawl *c, const char *name, uint64_t size, unsigned dir)
{
	struct cfile *files = room_for(c->files, c->n_files, &c->cap_files, sizeof(*files), 256);
	if (!files)
		return -ENOMEM;
	c->files = files;
	struct cfile *f = &c->files[c->n_files];
	memset(f, 0, sizeof(*f));
	if (!(f->name = strdup(name)))
		return -ENOMEM;
	f->size = size;
	f->dir = dir;
	f->fmt = -2;
	c->n_files++;
	c->res->files++;
	c->res->bytes_total += size;
	return 0;
}

static int add_dir(struct crawl *c, const char *rel, unsigned depth)
{
	struct cdir *dirs = room_for(c->dirs, c->n_dirs, &c->cap_dirs, sizeof(*dirs), 64);
	if (!dirs)
		return -ENOMEM;
	c->dirs = dirs;
	struct cdir *d = &c->dirs[c->n_dirs];
	memset(d, 0, sizeof(*d));
	if (!(d->rel = strdup(rel)))
		return -ENOMEM;
	const char *slash = strrchr(d->rel, '/');
	d->name = slash ? slash + 1 : d->rel;
	d->depth = depth;
	d->fmt = -1;
	d->file_first = c->n_files;
	return (int)c->n_dirs++;
}

struct dent {
	char *name;
	unsigned char type;
	struct stat st;  /* read in the first pass */
};

static int dent_cmp(const void *a, const void *b)
{
	return strcmp(((const struct dent *)a)->name, ((const struct dent *)b)->name);
}

static void rel_join(char *out, size_t n, const char *dir, const char *name)
{
	if (*dir)
		snprintf(out, n, "%s/%s", dir, name);
	else
		snprintf(out, n, "%s", name);
}

/* Walk the folder open as dfd (owned), recorded as folder di. */
static void walk(struct crawl *c, int dfd, unsigned di)
{
	unsigned limit = c->cfg->max_files ? c->cfg->max_files : CAT_CRAWL_FILES_MAX;
	unsigned maxdepth = c->cfg->max_depth ? c->cfg->max_depth : CAT_CRAWL_DEPTH_MAX;
	DIR *dh = fdopendir(dfd);
	struct dent *ents = NULL;
	size_t n = 0, cap = 0;
	char rel[8192];
	if (!dh) {
		note(c, "%s: cannot read the folder: %s; skipped", c->dirs[di].rel, strerror(errno));
		close(dfd);
		goto done;
	}
	struct dirent *e;
	errno = 0;
	while ((e = readdir(dh))) {
		if (e->d_name[0] == '.' || e->d_name[0] == '_')
			continue;  /* hidden (Hive): ., .., .crc, _SUCCESS, _temporary */
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			struct dent *ne = realloc(ents, cap * sizeof(*ne));
			if (!ne) {
				c->err = -ENOMEM;
				goto done;
			}
			ents = ne;
		}
		if (!(ents[n].name = strdup(e->d_name))) {
			c->err = -ENOMEM;
			goto done;
		}
		ents[n++].type = e->d_type;
	}
	qsort(ents, n, sizeof(*ents), dent_cmp);
	/* Files first (so a folder's own files are contiguous), then sub-folders. */
	unsigned sampled = 0;
	for (int pass = 0; pass < 2 && !c->err; pass++) {
		for (size_t i = 0; i < n && !c->err; i++) {
			if (!ents[i].name || cancelled(c))
				continue;
			rel_join(rel, sizeof(rel), c->dirs[di].rel, ents[i].name);
			struct stat st;
			if (pass == 1) {
				st = ents[i].st;
			} else if (fstatat(dirfd(dh), ents[i].name, &ents[i].st,
					   AT_SYMLINK_NOFOLLOW) == 0) {
				st = ents[i].st;
			} else {
				note(c, "%s: %s; skipped", rel, strerror(errno));
				c->res->unreadable++;
				free(ents[i].name);
				ents[i].name = NULL;
				continue;
			}
			bool isdir = S_ISDIR(st.st_mode);
			if ((pass == 0 && isdir) || (pass == 1 && !isdir))
				continue;
			if (S_ISLNK(st.st_mode) || (!isdir && !S_ISREG(st.st_mode))) {
				note(c, "%s: %s; not followed", rel, S_ISLNK(st.st_mode) ?
				     "a symbolic link" : "not a regular file");
				continue;
			}
			if (excluded(c, rel) || (isdir && (strcat(rel, "/"), excluded(c, rel))))
				continue;
			if (!isdir) {
				if (c->n_files >= limit) {
					if (!c->res->truncated)
						note(c, "more than %u files: the rest is not crawled",
						     limit);
					c->res->truncated = true;
					continue;
				}
				if (add_file(c, ents[i].name, (uint64_t)st.st_size, di) < 0) {
					c->err = -ENOMEM;
					continue;
				}
				if (c->cfg->progress)
					atomic_fetch_add(c->cfg->progress, 1);
				if (c->cfg->sample_size && sampled >= c->cfg->sample_size)
					continue;
				sampled++;
				struct cfile *f = &c->files[c->n_files - 1];
				int fd = openat(dirfd(dh), ents[i].name,
						O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
				if (fd < 0) {
					note(c, "%s: cannot open: %s; skipped", rel, strerror(errno));
					c->res->unreadable++;
					f->fmt = -1;
					continue;
				}
				sample_file(c, f, fd, rel);
				continue;
			}
			if (c->dirs[di].depth + 1 > maxdepth) {
				if (!c->res->truncated)
					note(c, "%s: deeper than %u levels: not crawled", rel, maxdepth);
				c->res->truncated = true;
				continue;
			}
			rel[strlen(rel) - 1] = '\0';  /* the '/' added for the exclusion test */
			int sub = openat(dirfd(dh), ents[i].name,
					 O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (sub < 0) {
				note(c, "%s: cannot open the folder: %s; skipped", rel, strerror(errno));
				c->res->unreadable++;
				continue;
			}
			int nd = add_dir(c, rel, c->dirs[di].depth + 1);
			if (nd < 0) {
				close(sub);
				c->err = nd;
				continue;
			}
			walk(c, sub, (unsigned)nd);
		}
		if (pass == 0)
			c->dirs[di].file_own_end = c->n_files;
	}
done:
	for (size_t i = 0; i < n; i++)
		free(ents[i].name);
	free(ents);
	if (dh)
		closedir(dh);
	c->dirs[di].dir_end = c->n_dirs;
	c->dirs[di].file_end = c->n_files;
}

/* ---- tables ---------------------------------------------------------------------------------- */

static uint32_t fnv1a(const char *s)
{
	uint32_t h = 2166136261u;
	for (; *s; s++)
		h = (h ^ (uint8_t)*s) * 16777619u;
	return h;
}

static bool name_taken(const struct cat_crawl_result *r, const char *name)
{
	for (unsigned i = 0; i < r->n_tables; i++)
		if (strcmp(json_string_value(json_object_get(r->tables[i].table, "Name")), name) == 0)
			return true;
	return false;
}

static void dir_location(const struct crawl *c, unsigned d, char *out, size_t n)
{
	if (c->root_is_file)
		snprintf(out, n, "%s", c->loc);
	else if (*c->dirs[d].rel)
		snprintf(out, n, "%s/%s/", c->loc, c->dirs[d].rel);
	else
		snprintf(out, n, "%s/", c->loc);
}

/* The storage members that depend on the format. */
static json_t *storage_for(const struct cfmt *f, bool quoted, const json_t *cols)
{
	const char *in = "org.apache.hadoop.mapred.TextInputFormat";
	const char *out = "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat";
	const char *lib;
	json_t *sp = json_object();
	if (!sp)
		return NULL;
	if (strcmp(f->classification, "json") == 0) {
		lib = "org.openx.data.jsonserde.JsonSerDe";
		struct sbuf paths = { 0 };
		size_t i;
		json_t *col;
		json_array_foreach(cols, i, col) {
			if (i)
				sb_str(&paths, ",");
			sb_str(&paths, json_string_value(json_object_get(col, "Name")));
		}
		json_object_set_new(sp, "paths", json_string(paths.p ? paths.p : ""));
		free(paths.p);
	} else if (strcmp(f->classification, "csv") == 0) {
		char d[2] = { f->delimiter, 0 }, q[2] = { f->quote ? f->quote : '"', 0 };
		if (quoted) {
			lib = "org.apache.hadoop.hive.serde2.OpenCSVSerde";
			json_object_set_new(sp, "separatorChar", json_string(d));
			json_object_set_new(sp, "quoteChar", json_string(q));
		} else {
			lib = "org.apache.hadoop.hive.serde2.lazy.LazySimpleSerDe";
			json_object_set_new(sp, "field.delim", json_string(d));
		}
	} else if (strcmp(f->classification, "parquet") == 0) {
		in = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat";
		out = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat";
		lib = "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe";
	} else if (strcmp(f->classification, "avro") == 0) {
		in = "org.apache.hadoop.hive.ql.io.avro.AvroContainerInputFormat";
		out = "org.apache.hadoop.hive.ql.io.avro.AvroContainerOutputFormat";
		lib = "org.apache.hadoop.hive.serde2.avro.AvroSerDe";
	} else if (strcmp(f->classification, "orc") == 0) {
		in = "org.apache.hadoop.hive.ql.io.orc.OrcInputFormat";
		out = "org.apache.hadoop.hive.ql.io.orc.OrcOutputFormat";
		lib = "org.apache.hadoop.hive.ql.io.orc.OrcSerde";
	} else if (strcmp(f->classification, "xml") == 0) {
		in = "com.amazonaws.glue.hadoop.XMLInputFormat";
		lib = "com.amazonaws.glue.serde.XMLSerDe";
	} else {
		lib = "com.amazonaws.glue.serde.GrokSerDe";
	}
	return json_pack("{s:O,s:s,s:s,s:b,s:i,s:{s:s,s:o},s:[],s:[],s:b}", "Columns", cols,
			 "InputFormat", in, "OutputFormat", out, "Compressed",
			 f->compression[0] != '\0', "NumberOfBuckets", -1, "SerdeInfo",
			 "SerializationLibrary", lib, "Parameters", sp, "BucketColumns",
			 "SortColumns", "StoredAsSubDirectories", 0);
}

static void set_u64(json_t *o, const char *k, uint64_t v)
{
	char b[32];
	snprintf(b, sizeof(b), "%" PRIu64, v);
	json_object_set_new(o, k, json_string(b));
}

/* Crawler parameters for a format and totals. */
static json_t *params_for(const struct crawl *c, const struct cfmt *f, bool quoted,
			  uint64_t records, uint64_t objects, uint64_t bytes)
{
	json_t *p = json_pack("{s:s,s:s,s:s,s:s,s:s}", "classification", f->classification,
			      "compressionType", f->compression[0] ? f->compression : "none",
			      "typeOfData", "file", "CrawlerSchemaSerializerVersion", "1.0",
			      "CrawlerSchemaDeserializerVersion", "1.0");
	if (!p)
		return NULL;
	set_u64(p, "recordCount", records);
	set_u64(p, "objectCount", objects);
	set_u64(p, "sizeKey", bytes);
	set_u64(p, "averageRecordSize", records ? bytes / records : 0);
	if (c->cfg->crawler_name)
		json_object_set_new(p, "UPDATED_BY_CRAWLER", json_string(c->cfg->crawler_name));
	if (strcmp(f->classification, "csv") == 0) {
		char d[2] = { f->delimiter, 0 };
		json_object_set_new(p, "delimiter", json_string(d));
		json_object_set_new(p, "areColumnsQuoted", json_string(quoted ? "true" : "false"));
		json_object_set_new(p, "columnsOrdered", json_string("true"));
		if (f->header)
			json_object_set_new(p, "skip.header.line.count", json_string("1"));
	}
	return p;
}

/* The component i (0-based) of rel below the folder whose rel has base_len bytes. */
static size_t component(const char *rel, size_t base_len, unsigned i, const char **out)
{
	const char *p = rel + base_len;
	if (*p == '/')
		p++;
	for (; i; i--) {
		p = strchr(p, '/');
		if (!p)
			return 0;
		p++;
	}
	const char *e = strchr(p, '/');
	*out = p;
	return e ? (size_t)(e - p) : strlen(p);
}

/* Records and totals of folder d's own files of format fmt (sampled ones counted, the others
 * estimated by size from them). */
static void leaf_totals(const struct crawl *c, unsigned d, int fmt, uint64_t *records,
			uint64_t *objects, uint64_t *bytes, bool *quoted)
{
	uint64_t srec = 0, sbytes = 0, ubytes = 0;
	*objects = 0;
	for (unsigned i = c->dirs[d].file_first; i < c->dirs[d].file_own_end; i++) {
		const struct cfile *f = &c->files[i];
		if (f->fmt == fmt) {
			srec += f->records;
			sbytes += f->size;
			*quoted |= f->quoted;
		} else if (f->fmt == -2) {
			ubytes += f->size;
		} else {
			continue;
		}
		(*objects)++;
	}
	*bytes = sbytes + ubytes;
	*records = srec + (sbytes ? (uint64_t)((double)srec * (double)ubytes / (double)sbytes) : 0);
}

static int emit(struct crawl *c, unsigned root, const unsigned *leaves, unsigned n, int fmt,
		const char *name, size_t name_len)
{
	struct cat_crawl_result *r = c->res;
	const struct cfmt *f = &c->fmts[fmt];
	unsigned levels = c->dirs[leaves[0]].depth - c->dirs[root].depth;
	size_t base = strlen(c->dirs[root].rel);
	json_t *cols = json_array(), *keys = json_array(), *parts = json_array(), *table = NULL;
	json_t *sd = NULL, *params = NULL;
	int ret = -ENOMEM;
	char tname[CAT_CRAWL_TABLE_NAME_MAX + 16], key[CAT_NAME_MAX + 1], val[CAT_VALUE_MAX + 1];
	char loc[8192];
	if (!cols || !keys || !parts)
		goto out;
	for (unsigned i = 0; i < n; i++)
		if (c->dirs[leaves[i]].cols &&
		    (ret = cat_crawl_columns_merge(cols, c->dirs[leaves[i]].cols)) < 0)
			goto out;
	ret = -ENOMEM;
	/* Partition keys: a level's key when every folder there is key=value with one key. */
	for (unsigned l = 0; l < levels; l++) {
		char first[CAT_NAME_MAX + 1] = "";
		bool named = true;
		for (unsigned i = 0; i < n && named; i++) {
			const char *comp;
			size_t cl = component(c->dirs[leaves[i]].rel, base, l, &comp);
			named = cat_crawl_partition_name(comp, cl, key, sizeof(key), val,
							 sizeof(val)) == 1 &&
				(i == 0 || strcmp(first, key) == 0);
			if (named && i == 0)
				snprintf(first, sizeof(first), "%s", key);
		}
		char kn[CAT_NAME_MAX + 1];
		if (named) {
			/* Keys are column names: folded as the catalog folds names. */
			for (size_t k = 0; k <= strlen(first); k++)
				kn[k] = (first[k] >= 'A' && first[k] <= 'Z') ?
						(char)(first[k] - 'A' + 'a') : first[k];
			size_t j;
			json_t *kk;
			json_array_foreach(keys, j, kk)
				if (strcmp(json_string_value(json_object_get(kk, "Name")), kn) == 0)
					named = false;
		}
		if (!named)
			snprintf(kn, sizeof(kn), "partition_%u", l);
		json_array_append_new(keys, json_pack("{s:s,s:s}", "Name", kn, "Type", "string"));
	}
	/* A partition key that is also a data column: the column goes (Hive forbids both). */
	for (size_t j = 0; j < json_array_size(keys); j++) {
		const char *k = json_string_value(json_object_get(json_array_get(keys, j), "Name"));
		for (size_t i = 0; i < json_array_size(cols); i++)
			if (strcmp(json_string_value(json_object_get(json_array_get(cols, i), "Name")),
				   k) == 0)
				json_array_remove(cols, i--);
	}
	uint64_t t_rec = 0, t_obj = 0, t_bytes = 0;
	bool t_quoted = false;
	for (unsigned i = 0; i < n; i++) {
		uint64_t rec, obj, bytes;
		bool q = false;
		leaf_totals(c, leaves[i], fmt, &rec, &obj, &bytes, &q);
		t_rec += rec;
		t_obj += obj;
		t_bytes += bytes;
		t_quoted |= q;
	}
	if (!(sd = storage_for(f, t_quoted, cols)))
		goto out;
	for (unsigned i = 0; i < n && levels; i++) {
		json_t *vals = json_array();
		for (unsigned l = 0; l < levels; l++) {
			const char *comp;
			size_t cl = component(c->dirs[leaves[i]].rel, base, l, &comp);
			const char *kn = json_string_value(json_object_get(json_array_get(keys, l),
									   "Name"));
			if (strncmp(kn, "partition_", 10) != 0 &&
			    cat_crawl_partition_name(comp, cl, key, sizeof(key), val, sizeof(val)) == 1)
				json_array_append_new(vals, json_string(val));
			else
				json_array_append_new(vals, json_stringn(comp, cl < CAT_VALUE_MAX ?
									    cl : CAT_VALUE_MAX));
		}
		uint64_t rec, obj, bytes;
		bool q = false;
		leaf_totals(c, leaves[i], fmt, &rec, &obj, &bytes, &q);
		dir_location(c, leaves[i], loc, sizeof(loc));
		json_t *psd = json_deep_copy(sd);
		json_t *pp = params_for(c, f, q, rec, obj, bytes);
		if (!vals || !psd || !pp) {
			json_decref(vals);
			json_decref(psd);
			json_decref(pp);
			goto out;
		}
		json_object_set_new(psd, "Location", json_string(loc));
		json_object_set(psd, "Parameters", pp);
		json_array_append_new(parts, json_pack("{s:o,s:o,s:o}", "Values", vals,
						       "StorageDescriptor", psd, "Parameters", pp));
	}
	if (!(params = params_for(c, f, t_quoted, t_rec, t_obj, t_bytes)))
		goto out;
	dir_location(c, root, loc, sizeof(loc));
	json_object_set_new(sd, "Location", json_string(loc));
	json_object_set(sd, "Parameters", params);
	int tl = cat_crawl_table_name(c->cfg->table_prefix, name, name_len, tname);
	if (name_taken(r, tname))
		snprintf(tname + (tl > CAT_CRAWL_TABLE_NAME_MAX - 9 ? CAT_CRAWL_TABLE_NAME_MAX - 9 : tl),
			 10, "_%08x", fnv1a(c->dirs[root].rel) ^ (uint32_t)fmt);
	table = json_pack("{s:s,s:s,s:s,s:i,s:s,s:O,s:O,s:O}", "Name", tname, "Owner", "owner",
			  "TableType", "EXTERNAL_TABLE", "Retention", 0, "CreatedBy",
			  "ingestd-crawler", "PartitionKeys", keys, "StorageDescriptor", sd,
			  "Parameters", params);
	if (!table)
		goto out;
	struct cat_crawl_table *nt = realloc(r->tables, (r->n_tables + 1) * sizeof(*nt));
	if (!nt)
		goto out;
	r->tables = nt;
	nt[r->n_tables].table = table;
	nt[r->n_tables].partitions = parts;
	r->n_tables++;
	table = parts = NULL;
	ret = 0;
out:
	json_decref(table);
	json_decref(params);
	json_decref(sd);
	json_decref(parts);
	json_decref(keys);
	json_decref(cols);
	return ret;
}

/* The share of b's column names that a has (1.0 when b has none). */
static double share(const json_t *a, const json_t *b)
{
	size_t nb = json_array_size(b), common = 0, i, j;
	if (!nb)
		return 1.0;
	json_t *x, *y;
	json_array_foreach(b, i, x) {
		const char *n = json_string_value(json_object_get(x, "Name"));
		json_array_foreach(a, j, y)
			if (strcmp(n, json_string_value(json_object_get(y, "Name"))) == 0) {
				common++;
				break;
			}
	}
	return (double)common / (double)nb;
}

static const char *root_name(const struct crawl *c, size_t *len)
{
	/* The location's last component: s3://b/p/q -> q, s3://b -> b, /x/y.json -> y.json. */
	const char *s = c->loc, *slash = strrchr(s, '/');
	const char *name = slash ? slash + 1 : s;
	*len = strlen(name);
	if (c->root_is_file) {
		const char *dot = strchr(name, '.');
		if (dot && dot > name)
			*len = (size_t)(dot - name);
	}
	return name;
}

static int decide(struct crawl *c, unsigned d)
{
	const struct cdir *dd = &c->dirs[d];
	unsigned *leaves = malloc((dd->dir_end - d) * sizeof(*leaves));
	unsigned n = 0, similar = 0;
	bool one = true;
	int fmt = -1, r = 0;
	json_t *seen = json_array();  /* the union of the leaves' columns so far */
	if (!leaves || !seen) {
		free(leaves);
		json_decref(seen);
		return -ENOMEM;
	}
	for (unsigned k = d; k < dd->dir_end; k++) {
		const struct cdir *x = &c->dirs[k];
		if (x->fmt == -1)
			continue;
		if (x->fmt == -3 || (n && (x->fmt != fmt || x->depth != c->dirs[leaves[0]].depth)))
			one = false;
		else if (!n || share(seen, x->cols) >= CAT_CRAWL_COLUMN_SHARE)
			similar++;
		if (one && x->cols && cat_crawl_columns_merge(seen, x->cols) == -ENOMEM) {
			r = -ENOMEM;
			goto out;
		}
		fmt = x->fmt;
		leaves[n++] = k;
	}
	size_t nl;
	const char *name = d == 0 ? root_name(c, &nl) : dd->name;
	if (d != 0)
		nl = strlen(name);
	if (n == 0)
		goto out;
	if (!c->cfg->combine_compatible && similar < CAT_CRAWL_SIMILARITY * n)
		one = false;
	if (one) {
		r = emit(c, d, leaves, n, fmt, name, nl);
		goto out;
	}
	/* Not one table: the folder's own files by format, then each sub-folder on its own. */
	if (dd->fmt >= 0) {
		r = emit(c, d, &d, 1, dd->fmt, name, nl);
	} else if (dd->fmt == -3) {
		for (unsigned i = 0; i < c->n_fmts && r >= 0; i++)
			for (unsigned k = dd->file_first; k < dd->file_own_end; k++)
				if (c->files[k].fmt == (int)i) {
					r = emit(c, d, &d, 1, (int)i, name, nl);
					break;
				}
	}
	for (unsigned k = d + 1; k < dd->dir_end && r >= 0; k = c->dirs[k].dir_end)
		r = decide(c, k);
out:
	json_decref(seen);
	free(leaves);
	return r;
}

int cat_crawl_run(const struct cat_crawl_config *cfg, struct cat_crawl_result **ret)
{
	if (!cfg || !cfg->root || !cfg->location || !cfg->classifiers)
		return -EINVAL;
	struct crawl c = { .cfg = cfg };
	int r = -ENOMEM;
	if (!(c.res = calloc(1, sizeof(*c.res))) || !(c.res->messages = json_array()) ||
	    !(c.buf = malloc(CAT_CLASSIFY_SAMPLE_MAX)) || !(c.zbuf = malloc(CAT_CLASSIFY_SAMPLE_MAX)))
		goto out;
	snprintf(c.loc, sizeof(c.loc), "%s", cfg->location);
	for (size_t l = strlen(c.loc); l > 1 && c.loc[l - 1] == '/' && c.loc[l - 2] != '/'; l--)
		c.loc[l - 1] = '\0';
	struct stat st;
	if (stat(cfg->root, &st) < 0) {
		snprintf(c.res->error, sizeof(c.res->error), "%s cannot be crawled: %s",
			 cfg->location, strerror(errno));
		goto done;
	}
	if (add_dir(&c, "", 0) < 0)
		goto out;
	if (S_ISREG(st.st_mode)) {
		/* One file: a table over it alone. */
		c.root_is_file = true;
		const char *base = strrchr(cfg->root, '/');
		base = base ? base + 1 : cfg->root;
		int fd = open(cfg->root, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
		if (fd < 0) {
			snprintf(c.res->error, sizeof(c.res->error), "%s cannot be read: %s",
				 cfg->location, strerror(errno));
			goto done;
		}
		if (add_file(&c, base, (uint64_t)st.st_size, 0) < 0) {
			close(fd);
			goto out;
		}
		sample_file(&c, &c.files[0], fd, base);
		c.dirs[0].file_own_end = c.dirs[0].file_end = 1;
		c.dirs[0].dir_end = 1;
	} else if (S_ISDIR(st.st_mode)) {
		int fd = open(cfg->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (fd < 0) {
			snprintf(c.res->error, sizeof(c.res->error), "%s cannot be read: %s",
				 cfg->location, strerror(errno));
			goto done;
		}
		walk(&c, fd, 0);
	} else {
		snprintf(c.res->error, sizeof(c.res->error), "%s is neither a folder nor a file",
			 cfg->location);
		goto done;
	}
	if (c.err < 0) {
		r = c.err;
		goto out;
	}
	if (!c.res->cancelled && (r = decide(&c, 0)) < 0)
		goto out;
done:
	*ret = c.res;
	c.res = NULL;
	r = 0;
out:
	for (unsigned i = 0; i < c.n_files; i++)
		free(c.files[i].name);
	for (unsigned i = 0; i < c.n_dirs; i++) {
		free(c.dirs[i].rel);
		json_decref(c.dirs[i].cols);
	}
	free(c.files);
	free(c.dirs);
	free(c.fmts);
	free(c.buf);
	free(c.zbuf);
	cat_crawl_result_free(c.res);
	return r;
}

void cat_crawl_result_free(struct cat_crawl_result *r)
{
	if (!r)
		return;
	for (unsigned i = 0; i < r->n_tables; i++) {
		json_decref(r->tables[i].table);
		json_decref(r->tables[i].partitions);
	}
	free(r->tables);
	json_decref(r->messages);
	free(r);
}

/* ---- writing the catalog --------------------------------------------------------------------- */

static void apply_note(struct cat_crawl_result *r, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void apply_note(struct cat_crawl_result *r, const char *fmt, ...)
{
	if (!r->messages || json_array_size(r->messages) >= CAT_CRAWL_MESSAGES_MAX)
		return;
	char m[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(m, sizeof(m), fmt, ap);
	va_end(ap);
	json_array_append_new(r->messages, json_string(m));
}

static bool same_member(const json_t *a, const json_t *b, const char *k)
{
	const json_t *x = json_object_get(a, k), *y = json_object_get(b, k);
	return (!x && !y) || (x && y && json_equal(x, y));
}

/* Whether what a crawl decides about a table differs from what is stored. */
static bool table_changed(const json_t *old, const json_t *now)
{
	const json_t *os = json_object_get(old, "StorageDescriptor");
	const json_t *ns = json_object_get(now, "StorageDescriptor");
	const json_t *op = json_object_get(old, "Parameters");
	const json_t *np = json_object_get(now, "Parameters");
	return !same_member(old, now, "PartitionKeys") || !same_member(os, ns, "Columns") ||
	       !same_member(os, ns, "Location") || !same_member(os, ns, "SerdeInfo") ||
	       !same_member(os, ns, "InputFormat") || !same_member(op, np, "classification") ||
	       !same_member(op, np, "compressionType") || !same_member(op, np, "delimiter");
}

static int apply_partitions(struct cat_store *s, const char *db, const char *name,
			    const json_t *stored, const struct cat_crawl_table *t,
			    struct cat_crawl_result *r, int64_t now_s, struct cat_crawl_counts *out)
{
	size_t nkeys = json_array_size(json_object_get(stored, "PartitionKeys"));
	size_t i;
	json_t *p, *fresh = json_array();
	int ret = 0;
	if (!fresh)
		return -ENOMEM;
	json_array_foreach(t->partitions, i, p) {
		json_t *vals = json_object_get(p, "Values"), *old = NULL;
		if (json_array_size(vals) != nkeys) {
			apply_note(r, "table %s: partition %s left out: the table keeps %zu partition "
				   "keys", name, json_string_value(json_object_get(json_object_get(
				   p, "StorageDescriptor"), "Location")), nkeys);
			continue;
		}
		int q = cat_partition_get(s, db, name, vals, &old);
		if (q == -CAT_ERR_NOT_FOUND) {
			json_array_append(fresh, p);
			continue;
		}
		if (q < 0) {
			ret = q;
			break;
		}
		const json_t *os = json_object_get(old, "StorageDescriptor");
		const json_t *ns = json_object_get(p, "StorageDescriptor");
		bool changed = !same_member(os, ns, "Columns") || !same_member(os, ns, "Location") ||
			       !same_member(os, ns, "SerdeInfo") ||
			       !same_member(json_object_get(old, "Parameters"),
					    json_object_get(p, "Parameters"), "recordCount");
		json_decref(old);
		if (!changed)
			continue;
		if ((q = cat_partition_put(s, db, name, p, now_s)) < 0) {
			ret = q;
			break;
		}
		out->partitions_updated++;
	}
	/* New partitions in batches: one transaction per batch rather than one per partition. */
	enum { BATCH = 500 };
	size_t n = json_array_size(fresh);
	int *res = ret == 0 && n ? calloc(BATCH, sizeof(*res)) : NULL;
	if (ret == 0 && n && !res)
		ret = -ENOMEM;
	for (size_t at = 0; ret == 0 && at < n; at += BATCH) {
		size_t m = n - at < BATCH ? n - at : BATCH;
		json_t *chunk = json_array();
		for (size_t k = 0; chunk && k < m; k++)
			json_array_append(chunk, json_array_get(fresh, at + k));
		int q = chunk ? cat_partition_create_batch(s, db, name, chunk, now_s, res) : -ENOMEM;
		json_decref(chunk);
		if (q < 0) {
			ret = q;
			break;
		}
		for (size_t k = 0; k < m; k++) {
			if (res[k] == 0)
				out->partitions_created++;
			else
				apply_note(r, "table %s: a partition could not be written: %s", name,
					   cat_err_name(res[k]));
		}
	}
	free(res);
	json_decref(fresh);
	return ret;
}

static bool found_now(struct cat_crawl_result *const *rs, unsigned n, const char *name)
{
	for (unsigned i = 0; i < n; i++)
		for (unsigned j = 0; j < rs[i]->n_tables; j++)
			if (strcmp(json_string_value(json_object_get(rs[i]->tables[j].table, "Name")),
				   name) == 0)
				return true;
	return false;
}

/* The tables this crawler wrote before and did not find now. */
static int apply_deletes(struct cat_store *s, const char *db, struct cat_crawl_result *const *rs,
			 unsigned n, const char *crawler, enum cat_crawl_delete del, int64_t now_s,
			 struct cat_crawl_counts *out)
{
	char after[CAT_NAME_MAX + 1] = "";
	bool more = true;
	int ret = 0;
	json_t *gone = json_array();
	if (!gone)
		return -ENOMEM;
	while (more && ret == 0) {
		json_t *items;
		int q = cat_table_list(s, db, after[0] ? after : NULL, 100, NULL, NULL, &items, &more);
		if (q < 0) {
			ret = q;
			break;
		}
		size_t i;
		json_t *t;
		json_array_foreach(items, i, t) {
			const char *name = json_string_value(json_object_get(t, "Name"));
			snprintf(after, sizeof(after), "%s", name);
			const json_t *p = json_object_get(t, "Parameters");
			const char *by = json_string_value(json_object_get(p, "UPDATED_BY_CRAWLER"));
			if (by && strcmp(by, crawler) == 0 && !found_now(rs, n, name) &&
			    !json_object_get(p, "DEPRECATED_BY_CRAWLER"))
				json_array_append(gone, t);
		}
		json_decref(items);
	}
	size_t i;
	json_t *t;
	json_array_foreach(gone, i, t) {
		const char *name = json_string_value(json_object_get(t, "Name"));
		if (ret < 0)
			break;
		if (del == CAT_CRAWL_DELETE_LOG) {
			apply_note(rs[0], "table %s: no longer found; kept (DeleteBehavior LOG)", name);
		} else if (del == CAT_CRAWL_DELETE_FROM_DATABASE) {
			int q = cat_table_delete(s, db, name);
			if (q < 0 && q != -CAT_ERR_NOT_FOUND)
				ret = q;
			else
				out->tables_deleted++;
		} else {
			json_t *in = json_deep_copy(t);
			if (!in) {
				ret = -ENOMEM;
				break;
			}
			json_t *p = json_object_get(in, "Parameters");
			json_object_set_new(p, "DEPRECATED_BY_CRAWLER", json_string("1"));
			int q = cat_table_update(s, db, in, -1, true, now_s);
			json_decref(in);
			if (q < 0)
				ret = q;
			else
				out->tables_deprecated++;
		}
	}
	json_decref(gone);
	return ret;
}

int cat_crawl_apply(struct cat_store *s, const char *db, struct cat_crawl_result *const *rs,
		    unsigned n, const char *crawler, enum cat_crawl_update update,
		    enum cat_crawl_delete del, int64_t now_s, struct cat_crawl_counts *out)
{
	memset(out, 0, sizeof(*out));
	if (!s || !db || !rs || !n || !crawler)
		return -EINVAL;
	json_t *dbo = NULL;
	int r = cat_db_get(s, db, &dbo);
	json_decref(dbo);
	if (r < 0)
		return r;
	for (unsigned k = 0; k < n; k++) {
		for (unsigned i = 0; i < rs[k]->n_tables; i++) {
			const struct cat_crawl_table *t = &rs[k]->tables[i];
			const char *name = json_string_value(json_object_get(t->table, "Name"));
			json_t *old = NULL;
			r = cat_table_get(s, db, name, &old);
			if (r == -CAT_ERR_NOT_FOUND) {
				if ((r = cat_table_create(s, db, t->table, now_s)) < 0)
					return r;
				out->tables_created++;
				r = cat_table_get(s, db, name, &old);
			} else if (r == 0 && table_changed(old, t->table)) {
				if (update == CAT_CRAWL_UPDATE_LOG) {
					apply_note(rs[0], "table %s: schema changed; not applied "
						   "(UpdateBehavior LOG)", name);
				} else {
					json_t *in = json_deep_copy(t->table);
					const json_t *desc = json_object_get(old, "Description");
					if (in && desc)
						json_object_set(in, "Description", (json_t *)desc);
					r = in ? cat_table_put(s, db, in, now_s) : -ENOMEM;
					json_decref(in);
					json_decref(old);
					old = NULL;
					if (r < 0)
						return r;
					out->tables_updated++;
					r = cat_table_get(s, db, name, &old);
				}
			}
			if (r < 0) {
				json_decref(old);
				return r;
			}
			r = apply_partitions(s, db, name, old, t, rs[0], now_s, out);
			json_decref(old);
			if (r < 0)
				return r;
		}
	}
	return apply_deletes(s, db, rs, n, crawler, del, now_s, out);
}
