/* SPDX-License-Identifier: MIT */
/*
 * ctl_glue_classifier: see ctl_glue_classifier.h. Member limits are Glue's API model
 * (Name 1..255, GrokPattern 1..2048, CustomPatterns up to 16000, Delimiter and QuoteSymbol one
 * character, MaxResults 1..1000 for GetClassifiers).
 */
#include "ctl_glue_classifier.h"

#include <errno.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cat_classifier.h"
#include "ctl_glue.h"
#include "ctl_log.h"

/* GetClassifiers: MaxResults 1..1000; a full page when absent. */
#define K_PAGE_MAX 1000
#define K_PAGE_DEFAULT 100
/* Glue's CreateClassifier member limits. */
#define K_NAME_MAX 255
#define K_GROK_MAX 2048
#define K_CUSTOM_MAX 16000

struct ctl_glue_classifier {
	struct ctl_meta *meta;
	char *cache_dir;               /* NULL: no cache (in-memory database) */
	struct cat_classifiers *set;   /* compiled at generation gen */
	int64_t gen;
};

static const char *const g_kinds[] = { "GrokClassifier", "XMLClassifier", "JsonClassifier",
				       "CsvClassifier" };

int ctl_glue_classifier_cache_dir(struct ctl_meta *meta, char **dir)
{
	/* The cache lives next to meta.db, in the data directory. */
	const char *file = sqlite3_db_filename(ctl_meta_db(meta), "main");
	*dir = NULL;
	if (!file || !*file)
		return 0;
	char *copy = strdup(file);
	if (!copy)
		return -ENOMEM;
	const char *parent = dirname(copy);
	size_t n = strlen(parent) + sizeof("/classifier-cache");
	*dir = malloc(n);
	if (*dir)
		snprintf(*dir, n, "%s/classifier-cache", parent);
	free(copy);
	return *dir ? 0 : -ENOMEM;
}

int ctl_glue_classifier_new(struct ctl_meta *meta, struct ctl_glue_classifier **ret)
{
	struct ctl_glue_classifier *k = calloc(1, sizeof(*k));
	int r = -ENOMEM;
	if (!k)
		goto fail;
	k->meta = meta;
	k->gen = -1;
	if ((r = ctl_meta_schema(meta, "classifier", CAT_CLASSIFIER_SCHEMA_VERSION,
				 cat_classifier_schema_steps)) < 0)
		goto fail_free;
	/* Created on first use, by ctl_glue_classifier_set. */
	if ((r = ctl_glue_classifier_cache_dir(meta, &k->cache_dir)) < 0)
		goto fail_free;
	*ret = k;
	return 0;
fail_free:
	free(k->cache_dir);
	free(k);
fail:
	ctl_log(CTL_LOG_ERR, "cannot open the classifiers: %s", strerror(-r));
	return r;
}

void ctl_glue_classifier_free(struct ctl_glue_classifier *k)
{
	if (!k)
		return;
	cat_classifiers_free(k->set);
	free(k->cache_dir);
	free(k);
}

int ctl_glue_classifier_set(struct ctl_glue_classifier *k, const struct cat_classifiers **ret)
{
	sqlite3 *db = ctl_meta_db(k->meta);
	int64_t gen = cat_classifier_generation(db);
	if (gen < 0)
		return ctl_meta_fail(k->meta, "reading the classifiers' generation");
	if (k->set && gen == k->gen) {
		*ret = k->set;
		return 0;
	}
	if (k->cache_dir && mkdir(k->cache_dir, 0700) < 0 && errno != EEXIST) {
		ctl_log(CTL_LOG_WARN, "classifiers: cannot create %s: %s; the pattern database "
			"will be compiled at every start", k->cache_dir, strerror(errno));
		free(k->cache_dir);
		k->cache_dir = NULL;
	}
	json_t *items;
	bool more;
	if (cat_classifier_list(db, NULL, 0, &items, &more) < 0)
		return ctl_meta_fail(k->meta, "listing the classifiers");
	size_t n = json_array_size(items);
	const json_t **defs = calloc(n ? n : 1, sizeof(*defs));
	struct cat_classifiers *set = NULL;
	char err[512];
	int r = -ENOMEM;
	if (defs) {
		for (size_t i = 0; i < n; i++)
			defs[i] = json_array_get(items, i);
		r = cat_classifiers_new(defs, (unsigned)n, k->cache_dir, &set, err, sizeof(err));
		if (r < 0)
			ctl_log(CTL_LOG_ERR, "classifiers: cannot build the stored set: %s; fix or "
				"delete the classifier named", err);
	}
	free(defs);
	json_decref(items);
	if (r < 0)
		return r;
	cat_classifiers_free(k->set);
	k->set = set;
	k->gen = gen;
	*ret = set;
	return 0;
}

