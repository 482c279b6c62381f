/* SPDX-License-Identifier: MIT */
/*
 * ctl_glue: see ctl_glue.h. Each handler validates the members Glue's model constrains (types
 * and lengths, answered by the ctl_aws getters), calls one cat_ action, and maps its result.
 * Definitions are stored as sent, so members this front-end does not check are kept and returned
 * as the caller wrote them.
 */
#include "ctl_glue.h"

#include <errno.h>
#include <regex.h>
#include <stdlib.h>
#include <string.h>

#include "cat_store.h"
#include "ctl_glue_classifier.h"
#include "ctl_log.h"

/* Glue's page sizes: MaxResults 1..100, and a full page when it is absent. */
#define G_PAGE_MAX 100
/* Most repetition operators in a GetTables Expression: enough for any name filter, and a
 * bound on what compiling it may allocate (a fuzzer found 1 GB for a run of '*'). */
#define G_EXPR_QUANT 8
/* Longest Expression compiled: longer than any name it could match (255 bytes) is refused. */
#define G_EXPR_REGEX_MAX 512
/* Expression limit (Glue: 2048 bytes). */
#define G_EXPR_MAX 2048

struct ctl_glue {
	struct ctl_meta *meta;
	struct cat_store *store;
	struct ctl_glue_classifier *cls;
	struct ctl_aws_op *ops;  /* this file's and the classifier operations, registered */
};

struct ctl_glue_classifier *ctl_glue_classifiers(void *glue_svc)
{
	return ((struct ctl_glue *)glue_svc)->cls;
}

int ctl_glue_new(struct ctl_meta *meta, struct ctl_glue **ret)
{
	struct ctl_glue *g = calloc(1, sizeof(*g));
	int r = -ENOMEM;
	if (!g)
		goto fail;
	g->meta = meta;
	if ((r = ctl_meta_schema(meta, "catalog", CAT_STORE_SCHEMA_VERSION,
				 cat_store_schema_steps)) < 0)
		goto fail_free;
	if ((r = cat_store_new(ctl_meta_db(meta), &g->store)) < 0)
		goto fail_free;
	if ((r = ctl_glue_classifier_new(meta, &g->cls)) < 0) {
		cat_store_free(g->store);
		goto fail_free;
	}
	*ret = g;
	return 0;
fail_free:
	free(g);
fail:
	ctl_log(CTL_LOG_ERR, "cannot open the data catalog: %s", strerror(-r));
	return r;
}

void ctl_glue_free(struct ctl_glue *g)
{
	if (!g)
		return;
	cat_store_free(g->store);
	ctl_glue_classifier_free(g->cls);
	free(g->ops);
	free(g);
}

/* ---- validation ---------------------------------------------------------------------------------- */

/* A map of string to string (Parameters): keys 1..255, values up to 512000 bytes. */
static int params_arg(struct ctl_aws_call *c, json_t *obj)
{
	json_t *p;
	int r = ctl_aws_object(c, obj, "Parameters", false, &p);
	if (r <= 0)
		return r;
	const char *k;
	json_t *v;
	json_object_foreach(p, k, v) {
		const char *s;
		size_t kl = strlen(k);
		if (kl < 1 || kl > 255) {
			ctl_aws_validation(c, k, "parameters", "Member must have length between 1 "
					   "and 255");
			return -1;
		}
		if (ctl_aws_str(c, p, k, 0, 512000, false, &s) < 0)
			return -1;
	}
	return 1;
}

/* A list of Column {Name, Type, Comment, Parameters}. */
static int columns_arg(struct ctl_aws_call *c, json_t *obj, const char *field)
{
	json_t *cols, *col;
	size_t i;
	int r = ctl_aws_array(c, obj, field, 0, 100000, false, &cols);
	if (r <= 0)
		return r;
	json_array_foreach(cols, i, col) {
		const char *s;
		if (!json_is_object(col)) {
			ctl_aws_err(c, 400, "SerializationException", "Unexpected value type in "
				    "'%s': expected a Column structure", field);
			return -1;
		}
		if (ctl_aws_str(c, col, "Name", 1, CAT_NAME_MAX, true, &s) < 0 ||
		    ctl_aws_str(c, col, "Type", 0, 131072, false, &s) < 0 ||
		    ctl_aws_str(c, col, "Comment", 0, 255, false, &s) < 0 ||
		    params_arg(c, col) < 0)
			return -1;
	}
	return 1;
}

