/* SPDX-License-Identifier: MIT */
/*
 * ctl_kinesis data operations: PutRecord, PutRecords, GetShardIterator, GetRecords.
 *
 * Puts validate the whole request first (nothing is appended when any record is invalid, as
 * AWS rejects the request), append each shard's records as one batch in request order, and
 * answer when every touched shard's ack mark has passed its batch (durable by default).
 *
 * Shard iterators: base64(version | HMAC-SHA256(key, payload)[0..16) | payload), payload =
 * issued ms, stream creation ms, position (next sequence counter to read), shard index, stream
 * name. The key lives in the metadata, so iterators survive restarts; a changed byte fails the
 * MAC; a recreated stream of the same name does not accept the old stream's iterators.
 */
#include "ctl_kinesis_internal.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "ctl_b64.h"
#include "ctl_log.h"

#define GET_MAX_RECORDS 10000
#define GET_MAX_BYTES (10u * 1024 * 1024)
#define PUTS_MAX 500

struct k_res {
	struct k_shard *sh;
	uint64_t seq;
	int err;  /* 0, or a negative errno: the record failed */
};

struct k_put;

/* One shard's records of a put, on their way to the shard's owner. */
struct k_sub {
	struct dp_ingest_put put;
	struct k_put *p;
	struct k_shard *sh;
	unsigned *ridx;    /* put.n indexes into res: request order of each record */
};

/*
 * A PutRecord(s) call in flight. Its memory is shared by the request (until the transport ends
 * it) and by the owners (until every shard batch is reaped): freed when both let go.
 */
struct k_put {
	struct ctl_kinesis *k;
	struct ctl_aws_call *c;  /* NULL once the request ended */
	bool single;
	unsigned pending;        /* shard batches not yet reaped */
	unsigned refs;           /* the request + pending */
	int64_t ts_ms;
	unsigned n;
	cJSON *json;             /* the request body: partition keys point into it */
	uint8_t *buf;            /* decoded data */
	struct dp_record_in *recs;
	uint64_t *seqs;
	unsigned *ridx;
	struct k_sub *subs;
	struct k_res res[];
};

/* ---- answers ------------------------------------------------------------------------------------ */

static void reply_cjson(struct ctl_aws_call *c, cJSON *doc)
{
	char *text = doc ? cJSON_PrintUnformatted(doc) : NULL;
	cJSON_Delete(doc);
	if (!text) {
		ctl_aws_internal(c, "out of memory");
		return;
	}
	ctl_aws_ok_text(c, text, strlen(text));
}

static void put_answer(struct k_put *p)
{
	char seq[DP_SEQNO_LEN + 1], id[DP_SHARD_ID_LEN + 1];
	cJSON *doc = cJSON_CreateObject();
	if (p->single) {
		struct k_res *r = &p->res[0];
		cJSON_Delete(doc);
		if (r->err) {
			ctl_aws_internal(p->c, "Internal service failure: the shard log cannot accept "
					 "writes (%s)", strerror(-r->err));
			return;
		}
		k_shard_seqno(r->sh, r->seq, p->ts_ms, seq);
		dp_shard_id_format(r->sh->index, id);
		doc = cJSON_CreateObject();
		if (doc && (!cJSON_AddStringToObject(doc, "ShardId", id) ||
			    !cJSON_AddStringToObject(doc, "SequenceNumber", seq) ||
			    !cJSON_AddStringToObject(doc, "EncryptionType", "NONE"))) {
			cJSON_Delete(doc);
			doc = NULL;
		}
		reply_cjson(p->c, doc);
		return;
	}
	cJSON *recs = doc ? cJSON_AddArrayToObject(doc, "Records") : NULL;
	int failed = 0;
	bool ok = recs != NULL;
	for (unsigned i = 0; i < p->n && ok; i++) {
		struct k_res *r = &p->res[i];
		cJSON *o = cJSON_CreateObject();
		ok = o && cJSON_AddItemToArray(recs, o);
		if (!ok) {
			cJSON_Delete(o);
			break;
		}
		if (r->err) {
			failed++;
			ok = cJSON_AddStringToObject(o, "ErrorCode", "InternalFailure") &&
			     cJSON_AddStringToObject(o, "ErrorMessage", "Internal service failure.");
			continue;
		}
		k_shard_seqno(r->sh, r->seq, p->ts_ms, seq);
		dp_shard_id_format(r->sh->index, id);
		ok = cJSON_AddStringToObject(o, "SequenceNumber", seq) &&
		     cJSON_AddStringToObject(o, "ShardId", id);
	}
	if (ok)
		ok = cJSON_AddNumberToObject(doc, "FailedRecordCount", failed) &&
		     cJSON_AddStringToObject(doc, "EncryptionType", "NONE");
	if (!ok) {
		cJSON_Delete(doc);
		doc = NULL;
	}
	reply_cjson(p->c, doc);
}

