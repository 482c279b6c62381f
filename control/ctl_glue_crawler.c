/* SPDX-License-Identifier: MIT */
/*
 * ctl_glue_crawler: see ctl_glue_crawler.h. Member limits are Glue's API model (Name 1..255,
 * Description up to 2048, TablePrefix up to 128, SampleSize 1..249, Classifiers and
 * CrawlerNames lists, MaxResults 1..1000); the account holds at most K_CRAWLERS_MAX crawlers
 * (Glue's default quota).
 */
#include "ctl_glue_crawler.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "cat_classifier.h"
#include "cat_classify.h"
#include "cat_crawl.h"
#include "ctl_glue.h"
#include "ctl_glue_classifier.h"
#include "ctl_log.h"
#include "ctl_sched.h"
#include "ctl_uuid.h"

#define K_NAME_MAX 255
#define K_DESC_MAX 2048
#define K_PREFIX_MAX 128
#define K_PAGE_MAX 1000
#define K_BATCH_MAX 100
#define K_CRAWLERS_MAX 1000
#define K_TARGETS_MAX 100
#define K_EXCLUSIONS_MAX 100
#define K_PATH_MAX 4096
#define K_CONFIG_MAX 65536
/* Runtimes kept for MedianRuntimeSeconds. */
#define K_HISTORY 20

static const char *const k_schema[] = {
	"CREATE TABLE glue_crawler(name TEXT PRIMARY KEY, doc TEXT NOT NULL, "
	"history TEXT NOT NULL DEFAULT '{}');",
};

struct k_target {
	char *root;        /* local path */
	char *location;    /* as the tables write it */
	char **excl;
	unsigned n_excl;
	unsigned sample;
};

struct k_job {
	char name[K_NAME_MAX + 1];
	pthread_t th;
	bool started;               /* th is a thread to join */
	atomic_bool cancel, done;
	atomic_uint_fast64_t progress;
	int64_t start_ms;
	struct ctl_loop *loop;
	char *cache_dir;            /* borrowed from the state */
	/* inputs (the worker's own copies) */
	json_t *defs;               /* custom classifier definitions, in order */
	struct k_target *targets;
	unsigned n_targets;
	char db[K_NAME_MAX + 1];
	char prefix[K_PREFIX_MAX + 1];
	bool combine;
	enum cat_crawl_update update;
	enum cat_crawl_delete del;
	/* outputs (read after done) */
	struct cat_crawl_result **res;
	unsigned n_res;
	char err[600];
	struct k_job *next;
};

struct sched_entry {
	char name[K_NAME_MAX + 1];
	struct ctl_sched s;
	int64_t next_ms;
};

struct ctl_glue_crawler {
	struct ctl_meta *meta;
	struct cat_store *store;
	struct ctl_loop *loop;      /* NULL until attached */
	char *s3_root;
	char *cache_dir;
	struct k_job *jobs;
	struct sched_entry *sched;
	unsigned n_sched;
	bool sched_dirty;
};

static sqlite3_stmt *prep(struct ctl_glue_crawler *k, const char *sql)
{
	sqlite3_stmt *st = NULL;
	if (sqlite3_prepare_v2(ctl_meta_db(k->meta), sql, -1, &st, NULL) != SQLITE_OK) {
		ctl_meta_fail(k->meta, "prepare");
		return NULL;
	}
	return st;
}

/* ---- the table ---------------------------------------------------------------------------- */

/* Load name's document and history (new references). 0, -ENOENT or -EIO. */
static int k_load(struct ctl_glue_crawler *k, const char *name, json_t **doc, json_t **hist)
{
	sqlite3_stmt *q = prep(k, "SELECT doc, history FROM glue_crawler WHERE name = ?");
	if (!q)
		return -EIO;
	sqlite3_bind_text(q, 1, name, -1, SQLITE_STATIC);
	int r = sqlite3_step(q);
	if (r != SQLITE_ROW) {
		sqlite3_finalize(q);
		return r == SQLITE_DONE ? -ENOENT : ctl_meta_fail(k->meta, "reading a crawler");
	}
	*doc = json_loads((const char *)sqlite3_column_text(q, 0), 0, NULL);
	json_t *h = json_loads((const char *)sqlite3_column_text(q, 1), 0, NULL);
	sqlite3_finalize(q);
	if (!*doc) {
		json_decref(h);
		return -EIO;
	}
	if (hist)
		*hist = h ? h : json_object();
	else
		json_decref(h);
	return 0;
}

static int k_save(struct ctl_glue_crawler *k, const char *name, const json_t *doc,
		  const json_t *hist)
{
	char *d = json_dumps(doc, JSON_COMPACT), *h = hist ? json_dumps(hist, JSON_COMPACT) : NULL;
	int r = -ENOMEM;
	if (!d || (hist && !h))
		goto out;
	sqlite3_stmt *q = prep(k, hist ? "INSERT INTO glue_crawler(name, doc, history) "
				   "VALUES(?, ?, ?) ON CONFLICT(name) DO UPDATE SET "
				   "doc = excluded.doc, history = excluded.history"
				   : "UPDATE glue_crawler SET doc = ?2 WHERE name = ?1");
	r = -EIO;
	if (!q)
		goto out;
	sqlite3_bind_text(q, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 2, d, -1, SQLITE_STATIC);
	if (hist)
		sqlite3_bind_text(q, 3, h, -1, SQLITE_STATIC);
	r = sqlite3_step(q) == SQLITE_DONE ? 0 : ctl_meta_fail(k->meta, "writing a crawler");
	sqlite3_finalize(q);
out:
	free(d);
	free(h);
	return r;
}

static int k_count(struct ctl_glue_crawler *k)
{
	sqlite3_stmt *q = prep(k, "SELECT count(*) FROM glue_crawler");
	if (!q)
		return -EIO;
	int n = sqlite3_step(q) == SQLITE_ROW ? sqlite3_column_int(q, 0) : -EIO;
	sqlite3_finalize(q);
	return n;
}

/* Names in order after `after`, at most max (0: all), as a new array; *more when others follow. */
static int k_names(struct ctl_glue_crawler *k, const char *after, unsigned max, json_t **out,
		   bool *more)
{
	sqlite3_stmt *q = prep(k, "SELECT name FROM glue_crawler WHERE name > ? ORDER BY name "
				  "LIMIT ?");
	if (!q)
		return -EIO;
	sqlite3_bind_text(q, 1, after ? after : "", -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 2, max ? (int64_t)max + 1 : -1);
	json_t *a = json_array();
	int r;
	while ((r = sqlite3_step(q)) == SQLITE_ROW)
		json_array_append_new(a, json_string((const char *)sqlite3_column_text(q, 0)));
	sqlite3_finalize(q);
	if (r != SQLITE_DONE) {
		json_decref(a);
		return ctl_meta_fail(k->meta, "listing crawlers");
	}
	*more = max && json_array_size(a) > max;
	if (*more)
		json_array_remove(a, max);
	*out = a;
	return 0;
}

