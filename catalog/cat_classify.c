/* SPDX-License-Identifier: MIT */
/*
 * cat_classify: see cat_classify.h. Text is looked at as lines (Grok, JSON lines) or as CSV
 * records; JSON is parsed by jansson. The Grok patterns of every Grok classifier, custom ones
 * first and the built-ins after them, are ids 0..n-1 of one cat_hsdb in that order, so one scan
 * per line counts the matches of all of them.
 */
#include "cat_classify.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cat_grok.h"
#include "cat_hsdb.h"

/* Scratches kept for reuse; more concurrent callers allocate and free their own. */
#define POOL_MAX 8
/* Share of control bytes above which a sample is binary: text files have none, and 1% leaves
 * room for a stray form feed or escape sequence in a log. */
#define BINARY_CTRL_PER_MILLE 10
/* Share of bytes that are not UTF-8 above which a sample is binary (Latin-1 text has a few). */
#define BINARY_BADUTF8_PER_MILLE 100

enum ckind { K_GROK, K_JSON, K_CSV, K_XML };

enum jp_kind { JP_KEY, JP_INDEX, JP_WILD };
struct jp_step {
	enum jp_kind k;
	char *key;
	size_t idx;
};

struct centry {
	enum ckind k;
	char *name;
	char *classification;
	/* grok */
	unsigned hs_id;
	struct cat_grok *grok;
	/* json */
	struct jp_step *steps;
	unsigned n_steps;
	/* csv */
	char delim, quote;
	int header_mode;   /* -1 decide by Glue's rules, 0 absent, 1 present */
	char **header;
	unsigned n_header;
	bool single;
	/* xml */
	char *row_tag;
};

struct cat_classifiers {
	struct centry *e;          /* custom classifiers, in order */
	unsigned n;
	struct centry lib[4];      /* combined_apache, apache, syslog, log */
	struct cat_hsdb *db;
	unsigned n_grok;
	pthread_mutex_t lock;
	struct cat_hsdb_scratch *pool[POOL_MAX];
	unsigned n_pool;
};

static const struct {
	const char *classification;
	const char *pattern;
} g_lib_grok[4] = {
	{ "combined_apache", "%{COMBINEDAPACHELOG}" },
	{ "apache", "%{COMMONAPACHELOG}" },
	{ "syslog", "%{SYSLOGLINE}" },
	{ "log", "%{TIMESTAMPEDLOG}" },
};

