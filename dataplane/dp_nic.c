/* SPDX-License-Identifier: MIT */
/*
 * The NIC-to-engine glue (contract in dp_nic.h). Per burst of ingest datagrams: one clock read,
 * one dp_ingest_frame per datagram with the request mbuf parked where the ack callback can find
 * it, one bulk free of the requests the engine did not need. Per poll round: one
 * dp_ingest_poll, then one tx burst per NIC that has acks waiting.
 */
#include "dp_nic.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <rte_byteorder.h>
#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>

#include "dp_pkt.h"

/* Acks waiting for one NIC's tx queue: sent a burst at a time and at the end of every round;
 * what the queue does not take stays here for the next try (a flush completion can release
 * a thousand acks at once, more than a tx ring holds). */
struct txq {
	struct rte_mbuf **m;     /* port->tx_backlog of them */
	unsigned n;
};

struct nic_worker {
	uint64_t c[DP_NIC_C__COUNT];     /* written by this worker only */
	struct dp_nic *nic;
	struct dp_ingest *ing;
	unsigned index;
	/* The request being handed to the engine, so that its own ack can reuse its mbuf. */
	struct rte_mbuf *cur;
	const struct dp_pkt_info *cur_info;
	const struct dp_ingest_src *cur_src;
	struct txq txq[DP_PORT_MAX_NICS];
} __rte_cache_aligned;

struct dp_nic {
	struct dp_port *port;
	struct dp_ingest_group *g;
	int64_t epoch_ms0;               /* wall clock at creation */
	uint64_t tsc0;                   /* the TSC at the same moment */
	uint64_t tsc_per_ms;
	unsigned n;
	struct nic_worker *w;            /* n of them, cache-aligned */
	struct rte_mbuf **txm;           /* the txq backlogs' arrays */
};

static const char *const counter_names[] = {
#define DP_NIC_X_NAME(name, text) text,
	DP_NIC_COUNTER_LIST(DP_NIC_X_NAME)
#undef DP_NIC_X_NAME
};

const char *dp_nic_counter_name(enum dp_nic_counter c)
{
	return (unsigned)c < DP_NIC_C__COUNT ? counter_names[c] : "?";
}

/* One writer: a plain add, published with a relaxed store so readers never see a torn value. */
static inline void cnt_add(struct nic_worker *w, enum dp_nic_counter c, uint64_t v)
{
	__atomic_store_n(&w->c[c], w->c[c] + v, __ATOMIC_RELAXED);
}

static inline int64_t now_ms(const struct dp_nic *n)
{
	return n->epoch_ms0 + (int64_t)((rte_get_tsc_cycles() - n->tsc0) / n->tsc_per_ms);
}

/* Slot of a DPDK port id in port->nics, or -1. */
static inline int nic_slot(const struct dp_port *p, uint16_t port_id)
{
	for (unsigned i = 0; i < p->n_nics; i++)
		if (p->nics[i].port_id == port_id)
			return (int)i;
	return -1;
}

static void txq_flush(struct nic_worker *w, unsigned slot)
{
	struct txq *t = &w->txq[slot];
	uint64_t bytes = 0;
	unsigned sent = 0;

	while (sent < t->n) {
		unsigned k = t->n - sent > UINT16_MAX ? UINT16_MAX : t->n - sent;
		unsigned s = rte_eth_tx_burst(w->nic->port->nics[slot].port_id, (uint16_t)w->index,
					      t->m + sent, (uint16_t)k);
		for (unsigned i = 0; i < s; i++)
			bytes += t->m[sent + i]->pkt_len;
		sent += s;
		if (s < k)
			break;
	}
	if (sent == 0)
		return;
	if (sent < t->n)
		memmove(t->m, t->m + sent, (t->n - sent) * sizeof(t->m[0]));
	t->n -= sent;
	cnt_add(w, DP_NIC_C_ACKS_SENT, sent);
	cnt_add(w, DP_NIC_C_ACK_BYTES, bytes);
}

static inline void txq_push(struct nic_worker *w, unsigned slot, struct rte_mbuf *m)
{
	struct txq *t = &w->txq[slot];
	unsigned cap = w->nic->port->tx_backlog;

	if (t->n == cap) {
		txq_flush(w, slot);
		if (t->n == cap) {
			/* The backlog is full too: this ack is lost (the producer resends). */
			rte_pktmbuf_free(m);
			cnt_add(w, DP_NIC_C_TX_FULL, 1);
			return;
		}
	}
	t->m[t->n++] = m;
	if (t->n % DP_WORKER_BURST == 0)
		txq_flush(w, slot);
}

