/* SPDX-License-Identifier: MIT */
/* ctl_meta: see ctl_meta.h. */
#include "ctl_meta.h"

#include <errno.h>
#include <stdlib.h>

#include "ctl_log.h"

struct ctl_meta {
	sqlite3 *db;
};

int ctl_meta_fail(struct ctl_meta *m, const char *what)
{
	ctl_log(CTL_LOG_ERR, "metadata database: %s: %s", what, sqlite3_errmsg(m->db));
	return -EIO;
}

int ctl_meta_exec(struct ctl_meta *m, const char *sql)
{
	char *err = NULL;
	if (sqlite3_exec(m->db, sql, NULL, NULL, &err) != SQLITE_OK) {
		ctl_log(CTL_LOG_ERR, "metadata database: %s (in: %.80s)", err ? err : "error", sql);
		sqlite3_free(err);
		return -EIO;
	}
	return 0;
}

int ctl_meta_open(const char *path, struct ctl_meta **ret)
{
	struct ctl_meta *m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	int rc = sqlite3_open_v2(path, &m->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
				 SQLITE_OPEN_NOMUTEX, NULL);
	if (rc != SQLITE_OK) {
		ctl_log(CTL_LOG_ERR, "cannot open metadata database %s: %s; check the data "
			"directory's permissions and free space", path,
			m->db ? sqlite3_errmsg(m->db) : sqlite3_errstr(rc));
		sqlite3_close(m->db);
		free(m);
		return -EIO;
	}
	sqlite3_busy_timeout(m->db, 5000);
	if (ctl_meta_exec(m, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; "
			  "PRAGMA foreign_keys=ON; CREATE TABLE IF NOT EXISTS schema_version("
			  "module TEXT PRIMARY KEY, version INTEGER NOT NULL)") < 0) {
		ctl_log(CTL_LOG_ERR, "%s is not a usable metadata database; move it away to start "
			"afresh (streams on disk are then not served)", path);
		ctl_meta_close(m);
		return -EIO;
	}
	*ret = m;
	return 0;
}

void ctl_meta_close(struct ctl_meta *m)
{
	if (!m)
		return;
	sqlite3_close(m->db);
	free(m);
}

sqlite3 *ctl_meta_db(struct ctl_meta *m)
{
	return m->db;
}

int ctl_meta_begin(struct ctl_meta *m)
{
	return ctl_meta_exec(m, "BEGIN IMMEDIATE");
}

int ctl_meta_commit(struct ctl_meta *m)
{
	if (ctl_meta_exec(m, "COMMIT") < 0) {
		ctl_meta_rollback(m);
		return -EIO;
	}
	return 0;
}

void ctl_meta_rollback(struct ctl_meta *m)
{
	if (!sqlite3_get_autocommit(m->db))
		sqlite3_exec(m->db, "ROLLBACK", NULL, NULL, NULL);
}

static int stored_version(struct ctl_meta *m, const char *module)
{
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(m->db, "SELECT version FROM schema_version WHERE module = ?", -1,
			       &st, NULL) != SQLITE_OK)
		return ctl_meta_fail(m, "reading schema versions");
	sqlite3_bind_text(st, 1, module, -1, SQLITE_STATIC);
	int v = 0;
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	return v;
}

int ctl_meta_schema(struct ctl_meta *m, const char *module, int version, const char *const *steps)
{
	int have = stored_version(m, module);
	if (have < 0)
		return have;
	if (have > version) {
		ctl_log(CTL_LOG_ERR, "metadata for %s is at schema version %d, newer than this "
			"ingestd understands (%d); run the newer ingestd", module, have, version);
		return -EPROTO;
	}
	for (int v = have; v < version; v++) {
		if (ctl_meta_begin(m) < 0)
			return -EIO;
		sqlite3_stmt *st = NULL;
		if (ctl_meta_exec(m, steps[v]) < 0 ||
		    sqlite3_prepare_v2(m->db, "INSERT INTO schema_version(module, version) VALUES(?, ?) "
				       "ON CONFLICT(module) DO UPDATE SET version = excluded.version",
				       -1, &st, NULL) != SQLITE_OK) {
			ctl_meta_rollback(m);
			return -EIO;
		}
		sqlite3_bind_text(st, 1, module, -1, SQLITE_STATIC);
		sqlite3_bind_int(st, 2, v + 1);
		int rc = sqlite3_step(st);
		sqlite3_finalize(st);
		if (rc != SQLITE_DONE) {
			ctl_meta_fail(m, "recording the schema version");
			ctl_meta_rollback(m);
			return -EIO;
		}
		if (ctl_meta_commit(m) < 0)
			return -EIO;
	}
	return 0;
}
