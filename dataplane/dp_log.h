/* SPDX-License-Identifier: MIT */
/*
 * dp_log: per-shard append-only logs with group commit on io_uring.
 *
 * What it owns. A shard log is a directory of segment files `<base seq, 20 digits>.log`, each
 * preallocated to the configured size and filled with CRC32C-framed record batches (the format is
 * specified at the top of dp_log_internal.h and in docs/log-format.md). Sequence numbers are 63-bit
 * counters assigned at append, strictly increasing per shard and never handed out twice, also
 * across crashes; dp_seqno renders them as Kinesis-style 56-digit strings.
 *
 * Threads. Each shard is owned by one thread, the owner of the struct dp_committer it was opened
 * on: only that thread calls dp_shard_append / dp_shard_close / dp_shard_retention_run and
 * dp_committer_poll. Any thread may read through a struct dp_reader and may call the
 * dp_shard_*_next() accessors: the marks are atomics published with release order, readers take
 * no lock on the append path (segment roll and retention take a short mutex that readers also
 * take when they move between segments; appends never do).
 *
 * Durability contract (enforced in dp_log.c, flush_complete()):
 *   DP_DUR_DURABLE (default, "durable"): a record is acked only after the fdatasync that covers
 *     it completed with 0. The write and its fdatasync are linked SQEs; a short write is
 *     resubmitted with a new fdatasync; -ECANCELED is never success.
 *   DP_DUR_WRITTEN ("written"): acked once its write completed (survives kill -9, not power loss).
 *   DP_DUR_NONE ("none"): acked when appended (a kill -9 may lose what was not yet written).
 * Readers only ever see records below the readable mark: durable in DURABLE mode, written in the
 * others. Any write or fsync error fails the shard (fail-stop): it turns read-only, the error is
 * kept in dp_shard_error(), nothing staged after the last good flush is ever acked.
 */
#ifndef DP_LOG_H
#define DP_LOG_H

#include <sched.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dp_io.h"

/* Kinesis limits that the log enforces on every record. */
#define DP_KEY_MAX 256u             /* partition key bytes */
#define DP_DATA_MAX (1024u * 1024u)          /* record data bytes unless a log allows more */
#define DP_DATA_LIMIT (10u * 1024u * 1024u)  /* largest max_record_bytes: Kinesis's 10 MiB */

/* Sequence counters are 63-bit (Kinesis's counter field starts with a digit <= 7). */
#define DP_SEQ_MAX ((UINT64_C(1) << 63) - 1)

enum dp_durability {
	DP_DUR_DURABLE = 0,
	DP_DUR_WRITTEN,
	DP_DUR_NONE,
};

/* "durable", "written", "none"; NULL for an unknown value. */
const char *dp_durability_name(enum dp_durability d);
/* Parse one of the names above. Returns 0 or -EINVAL. */
int dp_durability_parse(const char *s, enum dp_durability *out);

enum dp_shard_state {
	DP_SHARD_OPEN = 0,      /* appends accepted */
	DP_SHARD_FAILED,        /* a write or fsync failed: read-only, see dp_shard_error() */
	DP_SHARD_QUARANTINED,   /* corruption below the durable mark found at open: read-only */
	DP_SHARD_CLOSED,
};

const char *dp_shard_state_name(enum dp_shard_state s);

struct dp_log_config {
	uint64_t segment_bytes;      /* roll size; default 64 MiB; >= 64 KiB and >= buffer_bytes + 4 KiB */
	uint32_t buffer_bytes;       /* per staging buffer (five per shard); default 4 MiB;
	                                >= max_record_bytes + 4 KiB so that one maximal record fits */
	uint32_t max_record_bytes;   /* largest record data accepted; default 1 MiB (Kinesis's
	                                default, DP_DATA_MAX), up to DP_DATA_LIMIT */
	uint32_t index_interval;     /* bytes of log between sparse index entries; default 64 KiB */
	uint32_t retention_hours;    /* 24..8760, default 24 (Kinesis's range) */
	enum dp_durability durability;
	const struct dp_io_ops *io;  /* NULL: dp_io_default() */
};

/* Fill *cfg with the defaults above. */
void dp_log_config_default(struct dp_log_config *cfg);
/* Check a config; returns 0 or -EINVAL with a reason in *why (static text). */
int dp_log_config_check(const struct dp_log_config *cfg, const char **why);

/* Identity of a shard, stored in every segment header and used to render sequence numbers. */
struct dp_shard_info {
	uint32_t shard_index;   /* N of shardId-00000000000N */
	int64_t created_ms;     /* shard creation time, ms since the epoch */
};

