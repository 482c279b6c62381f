/* SPDX-License-Identifier: MIT */
/*
 * ctl_meta: the metadata database, DATA_DIR/meta.db (SQLite, WAL, synchronous=FULL so that a
 * committed change survives power loss like the logs do).
 *
 * What it owns. The connection and the schema versions: each module that keeps tables here
 * (kinesis streams, catalog, workflows, ...) brings its own schema and upgrades it through
 * ctl_meta_schema(); the module then owns its tables and writes them in transactions
 * (ctl_meta_begin / ctl_meta_commit / ctl_meta_rollback).
 * Threads. The control thread only (one connection, no sharing).
 */
#ifndef CTL_META_H
#define CTL_META_H

#include <sqlite3.h>

struct ctl_meta;

/* Open or create path. Returns 0 or a negative errno after logging why (and what to do). */
int ctl_meta_open(const char *path, struct ctl_meta **ret);
void ctl_meta_close(struct ctl_meta *m);
sqlite3 *ctl_meta_db(struct ctl_meta *m);

/*
 * Bring module's tables to `version`: runs steps[v] for every v from the stored version up to
 * version - 1 (steps[0] creates them), each in one transaction with the version bump.
 * Returns 0 or -EIO after logging the SQLite error.
 */
int ctl_meta_schema(struct ctl_meta *m, const char *module, int version, const char *const *steps);

/* Transactions (BEGIN IMMEDIATE). Return 0 or -EIO after logging. Rollback never fails. */
int ctl_meta_begin(struct ctl_meta *m);
int ctl_meta_commit(struct ctl_meta *m);
void ctl_meta_rollback(struct ctl_meta *m);

/* Run one statement without results (e.g. DDL); -EIO after logging on error. */
int ctl_meta_exec(struct ctl_meta *m, const char *sql);

/* Log the connection's last error for operation `what`; returns -EIO. */
int ctl_meta_fail(struct ctl_meta *m, const char *what);

#endif
