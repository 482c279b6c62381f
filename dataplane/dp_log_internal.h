/* SPDX-License-Identifier: MIT */
/*
 * dp_log internals shared by the writer (dp_log.c), recovery (dp_log_recover.c) and readers
 * (dp_log_read.c). Not part of the module's contract; tests may include it to build or damage
 * segments byte by byte.
 *
 * ON-DISK FORMAT (version 1, little-endian; docs/log-format.md says the same in prose)
 *
 * A shard directory holds segment files named by the first sequence number they may hold,
 * `%020llu.log`. Each is preallocated to segment_bytes with fallocate, so everything past the
 * last batch reads as zeros. A file shorter than its header's seg_bytes (truncated) reads as if
 * the missing end were zeros; recovery gives the last one its size back.
 *
 *   offset 0:  struct dp_seg_hdr (64 bytes), written and fdatasync'ed, and the directory
 *              fsync'ed, before the segment holds any batch.
 *   offset 64: batches, back to back, each starting at a multiple of 8.
 *
 * A batch is struct dp_batch_hdr (48 bytes) followed by payload_len bytes of records and zero
 * padding up to len (a multiple of 8). crc is CRC32C over bytes [8, len) of the batch: the rest
 * of the header, every record and the padding. A record is {u32 data_len, u16 key_len, key, data}.
 * Records of a batch get first_seq, first_seq + 1, ... and share ts_ms.
 *
 * A batch at offset o is valid when: magic matches, 48 <= len, len % 8 == 0, o + len fits the
 * segment, crc matches, the records parse exactly into payload_len, count matches, kind is known,
 * and first_seq equals the sequence number the log expects next (a SKIP batch may only raise it).
 * A header of all zeros is the end of the log; so are fewer than 48 bytes, all zero, at the end of
 * a segment (a segment rolls when the next batch does not fit).
 *
 * durable_seq in every batch is the writer's durable mark when the batch was staged: every record
 * below it had been fdatasync'ed. Recovery uses the largest durable_seq it can find anywhere to
 * tell a torn tail (invalid bytes above the mark: cut) from corruption (invalid bytes below it:
 * quarantine, cut nothing).
 *
 * Tagged DATA batches (flags bit 0, DP_BATCH_F_TAG): the payload starts with a 16-byte tag
 * {u64 producer, u64 batch}, the ingest frame whose records the batch holds (docs/protocol.md,
 * "Retries and idempotence"), and the records follow it; payload_len and the CRC include the tag.
 * Recovery reports every tagged batch it keeps so that the retry window can be rebuilt. A batch
 * with flags 0 is laid out as before, so logs written before tags existed open unchanged; any
 * other flag bit, or the tag on a marker batch, makes the batch invalid.
 *
 * Batch kinds: DATA (records), CLOSE (count 0, written by a clean close), SKIP (count 0, written
 * and synced by every open of an existing log before the first append; after an unclean stop
 * first_seq jumps past every number the previous run could have handed out, after a clean one it
 * equals the next number, and either way the log no longer ends with CLOSE while the run lasts,
 * so no sequence number is ever reused). When the last segment has no room for it, the SKIP
 * starts a new segment named after the next expected number.
 */
#ifndef DP_LOG_INTERNAL_H
#define DP_LOG_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "dp_log.h"

#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "the shard log format is little-endian; add byte swaps for this target"
#endif

#define DP_SEG_MAGIC "INGSEG01"
#define DP_SEG_VERSION 1u
#define DP_BATCH_MAGIC 0x31425044u /* "DPB1" */
#define DP_SEG_HDR_BYTES 64u
#define DP_BATCH_HDR_BYTES 48u
#define DP_REC_HDR_BYTES 6u
#define DP_SEG_NAME_LEN 24 /* 20 digits + ".log" */
/* Smallest segment a valid config makes; a header claiming less was not written by the log. */
#define DP_SEG_MIN_BYTES (64u << 10)

/* Batch flags. */
#define DP_BATCH_F_TAG 0x0001u  /* DATA only: payload starts with {u64 producer, u64 batch} */
#define DP_BATCH_F_KNOWN DP_BATCH_F_TAG
#define DP_BATCH_TAG_BYTES 16u

enum dp_batch_kind {
	DP_BATCH_DATA = 1,
	DP_BATCH_CLOSE = 2,
	DP_BATCH_SKIP = 3,
};

struct dp_seg_hdr {
	char magic[8];
	uint32_t version;
	uint32_t crc;          /* CRC32C of the 64 bytes with this field zero */
	uint32_t shard_index;
	uint32_t buffer_bytes; /* staging buffer size of the writer that created it (SKIP sizing) */
	uint64_t base_seq;
	int64_t shard_created_ms;
	int64_t seg_created_ms;
	uint64_t seg_bytes;
	uint64_t reserved;
};
_Static_assert(sizeof(struct dp_seg_hdr) == DP_SEG_HDR_BYTES, "segment header is 64 bytes");

