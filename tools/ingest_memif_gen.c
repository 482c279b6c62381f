/* SPDX-License-Identifier: MIT */
/*
 * ingest-memif-gen: a DPDK load generator for the ingest wire protocol that reaches the
 * appliance over a shared-memory packet interface (net_memif) instead of the kernel's network
 * stack (usage in docs/producer.md, beside ingest-producer).
 *
 * The records, batches, retries, acks and the report are prod_engine's, exactly as in
 * ingest-producer; this file is the transport. It brings up its own EAL (no shared files, a file
 * prefix of its own so that it never meets the appliance's, without huge pages when none are
 * free), one net_memif port in the client role on the appliance's memif socket (the appliance is
 * the server), and waits for the link. Each datagram the engine sends becomes one mbuf with
 * Ethernet, IPv4 and UDP headers built here (UDP checksum 0, which IPv4 allows and the
 * appliance accepts; the IPv4 header checksum is computed); acks are read by polling the rx
 * queue and checked with dp_pkt_parse() before prod_rx() sees their payload. The appliance
 * answers to the source addresses of each datagram, so neither side needs ARP.
 *
 * One thread, one lcore, busy polling: the generator is meant to own the core it runs on.
 *
 * Exit codes as ingest-producer: 0 every record acked, 1 some failed, 2 usage, 3 the port could
 * not be brought up, the link never came up, or the appliance never answered.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <sched.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <rte_eal.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>

#include "dp_frame.h"
#include "dp_pkt.h"
#include "prod_engine.h"

#define DEFAULT_SOCKET "/run/ingest-memif.sock"
#define DEFAULT_TO "198.18.0.1:4789"
#define DEFAULT_IP "198.18.0.2"
#define DEFAULT_SRC_PORT 4790
/* Ethernet, IPv4 without options, UDP. */
#define HDR_LEN (DP_PKT_ETH_HLEN + DP_PKT_IPV4_HLEN + DP_PKT_UDP_HLEN)
/* Mbufs: the tx ring, the rx ring, a burst in hand each way, and the pool's per-lcore cache. */
#define RING_DESC 1024u
#define POOL_MBUFS 8191u
#define POOL_CACHE 256u
/* EAL memory without huge pages: the pool is ~20 MiB, the rest is the EAL's own. */
#define NO_HUGE_MB "256"
#define EAL_ARGS_MAX 64

struct gopts {
	const char *socket;
	unsigned memif_id;
	const char *to;
	const char *ip;
	unsigned src_port;
	const char *eal;
	double link_timeout;
};

/* The memif port and the addresses every datagram carries. */
struct gport {
	uint16_t port_id;
	struct rte_mempool *pool;
	uint8_t src_mac[6];
	uint32_t src_ip, dst_ip;      /* network order */
	uint16_t src_port, dst_port;  /* host order */
	uint16_t ip_id;
};

/* ---- transport ------------------------------------------------------------------------------- */

/* Write the Ethernet, IPv4 and UDP headers of a datagram of plen payload bytes at h. */
static void put_headers(struct gport *g, uint8_t *h, size_t plen)
{
	static const uint8_t bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
	uint16_t v16;
	uint8_t *ip = h + DP_PKT_ETH_HLEN, *udp = ip + DP_PKT_IPV4_HLEN;

	/* The appliance takes any destination MAC on a point-to-point memif and answers to our
	 * source MAC: broadcast saves an ARP exchange. */
	memcpy(h, bcast, 6);
	memcpy(h + 6, g->src_mac, 6);
	v16 = htons(DP_PKT_ETHERTYPE_IPV4);
	memcpy(h + 12, &v16, 2);

	ip[0] = 0x45;
	ip[1] = 0;
	v16 = htons((uint16_t)(DP_PKT_IPV4_HLEN + DP_PKT_UDP_HLEN + plen));
	memcpy(ip + 2, &v16, 2);
	v16 = htons(g->ip_id++);
	memcpy(ip + 4, &v16, 2);
	v16 = htons(0x4000);  /* DF: a frame is never fragmented */
	memcpy(ip + 6, &v16, 2);
	ip[8] = DP_PKT_TTL;
	ip[9] = DP_PKT_PROTO_UDP;
	memset(ip + 10, 0, 2);
	memcpy(ip + 12, &g->src_ip, 4);
	memcpy(ip + 16, &g->dst_ip, 4);
	v16 = dp_pkt_cksum_fold(dp_pkt_cksum_add(0, ip, DP_PKT_IPV4_HLEN));
	memcpy(ip + 10, &v16, 2);

	v16 = htons(g->src_port);
	memcpy(udp, &v16, 2);
	v16 = htons(g->dst_port);
	memcpy(udp + 2, &v16, 2);
	v16 = htons((uint16_t)(DP_PKT_UDP_HLEN + plen));
	memcpy(udp + 4, &v16, 2);
	memset(udp + 6, 0, 2);
}