/* ---- settling and scheduling --------------------------------------------------------------- */

/* LastCrawl for a run that started at start_ms. */
static json_t *last_crawl(const char *status, const char *msg, int64_t start_ms)
{
	char id[37];
	ctl_uuid4(id);
	json_t *lc = json_pack("{s:s,s:o,s:s,s:s,s:s}", "Status", status, "StartTime",
			       ctl_aws_time_json(start_ms), "LogGroup", "/aws-glue/crawlers",
			       "LogStream", "crawler", "MessagePrefix", id);
	if (lc && msg && *msg)
		json_object_set_new(lc, "ErrorMessage", json_string(msg));
	return lc;
}

static int settle_interrupted(struct ctl_glue_crawler *k)
{
	json_t *names;
	bool more;
	int r = k_names(k, NULL, 0, &names, &more);
	if (r < 0)
		return r;
	size_t i;
	json_t *n;
	json_array_foreach(names, i, n) {
		json_t *doc, *hist;
		const char *name = json_string_value(n);
		if (k_load(k, name, &doc, &hist) < 0)
			continue;
		char st[16];
		snprintf(st, sizeof(st), "%s", json_string_value(json_object_get(doc, "State")) ?
			 json_string_value(json_object_get(doc, "State")) : "READY");
		if (strcmp(st, "READY") != 0) {
			json_int_t start = json_integer_value(json_object_get(hist, "StartMs"));
			json_object_set_new(doc, "State", json_string("READY"));
			json_object_set_new(doc, "CrawlElapsedTime", json_integer(0));
			json_object_set_new(doc, "LastCrawl", last_crawl("FAILED", "interrupted by a "
									  "restart", start));
			ctl_log(CTL_LOG_WARN, "crawler %s was %s when the daemon stopped: now READY, "
				"its last crawl FAILED; start it again", name, st);
			r = k_save(k, name, doc, hist);
		}
		json_decref(doc);
		json_decref(hist);
		if (r < 0)
			break;
	}
	json_decref(names);
	return r;
}

static void load_schedules(struct ctl_glue_crawler *k, int64_t now_ms)
{
	json_t *names;
	bool more;
	k->sched_dirty = false;
	free(k->sched);
	k->sched = NULL;
	k->n_sched = 0;
	if (k_names(k, NULL, 0, &names, &more) < 0)
		return;
	k->sched = calloc(json_array_size(names) + 1, sizeof(*k->sched));
	size_t i;
	json_t *n;
	json_array_foreach(names, i, n) {
		json_t *doc;
		if (!k->sched || k_load(k, json_string_value(n), &doc, NULL) < 0)
			continue;
		json_t *s = json_object_get(doc, "Schedule");
		const char *expr = json_string_value(json_object_get(s, "ScheduleExpression"));
		const char *state = json_string_value(json_object_get(s, "State"));
		struct sched_entry *e = &k->sched[k->n_sched];
		char why[160];
		if (expr && state && strcmp(state, "SCHEDULED") == 0 &&
		    ctl_sched_parse(expr, &e->s, why, sizeof(why)) == 0) {
			snprintf(e->name, sizeof(e->name), "%s", json_string_value(n));
			e->next_ms = ctl_sched_next(&e->s, now_ms, now_ms);
			k->n_sched++;
		}
		json_decref(doc);
	}
	json_decref(names);
}

/* ---- state -------------------------------------------------------------------------------- */

int ctl_glue_crawler_new(struct ctl_meta *meta, struct cat_store *store,
			 struct ctl_glue_crawler **ret)
{
	struct ctl_glue_crawler *k = calloc(1, sizeof(*k));
	int r = -ENOMEM;
	if (!k)
		goto fail;
	k->meta = meta;
	k->store = store;
	if ((r = ctl_meta_schema(meta, "crawler", 1, k_schema)) < 0)
		goto fail_free;
	if ((r = ctl_glue_classifier_cache_dir(meta, &k->cache_dir)) < 0)
		goto fail_free;
	if ((r = settle_interrupted(k)) < 0)
		goto fail_free;
	*ret = k;
	return 0;
fail_free:
	free(k->cache_dir);
	free(k);
fail:
	ctl_log(CTL_LOG_ERR, "cannot open the crawlers: %s", strerror(-r));
	return r;
}

static void job_free(struct k_job *j)
{
	if (!j)
		return;
	for (unsigned i = 0; i < j->n_targets; i++) {
		free(j->targets[i].root);
		free(j->targets[i].location);
		for (unsigned e = 0; e < j->targets[i].n_excl; e++)
			free(j->targets[i].excl[e]);
		free(j->targets[i].excl);
	}
	free(j->targets);
	for (unsigned i = 0; i < j->n_res; i++)
		cat_crawl_result_free(j->res[i]);
	free(j->res);
	json_decref(j->defs);
	free(j);
}

void ctl_glue_crawler_free(struct ctl_glue_crawler *k)
{
	if (!k)
		return;
	for (struct k_job *j = k->jobs; j; j = j->next)
		atomic_store(&j->cancel, true);
	while (k->jobs) {
		struct k_job *j = k->jobs;
		k->jobs = j->next;
		if (j->started)
			pthread_join(j->th, NULL);
		job_free(j);
	}
	free(k->sched);
	free(k->s3_root);
	free(k->cache_dir);
	free(k);
}

unsigned ctl_glue_crawler_running(const struct ctl_glue_crawler *k)
{
	unsigned n = 0;
	for (const struct k_job *j = k->jobs; j; j = j->next)
		n++;
	return n;
}

static struct k_job *job_find(struct ctl_glue_crawler *k, const char *name)
{
	for (struct k_job *j = k->jobs; j; j = j->next)
		if (strcmp(j->name, name) == 0)
			return j;
	return NULL;
}

/* ---- a run ---------------------------------------------------------------------------------- */

