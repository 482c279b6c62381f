/* SPDX-License-Identifier: MIT */
/*
 * The worker loop (contract in dp_worker.h). Per burst: parse every frame, sorting it into
 * three arrays on the stack (replies to send, ingest datagrams for the callback, drops to free),
 * then one tx burst, one callback and one bulk free. Counters accumulate in locals and are
 * published once per burst, so a reader on another core costs the loop one store per field.
 */
#include "dp_worker.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <rte_ethdev.h>
#include <rte_launch.h>
#include <rte_malloc.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_pause.h>
#include <rte_prefetch.h>

/* How far ahead of the frame being parsed its successor's headers are prefetched. */
#define PREFETCH_AHEAD 3

struct dp_worker {
	struct dp_worker_stats stats;    /* written by this worker only */
	struct dp_workers *set;
	unsigned index;
	unsigned lcore;
	int launched;
} __rte_cache_aligned;

struct dp_workers {
	volatile int stop __rte_cache_aligned;
	struct dp_port *port;
	uint16_t udp_port;
	dp_worker_udp_fn udp_fn;
	void *udp_arg;
	dp_worker_poll_fn poll_fn;
	void *poll_arg;
	unsigned n;
	struct dp_worker w[];
};

/* One writer: a plain add, published with a relaxed store so readers never see a torn value. */
static inline void stat_add(uint64_t *c, uint64_t v)
{
	__atomic_store_n(c, *c + v, __ATOMIC_RELAXED);
}

static inline uint64_t stat_get(const uint64_t *c)
{
	return __atomic_load_n(c, __ATOMIC_RELAXED);
}

/* Decide one frame: reply in place (1), give to the callback (2) or drop (0, *why set). */
static inline int classify(const struct dp_workers *s, const struct dp_port_nic *nic,
			   struct rte_mbuf *m, struct dp_pkt_info *info, enum dp_pkt_drop *why)
{
	uint8_t *p = rte_pktmbuf_mtod(m, uint8_t *);
	uint32_t ip = s->port->ip;
	int len;

	if (m->nb_segs > 1) {
		*why = DP_PKT_DROP_MULTISEG;
		return 0;
	}
	*why = dp_pkt_parse(p, m->data_len, info);
	if (*why != DP_PKT_DROP_NONE)
		return 0;
	switch (info->kind) {
	case DP_PKT_ARP:
		len = dp_pkt_arp_reply(p, m->data_len, info, nic->mac, ip);
		if (len < 0) {
			*why = DP_PKT_DROP_ARP_OTHER;
			return 0;
		}
		break;
	case DP_PKT_ICMP:
		if (info->dst_ip != ip) {
			*why = DP_PKT_DROP_NOT_OUR_IP;
			return 0;
		}
		len = dp_pkt_icmp_echo_reply(p, m->data_len, info);
		if (len < 0) {
			*why = DP_PKT_DROP_ICMP_OTHER;
			return 0;
		}
		break;
	case DP_PKT_UDP:
		if (info->dst_ip != ip) {
			*why = DP_PKT_DROP_NOT_OUR_IP;
			return 0;
		}
		if (info->dst_port != s->udp_port) {
			*why = DP_PKT_DROP_UDP_PORT;
			return 0;
		}
		return 2;
	default:
		*why = DP_PKT_DROP_IP_FRAGMENT;
		return 0;
	}
	m->data_len = (uint16_t)len;
	m->pkt_len = (uint32_t)len;
	return 1;
}

