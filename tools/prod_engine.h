/* SPDX-License-Identifier: MIT */
/*
 * prod_engine: the producer side of the ingest wire protocol (docs/protocol.md), shared by the
 * two load generators: ingest-producer (kernel UDP) and ingest-memif-gen (DPDK over net_memif).
 *
 * What it owns. Records (stdin lines or generated), their packing into RECORDS and CHUNK frames
 * with dp_frame's encoder, the batches in flight with their retry timers and the receiver's
 * retry window, the matching of acks to batches, the ack log, the latency histogram and the
 * report both tools print (docs/producer.md). It owns no socket or NIC: a struct prod_io sends
 * datagrams and waits for acks, handing each received datagram back through prod_rx().
 *
 * Options. Both tools take the same record, batching, retry and output options: getopt_long
 * rows PROD_OPTIONS (ids PROD_OPT_FIRST .. PROD_OPT_LAST, tools number their own options from
 * PROD_OPT_LAST + 1), applied with prod_opt_apply() and checked together with prod_opts_check().
 *
 * Threads. One thread drives one struct prod; prod_rx() is called from inside io->wait() on that
 * thread. Process-wide state: the program name used in messages, and the SIGINT/SIGTERM flag
 * (prod_signals_install) that stops taking records like --duration.
 */
#ifndef PROD_ENGINE_H
#define PROD_ENGINE_H

#include <getopt.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/uio.h>

/* Exit codes of both tools. */
enum {
	PROD_RC_OK = 0,
	PROD_RC_FAILED = 1,    /* some records were not acked ok */
	PROD_RC_USAGE = 2,
	PROD_RC_NETWORK = 3,   /* transport error, or the target never answered */
};

/* Datagrams per send call: the dataplane's burst size. */
#define PROD_BURST 32u
/* The smallest MTU IPv4 guarantees; it still leaves room for a chunk of a 256-byte key on a
 * 128-byte stream name. */
#define PROD_MTU_MIN 576u
#define PROD_MTU_MAX 65535u
/* Batches outstanding at most (--inflight): enough for a memif producer to cover a group
 * commit's fdatasync at millions of records a second. */
#define PROD_INFLIGHT_MAX 65536u

struct prod_opts {
	const char *stream;
	uint64_t producer_id;
	bool producer_id_set;
	unsigned inflight;
	unsigned batch;
	unsigned mtu;
	const char *key;
	bool json_lines;
	bool generate;
	uint64_t count;
	size_t size;
	uint64_t keys;
	bool size_set, keys_set;   /* given on the command line */
	unsigned key_len;   /* 0: generated keys are key-<n>; else exactly this many bytes */
	double rate;
	unsigned timeout_ms;
	unsigned retries;
	unsigned window;
	const char *ack_log;
	bool progress;
	bool json;
	double duration;
};

enum {
	PROD_OPT_FIRST = 256,
	PROD_OPT_STREAM = PROD_OPT_FIRST, PROD_OPT_PID, PROD_OPT_INFLIGHT, PROD_OPT_BATCH,
	PROD_OPT_MTU, PROD_OPT_KEY, PROD_OPT_JSON_LINES, PROD_OPT_COUNT, PROD_OPT_SIZE,
	PROD_OPT_KEYS, PROD_OPT_KEY_LEN, PROD_OPT_RATE, PROD_OPT_TIMEOUT, PROD_OPT_RETRIES,
	PROD_OPT_ACK_LOG, PROD_OPT_PROGRESS, PROD_OPT_JSON, PROD_OPT_DURATION, PROD_OPT_WINDOW,
	PROD_OPT_LAST = PROD_OPT_WINDOW,
};