static int gport_send(void *arg, const struct iovec *iov, unsigned n)
{
	struct gport *g = arg;
	struct rte_mbuf *m[PROD_BURST];
	if (n > PROD_BURST)
		n = PROD_BURST;
	if (rte_pktmbuf_alloc_bulk(g->pool, m, n) != 0)
		return -ENOBUFS;
	for (unsigned i = 0; i < n; i++) {
		uint8_t *d = (uint8_t *)rte_pktmbuf_append(m[i], (uint16_t)(HDR_LEN + iov[i].iov_len));
		put_headers(g, d, iov[i].iov_len);
		memcpy(d + HDR_LEN, iov[i].iov_base, iov[i].iov_len);
	}
	uint16_t sent = rte_eth_tx_burst(g->port_id, 0, m, (uint16_t)n);
	if (sent < n)
		rte_pktmbuf_free_bulk(m + sent, n - sent);
	return sent;
}

/* One rx burst: every ack to our port goes to the engine. Returns the frames received. */
static unsigned gport_poll(struct gport *g, struct prod *p)
{
	struct rte_mbuf *m[PROD_BURST];
	uint16_t n = rte_eth_rx_burst(g->port_id, 0, m, PROD_BURST);
	if (n == 0)
		return 0;
	int64_t now = prod_now_ns();
	for (uint16_t i = 0; i < n; i++) {
		const uint8_t *d = rte_pktmbuf_mtod(m[i], const uint8_t *);
		struct dp_pkt_info info;
		/* Anything but an ack to our port (ARP, a stray frame) is ignored. */
		if (m[i]->nb_segs == 1 &&
		    dp_pkt_parse(d, m[i]->data_len, &info) == DP_PKT_DROP_NONE &&
		    info.kind == DP_PKT_UDP && info.dst_port == g->src_port &&
		    info.src_port == g->dst_port)
			prod_rx(p, d + info.payload_off, info.payload_len, now);
	}
	rte_pktmbuf_free_bulk(m, n);
	return n;
}

static int gport_wait(void *arg, struct prod *p, int64_t wait_ns, bool want_send, int input_fd)
{
	struct gport *g = arg;
	(void)input_fd;   /* records are generated */
	int64_t until = prod_now_ns() + wait_ns;
	do {
		if (gport_poll(g, p) > 0 || want_send)
			return 0;
	} while (prod_now_ns() < until);
	return 0;
}

/* ---- bring-up -------------------------------------------------------------------------------- */

static bool huge_pages_free(void)
{
	FILE *f = fopen("/proc/meminfo", "re");
	char line[128];
	long n = 0;
	if (!f)
		return false;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "HugePages_Free: %ld", &n) == 1)
			break;
	fclose(f);
	return n > 0;
}

/* EAL arguments: in memory, a file prefix of our own, the lcore we run on, the memif vdev,
 * --no-huge when no huge page is free, then --eal's words. strs holds the strings made here. */