struct dp_batch_hdr {
	uint32_t magic;
	uint32_t crc;
	uint32_t len;
	uint16_t kind;
	uint16_t flags;
	uint32_t count;
	uint32_t payload_len;
	uint64_t first_seq;
	int64_t ts_ms;
	uint64_t durable_seq;
};
_Static_assert(sizeof(struct dp_batch_hdr) == DP_BATCH_HDR_BYTES, "batch header is 48 bytes");

/* One sparse index entry: a batch that starts at off holds first_seq, arrival ts_ms. */
struct dp_idx_entry {
	uint64_t seq;
	int64_t ts_ms;
	uint64_t off;
};

struct dp_seg {
	int fd;
	uint64_t base_seq;
	uint64_t size;               /* preallocated bytes */
	uint64_t end;                /* end of staged batches (writer thread only) */
	uint64_t zeroed;             /* [0, zeroed) holds written blocks, not preallocated ones
	                                (writer only; dp_log.c, "Zero ahead") */
	uint64_t last_idx_off;       /* writer only */
	_Atomic uint64_t next_base;  /* base_seq of the following segment, 0 while this is active */
	_Atomic int64_t max_ts;      /* newest arrival time staged here (INT64_MIN: none) */
	_Atomic uint32_t refs;       /* the shard's reference plus one per reader that pins it */
	_Atomic uint32_t idx_n;      /* entries published, release order */
	uint32_t idx_cap;
	struct dp_idx_entry *idx;
	char name[DP_SEG_NAME_LEN + 1];
};

/*
 * The durable-mark file, DIR/durable.mark: one 32-byte record rewritten in place (no fdatasync of
 * its own) after every flush whose fdatasync succeeded in durable mode, and written and synced at
 * every open. It closes the one gap batch claims leave: the newest acked batch is claimed by no
 * later batch, so without the file damage to it would look like a torn tail. The value is only
 * ever a lower bound of what is durable (it is written after the fdatasync completes), and a
 * record that fails its CRC is ignored. It also records the staging-buffer size of the run that
 * wrote it, which sizes the sequence jump after that run stops uncleanly.
 */
#define DP_MARK_NAME "durable.mark"
#define DP_MARK_MAGIC "INGMRK01"

struct dp_mark_rec {
	char magic[8];
	uint64_t durable_next;
	uint32_t shard_index;
	uint32_t buffer_bytes;
	uint32_t crc; /* CRC32C of the record with this field zero */
	uint32_t reserved;
};
_Static_assert(sizeof(struct dp_mark_rec) == 32, "mark record is 32 bytes");

/* The mark write in flight on the owner's ring; user_data is its address | UD_MARK. */
struct dp_markw {
	struct dp_mark_rec rec; /* the buffer the kernel reads while the write is in flight */
	int fd;
	bool inflight;
	bool dirty; /* the mark moved while a write was in flight: write again on completion */
} __attribute__((aligned(8)));

/* Encode a mark record. */
void dp_mark_encode(struct dp_mark_rec *m, uint32_t shard_index, uint64_t durable_next,
		    uint32_t buffer_bytes);
/* Decode: 0 when the record is valid for shard_index, -EBADMSG otherwise. */
int dp_mark_check(const struct dp_mark_rec *m, uint32_t shard_index);

/* A staging buffer: batches bound for [off, off + len) of one segment. */
struct dp_stage {
	uint8_t *buf;
	uint32_t cap;
	uint32_t len;
	struct dp_seg *seg;
	uint64_t off;
	uint64_t end_seq; /* seq after the last record staged here */
};

/*
 * Flushes in flight per shard, and staging buffers (one more: appends always have one to fill).
 * Several in flight let the records that arrive during an fdatasync start their own at once
 * instead of waiting for it to finish (dp_log.c, "Group commit"). Four rather than two: PutRecord
 * at 16 in flight on 4 shards, durable, six interleaved 4 s runs, 5,018-8,024 rec/s against
 * 4,085-7,120 with two, p99 lower in each pair, records per fdatasync 1.83 against 1.89
 * (docs/performance.md). The cost is address space: DP_STAGES buffers of buffer_bytes per shard,
 * touched only as far as a flush ever filled one.
 */
#define DP_FLUSH_MAX 4u
#define DP_STAGES (DP_FLUSH_MAX + 1u)

