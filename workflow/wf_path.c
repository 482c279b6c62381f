/* SPDX-License-Identifier: MIT */
/*
 * wf_path: the JSONPath compiler and evaluator (contract in wf_path.h).
 *
 * A path compiles to an array of segments. Evaluation of a definite path walks the document
 * without allocating; other paths carry a working list of nodes (a jansson array holding
 * references) through the segments.
 */
#include "wf_path.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum seg_kind { SEG_NAME, SEG_INDEX, SEG_WILD, SEG_SLICE, SEG_FILTER };

struct fexpr;

struct seg {
	enum seg_kind kind;
	bool deep;     /* `..` before the segment */
	size_t n;      /* names or indexes in a union; 1 for a plain name/index */
	char **names;  /* SEG_NAME */
	long *idx;     /* SEG_INDEX */
	long start, end, step;
	bool has_start, has_end;
	struct fexpr *filter;
};

struct wf_path {
	char *text;
	bool context;
	bool definite;
	size_t nseg;
	struct seg *seg;
};

/* Filter expressions. */
enum fop { F_OR, F_AND, F_NOT, F_EXISTS, F_EQ, F_NE, F_LT, F_LE, F_GT, F_GE };
enum fopnd { O_REL, O_ABS, O_LIT };

struct foperand {
	enum fopnd kind;
	struct wf_path *path; /* O_REL (relative to @) / O_ABS */
	json_t *lit;
};

struct fexpr {
	enum fop op;
	struct fexpr *a, *b;
	struct foperand x, y;
};

struct parser {
	const char *s;
	size_t i;
	char *err;
	size_t errlen;
	unsigned flags;
	int depth; /* filter nesting: parentheses and '!' */
};

/* Deeper filters than any real one; bounds the recursion of the filter parser. */
#define MAX_FILTER_DEPTH 32

