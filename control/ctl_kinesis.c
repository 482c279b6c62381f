/* SPDX-License-Identifier: MIT */
/*
 * ctl_kinesis: streams, their metadata and the control operations (CreateStream, DeleteStream,
 * DescribeStream, DescribeStreamSummary, ListStreams, ListShards, retention, tags).
 * Order of changes, so that a crash never leaves metadata naming a log that does not exist:
 * creating writes the shard logs (and fsyncs their directories) before the metadata commit;
 * deleting commits the metadata first and removes the logs after.
 */
#include "ctl_kinesis_internal.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/rand.h>

#include "ctl_b64.h"
#include "ctl_cbor.h"
#include "ctl_log.h"

static const char *const k_schema[] = {
	"CREATE TABLE kinesis_stream(name TEXT PRIMARY KEY, region TEXT NOT NULL, "
	"  created_ms INTEGER NOT NULL, on_demand INTEGER NOT NULL, retention_h INTEGER NOT NULL, "
	"  max_record_kib INTEGER NOT NULL, next_index INTEGER NOT NULL, status TEXT NOT NULL);"
	"CREATE TABLE kinesis_shard(stream TEXT NOT NULL, idx INTEGER NOT NULL, "
	"  start_hash TEXT NOT NULL, end_hash TEXT NOT NULL, parent INTEGER NOT NULL, "
	"  adjacent INTEGER NOT NULL, created_ms INTEGER NOT NULL, closed_ms INTEGER NOT NULL, "
	"  end_seq INTEGER NOT NULL, PRIMARY KEY(stream, idx));"
	"CREATE TABLE kinesis_tag(stream TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL, "
	"  PRIMARY KEY(stream, key));"
	"CREATE TABLE kinesis_key(id INTEGER PRIMARY KEY, key BLOB NOT NULL);",
};

#define K_TAGS_MAX 50

/* ---- lookups ------------------------------------------------------------------------------------ */

static int stream_cmp(const void *a, const void *b)
{
	const struct k_stream *x = *(struct k_stream *const *)a, *y = *(struct k_stream *const *)b;
	return strcmp(x->name, y->name);
}