static void *worker(void *arg)
{
	struct k_job *j = arg;
	struct cat_classifiers *cl = NULL;
	size_t n = json_array_size(j->defs);
	const json_t **defs = calloc(n ? n : 1, sizeof(*defs));
	char err[512];
	if (j->err[0])
		goto done;
	if (!defs) {
		snprintf(j->err, sizeof(j->err), "out of memory");
		goto done;
	}
	for (size_t i = 0; i < n; i++)
		defs[i] = json_array_get(j->defs, i);
	if (cat_classifiers_new(defs, (unsigned)n, j->cache_dir, &cl, err, sizeof(err)) < 0) {
		snprintf(j->err, sizeof(j->err), "the crawler's classifiers cannot be built: %s", err);
		goto done;
	}
	if (!(j->res = calloc(j->n_targets ? j->n_targets : 1, sizeof(*j->res)))) {
		snprintf(j->err, sizeof(j->err), "out of memory");
		goto done;
	}
	for (unsigned t = 0; t < j->n_targets && !atomic_load(&j->cancel); t++) {
		struct cat_crawl_config cfg = {
			.root = j->targets[t].root,
			.location = j->targets[t].location,
			.exclusions = (const char *const *)j->targets[t].excl,
			.n_exclusions = j->targets[t].n_excl,
			.sample_size = j->targets[t].sample,
			.classifiers = cl,
			.table_prefix = j->prefix,
			.crawler_name = j->name,
			.combine_compatible = j->combine,
			.cancel = &j->cancel,
			.progress = &j->progress,
		};
		int r = cat_crawl_run(&cfg, &j->res[j->n_res]);
		if (r < 0) {
			snprintf(j->err, sizeof(j->err), "crawling %s: %s", cfg.location, strerror(-r));
			break;
		}
		struct cat_crawl_result *res = j->res[j->n_res++];
		if (res->error[0]) {
			snprintf(j->err, sizeof(j->err), "%s", res->error);
			break;
		}
	}
done:
	free(defs);
	cat_classifiers_free(cl);
	atomic_store(&j->done, true);
	ctl_loop_wake(j->loop);
	return NULL;
}

/* Resolve an S3Target Path: s3://B/P -> S3_ROOT/B/P; an absolute path as it is. NULL (with
 * why) when it is neither or it climbs out of its root. */
static char *resolve_path(const char *s3_root, const char *path, char *why, size_t whylen)
{
	if (strncmp(path, "s3://", 5) == 0) {
		const char *b = path + 5;
		if (!*b || *b == '/') {
			snprintf(why, whylen, "%s names no bucket", path);
			return NULL;
		}
		for (const char *p = b; *p; ) {
			const char *e = strchr(p, '/');
			size_t n = e ? (size_t)(e - p) : strlen(p);
			if ((n == 2 && strncmp(p, "..", 2) == 0) || (n == 1 && *p == '.')) {
				snprintf(why, whylen, "%s: '.' and '..' are not allowed in a path", path);
				return NULL;
			}
			p += n + (e ? 1 : 0);
		}
		char *out = NULL;
		if (!s3_root || asprintf(&out, "%s/%s", s3_root, b) < 0)
			return NULL;
		return out;
	}
	if (path[0] == '/')
		return strdup(path);
	snprintf(why, whylen, "%s is neither an s3:// URI nor an absolute path", path);
	return NULL;
}

/* Build and start the run of crawler doc. 0 or a negative errno (nothing started). */
static int job_start(struct ctl_glue_crawler *k, const json_t *doc, int64_t now_ms)
{
	struct k_job *j = calloc(1, sizeof(*j));
	if (!j)
		return -ENOMEM;
	const char *name = json_string_value(json_object_get(doc, "Name"));
	snprintf(j->name, sizeof(j->name), "%s", name);
	j->loop = k->loop;
	j->cache_dir = k->cache_dir;
	j->start_ms = now_ms;
	j->defs = json_array();
	const char *db = json_string_value(json_object_get(doc, "DatabaseName"));
	snprintf(j->db, sizeof(j->db), "%s", db ? db : "");
	const char *prefix = json_string_value(json_object_get(doc, "TablePrefix"));
	snprintf(j->prefix, sizeof(j->prefix), "%s", prefix ? prefix : "");
	json_t *scp = json_object_get(doc, "SchemaChangePolicy");
	const char *ub = json_string_value(json_object_get(scp, "UpdateBehavior"));
	const char *dbh = json_string_value(json_object_get(scp, "DeleteBehavior"));
	j->update = ub && strcmp(ub, "LOG") == 0 ? CAT_CRAWL_UPDATE_LOG : CAT_CRAWL_UPDATE_IN_DATABASE;
	j->del = !dbh || strcmp(dbh, "DEPRECATE_IN_DATABASE") == 0 ? CAT_CRAWL_DELETE_DEPRECATE :
		 strcmp(dbh, "DELETE_FROM_DATABASE") == 0 ? CAT_CRAWL_DELETE_FROM_DATABASE :
		 CAT_CRAWL_DELETE_LOG;
	const char *conf = json_string_value(json_object_get(doc, "Configuration"));
	json_t *cj = conf ? json_loads(conf, 0, NULL) : NULL;
	const char *grouping = json_string_value(json_object_get(json_object_get(cj, "Grouping"),
								 "TableGroupingPolicy"));
	j->combine = grouping && strcmp(grouping, "CombineCompatibleSchemas") == 0;
	json_decref(cj);
	if (!db)
		snprintf(j->err, sizeof(j->err), "the crawler has no DatabaseName to write tables in");
	/* The custom classifiers, in the crawler's order. */
	size_t i;
	json_t *v;
	json_array_foreach(json_object_get(doc, "Classifiers"), i, v) {
		json_t *def;
		if (j->err[0])
			break;
		int r = cat_classifier_get(ctl_meta_db(k->meta), json_string_value(v), &def);
		if (r < 0)
			snprintf(j->err, sizeof(j->err), "classifier %s: %s", json_string_value(v),
				 r == -CAT_ERR_NOT_FOUND ? "not found" : cat_err_name(r));
		else
			json_array_append_new(j->defs, def);
	}
	json_t *targets = json_object_get(json_object_get(doc, "Targets"), "S3Targets");
	if (!j->err[0] && json_array_size(targets) == 0)
		snprintf(j->err, sizeof(j->err), "the crawler has no S3Targets: only S3 targets are "
			 "crawled here");
	j->targets = calloc(json_array_size(targets) + 1, sizeof(*j->targets));
	if (!j->targets || !j->defs) {
		job_free(j);
		return -ENOMEM;
	}
	json_array_foreach(targets, i, v) {
		if (j->err[0])
			break;
		struct k_target *t = &j->targets[j->n_targets++];
		const char *path = json_string_value(json_object_get(v, "Path"));
		char why[300] = "out of memory";
		if (!path || !(t->root = resolve_path(k->s3_root, path, why, sizeof(why)))) {
			snprintf(j->err, sizeof(j->err), "S3Targets[%zu]: %s", i,
				 path ? why : "no Path");
			break;
		}
		t->location = strdup(path);
		t->sample = (unsigned)json_integer_value(json_object_get(v, "SampleSize"));
		json_t *ex = json_object_get(v, "Exclusions");
		t->excl = calloc(json_array_size(ex) + 1, sizeof(*t->excl));
		size_t e;
		json_t *p;
		json_array_foreach(ex, e, p)
			if (t->excl)
				t->excl[t->n_excl++] = strdup(json_string_value(p));
		if (!t->location || !t->excl) {
			job_free(j);
			return -ENOMEM;
		}
	}
	if (pthread_create(&j->th, NULL, worker, j) != 0) {
		job_free(j);
		return -EAGAIN;
	}
	j->started = true;
	j->next = k->jobs;
	k->jobs = j;
	return 0;
}

