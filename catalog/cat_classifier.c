/* SPDX-License-Identifier: MIT */
/*
 * cat_classifier: see cat_classifier.h. One row per classifier (name, kind, doc as JSON text);
 * cat_classifier_meta holds the generation counter.
 */
#include "cat_classifier.h"

#include <string.h>

const char *const cat_classifier_schema_steps[CAT_CLASSIFIER_SCHEMA_VERSION] = {
	"CREATE TABLE cat_classifier(name TEXT PRIMARY KEY, kind TEXT NOT NULL, "
	"  created_s INTEGER NOT NULL, updated_s INTEGER NOT NULL, version INTEGER NOT NULL, "
	"  doc TEXT NOT NULL);"
	"CREATE TABLE cat_classifier_meta(k TEXT PRIMARY KEY, v INTEGER NOT NULL);"
	"INSERT INTO cat_classifier_meta VALUES ('generation', 0);",
};

static const char *const g_kinds[] = { "GrokClassifier", "JsonClassifier", "CsvClassifier",
				       "XMLClassifier" };

const char *cat_classifier_kind(const json_t *def, json_t **body)
{
	const char *kind = NULL;
	int n = 0;
	for (size_t i = 0; i < sizeof(g_kinds) / sizeof(g_kinds[0]); i++) {
		json_t *b = json_object_get(def, g_kinds[i]);
		if (json_is_object(b)) {
			kind = g_kinds[i];
			if (body)
				*body = b;
			n++;
		}
	}
	return n == 1 ? kind : NULL;
}

static const char *def_name(const json_t *def, const char **kind, json_t **body)
{
	if (!(*kind = cat_classifier_kind(def, body)))
		return NULL;
	const char *name = json_string_value(json_object_get(*body, "Name"));
	if (!name || !*name || strlen(name) > CAT_NAME_MAX)
		return NULL;
	for (const char *p = name; *p; p++)
		if ((unsigned char)*p < 0x20 && *p != '\t')
			return NULL;
	return name;
}

static sqlite3_stmt *prep(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *st = NULL;
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		return NULL;
	return st;
}

static int exec(sqlite3 *db, const char *sql)
{
	return sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK ? 0 : -CAT_ERR_IO;
}

static int bump(sqlite3 *db)
{
	return exec(db, "UPDATE cat_classifier_meta SET v = v + 1 WHERE k = 'generation'");
}

/* The stored document: the kind's body with the server's members. */
static char *doc_text(const char *kind, const json_t *body, int64_t created, int64_t updated,
		      int64_t version)
{
	json_t *b = json_deep_copy(body);
	if (!b)
		return NULL;
	json_object_set_new(b, "CreationTime", json_integer(created));
	json_object_set_new(b, "LastUpdated", json_integer(updated));
	json_object_set_new(b, "Version", json_integer(version));
	json_t *doc = json_pack("{s:o}", kind, b);
	char *text = doc ? json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	json_decref(doc);
	return text;
}

int cat_classifier_create(sqlite3 *db, const json_t *def, int64_t now_s)
{
	const char *kind;
	json_t *body;
	const char *name = def_name(def, &kind, &body);
	if (!name)
		return -CAT_ERR_INVALID;
	char *text = doc_text(kind, body, now_s, now_s, 1);
	if (!text)
		return -CAT_ERR_IO;
	int r = exec(db, "BEGIN IMMEDIATE");
	if (r < 0)
		goto out;
	sqlite3_stmt *st = prep(db, "INSERT INTO cat_classifier VALUES (?, ?, ?, ?, 1, ?)");
	if (!st) {
		r = -CAT_ERR_IO;
		goto rollback;
	}
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, kind, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, now_s);
	sqlite3_bind_int64(st, 4, now_s);
	sqlite3_bind_text(st, 5, text, -1, SQLITE_STATIC);
	int rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		r = (rc & 0xff) == SQLITE_CONSTRAINT ? -CAT_ERR_EXISTS : -CAT_ERR_IO;
		goto rollback;
	}
	if ((r = bump(db)) < 0 || (r = exec(db, "COMMIT")) < 0)
		goto rollback;
	goto out;
rollback:
	sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
out:
	free(text);
	return r;
}

