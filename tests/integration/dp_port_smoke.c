/* SPDX-License-Identifier: MIT */
/*
 * dp_port_smoke: brings up the real dataplane NIC path (EAL, one NIC, workers) and runs until
 * SIGTERM, SIGINT or --seconds, for tests/integration/test_dp_port.py.
 *
 * The UDP callback counts the ingest datagrams it is handed and answers each one with the same
 * payload through dp_pkt_udp_reply() on the worker's own tx queue, so a test can check the
 * whole round trip: ARP, parse, callback, reply header swap and checksums as the kernel
 * verifies them. On exit it prints every worker counter as "stat NAME VALUE" lines (drops as
 * "drop_REASON"), after "ready" once the NIC is up.
 *
 *   dp_port_smoke [--netns NAME] [--nic SPEC] [--ip A.B.C.D/N] [--kernel-ip A.B.C.D]
 *                 [--workers N] [--udp-port P] [--seconds S] [--eal "ARGS"]
 */
#include <arpa/inet.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <rte_ethdev.h>
#include <rte_mbuf.h>

#include "dp_pkt.h"
#include "dp_port.h"
#include "dp_worker.h"

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
	(void)sig;
	stop_requested = 1;
}

struct smoke {
	uint64_t seen[DP_PORT_MAX_WORKERS];
	uint64_t echoed[DP_PORT_MAX_WORKERS];
};

/* Runs on worker lcores: each worker writes only its own slot. */
static unsigned on_udp(void *arg, unsigned worker, uint16_t port_id, struct rte_mbuf **pkts,
		       const struct dp_pkt_info *info, unsigned n)
{
	struct smoke *sm = arg;
	struct rte_mbuf *tx[DP_WORKER_BURST];
	unsigned n_tx = 0, sent;

	for (unsigned i = 0; i < n; i++) {
		struct rte_mbuf *m = pkts[i];
		int len = dp_pkt_udp_reply(rte_pktmbuf_mtod(m, uint8_t *), m->data_len, &info[i],
					   info[i].payload_len);
		if (len < 0) {
			rte_pktmbuf_free(m);
			continue;
		}
		m->data_len = (uint16_t)len;
		m->pkt_len = (uint32_t)len;
		tx[n_tx++] = m;
	}
	sent = rte_eth_tx_burst(port_id, (uint16_t)worker, tx, (uint16_t)n_tx);
	for (unsigned i = sent; i < n_tx; i++)
		rte_pktmbuf_free(tx[i]);
	__atomic_store_n(&sm->seen[worker], sm->seen[worker] + n, __ATOMIC_RELAXED);
	__atomic_store_n(&sm->echoed[worker], sm->echoed[worker] + sent, __ATOMIC_RELAXED);
	return n;
}

static void log_line(void *arg, enum dp_port_log_level lvl, const char *msg)
{
	static const char *const names[] = { "error", "warn", "info" };

	(void)arg;
	printf("port %s: %s\n", names[lvl], msg);
	fflush(stdout);
}

static int parse_ip(const char *s, uint32_t *ip, uint8_t *prefix)
{
	char buf[32], *slash;
	struct in_addr a;

	snprintf(buf, sizeof(buf), "%s", s);
	slash = strchr(buf, '/');
	if (slash) {
		*slash = '\0';
		if (!prefix)
			return -1;
		*prefix = (uint8_t)atoi(slash + 1);
	}
	if (inet_pton(AF_INET, buf, &a) != 1)
		return -1;
	*ip = ntohl(a.s_addr);
	return 0;
}

