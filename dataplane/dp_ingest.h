/* SPDX-License-Identifier: MIT */
/*
 * dp_ingest: the worker-side ingest engine, between the receive loop and the shard logs.
 *
 * What it owns. One struct dp_ingest per worker thread, created together as a struct
 * dp_ingest_group that also holds the rings between them. A worker hands each ingest datagram
 * (a UDP payload: plain bytes, no DPDK types) to dp_ingest_frame(), which parses it (dp_frame),
 * reassembles chunked records (dp_reasm), finds the stream in the routing table, hashes the
 * frame's partition keys in one burst (dp_hcache over dp_md5x; explicit hash keys as given),
 * groups the records per shard in frame order, and for each group either appends it to the log
 * (this worker owns the shard) or hands it to the owner through a ring. The owner checks its retry
 * window (dp_dedup) and appends the group as one tagged batch (dp_shard_append_tagged), so that
 * a retried frame is acked again with the same sequence numbers and never written twice, also
 * across restarts (the window is rebuilt from the tags when a shard opens). The ack leaves through
 * a callback once every group of the frame is acknowledged by its log (dp_shard_ack_next), and it
 * is built with cap = the frame's length, so it is never larger than the frame.
 *
 * Threads.
 *  - Owner thread of a struct dp_ingest (its worker): dp_ingest_frame, dp_ingest_poll, and the
 *    ack callback, which runs inside them. No locks; no allocation and no syscall on this path but
 *    the worker's own io_uring (dp_committer_poll). Every shard is opened, appended to and closed
 *    by its owner's thread, on its owner's committer.
 *  - The control thread (one thread at a time): dp_ingest_group_new/free, dp_ingest_table_new/
 *    publish, dp_ingest_shard_open/close, dp_ingest_put_submit/reap, dp_ingest_call_post/done,
 *    dp_ingest_retire/reclaim, dp_ingest_stats_get (which reads counters that may lag by a poll
 *    round).
 *  - Cores talk through single-producer single-consumer rings allocated at setup: one per
 *    (source worker, destination worker) pair and one from the control thread to each worker.
 *  - The control thread's own writes (HTTP PutRecord(s)) and its operations on a shard's log
 *    (retention, settings) travel on that control -> worker ring too (dp_ingest_put_submit,
 *    dp_ingest_call_post), so the owner stays the only thread that appends to or changes a
 *    log, and HTTP records and NIC records of one shard share one sequence order. Finished
 *    puts come back on a lock-free stack with an eventfd (dp_ingest_event_fd) that the control
 *    thread's event loop polls. A group may also be driven by the control thread itself (one
 *    engine that it polls in its own loop): the daemon does that when it runs without NICs.
 *
 * Publication and reclamation (quiescent states). The routing table is one pointer the control
 * thread swaps atomically (dp_ingest_table_publish); workers load it at the start of each call
 * and hold no reference between calls. Each dp_ingest_poll() reads the global epoch on entry,
 * drains its inbound rings completely, and on exit records that epoch as its quiescent state.
 * An object retired at epoch E (a table replaced by publish, or anything passed to
 * dp_ingest_retire, e.g. a closed struct dp_ingest_shard or a shard map no table names) is freed
 * by dp_ingest_reclaim() once every worker has recorded E + 1: the first grace period ends every
 * call that could have read the old pointer (a group it pushed into a ring happened before), the
 * second ends every drain that could still find such a group in a ring. A worker that stops
 * polling holds reclamation back (never a correctness problem, only memory).
 *
 * Errors in frames are counted per reason (DP_DROP_LIST) and answered per docs/protocol.md; nothing
 * a datagram contains can make the engine fail, block or allocate.
 */
#ifndef DP_INGEST_H
#define DP_INGEST_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dp_frame.h"
#include "dp_hash.h"
#include "dp_log.h"

/* Where a datagram came from: copied with the frame and handed back with its ack. The engine
 * never interprets it (the receive loop fills in addresses, ports, queue, and the link-layer
 * details an ack needs when its request's buffer is long gone). */
