/* SPDX-License-Identifier: MIT */
/*
 * EAL and NIC bring-up (contract in dp_port.h). The order matters for namespaces: EAL init
 * first, in the caller's namespace, so that the EAL's threads stay there; then, inside the
 * requested namespace, each virtual device is probed and every NIC is configured, given its
 * queues and started, and the kernel side of each TAP is addressed; then back.
 */
#include "dp_port.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <rte_dev.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>

#define MAX_ARGS 64
/* Packets a worker holds outside the rings at once: one rx burst and one tx burst. */
#define BURST_SLACK 64

struct eal_args {
	int argc;
	char *argv[MAX_ARGS + 1];
	char *eal_argv[MAX_ARGS + 1];   /* the copy handed to the EAL, whose getopt permutes it */
};

__attribute__((format(printf, 3, 4)))
static void plog(const struct dp_port_config *cfg, enum dp_port_log_level lvl, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	if (!cfg->log)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	cfg->log(cfg->log_arg, lvl, msg);
}

char *dp_port_ip_str(uint32_t ip, char *buf)
{
	snprintf(buf, 16, "%u.%u.%u.%u", ip >> 24, (ip >> 16) & 0xff, (ip >> 8) & 0xff, ip & 0xff);
	return buf;
}

static int args_add(struct eal_args *a, const char *s)
{
	if (a->argc >= MAX_ARGS)
		return -E2BIG;
	a->argv[a->argc] = strdup(s);
	if (!a->argv[a->argc])
		return -ENOMEM;
	a->argc++;
	return 0;
}

static void args_free(struct eal_args *a)
{
	for (int i = 0; i < a->argc; i++)
		free(a->argv[i]);
	a->argc = 0;
}

/* "0000:3b:00.0" or "3b:00.0" (domain omitted): a PCI NIC for the EAL allowlist. */
static int is_pci(const char *s)
{
	static const char full[] = "xxxx:xx:xx.x", shrt[] = "xx:xx.x";
	const char *pat = strlen(s) >= sizeof(full) - 1 && s[4] == ':' ? full : shrt;

	for (size_t i = 0; pat[i]; i++) {
		if (pat[i] == 'x' ? !isxdigit((unsigned char)s[i]) : s[i] != pat[i])
			return 0;
	}
	return 1;
}

/* HugePages_Free from /proc/meminfo; 0 when it cannot be read. */
static long free_hugepages(void)
{
	char line[128];
	long n = 0;
	FILE *f = fopen("/proc/meminfo", "r");

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "HugePages_Free: %ld", &n) == 1)
			break;
	fclose(f);
	return n;
}

/* The default lcore map: lcore i on the i-th CPU we may run on, wrapping when there are fewer. */
static int default_lcores(unsigned workers, char *buf, size_t len)
{
	cpu_set_t set;
	int cpus[CPU_SETSIZE], n = 0;
	size_t off = 0;

	if (sched_getaffinity(0, sizeof(set), &set) < 0)
		return -errno;
	for (int c = 0; c < CPU_SETSIZE; c++)
		if (CPU_ISSET(c, &set))
			cpus[n++] = c;
	if (n == 0)
		return -EINVAL;
	for (unsigned i = 0; i <= workers; i++) {
		int w = snprintf(buf + off, len - off, "%s%u@%d", i ? "," : "", i, cpus[i % (unsigned)n]);
		if (w < 0 || (size_t)w >= len - off)
			return -E2BIG;
		off += (size_t)w;
	}
	return 0;
}

