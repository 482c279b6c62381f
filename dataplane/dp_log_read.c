/* SPDX-License-Identifier: MIT */
/*
 * Readers: positioned through the segment list and each segment's sparse index (both binary
 * searched), then reading forward with pread into a private buffer, verifying each batch's CRC,
 * never past the shard's readable mark. A reader pins the segment it reads (a reference count),
 * so retention may unlink the file underneath without disturbing it.
 *
 * Freshness: bytes read beyond the readable mark may have been mid-write, so the buffer remembers
 * the mark at the time of its pread and a batch at or above it is read again from the file.
 */
#include "dp_log_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Default pread size; one whole batch (up to buffer_bytes) is read when larger. */
#define READ_CHUNK (256u << 10)

struct dp_reader {
	struct dp_shard *sh;
	struct dp_seg *seg;   /* pinned, or NULL until positioned */
	uint64_t off;         /* file offset of the next batch to look at in seg */
	uint64_t pos;         /* next sequence number to return */
	int64_t min_ts;       /* AT_TIMESTAMP: skip records older than this until one is found */
	uint8_t *buf;
	uint32_t cap;
	uint64_t buf_off;     /* file offset of buf[0] */
	uint32_t buf_len;
	uint64_t buf_mark;    /* readable mark when buf was filled */
	uint64_t checked_off; /* offset of the last batch whose CRC was verified in buf, or ~0 */
};

/* Pin the segment that holds seq (the last with base <= seq; the first when seq is older). */
static struct dp_seg *seg_pin_for_seq(struct dp_shard *sh, uint64_t seq)
{
	pthread_mutex_lock(&sh->seg_lock);
	uint32_t lo = 0, hi = sh->nsegs;
	while (hi - lo > 1) {
		uint32_t mid = lo + (hi - lo) / 2;
		if (sh->segs[mid]->base_seq <= seq)
			lo = mid;
		else
			hi = mid;
	}
	struct dp_seg *seg = sh->segs[lo];
	atomic_fetch_add(&seg->refs, 1);
	pthread_mutex_unlock(&sh->seg_lock);
	return seg;
}

/* Pin the first segment whose newest record is at or after ts (the last one if none is). */
static struct dp_seg *seg_pin_for_ts(struct dp_shard *sh, int64_t ts)
{
	pthread_mutex_lock(&sh->seg_lock);
	uint32_t lo = 0, hi = sh->nsegs - 1; /* arrival times never decrease across segments */
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		if (atomic_load(&sh->segs[mid]->max_ts) >= ts)
			hi = mid;
		else
			lo = mid + 1;
	}
	struct dp_seg *seg = sh->segs[lo];
	atomic_fetch_add(&seg->refs, 1);
	pthread_mutex_unlock(&sh->seg_lock);
	return seg;
}

/* Offset to start scanning from in seg for seq (by_ts false) or arrival time ts (by_ts true). */
static uint64_t idx_lookup(const struct dp_seg *seg, uint64_t seq, int64_t ts, bool by_ts)
{
	uint32_t n = atomic_load_explicit(&seg->idx_n, memory_order_acquire);
	if (n == 0)
		return DP_SEG_HDR_BYTES;
	/* Last entry strictly before the target: the target starts at or after it. */
	uint32_t lo = 0, hi = n;
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		bool before = by_ts ? seg->idx[mid].ts_ms < ts : seg->idx[mid].seq <= seq;
		if (before)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo == 0 ? DP_SEG_HDR_BYTES : seg->idx[lo - 1].off;
}

static void reader_switch(struct dp_reader *r, struct dp_seg *seg, uint64_t off)
{
	dp_seg_unref(r->seg);
	r->seg = seg;
	r->off = off;
	r->buf_len = 0;
	r->checked_off = UINT64_MAX;
}

