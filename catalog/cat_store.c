/* SPDX-License-Identifier: MIT */
/*
 * cat_store: see cat_store.h. Every statement is prepared per call: the catalog is a control
 * path (a few requests a second), so cached statements would buy nothing but lifetime rules.
 */
#include "cat_store.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const cat_store_schema_steps[CAT_STORE_SCHEMA_VERSION] = {
	"CREATE TABLE cat_database(name TEXT PRIMARY KEY, created_s INTEGER NOT NULL, "
	"  doc TEXT NOT NULL);"
	"CREATE TABLE cat_table(db TEXT NOT NULL, name TEXT NOT NULL, created_s INTEGER NOT NULL, "
	"  updated_s INTEGER NOT NULL, version INTEGER NOT NULL, doc TEXT NOT NULL, "
	"  PRIMARY KEY(db, name));",
	/* 2: table versions and partitions. A partition's vkey is its Values as compact JSON;
	 * id orders listings and picks segments (see cat_store.h). */
	"CREATE TABLE cat_table_version(db TEXT NOT NULL, tbl TEXT NOT NULL, "
	"  version INTEGER NOT NULL, doc TEXT NOT NULL, PRIMARY KEY(db, tbl, version));"
	"CREATE TABLE cat_partition(id INTEGER PRIMARY KEY, db TEXT NOT NULL, tbl TEXT NOT NULL, "
	"  vkey TEXT NOT NULL, created_s INTEGER NOT NULL, doc TEXT NOT NULL, "
	"  UNIQUE(db, tbl, vkey));"
	"CREATE INDEX cat_partition_order ON cat_partition(db, tbl, id);",
};

struct cat_store {
	sqlite3 *db;
};

static const struct {
	int err;
	const char *name;
} k_errs[] = {
	{ CAT_ERR_NOT_FOUND, "not found" },
	{ CAT_ERR_EXISTS, "already exists" },
	{ CAT_ERR_INVALID, "invalid input" },
	{ CAT_ERR_CONFLICT, "concurrent modification" },
	{ CAT_ERR_IO, "metadata database error" },
	{ CAT_ERR_VALUES, "partition values do not match the partition keys" },
	{ CAT_ERR_CURRENT, "the current table version cannot be deleted" },
};

const char *cat_err_name(int r)
{
	for (size_t i = 0; i < sizeof(k_errs) / sizeof(k_errs[0]); i++)
		if (-r == k_errs[i].err)
			return k_errs[i].name;
	return "unknown";
}

int cat_store_new(sqlite3 *db, struct cat_store **ret)
{
	struct cat_store *s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->db = db;
	*ret = s;
	return 0;
}

void cat_store_free(struct cat_store *s)
{
	free(s);
}

int cat_name_fold(const char *name, char out[CAT_NAME_MAX + 1])
{
	size_t n = name ? strlen(name) : 0;
	if (n < 1 || n > CAT_NAME_MAX)
		return -CAT_ERR_INVALID;
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)name[i];
		/* Glue's single-line pattern: nothing below U+0020 but tab. */
		if ((ch < 0x20 && ch != '\t') || ch == 0x7f)
			return -CAT_ERR_INVALID;
		out[i] = (char)(ch >= 'A' && ch <= 'Z' ? ch + ('a' - 'A') : ch);
	}
	out[n] = '\0';
	return 0;
}

/* ---- SQLite helpers ------------------------------------------------------------------------------- */

static int begin(struct cat_store *s)
{
	return sqlite3_exec(s->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) == SQLITE_OK ? 0 :
									       -CAT_ERR_IO;
}

/* Commit when r >= 0, else roll back; returns r, or -IO when the commit failed. */
static int finish(struct cat_store *s, int r)
{
	if (r >= 0 && sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL) == SQLITE_OK)
		return r;
	sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
	return r >= 0 ? -CAT_ERR_IO : r;
}

/*
 * Prepare sql and bind its text parameters (NULL binds NULL); returns the statement or NULL.
 * Integers are bound by the caller afterwards, at the positions after the texts.
 */
static sqlite3_stmt *prep(struct cat_store *s, const char *sql, unsigned n, const char *const *txt)
{
	sqlite3_stmt *st = NULL;
	if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK)
		return NULL;
	for (unsigned i = 0; i < n; i++)
		sqlite3_bind_text(st, (int)i + 1, txt[i], -1, SQLITE_TRANSIENT);
	return st;
}

/* Run a statement without rows: 0, -EXISTS on a key conflict, -IO. Finalizes st. */
static int run(sqlite3_stmt *st)
{
	if (!st)
		return -CAT_ERR_IO;
	int rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc == SQLITE_DONE)
		return 0;
	return (rc & 0xff) == SQLITE_CONSTRAINT ? -CAT_ERR_EXISTS : -CAT_ERR_IO;
}

