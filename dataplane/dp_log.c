/* SPDX-License-Identifier: MIT */
/*
 * The shard log writer: staging, group commit on the owner's io_uring, segment roll, retention.
 * The on-disk format is specified at the top of dp_log_internal.h.
 *
 * Group commit. Each shard has DP_STAGES staging buffers. Appends encode batches into the fill
 * buffer; dp_committer_poll() hands a non-empty fill buffer to the ring as ONE write linked
 * (IOSQE_IO_LINK) to ONE fdatasync, and appends go on into the next buffer meanwhile. Up to
 * DP_FLUSH_MAX flushes of a shard are in flight at once: what arrives during one fdatasync starts
 * its own right away instead of waiting for the first to finish (with one in flight, 16 clients
 * in lock step split into a group that flushes and a group that waits a whole flush, then its
 * own). Each flush's fdatasync covers its own write; flushes may complete in any order, but they
 * are retired in the order they started, and only a retired flush moves the marks, so the ack
 * mark only ever covers a prefix of the log whose every byte was written and fdatasync'ed. A
 * crash may leave a later flush on disk and an earlier one not: recovery sees the gap as the end
 * of the log and the bytes after it as a torn tail (their batches claim no durable mark above the
 * gap, since the flush that would have moved it never retired).
 *
 * Durability contract, enforced in flush_complete() and flush_retire(): the ack mark moves only
 * when the write completed in full AND (in durable mode) its fdatasync returned 0, for this flush
 * and every flush started before it. A short write is resubmitted together with a new
 * fdatasync; -ECANCELED or any negative result fails the shard for good.
 *
 * Zero ahead. Segments are preallocated with fallocate, which leaves unwritten extents: the first
 * write into one makes the file system convert the extent, and the fdatasync that follows must
 * then commit the file system's journal as well as flush the data. In durable mode a small flush
 * (at most ZERO_FLUSH_MAX bytes) therefore also writes zeros over the next ZERO_CHUNK bytes past
 * its stage whenever fewer than ZERO_LOW bytes past the stage have been written, so that later
 * flushes overwrite written blocks and their fdatasync is a data flush only (ext4 on virtio, 4 KiB
 * appends, bench/run's data dir: pwrite + fdatasync p50 372 us into fallocated blocks, 185 us into
 * written ones). The zeros change nothing the format can see (the unused end of a segment reads
 * as zeros either way). The zero write is part of its flush: the flush is complete only when it
 * has completed too, and no flush whose bytes overlap a zero write in flight starts before that
 * zero write completed, so no data write can be overtaken by zeros; a failed zero write fails the
 * shard like any write.
 */
#include "dp_log_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <liburing.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "dp_crc32c.h"

struct dp_committer {
	struct io_uring ring;
	dp_ack_cb cb;
	void *cb_arg;
	unsigned inflight;        /* flushes */
	unsigned marks_inflight;  /* durable-mark writes */
	unsigned flush_cap;       /* most flushes in flight over all shards (dp_committer_set_flush_depth) */
	cpu_set_t iowq_cpus;      /* dp_committer_set_iowq_cpus */
	int iowq_status;          /* as dp_committer_iowq_status() answers */
	struct dp_shard *dirty_head, *dirty_tail;
	struct dp_shard *all;
	int event_fd;             /* -1 until dp_committer_event_fd() */
	uint8_t *zeros;           /* ZERO_CHUNK zero bytes, the source of every zero-ahead write */
};

#define UD_WRITE 0u
#define UD_FSYNC 1u
#define UD_MARK 2u
#define UD_ZERO 3u
#define UD_NOP 4u     /* with no address: the NOP of iowq_apply() */

/* Zero ahead (see the top of the file): a flush whose stage ends fewer than ZERO_LOW bytes before
 * the end of the written blocks writes ZERO_CHUNK more. 1 MiB is a few milliseconds of device time
 * once per MiB of log, and several flushes' worth of room at any rate the log sustains. */
#define ZERO_CHUNK (1u << 20)
#define ZERO_LOW (256u << 10)
/* Only small flushes zero ahead: the journal commit is what dominates their fdatasync, while a
 * flush of this much or more pays for its own extent conversion many times over, and zeroing
 * ahead of it would only double the bytes written (PutRecords of 500 records, ~60 KB each). */
#define ZERO_FLUSH_MAX (64u << 10)

/* ---- flush latency ---------------------------------------------------------------------------- */

static uint64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

unsigned dp_flush_hist_bucket(uint64_t us)
{
	if (us < 4)
		return (unsigned)us;
	unsigned e = 63u - (unsigned)__builtin_clzll(us); /* >= 2 */
	unsigned b = 4u * (e - 1u) + (unsigned)((us >> (e - 2u)) & 3u);
	return b < DP_FLUSH_HIST ? b : DP_FLUSH_HIST - 1u;
}

uint64_t dp_flush_hist_low(unsigned b)
{
	if (b < 4)
		return b;
	return (uint64_t)(4u + b % 4u) << (b / 4u - 1u);
}

uint64_t dp_flush_hist_quantile(const uint64_t hist[DP_FLUSH_HIST], double q)
{
	uint64_t total = 0;
	for (unsigned b = 0; b < DP_FLUSH_HIST; b++)
		total += hist[b];
	if (!total)
		return 0;
	double want = q * (double)total;
	uint64_t seen = 0;
	for (unsigned b = 0; b < DP_FLUSH_HIST; b++) {
		seen += hist[b];
		if ((double)seen >= want && hist[b])
			return b + 1u < DP_FLUSH_HIST ? dp_flush_hist_low(b + 1u) : dp_flush_hist_low(b);
	}
	return dp_flush_hist_low(DP_FLUSH_HIST - 1u);
}

/* ---- names and config ------------------------------------------------------------------------ */

static const char *const dur_names[] = {
	[DP_DUR_DURABLE] = "durable",
	[DP_DUR_WRITTEN] = "written",
	[DP_DUR_NONE] = "none",
};

const char *dp_durability_name(enum dp_durability d)
{
	return (unsigned)d < sizeof(dur_names) / sizeof(dur_names[0]) ? dur_names[d] : NULL;
}

int dp_durability_parse(const char *s, enum dp_durability *out)
{
	for (unsigned i = 0; i < sizeof(dur_names) / sizeof(dur_names[0]); i++)
		if (s && strcmp(s, dur_names[i]) == 0) {
			*out = (enum dp_durability)i;
			return 0;
		}
	return -EINVAL;
}

static const char *const state_names[] = {
	[DP_SHARD_OPEN] = "open",
	[DP_SHARD_FAILED] = "failed",
	[DP_SHARD_QUARANTINED] = "quarantined",
	[DP_SHARD_CLOSED] = "closed",
};

