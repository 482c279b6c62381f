/* SPDX-License-Identifier: MIT */
/*
 * dp_dedup: the retry window that makes ingest frames idempotent (docs/protocol.md, "Retries").
 *
 * What it owns. For each producer id seen recently, the shard groups of its last `window` batch
 * numbers: for (producer, batch, shard), the first sequence number and the count of the records
 * that the batch put on that shard. The worker that owns a shard appends the records of one
 * frame that route to that shard in ONE dp_shard_append, in frame order, so they hold
 * consecutive sequence numbers; a group is therefore the whole truth about that frame on that
 * shard, and a retried frame's ack is rebuilt from its groups by routing its records again.
 *
 * Protocol of use (the shard owner, per group of a frame):
 *   dp_dedup_lookup() before appending: HIT -> do not append, ack with the stored numbers (after
 *   they are durable, like the first time); STALE -> do not append, ack DP_ACK_STALE; NEW ->
 *   append, then dp_dedup_note() with the numbers dp_shard_append returned.
 * Recovery feeds dp_dedup_note() from the stored batch headers (producer id, batch number, shard,
 * first seq, count) in any order; the table then answers as it did before the restart, within
 * what the retained log and the table's bounds still hold.
 *
 * Window. Per producer, B is the highest batch number noted. Batch b is remembered while
 * b > B - window. A lookup of b <= B - window, or of a batch below the producer's floor (raised
 * when a producer's entries overflow and its oldest batch must go), is STALE: the table cannot
 * tell whether it was written, so it refuses rather than risk writing it twice.
 *
 * Memory and eviction (fixed at creation): `producers` slots in sets of 4 (set chosen by a hash
 * of the producer id), each with `entries` groups. A new producer takes a free way of its set or
 * the least recently used one; the evicted producer's window is forgotten (a retry from it is
 * then written again and counted in producers_evicted: size the table for the producers a worker
 * serves). Within a producer, a new group takes an unused entry, else one outside the window,
 * else the one with the lowest batch number (and the floor rises above that batch).
 * Memory: producers * (48 + 24 * entries) bytes.
 *
 * Threads. One table per shard-owning worker, used by that thread only: no locks.
 */
#ifndef DP_DEDUP_H
#define DP_DEDUP_H

#include <stdint.h>

/* Defaults: 1024 producers, 32 batches each, 64 groups each (1.6 MiB). */
#define DP_DEDUP_PRODUCERS_DEFAULT 1024u
#define DP_DEDUP_WINDOW_DEFAULT 32u
#define DP_DEDUP_ENTRIES_DEFAULT 64u

enum dp_dedup_result {
	DP_DEDUP_NEW = 0,   /* not seen: append, then note */
	DP_DEDUP_HIT = 1,   /* seen: *first_seq and *n hold what was appended */
	DP_DEDUP_STALE = 2, /* outside the window: refuse (DP_ACK_STALE) */
};

struct dp_dedup_stats {
	uint64_t lookups, hits, stale;
	uint64_t notes, notes_ignored;   /* ignored: older than the producer's window */
	uint64_t producers_evicted;      /* a producer's window forgotten to make room */
	uint64_t entries_evicted;        /* a group dropped inside the window (floor raised) */
};

struct dp_dedup;

/*
 * Create a table. producers: 4..2^20, rounded up to a power of two; window: 1..2^20 batch
 * numbers; entries: 1..4096 groups per producer (give window * the shards a batch usually
 * touches on this worker). Returns 0, -EINVAL or -ENOMEM.
 */
int dp_dedup_new(unsigned producers, unsigned window, unsigned entries, struct dp_dedup **ret);

/* Free a table. NULL is accepted. */
void dp_dedup_free(struct dp_dedup *d);

/*
 * Look up (producer, batch, shard). Returns DP_DEDUP_NEW, DP_DEDUP_HIT (then *first_seq and *n
 * are written) or DP_DEDUP_STALE. Marks the producer recently used.
 */
int dp_dedup_lookup(struct dp_dedup *d, uint64_t producer, uint64_t batch, uint32_t shard,
		    uint64_t *first_seq, uint32_t *n);

/*
 * Remember that batch `batch` of `producer` put n records (1..65535) on `shard` with sequence
 * numbers first_seq .. first_seq + n - 1 (<= DP_SEQ_MAX). A note for a group already held
 * replaces it. Returns 1 when stored, 0 when ignored (the batch is already outside the
 * producer's window or below its floor), -EINVAL for bad arguments.
 */
int dp_dedup_note(struct dp_dedup *d, uint64_t producer, uint64_t batch, uint32_t shard,
		  uint64_t first_seq, uint32_t n);

void dp_dedup_stats_get(const struct dp_dedup *d, struct dp_dedup_stats *st);

#endif
