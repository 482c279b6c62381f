/* SPDX-License-Identifier: MIT */
/*
 * ctl_lambda's stream side: the Kinesis calls (made through the AWS front-end on its trusted
 * path, so puts get the same sequence numbers and durability as a client's, and reads the same
 * records), the built-ins put_record and flatten_data, and event source mappings.
 *
 * A mapping reads each shard of its stream in turn, one call outstanding at a time: fetch an
 * iterator (after the checkpoint, or at StartingPosition when there is none), GetRecords up to
 * BatchSize, wait up to MaximumBatchingWindowInSeconds for a fuller batch, invoke the function
 * with Lambda's Kinesis event, and only when it succeeds write the batch's last sequence number
 * as the shard's checkpoint (lambda_checkpoints) and move on. A failed batch is retried (the
 * same records, backing off) up to MaximumRetryAttempts, then reported to
 * DestinationConfig.OnFailure (a Kinesis stream gets Lambda's failure record; otherwise the log
 * has it) and checkpointed past, as Lambda does. A restart resumes after each checkpoint: a
 * committed batch is never repeated or skipped; a batch that was running when the daemon
 * stopped runs again (at least once).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl_b64.h"
#include "ctl_lambda_internal.h"
#include "ctl_log.h"

#define KIN_TARGET "Kinesis_20131202."
#define ESM_LIST_EVERY_MS 10000
#define ESM_STEPS_PER_TICK 64
#define FLATTEN_READ_MAX 1000u
#define DEFAULT_STREAM "terraform-kinesis-test"

/* ---- Kinesis through the front-end ----------------------------------------------------------- */

struct l_kin {
	struct l_kin *next;
	struct ctl_lambda *l;
	struct ctl_aws_call *call;
	l_kin_fn fn;
	void *arg;
	bool answered;
};

static void kin_reply(void *arg, unsigned status, const char *ctype, char *body, size_t len,
		      const char *rid, const char *const *headers)
{
	(void)ctype;
	(void)rid;
	(void)headers;
	struct l_kin *k = arg;
	k->answered = true;
	json_t *out = body && len ? json_loadb(body, len, 0, NULL) : NULL;
	free(body);
	if (!out)
		out = json_object();
	k->fn(k->l, k->arg, status, out);
	json_decref(out);
}

int l_kin_call(struct ctl_lambda *l, const char *op, json_t *in, l_kin_fn fn, void *arg)
{
	char *text = json_dumps(in, JSON_COMPACT);
	json_decref(in);
	struct l_kin *k = calloc(1, sizeof(*k));
	if (!text || !k) {
		free(text);
		free(k);
		return -ENOMEM;
	}
	char target[64];
	snprintf(target, sizeof(target), KIN_TARGET "%s", op);
	struct ctl_aws_request rq = {
		.method = "POST", .target = target, .content_type = "application/x-amz-json-1.1",
		.path = "/", .body = text, .len = strlen(text), .trusted = true,
	};
	k->l = l;
	k->fn = fn;
	k->arg = arg;
	k->call = ctl_aws_invoke(l->aws, &rq, kin_reply, k);
	free(text);
	if (!k->call) {
		free(k);  /* answered (out of memory) already */
		return 0;
	}
	/* Answered now or later: freed at the next reap once answered. */
	k->next = l->kin_pending;
	l->kin_pending = k;
	return 0;
}

void l_kin_reap(struct ctl_lambda *l)
{
	struct l_kin **pp = &l->kin_pending;
	while (*pp) {
		struct l_kin *k = *pp;
		if (k->answered) {
			*pp = k->next;
			ctl_aws_call_free(k->call);
			free(k);
		} else {
			pp = &k->next;
		}
	}
}

void l_kin_free_all(struct ctl_lambda *l)
{
	for (struct l_kin *k = l->kin_pending, *n; k; k = n) {
		n = k->next;
		ctl_aws_call_free(k->call);
		free(k);
	}
	l->kin_pending = NULL;
}

static const char *kin_error(json_t *out)
{
	const char *m = json_string_value(json_object_get(out, "message"));
	return m ? m : "unknown error";
}

static const char *kin_type(json_t *out)
{
	const char *t = json_string_value(json_object_get(out, "__type"));
	return t ? t : "ServiceException";
}

/* A record's Data (base64) decoded, parsed as JSON when it is; else kept as a string. */
static json_t *record_value(const char *b64)
{
	size_t n = strlen(b64);
	uint8_t *raw = malloc(ctl_b64_dec_max(n) + 3);
	if (!raw)
		return NULL;
	long len = ctl_b64_decode(b64, n, raw);
	json_t *v = NULL;
	if (len >= 0) {
		v = json_loadb((const char *)raw, (size_t)len, JSON_DECODE_ANY, NULL);
		if (!v)
			v = json_stringn_nocheck((const char *)raw, (size_t)len);
	}
	free(raw);
	return v;
}

/* ---- put_record ------------------------------------------------------------------------------ */

struct put_ctx {
	struct wf_fn_call *call;
	json_t *record;
	char stream[L_STREAM_MAX + 1];
};

static void put_done(struct ctl_lambda *l, void *arg, unsigned status, json_t *out)
{
	(void)l;
	struct put_ctx *p = arg;
	if (status == 200) {
		wf_fn_call_log(p->call, "put a record into %s: shard %s, sequence number %s",
			       p->stream, json_string_value(json_object_get(out, "ShardId")),
			       json_string_value(json_object_get(out, "SequenceNumber")));
		wf_fn_complete_json(p->call, true, json_pack(
			"{s:s, s:O?, s:O?, s:O}", "StreamName", p->stream, "ShardId",
			json_object_get(out, "ShardId"), "SequenceNumber",
			json_object_get(out, "SequenceNumber"), "Record", p->record));
	} else {
		wf_fn_call_log(p->call, "PutRecord into %s failed: %s", p->stream, kin_error(out));
		wf_fn_complete_json(p->call, false, wf_fn_error(kin_type(out), "%s",
								kin_error(out)));
	}
	json_decref(p->record);
	free(p);
}

/* put_record: the seed's producer. Puts the event's `record` member or, without one (a schedule's
 * event, no payload), a generated record with nested fields into STREAM_NAME (default
 * terraform-kinesis-test), keyed by PARTITION_KEY or the record's id; returns what it put and
 * where. */