static inline void wr16(uint8_t *p, uint16_t v)
{
	v = rte_cpu_to_be_16(v);
	memcpy(p, &v, 2);
}

static inline void wr32(uint8_t *p, uint32_t v)
{
	v = rte_cpu_to_be_32(v);
	memcpy(p, &v, 4);
}

/*
 * Build the ack in a fresh mbuf: write the frame the sender would have sent us (its MAC to
 * ours, its address and port to ours) with the ack as payload, then let dp_pkt_udp_reply turn
 * it around exactly as it turns a received request. Returns the mbuf or NULL (counted).
 */
static struct rte_mbuf *ack_alloc(struct nic_worker *w, const struct dp_port_nic *pn,
				  const struct dp_ingest_src *src, const uint8_t *ack, size_t len)
{
	size_t l2 = DP_PKT_ETH_HLEN + (src->has_vlan ? DP_PKT_VLAN_HLEN : 0);
	size_t hdr = l2 + DP_PKT_IPV4_HLEN + DP_PKT_UDP_HLEN;
	struct dp_pkt_info info;
	struct rte_mbuf *m;
	uint8_t *p, *ip, *udp;
	int r;

	if (hdr + len > UINT16_MAX) {
		cnt_add(w, DP_NIC_C_ACKS_UNBUILT, 1);
		return NULL;
	}
	/* Small acks from the ack pool, which is sized for a full backlog of them. */
	m = rte_pktmbuf_alloc(hdr + len <= DP_PORT_ACK_ROOM ? w->nic->port->ack_pool
							  : w->nic->port->pool);
	if (!m) {
		cnt_add(w, DP_NIC_C_ACKS_NO_MBUF, 1);
		return NULL;
	}
	p = (uint8_t *)rte_pktmbuf_append(m, (uint16_t)(hdr + len));
	if (!p) {
		rte_pktmbuf_free(m);
		cnt_add(w, DP_NIC_C_ACKS_UNBUILT, 1);
		return NULL;
	}
	memcpy(p, pn->mac, 6);
	memcpy(p + 6, src->mac, 6);
	if (src->has_vlan) {
		wr16(p + 12, DP_PKT_ETHERTYPE_VLAN);
		wr16(p + 14, src->vlan_tci);
	}
	wr16(p + l2 - 2, DP_PKT_ETHERTYPE_IPV4);
	ip = p + l2;
	memset(ip, 0, DP_PKT_IPV4_HLEN);
	ip[0] = 0x45;
	wr16(ip + 2, (uint16_t)(DP_PKT_IPV4_HLEN + DP_PKT_UDP_HLEN + len));
	ip[8] = DP_PKT_TTL;
	ip[9] = DP_PKT_PROTO_UDP;
	wr32(ip + 12, src->addr);
	wr32(ip + 16, src->dst_addr);
	udp = ip + DP_PKT_IPV4_HLEN;
	wr16(udp, src->port);
	wr16(udp + 2, src->dst_port);
	wr16(udp + 4, (uint16_t)(DP_PKT_UDP_HLEN + len));
	memset(udp + 6, 0, 2);
	memcpy(p + hdr, ack, len);
	info = (struct dp_pkt_info){
		.kind = DP_PKT_UDP, .l3_off = (uint16_t)l2,
		.l4_off = (uint16_t)(l2 + DP_PKT_IPV4_HLEN),
		.l3_len = (uint16_t)(DP_PKT_IPV4_HLEN + DP_PKT_UDP_HLEN + len),
		.payload_off = (uint16_t)hdr, .payload_len = (uint16_t)len,
		.ip_proto = DP_PKT_PROTO_UDP, .src_ip = src->addr, .dst_ip = src->dst_addr,
		.src_port = src->port, .dst_port = src->dst_port,
	};
	r = dp_pkt_udp_reply(p, hdr + len, &info, len);
	if (r < 0) {
		rte_pktmbuf_free(m);
		cnt_add(w, DP_NIC_C_ACKS_UNBUILT, 1);
		return NULL;
	}
	cnt_add(w, DP_NIC_C_ACKS_ALLOC, 1);
	return m;
}

/* Does this ack go to the sender of the request now in the engine's hands? */
static inline int same_sender(const struct dp_ingest_src *a, const struct dp_ingest_src *b)
{
	return a->addr == b->addr && a->port == b->port && a->nic == b->nic &&
	       a->dst_addr == b->dst_addr && a->dst_port == b->dst_port;
}