static int err_set(char *err, size_t errlen, int r, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static int err_set(char *err, size_t errlen, int r, const char *fmt, ...)
{
	va_list ap;
	if (errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return r;
}

/* ---- types ---------------------------------------------------------------------------------- */

enum tk { T_NONE, T_BOOL, T_BIGINT, T_DOUBLE, T_STRING, T_STRUCT, T_ARRAY };

struct ty {
	enum tk k;
	struct ty *elem;       /* T_ARRAY */
	unsigned n, cap;       /* T_STRUCT members */
	char **names;
	struct ty **fields;
};

static void ty_free(struct ty *t)
{
	if (!t)
		return;
	ty_free(t->elem);
	for (unsigned i = 0; i < t->n; i++) {
		free(t->names[i]);
		ty_free(t->fields[i]);
	}
	free(t->names);
	free(t->fields);
	free(t);
}

static struct ty *ty_new(enum tk k)
{
	struct ty *t = calloc(1, sizeof(*t));
	if (t)
		t->k = k;
	return t;
}

static int ty_merge(struct ty **into, struct ty *from);

/* Add member name (copied; ASCII folded when fold) of type t (consumed) to struct s. */
static int ty_member(struct ty *s, const char *name, bool fold, struct ty *t)
{
	char *n = strdup(name);
	if (!n) {
		ty_free(t);
		return -ENOMEM;
	}
	if (fold)
		for (char *p = n; *p; p++)
			*p = (char)tolower((unsigned char)*p);
	for (unsigned i = 0; i < s->n; i++)
		if (strcmp(s->names[i], n) == 0) {
			free(n);
			return ty_merge(&s->fields[i], t);
		}
	if (s->n == s->cap) {
		unsigned cap = s->cap ? 2 * s->cap : 8;
		char **nn = realloc(s->names, cap * sizeof(*nn));
		if (nn)
			s->names = nn;
		struct ty **nf = realloc(s->fields, cap * sizeof(*nf));
		if (nf)
			s->fields = nf;
		if (!nn || !nf) {
			free(n);
			ty_free(t);
			return -ENOMEM;
		}
		s->cap = cap;
	}
	s->names[s->n] = n;
	s->fields[s->n++] = t;
	return 0;
}

/* The type of a JSON value; top-level member names folded when fold. NULL: out of memory. */
static struct ty *ty_of(const json_t *v, bool fold)
{
	struct ty *t;
	switch (json_typeof(v)) {
	case JSON_OBJECT: {
		const char *k;
		json_t *m;
		if (!(t = ty_new(T_STRUCT)))
			return NULL;
		json_object_foreach((json_t *)v, k, m) {
			/* A member without a name can be no column or struct field (Hive needs one). */
			if (!*k)
				continue;
			struct ty *mt = ty_of(m, false);
			if (!mt || ty_member(t, k, fold, mt) < 0) {
				ty_free(t);
				return NULL;
			}
		}
		return t;
	}
	case JSON_ARRAY: {
		size_t i;
		json_t *m;
		if (!(t = ty_new(T_ARRAY)))
			return NULL;
		json_array_foreach(v, i, m) {
			struct ty *mt = ty_of(m, false);
			if (!mt || ty_merge(&t->elem, mt) < 0) {
				ty_free(t);
				return NULL;
			}
		}
		return t;
	}
	case JSON_STRING: return ty_new(T_STRING);
	case JSON_INTEGER: return ty_new(T_BIGINT);
	case JSON_REAL: return ty_new(T_DOUBLE);
	case JSON_TRUE:
	case JSON_FALSE: return ty_new(T_BOOL);
	default: return ty_new(T_NONE);
	}
}

/* Merge from (consumed) into *into: boolean < bigint < double < string; structs member-wise;
 * arrays element-wise; a struct or array against anything else is a string. */
static int ty_merge(struct ty **into, struct ty *from)
{
	struct ty *a = *into;
	if (!a) {
		*into = from;
		return 0;
	}
	if (from->k == T_NONE) {
		ty_free(from);
		return 0;
	}
	if (a->k == T_NONE) {
		ty_free(a);
		*into = from;
		return 0;
	}
	if (a->k == T_STRUCT && from->k == T_STRUCT) {
		int r = 0;
		for (unsigned i = 0; i < from->n && r == 0; i++) {
			r = ty_member(a, from->names[i], false, from->fields[i]);
			from->fields[i] = NULL;
		}
		ty_free(from);
		return r;
	}
	if (a->k == T_ARRAY && from->k == T_ARRAY) {
		int r = 0;
		if (from->elem) {
			r = ty_merge(&a->elem, from->elem);
			from->elem = NULL;
		}
		ty_free(from);
		return r;
	}
	bool complex = a->k >= T_STRUCT || from->k >= T_STRUCT;
	enum tk k = complex ? T_STRING : (a->k > from->k ? a->k : from->k);
	ty_free(from);
	if (a->k != k) {
		ty_free(a->elem);
		for (unsigned i = 0; i < a->n; i++) {
			free(a->names[i]);
			ty_free(a->fields[i]);
		}
		free(a->names);
		free(a->fields);
		memset(a, 0, sizeof(*a));
		a->k = k;
	}
	return 0;
}

struct str {
	char *p;
	size_t len, cap;
	bool oom;
};

static void str_add(struct str *s, const char *t)
{
	size_t n = strlen(t);
	if (s->oom)
		return;
	if (s->len + n + 1 > s->cap) {
		size_t cap = s->cap ? s->cap : 64;
		while (cap < s->len + n + 1)
			cap *= 2;
		char *p = realloc(s->p, cap);
		if (!p) {
			s->oom = true;
			return;
		}
		s->p = p;
		s->cap = cap;
	}
	memcpy(s->p + s->len, t, n + 1);
	s->len += n;
}

static void ty_render(const struct ty *t, struct str *s)
{
	switch (t ? t->k : T_NONE) {
	case T_BOOL: str_add(s, "boolean"); break;
	case T_BIGINT: str_add(s, "bigint"); break;
	case T_DOUBLE: str_add(s, "double"); break;
	case T_ARRAY:
		str_add(s, "array<");
		ty_render(t->elem, s);
		str_add(s, ">");
		break;
	case T_STRUCT:
		str_add(s, "struct<");
		for (unsigned i = 0; i < t->n; i++) {
			if (i)
				str_add(s, ",");
			str_add(s, t->names[i]);
			str_add(s, ":");
			ty_render(t->fields[i], s);
		}
		str_add(s, ">");
		break;
	default: str_add(s, "string"); break;
	}
}

static int out_column(struct cat_classification *out, const char *name, const char *type)
{
	struct cat_column *c = realloc(out->columns, (out->n_columns + 1) * sizeof(*c));
	if (!c)
		return -ENOMEM;
	out->columns = c;
	c[out->n_columns].name = strdup(name);
	c[out->n_columns].type = strdup(type);
	if (!c[out->n_columns].name || !c[out->n_columns].type) {
		free(c[out->n_columns].name);
		free(c[out->n_columns].type);
		return -ENOMEM;
	}
	out->n_columns++;
	return 0;
}

static int out_ty_column(struct cat_classification *out, const char *name, const struct ty *t)
{
	struct str s = { 0 };
	ty_render(t, &s);
	int r = s.oom ? -ENOMEM : out_column(out, name, s.p);
	free(s.p);
	return r;
}

/* Columns from the merged record type: a struct's members, else one column `name`. */
static int out_record_columns(struct cat_classification *out, const struct ty *t, const char *name)
{
	if (t && t->k == T_STRUCT) {
		for (unsigned i = 0; i < t->n; i++)
			if (out_ty_column(out, t->names[i], t->fields[i]) < 0)
				return -ENOMEM;
		return 0;
	}
	return out_ty_column(out, name, t);
}

/* ---- lines ---------------------------------------------------------------------------------- */

struct line {
	const char *p;
	size_t len;
};

struct sample {
	const char *p;
	size_t len;
	struct line *lines;   /* non-empty lines */
	unsigned n_lines;
	bool cut;             /* the last line has no newline: the sampler may have cut it */
};

static int sample_lines(struct sample *s)
{
	size_t cap = 64;
	s->lines = malloc(cap * sizeof(*s->lines));
	if (!s->lines)
		return -ENOMEM;
	const char *p = s->p, *end = s->p + s->len;
	s->cut = s->len > 0 && end[-1] != '\n';
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *e = nl ? nl : end;
		size_t n = (size_t)(e - p);
		if (n && p[n - 1] == '\r')
			n--;
		if (n) {
			if (s->n_lines == cap) {
				cap *= 2;
				struct line *l = realloc(s->lines, cap * sizeof(*l));
				if (!l)
					return -ENOMEM;
				s->lines = l;
			}
			s->lines[s->n_lines++] = (struct line){ p, n };
		}
		p = nl ? nl + 1 : end;
	}
	return 0;
}

/* Of n items (lines, documents), ok passed and last_ok says whether the last one did: the
 * count that judges the file, leaving out a cut-off last item that failed. */
static unsigned judged(const struct sample *s, unsigned n, bool last_ok)
{
	return (s->cut && n > 1 && !last_ok) ? n - 1 : n;
}

/* ---- sniffing ------------------------------------------------------------------------------- */

static bool binary(const uint8_t *b, size_t len);

/* A format or compression known by its first bytes. Formats also need the sample to be binary,
 * so that a text file that happens to start with "ORC" or "PAR1" stays text. */
static bool magic(const uint8_t *b, size_t len, struct cat_classification *out)
{
	static const struct {
		const char *m;
		size_t n;
		const char *cls;
		const char *comp;
	} tab[] = {
		{ "Obj\x01", 4, "avro", NULL },
		{ "PAR1", 4, "parquet", NULL },
		{ "ORC", 3, "orc", NULL },
		{ "\xe0\x01\x00\xea", 4, "ion", NULL },
		{ "\x1f\x8b", 2, NULL, "gzip" },
		{ "BZh", 3, NULL, "bzip2" },
		{ "\x28\xb5\x2f\xfd", 4, NULL, "zstd" },
		{ "PK\x03\x04", 4, NULL, "zip" },
		{ "\xff\x06\x00\x00sNaPpY", 10, NULL, "snappy" },
	};
	for (size_t i = 0; i < sizeof(tab) / sizeof(tab[0]); i++) {
		if (len < tab[i].n || memcmp(b, tab[i].m, tab[i].n) != 0 ||
		    (tab[i].cls && !binary(b, len)))
			continue;
		if (tab[i].cls) {
			snprintf(out->classification, sizeof(out->classification), "%s", tab[i].cls);
			snprintf(out->classifier, sizeof(out->classifier), "%s", tab[i].cls);
			out->certainty = 1.0;
		} else {
			snprintf(out->compression, sizeof(out->compression), "%s", tab[i].comp);
		}
		return true;
	}
	return false;
}

/* Length of the UTF-8 sequence at b (1..4), or 0 when it is not one. */
static size_t utf8_len(const uint8_t *b, size_t n)
{
	size_t need;
	if (b[0] < 0x80)
		return 1;
	if (b[0] >= 0xc2 && b[0] <= 0xdf)
		need = 2;
	else if (b[0] >= 0xe0 && b[0] <= 0xef)
		need = 3;
	else if (b[0] >= 0xf0 && b[0] <= 0xf4)
		need = 4;
	else
		return 0;
	if (n < need)
		return n == 0 ? 0 : n;  /* cut off at the end of the sample: not held against it */
	for (size_t i = 1; i < need; i++)
		if ((b[i] & 0xc0) != 0x80)
			return 0;
	return need;
}

static bool binary(const uint8_t *b, size_t len)
{
	size_t ctrl = 0, bad = 0;
	for (size_t i = 0; i < len;) {
		uint8_t c = b[i];
		if (c == 0)
			return true;
		if ((c < 0x20 && c != '\t' && c != '\n' && c != '\r' && c != '\f' && c != '\v' &&
		     c != 0x01) || c == 0x7f)
			ctrl++;
		size_t k = utf8_len(b + i, len - i);
		if (k == 0) {
			bad++;
			k = 1;
		}
		i += k;
	}
	return ctrl * 1000 > len * BINARY_CTRL_PER_MILLE || bad * 1000 > len * BINARY_BADUTF8_PER_MILLE;
}

/* ---- JSON ----------------------------------------------------------------------------------- */

static int jp_parse(const char *path, struct jp_step **ret, unsigned *n, char *err, size_t errlen)
{
	struct jp_step *st = NULL;
	unsigned cnt = 0, cap = 0;
	const char *p = path;
	size_t plen = strlen(path);
	if (plen == 0 || plen > CAT_CLASSIFY_JSONPATH_MAX || *p != '$')
		return err_set(err, errlen, -EINVAL, "JsonPath must start with $ and be at most %d "
			       "bytes", CAT_CLASSIFY_JSONPATH_MAX);
	p++;
	while (*p) {
		struct jp_step s = { 0 };
		size_t at = (size_t)(p - path);
		if (p[0] == '.' && p[1] == '*') {
			s.k = JP_WILD;
			p += 2;
		} else if (p[0] == '.') {
			const char *b = ++p;
			while (*p && *p != '.' && *p != '[')
				p++;
			if (p == b)
				goto bad;
			s.k = JP_KEY;
			if (!(s.key = strndup(b, (size_t)(p - b))))
				goto oom;
		} else if (p[0] == '[' && p[1] == '*' && p[2] == ']') {
			s.k = JP_WILD;
			p += 3;
		} else if (p[0] == '[' && (p[1] == '\'' || p[1] == '"')) {
			char q = p[1];
			const char *b = p + 2, *e = strchr(b, q);
			if (!e || e == b || e[1] != ']')
				goto bad;
			s.k = JP_KEY;
			if (!(s.key = strndup(b, (size_t)(e - b))))
				goto oom;
			p = e + 2;
		} else if (p[0] == '[' && isdigit((unsigned char)p[1])) {
			char *e;
			errno = 0;
			unsigned long long v = strtoull(p + 1, &e, 10);
			if (errno || *e != ']')
				goto bad;
			s.k = JP_INDEX;
			s.idx = (size_t)v;
			p = e + 1;
		} else {
			goto bad;
		}
		if (cnt == cap) {
			cap = cap ? 2 * cap : 4;
			struct jp_step *ns = realloc(st, cap * sizeof(*ns));
			if (!ns) {
				free(s.key);
				goto oom;
			}
			st = ns;
		}
		st[cnt++] = s;
		continue;
bad:
		for (unsigned i = 0; i < cnt; i++)
			free(st[i].key);
		free(st);
		return err_set(err, errlen, -EINVAL, "JsonPath %s: unexpected text at offset %zu "
			       "(supported: $, .name, ['name'], [n], [*], .*)", path, at);
	}
	*ret = st;
	*n = cnt;
	return 0;
oom:
	for (unsigned i = 0; i < cnt; i++)
		free(st[i].key);
	free(st);
	return err_set(err, errlen, -ENOMEM, "out of memory");
}

static void jp_free(struct jp_step *st, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		free(st[i].key);
	free(st);
}

/* Apply steps[i..] to v; merge every node found into *t. Returns nodes found or -ENOMEM. */
static int jp_eval(const json_t *v, const struct jp_step *st, unsigned n, unsigned i, struct ty **t)
{
	if (i == n) {
		struct ty *x = ty_of(v, true);
		if (!x || ty_merge(t, x) < 0)
			return -ENOMEM;
		return 1;
	}
	int found = 0, r;
	switch (st[i].k) {
	case JP_KEY:
		if (json_is_object(v) && json_object_get(v, st[i].key))
			return jp_eval(json_object_get(v, st[i].key), st, n, i + 1, t);
		return 0;
	case JP_INDEX:
		if (json_is_array(v) && st[i].idx < json_array_size(v))
			return jp_eval(json_array_get(v, st[i].idx), st, n, i + 1, t);
		return 0;
	case JP_WILD:
		if (json_is_array(v)) {
			size_t k;
			json_t *m;
			json_array_foreach(v, k, m) {
				if ((r = jp_eval(m, st, n, i + 1, t)) < 0)
					return r;
				found += r;
			}
		} else if (json_is_object(v)) {
			const char *k;
			json_t *m;
			json_object_foreach((json_t *)v, k, m) {
				if ((r = jp_eval(m, st, n, i + 1, t)) < 0)
					return r;
				found += r;
			}
		}
		return found;
	}
	return 0;
}

/*
 * The sample's JSON documents: the whole sample as one, else one per line. Calls fn per
 * document; sets *docs and *ok (documents fn accepted). Returns 0, or 1 when the sample is not
 * JSON at all, or -ENOMEM.
 */
typedef int (*doc_fn)(void *arg, const json_t *doc);

static int json_docs(const struct sample *s, doc_fn fn, void *arg, unsigned *docs, unsigned *ok)
{
	json_error_t je;
	*docs = *ok = 0;
	size_t i = 0;
	while (i < s->len && isspace((unsigned char)s->p[i]))
		i++;
	if (i == s->len || (s->p[i] != '{' && s->p[i] != '['))
		return 1;
	json_t *doc = json_loadb(s->p, s->len, 0, &je);
	if (doc) {
		*docs = 1;
		int r = fn(arg, doc);
		json_decref(doc);
		if (r < 0)
			return r;
		*ok = (unsigned)r;
		return 0;
	}
	bool last_ok = false;
	for (unsigned l = 0; l < s->n_lines; l++) {
		doc = json_loadb(s->lines[l].p, s->lines[l].len, 0, &je);
		(*docs)++;
		last_ok = false;
		if (!doc)
			continue;
		int r = fn(arg, doc);
		json_decref(doc);
		if (r < 0)
			return r;
		if (r > 0) {
			(*ok)++;
			last_ok = true;
		}
	}
	*docs = judged(s, *docs, last_ok);
	return *ok ? 0 : 1;
}

struct json_acc {
	struct ty *t;
	bool array_doc;
	const struct centry *e;  /* custom JsonPath, or NULL for the built-in */
};

static int builtin_doc(void *arg, const json_t *doc)
{
	struct json_acc *a = arg;
	if (json_is_array(doc)) {
		/* Glue: a document that is one top-level array is one record of one column. */
		a->array_doc = true;
	} else if (!json_is_object(doc)) {
		return 0;
	}
	struct ty *x = ty_of(doc, true);
	if (!x || ty_merge(&a->t, x) < 0)
		return -ENOMEM;
	return 1;
}

static int path_doc(void *arg, const json_t *doc)
{
	struct json_acc *a = arg;
	int r = jp_eval(doc, a->e->steps, a->e->n_steps, 0, &a->t);
	return r < 0 ? r : r > 0;
}

/* 1 when the sample is JSON per the built-in (out filled), 0 when not, <0 on error. */
static int json_builtin(const struct sample *s, struct cat_classification *out)
{
	struct json_acc a = { 0 };
	unsigned docs, ok;
	int r = json_docs(s, builtin_doc, &a, &docs, &ok);
	if (r == 0 && ok == docs && !(a.array_doc && docs > 1)) {
		out->records = docs;
		out->matched = ok;
		r = a.array_doc ? out_ty_column(out, "array", a.t) : out_record_columns(out, a.t, "record");
		r = r < 0 ? r : 1;
	} else if (r > 0 || r == 0) {
		r = 0;
	}
	ty_free(a.t);
	return r;
}

/* Certainty of a custom JSON classifier; columns into out when > 0. */
static int json_custom(const struct centry *e, const struct sample *s, struct cat_classification *out,
		       double *certainty)
{
	struct json_acc a = { .e = e };
	unsigned docs, ok;
	int r = json_docs(s, path_doc, &a, &docs, &ok);
	*certainty = 0.0;
	if (r == 0 && ok > 0) {
		*certainty = ok == docs ? 1.0 : (double)ok / docs;
		out->records = docs;
		out->matched = ok;
		r = out_record_columns(out, a.t, "record");
	}
	ty_free(a.t);
	return r < 0 ? r : 0;
}

/* ---- CSV ------------------------------------------------------------------------------------ */

struct csv_field {
	size_t off, len;  /* in csv.arena */
};

struct csv {
	char *arena;
	size_t arena_len;
	struct csv_field *f;
	size_t n_f, cap_f;
	unsigned *rec;     /* first field of each record; rec[n_rec] = n_f */
	unsigned n_rec, cap_rec;
	bool cut;          /* the last record ended at the end of the sample, not at a newline */
	bool bad;          /* a quoted field was not closed properly */
};

static void csv_free(struct csv *c)
{
	free(c->arena);
	free(c->f);
	free(c->rec);
	memset(c, 0, sizeof(*c));
}

static int csv_field(struct csv *c, size_t off, size_t len)
{
	if (c->n_f == c->cap_f) {
		size_t cap = c->cap_f ? 2 * c->cap_f : 256;
		struct csv_field *f = realloc(c->f, cap * sizeof(*f));
		if (!f)
			return -ENOMEM;
		c->f = f;
		c->cap_f = cap;
	}
	c->f[c->n_f++] = (struct csv_field){ off, len };
	return 0;
}

static int csv_record(struct csv *c, unsigned first)
{
	if (c->n_rec + 1 >= c->cap_rec) {
		unsigned cap = c->cap_rec ? 2 * c->cap_rec : 64;
		unsigned *r = realloc(c->rec, cap * sizeof(*r));
		if (!r)
			return -ENOMEM;
		c->rec = r;
		c->cap_rec = cap;
	}
	c->rec[c->n_rec++] = first;
	c->rec[c->n_rec] = (unsigned)c->n_f;
	return 0;
}

/* Parse up to max records (RFC 4180 quoting with quote doubled inside quotes; blank lines
 * skipped). Field text (unquoted) goes to the arena. */
static int csv_parse(const char *p, size_t len, char delim, char quote, unsigned max, struct csv *c)
{
	memset(c, 0, sizeof(*c));
	if (!(c->arena = malloc(len + 1)))
		return -ENOMEM;
	size_t i = 0;
	while (i < len && c->n_rec < max) {
		if (p[i] == '\n' || (p[i] == '\r' && i + 1 < len && p[i + 1] == '\n')) {
			i += p[i] == '\r' ? 2 : 1;
			continue;
		}
		unsigned first = (unsigned)c->n_f;
		for (;;) {
			size_t off = c->arena_len;
			if (quote && i < len && p[i] == quote) {
				i++;
				bool closed = false;
				while (i < len) {
					if (p[i] == quote) {
						if (i + 1 < len && p[i + 1] == quote) {
							c->arena[c->arena_len++] = quote;
							i += 2;
							continue;
						}
						i++;
						closed = true;
						break;
					}
					c->arena[c->arena_len++] = p[i++];
				}
				if (!closed)
					c->cut = true;
				/* Text between the closing quote and the delimiter is kept, as lenient
				 * readers do, but the file is not well-formed CSV. */
				while (i < len && p[i] != delim && p[i] != '\n') {
					if (p[i] != '\r')
						c->bad = true;
					c->arena[c->arena_len++] = p[i++];
				}
			} else {
				while (i < len && p[i] != delim && p[i] != '\n')
					c->arena[c->arena_len++] = p[i++];
				if (c->arena_len > off && c->arena[c->arena_len - 1] == '\r' &&
				    (i == len || p[i] == '\n'))
					c->arena_len--;
			}
			if (csv_field(c, off, c->arena_len - off) < 0)
				return -ENOMEM;
			if (i < len && p[i] == delim) {
				i++;
				continue;
			}
			break;
		}
		if (i >= len)
			c->cut = c->cut || len == 0 || p[len - 1] != '\n';
		else
			i++;  /* the newline */
		if (csv_record(c, first) < 0)
			return -ENOMEM;
	}
	return 0;
}

static unsigned csv_cols(const struct csv *c, unsigned r)
{
	return c->rec[r + 1] - c->rec[r];
}

/* Records that judge the file: a cut-off last record with another column count is left out. */
static unsigned csv_judged(const struct csv *c)
{
	if (c->cut && c->n_rec > 1 && csv_cols(c, c->n_rec - 1) != csv_cols(c, 0))
		return c->n_rec - 1;
	return c->n_rec;
}

static bool csv_consistent(const struct csv *c, unsigned n)
{
	for (unsigned r = 1; r < n; r++)
		if (csv_cols(c, r) != csv_cols(c, 0))
			return false;
	return n > 0;
}

/* The type of one CSV value (trimmed): T_NONE for empty. */
static enum tk value_type(const char *s, size_t n)
{
	while (n && isspace((unsigned char)*s)) {
		s++;
		n--;
	}
	while (n && isspace((unsigned char)s[n - 1]))
		n--;
	if (n == 0)
		return T_NONE;
	if ((n == 4 && strncasecmp(s, "true", 4) == 0) || (n == 5 && strncasecmp(s, "false", 5) == 0))
		return T_BOOL;
	char buf[64];
	if (n >= sizeof(buf))
		return T_STRING;
	memcpy(buf, s, n);
	buf[n] = '\0';
	size_t i = (buf[0] == '+' || buf[0] == '-') ? 1 : 0;
	bool digits = i < n;
	for (size_t k = i; k < n; k++)
		if (!isdigit((unsigned char)buf[k]))
			digits = false;
	if (digits) {
		char *e;
		errno = 0;
		(void)strtoll(buf, &e, 10);
		return errno == ERANGE ? T_DOUBLE : T_BIGINT;
	}
	/* A decimal: digits, one '.', an optional exponent; not hex, inf or nan. */
	bool dig = false, dot = false, exp = false;
	for (size_t k = i; k < n; k++) {
		char ch = buf[k];
		if (isdigit((unsigned char)ch))
			dig = true;
		else if (ch == '.' && !dot && !exp)
			dot = true;
		else if ((ch == 'e' || ch == 'E') && dig && !exp && k + 1 < n) {
			exp = true;
			if (buf[k + 1] == '+' || buf[k + 1] == '-')
				k++;
		} else
			return T_STRING;
	}
	return dig ? T_DOUBLE : T_STRING;
}

static bool header_like(const struct csv *c, unsigned ncols)
{
	for (unsigned k = 0; k < ncols; k++) {
		const struct csv_field *f = &c->f[c->rec[0] + k];
		const char *s = c->arena + f->off;
		bool last = k + 1 == ncols;
		if (value_type(s, f->len) != T_STRING && !(last && f->len == 0))
			return false;
		if (!last && f->len >= CAT_CLASSIFY_HEADER_FIELD_MAX)
			return false;
		for (size_t i = 0; i < f->len; i++)
			if ((unsigned char)s[i] < 0x20)
				return false;
	}
	return true;
}

/* Column types of records [from, n). */
static int csv_types(const struct csv *c, unsigned from, unsigned n, unsigned ncols, enum tk *t)
{
	for (unsigned k = 0; k < ncols; k++)
		t[k] = T_NONE;
	for (unsigned r = from; r < n; r++)
		for (unsigned k = 0; k < ncols; k++) {
			const struct csv_field *f = &c->f[c->rec[r] + k];
			enum tk v = value_type(c->arena + f->off, f->len);
			if (v > t[k])
				t[k] = v;
		}
	return 0;
}

static const char *tk_name(enum tk k)
{
	return k == T_BOOL ? "boolean" : k == T_BIGINT ? "bigint" : k == T_DOUBLE ? "double" : "string";
}

/* Fill out from a parsed CSV: header per mode (-1 Glue's rules), names from names[] if given. */
static int csv_result(const struct csv *c, unsigned n, unsigned ncols, int header_mode,
		      char *const *names, struct cat_classification *out)
{
	enum tk *t = calloc(ncols, sizeof(*t));
	if (!t)
		return -ENOMEM;
	bool header;
	if (header_mode >= 0) {
		header = header_mode == 1;
	} else {
		/* Glue: a header only when it is all strings and the data is not. */
		header = false;
		if (n >= 2 && header_like(c, ncols)) {
			csv_types(c, 1, n, ncols, t);
			for (unsigned k = 0; k < ncols; k++)
				if (t[k] != T_STRING && t[k] != T_NONE)
					header = true;
		}
	}
	csv_types(c, header ? 1 : 0, n, ncols, t);
	out->header = header;
	int r = 0;
	for (unsigned k = 0; k < ncols && r == 0; k++) {
		char name[CAT_CLASSIFY_HEADER_FIELD_MAX + 16];
		if (names) {
			snprintf(name, sizeof(name), "%s", names[k]);
		} else if (header && c->f[c->rec[0] + k].len) {
			const struct csv_field *f = &c->f[c->rec[0] + k];
			size_t len = f->len < CAT_CLASSIFY_HEADER_FIELD_MAX ? f->len
									  : CAT_CLASSIFY_HEADER_FIELD_MAX;
			const char *s = c->arena + f->off;
			while (len && isspace((unsigned char)*s)) {
				s++;
				len--;
			}
			while (len && isspace((unsigned char)s[len - 1]))
				len--;
			snprintf(name, sizeof(name), "%.*s", (int)len, s);
			for (char *q = name; *q; q++)
				*q = (char)tolower((unsigned char)*q);
		} else {
			snprintf(name, sizeof(name), "col%u", k);
		}
		r = out_column(out, name, tk_name(t[k]));
	}
	free(t);
	return r;
}

/* The built-in CSV classifier: 1 when the sample is CSV (out filled), 0 when not. */
static int csv_builtin(const struct sample *s, struct cat_classification *out)
{
	static const char delims[] = { ',', '|', '\t', ';', '\x01' };
	struct csv best = { 0 };
	unsigned best_cols = 0, best_n = 0;
	char best_delim = 0;
	int r = 0;
	for (size_t d = 0; d < sizeof(delims); d++) {
		struct csv c;
		if ((r = csv_parse(s->p, s->len, delims[d], '"', CAT_CLASSIFY_CSV_RECORDS, &c)) < 0) {
			csv_free(&c);
			goto out;
		}
		unsigned n = csv_judged(&c);
		/* Glue: at least two columns and two rows; the most columns wins, then the order. */
		if (!c.bad && n >= 2 && csv_consistent(&c, n) && csv_cols(&c, 0) >= 2 &&
		    csv_cols(&c, 0) > best_cols) {
			csv_free(&best);
			best = c;
			best_cols = csv_cols(&c, 0);
			best_n = n;
			best_delim = delims[d];
		} else {
			csv_free(&c);
		}
	}
	if (!best_cols)
		goto out;
	out->delimiter = best_delim;
	out->quote = '"';
	out->records = best_n;
	out->matched = best_n;
	r = csv_result(&best, best_n, best_cols, -1, NULL, out);
	r = r < 0 ? r : 1;
out:
	csv_free(&best);
	return r;
}

static int csv_custom(const struct centry *e, const struct sample *s, struct cat_classification *out,
		      double *certainty)
{
	struct csv c;
	int r = csv_parse(s->p, s->len, e->delim, e->quote, CAT_CLASSIFY_CSV_RECORDS, &c);
	*certainty = 0.0;
	if (r < 0)
		goto out;
	unsigned n = csv_judged(&c);
	unsigned ncols = n ? csv_cols(&c, 0) : 0;
	unsigned data = n - (e->header_mode == 1 ? 1 : 0);
	if (c.bad || n == 0 || data == 0 || !csv_consistent(&c, n) || ncols < (e->single ? 1u : 2u) ||
	    (e->n_header && e->n_header != ncols))
		goto out;
	*certainty = 1.0;
	out->delimiter = e->delim;
	out->quote = e->quote;
	out->records = n;
	out->matched = n;
	r = csv_result(&c, n, ncols, e->header_mode, e->n_header ? e->header : NULL, out);
out:
	csv_free(&c);
	return r;
}

/* ---- XML ------------------------------------------------------------------------------------ */

static bool xml_builtin(const struct sample *s)
{
	size_t i = 0;
	if (s->len >= 3 && memcmp(s->p, "\xef\xbb\xbf", 3) == 0)
		i = 3;
	while (i < s->len && isspace((unsigned char)s->p[i]))
		i++;
	if (i + 1 >= s->len || s->p[i] != '<')
		return false;
	char c = s->p[i + 1];
	if (c != '?' && c != '!' && !isalpha((unsigned char)c) && c != '_')
		return false;
	/* An element that closes: "</" or "/>" somewhere in the sample. */
	return memmem(s->p + i, s->len - i, "</", 2) || memmem(s->p + i, s->len - i, "/>", 2);
}

/* Glue: <RowTag ...>...</RowTag> is a row; a self-closing <RowTag/> is not parsed. */
static double xml_custom(const struct centry *e, const struct sample *s)
{
	char open[300], close[300];
	int on = snprintf(open, sizeof(open), "<%s", e->row_tag);
	int cn = snprintf(close, sizeof(close), "</%s>", e->row_tag);
	const char *p = s->p, *end = s->p + s->len;
	while (p < end) {
		const char *o = memmem(p, (size_t)(end - p), open, (size_t)on);
		if (!o)
			return 0.0;
		char after = o + on < end ? o[on] : '\0';
		if (after == '>' || isspace((unsigned char)after))
			return memmem(o, (size_t)(end - o), close, (size_t)cn) ? 1.0 : 0.0;
		p = o + on;
	}
	return 0.0;
}

/* ---- definitions ---------------------------------------------------------------------------- */

static void centry_clear(struct centry *e)
{
	free(e->name);
	free(e->classification);
	cat_grok_free(e->grok);
	jp_free(e->steps, e->n_steps);
	for (unsigned i = 0; i < e->n_header; i++)
		free(e->header[i]);
	free(e->header);
	free(e->row_tag);
	memset(e, 0, sizeof(*e));
}

static const char *jstr(const json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

/* One character that is not a line break: Glue's rule for Delimiter and QuoteSymbol. */
static int one_char(const char *s, const char *what, char def, char *out, char *err, size_t errlen)
{
	if (!s) {
		*out = def;
		return 0;
	}
	if (strlen(s) != 1 || s[0] == '\r' || s[0] == '\n')
		return err_set(err, errlen, -EINVAL, "%s must be exactly one character other than a "
			       "line break", what);
	*out = s[0];
	return 0;
}

static int centry_parse(const json_t *def, struct centry *e, char *err, size_t errlen)
{
	static const char *const kinds[] = { "GrokClassifier", "JsonClassifier", "CsvClassifier",
					     "XMLClassifier" };
	const json_t *body = NULL;
	int found = 0, r;
	memset(e, 0, sizeof(*e));
	for (int k = 0; k < 4; k++)
		if (json_is_object(json_object_get(def, kinds[k]))) {
			body = json_object_get(def, kinds[k]);
			e->k = (enum ckind)k;
			found++;
		}
	if (found != 1)
		return err_set(err, errlen, -EINVAL, "a classifier is exactly one of GrokClassifier, "
			       "JsonClassifier, CsvClassifier or XMLClassifier");
	const char *name = jstr(body, "Name");
	if (!name || !*name)
		return err_set(err, errlen, -EINVAL, "a classifier needs a Name");
	if (!(e->name = strdup(name)))
		goto oom;
	const char *cls = jstr(body, "Classification");
	switch (e->k) {
	case K_GROK: {
		const char *pat = jstr(body, "GrokPattern");
		if (!cls || !*cls || !pat)
			return err_set(err, errlen, -EINVAL, "GrokClassifier needs Classification and "
				       "GrokPattern");
		r = cat_grok_compile(pat, jstr(body, "CustomPatterns"), &e->grok, err, errlen);
		if (r < 0)
			return r;
		break;
	}
	case K_JSON: {
		const char *path = jstr(body, "JsonPath");
		if (!path)
			return err_set(err, errlen, -EINVAL, "JsonClassifier needs a JsonPath");
		if ((r = jp_parse(path, &e->steps, &e->n_steps, err, errlen)) < 0)
			return r;
		cls = "json";
		break;
	}
	case K_CSV: {
		const char *ch = jstr(body, "ContainsHeader");
		json_t *hdr = json_object_get(body, "Header");
		if ((r = one_char(jstr(body, "Delimiter"), "Delimiter", ',', &e->delim, err,
				  errlen)) < 0 ||
		    (r = one_char(jstr(body, "QuoteSymbol"), "QuoteSymbol", '"', &e->quote, err,
				  errlen)) < 0)
			return r;
		if (e->delim == e->quote)
			return err_set(err, errlen, -EINVAL, "Delimiter and QuoteSymbol must differ");
		e->header_mode = !ch || strcmp(ch, "UNKNOWN") == 0 ? -1
				 : strcmp(ch, "PRESENT") == 0       ? 1
				 : strcmp(ch, "ABSENT") == 0        ? 0
								    : -2;
		if (e->header_mode == -2)
			return err_set(err, errlen, -EINVAL, "ContainsHeader must be UNKNOWN, PRESENT or "
				       "ABSENT");
		e->single = json_is_true(json_object_get(body, "AllowSingleColumn"));
		if (json_is_array(hdr) && json_array_size(hdr)) {
			size_t i;
			json_t *h;
			if (!(e->header = calloc(json_array_size(hdr), sizeof(char *))))
				goto oom;
			json_array_foreach(hdr, i, h) {
				if (!json_is_string(h) || !*json_string_value(h))
					return err_set(err, errlen, -EINVAL, "Header entries must be "
						       "non-empty strings");
				if (!(e->header[e->n_header++] = strdup(json_string_value(h))))
					goto oom;
			}
		}
		cls = "csv";
		break;
	}
	case K_XML: {
		const char *tag = jstr(body, "RowTag");
		if (!cls || !*cls)
			return err_set(err, errlen, -EINVAL, "XMLClassifier needs a Classification");
		if (tag && (strpbrk(tag, "<>/ \t\r\n") || strlen(tag) > 255))
			return err_set(err, errlen, -EINVAL, "RowTag is a tag name without < > or "
				       "spaces");
		if (!(e->row_tag = strdup(tag ? tag : "")))
			goto oom;
		break;
	}
	}
	if (!(e->classification = strdup(cls)))
		goto oom;
	return 0;
oom:
	return err_set(err, errlen, -ENOMEM, "out of memory");
}

int cat_classifier_def_check(const json_t *def, char *err, size_t errlen)
{
	struct centry e;
	int r = centry_parse(def, &e, err, errlen);
	if (r == 0 && e.k == K_GROK)
		r = cat_hsdb_check(e.grok->regex, e.grok->regex_len, err, errlen);
	centry_clear(&e);
	return r;
}

/* ---- the set -------------------------------------------------------------------------------- */

int cat_classifiers_new(const json_t *const *defs, unsigned n, const char *cache_dir,
			struct cat_classifiers **ret, char *err, size_t errlen)
{
	struct cat_classifiers *cl = calloc(1, sizeof(*cl));
	const char **regexes = NULL;
	int r = -ENOMEM;
	if (errlen)
		err[0] = '\0';
	if (!cl || !(cl->e = calloc(n ? n : 1, sizeof(*cl->e))) ||
	    !(regexes = calloc(n + 4, sizeof(*regexes)))) {
		free(cl ? cl->e : NULL);
		free(cl);
		return err_set(err, errlen, -ENOMEM, "out of memory");
	}
	pthread_mutex_init(&cl->lock, NULL);
	for (unsigned i = 0; i < n; i++) {
		char e2[400];
		if ((r = centry_parse(defs[i], &cl->e[i], e2, sizeof(e2))) < 0) {
			err_set(err, errlen, r, "classifier %u: %s", i, e2);
			goto fail;
		}
		cl->n++;
		if (cl->e[i].k == K_GROK) {
			cl->e[i].hs_id = cl->n_grok;
			regexes[cl->n_grok++] = cl->e[i].grok->regex;
		}
	}
	for (unsigned i = 0; i < 4; i++) {
		struct centry *e = &cl->lib[i];
		e->k = K_GROK;
		if (!(e->name = strdup(g_lib_grok[i].classification)) ||
		    !(e->classification = strdup(g_lib_grok[i].classification))) {
			r = -ENOMEM;
			goto fail;
		}
		if ((r = cat_grok_compile(g_lib_grok[i].pattern, NULL, &e->grok, err, errlen)) < 0)
			goto fail;
		e->hs_id = cl->n_grok;
		regexes[cl->n_grok++] = e->grok->regex;
	}
	if ((r = cat_hsdb_new(regexes, cl->n_grok, cache_dir, &cl->db, err, errlen)) < 0) {
		/* The database names pattern ids; name the classifier instead. */
		unsigned id;
		const char *rest = errlen ? strchr(err, ':') : NULL;
		if (rest && sscanf(err, "pattern %u:", &id) == 1)
			for (unsigned i = 0; i < cl->n; i++)
				if (cl->e[i].k == K_GROK && cl->e[i].hs_id == id) {
					char tmp[512];
					snprintf(tmp, sizeof(tmp), "classifier %s%s", cl->e[i].name, rest);
					snprintf(err, errlen, "%s", tmp);
				}
		goto fail;
	}
	free(regexes);
	*ret = cl;
	return 0;
fail:
	free(regexes);
	cat_classifiers_free(cl);
	return r;
}

void cat_classifiers_free(struct cat_classifiers *cl)
{
	if (!cl)
		return;
	for (unsigned i = 0; i < cl->n; i++)
		centry_clear(&cl->e[i]);
	for (unsigned i = 0; i < 4; i++)
		centry_clear(&cl->lib[i]);
	free(cl->e);
	for (unsigned i = 0; i < cl->n_pool; i++)
		cat_hsdb_scratch_free(cl->pool[i]);
	cat_hsdb_free(cl->db);
	pthread_mutex_destroy(&cl->lock);
	free(cl);
}

const struct cat_hsdb *cat_classifiers_hsdb(const struct cat_classifiers *cl)
{
	return cl->db;
}

static struct cat_hsdb_scratch *scratch_get(struct cat_classifiers *cl)
{
	struct cat_hsdb_scratch *s = NULL;
	pthread_mutex_lock(&cl->lock);
	if (cl->n_pool)
		s = cl->pool[--cl->n_pool];
	pthread_mutex_unlock(&cl->lock);
	if (!s && cat_hsdb_scratch_new(cl->db, &s) < 0)
		return NULL;
	return s;
}

static void scratch_put(struct cat_classifiers *cl, struct cat_hsdb_scratch *s)
{
	pthread_mutex_lock(&cl->lock);
	if (cl->n_pool < POOL_MAX) {
		cl->pool[cl->n_pool++] = s;
		s = NULL;
	}
	pthread_mutex_unlock(&cl->lock);
	cat_hsdb_scratch_free(s);
}

static int grok_result(const struct centry *e, unsigned lines, unsigned matched,
		       struct cat_classification *out)
{
	out->records = lines;
	out->matched = matched;
	for (unsigned k = 0; k < e->grok->n_fields; k++)
		if (out_column(out, e->grok->fields[k].name,
			       cat_grok_type_name(e->grok->fields[k].type)) < 0)
			return -ENOMEM;
	return 0;
}

static void name_result(struct cat_classification *out, const struct centry *e, double certainty)
{
	snprintf(out->classification, sizeof(out->classification), "%s", e->classification);
	snprintf(out->classifier, sizeof(out->classifier), "%s", e->name);
	out->certainty = certainty;
}

void cat_classification_clear(struct cat_classification *out)
{
	if (!out)
		return;
	for (unsigned i = 0; i < out->n_columns; i++) {
		free(out->columns[i].name);
		free(out->columns[i].type);
	}
	free(out->columns);
	memset(out, 0, sizeof(*out));
}

static void unknown(struct cat_classification *out)
{
	char comp[sizeof(out->compression)];
	memcpy(comp, out->compression, sizeof(comp));
	cat_classification_clear(out);
	memcpy(out->compression, comp, sizeof(comp));
	snprintf(out->classification, sizeof(out->classification), "UNKNOWN");
}

int cat_classify_sample(const struct cat_classifiers *ccl, const char *name_hint,
			const uint8_t *buf, size_t len, struct cat_classification *out)
{
	struct cat_classifiers *cl = (struct cat_classifiers *)ccl;  /* the pool only */
	struct sample s = { .p = (const char *)buf, .len = len };
	struct cat_hsdb_scratch *sc = NULL;
	unsigned *counts = NULL, *ids = NULL;
	bool *last_hit = NULL;
	int r = 0;
	(void)name_hint;
	memset(out, 0, sizeof(*out));
	if (s.len > CAT_CLASSIFY_SAMPLE_MAX) {
		s.len = CAT_CLASSIFY_SAMPLE_MAX;
	}
	if (s.len == 0 || magic(buf, s.len, out)) {
		if (out->certainty == 0.0)
			unknown(out);
		return 0;
	}
	if (binary(buf, s.len)) {
		unknown(out);
		return 0;
	}
	if ((r = sample_lines(&s)) < 0)
		goto out;

	/* One Hyperscan scan per line counts the matches of every Grok classifier. */
	r = -ENOMEM;
	if (!(counts = calloc(cl->n_grok + 1, sizeof(*counts))) ||
	    !(ids = calloc(cl->n_grok + 1, sizeof(*ids))) ||
	    !(last_hit = calloc(cl->n_grok + 1, sizeof(*last_hit))) || !(sc = scratch_get(cl)))
		goto out;
	for (unsigned l = 0; l < s.n_lines; l++) {
		int k = cat_hsdb_match(cl->db, sc, s.lines[l].p, s.lines[l].len, ids, cl->n_grok);
		if (k < 0) {
			r = k;
			goto out;
		}
		if (l + 1 == s.n_lines)
			for (int j = 0; j < k; j++)
				last_hit[ids[j]] = true;
		for (int j = 0; j < k; j++)
			counts[ids[j]]++;
	}

	/* Custom classifiers, in order: the first with 1.0 wins; remember the best below. */
	double best = 0.0;
	int best_i = -1;
	for (unsigned i = 0; i < cl->n; i++) {
		const struct centry *e = &cl->e[i];
		struct cat_classification tmp = { 0 };
		double c = 0.0;
		switch (e->k) {
		case K_GROK: {
			unsigned lines = judged(&s, s.n_lines, last_hit[e->hs_id]);
			c = lines ? (double)counts[e->hs_id] / lines : 0.0;
			if (c > 1.0)
				c = 1.0;
			if (c > 0.0 && (r = grok_result(e, lines, counts[e->hs_id], &tmp)) < 0)
				goto out;
			break;
		}
		case K_JSON:
			if ((r = json_custom(e, &s, &tmp, &c)) < 0)
				goto out;
			break;
		case K_CSV:
			if ((r = csv_custom(e, &s, &tmp, &c)) < 0)
				goto out;
			break;
		case K_XML:
			c = xml_custom(e, &s);
			break;
		}
		if (c >= 1.0 || (c > best)) {
			cat_classification_clear(out);
			*out = tmp;
			name_result(out, e, c);
			best = c;
			best_i = (int)i;
			if (c >= 1.0) {
				r = 0;
				goto out;
			}
		} else {
			cat_classification_clear(&tmp);
		}
	}
	struct cat_classification keep = *out;
	memset(out, 0, sizeof(*out));

	/* Built-ins: 1.0 or nothing, in Glue's order. */
	if ((r = json_builtin(&s, out)) != 0) {
		if (r > 0) {
			snprintf(out->classification, sizeof(out->classification), "json");
			snprintf(out->classifier, sizeof(out->classifier), "json");
			out->certainty = 1.0;
			r = 0;
		}
		cat_classification_clear(&keep);
		goto out;
	}
	cat_classification_clear(out);
	if (xml_builtin(&s)) {
		snprintf(out->classification, sizeof(out->classification), "xml");
		snprintf(out->classifier, sizeof(out->classifier), "xml");
		out->certainty = 1.0;
		cat_classification_clear(&keep);
		r = 0;
		goto out;
	}
	for (unsigned i = 0; i < 4; i++) {
		const struct centry *e = &cl->lib[i];
		unsigned lines = judged(&s, s.n_lines, last_hit[e->hs_id]);
		if (lines && counts[e->hs_id] >= lines) {
			if ((r = grok_result(e, lines, counts[e->hs_id], out)) < 0)
				goto out_keep;
			name_result(out, e, 1.0);
			cat_classification_clear(&keep);
			goto out;
		}
	}
	if ((r = csv_builtin(&s, out)) != 0) {
		if (r > 0) {
			snprintf(out->classification, sizeof(out->classification), "csv");
			snprintf(out->classifier, sizeof(out->classifier), "csv");
			out->certainty = 1.0;
			r = 0;
		}
		goto out_keep;
	}
	/* No built-in is sure: the best custom classifier above 0.0, else UNKNOWN. */
	cat_classification_clear(out);
	if (best_i >= 0) {
		*out = keep;
		r = 0;
		goto out;
	}
	unknown(out);
	r = 0;
out_keep:
	cat_classification_clear(&keep);
out:
	if (sc)
		scratch_put(cl, sc);
	free(counts);
	free(ids);
	free(last_hit);
	free(s.lines);
	if (r < 0)
		cat_classification_clear(out);
	return r;
}