static void builtin_put_record(void *arg, const struct wf_fn_def *def, const char *payload,
			       size_t len, struct wf_fn_call *call)
{
	struct ctl_lambda *l = arg;
	struct put_ctx *p = calloc(1, sizeof(*p));
	if (!p) {
		wf_fn_complete_json(call, false, wf_fn_error("Runtime.Unknown", "out of memory"));
		return;
	}
	p->call = call;
	const char *stream = l_def_var(def, "STREAM_NAME");
	snprintf(p->stream, sizeof(p->stream), "%s", stream && *stream ? stream : DEFAULT_STREAM);
	json_t *ev = len ? json_loadb(payload, len, 0, NULL) : NULL;
	json_t *given = json_object_get(ev, "record");
	if (given)
		p->record = json_incref(given);
	else
		p->record = wf_fn_generate_record(l->put_seq++, (uint64_t)l_now_ms());
	json_decref(ev);
	char *data = p->record ? json_dumps(p->record, JSON_COMPACT | JSON_REAL_PRECISION(15)) : NULL;
	char *b64 = data ? malloc(ctl_b64_enc_len(strlen(data)) + 1) : NULL;
	if (!b64) {
		free(data);
		json_decref(p->record);
		free(p);
		wf_fn_complete_json(call, false, wf_fn_error("Runtime.Unknown", "out of memory"));
		return;
	}
	ctl_b64_encode(data, strlen(data), b64);
	free(data);
	char key[64];
	const char *pk = l_def_var(def, "PARTITION_KEY");
	json_t *id = json_object_get(p->record, "id");
	if (pk && *pk)
		snprintf(key, sizeof(key), "%s", pk);
	else if (json_is_integer(id))
		snprintf(key, sizeof(key), "%" JSON_INTEGER_FORMAT, json_integer_value(id));
	else if (json_is_string(id) && json_string_length(id))
		snprintf(key, sizeof(key), "%.63s", json_string_value(id));
	else
		snprintf(key, sizeof(key), "%s", wf_fn_call_id(call));
	json_t *in = json_pack("{s:s, s:s, s:s}", "StreamName", p->stream, "Data", b64,
			       "PartitionKey", key);
	free(b64);
	if (!in || l_kin_call(l, "PutRecord", in, put_done, p) < 0) {
		json_decref(p->record);
		free(p);
		wf_fn_complete_json(call, false, wf_fn_error("Runtime.Unknown", "out of memory"));
	}
}

/* ---- flatten_data ---------------------------------------------------------------------------- */

/* Flatten a Kinesis event's records; deliver them when DELIVERY_STREAM is named and a delivery
 * path is set. Returns the result object (NULL when out of memory). */
static json_t *flatten_event(struct ctl_lambda *l, const struct wf_fn_def *def, json_t *records,
			     struct wf_fn_call *call)
{
	json_t *flat = json_array();
	size_t i;
	json_t *r;
	if (!flat)
		return NULL;
	json_array_foreach(records, i, r) {
		json_t *k = json_object_get(r, "kinesis");
		const char *b64 = json_string_value(json_object_get(k ? k : r, k ? "data" : "Data"));
		json_t *v = b64 ? record_value(b64) : json_incref(r);
		json_t *f = v ? wf_fn_flatten(v) : NULL;
		json_decref(v);
		if (f)
			json_array_append_new(flat, f);
	}
	const char *ds = l_def_var(def, "DELIVERY_STREAM");
	int delivered = -1;
	if (ds && *ds && l->cfg.deliver && json_array_size(flat)) {
		size_t cap = 0, len = 0;
		char *lines = NULL;
		json_array_foreach(flat, i, r) {
			char *t = json_dumps(r, JSON_COMPACT | JSON_ENCODE_ANY | JSON_REAL_PRECISION(15));
			size_t tl = t ? strlen(t) : 0;
			if (t && len + tl + 2 > cap) {
				size_t nc = (len + tl + 2) * 2;
				char *nl = realloc(lines, nc);
				if (!nl) {
					free(t);
					continue;
				}
				lines = nl;
				cap = nc;
			}
			if (t) {
				memcpy(lines + len, t, tl);
				len += tl;
				lines[len++] = '\n';
				free(t);
			}
		}
		delivered = lines ? l->cfg.deliver(l->cfg.deliver_arg, ds, lines, len) : -ENOMEM;
		free(lines);
		if (delivered < 0)
			wf_fn_call_log(call, "delivery to %s failed: %s", ds, strerror(-delivered));
		else
			wf_fn_call_log(call, "delivered %zu record(s) to %s", json_array_size(flat),
				       ds);
	} else if (ds && *ds && !l->cfg.deliver) {
		wf_fn_call_log(call, "DELIVERY_STREAM %s is named but this daemon has no delivery "
			       "path: the records stay in the result", ds);
	}
	if (delivered < 0 && ds && *ds && l->cfg.deliver && json_array_size(flat)) {
		json_decref(flat);
		return wf_fn_error("DeliveryFailed", "delivery to %s failed", ds);
	}
	return flat;
}

/* flatten_data read from the stream itself (invoked without Records): shard by shard from
 * TRIM_HORIZON, at most FLATTEN_READ_MAX records. */
struct fd_read {
	struct wf_fn_call *call;
	struct wf_fn_def def;     /* env only, for DELIVERY_STREAM: copied strings */
	char *env[4];
	char stream[L_STREAM_MAX + 1];
	json_t *shards;           /* array of ShardId strings */
	size_t shard_i;
	json_t *records;          /* collected GetRecords records */
	unsigned rounds;
};

static void fd_step(struct ctl_lambda *l, struct fd_read *r);

static void fd_finish(struct ctl_lambda *l, struct fd_read *r, json_t *err)
{
	if (err) {
		wf_fn_complete_json(r->call, false, err);
	} else {
		json_t *flat = flatten_event(l, &r->def, r->records, r->call);
		bool ok = flat && json_is_array(flat);
		wf_fn_call_log(r->call, "read %zu record(s) of %s", json_array_size(r->records),
			       r->stream);
		wf_fn_complete_json(r->call, ok, flat ? flat : wf_fn_error("Runtime.Unknown",
									  "out of memory"));
	}
	json_decref(r->shards);
	json_decref(r->records);
	for (int i = 0; r->env[i]; i++)
		free(r->env[i]);
	free(r);
}