struct dp_ingest_src {
	uint32_t addr;      /* IPv4 source address, host order */
	uint16_t port;      /* UDP source port, host order */
	uint16_t nic;       /* DPDK port id the datagram came in on */
	uint32_t dst_addr;  /* the address it was sent to (the ack's source) */
	uint16_t dst_port;  /* the UDP port it was sent to */
	uint16_t queue;     /* rx queue */
	uint16_t vlan_tci;  /* the 802.1Q tag it carried, when has_vlan */
	uint8_t has_vlan;
	uint8_t mac[6];     /* the sender's Ethernet address (the ack's destination) */
};

/*
 * Called on the worker's thread with the ack of a frame (len <= the frame's length). The bytes
 * are valid during the call only.
 */
typedef void (*dp_ingest_ack_fn)(void *arg, const struct dp_ingest_src *src, const uint8_t *ack,
				 size_t len);

/* Engine counters (besides drops per DP_DROP_LIST and acked records per DP_ACK_STATUS_LIST).
 * X(name, text). */
#define DP_INGEST_COUNTER_LIST(X) \
	X(FRAMES,          "frames")           /* datagrams given to dp_ingest_frame */ \
	X(CHUNKS_HELD,     "chunks-held")      /* chunks stored, record not complete yet */ \
	X(RECORDS,         "records")          /* records routed */ \
	X(GROUPS_LOCAL,    "groups-local")     /* groups appended (or answered) by this worker */ \
	X(GROUPS_OUT,      "groups-forwarded") /* groups handed to their owner */ \
	X(GROUPS_IN,       "groups-received")  /* groups received from other workers */ \
	X(APPENDS,         "appends")          /* dp_shard_append_tagged calls that succeeded */ \
	X(DEDUP_HITS,      "dedup-hits")       /* groups answered from the retry window */ \
	X(ACKS,            "acks")             /* acks handed to the callback */ \
	X(ACKS_ERROR,      "acks-error")       /* of which frame-level errors */ \
	X(NO_ACK,          "no-ack")           /* frames done whose producer asked for no ack */ \
	X(RING_FULL,       "ring-full")        /* a group or reply found its ring full */ \
	X(PENDING_FULL,    "pending-full")     /* no free pending-frame slot: throttled */ \
	X(SHARDS_OPENED,   "shards-opened") \
	X(SHARDS_CLOSED,   "shards-closed") \
	X(TAGS_RECOVERED,  "tags-recovered")   /* dedup entries rebuilt from the logs */ \
	X(PUTS,            "control-puts")     /* dp_ingest_put_submit puts taken by the owner */ \
	X(PUT_RECORDS,     "control-records")  /* their records appended */ \
	X(PUTS_DONE,       "control-puts-done") /* puts handed back (appended or failed) */ \
	X(ACK_MS_SUM,      "ack-ms-sum")       /* ms from each acked frame's arrival to its ack
	                                          (commit latency: mean = ack-ms-sum / acks) */ \
	X(ACK_MS_MAX,      "ack-ms-max")       /* the largest of them */ \
	X(PUT_MS_SUM,      "control-put-ms-sum") /* the same for control puts (mean = /
	                                            control-puts-done) */

enum dp_ingest_counter {
#define DP_INGEST_X_ENUM(name, text) DP_INGEST_C_##name,
	DP_INGEST_COUNTER_LIST(DP_INGEST_X_ENUM)
#undef DP_INGEST_X_ENUM
	DP_INGEST_C__COUNT
};

/* Highest ack status value + 1 (the status counters' array size). */
#define DP_INGEST_STATUS_SLOTS 16

struct dp_ingest_stats {
	uint64_t c[DP_INGEST_C__COUNT];
	uint64_t drops[DP_DROP__COUNT];              /* frames or chunks not taken, by reason */
	uint64_t status[DP_INGEST_STATUS_SLOTS];     /* records acked, by ack status */
};

/* The counter's name; "?" when out of range. */
const char *dp_ingest_counter_name(enum dp_ingest_counter c);

/* Engines in a group at most. */
#define DP_INGEST_WORKERS_MAX 64

