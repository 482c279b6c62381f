/* SPDX-License-Identifier: MIT */
/*
 * dp_port: DPDK's EAL and the NICs the dataplane receives on.
 *
 * What it owns. One call brings up the EAL from a config struct and sets up every NIC named in
 * it: a PCI address ("0000:3b:00.0", passed to the EAL's allowlist) or any virtual device string
 * ("net_af_packet0,iface=veth0", "net_memif0,role=server,socket=/run/x.sock",
 * "net_pcap0,rx_pcap=f.pcap", ...), hot-plugged after EAL init with rte_dev_probe(). With no NIC
 * named, DP_PORT_DEFAULT_NIC: a TAP interface the kernel sees, so the appliance runs on any
 * Linux box as root. Each NIC gets one rx and one tx queue per worker, RSS over IPv4/UDP when it
 * has more than one queue and supports it, one shared mbuf pool, and is started with its link
 * up. The EAL runs --in-memory, or --no-shconf without huge pages (no files under
 * /var/run/dpdk, so several instances and tests coexist), and without telemetry; --no-huge is
 * added (and logged) when /proc/meminfo shows no free huge pages.
 *
 * Network namespaces. With cfg.netns set, every virtual device is created, configured and
 * started by the calling thread while it has setns()'d into /run/netns/NAME, and the thread
 * returns to its own namespace before dp_port_start() returns. This is what makes a net_tap
 * device live in that namespace: the tap PMD opens /dev/net/tun (the interface is created in the
 * opener's namespace) and its ioctl and netlink sockets at probe time, and opens one more tun
 * queue per rx/tx queue at queue setup, so all of that must happen inside. Later ethdev calls
 * (link status, stop, close) use those sockets and work from any thread. The EAL's own threads
 * (lcore workers, interrupt thread) are created before and stay in the caller's namespace.
 * PCI NICs are not affected by the namespace. The same holds for net_af_packet: its socket binds
 * to the interface named in the namespace it was created in. (A veth's kernel peer may send UDP
 * with the checksum left to an offload that never happens; workers drop those as bad checksums
 * until the peer's tx checksumming is turned off, ethtool -K PEER tx off. TAPs get complete
 * checksums.)
 *
 * Threads. dp_port_start() and dp_port_stop() are called once each, from the main thread: the
 * EAL cannot be initialised twice in one process. The EAL pins the calling thread to the main
 * lcore; dp_port_start() restores the thread's previous CPU affinity, because the main lcore
 * runs no packet loop and the control plane it goes on to start should not share one CPU.
 * struct dp_port is read-only after dp_port_start() and may be read from any thread.
 */
#ifndef DP_PORT_H
#define DP_PORT_H

#include <net/if.h>
#include <sched.h>
#include <stdint.h>

struct rte_mempool;

/* The embedded default NIC: a TAP interface named ingest0. */
#define DP_PORT_DEFAULT_NIC "net_tap0,iface=ingest0"
/* The default appliance address, from the benchmarking range 198.18.0.0/15 (RFC 2544). */
#define DP_PORT_DEFAULT_IP ((198u << 24) | (18u << 16) | 1u)
#define DP_PORT_DEFAULT_PREFIX 24

#define DP_PORT_MAX_NICS 8
#define DP_PORT_MAX_WORKERS 64
/* Descriptors per queue when the config leaves them 0 (the PMD may round them). */
#define DP_PORT_DEFAULT_DESC 1024
/* Mbufs each lcore keeps in its mempool cache. */
#define DP_PORT_MBUF_CACHE 256
/* Replies a worker may hold per NIC while that NIC's tx queue is full (dp_nic's acks), so that a
 * burst of acks released by one flush is sent late rather than lost (default of
 * dp_port_config.tx_backlog). Of them, up to DP_PORT_TX_BACKLOG may be received mbufs turned
 * into replies (the packet pool counts them); the rest come from the ack pool. */
#define DP_PORT_TX_BACKLOG 1024
/* Data room of the ack pool's mbufs: an ack of a frame of a few dozen records fits. */
#define DP_PORT_ACK_ROOM 512
/* EAL memory in MiB under --no-huge when the extra arguments do not give -m. */
#define DP_PORT_NO_HUGE_MB 256

/* Log levels of the optional log callback; the same numbering as the daemon's log. */
enum dp_port_log_level { DP_PORT_LOG_ERR = 0, DP_PORT_LOG_WARN, DP_PORT_LOG_INFO };

typedef void (*dp_port_log_fn)(void *arg, enum dp_port_log_level level, const char *msg);

