/* SPDX-License-Identifier: MIT */
/*
 * ingest-producer: a kernel UDP producer and load generator for the ingest wire protocol
 * (docs/protocol.md; usage in docs/producer.md).
 *
 * The records, batches, retries, acks and the report are prod_engine's (shared with
 * ingest-memif-gen); this file is the kernel transport: sendmmsg/recvmmsg on one connected,
 * non-blocking socket, and poll() to wait for acks or stdin. No threads.
 *
 * Exit codes: 0 every record acked (ok or duplicate), 1 some records failed (or the ack log could
 * not be written), 2 usage error, 3 network error (the socket failed, or the target never
 * answered and records timed out).
 */
#include <errno.h>
#include <getopt.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "dp_frame.h"
#include "prod_engine.h"

#define DEFAULT_TARGET "198.18.0.1:4789"
/* IPv4 and UDP headers; IPv6's header is 40 bytes. A frame larger than the path MTU would be
 * fragmented, and one lost fragment loses the whole frame. */
#define IPV4_UDP_OVERHEAD 28u
#define IPV6_UDP_OVERHEAD 48u
/* Socket buffers asked for: a chunked 1 MiB record is ~750 MTU-sized datagrams at once. */
#define SOCK_BUF_BYTES (8 << 20)

struct kopts {
	const char *to;
	unsigned ports;
};

struct ksock {
	int fd;
	size_t frame_cap;
	uint8_t *rxbuf;           /* PROD_BURST datagrams of DP_FRAME_DATAGRAM_MAX bytes */
};

/* ---- the kernel transport -------------------------------------------------------------------- */

static int ksock_send(void *arg, const struct iovec *iov, unsigned n)
{
	struct ksock *k = arg;
	struct mmsghdr msgs[PROD_BURST];
	if (n > PROD_BURST)
		n = PROD_BURST;
	for (unsigned i = 0; i < n; i++) {
		memset(&msgs[i], 0, sizeof(msgs[i]));
		msgs[i].msg_hdr.msg_iov = (struct iovec *)&iov[i];
		msgs[i].msg_hdr.msg_iovlen = 1;
	}
	int sent = sendmmsg(k->fd, msgs, n, MSG_DONTWAIT);
	return sent < 0 ? -errno : sent;
}

/* Read every datagram waiting. Returns 0 or a negative errno for a fatal socket error. */
static int drain_acks(struct ksock *k, struct prod *p, int64_t now)
{
	struct mmsghdr msgs[PROD_BURST];
	struct iovec iov[PROD_BURST];
	for (;;) {
		for (unsigned i = 0; i < PROD_BURST; i++) {
			iov[i].iov_base = k->rxbuf + (size_t)i * DP_FRAME_DATAGRAM_MAX;
			iov[i].iov_len = DP_FRAME_DATAGRAM_MAX;
			memset(&msgs[i], 0, sizeof(msgs[i]));
			msgs[i].msg_hdr.msg_iov = &iov[i];
			msgs[i].msg_hdr.msg_iovlen = 1;
		}
		int n = recvmmsg(k->fd, msgs, PROD_BURST, MSG_DONTWAIT, NULL);
		if (n < 0) {
			int e = errno;
			if (e == EAGAIN || e == EWOULDBLOCK || e == EINTR)
				return 0;
			if (prod_error_transient(e)) {
				/* An ICMP error for an earlier datagram: nobody listens (yet). */
				prod_note_send_error(p);
				continue;
			}
			return -e;
		}
		for (int i = 0; i < n; i++)
			prod_rx(p, k->rxbuf + (size_t)i * DP_FRAME_DATAGRAM_MAX, msgs[i].msg_len, now);
		if ((unsigned)n < PROD_BURST)
			return 0;
	}
}

static int ksock_wait(void *arg, struct prod *p, int64_t wait_ns, bool want_send, int input_fd)
{
	struct ksock *k = arg;
	struct pollfd pfd[2] = {
		{ .fd = k->fd, .events = POLLIN | (want_send ? POLLOUT : 0) },
		{ .fd = input_fd, .events = POLLIN },
	};
	int timeout = wait_ns <= 0 ? 0 : (int)((wait_ns + 999999) / 1000000);
	if (poll(pfd, input_fd >= 0 ? 2 : 1, timeout) < 0 && errno != EINTR)
		return -errno;
	if (pfd[0].revents & (POLLIN | POLLERR))
		return drain_acks(k, p, prod_now_ns());
	return 0;
}

static int parse_target(const char *to, struct addrinfo **res)
{
	char host[256];
	const char *colon = strrchr(to, ':');
	if (!colon || colon == to || !colon[1])
		return -EINVAL;
	size_t hlen = (size_t)(colon - to);
	const char *h = to;
	if (to[0] == '[' && hlen >= 2 && to[hlen - 1] == ']') {
		h = to + 1;
		hlen -= 2;
	}
	if (hlen == 0 || hlen >= sizeof(host))
		return -EINVAL;
	memcpy(host, h, hlen);
	host[hlen] = '\0';
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_DGRAM,
				  .ai_flags = AI_NUMERICSERV };
	int rc = getaddrinfo(host, colon + 1, &hints, res);
	if (rc != 0) {
		prod_errmsg("--to %s: %s", to, gai_strerror(rc));
		return -EINVAL;
	}
	return 0;
}