const char *dp_shard_state_name(enum dp_shard_state s)
{
	return (unsigned)s < sizeof(state_names) / sizeof(state_names[0]) ? state_names[s] : "unknown";
}

void dp_log_config_default(struct dp_log_config *cfg)
{
	*cfg = (struct dp_log_config){
		.segment_bytes = 64ull << 20,
		.buffer_bytes = 4u << 20,
		.max_record_bytes = DP_DATA_MAX,
		.index_interval = 64u << 10,
		.retention_hours = 24,
		.durability = DP_DUR_DURABLE,
		.io = NULL,
	};
}

/* One maximal record (key + data + headers) must fit a staging buffer. */
#define DP_BUFFER_SLACK 4096u

int dp_log_config_check(const struct dp_log_config *cfg, const char **why)
{
	const char *w = NULL;
	if (cfg->max_record_bytes < 1 || cfg->max_record_bytes > DP_DATA_LIMIT)
		w = "max_record_bytes must be between 1 byte and 10 MiB";
	else if (cfg->buffer_bytes < cfg->max_record_bytes + DP_BUFFER_SLACK)
		w = cfg->max_record_bytes == DP_DATA_MAX ?
		    "buffer_bytes must be at least 1 MiB + 4 KiB so that a maximal record fits" :
		    "buffer_bytes must be at least max_record_bytes + 4 KiB so that a maximal record fits";
	else if (cfg->buffer_bytes > (1u << 30))
		w = "buffer_bytes must be at most 1 GiB";
	else if (cfg->segment_bytes < DP_SEG_MIN_BYTES ||
		 cfg->segment_bytes < (uint64_t)cfg->buffer_bytes + 4096u)
		w = "segment_bytes must be at least 64 KiB and at least buffer_bytes + 4 KiB";
	else if (cfg->index_interval < 512 || cfg->index_interval > cfg->segment_bytes)
		w = "index_interval must be between 512 bytes and segment_bytes";
	else if (cfg->retention_hours < 24 || cfg->retention_hours > 8760)
		w = "retention_hours must be between 24 and 8760 (Kinesis's range)";
	else if (!dp_durability_name(cfg->durability))
		w = "durability must be durable, written or none";
	if (why)
		*why = w;
	return w ? -EINVAL : 0;
}

/* ---- batches ---------------------------------------------------------------------------------- */

uint32_t dp_batch_encode(uint8_t *p, enum dp_batch_kind kind, const struct dp_record_in *recs,
			 unsigned n, uint32_t payload_len, uint64_t first_seq, int64_t ts_ms,
			 uint64_t durable_seq, const uint64_t tag[2])
{
	uint32_t len = dp_align8(DP_BATCH_HDR_BYTES + payload_len);
	struct dp_batch_hdr h = {
		.magic = DP_BATCH_MAGIC,
		.len = len,
		.kind = (uint16_t)kind,
		.flags = tag ? DP_BATCH_F_TAG : 0,
		.count = n,
		.payload_len = payload_len,
		.first_seq = first_seq,
		.ts_ms = ts_ms,
		.durable_seq = durable_seq,
	};
	uint8_t *q = p + DP_BATCH_HDR_BYTES;
	if (tag) {
		memcpy(q, tag, DP_BATCH_TAG_BYTES);
		q += DP_BATCH_TAG_BYTES;
	}
	for (unsigned i = 0; i < n; i++) {
		uint32_t dl = recs[i].data_len;
		uint16_t kl = recs[i].key_len;
		memcpy(q, &dl, 4);
		memcpy(q + 4, &kl, 2);
		memcpy(q + DP_REC_HDR_BYTES, recs[i].key, kl);
		if (dl)
			memcpy(q + DP_REC_HDR_BYTES + kl, recs[i].data, dl);
		q += DP_REC_HDR_BYTES + kl + dl;
	}
	memset(q, 0, (size_t)(p + len - q));
	memcpy(p, &h, sizeof(h));
	h.crc = dp_crc32c(0, p + 8, len - 8);
	memcpy(p + 4, &h.crc, 4);
	return len;
}

int dp_batch_check(const uint8_t *p, uint64_t avail, struct dp_batch_hdr *h)
{
	static const uint8_t zero[DP_BATCH_HDR_BYTES];
	/* A segment rolls when the next batch does not fit, so a sealed one may end with fewer
	 * zero bytes than a header: that is its end, not damage. */
	if (avail < DP_BATCH_HDR_BYTES)
		return memcmp(p, zero, (size_t)avail) == 0 ? -ENODATA : -EBADMSG;
	memcpy(h, p, sizeof(*h));
	if (h->magic != DP_BATCH_MAGIC)
		return memcmp(p, zero, sizeof(zero)) == 0 ? -ENODATA : -EBADMSG;
	if (h->len < DP_BATCH_HDR_BYTES || h->len % 8 || h->len > avail ||
	    h->payload_len > h->len - DP_BATCH_HDR_BYTES ||
	    dp_align8(DP_BATCH_HDR_BYTES + h->payload_len) != h->len)
		return -EBADMSG;
	if (dp_crc32c(0, p + 8, h->len - 8) != h->crc)
		return -EBADMSG;
	if (h->flags & ~DP_BATCH_F_KNOWN)
		return -EBADMSG;
	if ((h->flags & DP_BATCH_F_TAG) &&
	    (h->kind != DP_BATCH_DATA || h->payload_len < DP_BATCH_TAG_BYTES))
		return -EBADMSG;
	if (h->kind == DP_BATCH_DATA) {
		if (h->count == 0)
			return -EBADMSG;
	} else if (h->kind == DP_BATCH_CLOSE || h->kind == DP_BATCH_SKIP) {
		if (h->count != 0 || h->payload_len != 0)
			return -EBADMSG;
	} else {
		return -EBADMSG;
	}
	/* The CRC guards against damage, not against a writer bug: walk the records anyway. */
	const uint8_t *q = p + dp_batch_rec_off(h), *end = p + DP_BATCH_HDR_BYTES + h->payload_len;
	for (uint32_t i = 0; i < h->count; i++) {
		uint32_t dl;
		uint16_t kl;
		if (end - q < DP_REC_HDR_BYTES)
			return -EBADMSG;
		memcpy(&dl, q, 4);
		memcpy(&kl, q + 4, 2);
		if (kl == 0 || kl > DP_KEY_MAX || dl > DP_DATA_LIMIT ||
		    (uint64_t)(end - q) < (uint64_t)DP_REC_HDR_BYTES + kl + dl)
			return -EBADMSG;
		q += DP_REC_HDR_BYTES + kl + dl;
	}
	if (q != end || h->first_seq > DP_SEQ_MAX || h->count > DP_SEQ_MAX - h->first_seq)
		return -EBADMSG;
	return 0;
}