struct dp_ingest_config {
	unsigned workers;           /* 1..DP_INGEST_WORKERS_MAX */
	unsigned ring_entries;      /* per ring, power of two, >= 16; default 1024 */
	unsigned pending_frames;    /* frames in flight per worker, 1..65536; default 64. Each
	                               keeps a copy of its datagram: a frame of up to 64 records
	                               and 2 KiB takes a small slot (about 7 KiB), any other frame
	                               one of the pending_large large slots (about 135 KiB) */
	unsigned pending_large;     /* of pending_frames, the slots that hold any frame; 0: 64
	                               (at most pending_frames) */
	unsigned await_max;         /* groups a worker holds for its shards (awaiting the ack
	                               mark, or staging room), 1..2^24; default 4096 */
	unsigned reasm_slots;       /* chunked records in progress per worker; default 4 */
	uint32_t reasm_timeout_ms;  /* default 5000 */
	unsigned hcache_entries;    /* partition-key cache per worker; default 4096 */
	unsigned dedup_producers, dedup_window, dedup_entries; /* 0: dp_dedup's defaults */
	unsigned committer_entries; /* io_uring SQEs per worker; default 256 */
	unsigned flush_depth;       /* flushes in flight per worker over all its shards, 1..256;
	                               0: DP_COMMITTER_FLUSH_DEPTH (dp_log.h) */
	bool iowq_set;              /* run the workers' io_uring workers on iowq_cpus
	                               (dp_committer_set_iowq_cpus); false: the worker's own CPUs */
	cpu_set_t iowq_cpus;
	dp_ingest_ack_fn ack_fn;    /* may be NULL: acks are built and counted, not sent */
	void *ack_arg;
};

void dp_ingest_config_default(struct dp_ingest_config *cfg);

struct dp_ingest_group;
struct dp_ingest;
struct dp_ingest_table;

/*
 * Create `cfg->workers` engines, their committers, rings, windows and buffers (all memory the hot
 * path uses is allocated here). Returns 0, -EINVAL or -ENOMEM, or the errno of io_uring setup.
 */
int dp_ingest_group_new(const struct dp_ingest_config *cfg, struct dp_ingest_group **ret);

/*
 * Free everything: the published table and every retired object. Every shard must have been
 * closed (dp_ingest_shard_close) and the workers stopped. NULL is accepted.
 */
void dp_ingest_group_free(struct dp_ingest_group *g);

/* Worker i's engine (i < workers), to hand to its thread. */
struct dp_ingest *dp_ingest_worker(struct dp_ingest_group *g, unsigned i);

/* ---- shards: opened and closed by their owner ------------------------------------------------ */

enum dp_ingest_shard_state {
	DP_INGEST_SHARD_NEW = 0,   /* filled in, not yet sent */
	DP_INGEST_SHARD_OPENING,   /* the open message is on its way to the owner */
	DP_INGEST_SHARD_OPEN,      /* sh is open; appends accepted */
	DP_INGEST_SHARD_FAILED,    /* the open failed: err */
	DP_INGEST_SHARD_CLOSING,   /* groups for it are answered read-only */
	DP_INGEST_SHARD_CLOSED,    /* closed; err is dp_shard_close's result */
};

/*
 * One shard of one stream as the engine sees it. The control thread allocates and fills the
 * first block, then calls dp_ingest_shard_open(); the owner worker writes the second. Lifetime:
 * from open until it is CLOSED and then retired (dp_ingest_retire) after a table that does not
 * name it was published.
 */
struct dp_ingest_shard {
	char dir[4096];                 /* the log directory (PATH_MAX) */
	struct dp_shard_info info;      /* info.shard_index is what the routing map returns */
	struct dp_log_config cfg;
	uint32_t key;                   /* unique among the shards of one owner (its retry window
	                                   tells groups apart by it): e.g. a global shard number */
	uint16_t owner;                 /* worker index */