static int eal_args(const struct gopts *go, char *strs, size_t strs_len, char *copy,
		    char **argv)
{
	int argc = 0, cpu = sched_getcpu();
	char *prefix = strs, *lcore = strs + 64, *vdev = strs + 128;
	if (strs_len < 128 + 512)
		return -EINVAL;
	snprintf(prefix, 64, "ingest-memif-gen-%ld", (long)getpid());
	snprintf(lcore, 64, "%d", cpu < 0 ? 0 : cpu);
	if ((size_t)snprintf(vdev, 512, "net_memif0,role=client,id=%u,socket=%s", go->memif_id,
			     go->socket) >= 512)
		return -ENAMETOOLONG;
	bool no_huge = !huge_pages_free() || (go->eal && strstr(go->eal, "--no-huge"));
	argv[argc++] = (char *)"ingest-memif-gen";
	/* No files under /var/run/dpdk: --in-memory needs huge pages, --no-shconf is its
	 * equivalent without them (as the appliance's dp_port does). */
	argv[argc++] = (char *)(no_huge ? "--no-shconf" : "--in-memory");
	argv[argc++] = (char *)"--no-telemetry";
	argv[argc++] = (char *)"--no-pci";
	argv[argc++] = (char *)"--file-prefix";
	argv[argc++] = prefix;
	argv[argc++] = (char *)"-l";
	argv[argc++] = lcore;
	argv[argc++] = (char *)"--vdev";
	argv[argc++] = vdev;
	argv[argc++] = (char *)"--log-level";
	argv[argc++] = (char *)"warning";
	if (no_huge && !(go->eal && strstr(go->eal, "--no-huge"))) {
		argv[argc++] = (char *)"--no-huge";
		argv[argc++] = (char *)"-m";
		argv[argc++] = (char *)NO_HUGE_MB;
	}
	if (go->eal) {
		for (char *save = NULL, *w = strtok_r(copy, " ", &save); w;
		     w = strtok_r(NULL, " ", &save)) {
			if (argc >= EAL_ARGS_MAX - 1)
				return -E2BIG;
			argv[argc++] = w;
		}
	}
	argv[argc] = NULL;
	return argc;
}

static int parse_ipv4(const char *s, uint32_t *out)
{
	struct in_addr a;
	if (inet_pton(AF_INET, s, &a) != 1)
		return -EINVAL;
	*out = a.s_addr;
	return 0;
}

/* Start the memif port and wait for the appliance to connect it. Returns 0 or a negative
 * errno (a message is printed). */
static int gport_start(struct gport *g, const struct gopts *go)
{
	struct rte_eth_conf conf;
	struct rte_eth_link link;
	struct rte_ether_addr mac;
	int rc;

	if (rte_eth_dev_count_avail() < 1) {
		prod_errmsg("no memif port: the EAL did not create net_memif0");
		return -ENODEV;
	}
	uint16_t pid;
	g->port_id = 0;
	RTE_ETH_FOREACH_DEV(pid) {
		g->port_id = pid;
		break;
	}
	g->pool = rte_pktmbuf_pool_create("gen_mbuf", POOL_MBUFS, POOL_CACHE, 0,
					  RTE_MBUF_DEFAULT_BUF_SIZE, (int)rte_socket_id());
	if (!g->pool) {
		prod_errmsg("mbuf pool: %s", rte_strerror(rte_errno));
		return -rte_errno;
	}
	memset(&conf, 0, sizeof(conf));
	rc = rte_eth_dev_configure(g->port_id, 1, 1, &conf);
	if (rc == 0)
		rc = rte_eth_rx_queue_setup(g->port_id, 0, RING_DESC,
					    (unsigned)rte_eth_dev_socket_id(g->port_id), NULL, g->pool);
	if (rc == 0)
		rc = rte_eth_tx_queue_setup(g->port_id, 0, RING_DESC,
					    (unsigned)rte_eth_dev_socket_id(g->port_id), NULL);
	if (rc < 0) {
		prod_errmsg("memif port setup: %s", strerror(-rc));
		return rc;
	}
	/* The client's start connects to the socket: until the appliance serves it, start fails;
	 * try again until the link timeout, so that the two may be started in either order. */
	int64_t deadline = prod_now_ns() + (int64_t)(go->link_timeout * 1e9);
	while ((rc = rte_eth_dev_start(g->port_id)) < 0) {
		if (prod_now_ns() >= deadline) {
			prod_errmsg("memif link to %s did not come up within %g s (%s): is the "
				    "appliance serving it (role=server)?", go->socket, go->link_timeout,
				    strerror(-rc));
			return -ETIMEDOUT;
		}
		usleep(100000);
	}
	if (rte_eth_macaddr_get(g->port_id, &mac) == 0)
		memcpy(g->src_mac, mac.addr_bytes, 6);
	for (;;) {
		memset(&link, 0, sizeof(link));
		rte_eth_link_get_nowait(g->port_id, &link);
		if (link.link_status == RTE_ETH_LINK_UP)
			return 0;
		if (prod_now_ns() >= deadline) {
			prod_errmsg("memif link to %s did not come up within %g s: is the appliance "
				    "serving it (role=server)?", go->socket, go->link_timeout);
			return -ETIMEDOUT;
		}
		usleep(10000);
	}
}