/* Rows changed by the last statement. */
static int changed(struct cat_store *s)
{
	return sqlite3_changes(s->db);
}

/* Parse the doc column (index col) of the current row: a new reference or NULL. */
static json_t *row_doc(sqlite3_stmt *st, int col)
{
	const char *t = (const char *)sqlite3_column_text(st, col);
	return t ? json_loads(t, 0, NULL) : NULL;
}

/*
 * Step st (NULL when prep failed) to its first row: 0 with the row ready, the caller reading it
 * and finalizing st; or -NOT_FOUND (no row) or -IO with st finalized.
 */
static int first_row(sqlite3_stmt *st)
{
	if (!st)
		return -CAT_ERR_IO;
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		return 0;
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? -CAT_ERR_NOT_FOUND : -CAT_ERR_IO;
}

/* The doc (column col) of st's first row into *out: 0, -NOT_FOUND or -IO. Finalizes st. */
static int first_doc(sqlite3_stmt *st, int col, json_t **out)
{
	int r = first_row(st);
	if (r < 0)
		return r;
	*out = row_doc(st, col);
	sqlite3_finalize(st);
	return *out ? 0 : -CAT_ERR_IO;
}

/*
 * Decides on the current row of st for collect: 1 it counts, with its item in *item when item is
 * not NULL (NULL: the listing is full and only asks whether a further item exists); 0 it does
 * not count; -IO.
 */
typedef int row_item_fn(sqlite3_stmt *st, void *arg, json_t **item);

/*
 * The items of st's rows (NULL st: prep failed), at most max, into a new array *out; *more: a
 * further row counts. Returns the number of items or -IO; finalizes st.
 */
static int collect(sqlite3_stmt *st, unsigned max, row_item_fn *item_of, void *arg,
		   json_t **out, bool *more)
{
	json_t *arr = json_array(), *item;
	int n = 0, rc = SQLITE_ERROR;
	*more = false;
	while (st && arr && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		bool full = (unsigned)n == max;
		int k = item_of(st, arg, full ? NULL : &item);
		if (k < 0)
			goto fail;
		if (k == 0)
			continue;
		if (full) {
			*more = true;
			break;
		}
		if (json_array_append_new(arr, item) < 0)
			goto fail;
		n++;
	}
	if (!arr || (rc != SQLITE_ROW && rc != SQLITE_DONE))
		goto fail;
	sqlite3_finalize(st);
	*out = arr;
	return n;
fail:
	sqlite3_finalize(st);
	json_decref(arr);
	return -CAT_ERR_IO;
}

static char *doc_text(const json_t *doc)
{
	return json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS);
}

/* Does database name exist? 1, 0 or -IO. */
static int db_exists(struct cat_store *s, const char *name)
{
	sqlite3_stmt *st = prep(s, "SELECT 1 FROM cat_database WHERE name = ?", 1, &name);
	int r = first_row(st);
	if (r < 0)
		return r == -CAT_ERR_NOT_FOUND ? 0 : r;
	sqlite3_finalize(st);
	return 1;
}

/* The folded Name member of an input object, or -INVALID. */
static int input_name(const json_t *input, char out[CAT_NAME_MAX + 1])
{
	if (!json_is_object(input))
		return -CAT_ERR_INVALID;
	const json_t *n = json_object_get(input, "Name");
	if (!json_is_string(n))
		return -CAT_ERR_INVALID;
	return cat_name_fold(json_string_value(n), out);
}

/* ---- databases ----------------------------------------------------------------------------------- */

/* The stored Database: the input with the folded Name and CreateTime. */
static int db_doc(const json_t *input, const char *name, int64_t created_s, char **text)
{
	json_t *doc = json_deep_copy(input);
	if (!doc)
		return -ENOMEM;
	json_object_set_new(doc, "Name", json_string(name));
	json_object_set_new(doc, "CreateTime", json_integer(created_s));
	*text = doc_text(doc);
	json_decref(doc);
	return *text ? 0 : -ENOMEM;
}

int cat_db_create(struct cat_store *s, const json_t *input, int64_t now_s)
{
	char name[CAT_NAME_MAX + 1];
	char *text = NULL;
	int r = input_name(input, name);
	if (r < 0)
		return r;
	if ((r = db_doc(input, name, now_s, &text)) < 0)
		return r;
	const char *args[] = { name, text };
	sqlite3_stmt *st = prep(s, "INSERT INTO cat_database(name, doc, created_s) VALUES(?, ?, ?)",
				2, args);
	if (st)
		sqlite3_bind_int64(st, 3, now_s);
	r = run(st);
	free(text);
	return r;
}