struct k_stream *k_stream_find(struct ctl_kinesis *k, const char *name)
{
	unsigned lo = 0, hi = k->n_streams;
	while (lo < hi) {
		unsigned mid = (lo + hi) / 2;
		int r = strcmp(k->streams[mid]->name, name);
		if (r == 0)
			return k->streams[mid];
		if (r < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

void k_stream_arn(const struct k_stream *st, const char *account, char *out, size_t n)
{
	snprintf(out, n, "arn:aws:kinesis:%s:%s:stream/%s", st->region, account, st->name);
}

static bool name_ok(const char *s)
{
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
		      *s == '_' || *s == '.' || *s == '-'))
			return false;
	return true;
}

int k_stream_name_pick(struct ctl_aws_call *c, const char *name, const char *arn,
		       const char **out, bool required)
{
	int r = name ? 1 : 0;
	if (arn) {
		const char *p = strstr(arn, ":stream/");
		if (strncmp(arn, "arn:aws", 7) != 0 || !p || !p[8] || strchr(p + 8, '/')) {
			ctl_aws_validation(c, arn, "streamARN", "Member must satisfy regular "
					   "expression pattern: arn:aws.*:kinesis:.*:\\d{12}:stream/\\S+");
			return -1;
		}
		if (name && strcmp(name, p + 8) != 0) {
			ctl_aws_invalid(c, "StreamARN %s and StreamName %s name different streams",
					arn, name);
			return -1;
		}
		name = p + 8;
		r = 1;
	}
	if (r == 0) {
		if (required)
			ctl_aws_invalid(c, "Either StreamName or StreamARN should be provided.");
		return required ? -1 : 0;
	}
	if (strlen(name) > K_NAME_MAX || !name_ok(name)) {
		ctl_aws_validation(c, name, "streamName",
				   "Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+");
		return -1;
	}
	*out = name;
	return 1;
}

/* StreamName or StreamARN ("arn:aws:kinesis:REGION:ACCOUNT:stream/NAME"), as AWS accepts both. */
static int stream_name_arg(struct ctl_aws_call *c, json_t *obj, const char **name, bool required)
{
	const char *n = NULL, *arn = NULL;
	if (ctl_aws_str(c, obj, "StreamName", 1, K_NAME_MAX, false, &n) < 0 ||
	    ctl_aws_str(c, obj, "StreamARN", 1, 2048, false, &arn) < 0)
		return -1;
	*name = NULL;
	return k_stream_name_pick(c, n, arn, name, required);
}

struct k_stream *k_stream_named(struct ctl_kinesis *k, struct ctl_aws_call *c, const char *name)
{
	struct k_stream *st = k_stream_find(k, name);
	if (!st)
		ctl_aws_notfound(c, "Stream %s under account %s not found.", name,
				 ctl_aws_account(c));
	return st;
}

struct k_stream *k_stream_arg(struct ctl_kinesis *k, struct ctl_aws_call *c)
{
	const char *name;
	if (stream_name_arg(c, NULL, &name, true) < 0)
		return NULL;
	return k_stream_named(k, c, name);
}

struct k_shard *k_shard_find(struct k_stream *st, uint32_t index)
{
	return index < st->n_shards ? st->shards[index] : NULL;
}

struct k_shard *k_shard_arg(struct k_stream *st, struct ctl_aws_call *c, const char *field)
{
	const char *id;
	if (ctl_aws_str(c, NULL, field, 1, 128, true, &id) < 0)
		return NULL;
	uint32_t idx;
	struct k_shard *sh = dp_shard_id_parse(id, &idx) == 0 ? k_shard_find(st, idx) : NULL;
	if (!sh)
		ctl_aws_notfound(c, "Could not find shard %s in stream %s under account %s.", id,
				 st->name, ctl_aws_account(c));
	return sh;
}

void k_shard_seqno(const struct k_shard *sh, uint64_t counter, int64_t arrival_ms, char *out)
{
	struct dp_seqno s = {
		.shard_created_s = sh->created_ms / 1000,
		.shard_index = sh->index,
		.counter = counter,
		.arrival_s = arrival_ms / 1000,
	};
	if (dp_seqno_format(&s, out) < 0)
		out[0] = '\0';
}

json_t *k_shard_json(const struct k_shard *sh)
{
	char id[DP_SHARD_ID_LEN + 1], s[DP_U128_DIGITS + 1], e[DP_U128_DIGITS + 1];
	char seq0[DP_SEQNO_LEN + 1], seq1[DP_SEQNO_LEN + 1];
	dp_shard_id_format(sh->index, id);
	dp_u128_format(sh->start, s);
	dp_u128_format(sh->end, e);
	k_shard_seqno(sh, 0, sh->created_ms, seq0);
	json_t *range = json_pack("{s:s}", "StartingSequenceNumber", seq0);
	if (sh->closed_ms) {
		k_shard_seqno(sh, sh->end_seq, sh->closed_ms, seq1);
		json_object_set_new(range, "EndingSequenceNumber", json_string(seq1));
	}
	json_t *j = json_pack("{s:s, s:{s:s, s:s}, s:o}", "ShardId", id, "HashKeyRange",
			      "StartingHashKey", s, "EndingHashKey", e, "SequenceNumberRange", range);
	char pid[DP_SHARD_ID_LEN + 1];
	if (sh->parent >= 0) {
		dp_shard_id_format((uint32_t)sh->parent, pid);
		json_object_set_new(j, "ParentShardId", json_string(pid));
	}
	if (sh->adjacent >= 0) {
		dp_shard_id_format((uint32_t)sh->adjacent, pid);
		json_object_set_new(j, "AdjacentParentShardId", json_string(pid));
	}
	return j;
}

unsigned k_open_shards_total(const struct ctl_kinesis *k)
{
	unsigned n = 0;
	for (unsigned i = 0; i < k->n_streams; i++)
		n += k->streams[i]->n_open;
	return n;
}

void ctl_kinesis_counts(const struct ctl_kinesis *k, unsigned *streams, unsigned *open_shards)
{
	*streams = k->n_streams;
	*open_shards = k_open_shards_total(k);
}

static int range_cmp(const void *a, const void *b)
{
	const struct k_shard *x = *(struct k_shard *const *)a, *y = *(struct k_shard *const *)b;
	return x->start < y->start ? -1 : x->start > y->start;
}

int k_stream_remap(struct k_stream *st)
{
	unsigned n = 0;
	for (unsigned i = 0; i < st->n_shards; i++)
		if (!st->shards[i]->closed_ms)
			n++;
	struct k_shard **open = calloc(n ? n : 1, sizeof(*open));
	struct dp_hash_range *r = calloc(n ? n : 1, sizeof(*r));
	if (!open || !r) {
		free(open);
		free(r);
		return -ENOMEM;
	}
	n = 0;
	for (unsigned i = 0; i < st->n_shards; i++)
		if (!st->shards[i]->closed_ms)
			open[n++] = st->shards[i];
	qsort(open, n, sizeof(*open), range_cmp);
	for (unsigned i = 0; i < n; i++)
		r[i] = (struct dp_hash_range){ open[i]->start, open[i]->end, open[i]->index };
	struct dp_shard_map *m = NULL;
	int rc = n ? dp_shard_map_new(r, n, &m) : -EINVAL;
	free(r);
	if (rc < 0) {
		free(open);
		return rc;
	}
	dp_shard_map_free(st->map);
	free(st->open);
	st->map = m;
	st->open = open;
	st->n_open = n;
	return 0;
}

/* ---- metadata ------------------------------------------------------------------------------------ */

static int step_done(struct ctl_kinesis *k, sqlite3_stmt *st, const char *what)
{
	int rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return ctl_meta_fail(k->meta, what);
	return 0;
}

static sqlite3_stmt *prep(struct ctl_kinesis *k, const char *sql)
{
	sqlite3_stmt *st = NULL;
	if (sqlite3_prepare_v2(ctl_meta_db(k->meta), sql, -1, &st, NULL) != SQLITE_OK) {
		ctl_meta_fail(k->meta, sql);
		return NULL;
	}
	return st;
}

int k_meta_put_stream(struct ctl_kinesis *k, const struct k_stream *s)
{
	sqlite3_stmt *st = prep(k, "INSERT OR REPLACE INTO kinesis_stream VALUES(?,?,?,?,?,?,?,?)");
	if (!st)
		return -EIO;
	sqlite3_bind_text(st, 1, s->name, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, s->region, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, s->created_ms);
	sqlite3_bind_int(st, 4, s->on_demand);
	sqlite3_bind_int(st, 5, (int)s->retention_h);
	sqlite3_bind_int(st, 6, (int)s->max_record_kib);
	sqlite3_bind_int64(st, 7, s->next_index);
	sqlite3_bind_text(st, 8, s->status, -1, SQLITE_STATIC);
	return step_done(k, st, "saving a stream");
}

int k_meta_put_shard(struct ctl_kinesis *k, const struct k_shard *sh)
{
	char s[DP_U128_DIGITS + 1], e[DP_U128_DIGITS + 1];
	dp_u128_format(sh->start, s);
	dp_u128_format(sh->end, e);
	sqlite3_stmt *st = prep(k, "INSERT OR REPLACE INTO kinesis_shard VALUES(?,?,?,?,?,?,?,?,?)");
	if (!st)
		return -EIO;
	sqlite3_bind_text(st, 1, sh->st->name, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, sh->index);
	sqlite3_bind_text(st, 3, s, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 4, e, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 5, sh->parent);
	sqlite3_bind_int64(st, 6, sh->adjacent);
	sqlite3_bind_int64(st, 7, sh->created_ms);
	sqlite3_bind_int64(st, 8, sh->closed_ms);
	sqlite3_bind_int64(st, 9, (sqlite3_int64)sh->end_seq);
	return step_done(k, st, "saving a shard");
}

static void stream_free(struct k_stream *st)
{
	if (!st)
		return;
	for (unsigned i = 0; i < st->n_shards; i++) {
		if (st->shards[i] && st->shards[i]->log)
			dp_shard_set_user(st->shards[i]->log, NULL);
		free(st->shards[i]);
	}
	free(st->shards);
	free(st->open);
	dp_shard_map_free(st->map);
	free(st);
}

static int shard_attach(struct ctl_kinesis *k, struct k_shard *sh)
{
	struct dp_shard *log = ctl_shards_find(k->shards, sh->st->name, sh->index);
	int r = 0;
	if (!log)
		r = ctl_shards_create(k->shards, sh->st->name, sh->index, sh->created_ms,
				      sh->st->max_record_kib * 1024u, &log);
	if (r < 0)
		return r;
	sh->log = log;
	dp_shard_set_user(log, sh);
	if (ctl_shards_set_retention(k->shards, log, sh->st->retention_h) < 0)
		ctl_log(CTL_LOG_WARN, "stream %s: retention %u h not applied", sh->st->name,
			sh->st->retention_h);
	return 0;
}

int k_shard_new(struct ctl_kinesis *k, struct k_stream *st, dp_u128 start, dp_u128 end,
		int64_t parent, int64_t adjacent, int64_t now_ms, struct k_shard **ret)
{
	struct k_shard **v = realloc(st->shards, (st->n_shards + 1) * sizeof(*v));
	if (!v)
		return -ENOMEM;
	st->shards = v;
	struct k_shard *sh = calloc(1, sizeof(*sh));
	if (!sh)
		return -ENOMEM;
	*sh = (struct k_shard){ .st = st, .index = st->next_index, .start = start, .end = end,
				.parent = parent, .adjacent = adjacent, .created_ms = now_ms };
	int r = shard_attach(k, sh);
	if (r < 0) {
		free(sh);
		return r;
	}
	st->shards[st->n_shards++] = sh;
	st->next_index++;
	*ret = sh;
	return 0;
}

static int stream_insert(struct ctl_kinesis *k, struct k_stream *st)
{
	struct k_stream **v = realloc(k->streams, (k->n_streams + 1) * sizeof(*v));
	if (!v)
		return -ENOMEM;
	k->streams = v;
	k->streams[k->n_streams++] = st;
	qsort(k->streams, k->n_streams, sizeof(*k->streams), stream_cmp);
	return 0;
}

static void stream_remove(struct ctl_kinesis *k, struct k_stream *st)
{
	unsigned w = 0;
	for (unsigned i = 0; i < k->n_streams; i++)
		if (k->streams[i] != st)
			k->streams[w++] = k->streams[i];
	k->n_streams = w;
}

static int load_key(struct ctl_kinesis *k)
{
	sqlite3_stmt *st = prep(k, "SELECT key FROM kinesis_key WHERE id = 1");
	if (!st)
		return -EIO;
	int found = 0;
	if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_bytes(st, 0) == sizeof(k->iter_key)) {
		memcpy(k->iter_key, sqlite3_column_blob(st, 0), sizeof(k->iter_key));
		found = 1;
	}
	sqlite3_finalize(st);
	if (found)
		return 0;
	if (RAND_bytes(k->iter_key, sizeof(k->iter_key)) != 1)
		return -EIO;
	st = prep(k, "INSERT OR REPLACE INTO kinesis_key VALUES(1, ?)");
	if (!st)
		return -EIO;
	sqlite3_bind_blob(st, 1, k->iter_key, sizeof(k->iter_key), SQLITE_STATIC);
	return step_done(k, st, "saving the iterator key");
}

