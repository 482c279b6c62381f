/* SPDX-License-Identifier: MIT */
/*
 * ctl_glue: see ctl_glue.h. Each handler validates the members Glue's model constrains (types
 * and lengths, answered by the ctl_aws getters), calls one cat_ action, and maps its result.
 * Definitions are stored as sent, so members this front-end does not check are kept and returned
 * as the caller wrote them.
 */
#include "ctl_glue.h"

#include <errno.h>
#include <inttypes.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cat_store.h"
#include "ctl_glue_classifier.h"
#include "ctl_glue_crawler.h"
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
/* Glue's request limits: GetPartitions' MaxResults and Segment.TotalSegments,
 * BatchCreatePartition's and BatchDeleteTableVersion's lists, BatchGetPartition's and
 * BatchDeletePartition's. */
#define G_PART_PAGE_MAX 1000
#define G_SEGMENTS_MAX 10
#define G_BATCH_PARTITIONS 100
#define G_BATCH_VERSIONS 100
#define G_BATCH_GET 1000
#define G_BATCH_DELETE 25
/* Most values in one partition's Values: more than any table's partition keys. */
#define G_VALUES_MAX 100

struct ctl_glue {
	struct ctl_meta *meta;
	struct cat_store *store;
	struct ctl_glue_classifier *cls;
	struct ctl_glue_crawler *crawlers;
	struct ctl_aws_op *ops;  /* this file's, the classifier and crawler operations */
};

struct ctl_glue_classifier *ctl_glue_classifiers(void *glue_svc)
{
	return ((struct ctl_glue *)glue_svc)->cls;
}

struct ctl_glue_crawler *ctl_glue_crawlers(void *glue_svc)
{
	return ((struct ctl_glue *)glue_svc)->crawlers;
}

