/* SPDX-License-Identifier: MIT */
/*
 * dp_frame: parser and builders of the ingest wire protocol, version 1 (docs/protocol.md is the
 * specification; the layouts are repeated here where the code reads them).
 *
 *   header (28 bytes, then the stream name):
 *     0 magic "INGS"   4 version u8   5 type u8   6 flags u8   7 stream_len u8
 *     8 producer id u64   16 batch number u64   24 record count u16   26 reserved u16 (0)
 *     28 stream name [stream_len]
 *   RECORDS record: key_len u16, flags u8, reserved u8 (0), data_len u32, [ehk 16], key, data
 *   CHUNK record:   key_len u16, flags u8, reserved u8 (0), data_len u32, total_len u32,
 *                   offset u32, [ehk 16], key, data (this chunk's bytes)
 *   ACK: 0 magic  4 version  5 type 0x81  6 flags  7 frame status  8 producer id  16 batch
 *        24 record count u16  26 entry count u16  28 entries
 *
 * Integers are little-endian: every machine the dataplane runs on (x86-64, arm64) loads them
 * with one instruction; the explicit hash key alone is big-endian because it is a 128-bit number
 * in MD5 digest order, so both routing paths feed the same conversion. Loads go through memcpy,
 * which compiles to plain unaligned loads, so the datagram may sit at any address in its mbuf.
 */
#include "dp_frame.h"

#include <endian.h>
#include <errno.h>
#include <string.h>

#include "dp_log.h"

/* ---- names ------------------------------------------------------------------------------------ */

static const char *const drop_names[DP_DROP__COUNT] = {
#define X(name, ack, text) [DP_DROP_##name] = text,
	DP_DROP_LIST(X)
#undef X
};

static const int drop_ack[DP_DROP__COUNT] = {
#define X(name, ack, text) [DP_DROP_##name] = ack,
	DP_DROP_LIST(X)
#undef X
};

const char *dp_drop_name(enum dp_drop d)
{
	return (unsigned)d < DP_DROP__COUNT ? drop_names[d] : "?";
}

int dp_drop_ack_status(enum dp_drop d)
{
	return (unsigned)d < DP_DROP__COUNT ? drop_ack[d] : -1;
}

const char *dp_ack_status_name(unsigned status)
{
	switch (status) {
#define X(name, val, text) case val: return text;
	DP_ACK_STATUS_LIST(X)
#undef X
	}
	return NULL;
}

/* ---- byte access ------------------------------------------------------------------------------ */

static inline uint16_t ld16(const uint8_t *p)
{
	uint16_t v;

	memcpy(&v, p, sizeof(v));
	return le16toh(v);
}

static inline uint32_t ld32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, sizeof(v));
	return le32toh(v);
}

static inline uint64_t ld64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, sizeof(v));
	return le64toh(v);
}

static inline void st16(uint8_t *p, uint16_t v)
{
	v = htole16(v);
	memcpy(p, &v, sizeof(v));
}

static inline void st32(uint8_t *p, uint32_t v)
{
	v = htole32(v);
	memcpy(p, &v, sizeof(v));
}

static inline void st64(uint8_t *p, uint64_t v)
{
	v = htole64(v);
	memcpy(p, &v, sizeof(v));
}

dp_u128 dp_be128_load(const uint8_t p[DP_FRAME_EHK_LEN])
{
	uint64_t hi, lo;

	memcpy(&hi, p, 8);
	memcpy(&lo, p + 8, 8);
	return (dp_u128)be64toh(hi) << 64 | be64toh(lo);
}

void dp_be128_store(dp_u128 v, uint8_t p[DP_FRAME_EHK_LEN])
{
	uint64_t hi = htobe64((uint64_t)(v >> 64)), lo = htobe64((uint64_t)v);

	memcpy(p, &hi, 8);
	memcpy(p + 8, &lo, 8);
}

static bool magic_ok(const uint8_t *p)
{
	return p[0] == DP_FRAME_MAGIC0 && p[1] == DP_FRAME_MAGIC1 && p[2] == DP_FRAME_MAGIC2 &&
	       p[3] == DP_FRAME_MAGIC3;
}

static void put_magic(uint8_t *p)
{
	p[0] = DP_FRAME_MAGIC0;
	p[1] = DP_FRAME_MAGIC1;
	p[2] = DP_FRAME_MAGIC2;
	p[3] = DP_FRAME_MAGIC3;
	p[4] = DP_FRAME_VERSION;
}