static int load_streams(struct ctl_kinesis *k)
{
	sqlite3_stmt *q = prep(k, "SELECT name, region, created_ms, on_demand, retention_h, "
			       "max_record_kib, next_index, status FROM kinesis_stream");
	sqlite3_stmt *qs = prep(k, "SELECT idx, start_hash, end_hash, parent, adjacent, created_ms, "
				"closed_ms, end_seq FROM kinesis_shard WHERE stream = ? ORDER BY idx");
	int r = 0;
	if (!q || !qs) {
		r = -EIO;
		goto out;
	}
	while (sqlite3_step(q) == SQLITE_ROW) {
		struct k_stream *st = calloc(1, sizeof(*st));
		if (!st) {
			r = -ENOMEM;
			goto out;
		}
		snprintf(st->name, sizeof(st->name), "%s", (const char *)sqlite3_column_text(q, 0));
		snprintf(st->region, sizeof(st->region), "%s", (const char *)sqlite3_column_text(q, 1));
		st->created_ms = sqlite3_column_int64(q, 2);
		st->on_demand = sqlite3_column_int(q, 3);
		st->retention_h = (unsigned)sqlite3_column_int(q, 4);
		st->max_record_kib = (unsigned)sqlite3_column_int(q, 5);
		uint32_t next = (uint32_t)sqlite3_column_int64(q, 6);
		snprintf(st->status, sizeof(st->status), "ACTIVE");
		st->shards = calloc(next ? next : 1, sizeof(*st->shards));
		if (!st->shards || (r = stream_insert(k, st)) < 0) {
			stream_free(st);
			r = r ? r : -ENOMEM;
			goto out;
		}
		sqlite3_reset(qs);
		sqlite3_bind_text(qs, 1, st->name, -1, SQLITE_TRANSIENT);
		while (sqlite3_step(qs) == SQLITE_ROW) {
			int64_t idx = sqlite3_column_int64(qs, 0);
			struct k_shard *sh = calloc(1, sizeof(*sh));
			const char *s = (const char *)sqlite3_column_text(qs, 1);
			const char *e = (const char *)sqlite3_column_text(qs, 2);
			if (!sh || idx != st->n_shards || idx >= next || !s || !e ||
			    dp_u128_parse(s, strlen(s), &sh->start) < 0 ||
			    dp_u128_parse(e, strlen(e), &sh->end) < 0) {
				free(sh);
				ctl_log(CTL_LOG_ERR, "metadata of stream %s is inconsistent at shard "
					"%" PRId64 "; restore meta.db from a backup", st->name, idx);
				r = -EUCLEAN;
				goto out;
			}
			sh->st = st;
			sh->index = (uint32_t)idx;
			sh->parent = sqlite3_column_int64(qs, 3);
			sh->adjacent = sqlite3_column_int64(qs, 4);
			sh->created_ms = sqlite3_column_int64(qs, 5);
			sh->closed_ms = sqlite3_column_int64(qs, 6);
			sh->end_seq = (uint64_t)sqlite3_column_int64(qs, 7);
			st->shards[st->n_shards++] = sh;
			if ((r = shard_attach(k, sh)) < 0)
				goto out;
		}
		st->next_index = st->n_shards;
		if ((r = k_stream_remap(st)) < 0) {
			ctl_log(CTL_LOG_ERR, "stream %s: open shards do not cover the hash key space; "
				"restore meta.db from a backup", st->name);
			goto out;
		}
	}
out:
	sqlite3_finalize(q);
	sqlite3_finalize(qs);
	return r;
}