/* The struct option rows of the shared options, for a tool's getopt_long table. */
#define PROD_OPTIONS \
	{ "stream", required_argument, NULL, PROD_OPT_STREAM }, \
	{ "producer-id", required_argument, NULL, PROD_OPT_PID }, \
	{ "inflight", required_argument, NULL, PROD_OPT_INFLIGHT }, \
	{ "batch", required_argument, NULL, PROD_OPT_BATCH }, \
	{ "mtu", required_argument, NULL, PROD_OPT_MTU }, \
	{ "key", required_argument, NULL, PROD_OPT_KEY }, \
	{ "json-lines", no_argument, NULL, PROD_OPT_JSON_LINES }, \
	{ "count", required_argument, NULL, PROD_OPT_COUNT }, \
	{ "size", required_argument, NULL, PROD_OPT_SIZE }, \
	{ "keys", required_argument, NULL, PROD_OPT_KEYS }, \
	{ "key-len", required_argument, NULL, PROD_OPT_KEY_LEN }, \
	{ "rate", required_argument, NULL, PROD_OPT_RATE }, \
	{ "timeout-ms", required_argument, NULL, PROD_OPT_TIMEOUT }, \
	{ "retries", required_argument, NULL, PROD_OPT_RETRIES }, \
	{ "ack-log", required_argument, NULL, PROD_OPT_ACK_LOG }, \
	{ "progress", no_argument, NULL, PROD_OPT_PROGRESS }, \
	{ "json", no_argument, NULL, PROD_OPT_JSON }, \
	{ "duration", required_argument, NULL, PROD_OPT_DURATION }, \
	{ "window", required_argument, NULL, PROD_OPT_WINDOW }

struct prod;

/* How a tool moves datagrams. */
struct prod_io {
	/*
	 * Send the datagrams iov[0..n) to the receiver, in order. Returns how many were taken
	 * (0..n; fewer than n: the transport is full for now), or a negative errno: -EAGAIN or
	 * -ENOBUFS for "full, nothing went", -ECONNREFUSED, -EHOSTUNREACH, -ENETUNREACH,
	 * -ENETDOWN, -EHOSTDOWN or -EINTR for "these datagrams are lost" (the retry timer resends
	 * them), anything else is fatal.
	 */
	int (*send)(void *arg, const struct iovec *iov, unsigned n);
	/*
	 * Wait at most wait_ns (0: only look) for datagrams from the receiver and hand each to
	 * prod_rx(); return early once one arrived, or, with want_send, once sending may go on, or
	 * when input_fd (>= 0) is readable. Returns 0, or a negative errno that is fatal.
	 */
	int (*wait)(void *arg, struct prod *p, int64_t wait_ns, bool want_send, int input_fd);
	void *arg;
	const char *peer;   /* the receiver, as messages name it */
};

/* Defaults of the shared options; prog names the tool in messages on stderr. */
void prod_opts_default(struct prod_opts *o, const char *prog);

/* Apply one shared option (ch from PROD_OPTIONS). Returns 0, or -EINVAL for a bad value (a
 * message naming the option is printed). */
int prod_opt_apply(struct prod_opts *o, int ch, const char *arg);

/* The checks between options (stream required, generator options need --count, ...). Returns
 * 0 or -EINVAL with a message printed. */
int prod_opts_check(const struct prod_opts *o);

/* The help text of the shared options. */
void prod_usage_common(FILE *f);

/* A message on stderr, prefixed with the program name. */
void prod_errmsg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Whether a send or receive errno means "lost or full for now" rather than a broken transport
 * (see struct prod_io's send). */
bool prod_error_transient(int e);

/* CLOCK_MONOTONIC in nanoseconds: the clock of wait_ns and prod_rx's now. */
int64_t prod_now_ns(void);

/* SIGINT and SIGTERM stop taking records (as --duration does); SIGPIPE is ignored. */
void prod_signals_install(void);

/*
 * A producer for *o (copied; a random producer id unless set) sending frames of at most
 * frame_cap bytes (one datagram's payload). Opens --ack-log. Returns 0, -ENOMEM, or the errno
 * of opening the ack log or reading random bytes (a message is printed).
 */
int prod_new(const struct prod_opts *o, size_t frame_cap, struct prod **ret);

/* The producer id in use. */
uint64_t prod_producer_id(const struct prod *p);

/*
 * Send, wait for acks, resend and give up until every record settled, the input ended, or
 * --duration / a signal stopped it and the drain ran out. Returns 0, or -ENOMEM; a fatal
 * transport error is printed and reported by prod_finish() as PROD_RC_NETWORK.
 */
int prod_run(struct prod *p, const struct prod_io *io);

/* One datagram received from the receiver: matched against the batches in flight. */
void prod_rx(struct prod *p, const uint8_t *buf, size_t len, int64_t now);

/* Count a transient transport error reported on receive (an ICMP error of an earlier send). */
void prod_note_send_error(struct prod *p);

/* After prod_run(): close the ack log, print the report (text or --json) on stdout and return
 * the exit code (PROD_RC_*). run_rc is prod_run()'s result. */
int prod_finish(struct prod *p, int run_rc);

/* Free everything. NULL is accepted. */
void prod_free(struct prod *p);

#endif