/* Kinesis's StreamName pattern [a-zA-Z0-9_.-]+, 1..128 characters. */
static bool stream_ok(const char *s, size_t len)
{
	if (len == 0 || len > DP_FRAME_STREAM_MAX)
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == '.' || c == '-'))
			return false;
	}
	return true;
}

/* ---- parsing ---------------------------------------------------------------------------------- */

static size_t rec_hdr_len(uint8_t type)
{
	return type == DP_FRAME_T_CHUNK ? DP_FRAME_CHUNK_HDR_LEN : DP_FRAME_REC_HDR_LEN;
}

/* Validate the record at q (end - q bytes left); on success *size is its encoded length. */
static enum dp_drop rec_check(uint8_t type, const uint8_t *q, const uint8_t *end, size_t *size)
{
	size_t left = (size_t)(end - q), hl = rec_hdr_len(type), need;
	uint16_t key_len;
	uint32_t dlen;

	if (left < hl)
		return DP_DROP_TRUNCATED;
	key_len = ld16(q);
	dlen = ld32(q + 4);
	if ((q[2] & ~DP_REC_F_EHK) || q[3])
		return DP_DROP_MALFORMED;
	if (key_len == 0 || key_len > DP_KEY_MAX)
		return DP_DROP_KEY_LEN;
	if (dlen == 0)
		return DP_DROP_DATA_LEN;
	/* Before the end check: a record claiming more than 1 MiB is oversize whatever follows. */
	if (dlen > DP_DATA_MAX)
		return DP_DROP_OVERSIZE;
	if (type == DP_FRAME_T_CHUNK) {
		uint32_t total = ld32(q + 8), off = ld32(q + 12);

		if (total == 0)
			return DP_DROP_DATA_LEN;
		if (total > DP_DATA_MAX)
			return DP_DROP_OVERSIZE;
		if (off > total || dlen > total - off)
			return DP_DROP_CHUNK_RANGE;
	}
	/* Each term is bounded (16 + 16 + 256 + 1 MiB), so the sum cannot overflow. */
	need = hl + ((q[2] & DP_REC_F_EHK) ? DP_FRAME_EHK_LEN : 0) + key_len + dlen;
	if (left < need)
		return DP_DROP_TRUNCATED;
	*size = need;
	return DP_DROP_NONE;
}

enum dp_drop dp_frame_parse(const uint8_t *p, size_t len, struct dp_frame *f)
{
	const uint8_t *q, *end;
	size_t slen;

	memset(f, 0, sizeof(*f));
	f->len = len;
	if (len < DP_FRAME_HDR_LEN)
		return DP_DROP_SHORT;
	if (!magic_ok(p))
		return DP_DROP_BAD_MAGIC;
	/* Bytes 0..4 and 8..23 keep their place in every version: enough for an error ack. */
	f->producer_id = ld64(p + 8);
	f->batch = ld64(p + 16);
	f->envelope = true;
	f->version = p[4];
	if (f->version != DP_FRAME_VERSION)
		return DP_DROP_BAD_VERSION;
	f->type = p[5];
	if (f->type != DP_FRAME_T_RECORDS && f->type != DP_FRAME_T_CHUNK)
		return DP_DROP_BAD_TYPE;
	f->flags = p[6];
	if ((f->flags & ~DP_FRAME_F_KNOWN) || ld16(p + 26) != 0)
		return DP_DROP_MALFORMED;
	slen = p[7];
	if (slen == 0 || slen > DP_FRAME_STREAM_MAX)
		return DP_DROP_STREAM_NAME;
	if (len - DP_FRAME_HDR_LEN < slen)
		return DP_DROP_TRUNCATED;
	if (!stream_ok((const char *)p + DP_FRAME_HDR_LEN, slen))
		return DP_DROP_STREAM_NAME;
	f->stream = (const char *)p + DP_FRAME_HDR_LEN;
	f->stream_len = (uint8_t)slen;
	f->count = ld16(p + 24);
	if (f->count == 0 || f->count > DP_FRAME_RECORDS_MAX ||
	    (f->type == DP_FRAME_T_CHUNK && f->count != 1))
		return DP_DROP_COUNT;

	q = p + DP_FRAME_HDR_LEN + slen;
	end = p + len;
	for (unsigned i = 0; i < f->count; i++) {
		size_t size = 0;
		enum dp_drop d;

		if (q == end)
			return DP_DROP_COUNT; /* fewer records than the header counts */
		d = rec_check(f->type, q, end, &size);
		if (d != DP_DROP_NONE)
			return d;
		q += size;
	}
	if (q != end)
		return DP_DROP_TRAILING;
	/* Set only now: iterating a frame that failed finds no records. */
	f->recs = p + DP_FRAME_HDR_LEN + slen;
	f->end = end;
	return DP_DROP_NONE;
}

