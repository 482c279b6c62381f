/* SPDX-License-Identifier: MIT */
/*
 * wf_asl: parser, validator and compiler of Amazon States Language definitions (contract in
 * wf_asl.h). One pass over the definition compiles each state; a second resolves transitions
 * and checks reachability. Every refusal names the JSON pointer of the offending field.
 */
#include "wf_asl_internal.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_STATE_NAME 80

struct pctx {
	char *err;
	size_t errlen;
	json_t *all_names; /* every state name in the machine: names are unique machine-wide */
	size_t nstates;
};

static int verr(struct pctx *c, const char *code, const char *ptr, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static int verr(struct pctx *c, const char *code, const char *ptr, const char *fmt, ...)
{
	char msg[384];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (c->errlen)
		snprintf(c->err, c->errlen, "%s: %s at %s", code, msg, ptr[0] ? ptr : "/");
	return -EINVAL;
}

#define SCHEMA "SCHEMA_VALIDATION_FAILED"

/* Free. */

static void tmpl_free(struct wf_tmpl *t);

static void tmpl_clear(struct wf_tmpl *t)
{
	json_decref(t->lit);
	wf_path_free(t->path);
	wf_intrinsic_free(t->fn);
	free(t->field);
	for (size_t i = 0; i < t->n; i++) {
		if (t->keys)
			free(t->keys[i]);
		tmpl_clear(&t->kids[i]);
	}
	free(t->keys);
	free(t->kids);
}

static void tmpl_free(struct wf_tmpl *t)
{
	if (!t)
		return;
	tmpl_clear(t);
	free(t);
}

static void strv_free(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

static void rule_clear(struct wf_rule *r)
{
	wf_path_free(r->var);
	wf_path_free(r->path2);
	json_decref(r->lit);
	free(r->pattern);
	for (size_t i = 0; i < r->nsub; i++)
		rule_clear(&r->sub[i]);
	free(r->sub);
}

static void graph_clear(struct wf_graph *g);

static void state_clear(struct wf_state *s)
{
	free(s->name);
	json_decref(s->name_json);
	wf_path_free(s->input_path.path);
	wf_path_free(s->output_path.path);
	wf_path_free(s->result_path.path);
	tmpl_free(s->parameters);
	tmpl_free(s->result_selector);
	json_decref(s->result);
	free(s->resource);
	wf_path_free(s->timeout_path);
	wf_path_free(s->heartbeat_path);
	for (size_t i = 0; i < s->nretry; i++)
		strv_free(s->retry[i].errors, s->retry[i].nerr);
	free(s->retry);
	for (size_t i = 0; i < s->ncatch; i++) {
		strv_free(s->catch[i].errors, s->catch[i].nerr);
		wf_path_free(s->catch[i].result_path.path);
	}
	free(s->catch);
	for (size_t i = 0; i < s->nchoices; i++)
		rule_clear(&s->choices[i]);
	free(s->choices);
	wf_path_free(s->seconds_path);
	wf_path_free(s->ts_path);
	free(s->error);
	free(s->cause);
	wf_path_free(s->error_path);
	wf_path_free(s->cause_path);
	wf_intrinsic_free(s->error_fn);
	wf_intrinsic_free(s->cause_fn);
	for (size_t i = 0; i < s->nbranches; i++)
		graph_clear(&s->branches[i]);
	free(s->branches);
	wf_path_free(s->items_path);
	tmpl_free(s->item_selector);
	if (s->processor) {
		graph_clear(s->processor);
		free(s->processor);
	}
	wf_path_free(s->max_concurrency_path);
	wf_path_free(s->tolerated_count_path);
	wf_path_free(s->tolerated_pct_path);
}

static void graph_clear(struct wf_graph *g)
{
	for (size_t i = 0; i < g->n; i++)
		state_clear(&g->states[i]);
	free(g->states);
	g->states = NULL;
	g->n = 0;
}

void wf_machine_free(struct wf_machine *m)
{
	if (!m)
		return;
	graph_clear(&m->root);
	free(m);
}

size_t wf_machine_state_count(const struct wf_machine *m)
{
	return m->nstates;
}

int64_t wf_machine_timeout_s(const struct wf_machine *m)
{
	return m->timeout_s;
}

/* Timestamps. */

static int digits(const char *s, int n, int *v)
{
	*v = 0;
	for (int i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -EINVAL;
		*v = *v * 10 + (s[i] - '0');
	}
	return 0;
}

static int64_t days_from_civil(int y, int m, int d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	int64_t yoe = y - era * 400;
	int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;

	return era * 146097 + doe - 719468;
}

int wf_timestamp_parse(const char *s, int64_t *ns)
{
	static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	int y, mo, d, h, mi, sec, oh = 0, om = 0;
	int64_t frac = 0, t;
	size_t i = 19;

	if (strlen(s) < 20 || digits(s, 4, &y) || s[4] != '-' || digits(s + 5, 2, &mo) ||
	    s[7] != '-' || digits(s + 8, 2, &d) || s[10] != 'T' || digits(s + 11, 2, &h) ||
	    s[13] != ':' || digits(s + 14, 2, &mi) || s[16] != ':' || digits(s + 17, 2, &sec))
		return -EINVAL;
	if (mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] || h > 23 || mi > 59 || sec > 60)
		return -EINVAL;
	if (mo == 2 && d == 29 && !((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
		return -EINVAL;
	if (s[i] == '.') {
		int nd = 0;

		i++;
		while (s[i] >= '0' && s[i] <= '9') {
			if (nd < 9)
				frac = frac * 10 + (s[i] - '0');
			nd++;
			i++;
		}
		if (nd == 0)
			return -EINVAL;
		for (; nd < 9; nd++)
			frac *= 10;
	}
	if (s[i] == 'Z') {
		i++;
	} else if (s[i] == '+' || s[i] == '-') {
		if (digits(s + i + 1, 2, &oh) || s[i + 3] != ':' || digits(s + i + 4, 2, &om) ||
		    oh > 23 || om > 59)
			return -EINVAL;
		if (s[i] == '-') {
			oh = -oh;
			om = -om;
		}
		i += 6;
	} else {
		return -EINVAL;
	}
	if (s[i] != '\0')
		return -EINVAL;
	t = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec - oh * 3600 - om * 60;
	*ns = t * 1000000000 + frac;
	return 0;
}

void wf_timestamp_format(int64_t ms, char buf[32])
{
	time_t t = (time_t)(ms >= 0 ? ms / 1000 : (ms - 999) / 1000);
	struct tm tm;

	gmtime_r(&t, &tm);
	snprintf(buf, 32, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
		 tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(((ms % 1000) + 1000) % 1000));
}

/* Field helpers. */

static void ptr_join(char *out, size_t len, const char *base, const char *field)
{
	snprintf(out, len, "%s/%s", base, field);
}

static int check_fields(struct pctx *c, json_t *obj, const char *ptr, const char *const *allowed)
{
	const char *k;
	json_t *v;

	json_object_foreach(obj, k, v) {
		size_t i;

		for (i = 0; allowed[i]; i++)
			if (!strcmp(allowed[i], k))
				break;
		if (!allowed[i]) {
			char p[512];

			ptr_join(p, sizeof(p), ptr, k);
			return verr(c, SCHEMA, p, "The field '%s' is not supported by Step Functions",
				    k);
		}
	}
	return 0;
}

static int get_str(struct pctx *c, json_t *obj, const char *ptr, const char *field, bool req,
		   const char **out)
{
	json_t *v = json_object_get(obj, field);
	char p[512];

	*out = NULL;
	ptr_join(p, sizeof(p), ptr, field);
	if (!v) {
		if (req)
			return verr(c, SCHEMA, ptr, "The field '%s' is required", field);
		return 0;
	}
	if (!json_is_string(v))
		return verr(c, SCHEMA, p, "The field '%s' should be a string", field);
	*out = json_string_value(v);
	return 0;
}

static int get_int(struct pctx *c, json_t *obj, const char *ptr, const char *field, int64_t min,
		   int64_t dflt, int64_t *out)
{
	json_t *v = json_object_get(obj, field);
	char p[512];

	*out = dflt;
	if (!v)
		return 0;
	ptr_join(p, sizeof(p), ptr, field);
	if (!json_is_integer(v))
		return verr(c, SCHEMA, p, "The field '%s' should be an integer", field);
	if (json_integer_value(v) < min)
		return verr(c, SCHEMA, p, "The value of the field '%s' must be at least %lld",
			    field, (long long)min);
	*out = json_integer_value(v);
	return 0;
}

static int get_num(struct pctx *c, json_t *obj, const char *ptr, const char *field, double min,
		   double max, double dflt, double *out)
{
	json_t *v = json_object_get(obj, field);
	char p[512];

	*out = dflt;
	if (!v)
		return 0;
	ptr_join(p, sizeof(p), ptr, field);
	if (!json_is_number(v))
		return verr(c, SCHEMA, p, "The field '%s' should be a number", field);
	*out = json_number_value(v);
	if (*out < min || *out > max)
		return verr(c, SCHEMA, p, "The value of the field '%s' must be between %g and %g",
			    field, min, max);
	return 0;
}

static int compile_path(struct pctx *c, const char *text, const char *p, unsigned flags,
			struct wf_path **out)
{
	char e[256];
	int r = wf_path_compile(text, flags, out, e, sizeof(e));

	if (r == -EINVAL)
		return verr(c, SCHEMA, p, "The value for the field must be a valid %sJSONPath: "
			    "'%s' (%s)", flags & WF_PATH_REFERENCE ? "reference " : "", text, e);
	return r;
}

/* A path field that may be null or absent. */
static int get_opt_path(struct pctx *c, json_t *obj, const char *ptr, const char *field,
			unsigned flags, struct wf_opt_path *out)
{
	json_t *v = json_object_get(obj, field);
	char p[512];

	if (!v)
		return 0;
	ptr_join(p, sizeof(p), ptr, field);
	if (json_is_null(v)) {
		out->is_null = true;
		return 0;
	}
	if (!json_is_string(v))
		return verr(c, SCHEMA, p, "The field '%s' should be a string or null", field);
	return compile_path(c, json_string_value(v), p, flags, &out->path);
}

/* A reference path field (SecondsPath, ItemsPath, ...). */
static int get_ref_path(struct pctx *c, json_t *obj, const char *ptr, const char *field,
			struct wf_path **out)
{
	const char *s;
	char p[512];
	int r = get_str(c, obj, ptr, field, false, &s);

	if (r < 0 || !s)
		return r;
	ptr_join(p, sizeof(p), ptr, field);
	return compile_path(c, s, p, WF_PATH_REFERENCE, out);
}

static bool ends_with_dollar(const char *k)
{
	size_t l = strlen(k);

	return l >= 2 && k[l - 2] == '.' && k[l - 1] == '$';
}

/* Payload templates: `.$` keys at any depth are compiled; other subtrees stay literal. */
static bool has_dynamic(json_t *v)
{
	const char *k;
	json_t *x;
	size_t i;

	if (json_is_object(v)) {
		json_object_foreach(v, k, x)
			if (ends_with_dollar(k) || has_dynamic(x))
				return true;
	} else if (json_is_array(v)) {
		json_array_foreach(v, i, x)
			if (has_dynamic(x))
				return true;
	}
	return false;
}

static int tmpl_build(struct pctx *c, json_t *v, const char *ptr, struct wf_tmpl *t)
{
	const char *k;
	json_t *x;
	size_t i = 0;
	int r;

	if (!has_dynamic(v)) {
		t->kind = WF_T_LIT;
		t->lit = json_incref(v);
		return 0;
	}
	t->kind = json_is_object(v) ? WF_T_OBJ : WF_T_ARR;
	t->n = json_is_object(v) ? json_object_size(v) : json_array_size(v);
	t->kids = calloc(t->n ? t->n : 1, sizeof(*t->kids));
	if (!t->kids)
		return -ENOMEM;
	if (t->kind == WF_T_ARR) {
		json_array_foreach(v, i, x) {
			char p[512];

			snprintf(p, sizeof(p), "%s/%zu", ptr, i);
			if ((r = tmpl_build(c, x, p, &t->kids[i])) < 0)
				return r;
		}
		return 0;
	}
	t->keys = calloc(t->n, sizeof(char *));
	if (!t->keys)
		return -ENOMEM;
	json_t *seen = json_object();

	if (!seen)
		return -ENOMEM;
	r = 0;
	json_object_foreach(v, k, x) {
		struct wf_tmpl *kid = &t->kids[i];
		char p[512];
		bool dyn = ends_with_dollar(k);

		ptr_join(p, sizeof(p), ptr, k);
		t->keys[i] = dyn ? strndup(k, strlen(k) - 2) : strdup(k);
		i++;
		if (!t->keys[i - 1]) {
			r = -ENOMEM;
			break;
		}
		if (json_object_get(seen, t->keys[i - 1])) {
			r = verr(c, SCHEMA, p, "Duplicate field name '%s' after removing '.$'",
				 t->keys[i - 1]);
			break;
		}
		json_object_set_new(seen, t->keys[i - 1], json_true());
		if (!dyn) {
			if ((r = tmpl_build(c, x, p, kid)) < 0)
				break;
			continue;
		}
		kid->field = strdup(k);
		if (!kid->field) {
			r = -ENOMEM;
			break;
		}
		if (!json_is_string(x)) {
			r = verr(c, SCHEMA, p, "The value for the field '%s' must be a STRING that "
				 "contains a JSONPath or an intrinsic function", k);
			break;
		}
		const char *s = json_string_value(x);

		if (s[0] == '$') {
			kid->kind = WF_T_PATH;
			if ((r = compile_path(c, s, p, 0, &kid->path)) < 0)
				break;
		} else if (wf_intrinsic_is_call(s)) {
			char e[256];

			kid->kind = WF_T_FN;
			r = wf_intrinsic_compile(s, &kid->fn, e, sizeof(e));
			if (r < 0) {
				if (r == -EINVAL)
					r = verr(c, SCHEMA, p, "The value for the field '%s' must be a "
						 "valid intrinsic function: %s", k, e);
				break;
			}
		} else {
			r = verr(c, SCHEMA, p, "The value for the field '%s' must be a valid JSONPath "
				 "or a valid intrinsic function call", k);
			break;
		}
	}
	json_decref(seen);
	return r;
}

static int get_tmpl(struct pctx *c, json_t *obj, const char *ptr, const char *field,
		    struct wf_tmpl **out)
{
	json_t *v = json_object_get(obj, field);
	char p[512];
	int r;

	if (!v)
		return 0;
	ptr_join(p, sizeof(p), ptr, field);
	if (!json_is_object(v) && strcmp(field, "Parameters"))
		return verr(c, SCHEMA, p, "The field '%s' should be an object", field);
	*out = calloc(1, sizeof(**out));
	if (!*out)
		return -ENOMEM;
	r = tmpl_build(c, v, p, *out);
	return r;
}

/* Errors lists of Retry / Catch. */
static int get_errors(struct pctx *c, json_t *o, const char *ptr, bool last, char ***out,
		      size_t *n, bool *all)
{
	json_t *a = json_object_get(o, "ErrorEquals"), *x;
	char p[512];
	size_t i;

	ptr_join(p, sizeof(p), ptr, "ErrorEquals");
	if (!a)
		return verr(c, SCHEMA, ptr, "The field 'ErrorEquals' is required");
	if (!json_is_array(a) || json_array_size(a) == 0)
		return verr(c, SCHEMA, p, "The field 'ErrorEquals' should be a non-empty array");
	*out = calloc(json_array_size(a), sizeof(char *));
	if (!*out)
		return -ENOMEM;
	json_array_foreach(a, i, x) {
		if (!json_is_string(x))
			return verr(c, SCHEMA, p, "Error names should be strings");
		(*out)[i] = strdup(json_string_value(x));
		if (!(*out)[i])
			return -ENOMEM;
		*n = i + 1;
		if (!strcmp(json_string_value(x), "States.ALL")) {
			if (json_array_size(a) != 1)
				return verr(c, SCHEMA, p, "States.ALL must appear alone in "
					    "ErrorEquals");
			if (!last)
				return verr(c, SCHEMA, p, "States.ALL must appear in the last "
					    "retrier or catcher");
			*all = true;
		}
	}
	return 0;
}

struct graph_names {
	json_t *index; /* name -> position in the graph */
};

static int resolve(struct pctx *c, json_t *index, const char *name, const char *p, int *out)
{
	json_t *v = json_object_get(index, name);

	if (!v)
		return verr(c, "MISSING_TRANSITION_TARGET", p, "Missing 'Next' target: %s", name);
	*out = (int)json_integer_value(v);
	return 0;
}

static int get_next(struct pctx *c, json_t *o, const char *ptr, json_t *index, int *out)
{
	const char *s;
	char p[512];
	int r = get_str(c, o, ptr, "Next", false, &s);

	*out = -1;
	if (r < 0 || !s)
		return r;
	ptr_join(p, sizeof(p), ptr, "Next");
	return resolve(c, index, s, p, out);
}

static int parse_retry(struct pctx *c, json_t *st, const char *ptr, struct wf_state *s)
{
	json_t *a = json_object_get(st, "Retry"), *o;
	char p[512], q[512];
	size_t i;
	int r;

	if (!a)
		return 0;
	ptr_join(p, sizeof(p), ptr, "Retry");
	if (!json_is_array(a))
		return verr(c, SCHEMA, p, "The field 'Retry' should be an array");
	s->retry = calloc(json_array_size(a) + 1, sizeof(*s->retry));
	if (!s->retry)
		return -ENOMEM;
	json_array_foreach(a, i, o) {
		static const char *const fields[] = {"ErrorEquals", "IntervalSeconds", "MaxAttempts",
			"BackoffRate", "MaxDelaySeconds", "JitterStrategy", "Comment", NULL};
		struct wf_retrier *rt = &s->retry[i];
		const char *jit;

		snprintf(q, sizeof(q), "%s/%zu", p, i);
		s->nretry = i + 1;
		if (!json_is_object(o))
			return verr(c, SCHEMA, q, "A retrier should be an object");
		if ((r = check_fields(c, o, q, fields)) < 0 ||
		    (r = get_errors(c, o, q, i + 1 == json_array_size(a), &rt->errors, &rt->nerr,
				    &rt->all)) < 0 ||
		    (r = get_int(c, o, q, "IntervalSeconds", 1, 1, &rt->interval_s)) < 0 ||
		    (r = get_int(c, o, q, "MaxAttempts", 0, 3, &rt->max_attempts)) < 0 ||
		    (r = get_num(c, o, q, "BackoffRate", 1.0, 1e9, 2.0, &rt->backoff)) < 0 ||
		    (r = get_int(c, o, q, "MaxDelaySeconds", 1, 0, &rt->max_delay_s)) < 0 ||
		    (r = get_str(c, o, q, "JitterStrategy", false, &jit)) < 0)
			return r;
		if (jit && strcmp(jit, "FULL") && strcmp(jit, "NONE")) {
			ptr_join(q + strlen(q), sizeof(q) - strlen(q), "", "JitterStrategy");
			return verr(c, SCHEMA, q, "JitterStrategy must be FULL or NONE");
		}
		rt->jitter_full = jit && !strcmp(jit, "FULL");
	}
	return 0;
}

static int parse_catch(struct pctx *c, json_t *st, const char *ptr, json_t *index,
		       struct wf_state *s)
{
	json_t *a = json_object_get(st, "Catch"), *o;
	char p[512], q[512];
	size_t i;
	int r;

	if (!a)
		return 0;
	ptr_join(p, sizeof(p), ptr, "Catch");
	if (!json_is_array(a))
		return verr(c, SCHEMA, p, "The field 'Catch' should be an array");
	s->catch = calloc(json_array_size(a) + 1, sizeof(*s->catch));
	if (!s->catch)
		return -ENOMEM;
	json_array_foreach(a, i, o) {
		static const char *const fields[] = {"ErrorEquals", "Next", "ResultPath", "Comment",
						     NULL};
		struct wf_catcher *ct = &s->catch[i];

		snprintf(q, sizeof(q), "%s/%zu", p, i);
		s->ncatch = i + 1;
		if (!json_is_object(o))
			return verr(c, SCHEMA, q, "A catcher should be an object");
		if ((r = check_fields(c, o, q, fields)) < 0 ||
		    (r = get_errors(c, o, q, i + 1 == json_array_size(a), &ct->errors, &ct->nerr,
				    &ct->all)) < 0 ||
		    (r = get_opt_path(c, o, q, "ResultPath", WF_PATH_REFERENCE | WF_PATH_NO_CONTEXT,
				      &ct->result_path)) < 0)
			return r;
		if (!json_object_get(o, "Next"))
			return verr(c, SCHEMA, q, "The field 'Next' is required");
		if ((r = get_next(c, o, q, index, &ct->next)) < 0)
			return r;
	}
	return 0;
}

/* Choice rules. */

static const struct {
	const char *name;
	enum wf_rule_kind kind;
	enum wf_fam fam;
	enum wf_cmp cmp;
	bool path;
} ops[] = {
#define CMP_OPS(P, F) \
	{P "Equals", WF_R_CMP, F, WF_C_EQ, false}, {P "EqualsPath", WF_R_CMP, F, WF_C_EQ, true}, \
	{P "LessThan", WF_R_CMP, F, WF_C_LT, false}, {P "LessThanPath", WF_R_CMP, F, WF_C_LT, true}, \
	{P "GreaterThan", WF_R_CMP, F, WF_C_GT, false}, \
	{P "GreaterThanPath", WF_R_CMP, F, WF_C_GT, true}, \
	{P "LessThanEquals", WF_R_CMP, F, WF_C_LE, false}, \
	{P "LessThanEqualsPath", WF_R_CMP, F, WF_C_LE, true}, \
	{P "GreaterThanEquals", WF_R_CMP, F, WF_C_GE, false}, \
	{P "GreaterThanEqualsPath", WF_R_CMP, F, WF_C_GE, true}
	CMP_OPS("String", WF_F_STR),
	CMP_OPS("Numeric", WF_F_NUM),
	CMP_OPS("Timestamp", WF_F_TS),
	{"BooleanEquals", WF_R_CMP, WF_F_BOOL, WF_C_EQ, false},
	{"BooleanEqualsPath", WF_R_CMP, WF_F_BOOL, WF_C_EQ, true},
	{"StringMatches", WF_R_MATCH, WF_F_STR, WF_C_EQ, false},
	{"IsNull", WF_R_TYPE, 0, 0, false},
	{"IsPresent", WF_R_TYPE, 0, 0, false},
	{"IsNumeric", WF_R_TYPE, 0, 0, false},
	{"IsString", WF_R_TYPE, 0, 0, false},
	{"IsBoolean", WF_R_TYPE, 0, 0, false},
	{"IsTimestamp", WF_R_TYPE, 0, 0, false},
};

static int parse_rule(struct pctx *c, json_t *o, const char *ptr, bool top, json_t *index,
		      struct wf_rule *rule)
{
	const char *k, *op = NULL;
	json_t *v, *val = NULL;
	char p[512];
	size_t nops = 0, i;
	int r;

	if (!json_is_object(o))
		return verr(c, SCHEMA, ptr, "A choice rule should be an object");
	rule->next = -1;
	if (top) {
		if (!json_object_get(o, "Next"))
			return verr(c, SCHEMA, ptr, "The field 'Next' is required");
		if ((r = get_next(c, o, ptr, index, &rule->next)) < 0)
			return r;
	} else if (json_object_get(o, "Next")) {
		ptr_join(p, sizeof(p), ptr, "Next");
		return verr(c, SCHEMA, p, "A nested choice rule cannot have 'Next'");
	}
	json_object_foreach(o, k, v) {
		if (!strcmp(k, "Next") || !strcmp(k, "Comment") || !strcmp(k, "Variable"))
			continue;
		if (!strcmp(k, "And") || !strcmp(k, "Or") || !strcmp(k, "Not")) {
			op = k;
			val = v;
			nops++;
			continue;
		}
		for (i = 0; i < sizeof(ops) / sizeof(ops[0]); i++)
			if (!strcmp(ops[i].name, k))
				break;
		ptr_join(p, sizeof(p), ptr, k);
		if (i == sizeof(ops) / sizeof(ops[0]))
			return verr(c, SCHEMA, p, "The field '%s' is not supported by Step Functions",
				    k);
		op = k;
		val = v;
		nops++;
	}
	if (nops != 1)
		return verr(c, SCHEMA, ptr, "A choice rule must have exactly one comparison "
			    "operator or And/Or/Not");
	ptr_join(p, sizeof(p), ptr, op);
	if (!strcmp(op, "And") || !strcmp(op, "Or")) {
		if (json_object_get(o, "Variable"))
			return verr(c, SCHEMA, ptr, "'%s' rules cannot have 'Variable'", op);
		if (!json_is_array(val) || json_array_size(val) == 0)
			return verr(c, SCHEMA, p, "The field '%s' should be a non-empty array", op);
		rule->kind = op[0] == 'A' ? WF_R_AND : WF_R_OR;
		rule->sub = calloc(json_array_size(val), sizeof(*rule->sub));
		if (!rule->sub)
			return -ENOMEM;
		json_array_foreach(val, i, v) {
			char q[512];

			snprintf(q, sizeof(q), "%s/%zu", p, i);
			rule->nsub = i + 1;
			if ((r = parse_rule(c, v, q, false, index, &rule->sub[i])) < 0)
				return r;
		}
		return 0;
	}
	if (!strcmp(op, "Not")) {
		if (json_object_get(o, "Variable"))
			return verr(c, SCHEMA, ptr, "'Not' rules cannot have 'Variable'");
		rule->kind = WF_R_NOT;
		rule->sub = calloc(1, sizeof(*rule->sub));
		if (!rule->sub)
			return -ENOMEM;
		rule->nsub = 1;
		return parse_rule(c, val, p, false, index, rule->sub);
	}
	for (i = 0; strcmp(ops[i].name, op); i++)
		;
	const char *var;

	if ((r = get_str(c, o, ptr, "Variable", true, &var)) < 0)
		return r;
	{
		char vp[512];

		ptr_join(vp, sizeof(vp), ptr, "Variable");
		if ((r = compile_path(c, var, vp, 0, &rule->var)) < 0)
			return r;
	}
	rule->kind = ops[i].kind;
	rule->fam = ops[i].fam;
	rule->cmp = ops[i].cmp;
	if (rule->kind == WF_R_TYPE) {
		static const char *const tests[] = {"IsNull", "IsPresent", "IsNumeric", "IsString",
						    "IsBoolean", "IsTimestamp"};
		for (size_t t = 0; t < 6; t++)
			if (!strcmp(tests[t], op))
				rule->test = (enum wf_type_test)t;
		if (!json_is_boolean(val))
			return verr(c, SCHEMA, p, "The value of '%s' should be a boolean", op);
		rule->want = json_is_true(val);
		return 0;
	}
	if (ops[i].path) {
		if (!json_is_string(val))
			return verr(c, SCHEMA, p, "The value of '%s' should be a path", op);
		return compile_path(c, json_string_value(val), p, 0, &rule->path2);
	}
	if (rule->kind == WF_R_MATCH) {
		if (!json_is_string(val))
			return verr(c, SCHEMA, p, "The value of '%s' should be a string", op);
		rule->pattern = strdup(json_string_value(val));
		return rule->pattern ? 0 : -ENOMEM;
	}
	switch (rule->fam) {
	case WF_F_STR:
		if (!json_is_string(val))
			return verr(c, SCHEMA, p, "The value of '%s' should be a string", op);
		break;
	case WF_F_NUM:
		if (!json_is_number(val))
			return verr(c, SCHEMA, p, "The value of '%s' should be a number", op);
		break;
	case WF_F_BOOL:
		if (!json_is_boolean(val))
			return verr(c, SCHEMA, p, "The value of '%s' should be a boolean", op);
		break;
	case WF_F_TS:
		if (!json_is_string(val) || wf_timestamp_parse(json_string_value(val),
							       &rule->ts_ns) < 0)
			return verr(c, SCHEMA, p, "The value of '%s' should be an RFC3339 "
				    "timestamp", op);
		break;
	}
	rule->lit = json_incref(val);
	return 0;
}

static int parse_graph(struct pctx *c, json_t *def, const char *base, struct wf_graph *g);

/* Fields each state type accepts. */
static const char *const f_pass[] = {"Type", "Comment", "Next", "End", "InputPath",
	"OutputPath", "Parameters", "Result", "ResultPath", "QueryLanguage", NULL};
static const char *const f_task[] = {"Type", "Comment", "Next", "End", "InputPath",
	"OutputPath", "Parameters", "ResultSelector", "ResultPath", "Retry", "Catch", "Resource",
	"TimeoutSeconds", "TimeoutSecondsPath", "HeartbeatSeconds", "HeartbeatSecondsPath",
	"Credentials", "QueryLanguage", NULL};
static const char *const f_choice[] = {"Type", "Comment", "Choices", "Default", "InputPath",
	"OutputPath", "QueryLanguage", NULL};
static const char *const f_wait[] = {"Type", "Comment", "Next", "End", "InputPath",
	"OutputPath", "Seconds", "SecondsPath", "Timestamp", "TimestampPath", "QueryLanguage",
	NULL};
static const char *const f_succeed[] = {"Type", "Comment", "InputPath", "OutputPath",
	"QueryLanguage", NULL};
static const char *const f_fail[] = {"Type", "Comment", "Error", "ErrorPath", "Cause",
	"CausePath", "QueryLanguage", NULL};
static const char *const f_parallel[] = {"Type", "Comment", "Next", "End", "InputPath",
	"OutputPath", "Parameters", "ResultSelector", "ResultPath", "Retry", "Catch", "Branches",
	"QueryLanguage", NULL};
static const char *const f_map[] = {"Type", "Comment", "Next", "End", "InputPath",
	"OutputPath", "Parameters", "ItemSelector", "ResultSelector", "ResultPath", "Retry",
	"Catch", "ItemsPath", "ItemProcessor", "Iterator", "MaxConcurrency", "MaxConcurrencyPath",
	"ToleratedFailureCount", "ToleratedFailureCountPath", "ToleratedFailurePercentage",
	"ToleratedFailurePercentagePath", "Label", "QueryLanguage", NULL};

static const struct {
	const char *name;
	enum wf_state_type type;
	const char *const *fields;
} types[] = {
	{"Pass", WF_PASS, f_pass}, {"Task", WF_TASK, f_task}, {"Choice", WF_CHOICE, f_choice},
	{"Wait", WF_WAIT, f_wait}, {"Succeed", WF_SUCCEED, f_succeed}, {"Fail", WF_FAIL, f_fail},
	{"Parallel", WF_PARALLEL, f_parallel}, {"Map", WF_MAP, f_map},
};

/* "X" and "XPath" (or "X.$"-less pairs) must not both be present. */
static int exclusive(struct pctx *c, json_t *st, const char *ptr, const char *a, const char *b)
{
	if (json_object_get(st, a) && json_object_get(st, b))
		return verr(c, SCHEMA, ptr, "The fields '%s' and '%s' are mutually exclusive", a, b);
	return 0;
}

/* Fail's ErrorPath / CausePath: a reference path or an intrinsic function. */
static int get_path_or_fn(struct pctx *c, json_t *st, const char *ptr, const char *field,
			  struct wf_path **path, struct wf_intrinsic **fn)
{
	const char *s;
	char p[512], e[256];
	int r = get_str(c, st, ptr, field, false, &s);

	if (r < 0 || !s)
		return r;
	ptr_join(p, sizeof(p), ptr, field);
	if (wf_intrinsic_is_call(s)) {
		r = wf_intrinsic_compile(s, fn, e, sizeof(e));
		if (r == -EINVAL)
			return verr(c, SCHEMA, p, "The value for the field '%s' must be a valid "
				    "intrinsic function: %s", field, e);
		return r;
	}
	return compile_path(c, s, p, WF_PATH_REFERENCE, path);
}

static int parse_state(struct pctx *c, json_t *st, const char *ptr, json_t *index,
		       struct wf_state *s)
{
	const char *type, *str;
	json_t *v;
	char p[512];
	size_t t;
	int r;

	s->next = -1;
	s->default_next = -1;
	s->wait_s = -1;
	s->tolerated_count = -1;
	s->tolerated_pct = -1;
	if (!json_is_object(st))
		return verr(c, SCHEMA, ptr, "A state should be an object");
	if ((r = get_str(c, st, ptr, "Type", true, &type)) < 0)
		return r;
	for (t = 0; t < sizeof(types) / sizeof(types[0]); t++)
		if (!strcmp(types[t].name, type))
			break;
	ptr_join(p, sizeof(p), ptr, "Type");
	if (t == sizeof(types) / sizeof(types[0]))
		return verr(c, SCHEMA, p, "Unknown state type '%s'", type);
	s->type = types[t].type;
	if ((r = check_fields(c, st, ptr, types[t].fields)) < 0)
		return r;
	if ((r = get_str(c, st, ptr, "QueryLanguage", false, &str)) < 0)
		return r;
	if (str && strcmp(str, "JSONPath")) {
		ptr_join(p, sizeof(p), ptr, "QueryLanguage");
		return verr(c, SCHEMA, p, "Only the JSONPath query language is supported");
	}

	/* Transitions. */
	v = json_object_get(st, "End");
	if (v && !json_is_boolean(v)) {
		ptr_join(p, sizeof(p), ptr, "End");
		return verr(c, SCHEMA, p, "The field 'End' should be a boolean");
	}
	bool end = json_is_true(v);
	bool has_next = json_object_get(st, "Next") != NULL;
	bool flow = s->type != WF_CHOICE && s->type != WF_SUCCEED && s->type != WF_FAIL;

	if (flow) {
		if (end && has_next)
			return verr(c, SCHEMA, ptr, "The fields 'Next' and 'End' are mutually "
				    "exclusive");
		if (!end && !has_next)
			return verr(c, SCHEMA, ptr, "The field 'Next' or 'End: true' is required");
		if ((r = get_next(c, st, ptr, index, &s->next)) < 0)
			return r;
	}

	/* Input and output processing. */
	if (s->type != WF_FAIL) {
		if ((r = get_opt_path(c, st, ptr, "InputPath", 0, &s->input_path)) < 0 ||
		    (r = get_opt_path(c, st, ptr, "OutputPath", 0, &s->output_path)) < 0)
			return r;
	}
	if ((r = get_opt_path(c, st, ptr, "ResultPath", WF_PATH_REFERENCE | WF_PATH_NO_CONTEXT,
			      &s->result_path)) < 0)
		return r;
	if (s->type == WF_MAP) {
		if ((r = exclusive(c, st, ptr, "Parameters", "ItemSelector")) < 0 ||
		    (r = get_tmpl(c, st, ptr, json_object_get(st, "ItemSelector") ? "ItemSelector" :
				  "Parameters", &s->item_selector)) < 0)
			return r;
	} else if ((r = get_tmpl(c, st, ptr, "Parameters", &s->parameters)) < 0) {
		return r;
	}
	if ((r = get_tmpl(c, st, ptr, "ResultSelector", &s->result_selector)) < 0)
		return r;
	if ((r = parse_retry(c, st, ptr, s)) < 0 || (r = parse_catch(c, st, ptr, index, s)) < 0)
		return r;

	switch (s->type) {
	case WF_PASS:
		if ((v = json_object_get(st, "Result")))
			s->result = json_incref(v);
		break;
	case WF_TASK:
		if ((r = get_str(c, st, ptr, "Resource", true, &str)) < 0)
			return r;
		s->resource = strdup(str);
		if (!s->resource)
			return -ENOMEM;
		if ((r = exclusive(c, st, ptr, "TimeoutSeconds", "TimeoutSecondsPath")) < 0 ||
		    (r = exclusive(c, st, ptr, "HeartbeatSeconds", "HeartbeatSecondsPath")) < 0 ||
		    (r = get_int(c, st, ptr, "TimeoutSeconds", 1, 0, &s->timeout_s)) < 0 ||
		    (r = get_int(c, st, ptr, "HeartbeatSeconds", 1, 0, &s->heartbeat_s)) < 0 ||
		    (r = get_ref_path(c, st, ptr, "TimeoutSecondsPath", &s->timeout_path)) < 0 ||
		    (r = get_ref_path(c, st, ptr, "HeartbeatSecondsPath", &s->heartbeat_path)) < 0)
			return r;
		if (s->heartbeat_s && s->timeout_s && s->heartbeat_s >= s->timeout_s) {
			ptr_join(p, sizeof(p), ptr, "HeartbeatSeconds");
			return verr(c, SCHEMA, p, "HeartbeatSeconds must be smaller than "
				    "TimeoutSeconds");
		}
		break;
	case WF_CHOICE:
		v = json_object_get(st, "Choices");
		ptr_join(p, sizeof(p), ptr, "Choices");
		if (!v)
			return verr(c, SCHEMA, ptr, "The field 'Choices' is required");
		if (!json_is_array(v) || json_array_size(v) == 0)
			return verr(c, SCHEMA, p, "The field 'Choices' should be a non-empty array");
		s->choices = calloc(json_array_size(v), sizeof(*s->choices));
		if (!s->choices)
			return -ENOMEM;
		for (t = 0; t < json_array_size(v); t++) {
			char q[512];

			snprintf(q, sizeof(q), "%s/%zu", p, t);
			s->nchoices = t + 1;
			if ((r = parse_rule(c, json_array_get(v, t), q, true, index,
					    &s->choices[t])) < 0)
				return r;
		}
		if ((r = get_str(c, st, ptr, "Default", false, &str)) < 0)
			return r;
		if (str) {
			ptr_join(p, sizeof(p), ptr, "Default");
			if ((r = resolve(c, index, str, p, &s->default_next)) < 0)
				return r;
		}
		break;
	case WF_WAIT: {
		int given = !!json_object_get(st, "Seconds") + !!json_object_get(st, "SecondsPath") +
			    !!json_object_get(st, "Timestamp") + !!json_object_get(st, "TimestampPath");

		if (given != 1)
			return verr(c, SCHEMA, ptr, "A Wait state needs exactly one of 'Seconds', "
				    "'SecondsPath', 'Timestamp' and 'TimestampPath'");
		if ((r = get_int(c, st, ptr, "Seconds", 0, -1, &s->wait_s)) < 0 ||
		    (r = get_ref_path(c, st, ptr, "SecondsPath", &s->seconds_path)) < 0 ||
		    (r = get_ref_path(c, st, ptr, "TimestampPath", &s->ts_path)) < 0 ||
		    (r = get_str(c, st, ptr, "Timestamp", false, &str)) < 0)
			return r;
		if (str) {
			ptr_join(p, sizeof(p), ptr, "Timestamp");
			if (wf_timestamp_parse(str, &s->wait_ts_ns) < 0)
				return verr(c, SCHEMA, p, "The value of the field 'Timestamp' must be "
					    "an RFC3339 timestamp");
			s->has_wait_ts = true;
		}
		break;
	}
	case WF_SUCCEED:
		break;
	case WF_FAIL:
		if ((r = exclusive(c, st, ptr, "Error", "ErrorPath")) < 0 ||
		    (r = exclusive(c, st, ptr, "Cause", "CausePath")) < 0)
			return r;
		if ((r = get_str(c, st, ptr, "Error", false, &str)) < 0)
			return r;
		if (str && !(s->error = strdup(str)))
			return -ENOMEM;
		if ((r = get_str(c, st, ptr, "Cause", false, &str)) < 0)
			return r;
		if (str && !(s->cause = strdup(str)))
			return -ENOMEM;
		if ((r = get_path_or_fn(c, st, ptr, "ErrorPath", &s->error_path, &s->error_fn)) < 0 ||
		    (r = get_path_or_fn(c, st, ptr, "CausePath", &s->cause_path, &s->cause_fn)) < 0)
			return r;
		break;
	case WF_PARALLEL:
		v = json_object_get(st, "Branches");
		ptr_join(p, sizeof(p), ptr, "Branches");
		if (!v)
			return verr(c, SCHEMA, ptr, "The field 'Branches' is required");
		if (!json_is_array(v) || json_array_size(v) == 0)
			return verr(c, SCHEMA, p, "The field 'Branches' should be a non-empty array");
		s->branches = calloc(json_array_size(v), sizeof(*s->branches));
		if (!s->branches)
			return -ENOMEM;
		for (t = 0; t < json_array_size(v); t++) {
			char q[512];

			snprintf(q, sizeof(q), "%s/%zu", p, t);
			s->nbranches = t + 1;
			if ((r = parse_graph(c, json_array_get(v, t), q, &s->branches[t])) < 0)
				return r;
		}
		break;
	case WF_MAP: {
		const char *pf = json_object_get(st, "ItemProcessor") ? "ItemProcessor" : "Iterator";
		json_t *proc = json_object_get(st, pf);

		if ((r = exclusive(c, st, ptr, "ItemProcessor", "Iterator")) < 0)
			return r;
		if (!proc)
			return verr(c, SCHEMA, ptr, "The field 'ItemProcessor' is required");
		ptr_join(p, sizeof(p), ptr, pf);
		if (json_is_object(proc) && (v = json_object_get(proc, "ProcessorConfig"))) {
			json_t *mode = json_object_get(v, "Mode");

			if (mode && (!json_is_string(mode) ||
				     strcmp(json_string_value(mode), "INLINE"))) {
				char q[512];

				snprintf(q, sizeof(q), "%s/ProcessorConfig/Mode", p);
				return verr(c, SCHEMA, q, "Only the INLINE processor mode is "
					    "supported");
			}
		}
		s->processor = calloc(1, sizeof(*s->processor));
		if (!s->processor)
			return -ENOMEM;
		if ((r = parse_graph(c, proc, p, s->processor)) < 0)
			return r;
		if ((r = get_ref_path(c, st, ptr, "ItemsPath", &s->items_path)) < 0 ||
		    (r = exclusive(c, st, ptr, "MaxConcurrency", "MaxConcurrencyPath")) < 0 ||
		    (r = get_int(c, st, ptr, "MaxConcurrency", 0, 0, &s->max_concurrency)) < 0 ||
		    (r = get_ref_path(c, st, ptr, "MaxConcurrencyPath",
				      &s->max_concurrency_path)) < 0 ||
		    (r = get_int(c, st, ptr, "ToleratedFailureCount", 0, -1,
				 &s->tolerated_count)) < 0 ||
		    (r = get_num(c, st, ptr, "ToleratedFailurePercentage", 0, 100, -1,
				 &s->tolerated_pct)) < 0 ||
		    (r = get_ref_path(c, st, ptr, "ToleratedFailureCountPath",
				      &s->tolerated_count_path)) < 0 ||
		    (r = get_ref_path(c, st, ptr, "ToleratedFailurePercentagePath",
				      &s->tolerated_pct_path)) < 0)
			return r;
		break;
	}
	}
	return 0;
}

/* Mark states reachable from @i. */
static void reach(const struct wf_graph *g, int i, bool *seen)
{
	const struct wf_state *s;

	if (i < 0 || seen[i])
		return;
	seen[i] = true;
	s = &g->states[i];
	reach(g, s->next, seen);
	reach(g, s->default_next, seen);
	for (size_t k = 0; k < s->nchoices; k++)
		reach(g, s->choices[k].next, seen);
	for (size_t k = 0; k < s->ncatch; k++)
		reach(g, s->catch[k].next, seen);
}

/* Unicode characters in a UTF-8 string (jansson has checked the encoding). */
static size_t utf8_chars(const char *s)
{
	size_t n = 0;

	for (; *s; s++)
		n += ((unsigned char)*s & 0xc0) != 0x80;
	return n;
}

static int parse_graph(struct pctx *c, json_t *def, const char *base, struct wf_graph *g)
{
	json_t *states, *index = NULL, *v;
	const char *start, *name;
	char p[512];
	bool *seen = NULL;
	size_t i = 0;
	int r;

	if (!json_is_object(def))
		return verr(c, SCHEMA, base, "A state machine definition should be an object");
	if ((r = get_str(c, def, base, "StartAt", true, &start)) < 0)
		return r;
	states = json_object_get(def, "States");
	ptr_join(p, sizeof(p), base, "States");
	if (!states)
		return verr(c, SCHEMA, base, "The field 'States' is required");
	if (!json_is_object(states) || json_object_size(states) == 0)
		return verr(c, SCHEMA, p, "The field 'States' should be a non-empty object");
	g->states = calloc(json_object_size(states), sizeof(*g->states));
	index = json_object();
	if (!g->states || !index) {
		json_decref(index);
		return -ENOMEM;
	}
	json_object_foreach(states, name, v) {
		char sp[512];

		snprintf(sp, sizeof(sp), "%s/%s", p, name);
		if (utf8_chars(name) == 0 || utf8_chars(name) > MAX_STATE_NAME) {
			r = verr(c, SCHEMA, sp, "State names must be 1 to %d characters",
				 MAX_STATE_NAME);
			goto out;
		}
		if (json_object_get(c->all_names, name)) {
			r = verr(c, "DUPLICATE_STATE_NAME", sp, "Duplicate State name: %s", name);
			goto out;
		}
		json_object_set_new(c->all_names, name, json_true());
		json_object_set_new(index, name, json_integer((json_int_t)i++));
	}
	ptr_join(p, sizeof(p), base, "StartAt");
	if (!json_object_get(index, start)) {
		r = verr(c, "MISSING_TRANSITION_TARGET", p, "Missing 'Next' target: %s", start);
		goto out;
	}
	g->start = (int)json_integer_value(json_object_get(index, start));
	i = 0;
	json_object_foreach(states, name, v) {
		struct wf_state *s = &g->states[i];
		char sp[512];

		snprintf(sp, sizeof(sp), "%s/States/%s", base, name);
		g->n = ++i;
		c->nstates++;
		s->name = strdup(name);
		s->name_json = json_string(name);
		if (!s->name || !s->name_json) {
			r = -ENOMEM;
			goto out;
		}
		if ((r = parse_state(c, v, sp, index, s)) < 0)
			goto out;
	}
	seen = calloc(g->n, sizeof(*seen));
	if (!seen) {
		r = -ENOMEM;
		goto out;
	}
	reach(g, g->start, seen);
	for (i = 0; i < g->n; i++)
		if (!seen[i]) {
			char sp[512];

			snprintf(sp, sizeof(sp), "%s/States/%s", base, g->states[i].name);
			r = verr(c, "MISSING_TRANSITION_TARGET", sp, "State \"%s\" is not reachable",
				 g->states[i].name);
			goto out;
		}
	r = 0;
out:
	free(seen);
	json_decref(index);
	return r;
}

int wf_machine_parse(const char *def, size_t len, struct wf_machine **ret, char *err,
		     size_t errlen)
{
	static const char *const top[] = {"Comment", "StartAt", "States", "Version",
					  "TimeoutSeconds", "QueryLanguage", NULL};
	struct pctx c = {.err = err, .errlen = errlen};
	struct wf_machine *m;
	json_error_t je;
	json_t *root;
	const char *s;
	int r;

	if (errlen)
		err[0] = '\0';
	root = json_loadb(def, len, JSON_REJECT_DUPLICATES, &je);
	if (!root) {
		if (errlen)
			snprintf(err, errlen, "INVALID_JSON_DESCRIPTION: %s at line %d, column %d",
				 je.text, je.line, je.column);
		return -EINVAL;
	}
	m = calloc(1, sizeof(*m));
	c.all_names = json_object();
	if (!m || !c.all_names) {
		r = -ENOMEM;
		goto fail;
	}
	if (!json_is_object(root)) {
		r = verr(&c, SCHEMA, "", "A state machine definition should be an object");
		goto fail;
	}
	if ((r = check_fields(&c, root, "", top)) < 0 ||
	    (r = get_int(&c, root, "", "TimeoutSeconds", 1, 0, &m->timeout_s)) < 0 ||
	    (r = get_str(&c, root, "", "Version", false, &s)) < 0)
		goto fail;
	if ((r = get_str(&c, root, "", "QueryLanguage", false, &s)) < 0)
		goto fail;
	if (s && strcmp(s, "JSONPath")) {
		r = verr(&c, SCHEMA, "/QueryLanguage", "Only the JSONPath query language is "
			 "supported");
		goto fail;
	}
	if ((r = parse_graph(&c, root, "", &m->root)) < 0)
		goto fail;
	m->nstates = c.nstates;
	json_decref(c.all_names);
	json_decref(root);
	*ret = m;
	return 0;
fail:
	json_decref(c.all_names);
	json_decref(root);
	wf_machine_free(m);
	return r;
}
