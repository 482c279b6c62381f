/* SPDX-License-Identifier: MIT */
/*
 * recvmmsg_sink: the kernel UDP receive baseline of the dataplane suite (bench/run dataplane).
 *
 * One thread on one core receives ingest frames with recvmmsg in bursts of 32, checks each with
 * dp_frame_parse (the same validation the appliance applies first), and answers each with an
 * ok ack built by dp_ack_build, sent back with sendmmsg, so that an unmodified ingest-producer
 * keeps its window moving. Nothing is hashed, stored or synced: this is the most a kernel UDP
 * receiver on one core does for the same traffic, the figure the DPDK path is compared with.
 *
 *   recvmmsg_sink [--port P] [--seconds S]
 *
 * Prints "ready" once bound (0.0.0.0:P, default 4789), then at SIGTERM/SIGINT or after S seconds
 * one JSON object: datagrams, records, bytes, bad frames, acks sent, the seconds from the first
 * datagram to the last, and the process's CPU seconds. Process-wide state: the stop flag.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "dp_frame.h"

#define BURST 32
/* Socket buffers asked for: bursts from a producer with a deep window. */
#define SOCK_BUF_BYTES (8 << 20)

static volatile sig_atomic_t stop_flag;

static void on_signal(int sig)
{
	(void)sig;
	stop_flag = 1;
}

static double mono_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	static uint8_t rx[BURST][DP_FRAME_DATAGRAM_MAX], tx[BURST][DP_FRAME_DATAGRAM_MAX];
	static struct dp_ack_rec recs[DP_FRAME_RECORDS_MAX];
	struct sockaddr_in peers[BURST];
	struct mmsghdr rmsg[BURST], smsg[BURST];
	struct iovec riov[BURST], siov[BURST];
	unsigned long long datagrams = 0, records = 0, bytes = 0, bad = 0, acks = 0, seq = 0;
	double seconds = 0, first = 0, last = 0;
	int port = 4789;

	for (int i = 1; i + 1 < argc; i += 2) {
		if (strcmp(argv[i], "--port") == 0)
			port = atoi(argv[i + 1]);
		else if (strcmp(argv[i], "--seconds") == 0)
			seconds = atof(argv[i + 1]);
		else
			goto usage;
	}
	if (argc % 2 == 0)
		goto usage;

	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	int sz = SOCK_BUF_BYTES;
	struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	if (fd < 0 || bind(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
		perror("recvmmsg_sink: socket");
		return 1;
	}
	(void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
	(void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	for (unsigned i = 0; i < DP_FRAME_RECORDS_MAX; i++)
		recs[i].status = DP_ACK_OK;
	printf("ready\n");
	fflush(stdout);

	double t0 = mono_s();
	while (!stop_flag && !(seconds > 0 && mono_s() - t0 > seconds)) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		if (poll(&p, 1, 100) <= 0)
			continue;
		for (unsigned i = 0; i < BURST; i++) {
			riov[i] = (struct iovec){ rx[i], sizeof(rx[i]) };
			rmsg[i] = (struct mmsghdr){ .msg_hdr = { .msg_name = &peers[i],
				.msg_namelen = sizeof(peers[i]), .msg_iov = &riov[i], .msg_iovlen = 1 } };
		}
		int n = recvmmsg(fd, rmsg, BURST, MSG_DONTWAIT, NULL);
		if (n <= 0)
			continue;
		last = mono_s();
		if (datagrams == 0)
			first = last;
		unsigned ns = 0;
		for (int i = 0; i < n; i++) {
			struct dp_frame f;
			datagrams++;
			bytes += rmsg[i].msg_len;
			if (dp_frame_parse(rx[i], rmsg[i].msg_len, &f) != DP_DROP_NONE) {
				bad++;
				continue;
			}
			records += f.count;
			/* One run: shard 0, consecutive sequence numbers. */
			for (unsigned r = 0; r < f.count; r++)
				recs[r].seq = ++seq;
			int len = dp_ack_build(tx[ns], sizeof(tx[ns]), f.producer_id, f.batch, recs, f.count);
			if (len < 0)
				continue;
			siov[ns] = (struct iovec){ tx[ns], (size_t)len };
			smsg[ns] = (struct mmsghdr){ .msg_hdr = { .msg_name = &peers[i],
				.msg_namelen = rmsg[i].msg_hdr.msg_namelen, .msg_iov = &siov[ns],
				.msg_iovlen = 1 } };
			ns++;
		}
		if (ns > 0) {
			int s = sendmmsg(fd, smsg, ns, MSG_DONTWAIT);
			if (s > 0)
				acks += (unsigned)s;
		}
	}
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	printf("{\"datagrams\": %llu, \"records\": %llu, \"bytes\": %llu, \"bad\": %llu, "
	       "\"acks\": %llu, \"seconds\": %.6f, \"cpu_seconds\": %.6f}\n",
	       datagrams, records, bytes, bad, acks, last - first,
	       (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
	       (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6);
	close(fd);
	return 0;

usage:
	fprintf(stderr, "usage: %s [--port P] [--seconds S]\n", argv[0]);
	return 2;
}