bool dp_frame_rec_next(const struct dp_frame *f, size_t *it, struct dp_frame_rec *r)
{
	const uint8_t *q;
	size_t hl = rec_hdr_len(f->type);

	if (!f->recs || *it >= (size_t)(f->end - f->recs))
		return false;
	q = f->recs + *it;
	r->key_len = ld16(q);
	r->data_len = ld32(q + 4);
	if (f->type == DP_FRAME_T_CHUNK) {
		r->total_len = ld32(q + 8);
		r->offset = ld32(q + 12);
	} else {
		r->total_len = 0;
		r->offset = 0;
	}
	q += hl;
	if (f->recs[*it + 2] & DP_REC_F_EHK) {
		r->ehk = q;
		q += DP_FRAME_EHK_LEN;
	} else {
		r->ehk = NULL;
	}
	r->key = q;
	r->data = q + r->key_len;
	*it = (size_t)(r->data + r->data_len - f->recs);
	return true;
}

/* ---- frame builders --------------------------------------------------------------------------- */

static void put_header(uint8_t *p, uint8_t type, uint8_t flags, uint64_t producer_id, uint64_t batch,
		       const char *stream, size_t stream_len, uint16_t count)
{
	put_magic(p);
	p[5] = type;
	p[6] = flags;
	p[7] = (uint8_t)stream_len;
	st64(p + 8, producer_id);
	st64(p + 16, batch);
	st16(p + 24, count);
	st16(p + 26, 0);
	memcpy(p + DP_FRAME_HDR_LEN, stream, stream_len);
}

int dp_frame_builder_init(struct dp_frame_builder *b, uint8_t *buf, size_t cap, uint64_t producer_id,
			  uint64_t batch, const char *stream, size_t stream_len, uint8_t flags)
{
	if (!stream || !stream_ok(stream, stream_len) || (flags & ~DP_FRAME_F_KNOWN))
		return -EINVAL;
	if (cap < DP_FRAME_HDR_LEN + stream_len)
		return -EMSGSIZE;
	put_header(buf, DP_FRAME_T_RECORDS, flags, producer_id, batch, stream, stream_len, 0);
	b->buf = buf;
	b->cap = cap;
	b->len = DP_FRAME_HDR_LEN + stream_len;
	b->count = 0;
	b->type = DP_FRAME_T_RECORDS;
	return 0;
}

size_t dp_frame_rec_size(size_t key_len, bool ehk, size_t data_len)
{
	return DP_FRAME_REC_HDR_LEN + (ehk ? DP_FRAME_EHK_LEN : 0) + key_len + data_len;
}

int dp_frame_builder_add(struct dp_frame_builder *b, const void *key, size_t key_len,
			 const uint8_t *ehk, const void *data, size_t data_len)
{
	size_t size;
	uint8_t *q;

	if (!key || key_len == 0 || key_len > DP_KEY_MAX || !data || data_len == 0 ||
	    data_len > DP_DATA_MAX)
		return -EINVAL;
	size = dp_frame_rec_size(key_len, ehk != NULL, data_len);
	if (b->count >= DP_FRAME_RECORDS_MAX || b->cap - b->len < size)
		return -EMSGSIZE;
	q = b->buf + b->len;
	st16(q, (uint16_t)key_len);
	q[2] = ehk ? DP_REC_F_EHK : 0;
	q[3] = 0;
	st32(q + 4, (uint32_t)data_len);
	q += DP_FRAME_REC_HDR_LEN;
	if (ehk) {
		memcpy(q, ehk, DP_FRAME_EHK_LEN);
		q += DP_FRAME_EHK_LEN;
	}
	memcpy(q, key, key_len);
	memcpy(q + key_len, data, data_len);
	b->len += size;
	b->count++;
	return 0;
}

int dp_frame_builder_finish(struct dp_frame_builder *b)
{
	if (b->count == 0)
		return -EINVAL;
	st16(b->buf + 24, b->count);
	return (int)b->len;
}

size_t dp_frame_chunk_room(size_t frame_cap, size_t stream_len, size_t key_len, bool ehk)
{
	size_t fixed = DP_FRAME_HDR_LEN + stream_len + DP_FRAME_CHUNK_HDR_LEN +
		       (ehk ? DP_FRAME_EHK_LEN : 0) + key_len;

	return frame_cap > fixed ? frame_cap - fixed : 0;
}