/* ---- options --------------------------------------------------------------------------------- */

static void usage(FILE *f)
{
	fputs("usage: ingest-memif-gen --stream NAME --count N [options]\n"
	      "Generates records and sends them to an ingest appliance over net_memif (DPDK),\n"
	      "waiting for durable acks.\n"
	      "\n"
	      "memif:\n"
	      "  --socket PATH       the appliance's memif socket (default " DEFAULT_SOCKET ")\n"
	      "  --memif-id N        memif interface id on that socket (default 0)\n"
	      "  --to A.B.C.D:PORT   the appliance's address and ingest port (default " DEFAULT_TO
	      ")\n"
	      "  --ip A.B.C.D        this generator's address (default " DEFAULT_IP ")\n"
	      "  --src-port P        this generator's UDP port (default 4790)\n"
	      "  --eal \"ARGS\"        extra EAL arguments (e.g. \"-l 1\"; --no-huge is added\n"
	      "                      when no huge page is free)\n"
	      "  --link-timeout S    wait this long for the appliance to connect (default 10)\n",
	      f);
	prod_usage_common(f);
}

enum { OPT_SOCKET = PROD_OPT_LAST + 1, OPT_MEMIF_ID, OPT_TO, OPT_IP, OPT_SRC_PORT, OPT_EAL,
       OPT_LINK_TIMEOUT };

static int parse_unsigned(const char *s, unsigned long lo, unsigned long hi, unsigned *out)
{
	char *end;
	errno = 0;
	if (!s[0] || s[0] == '-')
		return -EINVAL;
	unsigned long v = strtoul(s, &end, 0);
	if (errno || *end || v < lo || v > hi)
		return -EINVAL;
	*out = (unsigned)v;
	return 0;
}