/* ---- the durable-mark file (format in dp_log_internal.h) ----------------------------------- */

void dp_mark_encode(struct dp_mark_rec *m, uint32_t shard_index, uint64_t durable_next,
		    uint32_t buffer_bytes)
{
	*m = (struct dp_mark_rec){
		.durable_next = durable_next,
		.shard_index = shard_index,
		.buffer_bytes = buffer_bytes,
	};
	memcpy(m->magic, DP_MARK_MAGIC, 8);
	m->crc = dp_crc32c(0, m, sizeof(*m));
}

int dp_mark_check(const struct dp_mark_rec *m, uint32_t shard_index)
{
	struct dp_mark_rec c = *m;
	c.crc = 0;
	if (memcmp(m->magic, DP_MARK_MAGIC, 8) != 0 || dp_crc32c(0, &c, sizeof(c)) != m->crc ||
	    m->shard_index != shard_index || m->durable_next > DP_SEQ_MAX)
		return -EBADMSG;
	return 0;
}

/* ---- segments --------------------------------------------------------------------------------- */

uint32_t dp_seg_idx_cap(uint64_t size, uint32_t interval)
{
	return (uint32_t)(size / interval) + 2;
}

int dp_seg_alloc(const struct dp_shard *sh, uint64_t base, uint64_t size, struct dp_seg **ret)
{
	struct dp_seg *seg = calloc(1, sizeof(*seg));
	if (!seg)
		return -ENOMEM;
	seg->idx_cap = dp_seg_idx_cap(size, sh->cfg.index_interval);
	seg->idx = malloc((size_t)seg->idx_cap * sizeof(*seg->idx));
	if (!seg->idx) {
		free(seg);
		return -ENOMEM;
	}
	seg->fd = -1;
	seg->base_seq = base;
	seg->size = size;
	seg->end = DP_SEG_HDR_BYTES;
	seg->zeroed = DP_SEG_HDR_BYTES;
	atomic_init(&seg->max_ts, INT64_MIN);
	atomic_init(&seg->refs, 1);
	snprintf(seg->name, sizeof(seg->name), "%020" PRIu64 ".log", base);
	*ret = seg;
	return 0;
}

void dp_seg_unref(struct dp_seg *seg)
{
	if (!seg || atomic_fetch_sub_explicit(&seg->refs, 1, memory_order_acq_rel) != 1)
		return;
	if (seg->fd >= 0)
		close(seg->fd);
	free(seg->idx);
	free(seg);
}

void dp_seg_index_add(struct dp_seg *seg, uint32_t interval, uint64_t seq, int64_t ts, uint64_t off)
{
	uint32_t n = atomic_load_explicit(&seg->idx_n, memory_order_relaxed);
	if (n && off - seg->last_idx_off < interval)
		return;
	if (n == seg->idx_cap) /* cannot happen: entries are >= interval apart; stay safe */
		return;
	seg->idx[n] = (struct dp_idx_entry){ .seq = seq, .ts_ms = ts, .off = off };
	seg->last_idx_off = off;
	atomic_store_explicit(&seg->idx_n, n + 1, memory_order_release);
}

int dp_shard_segs_push(struct dp_shard *sh, struct dp_seg *seg)
{
	int rc = 0;
	pthread_mutex_lock(&sh->seg_lock);
	if (sh->nsegs == sh->segs_cap) {
		uint32_t cap = sh->segs_cap ? sh->segs_cap * 2 : 8;
		struct dp_seg **n = realloc(sh->segs, cap * sizeof(*n));
		if (!n) {
			rc = -ENOMEM;
			goto out;
		}
		sh->segs = n;
		sh->segs_cap = cap;
	}
	sh->segs[sh->nsegs++] = seg;
out:
	pthread_mutex_unlock(&sh->seg_lock);
	return rc;
}

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int dp_seg_create(struct dp_shard *sh, uint64_t base, struct dp_seg **ret)
{
	const struct dp_io_ops *io = sh->io;
	struct dp_seg *seg;
	int r = dp_seg_alloc(sh, base, sh->cfg.segment_bytes, &seg);
	if (r < 0)
		return r;
	r = io->open(io->arg, sh->dirfd, seg->name, O_RDWR | O_CREAT | O_EXCL, 0644);
	if (r < 0)
		goto err_free;
	seg->fd = r;
	r = io->fallocate(io->arg, seg->fd, 0, 0, (off_t)seg->size);
	if (r < 0)
		goto err_unlink;
	struct dp_seg_hdr h = {
		.version = DP_SEG_VERSION,
		.shard_index = sh->info.shard_index,
		.buffer_bytes = sh->cfg.buffer_bytes,
		.base_seq = base,
		.shard_created_ms = sh->info.created_ms,
		.seg_created_ms = now_ms(),
		.seg_bytes = seg->size,
	};
	memcpy(h.magic, DP_SEG_MAGIC, 8);
	h.crc = dp_crc32c(0, &h, sizeof(h));
	r = dp_io_pwrite_all(io, seg->fd, &h, sizeof(h), 0);
	if (r < 0)
		goto err_unlink;
	/* The header and the file's existence must be durable before any acked batch lands here. */
	r = io->fdatasync(io->arg, seg->fd);
	if (r < 0)
		goto err_unlink;
	r = dp_io_fsync_dir(io, sh->dirfd);
	if (r < 0)
		goto err_unlink;
	*ret = seg;
	return 0;
err_unlink:
	io->unlink(io->arg, sh->dirfd, seg->name);
err_free:
	dp_seg_unref(seg);
	return r;
}

/* ---- committer -------------------------------------------------------------------------------- */

int dp_committer_new(unsigned entries, dp_ack_cb cb, void *cb_arg, struct dp_committer **ret)
{
	if (entries < 8 || entries > 32768)
		return -EINVAL;
	struct dp_committer *c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	/* Page-aligned so that the zero writes could go through O_DIRECT descriptors too. */
	if (posix_memalign((void **)&c->zeros, 4096, ZERO_CHUNK)) {
		free(c);
		return -ENOMEM;
	}
	memset(c->zeros, 0, ZERO_CHUNK);
	int r = io_uring_queue_init(entries, &c->ring, 0);
	if (r < 0) {
		free(c->zeros);
		free(c);
		return r;
	}
	c->cb = cb;
	c->cb_arg = cb_arg;
	c->event_fd = -1;
	c->flush_cap = DP_COMMITTER_FLUSH_DEPTH;
	*ret = c;
	return 0;
}