static int sd_arg(struct ctl_aws_call *c, json_t *obj)
{
	json_t *sd, *serde, *a;
	const char *s;
	int64_t n;
	bool b;
	int r = ctl_aws_object(c, obj, "StorageDescriptor", false, &sd);
	if (r <= 0)
		return r;
	if (columns_arg(c, sd, "Columns") < 0 ||
	    ctl_aws_str(c, sd, "Location", 0, 2056, false, &s) < 0 ||
	    ctl_aws_str(c, sd, "InputFormat", 0, 128, false, &s) < 0 ||
	    ctl_aws_str(c, sd, "OutputFormat", 0, 128, false, &s) < 0 ||
	    ctl_aws_bool(c, sd, "Compressed", false, &b) < 0 ||
	    ctl_aws_int(c, sd, "NumberOfBuckets", INT32_MIN, INT32_MAX, false, &n) < 0 ||
	    ctl_aws_array(c, sd, "BucketColumns", 0, 100000, false, &a) < 0 ||
	    ctl_aws_array(c, sd, "SortColumns", 0, 100000, false, &a) < 0 ||
	    ctl_aws_bool(c, sd, "StoredAsSubDirectories", false, &b) < 0 ||
	    params_arg(c, sd) < 0 ||
	    (r = ctl_aws_object(c, sd, "SerdeInfo", false, &serde)) < 0)
		return -1;
	if (r > 0 && (ctl_aws_str(c, serde, "Name", 1, 255, false, &s) < 0 ||
		      ctl_aws_str(c, serde, "SerializationLibrary", 1, 255, false, &s) < 0 ||
		      params_arg(c, serde) < 0))
		return -1;
	return 1;
}

/* DatabaseInput: returns the object, or NULL after answering. */
static json_t *db_input_arg(struct ctl_aws_call *c)
{
	json_t *in;
	const char *s;
	if (ctl_aws_object(c, NULL, "DatabaseInput", true, &in) < 0 ||
	    ctl_aws_str(c, in, "Name", 1, CAT_NAME_MAX, true, &s) < 0 ||
	    ctl_aws_str(c, in, "Description", 0, 2048, false, &s) < 0 ||
	    ctl_aws_str(c, in, "LocationUri", 1, 1024, false, &s) < 0 ||
	    params_arg(c, in) < 0)
		return NULL;
	return in;
}

static json_t *table_input_arg(struct ctl_aws_call *c)
{
	json_t *in;
	const char *s;
	int64_t n;
	if (ctl_aws_object(c, NULL, "TableInput", true, &in) < 0 ||
	    ctl_aws_str(c, in, "Name", 1, CAT_NAME_MAX, true, &s) < 0 ||
	    ctl_aws_str(c, in, "Description", 0, 2048, false, &s) < 0 ||
	    ctl_aws_str(c, in, "Owner", 1, 255, false, &s) < 0 ||
	    ctl_aws_int(c, in, "Retention", 0, INT32_MAX, false, &n) < 0 ||
	    sd_arg(c, in) < 0 || columns_arg(c, in, "PartitionKeys") < 0 ||
	    ctl_aws_str(c, in, "ViewOriginalText", 0, 409600, false, &s) < 0 ||
	    ctl_aws_str(c, in, "ViewExpandedText", 0, 409600, false, &s) < 0 ||
	    ctl_aws_str(c, in, "TableType", 0, 255, false, &s) < 0 ||
	    params_arg(c, in) < 0)
		return NULL;
	return in;
}

/* CatalogId is accepted (this catalog is the caller's account's) and checked for type only. */
static int catalog_arg(struct ctl_aws_call *c)
{
	const char *s;
	return ctl_aws_str(c, NULL, "CatalogId", 1, 255, false, &s);
}

/* ---- answers ------------------------------------------------------------------------------------- */

/* Map a cat_ error that is not NOT_FOUND/EXISTS (those carry per-operation messages). */
static void answer_err(struct ctl_glue *g, struct ctl_aws_call *c, int r, const char *what)
{
	switch (-r) {
	case CAT_ERR_INVALID:
		ctl_aws_err(c, 400, "InvalidInputException", "%s: a name must be 1 to %d bytes of "
			    "one line of text.", what, CAT_NAME_MAX);
		break;
	case CAT_ERR_CONFLICT:
		ctl_aws_err(c, 400, "ConcurrentModificationException",
			    "Update table failed due to concurrent modifications.");
		break;
	default:
		ctl_log(CTL_LOG_ERR, "%s %s: %s: %s; check the data directory's disk and meta.db",
			ctl_aws_op_name(c), what, cat_err_name(r), sqlite3_errmsg(ctl_meta_db(g->meta)));
		ctl_aws_err(c, 500, "InternalServiceException", "%s failed: %s (see the daemon's "
			    "log)", what, cat_err_name(r));
		break;
	}
}