static int64_t median_s(const json_t *runs)
{
	size_t n = json_array_size(runs);
	if (!n)
		return 0;
	double v[K_HISTORY + 1];
	size_t m = 0;
	for (size_t i = 0; i < n && m < K_HISTORY + 1; i++)
		v[m++] = json_number_value(json_array_get(runs, i));
	for (size_t i = 1; i < m; i++)
		for (size_t x = i; x > 0 && v[x - 1] > v[x]; x--) {
			double t = v[x];
			v[x] = v[x - 1];
			v[x - 1] = t;
		}
	return (int64_t)(m % 2 ? v[m / 2] : (v[m / 2 - 1] + v[m / 2]) / 2);
}

/* A finished run: apply its result, record LastCrawl, back to READY. */
static void job_finish(struct ctl_glue_crawler *k, struct k_job *j, int64_t now_ms)
{
	pthread_join(j->th, NULL);
	j->started = false;
	struct cat_crawl_counts n = { 0 };
	const char *status = "SUCCEEDED";
	char msg[700] = "";
	bool cancelled = atomic_load(&j->cancel);
	for (unsigned i = 0; i < j->n_res; i++)
		cancelled |= j->res[i]->cancelled;
	if (cancelled) {
		status = "CANCELLED";
	} else if (j->err[0]) {
		status = "FAILED";
		snprintf(msg, sizeof(msg), "%s", j->err);
	} else if (j->n_res) {
		int r = cat_crawl_apply(k->store, j->db, j->res, j->n_res, j->name, j->update,
					j->del, now_ms / 1000, &n);
		if (r < 0) {
			status = "FAILED";
			if (r == -CAT_ERR_NOT_FOUND)
				snprintf(msg, sizeof(msg), "Database %s not found.", j->db);
			else
				snprintf(msg, sizeof(msg), "writing the catalog: %s (%s)", cat_err_name(r),
					 sqlite3_errmsg(ctl_meta_db(k->meta)));
		}
	}
	uint64_t files = 0, unknown = 0, unreadable = 0;
	for (unsigned i = 0; i < j->n_res; i++) {
		files += j->res[i]->files;
		unknown += j->res[i]->unknown;
		unreadable += j->res[i]->unreadable;
		/* A few of what was skipped and why: enough to act on, not a flood per file. */
		size_t m;
		json_t *s;
		json_array_foreach(j->res[i]->messages, m, s) {
			if (m == 5) {
				ctl_log(CTL_LOG_INFO, "crawler %s: and %zu more notes", j->name,
					json_array_size(j->res[i]->messages) - m);
				break;
			}
			ctl_log(CTL_LOG_INFO, "crawler %s: %s", j->name, json_string_value(s));
		}
	}
	double secs = (double)(now_ms - j->start_ms) / 1000.0;
	ctl_log(strcmp(status, "FAILED") == 0 ? CTL_LOG_WARN : CTL_LOG_INFO,
		"crawler %s: %s in %.1f s: %" PRIu64 " files (%" PRIu64 " unknown, %" PRIu64
		" unreadable), tables created %u, updated %u, deleted %u, deprecated %u, partitions "
		"created %u, updated %u%s%s", j->name, status, secs, files, unknown, unreadable,
		n.tables_created, n.tables_updated, n.tables_deleted, n.tables_deprecated,
		n.partitions_created, n.partitions_updated, msg[0] ? ": " : "", msg);
	json_t *doc, *hist;
	if (k_load(k, j->name, &doc, &hist) == 0) {
		json_object_set_new(doc, "State", json_string("READY"));
		json_object_set_new(doc, "CrawlElapsedTime", json_integer(0));
		json_object_set_new(doc, "LastCrawl", last_crawl(status, msg, j->start_ms));
		json_t *runs = json_object_get(hist, "Runtimes");
		if (!json_is_array(runs)) {
			runs = json_array();
			json_object_set_new(hist, "Runtimes", runs);
		}
		if (strcmp(status, "SUCCEEDED") == 0) {
			json_array_append_new(runs, json_real(secs));
			while (json_array_size(runs) > K_HISTORY)
				json_array_remove(runs, 0);
			json_object_set_new(hist, "LastRuntimeSeconds", json_real(secs));
			json_object_set_new(hist, "TablesCreated", json_integer(n.tables_created));
			json_object_set_new(hist, "TablesUpdated", json_integer(n.tables_updated));
			json_object_set_new(hist, "TablesDeleted", json_integer(n.tables_deleted));
		}
		json_object_set_new(hist, "Files", json_integer((json_int_t)files));
		if (k_save(k, j->name, doc, hist) < 0)
			ctl_log(CTL_LOG_ERR, "crawler %s: cannot record the end of its run; check the "
				"data directory's disk", j->name);
		json_decref(doc);
		json_decref(hist);
	}
}

/* Set State RUNNING and start a run. 0, -EBUSY (not READY) or a negative errno. */
static int crawler_start(struct ctl_glue_crawler *k, json_t *doc, json_t *hist, int64_t now_ms)
{
	const char *name = json_string_value(json_object_get(doc, "Name"));
	const char *st = json_string_value(json_object_get(doc, "State"));
	if ((st && strcmp(st, "READY") != 0) || job_find(k, name))
		return -EBUSY;
	if (!k->loop)
		return -ENOTCONN;
	json_object_set_new(doc, "State", json_string("RUNNING"));
	json_object_set_new(hist, "StartMs", json_integer(now_ms));
	int r = k_save(k, name, doc, hist);
	if (r < 0)
		return r;
	if ((r = job_start(k, doc, now_ms)) < 0) {
		json_object_set_new(doc, "State", json_string("READY"));
		k_save(k, name, doc, hist);
		ctl_log(CTL_LOG_ERR, "crawler %s: cannot start a worker thread: %s", name,
			strerror(-r));
	}
	return r;
}