uint32_t ctl_kinesis_max_record(void *meta, const char *stream)
{
	sqlite3_stmt *q = NULL;
	uint32_t v = 0;
	if (sqlite3_prepare_v2(ctl_meta_db(meta), "SELECT max_record_kib FROM kinesis_stream "
			       "WHERE name = ?", -1, &q, NULL) != SQLITE_OK)
		return 0; /* no table yet: a new data directory */
	sqlite3_bind_text(q, 1, stream, -1, SQLITE_STATIC);
	if (sqlite3_step(q) == SQLITE_ROW)
		v = (uint32_t)sqlite3_column_int(q, 0) * 1024u;
	sqlite3_finalize(q);
	return v;
}

struct orphan_visit {
	struct ctl_kinesis *k;
	unsigned n;
};

static void orphan_cb(void *arg, const char *name, struct dp_shard *sh)
{
	struct orphan_visit *v = arg;
	if (dp_shard_user(sh))
		return;
	v->n++;
	ctl_log(CTL_LOG_WARN, "shard log %s belongs to no stream in the metadata: kept on disk, "
		"not served (CreateStream of that name replaces it)", name);
}

int ctl_kinesis_new(const struct ctl_kinesis_config *cfg, struct ctl_meta *meta,
		    struct ctl_shards *shards, struct ctl_kinesis **ret)
{
	struct ctl_kinesis *k = calloc(1, sizeof(*k));
	if (!k)
		return -ENOMEM;
	k->cfg = *cfg;
	if (!k->cfg.shard_limit)
		k->cfg.shard_limit = 512;
	if (!k->cfg.default_retention_h)
		k->cfg.default_retention_h = 24;
	if (!k->cfg.iterator_ttl_s)
		k->cfg.iterator_ttl_s = 300;
	k->meta = meta;
	k->shards = shards;
	k->g = ctl_shards_group(shards);
	int r = dp_hasher_new(&k->hasher);
	if (r < 0)
		goto fail;
	if ((r = ctl_meta_schema(meta, "kinesis", 1, k_schema)) < 0 || (r = load_key(k)) < 0 ||
	    (r = load_streams(k)) < 0 || (r = k_routes_publish(k)) < 0)
		goto fail;
	struct orphan_visit v = { k, 0 };
	ctl_shards_each(shards, orphan_cb, &v);
	*ret = k;
	return 0;
fail:
	ctl_kinesis_free(k);
	return r;
}

void ctl_kinesis_free(struct ctl_kinesis *k)
{
	if (!k)
		return;
	k_routes_clear(k);
	for (unsigned i = 0; i < k->n_streams; i++)
		stream_free(k->streams[i]);
	free(k->streams);
	dp_hasher_free(k->hasher);
	free(k);
}

void ctl_kinesis_drain(struct ctl_kinesis *k)
{
	k_puts_drain(k);
}

/* ---- stream operations ---------------------------------------------------------------------------- */

static void op_create_stream(void *svc, struct ctl_aws_call *c)
{
	struct ctl_kinesis *k = svc;
	const char *name;
	int64_t count = 0, kib = K_RECORD_DEFAULT_KIB;
	json_t *mode = NULL, *tags = NULL;
	const char *mode_s = "PROVISIONED";
	if (stream_name_arg(c, NULL, &name, false) < 0)
		return;
	if (!name) {
		ctl_aws_validation(c, NULL, "streamName", "Member must not be null");
		return;
	}
	if (ctl_aws_int(c, NULL, "ShardCount", 1, 100000, false, &count) < 0 ||
	    ctl_aws_object(c, NULL, "StreamModeDetails", false, &mode) < 0 ||
	    (mode && ctl_aws_str(c, mode, "StreamMode", 1, 16, true, &mode_s) < 0) ||
	    ctl_aws_object(c, NULL, "Tags", false, &tags) < 0 ||
	    ctl_aws_int(c, NULL, "MaxRecordSizeInKiB", 1024, 10240, false, &kib) < 0)
		return;
	bool on_demand = strcmp(mode_s, "ON_DEMAND") == 0;
	if (!on_demand && strcmp(mode_s, "PROVISIONED") != 0) {
		ctl_aws_validation(c, mode_s, "streamModeDetails.streamMode",
				   "Member must satisfy enum value set: [PROVISIONED, ON_DEMAND]");
		return;
	}
	if (on_demand && count == 0)
		count = 4; /* on-demand streams start with 4 shards */
	if (count == 0) {
		ctl_aws_invalid(c, "ShardCount is required for a PROVISIONED stream.");
		return;
	}
	if (tags && json_object_size(tags) > K_TAGS_MAX) {
		ctl_aws_invalid(c, "Failed to create stream %s: a stream may have at most %d tags.",
				name, K_TAGS_MAX);
		return;
	}
	if (k_stream_find(k, name)) {
		ctl_aws_inuse(c, "Stream %s under account %s already exists.", name,
			      ctl_aws_account(c));
		return;
	}
	if (k_open_shards_total(k) + (uint64_t)count > k->cfg.shard_limit) {
		ctl_aws_limit(c, "This request would exceed the shard limit for the account %s in %s. "
			      "Current shard count for the account: %u. Limit: %u. Number of "
			      "additional shards that would have resulted from this request: %" PRId64
			      ". Raise --shard-limit to allow more.", ctl_aws_account(c),
			      ctl_aws_region(c), k_open_shards_total(k), k->cfg.shard_limit, count);
		return;
	}
	/* A directory left by a stream whose metadata never committed holds nothing acked. */
	if (ctl_shards_find(k->shards, name, 0))
		ctl_shards_remove_stream(k->shards, name);

	struct k_stream *st = calloc(1, sizeof(*st));
	if (!st) {
		ctl_aws_internal(c, "out of memory");
		return;
	}
	snprintf(st->name, sizeof(st->name), "%s", name);
	snprintf(st->region, sizeof(st->region), "%s", ctl_aws_region(c));
	snprintf(st->status, sizeof(st->status), "ACTIVE");
	st->created_ms = ctl_aws_now_ms(c);
	st->on_demand = on_demand;
	st->retention_h = k->cfg.default_retention_h;
	st->max_record_kib = (unsigned)kib;
	int r = 0;
	for (uint32_t i = 0; i < (uint32_t)count && r == 0; i++) {
		dp_u128 s, e;
		struct k_shard *sh;
		dp_hash_range_even((uint32_t)count, i, &s, &e);
		r = k_shard_new(k, st, s, e, -1, -1, st->created_ms, &sh);
	}
	if (r == 0)
		r = k_stream_remap(st);
	if (r == 0 && (r = ctl_meta_begin(k->meta)) == 0) {
		r = k_meta_put_stream(k, st);
		for (unsigned i = 0; i < st->n_shards && r == 0; i++)
			r = k_meta_put_shard(k, st->shards[i]);
		const char *key;
		json_t *val;
		json_object_foreach(tags, key, val) {
			sqlite3_stmt *q = r ? NULL : prep(k, "INSERT OR REPLACE INTO kinesis_tag "
							  "VALUES(?,?,?)");
			if (!q) {
				r = -EIO;
				break;
			}
			sqlite3_bind_text(q, 1, st->name, -1, SQLITE_STATIC);
			sqlite3_bind_text(q, 2, key, -1, SQLITE_STATIC);
			sqlite3_bind_text(q, 3, json_is_string(val) ? json_string_value(val) : "", -1,
					  SQLITE_STATIC);
			r = step_done(k, q, "saving a tag");
		}
		r = r ? (ctl_meta_rollback(k->meta), r) : ctl_meta_commit(k->meta);
	}
	if (r == 0)
		r = stream_insert(k, st);
	if (r == 0 && k_routes_publish(k) < 0)
		ctl_log(CTL_LOG_WARN, "stream %s: NIC records are refused until the next routing "
			"change (out of memory)", name);
	if (r < 0) {
		stream_free(st);
		ctl_shards_remove_stream(k->shards, name);
		ctl_aws_internal(c, "could not create stream %s: %s (see the daemon's log)", name,
				 strerror(-r));
		return;
	}
	ctl_log(CTL_LOG_INFO, "stream %s created with %u shard(s)", st->name, st->n_shards);
	ctl_aws_ok(c, NULL);
}