static int perr(struct parser *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int perr(struct parser *p, const char *fmt, ...)
{
	va_list ap;

	if (p->errlen) {
		va_start(ap, fmt);
		vsnprintf(p->err, p->errlen, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

static void fexpr_free(struct fexpr *e);

static void seg_clear(struct seg *g)
{
	for (size_t i = 0; g->names && i < g->n; i++)
		free(g->names[i]);
	free(g->names);
	free(g->idx);
	fexpr_free(g->filter);
}

void wf_path_free(struct wf_path *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->nseg; i++)
		seg_clear(&p->seg[i]);
	free(p->seg);
	free(p->text);
	free(p);
}

static void operand_clear(struct foperand *o)
{
	wf_path_free(o->path);
	json_decref(o->lit);
}

static void fexpr_free(struct fexpr *e)
{
	if (!e)
		return;
	fexpr_free(e->a);
	fexpr_free(e->b);
	operand_clear(&e->x);
	operand_clear(&e->y);
	free(e);
}

static void skip_ws(struct parser *p)
{
	while (p->s[p->i] == ' ' || p->s[p->i] == '\t')
		p->i++;
}

static int push_seg(struct wf_path *path, struct seg *g)
{
	struct seg *n = realloc(path->seg, (path->nseg + 1) * sizeof(*n));

	if (!n)
		return -ENOMEM;
	path->seg = n;
	path->seg[path->nseg++] = *g;
	return 0;
}

/* A quoted name inside brackets: 'x' or "x", with backslash escapes of the quote and itself. */
static int parse_quoted(struct parser *p, char **ret)
{
	char q = p->s[p->i++];
	size_t cap = 16, len = 0;
	char *buf = malloc(cap);

	if (!buf)
		return -ENOMEM;
	for (;;) {
		char c = p->s[p->i];

		if (c == '\0') {
			free(buf);
			return perr(p, "unterminated quoted name");
		}
		p->i++;
		if (c == q)
			break;
		if (c == '\\' && (p->s[p->i] == q || p->s[p->i] == '\\'))
			c = p->s[p->i++];
		if (len + 2 > cap) {
			char *nb = realloc(buf, cap *= 2);
			if (!nb) {
				free(buf);
				return -ENOMEM;
			}
			buf = nb;
		}
		buf[len++] = c;
	}
	buf[len] = '\0';
	*ret = buf;
	return 0;
}

static int parse_long(struct parser *p, long *v)
{
	char *end;

	skip_ws(p);
	if (!(p->s[p->i] == '-' || (p->s[p->i] >= '0' && p->s[p->i] <= '9')))
		return perr(p, "expected a number at offset %zu", p->i);
	errno = 0;
	*v = strtol(p->s + p->i, &end, 10);
	if (errno || end == p->s + p->i)
		return perr(p, "bad number at offset %zu", p->i);
	p->i = (size_t)(end - p->s);
	skip_ws(p);
	return 0;
}

static int parse_path_body(struct parser *p, struct wf_path *path, bool in_filter);
static int parse_or(struct parser *p, struct fexpr **ret);

/* A bracket segment; p->i is just past '['. */
static int parse_bracket(struct parser *p, struct seg *g)
{
	int r;

	skip_ws(p);
	char c = p->s[p->i];

	if (c == '\'' || c == '"') {
		g->kind = SEG_NAME;
		for (;;) {
			char *name, **nn;

			r = parse_quoted(p, &name);
			if (r < 0)
				return r;
			nn = realloc(g->names, (g->n + 1) * sizeof(*nn));
			if (!nn) {
				free(name);
				return -ENOMEM;
			}
			g->names = nn;
			g->names[g->n++] = name;
			skip_ws(p);
			if (p->s[p->i] == ',') {
				p->i++;
				skip_ws(p);
				if (p->s[p->i] != '\'' && p->s[p->i] != '"')
					return perr(p, "expected a quoted name at offset %zu", p->i);
				continue;
			}
			break;
		}
	} else if (c == '*') {
		p->i++;
		g->kind = SEG_WILD;
		skip_ws(p);
	} else if (c == '?') {
		p->i++;
		skip_ws(p);
		if (p->s[p->i] != '(')
			return perr(p, "expected '(' after '?' at offset %zu", p->i);
		p->i++;
		g->kind = SEG_FILTER;
		r = parse_or(p, &g->filter);
		if (r < 0)
			return r;
		skip_ws(p);
		if (p->s[p->i] != ')')
			return perr(p, "expected ')' closing the filter at offset %zu", p->i);
		p->i++;
		skip_ws(p);
	} else if (c == ':' || c == '-' || (c >= '0' && c <= '9')) {
		long v = 0;
		bool have = false;

		if (c != ':') {
			r = parse_long(p, &v);
			if (r < 0)
				return r;
			have = true;
		}
		if (p->s[p->i] == ':') {
			g->kind = SEG_SLICE;
			g->has_start = have;
			g->start = v;
			g->step = 1;
			p->i++;
			skip_ws(p);
			if (p->s[p->i] != ']' && p->s[p->i] != ':') {
				r = parse_long(p, &g->end);
				if (r < 0)
					return r;
				g->has_end = true;
			}
			if (p->s[p->i] == ':') {
				p->i++;
				skip_ws(p);
				if (p->s[p->i] != ']') {
					r = parse_long(p, &g->step);
					if (r < 0)
						return r;
					if (g->step <= 0)
						return perr(p, "slice step must be positive");
				}
			}
		} else {
			g->kind = SEG_INDEX;
			for (;;) {
				long *ni = realloc(g->idx, (g->n + 1) * sizeof(*ni));

				if (!ni)
					return -ENOMEM;
				g->idx = ni;
				g->idx[g->n++] = v;
				if (p->s[p->i] != ',')
					break;
				p->i++;
				r = parse_long(p, &v);
				if (r < 0)
					return r;
			}
		}
	} else {
		return perr(p, "unexpected '%c' in brackets at offset %zu", c ? c : '0', p->i);
	}
	if (p->s[p->i] != ']')
		return perr(p, "expected ']' at offset %zu", p->i);
	p->i++;
	return 0;
}

static bool name_char(char c, bool in_filter)
{
	if (c == '\0' || c == '.' || c == '[')
		return false;
	/* Inside a filter an operand ends at an operator, a space or a parenthesis. */
	if (in_filter && strchr(" \t)(=!<>&|]", c))
		return false;
	return true;
}

/* Segments after the leading `$`, `$$` or `@`. */
static int parse_path_body(struct parser *p, struct wf_path *path, bool in_filter)
{
	int r;

	for (;;) {
		struct seg g = {0};
		char c = p->s[p->i];

		if (c == '.') {
			p->i++;
			if (p->s[p->i] == '.') {
				g.deep = true;
				p->i++;
			}
			c = p->s[p->i];
			if (c == '[' && g.deep) {
				p->i++;
				r = parse_bracket(p, &g);
			} else if (c == '*') {
				p->i++;
				g.kind = SEG_WILD;
				r = 0;
			} else {
				size_t st = p->i;

				while (name_char(p->s[p->i], in_filter))
					p->i++;
				if (p->i == st) {
					r = perr(p, "empty name at offset %zu", st);
				} else {
					g.kind = SEG_NAME;
					g.n = 1;
					g.names = malloc(sizeof(char *));
					r = g.names ? 0 : -ENOMEM;
					if (r == 0) {
						g.names[0] = strndup(p->s + st, p->i - st);
						if (!g.names[0]) {
							g.n = 0;
							r = -ENOMEM;
						}
					}
				}
			}
		} else if (c == '[') {
			p->i++;
			r = parse_bracket(p, &g);
		} else {
			return 0;
		}
		if (r == 0)
			r = push_seg(path, &g);
		if (r < 0) {
			seg_clear(&g);
			return r;
		}
	}
}

static void set_definite(struct wf_path *path)
{
	path->definite = true;
	for (size_t i = 0; i < path->nseg; i++) {
		const struct seg *g = &path->seg[i];

		if (g->deep || g->n != 1 || (g->kind != SEG_NAME && g->kind != SEG_INDEX))
			path->definite = false;
	}
}

static int parse_operand(struct parser *p, struct foperand *o)
{
	json_error_t je;
	char c;
	int r;

	skip_ws(p);
	c = p->s[p->i];
	if (c == '@' || c == '$') {
		struct wf_path *sub = calloc(1, sizeof(*sub));

		if (!sub)
			return -ENOMEM;
		o->kind = c == '@' ? O_REL : O_ABS;
		p->i++;
		r = parse_path_body(p, sub, true);
		if (r < 0) {
			wf_path_free(sub);
			return r;
		}
		set_definite(sub);
		o->path = sub;
		return 0;
	}
	o->kind = O_LIT;
	if (c == '\'' || c == '"') {
		char *s;

		r = parse_quoted(p, &s);
		if (r < 0)
			return r;
		o->lit = json_string(s);
		free(s);
		return o->lit ? 0 : -ENOMEM;
	}
	if (!strncmp(p->s + p->i, "true", 4)) {
		p->i += 4;
		o->lit = json_true();
		return 0;
	}
	if (!strncmp(p->s + p->i, "false", 5)) {
		p->i += 5;
		o->lit = json_false();
		return 0;
	}
	if (!strncmp(p->s + p->i, "null", 4)) {
		p->i += 4;
		o->lit = json_null();
		return 0;
	}
	if (c == '-' || (c >= '0' && c <= '9')) {
		size_t st = p->i;
		char num[64];

		p->i++;
		while (strchr("0123456789.eE+-", p->s[p->i]) && p->s[p->i])
			p->i++;
		if (p->i - st >= sizeof(num))
			return perr(p, "number too long at offset %zu", st);
		memcpy(num, p->s + st, p->i - st);
		num[p->i - st] = '\0';
		o->lit = json_loads(num, JSON_DECODE_ANY, &je);
		if (!o->lit || !json_is_number(o->lit))
			return perr(p, "bad number '%s' in filter", num);
		return 0;
	}
	return perr(p, "unexpected '%c' in filter at offset %zu", c ? c : '0', p->i);
}

static int parse_unary_body(struct parser *p, struct fexpr *e, struct fexpr **ret);

static int parse_unary(struct parser *p, struct fexpr **ret)
{
	struct fexpr *e = calloc(1, sizeof(*e));
	int r;

	if (!e)
		return -ENOMEM;
	if (++p->depth > MAX_FILTER_DEPTH) {
		free(e);
		return perr(p, "filter nested deeper than %d", MAX_FILTER_DEPTH);
	}
	r = parse_unary_body(p, e, ret);
	p->depth--;
	return r;
}

static int parse_unary_body(struct parser *p, struct fexpr *e, struct fexpr **ret)
{
	int r;

	skip_ws(p);
	if (p->s[p->i] == '!') {
		p->i++;
		e->op = F_NOT;
		r = parse_unary(p, &e->a);
		goto out;
	}
	if (p->s[p->i] == '(') {
		p->i++;
		free(e);
		r = parse_or(p, ret);
		if (r < 0)
			return r;
		skip_ws(p);
		if (p->s[p->i] != ')') {
			fexpr_free(*ret);
			*ret = NULL; /* the caller may hold @ret inside its own node */
			return perr(p, "expected ')' at offset %zu", p->i);
		}
		p->i++;
		return 0;
	}
	r = parse_operand(p, &e->x);
	if (r < 0)
		goto out;
	skip_ws(p);
	static const struct { const char *t; enum fop op; } ops[] = {
		{"==", F_EQ}, {"!=", F_NE}, {"<=", F_LE}, {">=", F_GE}, {"<", F_LT}, {">", F_GT},
	};
	e->op = F_EXISTS;
	for (size_t k = 0; k < sizeof(ops) / sizeof(ops[0]); k++) {
		size_t l = strlen(ops[k].t);

		if (!strncmp(p->s + p->i, ops[k].t, l)) {
			p->i += l;
			e->op = ops[k].op;
			r = parse_operand(p, &e->y);
			break;
		}
	}
	if (r == 0 && e->op == F_EXISTS && e->x.kind == O_LIT)
		r = perr(p, "a filter needs a comparison or an @ path");
out:
	if (r < 0) {
		fexpr_free(e);
		return r;
	}
	*ret = e;
	return 0;
}

static int parse_binary(struct parser *p, struct fexpr **ret, bool is_or)
{
	struct fexpr *l;
	int r = is_or ? parse_binary(p, &l, false) : parse_unary(p, &l);

	if (r < 0)
		return r;
	for (;;) {
		const char *t = is_or ? "||" : "&&";
		struct fexpr *e, *rhs;

		skip_ws(p);
		if (strncmp(p->s + p->i, t, 2))
			break;
		p->i += 2;
		r = is_or ? parse_binary(p, &rhs, false) : parse_unary(p, &rhs);
		if (r < 0) {
			fexpr_free(l);
			return r;
		}
		e = calloc(1, sizeof(*e));
		if (!e) {
			fexpr_free(l);
			fexpr_free(rhs);
			return -ENOMEM;
		}
		e->op = is_or ? F_OR : F_AND;
		e->a = l;
		e->b = rhs;
		l = e;
	}
	*ret = l;
	return 0;
}

static int parse_or(struct parser *p, struct fexpr **ret)
{
	return parse_binary(p, ret, true);
}

int wf_path_compile(const char *text, unsigned flags, struct wf_path **ret, char *err,
		    size_t errlen)
{
	struct parser p = {.s = text, .err = err, .errlen = errlen, .flags = flags};
	struct wf_path *path;
	int r;

	if (errlen)
		err[0] = '\0';
	if (!text || text[0] != '$')
		return perr(&p, "a path must start with '$'");
	/* Names become JSON object keys, which must be UTF-8 (definitions always are). */
	{
		json_t *utf8 = json_string(text);

		if (!utf8)
			return perr(&p, "a path must be valid UTF-8");
		json_decref(utf8);
	}
	path = calloc(1, sizeof(*path));
	if (!path)
		return -ENOMEM;
	path->text = strdup(text);
	if (!path->text) {
		r = -ENOMEM;
		goto fail;
	}
	p.i = 1;
	if (text[1] == '$') {
		if (flags & WF_PATH_NO_CONTEXT) {
			r = perr(&p, "the context object cannot be the target");
			goto fail;
		}
		path->context = true;
		p.i = 2;
	}
	r = parse_path_body(&p, path, false);
	if (r < 0)
		goto fail;
	if (text[p.i] != '\0') {
		r = perr(&p, "unexpected '%c' at offset %zu", text[p.i], p.i);
		goto fail;
	}
	set_definite(path);
	if (flags & WF_PATH_REFERENCE) {
		bool ok = path->definite;

		for (size_t i = 0; ok && i < path->nseg; i++)
			if (path->seg[i].kind == SEG_INDEX && path->seg[i].idx[0] < 0)
				ok = false;
		if (!ok) {
			r = perr(&p, "not a reference path (only names and indexes are allowed)");
			goto fail;
		}
	}
	*ret = path;
	return 0;
fail:
	wf_path_free(path);
	return r;
}

const char *wf_path_text(const struct wf_path *p)
{
	return p->text;
}

bool wf_path_is_context(const struct wf_path *p)
{
	return p->context;
}

bool wf_path_is_definite(const struct wf_path *p)
{
	return p->definite;
}

bool wf_path_is_root(const struct wf_path *p)
{
	return p->nseg == 0;
}

/* Evaluation. */

static json_t *index_get(json_t *a, long i)
{
	size_t n;

	if (!json_is_array(a))
		return NULL;
	n = json_array_size(a);
	if (i < 0)
		i += (long)n;
	if (i < 0 || (size_t)i >= n)
		return NULL;
	return json_array_get(a, (size_t)i);
}

static bool filter_match(const struct fexpr *e, json_t *node, json_t *root);

/* Apply one (non-deep) segment to @node, appending matches to @out. */
static int apply_seg(const struct seg *g, json_t *node, json_t *root, json_t *out)
{
	json_t *v;
	size_t i;
	const char *k;

	switch (g->kind) {
	case SEG_NAME:
		if (!json_is_object(node))
			return 0;
		for (i = 0; i < g->n; i++)
			if ((v = json_object_get(node, g->names[i])) && json_array_append(out, v))
				return -ENOMEM;
		return 0;
	case SEG_INDEX:
		for (i = 0; i < g->n; i++)
			if ((v = index_get(node, g->idx[i])) && json_array_append(out, v))
				return -ENOMEM;
		return 0;
	case SEG_WILD:
		if (json_is_array(node)) {
			json_array_foreach(node, i, v)
				if (json_array_append(out, v))
					return -ENOMEM;
		} else if (json_is_object(node)) {
			json_object_foreach(node, k, v)
				if (json_array_append(out, v))
					return -ENOMEM;
		}
		return 0;
	case SEG_SLICE: {
		long n, s, e;

		if (!json_is_array(node))
			return 0;
		n = (long)json_array_size(node);
		s = g->has_start ? g->start : 0;
		e = g->has_end ? g->end : n;
		if (s < 0)
			s = s + n < 0 ? 0 : s + n;
		if (e < 0)
			e = e + n < 0 ? 0 : e + n;
		if (e > n)
			e = n;
		for (long j = s; j < e; j += g->step)
			if (json_array_append(out, json_array_get(node, (size_t)j)))
				return -ENOMEM;
		return 0;
	}
	case SEG_FILTER:
		if (json_is_array(node)) {
			json_array_foreach(node, i, v)
				if (filter_match(g->filter, v, root) && json_array_append(out, v))
					return -ENOMEM;
		} else if (json_is_object(node)) {
			if (filter_match(g->filter, node, root) && json_array_append(out, node))
				return -ENOMEM;
		}
		return 0;
	}
	return 0;
}

/* Deep scan: apply @g to @node and every descendant, pre-order. */
static int apply_deep(const struct seg *g, json_t *node, json_t *root, json_t *out)
{
	json_t *v;
	size_t i;
	const char *k;
	int r = apply_seg(g, node, root, out);

	if (r < 0)
		return r;
	if (json_is_array(node)) {
		json_array_foreach(node, i, v)
			if ((r = apply_deep(g, v, root, out)) < 0)
				return r;
	} else if (json_is_object(node)) {
		json_object_foreach(node, k, v)
			if ((r = apply_deep(g, v, root, out)) < 0)
				return r;
	}
	return 0;
}

static json_t *walk_definite(const struct wf_path *p, json_t *doc)
{
	json_t *cur = doc;

	for (size_t i = 0; cur && i < p->nseg; i++) {
		const struct seg *g = &p->seg[i];

		if (g->kind == SEG_NAME)
			cur = json_is_object(cur) ? json_object_get(cur, g->names[0]) : NULL;
		else
			cur = index_get(cur, g->idx[0]);
	}
	return cur;
}

static int eval_list(const struct wf_path *p, json_t *doc, json_t *root, json_t **ret)
{
	json_t *cur = json_array(), *next;
	size_t j;
	json_t *v;
	int r = 0;

	if (!cur || json_array_append(cur, doc)) {
		json_decref(cur);
		return -ENOMEM;
	}
	for (size_t i = 0; i < p->nseg; i++) {
		const struct seg *g = &p->seg[i];

		next = json_array();
		if (!next) {
			r = -ENOMEM;
			break;
		}
		json_array_foreach(cur, j, v) {
			r = g->deep ? apply_deep(g, v, root, next) : apply_seg(g, v, root, next);
			if (r < 0)
				break;
		}
		json_decref(cur);
		cur = next;
		if (r < 0)
			break;
	}
	if (r < 0) {
		json_decref(cur);
		return r;
	}
	*ret = cur;
	return 0;
}

int wf_path_eval(const struct wf_path *p, json_t *doc, json_t **ret)
{
	if (p->definite) {
		json_t *v = walk_definite(p, doc);

		if (!v)
			return -ENOENT;
		*ret = json_incref(v);
		return 0;
	}
	return eval_list(p, doc, doc, ret);
}

/* The value of a filter operand, or NULL when it selects nothing. Borrowed or owned (*own). */
static json_t *operand_value(const struct foperand *o, json_t *node, json_t *root, bool *own)
{
	json_t *v = NULL;

	*own = false;
	if (o->kind == O_LIT)
		return o->lit;
	if (o->path->definite)
		return walk_definite(o->path, o->kind == O_REL ? node : root);
	if (eval_list(o->path, o->kind == O_REL ? node : root, root, &v) < 0)
		return NULL;
	*own = true;
	return v;
}

static bool filter_cmp(enum fop op, json_t *a, json_t *b)
{
	int c;

	if (json_is_number(a) && json_is_number(b)) {
		double x = json_number_value(a), y = json_number_value(b);

		c = x < y ? -1 : x > y ? 1 : 0;
	} else if (json_is_string(a) && json_is_string(b)) {
		c = strcmp(json_string_value(a), json_string_value(b));
	} else {
		bool eq = json_equal(a, b);

		return op == F_EQ ? eq : op == F_NE ? !eq : false;
	}
	switch (op) {
	case F_EQ: return c == 0;
	case F_NE: return c != 0;
	case F_LT: return c < 0;
	case F_LE: return c <= 0;
	case F_GT: return c > 0;
	case F_GE: return c >= 0;
	default: return false;
	}
}

static bool filter_match(const struct fexpr *e, json_t *node, json_t *root)
{
	bool own_a, own_b, res;
	json_t *a, *b;

	switch (e->op) {
	case F_OR:
		return filter_match(e->a, node, root) || filter_match(e->b, node, root);
	case F_AND:
		return filter_match(e->a, node, root) && filter_match(e->b, node, root);
	case F_NOT:
		return !filter_match(e->a, node, root);
	default:
		break;
	}
	a = operand_value(&e->x, node, root, &own_a);
	if (e->op == F_EXISTS) {
		res = a && (!own_a || json_array_size(a) > 0);
		if (own_a)
			json_decref(a);
		return res;
	}
	b = operand_value(&e->y, node, root, &own_b);
	res = a && b && filter_cmp(e->op, a, b);
	if (own_a)
		json_decref(a);
	if (own_b)
		json_decref(b);
	return res;
}

/* A container set_at may change in place: its references are all among the @own ones its
 * holder vouches for (the caller's for the document, the reused parent's for a child); 0 never. */
static bool reusable(const json_t *node, size_t own)
{
	return own && node->refcount <= own;
}

/* ResultPath. Copy the container at each level (or reuse it), then descend. */
static int set_at(const struct wf_path *p, size_t i, json_t *node, json_t *value, size_t own,
		  json_t **ret)
{
	const struct seg *g;
	json_t *copy, *child, *nchild;
	int r;

	if (i == p->nseg) {
		*ret = json_incref(value);
		return 0;
	}
	g = &p->seg[i];
	if (g->kind == SEG_NAME) {
		if (!node)
			copy = json_object();
		else if (json_is_object(node))
			copy = reusable(node, own) ? json_incref(node) : json_copy(node);
		else
			return -EINVAL;
		if (!copy)
			return -ENOMEM;
		child = json_object_get(copy, g->names[0]);
		r = set_at(p, i + 1, child, value, copy == node, &nchild);
		if (r == 0 && json_object_set_new(copy, g->names[0], nchild))
			r = -ENOMEM;
	} else {
		long ix = g->idx[0];

		if (!json_is_array(node) || ix < 0 || (size_t)ix >= json_array_size(node))
			return -EINVAL;
		copy = reusable(node, own) ? json_incref(node) : json_copy(node);
		if (!copy)
			return -ENOMEM;
		child = json_array_get(copy, (size_t)ix);
		r = set_at(p, i + 1, child, value, copy == node, &nchild);
		if (r == 0 && json_array_set_new(copy, (size_t)ix, nchild))
			r = -ENOMEM;
	}
	if (r < 0) {
		json_decref(copy);
		return r;
	}
	*ret = copy;
	return 0;
}

int wf_path_set(const struct wf_path *p, json_t *doc, json_t *value, json_t **ret)
{
	if (!p->definite || p->context)
		return -EINVAL;
	return set_at(p, 0, doc, value, 0, ret);
}

int wf_path_set_reuse(const struct wf_path *p, json_t *doc, size_t holders, json_t *value,
		      json_t **ret)
{
	if (!p->definite || p->context)
		return -EINVAL;
	return set_at(p, 0, doc, value, holders, ret);
}