/* Huge pages: use them when free ones exist, never, or always (fail without them). */
enum dp_port_huge { DP_PORT_HUGE_AUTO = 0, DP_PORT_HUGE_NEVER, DP_PORT_HUGE_ALWAYS };

struct dp_port_config {
	const char *nics[DP_PORT_MAX_NICS]; /* PCI addresses or vdev strings */
	unsigned n_nics;                    /* 0: DP_PORT_DEFAULT_NIC */
	unsigned workers;                   /* worker lcores = queues per NIC; 0: 1 */
	const char *lcores;     /* NULL, or an EAL --lcores value naming the main lcore and the
				 * workers (workers is then their count and cfg.workers is ignored);
				 * NULL maps lcore i to the i-th CPU of the caller's affinity mask */
	uint32_t ip;            /* the appliance's IPv4 address, host order; 0: DP_PORT_DEFAULT_IP */
	uint8_t prefix;         /* its prefix length; 0: DP_PORT_DEFAULT_PREFIX */
	const char *netns;      /* NULL, or a namespace name under /run/netns (see above) */
	uint32_t kernel_ip;     /* non-zero: give the kernel side of every net_tap NIC this address */
	uint8_t kernel_prefix;  /* and prefix (0: the appliance's), and bring it up */
	const char *eal_args;   /* NULL, or extra EAL arguments separated by spaces, appended last */
	enum dp_port_huge huge;
	uint16_t rx_desc, tx_desc;  /* 0: DP_PORT_DEFAULT_DESC */
	unsigned tx_backlog;    /* replies a worker may hold per NIC, 32..2^20; 0: DP_PORT_TX_BACKLOG.
				 * Give at least the frames an engine holds in flight (one ack each):
				 * the ack pool has that many small mbufs per worker and NIC */
	dp_port_log_fn log;     /* NULL: silent */
	void *log_arg;
};

/* One started NIC. */
struct dp_port_nic {
	uint16_t port_id;
	uint16_t queues;            /* rx queues = tx queues = workers */
	uint16_t rx_desc, tx_desc;
	uint8_t mac[6];
	uint8_t rss;                /* 1 when RSS spreads IPv4/UDP over the queues */
	char name[64];              /* the ethdev name, e.g. "net_tap0" or "0000:3b:00.0" */
	char driver[32];            /* e.g. "net_tap" */
	char ifname[IF_NAMESIZE];   /* the kernel interface of a TAP, "" for other drivers */
};

struct dp_port {
	unsigned n_nics;
	struct dp_port_nic nics[DP_PORT_MAX_NICS];
	unsigned workers;
	unsigned worker_lcores[DP_PORT_MAX_WORKERS];  /* worker i runs on this lcore, queue i */
	struct rte_mempool *pool;
	struct rte_mempool *ack_pool;   /* small mbufs (DP_PORT_ACK_ROOM) for built replies */
	unsigned tx_backlog;        /* per worker and NIC */
	uint32_t ip;                /* host order */
	uint8_t prefix;
	uint8_t no_huge;            /* 1 when the EAL runs without huge pages */
	char netns[64];             /* "" when none */
};

/*
 * Initialise the EAL and start every NIC of *cfg (see the file comment). On success *ret is a
 * started port set, to be released with dp_port_stop(). Each failure is logged through
 * cfg->log, naming the NIC and the DPDK error. Returns 0, or a negative errno: -EINVAL for a bad
 * config (too many NICs or workers, a NIC with fewer queues than workers, kernel_ip with no TAP
 * interface name), -ENOENT for a netns that does not exist, -EALREADY when the EAL was already
 * initialised in this process, or the errno of the EAL or ethdev call that failed.
 */
int dp_port_start(const struct dp_port_config *cfg, struct dp_port **ret);

/*
 * Stop and close every NIC, free the pool, clean up the EAL. Workers must have stopped first.
 * NULL is accepted. The EAL cannot be started again in this process.
 */
void dp_port_stop(struct dp_port *p);

/*
 * The CPUs of the calling thread's affinity on which no worker lcore of p runs: where the kernel
 * work the workers cause (io_uring workers copying into the page cache) belongs, instead of on the
 * workers' own cores (dp_committer_set_iowq_cpus). Returns how many; 0 when every CPU runs a
 * worker (a one-CPU machine), and *out is then empty.
 */
unsigned dp_port_io_cpus(const struct dp_port *p, cpu_set_t *out);

/* Format a host-order IPv4 address into buf (at least 16 bytes); returns buf. */
char *dp_port_ip_str(uint32_t ip, char *buf);

#endif