static void fd_got_records(struct ctl_lambda *l, void *arg, unsigned status, json_t *out)
{
	struct fd_read *r = arg;
	if (status != 200) {
		fd_finish(l, r, wf_fn_error(kin_type(out), "%s", kin_error(out)));
		return;
	}
	json_t *recs = json_object_get(out, "Records");
	json_array_extend(r->records, recs);
	const char *next = json_string_value(json_object_get(out, "NextShardIterator"));
	if (json_array_size(recs) && next && json_array_size(r->records) < FLATTEN_READ_MAX &&
	    ++r->rounds < 100) {
		json_t *in = json_pack("{s:s, s:i}", "ShardIterator", next, "Limit",
				       (int)(FLATTEN_READ_MAX - json_array_size(r->records)));
		if (in && l_kin_call(l, "GetRecords", in, fd_got_records, r) == 0)
			return;
		fd_finish(l, r, wf_fn_error("Runtime.Unknown", "out of memory"));
		return;
	}
	r->shard_i++;
	r->rounds = 0;
	fd_step(l, r);
}

static void fd_got_iter(struct ctl_lambda *l, void *arg, unsigned status, json_t *out)
{
	struct fd_read *r = arg;
	const char *it = json_string_value(json_object_get(out, "ShardIterator"));
	if (status != 200 || !it) {
		fd_finish(l, r, wf_fn_error(kin_type(out), "%s", kin_error(out)));
		return;
	}
	json_t *in = json_pack("{s:s, s:i}", "ShardIterator", it, "Limit",
			       (int)(FLATTEN_READ_MAX - json_array_size(r->records)));
	if (!in || l_kin_call(l, "GetRecords", in, fd_got_records, r) < 0)
		fd_finish(l, r, wf_fn_error("Runtime.Unknown", "out of memory"));
}

static void fd_step(struct ctl_lambda *l, struct fd_read *r)
{
	if (r->shard_i >= json_array_size(r->shards) ||
	    json_array_size(r->records) >= FLATTEN_READ_MAX) {
		fd_finish(l, r, NULL);
		return;
	}
	json_t *in = json_pack("{s:s, s:O, s:s}", "StreamName", r->stream, "ShardId",
			       json_array_get(r->shards, r->shard_i), "ShardIteratorType",
			       "TRIM_HORIZON");
	if (!in || l_kin_call(l, "GetShardIterator", in, fd_got_iter, r) < 0)
		fd_finish(l, r, wf_fn_error("Runtime.Unknown", "out of memory"));
}

static void fd_got_shards(struct ctl_lambda *l, void *arg, unsigned status, json_t *out)
{
	struct fd_read *r = arg;
	if (status != 200) {
		fd_finish(l, r, wf_fn_error(kin_type(out), "%s", kin_error(out)));
		return;
	}
	size_t i;
	json_t *s;
	json_array_foreach(json_object_get(out, "Shards"), i, s)
		json_array_append(r->shards, json_object_get(s, "ShardId"));
	fd_step(l, r);
}

static void builtin_flatten_data(void *arg, const struct wf_fn_def *def, const char *payload,
				 size_t len, struct wf_fn_call *call)
{
	struct ctl_lambda *l = arg;
	json_t *ev = len ? json_loadb(payload, len, JSON_DECODE_ANY, NULL) : NULL;
	json_t *recs = json_object_get(ev, "Records");
	if (json_is_array(recs)) {
		json_t *res = flatten_event(l, def, recs, call);
		json_decref(ev);
		wf_fn_complete_json(call, res && json_is_array(res), res ? res :
				    wf_fn_error("Runtime.Unknown", "out of memory"));
		return;
	}
	json_decref(ev);
	struct fd_read *r = calloc(1, sizeof(*r));
	if (!r) {
		wf_fn_complete_json(call, false, wf_fn_error("Runtime.Unknown", "out of memory"));
		return;
	}
	r->call = call;
	const char *stream = l_def_var(def, "STREAM_NAME");
	snprintf(r->stream, sizeof(r->stream), "%s", stream && *stream ? stream : DEFAULT_STREAM);
	const char *ds = l_def_var(def, "DELIVERY_STREAM");
	if (ds) {
		size_t n = strlen(ds) + sizeof("DELIVERY_STREAM=");
		if ((r->env[0] = malloc(n)))
			snprintf(r->env[0], n, "DELIVERY_STREAM=%s", ds);
	}
	r->def.env = (const char *const *)r->env;
	r->shards = json_array();
	r->records = json_array();
	json_t *in = json_pack("{s:s}", "StreamName", r->stream);
	if (!r->shards || !r->records || !in ||
	    l_kin_call(l, "ListShards", in, fd_got_shards, r) < 0)
		fd_finish(l, r, wf_fn_error("Runtime.Unknown", "out of memory"));
}

int l_builtins_register(struct ctl_lambda *l)
{
	int r = wf_fn_builtin_register(l->rt, "put_record", builtin_put_record, l);
	if (r == 0)
		r = wf_fn_builtin_register(l->rt, "flatten_data", builtin_flatten_data, l);
	return r;
}

/* ---- mappings: storage ----------------------------------------------------------------------- */

static json_t *esm_doc(const struct l_esm *e)
{
	return json_pack("{s:s, s:s, s:s, s:s, s:i, s:i, s:s, s:I, s:i, s:s, s:b, s:I}",
			 "uuid", e->uuid, "fn", e->fn, "source_arn", e->source_arn, "stream",
			 e->stream, "batch_size", (int)e->batch_size, "window_s", (int)e->window_s,
			 "start_pos", e->start_pos, "start_ms", (json_int_t)e->start_ms,
			 "retries", e->retries, "on_failure", e->on_failure, "enabled", e->enabled,
			 "modified_ms", (json_int_t)e->modified_ms);
}

static int esm_store(struct ctl_lambda *l, const struct l_esm *e)
{
	json_t *doc = esm_doc(e);
	char *text = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
	json_decref(doc);
	if (!text)
		return -ENOMEM;
	sqlite3_stmt *st = NULL;
	int rc = -EIO;
	if (sqlite3_prepare_v2(ctl_meta_db(l->meta), "INSERT OR REPLACE INTO lambda_mappings "
			       "(uuid, doc) VALUES (?, ?)", -1, &st, NULL) == SQLITE_OK) {
		sqlite3_bind_text(st, 1, e->uuid, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, text, -1, SQLITE_STATIC);
		if (sqlite3_step(st) == SQLITE_DONE)
			rc = 0;
	}
	if (rc < 0)
		ctl_meta_fail(l->meta, "storing an event source mapping");
	sqlite3_finalize(st);
	free(text);
	return rc;
}