/* What recovery found and did when a shard was opened. */
struct dp_shard_recovery {
	uint32_t segments;          /* segment files kept */
	uint64_t batches;           /* valid batches found */
	uint64_t records;           /* valid records found */
	uint64_t bytes_scanned;     /* bytes of batches verified */
	uint64_t torn_bytes;        /* non-zero bytes cut off a torn tail (above the durable mark) */
	uint32_t segments_removed;  /* empty trailing segments removed with a torn tail */
	bool clean;                 /* the log ended with a clean-close marker */
	bool quarantined;           /* corruption below the durable mark: nothing was cut */
	uint64_t corrupt_seq;       /* when quarantined: the first sequence number that is unreadable */
	char detail[256];           /* when quarantined or cut: what and where, for the operator */
};

struct dp_committer;
struct dp_shard;
struct dp_reader;

/*
 * Called from dp_committer_poll() on the owner thread when a shard's ack mark advanced: every
 * record with seq < ack_next may now be acknowledged. Also called once with the shard in state
 * FAILED when a flush failed (ack_next then is the unchanged mark).
 */
typedef void (*dp_ack_cb)(void *arg, struct dp_shard *sh, uint64_t ack_next);

/*
 * Create a committer: one io_uring with `entries` SQEs (>= 8; rounded up to a power of two) for
 * all shards of the calling thread. cb may be NULL.
 * Returns 0, -EINVAL, -ENOMEM or the errno of io_uring_queue_init.
 */
int dp_committer_new(unsigned entries, dp_ack_cb cb, void *cb_arg, struct dp_committer **ret);

/* Free a committer. All its shards must be closed first. NULL is accepted. */
void dp_committer_free(struct dp_committer *c);

/*
 * Drive group commit: reap completions (calling the ack callback once per flush retired, in the
 * order the shard's flushes started), then submit one flush (one write plus its linked
 * fdatasync) for every shard that has staged data and fewer than four flushes in flight, as
 * long as the committer has fewer than its flush depth in flight (DP_COMMITTER_FLUSH_DEPTH).
 * With wait, blocks until at least one completion arrives when a flush is in flight.
 * Returns the number of flushes completed (>= 0) or a negative errno of the ring itself.
 */
int dp_committer_poll(struct dp_committer *c, bool wait);

/*
 * An eventfd that becomes readable whenever a completion is posted on the committer's ring, so an
 * event loop can sleep in poll()/epoll until a flush completes instead of spinning. Created and
 * registered on the first call (later calls return the same fd; the committer closes it).
 * Returns the fd or a negative errno.
 */
int dp_committer_event_fd(struct dp_committer *c);

/*
 * Flushes in flight over all of a committer's shards (each shard has at most four of its own).
 * A device serves fdatasyncs largely one after another: past a few in its queue, another one
 * adds no throughput, only waiting, and each carries fewer records. On a virtio disk with 4
 * shards (dp_ingest_smoke over memif, three alternating rounds, docs/performance.md): at 100 k
 * rec/s, 4 in flight gave a flush p99 of 5-6 ms and an ack p50 of 0.9-1.0 ms where 16 (four
 * per shard) gave 13-25 ms and 1.4-4.1 ms; at full load 1.02-1.09 M rec/s against 0.92-1.00 M.
 * More suits devices with deep parallel queues (NVMe): dp_committer_set_flush_depth.
 */
#define DP_COMMITTER_FLUSH_DEPTH 4u
#define DP_COMMITTER_FLUSH_DEPTH_MAX 256u
/* Set that limit (1..DP_COMMITTER_FLUSH_DEPTH_MAX). Returns 0 or -EINVAL. */
int dp_committer_set_flush_depth(struct dp_committer *c, unsigned depth);

/*
 * The CPUs the kernel's io_uring workers for this committer may run on. Buffered writes to the
 * shard logs are done by such workers (copying into the page cache), which otherwise inherit the
 * affinity of the thread that submits, i.e. a pinned worker lcore's single core, where they take
 * turns with the busy-polling worker itself (bench/ingest_engine, durability none, engine and
 * workers on one core: the engine thread got 69 % of it; with the workers on the other core,
 * 99 %, and 2.14-2.24 M rec/s became 3.01-3.43 M in three alternating runs). The kernel keeps the mask per submitting thread (all its rings)
 * and gives it to workers started after it was set, so it is stored here and applied by the
 * owner's next dp_committer_poll(), before its first write. Returns 0 or -EINVAL (empty set).
 */
int dp_committer_set_iowq_cpus(struct dp_committer *c, const cpu_set_t *cpus);
/* 0: no mask set; 1: applied; 2: set, not applied yet; a negative errno: the kernel refused it
 * (the workers keep the submitting thread's affinity). */
int dp_committer_iowq_status(const struct dp_committer *c);