static void print_stats(struct dp_workers *w, const struct smoke *sm)
{
	struct dp_worker_stats t, s;

	memset(&t, 0, sizeof(t));
	for (unsigned i = 0; i < dp_workers_count(w); i++) {
		dp_worker_stats_read(w, i, &s);
		t.rx_pkts += s.rx_pkts;
		t.rx_bytes += s.rx_bytes;
		t.tx_pkts += s.tx_pkts;
		t.tx_bytes += s.tx_bytes;
		t.arp_replies += s.arp_replies;
		t.icmp_replies += s.icmp_replies;
		t.udp_pkts += s.udp_pkts;
		t.udp_bytes += s.udp_bytes;
		for (unsigned d = 0; d < DP_PKT_DROP_COUNT; d++)
			t.drops[d] += s.drops[d];
	}
	uint64_t seen = 0, echoed = 0;
	for (unsigned i = 0; i < DP_PORT_MAX_WORKERS; i++) {
		seen += __atomic_load_n(&sm->seen[i], __ATOMIC_RELAXED);
		echoed += __atomic_load_n(&sm->echoed[i], __ATOMIC_RELAXED);
	}
	printf("stat rx_pkts %llu\nstat rx_bytes %llu\nstat tx_pkts %llu\nstat tx_bytes %llu\n"
	       "stat arp_replies %llu\nstat icmp_replies %llu\nstat udp_pkts %llu\n"
	       "stat udp_bytes %llu\nstat callback_seen %llu\nstat callback_echoed %llu\n",
	       (unsigned long long)t.rx_pkts, (unsigned long long)t.rx_bytes,
	       (unsigned long long)t.tx_pkts, (unsigned long long)t.tx_bytes,
	       (unsigned long long)t.arp_replies, (unsigned long long)t.icmp_replies,
	       (unsigned long long)t.udp_pkts, (unsigned long long)t.udp_bytes,
	       (unsigned long long)seen, (unsigned long long)echoed);
	for (unsigned d = 1; d < DP_PKT_DROP_COUNT; d++)
		printf("stat drop_%s %llu\n", dp_pkt_drop_name(d), (unsigned long long)t.drops[d]);
	fflush(stdout);
}

int main(int argc, char **argv)
{
	struct dp_port_config cfg = { .log = log_line };
	struct dp_worker_config wcfg = { 0 };
	struct smoke *sm;
	struct dp_port *port = NULL;
	struct dp_workers *workers = NULL;
	double seconds = 60;
	struct timespec t0, now;
	int r;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!v)
			goto usage;
		i++;
		if (strcmp(a, "--netns") == 0)
			cfg.netns = v;
		else if (strcmp(a, "--nic") == 0 && cfg.n_nics < DP_PORT_MAX_NICS)
			cfg.nics[cfg.n_nics++] = v;
		else if (strcmp(a, "--ip") == 0 && parse_ip(v, &cfg.ip, &cfg.prefix) == 0)
			;
		else if (strcmp(a, "--kernel-ip") == 0 &&
			 parse_ip(v, &cfg.kernel_ip, &cfg.kernel_prefix) == 0)
			;
		else if (strcmp(a, "--workers") == 0)
			cfg.workers = (unsigned)atoi(v);
		else if (strcmp(a, "--udp-port") == 0)
			wcfg.udp_port = (uint16_t)atoi(v);
		else if (strcmp(a, "--seconds") == 0)
			seconds = atof(v);
		else if (strcmp(a, "--eal") == 0)
			cfg.eal_args = v;
		else
			goto usage;
	}

	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	sm = calloc(1, sizeof(*sm));
	if (!sm)
		return 1;
	r = dp_port_start(&cfg, &port);
	if (r < 0) {
		printf("dp_port_start failed: %s\n", strerror(-r));
		free(sm);
		return 1;
	}
	wcfg.port = port;
	wcfg.udp_fn = on_udp;
	wcfg.udp_arg = sm;
	r = dp_workers_start(&wcfg, &workers);
	if (r < 0) {
		printf("dp_workers_start failed: %s\n", strerror(-r));
		dp_port_stop(port);
		free(sm);
		return 1;
	}
	printf("ready\n");
	fflush(stdout);

	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (!stop_requested) {
		clock_gettime(CLOCK_MONOTONIC, &now);
		if ((double)(now.tv_sec - t0.tv_sec) + (now.tv_nsec - t0.tv_nsec) / 1e9 > seconds)
			break;
		usleep(20 * 1000);
	}
	dp_workers_stop(workers);
	print_stats(workers, sm);
	dp_workers_free(workers);
	dp_port_stop(port);
	free(sm);
	printf("stopped\n");
	return 0;

usage:
	fprintf(stderr, "usage: %s [--netns NAME] [--nic SPEC] [--ip A.B.C.D/N] "
		"[--kernel-ip A.B.C.D[/N]] [--workers N] [--udp-port P] [--seconds S] "
		"[--eal ARGS]\n", argv[0]);
	return 2;
}
