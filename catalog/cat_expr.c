/* SPDX-License-Identifier: MIT */
/*
 * cat_expr: see cat_expr.h. A recursive-descent parser over a one-token lookahead lexer builds
 * a flat node array (AND/OR are n-ary, so their chains cost no depth); literals are converted
 * to the column's type once, here, so that evaluation converts only the partition's value.
 */
#include "cat_expr.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* How a partition key's values compare. */
enum ktype { KT_STRING, KT_INT, KT_REAL, KT_DATE, KT_TS, KT_OTHER };

enum nkind { N_OR, N_AND, N_NOT, N_CMP, N_BETWEEN, N_IN, N_LIKE, N_NULL };
enum cmpop { OP_EQ, OP_NE, OP_LT, OP_GT, OP_LE, OP_GE };

/* Three-valued logic. */
enum tv { TV_FALSE, TV_TRUE, TV_UNKNOWN };

/* A value of a column's type: the text for strings (s, n), else i (int, date, timestamp, with
 * ns for timestamps) or d. */
struct val {
	int64_t i, ns;
	double d;
	const char *s;
	size_t n;
};

struct node {
	uint8_t kind, op;
	bool neg;            /* NOT BETWEEN / NOT IN / NOT LIKE / IS NOT NULL */
	unsigned col;
	int first, next;     /* children of OR/AND/NOT (first child, next sibling); -1 ends */
	int v0, nv;          /* literals vals[v0 .. v0 + nv) */
};

struct cat_expr {
	size_t ncols;
	enum ktype *types;
	struct node *nodes;
	int nn;
	struct val *vals;
	int nvals;
	char *pool;          /* unescaped string literals */
	size_t pool_len;
	int root;
};

#define HIVE_NULL "__HIVE_DEFAULT_PARTITION__"

/* ---- types and values ---------------------------------------------------------------------------- */

static bool prefix_ci(const char *s, const char *p)
{
	for (; *p; s++, p++)
		if ((*s | 0x20) != *p)
			return false;
	return true;
}

/* Is s (case-insensitive) the type name t, optionally followed by "(...)" parameters? */
static bool type_is(const char *s, const char *t)
{
	size_t n = strlen(t);
	return strlen(s) >= n && prefix_ci(s, t) && (s[n] == '\0' || s[n] == '(');
}

static enum ktype key_type(const char *t)
{
	static const struct {
		const char *name;
		enum ktype kt;
	} k_types[] = {
		{ "string", KT_STRING }, { "varchar", KT_STRING }, { "char", KT_STRING },
		{ "int", KT_INT }, { "integer", KT_INT }, { "bigint", KT_INT }, { "long", KT_INT },
		{ "smallint", KT_INT }, { "tinyint", KT_INT },
		{ "decimal", KT_REAL }, { "double", KT_REAL }, { "float", KT_REAL },
		{ "date", KT_DATE }, { "timestamp", KT_TS },
	};
	/* Crawlers write no Type for some keys; Glue's crawler-made keys are strings. */
	if (!t || !*t)
		return KT_STRING;
	for (size_t i = 0; i < sizeof(k_types) / sizeof(k_types[0]); i++)
		if (type_is(t, k_types[i].name))
			return k_types[i].kt;
	return KT_OTHER;
}

/* n decimal digits at s as a number, or -1. */
static int64_t digits(const char *s, size_t n)
{
	int64_t v = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v;
}