	_Atomic int state;              /* enum dp_ingest_shard_state, release order */
	int err;                        /* open or close errno when FAILED / CLOSED */
	struct dp_shard_recovery rep;   /* what the open's recovery found */
	struct dp_shard *sh;            /* the owner's open log; readable by others after OPEN for
	                                   the dp_shard_*_next() marks only */

	/* The owner engine's own (zero before open, touched by the owner's thread only): the
	 * groups waiting for this log's ack mark, in append order, and the groups waiting for
	 * staging room, in arrival order (indexes into the engine's await pool). */
	uint32_t aw_head, aw_tail;
	uint32_t bl_head, bl_tail;
	bool ready;                     /* on the engine's list of shards whose mark moved */
	struct dp_ingest_shard *ready_next;
};

/*
 * Ask the owner to open the shard (dp_shard_open_tags on its committer; the tags found rebuild
 * its retry window). Returns 0 when the message was queued (state OPENING; wait for OPEN or
 * FAILED, the owner must be polling), -EINVAL, or -EAGAIN (ring full: retry).
 */
int dp_ingest_shard_open(struct dp_ingest_group *g, struct dp_ingest_shard *s);

/*
 * Ask the owner to close the shard: groups arriving from then on are answered read-only, what
 * was appended is flushed and acked, then the log is closed (state CLOSED). Returns 0 when
 * queued, -EINVAL (not OPEN), or -EAGAIN.
 */
int dp_ingest_shard_close(struct dp_ingest_group *g, struct dp_ingest_shard *s);

/* ---- routing table --------------------------------------------------------------------------- */

struct dp_ingest_stream_def {
	const char *name;                   /* 1..128 bytes, not necessarily NUL-terminated */
	size_t name_len;
	const struct dp_shard_map *map;     /* open shards' hash ranges (not copied: retire it) */
	struct dp_ingest_shard *const *shards; /* one per index the map can return (array copied) */
	unsigned nshards;
};

/*
 * Build a table of n streams (names unique). Every shard index the map returns must have its
 * shard in the list. Returns 0, -EINVAL or -ENOMEM.
 */
int dp_ingest_table_new(const struct dp_ingest_stream_def *defs, unsigned n,
			struct dp_ingest_table **ret);

/* Free a table that was never published. NULL is accepted. */
void dp_ingest_table_free(struct dp_ingest_table *t);

/*
 * Make t the table every worker routes by (t may be NULL: no routing yet or any more, frames are
 * answered throttled and counted as not-ready, so producers resend them); the previous
 * one is retired (without allocating) and freed by a later dp_ingest_reclaim(). The group owns
 * t from now on.
 */
void dp_ingest_table_publish(struct dp_ingest_group *g, struct dp_ingest_table *t);

/*
 * Retire an object the workers may still reference: free_fn(p) runs in a dp_ingest_reclaim()
 * after two grace periods. Returns 0 or -ENOMEM (then nothing was retired).
 */
int dp_ingest_retire(struct dp_ingest_group *g, void *p, void (*free_fn)(void *));

/* Free what is safe to free now. Returns the number of objects still waiting. */
unsigned dp_ingest_reclaim(struct dp_ingest_group *g);

/* ---- the control thread's puts and calls ------------------------------------------------------ */

/*
 * A batch of records for one shard, from the control thread (e.g. HTTP PutRecords). The owner
 * appends the records in order (as one batch when they fit a staging buffer, else as several
 * consecutive batches), waits until the log acknowledges them (the shard's durability mode:
 * durable by default), and hands the put back through dp_ingest_put_reap(). The control thread
 * owns the struct and everything it points to; the engine reads recs and writes seq and err
 * between submit and reap only.
 */
struct dp_ingest_put {
	struct dp_ingest_shard *shard;      /* OPEN, or the put fails with -EROFS */
	const struct dp_record_in *recs;    /* n records, valid until reaped */
	uint64_t *seq;                      /* n slots: each record's sequence number */
	unsigned n;                         /* >= 1 */
	int64_t ts_ms;                      /* arrival time */
	void *user;                         /* the caller's */
	int err;                            /* when reaped: 0, or -EROFS (shard not open), -EIO
	                                       (the log failed before the records were acked),
	                                       -EINVAL / -EMSGSIZE (a record the log refuses) */
	/* the engine's */
	unsigned done_n;
	uint64_t end;
	struct dp_ingest_put *next;
};