int dp_frame_build_chunk(uint8_t *buf, size_t cap, uint64_t producer_id, uint64_t batch,
			 const char *stream, size_t stream_len, uint8_t flags, const void *key,
			 size_t key_len, const uint8_t *ehk, uint32_t total_len, uint32_t offset,
			 const void *data, size_t len)
{
	size_t size;
	uint8_t *q;

	if (!stream || !stream_ok(stream, stream_len) || (flags & ~DP_FRAME_F_KNOWN) || !key ||
	    key_len == 0 || key_len > DP_KEY_MAX || !data || len == 0 || total_len == 0 ||
	    total_len > DP_DATA_MAX || offset > total_len || len > total_len - offset)
		return -EINVAL;
	size = DP_FRAME_HDR_LEN + stream_len + DP_FRAME_CHUNK_HDR_LEN +
	       (ehk ? DP_FRAME_EHK_LEN : 0) + key_len + len;
	if (cap < size)
		return -EMSGSIZE;
	put_header(buf, DP_FRAME_T_CHUNK, flags, producer_id, batch, stream, stream_len, 1);
	q = buf + DP_FRAME_HDR_LEN + stream_len;
	st16(q, (uint16_t)key_len);
	q[2] = ehk ? DP_REC_F_EHK : 0;
	q[3] = 0;
	st32(q + 4, (uint32_t)len);
	st32(q + 8, total_len);
	st32(q + 12, offset);
	q += DP_FRAME_CHUNK_HDR_LEN;
	if (ehk) {
		memcpy(q, ehk, DP_FRAME_EHK_LEN);
		q += DP_FRAME_EHK_LEN;
	}
	memcpy(q, key, key_len);
	memcpy(q + key_len, data, len);
	return (int)size;
}

/* ---- acks ------------------------------------------------------------------------------------- */

/* Does record b continue the run that a (with `run` records so far) started? */
static bool run_continues(const struct dp_ack_rec *a, unsigned run, const struct dp_ack_rec *b)
{
	if (b->status != a->status || run >= UINT16_MAX)
		return false;
	if (a->status != DP_ACK_OK)
		return true;
	return b->shard == a->shard && b->seq == a->seq + run;
}

static void put_ack_header(uint8_t *out, uint8_t flags, uint8_t status, uint64_t producer_id,
			   uint64_t batch, uint16_t count, uint16_t entries)
{
	put_magic(out);
	out[5] = DP_FRAME_T_ACK;
	out[6] = flags;
	out[7] = status;
	st64(out + 8, producer_id);
	st64(out + 16, batch);
	st16(out + 24, count);
	st16(out + 26, entries);
}

int dp_ack_build(uint8_t *out, size_t cap, uint64_t producer_id, uint64_t batch,
		 const struct dp_ack_rec *recs, unsigned n)
{
	size_t need = DP_ACK_HDR_LEN;
	unsigned runs = 0, run = 0, start = 0;
	uint8_t *q;

	if (n == 0 || n > DP_FRAME_RECORDS_MAX)
		return -EINVAL;
	for (unsigned i = 0; i < n; i++) {
		if (recs[i].status == DP_ACK_OK && recs[i].seq > DP_SEQ_MAX)
			return -EINVAL;
		if (run && run_continues(&recs[start], run, &recs[i])) {
			run++;
			continue;
		}
		start = i;
		run = 1;
		runs++;
		need += recs[i].status == DP_ACK_OK ? DP_ACK_RUN_OK_LEN : DP_ACK_RUN_ERR_LEN;
	}
	if (need > cap) {
		/* The fallback: 1 byte per record against >= DP_FRAME_REC_MIN in the frame. */
		if (DP_ACK_HDR_LEN + (size_t)n > cap)
			return -EMSGSIZE;
		put_ack_header(out, DP_ACK_F_STATUS_ONLY, DP_ACK_OK, producer_id, batch, (uint16_t)n,
			       (uint16_t)n);
		for (unsigned i = 0; i < n; i++)
			out[DP_ACK_HDR_LEN + i] = recs[i].status;
		return (int)(DP_ACK_HDR_LEN + n);
	}
	put_ack_header(out, 0, DP_ACK_OK, producer_id, batch, (uint16_t)n, (uint16_t)runs);
	q = out + DP_ACK_HDR_LEN;
	for (unsigned i = 0; i < n;) {
		const struct dp_ack_rec *a = &recs[i];
		unsigned len = 1;

		while (i + len < n && run_continues(a, len, &recs[i + len]))
			len++;
		st16(q, (uint16_t)len);
		q[2] = a->status;
		q[3] = 0;
		if (a->status == DP_ACK_OK) {
			st32(q + 4, a->shard);
			st64(q + 8, a->seq);
			q += DP_ACK_RUN_OK_LEN;
		} else {
			q += DP_ACK_RUN_ERR_LEN;
		}
		i += len;
	}
	return (int)need;
}