static int64_t k_tick(void *arg, int64_t now_ms)
{
	struct ctl_glue_crawler *k = arg;
	for (struct k_job **pj = &k->jobs; *pj; ) {
		struct k_job *j = *pj;
		if (!atomic_load(&j->done)) {
			pj = &j->next;
			continue;
		}
		*pj = j->next;
		job_finish(k, j, now_ms);
		job_free(j);
	}
	if (k->sched_dirty)
		load_schedules(k, now_ms);
	int64_t next = CTL_LOOP_NEVER;
	for (unsigned i = 0; i < k->n_sched; i++) {
		struct sched_entry *e = &k->sched[i];
		if (e->next_ms < 0)
			continue;
		if (e->next_ms <= now_ms) {
			json_t *doc, *hist;
			if (k_load(k, e->name, &doc, &hist) == 0) {
				int r = crawler_start(k, doc, hist, now_ms);
				if (r == -EBUSY)
					ctl_log(CTL_LOG_INFO, "crawler %s: scheduled run skipped: the "
						"previous run is still going", e->name);
				else if (r == 0)
					ctl_log(CTL_LOG_INFO, "crawler %s: scheduled run started",
						e->name);
				json_decref(doc);
				json_decref(hist);
			}
			e->next_ms = ctl_sched_next(&e->s, now_ms, now_ms);
		}
		if (e->next_ms >= 0 && e->next_ms < next)
			next = e->next_ms;
	}
	return next;
}

int ctl_glue_crawler_attach(struct ctl_glue_crawler *k, struct ctl_loop *loop, const char *s3_root)
{
	if (!(k->s3_root = strdup(s3_root)))
		return -ENOMEM;
	k->loop = loop;
	k->sched_dirty = true;
	return ctl_loop_add_tick(loop, "crawlers", k_tick, k);
}

static void schedules_changed(struct ctl_glue_crawler *k)
{
	k->sched_dirty = true;
	if (k->loop)
		ctl_loop_wake(k->loop);
}

/* ---- requests ------------------------------------------------------------------------------- */

static struct ctl_glue_crawler *state(void *svc)
{
	return ctl_glue_crawlers(svc);
}

static void internal(struct ctl_aws_call *c, int r, const char *name)
{
	ctl_log(CTL_LOG_ERR, "%s %s: %s; check the data directory's disk and meta.db",
		ctl_aws_op_name(c), name, strerror(-r));
	ctl_aws_err(c, 500, "InternalServiceException", "%s failed: %s (see the daemon's log)",
		    ctl_aws_op_name(c), strerror(-r));
}

static void not_found(struct ctl_aws_call *c, const char *name)
{
	ctl_aws_err(c, 400, "EntityNotFoundException", "Crawler with name %s not found.", name);
}

/*
 * The crawler the request's Name member names: its document (and history, unless hist is NULL)
 * as new references. On a bad Name, an unknown crawler or a store error the request is answered
 * here and the return is negative.
 */
static int named_crawler(struct ctl_glue_crawler *k, struct ctl_aws_call *c, const char **name,
			 json_t **doc, json_t **hist)
{
	if (ctl_aws_str(c, NULL, "Name", 1, K_NAME_MAX, true, name) < 0)
		return -EINVAL;
	int r = k_load(k, *name, doc, hist);
	if (r == -ENOENT)
		not_found(c, *name);
	else if (r < 0)
		internal(c, r, *name);
	return r;
}

/* A crawler is running while its stored State is not READY or a crawl of it is under way. */
static bool crawler_running(struct ctl_glue_crawler *k, const json_t *doc, const char *name)
{
	const char *st = json_string_value(json_object_get(doc, "State"));
	return (st && strcmp(st, "READY") != 0) || job_find(k, name);
}

static int enum_arg(struct ctl_aws_call *c, json_t *obj, const char *field, const char *member,
		    const char *const *vals, unsigned n)
{
	const char *s;
	int r = ctl_aws_str(c, obj, field, 1, 64, false, &s);
	if (r <= 0)
		return r;
	char set[256] = "";
	for (unsigned i = 0; i < n; i++) {
		if (strcmp(s, vals[i]) == 0)
			return 1;
		snprintf(set + strlen(set), sizeof(set) - strlen(set), "%s%s", i ? ", " : "",
			 vals[i]);
	}
	char what[320];
	snprintf(what, sizeof(what), "Member must satisfy enum value set: [%s]", set);
	ctl_aws_validation(c, s, member, what);
	return -1;
}

static int strings_arg(struct ctl_aws_call *c, json_t *obj, const char *field, size_t maxn,
		       size_t maxlen, json_t **out)
{
	json_t *a, *v;
	size_t i;
	int r = ctl_aws_array(c, obj, field, 0, maxn, false, &a);
	if (r <= 0)
		return r;
	json_array_foreach(a, i, v) {
		size_t n = json_is_string(v) ? strlen(json_string_value(v)) : 0;
		if (!json_is_string(v)) {
			ctl_aws_err(c, 400, "SerializationException", "Unexpected value type in '%s': "
				    "expected a string", field);
			return -1;
		}
		if (n < 1 || n > maxlen) {
			ctl_aws_err(c, 400, "InvalidInputException", "Each entry of %s must be 1 to %zu "
				    "bytes.", field, maxlen);
			return -1;
		}
	}
	if (out)
		*out = a;
	return 1;
}

/* Targets: S3Targets checked (Path an s3:// URI or an absolute path), the other kinds kept. */
static int targets_arg(struct ctl_aws_call *c, json_t *t)
{
	static const char *const kinds[] = { "S3Targets", "JdbcTargets", "MongoDBTargets",
					     "DynamoDBTargets", "CatalogTargets", "DeltaTargets",
					     "IcebergTargets", "HudiTargets" };
	size_t total = 0;
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		json_t *a;
		int r = ctl_aws_array(c, t, kinds[i], 0, K_TARGETS_MAX, false, &a);
		if (r < 0)
			return -1;
		total += r > 0 ? json_array_size(a) : 0;
	}
	json_t *s3 = json_object_get(t, "S3Targets"), *e;
	size_t i;
	json_array_foreach(s3, i, e) {
		const char *path, *s;
		int64_t n;
		if (!json_is_object(e)) {
			ctl_aws_err(c, 400, "SerializationException", "Unexpected value type in "
				    "'S3Targets': expected an object");
			return -1;
		}
		if (ctl_aws_str(c, e, "Path", 1, K_PATH_MAX, true, &path) < 0 ||
		    strings_arg(c, e, "Exclusions", K_EXCLUSIONS_MAX, 1024, NULL) < 0 ||
		    ctl_aws_int(c, e, "SampleSize", 1, CAT_CRAWL_SAMPLE_MAX, false, &n) < 0 ||
		    ctl_aws_str(c, e, "ConnectionName", 1, 2048, false, &s) < 0 ||
		    ctl_aws_str(c, e, "EventQueueArn", 1, 2048, false, &s) < 0 ||
		    ctl_aws_str(c, e, "DlqEventQueueArn", 1, 2048, false, &s) < 0)
			return -1;
		char why[300];
		char *root = resolve_path("/", path, why, sizeof(why));
		if (!root) {
			ctl_aws_err(c, 400, "InvalidInputException", "S3Targets[%zu].Path: %s", i, why);
			return -1;
		}
		free(root);
	}
	if (total == 0) {
		ctl_aws_err(c, 400, "InvalidInputException", "Targets must name at least one "
			    "target.");
		return -1;
	}
	return 0;
}