static int build_args(const struct dp_port_config *cfg, const char *const *nics, unsigned n_nics,
		      unsigned workers, struct eal_args *a, uint8_t *no_huge)
{
	char lcores[1024], *extra = NULL, *tok, *save = NULL;
	int r, any_pci = 0, has_mem = 0;

	if ((r = args_add(a, "ingestd")) < 0)
		return r;
	if (cfg->lcores) {
		snprintf(lcores, sizeof(lcores), "%s", cfg->lcores);
	} else if ((r = default_lcores(workers, lcores, sizeof(lcores))) < 0) {
		return r;
	}
	if ((r = args_add(a, "--lcores")) < 0 || (r = args_add(a, lcores)) < 0 ||
	    (r = args_add(a, "--no-telemetry")) < 0)
		return r;
	for (unsigned i = 0; i < n_nics; i++) {
		if (!is_pci(nics[i]))
			continue;
		any_pci = 1;
		if ((r = args_add(a, "-a")) < 0 || (r = args_add(a, nics[i])) < 0)
			return r;
	}
	/* Without a PCI NIC named, the PCI bus has nothing of ours: do not scan or claim devices. */
	if (!any_pci && (r = args_add(a, "--no-pci")) < 0)
		return r;
	if (cfg->eal_args) {
		extra = strdup(cfg->eal_args);
		if (!extra)
			return -ENOMEM;
		for (tok = strtok_r(extra, " \t", &save); tok; tok = strtok_r(NULL, " \t", &save)) {
			if (strcmp(tok, "-m") == 0 || strncmp(tok, "--socket-mem", 12) == 0)
				has_mem = 1;
			if (strcmp(tok, "--no-huge") == 0)
				*no_huge = 1;
		}
	}
	if (!*no_huge && (cfg->huge == DP_PORT_HUGE_NEVER ||
			  (cfg->huge == DP_PORT_HUGE_AUTO && free_hugepages() <= 0))) {
		*no_huge = 1;
		plog(cfg, DP_PORT_LOG_INFO, "no free huge pages in /proc/meminfo: running the EAL with "
		     "--no-huge (%d MiB of ordinary memory; reserve huge pages for production)",
		     DP_PORT_NO_HUGE_MB);
		if ((r = args_add(a, "--no-huge")) < 0)
			goto out;
		if (!has_mem) {
			snprintf(lcores, sizeof(lcores), "%d", DP_PORT_NO_HUGE_MB);
			if ((r = args_add(a, "-m")) < 0 || (r = args_add(a, lcores)) < 0)
				goto out;
		}
	}
	/*
	 * No files under /var/run/dpdk, so that several instances and tests coexist. --in-memory
	 * refuses --no-huge (which implies legacy memory); --no-shconf is its part that matters then.
	 */
	if ((r = args_add(a, *no_huge ? "--no-shconf" : "--in-memory")) < 0)
		goto out;
	if (extra) {
		/* The tokens again, now as arguments: strtok_r left NULs between them. */
		size_t len = strlen(cfg->eal_args);
		for (size_t i = 0; i < len; i++) {
			if (extra[i] && (i == 0 || !extra[i - 1]) && (r = args_add(a, extra + i)) < 0)
				goto out;
		}
	}
	r = 0;
out:
	free(extra);
	return r;
}

/* The ethdev name a NIC spec produces: the vdev name before its options, or the PCI address. */
static void spec_name(const char *spec, char *buf, size_t len)
{
	size_t n = strcspn(spec, ",");

	if (is_pci(spec) && spec[4] != ':')
		snprintf(buf, len, "0000:%.*s", (int)n, spec);
	else
		snprintf(buf, len, "%.*s", (int)n, spec);
}

/* Give the kernel side of a TAP an address and bring it up, in the current namespace. */
static int kernel_side_config(const char *ifname, uint32_t ip, uint8_t prefix)
{
	struct ifreq ifr;
	struct sockaddr_in *sin = (struct sockaddr_in *)&ifr.ifr_addr;
	int fd, r = 0;

	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	sin->sin_family = AF_INET;
	sin->sin_addr.s_addr = htonl(ip);
	if (ioctl(fd, SIOCSIFADDR, &ifr) < 0)
		goto fail;
	sin->sin_addr.s_addr = htonl(prefix ? ~0u << (32 - prefix) : 0);
	if (ioctl(fd, SIOCSIFNETMASK, &ifr) < 0)
		goto fail;
	if (ioctl(fd, SIOCGIFFLAGS, &ifr) < 0)
		goto fail;
	ifr.ifr_flags |= IFF_UP;
	if (ioctl(fd, SIOCSIFFLAGS, &ifr) < 0)
		goto fail;
	goto out;
fail:
	r = -errno;
out:
	close(fd);
	return r;
}