static int get_row(sqlite3 *db, const char *name, json_t **doc, int64_t *created, int64_t *version)
{
	sqlite3_stmt *st = prep(db, "SELECT doc, created_s, version FROM cat_classifier "
				    "WHERE name = ?");
	if (!st)
		return -CAT_ERR_IO;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	int rc = sqlite3_step(st), r = 0;
	if (rc == SQLITE_ROW) {
		*doc = json_loads((const char *)sqlite3_column_text(st, 0), 0, NULL);
		if (created)
			*created = sqlite3_column_int64(st, 1);
		if (version)
			*version = sqlite3_column_int64(st, 2);
		r = *doc ? 0 : -CAT_ERR_IO;
	} else {
		r = rc == SQLITE_DONE ? -CAT_ERR_NOT_FOUND : -CAT_ERR_IO;
	}
	sqlite3_finalize(st);
	return r;
}

int cat_classifier_get(sqlite3 *db, const char *name, json_t **out)
{
	if (!name || !*name || strlen(name) > CAT_NAME_MAX)
		return -CAT_ERR_INVALID;
	return get_row(db, name, out, NULL, NULL);
}

int cat_classifier_update(sqlite3 *db, const json_t *def, int64_t now_s, json_t **merged)
{
	const char *kind;
	json_t *body, *old = NULL, *old_body;
	int64_t created, version;
	char *text = NULL;
	const char *name = def_name(def, &kind, &body);
	if (!name)
		return -CAT_ERR_INVALID;
	int r = exec(db, "BEGIN IMMEDIATE");
	if (r < 0)
		return r;
	if ((r = get_row(db, name, &old, &created, &version)) < 0)
		goto rollback;
	if (!(old_body = json_object_get(old, kind))) {
		r = -CAT_ERR_CONFLICT;
		goto rollback;
	}
	/* The members sent replace the stored ones; the server's members are rewritten. */
	json_object_update(old_body, body);
	if (!(text = doc_text(kind, old_body, created, now_s, version + 1))) {
		r = -CAT_ERR_IO;
		goto rollback;
	}
	sqlite3_stmt *st = prep(db, "UPDATE cat_classifier SET updated_s = ?, version = ?, doc = ? "
				    "WHERE name = ?");
	if (!st) {
		r = -CAT_ERR_IO;
		goto rollback;
	}
	sqlite3_bind_int64(st, 1, now_s);
	sqlite3_bind_int64(st, 2, version + 1);
	sqlite3_bind_text(st, 3, text, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, name, -1, SQLITE_STATIC);
	int rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		r = -CAT_ERR_IO;
		goto rollback;
	}
	if ((r = bump(db)) < 0 || (r = exec(db, "COMMIT")) < 0)
		goto rollback;
	if (merged)
		*merged = json_loads(text, 0, NULL);
	goto out;
rollback:
	sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
out:
	json_decref(old);
	free(text);
	return r;
}

int cat_classifier_delete(sqlite3 *db, const char *name)
{
	int r = exec(db, "BEGIN IMMEDIATE");
	if (r < 0)
		return r;
	sqlite3_stmt *st = prep(db, "DELETE FROM cat_classifier WHERE name = ?");
	if (!st) {
		r = -CAT_ERR_IO;
		goto rollback;
	}
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	int rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		r = -CAT_ERR_IO;
		goto rollback;
	}
	if (sqlite3_changes(db) == 0) {
		r = -CAT_ERR_NOT_FOUND;
		goto rollback;
	}
	if ((r = bump(db)) < 0 || (r = exec(db, "COMMIT")) < 0)
		goto rollback;
	return 0;
rollback:
	sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
	return r;
}

int cat_classifier_list(sqlite3 *db, const char *after, unsigned max, json_t **out, bool *more)
{
	sqlite3_stmt *st = prep(db, "SELECT doc FROM cat_classifier WHERE name > ? ORDER BY name");
	if (!st)
		return -CAT_ERR_IO;
	sqlite3_bind_text(st, 1, after ? after : "", -1, SQLITE_STATIC);
	json_t *items = json_array();
	int rc, r = 0;
	*more = false;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (max && json_array_size(items) == max) {
			*more = true;
			break;
		}
		json_t *d = json_loads((const char *)sqlite3_column_text(st, 0), 0, NULL);
		if (!d || json_array_append_new(items, d) < 0) {
			r = -CAT_ERR_IO;
			break;
		}
	}
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		r = -CAT_ERR_IO;
	sqlite3_finalize(st);
	if (r < 0 || !items) {
		json_decref(items);
		return -CAT_ERR_IO;
	}
	*out = items;
	return 0;
}

int64_t cat_classifier_generation(sqlite3 *db)
{
	sqlite3_stmt *st = prep(db, "SELECT v FROM cat_classifier_meta WHERE k = 'generation'");
	if (!st)
		return -CAT_ERR_IO;
	int64_t v = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : -CAT_ERR_IO;
	sqlite3_finalize(st);
	return v;
}