static void put_unref(struct k_put *p)
{
	if (--p->refs)
		return;
	cJSON_Delete(p->json);
	free(p->buf);
	free(p->recs);
	free(p->seqs);
	free(p->ridx);
	free(p->subs);
	free(p);
}

/* The request ended (answered, or its connection went away). */
static void put_free(void *arg)
{
	struct k_put *p = arg;
	if (!p)
		return;
	p->c = NULL;
	put_unref(p);
}

static void sub_done(struct ctl_kinesis *k, struct k_sub *sb)
{
	struct k_put *p = sb->p;
	int err = sb->put.err;
	if (err && err != -EROFS)
		ctl_log(CTL_LOG_ERR, "stream %s shard %u: %u record(s) not accepted: %s; a failed "
			"log stays read-only until ingestd restarts", sb->sh->st->name, sb->sh->index,
			sb->put.n, strerror(-err));
	for (unsigned j = 0; j < sb->put.n; j++)
		p->res[sb->ridx[j]] = (struct k_res){ sb->sh, sb->put.seq[j], err };
	k->puts_out--;
	if (--p->pending == 0 && p->c)
		put_answer(p);
	put_unref(p);
}

void ctl_kinesis_reap(struct ctl_kinesis *k)
{
	struct dp_ingest_put *done[64];
	unsigned n;
	while ((n = dp_ingest_put_reap(k->g, done, 64)) > 0)
		for (unsigned i = 0; i < n; i++)
			sub_done(k, done[i]->user);
}

void k_puts_drain(struct ctl_kinesis *k)
{
	while (k->puts_out) {
		ctl_shards_step(k->shards);
		ctl_kinesis_reap(k);
	}
}

/* ---- puts --------------------------------------------------------------------------------------- */

/*
 * The records path reads its JSON with cJSON: jansson builds a hash table per object and took
 * 2.6 ms to parse a 500-record PutRecords body where cJSON takes 0.2 ms (same machine, same
 * body; docs/performance.md). The members are checked with AWS's rules and errors, as the
 * ctl_aws_* getters do for the other operations.
 */

/* AWS's member path in messages: "records.3.member.partitionKey", or "partitionKey" for a single
 * record (idx 0). Built only when an error is answered: the hot path prints nothing. */
static void member_path(char *out, size_t n, size_t idx, const char *field)
{
	char camel[48];
	ctl_aws_member_name(field, camel, sizeof(camel));
	if (idx)
		snprintf(out, n, "records.%zu.member.%s", idx, camel);
	else
		snprintf(out, n, "%s", camel);
}

/* A string member: 1 present (*out, *len), 0 absent and optional, -1 answered. */
static int cj_str(struct ctl_aws_call *c, const cJSON *obj, size_t idx, const char *field,
		  size_t min, size_t max, bool required, const char **out, size_t *len)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, field);
	char m[96];
	if (!v || cJSON_IsNull(v)) {
		if (required) {
			member_path(m, sizeof(m), idx, field);
			ctl_aws_validation(c, NULL, m, "Member must not be null");
		}
		return required ? -1 : 0;
	}
	if (!cJSON_IsString(v) || !v->valuestring) {
		ctl_aws_err(c, 400, "SerializationException", "Unexpected value type for '%s': "
			    "expected a string", field);
		return -1;
	}
	size_t l = strlen(v->valuestring);
	if (l < min || l > max) {
		char what[96];
		member_path(m, sizeof(m), idx, field);
		snprintf(what, sizeof(what), "Member must have length %s %zu",
			 l < min ? "greater than or equal to" : "less than or equal to",
			 l < min ? min : max);
		ctl_aws_validation(c, v->valuestring, m, what);
		return -1;
	}
	*out = v->valuestring;
	*len = l;
	return 1;
}

/*
 * Whether a partition key is UTF-8 text without NUL, and its length in characters. Keys are
 * nearly always ASCII: that case is one pass over the bytes; only keys with a byte >= 0x80 go
 * through jansson's UTF-8 validation (which allocates), so the records path allocates nothing
 * per record for it.
 */
