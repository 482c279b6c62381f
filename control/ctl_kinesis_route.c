/* SPDX-License-Identifier: MIT */
/*
 * ctl_kinesis routing: the table the ingest engines route records by (dp_ingest_table), built
 * from every stream's open shards and republished after each change (stream created or deleted,
 * split, merge, UpdateShardCount). HTTP puts route with the stream's own map on the control
 * thread and then travel to the same owners (ctl_kinesis_data.c), so both paths agree.
 *
 * Lifetimes. The table names hash maps and shard slots that the workers read without locks. The
 * maps are copies made here for the table (the stream's own map is replaced freely by
 * k_stream_remap), kept in a struct k_routes that is retired together with the table that used
 * it; slots are retired by ctl_shards when their log closes.
 */
#include "ctl_kinesis_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ctl_log.h"

struct k_routes {
	unsigned n;
	struct dp_shard_map *maps[];
};

static void routes_free(void *p)
{
	struct k_routes *r = p;
	if (!r)
		return;
	for (unsigned i = 0; i < r->n; i++)
		dp_shard_map_free(r->maps[i]);
	free(r);
}

/* Swap in the routes of table t (NULL: none) and retire the previous ones after it. */
static void routes_swap(struct ctl_kinesis *k, struct dp_ingest_table *t, struct k_routes *nr)
{
	dp_ingest_table_publish(k->g, t);
	/* Retired after the table, so freed no earlier than the last table that named them. */
	if (k->routes && dp_ingest_retire(k->g, k->routes, routes_free) < 0)
		ctl_log(CTL_LOG_WARN, "out of memory retiring routing maps: kept until stop");
	k->routes = nr;
}

int k_routes_publish(struct ctl_kinesis *k)
{
	unsigned n = 0;
	for (unsigned i = 0; i < k->n_streams; i++)
		n += k->streams[i]->n_open > 0;
	struct k_routes *nr = calloc(1, sizeof(*nr) + (n ? n : 1) * sizeof(nr->maps[0]));
	struct dp_ingest_stream_def *defs = calloc(n ? n : 1, sizeof(*defs));
	struct dp_ingest_shard ***slots = calloc(n ? n : 1, sizeof(*slots));
	struct dp_ingest_table *t = NULL;
	int r = -ENOMEM;
	if (!nr || !defs || !slots)
		goto out;
	unsigned d = 0;
	for (unsigned i = 0; i < k->n_streams; i++) {
		struct k_stream *st = k->streams[i];
		if (!st->n_open)
			continue;
		struct dp_hash_range *rg = calloc(st->n_open, sizeof(*rg));
		slots[d] = calloc(st->n_open, sizeof(*slots[d]));
		if (!rg || !slots[d]) {
			free(rg);
			goto out;
		}
		for (unsigned j = 0; j < st->n_open; j++) {
			struct k_shard *sh = st->open[j];
			rg[j] = (struct dp_hash_range){ sh->start, sh->end, sh->index };
			slots[d][j] = ctl_shards_slot(k->shards, sh->log);
			if (!slots[d][j]) {
				free(rg);
				r = -ENOENT;
				goto out;
			}
		}
		r = dp_shard_map_new(rg, st->n_open, &nr->maps[d]);
		free(rg);
		if (r < 0)
			goto out;
		nr->n = d + 1;
		defs[d] = (struct dp_ingest_stream_def){ .name = st->name, .name_len = strlen(st->name),
							 .map = nr->maps[d], .shards = slots[d],
							 .nshards = st->n_open };
		d++;
	}
	r = dp_ingest_table_new(defs, d, &t);
	if (r < 0)
		goto out;
	routes_swap(k, t, nr);
	nr = NULL;
out:
	if (r < 0)
		ctl_log(CTL_LOG_ERR, "cannot publish the routing table: %s; the dataplane keeps the "
			"previous one", strerror(-r));
	for (unsigned i = 0; slots && i < n; i++)
		free(slots[i]);
	free(slots);
	free(defs);
	routes_free(nr);
	return r;
}

void k_routes_settle(struct ctl_kinesis *k)
{
	k_puts_drain(k);
	/* Two grace periods after the last publish: every drain that could still hold a group
	 * routed by an older table is over. Bounded: a stalled worker only delays, never blocks. */
	struct timespec t0, now;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (dp_ingest_reclaim(k->g) > 0) {
		ctl_shards_step(k->shards);
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (now.tv_sec - t0.tv_sec > 2) {
			ctl_log(CTL_LOG_WARN, "a dataplane worker did not pass a quiescent state in 2 s");
			break;
		}
	}
}

void k_routes_clear(struct ctl_kinesis *k)
{
	if (k->g)
		routes_swap(k, NULL, NULL);
}