int dp_ack_build_error(uint8_t *out, size_t cap, const struct dp_frame *f, unsigned status)
{
	if (!f->envelope || status == DP_ACK_OK || status > UINT8_MAX)
		return -EINVAL;
	if (cap < DP_ACK_HDR_LEN)
		return -EMSGSIZE;
	put_ack_header(out, 0, (uint8_t)status, f->producer_id, f->batch, 0, 0);
	return DP_ACK_HDR_LEN;
}

enum dp_drop dp_ack_parse(const uint8_t *p, size_t len, struct dp_ack *a)
{
	const uint8_t *q, *end = p + len;
	unsigned covered = 0;

	memset(a, 0, sizeof(*a));
	if (len < DP_ACK_HDR_LEN)
		return DP_DROP_SHORT;
	if (!magic_ok(p))
		return DP_DROP_BAD_MAGIC;
	a->version = p[4];
	if (a->version != DP_FRAME_VERSION)
		return DP_DROP_BAD_VERSION;
	if (p[5] != DP_FRAME_T_ACK)
		return DP_DROP_BAD_TYPE;
	a->flags = p[6];
	a->status = p[7];
	a->producer_id = ld64(p + 8);
	a->batch = ld64(p + 16);
	a->count = ld16(p + 24);
	a->entries = ld16(p + 26);
	a->ent = p + DP_ACK_HDR_LEN;
	a->end = end;
	if (a->flags & ~DP_ACK_F_STATUS_ONLY)
		return DP_DROP_MALFORMED;
	if (a->status != DP_ACK_OK) {
		/* A frame-level error: nothing else. */
		if (a->flags || a->count || a->entries)
			return DP_DROP_MALFORMED;
		return len == DP_ACK_HDR_LEN ? DP_DROP_NONE : DP_DROP_TRAILING;
	}
	if (a->count == 0 || a->count > DP_FRAME_RECORDS_MAX)
		return DP_DROP_COUNT;
	if (a->flags & DP_ACK_F_STATUS_ONLY) {
		if (a->entries != a->count)
			return DP_DROP_COUNT;
		if (len - DP_ACK_HDR_LEN < a->count)
			return DP_DROP_TRUNCATED;
		return len - DP_ACK_HDR_LEN == a->count ? DP_DROP_NONE : DP_DROP_TRAILING;
	}
	q = a->ent;
	for (unsigned e = 0; e < a->entries; e++) {
		uint16_t n;

		if ((size_t)(end - q) < DP_ACK_RUN_ERR_LEN)
			return DP_DROP_TRUNCATED;
		n = ld16(q);
		if (n == 0 || q[3])
			return DP_DROP_MALFORMED;
		if (n > a->count - covered)
			return DP_DROP_COUNT;
		covered += n;
		if (q[2] == DP_ACK_OK) {
			if ((size_t)(end - q) < DP_ACK_RUN_OK_LEN)
				return DP_DROP_TRUNCATED;
			if (ld64(q + 8) > DP_SEQ_MAX - (n - 1))
				return DP_DROP_MALFORMED;
			q += DP_ACK_RUN_OK_LEN;
		} else {
			q += DP_ACK_RUN_ERR_LEN;
		}
	}
	if (covered != a->count)
		return DP_DROP_COUNT;
	return q == end ? DP_DROP_NONE : DP_DROP_TRAILING;
}

int dp_ack_expand(const struct dp_ack *a, struct dp_ack_rec *out, unsigned max)
{
	const uint8_t *q = a->ent;
	unsigned i = 0;

	if (max < a->count)
		return -ENOSPC;
	if (a->flags & DP_ACK_F_STATUS_ONLY) {
		for (i = 0; i < a->count; i++)
			out[i] = (struct dp_ack_rec){ .status = q[i] };
		return a->count;
	}
	for (unsigned e = 0; e < a->entries; e++) {
		uint16_t n = ld16(q);
		uint8_t st = q[2];

		for (unsigned k = 0; k < n; k++, i++) {
			out[i] = (struct dp_ack_rec){ .status = st };
			if (st == DP_ACK_OK) {
				out[i].shard = ld32(q + 4);
				out[i].seq = ld64(q + 8) + k;
			}
		}
		q += st == DP_ACK_OK ? DP_ACK_RUN_OK_LEN : DP_ACK_RUN_ERR_LEN;
	}
	return a->count;
}
