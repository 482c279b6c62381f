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

/*
 * Open every shard log under data_dir/streams on committer c with log settings cfg.
 * Creates data_dir/streams when missing. Returns 0, or a negative errno after logging which
 * shard or directory failed and why.
 */
int ctl_shards_open(const char *data_dir, const struct dp_log_config *cfg, struct dp_committer *c,
		    struct ctl_shards **ret, struct ctl_shards_summary *sum);

/* Retention pass over every shard at now_ms. Returns segments deleted, logs failures. */
int ctl_shards_retention(struct ctl_shards *s, int64_t now_ms);

/* Close every shard cleanly (clean-close marker, fdatasync) and free. Returns 0 or the first
 * negative errno. NULL is accepted. */
int ctl_shards_close(struct ctl_shards *s);

#endif