/* The engine's ack callback. A frame's ack is built by the engine that took it (the pending
 * frame stays with the receiving worker; owners only send replies back), so this runs on the
 * lcore of worker src->queue, the only one that touches that worker's state and tx queue. */
static void on_ack(void *arg, const struct dp_ingest_src *src, const uint8_t *ack, size_t len)
{
	struct dp_nic *n = arg;
	struct nic_worker *w;
	struct rte_mbuf *m = NULL;
	int slot;

	if (src->queue >= n->n)
		return;     /* no worker to send it: nothing to count it on either */
	w = &n->w[src->queue];
	slot = nic_slot(n->port, src->nic);
	if (slot < 0) {
		cnt_add(w, DP_NIC_C_ACKS_UNBUILT, 1);
		return;
	}
	/* The request's mbuf: the engine copied what it keeps before any ack is built, and the
	 * ack is never larger than its frame, so the request's headers only need turning round. */
	/* Received mbufs held in a backlog come out of the packet pool, which counts
	 * DP_PORT_TX_BACKLOG of them: only while the backlog is shorter than that (then at most
	 * that many of its entries can be received mbufs). */
	if (w->cur && same_sender(src, w->cur_src) && len <= w->cur_info->payload_len &&
	    w->txq[slot].n < DP_PORT_TX_BACKLOG) {
		struct rte_mbuf *req = w->cur;
		uint8_t *p = rte_pktmbuf_mtod(req, uint8_t *);
		int r;

		memcpy(p + w->cur_info->payload_off, ack, len);
		r = dp_pkt_udp_reply(p, req->data_len, w->cur_info, len);
		if (r > 0) {
			req->data_len = (uint16_t)r;
			req->pkt_len = (uint32_t)r;
			w->cur = NULL;
			cnt_add(w, DP_NIC_C_ACKS_IN_PLACE, 1);
			m = req;
		}
	}
	if (!m)
		m = ack_alloc(w, &n->port->nics[slot], src, ack, len);
	if (m)
		txq_push(w, (unsigned)slot, m);
}

/* dp_worker's UDP callback: every datagram goes to the engine; all of them are taken. */
static unsigned on_udp(void *arg, unsigned worker, uint16_t port_id, struct rte_mbuf **pkts,
		       const struct dp_pkt_info *info, unsigned n)
{
	struct dp_nic *nic = arg;
	struct nic_worker *w = &nic->w[worker];
	struct rte_mbuf *done[DP_WORKER_BURST];
	unsigned n_done = 0, taken = 0, held = 0, dropped = 0;
	int64_t t = now_ms(nic);

	if (n)
		dp_ingest_prefetch(rte_pktmbuf_mtod(pkts[0], const uint8_t *) + info[0].payload_off,
				   info[0].payload_len);
	for (unsigned i = 0; i < n; i++) {
		struct rte_mbuf *m = pkts[i];
		const uint8_t *p = rte_pktmbuf_mtod(m, const uint8_t *);
		if (i + 1 < n)
			dp_ingest_prefetch(rte_pktmbuf_mtod(pkts[i + 1], const uint8_t *) +
					   info[i + 1].payload_off, info[i + 1].payload_len);
		struct dp_ingest_src src = {
			.addr = info[i].src_ip, .port = info[i].src_port, .nic = port_id,
			.dst_addr = info[i].dst_ip, .dst_port = info[i].dst_port,
			.queue = (uint16_t)worker, .vlan_tci = info[i].vlan_tci,
			.has_vlan = info[i].has_vlan,
		};
		int r;

		memcpy(src.mac, p + 6, 6);
		w->cur = m;
		w->cur_info = &info[i];
		w->cur_src = &src;
		r = dp_ingest_frame(w->ing, p + info[i].payload_off, info[i].payload_len, &src, t);
		if (r > 0)
			taken++;
		else if (r == 0)
			held++;
		else
			dropped++;
		if (w->cur)         /* not used for an ack: the engine kept a copy if it needed one */
			done[n_done++] = m;
		w->cur = NULL;
	}
	w->cur_info = NULL;
	w->cur_src = NULL;
	if (n_done)
		rte_pktmbuf_free_bulk(done, n_done);
	cnt_add(w, DP_NIC_C_FRAMES_TAKEN, taken);
	cnt_add(w, DP_NIC_C_CHUNKS_HELD, held);
	cnt_add(w, DP_NIC_C_FRAMES_DROPPED, dropped);
	return n;
}