int cat_db_get(struct cat_store *s, const char *name, json_t **out)
{
	char key[CAT_NAME_MAX + 1];
	int r = cat_name_fold(name, key);
	if (r < 0)
		return r;
	const char *k = key;
	return first_doc(prep(s, "SELECT doc FROM cat_database WHERE name = ?", 1, &k), 0, out);
}

struct name_match {
	cat_match_fn match;  /* NULL: every name */
	void *arg;
};

/* A row of (name, doc) for collect: its doc when match takes its name. */
static int named_doc(sqlite3_stmt *st, void *arg, json_t **item)
{
	const struct name_match *m = arg;
	const char *name = (const char *)sqlite3_column_text(st, 0);
	if (m->match && !m->match(m->arg, name ? name : ""))
		return 0;
	if (item && !(*item = row_doc(st, 1)))
		return -CAT_ERR_IO;
	return 1;
}

/* Shared by both listings: rows of (name, doc) from st, at most max, into a new array. */
static int list_rows(sqlite3_stmt *st, unsigned max, cat_match_fn match, void *arg, json_t **out,
		     bool *more)
{
	struct name_match m = { match, arg };
	return collect(st, max, named_doc, &m, out, more);
}

int cat_db_list(struct cat_store *s, const char *after, unsigned max, json_t **out, bool *more)
{
	const char *a = after ? after : "";
	sqlite3_stmt *st = prep(s, "SELECT name, doc FROM cat_database WHERE name > ? ORDER BY name",
				1, &a);
	return list_rows(st, max, NULL, NULL, out, more);
}

int cat_db_update(struct cat_store *s, const char *name, const json_t *input)
{
	char key[CAT_NAME_MAX + 1], to[CAT_NAME_MAX + 1];
	char *text = NULL;
	int r;
	if ((r = cat_name_fold(name, key)) < 0 || (r = input_name(input, to)) < 0)
		return r;
	if ((r = begin(s)) < 0)
		return r;
	const char *k = key;
	sqlite3_stmt *st = prep(s, "SELECT created_s FROM cat_database WHERE name = ?", 1, &k);
	if ((r = first_row(st)) < 0)
		goto done;
	int64_t created = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	if ((r = db_doc(input, to, created, &text)) < 0)
		goto done;
	const char *args[] = { to, text, key };
	if ((r = run(prep(s, "UPDATE cat_database SET name = ?, doc = ? WHERE name = ?", 3,
			  args))) < 0)
		goto done;
	if (strcmp(key, to) != 0) {
		/* The tables follow a renamed database, their DatabaseName with them. */
		const char *targs[] = { to, to, key };
		if ((r = run(prep(s, "UPDATE cat_table SET db = ?, "
				  "doc = json_set(doc, '$.DatabaseName', ?) WHERE db = ?", 3,
				  targs))) < 0 ||
		    (r = run(prep(s, "UPDATE cat_table_version SET db = ?, "
				  "doc = json_set(doc, '$.DatabaseName', ?) WHERE db = ?", 3,
				  targs))) < 0)
			goto done;
		r = run(prep(s, "UPDATE cat_partition SET db = ?, "
			     "doc = json_set(doc, '$.DatabaseName', ?) WHERE db = ?", 3, targs));
	}
done:
	free(text);
	return finish(s, r);
}

int cat_db_delete(struct cat_store *s, const char *name)
{
	char key[CAT_NAME_MAX + 1];
	int r = cat_name_fold(name, key);
	if (r < 0)
		return r;
	if ((r = begin(s)) < 0)
		return r;
	const char *k = key;
	if ((r = run(prep(s, "DELETE FROM cat_database WHERE name = ?", 1, &k))) < 0)
		goto done;
	if (changed(s) == 0) {
		r = -CAT_ERR_NOT_FOUND;
		goto done;
	}
	if ((r = run(prep(s, "DELETE FROM cat_table WHERE db = ?", 1, &k))) < 0 ||
	    (r = run(prep(s, "DELETE FROM cat_table_version WHERE db = ?", 1, &k))) < 0)
		goto done;
	r = run(prep(s, "DELETE FROM cat_partition WHERE db = ?", 1, &k));
done:
	return finish(s, r);
}

/* ---- tables -------------------------------------------------------------------------------------- */