/* The table ops' NOT_FOUND: the database's or the table's. */
static void table_not_found(struct ctl_glue *g, struct ctl_aws_call *c, const char *db,
			    const char *name)
{
	json_t *d = NULL;
	if (cat_db_get(g->store, db, &d) == -CAT_ERR_NOT_FOUND)
		ctl_aws_err(c, 400, "EntityNotFoundException", "Database %s not found.", db);
	else
		ctl_aws_err(c, 400, "EntityNotFoundException", "Table %s not found.", name);
	json_decref(d);
}

static void add_catalog(struct ctl_aws_call *c, json_t *obj)
{
	json_object_set_new(obj, "CatalogId", json_string(ctl_aws_account(c)));
}

/* ---- databases ----------------------------------------------------------------------------------- */

static void op_create_database(void *svc, struct ctl_aws_call *c)
{
	struct ctl_glue *g = svc;
	json_t *in;
	if (catalog_arg(c) < 0 || !(in = db_input_arg(c)))
		return;
	int r = cat_db_create(g->store, in, ctl_aws_now_ms(c) / 1000);
	if (r == -CAT_ERR_EXISTS)
		ctl_aws_err(c, 400, "AlreadyExistsException", "Database already exists.");
	else if (r < 0)
		answer_err(g, c, r, "CreateDatabase");
	else
		ctl_aws_ok(c, NULL);
}

static void op_get_database(void *svc, struct ctl_aws_call *c)
{
	struct ctl_glue *g = svc;
	const char *name;
	json_t *db;
	if (catalog_arg(c) < 0 || ctl_aws_str(c, NULL, "Name", 1, CAT_NAME_MAX, true, &name) < 0)
		return;
	int r = cat_db_get(g->store, name, &db);
	if (r == -CAT_ERR_NOT_FOUND) {
		ctl_aws_err(c, 400, "EntityNotFoundException", "Database %s not found.", name);
		return;
	}
	if (r < 0) {
		answer_err(g, c, r, name);
		return;
	}
	add_catalog(c, db);
	ctl_aws_ok(c, json_pack("{s:o}", "Database", db));
}

/* MaxResults and NextToken: 0, or -1 after answering. */
static int page_args(struct ctl_aws_call *c, unsigned *max, const char **token)
{
	int64_t m = G_PAGE_MAX;
	*token = NULL;
	if (ctl_aws_int(c, NULL, "MaxResults", 1, G_PAGE_MAX, false, &m) < 0 ||
	    ctl_aws_str(c, NULL, "NextToken", 1, 1024, false, token) < 0)
		return -1;
	*max = (unsigned)m;
	return 0;
}

/* The answer of a listing: {list_name: items, NextToken?}; items gain CatalogId. */
static void answer_page(struct ctl_aws_call *c, const char *list_name, json_t *items, bool more)
{
	json_t *it;
	size_t i;
	json_array_foreach(items, i, it)
		add_catalog(c, it);
	json_t *out = json_pack("{s:o}", list_name, items);
	size_t n = json_array_size(items);
	if (out && more && n > 0) {
		/* The token is the last name returned: the listing resumes after it. */
		json_t *last = json_object_get(json_array_get(items, n - 1), "Name");
		json_object_set_new(out, "NextToken", json_copy(last));
	}
	ctl_aws_ok(c, out);
}

static void op_get_databases(void *svc, struct ctl_aws_call *c)
{
	struct ctl_glue *g = svc;
	unsigned max;
	const char *token, *share;
	json_t *items;
	bool more;
	if (catalog_arg(c) < 0 || page_args(c, &max, &token) < 0 ||
	    ctl_aws_str(c, NULL, "ResourceShareType", 1, 16, false, &share) < 0)
		return;
	int r = cat_db_list(g->store, token, max, &items, &more);
	if (r < 0) {
		answer_err(g, c, r, "GetDatabases");
		return;
	}
	answer_page(c, "DatabaseList", items, more);
}

