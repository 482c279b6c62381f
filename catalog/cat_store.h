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
 * Table versions. The current definition is version VersionId (0 after create, + 1 per update);
 * an update first archives the definition it replaces in cat_table_version unless the caller
 * skips the archive (UpdateTable's SkipArchive). A table's versions are its current one and the
 * archived ones; the current one cannot be deleted.
 *
 * Partitions. Each Partition (its PartitionInput with DatabaseName, TableName and CreationTime
 * added) is keyed by its Values, which must be strings, as many as the table has PartitionKeys
 * (a table without keys has no partitions). Listings return them in creation order; the resume
 * token and the segment of a partition both derive from a row id that never changes while the
 * partition exists, so segments are disjoint, cover every partition, and pages do not repeat.
 *
 * Invariants. Every table belongs to an existing database and every partition and archived
 * version to an existing table: deleting a database deletes its tables, deleting a table its
 * versions and partitions, in the same transaction, as Glue does. Each change is one
 * transaction; a failed change leaves nothing behind (a batch's failed entries excepted: they
 * are reported per entry, the others are made).
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

#include "cat_expr.h"

enum cat_err {
	CAT_ERR_NOT_FOUND = ENOENT,  /* no such database or table */
	CAT_ERR_EXISTS = EEXIST,     /* the name is taken */
	CAT_ERR_INVALID = EINVAL,    /* a name or member breaks Glue's rules */
	CAT_ERR_CONFLICT = EBUSY,    /* UpdateTable's VersionId is not the current one */
	CAT_ERR_IO = EIO,            /* SQLite failed (the connection's errmsg says why) */
	CAT_ERR_VALUES = ERANGE,     /* partition Values do not match the table's PartitionKeys */
	CAT_ERR_CURRENT = EPERM,     /* the table version to delete is the current one */
};

/* The text of -r for r returned by a cat_ function ("not found", ...); "unknown" otherwise. */
const char *cat_err_name(int r);

/* Longest database or table name, in bytes (Glue's limit). */
#define CAT_NAME_MAX 255
/* Longest partition value, in bytes (Glue's ValueString). */
#define CAT_VALUE_MAX 1024

/* Schema steps: steps[v] brings the tables from version v to v + 1. */
#define CAT_STORE_SCHEMA_VERSION 2
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
 * VersionId + 1; the replaced definition is archived as a table version when archive is true.
 * version: the VersionId the caller last read, or -1 for any.
 * Returns 0, -NOT_FOUND, -CONFLICT (version is stale), -INVALID or -IO.
 */
int cat_table_update(struct cat_store *s, const char *db, const json_t *input, int64_t version,
		     bool archive, int64_t now_s);
/*
 * Create the table named by input's Name in db, or update it (archiving the replaced version)
 * when it exists: what a crawler does with what it found. Returns 1 when created, 0 when
 * updated, -NOT_FOUND (db), -INVALID or -IO.
 */
int cat_table_put(struct cat_store *s, const char *db, const json_t *input, int64_t now_s);
/* Delete a table with its versions and partitions. 0, -NOT_FOUND (db or table), -INVALID, -IO. */
int cat_table_delete(struct cat_store *s, const char *db, const char *name);

/* ---- table versions ------------------------------------------------------------------------------ */

/*
 * Up to max versions of table name, newest first, with a VersionId below `before` (-1: from the
 * current one), as a new JSON array of TableVersion objects {Table, VersionId} in *out; *more
 * when older ones follow (the last VersionId returned continues the listing).
 * Returns the count, -NOT_FOUND (db or table), -INVALID or -IO.
 */
int cat_table_version_list(struct cat_store *s, const char *db, const char *name, int64_t before,
			   unsigned max, json_t **out, bool *more);
/* The Table object of version (-1: the current one), a new reference in *out.
 * 0, -NOT_FOUND (db, table or version), -INVALID or -IO. */
int cat_table_version_get(struct cat_store *s, const char *db, const char *name, int64_t version,
			  json_t **out);
/* Delete an archived version. 0, -NOT_FOUND (db, table or version), -CURRENT, -INVALID, -IO. */
int cat_table_version_delete(struct cat_store *s, const char *db, const char *name,
			     int64_t version);

/* ---- partitions ---------------------------------------------------------------------------------- */

/*
 * Create a partition of db.table from a PartitionInput object (Values required; the rest kept as
 * given, with DatabaseName, TableName and CreationTime = now_s added).
 * Returns 0, -NOT_FOUND (db or table), -EXISTS, -VALUES, -INVALID (Values not a list of strings
 * of at most CAT_VALUE_MAX bytes, or a bad name) or -IO.
 */
int cat_partition_create(struct cat_store *s, const char *db, const char *table,
			 const json_t *input, int64_t now_s);
/*
 * Create each PartitionInput of the array inputs in one transaction; results[i] (one per
 * element) is what cat_partition_create would have returned for it. The call returns 0 when the
 * table was found (whatever the entries' results), else -NOT_FOUND, -INVALID or -IO and no entry
 * is made.
 */
int cat_partition_create_batch(struct cat_store *s, const char *db, const char *table,
			       const json_t *inputs, int64_t now_s, int *results);
/*
 * Create the partition input names, or replace it keeping its CreationTime (a crawler's write).
 * Returns 1 created, 0 replaced, or cat_partition_create's errors but -EXISTS.
 */
int cat_partition_put(struct cat_store *s, const char *db, const char *table, const json_t *input,
		      int64_t now_s);
/* The Partition with these Values (a JSON array of strings), a new reference in *out.
 * 0, -NOT_FOUND (db, table or partition), -VALUES, -INVALID or -IO. */
int cat_partition_get(struct cat_store *s, const char *db, const char *table,
		      const json_t *values, json_t **out);

/* What cat_partition_list returns. */
struct cat_partition_query {
	const struct cat_expr *filter;  /* compiled against the table's PartitionKeys; NULL: all */
	unsigned segment, segments;     /* only segment `segment` of `segments` (0 or 1: all) */
	int64_t after;                  /* resume token from a previous page; 0: the first page */
	unsigned max;                   /* page size, >= 1 */
};
/*
 * Up to q->max partitions of db.table that the filter keeps, in creation order, as a new JSON
 * array in *out. *next is the resume token when more follow, else 0.
 * Returns the count, -NOT_FOUND (db or table), -INVALID or -IO.
 */
int cat_partition_list(struct cat_store *s, const char *db, const char *table,
		       const struct cat_partition_query *q, json_t **out, int64_t *next);
/*
 * Replace the partition values with input (whose Values may move it; CreationTime kept).
 * Returns 0, -NOT_FOUND (db, table or partition), -EXISTS (moved onto another), -VALUES,
 * -INVALID or -IO.
 */
int cat_partition_update(struct cat_store *s, const char *db, const char *table,
			 const json_t *values, const json_t *input);
/* 0, -NOT_FOUND (db, table or partition), -VALUES, -INVALID or -IO. */
int cat_partition_delete(struct cat_store *s, const char *db, const char *table,
			 const json_t *values);

#endif