/* Returns 0, 1 for --help, or -EINVAL (message printed). */
static int parse_opts(int argc, char **argv, struct gopts *go, struct prod_opts *o)
{
	static const struct option lo[] = {
		PROD_OPTIONS,
		{ "socket", required_argument, NULL, OPT_SOCKET },
		{ "memif-id", required_argument, NULL, OPT_MEMIF_ID },
		{ "to", required_argument, NULL, OPT_TO },
		{ "ip", required_argument, NULL, OPT_IP },
		{ "src-port", required_argument, NULL, OPT_SRC_PORT },
		{ "eal", required_argument, NULL, OPT_EAL },
		{ "link-timeout", required_argument, NULL, OPT_LINK_TIMEOUT },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	*go = (struct gopts){ .socket = DEFAULT_SOCKET, .to = DEFAULT_TO, .ip = DEFAULT_IP,
			      .src_port = DEFAULT_SRC_PORT, .link_timeout = 10 };
	prod_opts_default(o, "ingest-memif-gen");
	int ch, rc;
	while ((ch = getopt_long(argc, argv, ":h", lo, NULL)) != -1) {
		rc = 0;
		switch (ch) {
		case 'h':
			return 1;
		case OPT_SOCKET: go->socket = optarg; break;
		case OPT_MEMIF_ID: rc = parse_unsigned(optarg, 0, UINT32_MAX, &go->memif_id); break;
		case OPT_TO: go->to = optarg; break;
		case OPT_IP: go->ip = optarg; break;
		case OPT_SRC_PORT: rc = parse_unsigned(optarg, 1, 65535, &go->src_port); break;
		case OPT_EAL: go->eal = optarg; break;
		case OPT_LINK_TIMEOUT: {
			char *end;
			go->link_timeout = strtod(optarg, &end);
			if (*end || !(go->link_timeout > 0) || go->link_timeout > 3600)
				rc = -EINVAL;
			break;
		}
		case ':':
			prod_errmsg("option %s needs a value", argv[optind - 1]);
			return -EINVAL;
		case '?':
			prod_errmsg("unknown option %s", argv[optind - 1]);
			return -EINVAL;
		default:
			if (prod_opt_apply(o, ch, optarg) < 0)
				return -EINVAL;
		}
		if (rc < 0) {
			prod_errmsg("%s: bad value '%s'", argv[optind - 2], optarg);
			return -EINVAL;
		}
	}
	if (optind < argc) {
		prod_errmsg("unexpected argument '%s'", argv[optind]);
		return -EINVAL;
	}
	if (prod_opts_check(o) < 0)
		return -EINVAL;
	if (!o->generate) {
		prod_errmsg("records are generated: give --count (0 with --duration)");
		return -EINVAL;
	}
	return 0;
}

/* "A.B.C.D:PORT" into network-order address and host-order port. */
static int parse_to(const char *to, uint32_t *ip, uint16_t *port)
{
	char buf[32];
	const char *colon = strrchr(to, ':');
	unsigned p;
	if (!colon || (size_t)(colon - to) >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, to, (size_t)(colon - to));
	buf[colon - to] = '\0';
	if (parse_ipv4(buf, ip) < 0 || parse_unsigned(colon + 1, 1, 65535, &p) < 0)
		return -EINVAL;
	*port = (uint16_t)p;
	return 0;
}

int main(int argc, char **argv)
{
	struct gopts go;
	struct prod_opts o;
	struct gport g = { 0 };
	struct prod *p = NULL;
	char strs[1024], *eal_copy = NULL, *eargv[EAL_ARGS_MAX];
	int rc, exit_rc = PROD_RC_NETWORK;

	rc = parse_opts(argc, argv, &go, &o);
	if (rc == 1) {
		usage(stdout);
		return PROD_RC_OK;
	}
	if (rc == 0 && parse_to(go.to, &g.dst_ip, &g.dst_port) < 0) {
		prod_errmsg("--to: expected A.B.C.D:PORT, got '%s'", go.to);
		rc = -EINVAL;
	}
	if (rc == 0 && parse_ipv4(go.ip, &g.src_ip) < 0) {
		prod_errmsg("--ip: expected A.B.C.D, got '%s'", go.ip);
		rc = -EINVAL;
	}
	if (rc < 0) {
		fputs("try 'ingest-memif-gen --help'\n", stderr);
		return PROD_RC_USAGE;
	}
	g.src_port = (uint16_t)go.src_port;

	eal_copy = strdup(go.eal ? go.eal : "");
	if (!eal_copy)
		return PROD_RC_FAILED;
	int eargc = eal_args(&go, strs, sizeof(strs), eal_copy, eargv);
	if (eargc < 0) {
		prod_errmsg("EAL arguments: %s", strerror(-eargc));
		free(eal_copy);
		return PROD_RC_USAGE;
	}
	if (rte_eal_init(eargc, eargv) < 0) {
		prod_errmsg("EAL init: %s", rte_strerror(rte_errno));
		free(eal_copy);
		return PROD_RC_NETWORK;
	}
	if (gport_start(&g, &go) < 0)
		goto out_eal;

	/* A frame is one datagram: the MTU less the IPv4 and UDP headers, and it must fit one
	 * mbuf with the Ethernet header (the appliance refuses chained mbufs). */
	size_t frame_cap = o.mtu - DP_PKT_IPV4_HLEN - DP_PKT_UDP_HLEN;
	size_t room = rte_pktmbuf_data_room_size(g.pool) - RTE_PKTMBUF_HEADROOM - HDR_LEN;
	if (frame_cap > room)
		frame_cap = room;
	rc = prod_new(&o, frame_cap, &p);
	if (rc < 0) {
		exit_rc = rc == -ENOMEM ? PROD_RC_FAILED : PROD_RC_USAGE;
		goto out_port;
	}
	prod_signals_install();
	const struct prod_io io = { .send = gport_send, .wait = gport_wait, .arg = &g,
				    .peer = go.to };
	rc = prod_run(p, &io);
	exit_rc = prod_finish(p, rc);
	prod_free(p);
out_port:
	rte_eth_dev_stop(g.port_id);
	rte_eth_dev_close(g.port_id);
	rte_mempool_free(g.pool);
out_eal:
	rte_eal_cleanup();
	free(eal_copy);
	return exit_rc;
}
