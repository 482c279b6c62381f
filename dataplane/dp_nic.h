/* SPDX-License-Identifier: MIT */
/*
 * dp_nic: the glue between the receive loop (dp_worker) and the ingest engine (dp_ingest).
 *
 * What it owns. The ingest group of a started struct dp_port (one engine per worker, created by
 * dp_nic_new with the port's worker count and this module's ack callback) and, per worker, the
 * state the two hooks of dp_worker_config need:
 *  - the UDP callback turns every ingest datagram into a struct dp_ingest_src (addresses, ports,
 *    NIC, queue, the sender's MAC and VLAN tag) and calls dp_ingest_frame() on that worker's
 *    engine. The engine copies what it keeps, so every request mbuf is freed in the callback
 *    unless its own ack was built in it.
 *  - the per-round hook calls dp_ingest_poll() (flush completions, acks that became ready,
 *    groups from other workers) and then transmits the acks batched during the round.
 *  - the ack callback builds the reply frame in an mbuf: in the request's own mbuf when the ack
 *    answers the datagram being handed to the engine right now (error acks, answers from the
 *    retry window), otherwise in one allocated from the port's pool, with the headers rebuilt
 *    from the struct dp_ingest_src the engine carried (dp_pkt_udp_reply in both cases, so the
 *    checksums and the never-larger-than-the-request rule are dp_pkt's). Acks leave on the NIC
 *    and queue the request came in on, in bursts of up to DP_WORKER_BURST; acks the NIC does
 *    not take wait in a backlog of DP_PORT_TX_BACKLOG per NIC for the next round. Only an ack
 *    that finds the backlog full is freed and counted (tx-full): the producer resends its batch
 *    and the engine's retry window answers it again without writing twice.
 *
 * Time. The engine's now_ms (record arrival time and reassembly timeouts) is wall-clock ms since
 * the epoch, taken once at dp_nic_new() and advanced by the TSC, so the loop reads no clock
 * through a syscall.
 *
 * Threads. dp_nic_new, dp_nic_worker_config, dp_nic_group and dp_nic_free on the control thread;
 * the hooks run on worker lcores (worker i touches only its own state, tx queue i, and engine
 * i); dp_nic_stats_read from any thread (each counter has one writer and is published with a
 * relaxed store: consistent per field, not across fields).
 */
#ifndef DP_NIC_H
#define DP_NIC_H

#include <stdint.h>

#include "dp_ingest.h"
#include "dp_port.h"
#include "dp_worker.h"

/* Per-worker counters. X(name, text). */
#define DP_NIC_COUNTER_LIST(X) \
	X(FRAMES_TAKEN,   "frames-taken")      /* dp_ingest_frame took the datagram */ \
	X(CHUNKS_HELD,    "chunks-held")       /* a chunk stored: the record needs more */ \
	X(FRAMES_DROPPED, "frames-dropped")    /* refused by the engine (its drops say why) */ \
	X(ACKS_SENT,      "acks-sent")         /* acks the NIC took */ \
	X(ACK_BYTES,      "ack-bytes")         /* their frame bytes */ \
	X(ACKS_IN_PLACE,  "acks-in-place")     /* built in the request's mbuf */ \
	X(ACKS_ALLOC,     "acks-allocated")    /* built in an mbuf from the pool */ \
	X(ACKS_NO_MBUF,   "acks-no-mbuf")      /* pool empty: ack not sent */ \
	X(ACKS_UNBUILT,   "acks-unbuildable")  /* no such NIC or queue, or no room: not sent */ \
	X(TX_FULL,        "tx-full")           /* acks lost: NIC and backlog full */ \
	X(POLL_ERRORS,    "poll-errors")       /* dp_ingest_poll returned an error */

enum dp_nic_counter {
#define DP_NIC_X_ENUM(name, text) DP_NIC_C_##name,
	DP_NIC_COUNTER_LIST(DP_NIC_X_ENUM)
#undef DP_NIC_X_ENUM
	DP_NIC_C__COUNT
};

struct dp_nic_stats {
	uint64_t c[DP_NIC_C__COUNT];
};

/* The counter's stable name; "?" when out of range. */
const char *dp_nic_counter_name(enum dp_nic_counter c);

struct dp_nic_config {
	struct dp_port *port;             /* started; outlives the struct dp_nic */
	struct dp_ingest_config ingest;   /* workers, ack_fn and ack_arg are set by dp_nic_new */
};

struct dp_nic;

/*
 * Create the glue and its ingest group (cfg->ingest with workers = the port's workers). Returns
 * 0, -EINVAL (no port), -ENOMEM, or dp_ingest_group_new's error.
 */
int dp_nic_new(const struct dp_nic_config *cfg, struct dp_nic **ret);

/*
 * Free the glue and its group. The workers must have stopped and every shard must be closed
 * (see dp_ingest_group_free). NULL is accepted.
 */
void dp_nic_free(struct dp_nic *n);

/* The ingest group: for shards (dp_ingest_shard_open/close), tables, retire and reclaim. */
struct dp_ingest_group *dp_nic_group(struct dp_nic *n);

/*
 * Set udp_fn/udp_arg and poll_fn/poll_arg of *wcfg to this module's hooks (port and udp_port
 * are left to the caller), for dp_workers_start().
 */
void dp_nic_worker_config(struct dp_nic *n, struct dp_worker_config *wcfg);

/* Snapshot worker i's counters. Returns 0, or -EINVAL for i out of range. */
int dp_nic_stats_read(const struct dp_nic *n, unsigned i, struct dp_nic_stats *out);

/* Number of workers (= engines). */
unsigned dp_nic_workers(const struct dp_nic *n);

#endif
