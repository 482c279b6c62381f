/* SPDX-License-Identifier: MIT */
/*
 * ctl_dataplane: the daemon's dataplane as a whole, set up from its options: DPDK's EAL and the
 * NICs (dp_port), one ingest engine per worker lcore (dp_nic over dp_ingest) and the receive
 * loops (dp_worker); or, with --nic none, one ingest engine that the control thread drives
 * itself. Either way the engines own the shard logs (see ctl_shards.h) and ctl_dataplane.g is
 * the group to hand to ctl_shards_open.
 *
 * Kept out of the control library (linked into ingestd only) so that everything else in
 * control/ builds and is tested without DPDK.
 *
 * Threads: the control thread (the main lcore) only. ctl_dataplane_stats reads counters that the
 * workers publish with relaxed stores: each consistent by itself, not across counters.
 */
#ifndef CTL_DATAPLANE_H
#define CTL_DATAPLANE_H

#include <jansson.h>

#include "ctl_config.h"
#include "dp_ingest.h"

struct dp_port;
struct dp_nic;
struct dp_workers;

struct ctl_dataplane {
	struct dp_port *port;          /* NULL without NICs */
	struct dp_nic *nic;
	struct dp_workers *workers;
	struct dp_ingest_group *own;   /* without NICs: the engine the control thread drives */
	struct dp_ingest_group *g;     /* the engines that own the shard logs */
	unsigned n;                    /* engines in g */
};

/*
 * Start what cfg asks for into *d (zeroed by the caller). shards: shard logs expected (sizes
 * each worker's retry window: window x the shards it owns). Returns 0, or a negative errno after
 * logging the cause and what to do; *d then holds what was started (ctl_dataplane_stop frees it).
 */
int ctl_dataplane_start(const struct ctl_config *cfg, unsigned shards, struct ctl_dataplane *d);

/* Stop the workers, close the NICs and the EAL, free the engines. Every shard log must be closed
 * (ctl_shards_close) first. */
void ctl_dataplane_stop(struct ctl_dataplane *d);

/*
 * The counters as a new JSON object (arg = struct ctl_dataplane *): per NIC and rx queue (the
 * NIC's own counters), per worker (packets, bytes, drops by reason, acks, records, retries
 * answered from the window, control puts) and their totals.
 */
json_t *ctl_dataplane_stats(void *arg);

#endif