/* dp_worker's per-round hook. */
static void on_poll(void *arg, unsigned worker)
{
	struct dp_nic *nic = arg;
	struct nic_worker *w = &nic->w[worker];

	if (dp_ingest_poll(w->ing, now_ms(nic)) < 0)
		cnt_add(w, DP_NIC_C_POLL_ERRORS, 1);
	for (unsigned s = 0; s < nic->port->n_nics; s++)
		txq_flush(w, s);
}

int dp_nic_new(const struct dp_nic_config *cfg, struct dp_nic **ret)
{
	struct dp_ingest_config icfg;
	struct timespec ts;
	struct dp_nic *n;
	int r;

	if (!cfg || !cfg->port || cfg->port->workers == 0)
		return -EINVAL;
	n = calloc(1, sizeof(*n));
	if (!n)
		return -ENOMEM;
	n->port = cfg->port;
	n->n = cfg->port->workers;
	n->w = rte_zmalloc("dp_nic", n->n * sizeof(n->w[0]), RTE_CACHE_LINE_SIZE);
	if (!n->w) {
		r = -ENOMEM;
		goto err_free;
	}
	/* One backlog array per worker and NIC, all in one allocation. */
	n->txm = rte_zmalloc("dp_nic_txq", (size_t)n->n * DP_PORT_MAX_NICS * n->port->tx_backlog *
			     sizeof(struct rte_mbuf *), RTE_CACHE_LINE_SIZE);
	if (!n->txm) {
		r = -ENOMEM;
		goto err_workers;
	}
	for (unsigned i = 0; i < n->n; i++)
		for (unsigned s = 0; s < DP_PORT_MAX_NICS; s++)
			n->w[i].txq[s].m = n->txm + ((size_t)i * DP_PORT_MAX_NICS + s) *
							n->port->tx_backlog;
	icfg = cfg->ingest;
	icfg.workers = n->n;
	icfg.ack_fn = on_ack;
	icfg.ack_arg = n;
	r = dp_ingest_group_new(&icfg, &n->g);
	if (r < 0)
		goto err_workers;
	for (unsigned i = 0; i < n->n; i++) {
		n->w[i].nic = n;
		n->w[i].index = i;
		n->w[i].ing = dp_ingest_worker(n->g, i);
	}
	/* The TSC rate is at least 1 kHz on anything DPDK runs on; guard the division anyway. */
	n->tsc_per_ms = rte_get_tsc_hz() / 1000;
	if (n->tsc_per_ms == 0)
		n->tsc_per_ms = 1;
	clock_gettime(CLOCK_REALTIME, &ts);
	n->tsc0 = rte_get_tsc_cycles();
	n->epoch_ms0 = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
	*ret = n;
	return 0;

err_workers:
	rte_free(n->txm);
	rte_free(n->w);
err_free:
	free(n);
	return r;
}

void dp_nic_free(struct dp_nic *n)
{
	if (!n)
		return;
	/* Acks the NICs never took (the workers are stopped) go with the pool. */
	for (unsigned i = 0; i < n->n; i++)
		for (unsigned s = 0; s < DP_PORT_MAX_NICS; s++)
			if (n->w[i].txq[s].n) {
				rte_pktmbuf_free_bulk(n->w[i].txq[s].m, n->w[i].txq[s].n);
				n->w[i].txq[s].n = 0;
			}
	dp_ingest_group_free(n->g);
	rte_free(n->txm);
	rte_free(n->w);
	free(n);
}

struct dp_ingest_group *dp_nic_group(struct dp_nic *n)
{
	return n->g;
}

void dp_nic_worker_config(struct dp_nic *n, struct dp_worker_config *wcfg)
{
	wcfg->udp_fn = on_udp;
	wcfg->udp_arg = n;
	wcfg->poll_fn = on_poll;
	wcfg->poll_arg = n;
}

int dp_nic_stats_read(const struct dp_nic *n, unsigned i, struct dp_nic_stats *out)
{
	if (i >= n->n)
		return -EINVAL;
	for (unsigned c = 0; c < DP_NIC_C__COUNT; c++)
		out->c[c] = __atomic_load_n(&n->w[i].c[c], __ATOMIC_RELAXED);
	return 0;
}

unsigned dp_nic_workers(const struct dp_nic *n)
{
	return n->n;
}