/* Number of flushes in flight on this committer. */
unsigned dp_committer_inflight(const struct dp_committer *c);

/*
 * Open (or create) the shard log in directory `dir` (created if missing, parent must exist).
 * Runs recovery: verifies every batch, cuts a torn tail above the durable mark (zeroing it so
 * that stale bytes never come back), removes empty trailing segments, and rebuilds the indexes.
 * Corruption below the durable mark opens the shard QUARANTINED instead: nothing is cut, reads
 * below the corruption work, appends fail with -EROFS. `info` is used when the log is new and
 * checked against the segments otherwise (-ESTALE on mismatch). rep may be NULL.
 * Returns 0, -EINVAL (bad config), -ENOMEM, -ESTALE, or the errno of the file operation that failed.
 */
int dp_shard_open(struct dp_committer *c, const char *dir, const struct dp_shard_info *info,
		  const struct dp_log_config *cfg, struct dp_shard_recovery *rep,
		  struct dp_shard **ret);

/* A tagged batch found by recovery (dp_shard_open_tags). */
struct dp_batch_tag {
	uint64_t producer;   /* the producer id given to dp_shard_append_tagged */
	uint64_t batch;      /* the batch number given with it */
	uint64_t first_seq;  /* the batch's records hold first_seq .. first_seq + count - 1 */
	uint32_t count;
	int64_t ts_ms;       /* the batch's arrival time */
};

/* Called by recovery, on the opening thread, once per tagged batch it keeps, oldest first. */
typedef void (*dp_shard_tag_fn)(void *arg, const struct dp_batch_tag *tag);

/*
 * dp_shard_open, and during recovery tag_fn(tag_arg, tag) for every tagged batch
 * (dp_shard_append_tagged) that the open keeps, in log order: batches a torn tail cut are not
 * reported, nor, on a quarantined shard, batches after the corruption. This is how a worker
 * rebuilds its retry window (dp_dedup_note) after a restart. The retained log is scanned in
 * full by every open, so the report costs no extra I/O. When the open fails, what was reported
 * describes no open shard: discard it. tag_fn NULL is dp_shard_open.
 */
int dp_shard_open_tags(struct dp_committer *c, const char *dir, const struct dp_shard_info *info,
		       const struct dp_log_config *cfg, struct dp_shard_recovery *rep,
		       dp_shard_tag_fn tag_fn, void *tag_arg, struct dp_shard **ret);

/*
 * Flush everything, wait for it, write a clean-close marker and free the shard. Any reader on
 * it must have been freed. Returns 0 or the negative errno of the first failure (the shard is
 * freed in every case). NULL is accepted.
 */
int dp_shard_close(struct dp_shard *sh);

/* One record to append; key 1..DP_KEY_MAX bytes, data 0..max_record_bytes bytes. */
struct dp_record_in {
	const void *key;
	const void *data;
	uint32_t data_len;
	uint16_t key_len;
};

/*
 * Stage n records (1..65535) as one batch with arrival time ts_ms (clamped so that arrival times
 * never decrease within a shard). Never blocks and never does I/O except when a segment rolls.
 * On success returns n and writes the first assigned sequence number to *first_seq (records get
 * first_seq .. first_seq + n - 1).
 * Errors: -EINVAL (n or a key/data length out of range), -EMSGSIZE (batch larger than a staging
 * buffer), -EAGAIN (every staging buffer busy: call dp_committer_poll and retry), -EROFS (shard
 * FAILED, QUARANTINED or CLOSED), or the errno of a failed segment roll (the shard then FAILS).
 */
int dp_shard_append(struct dp_shard *sh, const struct dp_record_in *recs, unsigned n,
		    int64_t ts_ms, uint64_t *first_seq);

/*
 * dp_shard_append, storing (producer, batch) with the batch: the ingest frame that the records
 * came from, so that dp_shard_open_tags() can report it after a restart. The tag takes 16 bytes
 * of the batch (counted against the staging buffer). Same returns and errors as dp_shard_append.
 */
int dp_shard_append_tagged(struct dp_shard *sh, const struct dp_record_in *recs, unsigned n,
			   int64_t ts_ms, uint64_t producer, uint64_t batch, uint64_t *first_seq);

/* Sequence number the next appended record will get. Exact on the owner thread; any other
 * thread reads a value that was current (an atomic, as readers range-check with it). */
uint64_t dp_shard_next_seq(const struct dp_shard *sh);
/* Every seq < this may be acknowledged (per the durability mode). Any thread. */
uint64_t dp_shard_ack_next(const struct dp_shard *sh);
/* Every seq < this is durable on disk (fdatasync completed). Any thread. */
uint64_t dp_shard_durable_next(const struct dp_shard *sh);
/* Every seq < this is readable (written; durable in DURABLE mode). Any thread. */
uint64_t dp_shard_readable_next(const struct dp_shard *sh);
/* Oldest sequence number still held (after retention). Any thread. */
uint64_t dp_shard_trim_seq(const struct dp_shard *sh);