/* ---- requests ------------------------------------------------------------------------------- */

static struct ctl_glue_classifier *state(void *svc)
{
	return ctl_glue_classifiers(svc);
}

static int strings_arg(struct ctl_aws_call *c, json_t *obj, const char *field, size_t max_len)
{
	json_t *a, *v;
	size_t i;
	int r = ctl_aws_array(c, obj, field, 0, 10000, false, &a);
	if (r <= 0)
		return r;
	json_array_foreach(a, i, v) {
		if (!json_is_string(v)) {
			ctl_aws_err(c, 400, "SerializationException", "Unexpected value type in '%s': "
				    "expected a string", field);
			return -1;
		}
		size_t n = strlen(json_string_value(v));
		if (n < 1 || n > max_len) {
			ctl_aws_err(c, 400, "InvalidInputException", "Each entry of %s must be 1 to %zu "
				    "bytes.", field, max_len);
			return -1;
		}
	}
	return 1;
}

/* The members one kind of classifier has; create: the required ones must be there. */
static int kind_members(struct ctl_aws_call *c, const char *kind, json_t *b, bool create)
{
	const char *s;
	bool v;
	if (ctl_aws_str(c, b, "Name", 1, K_NAME_MAX, true, &s) < 0)
		return -1;
	if (strcmp(kind, "GrokClassifier") == 0)
		return ctl_aws_str(c, b, "Classification", 1, K_NAME_MAX, create, &s) < 0 ||
		       ctl_aws_str(c, b, "GrokPattern", 1, K_GROK_MAX, create, &s) < 0 ||
		       ctl_aws_str(c, b, "CustomPatterns", 0, K_CUSTOM_MAX, false, &s) < 0 ? -1 : 0;
	if (strcmp(kind, "XMLClassifier") == 0)
		return ctl_aws_str(c, b, "Classification", 1, K_NAME_MAX, create, &s) < 0 ||
		       ctl_aws_str(c, b, "RowTag", 0, K_NAME_MAX, false, &s) < 0 ? -1 : 0;
	if (strcmp(kind, "JsonClassifier") == 0)
		return ctl_aws_str(c, b, "JsonPath", 1, CAT_CLASSIFY_JSONPATH_MAX, create, &s) < 0
			       ? -1 : 0;
	/* CsvClassifier */
	if (ctl_aws_str(c, b, "Delimiter", 1, 1, false, &s) < 0 ||
	    ctl_aws_str(c, b, "QuoteSymbol", 1, 1, false, &s) < 0 ||
	    ctl_aws_str(c, b, "ContainsHeader", 1, 16, false, &s) < 0 ||
	    ctl_aws_bool(c, b, "DisableValueTrimming", false, &v) < 0 ||
	    ctl_aws_bool(c, b, "AllowSingleColumn", false, &v) < 0 ||
	    ctl_aws_bool(c, b, "CustomDatatypeConfigured", false, &v) < 0 ||
	    strings_arg(c, b, "Header", K_NAME_MAX) < 0 ||
	    strings_arg(c, b, "CustomDatatypes", 16) < 0 ||
	    ctl_aws_str(c, b, "Serde", 1, 32, false, &s) < 0)
		return -1;
	if ((s = json_string_value(json_object_get(b, "Serde"))) &&
	    strcmp(s, "OpenCSVSerDe") != 0 && strcmp(s, "LazySimpleSerDe") != 0 &&
	    strcmp(s, "None") != 0) {
		ctl_aws_validation(c, s, "csvClassifier.serde", "Member must satisfy enum value set: "
				   "[OpenCSVSerDe, LazySimpleSerDe, None]");
		return -1;
	}
	if ((s = json_string_value(json_object_get(b, "ContainsHeader"))) &&
	    strcmp(s, "UNKNOWN") != 0 && strcmp(s, "PRESENT") != 0 && strcmp(s, "ABSENT") != 0) {
		ctl_aws_validation(c, s, "csvClassifier.containsHeader", "Member must satisfy enum "
				   "value set: [UNKNOWN, PRESENT, ABSENT]");
		return -1;
	}
	return 0;
}

