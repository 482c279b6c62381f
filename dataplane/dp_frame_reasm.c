/* SPDX-License-Identifier: MIT */
/*
 * dp_reasm: reassembly of records sent as CHUNK frames (docs/protocol.md, "Chunked records").
 *
 * Memory is fixed at creation: N slots, each with a 1 MiB data buffer, the record's stream, key
 * and explicit hash key as given by its first chunk, and a sorted array of the disjoint byte
 * ranges received so far (adjacent ranges merged, so in-order delivery keeps a single range).
 * A slot is FREE, FILLING (partial record) or DONE (complete, held by the caller until
 * dp_reasm_release). Only FILLING slots expire (first chunk older than the timeout) or are
 * evicted (oldest first chunk first) when a new record needs a slot: a worker under a flood of
 * chunk starts loses partial records, never memory, and never a record it already handed out.
 * Slot lookup is a linear scan: N is small (a few per worker) and the scan touches one cache
 * line per slot.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "dp_frame.h"
#include "dp_log.h"

enum slot_state { SLOT_FREE = 0, SLOT_FILLING, SLOT_DONE };

struct range {
	uint32_t start, end; /* [start, end) */
};

struct slot {
	/* Scanned on every chunk: keep together at the front. */
	uint8_t state;
	uint64_t producer_id;
	uint64_t batch;
	int64_t first_ms;
	uint32_t total;
	uint32_t have;
	uint16_t key_len;
	uint16_t nranges;
	uint8_t stream_len;
	bool has_ehk;
	uint8_t ehk[DP_FRAME_EHK_LEN];
	uint8_t key[DP_KEY_MAX];
	char stream[DP_FRAME_STREAM_MAX];
	struct range ranges[DP_REASM_RANGES_MAX];
	uint8_t *data;
};

struct dp_reasm {
	unsigned nslots;
	uint32_t timeout_ms;
	struct dp_reasm_stats st;
	uint8_t *buffers;
	struct slot slots[];
};

#define REASM_SLOTS_MAX 1024u

int dp_reasm_new(unsigned slots, uint32_t timeout_ms, struct dp_reasm **ret)
{
	struct dp_reasm *r;

	if (slots == 0 || slots > REASM_SLOTS_MAX || timeout_ms == 0)
		return -EINVAL;
	r = calloc(1, sizeof(*r) + (size_t)slots * sizeof(struct slot));
	if (!r)
		return -ENOMEM;
	r->buffers = malloc((size_t)slots * DP_DATA_MAX);
	if (!r->buffers)
		goto free_r;
	r->nslots = slots;
	r->timeout_ms = timeout_ms;
	for (unsigned i = 0; i < slots; i++)
		r->slots[i].data = r->buffers + (size_t)i * DP_DATA_MAX;
	*ret = r;
	return 0;

free_r:
	free(r);
	return -ENOMEM;
}

void dp_reasm_free(struct dp_reasm *r)
{
	if (!r)
		return;
	free(r->buffers);
	free(r);
}

static bool expired(const struct dp_reasm *r, const struct slot *s, int64_t now_ms)
{
	return s->state == SLOT_FILLING && now_ms - s->first_ms >= (int64_t)r->timeout_ms;
}

unsigned dp_reasm_expire(struct dp_reasm *r, int64_t now_ms)
{
	unsigned n = 0;

	for (unsigned i = 0; i < r->nslots; i++)
		if (expired(r, &r->slots[i], now_ms)) {
			r->slots[i].state = SLOT_FREE;
			n++;
		}
	r->st.expired += n;
	return n;
}

unsigned dp_reasm_in_use(const struct dp_reasm *r)
{
	unsigned n = 0;

	for (unsigned i = 0; i < r->nslots; i++)
		n += r->slots[i].state != SLOT_FREE;
	return n;
}

void dp_reasm_stats_get(const struct dp_reasm *r, struct dp_reasm_stats *st)
{
	*st = r->st;
}

void dp_reasm_release(struct dp_reasm *r, const struct dp_reasm_rec *done)
{
	if (done->slot < r->nslots && r->slots[done->slot].state == SLOT_DONE)
		r->slots[done->slot].state = SLOT_FREE;
}

/* The slot for a new record: a free one, else the oldest partial record's; NULL if all are DONE. */
static struct slot *slot_take(struct dp_reasm *r)
{
	struct slot *oldest = NULL;

	for (unsigned i = 0; i < r->nslots; i++) {
		struct slot *s = &r->slots[i];

		if (s->state == SLOT_FREE)
			return s;
		if (s->state == SLOT_FILLING && (!oldest || s->first_ms < oldest->first_ms))
			oldest = s;
	}
	if (oldest)
		r->st.evicted++;
	return oldest;
}