static int esm_unstore(struct ctl_lambda *l, const char *uuid)
{
	int rc = ctl_meta_begin(l->meta);
	if (rc < 0)
		return rc;
	static const char *const sql[] = { "DELETE FROM lambda_mappings WHERE uuid = ?",
					   "DELETE FROM lambda_checkpoints WHERE uuid = ?" };
	for (int i = 0; i < 2 && rc == 0; i++) {
		sqlite3_stmt *st = NULL;
		rc = -EIO;
		if (sqlite3_prepare_v2(ctl_meta_db(l->meta), sql[i], -1, &st, NULL) == SQLITE_OK) {
			sqlite3_bind_text(st, 1, uuid, -1, SQLITE_STATIC);
			if (sqlite3_step(st) == SQLITE_DONE)
				rc = 0;
		}
		sqlite3_finalize(st);
	}
	if (rc < 0) {
		ctl_meta_fail(l->meta, "deleting an event source mapping");
		ctl_meta_rollback(l->meta);
		return rc;
	}
	return ctl_meta_commit(l->meta);
}

static int checkpoint_store(struct ctl_lambda *l, const struct l_esm *e, const char *shard,
			    const char *seq)
{
	sqlite3_stmt *st = NULL;
	int rc = -EIO;
	if (sqlite3_prepare_v2(ctl_meta_db(l->meta), "INSERT OR REPLACE INTO lambda_checkpoints "
			       "(uuid, shard, seq) VALUES (?, ?, ?)", -1, &st, NULL) == SQLITE_OK) {
		sqlite3_bind_text(st, 1, e->uuid, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, shard, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 3, seq, -1, SQLITE_STATIC);
		if (sqlite3_step(st) == SQLITE_DONE)
			rc = 0;
	}
	if (rc < 0)
		ctl_meta_fail(l->meta, "writing a mapping's checkpoint");
	sqlite3_finalize(st);
	return rc;
}

static struct l_esm_shard *esm_shard_add(struct l_esm *e, const char *id)
{
	for (unsigned i = 0; i < e->n_shards; i++)
		if (strcmp(e->shards[i].id, id) == 0)
			return &e->shards[i];
	struct l_esm_shard *a = realloc(e->shards, (e->n_shards + 1) * sizeof(*a));
	if (!a)
		return NULL;
	e->shards = a;
	struct l_esm_shard *s = &a[e->n_shards++];
	memset(s, 0, sizeof(*s));
	snprintf(s->id, sizeof(s->id), "%s", id);
	return s;
}

static int checkpoints_load(struct ctl_lambda *l, struct l_esm *e)
{
	sqlite3_stmt *st = NULL;
	if (sqlite3_prepare_v2(ctl_meta_db(l->meta), "SELECT shard, seq FROM lambda_checkpoints "
			       "WHERE uuid = ?", -1, &st, NULL) != SQLITE_OK)
		return ctl_meta_fail(l->meta, "loading checkpoints");
	sqlite3_bind_text(st, 1, e->uuid, -1, SQLITE_STATIC);
	while (sqlite3_step(st) == SQLITE_ROW) {
		struct l_esm_shard *s = esm_shard_add(e, (const char *)sqlite3_column_text(st, 0));
		if (s)
			snprintf(s->checkpoint, sizeof(s->checkpoint), "%s",
				 (const char *)sqlite3_column_text(st, 1));
	}
	sqlite3_finalize(st);
	return 0;
}

void l_esm_free(struct l_esm *e)
{
	if (!e)
		return;
	for (unsigned i = 0; i < e->n_shards; i++) {
		free(e->shards[i].iter);
		json_decref(e->shards[i].batch);
	}
	free(e->shards);
	free(e);
}

static struct l_esm *esm_from_doc(json_t *doc)
{
	struct l_esm *e = calloc(1, sizeof(*e));
	if (!e)
		return NULL;
	static const struct { const char *k; size_t off, n; } s[] = {
		{ "uuid", offsetof(struct l_esm, uuid), sizeof(((struct l_esm *)0)->uuid) },
		{ "fn", offsetof(struct l_esm, fn), sizeof(((struct l_esm *)0)->fn) },
		{ "source_arn", offsetof(struct l_esm, source_arn), L_ARN_MAX },
		{ "stream", offsetof(struct l_esm, stream), L_STREAM_MAX + 1 },
		{ "start_pos", offsetof(struct l_esm, start_pos), 16 },
		{ "on_failure", offsetof(struct l_esm, on_failure), L_ARN_MAX },
	};
	for (size_t i = 0; i < sizeof(s) / sizeof(s[0]); i++) {
		const char *v = json_string_value(json_object_get(doc, s[i].k));
		snprintf((char *)e + s[i].off, s[i].n, "%s", v ? v : "");
	}
	e->batch_size = (unsigned)json_integer_value(json_object_get(doc, "batch_size"));
	e->window_s = (unsigned)json_integer_value(json_object_get(doc, "window_s"));
	e->start_ms = json_integer_value(json_object_get(doc, "start_ms"));
	e->retries = (int)json_integer_value(json_object_get(doc, "retries"));
	e->enabled = json_is_true(json_object_get(doc, "enabled"));
	e->modified_ms = json_integer_value(json_object_get(doc, "modified_ms"));
	if (!e->uuid[0] || !e->stream[0] || !e->batch_size) {
		free(e);
		return NULL;
	}
	snprintf(e->last_result, sizeof(e->last_result), "No records processed");
	return e;
}

static void esm_append(struct ctl_lambda *l, struct l_esm *e)
{
	struct l_esm **pp = &l->esms;
	while (*pp)
		pp = &(*pp)->next;
	e->next = NULL;
	*pp = e;
}

int l_esm_load(struct ctl_lambda *l)
{
	sqlite3_stmt *st = NULL;
	if (sqlite3_prepare_v2(ctl_meta_db(l->meta), "SELECT doc FROM lambda_mappings ORDER BY "
			       "rowid", -1, &st, NULL) != SQLITE_OK)
		return ctl_meta_fail(l->meta, "loading event source mappings");
	int rc = 0;
	while (sqlite3_step(st) == SQLITE_ROW) {
		const char *text = (const char *)sqlite3_column_text(st, 0);
		json_t *doc = text ? json_loads(text, 0, NULL) : NULL;
		struct l_esm *e = doc ? esm_from_doc(doc) : NULL;
		json_decref(doc);
		if (!e) {
			ctl_log(CTL_LOG_WARN, "lambda: a stored event source mapping could not be "
				"read; it is skipped");
			continue;
		}
		if ((rc = checkpoints_load(l, e)) < 0) {
			l_esm_free(e);
			break;
		}
		esm_append(l, e);
	}
	sqlite3_finalize(st);
	return rc;
}