int dp_committer_event_fd(struct dp_committer *c)
{
	if (c->event_fd >= 0)
		return c->event_fd;
	int fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (fd < 0)
		return -errno;
	int r = io_uring_register_eventfd(&c->ring, fd);
	if (r < 0) {
		close(fd);
		return r;
	}
	c->event_fd = fd;
	return fd;
}

void dp_committer_free(struct dp_committer *c)
{
	if (!c)
		return;
	io_uring_queue_exit(&c->ring);
	if (c->event_fd >= 0)
		close(c->event_fd);
	free(c->zeros);
	free(c);
}

int dp_committer_set_iowq_cpus(struct dp_committer *c, const cpu_set_t *cpus)
{
	if (CPU_COUNT(cpus) == 0)
		return -EINVAL;
	c->iowq_cpus = *cpus;
	c->iowq_status = 2;
	return 0;
}

int dp_committer_iowq_status(const struct dp_committer *c)
{
	return c->iowq_status;
}

/*
 * The kernel keeps the mask with the submitting thread's io_uring context, which that thread's
 * first submission creates, and gives it only to workers started after it is set: submit a NOP
 * (it completes inline and starts no worker), then set the mask, before the first write.
 */
static void iowq_apply(struct dp_committer *c)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&c->ring);
	if (!sqe)
		return; /* the next poll tries again */
	io_uring_prep_nop(sqe);
	io_uring_sqe_set_data64(sqe, UD_NOP);
	int r = io_uring_submit(&c->ring);
	if (r >= 0)
		r = io_uring_register_iowq_aff(&c->ring, sizeof(c->iowq_cpus), &c->iowq_cpus);
	c->iowq_status = r < 0 ? r : 1;
}

int dp_committer_set_flush_depth(struct dp_committer *c, unsigned depth)
{
	if (depth < 1 || depth > DP_COMMITTER_FLUSH_DEPTH_MAX)
		return -EINVAL;
	c->flush_cap = depth;
	return 0;
}

unsigned dp_committer_inflight(const struct dp_committer *c)
{
	return c->inflight;
}

static void dirty_push(struct dp_shard *sh)
{
	struct dp_committer *c = sh->c;
	if (sh->dirty)
		return;
	sh->dirty = true;
	sh->dirty_next = NULL;
	if (c->dirty_tail)
		c->dirty_tail->dirty_next = sh;
	else
		c->dirty_head = sh;
	c->dirty_tail = sh;
}

void dp_shard_fail(struct dp_shard *sh, int err, const char *what)
{
	if (atomic_load(&sh->state) != DP_SHARD_OPEN)
		return;
	sh->err = err < 0 ? -err : err;
	snprintf(sh->err_detail, sizeof(sh->err_detail),
		 "%s failed on shard %" PRIu32 ": %s; the shard is read-only until the daemon is "
		 "restarted with the fault fixed", what, sh->info.shard_index, strerror(sh->err));
	atomic_store(&sh->state, DP_SHARD_FAILED);
	/* Whatever was staged and not in flight is never acked (nor is what is in flight). */
	sh->stage[sh->fill].len = 0;
	/* The owner learns of the failure through the ack callback: from flush_retire() when flushes
	 * are in flight, otherwise (a failed segment roll) from the next poll. Without this, waiters
	 * on records staged before a failed roll would never hear back. */
	if (sh->fl_n == 0)
		dirty_push(sh);
}

/* Tell the owner, once, that the shard failed; the ack mark is the unchanged one. */
static void notify_failed(struct dp_shard *sh)
{
	struct dp_committer *c = sh->c;
	if (sh->fail_notified)
		return;
	sh->fail_notified = true;
	if (c->cb)
		c->cb(c->cb_arg, sh, atomic_load(&sh->ack_next));
}

/* Where the flush of st should write zeros ahead, if anywhere: sets *off and returns the length
 * (0: enough is written already, or the segment ends). */
static uint32_t zero_ahead(const struct dp_shard *sh, const struct dp_stage *st, uint64_t *off)
{
	struct dp_seg *seg = st->seg;
	if (st->len > ZERO_FLUSH_MAX)
		return 0;
	/* One zero write at a time: seg->zeroed only moves when it completes. */
	for (unsigned i = 0; i < sh->fl_n; i++)
		if (sh->fl[(sh->fl_head + i) % DP_FLUSH_MAX].zero_len)
			return 0;
	uint64_t tail = st->off + st->len;
	if (seg->zeroed >= tail + ZERO_LOW)
		return 0;
	/* Start on a page past the stage: the stage's own last page is written by its write. */
	uint64_t from = (tail > seg->zeroed ? tail : seg->zeroed) + 4095u;
	from &= ~(uint64_t)4095u;
	if (from >= seg->size)
		return 0;
	*off = from;
	return seg->size - from < ZERO_CHUNK ? (uint32_t)(seg->size - from) : ZERO_CHUNK;
}

/* Queue the write (and, in durable mode, its linked fdatasync) for the rest of the flush; the
 * first submission of a durable flush may add a zero-ahead write. */
static int flush_submit(struct dp_flush *fl, bool first)
{
	struct dp_shard *sh = fl->sh;
	struct dp_committer *c = sh->c;
	struct dp_stage *st = fl->st;
	bool sync = sh->cfg.durability == DP_DUR_DURABLE;
	uint64_t zoff = 0;
	uint32_t zlen = first && sync ? zero_ahead(sh, st, &zoff) : 0;
	unsigned need = (sync ? 2 : 1) + (zlen ? 1 : 0);

	if (io_uring_sq_space_left(&c->ring) < need) {
		io_uring_submit(&c->ring);
		if (io_uring_sq_space_left(&c->ring) < need)
			return -EBUSY;
	}
	if (zlen) {
		/* Not linked: it touches no byte of this flush, and a short one must not cancel the
		 * data write. The linked fdatasync may or may not cover it; either is fine. */
		struct io_uring_sqe *z = io_uring_get_sqe(&c->ring);
		io_uring_prep_write(z, st->seg->fd, c->zeros, zlen, zoff);
		io_uring_sqe_set_data64(z, (uintptr_t)fl | UD_ZERO);
		sh->st.zero_writes++;
	}
	struct io_uring_sqe *w = io_uring_get_sqe(&c->ring);
	io_uring_prep_write(w, st->seg->fd, st->buf + fl->written, st->len - fl->written,
			    st->off + fl->written);
	io_uring_sqe_set_data64(w, (uintptr_t)fl | UD_WRITE);
	if (sync) {
		w->flags |= IOSQE_IO_LINK;
		struct io_uring_sqe *f = io_uring_get_sqe(&c->ring);
		io_uring_prep_fsync(f, st->seg->fd, IORING_FSYNC_DATASYNC);
		io_uring_sqe_set_data64(f, (uintptr_t)fl | UD_FSYNC);
		sh->st.fsyncs++;
	}
	sh->st.writes++;
	fl->write_res = fl->sync_res = 0;
	if (first) {
		fl->zero_res = 0;
		fl->zero_off = zoff;
		fl->zero_len = zlen;
	}
	fl->pending = (uint8_t)need;
	return 0;
}