static bool key_is_text(const uint8_t *key, size_t n, size_t *chars)
{
	uint8_t any = 0, nul = 0;
	size_t ch = 0;
	for (size_t i = 0; i < n; i++) {
		any |= key[i];
		nul |= key[i] == 0;
		ch += (key[i] & 0xc0) != 0x80;
	}
	*chars = ch;
	if (nul)
		return false;
	if (!(any & 0x80))
		return true;
	json_t *u = json_stringn((const char *)key, n);
	json_decref(u);
	return u != NULL;
}

struct k_in {
	const char *key;
	size_t key_len;
	uint8_t *data;
	long data_len;
	struct k_shard *sh;
};

/* Validate one record (member path prefix for messages) and route it. Returns 0 or -1 (answered). */
static int record_in(struct ctl_kinesis *k, struct ctl_aws_call *c, struct k_stream *st,
		     const cJSON *obj, size_t idx, struct k_in *in, uint8_t *buf)
{
	const char *data, *key, *ehk = NULL;
	size_t dl, kl, el;
	if (cj_str(c, obj, idx, "Data", 0, SIZE_MAX, true, &data, &dl) < 0 ||
	    cj_str(c, obj, idx, "PartitionKey", 1, 256 * 4, true, &key, &kl) < 0 ||
	    cj_str(c, obj, idx, "ExplicitHashKey", 0, SIZE_MAX, false, &ehk, &el) < 0)
		return -1;
	char m[96];
	size_t max = (size_t)st->max_record_kib * 1024;
	in->data = buf;
	in->data_len = ctl_b64_dec_max(dl) > max + 2 ? (long)ctl_b64_dec_max(dl) :
		       ctl_b64_decode(data, dl, buf);
	if (in->data_len < 0) {
		ctl_aws_err(c, 400, "SerializationException", "'%.64s' can not be converted to a Blob: "
			    "it is not valid base64 (length %zu; expected a multiple of 4 of "
			    "A-Z a-z 0-9 + / with = padding)", data, dl);
		return -1;
	}
	if ((size_t)in->data_len > max) {
		char val[96], what[96];
		member_path(m, sizeof(m), idx, "Data");
		snprintf(val, sizeof(val), "java.nio.HeapByteBuffer[pos=0 lim=%ld cap=%ld]",
			 in->data_len, in->data_len);
		snprintf(what, sizeof(what), "Member must have length less than or equal to %zu", max);
		ctl_aws_validation(c, val, m, what);
		return -1;
	}
	/* The key's length limit is in characters; its bytes must be UTF-8 (as JSON text is). */
	size_t chars;
	bool u = key_is_text((const uint8_t *)key, kl, &chars);
	if (!u || chars > 256 || kl > DP_KEY_MAX) {
		member_path(m, sizeof(m), idx, "PartitionKey");
		ctl_aws_validation(c, u ? key : "(not UTF-8)", m,
				   u ? "Member must have length less than or equal to 256" :
				   "Member must be valid UTF-8 text");
		return -1;
	}
	in->key = key;
	in->key_len = kl;
	dp_u128 h;
	if (ehk) {
		if (dp_u128_parse(ehk, el, &h) < 0) {
			ctl_aws_invalid(c, "Invalid ExplicitHashKey. ExplicitHashKey must be in the "
					"range: [0, 2^128-1]. Specified value was %.64s", ehk);
			return -1;
		}
	} else if (dp_hasher_md5(k->hasher, key, kl, &h) < 0) {
		ctl_aws_internal(c, "MD5 of the partition key failed");
		return -1;
	}
	in->sh = k_shard_find(st, (uint32_t)dp_shard_map_lookup(st->map, h));
	if (!in->sh) {
		ctl_aws_internal(c, "no open shard owns the hash key");
		return -1;
	}
	return 0;
}

static struct k_stream *put_stream(struct ctl_kinesis *k, struct ctl_aws_call *c, const cJSON *in)
{
	const char *name = NULL, *arn = NULL, *pick;
	size_t l;
	if (cj_str(c, in, 0, "StreamName", 1, K_NAME_MAX, false, &name, &l) < 0 ||
	    cj_str(c, in, 0, "StreamARN", 1, 2048, false, &arn, &l) < 0 ||
	    k_stream_name_pick(c, name, arn, &pick, true) < 0)
		return NULL;
	struct k_stream *st = k_stream_named(k, c, pick);
	if (st && strcmp(st->status, "ACTIVE") != 0) {
		ctl_aws_internal(c, "Stream %s refuses writes: its metadata could not be saved (see "
				 "the daemon's log)", st->name);
		return NULL;
	}
	return st;
}