static void op_update_database(void *svc, struct ctl_aws_call *c)
{
	struct ctl_glue *g = svc;
	const char *name;
	json_t *in;
	if (catalog_arg(c) < 0 || ctl_aws_str(c, NULL, "Name", 1, CAT_NAME_MAX, true, &name) < 0 ||
	    !(in = db_input_arg(c)))
		return;
	int r = cat_db_update(g->store, name, in);
	if (r == -CAT_ERR_NOT_FOUND)
		ctl_aws_err(c, 400, "EntityNotFoundException", "Database %s not found.", name);
	else if (r == -CAT_ERR_EXISTS)
		ctl_aws_err(c, 400, "AlreadyExistsException", "Database already exists.");
	else if (r < 0)
		answer_err(g, c, r, name);
	else
		ctl_aws_ok(c, NULL);
}

static void op_delete_database(void *svc, struct ctl_aws_call *c)
{
	struct ctl_glue *g = svc;
	const char *name;
	if (catalog_arg(c) < 0 || ctl_aws_str(c, NULL, "Name", 1, CAT_NAME_MAX, true, &name) < 0)
		return;
	int r = cat_db_delete(g->store, name);
	if (r == -CAT_ERR_NOT_FOUND)
		ctl_aws_err(c, 400, "EntityNotFoundException", "Database %s not found.", name);
	else if (r < 0)
		answer_err(g, c, r, name);
	else
		ctl_aws_ok(c, NULL);
}

/* ---- tables -------------------------------------------------------------------------------------- */

static int db_name_arg(struct ctl_aws_call *c, const char **db)
{
	if (catalog_arg(c) < 0 || ctl_aws_str(c, NULL, "DatabaseName", 1, CAT_NAME_MAX, true, db) < 0)
		return -1;
	return 0;
}

static void op_create_table(void *svc, struct ctl_aws_call *c)
{
	struct ctl_glue *g = svc;
	const char *db;
	json_t *in, *idx;
	if (db_name_arg(c, &db) < 0 || !(in = table_input_arg(c)) ||
	    ctl_aws_array(c, NULL, "PartitionIndexes", 0, 3, false, &idx) < 0)
		return;
	int r = cat_table_create(g->store, db, in, ctl_aws_now_ms(c) / 1000);
	if (r == -CAT_ERR_EXISTS)
		ctl_aws_err(c, 400, "AlreadyExistsException", "Table already exists.");
	else if (r == -CAT_ERR_NOT_FOUND)
		ctl_aws_err(c, 400, "EntityNotFoundException", "Database %s not found.", db);
	else if (r < 0)
		answer_err(g, c, r, "CreateTable");
	else
		ctl_aws_ok(c, NULL);
}

static void op_get_table(void *svc, struct ctl_aws_call *c)
{
	struct ctl_glue *g = svc;
	const char *db, *name;
	json_t *t;
	if (db_name_arg(c, &db) < 0 || ctl_aws_str(c, NULL, "Name", 1, CAT_NAME_MAX, true, &name) < 0)
		return;
	int r = cat_table_get(g->store, db, name, &t);
	if (r == -CAT_ERR_NOT_FOUND) {
		table_not_found(g, c, db, name);
		return;
	}
	if (r < 0) {
		answer_err(g, c, r, name);
		return;
	}
	add_catalog(c, t);
	ctl_aws_ok(c, json_pack("{s:o}", "Table", t));
}

static bool expr_match(void *arg, const char *name)
{
	return regexec(arg, name, 0, NULL, 0) == 0;
}

/*
 * Compile GetTables' Expression: a regular expression on the whole name, where a '*' that does
 * not follow '.' means any run of characters, as the CLI's users write "sales*".
 * Returns 0, or -1 when it does not compile.
 */
static int expr_compile(const char *expr, regex_t *re)
{
	size_t n = strlen(expr);
	if (n > G_EXPR_REGEX_MAX)
		return -1;
	char *pat = malloc(2 * n + 8);
	if (!pat)
		return -1;
	char *p = pat;
	*p++ = '^';
	*p++ = '(';
	unsigned quantifiers = 0;
	for (size_t i = 0; i < n; i++) {
		/* A run of '*' means what one does; each repetition costs the regex engine memory
		 * that grows with their number, so a pattern may hold at most G_EXPR_QUANT of them. */
		if (expr[i] == '*' && i > 0 && expr[i - 1] == '*')
			continue;
		/* Counted repetition ("{n}") copies the pattern n times when compiled: refused. */
		if (expr[i] == '{' || (strchr("*+?", expr[i]) && ++quantifiers > G_EXPR_QUANT)) {
			free(pat);
			return -1;
		}
		if (expr[i] == '*' && (i == 0 || expr[i - 1] != '.'))
			*p++ = '.';
		*p++ = expr[i];
	}
	*p++ = ')';
	*p++ = '$';
	*p = '\0';
	int r = regcomp(re, pat, REG_EXTENDED | REG_NOSUB | REG_ICASE);
	free(pat);
	return r == 0 ? 0 : -1;
}