static void op_delete_stream(void *svc, struct ctl_aws_call *c)
{
	struct ctl_kinesis *k = svc;
	bool enforce = false;
	if (ctl_aws_bool(c, NULL, "EnforceConsumerDeletion", false, &enforce) < 0)
		return;
	struct k_stream *st = k_stream_arg(k, c);
	if (!st)
		return;
	int r = ctl_meta_begin(k->meta);
	if (r == 0) {
		static const char *const del[] = {
			"DELETE FROM kinesis_stream WHERE name = ?",
			"DELETE FROM kinesis_shard WHERE stream = ?",
			"DELETE FROM kinesis_tag WHERE stream = ?",
		};
		for (unsigned i = 0; i < 3 && r == 0; i++) {
			sqlite3_stmt *q = prep(k, del[i]);
			if (!q) {
				r = -EIO;
				break;
			}
			sqlite3_bind_text(q, 1, st->name, -1, SQLITE_STATIC);
			r = step_done(k, q, "deleting a stream");
		}
		r = r ? (ctl_meta_rollback(k->meta), r) : ctl_meta_commit(k->meta);
	}
	if (r < 0) {
		ctl_aws_internal(c, "could not delete stream %s (see the daemon's log)", st->name);
		return;
	}
	stream_remove(k, st);
	/* The workers stop routing to it, and puts already accepted are answered first. */
	k_routes_publish(k);
	k_puts_drain(k);
	char name[K_NAME_MAX + 1];
	snprintf(name, sizeof(name), "%s", st->name);
	stream_free(st);
	ctl_shards_remove_stream(k->shards, name);
	ctl_log(CTL_LOG_INFO, "stream %s deleted", name);
	ctl_aws_ok(c, NULL);
}

static json_t *mode_json(const struct k_stream *st)
{
	return json_pack("{s:s}", "StreamMode", st->on_demand ? "ON_DEMAND" : "PROVISIONED");
}

static void op_describe_stream(void *svc, struct ctl_aws_call *c)
{
	struct ctl_kinesis *k = svc;
	int64_t limit = 100;
	const char *start = NULL;
	if (ctl_aws_int(c, NULL, "Limit", 1, 10000, false, &limit) < 0 ||
	    ctl_aws_str(c, NULL, "ExclusiveStartShardId", 1, 128, false, &start) < 0)
		return;
	struct k_stream *st = k_stream_arg(k, c);
	if (!st)
		return;
	if (limit > 100)
		limit = 100;
	int64_t after = -1;
	uint32_t idx;
	if (start && dp_shard_id_parse(start, &idx) == 0)
		after = idx;
	json_t *shards = json_array();
	bool more = false;
	for (unsigned i = 0; i < st->n_shards; i++) {
		if ((int64_t)st->shards[i]->index <= after)
			continue;
		if ((int64_t)json_array_size(shards) == limit) {
			more = true;
			break;
		}
		json_array_append_new(shards, k_shard_json(st->shards[i]));
	}
	char arn[512];
	k_stream_arn(st, ctl_aws_account(c), arn, sizeof(arn));
	ctl_aws_ok(c, json_pack("{s:{s:s, s:s, s:s, s:o, s:o, s:b, s:i, s:o, s:[{s:[]}], s:s}}",
				"StreamDescription", "StreamName", st->name, "StreamARN", arn,
				"StreamStatus", st->status, "StreamModeDetails", mode_json(st),
				"Shards", shards, "HasMoreShards", more, "RetentionPeriodHours",
				(int)st->retention_h, "StreamCreationTimestamp",
				ctl_aws_time_json(st->created_ms), "EnhancedMonitoring",
				"ShardLevelMetrics", "EncryptionType", "NONE"));
}

static void op_describe_stream_summary(void *svc, struct ctl_aws_call *c)
{
	struct ctl_kinesis *k = svc;
	struct k_stream *st = k_stream_arg(k, c);
	if (!st)
		return;
	char arn[512];
	k_stream_arn(st, ctl_aws_account(c), arn, sizeof(arn));
	ctl_aws_ok(c, json_pack("{s:{s:s, s:s, s:s, s:o, s:i, s:o, s:[{s:[]}], s:s, s:i, s:i, "
				"s:i}}", "StreamDescriptionSummary", "StreamName", st->name,
				"StreamARN", arn, "StreamStatus", st->status, "StreamModeDetails",
				mode_json(st), "RetentionPeriodHours", (int)st->retention_h,
				"StreamCreationTimestamp", ctl_aws_time_json(st->created_ms),
				"EnhancedMonitoring", "ShardLevelMetrics", "EncryptionType", "NONE",
				"OpenShardCount", (int)st->n_open, "ConsumerCount", 0,
				"MaxRecordSizeInKiB", (int)st->max_record_kib));
}