static int nic_setup(const struct dp_port_config *cfg, struct dp_port *p, struct dp_port_nic *nic)
{
	static const struct rte_eth_conf base_conf = { .rxmode = { .mq_mode = RTE_ETH_MQ_RX_NONE } };
	const uint64_t want_rss = RTE_ETH_RSS_IPV4 | RTE_ETH_RSS_NONFRAG_IPV4_UDP;
	struct rte_eth_conf conf = base_conf;
	struct rte_eth_dev_info info;
	struct rte_ether_addr mac;
	uint16_t q, id = nic->port_id;
	int r;

	if ((r = rte_eth_dev_info_get(id, &info)) < 0) {
		plog(cfg, DP_PORT_LOG_ERR, "%s: reading device info failed: %s", nic->name, strerror(-r));
		return r;
	}
	snprintf(nic->driver, sizeof(nic->driver), "%s", info.driver_name);
	if (info.max_rx_queues < p->workers || info.max_tx_queues < p->workers) {
		plog(cfg, DP_PORT_LOG_ERR, "%s: %u workers need %u rx and tx queues, the device has "
		     "%u and %u: use fewer workers", nic->name, p->workers, p->workers,
		     info.max_rx_queues, info.max_tx_queues);
		return -EINVAL;
	}
	nic->queues = (uint16_t)p->workers;
	if (nic->queues > 1 && (info.flow_type_rss_offloads & want_rss)) {
		conf.rxmode.mq_mode = RTE_ETH_MQ_RX_RSS;
		conf.rx_adv_conf.rss_conf.rss_hf = info.flow_type_rss_offloads & want_rss;
		nic->rss = 1;
	} else if (nic->queues > 1) {
		plog(cfg, DP_PORT_LOG_WARN, "%s: no RSS over IPv4/UDP on %s: how flows spread over "
		     "its %u queues is up to the device", nic->name, nic->driver, nic->queues);
	}
	if ((r = rte_eth_dev_configure(id, nic->queues, nic->queues, &conf)) < 0) {
		plog(cfg, DP_PORT_LOG_ERR, "%s: configure failed: %s", nic->name, strerror(-r));
		return r;
	}
	nic->rx_desc = cfg->rx_desc ? cfg->rx_desc : DP_PORT_DEFAULT_DESC;
	nic->tx_desc = cfg->tx_desc ? cfg->tx_desc : DP_PORT_DEFAULT_DESC;
	if ((r = rte_eth_dev_adjust_nb_rx_tx_desc(id, &nic->rx_desc, &nic->tx_desc)) < 0) {
		plog(cfg, DP_PORT_LOG_ERR, "%s: descriptor counts refused: %s", nic->name, strerror(-r));
		return r;
	}
	for (q = 0; q < nic->queues; q++) {
		unsigned socket = rte_lcore_to_socket_id(p->worker_lcores[q]);
		if ((r = rte_eth_rx_queue_setup(id, q, nic->rx_desc, socket, NULL, p->pool)) < 0 ||
		    (r = rte_eth_tx_queue_setup(id, q, nic->tx_desc, socket, NULL)) < 0) {
			plog(cfg, DP_PORT_LOG_ERR, "%s: queue %u setup failed: %s", nic->name, q,
			     strerror(-r));
			return r;
		}
	}
	if ((r = rte_eth_dev_start(id)) < 0) {
		plog(cfg, DP_PORT_LOG_ERR, "%s: start failed: %s", nic->name, strerror(-r));
		return r;
	}
	/* Not every PMD can set the link (most virtual ones are always up): that is not an error. */
	r = rte_eth_dev_set_link_up(id);
	if (r < 0 && r != -ENOTSUP)
		plog(cfg, DP_PORT_LOG_WARN, "%s: link up failed: %s", nic->name, strerror(-r));
	if ((r = rte_eth_macaddr_get(id, &mac)) < 0)
		return r;
	memcpy(nic->mac, mac.addr_bytes, 6);
	if (strcmp(nic->driver, "net_tap") == 0 && info.if_index &&
	    !if_indextoname(info.if_index, nic->ifname))
		nic->ifname[0] = '\0';
	return 0;
}