static void put_common(struct ctl_kinesis *k, struct ctl_aws_call *c, const char *body, size_t blen,
		       bool single)
{
	struct k_put *p = NULL;
	struct k_in *ins = NULL;
	uint8_t *buf = NULL;
	struct dp_record_in *recs = NULL;
	struct k_shard **touched = NULL;
	const char *end = NULL;
	cJSON *in = cJSON_ParseWithLengthOpts(body, blen, &end, false);
	if (!in || !cJSON_IsObject(in)) {
		if (in)
			ctl_aws_err(c, 400, "SerializationException", "Start of %s found where a "
				    "structure was expected", cJSON_IsArray(in) ? "list" : "value");
		else
			ctl_aws_err(c, 400, "SerializationException", "Malformed request body at "
				    "position %zu", end && end >= body ? (size_t)(end - body) : 0);
		goto out;
	}
	struct k_stream *st = put_stream(k, c, in);
	if (!st)
		goto out;
	const cJSON *arr = NULL;
	size_t n = 1;
	if (!single) {
		arr = cJSON_GetObjectItemCaseSensitive(in, "Records");
		if (!arr || cJSON_IsNull(arr)) {
			ctl_aws_validation(c, NULL, "records", "Member must not be null");
			goto out;
		}
		if (!cJSON_IsArray(arr)) {
			ctl_aws_err(c, 400, "SerializationException", "Unexpected value type for "
				    "'Records': expected a list");
			goto out;
		}
		n = (size_t)cJSON_GetArraySize(arr);
		if (n < 1 || n > PUTS_MAX) {
			char val[32];
			snprintf(val, sizeof(val), "[%zu items]", n);
			ctl_aws_validation(c, val, "records", n < 1 ?
					   "Member must have length greater than or equal to 1" :
					   "Member must have length less than or equal to 500");
			goto out;
		}
	} else {
		const char *sfo;
		size_t l;
		if (cj_str(c, in, 0, "SequenceNumberForOrdering", 0, 128, false, &sfo, &l) < 0)
			goto out;
	}
	size_t total_b64 = 0;
	const cJSON *o = single ? in : arr->child;
	for (size_t i = 0; i < n; i++, o = single ? o : o->next) {
		if (!cJSON_IsObject(o)) {
			ctl_aws_err(c, 400, "SerializationException", "Records must be structures");
			goto out;
		}
		const cJSON *d = cJSON_GetObjectItemCaseSensitive(o, "Data");
		total_b64 += cJSON_IsString(d) && d->valuestring ? strlen(d->valuestring) : 0;
	}
	size_t limit = st->max_record_kib > 1024 ? 10u << 20 : 5u << 20;
	if (!single && ctl_b64_dec_max(total_b64) > limit + 3 * n) {
		ctl_aws_invalid(c, "Records size exceeds %zu MB limit", limit >> 20);
		goto out;
	}
	p = calloc(1, sizeof(*p) + n * sizeof(p->res[0]));
	ins = calloc(n, sizeof(*ins));
	buf = malloc(ctl_b64_dec_max(total_b64) + 3 * n + 1);
	recs = calloc(n, sizeof(*recs));
	touched = calloc(n, sizeof(*touched));
	if (!p || !ins || !buf || !recs || !touched) {
		free(p);
		ctl_aws_internal(c, "out of memory");
		goto out;
	}
	p->k = k;
	p->c = c;
	p->single = single;
	p->n = (unsigned)n;
	p->refs = 1;
	p->ts_ms = ctl_aws_now_ms(c);
	ctl_aws_set_state(c, p, put_free);
	size_t off = 0;
	o = single ? in : arr->child;
	for (size_t i = 0; i < n; i++, o = single ? o : o->next) {
		if (record_in(k, c, st, o, single ? 0 : i + 1, &ins[i], buf + off) < 0)
			goto out;
		off += (size_t)ins[i].data_len;
	}
	/* One batch per shard, records in request order. */
	unsigned nt = 0;
	for (size_t i = 0; i < n; i++) {
		bool seen = false;
		for (unsigned t = 0; t < nt && !seen; t++)
			seen = touched[t] == ins[i].sh;
		if (!seen)
			touched[nt++] = ins[i].sh;
	}
	p->subs = calloc(nt, sizeof(*p->subs));
	p->seqs = calloc(n, sizeof(*p->seqs));
	p->ridx = calloc(n, sizeof(*p->ridx));
	if (!p->subs || !p->seqs || !p->ridx) {
		ctl_aws_internal(c, "out of memory");
		goto out;
	}
	/* The owners read the records after this handler returns: the put keeps their bytes. */
	p->json = in;
	p->buf = buf;
	p->recs = recs;
	in = NULL;
	buf = NULL;
	recs = NULL;
	unsigned base = 0;
	for (unsigned t = 0; t < nt; t++) {
		struct k_shard *sh = touched[t];
		struct k_sub *sb = &p->subs[t];
		unsigned m = 0;
		for (size_t i = 0; i < n; i++)
			if (ins[i].sh == sh) {
				p->recs[base + m] = (struct dp_record_in){ ins[i].key, ins[i].data,
									   (uint32_t)ins[i].data_len,
									   (uint16_t)ins[i].key_len };
				p->ridx[base + m] = (unsigned)i;
				p->res[i] = (struct k_res){ sh, 0, 0 };
				m++;
			}
		*sb = (struct k_sub){ .p = p, .sh = sh, .ridx = p->ridx + base };
		sb->put = (struct dp_ingest_put){ .shard = ctl_shards_slot(k->shards, sh->log),
						  .recs = p->recs + base, .seq = p->seqs + base,
						  .n = m, .ts_ms = p->ts_ms, .user = sb };
		base += m;
		int r = sb->put.shard ? 0 : -ENOENT;
		/* A full ring empties as the owner polls (the control thread's own engine is
		 * polled by the step). */
		while (r == 0 && (r = dp_ingest_put_submit(k->g, &sb->put)) == -EAGAIN)
			ctl_shards_step(k->shards);
		if (r < 0) {
			ctl_log(CTL_LOG_WARN, "stream %s shard %u refused %u record(s): %s", st->name,
				sh->index, m, strerror(-r));
			for (unsigned j = 0; j < m; j++)
				p->res[sb->ridx[j]].err = r;
			continue;
		}
		p->pending++;
		p->refs++;
		k->puts_out++;
	}
	if (p->pending == 0)
		put_answer(p);
	else
		ctl_aws_defer(c);
out:
	cJSON_Delete(in);
	free(ins);
	free(buf);
	free(recs);
	free(touched);
}

