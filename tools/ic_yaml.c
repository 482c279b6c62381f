/* SPDX-License-Identifier: MIT */
/* ic_yaml: see ic_yaml.h. Built on libyaml's event parser; the stack holds open containers. */
#include "ic_yaml.h"

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

struct ic_yaml {
	char name[256];
	json_t *root;
	json_t *marks;  /* pointer -> [line, col] */
};

struct frame {
	json_t *v;          /* object or array being filled */
	char *pointer;      /* its JSON Pointer */
	char *key;          /* object: the key waiting for its value (NULL: expecting a key) */
	size_t key_line, key_col;
};

struct builder {
	struct ic_yaml *y;
	struct frame st[IC_YAML_MAX_DEPTH + 1];
	int depth;
	size_t nodes;
	char *err;
	size_t errlen;
};

static int fail(struct builder *b, const yaml_mark_t *m, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int fail(struct builder *b, const yaml_mark_t *m, const char *fmt, ...)
{
	char msg[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	snprintf(b->err, b->errlen, "%s:%zu:%zu: %s", b->y->name, m ? m->line + 1 : 0,
		 m ? m->column + 1 : 0, msg);
	return -EINVAL;
}

/* parent pointer + "/" + escaped token */
static char *child_pointer(const char *parent, const char *tok)
{
	size_t pl = strlen(parent), tl = strlen(tok);
	char *p = malloc(pl + 2 * tl + 2);
	if (!p)
		return NULL;
	memcpy(p, parent, pl);
	char *o = p + pl;
	*o++ = '/';
	for (const char *c = tok; *c; c++) {
		if (*c == '~') {
			*o++ = '~';
			*o++ = '0';
		} else if (*c == '/') {
			*o++ = '~';
			*o++ = '1';
		} else {
			*o++ = *c;
		}
	}
	*o = '\0';
	return p;
}

static int mark(struct builder *b, const char *pointer, size_t line, size_t col)
{
	json_t *m = json_pack("[I, I]", (json_int_t)line + 1, (json_int_t)col + 1);
	if (!m || json_object_set_new(b->y->marks, pointer, m) < 0)
		return -ENOMEM;
	return 0;
}

/* YAML's core schema for a plain scalar. */
static json_t *plain_scalar(const char *s, size_t len)
{
	if (len == 0 || strcmp(s, "~") == 0 || strcmp(s, "null") == 0 || strcmp(s, "Null") == 0 ||
	    strcmp(s, "NULL") == 0)
		return json_null();
	if (strcmp(s, "true") == 0 || strcmp(s, "True") == 0 || strcmp(s, "TRUE") == 0)
		return json_true();
	if (strcmp(s, "false") == 0 || strcmp(s, "False") == 0 || strcmp(s, "FALSE") == 0)
		return json_false();
	char *end;
	errno = 0;
	const char *d = s + (s[0] == '-' || s[0] == '+');
	if (*d >= '0' && *d <= '9') {
		long long v = strtoll(s, &end, 10);
		if (*end == '\0' && errno == 0)
			return json_integer(v);
		errno = 0;
		double f = strtod(s, &end);
		if (*end == '\0' && errno == 0 && isfinite(f))
			return json_real(f);
	}
	return json_stringn(s, len);
}

/* Attach v (reference stolen) where the top frame expects a value, or as the root. */
static int attach(struct builder *b, json_t *v, const yaml_mark_t *m, char **pointer_out)
{
	if (!v)
		return -ENOMEM;
	if (++b->nodes > IC_YAML_MAX_NODES) {
		json_decref(v);
		return fail(b, m, "more than %d values in one document", IC_YAML_MAX_NODES);
	}
	char *ptr;
	if (b->depth == 0) {
		if (b->y->root) {
			json_decref(v);
			return fail(b, m, "more than one value at the top of the document");
		}
		b->y->root = v;
		ptr = strdup("");
	} else {
		struct frame *f = &b->st[b->depth - 1];
		if (json_is_array(f->v)) {
			char idx[24];
			snprintf(idx, sizeof(idx), "%zu", json_array_size(f->v));
			ptr = child_pointer(f->pointer, idx);
			if (json_array_append_new(f->v, v) < 0) {
				free(ptr);
				return -ENOMEM;
			}
		} else if (!f->key) {
			/* A key: only scalars are keys. */
			if (!json_is_string(v)) {
				json_t *s = v;
				char buf[64];
				if (json_is_integer(s))
					snprintf(buf, sizeof(buf), "%" JSON_INTEGER_FORMAT,
						 json_integer_value(s));
				else if (json_is_real(s))
					snprintf(buf, sizeof(buf), "%g", json_real_value(s));
				else if (json_is_true(s) || json_is_false(s))
					snprintf(buf, sizeof(buf), "%s", json_is_true(s) ? "true" : "false");
				else if (json_is_null(s))
					snprintf(buf, sizeof(buf), "null");
				else {
					json_decref(v);
					return fail(b, m, "a mapping key must be a plain value, not a "
						    "mapping or a list");
				}
				json_decref(v);
				f->key = strdup(buf);
			} else {
				f->key = strdup(json_string_value(v));
				json_decref(v);
			}
			if (!f->key)
				return -ENOMEM;
			if (json_object_get(f->v, f->key)) {
				int r = fail(b, m, "duplicate key '%s'", f->key);
				free(f->key);
				f->key = NULL;
				return r;
			}
			f->key_line = m->line;
			f->key_col = m->column;
			b->nodes--;  /* keys are not values */
			if (pointer_out)
				*pointer_out = NULL;
			return 1;   /* consumed as a key */
		} else {
			ptr = child_pointer(f->pointer, f->key);
			if (json_object_set_new(f->v, f->key, v) < 0) {
				free(ptr);
				return -ENOMEM;
			}
			free(f->key);
			f->key = NULL;
		}
	}
	if (!ptr)
		return -ENOMEM;
	int r = mark(b, ptr, m->line, m->column);
	if (r < 0 || !pointer_out)
		free(ptr);
	else
		*pointer_out = ptr;
	return r;
}

static int open_container(struct builder *b, json_t *v, const yaml_mark_t *m)
{
	if (b->depth == IC_YAML_MAX_DEPTH) {
		json_decref(v);
		return fail(b, m, "nested more than %d levels deep", IC_YAML_MAX_DEPTH);
	}
	json_incref(v);
	char *ptr = NULL;
	int r = attach(b, v, m, &ptr);
	if (r < 0) {
		json_decref(v);
		return r;
	}
	b->st[b->depth++] = (struct frame){ .v = v, .pointer = ptr };
	return 0;
}

static void close_container(struct builder *b)
{
	struct frame *f = &b->st[--b->depth];
	json_decref(f->v);
	free(f->pointer);
	free(f->key);
}

int ic_yaml_parse(const char *name, const char *text, size_t len, struct ic_yaml **ret,
		  char *err, size_t errlen)
{
	struct ic_yaml *y = calloc(1, sizeof(*y));
	if (!y)
		return -ENOMEM;
	snprintf(y->name, sizeof(y->name), "%s", name ? name : "<input>");
	y->marks = json_object();
	if (!y->marks) {
		free(y);
		return -ENOMEM;
	}
	struct builder b = { .y = y, .err = err, .errlen = errlen };
	if (len > IC_YAML_MAX_BYTES) {
		snprintf(err, errlen, "%s: larger than %u MiB", y->name, IC_YAML_MAX_BYTES >> 20);
		ic_yaml_free(y);
		return -EINVAL;
	}
	yaml_parser_t p;
	if (!yaml_parser_initialize(&p)) {
		ic_yaml_free(y);
		return -ENOMEM;
	}
	yaml_parser_set_input_string(&p, (const unsigned char *)text, len);
	int rc = 0, docs = 0;
	bool done = false;
	while (!done && rc >= 0) {
		yaml_event_t ev;
		if (!yaml_parser_parse(&p, &ev)) {
			yaml_mark_t m = p.problem_mark;
			rc = fail(&b, &m, "%s%s%s", p.problem ? p.problem : "malformed YAML",
				  p.context ? " " : "", p.context ? p.context : "");
			break;
		}
		switch (ev.type) {
		case YAML_STREAM_END_EVENT:
			done = true;
			break;
		case YAML_DOCUMENT_START_EVENT:
			if (++docs > 1)
				rc = fail(&b, &ev.start_mark, "more than one document (---): put every "
					  "declaration in one document");
			break;
		case YAML_ALIAS_EVENT:
			rc = fail(&b, &ev.start_mark, "aliases (*name) are not supported: write the "
				  "value out");
			break;
		case YAML_SCALAR_EVENT: {
			if (ev.data.scalar.anchor) {
				rc = fail(&b, &ev.start_mark, "anchors (&name) are not supported");
				break;
			}
			const char *s = (const char *)ev.data.scalar.value;
			size_t sl = ev.data.scalar.length;
			json_t *v = ev.data.scalar.style == YAML_PLAIN_SCALAR_STYLE
					    ? plain_scalar(s, sl) : json_stringn(s, sl);
			if (!v && ev.data.scalar.style != YAML_PLAIN_SCALAR_STYLE) {
				rc = fail(&b, &ev.start_mark, "a string that is not valid UTF-8 or "
					  "holds a NUL");
				break;
			}
			int r = attach(&b, v, &ev.start_mark, NULL);
			rc = r < 0 ? r : 0;
			break;
		}
		case YAML_SEQUENCE_START_EVENT:
		case YAML_MAPPING_START_EVENT: {
			const yaml_char_t *anchor = ev.type == YAML_SEQUENCE_START_EVENT
							    ? ev.data.sequence_start.anchor
							    : ev.data.mapping_start.anchor;
			if (anchor) {
				rc = fail(&b, &ev.start_mark, "anchors (&name) are not supported");
				break;
			}
			rc = open_container(&b, ev.type == YAML_SEQUENCE_START_EVENT ? json_array()
										: json_object(),
					    &ev.start_mark);
			break;
		}
		case YAML_SEQUENCE_END_EVENT:
		case YAML_MAPPING_END_EVENT:
			if (b.depth > 0)
				close_container(&b);
			break;
		default:
			break;
		}
		yaml_event_delete(&ev);
	}
	yaml_parser_delete(&p);
	while (b.depth > 0)
		close_container(&b);
	if (rc == -ENOMEM)
		snprintf(err, errlen, "%s: out of memory", y->name);
	if (rc < 0) {
		ic_yaml_free(y);
		return rc;
	}
	if (!y->root)
		y->root = json_object();
	*ret = y;
	return 0;
}

void ic_yaml_free(struct ic_yaml *y)
{
	if (!y)
		return;
	json_decref(y->root);
	json_decref(y->marks);
	free(y);
}

json_t *ic_yaml_root(const struct ic_yaml *y)
{
	return y->root;
}

void ic_yaml_where(const struct ic_yaml *y, const char *pointer, char *out, size_t n)
{
	char buf[1024];
	snprintf(buf, sizeof(buf), "%s", pointer ? pointer : "");
	for (;;) {
		json_t *m = json_object_get(y->marks, buf);
		if (m) {
			snprintf(out, n, "%s:%" JSON_INTEGER_FORMAT ":%" JSON_INTEGER_FORMAT, y->name,
				 json_integer_value(json_array_get(m, 0)),
				 json_integer_value(json_array_get(m, 1)));
			return;
		}
		char *slash = strrchr(buf, '/');
		if (!slash)
			break;
		*slash = '\0';
	}
	snprintf(out, n, "%s", y->name);
}