/* Whether the fill buffer may start its flush now: a flush slot is free and no zero write in
 * flight overlaps its bytes. When not, the retiring flush dirties the shard again. */
static bool flush_can_start(const struct dp_shard *sh)
{
	if (sh->fl_n >= DP_FLUSH_MAX)
		return false;
	const struct dp_stage *st = &sh->stage[sh->fill];
	for (unsigned i = 0; i < sh->fl_n; i++) {
		const struct dp_flush *o = &sh->fl[(sh->fl_head + i) % DP_FLUSH_MAX];
		if (o->zero_len && o->st->seg == st->seg && st->off < o->zero_off + o->zero_len &&
		    o->zero_off < st->off + st->len)
			return false;
	}
	return true;
}

/* Start flushing the fill buffer; appends continue in the next one. Call only when
 * flush_can_start(). */
static int flush_start(struct dp_shard *sh)
{
	struct dp_flush *fl = &sh->fl[(sh->fl_head + sh->fl_n) % DP_FLUSH_MAX];
	fl->sh = sh;
	fl->st = &sh->stage[sh->fill];
	fl->written = 0;
	fl->done = false;
	fl->t0_ns = mono_ns();
	int r = flush_submit(fl, true);
	if (r < 0)
		return r;
	fl->active = true;
	sh->fill = (sh->fill + 1) % DP_STAGES;
	sh->fl_n++;
	sh->c->inflight++;
	sh->st.flushes++;
	return 0;
}

/*
 * Record the new durable mark in the mark file: a 32-byte write on the ring, unlinked, with no
 * fdatasync of its own (the next flush's fdatasync covers nothing of it, nor needs to: the file
 * is a lower bound that only has to survive a process crash to do its job, and a stale or torn
 * record is harmless). One write in flight per shard; a newer mark waits for it.
 */
static void mark_write(struct dp_shard *sh)
{
	struct dp_markw *mw = &sh->mark;
	struct dp_committer *c = sh->c;
	if (mw->fd < 0)
		return;
	if (mw->inflight || io_uring_sq_space_left(&c->ring) < 1) {
		mw->dirty = true;
		return;
	}
	dp_mark_encode(&mw->rec, sh->info.shard_index, atomic_load(&sh->durable_next),
		       sh->cfg.buffer_bytes);
	struct io_uring_sqe *w = io_uring_get_sqe(&c->ring);
	io_uring_prep_write(w, mw->fd, &mw->rec, sizeof(mw->rec), 0);
	io_uring_sqe_set_data64(w, (uintptr_t)mw | UD_MARK);
	mw->inflight = true;
	mw->dirty = false;
	c->marks_inflight++;
}

static void mark_done(struct dp_shard *sh, int res)
{
	sh->mark.inflight = false;
	sh->c->marks_inflight--;
	if (res != (int)sizeof(sh->mark.rec))
		sh->st.mark_errors++;
	if (sh->mark.dirty && atomic_load(&sh->state) == DP_SHARD_OPEN)
		mark_write(sh);
}

/* Every completion of fl is in: check it (a short write is resubmitted and the flush stays in
 * flight), then retire what can be retired. */
static void flush_complete(struct dp_flush *fl)
{
	struct dp_shard *sh = fl->sh;
	struct dp_stage *st = fl->st;

	if (atomic_load(&sh->state) != DP_SHARD_OPEN) {
		/* Failed meanwhile: nothing more is written, nothing of this flush is acked. */
	} else if (fl->write_res < 0) {
		dp_shard_fail(sh, fl->write_res, "write");
	} else if (fl->written < st->len) {
		/* Short write: the linked fdatasync was cancelled or covers only part. Write the rest
		 * and sync again; a write that made no progress at all is an I/O error. */
		if (fl->write_res == 0) {
			dp_shard_fail(sh, -EIO, "write (no progress)");
		} else {
			sh->st.short_writes++;
			if (flush_submit(fl, false) == 0)
				return;
			dp_shard_fail(sh, -EBUSY, "resubmitting a short write");
		}
	} else if (sh->cfg.durability == DP_DUR_DURABLE && fl->sync_res < 0) {
		/* Includes -ECANCELED: a cancelled fdatasync never counts as success. */
		dp_shard_fail(sh, fl->sync_res, "fdatasync");
	} else if (fl->zero_res < 0) {
		dp_shard_fail(sh, fl->zero_res, "writing zeros ahead of the log");
	}
	if (fl->zero_len && fl->zero_res > 0) {
		/* Written blocks from the stage's end on, as far as the zeros reached; a short zero
		 * write just leaves the rest to a later flush. */
		uint64_t reach = fl->zero_off + (uint64_t)fl->zero_res;
		if (reach > st->seg->zeroed)
			st->seg->zeroed = reach;
		sh->st.zero_bytes += (uint64_t)fl->zero_res;
	}
	fl->zero_len = 0;
	fl->done = true;
	sh->st.flush_us_hist[dp_flush_hist_bucket((mono_ns() - fl->t0_ns) / 1000u)]++;
}

/*
 * Retire the completed flushes at the head of the shard's ring, oldest first, moving the marks
 * to the end of each; stop at the first one still in flight. Once the shard failed nothing moves
 * any more (not even for a flush that succeeded behind the failing one), and the owner is told
 * once the last flush in flight is back.
 */
static void flush_retire(struct dp_shard *sh)
{
	struct dp_committer *c = sh->c;
	while (sh->fl_n && sh->fl[sh->fl_head].done) {
		struct dp_flush *fl = &sh->fl[sh->fl_head];
		struct dp_stage *st = fl->st;
		fl->active = fl->done = false;
		sh->fl_head = (sh->fl_head + 1) % DP_FLUSH_MAX;
		sh->fl_n--;
		c->inflight--;
		if (atomic_load(&sh->state) != DP_SHARD_OPEN)
			continue;
		uint64_t end = st->end_seq;
		if (sh->cfg.durability == DP_DUR_DURABLE) {
			atomic_store_explicit(&sh->durable_next, end, memory_order_release);
			mark_write(sh);
		}
		atomic_store_explicit(&sh->readable_next, end, memory_order_release);
		if (sh->cfg.durability != DP_DUR_NONE)
			atomic_store_explicit(&sh->ack_next, end, memory_order_release);
		st->len = 0;
		if (c->cb)
			c->cb(c->cb_arg, sh, atomic_load_explicit(&sh->ack_next, memory_order_relaxed));
	}
	if (atomic_load(&sh->state) != DP_SHARD_OPEN) {
		if (sh->fl_n == 0)
			notify_failed(sh);
		return;
	}
	/* Appends made while every slot was busy (or behind a zero write) flush on the next poll. */
	if (sh->stage[sh->fill].len)
		dirty_push(sh);
}