/* ---- mappings: the API ----------------------------------------------------------------------- */

json_t *l_esm_json(const struct ctl_lambda *l, const struct l_esm *e)
{
	char arn[L_ARN_MAX];
	l_fn_arn(l, e->fn, arn, sizeof(arn));
	json_t *j = json_pack("{s:s, s:s, s:s, s:i, s:i, s:o, s:s, s:s, s:s, s:i, s:s, s:i, s:b, "
			      "s:i, s:i, s:[]}",
			      "UUID", e->uuid, "EventSourceArn", e->source_arn, "FunctionArn", arn,
			      "BatchSize", (int)e->batch_size, "MaximumBatchingWindowInSeconds",
			      (int)e->window_s, "LastModified", ctl_aws_time_json(e->modified_ms),
			      "LastProcessingResult", e->last_result, "State",
			      e->deleted ? "Deleting" : e->enabled ? "Enabled" : "Disabled",
			      "StateTransitionReason", "User action", "MaximumRetryAttempts",
			      e->retries, "StartingPosition", e->start_pos, "ParallelizationFactor",
			      1, "BisectBatchOnFunctionError", 0, "MaximumRecordAgeInSeconds", -1,
			      "TumblingWindowInSeconds", 0, "FunctionResponseTypes");
	if (!j)
		return NULL;
	if (strcmp(e->start_pos, "AT_TIMESTAMP") == 0)
		json_object_set_new(j, "StartingPositionTimestamp", ctl_aws_time_json(e->start_ms));
	json_t *dest = e->on_failure[0] ? json_pack("{s:s}", "Destination", e->on_failure)
					: json_object();
	json_object_set_new(j, "DestinationConfig", json_pack("{s:o}", "OnFailure", dest));
	return j;
}

static struct l_esm *esm_find(struct ctl_lambda *l, const char *uuid)
{
	for (struct l_esm *e = l->esms; e; e = e->next)
		if (strcmp(e->uuid, uuid) == 0)
			return e;
	return NULL;
}

/* "arn:aws:kinesis:us-east-1:000000000000:stream/NAME" -> NAME. */
static bool stream_of_arn(const char *arn, char *out, size_t n)
{
	if (strncmp(arn, "arn:", 4) != 0 || !strstr(arn, ":kinesis:"))
		return false;
	const char *s = strstr(arn, ":stream/");
	if (!s || !s[8] || strlen(s + 8) >= n || strchr(s + 8, '/'))
		return false;
	snprintf(out, n, "%s", s + 8);
	return true;
}

void l_esm_op_create(struct ctl_lambda *l, struct ctl_aws_call *c)
{
	size_t len;
	const char *body = ctl_aws_body(c, &len);
	json_error_t je;
	json_t *in = len ? json_loadb(body, len, 0, &je) : NULL;
	struct l_esm *e = NULL;
	if (!json_is_object(in)) {
		l_err(c, 400, "InvalidRequestContentException", "Could not parse request body into "
		      "json");
		goto out;
	}
	const char *fn = json_string_value(json_object_get(in, "FunctionName"));
	const char *src = json_string_value(json_object_get(in, "EventSourceArn"));
	if (!fn) {
		l_err(c, 400, "ValidationException", "1 validation error detected: Value null at "
		      "'functionName' failed to satisfy constraint: Member must not be null");
		goto out;
	}
	struct l_fn *f = l_fn_find(l, fn);
	if (!f) {
		char arn[L_ARN_MAX];
		l_fn_arn(l, fn, arn, sizeof(arn));
		l_err(c, 404, "ResourceNotFoundException", "Function not found: %s", arn);
		goto out;
	}
	if (!(e = calloc(1, sizeof(*e)))) {
		l_err(c, 500, "ServiceException", "out of memory");
		goto out;
	}
	if (!src || strlen(src) >= sizeof(e->source_arn) ||
	    !stream_of_arn(src, e->stream, sizeof(e->stream))) {
		l_err(c, 400, "InvalidParameterValueException", "Unsupported event source: "
		      "EventSourceArn must be a Kinesis stream's ARN "
		      "(arn:aws:kinesis:REGION:ACCOUNT:stream/NAME)");
		goto out;
	}
	snprintf(e->source_arn, sizeof(e->source_arn), "%s", src);
	snprintf(e->fn, sizeof(e->fn), "%s", f->name);
	json_t *v;
	e->batch_size = 100;
	if ((v = json_object_get(in, "BatchSize")) && !json_is_null(v)) {
		if (!json_is_integer(v) || json_integer_value(v) < 1 ||
		    json_integer_value(v) > 10000) {
			l_err(c, 400, "InvalidParameterValueException", "BatchSize must be between "
			      "1 and 10000 for a Kinesis event source");
			goto out;
		}
		e->batch_size = (unsigned)json_integer_value(v);
	}
	if ((v = json_object_get(in, "MaximumBatchingWindowInSeconds")) && !json_is_null(v)) {
		if (!json_is_integer(v) || json_integer_value(v) < 0 ||
		    json_integer_value(v) > 300) {
			l_err(c, 400, "InvalidParameterValueException", "MaximumBatchingWindowIn"
			      "Seconds must be between 0 and 300");
			goto out;
		}
		e->window_s = (unsigned)json_integer_value(v);
	}
	e->retries = -1;
	if ((v = json_object_get(in, "MaximumRetryAttempts")) && !json_is_null(v)) {
		if (!json_is_integer(v) || json_integer_value(v) < -1 ||
		    json_integer_value(v) > 10000) {
			l_err(c, 400, "InvalidParameterValueException", "MaximumRetryAttempts must "
			      "be between -1 and 10000");
			goto out;
		}
		e->retries = (int)json_integer_value(v);
	}
	const char *pos = json_string_value(json_object_get(in, "StartingPosition"));
	if (!pos || (strcmp(pos, "TRIM_HORIZON") && strcmp(pos, "LATEST") &&
		     strcmp(pos, "AT_TIMESTAMP"))) {
		l_err(c, 400, "InvalidParameterValueException", "StartingPosition is required for "
		      "a Kinesis event source: TRIM_HORIZON, LATEST or AT_TIMESTAMP");
		goto out;
	}
	snprintf(e->start_pos, sizeof(e->start_pos), "%s", pos);
	e->modified_ms = l_now_ms();
	/* LATEST is fixed at creation (as the time it was created), so records put while the
	 * daemon is down before the first checkpoint are still seen. */
	e->start_ms = e->modified_ms;
	if (strcmp(pos, "AT_TIMESTAMP") == 0) {
		v = json_object_get(in, "StartingPositionTimestamp");
		if (!json_is_number(v)) {
			l_err(c, 400, "InvalidParameterValueException", "StartingPositionTimestamp "
			      "is required with AT_TIMESTAMP");
			goto out;
		}
		e->start_ms = (int64_t)(json_number_value(v) * 1000.0);
	}
	json_t *dest = json_object_get(json_object_get(json_object_get(in, "DestinationConfig"),
						       "OnFailure"), "Destination");
	if (json_is_string(dest)) {
		char s[L_STREAM_MAX + 1];
		if (strlen(json_string_value(dest)) >= sizeof(e->on_failure) ||
		    !stream_of_arn(json_string_value(dest), s, sizeof(s))) {
			l_err(c, 400, "InvalidParameterValueException", "DestinationConfig.OnFailure."
			      "Destination must be a Kinesis stream's ARN on this appliance");
			goto out;
		}
		snprintf(e->on_failure, sizeof(e->on_failure), "%s", json_string_value(dest));
	}
	v = json_object_get(in, "Enabled");
	e->enabled = !json_is_false(v);
	snprintf(e->last_result, sizeof(e->last_result), "No records processed");
	char uuid[37];
	{
		/* The runtime's request ids are UUIDs; reuse that source for the mapping's. */
		FILE *rf = fopen("/proc/sys/kernel/random/uuid", "r");
		if (!rf || !fgets(uuid, sizeof(uuid), rf))
			snprintf(uuid, sizeof(uuid), "%08" PRIx64 "-0000-4000-8000-000000000000",
				 (uint64_t)e->modified_ms);
		if (rf)
			fclose(rf);
	}
	snprintf(e->uuid, sizeof(e->uuid), "%s", uuid);
	if (esm_store(l, e) < 0) {
		l_err(c, 500, "ServiceException", "cannot store the mapping (see the daemon's log)");
		goto out;
	}
	esm_append(l, e);
	ctl_log(CTL_LOG_INFO, "lambda: event source mapping %s: %s -> %s (batch %u, %s)",
		e->uuid, e->stream, e->fn, e->batch_size, e->start_pos);
	l_reply_json(c, 202, l_esm_json(l, e));
	ctl_loop_wake(l->loop);
	e = NULL;
out:
	free(e);
	json_decref(in);
}

