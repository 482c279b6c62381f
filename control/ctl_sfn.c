/* SPDX-License-Identifier: MIT */
/*
 * ctl_sfn runtime: state machines, running executions, their journal and timers, and the tasks
 * they hand out (see ctl_sfn.h for the contract). The API handlers are in ctl_sfn_api.c.
 *
 * Journal format. Table sfn_journal holds, per execution, chunks numbered from 0: one chunk per
 * turn in which the execution emitted events, each a sequence of lines, one event per line:
 *   {"i":ID,"p":PREVIOUS,"t":MS,"y":"TypeName","g":TRIGGER,"r":TRIGGER_REF,"d":DETAILS}
 * (compact JSON never contains a raw newline). A chunk is written in the same transaction as the
 * execution's row, so the row's status and the journal always agree.
 *
 * The order of effects within a turn: the engine runs inputs (API calls, task answers, timers);
 * its events go to each execution's buffer and the tasks it schedules to the held list; the flush
 * commits every buffer, then answers the calls that waited, then hands the held tasks out.
 */
#include "ctl_sfn_internal.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/rand.h>

#include "ctl_b64.h"
#include "ctl_log.h"
#include "ctl_uuid.h"

static const char *const sfn_schema[] = {
	"CREATE TABLE sfn_def(id INTEGER PRIMARY KEY, definition TEXT NOT NULL);"
	"CREATE TABLE sfn_machine(name TEXT PRIMARY KEY, arn TEXT NOT NULL, def_id INTEGER NOT "
	"NULL, role_arn TEXT, type TEXT NOT NULL, created_ms INTEGER NOT NULL, updated_ms INTEGER "
	"NOT NULL, revision INTEGER NOT NULL);"
	"CREATE TABLE sfn_exec(id INTEGER PRIMARY KEY, arn TEXT NOT NULL UNIQUE, machine TEXT NOT "
	"NULL, name TEXT NOT NULL, def_id INTEGER NOT NULL, role_arn TEXT, status TEXT NOT NULL, "
	"input TEXT NOT NULL, output TEXT, error TEXT, cause TEXT, start_ms INTEGER NOT NULL, "
	"stop_ms INTEGER, seed INTEGER NOT NULL);"
	"CREATE INDEX sfn_exec_by_machine ON sfn_exec(machine, id);"
	"CREATE TABLE sfn_journal(exec_id INTEGER NOT NULL, seq INTEGER NOT NULL, events TEXT NOT "
	"NULL, PRIMARY KEY(exec_id, seq)) WITHOUT ROWID;",
};

/* Flush rounds per tick: tasks answered at once (a local stream) lead to another commit. */
#define SFN_FLUSH_ROUNDS 64

sqlite3_stmt *sfn_prep(struct ctl_sfn *s, const char *sql)
{
	sqlite3_stmt *st = NULL;
	if (sqlite3_prepare_v2(ctl_meta_db(s->meta), sql, -1, &st, NULL) != SQLITE_OK) {
		ctl_meta_fail(s->meta, "stepfunctions: prepare");
		return NULL;
	}
	return st;
}

static const char *col(sqlite3_stmt *st, int i)
{
	const char *t = (const char *)sqlite3_column_text(st, i);
	return t ? t : "";
}

const char *sfn_status_name(int status)
{
	switch (status) {
	case WF_EXEC_RUNNING: return "RUNNING";
	case WF_EXEC_SUCCEEDED: return "SUCCEEDED";
	case WF_EXEC_FAILED: return "FAILED";
	case WF_EXEC_TIMED_OUT: return "TIMED_OUT";
	case WF_EXEC_ABORTED: return "ABORTED";
	}
	return "FAILED";
}

/* "arn:aws:states:REGION:ACCOUNT" then ":part" for each part, cut at SFN_ARN_MAX - 1 bytes like
 * the snprintf it replaces: every express execution builds one, and formatting was a quarter of
 * a short execution's time. */
static void sfn_arn(const struct ctl_sfn *s, char arn[SFN_ARN_MAX], const char *const *parts,
		    unsigned n)
{
	size_t at = 0;
	const char *head[] = { "arn:aws:states:", s->region, ":", s->account };
	for (unsigned i = 0; i < 4 + 2 * n; i++) {
		const char *p = i < 4 ? head[i] : (i % 2 == 0 ? ":" : parts[(i - 4) / 2]);
		size_t l = strlen(p);
		if (l > SFN_ARN_MAX - 1 - at)
			l = SFN_ARN_MAX - 1 - at;
		memcpy(arn + at, p, l);
		at += l;
	}
	arn[at] = '\0';
}

void sfn_machine_arn(struct ctl_sfn *s, const char *machine, char arn[SFN_ARN_MAX])
{
	const char *parts[] = { "stateMachine", machine };
	sfn_arn(s, arn, parts, 2);
}

void sfn_exec_arn(struct ctl_sfn *s, bool express, const char *machine, const char *name,
		  char arn[SFN_ARN_MAX])
{
	const char *parts[] = { express ? "express" : "execution", machine, name };
	sfn_arn(s, arn, parts, 3);
}