int dp_committer_poll(struct dp_committer *c, bool wait)
{
	int done = 0;
	struct io_uring_cqe *cqe;

	if (c->iowq_status == 2 && io_uring_sq_ready(&c->ring) == 0)
		iowq_apply(c);
	/* Submit first: a shard dirtied since the last poll joins the ring before we wait. */
	for (int pass = 0; pass < 2; pass++) {
		struct dp_shard *sh = c->dirty_head;
		c->dirty_head = c->dirty_tail = NULL;
		struct dp_shard *held = NULL, **held_tail = &held;
		while (sh) {
			struct dp_shard *next = sh->dirty_next;
			sh->dirty = false;
			if (atomic_load(&sh->state) == DP_SHARD_FAILED && sh->fl_n == 0) {
				notify_failed(sh);
			} else if (atomic_load(&sh->state) == DP_SHARD_OPEN && sh->stage[sh->fill].len &&
				   flush_can_start(sh)) {
				if (c->inflight >= c->flush_cap) {
					/* Enough fdatasyncs queue at the device already: more would
					 * only wait behind them and carry less each (see
					 * DP_COMMITTER_FLUSH_DEPTH). A completion frees a slot. */
					sh->dirty_next = NULL;
					*held_tail = sh;
					held_tail = &sh->dirty_next;
				} else if (flush_start(sh) < 0) {
					dirty_push(sh); /* ring full: next poll */
				}
			}
			sh = next;
		}
		for (sh = held; sh; ) {
			struct dp_shard *next = sh->dirty_next;
			dirty_push(sh);
			sh = next;
		}
		if (c->inflight + c->marks_inflight == 0)
			break;
		int r = io_uring_submit(&c->ring);
		if (r < 0 && r != -EBUSY && r != -EAGAIN && r != -EINTR)
			return r;

		unsigned head, seen = 0;
		if (wait && pass == 0) {
			r = io_uring_wait_cqe(&c->ring, &cqe);
			if (r < 0 && r != -EINTR)
				return r;
		}
		io_uring_for_each_cqe(&c->ring, head, cqe) {
			uint64_t ud = io_uring_cqe_get_data64(cqe);
			seen++;
			if (ud == UD_NOP)
				continue;
			if ((ud & 7) == UD_MARK) {
				struct dp_markw *mw = (struct dp_markw *)(uintptr_t)(ud & ~(uint64_t)7);
				mark_done((struct dp_shard *)((char *)mw - offsetof(struct dp_shard, mark)),
					  cqe->res);
				continue;
			}
			struct dp_flush *fl = (struct dp_flush *)(uintptr_t)(ud & ~(uint64_t)7);
			struct dp_shard *owner = fl->sh;
			enum dp_io_op op = (ud & 7) == UD_FSYNC ? DP_IO_FSYNC :
					   (ud & 7) == UD_ZERO ? DP_IO_ZERO : DP_IO_WRITE;
			int res = owner->io->cqe_filter(owner->io->arg, op, fl->st->seg->fd, cqe->res);
			if (op == DP_IO_ZERO) {
				fl->zero_res = res;
			} else if (op == DP_IO_WRITE) {
				fl->write_res = res;
				if (res > 0) {
					uint32_t want = fl->st->len - fl->written;
					fl->written += (uint32_t)res < want ? (uint32_t)res : want;
				}
			} else {
				fl->sync_res = res;
			}
			if (--fl->pending == 0) {
				flush_complete(fl);
				if (fl->done) {
					flush_retire(owner);
					done++;
				}
			}
		}
		io_uring_cq_advance(&c->ring, seen);
		if (!c->dirty_head)
			break;
	}
	/* Resubmissions of short writes queued during completion handling. */
	if (io_uring_sq_ready(&c->ring))
		io_uring_submit(&c->ring);
	return done;
}

/* ---- shards ----------------------------------------------------------------------------------- */

int dp_shard_open(struct dp_committer *c, const char *dir, const struct dp_shard_info *info,
		  const struct dp_log_config *cfg, struct dp_shard_recovery *rep,
		  struct dp_shard **ret)
{
	return dp_shard_open_tags(c, dir, info, cfg, rep, NULL, NULL, ret);
}

int dp_shard_open_tags(struct dp_committer *c, const char *dir, const struct dp_shard_info *info,
		       const struct dp_log_config *cfg, struct dp_shard_recovery *rep,
		       dp_shard_tag_fn tag_fn, void *tag_arg, struct dp_shard **ret)
{
	struct dp_shard_recovery local;
	if (!rep)
		rep = &local;
	memset(rep, 0, sizeof(*rep));
	if (!c || !dir || !info || !cfg || dp_log_config_check(cfg, NULL) < 0)
		return -EINVAL;

	struct dp_shard *sh = calloc(1, sizeof(*sh));
	if (!sh)
		return -ENOMEM;
	int r = -ENOMEM;
	sh->c = c;
	sh->cfg = *cfg;
	sh->io = cfg->io ? cfg->io : dp_io_default();
	sh->info = *info;
	sh->dirfd = -1;
	sh->mark.fd = -1;
	sh->last_ts = INT64_MIN;
	pthread_mutex_init(&sh->seg_lock, NULL);
	for (unsigned i = 0; i < DP_STAGES; i++) {
		/* Page-aligned so that an O_DIRECT variant needs no copy. */
		if (posix_memalign((void **)&sh->stage[i].buf, 4096, cfg->buffer_bytes))
			goto err;
		sh->stage[i].cap = cfg->buffer_bytes;
	}
	if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
		r = -errno;
		goto err;
	}
	r = sh->io->open(sh->io->arg, AT_FDCWD, dir, O_RDONLY | O_DIRECTORY, 0);
	if (r < 0)
		goto err;
	sh->dirfd = r;

	sh->tag_fn = tag_fn;
	sh->tag_arg = tag_arg;
	r = dp_log_recover(sh, rep);
	sh->tag_fn = NULL;
	sh->tag_arg = NULL;
	if (r < 0)
		goto err;
	if (rep->quarantined)
		atomic_store(&sh->state, DP_SHARD_QUARANTINED);
	sh->all_next = c->all;
	c->all = sh;
	*ret = sh;
	return 0;