void k_op_put_record(void *svc, struct ctl_aws_call *c, const char *body, size_t len)
{
	put_common(svc, c, body, len, true);
}

void k_op_put_records(void *svc, struct ctl_aws_call *c, const char *body, size_t len)
{
	put_common(svc, c, body, len, false);
}

/* ---- iterators ---------------------------------------------------------------------------------- */

#define ITER_VERSION 1
#define ITER_MAC 16
#define ITER_FIXED (8 + 8 + 8 + 4)

struct k_iter {
	int64_t issued_ms, stream_created_ms;
	uint64_t pos;
	uint32_t shard;
	char stream[K_NAME_MAX + 1];
};

static void put64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (56 - 8 * i));
}

static uint64_t get64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

static json_t *iter_make(struct ctl_kinesis *k, const struct k_iter *it)
{
	uint8_t raw[1 + ITER_MAC + ITER_FIXED + K_NAME_MAX];
	uint8_t *pl = raw + 1 + ITER_MAC;
	size_t nl = strlen(it->stream);
	raw[0] = ITER_VERSION;
	put64(pl, (uint64_t)it->issued_ms);
	put64(pl + 8, (uint64_t)it->stream_created_ms);
	put64(pl + 16, it->pos);
	pl[24] = (uint8_t)(it->shard >> 24);
	pl[25] = (uint8_t)(it->shard >> 16);
	pl[26] = (uint8_t)(it->shard >> 8);
	pl[27] = (uint8_t)it->shard;
	memcpy(pl + ITER_FIXED, it->stream, nl);
	uint8_t mac[EVP_MAX_MD_SIZE];
	unsigned ml = 0;
	if (!HMAC(EVP_sha256(), k->iter_key, sizeof(k->iter_key), pl, ITER_FIXED + nl, mac, &ml))
		return NULL;
	memcpy(raw + 1, mac, ITER_MAC);
	char enc[((sizeof(raw) + 2) / 3) * 4 + 1];
	ctl_b64_encode(raw, 1 + ITER_MAC + ITER_FIXED + nl, enc);
	return json_string(enc);
}