/*
 * Queue p to its shard's owner (control thread). Returns 0, -EINVAL, or -EAGAIN when the ring to
 * the owner is full (let the owner poll, then retry).
 */
int dp_ingest_put_submit(struct dp_ingest_group *g, struct dp_ingest_put *p);

/*
 * Take up to max finished puts, oldest first (control thread). Also clears the eventfd. Returns
 * the count; when more are waiting, the eventfd stays readable.
 */
unsigned dp_ingest_put_reap(struct dp_ingest_group *g, struct dp_ingest_put **out, unsigned max);

/* Readable (EPOLLIN) while finished puts wait to be reaped. */
int dp_ingest_event_fd(const struct dp_ingest_group *g);

/* A function to run on a worker's thread (operations only a shard's owner may do). */
struct dp_ingest_call {
	int (*fn)(void *arg);
	void *arg;
	int rc;              /* fn's result, once done */
	_Atomic int done;
};

/*
 * Queue call to worker (control thread); the worker runs it in its next dp_ingest_poll() and then
 * sets done. The struct must live until dp_ingest_call_done(). Returns 0, -EINVAL or -EAGAIN.
 */
int dp_ingest_call_post(struct dp_ingest_group *g, unsigned worker, struct dp_ingest_call *call);
bool dp_ingest_call_done(const struct dp_ingest_call *call);

/* ---- the worker side ------------------------------------------------------------------------- */

/*
 * Prefetch a datagram that dp_ingest_frame() will take next (its first DP_INGEST_PREFETCH_MAX
 * bytes), while the current one is worked on. A datagram written by another core (a NIC's DMA, a
 * memif peer) is not in this core's cache, and the parser's walk over the record headers would
 * otherwise wait for DRAM at every line: in bench/ingest_engine this step took dp_frame_parse
 * from about 10 % of the worker's samples to 2 % (docs/performance.md, Dataplane).
 */
#define DP_INGEST_PREFETCH_MAX 2048u
static inline void dp_ingest_prefetch(const uint8_t *payload, size_t len)
{
	if (len > DP_INGEST_PREFETCH_MAX)
		len = DP_INGEST_PREFETCH_MAX;
	for (size_t off = 0; off < len; off += 64)
		__builtin_prefetch(payload + off);
}

/*
 * Take one datagram (payload[0..len), the UDP payload) from src at now_ms. The bytes are copied
 * when the frame has to wait (for durability or another worker); the caller keeps nothing.
 * Returns 1 when the frame was taken (its ack follows, now or from a later poll, unless the
 * producer asked for none), 0 when a chunk was stored (more are needed), or the negation of the
 * enum dp_drop reason it was dropped for (counted; an error ack was sent when the protocol says
 * so).
 */
int dp_ingest_frame(struct dp_ingest *ing, const uint8_t *payload, size_t len,
		    const struct dp_ingest_src *src, int64_t now_ms);

/*
 * Drive the worker: open/close shards asked for, run its committer (flushes and their
 * completions), take groups and replies from the other workers, answer groups whose records
 * are durable, complete and ack frames, expire reassembly, record a quiescent state.
 * Returns the number of frames completed, or a negative errno of the committer's ring.
 */
int dp_ingest_poll(struct dp_ingest *ing, int64_t now_ms);

/* Worker index of an engine. */
unsigned dp_ingest_index(const struct dp_ingest *ing);

/* Frames taken and not yet completed. */
unsigned dp_ingest_pending(const struct dp_ingest *ing);

/* The engine's committer (for an event loop to sleep on dp_committer_event_fd). */
struct dp_committer *dp_ingest_committer(struct dp_ingest *ing);

/* Snapshot an engine's counters (any thread; values may lag). */
void dp_ingest_stats_get(const struct dp_ingest *ing, struct dp_ingest_stats *st);

#endif