/* The request's one classifier: {kind: body} as a new object, or NULL after answering. */
static json_t *def_arg(struct ctl_aws_call *c, bool create, const char **kind_out)
{
	const char *kind = NULL;
	json_t *body = NULL;
	int n = 0;
	for (size_t i = 0; i < sizeof(g_kinds) / sizeof(g_kinds[0]); i++) {
		json_t *b;
		int r = ctl_aws_object(c, NULL, g_kinds[i], false, &b);
		if (r < 0)
			return NULL;
		if (r > 0) {
			kind = g_kinds[i];
			body = b;
			n++;
		}
	}
	if (n != 1) {
		ctl_aws_err(c, 400, "InvalidInputException", "Exactly one of GrokClassifier, "
			    "XMLClassifier, JsonClassifier or CsvClassifier must be given.");
		return NULL;
	}
	if (kind_members(c, kind, body, create) < 0)
		return NULL;
	/* Server members are the server's: a client cannot set them. */
	json_t *copy = json_deep_copy(body);
	json_object_del(copy, "CreationTime");
	json_object_del(copy, "LastUpdated");
	json_object_del(copy, "Version");
	*kind_out = kind;
	return json_pack("{s:o}", kind, copy);
}

static void internal(struct ctl_glue_classifier *k, struct ctl_aws_call *c, int r, const char *name)
{
	ctl_log(CTL_LOG_ERR, "%s %s: %s: %s; check the data directory's disk and meta.db",
		ctl_aws_op_name(c), name, cat_err_name(r), sqlite3_errmsg(ctl_meta_db(k->meta)));
	ctl_aws_err(c, 500, "InternalServiceException", "%s failed: %s (see the daemon's log)",
		    ctl_aws_op_name(c), cat_err_name(r));
}

/* Answer r when a classifier operation failed (r < 0): EntityNotFoundException or an internal
 * error. Returns r. */
static int classifier_failed(struct ctl_glue_classifier *k, struct ctl_aws_call *c, int r,
			     const char *name)
{
	if (r == -CAT_ERR_NOT_FOUND)
		ctl_aws_err(c, 400, "EntityNotFoundException", "Classifier %s not found.", name);
	else if (r < 0)
		internal(k, c, r, name);
	return r;
}

/* Looking up a name that no classifier can have finds nothing. */
static int classifier_get(struct ctl_glue_classifier *k, const char *name, json_t **doc)
{
	int r = cat_classifier_get(ctl_meta_db(k->meta), name, doc);
	return r == -CAT_ERR_INVALID ? -CAT_ERR_NOT_FOUND : r;
}

static const char *def_name(const json_t *def, const char *kind)
{
	return json_string_value(json_object_get(json_object_get(def, kind), "Name"));
}

static void op_create(void *svc, struct ctl_aws_call *c)
{
	struct ctl_glue_classifier *k = state(svc);
	const char *kind;
	char err[512];
	json_t *def = def_arg(c, true, &kind);
	if (!def)
		return;
	const char *name = def_name(def, kind);
	int r = cat_classifier_def_check(def, err, sizeof(err));
	if (r < 0) {
		ctl_aws_err(c, 400, "InvalidInputException", "%s %s: %s", kind, name, err);
		goto out;
	}
	r = cat_classifier_create(ctl_meta_db(k->meta), def, ctl_aws_now_ms(c) / 1000);
	if (r == -CAT_ERR_EXISTS)
		ctl_aws_err(c, 400, "AlreadyExistsException", "Classifier %s already exists.", name);
	else if (r == -CAT_ERR_INVALID)
		ctl_aws_err(c, 400, "InvalidInputException", "Classifier name %s must be 1 to %d "
			    "bytes of one line of text.", name, K_NAME_MAX);
	else if (r < 0)
		internal(k, c, r, name);
	else
		ctl_aws_ok(c, NULL);
out:
	json_decref(def);
}

