/* SPDX-License-Identifier: MIT */
/*
 * ctl_shards: the daemon's set of open shard logs, found on disk under
 * DATA_DIR/streams/<stream>/<shardId-NNNNNNNNNNNN>/. Each log is owned by one engine of a
 * dp_ingest group (the least loaded when it opens): that engine's thread opens it, appends to
 * it, runs its retention and closes it (dp_ingest_shard_open/close, dp_ingest_call_post), so
 * records from the NICs and from the control plane share one order per shard. The control
 * thread asks and waits: with a dataplane the engines run on worker lcores; without one
 * (self_driven) the control thread is engine 0's thread and polls it itself, while waiting
 * (ctl_shards_step) and in its event loop (ctl_shards_poll). Opening runs each shard's recovery
 * and logs what it found; a quarantined shard is kept open read-only and reported, never
 * repaired silently.
 *
 * Reads from the control thread (struct dp_reader, the dp_shard_*_next marks, state, stats) are
 * what dp_log allows from any thread: readers stay below the readable mark, which the owner
 * publishes with release order. Everything else on a log goes through its owner.
 *
 * Threads: the control thread only.
 */
#ifndef CTL_SHARDS_H
#define CTL_SHARDS_H

#include <stdbool.h>
#include <stdint.h>

#include "dp_ingest.h"
#include "dp_log.h"

struct ctl_shards;

struct ctl_shards_summary {
	unsigned shards, quarantined, unclean;
	uint64_t records, bytes_scanned, torn_bytes;
	int64_t elapsed_ms;
};

/* The largest record of a stream's logs in bytes (0: the default), for logs opened at start. */
typedef uint32_t (*ctl_shards_record_fn)(void *arg, const char *stream);

/*
 * Open every shard log under data_dir/streams on the engines of g (workers of them; with
 * self_driven the calling thread polls engine 0 itself) with log settings cfg (grown for
 * streams whose records may be larger, as record_fn says; record_fn may be NULL).
 * Creates data_dir/streams when missing. Returns 0, or a negative errno after logging which
 * shard or directory failed and why.
 */
int ctl_shards_open(const char *data_dir, const struct dp_log_config *cfg,
		    struct dp_ingest_group *g, unsigned workers, bool self_driven,
		    ctl_shards_record_fn record_fn, void *record_arg, struct ctl_shards **ret,
		    struct ctl_shards_summary *sum);

/* The open shard log of stream/shardId-<index>, or NULL. */
struct dp_shard *ctl_shards_find(const struct ctl_shards *s, const char *stream, uint32_t index);

/*
 * Create (or open, when its directory already holds a log) the shard log of stream/shardId-<index>
 * for records up to max_record bytes (0: the default) and fsync the directories that name it. Returns 0, -EEXIST when already open, or a negative
 * errno after logging the cause.
 */
int ctl_shards_create(struct ctl_shards *s, const char *stream, uint32_t index, int64_t created_ms,
		      uint32_t max_record, struct dp_shard **ret);

/*
 * Close every shard of a stream and delete its directory (renamed to a .deleted- name first, so
 * that a stop in the middle leaves a leftover that the next start removes). Readers on these
 * shards must be gone. Returns 0 or the first negative errno.
 */
int ctl_shards_remove_stream(struct ctl_shards *s, const char *stream);

/* Visit every open shard ("stream/shardId-N", shard). */
void ctl_shards_each(const struct ctl_shards *s, void (*fn)(void *arg, const char *name,
							      struct dp_shard *sh), void *arg);

/* Retention pass over every shard at now_ms. Returns segments deleted, logs failures. */
int ctl_shards_retention(struct ctl_shards *s, int64_t now_ms);

/* Close every shard cleanly (clean-close marker, fdatasync) through its owner, after
 * publishing an empty routing table, and free. The owners must still be polling. Returns 0 or
 * the first negative errno. NULL is accepted. */
int ctl_shards_close(struct ctl_shards *s);

/* The engine's slot of an open log (owner, state), or NULL. */
struct dp_ingest_shard *ctl_shards_slot(const struct ctl_shards *s, const struct dp_shard *sh);

/* The group the shards belong to. */
struct dp_ingest_group *ctl_shards_group(const struct ctl_shards *s);

/* Run fn(arg) on sh's owner thread and wait for it. Returns fn's result, or -ENOENT. */
int ctl_shards_call(struct ctl_shards *s, struct dp_shard *sh, int (*fn)(void *arg), void *arg);

/* dp_shard_set_retention on the owner. Returns 0 or -EINVAL. */
int ctl_shards_set_retention(struct ctl_shards *s, struct dp_shard *sh, uint32_t hours);

/* One step of waiting for the owners: poll engine 0 when self-driven, else sleep 20 us. */
void ctl_shards_step(struct ctl_shards *s);

/* The event loop's turn: poll engine 0 when self-driven, reclaim retired objects. Returns 0 or
 * the negative errno of engine 0's ring. */
int ctl_shards_poll(struct ctl_shards *s);

/* Shard directories under data_dir/streams (to size the engines before opening them). */
unsigned ctl_shards_count_on_disk(const char *data_dir);

#endif