void l_esm_op_list(struct ctl_lambda *l, struct ctl_aws_call *c)
{
	char fn[L_ARN_MAX] = "", src[L_ARN_MAX] = "", marker[16] = "", maxs[16] = "";
	l_query(c, "FunctionName", fn, sizeof(fn));
	l_query(c, "EventSourceArn", src, sizeof(src));
	l_query(c, "Marker", marker, sizeof(marker));
	l_query(c, "MaxItems", maxs, sizeof(maxs));
	long max = maxs[0] ? strtol(maxs, NULL, 10) : 100;
	long skip = strtol(marker, NULL, 10);
	const struct l_fn *f = fn[0] ? l_fn_find(l, fn) : NULL;
	json_t *arr = json_array();
	long seen = 0;
	bool more = false;
	for (struct l_esm *e = l->esms; e; e = e->next) {
		if (fn[0] && (!f || strcmp(f->name, e->fn) != 0))
			continue;
		if (src[0] && strcmp(src, e->source_arn) != 0)
			continue;
		if (seen++ < skip)
			continue;
		if ((long)json_array_size(arr) >= max) {
			more = true;
			break;
		}
		json_array_append_new(arr, l_esm_json(l, e));
	}
	json_t *out = json_pack("{s:o}", "EventSourceMappings", arr);
	if (out && more) {
		char next[24];
		snprintf(next, sizeof(next), "%ld", skip + max);
		json_object_set_new(out, "NextMarker", json_string(next));
	}
	l_reply_json(c, 200, out);
}

void l_esm_op_get(struct ctl_lambda *l, struct ctl_aws_call *c, const char *uuid)
{
	struct l_esm *e = esm_find(l, uuid);
	if (!e) {
		l_err(c, 404, "ResourceNotFoundException", "The resource you requested does not "
		      "exist. (Service: Lambda, Status Code: 404, Request ID: %s)", uuid);
		return;
	}
	l_reply_json(c, 200, l_esm_json(l, e));
}

void l_esm_op_delete(struct ctl_lambda *l, struct ctl_aws_call *c, const char *uuid)
{
	struct l_esm *e = esm_find(l, uuid);
	if (!e) {
		l_err(c, 404, "ResourceNotFoundException", "The resource you requested does not "
		      "exist. (Service: Lambda, Status Code: 404, Request ID: %s)", uuid);
		return;
	}
	if (esm_unstore(l, e->uuid) < 0) {
		l_err(c, 500, "ServiceException", "cannot delete the mapping (see the daemon's log)");
		return;
	}
	for (struct l_esm **pp = &l->esms; *pp; pp = &(*pp)->next)
		if (*pp == e) {
			*pp = e->next;
			break;
		}
	e->deleted = true;
	l_reply_json(c, 202, l_esm_json(l, e));
	if (e->busy) {
		/* An outstanding call still points at it. */
		e->next = l->graveyard;
		l->graveyard = e;
	} else {
		l_esm_free(e);
	}
}

/* ---- mappings: reading and invoking ---------------------------------------------------------- */

static void esm_settle(struct ctl_lambda *l, struct l_esm *e)
{
	e->busy = false;
	if (e->deleted)
		return;  /* stays in the graveyard until the module goes */
	ctl_loop_wake(l->loop);
}

static void esm_got_shards(struct ctl_lambda *l, void *arg, unsigned status, json_t *out)
{
	struct l_esm *e = arg;
	if (status == 200) {
		size_t i;
		json_t *s;
		json_array_foreach(json_object_get(out, "Shards"), i, s) {
			const char *id = json_string_value(json_object_get(s, "ShardId"));
			if (id)
				esm_shard_add(e, id);
		}
	} else if (!e->deleted) {
		snprintf(e->last_result, sizeof(e->last_result), "PROBLEM: stream not readable");
	}
	esm_settle(l, e);
}

struct esm_op {
	struct ctl_lambda *l;
	struct l_esm *e;
	unsigned shard;
};