/* Returns 0, or -1 after answering InvalidArgument / ExpiredIterator. */
static int iter_read(struct ctl_kinesis *k, struct ctl_aws_call *c, const char *tok,
		     struct k_iter *it)
{
	uint8_t raw[600];
	size_t tl = strlen(tok);
	long n = tl <= 512 ? ctl_b64_decode(tok, tl, raw) : -EINVAL;
	if (n < 1 + ITER_MAC + ITER_FIXED + 1 || n > 1 + ITER_MAC + ITER_FIXED + K_NAME_MAX ||
	    raw[0] != ITER_VERSION)
		goto bad;
	uint8_t *pl = raw + 1 + ITER_MAC;
	size_t pn = (size_t)n - 1 - ITER_MAC;
	uint8_t mac[EVP_MAX_MD_SIZE];
	unsigned ml = 0;
	if (!HMAC(EVP_sha256(), k->iter_key, sizeof(k->iter_key), pl, pn, mac, &ml) ||
	    CRYPTO_memcmp(mac, raw + 1, ITER_MAC) != 0)
		goto bad;
	it->issued_ms = (int64_t)get64(pl);
	it->stream_created_ms = (int64_t)get64(pl + 8);
	it->pos = get64(pl + 16);
	it->shard = (uint32_t)pl[24] << 24 | (uint32_t)pl[25] << 16 | (uint32_t)pl[26] << 8 | pl[27];
	memcpy(it->stream, pl + ITER_FIXED, pn - ITER_FIXED);
	it->stream[pn - ITER_FIXED] = '\0';
	int64_t age = ctl_aws_now_ms(c) - it->issued_ms;
	int64_t ttl = (int64_t)k->cfg.iterator_ttl_s * 1000;
	if (age > ttl) {
		ctl_aws_err(c, 400, "ExpiredIteratorException", "Iterator expired. The iterator was "
			    "created %" PRId64 " ms ago, which is further in the past than the "
			    "tolerated delay of %" PRId64 " milliseconds.", age, ttl);
		return -1;
	}
	return 0;
bad:
	ctl_aws_invalid(c, "Invalid ShardIterator.");
	return -1;
}

/* Parse a client's sequence number for shard sh; -1 after answering. */
static int seq_arg(struct ctl_aws_call *c, const struct k_shard *sh, const char *s, uint64_t *out)
{
	struct dp_seqno q;
	char id[DP_SHARD_ID_LEN + 1], other[DP_SHARD_ID_LEN + 1];
	if (dp_seqno_parse(s, strlen(s), &q) < 0) {
		ctl_aws_invalid(c, "StartingSequenceNumber %.64s used in GetShardIterator on shard "
				"is invalid.", s);
		return -1;
	}
	dp_shard_id_format(sh->index, id);
	if (q.shard_index != sh->index) {
		dp_shard_id_format(q.shard_index, other);
		ctl_aws_invalid(c, "Invalid StartingSequenceNumber. It encodes %s, while it was used "
				"in a call to a shard with %s", other, id);
		return -1;
	}
	if (q.shard_created_s != sh->created_ms / 1000) {
		ctl_aws_invalid(c, "StartingSequenceNumber %s used in GetShardIterator on shard %s in "
				"stream %s is invalid because it did not come from this stream.", s, id,
				sh->st->name);
		return -1;
	}
	*out = q.counter;
	return 0;
}

