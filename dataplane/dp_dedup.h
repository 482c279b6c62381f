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
 * serves). Within a producer, the table holds the groups of each batch number in a slot picked
 * by the number (window slots, rounded up to a power of two, with room for entries / window
 * groups each; when entries < window, as many slots as entries with one group each), and a
 * spill ring of `entries` groups for batches with more groups than their slot holds. A new batch
 * takes its slot from an older batch; when that one is still inside the window the floor rises
 * above it; when the spill ring is full its oldest group goes, and the floor rises above that
 * group's batch when it is inside the window. Lookups and notes read one slot: O(1) whatever the
 * window (plus a scan of the spill ring, only for a batch that spilled).
 * Memory: producers * (64 + 16 * slots * (1 + entries / window) + 32 * entries) bytes.
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
/* The most groups per producer (a window of batches times the shards a batch touches). */
#define DP_DEDUP_ENTRIES_MAX (1u << 20)

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
 * numbers; entries: 1..DP_DEDUP_ENTRIES_MAX groups per producer (give window * the shards a
 * batch usually touches on this worker). Returns 0, -EINVAL or -ENOMEM.
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