/* A flush in flight. user_data of its SQEs is its address | op. */
struct dp_flush {
	struct dp_shard *sh;
	struct dp_stage *st;
	uint32_t written;
	int write_res;
	int sync_res;
	int zero_res;
	uint32_t zero_len;  /* bytes of zeros written ahead of the stage by this flush (0: none) */
	uint64_t zero_off;
	uint64_t t0_ns;     /* CLOCK_MONOTONIC at the first submission: the latency histogram */
	uint8_t pending;
	bool active;
	bool done;          /* every completion is in; retired in order (dp_log.c) */
} __attribute__((aligned(8)));

struct dp_shard {
	struct dp_committer *c;
	void *user;                /* dp_shard_set_user() */
	struct dp_log_config cfg;
	const struct dp_io_ops *io;
	struct dp_shard_info info;
	int dirfd;
	_Atomic int state;
	int err;
	char err_detail[160];

	_Atomic uint64_t next_seq; /* written by the owner only; atomic so readers can range-check */
	int64_t last_ts;
	_Atomic uint64_t ack_next;
	_Atomic uint64_t durable_next;
	_Atomic uint64_t readable_next;
	_Atomic uint64_t trim_seq;

	struct dp_stage stage[DP_STAGES];
	unsigned fill;             /* index of the staging buffer that takes appends */
	struct dp_flush fl[DP_FLUSH_MAX]; /* a ring: fl_n in flight from fl_head, oldest first */
	unsigned fl_head, fl_n;
	struct dp_shard *dirty_next;
	bool dirty;
	bool fail_notified;        /* the ack callback has seen the shard FAILED (exactly once) */
	struct dp_markw mark;      /* fd -1 until recovery opened the mark file */

	/* Segment list: mutated by the owner under seg_lock (roll, retention); readers lock too. */
	pthread_mutex_t seg_lock;
	struct dp_seg **segs;
	uint32_t nsegs, segs_cap;

	struct dp_shard_stats st;
	struct dp_shard *all_next; /* committer's list of open shards */

	/* dp_shard_open_tags(): called by recovery for every tagged batch kept; NULL otherwise. */
	dp_shard_tag_fn tag_fn;
	void *tag_arg;
};

/* Validate the batch at p (avail bytes readable from p). Returns 0 and fills *h when valid,
 * -ENODATA for an all-zero header (end of log; also fewer than a header's bytes left, all zero:
 * the unused end of a sealed segment), -EBADMSG otherwise. Does not check first_seq. */
int dp_batch_check(const uint8_t *p, uint64_t avail, struct dp_batch_hdr *h);

/* Index capacity for a segment of `size` bytes with the shard's interval. */
uint32_t dp_seg_idx_cap(uint64_t size, uint32_t interval);

/* Allocate a segment descriptor (fd not set). refs = 1. */
int dp_seg_alloc(const struct dp_shard *sh, uint64_t base, uint64_t size, struct dp_seg **ret);
void dp_seg_unref(struct dp_seg *seg);

/* Record an index entry for a batch staged or found at off (writer / recovery only). */
void dp_seg_index_add(struct dp_seg *seg, uint32_t interval, uint64_t seq, int64_t ts, uint64_t off);

/* Append a segment to the shard's list under seg_lock. */
int dp_shard_segs_push(struct dp_shard *sh, struct dp_seg *seg);

/* Create a new segment file with base seq `base`, header synced, directory synced. */
int dp_seg_create(struct dp_shard *sh, uint64_t base, struct dp_seg **ret);

/* Recovery, called by dp_shard_open on a shard whose fields are set up but with no segments. */
int dp_log_recover(struct dp_shard *sh, struct dp_shard_recovery *rep);

/* Fail the shard: state FAILED, error kept, nothing acked after this. */
void dp_shard_fail(struct dp_shard *sh, int err, const char *what);

/* Encode a batch header + records into p; returns bytes used (multiple of 8). tag: NULL, or
 * {producer, batch} for a tagged DATA batch (payload_len then includes DP_BATCH_TAG_BYTES). */
uint32_t dp_batch_encode(uint8_t *p, enum dp_batch_kind kind, const struct dp_record_in *recs,
			 unsigned n, uint32_t payload_len, uint64_t first_seq, int64_t ts_ms,
			 uint64_t durable_seq, const uint64_t tag[2]);

/* Offset of a valid batch's first record from the batch start. */
static inline uint32_t dp_batch_rec_off(const struct dp_batch_hdr *h)
{
	return DP_BATCH_HDR_BYTES + ((h->flags & DP_BATCH_F_TAG) ? DP_BATCH_TAG_BYTES : 0u);
}

static inline uint32_t dp_align8(uint32_t v)
{
	return (v + 7u) & ~7u;
}

#endif