static uint64_t splitmix(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static void uuid4(struct ctl_sfn *s, char out[37])
{
	uint64_t w[2] = { splitmix(&s->seed_state), splitmix(&s->seed_state) };
	uint8_t b[16];
	memcpy(b, w, sizeof(b));
	ctl_uuid_format(b, out);
}

static unsigned hash_str(const char *p)
{
	uint32_t h = 2166136261u;
	for (; *p; p++)
		h = (h ^ (uint8_t)*p) * 16777619u;
	return h & (SFN_BUCKETS - 1);
}

/* ---- definitions ------------------------------------------------------------------------------ */

static struct sfn_def *def_get(struct ctl_sfn *s, int64_t id)
{
	for (struct sfn_def *d = s->defs; d; d = d->next)
		if (d->id == id) {
			d->refs++;
			return d;
		}
	sqlite3_stmt *q = sfn_prep(s, "SELECT definition FROM sfn_def WHERE id = ?1");
	if (!q)
		return NULL;
	sqlite3_bind_int64(q, 1, id);
	struct sfn_def *d = NULL;
	if (sqlite3_step(q) == SQLITE_ROW) {
		const char *text = col(q, 0);
		char err[512];
		d = calloc(1, sizeof(*d));
		if (d && !(d->text = strdup(text))) {
			free(d);
			d = NULL;
		}
		if (d && wf_machine_parse(text, strlen(text), &d->m, err, sizeof(err)) < 0) {
			ctl_log(CTL_LOG_ERR, "stepfunctions: stored definition %" PRId64 " no longer "
				"compiles (%s); its executions cannot run", id, err);
			free(d->text);
			free(d);
			d = NULL;
		}
		if (d) {
			d->id = id;
			d->refs = 1;
			d->next = s->defs;
			s->defs = d;
		}
	}
	sqlite3_finalize(q);
	return d;
}

static void def_put(struct ctl_sfn *s, struct sfn_def *d)
{
	if (!d || --d->refs)
		return;
	for (struct sfn_def **pp = &s->defs; *pp; pp = &(*pp)->next)
		if (*pp == d) {
			*pp = d->next;
			break;
		}
	wf_machine_free(d->m);
	free(d->text);
	free(d);
}

/* Store a new definition (inside the caller's transaction). */
static int def_add(struct ctl_sfn *s, const char *text, struct wf_machine *m, struct sfn_def **ret)
{
	struct sfn_def *d = calloc(1, sizeof(*d));
	if (!d || !(d->text = strdup(text))) {
		free(d);
		return -ENOMEM;
	}
	sqlite3_stmt *q = sfn_prep(s, "INSERT INTO sfn_def(definition) VALUES(?1)");
	if (!q || (sqlite3_bind_text(q, 1, text, -1, SQLITE_STATIC),
		   sqlite3_step(q) != SQLITE_DONE)) {
		if (q)
			ctl_meta_fail(s->meta, "stepfunctions: store a definition");
		sqlite3_finalize(q);
		free(d->text);
		free(d);
		return -EIO;
	}
	sqlite3_finalize(q);
	d->id = sqlite3_last_insert_rowid(ctl_meta_db(s->meta));
	d->m = m;
	d->refs = 1;
	d->next = s->defs;
	s->defs = d;
	*ret = d;
	return 0;
}

/* ---- machines --------------------------------------------------------------------------------- */

struct sfn_machine *sfn_machine_find(struct ctl_sfn *s, const char *name)
{
	for (struct sfn_machine *m = s->machines; m; m = m->next)
		if (strcmp(m->name, name) == 0)
			return m;
	return NULL;
}

static int machine_write(struct ctl_sfn *s, const struct sfn_machine *m)
{
	sqlite3_stmt *q = sfn_prep(s, "INSERT OR REPLACE INTO sfn_machine(name, arn, def_id, "
				      "role_arn, type, created_ms, updated_ms, revision) "
				      "VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)");
	if (!q)
		return -EIO;
	sqlite3_bind_text(q, 1, m->name, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 2, m->arn, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 3, m->def->id);
	if (m->role_arn)
		sqlite3_bind_text(q, 4, m->role_arn, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 5, m->express ? "EXPRESS" : "STANDARD", -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 6, m->created_ms);
	sqlite3_bind_int64(q, 7, m->updated_ms);
	sqlite3_bind_int64(q, 8, (sqlite3_int64)m->revision);
	int rc = sqlite3_step(q) == SQLITE_DONE ? 0 : ctl_meta_fail(s->meta, "stepfunctions: "
								    "store a state machine");
	sqlite3_finalize(q);
	return rc;
}

static bool same_role(const char *a, const char *b)
{
	return strcmp(a ? a : "", b ? b : "") == 0;
}

int ctl_sfn_machine_create(struct ctl_sfn *s, const char *name, const char *def, size_t len,
			   bool express, const char *role_arn, int64_t now_ms, char arn[256],
			   int64_t *created_ms, char *err, size_t errlen)
{
	struct wf_machine *wm = NULL;
	struct sfn_machine *m = sfn_machine_find(s, name);
	int rc;

	if (m) {
		snprintf(arn, SFN_ARN_MAX, "%s", m->arn);
		*created_ms = m->created_ms;
		if (m->express == express && strlen(m->def->text) == len &&
		    memcmp(m->def->text, def, len) == 0 && same_role(m->role_arn, role_arn))
			return 1;
		return -EEXIST;
	}
	if ((rc = wf_machine_parse(def, len, &wm, err, errlen)) < 0)
		return rc;
	m = calloc(1, sizeof(*m));
	char *text = strndup(def, len);
	if (!m || !text || (role_arn && !(m->role_arn = strdup(role_arn)))) {
		rc = -ENOMEM;
		goto fail;
	}
	snprintf(m->name, sizeof(m->name), "%s", name);
	sfn_machine_arn(s, name, m->arn);
	m->express = express;
	m->created_ms = m->updated_ms = now_ms;
	m->revision = 1;
	if ((rc = ctl_meta_begin(s->meta)) < 0)
		goto fail;
	if ((rc = def_add(s, text, wm, &m->def)) < 0) {
		ctl_meta_rollback(s->meta);
		goto fail;
	}
	wm = NULL;
	if ((rc = machine_write(s, m)) < 0 || (rc = ctl_meta_commit(s->meta)) < 0) {
		ctl_meta_rollback(s->meta);
		def_put(s, m->def);
		goto fail;
	}
	free(text);
	m->next = s->machines;
	s->machines = m;
	snprintf(arn, SFN_ARN_MAX, "%s", m->arn);
	*created_ms = now_ms;
	return 0;
fail:
	free(text);
	wf_machine_free(wm);
	if (m)
		free(m->role_arn);
	free(m);
	return rc;
}

int sfn_machine_update(struct ctl_sfn *s, struct sfn_machine *m, const char *def, size_t len,
		       const char *role_arn, int64_t now_ms, char *err, size_t errlen)
{
	struct wf_machine *wm = NULL;
	struct sfn_def *nd = NULL, *od = m->def;
	char *nrole = NULL, *text = NULL, *orole = m->role_arn;
	int rc;

	if (def) {
		if ((rc = wf_machine_parse(def, len, &wm, err, errlen)) < 0)
			return rc;
		if (!(text = strndup(def, len))) {
			wf_machine_free(wm);
			return -ENOMEM;
		}
	}
	if (role_arn && !(nrole = strdup(role_arn))) {
		free(text);
		wf_machine_free(wm);
		return -ENOMEM;
	}
	if ((rc = ctl_meta_begin(s->meta)) < 0)
		goto fail;
	if (def && (rc = def_add(s, text, wm, &nd)) < 0) {
		ctl_meta_rollback(s->meta);
		goto fail;
	}
	wm = NULL;
	if (nd)
		m->def = nd;
	if (nrole)
		m->role_arn = nrole;
	m->updated_ms = now_ms;
	m->revision++;
	if ((rc = machine_write(s, m)) < 0 || (rc = ctl_meta_commit(s->meta)) < 0) {
		ctl_meta_rollback(s->meta);
		m->def = od;
		m->role_arn = orole;
		m->revision--;
		def_put(s, nd);
		goto fail;
	}
	if (nd)
		def_put(s, od);
	if (nrole)
		free(orole);
	free(text);
	return 0;
fail:
	if (m->role_arn != nrole)
		free(nrole);
	free(text);
	wf_machine_free(wm);
	return rc;
}

int sfn_machine_delete(struct ctl_sfn *s, struct sfn_machine *m)
{
	sqlite3_stmt *q = sfn_prep(s, "DELETE FROM sfn_machine WHERE name = ?1");
	if (!q)
		return -EIO;
	sqlite3_bind_text(q, 1, m->name, -1, SQLITE_STATIC);
	int rc = sqlite3_step(q) == SQLITE_DONE ? 0 : ctl_meta_fail(s->meta, "stepfunctions: "
								    "delete a state machine");
	sqlite3_finalize(q);
	if (rc < 0)
		return rc;
	for (struct sfn_machine **pp = &s->machines; *pp; pp = &(*pp)->next)
		if (*pp == m) {
			*pp = m->next;
			break;
		}
	def_put(s, m->def);
	free(m->role_arn);
	free(m);
	return 0;
}

static int load_machines(struct ctl_sfn *s)
{
	sqlite3_stmt *q = sfn_prep(s, "SELECT name, arn, def_id, role_arn, type, created_ms, "
				      "updated_ms, revision FROM sfn_machine");
	if (!q)
		return -EIO;
	int rc = 0;
	while (sqlite3_step(q) == SQLITE_ROW) {
		struct sfn_machine *m = calloc(1, sizeof(*m));
		if (!m) {
			rc = -ENOMEM;
			break;
		}
		snprintf(m->name, sizeof(m->name), "%s", col(q, 0));
		snprintf(m->arn, sizeof(m->arn), "%s", col(q, 1));
		if (sqlite3_column_type(q, 3) != SQLITE_NULL)
			m->role_arn = strdup(col(q, 3));
		m->express = strcmp(col(q, 4), "EXPRESS") == 0;
		m->created_ms = sqlite3_column_int64(q, 5);
		m->updated_ms = sqlite3_column_int64(q, 6);
		m->revision = (uint64_t)sqlite3_column_int64(q, 7);
		if (!(m->def = def_get(s, sqlite3_column_int64(q, 2)))) {
			ctl_log(CTL_LOG_WARN, "stepfunctions: state machine %s is skipped: its "
				"definition cannot be loaded", m->name);
			free(m->role_arn);
			free(m);
			continue;
		}
		m->next = s->machines;
		s->machines = m;
	}
	sqlite3_finalize(q);
	return rc;
}

/* ---- running executions ----------------------------------------------------------------------- */

static struct sfn_exec *exec_by_id(struct ctl_sfn *s, int64_t id)
{
	for (struct sfn_exec *e = s->by_id[(uint64_t)id & (SFN_BUCKETS - 1)]; e; e = e->next_id)
		if (e->id == id)
			return e;
	return NULL;
}

struct sfn_exec *sfn_exec_find_arn(struct ctl_sfn *s, const char *arn)
{
	const char *name = strrchr(arn, ':');
	if (!name)
		return NULL;
	for (struct sfn_exec *e = s->by_name[hash_str(name + 1)]; e; e = e->next_name)
		if (strcmp(e->arn, arn) == 0)
			return e;
	return NULL;
}

struct sfn_exec *sfn_exec_find_token(struct ctl_sfn *s, const char *token, uint64_t *tok)
{
	const char *colon = strrchr(token, ':');
	char name[SFN_NAME_MAX + 1], *end;
	if (!colon || colon == token || (size_t)(colon - token) > SFN_NAME_MAX || !colon[1])
		return NULL;
	errno = 0;
	unsigned long long n = strtoull(colon + 1, &end, 10);
	if (*end || errno || n == 0)
		return NULL;
	snprintf(name, sizeof(name), "%.*s", (int)(colon - token), token);
	*tok = n;
	for (struct sfn_exec *e = s->by_name[hash_str(name)]; e; e = e->next_name)
		if (strcmp(e->name, name) == 0 && e->wf &&
		    wf_exec_status(e->wf) == WF_EXEC_RUNNING)
			return e;
	return NULL;
}

static void exec_link(struct ctl_sfn *s, struct sfn_exec *e)
{
	unsigned a = (uint64_t)e->id & (SFN_BUCKETS - 1), b = hash_str(e->name);
	e->next_id = s->by_id[a];
	s->by_id[a] = e;
	e->next_name = s->by_name[b];
	s->by_name[b] = e;
	s->n_running++;
}

static void exec_unlink(struct ctl_sfn *s, struct sfn_exec *e)
{
	struct sfn_exec **pp;
	for (pp = &s->by_id[(uint64_t)e->id & (SFN_BUCKETS - 1)]; *pp; pp = &(*pp)->next_id)
		if (*pp == e) {
			*pp = e->next_id;
			break;
		}
	for (pp = &s->by_name[hash_str(e->name)]; *pp; pp = &(*pp)->next_name)
		if (*pp == e) {
			*pp = e->next_name;
			break;
		}
	s->n_running--;
}

static void task_free(struct sfn_task *t)
{
	if (!t)
		return;
	free(t->resource);
	json_decref(t->input);
	free(t);
}

static int64_t wall_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void exec_free(struct ctl_sfn *s, struct sfn_exec *e)
{
	if (!e)
		return;
	if (e->dirty)
		for (struct sfn_exec **pp = &s->dirty; *pp; pp = &(*pp)->next_dirty)
			if (*pp == e) {
				*pp = e->next_dirty;
				break;
			}
	free(e->role);
	wf_exec_free(e->wf);
	def_put(s, e->def);
	free(e->input);
	free(e->jbuf);
	free(e);
}

static void mark_dirty(struct ctl_sfn *s, struct sfn_exec *e)
{
	if (e->express || e->dirty)
		return;
	e->dirty = true;
	e->next_dirty = s->dirty;
	s->dirty = e;
}

static void queue_answer(struct ctl_sfn *s, int64_t exec_id, uint64_t token, bool ok,
			 json_t *output, const char *error, const char *cause);

/* Engine callbacks. They only record: the engine must not be re-entered from them. */

static int jbuf_reserve(struct sfn_exec *e, size_t more)
{
	if (e->jlen + more <= e->jcap)
		return 0;
	size_t cap = e->jcap ? e->jcap : 1024;
	while (cap < e->jlen + more)
		cap *= 2;
	char *n = realloc(e->jbuf, cap);
	if (!n)
		return -ENOMEM;
	e->jbuf = n;
	e->jcap = cap;
	return 0;
}

/* Append one event to the turn's journal text (see the format at the top). */
static void on_event(void *arg, const struct wf_event *ev)
{
	struct sfn_exec *e = arg;
	struct ctl_sfn *s = e->s_back;
	const char *type = wf_event_type_name(ev->type);
	size_t tl = strlen(type);
	s->st.journal_events++;
	mark_dirty(s, e);
	if (ev->trigger == WF_TRIGGER_NONE) {
		if (jbuf_reserve(e, tl + 1) < 0)
			goto lost;
		memcpy(e->jbuf + e->jlen, type, tl);
		e->jbuf[e->jlen + tl] = '\n';
		e->jlen += tl + 1;
		return;
	}
	json_t *d = NULL;
	const char *raw = NULL;   /* details already in JSON text */
	char head[160];
	if (ev->trigger == WF_TRIGGER_START) {
		raw = e->input;
	} else if (ev->type == WF_EV_TaskSucceeded) {
		d = json_pack("{s:O}", "output", e->in_output ? e->in_output : json_null());
	} else if (ev->trigger == WF_TRIGGER_TASK || ev->trigger == WF_TRIGGER_STOP) {
		d = json_pack("{s:s?, s:s?}", "error", e->in_error, "cause", e->in_cause);
	}
	int hn = snprintf(head, sizeof(head), "%s %" PRId64 " %d %" PRIu64 " ", type, ev->time_ms,
			  (int)ev->trigger, ev->trigger_ref);
	size_t dn = raw ? strlen(raw) + 11 : d ? json_dumpb(d, NULL, 0, JSON_COMPACT) : 4;
	if (jbuf_reserve(e, (size_t)hn + dn + 1) < 0) {
		json_decref(d);
		goto lost;
	}
	memcpy(e->jbuf + e->jlen, head, (size_t)hn);
	e->jlen += (size_t)hn;
	if (raw) {
		char *w = e->jbuf + e->jlen;
		e->jlen += (size_t)sprintf(w, "{\"input\":%s}", raw);
		/* A raw newline in JSON text can only be whitespace: keep the line whole. */
		for (; (w = memchr(w, '\n', (size_t)(e->jbuf + e->jlen - w))); w++)
			*w = ' ';
	} else if (d) {
		json_dumpb(d, e->jbuf + e->jlen, dn, JSON_COMPACT);
		e->jlen += dn;
	} else {
		memcpy(e->jbuf + e->jlen, "null", 4);
		e->jlen += 4;
	}
	e->jbuf[e->jlen++] = '\n';
	json_decref(d);
	return;
lost:
	/* The execution goes on in memory; after a restart it cannot be resumed (its journal has
	 * a gap) and is closed with the reason. */
	e->journal_lost = true;
}

static void on_task(void *arg, const struct wf_task_req *req)
{
	struct sfn_exec *e = arg;
	struct ctl_sfn *s = e->s_back;
	struct sfn_task *t = calloc(1, sizeof(*t));
	if (!t || !(t->resource = strdup(req->resource))) {
		free(t);
		/* Reported as the task's failure once the engine returns. */
		queue_answer(s, e->id, req->token, false, NULL, "States.Runtime",
			     "out of memory scheduling the task");
		return;
	}
	t->exec_id = e->id;
	t->token = req->token;
	t->input = json_incref(req->input);
	t->s = s;
	s->st.tasks_issued++;
	/* Standard executions hand a task out only once the event that scheduled it is durable. */
	if (e->express) {
		*s->ready_tail = t;
		s->ready_tail = &t->next;
	} else {
		*s->held_tail = t;
		s->held_tail = &t->next;
	}
}

static void drop_task(struct sfn_task **head, struct sfn_task ***tail, int64_t exec_id,
		      uint64_t token)
{
	for (struct sfn_task **pp = head; *pp; pp = &(*pp)->next) {
		struct sfn_task *t = *pp;
		if (t->exec_id == exec_id && t->token == token) {
			*pp = t->next;
			if (!*pp)
				*tail = pp;
			task_free(t);
			return;
		}
	}
}

static void on_task_cancel(void *arg, uint64_t token)
{
	struct sfn_exec *e = arg;
	struct ctl_sfn *s = e->s_back;
	drop_task(&s->held, &s->held_tail, e->id, token);
	drop_task(&s->ready, &s->ready_tail, e->id, token);
}

static void heap_swap(struct sfn_timer *a, struct sfn_timer *b)
{
	struct sfn_timer t = *a;
	*a = *b;
	*b = t;
}

static void on_timer(void *arg, uint64_t timer_id, int64_t due_ms)
{
	struct sfn_exec *e = arg;
	struct ctl_sfn *s = e->s_back;
	if (s->n_timers == s->cap_timers) {
		size_t cap = s->cap_timers ? 2 * s->cap_timers : 64;
		struct sfn_timer *n = realloc(s->timers, cap * sizeof(*n));
		if (!n) {
			ctl_log(CTL_LOG_ERR, "stepfunctions: out of memory arming a timer of %s; it "
				"fires at the next restart", e->arn);
			return;
		}
		s->timers = n;
		s->cap_timers = cap;
	}
	size_t i = s->n_timers++;
	s->timers[i] = (struct sfn_timer){ .due = due_ms, .exec_id = e->id, .timer_id = timer_id };
	while (i > 0 && s->timers[(i - 1) / 2].due > s->timers[i].due) {
		heap_swap(&s->timers[(i - 1) / 2], &s->timers[i]);
		i = (i - 1) / 2;
	}
}

static struct sfn_timer heap_pop(struct ctl_sfn *s)
{
	struct sfn_timer top = s->timers[0];
	s->timers[0] = s->timers[--s->n_timers];
	for (size_t i = 0;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;
		if (l < s->n_timers && s->timers[l].due < s->timers[m].due)
			m = l;
		if (r < s->n_timers && s->timers[r].due < s->timers[m].due)
			m = r;
		if (m == i)
			break;
		heap_swap(&s->timers[i], &s->timers[m]);
		i = m;
	}
	return top;
}

/* ---- waiters ---------------------------------------------------------------------------------- */

static void waiter_unlink(struct sfn_waiter *w)
{
	if (w->prev)
		w->prev->next = w->next;
	else if (w->s->replies == w)
		w->s->replies = w->next;
	if (w->next)
		w->next->prev = w->prev;
	w->prev = w->next = NULL;
}

/* The call went away before its answer. */
static void waiter_gone(void *arg)
{
	struct sfn_waiter *w = arg;
	if (w->ex)
		w->ex->sync = NULL;
	else
		waiter_unlink(w);
	json_decref(w->out);
	free(w);
}

static void waiter_answer(struct sfn_waiter *w, json_t *out)
{
	struct ctl_aws_call *c = w->call;
	ctl_aws_set_state(c, NULL, NULL);
	json_decref(w->out);
	free(w);
	if (out)
		ctl_aws_ok(c, out);
	else
		ctl_aws_internal(c, "the metadata database could not record the change");
}

void sfn_reply_after_commit(struct ctl_sfn *s, struct ctl_aws_call *c, json_t *out)
{
	struct sfn_waiter *w = calloc(1, sizeof(*w));
	if (!w) {
		json_decref(out);
		ctl_aws_internal(c, "out of memory");
		return;
	}
	w->s = s;
	w->call = c;
	w->out = out;
	w->next = s->replies;
	if (s->replies)
		s->replies->prev = w;
	s->replies = w;
	ctl_aws_defer(c);
	ctl_aws_set_state(c, w, waiter_gone);
	if (s->loop && !s->in_tick)
		ctl_loop_wake(s->loop);
}

static json_t *json_text_value(const char *text)
{
	return text ? json_string(text) : NULL;
}

/* StartSyncExecution's answer for a finished execution. */
static json_t *sync_answer(struct ctl_sfn *s, struct sfn_exec *e)
{
	char marn[SFN_ARN_MAX];
	int st = wf_exec_status(e->wf);
	sfn_machine_arn(s, e->machine, marn);
	json_t *o = json_pack("{s:s, s:s, s:s, s:o, s:o, s:s, s:s, s:{s:b}, s:{s:I, s:I}}",
			      "executionArn", e->arn, "stateMachineArn", marn, "name", e->name,
			      "startDate", ctl_aws_time_json(e->start_ms), "stopDate",
			      ctl_aws_time_json(e->stop_ms), "status", sfn_status_name(st),
			      "input", e->input, "inputDetails", "included", 1, "billingDetails",
			      "billedMemoryUsedInMB", (json_int_t)64, "billedDurationInMilliseconds",
			      (json_int_t)(e->stop_ms - e->start_ms + 100) / 100 * 100);
	if (!o)
		return NULL;
	if (st == WF_EXEC_SUCCEEDED) {
		char *out = json_dumps(wf_exec_output(e->wf), JSON_COMPACT | JSON_ENCODE_ANY);
		json_object_set_new(o, "output", json_text_value(out));
		json_object_set_new(o, "outputDetails", json_pack("{s:b}", "included", 1));
		free(out);
	} else {
		if (wf_exec_error(e->wf))
			json_object_set_new(o, "error", json_string(wf_exec_error(e->wf)));
		if (wf_exec_cause(e->wf))
			json_object_set_new(o, "cause", json_string(wf_exec_cause(e->wf)));
	}
	return o;
}

/* After any input to e's engine: account for a finished execution. */
static void exec_settle(struct ctl_sfn *s, struct sfn_exec *e, int64_t now_ms)
{
	if (!e->wf || wf_exec_status(e->wf) == WF_EXEC_RUNNING || e->stop_ms)
		return;
	e->stop_ms = now_ms;
	s->st.executions_closed++;
	s->st.transitions += wf_exec_transitions(e->wf);
	if (e->sync) {
		struct sfn_waiter *w = e->sync;
		e->sync = NULL;
		waiter_answer(w, sync_answer(s, e));
	}
	if (e->express) {
		exec_unlink(s, e);
		exec_free(s, e);
	} else {
		mark_dirty(s, e);
	}
}

static struct wf_host exec_host(struct sfn_exec *e)
{
	struct wf_host h = {
		.task = on_task, .task_cancel = on_task_cancel, .timer = on_timer,
		.event = e->express ? NULL : on_event, .arg = e, .no_details = true,
	};
	return h;
}

static void exec_info(struct ctl_sfn *s, struct sfn_exec *e, const char *role,
		      struct wf_exec_info *info, char marn[SFN_ARN_MAX])
{
	sfn_machine_arn(s, e->machine, marn);
	*info = (struct wf_exec_info){
		.execution_arn = e->arn, .name = e->name, .state_machine_arn = marn,
		.state_machine_name = e->machine, .role_arn = role, .seed = e->seed,
	};
}

/* Existing execution @arn with its input: 1 same input, -EEXIST other input, 0 none. */
static int exec_existing(struct ctl_sfn *s, const char *arn, const char *input, size_t len)
{
	struct sfn_exec *e = sfn_exec_find_arn(s, arn);
	if (e)
		return strlen(e->input) == len && memcmp(e->input, input, len) == 0 ? 1 : -EEXIST;
	sqlite3_stmt *q = sfn_prep(s, "SELECT input FROM sfn_exec WHERE arn = ?1");
	if (!q)
		return -EIO;
	sqlite3_bind_text(q, 1, arn, -1, SQLITE_STATIC);
	int rc = 0;
	if (sqlite3_step(q) == SQLITE_ROW) {
		const char *in = col(q, 0);
		rc = strlen(in) == len && memcmp(in, input, len) == 0 ? 1 : -EEXIST;
	}
	sqlite3_finalize(q);
	return rc;
}

int sfn_exec_start(struct ctl_sfn *s, struct sfn_machine *m, const char *name,
		   const char *input, size_t len, int64_t now_ms, struct ctl_aws_call *sync,
		   char arn[SFN_ARN_MAX])
{
	char uuid[37], marn[SFN_ARN_MAX];
	json_error_t jerr;
	int rc;

	if (!name) {
		uuid4(s, uuid);
		name = uuid;
	}
	sfn_exec_arn(s, m->express, m->name, name, arn);
	if (name != uuid && !sync && (rc = exec_existing(s, arn, input, len)) != 0)
		return rc;
	json_t *in = json_loadb(input, len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
	if (!in)
		return -EINVAL;
	struct sfn_exec *e = calloc(1, sizeof(*e));
	if (!e || !(e->input = strndup(input, len))) {
		free(e);
		json_decref(in);
		return -ENOMEM;
	}
	e->s_back = s;
	e->id = s->next_exec_id++;
	snprintf(e->arn, sizeof(e->arn), "%s", arn);
	snprintf(e->name, sizeof(e->name), "%s", name);
	snprintf(e->machine, sizeof(e->machine), "%s", m->name);
	e->express = m->express;
	e->def = m->def;
	e->def->refs++;
	e->start_ms = now_ms;
	e->seed = splitmix(&s->seed_state);
	e->role = m->role_arn ? strdup(m->role_arn) : NULL;
	struct wf_exec_info info;
	exec_info(s, e, e->role, &info, marn);
	struct wf_host h = exec_host(e);
	exec_link(s, e);
	s->st.executions_started++;
	if (sync) {
		struct sfn_waiter *w = calloc(1, sizeof(*w));
		if (w) {
			w->s = s;
			w->call = sync;
			w->ex = e;
			e->sync = w;
			ctl_aws_defer(sync);
			ctl_aws_set_state(sync, w, waiter_gone);
		}
	}
	mark_dirty(s, e);
	rc = wf_exec_start(e->def->m, &info, &h, in, now_ms, &e->wf);
	json_decref(in);
	if (rc < 0) {
		if (e->sync) {
			struct sfn_waiter *w = e->sync;
			ctl_aws_set_state(w->call, NULL, NULL);
			free(w);
			e->sync = NULL;
		}
		exec_unlink(s, e);
		exec_free(s, e);
		return rc;
	}
	wf_exec_run(e->wf);
	exec_settle(s, e, now_ms);
	sfn_pump(s);
	return 0;
}

int ctl_sfn_exec_start(struct ctl_sfn *s, const char *machine, const char *name,
		       const char *input, size_t len, int64_t now_ms, char arn[256])
{
	struct sfn_machine *m = sfn_machine_find(s, machine);
	if (!m)
		return -ENOENT;
	return sfn_exec_start(s, m, name, input, len, now_ms, NULL, arn);
}

/* The benchmark's express path: no history, no task, no timer. */
struct sync_probe {
	bool blocked;
};

static void probe_task(void *arg, const struct wf_task_req *req)
{
	(void)req;
	((struct sync_probe *)arg)->blocked = true;
}

static void probe_timer(void *arg, uint64_t id, int64_t due)
{
	(void)id;
	(void)due;
	((struct sync_probe *)arg)->blocked = true;
}

int ctl_sfn_exec_run_sync(struct ctl_sfn *s, const char *machine, json_t *input, int64_t now_ms,
			  int *status, json_t **output)
{
	struct sfn_machine *m = sfn_machine_find(s, machine);
	char uuid[37], arn[SFN_ARN_MAX];
	struct wf_exec *wf = NULL;
	struct sync_probe p = { 0 };
	if (!m)
		return -ENOENT;
	uuid4(s, uuid);
	sfn_exec_arn(s, true, m->name, uuid, arn);
	struct wf_exec_info info = {
		.execution_arn = arn, .name = uuid, .state_machine_arn = m->arn,
		.state_machine_name = m->name, .role_arn = m->role_arn,
		.seed = splitmix(&s->seed_state),
	};
	struct wf_host h = { .task = probe_task, .timer = probe_timer, .arg = &p };
	int rc = wf_exec_start(m->def->m, &info, &h, input, now_ms, &wf);
	if (rc < 0)
		return rc;
	rc = wf_exec_run(wf);
	if (rc >= 0 && wf_exec_status(wf) == WF_EXEC_RUNNING) {
		wf_exec_stop(wf, NULL, NULL, now_ms);
		rc = -EAGAIN;
	}
	s->st.executions_started++;
	s->st.executions_closed++;
	s->st.transitions += wf_exec_transitions(wf);
	*status = (int)wf_exec_status(wf);
	*output = json_incref(wf_exec_output(wf));
	wf_exec_free(wf);
	return rc < 0 ? rc : 0;
}

/* ---- tasks ------------------------------------------------------------------------------------ */

/* Queue an answer; applied by the next pump (never from inside the engine's callbacks). */
static void queue_answer(struct ctl_sfn *s, int64_t exec_id, uint64_t token, bool ok,
			 json_t *output, const char *error, const char *cause)
{
	struct sfn_done *d = calloc(1, sizeof(*d));
	if (!d) {
		ctl_log(CTL_LOG_ERR, "stepfunctions: out of memory applying a task's answer; the "
			"task stays open until its timeout or a restart");
		return;
	}
	d->exec_id = exec_id;
	d->token = token;
	d->ok = ok;
	d->output = json_incref(output);
	d->error = error ? strdup(error) : NULL;
	d->cause = cause ? strdup(cause) : NULL;
	*s->done_tail = d;
	s->done_tail = &d->next;
}

void sfn_task_answer(struct ctl_sfn *s, int64_t exec_id, uint64_t token, bool ok,
		     json_t *output, const char *error, const char *cause)
{
	queue_answer(s, exec_id, token, ok, output, error, cause);
	sfn_pump(s);
}

/* The error an integration's answer carries: "<Service>.<type>" and a readable cause. */
static void integration_error(struct sfn_task *t, unsigned status, const char *body, size_t len)
{
	json_t *j = body ? json_loadb(body, len, 0, NULL) : NULL;
	const char *type = json_string_value(json_object_get(j, "__type"));
	const char *msg = json_string_value(json_object_get(j, "message"));
	if (!msg)
		msg = json_string_value(json_object_get(j, "Message"));
	if (type && strchr(type, '#'))
		type = strchr(type, '#') + 1;
	char err[160], cause[1024];
	snprintf(err, sizeof(err), "%s.%s", t->service, type ? type : "ServiceException");
	snprintf(cause, sizeof(cause), "%s (Service: %s, Status Code: %u, Error Code: %s)",
		 msg ? msg : "no message", t->service, status, type ? type : "ServiceException");
	sfn_task_answer(t->s, t->exec_id, t->token, false, NULL, err, cause);
	json_decref(j);
}

static void integration_reply(void *arg, unsigned status, const char *ctype, char *body,
			      size_t len, const char *rid, const char *const *headers)
{
	struct sfn_task *t = arg;
	(void)ctype;
	(void)rid;
	(void)headers;
	if (status >= 300) {
		integration_error(t, status, body, len);
	} else if (!t->callback) {
		json_t *out = len ? json_loadb(body, len, 0, NULL) : json_object();
		if (!out)
			out = json_object();
		sfn_task_answer(t->s, t->exec_id, t->token, true, out, NULL, NULL);
		json_decref(out);
	}
	free(body);
	task_free(t);
}

/* A function's answer (the invoker's done). */
static void function_done(void *arg, bool ok, const char *text, size_t n)
{
	struct sfn_task *t = arg;
	json_t *j = text && n ? json_loadb(text, n, JSON_DECODE_ANY, NULL) : json_null();
	if (ok && !t->callback) {
		if (!j)
			j = json_stringn(text, n);
		json_t *out = j;
		if (t->lambda_invoke) {
			char rid[37];
			uuid4(t->s, rid);
			out = json_pack("{s:s, s:O, s:{s:{}, s:I}, s:{s:s}, s:I}", "ExecutedVersion",
					"$LATEST", "Payload", j, "SdkHttpMetadata", "HttpHeaders",
					"HttpStatusCode", (json_int_t)200, "SdkResponseMetadata",
					"RequestId", rid, "StatusCode", (json_int_t)200);
			json_decref(j);
		}
		sfn_task_answer(t->s, t->exec_id, t->token, true, out, NULL, NULL);
		json_decref(out);
	} else if (!ok) {
		const char *type = json_string_value(json_object_get(j, "errorType"));
		char *cause = strndup(text ? text : "", text ? n : 0);
		sfn_task_answer(t->s, t->exec_id, t->token, false, NULL, type ? type : "Lambda.Unknown",
				cause);
		free(cause);
		json_decref(j);
	} else {
		json_decref(j);
	}
	task_free(t);
}

/* Step Functions' Kinesis integration: Data is sent as text (a JSON value other than a string
 * as its JSON text). */
static char *kinesis_put_body(json_t *in)
{
	json_t *data = json_object_get(in, "Data");
	char *raw = json_is_string(data) ? strdup(json_string_value(data))
					 : json_dumps(data ? data : json_null(),
						      JSON_COMPACT | JSON_ENCODE_ANY);
	if (!raw)
		return NULL;
	size_t n = strlen(raw);
	char *b64 = malloc(ctl_b64_enc_len(n) + 1);
	char *body = NULL;
	if (b64) {
		ctl_b64_encode(raw, n, b64);
		json_t *o = json_deep_copy(in);
		if (o) {
			json_object_set_new(o, "Data", json_string(b64));
			body = json_dumps(o, JSON_COMPACT);
			json_decref(o);
		}
	}
	free(b64);
	free(raw);
	return body;
}

static void dispatch_fail(struct sfn_task *t, const char *error, const char *cause)
{
	sfn_task_answer(t->s, t->exec_id, t->token, false, NULL, error, cause);
	task_free(t);
}

/* Hand one task to its resource. Ownership of t passes. */
static void dispatch(struct ctl_sfn *s, struct sfn_task *t)
{
	char res[300], target[320], cause[700];
	const char *base;
	snprintf(res, sizeof(res), "%s", t->resource);
	size_t rl = strlen(res);
	static const char cb[] = ".waitForTaskToken";
	if (rl > sizeof(cb) - 1 && strcmp(res + rl - (sizeof(cb) - 1), cb) == 0) {
		t->callback = true;
		res[rl - (sizeof(cb) - 1)] = '\0';
	}
	struct sfn_exec *e = exec_by_id(s, t->exec_id);
	if (!e || !e->wf || wf_exec_status(e->wf) != WF_EXEC_RUNNING) {
		task_free(t);
		return;
	}
	const char *fn = NULL;
	char *payload = NULL;
	if (strncmp(res, "arn:aws:lambda:", 15) == 0 && strstr(res, ":function:")) {
		fn = res;
		payload = json_dumps(t->input, JSON_COMPACT | JSON_ENCODE_ANY);
	} else if (strcmp(res, "arn:aws:states:::lambda:invoke") == 0) {
		fn = json_string_value(json_object_get(t->input, "FunctionName"));
		json_t *p = json_object_get(t->input, "Payload");
		/* No Payload: the function gets an empty object, as Lambda's Invoke does. */
		payload = p ? json_dumps(p, JSON_COMPACT | JSON_ENCODE_ANY) : strdup("{}");
		t->lambda_invoke = true;
		if (!fn) {
			free(payload);
			dispatch_fail(t, "States.Runtime",
				      "The Parameters of arn:aws:states:::lambda:invoke must name a "
				      "FunctionName");
			return;
		}
	}
	if (fn) {
		if (!payload) {
			dispatch_fail(t, "States.Runtime", "out of memory building the payload");
			return;
		}
		if (!s->invoker.invoke) {
			free(payload);
			dispatch_fail(t, "States.TaskFailed", "functions are not available");
			return;
		}
		int rc = s->invoker.invoke(s->invoker.arg, fn, payload, strlen(payload),
					   function_done, t);
		free(payload);
		if (rc < 0) {
			snprintf(cause, sizeof(cause), "Function not found: %s (%s)", fn,
				 strerror(-rc));
			dispatch_fail(t, rc == -ENOENT ? "Lambda.ResourceNotFoundException"
						       : "Lambda.ServiceException", cause);
		}
		return;
	}
	char *body = NULL;
	if (strcmp(res, "arn:aws:states:::kinesis:putRecord") == 0) {
		snprintf(target, sizeof(target), "Kinesis_20131202.PutRecord");
		snprintf(t->service, sizeof(t->service), "Kinesis");
		body = kinesis_put_body(t->input);
	} else if (strncmp(res, "arn:aws:states:::aws-sdk:glue:", 30) == 0 && res[30]) {
		base = res + 30;
		snprintf(target, sizeof(target), "AWSGlue.%c%s",
			 base[0] >= 'a' && base[0] <= 'z' ? base[0] - 'a' + 'A' : base[0], base + 1);
		snprintf(t->service, sizeof(t->service), "Glue");
		body = json_dumps(t->input, JSON_COMPACT | JSON_ENCODE_ANY);
	} else {
		snprintf(cause, sizeof(cause), "The resource '%s' is not supported by this "
			 "appliance", t->resource);
		dispatch_fail(t, "States.TaskFailed", cause);
		return;
	}
	if (!body || !s->aws) {
		free(body);
		dispatch_fail(t, "States.TaskFailed", body ? "service integrations are not available"
							   : "out of memory building the request");
		return;
	}
	struct ctl_aws_request rq = {
		.method = "POST", .path = "/", .target = target, .trusted = true,
		.content_type = "application/x-amz-json-1.1", .body = body, .len = strlen(body),
	};
	ctl_aws_invoke_detached(s->aws, &rq, integration_reply, t);
	free(body);
}

static void apply_done(struct ctl_sfn *s, struct sfn_done *d)
{
	struct sfn_exec *e = exec_by_id(s, d->exec_id);
	if (e && e->wf && wf_exec_status(e->wf) == WF_EXEC_RUNNING) {
		int64_t now = wall_ms();
		e->in_output = d->output;
		e->in_error = d->error;
		e->in_cause = d->cause;
		wf_exec_task_done(e->wf, d->token, d->ok, d->output, d->error, d->cause, now);
		e->in_output = NULL;
		e->in_error = e->in_cause = NULL;
		exec_settle(s, e, now);
	}
	json_decref(d->output);
	free(d->error);
	free(d->cause);
	free(d);
}

void sfn_pump(struct ctl_sfn *s)
{
	if (s->pumping)
		return;
	s->pumping = true;
	while (s->ready || s->done) {
		while (s->ready) {
			struct sfn_task *t = s->ready;
			s->ready = t->next;
			if (!s->ready)
				s->ready_tail = &s->ready;
			t->next = NULL;
			dispatch(s, t);
		}
		while (s->done) {
			struct sfn_done *d = s->done;
			s->done = d->next;
			if (!s->done)
				s->done_tail = &s->done;
			apply_done(s, d);
		}
	}
	s->pumping = false;
	if ((s->dirty || s->held) && s->loop && !s->in_tick)
		ctl_loop_wake(s->loop);
}

int sfn_task_heartbeat(struct ctl_sfn *s, struct sfn_exec *e, uint64_t token, int64_t now_ms)
{
	(void)s;
	return wf_exec_task_heartbeat(e->wf, token, now_ms);
}

int sfn_task_report(struct ctl_sfn *s, struct sfn_exec *e, uint64_t token, bool ok,
		    json_t *output, const char *error, const char *cause, int64_t now_ms)
{
	e->in_output = output;
	e->in_error = error;
	e->in_cause = cause;
	int rc = wf_exec_task_done(e->wf, token, ok, output, error, cause, now_ms);
	e->in_output = NULL;
	e->in_error = e->in_cause = NULL;
	exec_settle(s, e, now_ms);
	sfn_pump(s);
	return rc;
}

int sfn_exec_stop(struct ctl_sfn *s, struct sfn_exec *e, const char *error, const char *cause,
		  int64_t now_ms)
{
	e->in_error = error;
	e->in_cause = cause;
	int rc = wf_exec_stop(e->wf, error, cause, now_ms);
	e->in_error = e->in_cause = NULL;
	exec_settle(s, e, now_ms);
	sfn_pump(s);
	return rc;
}

/* ---- the journal ------------------------------------------------------------------------------ */

static int bind_result(sqlite3_stmt *q, struct sfn_exec *e, int at)
{
	int st = wf_exec_status(e->wf);
	sqlite3_bind_text(q, at, sfn_status_name(st), -1, SQLITE_STATIC);
	char *out = NULL;
	if (st == WF_EXEC_SUCCEEDED) {
		out = json_dumps(wf_exec_output(e->wf), JSON_COMPACT | JSON_ENCODE_ANY);
		if (!out)
			return -ENOMEM;
		sqlite3_bind_text(q, at + 1, out, -1, free);
	} else {
		sqlite3_bind_null(q, at + 1);
	}
	if (st != WF_EXEC_RUNNING && wf_exec_error(e->wf))
		sqlite3_bind_text(q, at + 2, wf_exec_error(e->wf), -1, SQLITE_TRANSIENT);
	else
		sqlite3_bind_null(q, at + 2);
	if (st != WF_EXEC_RUNNING && wf_exec_cause(e->wf))
		sqlite3_bind_text(q, at + 3, wf_exec_cause(e->wf), -1, SQLITE_TRANSIENT);
	else
		sqlite3_bind_null(q, at + 3);
	if (st != WF_EXEC_RUNNING)
		sqlite3_bind_int64(q, at + 4, e->stop_ms);
	else
		sqlite3_bind_null(q, at + 4);
	return 0;
}

static int write_exec(struct ctl_sfn *s, struct sfn_exec *e)
{
	sqlite3_stmt *q;
	int rc = 0;
	bool closed = wf_exec_status(e->wf) != WF_EXEC_RUNNING;
	if (!e->persisted) {
		q = s->st_ins_exec;
		sqlite3_reset(q);
		sqlite3_clear_bindings(q);
		sqlite3_bind_int64(q, 1, e->id);
		sqlite3_bind_text(q, 2, e->arn, -1, SQLITE_STATIC);
		sqlite3_bind_text(q, 3, e->machine, -1, SQLITE_STATIC);
		sqlite3_bind_text(q, 4, e->name, -1, SQLITE_STATIC);
		sqlite3_bind_int64(q, 5, e->def->id);
		if (e->role)
			sqlite3_bind_text(q, 6, e->role, -1, SQLITE_STATIC);
		sqlite3_bind_text(q, 7, e->input, -1, SQLITE_STATIC);
		sqlite3_bind_int64(q, 8, e->start_ms);
		sqlite3_bind_int64(q, 9, (sqlite3_int64)e->seed);
		if ((rc = bind_result(q, e, 10)) < 0)
			return rc;
		if (sqlite3_step(q) != SQLITE_DONE)
			return ctl_meta_fail(s->meta, "stepfunctions: record an execution");
	} else if (closed && !e->closed_written) {
		q = s->st_upd_exec;
		sqlite3_reset(q);
		sqlite3_clear_bindings(q);
		sqlite3_bind_int64(q, 1, e->id);
		if ((rc = bind_result(q, e, 2)) < 0)
			return rc;
		if (sqlite3_step(q) != SQLITE_DONE)
			return ctl_meta_fail(s->meta, "stepfunctions: record an execution's end");
	}
	if (e->jlen) {
		q = s->st_ins_journal;
		sqlite3_reset(q);
		sqlite3_bind_int64(q, 1, e->id);
		sqlite3_bind_int64(q, 2, e->jseq);
		sqlite3_bind_text(q, 3, e->jbuf, (int)e->jlen, SQLITE_STATIC);
		if (sqlite3_step(q) != SQLITE_DONE)
			return ctl_meta_fail(s->meta, "stepfunctions: append to a journal");
	}
	return 0;
}

/* One commit of every dirty execution; then answers and held tasks. */
static int flush_once(struct ctl_sfn *s)
{
	int n = 0, rc = 0;
	if (s->dirty) {
		if ((rc = ctl_meta_begin(s->meta)) == 0) {
			for (struct sfn_exec *e = s->dirty; e && rc == 0; e = e->next_dirty, n++)
				rc = write_exec(s, e);
			if (rc == 0)
				rc = ctl_meta_commit(s->meta);
			if (rc < 0)
				ctl_meta_rollback(s->meta);
		}
		if (rc < 0) {
			/* Nothing was recorded: the executions stay dirty for the next turn and the
			 * calls that waited for this commit learn it failed. */
			ctl_log(CTL_LOG_ERR, "stepfunctions: the journal of %d executions could not "
				"be written; retrying at the next turn", n);
			while (s->replies) {
				struct sfn_waiter *w = s->replies;
				waiter_unlink(w);
				waiter_answer(w, NULL);
			}
			return rc;
		}
		s->st.journal_commits++;
		struct sfn_exec *e = s->dirty;
		s->dirty = NULL;
		while (e) {
			struct sfn_exec *next = e->next_dirty;
			e->dirty = false;
			e->next_dirty = NULL;
			e->persisted = true;
			if (e->jlen) {
				e->jseq++;
				e->jlen = 0;
			}
			if (wf_exec_status(e->wf) != WF_EXEC_RUNNING) {
				e->closed_written = true;
				if (!e->sync) {
					exec_unlink(s, e);
					exec_free(s, e);
				}
			}
			e = next;
		}
	}
	while (s->replies) {
		struct sfn_waiter *w = s->replies;
		json_t *out = w->out;
		w->out = NULL;
		waiter_unlink(w);
		waiter_answer(w, out);
	}
	if (s->held) {
		*s->ready_tail = s->held;
		s->ready_tail = s->held_tail;
		s->held = NULL;
		s->held_tail = &s->held;
	}
	sfn_pump(s);
	return n;
}

int ctl_sfn_flush(struct ctl_sfn *s)
{
	int total = 0;
	for (int round = 0; round < SFN_FLUSH_ROUNDS && (s->dirty || s->replies || s->held);
	     round++) {
		int n = flush_once(s);
		if (n < 0)
			return n;
		total += n;
	}
	return total;
}

int64_t ctl_sfn_tick(void *arg, int64_t now_ms)
{
	struct ctl_sfn *s = arg;
	s->in_tick = true;
	while (s->n_timers && s->timers[0].due <= now_ms) {
		struct sfn_timer t = heap_pop(s);
		struct sfn_exec *e = exec_by_id(s, t.exec_id);
		if (!e || !e->wf || wf_exec_status(e->wf) != WF_EXEC_RUNNING)
			continue;
		wf_exec_timer_fired(e->wf, t.timer_id, now_ms);
		exec_settle(s, e, now_ms);
		sfn_pump(s);
	}
	ctl_sfn_flush(s);
	s->in_tick = false;
	if (s->dirty || s->held || s->replies)
		return now_ms;
	return s->n_timers ? s->timers[0].due : CTL_LOOP_NEVER;
}

/* ---- journal reading and replay --------------------------------------------------------------- */

void sfn_events_free(struct wf_event *evs, size_t n)
{
	for (size_t i = 0; i < n; i++)
		json_decref(evs[i].details);
	free(evs);
}

int sfn_journal_parse(const char *text, size_t len, struct wf_event **evs, size_t *n,
		      size_t *cap)
{
	const char *p = text, *end = text + len;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t ll = nl ? (size_t)(nl - p) : (size_t)(end - p);
		const char *line = p;
		p += ll + (nl ? 1 : 0);
		if (*n == *cap) {
			size_t nc = *cap ? 2 * *cap : 64;
			struct wf_event *ne = realloc(*evs, nc * sizeof(*ne));
			if (!ne)
				return -ENOMEM;
			*evs = ne;
			*cap = nc;
		}
		struct wf_event *ev = &(*evs)[*n];
		memset(ev, 0, sizeof(*ev));
		ev->id = *n + 1;
		ev->prev_id = *n;
		ev->time_ms = *n ? (*evs)[*n - 1].time_ms : 0;
		char type[64];
		const char *sp = memchr(line, ' ', ll);
		size_t tl = sp ? (size_t)(sp - line) : ll;
		if (tl == 0 || tl >= sizeof(type))
			return -EINVAL;
		memcpy(type, line, tl);
		type[tl] = '\0';
		if (wf_event_type_parse(type, &ev->type) < 0)
			return -EINVAL;
		if (sp) {
			char *q;
			long long t = strtoll(sp + 1, &q, 10);
			long g = strtol(q, &q, 10);
			unsigned long long r = strtoull(q, &q, 10);
			if (*q != ' ' || g <= WF_TRIGGER_NONE || g > WF_TRIGGER_STOP)
				return -EINVAL;
			q++;
			json_t *d = json_loadb(q, (size_t)(line + ll - q), JSON_DECODE_ANY, NULL);
			if (!d)
				return -EINVAL;
			ev->time_ms = t;
			ev->trigger = (enum wf_trigger)g;
			ev->trigger_ref = r;
			ev->details = json_is_null(d) ? NULL : d;
			if (json_is_null(d))
				json_decref(d);
		}
		(*n)++;
	}
	return 0;
}

int sfn_journal_load(struct ctl_sfn *s, int64_t id, struct wf_event **evs, size_t *n)
{
	size_t cap = 0;
	*evs = NULL;
	*n = 0;
	sqlite3_stmt *q = sfn_prep(s, "SELECT events FROM sfn_journal WHERE exec_id = ?1 ORDER BY "
				      "seq");
	if (!q)
		return -EIO;
	sqlite3_bind_int64(q, 1, id);
	int rc = 0;
	while (rc == 0 && sqlite3_step(q) == SQLITE_ROW)
		rc = sfn_journal_parse((const char *)sqlite3_column_text(q, 0),
				       (size_t)sqlite3_column_bytes(q, 0), evs, n, &cap);
	sqlite3_finalize(q);
	if (rc < 0) {
		sfn_events_free(*evs, *n);
		*evs = NULL;
		*n = 0;
	}
	return rc;
}

struct collector {
	struct wf_event *evs;
	size_t n, cap;
	bool oom;
};

static void collect(void *arg, const struct wf_event *ev)
{
	struct collector *c = arg;
	if (c->n == c->cap) {
		size_t nc = c->cap ? 2 * c->cap : 64;
		struct wf_event *ne = realloc(c->evs, nc * sizeof(*ne));
		if (!ne) {
			c->oom = true;
			return;
		}
		c->evs = ne;
		c->cap = nc;
	}
	c->evs[c->n] = *ev;
	c->evs[c->n++].details = json_incref(ev->details);
}

int sfn_history_build(struct ctl_sfn *s, int64_t id, struct wf_event **out, size_t *nout)
{
	struct wf_event *jev = NULL;
	size_t jn = 0;
	struct collector cl = { 0 };
	struct wf_exec *wf = NULL;
	struct sfn_def *def = NULL;
	char arn[SFN_ARN_MAX], name[SFN_NAME_MAX + 1], machine[SFN_NAME_MAX + 1], marn[SFN_ARN_MAX];
	char *role = NULL;
	uint64_t seed;
	int rc;

	sqlite3_stmt *q = sfn_prep(s, "SELECT arn, name, machine, def_id, role_arn, seed FROM "
				      "sfn_exec WHERE id = ?1");
	if (!q)
		return -EIO;
	sqlite3_bind_int64(q, 1, id);
	if (sqlite3_step(q) != SQLITE_ROW) {
		sqlite3_finalize(q);
		return -ENOENT;
	}
	snprintf(arn, sizeof(arn), "%s", col(q, 0));
	snprintf(name, sizeof(name), "%s", col(q, 1));
	snprintf(machine, sizeof(machine), "%s", col(q, 2));
	int64_t def_id = sqlite3_column_int64(q, 3);
	if (sqlite3_column_type(q, 4) != SQLITE_NULL)
		role = strdup(col(q, 4));
	seed = (uint64_t)sqlite3_column_int64(q, 5);
	sqlite3_finalize(q);
	if ((rc = sfn_journal_load(s, id, &jev, &jn)) < 0)
		goto out;
	rc = -EPROTO;
	if (jn == 0 || jev[0].type != WF_EV_ExecutionStarted ||
	    !json_object_get(jev[0].details, "input") || !(def = def_get(s, def_id)))
		goto out;
	sfn_machine_arn(s, machine, marn);
	struct wf_exec_info info = {
		.execution_arn = arn, .name = name, .state_machine_arn = marn,
		.state_machine_name = machine, .role_arn = role, .seed = seed,
	};
	struct wf_host h = { .event = collect, .arg = &cl };
	if ((rc = wf_exec_start(def->m, &info, &h, json_object_get(jev[0].details, "input"),
				jev[0].time_ms, &wf)) < 0)
		goto out;
	rc = wf_exec_run(wf);
	for (size_t i = 1; rc >= 0 && i < jn; i++) {
		const struct wf_event *e = &jev[i];
		const char *err = NULL, *cause = NULL;
		json_unpack(e->details, "{s?s, s?s}", "error", &err, "cause", &cause);
		switch (e->trigger) {
		case WF_TRIGGER_TASK:
			rc = wf_exec_task_done(wf, e->trigger_ref, e->type == WF_EV_TaskSucceeded,
					       json_object_get(e->details, "output"), err, cause,
					       e->time_ms);
			break;
		case WF_TRIGGER_TIMER:
			rc = wf_exec_timer_fired(wf, e->trigger_ref, e->time_ms);
			break;
		case WF_TRIGGER_STOP:
			rc = wf_exec_stop(wf, err, cause, e->time_ms);
			break;
		default:
			break;
		}
	}
	if (rc >= 0 && cl.oom)
		rc = -ENOMEM;
	else if (rc >= 0 && cl.n < jn)
		rc = -EPROTO;
	if (rc < 0) {
		rc = rc == -ENOMEM ? rc : -EPROTO;
		goto out;
	}
	/* Events past the journal (none once it is flushed) are not history yet. */
	for (size_t i = jn; i < cl.n; i++)
		json_decref(cl.evs[i].details);
	*out = cl.evs;
	*nout = jn;
	cl.evs = NULL;
	cl.n = 0;
	rc = 0;
out:
	wf_exec_free(wf);
	if (def)
		def_put(s, def);
	sfn_events_free(cl.evs, cl.n);
	sfn_events_free(jev, jn);
	free(role);
	return rc;
}

/* Close an execution that cannot be resumed, with the reason, in its row. */
static void exec_abandon(struct ctl_sfn *s, int64_t id, const char *why, int64_t now_ms)
{
	sqlite3_stmt *q = sfn_prep(s, "UPDATE sfn_exec SET status = 'FAILED', error = "
				      "'States.Runtime', cause = ?2, stop_ms = ?3 WHERE id = ?1");
	if (!q)
		return;
	sqlite3_bind_int64(q, 1, id);
	sqlite3_bind_text(q, 2, why, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 3, now_ms);
	if (sqlite3_step(q) != SQLITE_DONE)
		ctl_meta_fail(s->meta, "stepfunctions: close an execution");
	sqlite3_finalize(q);
}

static int resume_all(struct ctl_sfn *s)
{
	sqlite3_stmt *q = sfn_prep(s, "SELECT id, arn, machine, name, def_id, role_arn, input, "
				      "start_ms, seed, (SELECT count(*) FROM sfn_journal j WHERE "
				      "j.exec_id = e.id) FROM sfn_exec e WHERE status = 'RUNNING' "
				      "ORDER BY id");
	if (!q)
		return -EIO;
	int64_t now = wall_ms();
	while (sqlite3_step(q) == SQLITE_ROW) {
		int64_t id = sqlite3_column_int64(q, 0);
		struct sfn_exec *e = calloc(1, sizeof(*e));
		if (!e) {
			sqlite3_finalize(q);
			return -ENOMEM;
		}
		e->s_back = s;
		e->id = id;
		snprintf(e->arn, sizeof(e->arn), "%s", col(q, 1));
		snprintf(e->machine, sizeof(e->machine), "%s", col(q, 2));
		snprintf(e->name, sizeof(e->name), "%s", col(q, 3));
		e->role = sqlite3_column_type(q, 5) != SQLITE_NULL ? strdup(col(q, 5)) : NULL;
		e->input = strdup(col(q, 6));
		e->start_ms = sqlite3_column_int64(q, 7);
		e->seed = (uint64_t)sqlite3_column_int64(q, 8);
		e->jseq = (uint32_t)sqlite3_column_int64(q, 9);
		e->persisted = true;
		e->def = def_get(s, sqlite3_column_int64(q, 4));
		struct wf_event *evs = NULL;
		size_t n = 0;
		int rc = e->def ? sfn_journal_load(s, id, &evs, &n) : -ENOENT;
		char why[256];
		if (rc == 0) {
			struct wf_exec_info info;
			char marn[SFN_ARN_MAX];
			exec_info(s, e, e->role, &info, marn);
			struct wf_host h = exec_host(e);
			exec_link(s, e);
			rc = wf_exec_replay(e->def->m, &info, &h, evs, n, &e->wf);
			if (rc < 0)
				exec_unlink(s, e);
		}
		sfn_events_free(evs, n);
		if (rc < 0) {
			snprintf(why, sizeof(why), "The execution could not be resumed after a "
				 "restart: %s", rc == -EPROTO ? "its journal no longer matches the "
				 "engine" : strerror(-rc));
			ctl_log(CTL_LOG_ERR, "stepfunctions: execution %s: %s", e->arn, why);
			exec_abandon(s, id, why, now);
			/* Tasks and timers it asked for point at an id no longer linked. */
			exec_free(s, e);
			continue;
		}
		s->st.replayed++;
		exec_settle(s, e, now);
	}
	sqlite3_finalize(q);
	sfn_pump(s);
	return 0;
}

/* ---- life cycle ------------------------------------------------------------------------------- */

int ctl_sfn_new(const struct ctl_sfn_config *cfg, struct ctl_sfn **ret)
{
	struct ctl_sfn *s = calloc(1, sizeof(*s));
	int rc;
	if (!s)
		return -ENOMEM;
	s->meta = cfg->meta;
	s->aws = cfg->aws;
	s->loop = cfg->loop;
	s->invoker = cfg->invoker;
	snprintf(s->region, sizeof(s->region), "%s", cfg->region ? cfg->region : "us-east-1");
	snprintf(s->account, sizeof(s->account), "%s",
		 cfg->account_id ? cfg->account_id : "000000000000");
	s->held_tail = &s->held;
	s->ready_tail = &s->ready;
	s->done_tail = &s->done;
	if (RAND_bytes((unsigned char *)&s->seed_state, sizeof(s->seed_state)) != 1)
		s->seed_state = (uint64_t)wall_ms();
	if ((rc = ctl_meta_schema(s->meta, "sfn", 1, sfn_schema)) < 0)
		goto fail;
	rc = -EIO;
	if (!(s->st_ins_exec = sfn_prep(s, "INSERT INTO sfn_exec(id, arn, machine, name, def_id, "
					   "role_arn, input, start_ms, seed, status, output, error, "
					   "cause, stop_ms) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, "
					   "?9, ?10, ?11, ?12, ?13, ?14)")) ||
	    !(s->st_upd_exec = sfn_prep(s, "UPDATE sfn_exec SET status = ?2, output = ?3, error = "
					   "?4, cause = ?5, stop_ms = ?6 WHERE id = ?1")) ||
	    !(s->st_ins_journal = sfn_prep(s, "INSERT INTO sfn_journal(exec_id, seq, events) "
					      "VALUES(?1, ?2, ?3)")))
		goto fail;
	sqlite3_stmt *q = sfn_prep(s, "SELECT coalesce(max(id), 0) + 1 FROM sfn_exec");
	if (!q)
		goto fail;
	s->next_exec_id = sqlite3_step(q) == SQLITE_ROW ? sqlite3_column_int64(q, 0) : 1;
	sqlite3_finalize(q);
	if ((rc = load_machines(s)) < 0 || (rc = resume_all(s)) < 0)
		goto fail;
	if (s->loop && (rc = ctl_loop_add_tick(s->loop, "stepfunctions", ctl_sfn_tick, s)) < 0)
		goto fail;
	*ret = s;
	return 0;
fail:
	ctl_log(CTL_LOG_ERR, "stepfunctions: cannot start: %s", strerror(-rc));
	ctl_sfn_free(s);
	return rc;
}

void ctl_sfn_free(struct ctl_sfn *s)
{
	if (!s)
		return;
	while (s->replies) {
		struct sfn_waiter *w = s->replies;
		waiter_unlink(w);
		ctl_aws_set_state(w->call, NULL, NULL);
		json_decref(w->out);
		free(w);
	}
	for (unsigned b = 0; b < SFN_BUCKETS; b++)
		while (s->by_id[b]) {
			struct sfn_exec *e = s->by_id[b];
			s->by_id[b] = e->next_id;
			if (e->sync) {
				ctl_aws_set_state(e->sync->call, NULL, NULL);
				free(e->sync);
			}
			exec_free(s, e);
		}
	struct sfn_task *lists[] = { s->held, s->ready };
	for (unsigned i = 0; i < 2; i++)
		while (lists[i]) {
			struct sfn_task *t = lists[i];
			lists[i] = t->next;
			task_free(t);
		}
	while (s->done) {
		struct sfn_done *d = s->done;
		s->done = d->next;
		json_decref(d->output);
		free(d->error);
		free(d->cause);
		free(d);
	}
	while (s->machines) {
		struct sfn_machine *m = s->machines;
		s->machines = m->next;
		def_put(s, m->def);
		free(m->role_arn);
		free(m);
	}
	sqlite3_finalize(s->st_ins_exec);
	sqlite3_finalize(s->st_upd_exec);
	sqlite3_finalize(s->st_ins_journal);
	free(s->timers);
	free(s);
}

void ctl_sfn_stats_get(const struct ctl_sfn *s, struct ctl_sfn_stats *st)
{
	*st = s->st;
}

void ctl_sfn_stats_json(void *arg, json_t *out)
{
	const struct ctl_sfn *s = arg;
	json_object_set_new(out, "stepfunctions",
			    json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}",
				      "running", (json_int_t)s->n_running,
				      "executions_started", (json_int_t)s->st.executions_started,
				      "executions_closed", (json_int_t)s->st.executions_closed,
				      "transitions", (json_int_t)s->st.transitions,
				      "journal_commits", (json_int_t)s->st.journal_commits,
				      "journal_events", (json_int_t)s->st.journal_events,
				      "tasks_issued", (json_int_t)s->st.tasks_issued,
				      "replayed", (json_int_t)s->st.replayed,
				      "timers", (json_int_t)s->n_timers));
}