int dp_reader_new(struct dp_shard *sh, enum dp_pos pos, uint64_t arg, struct dp_reader **ret)
{
	uint64_t trim = dp_shard_trim_seq(sh), next = dp_shard_next_seq(sh), p;
	switch (pos) {
	case DP_POS_TRIM_HORIZON:
		p = trim;
		break;
	case DP_POS_LATEST:
		p = dp_shard_ack_next(sh);
		break;
	case DP_POS_AT_SEQ:
		if (arg > next)
			return -ERANGE;
		p = arg;
		break;
	case DP_POS_AFTER_SEQ:
		if (arg >= next)
			return -ERANGE;
		p = arg + 1;
		break;
	case DP_POS_AT_TIMESTAMP:
		if ((int64_t)arg < 0)
			return -EINVAL;
		p = trim;
		break;
	default:
		return -EINVAL;
	}
	if (p < trim)
		p = trim;
	struct dp_reader *r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->cap = sh->cfg.buffer_bytes > READ_CHUNK ? sh->cfg.buffer_bytes : READ_CHUNK;
	r->buf = malloc(r->cap);
	if (!r->buf) {
		free(r);
		return -ENOMEM;
	}
	r->sh = sh;
	r->pos = p;
	r->min_ts = INT64_MIN;
	r->checked_off = UINT64_MAX;
	if (pos == DP_POS_AT_TIMESTAMP) {
		r->min_ts = (int64_t)arg;
		struct dp_seg *seg = seg_pin_for_ts(sh, (int64_t)arg);
		r->pos = seg->base_seq > p ? seg->base_seq : p;
		reader_switch(r, seg, idx_lookup(seg, 0, (int64_t)arg, true));
	}
	*ret = r;
	return 0;
}

void dp_reader_free(struct dp_reader *r)
{
	if (!r)
		return;
	dp_seg_unref(r->seg);
	free(r->buf);
	free(r);
}

uint64_t dp_reader_position(const struct dp_reader *r)
{
	return r->pos;
}

/* Make [off, off + need) available in buf, reading from the file when it is not (or is stale).
 * Returns a pointer to off, or NULL with *err set (0: nothing there yet). */
static const uint8_t *reader_load(struct dp_reader *r, uint64_t off, uint32_t need, uint64_t mark,
				  bool may_refill, int *err)
{
	*err = 0;
	if (off >= r->buf_off && off + need <= r->buf_off + r->buf_len)
		return r->buf + (off - r->buf_off);
	if (!may_refill)
		return NULL;
	if (off >= r->seg->size)
		return NULL;
	uint64_t want = need > READ_CHUNK ? need : READ_CHUNK;
	if (want > r->cap)
		want = r->cap;
	if (off + want > r->seg->size)
		want = r->seg->size - off;
	if (want < need)
		return NULL;
	ssize_t got = pread(r->seg->fd, r->buf, want, (off_t)off);
	if (got < 0) {
		*err = -EIO;
		return NULL;
	}
	r->buf_off = off;
	r->buf_len = (uint32_t)got;
	r->buf_mark = mark;
	r->checked_off = UINT64_MAX;
	return (uint32_t)got >= need ? r->buf : NULL;
}