err:
	for (uint32_t i = 0; i < sh->nsegs; i++)
		dp_seg_unref(sh->segs[i]);
	free(sh->segs);
	if (sh->mark.fd >= 0)
		sh->io->close(sh->io->arg, sh->mark.fd);
	if (sh->dirfd >= 0)
		sh->io->close(sh->io->arg, sh->dirfd);
	for (unsigned i = 0; i < DP_STAGES; i++)
		free(sh->stage[i].buf);
	pthread_mutex_destroy(&sh->seg_lock);
	free(sh);
	return r;
}

static struct dp_seg *active_seg(const struct dp_shard *sh)
{
	return sh->segs[sh->nsegs - 1];
}

/* Roll to a new segment whose base is the next sequence number. */
static int shard_roll(struct dp_shard *sh)
{
	struct dp_seg *old = active_seg(sh), *seg;
	uint64_t base = atomic_load_explicit(&sh->next_seq, memory_order_relaxed);
	int r = dp_seg_create(sh, base, &seg);
	if (r < 0) {
		dp_shard_fail(sh, r, "creating a new segment");
		return r;
	}
	r = dp_shard_segs_push(sh, seg);
	if (r < 0) {
		dp_seg_unref(seg);
		dp_shard_fail(sh, r, "recording a new segment");
		return r;
	}
	atomic_store_explicit(&old->next_base, base, memory_order_release);
	sh->st.segments_rolled++;
	return 0;
}

/* Stage an encoded batch; handles roll and buffer swap. Returns 0, -EAGAIN or a fatal errno. */
static int stage_reserve(struct dp_shard *sh, uint32_t blen, struct dp_stage **out)
{
	struct dp_stage *fill = &sh->stage[sh->fill];
	struct dp_seg *seg = active_seg(sh);

	if (seg->end + blen > seg->size) {
		if (fill->len) {
			if (!flush_can_start(sh) || flush_start(sh) < 0)
				return -EAGAIN;
			fill = &sh->stage[sh->fill];
		}
		int r = shard_roll(sh);
		if (r < 0)
			return r;
		seg = active_seg(sh);
	}
	if (fill->len + blen > fill->cap) {
		if (!flush_can_start(sh) || flush_start(sh) < 0)
			return -EAGAIN;
		fill = &sh->stage[sh->fill];
	}
	if (fill->len == 0) {
		fill->seg = seg;
		fill->off = seg->end;
	}
	*out = fill;
	return 0;
}

static int shard_append(struct dp_shard *sh, const struct dp_record_in *recs, unsigned n,
			int64_t ts_ms, const uint64_t tag[2], uint64_t *first_seq)
{
	if (atomic_load_explicit(&sh->state, memory_order_relaxed) != DP_SHARD_OPEN)
		return -EROFS;
	if (n == 0 || n > 65535 || !recs)
		return -EINVAL;
	uint64_t payload = tag ? DP_BATCH_TAG_BYTES : 0;
	for (unsigned i = 0; i < n; i++) {
		if (recs[i].key_len == 0 || recs[i].key_len > DP_KEY_MAX || !recs[i].key ||
		    recs[i].data_len > sh->cfg.max_record_bytes || (recs[i].data_len && !recs[i].data))
			return -EINVAL;
		payload += DP_REC_HDR_BYTES + recs[i].key_len + recs[i].data_len;
	}
	if (payload + DP_BATCH_HDR_BYTES + 8 > sh->cfg.buffer_bytes)
		return -EMSGSIZE;
	uint64_t seq = atomic_load_explicit(&sh->next_seq, memory_order_relaxed);
	if (n > DP_SEQ_MAX - seq)
		return -EOVERFLOW;
	uint32_t blen = dp_align8(DP_BATCH_HDR_BYTES + (uint32_t)payload);

	struct dp_stage *st;
	int r = stage_reserve(sh, blen, &st);
	if (r < 0) {
		if (r == -EAGAIN)
			sh->st.eagain++;
		return r;
	}
	if (ts_ms < sh->last_ts)
		ts_ms = sh->last_ts;
	sh->last_ts = ts_ms;

	bool was_empty = st->len == 0;
	/* Claim what is fdatasync'ed so far: recovery tells torn from corrupt by it. Not the ack
	 * mark: in written and none modes that covers bytes no fdatasync ever reached, and a torn
	 * tail after power loss would then look like corruption. */
	uint64_t durable = atomic_load_explicit(&sh->durable_next, memory_order_relaxed);
	uint64_t off = st->off + st->len;
	dp_batch_encode(st->buf + st->len, DP_BATCH_DATA, recs, n, (uint32_t)payload, seq, ts_ms,
			durable, tag);
	st->len += blen;
	st->end_seq = seq + n;
	st->seg->end = off + blen;
	dp_seg_index_add(st->seg, sh->cfg.index_interval, seq, ts_ms, off);
	if (atomic_load_explicit(&st->seg->max_ts, memory_order_relaxed) < ts_ms)
		atomic_store_explicit(&st->seg->max_ts, ts_ms, memory_order_release);
	atomic_store_explicit(&sh->next_seq, seq + n, memory_order_release);
	if (sh->cfg.durability == DP_DUR_NONE)
		atomic_store_explicit(&sh->ack_next, seq + n, memory_order_release);

	sh->st.appends++;
	sh->st.records += n;
	sh->st.bytes_staged += blen;
	if (was_empty)
		dirty_push(sh);
	*first_seq = seq;
	return (int)n;
}

int dp_shard_append(struct dp_shard *sh, const struct dp_record_in *recs, unsigned n,
		    int64_t ts_ms, uint64_t *first_seq)
{
	return shard_append(sh, recs, n, ts_ms, NULL, first_seq);
}

int dp_shard_append_tagged(struct dp_shard *sh, const struct dp_record_in *recs, unsigned n,
			   int64_t ts_ms, uint64_t producer, uint64_t batch, uint64_t *first_seq)
{
	const uint64_t tag[2] = { producer, batch };
	return shard_append(sh, recs, n, ts_ms, tag, first_seq);
}

/* Stage a zero-record marker batch (CLOSE); -EAGAIN when no room right now. */
static int stage_marker(struct dp_shard *sh, enum dp_batch_kind kind)
{
	struct dp_stage *st;
	int r = stage_reserve(sh, DP_BATCH_HDR_BYTES, &st);
	if (r < 0)
		return r;
	uint64_t seq = atomic_load_explicit(&sh->next_seq, memory_order_relaxed);
	uint64_t off = st->off + st->len;
	bool was_empty = st->len == 0;
	st->len += dp_batch_encode(st->buf + st->len, kind, NULL, 0, 0, seq,
				   sh->last_ts == INT64_MIN ? 0 : sh->last_ts,
				   atomic_load_explicit(&sh->durable_next, memory_order_relaxed), NULL);
	st->end_seq = seq;
	st->seg->end = off + DP_BATCH_HDR_BYTES;
	if (was_empty)
		dirty_push(sh);
	return 0;
}