static int table_doc(const json_t *input, const char *db, const char *name, int64_t created_s,
		     int64_t updated_s, int64_t version, char **text)
{
	char v[24];
	json_t *doc = json_deep_copy(input);
	if (!doc)
		return -ENOMEM;
	snprintf(v, sizeof(v), "%lld", (long long)version);
	json_object_set_new(doc, "Name", json_string(name));
	json_object_set_new(doc, "DatabaseName", json_string(db));
	json_object_set_new(doc, "CreateTime", json_integer(created_s));
	json_object_set_new(doc, "UpdateTime", json_integer(updated_s));
	json_object_set_new(doc, "VersionId", json_string(v));
	*text = doc_text(doc);
	json_decref(doc);
	return *text ? 0 : -ENOMEM;
}

/* Fold db and check that it exists: 0, -INVALID, -NOT_FOUND or -IO. */
static int db_arg(struct cat_store *s, const char *db, char key[CAT_NAME_MAX + 1])
{
	int r = cat_name_fold(db, key);
	if (r < 0)
		return r;
	r = db_exists(s, key);
	return r < 0 ? r : r == 0 ? -CAT_ERR_NOT_FOUND : 0;
}


/* Insert a new table (inside a transaction): 0, -EXISTS or -IO. */
static int table_insert(struct cat_store *s, const char *dkey, const char *name,
			const json_t *input, int64_t now_s)
{
	char *text = NULL;
	int r = table_doc(input, dkey, name, now_s, now_s, 0, &text);
	if (r < 0)
		return r;
	const char *args[] = { dkey, name, text };
	sqlite3_stmt *st = prep(s, "INSERT INTO cat_table(db, name, doc, created_s, updated_s, "
				"version) VALUES(?, ?, ?, ?, ?, 0)", 3, args);
	if (st) {
		sqlite3_bind_int64(st, 4, now_s);
		sqlite3_bind_int64(st, 5, now_s);
	}
	r = run(st);
	free(text);
	return r;
}

/*
 * A table's CreateTime and current version (inside a transaction or not): 0, -NOT_FOUND or -IO.
 * created may be NULL.
 */
static int table_row(struct cat_store *s, const char *dkey, const char *key, int64_t *created,
		     int64_t *version)
{
	const char *args[] = { dkey, key };
	sqlite3_stmt *st = prep(s, "SELECT created_s, version FROM cat_table WHERE db = ? AND "
				"name = ?", 2, args);
	int r = first_row(st);
	if (r < 0)
		return r;
	if (created)
		*created = sqlite3_column_int64(st, 0);
	*version = sqlite3_column_int64(st, 1);
	sqlite3_finalize(st);
	return 0;
}