static int enter_netns(const struct dp_port_config *cfg, int *home_fd)
{
	char path[128];
	int fd;

	*home_fd = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	if (*home_fd < 0)
		return -errno;
	snprintf(path, sizeof(path), "/run/netns/%s", cfg->netns);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		int r = -errno;
		plog(cfg, DP_PORT_LOG_ERR, "network namespace %s: %s (create it with ip netns add)",
		     path, strerror(-r));
		close(*home_fd);
		*home_fd = -1;
		return r;
	}
	if (setns(fd, CLONE_NEWNET) < 0) {
		int r = -errno;
		plog(cfg, DP_PORT_LOG_ERR, "entering network namespace %s: %s", path, strerror(-r));
		close(fd);
		close(*home_fd);
		*home_fd = -1;
		return r;
	}
	close(fd);
	return 0;
}

static int leave_netns(int home_fd)
{
	int r = 0;

	if (home_fd < 0)
		return 0;
	if (setns(home_fd, CLONE_NEWNET) < 0)
		r = -errno;
	close(home_fd);
	return r;
}

/* Probe the virtual devices, set up every NIC, address the TAPs: the part inside the netns. */
static int nics_up(const struct dp_port_config *cfg, struct dp_port *p, const char *const *nics)
{
	char ipbuf[16];
	unsigned i;
	int r;

	for (i = 0; i < p->n_nics; i++) {
		struct dp_port_nic *nic = &p->nics[i];
		spec_name(nics[i], nic->name, sizeof(nic->name));
		if (!is_pci(nics[i]) && (r = rte_dev_probe(nics[i])) < 0) {
			plog(cfg, DP_PORT_LOG_ERR, "creating device %s failed: %s", nics[i],
			     strerror(-r));
			return r;
		}
		if ((r = rte_eth_dev_get_port_by_name(nic->name, &nic->port_id)) < 0) {
			plog(cfg, DP_PORT_LOG_ERR, "NIC %s: no such DPDK port (is it bound to a DPDK "
			     "driver, or is the device string right?)", nics[i]);
			return r;
		}
	}
	for (i = 0; i < p->n_nics; i++) {
		struct dp_port_nic *nic = &p->nics[i];
		if ((r = nic_setup(cfg, p, nic)) < 0)
			return r;
		if (!cfg->kernel_ip || strcmp(nic->driver, "net_tap") != 0)
			continue;
		if (!nic->ifname[0]) {
			plog(cfg, DP_PORT_LOG_ERR, "%s: kernel interface name unknown", nic->name);
			return -EINVAL;
		}
		r = kernel_side_config(nic->ifname, cfg->kernel_ip,
				       cfg->kernel_prefix ? cfg->kernel_prefix : p->prefix);
		if (r < 0) {
			plog(cfg, DP_PORT_LOG_ERR, "%s: setting %s on %s failed: %s", nic->name,
			     dp_port_ip_str(cfg->kernel_ip, ipbuf), nic->ifname, strerror(-r));
			return r;
		}
	}
	return 0;
}