int ctl_glue_attach(struct ctl_glue *g, struct ctl_loop *loop, const char *s3_root)
{
	return ctl_glue_crawler_attach(g->crawlers, loop, s3_root);
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
	if ((r = ctl_glue_crawler_new(meta, g->store, &g->crawlers)) < 0) {
		ctl_glue_classifier_free(g->cls);
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
	/* Runs first: they end before the store they write goes. */
	ctl_glue_crawler_free(g->crawlers);
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

/* Answer r when a table operation failed (r < 0): which of db and table is missing, or as
 * answer_err. Returns r. */
static int table_failed(struct ctl_glue *g, struct ctl_aws_call *c, int r, const char *db,
			const char *name)
{
	if (r == -CAT_ERR_NOT_FOUND)
		table_not_found(g, c, db, name);
	else if (r < 0)
		answer_err(g, c, r, name);
	return r;
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
	if (table_failed(g, c, r, db, name) < 0)
		return;
	add_catalog(c, t);
	ctl_aws_ok(c, json_pack("{s:o}", "Table", t));
}

/* A VersionId or a resume token: decimal digits only. 0 or -1. */
static int parse_version(const char *s, int64_t *out)
{
	char *end;
	if (s[0] < '0' || s[0] > '9')
		return -1;
	errno = 0;
	long long v = strtoll(s, &end, 10);
	if (errno || *end)
		return -1;
	*out = v;
	return 0;
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
		/* A repetition of a repetition (".*+++") is undefined in POSIX, and glibc compiles
		 * it in time exponential in the run (found by fuzz_glue): refused. */
		if (strchr("*+?", expr[i]) && p - pat > 2 && strchr("*+?", p[-1]) && p[-2] != '\\') {
			free(pat);
			return -1;
		}
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
	bool skip = false;
	int64_t version = -1;
	if (db_name_arg(c, &db) < 0 || !(in = table_input_arg(c)) ||
	    ctl_aws_bool(c, NULL, "SkipArchive", false, &skip) < 0 ||
	    ctl_aws_str(c, NULL, "VersionId", 1, 255, false, &vid) < 0)
		return;
	if (vid && parse_version(vid, &version) < 0) {
		ctl_aws_err(c, 400, "InvalidInputException", "VersionId %s is not a table version.",
			    vid);
		return;
	}
	const char *name = json_string_value(json_object_get(in, "Name"));
	int r = cat_table_update(g->store, db, in, version, !skip, ctl_aws_now_ms(c) / 1000);
	if (table_failed(g, c, r, db, name) >= 0)
		ctl_aws_ok(c, NULL);
}

static void op_delete_table(void *svc, struct ctl_aws_call *c)
{
	struct ctl_glue *g = svc;
	const char *db, *name;
	if (db_name_arg(c, &db) < 0 || ctl_aws_str(c, NULL, "Name", 1, CAT_NAME_MAX, true, &name) < 0)
		return;
	int r = cat_table_delete(g->store, db, name);
	if (table_failed(g, c, r, db, name) >= 0)
		ctl_aws_ok(c, NULL);
}

/* ---- table versions ------------------------------------------------------------------------------ */

/* A VersionId: a string holding a non-negative integer. 1 present, 0 absent, -1 answered. */
static int version_arg(struct ctl_aws_call *c, json_t *obj, const char *field, bool required,
		       int64_t *out)
{
	const char *vid;
	int r = ctl_aws_str(c, obj, field, 1, 255, required, &vid);
	if (r <= 0)
		return r;
	if (parse_version(vid, out) < 0) {
		ctl_aws_err(c, 400, "InvalidInputException", "VersionId %s is not a table version.",
			    vid);
		return -1;
	}
	return 1;
}

static void op_get_table_versions(void *svc, struct ctl_aws_call *c)
{
	struct ctl_glue *g = svc;
	const char *db, *name, *token;
	unsigned max;
	int64_t before = -1;
	json_t *items, *it;
	bool more;
	size_t i;
	if (db_name_arg(c, &db) < 0 ||
	    ctl_aws_str(c, NULL, "TableName", 1, CAT_NAME_MAX, true, &name) < 0 ||
	    page_args(c, &max, &token) < 0)
		return;
	if (token && parse_version(token, &before) < 0) {
		ctl_aws_err(c, 400, "InvalidInputException", "Invalid NextToken.");
		return;
	}
	int r = cat_table_version_list(g->store, db, name, before, max, &items, &more);
	if (table_failed(g, c, r, db, name) < 0)
		return;
	json_array_foreach(items, i, it)
		add_catalog(c, json_object_get(it, "Table"));
	json_t *out = json_pack("{s:o}", "TableVersions", items);
	if (out && more && r > 0)
		json_object_set(out, "NextToken",
				json_object_get(json_array_get(items, (size_t)r - 1), "VersionId"));
	ctl_aws_ok(c, out);
}

static void op_get_table_version(void *svc, struct ctl_aws_call *c)
{
	struct ctl_glue *g = svc;
	const char *db, *name;
	int64_t version = -1;
	json_t *t;
	if (db_name_arg(c, &db) < 0 ||
	    ctl_aws_str(c, NULL, "TableName", 1, CAT_NAME_MAX, true, &name) < 0 ||
	    version_arg(c, NULL, "VersionId", false, &version) < 0)
		return;
	int r = cat_table_version_get(g->store, db, name, version, &t);
	if (r == -CAT_ERR_NOT_FOUND) {
		json_t *cur = NULL;
		if (version >= 0 && cat_table_get(g->store, db, name, &cur) == 0)
			ctl_aws_err(c, 400, "EntityNotFoundException", "Version %" PRId64 " of table "
				    "%s not found.", version, name);
		else
			table_not_found(g, c, db, name);
		json_decref(cur);
		return;
	}
	if (r < 0) {
		answer_err(g, c, r, name);
		return;
	}
	add_catalog(c, t);
	json_t *vid = json_incref(json_object_get(t, "VersionId"));
	ctl_aws_ok(c, json_pack("{s:{s:o,s:o}}", "TableVersion", "Table", t, "VersionId",
				vid ? vid : json_string("0")));
}

/* Delete one version; on failure fills *code and msg (for the batch) and returns r. */
static int version_delete(struct ctl_glue *g, const char *db, const char *name, int64_t version,
			  const char **code, char *msg, size_t n)
{
	int r = cat_table_version_delete(g->store, db, name, version);
	json_t *cur = NULL;
	switch (-r) {
	case 0:
		break;
	case CAT_ERR_NOT_FOUND:
		*code = "EntityNotFoundException";
		if (cat_table_get(g->store, db, name, &cur) == 0)
			snprintf(msg, n, "Version %" PRId64 " of table %s not found.", version, name);
		else
			snprintf(msg, n, "Table %s not found.", name);
		json_decref(cur);
		break;
	case CAT_ERR_CURRENT:
		*code = "InvalidInputException";
		snprintf(msg, n, "Version %" PRId64 " is the current version of table %s; it cannot "
			 "be deleted.", version, name);
		break;
	default:
		*code = r == -CAT_ERR_INVALID ? "InvalidInputException" : "InternalServiceException";
		snprintf(msg, n, "Cannot delete version %" PRId64 " of table %s: %s.", version, name,
			 cat_err_name(r));
		break;
	}
	return r;
}

static void op_delete_table_version(void *svc, struct ctl_aws_call *c)
{
	struct ctl_glue *g = svc;
	const char *db, *name, *code = NULL;
	int64_t version;
	char msg[512];
	if (db_name_arg(c, &db) < 0 ||
	    ctl_aws_str(c, NULL, "TableName", 1, CAT_NAME_MAX, true, &name) < 0 ||
	    version_arg(c, NULL, "VersionId", true, &version) < 0)
		return;
	int r = version_delete(g, db, name, version, &code, msg, sizeof(msg));
	if (r == -CAT_ERR_NOT_FOUND) {
		json_t *d = NULL;
		/* The database's absence is named as GetTable names it. */
		if (cat_db_get(g->store, db, &d) == -CAT_ERR_NOT_FOUND)
			ctl_aws_err(c, 400, code, "Database %s not found.", db);
		else
			ctl_aws_err(c, 400, code, "%s", msg);
		json_decref(d);
	} else if (r == -CAT_ERR_CURRENT) {
		ctl_aws_err(c, 400, code, "%s", msg);
	} else if (r < 0) {
		answer_err(g, c, r, name);
	} else {
		ctl_aws_ok(c, NULL);
	}
}

static void op_batch_delete_table_version(void *svc, struct ctl_aws_call *c)
{
	struct ctl_glue *g = svc;
	const char *db, *name;
	json_t *ids, *id, *cur = NULL;
	size_t i;
	if (db_name_arg(c, &db) < 0 ||
	    ctl_aws_str(c, NULL, "TableName", 1, CAT_NAME_MAX, true, &name) < 0 ||
	    ctl_aws_array(c, NULL, "VersionIds", 1, G_BATCH_VERSIONS, true, &ids) < 0)
		return;
	json_array_foreach(ids, i, id)
		if (!json_is_string(id)) {
			ctl_aws_err(c, 400, "SerializationException", "Unexpected value type in "
				    "'VersionIds': expected a string");
			return;
		}
	/* A missing database or table fails the whole call, as the single delete does. */
	int r = cat_table_get(g->store, db, name, &cur);
	json_decref(cur);
	if (table_failed(g, c, r, db, name) < 0)
		return;
	json_t *errors = json_array();
	json_array_foreach(ids, i, id) {
		const char *vid = json_string_value(id), *code = "InvalidInputException";
		char msg[512];
		int64_t version;
		if (parse_version(vid, &version) < 0)
			snprintf(msg, sizeof(msg), "VersionId %.64s is not a table version.", vid);
		else if (version_delete(g, db, name, version, &code, msg, sizeof(msg)) == 0)
			continue;
		json_array_append_new(errors, json_pack("{s:s,s:s,s:{s:s,s:s}}", "TableName", name,
							"VersionId", vid, "ErrorDetail",
							"ErrorCode", code, "ErrorMessage", msg));
	}
	ctl_aws_ok(c, json_pack("{s:o}", "Errors", errors));
}

/* ---- partitions ---------------------------------------------------------------------------------- */

/* A list of partition values (strings of at most CAT_VALUE_MAX bytes): 1, 0 or -1 answered. */
static int values_arg(struct ctl_aws_call *c, json_t *obj, const char *field, bool required,
		      json_t **out)
{
	json_t *v;
	size_t i;
	int r = ctl_aws_array(c, obj, field, 0, G_VALUES_MAX, required, out);
	if (r <= 0)
		return r;
	json_array_foreach(*out, i, v) {
		if (!json_is_string(v)) {
			ctl_aws_err(c, 400, "SerializationException", "Unexpected value type in "
				    "'%s': expected a string", field);
			return -1;
		}
		if (json_string_length(v) > CAT_VALUE_MAX) {
			char m[64];
			ctl_aws_member_name(field, m, sizeof(m));
			ctl_aws_validation(c, json_string_value(v), m, "Member must have length "
					   "less than or equal to 1024");
			return -1;
		}
	}
	return 1;
}

/* A PartitionInput object (obj NULL: the member field of the call). NULL after answering. */
static json_t *partition_input(struct ctl_aws_call *c, json_t *in)
{
	json_t *vals;
	int64_t t;
	if (values_arg(c, in, "Values", false, &vals) < 0 || sd_arg(c, in) < 0 ||
	    params_arg(c, in) < 0 || ctl_aws_time(c, in, "LastAccessTime", false, &t) < 0 ||
	    ctl_aws_time(c, in, "LastAnalyzedTime", false, &t) < 0)
		return NULL;
	return in;
}

static json_t *partition_input_arg(struct ctl_aws_call *c)
{
	json_t *in;
	if (ctl_aws_object(c, NULL, "PartitionInput", true, &in) < 0)
		return NULL;
	return partition_input(c, in);
}

/* DatabaseName and TableName of a partition op: 0 or -1 answered. */
static int part_args(struct ctl_aws_call *c, const char **db, const char **table)
{
	if (db_name_arg(c, db) < 0 ||
	    ctl_aws_str(c, NULL, "TableName", 1, CAT_NAME_MAX, true, table) < 0)
		return -1;
	return 0;
}

/* The code and message of a partition op's failure r on values (for answers and Errors). */
static const char *part_failure(struct ctl_glue *g, int r, const char *db, const char *table,
				const json_t *values, char *msg, size_t n)
{
	json_t *t = NULL;
	const char *code = "InvalidInputException";
	switch (-r) {
	case CAT_ERR_NOT_FOUND:
		code = "EntityNotFoundException";
		if (cat_table_get(g->store, db, table, &t) == 0)
			snprintf(msg, n, "Cannot find partition.");
		else if (cat_db_get(g->store, db, &t) == -CAT_ERR_NOT_FOUND)
			snprintf(msg, n, "Database %s not found.", db);
		else
			snprintf(msg, n, "Table %s not found.", table);
		break;
	case CAT_ERR_EXISTS:
		code = "AlreadyExistsException";
		snprintf(msg, n, "Partition already exists.");
		break;
	case CAT_ERR_VALUES:
		if (cat_table_get(g->store, db, table, &t) == 0)
			snprintf(msg, n, "The number of partition values (%zu) does not match the "
				 "number of partition keys (%zu) of table %s.",
				 json_array_size(values),
				 json_array_size(json_object_get(t, "PartitionKeys")), table);
		else
			snprintf(msg, n, "The partition values do not match the partition keys.");
		break;
	case CAT_ERR_INVALID:
		snprintf(msg, n, "A name must be 1 to %d bytes of one line of text and a "
			 "partition's Values a list of strings.", CAT_NAME_MAX);
		break;
	default:
		code = "InternalServiceException";
		snprintf(msg, n, "The partition operation failed: %s (see the daemon's log).",
			 cat_err_name(r));
		break;
	}
	json_decref(t);
	return code;
}

/* Answer a partition op's result r. */
static void answer_part(struct ctl_glue *g, struct ctl_aws_call *c, int r, const char *db,
			const char *table, const json_t *values)
{
	char msg[512];
	if (r >= 0) {
		ctl_aws_ok(c, NULL);
		return;
	}
	if (r == -CAT_ERR_IO || r == -ENOMEM) {
		answer_err(g, c, r, table);
		return;
	}
	const char *code = part_failure(g, r, db, table, values, msg, sizeof(msg));
	ctl_aws_err(c, 400, code, "%s", msg);
}

static void op_create_partition(void *svc, struct ctl_aws_call *c)
{
	struct ctl_glue *g = svc;
	const char *db, *table;
	json_t *in;
	if (part_args(c, &db, &table) < 0 || !(in = partition_input_arg(c)))
		return;
	int r = cat_partition_create(g->store, db, table, in, ctl_aws_now_ms(c) / 1000);
	answer_part(g, c, r, db, table, json_object_get(in, "Values"));
}

static void op_batch_create_partition(void *svc, struct ctl_aws_call *c)
{
	struct ctl_glue *g = svc;
	const char *db, *table;
	json_t *list, *in;
	size_t i;
	int res[G_BATCH_PARTITIONS];
	if (part_args(c, &db, &table) < 0 ||
	    ctl_aws_array(c, NULL, "PartitionInputList", 0, G_BATCH_PARTITIONS, true, &list) < 0)
		return;
	json_array_foreach(list, i, in) {
		if (!json_is_object(in)) {
			ctl_aws_err(c, 400, "SerializationException", "Unexpected value type in "
				    "'PartitionInputList': expected a PartitionInput structure");
			return;
		}
		if (!partition_input(c, in))
			return;
	}
	int r = cat_partition_create_batch(g->store, db, table, list, ctl_aws_now_ms(c) / 1000,
					   res);
	if (r < 0) {
		answer_part(g, c, r, db, table, NULL);
		return;
	}
	json_t *errors = json_array();
	json_array_foreach(list, i, in) {
		char msg[512];
		if (res[i] >= 0)
			continue;
		json_t *vals = json_object_get(in, "Values");
		const char *code = part_failure(g, res[i], db, table, vals, msg, sizeof(msg));
		json_t *pv = vals ? json_incref(vals) : json_array();
		json_array_append_new(errors, json_pack("{s:o,s:{s:s,s:s}}", "PartitionValues", pv,
							"ErrorDetail", "ErrorCode", code,
							"ErrorMessage", msg));
	}
	ctl_aws_ok(c, json_pack("{s:o}", "Errors", errors));
}

/* A returned Partition: CatalogId added, column schema dropped on request. */
static void answer_partition_item(struct ctl_aws_call *c, json_t *p, bool exclude_columns)
{
	add_catalog(c, p);
	if (exclude_columns)
		json_object_del(json_object_get(p, "StorageDescriptor"), "Columns");
}

static void op_get_partition(void *svc, struct ctl_aws_call *c)
{
	struct ctl_glue *g = svc;
	const char *db, *table;
	json_t *vals, *p;
	if (part_args(c, &db, &table) < 0 || values_arg(c, NULL, "PartitionValues", true, &vals) < 0)
		return;
	int r = cat_partition_get(g->store, db, table, vals, &p);
	if (r < 0) {
		answer_part(g, c, r, db, table, vals);
		return;
	}
	answer_partition_item(c, p, false);
	ctl_aws_ok(c, json_pack("{s:o}", "Partition", p));
}

static void op_get_partitions(void *svc, struct ctl_aws_call *c)
{
	struct ctl_glue *g = svc;
	const char *db, *table, *expr = NULL, *token = NULL;
	int64_t max = G_PART_PAGE_MAX, seg = 0, nseg = 1;
	json_t *segment, *t = NULL, *items, *it;
	struct cat_expr *filter = NULL;
	bool exclude = false;
	size_t i;
	if (part_args(c, &db, &table) < 0 ||
	    ctl_aws_str(c, NULL, "Expression", 0, CAT_EXPR_LEN_MAX, false, &expr) < 0 ||
	    ctl_aws_str(c, NULL, "NextToken", 1, 1024, false, &token) < 0 ||
	    ctl_aws_int(c, NULL, "MaxResults", 1, G_PART_PAGE_MAX, false, &max) < 0 ||
	    ctl_aws_bool(c, NULL, "ExcludeColumnSchema", false, &exclude) < 0)
		return;
	int r = ctl_aws_object(c, NULL, "Segment", false, &segment);
	if (r < 0 || (r > 0 && (ctl_aws_int(c, segment, "SegmentNumber", 0, INT32_MAX, true,
					    &seg) < 0 ||
				ctl_aws_int(c, segment, "TotalSegments", 1, G_SEGMENTS_MAX, true,
					    &nseg) < 0)))
		return;
	if (seg >= nseg) {
		ctl_aws_err(c, 400, "InvalidInputException", "SegmentNumber %" PRId64 " is not "
			    "below TotalSegments %" PRId64 ".", seg, nseg);
		return;
	}
	int64_t after = 0;
	if (token && (parse_version(token, &after) < 0 || after == 0)) {
		ctl_aws_err(c, 400, "InvalidInputException", "Invalid NextToken.");
		return;
	}
	if ((r = cat_table_get(g->store, db, table, &t)) < 0) {
		table_failed(g, c, r, db, table);
		return;
	}
	/* A blank Expression filters nothing (Spark's Hive client sends ''). */
	if (expr && expr[strspn(expr, " \t\r\n")]) {
		char err[CAT_EXPR_ERR_MAX];
		r = cat_expr_compile(expr, json_object_get(t, "PartitionKeys"), &filter, err);
		if (r < 0) {
			json_decref(t);
			if (r == -EINVAL)
				ctl_aws_err(c, 400, "InvalidInputException", "%s", err);
			else
				answer_err(g, c, -CAT_ERR_IO, table);
			return;
		}
	}
	json_decref(t);
	struct cat_partition_query q = {
		.filter = filter,
		.segment = (unsigned)seg,
		.segments = (unsigned)nseg,
		.after = after,
		.max = (unsigned)max,
	};
	int64_t next;
	r = cat_partition_list(g->store, db, table, &q, &items, &next);
	cat_expr_free(filter);
	if (r < 0) {
		answer_part(g, c, r, db, table, NULL);
		return;
	}
	json_array_foreach(items, i, it)
		answer_partition_item(c, it, exclude);
	json_t *out = json_pack("{s:o}", "Partitions", items);
	if (out && next) {
		char tok[24];
		snprintf(tok, sizeof(tok), "%" PRId64, next);
		json_object_set_new(out, "NextToken", json_string(tok));
	}
	ctl_aws_ok(c, out);
}

/* The Values of a PartitionValueList entry {Values}: the array, or NULL after answering. */
static json_t *value_list_entry(struct ctl_aws_call *c, json_t *entry, const char *field)
{
	json_t *vals;
	if (!json_is_object(entry)) {
		ctl_aws_err(c, 400, "SerializationException", "Unexpected value type in '%s': "
			    "expected a PartitionValueList structure", field);
		return NULL;
	}
	return values_arg(c, entry, "Values", true, &vals) < 0 ? NULL : vals;
}

/*
 * The arguments of a batch over partitions named by their values: DatabaseName, TableName and
 * field, a list of 0 to max PartitionValueList entries; the table must exist. Anything wrong is
 * answered here, and the return is negative.
 */
static int batch_values_args(struct ctl_glue *g, struct ctl_aws_call *c, const char *field,
			     size_t max, const char **db, const char **table, json_t **list)
{
	json_t *e, *t = NULL;
	size_t i;
	if (part_args(c, db, table) < 0 || ctl_aws_array(c, NULL, field, 0, max, true, list) < 0)
		return -EINVAL;
	json_array_foreach(*list, i, e)
		if (!value_list_entry(c, e, field))
			return -EINVAL;
	int r = cat_table_get(g->store, *db, *table, &t);
	json_decref(t);
	if (r < 0)
		answer_part(g, c, r, *db, *table, NULL);
	return r;
}

static void op_batch_get_partition(void *svc, struct ctl_aws_call *c)
{
	struct ctl_glue *g = svc;
	const char *db, *table;
	json_t *list, *e;
	size_t i;
	if (batch_values_args(g, c, "PartitionsToGet", G_BATCH_GET, &db, &table, &list) < 0)
		return;
	/* Missing partitions are left out, as Glue does; keys that cannot name a partition of
	 * this table (a wrong number of values) come back unprocessed. */
	json_t *found = json_array(), *unprocessed = json_array();
	json_array_foreach(list, i, e) {
		json_t *p;
		json_t *vals = json_object_get(e, "Values");
		int r = cat_partition_get(g->store, db, table, vals, &p);
		if (r == 0) {
			answer_partition_item(c, p, false);
			json_array_append_new(found, p);
		} else if (r != -CAT_ERR_NOT_FOUND) {
			json_array_append_new(unprocessed, json_pack("{s:O}", "Values", vals));
		}
	}
	ctl_aws_ok(c, json_pack("{s:o,s:o}", "Partitions", found, "UnprocessedKeys", unprocessed));
}

static void op_update_partition(void *svc, struct ctl_aws_call *c)
{
	struct ctl_glue *g = svc;
	const char *db, *table;
	json_t *vals, *in;
	if (part_args(c, &db, &table) < 0 ||
	    values_arg(c, NULL, "PartitionValueList", true, &vals) < 0 ||
	    !(in = partition_input_arg(c)))
		return;
	int r = cat_partition_update(g->store, db, table, vals, in);
	/* A wrong count is named with the values that have it: the old ones or the new. */
	const json_t *named = vals;
	json_t *t = NULL;
	if (r == -CAT_ERR_VALUES && cat_table_get(g->store, db, table, &t) == 0 &&
	    json_array_size(vals) == json_array_size(json_object_get(t, "PartitionKeys")))
		named = json_object_get(in, "Values");
	json_decref(t);
	answer_part(g, c, r, db, table, named);
}

static void op_delete_partition(void *svc, struct ctl_aws_call *c)
{
	struct ctl_glue *g = svc;
	const char *db, *table;
	json_t *vals;
	if (part_args(c, &db, &table) < 0 || values_arg(c, NULL, "PartitionValues", true, &vals) < 0)
		return;
	answer_part(g, c, cat_partition_delete(g->store, db, table, vals), db, table, vals);
}

static void op_batch_delete_partition(void *svc, struct ctl_aws_call *c)
{
	struct ctl_glue *g = svc;
	const char *db, *table;
	json_t *list, *e;
	size_t i;
	if (batch_values_args(g, c, "PartitionsToDelete", G_BATCH_DELETE, &db, &table, &list) < 0)
		return;
	json_t *errors = json_array();
	json_array_foreach(list, i, e) {
		char msg[512];
		json_t *vals = json_object_get(e, "Values");
		int r = cat_partition_delete(g->store, db, table, vals);
		if (r == 0)
			continue;
		const char *code = part_failure(g, r, db, table, vals, msg, sizeof(msg));
		json_array_append_new(errors, json_pack("{s:O,s:{s:s,s:s}}", "PartitionValues", vals,
							"ErrorDetail", "ErrorCode", code,
							"ErrorMessage", msg));
	}
	ctl_aws_ok(c, json_pack("{s:o}", "Errors", errors));
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
	{ "GetTableVersions", op_get_table_versions, NULL },
	{ "GetTableVersion", op_get_table_version, NULL },
	{ "DeleteTableVersion", op_delete_table_version, NULL },
	{ "BatchDeleteTableVersion", op_batch_delete_table_version, NULL },
	{ "CreatePartition", op_create_partition, NULL },
	{ "BatchCreatePartition", op_batch_create_partition, NULL },
	{ "GetPartition", op_get_partition, NULL },
	{ "GetPartitions", op_get_partitions, NULL },
	{ "BatchGetPartition", op_batch_get_partition, NULL },
	{ "UpdatePartition", op_update_partition, NULL },
	{ "DeletePartition", op_delete_partition, NULL },
	{ "BatchDeletePartition", op_batch_delete_partition, NULL },
};

int ctl_glue_register(struct ctl_glue *g, struct ctl_aws *aws)
{
	unsigned n = sizeof(g_ops) / sizeof(g_ops[0]), nk, nc;
	const struct ctl_aws_op *k = ctl_glue_classifier_ops(&nk);
	const struct ctl_aws_op *cr = ctl_glue_crawler_ops(&nc);
	if (!g->ops && !(g->ops = calloc(n + nk + nc, sizeof(*g->ops))))
		return -ENOMEM;
	memcpy(g->ops, g_ops, sizeof(g_ops));
	memcpy(g->ops + n, k, nk * sizeof(*k));
	memcpy(g->ops + n + nk, cr, nc * sizeof(*cr));
	struct ctl_aws_service s = {
		.target_prefix = "AWSGlue",
		.ops = g->ops,
		.n_ops = n + nk + nc,
		.svc = g,
		.cbor = NULL,
	};
	return ctl_aws_register(aws, &s);
}