static void op_get(void *svc, struct ctl_aws_call *c)
{
	struct ctl_glue_classifier *k = state(svc);
	const char *name;
	json_t *doc;
	if (ctl_aws_str(c, NULL, "Name", 1, K_NAME_MAX, true, &name) < 0)
		return;
	if (classifier_failed(k, c, classifier_get(k, name, &doc), name) >= 0)
		ctl_aws_ok(c, json_pack("{s:o}", "Classifier", doc));
}

static void op_list(void *svc, struct ctl_aws_call *c)
{
	struct ctl_glue_classifier *k = state(svc);
	int64_t max = K_PAGE_DEFAULT;
	const char *token = NULL;
	json_t *items;
	bool more;
	if (ctl_aws_int(c, NULL, "MaxResults", 1, K_PAGE_MAX, false, &max) < 0 ||
	    ctl_aws_str(c, NULL, "NextToken", 1, 1024, false, &token) < 0)
		return;
	int r = cat_classifier_list(ctl_meta_db(k->meta), token, (unsigned)max, &items, &more);
	if (r < 0) {
		internal(k, c, r, "GetClassifiers");
		return;
	}
	json_t *out = json_pack("{s:o}", "Classifiers", items);
	size_t n = json_array_size(items);
	if (out && more && n) {
		/* The token is the last name returned: the listing resumes after it. */
		const char *kind = cat_classifier_kind(json_array_get(items, n - 1), NULL);
		json_object_set_new(out, "NextToken",
				    json_string(def_name(json_array_get(items, n - 1), kind)));
	}
	ctl_aws_ok(c, out);
}

static void op_update(void *svc, struct ctl_aws_call *c)
{
	struct ctl_glue_classifier *k = state(svc);
	sqlite3 *db = ctl_meta_db(k->meta);
	const char *kind;
	char err[512];
	json_t *old = NULL, *merged = NULL;
	json_t *def = def_arg(c, false, &kind);
	if (!def)
		return;
	const char *name = def_name(def, kind);
	int r = classifier_get(k, name, &old);
	if (classifier_failed(k, c, r, name) < 0)
		goto out;
	json_t *old_body = json_object_get(old, kind);
	if (!old_body) {
		ctl_aws_err(c, 400, "InvalidInputException", "Classifier %s is a %s, not a %s.", name,
			    cat_classifier_kind(old, NULL), kind);
		goto out;
	}
	/* Check the definition as it will be: the stored members with the new ones over them. */
	merged = json_pack("{s:O}", kind, old_body);
	json_object_update(json_object_get(merged, kind), json_object_get(def, kind));
	if ((r = cat_classifier_def_check(merged, err, sizeof(err))) < 0) {
		ctl_aws_err(c, 400, "InvalidInputException", "%s %s: %s", kind, name, err);
		goto out;
	}
	r = cat_classifier_update(db, def, ctl_aws_now_ms(c) / 1000, NULL);
	if (classifier_failed(k, c, r, name) >= 0)
		ctl_aws_ok(c, NULL);
out:
	json_decref(merged);
	json_decref(old);
	json_decref(def);
}

static void op_delete(void *svc, struct ctl_aws_call *c)
{
	struct ctl_glue_classifier *k = state(svc);
	const char *name;
	if (ctl_aws_str(c, NULL, "Name", 1, K_NAME_MAX, true, &name) < 0)
		return;
	if (classifier_failed(k, c, cat_classifier_delete(ctl_meta_db(k->meta), name), name) >= 0)
		ctl_aws_ok(c, NULL);
}

static const struct ctl_aws_op g_ops[] = {
	{ "CreateClassifier", op_create, NULL },
	{ "GetClassifier", op_get, NULL },
	{ "GetClassifiers", op_list, NULL },
	{ "UpdateClassifier", op_update, NULL },
	{ "DeleteClassifier", op_delete, NULL },
};

const struct ctl_aws_op *ctl_glue_classifier_ops(unsigned *n)
{
	*n = sizeof(g_ops) / sizeof(g_ops[0]);
	return g_ops;
}