static bool same_record(const struct slot *s, const struct dp_frame *f, const struct dp_frame_rec *c)
{
	return s->total == c->total_len && s->stream_len == f->stream_len &&
	       memcmp(s->stream, f->stream, f->stream_len) == 0 && s->key_len == c->key_len &&
	       memcmp(s->key, c->key, c->key_len) == 0 && s->has_ehk == (c->ehk != NULL) &&
	       (!c->ehk || memcmp(s->ehk, c->ehk, DP_FRAME_EHK_LEN) == 0);
}

/*
 * Record [start, end) in s's sorted, disjoint, non-adjacent ranges. Returns 0, or the negated
 * reason: -CHUNK_DUP when wholly inside one range, -CHUNK_OVERLAP when partly overlapping,
 * -CHUNK_GAPS when it needs a new range and none is left.
 */
static int range_add(struct slot *s, uint32_t start, uint32_t end)
{
	unsigned lo = 0, hi = s->nranges, i;
	bool join_left, join_right;

	/* i = first range whose end > start: the only one that can contain or overlap the chunk
	 * from the left; every earlier range ends at or before start. */
	while (lo < hi) {
		unsigned mid = (lo + hi) / 2;

		if (s->ranges[mid].end > start)
			hi = mid;
		else
			lo = mid + 1;
	}
	i = lo;
	if (i < s->nranges && s->ranges[i].start < end) {
		if (s->ranges[i].start <= start && end <= s->ranges[i].end)
			return -DP_DROP_CHUNK_DUP;
		return -DP_DROP_CHUNK_OVERLAP;
	}
	join_left = i > 0 && s->ranges[i - 1].end == start;
	join_right = i < s->nranges && s->ranges[i].start == end;
	if (join_left && join_right) {
		s->ranges[i - 1].end = s->ranges[i].end;
		memmove(&s->ranges[i], &s->ranges[i + 1], (s->nranges - i - 1) * sizeof(s->ranges[0]));
		s->nranges--;
	} else if (join_left) {
		s->ranges[i - 1].end = end;
	} else if (join_right) {
		s->ranges[i].start = start;
	} else {
		if (s->nranges == DP_REASM_RANGES_MAX)
			return -DP_DROP_CHUNK_GAPS;
		memmove(&s->ranges[i + 1], &s->ranges[i], (s->nranges - i) * sizeof(s->ranges[0]));
		s->ranges[i] = (struct range){ start, end };
		s->nranges++;
	}
	return 0;
}

int dp_reasm_add(struct dp_reasm *r, const struct dp_frame *f, int64_t now_ms,
		 struct dp_reasm_rec *done)
{
	struct slot *s = NULL;
	struct dp_frame_rec c;
	size_t it = 0;
	int rc;

	if (f->type != DP_FRAME_T_CHUNK || !dp_frame_rec_next(f, &it, &c)) {
		r->st.rejected++;
		return -DP_DROP_BAD_TYPE;
	}
	dp_reasm_expire(r, now_ms);
	for (unsigned i = 0; i < r->nslots; i++) {
		struct slot *x = &r->slots[i];

		if (x->state != SLOT_FREE && x->producer_id == f->producer_id && x->batch == f->batch) {
			s = x;
			break;
		}
	}
	if (s) {
		if (!same_record(s, f, &c)) {
			r->st.rejected++;
			return -DP_DROP_CHUNK_MISMATCH;
		}
		if (s->state == SLOT_DONE) {
			r->st.dups++;
			return -DP_DROP_CHUNK_DUP;
		}
	} else {
		s = slot_take(r);
		if (!s) {
			r->st.rejected++;
			return -DP_DROP_REASM_BUSY;
		}
		s->state = SLOT_FILLING;
		s->producer_id = f->producer_id;
		s->batch = f->batch;
		s->first_ms = now_ms;
		s->total = c.total_len;
		s->have = 0;
		s->nranges = 0;
		s->stream_len = f->stream_len;
		memcpy(s->stream, f->stream, f->stream_len);
		s->key_len = c.key_len;
		memcpy(s->key, c.key, c.key_len);
		s->has_ehk = c.ehk != NULL;
		if (c.ehk)
			memcpy(s->ehk, c.ehk, DP_FRAME_EHK_LEN);
	}
	rc = range_add(s, c.offset, c.offset + c.data_len);
	if (rc < 0) {
		if (rc == -DP_DROP_CHUNK_DUP)
			r->st.dups++;
		else
			r->st.rejected++;
		return rc;
	}
	memcpy(s->data + c.offset, c.data, c.data_len);
	s->have += c.data_len;
	r->st.chunks++;
	if (s->have < s->total)
		return 0;

	s->state = SLOT_DONE;
	r->st.completed++;
	*done = (struct dp_reasm_rec){
		.slot = (unsigned)(s - r->slots),
		.producer_id = s->producer_id,
		.batch = s->batch,
		.stream = s->stream,
		.stream_len = s->stream_len,
		.key = s->key,
		.key_len = s->key_len,
		.ehk = s->has_ehk ? s->ehk : NULL,
		.data = s->data,
		.data_len = s->total,
	};
	return 1;
}
