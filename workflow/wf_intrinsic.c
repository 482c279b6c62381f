/* SPDX-License-Identifier: MIT */
/*
 * wf_intrinsic: compiler and evaluator of the States.* functions (contract in wf_intrinsic.h).
 */
#include "wf_intrinsic.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "wf_path.h"

enum fn {
	FN_FORMAT, FN_STRINGTOJSON, FN_JSONTOSTRING, FN_ARRAY, FN_ARRAYPARTITION, FN_ARRAYCONTAINS,
	FN_ARRAYRANGE, FN_ARRAYGETITEM, FN_ARRAYLENGTH, FN_ARRAYUNIQUE, FN_BASE64ENCODE,
	FN_BASE64DECODE, FN_HASH, FN_JSONMERGE, FN_MATHRANDOM, FN_MATHADD, FN_STRINGSPLIT, FN_UUID,
};

/* Name and argument count bounds per function (max -1 = any). */
static const struct {
	const char *name;
	int min, max;
} fns[] = {
	[FN_FORMAT] = {"Format", 1, -1},
	[FN_STRINGTOJSON] = {"StringToJson", 1, 1},
	[FN_JSONTOSTRING] = {"JsonToString", 1, 1},
	[FN_ARRAY] = {"Array", 0, -1},
	[FN_ARRAYPARTITION] = {"ArrayPartition", 2, 2},
	[FN_ARRAYCONTAINS] = {"ArrayContains", 2, 2},
	[FN_ARRAYRANGE] = {"ArrayRange", 3, 3},
	[FN_ARRAYGETITEM] = {"ArrayGetItem", 2, 2},
	[FN_ARRAYLENGTH] = {"ArrayLength", 1, 1},
	[FN_ARRAYUNIQUE] = {"ArrayUnique", 1, 1},
	[FN_BASE64ENCODE] = {"Base64Encode", 1, 1},
	[FN_BASE64DECODE] = {"Base64Decode", 1, 1},
	[FN_HASH] = {"Hash", 2, 2},
	[FN_JSONMERGE] = {"JsonMerge", 3, 3},
	[FN_MATHRANDOM] = {"MathRandom", 2, 3},
	[FN_MATHADD] = {"MathAdd", 2, 2},
	[FN_STRINGSPLIT] = {"StringSplit", 2, 2},
	[FN_UUID] = {"UUID", 0, 0},
};

enum arg_kind { A_LIT, A_PATH, A_CALL };

struct arg {
	enum arg_kind kind;
	json_t *lit;
	char *raw; /* a string literal as written (escapes kept): States.Format's template */
	struct wf_path *path;
	struct wf_intrinsic *call;
};

struct wf_intrinsic {
	enum fn fn;
	size_t nargs;
	struct arg *args;
};

struct cparser {
	const char *s;
	size_t i;
	char *err;
	size_t errlen;
};