/* Pagination tokens: base64 of "<what>\n<after>\n<issued ms>"; they expire after 300 s. */
static json_t *token_make(const char *what, const char *after, int64_t now_ms)
{
	char raw[512], enc[700];
	int n = snprintf(raw, sizeof(raw), "%s\n%s\n%" PRId64, what, after, now_ms);
	if (n < 0 || (size_t)n >= sizeof(raw))
		return json_null();
	ctl_b64_encode(raw, (size_t)n, enc);
	return json_string(enc);
}

/* Decode a token into what/after; answers the error and returns -1 when bad or expired. */
static int token_read(struct ctl_aws_call *c, const char *tok, char *what, size_t wn, char *after,
		      size_t an)
{
	uint8_t raw[700];
	size_t tl = strlen(tok);
	long n = tl < 900 ? ctl_b64_decode(tok, tl, raw) : -EINVAL;
	char *nl1, *nl2;
	int64_t issued;
	if (n <= 0)
		goto bad;
	raw[n] = '\0';
	nl1 = strchr((char *)raw, '\n');
	nl2 = nl1 ? strchr(nl1 + 1, '\n') : NULL;
	if (!nl2 || (size_t)(nl1 - (char *)raw) >= wn || (size_t)(nl2 - nl1 - 1) >= an ||
	    sscanf(nl2 + 1, "%" SCNd64, &issued) != 1)
		goto bad;
	if (ctl_aws_now_ms(c) - issued > K_TOKEN_TTL_MS) {
		ctl_aws_err(c, 400, "ExpiredNextTokenException", "The NextToken has expired: it was "
			    "issued more than 300 seconds ago.");
		return -1;
	}
	memcpy(what, raw, (size_t)(nl1 - (char *)raw));
	what[nl1 - (char *)raw] = '\0';
	memcpy(after, nl1 + 1, (size_t)(nl2 - nl1 - 1));
	after[nl2 - nl1 - 1] = '\0';
	return 0;
bad:
	ctl_aws_invalid(c, "Invalid NextToken.");
	return -1;
}

static void op_list_streams(void *svc, struct ctl_aws_call *c)
{
	struct ctl_kinesis *k = svc;
	int64_t limit = 100;
	const char *start = NULL, *tok = NULL;
	if (ctl_aws_int(c, NULL, "Limit", 1, 10000, false, &limit) < 0 ||
	    ctl_aws_str(c, NULL, "ExclusiveStartStreamName", 1, K_NAME_MAX, false, &start) < 0 ||
	    ctl_aws_str(c, NULL, "NextToken", 1, 1048576, false, &tok) < 0)
		return;
	char what[16], after[K_NAME_MAX + 1] = "";
	if (tok) {
		if (token_read(c, tok, what, sizeof(what), after, sizeof(after)) < 0)
			return;
		if (strcmp(what, "streams") != 0) {
			ctl_aws_invalid(c, "Invalid NextToken.");
			return;
		}
		start = after;
	}
	json_t *names = json_array(), *sums = json_array();
	bool more = false;
	const char *last = NULL;
	for (unsigned i = 0; i < k->n_streams; i++) {
		struct k_stream *st = k->streams[i];
		if (start && strcmp(st->name, start) <= 0)
			continue;
		if ((int64_t)json_array_size(names) == limit) {
			more = true;
			break;
		}
		char arn[512];
		k_stream_arn(st, ctl_aws_account(c), arn, sizeof(arn));
		json_array_append_new(names, json_string(st->name));
		json_array_append_new(sums, json_pack("{s:s, s:s, s:s, s:o, s:o}", "StreamName",
						      st->name, "StreamARN", arn, "StreamStatus",
						      st->status, "StreamModeDetails", mode_json(st),
						      "StreamCreationTimestamp",
						      ctl_aws_time_json(st->created_ms)));
		last = st->name;
	}
	json_t *out = json_pack("{s:o, s:b, s:o}", "StreamNames", names, "HasMoreStreams", more,
				"StreamSummaries", sums);
	if (more && last)
		json_object_set_new(out, "NextToken", token_make("streams", last, ctl_aws_now_ms(c)));
	ctl_aws_ok(c, out);
}

static bool shard_passes(const struct k_shard *sh, const char *type, int64_t after, int64_t ts,
			 int64_t now_ms, unsigned retention_h)
{
	int64_t horizon = now_ms - (int64_t)retention_h * 3600 * 1000;
	if (strcmp(type, "AFTER_SHARD_ID") == 0)
		return (int64_t)sh->index > after;
	if (strcmp(type, "AT_TRIM_HORIZON") == 0)
		return !sh->closed_ms || sh->closed_ms >= horizon;
	if (strcmp(type, "AT_LATEST") == 0)
		return !sh->closed_ms;
	if (strcmp(type, "AT_TIMESTAMP") == 0)
		return sh->created_ms <= ts && (!sh->closed_ms || sh->closed_ms > ts);
	if (strcmp(type, "FROM_TIMESTAMP") == 0)
		return !sh->closed_ms || sh->closed_ms > ts;
	return true; /* FROM_TRIM_HORIZON */
}