static void shard_unlink_from_committer(struct dp_shard *sh)
{
	struct dp_committer *c = sh->c;
	for (struct dp_shard **pp = &c->all; *pp; pp = &(*pp)->all_next)
		if (*pp == sh) {
			*pp = sh->all_next;
			break;
		}
	/* Drop it from the dirty list too. */
	struct dp_shard *prev = NULL;
	for (struct dp_shard *s = c->dirty_head; s; prev = s, s = s->dirty_next)
		if (s == sh) {
			if (prev)
				prev->dirty_next = s->dirty_next;
			else
				c->dirty_head = s->dirty_next;
			if (c->dirty_tail == s)
				c->dirty_tail = prev;
			break;
		}
}

int dp_shard_close(struct dp_shard *sh)
{
	if (!sh)
		return 0;
	int rc = 0;
	if (atomic_load(&sh->state) == DP_SHARD_OPEN) {
		int r;
		while ((r = stage_marker(sh, DP_BATCH_CLOSE)) == -EAGAIN)
			if ((r = dp_committer_poll(sh->c, true)) < 0)
				break;
		while (r >= 0 && atomic_load(&sh->state) == DP_SHARD_OPEN &&
		       (sh->fl_n || sh->stage[sh->fill].len))
			r = dp_committer_poll(sh->c, true);
		if (r < 0)
			rc = r;
		if (atomic_load(&sh->state) != DP_SHARD_OPEN)
			rc = -sh->err;
		else if (sh->cfg.durability != DP_DUR_DURABLE)
			rc = sh->io->fdatasync(sh->io->arg, active_seg(sh)->fd);
	} else {
		/* A failed shard may still have a flush in flight: wait for it before freeing. */
		while (sh->fl_n && dp_committer_poll(sh->c, true) >= 0)
			;
		if (atomic_load(&sh->state) == DP_SHARD_FAILED)
			rc = -sh->err;
	}
	/* The ring still points at the mark buffer until its write completes. */
	while (sh->mark.inflight && dp_committer_poll(sh->c, true) >= 0)
		;
	if (sh->mark.fd >= 0)
		sh->io->close(sh->io->arg, sh->mark.fd);
	atomic_store(&sh->state, DP_SHARD_CLOSED);
	shard_unlink_from_committer(sh);
	for (uint32_t i = 0; i < sh->nsegs; i++)
		dp_seg_unref(sh->segs[i]);
	free(sh->segs);
	sh->io->close(sh->io->arg, sh->dirfd);
	for (unsigned i = 0; i < DP_STAGES; i++)
		free(sh->stage[i].buf);
	pthread_mutex_destroy(&sh->seg_lock);
	free(sh);
	return rc;
}

uint64_t dp_shard_next_seq(const struct dp_shard *sh)
{
	return atomic_load_explicit(&sh->next_seq, memory_order_acquire);
}

uint64_t dp_shard_ack_next(const struct dp_shard *sh)
{
	return atomic_load_explicit(&sh->ack_next, memory_order_acquire);
}

uint64_t dp_shard_durable_next(const struct dp_shard *sh)
{
	return atomic_load_explicit(&sh->durable_next, memory_order_acquire);
}

uint64_t dp_shard_readable_next(const struct dp_shard *sh)
{
	return atomic_load_explicit(&sh->readable_next, memory_order_acquire);
}

uint64_t dp_shard_trim_seq(const struct dp_shard *sh)
{
	return atomic_load_explicit(&sh->trim_seq, memory_order_acquire);
}

enum dp_shard_state dp_shard_state(const struct dp_shard *sh)
{
	return (enum dp_shard_state)atomic_load(&sh->state);
}

int dp_shard_error(const struct dp_shard *sh, const char **detail)
{
	if (detail)
		*detail = sh->err_detail;
	return sh->err;
}

void dp_shard_set_user(struct dp_shard *sh, void *user)
{
	sh->user = user;
}

void *dp_shard_user(const struct dp_shard *sh)
{
	return sh->user;
}

const struct dp_shard_info *dp_shard_info(const struct dp_shard *sh)
{
	return &sh->info;
}

void dp_shard_stats_get(const struct dp_shard *sh, struct dp_shard_stats *st)
{
	*st = sh->st;
	st->segments_live = sh->nsegs;
}

int dp_shard_set_retention(struct dp_shard *sh, uint32_t hours)
{
	if (hours < 24 || hours > 8760)
		return -EINVAL;
	sh->cfg.retention_hours = hours;
	return 0;
}

int dp_shard_retention_run(struct dp_shard *sh, int64_t now)
{
	int64_t cutoff = now - (int64_t)sh->cfg.retention_hours * 3600 * 1000;
	int deleted = 0, rc = 0;
	/* A quarantined shard is evidence for the operator: nothing is cut, not even by age. */
	if (atomic_load(&sh->state) == DP_SHARD_QUARANTINED)
		return 0;
	while (sh->nsegs > 1) {
		struct dp_seg *seg = sh->segs[0];
		/* A segment being flushed is never old enough to go, but check anyway. */
		bool flushing = false;
		for (unsigned i = 0; i < sh->fl_n; i++)
			flushing |= sh->fl[(sh->fl_head + i) % DP_FLUSH_MAX].st->seg == seg;
		if (atomic_load(&seg->max_ts) >= cutoff || flushing)
			break;
		int r = sh->io->unlink(sh->io->arg, sh->dirfd, seg->name);
		if (r < 0 && r != -ENOENT) {
			rc = r;
			break;
		}
		pthread_mutex_lock(&sh->seg_lock);
		memmove(sh->segs, sh->segs + 1, (sh->nsegs - 1) * sizeof(*sh->segs));
		sh->nsegs--;
		atomic_store_explicit(&sh->trim_seq, sh->segs[0]->base_seq, memory_order_release);
		pthread_mutex_unlock(&sh->seg_lock);
		dp_seg_unref(seg); /* readers that pinned it keep reading through their reference */
		sh->st.segments_deleted++;
		deleted++;
	}
	if (deleted) {
		int r = dp_io_fsync_dir(sh->io, sh->dirfd);
		if (r < 0 && rc == 0)
			rc = r;
	}
	return rc < 0 ? rc : deleted;
}