static int cerr(struct cparser *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int cerr(struct cparser *p, const char *fmt, ...)
{
	va_list ap;

	if (p->errlen) {
		va_start(ap, fmt);
		vsnprintf(p->err, p->errlen, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

static int failf(char *cause, size_t len, int r, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static int failf(char *cause, size_t len, int r, const char *fmt, ...)
{
	va_list ap;

	if (len) {
		va_start(ap, fmt);
		vsnprintf(cause, len, fmt, ap);
		va_end(ap);
	}
	return r;
}

uint64_t wf_rng_next(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

bool wf_intrinsic_is_call(const char *s)
{
	return s && !strncmp(s, "States.", 7);
}

void wf_intrinsic_free(struct wf_intrinsic *f)
{
	if (!f)
		return;
	for (size_t i = 0; i < f->nargs; i++) {
		json_decref(f->args[i].lit);
		free(f->args[i].raw);
		wf_path_free(f->args[i].path);
		wf_intrinsic_free(f->args[i].call);
	}
	free(f->args);
	free(f);
}

static void ws(struct cparser *p)
{
	while (p->s[p->i] == ' ' || p->s[p->i] == '\t' || p->s[p->i] == '\n')
		p->i++;
}

static int parse_call(struct cparser *p, int depth, struct wf_intrinsic **ret);

/* 'text' with \' \{ \} \\ escapes; anything else after a backslash is invalid. */
static int parse_string(struct cparser *p, struct arg *a)
{
	size_t st = ++p->i, len = 0;
	char *buf = malloc(strlen(p->s + st) + 1);

	if (!buf)
		return -ENOMEM;
	for (;;) {
		char c = p->s[p->i];

		if (c == '\0') {
			free(buf);
			return cerr(p, "unterminated string literal");
		}
		p->i++;
		if (c == '\'')
			break;
		if (c == '\\') {
			c = p->s[p->i];
			if (c != '\'' && c != '{' && c != '}' && c != '\\') {
				free(buf);
				return cerr(p, "illegal escape '\\%c' in string literal", c ? c : '0');
			}
			p->i++;
		}
		buf[len++] = c;
	}
	a->kind = A_LIT;
	a->lit = json_stringn(buf, len);
	a->raw = strndup(p->s + st, p->i - 1 - st);
	free(buf);
	if (!a->lit)
		return cerr(p, "string literal is not valid UTF-8");
	return a->raw ? 0 : -ENOMEM;
}

/* A path argument runs to the next ',' or ')' outside brackets and quotes. */
static int parse_path_arg(struct cparser *p, struct arg *a)
{
	size_t st = p->i;
	int depth = 0;
	char q = 0, *text;
	int r;

	for (;; p->i++) {
		char c = p->s[p->i];

		if (c == '\0')
			return cerr(p, "unterminated argument list");
		if (q) {
			if (c == '\\' && p->s[p->i + 1])
				p->i++;
			else if (c == q)
				q = 0;
			continue;
		}
		if (c == '\'' || c == '"')
			q = c;
		else if (c == '[' || c == '(')
			depth++;
		else if ((c == ']' || c == ')') && depth > 0)
			depth--;
		else if ((c == ',' || c == ')') && depth == 0)
			break;
	}
	while (p->i > st && (p->s[p->i - 1] == ' ' || p->s[p->i - 1] == '\t'))
		p->i--;
	text = strndup(p->s + st, p->i - st);
	if (!text)
		return -ENOMEM;
	a->kind = A_PATH;
	r = wf_path_compile(text, 0, &a->path, p->err, p->errlen);
	free(text);
	return r;
}

static int parse_arg(struct cparser *p, int depth, struct arg *a)
{
	const char *s = p->s + p->i;
	json_error_t je;

	if (*s == '\'')
		return parse_string(p, a);
	if (*s == '$')
		return parse_path_arg(p, a);
	if (!strncmp(s, "States.", 7)) {
		a->kind = A_CALL;
		return parse_call(p, depth + 1, &a->call);
	}
	a->kind = A_LIT;
	if (!strncmp(s, "true", 4) || !strncmp(s, "false", 5) || !strncmp(s, "null", 4)) {
		size_t l = s[0] == 'f' ? 5 : 4;

		a->lit = s[0] == 't' ? json_true() : s[0] == 'f' ? json_false() : json_null();
		p->i += l;
		return 0;
	}
	if (*s == '-' || (*s >= '0' && *s <= '9')) {
		size_t l = strspn(s, "-+0123456789.eE");
		char num[64];

		if (l >= sizeof(num))
			return cerr(p, "number literal too long");
		memcpy(num, s, l);
		num[l] = '\0';
		a->lit = json_loads(num, JSON_DECODE_ANY, &je);
		if (!a->lit || !json_is_number(a->lit))
			return cerr(p, "bad number literal '%s'", num);
		p->i += l;
		return 0;
	}
	return cerr(p, "unexpected '%c' in an argument list at offset %zu", *s ? *s : '0', p->i);
}

static int parse_call(struct cparser *p, int depth, struct wf_intrinsic **ret)
{
	struct wf_intrinsic *f;
	size_t st, l, k;
	int r;

	if (depth > WF_INTRINSIC_MAX_DEPTH)
		return cerr(p, "intrinsic functions nest deeper than %d", WF_INTRINSIC_MAX_DEPTH);
	if (strncmp(p->s + p->i, "States.", 7))
		return cerr(p, "expected an intrinsic function at offset %zu", p->i);
	p->i += 7;
	st = p->i;
	while ((p->s[p->i] >= 'A' && p->s[p->i] <= 'Z') || (p->s[p->i] >= 'a' && p->s[p->i] <= 'z') ||
	       (p->s[p->i] >= '0' && p->s[p->i] <= '9'))
		p->i++;
	l = p->i - st;
	for (k = 0; k < sizeof(fns) / sizeof(fns[0]); k++)
		if (strlen(fns[k].name) == l && !memcmp(fns[k].name, p->s + st, l))
			break;
	if (k == sizeof(fns) / sizeof(fns[0]))
		return cerr(p, "unknown intrinsic function 'States.%.*s'", (int)l, p->s + st);
	if (p->s[p->i] != '(')
		return cerr(p, "expected '(' after States.%s", fns[k].name);
	p->i++;
	f = calloc(1, sizeof(*f));
	if (!f)
		return -ENOMEM;
	f->fn = (enum fn)k;
	ws(p);
	if (p->s[p->i] == ')') {
		p->i++;
	} else {
		for (;;) {
			struct arg *na = realloc(f->args, (f->nargs + 1) * sizeof(*na));

			if (!na) {
				r = -ENOMEM;
				goto fail;
			}
			f->args = na;
			memset(&f->args[f->nargs], 0, sizeof(*na));
			f->nargs++;
			ws(p);
			r = parse_arg(p, depth, &f->args[f->nargs - 1]);
			if (r < 0)
				goto fail;
			ws(p);
			if (p->s[p->i] == ',') {
				p->i++;
				continue;
			}
			if (p->s[p->i] == ')') {
				p->i++;
				break;
			}
			r = cerr(p, "expected ',' or ')' at offset %zu", p->i);
			goto fail;
		}
	}
	if ((int)f->nargs < fns[k].min || (fns[k].max >= 0 && (int)f->nargs > fns[k].max)) {
		r = cerr(p, "States.%s takes %d%s argument(s), %zu given", fns[k].name, fns[k].min,
			 fns[k].max < 0 ? " or more" : fns[k].max > fns[k].min ? " to 3" : "",
			 f->nargs);
		goto fail;
	}
	*ret = f;
	return 0;
fail:
	wf_intrinsic_free(f);
	return r;
}

int wf_intrinsic_compile(const char *text, struct wf_intrinsic **ret, char *err, size_t errlen)
{
	struct cparser p = {.s = text, .err = err, .errlen = errlen};
	struct wf_intrinsic *f;
	int r;

	if (errlen)
		err[0] = '\0';
	r = parse_call(&p, 1, &f);
	if (r < 0)
		return r;
	ws(&p);
	if (text[p.i] != '\0') {
		wf_intrinsic_free(f);
		return cerr(&p, "trailing characters after the intrinsic function");
	}
	*ret = f;
	return 0;
}

/* Evaluation. */

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
		size_t cap = b->cap ? b->cap : 64;
		char *np;

		while (cap < b->len + n + 1)
			cap *= 2;
		np = realloc(b->p, cap);
		if (!np) {
			b->oom = true;
			return;
		}
		b->p = np;
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

/* How States.Format renders a value: strings bare, numbers as JSON, objects Java-Map style. */
static void render(struct sbuf *b, json_t *v)
{
	char *t;
	const char *k;
	json_t *x;
	size_t i;
	bool first = true;

	switch (json_typeof(v)) {
	case JSON_STRING:
		sb_add(b, json_string_value(v), json_string_length(v));
		return;
	case JSON_OBJECT:
		sb_str(b, "{");
		json_object_foreach(v, k, x) {
			if (!first)
				sb_str(b, ", ");
			first = false;
			sb_str(b, k);
			sb_str(b, "=");
			render(b, x);
		}
		sb_str(b, "}");
		return;
	case JSON_ARRAY:
		sb_str(b, "[");
		json_array_foreach(v, i, x) {
			if (i)
				sb_str(b, ", ");
			render(b, x);
		}
		sb_str(b, "]");
		return;
	default:
		t = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT | JSON_REAL_PRECISION(17));
		if (!t) {
			b->oom = true;
			return;
		}
		/* Shortest round-trip form for reals (1.1, not 1.1000000000000001). */
		if (json_is_real(v)) {
			char s[64];

			for (int prec = 1; prec <= 17; prec++) {
				snprintf(s, sizeof(s), "%.*g", prec, json_real_value(v));
				if (strtod(s, NULL) == json_real_value(v))
					break;
			}
			if (!strpbrk(s, ".eEn"))
				strcat(s, ".0");
			sb_str(b, s);
		} else {
			sb_str(b, t);
		}
		free(t);
	}
}

static int eval_arg(const struct arg *a, const struct wf_intrinsic_env *env, json_t **ret,
		    char *cause, size_t causelen)
{
	json_t *doc;
	int r;

	switch (a->kind) {
	case A_LIT:
		*ret = json_incref(a->lit);
		return 0;
	case A_CALL:
		return wf_intrinsic_eval(a->call, env, ret, cause, causelen);
	case A_PATH:
		doc = wf_path_is_context(a->path) ? (env->context ? env->context(env->context_arg) : NULL)
						  : env->input;
		if (!doc)
			return failf(cause, causelen, -ENOENT, "The JSONPath '%s' could not be found",
				     wf_path_text(a->path));
		r = wf_path_eval(a->path, doc, ret);
		if (r == -ENOENT)
			return failf(cause, causelen, r,
				     "The JSONPath '%s' specified for the intrinsic function could not "
				     "be found in the input", wf_path_text(a->path));
		return r;
	}
	return -EINVAL;
}

static bool is_int(json_t *v, long long *out)
{
	double d;

	if (json_is_integer(v)) {
		*out = json_integer_value(v);
		return true;
	}
	if (!json_is_real(v))
		return false;
	d = json_real_value(v);
	if (d != floor(d) || fabs(d) > 9.0e15)
		return false;
	*out = (long long)d;
	return true;
}

static int do_format(const struct wf_intrinsic *f, json_t **v, json_t **ret, char *cause,
		     size_t causelen)
{
	struct sbuf b = {0};
	const char *t;
	bool escapes;
	size_t used = 0;

	if (!json_is_string(v[0]))
		return failf(cause, causelen, -EINVAL,
			     "The first argument of States.Format must be a string");
	/* A literal template keeps its escapes so that \{ is a brace, not a placeholder. */
	escapes = f->args[0].kind == A_LIT;
	t = escapes ? f->args[0].raw : json_string_value(v[0]);
	for (size_t i = 0; t[i]; i++) {
		if (escapes && t[i] == '\\' && t[i + 1]) {
			sb_add(&b, &t[i + 1], 1);
			i++;
		} else if (t[i] == '{' && t[i + 1] == '}') {
			if (used + 1 >= f->nargs) {
				free(b.p);
				return failf(cause, causelen, -EINVAL,
					     "Number of arguments in States.Format does not match the "
					     "number of placeholders");
			}
			render(&b, v[++used]);
			i++;
		} else {
			sb_add(&b, &t[i], 1);
		}
	}
	if (used + 1 != f->nargs) {
		free(b.p);
		return failf(cause, causelen, -EINVAL,
			     "Number of arguments in States.Format does not match the number of "
			     "placeholders");
	}
	if (b.oom) {
		free(b.p);
		return -ENOMEM;
	}
	*ret = json_stringn(b.p ? b.p : "", b.len);
	free(b.p);
	return *ret ? 0 : failf(cause, causelen, -EINVAL, "States.Format produced invalid text");
}

static int do_hash(json_t *data, json_t *alg, json_t **ret, char *cause, size_t causelen)
{
	static const struct { const char *name, *evp; } algs[] = {
		{"MD5", "MD5"}, {"SHA-1", "SHA1"}, {"SHA-256", "SHA256"},
		{"SHA-384", "SHA384"}, {"SHA-512", "SHA512"},
	};
	unsigned char md[EVP_MAX_MD_SIZE];
	char hex[2 * EVP_MAX_MD_SIZE + 1];
	unsigned int mdlen = 0;
	const EVP_MD *m = NULL;

	if (!json_is_string(data))
		return failf(cause, causelen, -EINVAL, "States.Hash data must be a string");
	if (json_string_length(data) > WF_INTRINSIC_MAX_TEXT)
		return failf(cause, causelen, -EINVAL,
			     "States.Hash data is longer than %d characters", WF_INTRINSIC_MAX_TEXT);
	for (size_t i = 0; json_is_string(alg) && i < sizeof(algs) / sizeof(algs[0]); i++)
		if (!strcmp(json_string_value(alg), algs[i].name))
			m = EVP_get_digestbyname(algs[i].evp);
	if (!m)
		return failf(cause, causelen, -EINVAL,
			     "States.Hash algorithm must be one of MD5, SHA-1, SHA-256, SHA-384, "
			     "SHA-512");
	if (!EVP_Digest(json_string_value(data), json_string_length(data), md, &mdlen, m, NULL))
		return -ENOMEM;
	for (unsigned i = 0; i < mdlen; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
	*ret = json_stringn(hex, 2 * mdlen);
	return *ret ? 0 : -ENOMEM;
}

static int do_b64(bool enc, json_t *s, json_t **ret, char *cause, size_t causelen)
{
	const unsigned char *in;
	unsigned char *out;
	size_t n;
	int len;

	if (!json_is_string(s))
		return failf(cause, causelen, -EINVAL, "States.Base64%s argument must be a string",
			     enc ? "Encode" : "Decode");
	n = json_string_length(s);
	if (n > WF_INTRINSIC_MAX_TEXT)
		return failf(cause, causelen, -EINVAL, "States.Base64%s input is longer than %d "
			     "characters", enc ? "Encode" : "Decode", WF_INTRINSIC_MAX_TEXT);
	in = (const unsigned char *)json_string_value(s);
	out = malloc(n / 3 * 4 + 8);
	if (!out)
		return -ENOMEM;
	if (enc) {
		len = EVP_EncodeBlock(out, in, (int)n);
	} else {
		size_t pad = 0;

		if (n % 4)
			len = -1;
		else
			len = EVP_DecodeBlock(out, in, (int)n);
		if (len >= 0) {
			/* DecodeBlock counts the padding as zero bytes. */
			pad = (n && in[n - 1] == '=') + (n > 1 && in[n - 2] == '=');
			len -= (int)pad;
		}
	}
	if (len < 0) {
		free(out);
		return failf(cause, causelen, -EINVAL, "States.Base64Decode input is not valid "
			     "Base64");
	}
	*ret = json_stringn((const char *)out, (size_t)len);
	free(out);
	return *ret ? 0 : failf(cause, causelen, -EINVAL, "States.Base64Decode result is not "
				"valid UTF-8 text");
}

static int do_split(json_t *s, json_t *d, json_t **ret, char *cause, size_t causelen)
{
	const char *t, *delims;
	json_t *a;
	size_t i = 0, n;

	if (!json_is_string(s) || !json_is_string(d))
		return failf(cause, causelen, -EINVAL, "States.StringSplit arguments must be strings");
	t = json_string_value(s);
	n = json_string_length(s);
	delims = json_string_value(d);
	a = json_array();
	if (!a)
		return -ENOMEM;
	/* Every character of the delimiter string splits; empty tokens are dropped (AWS). */
	while (i < n) {
		size_t st = i;

		while (i < n && !(t[i] && strchr(delims, t[i]) && delims[0]))
			i++;
		if (i > st && json_array_append_new(a, json_stringn(t + st, i - st))) {
			json_decref(a);
			return -ENOMEM;
		}
		i++;
	}
	*ret = a;
	return 0;
}

static int do_uuid(uint64_t *rng, json_t **ret)
{
	uint8_t b[16];
	char s[37];
	uint64_t x = wf_rng_next(rng), y = wf_rng_next(rng);

	memcpy(b, &x, 8);
	memcpy(b + 8, &y, 8);
	b[6] = (uint8_t)((b[6] & 0x0f) | 0x40);
	b[8] = (uint8_t)((b[8] & 0x3f) | 0x80);
	snprintf(s, sizeof(s),
		 "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
		 b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12],
		 b[13], b[14], b[15]);
	*ret = json_string(s);
	return *ret ? 0 : -ENOMEM;
}

static int apply(const struct wf_intrinsic *f, json_t **v, const struct wf_intrinsic_env *env,
		 json_t **ret, char *cause, size_t causelen)
{
	const char *name = fns[f->fn].name;
	long long a, b, c;
	json_t *out, *x;
	size_t i, j;
	char *text;

	switch (f->fn) {
	case FN_FORMAT:
		return do_format(f, v, ret, cause, causelen);
	case FN_STRINGTOJSON: {
		json_error_t je;
		const char *s;

		if (!json_is_string(v[0]))
			return failf(cause, causelen, -EINVAL, "States.StringToJson argument must be a "
				     "string");
		s = json_string_value(v[0]);
		s += strspn(s, " \t\r\n");
		if (!*s) {
			*ret = json_null();
			return 0;
		}
		out = json_loads(s, JSON_DECODE_ANY, &je);
		if (!out)
			return failf(cause, causelen, -EINVAL, "States.StringToJson argument is not "
				     "valid JSON: %s", je.text);
		*ret = out;
		return 0;
	}
	case FN_JSONTOSTRING:
		text = json_dumps(v[0], JSON_ENCODE_ANY | JSON_COMPACT);
		if (!text)
			return -ENOMEM;
		*ret = json_string(text);
		free(text);
		return *ret ? 0 : -ENOMEM;
	case FN_ARRAY:
		out = json_array();
		for (i = 0; out && i < f->nargs; i++)
			if (json_array_append(out, v[i])) {
				json_decref(out);
				out = NULL;
			}
		*ret = out;
		return out ? 0 : -ENOMEM;
	case FN_ARRAYPARTITION:
		if (!json_is_array(v[0]) || !is_int(v[1], &a) || a <= 0)
			return failf(cause, causelen, -EINVAL, "States.ArrayPartition takes an array and "
				     "a positive integer chunk size");
		out = json_array();
		for (i = 0; out && i < json_array_size(v[0]); i += (size_t)a) {
			json_t *chunk = json_array();

			for (j = i; chunk && j < i + (size_t)a && j < json_array_size(v[0]); j++)
				json_array_append(chunk, json_array_get(v[0], j));
			if (!chunk || json_array_append_new(out, chunk)) {
				json_decref(out);
				out = NULL;
			}
		}
		*ret = out;
		return out ? 0 : -ENOMEM;
	case FN_ARRAYCONTAINS:
		if (!json_is_array(v[0]))
			return failf(cause, causelen, -EINVAL, "States.ArrayContains first argument "
				     "must be an array");
		c = 0;
		json_array_foreach(v[0], i, x)
			if (json_equal(x, v[1]))
				c = 1;
		*ret = json_boolean(c);
		return 0;
	case FN_ARRAYRANGE:
		if (!is_int(v[0], &a) || !is_int(v[1], &b) || !is_int(v[2], &c) || c == 0)
			return failf(cause, causelen, -EINVAL, "States.ArrayRange takes integer start, "
				     "end and a non-zero step");
		if ((b - a) / c + 1 > WF_INTRINSIC_MAX_RANGE)
			return failf(cause, causelen, -EINVAL, "States.ArrayRange would produce more "
				     "than %d items", WF_INTRINSIC_MAX_RANGE);
		out = json_array();
		for (long long k = a; out && (c > 0 ? k <= b : k >= b); k += c)
			if (json_array_append_new(out, json_integer(k))) {
				json_decref(out);
				out = NULL;
			}
		*ret = out;
		return out ? 0 : -ENOMEM;
	case FN_ARRAYGETITEM:
		if (!json_is_array(v[0]) || !is_int(v[1], &a) || a < 0)
			return failf(cause, causelen, -EINVAL, "States.ArrayGetItem takes an array and a "
				     "non-negative integer index");
		if ((size_t)a >= json_array_size(v[0]))
			return failf(cause, causelen, -EINVAL, "States.ArrayGetItem index %lld is out of "
				     "bounds", a);
		*ret = json_incref(json_array_get(v[0], (size_t)a));
		return 0;
	case FN_ARRAYLENGTH:
		if (!json_is_array(v[0]))
			return failf(cause, causelen, -EINVAL, "States.ArrayLength argument must be an "
				     "array");
		*ret = json_integer((json_int_t)json_array_size(v[0]));
		return *ret ? 0 : -ENOMEM;
	case FN_ARRAYUNIQUE:
		if (!json_is_array(v[0]))
			return failf(cause, causelen, -EINVAL, "States.ArrayUnique argument must be an "
				     "array");
		out = json_array();
		json_array_foreach(v[0], i, x) {
			bool seen = false;

			for (j = 0; out && j < json_array_size(out) && !seen; j++)
				seen = json_equal(json_array_get(out, j), x);
			if (out && !seen && json_array_append(out, x)) {
				json_decref(out);
				out = NULL;
			}
		}
		*ret = out;
		return out ? 0 : -ENOMEM;
	case FN_BASE64ENCODE:
	case FN_BASE64DECODE:
		return do_b64(f->fn == FN_BASE64ENCODE, v[0], ret, cause, causelen);
	case FN_HASH:
		return do_hash(v[0], v[1], ret, cause, causelen);
	case FN_JSONMERGE:
		if (!json_is_object(v[0]) || !json_is_object(v[1]))
			return failf(cause, causelen, -EINVAL, "States.JsonMerge merges two objects");
		if (!json_is_false(v[2]))
			return failf(cause, causelen, -EINVAL, "States.JsonMerge supports only a shallow "
				     "merge: the third argument must be false");
		out = json_copy(v[0]);
		if (!out || json_object_update(out, v[1])) {
			json_decref(out);
			return -ENOMEM;
		}
		*ret = out;
		return 0;
	case FN_MATHRANDOM: {
		uint64_t r, seed;

		if (!is_int(v[0], &a) || !is_int(v[1], &b) || a > b ||
		    (f->nargs == 3 && !is_int(v[2], &c)))
			return failf(cause, causelen, -EINVAL, "States.MathRandom takes integer start <= "
				     "end and an optional integer seed");
		if (f->nargs == 3) {
			seed = (uint64_t)c;
			r = wf_rng_next(&seed);
		} else {
			r = wf_rng_next(env->rng);
		}
		*ret = json_integer((json_int_t)(a + (long long)(r % (uint64_t)(b - a + 1))));
		return *ret ? 0 : -ENOMEM;
	}
	case FN_MATHADD: {
		double x0, x1;

		if (!json_is_number(v[0]) || !json_is_number(v[1]))
			return failf(cause, causelen, -EINVAL, "States.MathAdd arguments must be "
				     "numbers");
		/* AWS rounds each operand half up (Java Math.round) before adding. */
		x0 = floor(json_number_value(v[0]) + 0.5);
		x1 = floor(json_number_value(v[1]) + 0.5);
		*ret = json_integer((json_int_t)(x0 + x1));
		return *ret ? 0 : -ENOMEM;
	}
	case FN_STRINGSPLIT:
		return do_split(v[0], v[1], ret, cause, causelen);
	case FN_UUID:
		return do_uuid(env->rng, ret);
	}
	return failf(cause, causelen, -EINVAL, "States.%s is not supported", name);
}

int wf_intrinsic_eval(const struct wf_intrinsic *f, const struct wf_intrinsic_env *env,
		      json_t **ret, char *cause, size_t causelen)
{
	json_t *small[4] = {0}, **v = small;
	size_t i;
	int r = 0;

	if (f->nargs > 4) {
		v = calloc(f->nargs, sizeof(*v));
		if (!v)
			return -ENOMEM;
	}
	for (i = 0; i < f->nargs && r == 0; i++)
		r = eval_arg(&f->args[i], env, &v[i], cause, causelen);
	if (r == 0)
		r = apply(f, v, env, ret, cause, causelen);
	for (i = 0; i < f->nargs; i++)
		json_decref(v[i]);
	if (v != small)
		free(v);
	return r;
}