static void op_list_shards(void *svc, struct ctl_aws_call *c)
{
	struct ctl_kinesis *k = svc;
	const char *name = NULL, *tok = NULL, *start = NULL, *type = "FROM_TRIM_HORIZON";
	const char *fid = NULL;
	int64_t max = 1000, ts = 0, created = 0;
	json_t *filter = NULL;
	int hn = stream_name_arg(c, NULL, &name, false);
	if (hn < 0 || ctl_aws_str(c, NULL, "NextToken", 1, 1048576, false, &tok) < 0 ||
	    ctl_aws_str(c, NULL, "ExclusiveStartShardId", 1, 128, false, &start) < 0 ||
	    ctl_aws_int(c, NULL, "MaxResults", 1, 10000, false, &max) < 0 ||
	    ctl_aws_time(c, NULL, "StreamCreationTimestamp", false, &created) < 0 ||
	    ctl_aws_object(c, NULL, "ShardFilter", false, &filter) < 0)
		return;
	if (filter && (ctl_aws_str(c, filter, "Type", 1, 32, true, &type) < 0 ||
		       ctl_aws_str(c, filter, "ShardId", 1, 128, false, &fid) < 0 ||
		       ctl_aws_time(c, filter, "Timestamp", false, &ts) < 0))
		return;
	static const char *const types[] = { "AFTER_SHARD_ID", "AT_TRIM_HORIZON",
		"FROM_TRIM_HORIZON", "AT_LATEST", "AT_TIMESTAMP", "FROM_TIMESTAMP" };
	bool type_ok = false;
	for (unsigned i = 0; i < 6; i++)
		type_ok |= strcmp(type, types[i]) == 0;
	if (!type_ok) {
		ctl_aws_validation(c, type, "shardFilter.type", "Member must satisfy enum value set: "
				   "[AFTER_SHARD_ID, AT_TRIM_HORIZON, FROM_TRIM_HORIZON, AT_LATEST, "
				   "AT_TIMESTAMP, FROM_TIMESTAMP]");
		return;
	}
	if (strcmp(type, "AFTER_SHARD_ID") == 0 && !fid) {
		ctl_aws_invalid(c, "ShardFilter of type AFTER_SHARD_ID requires a ShardId.");
		return;
	}
	if ((strcmp(type, "AT_TIMESTAMP") == 0 || strcmp(type, "FROM_TIMESTAMP") == 0) &&
	    !json_object_get(filter, "Timestamp")) {
		ctl_aws_invalid(c, "ShardFilter of type %s requires a Timestamp.", type);
		return;
	}
	char what[K_NAME_MAX + 1], after[32] = "";
	if (tok && hn > 0) {
		ctl_aws_invalid(c, "NextToken and StreamName cannot be provided together.");
		return;
	}
	if (!tok && hn == 0) {
		ctl_aws_invalid(c, "Either NextToken or StreamName should be provided.");
		return;
	}
	if (tok) {
		if (token_read(c, tok, what, sizeof(what), after, sizeof(after)) < 0)
			return;
		name = what;
	}
	struct k_stream *st = k_stream_find(k, name);
	if (!st) {
		ctl_aws_notfound(c, "Stream %s under account %s not found.", name,
				 ctl_aws_account(c));
		return;
	}
	int64_t skip = -1, fafter = -1;
	uint32_t idx;
	if (tok)
		skip = strtoll(after, NULL, 10);
	else if (start && dp_shard_id_parse(start, &idx) == 0)
		skip = idx;
	if (fid && dp_shard_id_parse(fid, &idx) == 0)
		fafter = idx;
	json_t *shards = json_array();
	int64_t last = -1;
	bool more = false;
	for (unsigned i = 0; i < st->n_shards; i++) {
		struct k_shard *sh = st->shards[i];
		if ((int64_t)sh->index <= skip ||
		    !shard_passes(sh, type, fafter, ts, ctl_aws_now_ms(c), st->retention_h))
			continue;
		if ((int64_t)json_array_size(shards) == max) {
			more = true;
			break;
		}
		json_array_append_new(shards, k_shard_json(sh));
		last = sh->index;
	}
	json_t *out = json_pack("{s:o}", "Shards", shards);
	if (more) {
		char a[32];
		snprintf(a, sizeof(a), "%" PRId64, last);
		json_object_set_new(out, "NextToken", token_make(st->name, a, ctl_aws_now_ms(c)));
	}
	ctl_aws_ok(c, out);
}

static void retention_change(struct ctl_kinesis *k, struct ctl_aws_call *c, bool increase)
{
	int64_t h;
	if (ctl_aws_int(c, NULL, "RetentionPeriodHours", 1, 100000, true, &h) < 0)
		return;
	struct k_stream *st = k_stream_arg(k, c);
	if (!st)
		return;
	if (h < 24 || h > 8760) {
		ctl_aws_invalid(c, "Minimum allowed retention period is 24 hours. Maximum allowed "
				"retention period is 8760 hours. Requested retention period (%" PRId64
				" hours) is out of range.", h);
		return;
	}
	if (increase && h < (int64_t)st->retention_h) {
		ctl_aws_invalid(c, "Requested retention period (%" PRId64 " hours) for stream %s can "
				"not be shorter than existing retention period (%u hours). Use "
				"DecreaseRetentionPeriod API.", h, st->name, st->retention_h);
		return;
	}
	if (!increase && h > (int64_t)st->retention_h) {
		ctl_aws_invalid(c, "Requested retention period (%" PRId64 " hours) for stream %s can "
				"not be longer than existing retention period (%u hours). Use "
				"IncreaseRetentionPeriod API.", h, st->name, st->retention_h);
		return;
	}
	unsigned old = st->retention_h;
	st->retention_h = (unsigned)h;
	if (k_meta_put_stream(k, st) < 0) {
		st->retention_h = old;
		ctl_aws_internal(c, "could not save the retention period (see the daemon's log)");
		return;
	}
	for (unsigned i = 0; i < st->n_shards; i++)
		ctl_shards_set_retention(k->shards, st->shards[i]->log, st->retention_h);
	ctl_aws_ok(c, NULL);
}

static void op_increase_retention(void *svc, struct ctl_aws_call *c)
{
	retention_change(svc, c, true);
}

static void op_decrease_retention(void *svc, struct ctl_aws_call *c)
{
	retention_change(svc, c, false);
}

/* ---- tags ---------------------------------------------------------------------------------------- */

static int tag_count(struct ctl_kinesis *k, const char *stream)
{
	sqlite3_stmt *q = prep(k, "SELECT count(*) FROM kinesis_tag WHERE stream = ?");
	if (!q)
		return -EIO;
	sqlite3_bind_text(q, 1, stream, -1, SQLITE_STATIC);
	int n = sqlite3_step(q) == SQLITE_ROW ? sqlite3_column_int(q, 0) : -EIO;
	sqlite3_finalize(q);
	return n;
}

static bool tag_exists(struct ctl_kinesis *k, const char *stream, const char *key)
{
	sqlite3_stmt *q = prep(k, "SELECT 1 FROM kinesis_tag WHERE stream = ? AND key = ?");
	if (!q)
		return false;
	sqlite3_bind_text(q, 1, stream, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 2, key, -1, SQLITE_STATIC);
	bool yes = sqlite3_step(q) == SQLITE_ROW;
	sqlite3_finalize(q);
	return yes;
}