static void report(const struct dp_port_config *cfg, const struct dp_port *p)
{
	char ipbuf[16];

	plog(cfg, DP_PORT_LOG_INFO, "dataplane %s/%u, %u worker(s)%s%s%s", dp_port_ip_str(p->ip, ipbuf),
	     p->prefix, p->workers, p->no_huge ? ", no huge pages" : "",
	     p->netns[0] ? ", netns " : "", p->netns);
	for (unsigned i = 0; i < p->n_nics; i++) {
		const struct dp_port_nic *n = &p->nics[i];
		plog(cfg, DP_PORT_LOG_INFO, "port %u %s (%s%s%s): mac %02x:%02x:%02x:%02x:%02x:%02x, "
		     "%u rx/tx queue(s) of %u/%u descriptors%s", n->port_id, n->name, n->driver,
		     n->ifname[0] ? ", kernel interface " : "", n->ifname, n->mac[0], n->mac[1],
		     n->mac[2], n->mac[3], n->mac[4], n->mac[5], n->queues, n->rx_desc, n->tx_desc,
		     n->rss ? ", RSS on IPv4/UDP" : "");
	}
}

int dp_port_start(const struct dp_port_config *cfg, struct dp_port **ret)
{
	static const char *const default_nics[] = { DP_PORT_DEFAULT_NIC };
	const char *const *nics = cfg->n_nics ? cfg->nics : default_nics;
	unsigned n_nics = cfg->n_nics ? cfg->n_nics : 1, lcore, n_mbufs;
	struct eal_args args = { 0 };
	struct dp_port *p;
	cpu_set_t saved;
	uint16_t port_id;
	int r, home = -1, have_saved;

	if (cfg->n_nics > DP_PORT_MAX_NICS || cfg->workers > DP_PORT_MAX_WORKERS ||
	    (cfg->prefix > 32) || (cfg->kernel_prefix > 32) ||
	    (cfg->netns && strlen(cfg->netns) >= sizeof(p->netns)))
		return -EINVAL;
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->n_nics = n_nics;
	p->ip = cfg->ip ? cfg->ip : DP_PORT_DEFAULT_IP;
	p->prefix = cfg->prefix ? cfg->prefix : DP_PORT_DEFAULT_PREFIX;
	if (cfg->netns)
		snprintf(p->netns, sizeof(p->netns), "%s", cfg->netns);

	r = build_args(cfg, nics, n_nics, cfg->workers ? cfg->workers : 1, &args, &p->no_huge);
	if (r < 0)
		goto free_args;
	have_saved = sched_getaffinity(0, sizeof(saved), &saved) == 0;
	memcpy(args.eal_argv, args.argv, sizeof(args.argv));
	if (rte_eal_init(args.argc, args.eal_argv) < 0) {
		r = rte_errno ? -rte_errno : -EINVAL;
		plog(cfg, DP_PORT_LOG_ERR, "EAL init failed: %s", rte_strerror(-r));
		goto free_args;
	}
	if (have_saved)
		sched_setaffinity(0, sizeof(saved), &saved);

	RTE_LCORE_FOREACH_WORKER(lcore) {
		if (p->workers == DP_PORT_MAX_WORKERS) {
			r = -EINVAL;
			plog(cfg, DP_PORT_LOG_ERR, "more than %d worker lcores", DP_PORT_MAX_WORKERS);
			goto eal_cleanup;
		}
		p->worker_lcores[p->workers++] = lcore;
	}
	if (p->workers == 0) {
		r = -EINVAL;
		plog(cfg, DP_PORT_LOG_ERR, "no worker lcore: the lcore list must name the main lcore "
		     "and at least one more");
		goto eal_cleanup;
	}

	/* Every descriptor can hold an mbuf, and every in-place reply in a tx backlog, plus one rx
	 * and one tx burst and a full cache per lcore. */
	n_mbufs = n_nics * p->workers * ((cfg->rx_desc ? cfg->rx_desc : DP_PORT_DEFAULT_DESC) +
					  (cfg->tx_desc ? cfg->tx_desc : DP_PORT_DEFAULT_DESC) +
					  DP_PORT_TX_BACKLOG) +
		  (p->workers + 1) * (BURST_SLACK + DP_PORT_MBUF_CACHE);
	p->pool = rte_pktmbuf_pool_create("dp_mbuf", n_mbufs, DP_PORT_MBUF_CACHE, 0,
					  RTE_MBUF_DEFAULT_BUF_SIZE, (int)rte_socket_id());
	if (!p->pool) {
		r = -rte_errno;
		plog(cfg, DP_PORT_LOG_ERR, "mbuf pool of %u failed: %s", n_mbufs, rte_strerror(-r));
		goto eal_cleanup;
	}
	/* Built replies: a tx ring and a backlog of them per worker and NIC. */
	p->tx_backlog = cfg->tx_backlog ? cfg->tx_backlog : DP_PORT_TX_BACKLOG;
	if (p->tx_backlog < 32)
		p->tx_backlog = 32;
	if (p->tx_backlog > (1u << 20))
		p->tx_backlog = 1u << 20;
	n_mbufs = n_nics * p->workers * ((cfg->tx_desc ? cfg->tx_desc : DP_PORT_DEFAULT_DESC) +
					  p->tx_backlog) +
		  (p->workers + 1) * (BURST_SLACK + DP_PORT_MBUF_CACHE);
	p->ack_pool = rte_pktmbuf_pool_create("dp_ack", n_mbufs, DP_PORT_MBUF_CACHE, 0,
					      RTE_PKTMBUF_HEADROOM + DP_PORT_ACK_ROOM,
					      (int)rte_socket_id());
	if (!p->ack_pool) {
		r = -rte_errno;
		plog(cfg, DP_PORT_LOG_ERR, "ack mbuf pool of %u failed: %s", n_mbufs,
		     rte_strerror(-r));
		goto pool_free;
	}

	if (cfg->netns && (r = enter_netns(cfg, &home)) < 0)
		goto pool_free;
	r = nics_up(cfg, p, nics);
	if (leave_netns(home) < 0) {
		/* The thread would go on in the wrong namespace: nothing it does after is safe. */
		plog(cfg, DP_PORT_LOG_ERR, "returning from network namespace %s failed", cfg->netns);
		abort();
	}
	if (r < 0)
		goto ports_close;
	report(cfg, p);
	args_free(&args);
	*ret = p;
	return 0;

ports_close:
	/* Every ethdev in this process is one of ours, probed or half set up by nics_up(). */
	RTE_ETH_FOREACH_DEV(port_id) {
		rte_eth_dev_stop(port_id);
		rte_eth_dev_close(port_id);
	}
pool_free:
	rte_mempool_free(p->ack_pool);
	rte_mempool_free(p->pool);
eal_cleanup:
	rte_eal_cleanup();
free_args:
	args_free(&args);
	free(p);
	return r;
}

unsigned dp_port_io_cpus(const struct dp_port *p, cpu_set_t *out)
{
	CPU_ZERO(out);
	if (sched_getaffinity(0, sizeof(*out), out) < 0)
		return 0;
	for (unsigned i = 0; i < p->workers; i++) {
		rte_cpuset_t w = rte_lcore_cpuset(p->worker_lcores[i]);
		for (int cpu = 0; cpu < CPU_SETSIZE; cpu++)
			if (CPU_ISSET(cpu, &w))
				CPU_CLR(cpu, out);
	}
	return (unsigned)CPU_COUNT(out);
}

void dp_port_stop(struct dp_port *p)
{
	if (!p)
		return;
	for (unsigned i = 0; i < p->n_nics; i++) {
		rte_eth_dev_stop(p->nics[i].port_id);
		rte_eth_dev_close(p->nics[i].port_id);
	}
	rte_mempool_free(p->ack_pool);
	rte_mempool_free(p->pool);
	rte_eal_cleanup();
	free(p);
}