static int schedule_arg(struct ctl_aws_call *c, const char *expr)
{
	struct ctl_sched s;
	char why[160];
	if (strncmp(expr, "cron(", 5) != 0 && strncmp(expr, "rate(", 5) != 0) {
		ctl_aws_err(c, 400, "InvalidInputException", "Schedule %s: a crawler's schedule is "
			    "a cron(...) expression.", expr);
		return -1;
	}
	if (strlen(expr) > CTL_SCHED_EXPR_MAX || ctl_sched_parse(expr, &s, why, sizeof(why)) < 0) {
		ctl_aws_err(c, 400, "InvalidInputException", "Schedule %s is not valid: %s", expr,
			    strlen(expr) > CTL_SCHED_EXPR_MAX ? "too long" : why);
		return -1;
	}
	return 0;
}

/*
 * The definition members of a Create/UpdateCrawler request, checked and copied over doc
 * (create: the required ones must be there). 0, or -1 after answering.
 */
static int def_args(struct ctl_aws_call *c, bool create, json_t *doc)
{
	static const char *const upd[] = { "LOG", "UPDATE_IN_DATABASE" };
	static const char *const del[] = { "LOG", "DELETE_FROM_DATABASE", "DEPRECATE_IN_DATABASE" };
	static const char *const recrawl[] = { "CRAWL_EVERYTHING", "CRAWL_NEW_FOLDERS_ONLY",
					       "CRAWL_EVENT_MODE" };
	json_t *in = ctl_aws_input(c), *o;
	const char *s;
	if (ctl_aws_str(c, NULL, "Role", 1, 2048, create, &s) < 0 ||
	    ctl_aws_str(c, NULL, "DatabaseName", 1, K_NAME_MAX, false, &s) < 0 ||
	    ctl_aws_str(c, NULL, "Description", 0, K_DESC_MAX, false, &s) < 0 ||
	    ctl_aws_str(c, NULL, "TablePrefix", 0, K_PREFIX_MAX, false, &s) < 0 ||
	    ctl_aws_str(c, NULL, "CrawlerSecurityConfiguration", 0, 128, false, &s) < 0 ||
	    strings_arg(c, NULL, "Classifiers", 1000, K_NAME_MAX, NULL) < 0)
		return -1;
	int r = ctl_aws_object(c, NULL, "Targets", create, &o);
	if (r < 0 || (r > 0 && targets_arg(c, o) < 0))
		return -1;
	if ((r = ctl_aws_object(c, NULL, "SchemaChangePolicy", false, &o)) < 0 ||
	    (r > 0 && (enum_arg(c, o, "UpdateBehavior", "schemaChangePolicy.updateBehavior", upd,
				2) < 0 ||
		       enum_arg(c, o, "DeleteBehavior", "schemaChangePolicy.deleteBehavior", del,
				3) < 0)))
		return -1;
	if ((r = ctl_aws_object(c, NULL, "RecrawlPolicy", false, &o)) < 0 ||
	    (r > 0 && enum_arg(c, o, "RecrawlBehavior", "recrawlPolicy.recrawlBehavior", recrawl,
			       3) < 0))
		return -1;
	if (ctl_aws_object(c, NULL, "LineageConfiguration", false, &o) < 0 ||
	    ctl_aws_object(c, NULL, "LakeFormationConfiguration", false, &o) < 0)
		return -1;
	if ((r = ctl_aws_str(c, NULL, "Schedule", 0, CTL_SCHED_EXPR_MAX + 64, false, &s)) < 0 ||
	    (r > 0 && *s && schedule_arg(c, s) < 0))
		return -1;
	if ((r = ctl_aws_str(c, NULL, "Configuration", 0, K_CONFIG_MAX, false, &s)) < 0)
		return -1;
	if (r > 0 && *s) {
		json_error_t e;
		json_t *cj = json_loads(s, 0, &e);
		const char *g = json_string_value(json_object_get(json_object_get(cj, "Grouping"),
								  "TableGroupingPolicy"));
		bool bad_g = json_object_get(json_object_get(cj, "Grouping"), "TableGroupingPolicy")
			     && (!g || strcmp(g, "CombineCompatibleSchemas") != 0);
		bool obj = json_is_object(cj);
		json_decref(cj);
		if (!obj) {
			ctl_aws_err(c, 400, "InvalidInputException", "Configuration is not a JSON "
				    "object: %s", cj ? "another JSON value" : e.text);
			return -1;
		}
		if (bad_g) {
			ctl_aws_err(c, 400, "InvalidInputException", "Configuration: "
				    "Grouping.TableGroupingPolicy must be CombineCompatibleSchemas.");
			return -1;
		}
	}
	/* Copy what was given (Schedule as the structure GetCrawler answers). */
	static const char *const copy[] = { "Role", "DatabaseName", "Description", "TablePrefix",
					    "CrawlerSecurityConfiguration", "Classifiers",
					    "Targets", "SchemaChangePolicy", "RecrawlPolicy",
					    "LineageConfiguration", "LakeFormationConfiguration",
					    "Configuration" };
	for (size_t i = 0; i < sizeof(copy) / sizeof(copy[0]); i++) {
		json_t *v = json_object_get(in, copy[i]);
		if (v && !json_is_null(v))
			json_object_set_new(doc, copy[i], json_deep_copy(v));
	}
	const char *sched = json_string_value(json_object_get(in, "Schedule"));
	if (sched && *sched)
		json_object_set_new(doc, "Schedule", json_pack("{s:s,s:s}", "ScheduleExpression",
							       sched, "State", "SCHEDULED"));
	else if (sched)
		json_object_del(doc, "Schedule");
	return 0;
}