static void rx_burst(struct dp_worker *w, const struct dp_port_nic *nic, uint16_t q)
{
	struct dp_workers *s = w->set;
	struct rte_mbuf *pkts[DP_WORKER_BURST], *tx[DP_WORKER_BURST], *udp[DP_WORKER_BURST];
	struct rte_mbuf *drop[DP_WORKER_BURST];
	struct dp_pkt_info info[DP_WORKER_BURST];
	uint64_t rx_bytes = 0, tx_bytes = 0, udp_bytes = 0, arp = 0, icmp = 0;
	unsigned n, i, n_tx = 0, n_udp = 0, n_drop = 0, sent, took;
	enum dp_pkt_drop why;

	n = rte_eth_rx_burst(nic->port_id, q, pkts, DP_WORKER_BURST);
	if (n == 0)
		return;
	for (i = 0; i < n && i < PREFETCH_AHEAD; i++)
		rte_prefetch0(rte_pktmbuf_mtod(pkts[i], void *));
	for (i = 0; i < n; i++) {
		struct rte_mbuf *m = pkts[i];
		if (i + PREFETCH_AHEAD < n)
			rte_prefetch0(rte_pktmbuf_mtod(pkts[i + PREFETCH_AHEAD], void *));
		rx_bytes += m->pkt_len;
		switch (classify(s, nic, m, &info[n_udp], &why)) {
		case 1:
			if (info[n_udp].kind == DP_PKT_ARP)
				arp++;
			else
				icmp++;
			tx[n_tx++] = m;
			break;
		case 2:
			udp_bytes += info[n_udp].payload_len;
			udp[n_udp++] = m;
			break;
		default:
			stat_add(&w->stats.drops[why], 1);
			drop[n_drop++] = m;
			break;
		}
	}
	stat_add(&w->stats.rx_pkts, n);
	stat_add(&w->stats.rx_bytes, rx_bytes);

	if (n_tx) {
		sent = rte_eth_tx_burst(nic->port_id, q, tx, (uint16_t)n_tx);
		for (i = 0; i < sent; i++)
			tx_bytes += tx[i]->pkt_len;
		for (i = sent; i < n_tx; i++)
			drop[n_drop++] = tx[i];
		stat_add(&w->stats.tx_pkts, sent);
		stat_add(&w->stats.tx_bytes, tx_bytes);
		stat_add(&w->stats.arp_replies, arp);
		stat_add(&w->stats.icmp_replies, icmp);
		if (sent < n_tx)
			stat_add(&w->stats.drops[DP_PKT_DROP_TX_FULL], n_tx - sent);
	}
	if (n_udp) {
		took = s->udp_fn ? s->udp_fn(s->udp_arg, w->index, nic->port_id, udp, info, n_udp) : 0;
		if (took > n_udp)
			took = n_udp;   /* a callback that claims more than it got took them all */
		for (i = took; i < n_udp; i++) {
			udp_bytes -= info[i].payload_len;
			drop[n_drop++] = udp[i];
		}
		stat_add(&w->stats.udp_pkts, took);
		stat_add(&w->stats.udp_bytes, udp_bytes);
		if (took < n_udp)
			stat_add(&w->stats.drops[DP_PKT_DROP_UDP_REFUSED], n_udp - took);
	}
	if (n_drop)
		rte_pktmbuf_free_bulk(drop, n_drop);
}

static int worker_main(void *arg)
{
	struct dp_worker *w = arg;
	struct dp_workers *s = w->set;
	const struct dp_port *p = s->port;
	uint16_t q = (uint16_t)w->index;

	while (!__atomic_load_n(&s->stop, __ATOMIC_RELAXED)) {
		for (unsigned i = 0; i < p->n_nics; i++)
			rx_burst(w, &p->nics[i], q);
		if (s->poll_fn)
			s->poll_fn(s->poll_arg, w->index);
	}
	return 0;
}

int dp_workers_start(const struct dp_worker_config *cfg, struct dp_workers **ret)
{
	struct dp_port *p = cfg->port;
	struct dp_workers *s;
	int r;

	s = rte_zmalloc("dp_workers", sizeof(*s) + p->workers * sizeof(s->w[0]), RTE_CACHE_LINE_SIZE);
	if (!s)
		return -ENOMEM;
	s->port = p;
	s->udp_port = cfg->udp_port ? cfg->udp_port : DP_WORKER_DEFAULT_UDP_PORT;
	s->udp_fn = cfg->udp_fn;
	s->udp_arg = cfg->udp_arg;
	s->poll_fn = cfg->poll_fn;
	s->poll_arg = cfg->poll_arg;
	s->n = p->workers;
	for (unsigned i = 0; i < s->n; i++) {
		struct dp_worker *w = &s->w[i];
		w->set = s;
		w->index = i;
		w->lcore = p->worker_lcores[i];
		r = rte_eal_remote_launch(worker_main, w, w->lcore);
		if (r < 0) {
			dp_workers_free(s);
			return r;
		}
		w->launched = 1;
	}
	*ret = s;
	return 0;
}

void dp_workers_stop(struct dp_workers *s)
{
	__atomic_store_n(&s->stop, 1, __ATOMIC_RELEASE);
	for (unsigned i = 0; i < s->n; i++) {
		if (s->w[i].launched) {
			rte_eal_wait_lcore(s->w[i].lcore);
			s->w[i].launched = 0;
		}
	}
}

void dp_workers_free(struct dp_workers *s)
{
	if (!s)
		return;
	dp_workers_stop(s);
	rte_free(s);
}

unsigned dp_workers_count(const struct dp_workers *s)
{
	return s->n;
}

int dp_worker_stats_read(const struct dp_workers *s, unsigned i, struct dp_worker_stats *out)
{
	const struct dp_worker_stats *st;

	if (i >= s->n)
		return -EINVAL;
	st = &s->w[i].stats;
	out->rx_pkts = stat_get(&st->rx_pkts);
	out->rx_bytes = stat_get(&st->rx_bytes);
	out->tx_pkts = stat_get(&st->tx_pkts);
	out->tx_bytes = stat_get(&st->tx_bytes);
	out->arp_replies = stat_get(&st->arp_replies);
	out->icmp_replies = stat_get(&st->icmp_replies);
	out->udp_pkts = stat_get(&st->udp_pkts);
	out->udp_bytes = stat_get(&st->udp_bytes);
	for (unsigned d = 0; d < DP_PKT_DROP_COUNT; d++)
		out->drops[d] = stat_get(&st->drops[d]);
	return 0;
}
