/* SPDX-License-Identifier: MIT */
/*
 * cat_store: the Data Catalog's databases and tables, kept in the metadata database.
 *
 * What it owns. The tables cat_database and cat_table in the sqlite3 connection handed to
 * cat_store_new(). The caller brings them to the current version before use by running
 * cat_store_schema_steps through its schema mechanism (ctl_meta_schema in the daemon, a plain
 * sqlite3_exec of each step in tests), so the catalog depends on SQLite only.
 *
 * What is stored. Each Database and Table as Glue returns it, as JSON text: the caller's
 * DatabaseInput / TableInput with the server's members added (Name folded to lower case as Glue
 * stores it "for Hive compatibility", DatabaseName, CreateTime, UpdateTime as epoch seconds,
 * VersionId), next to the columns that are looked up by (names, times, version). Lower-casing
 * folds ASCII letters only; other UTF-8 is kept as sent.
 *
 * Invariants. Every table belongs to an existing database: deleting a database deletes its
 * tables in the same transaction, as Glue does. Each change is one transaction; a failed change
 * leaves nothing behind.
 *
 * Errors. Functions return >= 0 on success or a negated enum cat_err (each value is the errno
 * that describes it, so callers that only speak errno still read them right); cat_err_name()
 * names one.
 *
 * Threads. One thread per store (the connection's), as SQLite's connection is not shared.
 */
#ifndef CAT_STORE_H
#define CAT_STORE_H

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>
#include <sqlite3.h>

enum cat_err {
	CAT_ERR_NOT_FOUND = ENOENT,  /* no such database or table */
	CAT_ERR_EXISTS = EEXIST,     /* the name is taken */
	CAT_ERR_INVALID = EINVAL,    /* a name or member breaks Glue's rules */
	CAT_ERR_CONFLICT = EBUSY,    /* UpdateTable's VersionId is not the current one */
	CAT_ERR_IO = EIO,            /* SQLite failed (the connection's errmsg says why) */
};

/* The text of -r for r returned by a cat_ function ("not found", ...); "unknown" otherwise. */
const char *cat_err_name(int r);

/* Longest database or table name, in bytes (Glue's limit). */
#define CAT_NAME_MAX 255

/* Schema steps: steps[v] brings the tables from version v to v + 1. */
#define CAT_STORE_SCHEMA_VERSION 1
extern const char *const cat_store_schema_steps[CAT_STORE_SCHEMA_VERSION];

struct cat_store;

/* A store over db (borrowed; must outlive the store). Returns 0 or -ENOMEM. */
int cat_store_new(sqlite3 *db, struct cat_store **ret);
void cat_store_free(struct cat_store *s);

/*
 * A name as Glue keeps it: 1..CAT_NAME_MAX bytes, one line (no control character but tab),
 * ASCII letters folded to lower case into out (CAT_NAME_MAX + 1 bytes).
 * Returns 0 or -CAT_ERR_INVALID.
 */
int cat_name_fold(const char *name, char out[CAT_NAME_MAX + 1]);

/* Filter for the list functions: true keeps name. */
typedef bool (*cat_match_fn)(void *arg, const char *name);

/* ---- databases ----------------------------------------------------------------------------------- */

/*
 * Create a database from a DatabaseInput object (Name required; the other members are kept as
 * given). now_s: CreateTime. Returns 0, -CAT_ERR_INVALID, -CAT_ERR_EXISTS or -CAT_ERR_IO.
 */
int cat_db_create(struct cat_store *s, const json_t *input, int64_t now_s);
/* The Database object for name (new reference in *out). 0, -NOT_FOUND, -INVALID or -IO. */
int cat_db_get(struct cat_store *s, const char *name, json_t **out);
/*
 * Up to max databases in name order after `after` (NULL: from the start) as a new JSON array
 * in *out; *more is set when more follow (the last returned name continues the listing).
 * Returns the count or -CAT_ERR_IO.
 */
int cat_db_list(struct cat_store *s, const char *after, unsigned max, json_t **out, bool *more);
/*
 * Replace database name's definition with input (its Name may rename the database; its tables
 * follow). CreateTime is kept. Returns 0, -NOT_FOUND, -EXISTS (rename onto a taken name),
 * -INVALID or -IO.
 */
int cat_db_update(struct cat_store *s, const char *name, const json_t *input);
/* Delete a database and its tables. 0, -NOT_FOUND, -INVALID or -IO. */
int cat_db_delete(struct cat_store *s, const char *name);

/* ---- tables -------------------------------------------------------------------------------------- */

/*
 * Create a table in db from a TableInput object (Name required; the rest kept as given, with
 * DatabaseName, CreateTime = UpdateTime = now_s and VersionId "0" added).
 * Returns 0, -NOT_FOUND (db), -EXISTS, -INVALID or -IO.
 */
int cat_table_create(struct cat_store *s, const char *db, const json_t *input, int64_t now_s);
/* The Table object (new reference). 0, -NOT_FOUND (db or table), -INVALID or -IO. */
int cat_table_get(struct cat_store *s, const char *db, const char *name, json_t **out);
/*
 * Up to max tables of db in name order after `after` whose names match (match NULL: all), as
 * a new JSON array in *out; *more as cat_db_list. Returns the count, -NOT_FOUND (db),
 * -INVALID or -IO.
 */
int cat_table_list(struct cat_store *s, const char *db, const char *after, unsigned max,
		   cat_match_fn match, void *arg, json_t **out, bool *more);
/*
 * Replace the table named by input's Name with input: CreateTime kept, UpdateTime = now_s,
 * VersionId + 1. version: the VersionId the caller last read, or -1 for any.
 * Returns 0, -NOT_FOUND, -CONFLICT (version is stale), -INVALID or -IO.
 */
int cat_table_update(struct cat_store *s, const char *db, const json_t *input, int64_t version,
		     int64_t now_s);
/* 0, -NOT_FOUND (db or table), -INVALID or -IO. */
int cat_table_delete(struct cat_store *s, const char *db, const char *name);

#endif