static bool leap(int64_t y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/*
 * 'YYYY-MM-DD' (date) or that with ' HH:MM:SS[.f]' or 'T...' (timestamp) as an ordered pair:
 * the fields down to seconds packed most significant first, then nanoseconds. Returns 0 or -1.
 */
static int parse_time(const char *s, size_t n, bool with_time, int64_t *out, int64_t *ns_out)
{
	static const int k_mdays[] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	if (n < 10 || s[4] != '-' || s[7] != '-')
		return -1;
	int64_t y = digits(s, 4), mo = digits(s + 5, 2), d = digits(s + 8, 2);
	if (y < 0 || mo < 1 || mo > 12 || d < 1 || d > k_mdays[mo - 1] ||
	    (mo == 2 && d == 29 && !leap(y)))
		return -1;
	int64_t h = 0, mi = 0, sec = 0, ns = 0;
	if (n > 10) {
		if (!with_time || n < 19 || (s[10] != ' ' && s[10] != 'T') || s[13] != ':' ||
		    s[16] != ':')
			return -1;
		h = digits(s + 11, 2);
		mi = digits(s + 14, 2);
		sec = digits(s + 17, 2);
		if (h < 0 || h > 23 || mi < 0 || mi > 59 || sec < 0 || sec > 59)
			return -1;
		if (n > 19) {
			size_t fl = n - 20;
			if (s[19] != '.' || fl < 1 || fl > 9 || (ns = digits(s + 20, fl)) < 0)
				return -1;
			for (size_t i = fl; i < 9; i++)
				ns *= 10;
		}
	}
	/* Seconds and nanoseconds apart: 9999 years * 13 * 32 * 86400 s fits easily, but not
	 * again times 1e9. */
	*out = ((((y * 13 + mo) * 32 + d) * 24 + h) * 60 + mi) * 60 + sec;
	*ns_out = ns;
	return 0;
}

static int parse_int(const char *s, size_t n, int64_t *out)
{
	size_t i = 0;
	bool neg = false;
	uint64_t v = 0;
	if (n > 0 && (s[0] == '-' || s[0] == '+'))
		neg = s[i++] == '-';
	if (i == n)
		return -1;
	for (; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		unsigned dg = (unsigned)(s[i] - '0');
		if (v > (UINT64_MAX - dg) / 10)
			return -1;
		v = v * 10 + dg;
	}
	if (v > (uint64_t)INT64_MAX + (neg ? 1 : 0))
		return -1;
	*out = neg ? (int64_t)(0 - v) : (int64_t)v;
	return 0;
}

static int parse_real(const char *s, size_t n, double *out)
{
	char buf[64];
	char *end;
	if (n == 0 || n >= sizeof(buf))
		return -1;
	memcpy(buf, s, n);
	buf[n] = '\0';
	/* strtod also reads hex, inf and nan; a decimal key holds plain decimal numbers only. */
	for (size_t i = 0; i < n; i++)
		if (!strchr("0123456789+-.eE", buf[i]))
			return -1;
	errno = 0;
	*out = strtod(buf, &end);
	return *end || end == buf || errno == ERANGE ? -1 : 0;
}

/* The text s[0..n) as a value of type kt: 0 or -1. */
static int convert(enum ktype kt, const char *s, size_t n, struct val *v)
{
	v->s = s;
	v->n = n;
	v->ns = 0;
	switch (kt) {
	case KT_STRING:
		return 0;
	case KT_INT:
		return parse_int(s, n, &v->i);
	case KT_REAL:
		return parse_real(s, n, &v->d);
	case KT_DATE:
		return parse_time(s, n, false, &v->i, &v->ns);
	case KT_TS:
		return parse_time(s, n, true, &v->i, &v->ns);
	default:
		return -1;
	}
}

static int compare(enum ktype kt, const struct val *a, const struct val *b)
{
	if (kt == KT_STRING) {
		size_t n = a->n < b->n ? a->n : b->n;
		int c = memcmp(a->s, b->s, n);
		if (c)
			return c < 0 ? -1 : 1;
		return a->n < b->n ? -1 : a->n > b->n;
	}
	if (kt == KT_REAL)
		return a->d < b->d ? -1 : a->d > b->d;
	if (a->i != b->i)
		return a->i < b->i ? -1 : 1;
	return a->ns < b->ns ? -1 : a->ns > b->ns;
}

/* One UTF-8 character's length at s (continuation bytes follow the lead byte). */
static size_t utf8_len(const char *s, size_t n)
{
	size_t i = 1;
	while (i < n && ((unsigned char)s[i] & 0xc0) == 0x80)
		i++;
	return i;
}

/*
 * SQL LIKE: '%' any run, '_' one character. On a mismatch after a '%', the match restarts one
 * character further from that '%' only (the latest one), which is exact for this pattern
 * language and bounds the work by pattern length x text length.
 */
static bool like(const char *p, size_t pn, const char *t, size_t tn)
{
	size_t pi = 0, ti = 0, star_p = SIZE_MAX, star_t = 0;
	while (ti < tn) {
		if (pi < pn && p[pi] == '%') {
			star_p = ++pi;
			star_t = ti;
		} else if (pi < pn && p[pi] == '_') {
			pi++;
			ti += utf8_len(t + ti, tn - ti);
		} else if (pi < pn && p[pi] == t[ti]) {
			pi++;
			ti++;
		} else if (star_p != SIZE_MAX) {
			pi = star_p;
			star_t += utf8_len(t + star_t, tn - star_t);
			ti = star_t;
		} else {
			return false;
		}
	}
	while (pi < pn && p[pi] == '%')
		pi++;
	return pi == pn;
}

/* ---- lexer --------------------------------------------------------------------------------------- */

enum tok { T_END, T_WORD, T_QIDENT, T_STRING, T_NUMBER, T_LPAR, T_RPAR, T_COMMA, T_OP, T_BAD };

struct parser {
	const char *text;
	size_t len, pos;
	/* The current token: kind, where it starts, its text (for T_STRING unescaped later). */
	enum tok tk;
	size_t tpos, tlen;
	uint8_t op;
	const json_t *keys;
	struct cat_expr *e;
	unsigned depth;
	char *err;
	int r;
};

static void fail(struct parser *p, size_t pos, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void fail(struct parser *p, size_t pos, const char *fmt, ...)
{
	if (p->r < 0)
		return;
	p->r = -EINVAL;
	int n = snprintf(p->err, CAT_EXPR_ERR_MAX, "Invalid partition expression at position "
			 "%zu: ", pos + 1);
	if (n < 0 || n >= CAT_EXPR_ERR_MAX)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(p->err + n, CAT_EXPR_ERR_MAX - (size_t)n, fmt, ap);
	va_end(ap);
}

static char lower(char ch)
{
	return ch >= 'A' && ch <= 'Z' ? (char)(ch + ('a' - 'A')) : ch;
}

static bool is_ident(char ch, bool first)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || ch == '_' ||
	       (!first && ch >= '0' && ch <= '9') || (unsigned char)ch >= 0x80;
}

static void next(struct parser *p)
{
	const char *s = p->text;
	while (p->pos < p->len && strchr(" \t\r\n", s[p->pos]))
		p->pos++;
	p->tpos = p->pos;
	if (p->pos == p->len) {
		p->tk = T_END;
		p->tlen = 0;
		return;
	}
	char ch = s[p->pos];
	size_t i = p->pos;
	if (ch == '\'') {
		/* Up to the closing quote; '' inside is a quote. */
		for (i++;; i++) {
			if (i >= p->len) {
				p->tk = T_BAD;
				fail(p, p->pos, "unterminated string literal");
				return;
			}
			if (s[i] == '\'') {
				if (i + 1 < p->len && s[i + 1] == '\'') {
					i++;
					continue;
				}
				break;
			}
		}
		p->tk = T_STRING;
		p->tlen = i + 1 - p->pos;
	} else if (ch == '`' || ch == '"') {
		const char *close = memchr(s + i + 1, ch, p->len - i - 1);
		if (!close || close == s + i + 1) {
			p->tk = T_BAD;
			fail(p, p->pos, "unterminated or empty quoted column name");
			return;
		}
		p->tk = T_QIDENT;
		p->tlen = (size_t)(close - (s + i)) + 1;
	} else if ((ch >= '0' && ch <= '9') || ch == '-' || ch == '.') {
		if (ch == '-')
			i++;
		size_t d0 = i;
		while (i < p->len && ((s[i] >= '0' && s[i] <= '9') || s[i] == '.'))
			i++;
		if (i == d0 || (i < p->len && is_ident(s[i], false))) {
			p->tk = T_BAD;
			fail(p, p->pos, "malformed number");
			return;
		}
		p->tk = T_NUMBER;
		p->tlen = i - p->pos;
	} else if (is_ident(ch, true)) {
		while (i < p->len && is_ident(s[i], false))
			i++;
		p->tk = T_WORD;
		p->tlen = i - p->pos;
	} else if (ch == '(' || ch == ')' || ch == ',') {
		p->tk = ch == '(' ? T_LPAR : ch == ')' ? T_RPAR : T_COMMA;
		p->tlen = 1;
	} else if (strchr("=<>!", ch)) {
		char c2 = p->pos + 1 < p->len ? s[p->pos + 1] : '\0';
		p->tk = T_OP;
		p->tlen = 1;
		if (ch == '=') {
			p->op = OP_EQ;
		} else if (ch == '<' && c2 == '>') {
			p->op = OP_NE;
			p->tlen = 2;
		} else if (ch == '!' && c2 == '=') {
			p->op = OP_NE;
			p->tlen = 2;
		} else if (ch == '<') {
			p->op = c2 == '=' ? OP_LE : OP_LT;
			p->tlen = c2 == '=' ? 2 : 1;
		} else if (ch == '>') {
			p->op = c2 == '=' ? OP_GE : OP_GT;
			p->tlen = c2 == '=' ? 2 : 1;
		} else {
			p->tk = T_BAD;
			fail(p, p->pos, "unexpected '!'");
			return;
		}
	} else {
		p->tk = T_BAD;
		fail(p, p->pos, "unexpected character '%c'",
		     (unsigned char)ch >= 0x20 && ch != 0x7f ? ch : '?');
		return;
	}
	p->pos += p->tlen;
}

/* Is the current token the keyword kw (upper case)? */
static bool kw(const struct parser *p, const char *kw)
{
	size_t n = strlen(kw);
	if (p->tk != T_WORD || p->tlen != n)
		return false;
	for (size_t i = 0; i < n; i++)
		if ((p->text[p->tpos + i] & ~0x20) != kw[i])
			return false;
	return true;
}

static bool reserved(const struct parser *p)
{
	static const char *const k_words[] = { "AND", "OR", "NOT", "BETWEEN", "IN", "LIKE", "IS",
					       "NULL" };
	for (size_t i = 0; i < sizeof(k_words) / sizeof(k_words[0]); i++)
		if (kw(p, k_words[i]))
			return true;
	return false;
}

/* What the current token is, for messages. */
static const char *tok_desc(const struct parser *p, char *buf, size_t n)
{
	if (p->tk == T_END)
		return "the end of the expression";
	snprintf(buf, n, "'%.*s'", (int)(p->tlen > 40 ? 40 : p->tlen), p->text + p->tpos);
	return buf;
}

static void expected(struct parser *p, const char *what)
{
	char b[48];
	fail(p, p->tpos, "expected %s, found %s", what, tok_desc(p, b, sizeof(b)));
}

/* ---- parser -------------------------------------------------------------------------------------- */

static int new_node(struct parser *p, enum nkind kind)
{
	struct cat_expr *e = p->e;
	if (e->nn + e->nvals >= CAT_EXPR_NODES_MAX) {
		fail(p, p->tpos, "more than %d terms", CAT_EXPR_NODES_MAX);
		return -1;
	}
	struct node *nd = &e->nodes[e->nn];
	memset(nd, 0, sizeof(*nd));
	nd->kind = (uint8_t)kind;
	nd->first = nd->next = -1;
	return e->nn++;
}

/* The column named by the current token (a word or a quoted identifier): its index or -1. */
static int column(struct parser *p)
{
	const char *name = p->text + p->tpos;
	size_t n = p->tlen;
	if (p->tk == T_QIDENT) {
		name++;
		n -= 2;
	} else if (p->tk != T_WORD || reserved(p)) {
		expected(p, "a partition key name");
		return -1;
	}
	size_t i;
	json_t *k;
	json_array_foreach(p->keys, i, k) {
		const char *kn = json_string_value(json_object_get(k, "Name"));
		if (!kn || strlen(kn) != n)
			continue;
		size_t j = 0;
		while (j < n && lower(kn[j]) == lower(name[j]))
			j++;
		if (j < n)
			continue;
		if (p->e->types[i] == KT_OTHER) {
			fail(p, p->tpos, "partition key '%.*s' has type %.40s, which an expression "
			     "cannot compare (use string, date, timestamp, an integer type or "
			     "decimal)", (int)n, name,
			     json_string_value(json_object_get(k, "Type")));
			return -1;
		}
		next(p);
		return (int)i;
	}
	/* Name the keys there are: the caller's typo is then plain to see. */
	char known[160] = "";
	size_t off = 0;
	json_array_foreach(p->keys, i, k) {
		const char *kn = json_string_value(json_object_get(k, "Name"));
		int w = snprintf(known + off, sizeof(known) - off, "%s%s", i ? ", " : "",
				 kn ? kn : "?");
		if (w < 0 || (size_t)w >= sizeof(known) - off)
			break;
		off += (size_t)w;
	}
	fail(p, p->tpos, "unknown column '%.*s'; %s%s", (int)(n > 64 ? 64 : n), name,
	     off ? "the partition keys are " : "the table has no partition keys", known);
	return -1;
}

/* A literal of column col's type, appended to vals: its index or -1. */
static int literal(struct parser *p, unsigned col, bool like_pattern)
{
	struct cat_expr *e = p->e;
	if (p->tk != T_STRING && p->tk != T_NUMBER) {
		expected(p, like_pattern ? "a quoted pattern" : "a quoted string or a number");
		return -1;
	}
	if (like_pattern && p->tk != T_STRING) {
		expected(p, "a quoted pattern");
		return -1;
	}
	if (e->nn + e->nvals >= CAT_EXPR_NODES_MAX) {
		fail(p, p->tpos, "more than %d terms", CAT_EXPR_NODES_MAX);
		return -1;
	}
	/* The literal's text goes to the pool (the caller's text may go once compiled);
	 * a quoted one unescaped ('' -> '). */
	const char *s = p->text + p->tpos;
	char *out = e->pool + e->pool_len;
	size_t n = 0;
	if (p->tk == T_STRING) {
		for (size_t i = 1; i + 1 < p->tlen; i++) {
			out[n++] = s[i];
			if (s[i] == '\'')
				i++;
		}
	} else {
		memcpy(out, s, p->tlen);
		n = p->tlen;
	}
	s = out;
	e->pool_len += n;
	struct val *v = &e->vals[e->nvals];
	enum ktype kt = like_pattern ? KT_STRING : e->types[col];
	if (convert(kt, s, n, v) < 0) {
		static const char *const k_names[] = { "string", "integer", "decimal number",
						       "date (YYYY-MM-DD)",
						       "timestamp (YYYY-MM-DD HH:MM:SS)", "?" };
		fail(p, p->tpos, "%.*s is not a %s, the type of partition key '%s'",
		     (int)(p->tlen > 40 ? 40 : p->tlen), p->text + p->tpos, k_names[kt],
		     json_string_value(json_object_get(json_array_get(p->keys, col), "Name")));
		return -1;
	}
	next(p);
	return e->nvals++;
}

static int parse_or(struct parser *p);

static int predicate(struct parser *p)
{
	int col = column(p);
	if (col < 0)
		return -1;
	bool neg = false;
	int n;
	if (p->tk == T_OP) {
		uint8_t op = p->op;
		next(p);
		if ((n = new_node(p, N_CMP)) < 0)
			return -1;
		p->e->nodes[n].op = op;
		p->e->nodes[n].col = (unsigned)col;
		int v = literal(p, (unsigned)col, false);
		if (v < 0)
			return -1;
		p->e->nodes[n].v0 = v;
		p->e->nodes[n].nv = 1;
		return n;
	}
	if (kw(p, "IS")) {
		next(p);
		if (kw(p, "NOT")) {
			neg = true;
			next(p);
		}
		if (!kw(p, "NULL")) {
			expected(p, "NULL");
			return -1;
		}
		next(p);
		if ((n = new_node(p, N_NULL)) < 0)
			return -1;
		p->e->nodes[n].col = (unsigned)col;
		p->e->nodes[n].neg = neg;
		return n;
	}
	if (kw(p, "NOT")) {
		neg = true;
		next(p);
	}
	enum nkind kind;
	if (kw(p, "BETWEEN"))
		kind = N_BETWEEN;
	else if (kw(p, "IN"))
		kind = N_IN;
	else if (kw(p, "LIKE"))
		kind = N_LIKE;
	else {
		expected(p, neg ? "BETWEEN, IN or LIKE" :
			 "a comparison (= <> != < > <= >=), BETWEEN, IN, LIKE or IS");
		return -1;
	}
	next(p);
	if ((n = new_node(p, kind)) < 0)
		return -1;
	struct node *nd = &p->e->nodes[n];
	nd->col = (unsigned)col;
	nd->neg = neg;
	if (kind == N_LIKE) {
		if ((nd->v0 = literal(p, (unsigned)col, true)) < 0)
			return -1;
		nd->nv = 1;
		return n;
	}
	if (kind == N_BETWEEN) {
		if ((nd->v0 = literal(p, (unsigned)col, false)) < 0)
			return -1;
		if (!kw(p, "AND")) {
			expected(p, "AND");
			return -1;
		}
		next(p);
		if (literal(p, (unsigned)col, false) < 0)
			return -1;
		nd->nv = 2;
		return n;
	}
	if (p->tk != T_LPAR) {
		expected(p, "'(' after IN");
		return -1;
	}
	next(p);
	for (;;) {
		int v = literal(p, (unsigned)col, false);
		if (v < 0)
			return -1;
		if (nd->nv++ == 0)
			nd->v0 = v;
		if (p->tk == T_RPAR)
			break;
		if (p->tk != T_COMMA) {
			expected(p, "',' or ')'");
			return -1;
		}
		next(p);
	}
	next(p);
	return n;
}

static int factor(struct parser *p)
{
	if (p->r < 0)
		return -1;
	if (kw(p, "NOT") || p->tk == T_LPAR) {
		if (++p->depth > CAT_EXPR_DEPTH_MAX) {
			fail(p, p->tpos, "nested deeper than %d", CAT_EXPR_DEPTH_MAX);
			return -1;
		}
		int n;
		if (p->tk == T_LPAR) {
			next(p);
			n = parse_or(p);
			if (n >= 0 && p->tk != T_RPAR) {
				expected(p, "')'");
				n = -1;
			}
			if (n >= 0)
				next(p);
		} else {
			next(p);
			int child = factor(p);
			n = child < 0 ? -1 : new_node(p, N_NOT);
			if (n >= 0)
				p->e->nodes[n].first = child;
		}
		p->depth--;
		return n;
	}
	return predicate(p);
}

/* One n-ary level: child (KW child)*, a single child returned as itself. */
static int nary(struct parser *p, enum nkind kind, const char *word, int (*child)(struct parser *))
{
	int first = child(p);
	if (first < 0 || !kw(p, word))
		return first;
	int n = new_node(p, kind);
	if (n < 0)
		return -1;
	p->e->nodes[n].first = first;
	int last = first;
	while (kw(p, word)) {
		next(p);
		int c = child(p);
		if (c < 0)
			return -1;
		p->e->nodes[last].next = c;
		last = c;
	}
	return n;
}

static int parse_and(struct parser *p)
{
	return nary(p, N_AND, "AND", factor);
}

static int parse_or(struct parser *p)
{
	return nary(p, N_OR, "OR", parse_and);
}

int cat_expr_compile(const char *text, const json_t *keys, struct cat_expr **ret, char *err)
{
	struct cat_expr *e = NULL;
	size_t len = text ? strlen(text) : 0;
	int r = -ENOMEM;
	err[0] = '\0';
	if (len > CAT_EXPR_LEN_MAX) {
		snprintf(err, CAT_EXPR_ERR_MAX, "Invalid partition expression: longer than %d bytes",
			 CAT_EXPR_LEN_MAX);
		return -EINVAL;
	}
	json_t *empty = NULL;
	if (!json_is_array(keys)) {
		if (!(empty = json_array()))
			return -ENOMEM;
		keys = empty;
	}
	if (!(e = calloc(1, sizeof(*e))))
		goto out;
	e->ncols = json_array_size(keys);
	e->types = calloc(e->ncols + 1, sizeof(*e->types));
	e->nodes = calloc(CAT_EXPR_NODES_MAX, sizeof(*e->nodes));
	e->vals = calloc(CAT_EXPR_NODES_MAX, sizeof(*e->vals));
	e->pool = malloc(len + 1);
	if (!e->types || !e->nodes || !e->vals || !e->pool)
		goto out;
	for (size_t i = 0; i < e->ncols; i++)
		e->types[i] = key_type(json_string_value(json_object_get(json_array_get(keys, i),
									  "Type")));
	struct parser p = { .text = text ? text : "", .len = len, .keys = keys, .e = e, .err = err };
	next(&p);
	if (p.tk == T_END) {
		fail(&p, 0, "the expression is empty");
	} else {
		e->root = parse_or(&p);
		if (p.r == 0 && p.tk != T_END)
			expected(&p, "AND, OR or the end of the expression");
	}
	r = p.r;
	if (r == 0) {
		*ret = e;
		e = NULL;
	}
out:
	cat_expr_free(e);
	json_decref(empty);
	return r;
}

void cat_expr_free(struct cat_expr *e)
{
	if (!e)
		return;
	free(e->types);
	free(e->nodes);
	free(e->vals);
	free(e->pool);
	free(e);
}

/* ---- evaluation ---------------------------------------------------------------------------------- */

static enum tv tv_of(bool b)
{
	return b ? TV_TRUE : TV_FALSE;
}

static enum tv tv_not(enum tv t)
{
	return t == TV_UNKNOWN ? t : tv_of(t == TV_FALSE);
}

static enum tv eval(const struct cat_expr *e, int ni, const char *const *values)
{
	const struct node *nd = &e->nodes[ni];
	if (nd->kind == N_AND || nd->kind == N_OR) {
		/* AND: any false is false, else any unknown is unknown; OR mirrors it. */
		enum tv stop = nd->kind == N_AND ? TV_FALSE : TV_TRUE;
		enum tv acc = nd->kind == N_AND ? TV_TRUE : TV_FALSE;
		for (int c = nd->first; c >= 0; c = e->nodes[c].next) {
			enum tv t = eval(e, c, values);
			if (t == stop)
				return stop;
			if (t == TV_UNKNOWN)
				acc = TV_UNKNOWN;
		}
		return acc;
	}
	if (nd->kind == N_NOT)
		return tv_not(eval(e, nd->first, values));
	const char *s = values[nd->col];
	size_t n = strlen(s);
	enum ktype kt = e->types[nd->col];
	const struct val *lit = &e->vals[nd->v0];
	if (nd->kind == N_NULL)
		return tv_of((kt == KT_STRING && strcmp(s, HIVE_NULL) == 0) != nd->neg);
	if (nd->kind == N_LIKE)
		return tv_of(like(lit->s, lit->n, s, n) != nd->neg);
	struct val v;
	if (convert(kt, s, n, &v) < 0)
		return TV_UNKNOWN;
	bool b = false;
	switch (nd->kind) {
	case N_CMP: {
		int c = compare(kt, &v, lit);
		switch (nd->op) {
		case OP_EQ: b = c == 0; break;
		case OP_NE: b = c != 0; break;
		case OP_LT: b = c < 0; break;
		case OP_GT: b = c > 0; break;
		case OP_LE: b = c <= 0; break;
		default: b = c >= 0; break;
		}
		return tv_of(b);
	}
	case N_BETWEEN:
		b = compare(kt, &v, lit) >= 0 && compare(kt, &v, lit + 1) <= 0;
		break;
	default: /* N_IN */
		for (int i = 0; i < nd->nv && !b; i++)
			b = compare(kt, &v, lit + i) == 0;
		break;
	}
	return tv_of(b != nd->neg);
}

bool cat_expr_match(const struct cat_expr *e, const char *const *values, size_t n)
{
	if (n != e->ncols)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!values[i])
			return false;
	return eval(e, e->root, values) == TV_TRUE;
}

bool cat_expr_match_json(const struct cat_expr *e, const json_t *values)
{
	const char *small[16];
	const char **v = small;
	size_t n = json_array_size(values);
	if (n != e->ncols)
		return false;
	if (n > sizeof(small) / sizeof(small[0]) && !(v = malloc(n * sizeof(*v))))
		return false;
	for (size_t i = 0; i < n; i++)
		v[i] = json_string_value(json_array_get(values, i));
	bool m = cat_expr_match(e, v, n);
	if (v != small)
		free(v);
	return m;
}