static void op_create(void *svc, struct ctl_aws_call *c)
{
	struct ctl_glue_crawler *k = state(svc);
	const char *name;
	json_t *tags = NULL, *doc = NULL, *hist = NULL, *old = NULL;
	int r;
	if (ctl_aws_str(c, NULL, "Name", 1, K_NAME_MAX, true, &name) < 0 ||
	    ctl_aws_object(c, NULL, "Tags", false, &tags) < 0)
		return;
	if (!(doc = json_pack("{s:s}", "Name", name)) || def_args(c, true, doc) < 0)
		goto out;
	if ((r = k_load(k, name, &old, NULL)) == 0) {
		ctl_aws_err(c, 400, "AlreadyExistsException", "Crawler with name %s has already "
			    "been created.", name);
		goto out;
	}
	if (r != -ENOENT || (r = k_count(k)) < 0) {
		internal(c, r, name);
		goto out;
	}
	if (r >= K_CRAWLERS_MAX) {
		ctl_aws_err(c, 400, "ResourceNumberLimitExceededException", "Number of crawlers "
			    "exceeds the limit of %d.", K_CRAWLERS_MAX);
		goto out;
	}
	int64_t now = ctl_aws_now_ms(c);
	json_object_set_new(doc, "State", json_string("READY"));
	json_object_set_new(doc, "CrawlElapsedTime", json_integer(0));
	json_object_set_new(doc, "CreationTime", ctl_aws_time_json(now));
	json_object_set_new(doc, "LastUpdated", ctl_aws_time_json(now));
	json_object_set_new(doc, "Version", json_integer(1));
	if (!json_object_get(doc, "SchemaChangePolicy"))
		json_object_set_new(doc, "SchemaChangePolicy", json_pack(
			"{s:s,s:s}", "UpdateBehavior", "UPDATE_IN_DATABASE", "DeleteBehavior",
			"DEPRECATE_IN_DATABASE"));
	if (!json_object_get(doc, "RecrawlPolicy"))
		json_object_set_new(doc, "RecrawlPolicy", json_pack("{s:s}", "RecrawlBehavior",
								    "CRAWL_EVERYTHING"));
	if (!json_object_get(doc, "Classifiers"))
		json_object_set_new(doc, "Classifiers", json_array());
	hist = json_object();
	if (tags)
		json_object_set(hist, "Tags", tags);
	if ((r = k_save(k, name, doc, hist)) < 0) {
		internal(c, r, name);
		goto out;
	}
	if (json_object_get(doc, "Schedule"))
		schedules_changed(k);
	ctl_aws_ok(c, NULL);
out:
	json_decref(old);
	json_decref(hist);
	json_decref(doc);
}

/* The Crawler as answered: CrawlElapsedTime counts while it runs. */
static json_t *crawler_out(struct ctl_glue_crawler *k, json_t *doc, int64_t now_ms)
{
	struct k_job *j = job_find(k, json_string_value(json_object_get(doc, "Name")));
	if (j)
		json_object_set_new(doc, "CrawlElapsedTime", json_integer(now_ms - j->start_ms));
	return doc;
}

static void op_get(void *svc, struct ctl_aws_call *c)
{
	struct ctl_glue_crawler *k = state(svc);
	const char *name;
	json_t *doc;
	if (named_crawler(k, c, &name, &doc, NULL) == 0)
		ctl_aws_ok(c, json_pack("{s:o}", "Crawler", crawler_out(k, doc, ctl_aws_now_ms(c))));
}

static int page_args(struct ctl_aws_call *c, unsigned *max, const char **token)
{
	int64_t m = K_PAGE_MAX;
	*token = NULL;
	if (ctl_aws_int(c, NULL, "MaxResults", 1, K_PAGE_MAX, false, &m) < 0 ||
	    ctl_aws_str(c, NULL, "NextToken", 1, 1024, false, token) < 0)
		return -1;
	*max = (unsigned)m;
	return 0;
}

static void page_answer(struct ctl_aws_call *c, const char *list, json_t *items, json_t *names,
			bool more)
{
	json_t *out = json_pack("{s:o}", list, items);
	size_t n = json_array_size(names);
	if (out && more && n)
		json_object_set(out, "NextToken", json_array_get(names, n - 1));
	ctl_aws_ok(c, out);
}

static void op_list_full(void *svc, struct ctl_aws_call *c)
{
	struct ctl_glue_crawler *k = state(svc);
	unsigned max;
	const char *token;
	json_t *names, *items = json_array(), *v;
	bool more;
	size_t i;
	if (page_args(c, &max, &token) < 0)
		goto out;
	int r = k_names(k, token, max, &names, &more);
	if (r < 0) {
		internal(c, r, "GetCrawlers");
		goto out;
	}
	json_array_foreach(names, i, v) {
		json_t *doc;
		if (k_load(k, json_string_value(v), &doc, NULL) == 0)
			json_array_append_new(items, crawler_out(k, doc, ctl_aws_now_ms(c)));
	}
	page_answer(c, "Crawlers", items, names, more);
	items = NULL;
	json_decref(names);
out:
	json_decref(items);
}

static void op_batch_get(void *svc, struct ctl_aws_call *c)
{
	struct ctl_glue_crawler *k = state(svc);
	json_t *names, *v;
	size_t i;
	if (ctl_aws_array(c, NULL, "CrawlerNames", 0, K_BATCH_MAX, true, &names) < 0 ||
	    strings_arg(c, NULL, "CrawlerNames", K_BATCH_MAX, K_NAME_MAX, NULL) < 0)
		return;
	json_t *found = json_array(), *missing = json_array();
	json_array_foreach(names, i, v) {
		json_t *doc;
		if (k_load(k, json_string_value(v), &doc, NULL) == 0)
			json_array_append_new(found, crawler_out(k, doc, ctl_aws_now_ms(c)));
		else
			json_array_append(missing, v);
	}
	ctl_aws_ok(c, json_pack("{s:o,s:o}", "Crawlers", found, "CrawlersNotFound", missing));
}

static void op_list_names(void *svc, struct ctl_aws_call *c)
{
	struct ctl_glue_crawler *k = state(svc);
	unsigned max;
	const char *token;
	json_t *names, *tags = NULL, *v;
	bool more;
	size_t i;
	if (page_args(c, &max, &token) < 0 || ctl_aws_object(c, NULL, "Tags", false, &tags) < 0)
		return;
	int r = k_names(k, token, max, &names, &more);
	if (r < 0) {
		internal(c, r, "ListCrawlers");
		return;
	}
	json_t *kept = json_array();
	json_array_foreach(names, i, v) {
		bool keep = true;
		if (tags && json_object_size(tags)) {
			json_t *doc, *hist;
			keep = false;
			if (k_load(k, json_string_value(v), &doc, &hist) == 0) {
				const char *tk;
				json_t *tv, *have = json_object_get(hist, "Tags");
				keep = true;
				json_object_foreach(tags, tk, tv)
					keep &= json_equal(json_object_get(have, tk), tv);
				json_decref(doc);
				json_decref(hist);
			}
		}
		if (keep)
			json_array_append(kept, v);
	}
	page_answer(c, "CrawlerNames", kept, names, more);
	json_decref(names);
}

static void op_update(void *svc, struct ctl_aws_call *c)
{
	struct ctl_glue_crawler *k = state(svc);
	const char *name;
	json_t *doc = NULL, *hist = NULL;
	int r = named_crawler(k, c, &name, &doc, &hist);
	if (r < 0)
		return;
	if (crawler_running(k, doc, name)) {
		ctl_aws_err(c, 400, "CrawlerRunningException", "Crawler with name %s has already "
			    "started.", name);
		goto out;
	}
	if (def_args(c, false, doc) < 0)
		goto out;
	json_object_set_new(doc, "Version",
			    json_integer(json_integer_value(json_object_get(doc, "Version")) + 1));
	json_object_set_new(doc, "LastUpdated", ctl_aws_time_json(ctl_aws_now_ms(c)));
	if ((r = k_save(k, name, doc, hist)) < 0) {
		internal(c, r, name);
		goto out;
	}
	schedules_changed(k);
	ctl_aws_ok(c, NULL);
out:
	json_decref(doc);
	json_decref(hist);
}