void k_op_get_shard_iterator(void *svc, struct ctl_aws_call *c)
{
	struct ctl_kinesis *k = svc;
	const char *type, *seqs = NULL;
	int64_t ts = 0;
	if (ctl_aws_str(c, NULL, "ShardIteratorType", 1, 32, true, &type) < 0 ||
	    ctl_aws_str(c, NULL, "StartingSequenceNumber", 1, 128, false, &seqs) < 0 ||
	    ctl_aws_time(c, NULL, "Timestamp", false, &ts) < 0)
		return;
	struct k_stream *st = k_stream_arg(k, c);
	if (!st)
		return;
	struct k_shard *sh = k_shard_arg(st, c, "ShardId");
	if (!sh)
		return;
	struct dp_shard *log = sh->log;
	uint64_t pos, next = dp_shard_readable_next(log), trim = dp_shard_trim_seq(log);
	bool at = strcmp(type, "AT_SEQUENCE_NUMBER") == 0;
	bool after = strcmp(type, "AFTER_SEQUENCE_NUMBER") == 0;
	if (at || after) {
		uint64_t q;
		if (!seqs) {
			ctl_aws_invalid(c, "You must specify a StartingSequenceNumber for the "
					"%s ShardIteratorType.", type);
			return;
		}
		if (seq_arg(c, sh, seqs, &q) < 0)
			return;
		pos = after ? q + 1 : q;
		if (pos > dp_shard_next_seq(log) + 1) {
			ctl_aws_invalid(c, "StartingSequenceNumber %s is beyond the last record of the "
					"shard.", seqs);
			return;
		}
	} else if (strcmp(type, "TRIM_HORIZON") == 0) {
		pos = trim;
	} else if (strcmp(type, "LATEST") == 0) {
		pos = next;
	} else if (strcmp(type, "AT_TIMESTAMP") == 0) {
		if (!json_object_get(ctl_aws_input(c), "Timestamp")) {
			ctl_aws_invalid(c, "Must specify timestampInMillis parameter for iterator of "
					"type AT_TIMESTAMP. Current request has no timestamp "
					"parameter.");
			return;
		}
		if (ts > ctl_aws_now_ms(c)) {
			ctl_aws_invalid(c, "The timestampInMillis parameter cannot be greater than the "
					"currentTimestampInMillis. timestampInMillis: %" PRId64
					", currentTimestampInMillis: %" PRId64, ts, ctl_aws_now_ms(c));
			return;
		}
		struct dp_reader *r;
		if (dp_reader_new(log, DP_POS_AT_TIMESTAMP, (uint64_t)ts, &r) < 0) {
			ctl_aws_internal(c, "cannot position a reader");
			return;
		}
		pos = dp_reader_position(r);
		dp_reader_free(r);
	} else {
		ctl_aws_validation(c, type, "shardIteratorType", "Member must satisfy enum value set: "
				   "[AT_SEQUENCE_NUMBER, AFTER_SEQUENCE_NUMBER, TRIM_HORIZON, LATEST, "
				   "AT_TIMESTAMP]");
		return;
	}
	if (pos < trim)
		pos = trim;
	struct k_iter it = { ctl_aws_now_ms(c), st->created_ms, pos, sh->index, "" };
	snprintf(it.stream, sizeof(it.stream), "%s", st->name);
	json_t *tok = iter_make(k, &it);
	if (!tok) {
		ctl_aws_internal(c, "cannot sign the iterator");
		return;
	}
	ctl_aws_ok(c, json_pack("{s:o}", "ShardIterator", tok));
}

/* Partition keys from the NIC path may be any bytes: shown as text only when they are UTF-8. */
static bool add_key(cJSON *o, const uint8_t *key, size_t n)
{
	char tmp[DP_KEY_MAX + 1];
	memcpy(tmp, key, n);
	tmp[n] = '\0';
	size_t chars;
	if (!key_is_text(key, n, &chars))
		for (size_t i = 0; i < n; i++)
			tmp[i] = key[i] >= 0x20 && key[i] < 0x7f ? (char)key[i] : '?';
	return cJSON_AddStringToObject(o, "PartitionKey", tmp) != NULL;
}

/* ChildShards of a closed shard: every shard that names it as a parent. NULL when out of memory. */
static cJSON *children_json(const struct k_shard *sh)
{
	cJSON *arr = cJSON_CreateArray();
	const struct k_stream *st = sh->st;
	char id[DP_SHARD_ID_LEN + 1], a[DP_SHARD_ID_LEN + 1], s[DP_U128_DIGITS + 1],
		e[DP_U128_DIGITS + 1];
	bool ok = arr != NULL;
	for (unsigned i = 0; i < st->n_shards && ok; i++) {
		const struct k_shard *ch = st->shards[i];
		if (ch->parent != sh->index && ch->adjacent != sh->index)
			continue;
		dp_shard_id_format(ch->index, id);
		dp_u128_format(ch->start, s);
		dp_u128_format(ch->end, e);
		cJSON *o = cJSON_CreateObject();
		cJSON *parents = o ? cJSON_AddArrayToObject(o, "ParentShards") : NULL;
		cJSON *range = o ? cJSON_AddObjectToObject(o, "HashKeyRange") : NULL;
		ok = o && cJSON_AddItemToArray(arr, o) && parents && range &&
		     cJSON_AddStringToObject(o, "ShardId", id) &&
		     cJSON_AddStringToObject(range, "StartingHashKey", s) &&
		     cJSON_AddStringToObject(range, "EndingHashKey", e);
		if (!o)
			break;
		dp_shard_id_format((uint32_t)ch->parent, a);
		ok = ok && cJSON_AddItemToArray(parents, cJSON_CreateString(a));
		if (ok && ch->adjacent >= 0) {
			dp_shard_id_format((uint32_t)ch->adjacent, a);
			ok = cJSON_AddItemToArray(parents, cJSON_CreateString(a));
		}
	}
	if (!ok) {
		cJSON_Delete(arr);
		return NULL;
	}
	return arr;
}