static void op_add_tags(void *svc, struct ctl_aws_call *c)
{
	struct ctl_kinesis *k = svc;
	json_t *tags;
	if (ctl_aws_object(c, NULL, "Tags", true, &tags) < 0)
		return;
	struct k_stream *st = k_stream_arg(k, c);
	if (!st)
		return;
	const char *key;
	json_t *val;
	int have = tag_count(k, st->name), added = 0;
	json_object_foreach(tags, key, val) {
		size_t kl = strlen(key);
		if (kl < 1 || kl > 128 || !json_is_string(val) || json_string_length(val) > 256) {
			ctl_aws_invalid(c, "Tag key must be 1..128 characters and tag value a string "
					"of at most 256 characters (key '%.128s').", key);
			return;
		}
		added += !tag_exists(k, st->name, key);
	}
	if (have < 0 || have + added > K_TAGS_MAX) {
		ctl_aws_limit(c, "Failed to add tags to stream %s under account %s because a given "
			      "stream cannot have more than %d tags.", st->name, ctl_aws_account(c),
			      K_TAGS_MAX);
		return;
	}
	int r = ctl_meta_begin(k->meta);
	json_object_foreach(tags, key, val) {
		sqlite3_stmt *q = r ? NULL : prep(k, "INSERT OR REPLACE INTO kinesis_tag VALUES(?,?,?)");
		if (!q) {
			r = -EIO;
			break;
		}
		sqlite3_bind_text(q, 1, st->name, -1, SQLITE_STATIC);
		sqlite3_bind_text(q, 2, key, -1, SQLITE_STATIC);
		sqlite3_bind_text(q, 3, json_string_value(val), -1, SQLITE_STATIC);
		r = step_done(k, q, "saving a tag");
	}
	r = r ? (ctl_meta_rollback(k->meta), r) : ctl_meta_commit(k->meta);
	if (r < 0)
		ctl_aws_internal(c, "could not save tags (see the daemon's log)");
	else
		ctl_aws_ok(c, NULL);
}

static void op_remove_tags(void *svc, struct ctl_aws_call *c)
{
	struct ctl_kinesis *k = svc;
	json_t *keys;
	if (ctl_aws_array(c, NULL, "TagKeys", 1, 50, true, &keys) < 0)
		return;
	struct k_stream *st = k_stream_arg(k, c);
	if (!st)
		return;
	size_t i;
	json_t *v;
	json_array_foreach(keys, i, v) {
		if (!json_is_string(v)) {
			ctl_aws_err(c, 400, "SerializationException", "TagKeys must be strings");
			return;
		}
	}
	int r = ctl_meta_begin(k->meta);
	json_array_foreach(keys, i, v) {
		sqlite3_stmt *q = r ? NULL : prep(k, "DELETE FROM kinesis_tag WHERE stream = ? AND "
						  "key = ?");
		if (!q) {
			r = -EIO;
			break;
		}
		sqlite3_bind_text(q, 1, st->name, -1, SQLITE_STATIC);
		sqlite3_bind_text(q, 2, json_string_value(v), -1, SQLITE_STATIC);
		r = step_done(k, q, "removing a tag");
	}
	r = r ? (ctl_meta_rollback(k->meta), r) : ctl_meta_commit(k->meta);
	if (r < 0)
		ctl_aws_internal(c, "could not remove tags (see the daemon's log)");
	else
		ctl_aws_ok(c, NULL);
}

static void op_list_tags(void *svc, struct ctl_aws_call *c)
{
	struct ctl_kinesis *k = svc;
	const char *start = "";
	int64_t limit = 50;
	if (ctl_aws_str(c, NULL, "ExclusiveStartTagKey", 1, 128, false, &start) < 0 ||
	    ctl_aws_int(c, NULL, "Limit", 1, 50, false, &limit) < 0)
		return;
	struct k_stream *st = k_stream_arg(k, c);
	if (!st)
		return;
	sqlite3_stmt *q = prep(k, "SELECT key, value FROM kinesis_tag WHERE stream = ? AND key > ? "
			       "ORDER BY key");
	if (!q) {
		ctl_aws_internal(c, "could not read tags");
		return;
	}
	sqlite3_bind_text(q, 1, st->name, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 2, start, -1, SQLITE_STATIC);
	json_t *tags = json_array();
	bool more = false;
	while (sqlite3_step(q) == SQLITE_ROW) {
		if ((int64_t)json_array_size(tags) == limit) {
			more = true;
			break;
		}
		json_array_append_new(tags, json_pack("{s:s, s:s}", "Key",
						      (const char *)sqlite3_column_text(q, 0), "Value",
						      (const char *)sqlite3_column_text(q, 1)));
	}
	sqlite3_finalize(q);
	ctl_aws_ok(c, json_pack("{s:o, s:b}", "Tags", tags, "HasMoreTags", more));
}

static void op_describe_limits(void *svc, struct ctl_aws_call *c)
{
	struct ctl_kinesis *k = svc;
	unsigned od = 0;
	for (unsigned i = 0; i < k->n_streams; i++)
		od += k->streams[i]->on_demand;
	ctl_aws_ok(c, json_pack("{s:i, s:i, s:i, s:i}", "ShardLimit", (int)k->cfg.shard_limit,
				"OpenShardCount", (int)k_open_shards_total(k), "OnDemandStreamCount",
				(int)od, "OnDemandStreamCountLimit", 50));
}

/* ---- registration --------------------------------------------------------------------------------- */

static const struct ctl_aws_op k_ops[] = {
	{ "CreateStream", op_create_stream },
	{ "DeleteStream", op_delete_stream },
	{ "DescribeStream", op_describe_stream },
	{ "DescribeStreamSummary", op_describe_stream_summary },
	{ "ListStreams", op_list_streams },
	{ "ListShards", op_list_shards },
	{ "IncreaseStreamRetentionPeriod", op_increase_retention },
	{ "DecreaseStreamRetentionPeriod", op_decrease_retention },
	{ "AddTagsToStream", op_add_tags },
	{ "RemoveTagsFromStream", op_remove_tags },
	{ "ListTagsForStream", op_list_tags },
	{ "DescribeLimits", op_describe_limits },
	{ "PutRecord", NULL, k_op_put_record },
	{ "PutRecords", NULL, k_op_put_records },
	{ "GetShardIterator", k_op_get_shard_iterator },
	{ "GetRecords", k_op_get_records },
	{ "SplitShard", k_op_split_shard },
	{ "MergeShards", k_op_merge_shards },
	{ "UpdateShardCount", k_op_update_shard_count },
};

int ctl_kinesis_register(struct ctl_kinesis *k, struct ctl_aws *aws)
{
	struct ctl_aws_service s = {
		.target_prefix = "Kinesis_20131202",
		.ops = k_ops,
		.n_ops = sizeof(k_ops) / sizeof(k_ops[0]),
		.svc = k,
		.cbor = &ctl_cbor_kinesis_hints,
	};
	return ctl_aws_register(aws, &s);
}
