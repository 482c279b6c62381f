/* SPDX-License-Identifier: MIT */
/*
 * dp_worker: the per-lcore receive loop.
 *
 * What it owns. One run-to-completion loop per worker lcore of a struct dp_port. Worker i polls
 * rx queue i of every NIC in bursts of DP_WORKER_BURST, validates each frame with dp_pkt_parse(),
 * answers ARP requests for the appliance address and ICMP echo requests to it (replies built in
 * the received mbuf, sent on tx queue i of the same NIC), and hands every valid UDP datagram
 * addressed to the appliance's ingest port to a callback, one call per burst. Everything else is
 * dropped and counted by its dp_pkt reason.
 *
 * The callback boundary. dp_worker_udp_fn receives the datagrams of one burst of one NIC with
 * their parse results (payload offset and length, addresses, ports) and returns how many it
 * took, n' <= n: it owns pkts[0..n') from then on (it frees them, or keeps them for an ack), the
 * worker frees pkts[n'..n) and counts them as "udp_refused". info[] lives on the worker's stack:
 * valid during the call only (copy what an ack needs, e.g. into the mbuf's private area). Replies
 * go out on tx queue `worker` of `port_id`, which only this lcore uses. It runs on the worker's lcore, in
 * the loop, so the same rules hold for it: no allocation but from mempools, no lock, no
 * syscall but the worker's own io_uring, no log.
 *
 * The per-round hook. dp_worker_poll_fn, when set, runs once per poll round after every NIC's
 * rx burst, idle rounds included, on the worker's lcore under the same rules as the callback:
 * the place for work that is not driven by a packet (completions of the worker's io_uring, acks
 * that became ready, flushing replies it batched).
 *
 * Counters. Each worker has its own cache-aligned struct dp_worker_stats, written only by that
 * worker with relaxed atomic stores and readable at any time from any thread with
 * dp_worker_stats_read(), which takes a consistent-per-field (not cross-field) snapshot.
 *
 * Threads. dp_workers_start(), dp_workers_stop() and dp_workers_free() are called from the main
 * lcore. The loop
 * itself takes no lock, makes no syscall and allocates nothing; it ends when the stop flag,
 * written by dp_workers_stop(), is seen at the top of a poll round.
 */
#ifndef DP_WORKER_H
#define DP_WORKER_H

#include <stdint.h>

#include "dp_pkt.h"
#include "dp_port.h"

struct rte_mbuf;

/* Packets per rx burst (DPDK's customary burst: a good fit for the PMDs' vector paths). */
#define DP_WORKER_BURST 32
/* The default ingest UDP port. */
#define DP_WORKER_DEFAULT_UDP_PORT 4789

typedef unsigned (*dp_worker_udp_fn)(void *arg, unsigned worker, uint16_t port_id,
				     struct rte_mbuf **pkts, const struct dp_pkt_info *info,
				     unsigned n);

typedef void (*dp_worker_poll_fn)(void *arg, unsigned worker);

struct dp_worker_config {
	struct dp_port *port;       /* started; outlives the workers */
	uint16_t udp_port;          /* the ingest port; 0: DP_WORKER_DEFAULT_UDP_PORT */
	dp_worker_udp_fn udp_fn;    /* NULL: every ingest datagram is refused (and counted) */
	void *udp_arg;
	dp_worker_poll_fn poll_fn;  /* NULL: none; else once per poll round */
	void *poll_arg;
};

struct dp_worker_stats {
	uint64_t rx_pkts;
	uint64_t rx_bytes;
	uint64_t tx_pkts;           /* replies the NIC took */
	uint64_t tx_bytes;
	uint64_t arp_replies;
	uint64_t icmp_replies;
	uint64_t udp_pkts;          /* taken by the callback */
	uint64_t udp_bytes;         /* their UDP payload bytes */
	uint64_t drops[DP_PKT_DROP_COUNT];   /* by reason; drops[DP_PKT_DROP_NONE] stays 0 */
};

struct dp_workers;

/*
 * Launch one loop on every worker lcore of cfg->port (rte_eal_remote_launch). On success *ret
 * is the running set. Returns 0, -ENOMEM, or the negative errno of the launch that failed (the
 * loops already launched are stopped again).
 */
int dp_workers_start(const struct dp_worker_config *cfg, struct dp_workers **ret);

/*
 * Set the stop flag and wait for every loop to return. The counters stay readable until
 * dp_workers_free(). Calling it again does nothing.
 */
void dp_workers_stop(struct dp_workers *w);

/* Stop the loops if they run, and free the set. NULL is accepted. */
void dp_workers_free(struct dp_workers *w);

/* Number of workers in the set. */
unsigned dp_workers_count(const struct dp_workers *w);

/* Snapshot worker i's counters into *out. Returns 0, or -EINVAL for i out of range. */
int dp_worker_stats_read(const struct dp_workers *w, unsigned i, struct dp_worker_stats *out);

#endif