void k_op_get_records(void *svc, struct ctl_aws_call *c)
{
	struct ctl_kinesis *k = svc;
	const char *tok;
	int64_t limit = GET_MAX_RECORDS;
	if (ctl_aws_str(c, NULL, "ShardIterator", 1, 512, true, &tok) < 0 ||
	    ctl_aws_int(c, NULL, "Limit", 1, GET_MAX_RECORDS, false, &limit) < 0)
		return;
	struct k_iter it;
	if (iter_read(k, c, tok, &it) < 0)
		return;
	struct k_stream *st = k_stream_find(k, it.stream);
	struct k_shard *sh = st && st->created_ms == it.stream_created_ms ?
			     k_shard_find(st, it.shard) : NULL;
	if (!sh) {
		ctl_aws_notfound(c, "Shard %u in stream %s under account %s does not exist", it.shard,
				 it.stream, ctl_aws_account(c));
		return;
	}
	struct dp_reader *r;
	int rc = dp_reader_new(sh->log, DP_POS_AT_SEQ, it.pos, &r);
	if (rc == -ERANGE) {
		ctl_aws_invalid(c, "Invalid ShardIterator.");
		return;
	}
	if (rc < 0) {
		ctl_aws_internal(c, "cannot read the shard: %s", strerror(-rc));
		return;
	}
	cJSON *doc = cJSON_CreateObject();
	cJSON *recs = doc ? cJSON_AddArrayToObject(doc, "Records") : NULL;
	bool ok = recs != NULL;
	size_t bytes = 0, count = 0;
	int64_t last_ts = 0;
	struct dp_record_out out[256];
	char seq[DP_SEQNO_LEN + 1];
	char *b64 = NULL;
	size_t b64_cap = 0;
	while (ok && (int64_t)count < limit && bytes < GET_MAX_BYTES) {
		unsigned want = (unsigned)(limit - (int64_t)count);
		int got = dp_reader_read(r, out, want < 256 ? want : 256, GET_MAX_BYTES - bytes);
		if (got < 0) {
			ctl_log(CTL_LOG_ERR, "stream %s shard %u: read failed at %" PRIu64 ": %s",
				st->name, sh->index, dp_reader_position(r), strerror(-got));
			ctl_aws_internal(c, "the shard log could not be read (%s)", strerror(-got));
			cJSON_Delete(doc);
			dp_reader_free(r);
			free(b64);
			return;
		}
		if (got == 0)
			break;
		for (int i = 0; i < got && ok; i++) {
			size_t need = ctl_b64_enc_len(out[i].data_len) + 1;
			if (need > b64_cap) {
				char *nb = realloc(b64, need);
				if (!nb) {
					ok = false;
					break;
				}
				b64 = nb;
				b64_cap = need;
			}
			ctl_b64_encode(out[i].data, out[i].data_len, b64);
			k_shard_seqno(sh, out[i].seq, out[i].ts_ms, seq);
			cJSON *o = cJSON_CreateObject();
			ok = o && cJSON_AddItemToArray(recs, o) &&
			     cJSON_AddStringToObject(o, "SequenceNumber", seq) &&
			     cJSON_AddNumberToObject(o, "ApproximateArrivalTimestamp",
						     (double)out[i].ts_ms / 1000.0) &&
			     cJSON_AddStringToObject(o, "Data", b64) &&
			     add_key(o, out[i].key, out[i].key_len);
			if (!o)
				break;
			bytes += out[i].data_len + out[i].key_len;
			last_ts = out[i].ts_ms;
			count++;
		}
	}
	free(b64);
	uint64_t pos = dp_reader_position(r);
	dp_reader_free(r);
	uint64_t readable = dp_shard_readable_next(sh->log);
	int64_t behind = pos < readable && last_ts ? ctl_aws_now_ms(c) - last_ts : 0;
	if (behind < 0)
		behind = 0;
	ok = ok && cJSON_AddNumberToObject(doc, "MillisBehindLatest", (double)behind);
	if (ok && sh->closed_ms && pos > sh->end_seq) {
		cJSON *cc = children_json(sh);
		ok = cc && cJSON_AddItemToObject(doc, "ChildShards", cc);
		if (!ok)
			cJSON_Delete(cc);
	} else if (ok) {
		struct k_iter nx = it;
		nx.issued_ms = ctl_aws_now_ms(c);
		nx.pos = pos;
		json_t *t = iter_make(k, &nx);
		ok = t && cJSON_AddStringToObject(doc, "NextShardIterator", json_string_value(t));
		json_decref(t);
	}
	if (!ok) {
		cJSON_Delete(doc);
		doc = NULL;
	}
	reply_cjson(c, doc);
}