/* Replace an existing table (inside a transaction), archiving the old definition first. */
static int table_replace(struct cat_store *s, const char *dkey, const char *key,
			 const json_t *input, int64_t version, bool archive, int64_t now_s)
{
	int64_t created, have;
	char *text = NULL;
	int r = table_row(s, dkey, key, &created, &have);
	if (r < 0)
		return r;
	if (version >= 0 && version != have)
		return -CAT_ERR_CONFLICT;
	const char *args[] = { dkey, key };
	if (archive && (r = run(prep(s, "INSERT OR REPLACE INTO cat_table_version(db, tbl, "
				     "version, doc) SELECT db, name, version, doc FROM cat_table "
				     "WHERE db = ? AND name = ?", 2, args))) < 0)
		return r;
	if ((r = table_doc(input, dkey, key, created, now_s, have + 1, &text)) < 0)
		return r;
	sqlite3_stmt *st = prep(s, "UPDATE cat_table SET doc = ?, updated_s = ?, "
				"version = version + 1 WHERE db = ? AND name = ?", 0, NULL);
	if (st) {
		sqlite3_bind_text(st, 1, text, -1, SQLITE_TRANSIENT);
		sqlite3_bind_int64(st, 2, now_s);
		sqlite3_bind_text(st, 3, dkey, -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(st, 4, key, -1, SQLITE_TRANSIENT);
	}
	r = run(st);
	free(text);
	return r;
}

int cat_table_create(struct cat_store *s, const char *db, const json_t *input, int64_t now_s)
{
	char dkey[CAT_NAME_MAX + 1], name[CAT_NAME_MAX + 1];
	int r;
	if ((r = cat_name_fold(db, dkey)) < 0 || (r = input_name(input, name)) < 0)
		return r;
	if ((r = begin(s)) < 0)
		return r;
	if ((r = db_arg(s, db, dkey)) == 0)
		r = table_insert(s, dkey, name, input, now_s);
	return finish(s, r);
}

int cat_table_get(struct cat_store *s, const char *db, const char *name, json_t **out)
{
	char dkey[CAT_NAME_MAX + 1], key[CAT_NAME_MAX + 1];
	int r;
	if ((r = db_arg(s, db, dkey)) < 0 || (r = cat_name_fold(name, key)) < 0)
		return r;
	const char *args[] = { dkey, key };
	return first_doc(prep(s, "SELECT doc FROM cat_table WHERE db = ? AND name = ?", 2, args), 0,
			 out);
}

int cat_table_list(struct cat_store *s, const char *db, const char *after, unsigned max,
		   cat_match_fn match, void *arg, json_t **out, bool *more)
{
	char dkey[CAT_NAME_MAX + 1];
	int r = db_arg(s, db, dkey);
	if (r < 0)
		return r;
	const char *args[] = { dkey, after ? after : "" };
	sqlite3_stmt *st = prep(s, "SELECT name, doc FROM cat_table WHERE db = ? AND name > ? "
				"ORDER BY name", 2, args);
	return list_rows(st, max, match, arg, out, more);
}

int cat_table_update(struct cat_store *s, const char *db, const json_t *input, int64_t version,
		     bool archive, int64_t now_s)
{
	char dkey[CAT_NAME_MAX + 1], key[CAT_NAME_MAX + 1];
	int r;
	if ((r = cat_name_fold(db, dkey)) < 0 || (r = input_name(input, key)) < 0)
		return r;
	if ((r = begin(s)) < 0)
		return r;
	if ((r = db_arg(s, db, dkey)) == 0)
		r = table_replace(s, dkey, key, input, version, archive, now_s);
	return finish(s, r);
}

int cat_table_put(struct cat_store *s, const char *db, const json_t *input, int64_t now_s)
{
	char dkey[CAT_NAME_MAX + 1], key[CAT_NAME_MAX + 1];
	int64_t have;
	int r;
	if ((r = cat_name_fold(db, dkey)) < 0 || (r = input_name(input, key)) < 0)
		return r;
	if ((r = begin(s)) < 0)
		return r;
	if ((r = db_arg(s, db, dkey)) < 0)
		goto done;
	r = table_row(s, dkey, key, NULL, &have);
	if (r == -CAT_ERR_NOT_FOUND)
		r = table_insert(s, dkey, key, input, now_s) < 0 ? -CAT_ERR_IO : 1;
	else if (r == 0)
		r = table_replace(s, dkey, key, input, -1, true, now_s);
done:
	return finish(s, r);
}

int cat_table_delete(struct cat_store *s, const char *db, const char *name)
{
	char dkey[CAT_NAME_MAX + 1], key[CAT_NAME_MAX + 1];
	int r;
	if ((r = cat_name_fold(db, dkey)) < 0 || (r = cat_name_fold(name, key)) < 0)
		return r;
	if ((r = begin(s)) < 0)
		return r;
	if ((r = db_arg(s, db, dkey)) < 0)
		goto done;
	const char *args[] = { dkey, key };
	if ((r = run(prep(s, "DELETE FROM cat_table WHERE db = ? AND name = ?", 2, args))) < 0)
		goto done;
	if (changed(s) == 0) {
		r = -CAT_ERR_NOT_FOUND;
		goto done;
	}
	if ((r = run(prep(s, "DELETE FROM cat_table_version WHERE db = ? AND tbl = ?", 2,
			  args))) < 0)
		goto done;
	r = run(prep(s, "DELETE FROM cat_partition WHERE db = ? AND tbl = ?", 2, args));
done:
	return finish(s, r);
}

/* ---- table versions ------------------------------------------------------------------------------ */

/* Fold db and table and check that both exist; *version: the table's current version. */
static int table_arg(struct cat_store *s, const char *db, const char *name,
		     char dkey[CAT_NAME_MAX + 1], char key[CAT_NAME_MAX + 1], int64_t *version)
{
	int r;
	int64_t v;
	if ((r = cat_name_fold(db, dkey)) < 0 || (r = cat_name_fold(name, key)) < 0 ||
	    (r = db_arg(s, db, dkey)) < 0)
		return r;
	return table_row(s, dkey, key, NULL, version ? version : &v);
}

/* The current and the archived versions of one table, as (version, doc) rows. */
#define VERSIONS_SQL                                                                              \
	"SELECT version, doc FROM (SELECT version, doc FROM cat_table WHERE db = ?1 AND "          \
	"name = ?2 UNION ALL SELECT version, doc FROM cat_table_version WHERE db = ?1 AND "       \
	"tbl = ?2) "

/* A row of (version, doc) for collect: {"Table": doc, "VersionId": "version"}. */
static int version_item(sqlite3_stmt *st, void *arg, json_t **item)
{
	(void)arg;
	if (!item)
		return 1;
	char v[24];
	snprintf(v, sizeof(v), "%" PRId64, (int64_t)sqlite3_column_int64(st, 0));
	json_t *doc = row_doc(st, 1);
	*item = doc ? json_pack("{s:o,s:s}", "Table", doc, "VersionId", v) : NULL;
	return *item ? 1 : -CAT_ERR_IO;
}

int cat_table_version_list(struct cat_store *s, const char *db, const char *name, int64_t before,
			   unsigned max, json_t **out, bool *more)
{
	char dkey[CAT_NAME_MAX + 1], key[CAT_NAME_MAX + 1];
	int r = table_arg(s, db, name, dkey, key, NULL);
	if (r < 0)
		return r;
	const char *args[] = { dkey, key };
	sqlite3_stmt *st = prep(s, VERSIONS_SQL "WHERE version < ?3 ORDER BY version DESC", 2,
				args);
	if (!st)
		return -CAT_ERR_IO;
	sqlite3_bind_int64(st, 3, before < 0 ? INT64_MAX : before);
	return collect(st, max, version_item, NULL, out, more);
}

int cat_table_version_get(struct cat_store *s, const char *db, const char *name, int64_t version,
			  json_t **out)
{
	char dkey[CAT_NAME_MAX + 1], key[CAT_NAME_MAX + 1];
	int64_t cur;
	int r = table_arg(s, db, name, dkey, key, &cur);
	if (r < 0)
		return r;
	const char *args[] = { dkey, key };
	sqlite3_stmt *st = prep(s, VERSIONS_SQL "WHERE version = ?3", 2, args);
	if (st)
		sqlite3_bind_int64(st, 3, version < 0 ? cur : version);
	return first_doc(st, 1, out);
}

int cat_table_version_delete(struct cat_store *s, const char *db, const char *name,
			     int64_t version)
{
	char dkey[CAT_NAME_MAX + 1], key[CAT_NAME_MAX + 1];
	int64_t cur;
	int r;
	if ((r = begin(s)) < 0)
		return r;
	if ((r = table_arg(s, db, name, dkey, key, &cur)) < 0)
		goto done;
	if (version == cur) {
		r = -CAT_ERR_CURRENT;
		goto done;
	}
	const char *args[] = { dkey, key };
	sqlite3_stmt *st = prep(s, "DELETE FROM cat_table_version WHERE db = ? AND tbl = ? AND "
				"version = ?", 2, args);
	if (st)
		sqlite3_bind_int64(st, 3, version);
	if ((r = run(st)) == 0 && changed(s) == 0)
		r = -CAT_ERR_NOT_FOUND;
done:
	return finish(s, r);
}

/* ---- partitions ---------------------------------------------------------------------------------- */

/* Fold db and table, check both exist; *nkeys: the table's number of partition keys. */
static int part_table(struct cat_store *s, const char *db, const char *table,
		      char dkey[CAT_NAME_MAX + 1], char tkey[CAT_NAME_MAX + 1], size_t *nkeys)
{
	int r;
	if ((r = cat_name_fold(db, dkey)) < 0 || (r = cat_name_fold(table, tkey)) < 0 ||
	    (r = db_arg(s, db, dkey)) < 0)
		return r;
	const char *args[] = { dkey, tkey };
	sqlite3_stmt *st = prep(s, "SELECT coalesce(json_array_length(doc, '$.PartitionKeys'), 0) "
				"FROM cat_table WHERE db = ? AND name = ?", 2, args);
	if ((r = first_row(st)) < 0)
		return r;
	*nkeys = (size_t)sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return 0;
}

/*
 * The key of a partition's values: their compact JSON text in *vkey (freed by the caller).
 * Returns 0, -INVALID (not a list of strings of at most CAT_VALUE_MAX bytes) or -VALUES
 * (not as many as the table has keys, or the table has none).
 */
static int values_key(const json_t *values, size_t nkeys, char **vkey)
{
	size_t i;
	const json_t *v;
	if (!json_is_array(values))
		return -CAT_ERR_INVALID;
	json_array_foreach(values, i, v)
		if (!json_is_string(v) || json_string_length(v) > CAT_VALUE_MAX)
			return -CAT_ERR_INVALID;
	if (nkeys == 0 || json_array_size(values) != nkeys)
		return -CAT_ERR_VALUES;
	*vkey = json_dumps(values, JSON_COMPACT);
	return *vkey ? 0 : -ENOMEM;
}

static int part_doc(const json_t *input, const char *dkey, const char *tkey, int64_t created_s,
		    char **text)
{
	json_t *doc = json_deep_copy(input);
	if (!doc)
		return -ENOMEM;
	json_object_set_new(doc, "DatabaseName", json_string(dkey));
	json_object_set_new(doc, "TableName", json_string(tkey));
	json_object_set_new(doc, "CreationTime", json_integer(created_s));
	*text = doc_text(doc);
	json_decref(doc);
	return *text ? 0 : -ENOMEM;
}

/*
 * Insert, or with replace update keeping CreationTime, one partition (inside a transaction).
 * Returns 1 inserted, 0 replaced, -EXISTS (insert only), -VALUES, -INVALID or -IO.
 */
static int part_write(struct cat_store *s, const char *dkey, const char *tkey, size_t nkeys,
		      const json_t *input, bool replace, int64_t now_s)
{
	char *vkey = NULL, *text = NULL;
	int64_t created = now_s;
	int r;
	if (!json_is_object(input))
		return -CAT_ERR_INVALID;
	if ((r = values_key(json_object_get(input, "Values"), nkeys, &vkey)) < 0)
		return r;
	const char *args[] = { dkey, tkey, vkey };
	sqlite3_stmt *st = NULL;
	bool exists = false;
	if (replace) {
		st = prep(s, "SELECT created_s FROM cat_partition WHERE db = ? AND tbl = ? AND "
			  "vkey = ?", 3, args);
		if ((r = first_row(st)) == 0) {
			created = sqlite3_column_int64(st, 0);
			exists = true;
			sqlite3_finalize(st);
		} else if (r != -CAT_ERR_NOT_FOUND) {
			goto done;
		}
	}
	if ((r = part_doc(input, dkey, tkey, created, &text)) < 0)
		goto done;
	if (exists) {
		const char *uargs[] = { text, dkey, tkey, vkey };
		r = run(prep(s, "UPDATE cat_partition SET doc = ? WHERE db = ? AND tbl = ? AND "
			     "vkey = ?", 4, uargs));
	} else {
		const char *iargs[] = { dkey, tkey, vkey, text };
		st = prep(s, "INSERT INTO cat_partition(db, tbl, vkey, doc, created_s) "
			  "VALUES(?, ?, ?, ?, ?)", 4, iargs);
		if (st)
			sqlite3_bind_int64(st, 5, created);
		if ((r = run(st)) == 0)
			r = 1;
	}
done:
	free(text);
	free(vkey);
	return r;
}

/* part_write in a transaction of its own, db and table checked first. */
static int part_write_one(struct cat_store *s, const char *db, const char *table,
			  const json_t *input, bool replace, int64_t now_s)
{
	char dkey[CAT_NAME_MAX + 1], tkey[CAT_NAME_MAX + 1];
	size_t nkeys;
	int r;
	if ((r = begin(s)) < 0)
		return r;
	if ((r = part_table(s, db, table, dkey, tkey, &nkeys)) == 0)
		r = part_write(s, dkey, tkey, nkeys, input, replace, now_s);
	return finish(s, r);
}

int cat_partition_create(struct cat_store *s, const char *db, const char *table,
			 const json_t *input, int64_t now_s)
{
	int r = part_write_one(s, db, table, input, false, now_s);
	return r < 0 ? r : 0;
}

int cat_partition_create_batch(struct cat_store *s, const char *db, const char *table,
			       const json_t *inputs, int64_t now_s, int *results)
{
	char dkey[CAT_NAME_MAX + 1], tkey[CAT_NAME_MAX + 1];
	size_t nkeys, i;
	const json_t *in;
	int r;
	if (!json_is_array(inputs))
		return -CAT_ERR_INVALID;
	if ((r = begin(s)) < 0)
		return r;
	if ((r = part_table(s, db, table, dkey, tkey, &nkeys)) < 0)
		goto done;
	/* A failed INSERT undoes that statement only; the transaction goes on with the rest. */
	json_array_foreach(inputs, i, in) {
		int e = part_write(s, dkey, tkey, nkeys, in, false, now_s);
		if (e == -CAT_ERR_IO) {
			r = e;
			goto done;
		}
		results[i] = e < 0 ? e : 0;
	}
done:
	return finish(s, r);
}

int cat_partition_put(struct cat_store *s, const char *db, const char *table, const json_t *input,
		      int64_t now_s)
{
	return part_write_one(s, db, table, input, true, now_s);
}

int cat_partition_get(struct cat_store *s, const char *db, const char *table,
		      const json_t *values, json_t **out)
{
	char dkey[CAT_NAME_MAX + 1], tkey[CAT_NAME_MAX + 1];
	char *vkey = NULL;
	size_t nkeys;
	int r;
	if ((r = part_table(s, db, table, dkey, tkey, &nkeys)) < 0 ||
	    (r = values_key(values, nkeys, &vkey)) < 0)
		return r;
	const char *args[] = { dkey, tkey, vkey };
	sqlite3_stmt *st = prep(s, "SELECT doc FROM cat_partition WHERE db = ? AND tbl = ? AND "
				"vkey = ?", 3, args);
	free(vkey);
	return first_doc(st, 0, out);
}

struct part_rows {
	const struct cat_expr *filter;  /* NULL: every partition */
	int64_t last;                    /* the id of the last row listed */
};

/* A row of (id, doc) for collect: the partition when the filter takes its Values. */
static int part_item(sqlite3_stmt *st, void *arg, json_t **item)
{
	struct part_rows *pr = arg;
	json_t *doc = row_doc(st, 1);
	if (!doc)
		return -CAT_ERR_IO;
	if (pr->filter && !cat_expr_match_json(pr->filter, json_object_get(doc, "Values"))) {
		json_decref(doc);
		return 0;
	}
	if (!item) {
		json_decref(doc);
		return 1;
	}
	pr->last = sqlite3_column_int64(st, 0);
	*item = doc;
	return 1;
}

int cat_partition_list(struct cat_store *s, const char *db, const char *table,
		       const struct cat_partition_query *q, json_t **out, int64_t *next)
{
	char dkey[CAT_NAME_MAX + 1], tkey[CAT_NAME_MAX + 1];
	size_t nkeys;
	int r = part_table(s, db, table, dkey, tkey, &nkeys);
	if (r < 0)
		return r;
	if (q->max == 0)
		return -CAT_ERR_INVALID;
	const char *args[] = { dkey, tkey };
	unsigned nseg = q->segments > 1 ? q->segments : 1;
	sqlite3_stmt *st = prep(s, "SELECT id, doc FROM cat_partition WHERE db = ? AND tbl = ? AND "
				"id > ? AND id % ? = ? ORDER BY id", 2, args);
	if (!st)
		return -CAT_ERR_IO;
	sqlite3_bind_int64(st, 3, q->after);
	sqlite3_bind_int64(st, 4, nseg);
	sqlite3_bind_int64(st, 5, nseg > 1 ? q->segment : 0);
	struct part_rows pr = { q->filter, 0 };
	bool more;
	int n = collect(st, q->max, part_item, &pr, out, &more);
	*next = n >= 0 && more ? pr.last : 0;
	return n;
}

int cat_partition_update(struct cat_store *s, const char *db, const char *table,
			 const json_t *values, const json_t *input)
{
	char dkey[CAT_NAME_MAX + 1], tkey[CAT_NAME_MAX + 1];
	char *vkey = NULL, *nkey = NULL, *text = NULL;
	size_t nkeys;
	int r;
	if (!json_is_object(input))
		return -CAT_ERR_INVALID;
	if ((r = begin(s)) < 0)
		return r;
	if ((r = part_table(s, db, table, dkey, tkey, &nkeys)) < 0 ||
	    (r = values_key(values, nkeys, &vkey)) < 0 ||
	    (r = values_key(json_object_get(input, "Values"), nkeys, &nkey)) < 0)
		goto done;
	const char *args[] = { dkey, tkey, vkey };
	sqlite3_stmt *st = prep(s, "SELECT created_s FROM cat_partition WHERE db = ? AND tbl = ? "
				"AND vkey = ?", 3, args);
	if ((r = first_row(st)) < 0)
		goto done;
	int64_t created = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	if ((r = part_doc(input, dkey, tkey, created, &text)) < 0)
		goto done;
	const char *uargs[] = { nkey, text, dkey, tkey, vkey };
	r = run(prep(s, "UPDATE cat_partition SET vkey = ?, doc = ? WHERE db = ? AND tbl = ? AND "
		     "vkey = ?", 5, uargs));
done:
	free(text);
	free(nkey);
	free(vkey);
	return finish(s, r);
}

int cat_partition_delete(struct cat_store *s, const char *db, const char *table,
			 const json_t *values)
{
	char dkey[CAT_NAME_MAX + 1], tkey[CAT_NAME_MAX + 1];
	char *vkey = NULL;
	size_t nkeys;
	int r;
	if ((r = begin(s)) < 0)
		return r;
	if ((r = part_table(s, db, table, dkey, tkey, &nkeys)) < 0 ||
	    (r = values_key(values, nkeys, &vkey)) < 0)
		goto done;
	const char *args[] = { dkey, tkey, vkey };
	if ((r = run(prep(s, "DELETE FROM cat_partition WHERE db = ? AND tbl = ? AND vkey = ?", 3,
			  args))) == 0 && changed(s) == 0)
		r = -CAT_ERR_NOT_FOUND;
done:
	free(vkey);
	return finish(s, r);
}