static struct esm_op *esm_op_new(struct ctl_lambda *l, struct l_esm *e, unsigned shard)
{
	struct esm_op *o = malloc(sizeof(*o));
	if (o)
		*o = (struct esm_op){ l, e, shard };
	return o;
}

static void esm_got_iter(struct ctl_lambda *l, void *arg, unsigned status, json_t *out)
{
	struct esm_op *o = arg;
	struct l_esm *e = o->e;
	const char *it = json_string_value(json_object_get(out, "ShardIterator"));
	if (!e->deleted && o->shard < e->n_shards) {
		struct l_esm_shard *s = &e->shards[o->shard];
		if (status == 200 && it) {
			free(s->iter);
			s->iter = strdup(it);
		} else {
			ctl_log(CTL_LOG_WARN, "lambda: mapping %s cannot read %s %s: %s", e->uuid,
				e->stream, s->id, kin_error(out));
			e->next_poll_ms = l_now_ms() + 1000;
		}
	}
	free(o);
	esm_settle(l, e);
}

static void esm_got_records(struct ctl_lambda *l, void *arg, unsigned status, json_t *out)
{
	struct esm_op *o = arg;
	struct l_esm *e = o->e;
	if (!e->deleted && o->shard < e->n_shards) {
		struct l_esm_shard *s = &e->shards[o->shard];
		if (status == 200) {
			json_t *recs = json_object_get(out, "Records");
			if (!json_array_size(recs))
				s->idle_until_ms = l_now_ms() + l->cfg.poll_ms;
			if (json_array_size(recs)) {
				if (!s->batch) {
					s->batch = json_array();
					s->batch_first_ms = l_now_ms();
				}
				json_array_extend(s->batch, recs);
			}
			const char *next = json_string_value(json_object_get(out,
									      "NextShardIterator"));
			free(s->iter);
			s->iter = next ? strdup(next) : NULL;
			if (!next)
				s->ended = true;
		} else {
			/* An expired iterator or a trimmed position: start again from the
			 * checkpoint, which reads the records not yet processed again. */
			free(s->iter);
			s->iter = NULL;
			json_decref(s->batch);
			s->batch = NULL;
			s->attempts = 0;
			s->retry_at_ms = 0;
			e->next_poll_ms = l_now_ms() + 1000;
		}
	}
	free(o);
	esm_settle(l, e);
}

/* Lambda's Kinesis event for a batch. */
static json_t *kinesis_event(const struct ctl_lambda *l, const struct l_esm *e,
			     const struct l_esm_shard *s, const char *role)
{
	json_t *recs = json_array();
	size_t i;
	json_t *r;
	json_array_foreach(s->batch, i, r) {
		const char *seq = json_string_value(json_object_get(r, "SequenceNumber"));
		char id[160];
		snprintf(id, sizeof(id), "%s:%s", s->id, seq ? seq : "");
		json_array_append_new(recs, json_pack(
			"{s:{s:s, s:O, s:O, s:O, s:O}, s:s, s:s, s:s, s:s, s:s, s:s, s:s}",
			"kinesis", "kinesisSchemaVersion", "1.0", "partitionKey",
			json_object_get(r, "PartitionKey"), "sequenceNumber",
			json_object_get(r, "SequenceNumber"), "data", json_object_get(r, "Data"),
			"approximateArrivalTimestamp",
			json_object_get(r, "ApproximateArrivalTimestamp"),
			"eventSource", "aws:kinesis", "eventVersion", "1.0", "eventID", id,
			"eventName", "aws:kinesis:record", "invokeIdentityArn", role, "awsRegion",
			l->region, "eventSourceARN", e->source_arn));
	}
	return json_pack("{s:o}", "Records", recs);
}

static const char *batch_seq(const struct l_esm_shard *s, bool last)
{
	json_t *r = json_array_get(s->batch, last ? json_array_size(s->batch) - 1 : 0);
	return json_string_value(json_object_get(r, "SequenceNumber"));
}

static void batch_clear(struct l_esm_shard *s)
{
	json_decref(s->batch);
	s->batch = NULL;
	s->attempts = 0;
	s->retry_at_ms = 0;
}

static void on_failure_put(struct ctl_lambda *l, void *arg, unsigned status, json_t *out)
{
	(void)l;
	char *uuid = arg;
	if (status != 200)
		ctl_log(CTL_LOG_WARN, "lambda: mapping %s: the failure record could not be put to "
			"its OnFailure stream: %s", uuid, kin_error(out));
	free(uuid);
}

/* After the retries: report the batch (stream or log) and go past it. */
static void batch_give_up(struct ctl_lambda *l, struct l_esm *e, struct l_esm_shard *s,
			  const char *error)
{
	const char *first = batch_seq(s, false), *last = batch_seq(s, true);
	ctl_log(CTL_LOG_WARN, "lambda: mapping %s gives up on %zu record(s) of %s %s (%s..%s) "
		"after %u attempt(s): %.300s", e->uuid, json_array_size(s->batch), e->stream, s->id,
		first ? first : "?", last ? last : "?", s->attempts, error);
	if (e->on_failure[0]) {
		char fnarn[L_ARN_MAX], dest[L_STREAM_MAX + 1];
		l_fn_arn(l, e->fn, fnarn, sizeof(fnarn));
		stream_of_arn(e->on_failure, dest, sizeof(dest));
		json_t *info = json_pack(
			"{s:{s:s, s:s, s:i}, s:{s:s}, s:s, s:s, s:{s:s, s:s?, s:s?, s:i, s:s}}",
			"requestContext", "functionArn", fnarn, "condition", "RetryAttemptsExhausted",
			"approximateInvokeCount", (int)s->attempts, "responseContext",
			"functionError", "Unhandled", "error", error, "version", "1.0",
			"KinesisBatchInfo", "shardId", s->id, "startSequenceNumber", first,
			"endSequenceNumber", last, "batchSize", (int)json_array_size(s->batch),
			"streamArn", e->source_arn);
		char *text = info ? json_dumps(info, JSON_COMPACT) : NULL;
		json_decref(info);
		char *b64 = text ? malloc(ctl_b64_enc_len(strlen(text)) + 1) : NULL;
		char *uuid = strdup(e->uuid);
		if (b64 && uuid) {
			ctl_b64_encode(text, strlen(text), b64);
			json_t *in = json_pack("{s:s, s:s, s:s}", "StreamName", dest, "Data", b64,
					       "PartitionKey", s->id);
			if (in && l_kin_call(l, "PutRecord", in, on_failure_put, uuid) == 0)
				uuid = NULL;
		}
		free(uuid);
		free(b64);
		free(text);
	}
	if (last) {
		snprintf(s->checkpoint, sizeof(s->checkpoint), "%s", last);
		checkpoint_store(l, e, s->id, last);
	}
	batch_clear(s);
}