static void op_get_tables(void *svc, struct ctl_aws_call *c)
{
	struct ctl_glue *g = svc;
	const char *db, *token, *expr = NULL;
	unsigned max;
	json_t *items;
	bool more, have_re = false;
	regex_t re;
	if (db_name_arg(c, &db) < 0 || page_args(c, &max, &token) < 0 ||
	    ctl_aws_str(c, NULL, "Expression", 0, G_EXPR_MAX, false, &expr) < 0)
		return;
	if (expr && *expr) {
		if (expr_compile(expr, &re) < 0) {
			ctl_aws_err(c, 400, "InvalidInputException", "Expression %s is not a valid "
				    "regular expression.", expr);
			return;
		}
		have_re = true;
	}
	int r = cat_table_list(g->store, db, token, max, have_re ? expr_match : NULL,
			       have_re ? &re : NULL, &items, &more);
	if (have_re)
		regfree(&re);
	if (r == -CAT_ERR_NOT_FOUND)
		ctl_aws_err(c, 400, "EntityNotFoundException", "Database %s not found.", db);
	else if (r < 0)
		answer_err(g, c, r, db);
	else
		answer_page(c, "TableList", items, more);
}

static void op_update_table(void *svc, struct ctl_aws_call *c)
{
	struct ctl_glue *g = svc;
	const char *db, *vid = NULL;
	json_t *in;
	bool skip;
	int64_t version = -1;
	if (db_name_arg(c, &db) < 0 || !(in = table_input_arg(c)) ||
	    ctl_aws_bool(c, NULL, "SkipArchive", false, &skip) < 0 ||
	    ctl_aws_str(c, NULL, "VersionId", 1, 255, false, &vid) < 0)
		return;
	if (vid) {
		char *end;
		errno = 0;
		long long v = strtoll(vid, &end, 10);
		if (errno || *end || end == vid || v < 0) {
			ctl_aws_err(c, 400, "InvalidInputException", "VersionId %s is not a table "
				    "version.", vid);
			return;
		}
		version = v;
	}
	const char *name = json_string_value(json_object_get(in, "Name"));
	int r = cat_table_update(g->store, db, in, version, ctl_aws_now_ms(c) / 1000);
	if (r == -CAT_ERR_NOT_FOUND)
		table_not_found(g, c, db, name);
	else if (r < 0)
		answer_err(g, c, r, name);
	else
		ctl_aws_ok(c, NULL);
}

static void op_delete_table(void *svc, struct ctl_aws_call *c)
{
	struct ctl_glue *g = svc;
	const char *db, *name;
	if (db_name_arg(c, &db) < 0 || ctl_aws_str(c, NULL, "Name", 1, CAT_NAME_MAX, true, &name) < 0)
		return;
	int r = cat_table_delete(g->store, db, name);
	if (r == -CAT_ERR_NOT_FOUND)
		table_not_found(g, c, db, name);
	else if (r < 0)
		answer_err(g, c, r, name);
	else
		ctl_aws_ok(c, NULL);
}

static const struct ctl_aws_op g_ops[] = {
	{ "CreateDatabase", op_create_database, NULL },
	{ "GetDatabase", op_get_database, NULL },
	{ "GetDatabases", op_get_databases, NULL },
	{ "UpdateDatabase", op_update_database, NULL },
	{ "DeleteDatabase", op_delete_database, NULL },
	{ "CreateTable", op_create_table, NULL },
	{ "GetTable", op_get_table, NULL },
	{ "GetTables", op_get_tables, NULL },
	{ "UpdateTable", op_update_table, NULL },
	{ "DeleteTable", op_delete_table, NULL },
};

int ctl_glue_register(struct ctl_glue *g, struct ctl_aws *aws)
{
	unsigned n = sizeof(g_ops) / sizeof(g_ops[0]), nk;
	const struct ctl_aws_op *k = ctl_glue_classifier_ops(&nk);
	if (!g->ops && !(g->ops = calloc(n + nk, sizeof(*g->ops))))
		return -ENOMEM;
	memcpy(g->ops, g_ops, sizeof(g_ops));
	memcpy(g->ops + n, k, nk * sizeof(*k));
	struct ctl_aws_service s = {
		.target_prefix = "AWSGlue",
		.ops = g->ops,
		.n_ops = n + nk,
		.svc = g,
		.cbor = NULL,
	};
	return ctl_aws_register(aws, &s);
}