enum dp_shard_state dp_shard_state(const struct dp_shard *sh);
/* The errno that failed the shard (0 if none) and a description (empty if none). */
int dp_shard_error(const struct dp_shard *sh, const char **detail);
const struct dp_shard_info *dp_shard_info(const struct dp_shard *sh);
/* One pointer the owner may attach to a shard (e.g. to find its own state from an ack callback). */
void dp_shard_set_user(struct dp_shard *sh, void *user);
void *dp_shard_user(const struct dp_shard *sh);

/*
 * Flush latency (commit latency: from the flush's submission to its last completion, the
 * fdatasync in durable mode) as a histogram of DP_FLUSH_HIST buckets, four per power of two of
 * microseconds: bucket b covers [dp_flush_hist_low(b), dp_flush_hist_low(b + 1)); the last one is
 * open-ended (above ~17 s).
 */
#define DP_FLUSH_HIST 96u
/* The bucket of a latency of `us` microseconds. */
unsigned dp_flush_hist_bucket(uint64_t us);
/* The lowest latency (us) that falls into bucket b (b <= DP_FLUSH_HIST). */
uint64_t dp_flush_hist_low(unsigned b);
/* The q-quantile (0 < q <= 1) of a histogram, in us: the upper bound of the bucket that holds it
 * (an overestimate by at most a quarter of a power of two); 0 when the histogram is empty. */
uint64_t dp_flush_hist_quantile(const uint64_t hist[DP_FLUSH_HIST], double q);

struct dp_shard_stats {
	uint64_t appends, records, bytes_staged;
	uint64_t flushes, writes, fsyncs, short_writes, eagain;
	uint64_t segments_rolled, segments_deleted;
	uint64_t mark_errors;      /* durable-mark file writes that failed (advisory, not fatal) */
	uint64_t zero_writes, zero_bytes; /* zeros written ahead of the tail (durable mode) */
	uint64_t flush_us_hist[DP_FLUSH_HIST]; /* flush latency, see DP_FLUSH_HIST */
	uint32_t segments_live;
};
void dp_shard_stats_get(const struct dp_shard *sh, struct dp_shard_stats *st);

/*
 * Delete whole sealed segments whose newest record is older than now_ms - retention. The active
 * segment is never deleted. Owner thread only. Returns the number of segments deleted or a
 * negative errno (unlink or directory fsync failure; the shard stays usable).
 */
int dp_shard_retention_run(struct dp_shard *sh, int64_t now_ms);

/* Change the retention period (24..8760 hours). Returns 0 or -EINVAL. Owner thread only. */
int dp_shard_set_retention(struct dp_shard *sh, uint32_t hours);

/* ---- readers ---------------------------------------------------------------------------------- */

enum dp_pos {
	DP_POS_TRIM_HORIZON = 0, /* oldest record held */
	DP_POS_LATEST,           /* just after the last acked record at the time of the call */
	DP_POS_AT_SEQ,           /* the record with seq >= arg (first one at or after) */
	DP_POS_AFTER_SEQ,        /* the first record with seq > arg */
	DP_POS_AT_TIMESTAMP,     /* the first record whose arrival time (ms) >= arg */
};

struct dp_record_out {
	uint64_t seq;
	int64_t ts_ms;
	const uint8_t *key;
	const uint8_t *data;
	uint32_t data_len;
	uint16_t key_len;
};

/*
 * Position a reader. Lookups go through the segment list and each segment's sparse index by
 * binary search, then scan at most index_interval bytes plus one batch.
 * A sequence number below the trim horizon positions at the horizon; AT/AFTER a sequence number
 * beyond the next one to be assigned is -ERANGE. Returns 0, -EINVAL, -ERANGE or -ENOMEM.
 */
int dp_reader_new(struct dp_shard *sh, enum dp_pos pos, uint64_t arg, struct dp_reader **ret);

/*
 * Read up to max records (and about max_bytes of data; at least one record when one is readable)
 * from the reader's position, only below the readable mark. Record pointers stay valid until
 * the next call on this reader. Returns the count (0: nothing more readable now), or
 * -EBADMSG when a batch below the readable mark fails its CRC (corruption), or -EIO.
 */
int dp_reader_read(struct dp_reader *r, struct dp_record_out *out, unsigned max, size_t max_bytes);

/* Sequence number the next dp_reader_read() starts from. */
uint64_t dp_reader_position(const struct dp_reader *r);

void dp_reader_free(struct dp_reader *r);

#endif