static int open_socket(const struct kopts *ko, const struct prod_opts *o, struct ksock *k)
{
	struct addrinfo *ai = NULL;
	int rc = parse_target(ko->to, &ai);
	if (rc < 0)
		return rc;
	int fd = socket(ai->ai_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		rc = -errno;
		goto out_ai;
	}
	int sz = SOCK_BUF_BYTES;
	/* Best effort: the kernel caps it at net.core.{r,w}mem_max. */
	(void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
	(void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
	/* Producers that do not route by shard spread over the workers' ports base .. base + N - 1
	 * by producer id (docs/protocol.md, "Ports"); all of one producer's frames, and so all
	 * chunks of a record, go to one port. */
	if (ko->ports > 1) {
		in_port_t *pp = ai->ai_family == AF_INET6 ?
			&((struct sockaddr_in6 *)ai->ai_addr)->sin6_port :
			&((struct sockaddr_in *)ai->ai_addr)->sin_port;
		unsigned base = ntohs(*pp);
		if (base + ko->ports - 1 > 65535) {
			prod_errmsg("--ports %u from port %u passes 65535", ko->ports, base);
			rc = -EINVAL;
			close(fd);
			goto out_ai;
		}
		*pp = htons((uint16_t)(base + o->producer_id % ko->ports));
	}
	/* Connected: the kernel filters out datagrams from anyone else and reports ICMP errors. */
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
		rc = -errno;
		close(fd);
		goto out_ai;
	}
	size_t overhead = ai->ai_family == AF_INET6 ? IPV6_UDP_OVERHEAD : IPV4_UDP_OVERHEAD;
	k->frame_cap = o->mtu - overhead;
	if (k->frame_cap > DP_FRAME_DATAGRAM_MAX)
		k->frame_cap = DP_FRAME_DATAGRAM_MAX;
	k->fd = fd;
	rc = 0;
out_ai:
	freeaddrinfo(ai);
	return rc;
}

/* ---- options --------------------------------------------------------------------------------- */

static void usage(FILE *f)
{
	fputs("usage: ingest-producer --stream NAME [options] < records\n"
	      "       ingest-producer --stream NAME --count N [--size B] [--keys K] [options]\n"
	      "Sends records to an ingest appliance over UDP and waits for durable acks.\n"
	      "\n"
	      "target:\n"
	      "  --to HOST:PORT      receiver (default " DEFAULT_TARGET ")\n"
	      "  --ports N           receiver ports PORT .. PORT+N-1 (one per worker); this\n"
	      "                      producer uses PORT + id mod N (default 1)\n",
	      f);
	prod_usage_common(f);
}

enum { OPT_TO = PROD_OPT_LAST + 1, OPT_PORTS };

/* Returns 0, 1 for --help (exit 0), or -EINVAL (message printed). */
static int parse_opts(int argc, char **argv, struct kopts *ko, struct prod_opts *o)
{
	static const struct option lo[] = {
		PROD_OPTIONS,
		{ "to", required_argument, NULL, OPT_TO },
		{ "ports", required_argument, NULL, OPT_PORTS },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	*ko = (struct kopts){ .to = DEFAULT_TARGET, .ports = 1 };
	prod_opts_default(o, "ingest-producer");
	int ch;
	while ((ch = getopt_long(argc, argv, ":h", lo, NULL)) != -1) {
		char *end;
		unsigned long v;
		switch (ch) {
		case 'h':
			return 1;
		case OPT_TO: ko->to = optarg; break;
		case OPT_PORTS:
			errno = 0;
			v = strtoul(optarg, &end, 0);
			if (errno || *end || !optarg[0] || optarg[0] == '-' || v < 1 || v > 65535) {
				prod_errmsg("--ports: bad value '%s'", optarg);
				return -EINVAL;
			}
			ko->ports = (unsigned)v;
			break;
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
	}
	if (optind < argc) {
		prod_errmsg("unexpected argument '%s'", argv[optind]);
		return -EINVAL;
	}
	return prod_opts_check(o);
}

int main(int argc, char **argv)
{
	struct kopts ko;
	struct prod_opts o;
	struct ksock k = { .fd = -1 };
	struct prod *p = NULL;
	int rc = parse_opts(argc, argv, &ko, &o);
	if (rc == 1) {
		usage(stdout);
		return PROD_RC_OK;
	}
	if (rc < 0) {
		fputs("try 'ingest-producer --help'\n", stderr);
		return PROD_RC_USAGE;
	}
	/* The id picks the port (--ports) before the producer exists. */
	if (!o.producer_id_set &&
	    getrandom(&o.producer_id, sizeof(o.producer_id), 0) != sizeof(o.producer_id)) {
		prod_errmsg("getrandom: %s", strerror(errno));
		return PROD_RC_FAILED;
	}
	o.producer_id_set = true;

	rc = open_socket(&ko, &o, &k);
	if (rc == -EINVAL) {
		prod_errmsg("--to: expected HOST:PORT, got '%s'", ko.to);
		return PROD_RC_USAGE;
	}
	if (rc < 0) {
		prod_errmsg("socket to %s: %s", ko.to, strerror(-rc));
		return PROD_RC_NETWORK;
	}
	int exit_rc = PROD_RC_FAILED;
	k.rxbuf = malloc((size_t)PROD_BURST * DP_FRAME_DATAGRAM_MAX);
	if (!k.rxbuf) {
		prod_errmsg("out of memory");
		goto out;
	}
	rc = prod_new(&o, k.frame_cap, &p);
	if (rc < 0) {
		exit_rc = rc == -ENOMEM ? PROD_RC_FAILED : PROD_RC_USAGE;
		goto out;
	}
	prod_signals_install();
	const struct prod_io io = { .send = ksock_send, .wait = ksock_wait, .arg = &k,
				    .peer = ko.to };
	rc = prod_run(p, &io);
	exit_rc = prod_finish(p, rc);
out:
	prod_free(p);
	free(k.rxbuf);
	if (k.fd >= 0)
		close(k.fd);
	return exit_rc;
}