static void op_delete(void *svc, struct ctl_aws_call *c)
{
	struct ctl_glue_crawler *k = state(svc);
	const char *name;
	json_t *doc;
	int r = named_crawler(k, c, &name, &doc, NULL);
	if (r < 0)
		return;
	bool running = crawler_running(k, doc, name);
	json_decref(doc);
	if (running) {
		ctl_aws_err(c, 400, "CrawlerRunningException", "Crawler with name %s is running; "
			    "stop it first.", name);
		return;
	}
	sqlite3_stmt *q = prep(k, "DELETE FROM glue_crawler WHERE name = ?");
	if (!q) {
		internal(c, -EIO, name);
		return;
	}
	sqlite3_bind_text(q, 1, name, -1, SQLITE_STATIC);
	r = sqlite3_step(q) == SQLITE_DONE ? 0 : ctl_meta_fail(k->meta, "deleting a crawler");
	sqlite3_finalize(q);
	if (r < 0) {
		internal(c, r, name);
		return;
	}
	schedules_changed(k);
	ctl_aws_ok(c, NULL);
}

static void op_start(void *svc, struct ctl_aws_call *c)
{
	struct ctl_glue_crawler *k = state(svc);
	const char *name;
	json_t *doc, *hist;
	int r = named_crawler(k, c, &name, &doc, &hist);
	if (r < 0)
		return;
	r = crawler_start(k, doc, hist, ctl_aws_now_ms(c));
	if (r == -EBUSY)
		ctl_aws_err(c, 400, "CrawlerRunningException", "Crawler with name %s has already "
			    "started.", name);
	else if (r == -ENOTCONN)
		ctl_aws_err(c, 503, "ServiceUnavailableException", "Crawler runs are not enabled in "
			    "this process.");
	else if (r < 0)
		internal(c, r, name);
	else
		ctl_aws_ok(c, NULL);
	json_decref(doc);
	json_decref(hist);
}

static void op_stop(void *svc, struct ctl_aws_call *c)
{
	struct ctl_glue_crawler *k = state(svc);
	const char *name;
	json_t *doc;
	int r = named_crawler(k, c, &name, &doc, NULL);
	if (r < 0)
		return;
	const char *st = json_string_value(json_object_get(doc, "State"));
	struct k_job *j = job_find(k, name);
	if (st && strcmp(st, "STOPPING") == 0) {
		ctl_aws_err(c, 400, "CrawlerStoppingException", "Crawler with name %s is stopping.",
			    name);
	} else if (!j) {
		ctl_aws_err(c, 400, "CrawlerNotRunningException", "Crawler with name %s isn't "
			    "running.", name);
	} else {
		atomic_store(&j->cancel, true);
		json_object_set_new(doc, "State", json_string("STOPPING"));
		if ((r = k_save(k, name, doc, NULL)) < 0)
			internal(c, r, name);
		else
			ctl_aws_ok(c, NULL);
	}
	json_decref(doc);
}

static json_t *metrics(struct ctl_glue_crawler *k, const char *name, json_t *hist, int64_t now_ms)
{
	json_t *runs = json_object_get(hist, "Runtimes");
	int64_t median = median_s(runs);
	struct k_job *j = job_find(k, name);
	bool estimating = j && json_array_size(runs) == 0;
	double left = 0;
	if (j && !estimating) {
		left = (double)median - (double)(now_ms - j->start_ms) / 1000.0;
		if (left < 0)
			left = 0;
	}
	return json_pack("{s:s,s:f,s:b,s:f,s:f,s:I,s:I,s:I}", "CrawlerName", name,
			 "TimeLeftSeconds", left, "StillEstimating", estimating,
			 "LastRuntimeSeconds", json_number_value(json_object_get(hist,
							"LastRuntimeSeconds")),
			 "MedianRuntimeSeconds", (double)median,
			 "TablesCreated", json_integer_value(json_object_get(hist, "TablesCreated")),
			 "TablesUpdated", json_integer_value(json_object_get(hist, "TablesUpdated")),
			 "TablesDeleted", json_integer_value(json_object_get(hist, "TablesDeleted")));
}

static void op_metrics(void *svc, struct ctl_aws_call *c)
{
	struct ctl_glue_crawler *k = state(svc);
	unsigned max;
	const char *token;
	json_t *list = NULL, *names = NULL, *v;
	bool more = false;
	size_t i;
	if (page_args(c, &max, &token) < 0 ||
	    strings_arg(c, NULL, "CrawlerNameList", K_BATCH_MAX, K_NAME_MAX, &list) < 0)
		return;
	if (list && json_array_size(list)) {
		names = json_array();
		bool past = !token;
		json_array_foreach(list, i, v) {
			if (past && json_array_size(names) == max) {
				more = true;
				break;
			}
			if (past)
				json_array_append(names, v);
			else if (strcmp(json_string_value(v), token) == 0)
				past = true;
		}
	} else {
		int r = k_names(k, token, max, &names, &more);
		if (r < 0) {
			internal(c, r, "GetCrawlerMetrics");
			return;
		}
	}
	json_t *items = json_array();
	json_array_foreach(names, i, v) {
		json_t *doc, *hist;
		if (k_load(k, json_string_value(v), &doc, &hist) < 0)
			continue;
		json_array_append_new(items, metrics(k, json_string_value(v), hist,
						     ctl_aws_now_ms(c)));
		json_decref(doc);
		json_decref(hist);
	}
	page_answer(c, "CrawlerMetricsList", items, names, more);
	json_decref(names);
}

static const struct ctl_aws_op g_ops[] = {
	{ "CreateCrawler", op_create, NULL },
	{ "GetCrawler", op_get, NULL },
	{ "GetCrawlers", op_list_full, NULL },
	{ "BatchGetCrawlers", op_batch_get, NULL },
	{ "ListCrawlers", op_list_names, NULL },
	{ "UpdateCrawler", op_update, NULL },
	{ "DeleteCrawler", op_delete, NULL },
	{ "StartCrawler", op_start, NULL },
	{ "StopCrawler", op_stop, NULL },
	{ "GetCrawlerMetrics", op_metrics, NULL },
};

const struct ctl_aws_op *ctl_glue_crawler_ops(unsigned *n)
{
	*n = sizeof(g_ops) / sizeof(g_ops[0]);
	return g_ops;
}