static void esm_invoked(void *arg, const struct wf_fn_result *r)
{
	struct esm_op *o = arg;
	struct l_esm *e = o->e;
	struct ctl_lambda *l = o->l;
	if (!e->deleted && o->shard < e->n_shards) {
		struct l_esm_shard *s = &e->shards[o->shard];
		if (r->ok) {
			const char *last = batch_seq(s, true);
			if (last) {
				snprintf(s->checkpoint, sizeof(s->checkpoint), "%s", last);
				if (checkpoint_store(l, e, s->id, last) < 0)
					ctl_log(CTL_LOG_ERR, "lambda: mapping %s: checkpoint %s of "
						"%s not written; the batch may run again after a "
						"restart", e->uuid, last, s->id);
			}
			e->records_done += json_array_size(s->batch);
			snprintf(e->last_result, sizeof(e->last_result), "OK");
			batch_clear(s);
		} else {
			s->attempts++;
			snprintf(e->last_result, sizeof(e->last_result), "PROBLEM: Function call "
				 "failed");
			if (e->retries >= 0 && s->attempts > (unsigned)e->retries) {
				batch_give_up(l, e, s, r->text);
			} else {
				/* Back off: 0.5 s doubling up to 30 s. */
				unsigned shift = s->attempts < 7 ? s->attempts - 1 : 6;
				s->retry_at_ms = l_now_ms() + (500ll << shift);
			}
		}
	}
	free(o);
	esm_settle(l, e);
}

/* Invoke the function with the shard's batch. Returns true when a call is outstanding. */
static bool esm_invoke(struct ctl_lambda *l, struct l_esm *e, unsigned si)
{
	struct l_esm_shard *s = &e->shards[si];
	struct l_fn *f = l_fn_find(l, e->fn);
	if (!f) {
		snprintf(e->last_result, sizeof(e->last_result), "PROBLEM: Function not found");
		e->next_poll_ms = l_now_ms() + 5000;
		return false;
	}
	json_t *ev = kinesis_event(l, e, s, f->role);
	char *text = ev ? json_dumps(ev, JSON_COMPACT) : NULL;
	json_decref(ev);
	struct esm_op *o = esm_op_new(l, e, si);
	if (!text || !o) {
		free(text);
		free(o);
		return false;
	}
	e->busy = true;
	int r = ctl_lambda_invoke(l, e->fn, text, strlen(text), esm_invoked, o);
	free(text);
	if (r < 0) {
		e->busy = false;
		free(o);
		e->next_poll_ms = l_now_ms() + 1000;
		return false;
	}
	return true;
}

/* One step of a mapping: at most one call started. Returns true when it started one. */
static bool esm_step(struct ctl_lambda *l, struct l_esm *e, int64_t now)
{
	if (e->busy || !e->enabled || now < e->next_poll_ms)
		return false;
	if (now >= e->next_list_ms) {
		e->next_list_ms = now + ESM_LIST_EVERY_MS;
		json_t *in = json_pack("{s:s}", "StreamName", e->stream);
		e->busy = true;
		if (!in || l_kin_call(l, "ListShards", in, esm_got_shards, e) < 0)
			e->busy = false;
		return e->busy;
	}
	for (unsigned k = 0; k < e->n_shards; k++) {
		unsigned si = (e->cursor + k) % e->n_shards;
		struct l_esm_shard *s = &e->shards[si];
		size_t have = json_array_size(s->batch);
		if (have) {
			if (now < s->retry_at_ms)
				continue;
			bool full = have >= e->batch_size;
			bool waited = now - s->batch_first_ms >= (int64_t)e->window_s * 1000;
			if (full || waited || s->ended || s->attempts) {
				e->cursor = si + 1;
				return esm_invoke(l, e, si);
			}
		}
		if (s->ended || (s->iter && now < s->idle_until_ms))
			continue;
		struct esm_op *o = esm_op_new(l, e, si);
		if (!o)
			return false;
		json_t *in;
		const char *op;
		if (!s->iter) {
			op = "GetShardIterator";
			if (s->checkpoint[0])
				in = json_pack("{s:s, s:s, s:s, s:s}", "StreamName", e->stream,
					       "ShardId", s->id, "ShardIteratorType",
					       "AFTER_SEQUENCE_NUMBER", "StartingSequenceNumber",
					       s->checkpoint);
			else if (strcmp(e->start_pos, "TRIM_HORIZON") == 0)
				in = json_pack("{s:s, s:s, s:s}", "StreamName", e->stream,
					       "ShardId", s->id, "ShardIteratorType", "TRIM_HORIZON");
			else
				in = json_pack("{s:s, s:s, s:s, s:o}", "StreamName", e->stream,
					       "ShardId", s->id, "ShardIteratorType", "AT_TIMESTAMP",
					       "Timestamp", ctl_aws_time_json(e->start_ms));
		} else if (have < e->batch_size) {
			op = "GetRecords";
			in = json_pack("{s:s, s:i}", "ShardIterator", s->iter, "Limit",
				       (int)(e->batch_size - have));
		} else {
			free(o);
			continue;
		}
		e->cursor = si + 1;
		e->busy = true;
		if (!in || l_kin_call(l, op, in, strcmp(op, "GetRecords") == 0 ? esm_got_records
					: esm_got_iter, o) < 0) {
			e->busy = false;
			free(o);
			return false;
		}
		return true;
	}
	return false;
}

int64_t l_esm_tick(struct ctl_lambda *l, int64_t now_ms)
{
	int64_t next = CTL_LOOP_NEVER;
	for (struct l_esm *e = l->esms; e; e = e->next) {
		if (!e->enabled)
			continue;
		/* Calls the API answers at once chain here; a call that waits ends the turn. */
		for (unsigned i = 0; i < ESM_STEPS_PER_TICK; i++)
			if (!esm_step(l, e, now_ms) || e->busy)
				break;
		/* Poll again soon: a shard with nothing new returns empty batches cheaply. */
		int64_t want = now_ms + l->cfg.poll_ms;
		if (e->next_poll_ms > now_ms && e->next_poll_ms < want)
			want = e->next_poll_ms;
		if (want < next)
			next = want;
	}
	return next;
}