int dp_reader_read(struct dp_reader *r, struct dp_record_out *out, unsigned max, size_t max_bytes)
{
	struct dp_shard *sh = r->sh;
	uint64_t mark = dp_shard_readable_next(sh);
	unsigned n = 0;
	size_t bytes = 0;
	int err;

	while (n < max && r->pos < mark) {
		if (!r->seg) {
			struct dp_seg *seg = seg_pin_for_seq(sh, r->pos);
			if (r->pos < seg->base_seq)
				r->pos = seg->base_seq;
			reader_switch(r, seg, idx_lookup(seg, r->pos, 0, false));
			continue;
		}
		uint64_t nb = atomic_load_explicit(&r->seg->next_base, memory_order_acquire);
		if (nb && r->pos >= nb) {
			reader_switch(r, NULL, 0);
			continue;
		}
		/* Refilling would move records already handed out in this call: stop instead. */
		bool may_refill = n == 0;
		const uint8_t *p = reader_load(r, r->off, DP_BATCH_HDR_BYTES, mark, may_refill, &err);
		if (!p) {
			if (err)
				return err;
			break;
		}
		struct dp_batch_hdr h;
		memcpy(&h, p, sizeof(h));
		if (h.magic != DP_BATCH_MAGIC || h.len < DP_BATCH_HDR_BYTES) {
			/* Stale bytes read before the batch was written: read it again once. */
			if (r->buf_mark <= r->pos && may_refill) {
				r->buf_len = 0;
				p = reader_load(r, r->off, DP_BATCH_HDR_BYTES, mark, true, &err);
				if (p)
					memcpy(&h, p, sizeof(h));
			}
			if (!p || h.magic != DP_BATCH_MAGIC || h.len < DP_BATCH_HDR_BYTES)
				return err ? err : -EBADMSG;
		}
		if (h.len > r->cap) {
			/* Written by a run with larger staging buffers than this shard's: grow, which
			 * moves the buffer, so only before any record of this call was handed out. */
			if (!may_refill)
				break;
			if (h.len > r->seg->size - r->off)
				return -EBADMSG;
			uint8_t *grown = realloc(r->buf, h.len);
			if (!grown)
				return -ENOMEM;
			r->buf = grown;
			r->cap = h.len;
			r->buf_len = 0;
			r->checked_off = UINT64_MAX;
			continue;
		}
		p = reader_load(r, r->off, h.len, mark, may_refill, &err);
		if (!p) {
			if (err)
				return err;
			if (!may_refill)
				break;
			return -EBADMSG; /* a batch below the mark runs off the segment */
		}
		if (r->checked_off != r->off) {
			if (dp_batch_check(p, h.len, &h) < 0) {
				/* Stale when the buffer was filled before pos was readable: read again,
				 * once (the refill's mark is above pos). Judged by pos, not by the
				 * damaged header's first_seq, which could send us round forever. */
				if (r->buf_mark <= r->pos && may_refill) {
					r->buf_len = 0;
					continue;
				}
				return -EBADMSG;
			}
			r->checked_off = r->off;
		}
		/* A marker at the mark (the SKIP of this run's open) is passed, so that the position
		 * says where the next record will be. */
		if (h.kind == DP_BATCH_DATA ? h.first_seq >= mark : h.first_seq > mark)
			break;
		uint64_t end = h.first_seq + h.count;
		if (h.kind != DP_BATCH_DATA || end <= r->pos || h.ts_ms < r->min_ts) {
			r->off += h.len;
			if (h.kind == DP_BATCH_SKIP && h.first_seq > r->pos)
				r->pos = h.first_seq;
			if (h.kind == DP_BATCH_DATA && h.ts_ms < r->min_ts && end > r->pos)
				r->pos = end;
			continue;
		}
		r->min_ts = INT64_MIN; /* found the first record at or after the timestamp */
		const uint8_t *q = p + dp_batch_rec_off(&h);
		for (uint64_t s = h.first_seq; s < end; s++) {
			uint32_t dl;
			uint16_t kl;
			memcpy(&dl, q, 4);
			memcpy(&kl, q + 4, 2);
			if (s >= r->pos) {
				if (n == max || (n > 0 && bytes + dl > max_bytes))
					goto done;
				out[n++] = (struct dp_record_out){
					.seq = s, .ts_ms = h.ts_ms, .key = q + DP_REC_HDR_BYTES,
					.key_len = kl, .data = q + DP_REC_HDR_BYTES + kl, .data_len = dl,
				};
				bytes += dl;
				r->pos = s + 1;
			}
			q += DP_REC_HDR_BYTES + kl + dl;
		}
		r->off += h.len;
	}
done:
	return (int)n;
}
