/* SPDX-License-Identifier: MIT */
/*
 * ctl_shards: the daemon's set of open shard logs, found on disk under
 * DATA_DIR/streams/<stream>/<shardId-NNNNNNNNNNNN>/ and owned by the thread that opened them
 * (they share that thread's dp_committer). Opening runs each shard's recovery and logs what it
 * found; a quarantined shard is kept open read-only and reported, never repaired silently.
 */
#ifndef CTL_SHARDS_H
#define CTL_SHARDS_H

#include <stdint.h>

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
 * Open every shard log under data_dir/streams on committer c with log settings cfg (grown for
 * streams whose records may be larger, as record_fn says; record_fn may be NULL).
 * Creates data_dir/streams when missing. Returns 0, or a negative errno after logging which
 * shard or directory failed and why.
 */
int ctl_shards_open(const char *data_dir, const struct dp_log_config *cfg, struct dp_committer *c,
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

/* Close every shard cleanly (clean-close marker, fdatasync) and free. Returns 0 or the first
 * negative errno. NULL is accepted. */
int ctl_shards_close(struct ctl_shards *s);

#endif
