/* SPDX-License-Identifier: MIT */
/*
 * ack_responder: a UDP receiver of the ingest wire protocol for testing producers, not the appliance.
 *
 * It parses frames with dp_frame_parse, reassembles chunked records with dp_reasm, routes each
 * record to one of --shards shards over the Kinesis even split of MD5(key) (or the explicit hash
 * key), numbers the records of each shard 1, 2, ... and answers with dp_ack_build at once: there
 * is no log, so "durable" means "counted". The ack of every (producer, batch) is kept, and a
 * frame of a batch already answered gets the stored ack again and writes nothing: the dedup a
 * real receiver's retry window gives, without its bounds.
 *
 * Faults for the producer's retry paths: --drop-every N drops the first ack of every batch whose
 * number is a multiple of N; --delay-ms holds every ack back; --status NAME answers every record
 * of a new batch with that status instead of writing it; --stream NAME answers other streams
 * unknown-stream; --window W answers stale-batch for a batch W or more below the producer's
 * highest, as the appliance's retry window does.
 *
 * Output: "port N" on stdout once listening; at SIGINT/SIGTERM one JSON object with its counters
 * on stdout. --dump FILE writes every record written as `key<TAB>data` lines.
 * Single-threaded; the only process-wide state is the stop flag.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "dp_frame.h"
#include "dp_hash.h"

#define BURST 32u
/* Stored acks by (producer, batch), open addressing; the table doubles as it fills. */
#define DEDUP_INIT (1u << 12)
#define SHARDS_MAX 64u
#define REASM_SLOTS 16u
#define REASM_TIMEOUT_MS 10000u
/* Producers tracked for --window. */
#define PRODUCERS_MAX 64u

static volatile sig_atomic_t g_stop;

struct stored {
	uint64_t producer, batch;
	bool used;
	bool dropped;         /* its first ack was dropped (--drop-every) */
	uint16_t len;
	uint8_t *ack;
};

struct delayed {
	int64_t due_ns;
	struct sockaddr_storage to;
	socklen_t tolen;
	uint16_t len;
	uint8_t ack[];
};

struct responder {
	int fd;
	unsigned shards;
	uint64_t drop_every;
	unsigned delay_ms;
	int force_status;     /* -1: none */
	const char *stream;
	FILE *dump;
	struct dp_hasher *hasher;
	struct dp_shard_map *map;
	struct dp_reasm *reasm;
	struct stored *dedup;
	size_t dedup_cap, dedup_used;
	uint64_t next_seq[SHARDS_MAX];
	uint64_t per_shard[SHARDS_MAX];
	uint64_t window;      /* 0: remember every batch */
	uint64_t prod_id[PRODUCERS_MAX], prod_high[PRODUCERS_MAX];
	unsigned nprod;
	struct delayed **queue;
	size_t qhead, qlen, qcap;
	/* counters */
	uint64_t frames, chunks, records_written, dup_frames, acks_sent, acks_dropped,
		acks_delayed, error_acks, stale_frames;
	uint64_t drops[DP_DROP__COUNT];
};

static void on_signal(int sig)
{
	(void)sig;
	g_stop = 1;
}

static int64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static size_t dedup_hash(uint64_t producer, uint64_t batch)
{
	uint64_t h = producer * 0x9e3779b97f4a7c15ULL ^ batch * 0xbf58476d1ce4e5b9ULL;
	return (size_t)(h ^ (h >> 29));
}

/* The entry of (producer, batch), or the free entry where it would go (linear probing). */
static struct stored *dedup_slot(struct stored *tab, size_t cap, uint64_t producer,
				 uint64_t batch)
{
	for (size_t i = dedup_hash(producer, batch) & (cap - 1);; i = (i + 1) & (cap - 1)) {
		struct stored *e = &tab[i];
		if (!e->used || (e->producer == producer && e->batch == batch))
			return e;
	}
}

static struct stored *dedup_find(struct responder *s, uint64_t producer, uint64_t batch)
{
	struct stored *e = dedup_slot(s->dedup, s->dedup_cap, producer, batch);
	return e->used ? e : NULL;
}

/* Double the table when half full: every batch ever answered stays known. */
static int dedup_grow(struct responder *s)
{
	size_t ncap = s->dedup_cap * 2;
	struct stored *nt = calloc(ncap, sizeof(*nt));
	if (!nt)
		return -ENOMEM;
	for (size_t i = 0; i < s->dedup_cap; i++)
		if (s->dedup[i].used)
			*dedup_slot(nt, ncap, s->dedup[i].producer, s->dedup[i].batch) = s->dedup[i];
	free(s->dedup);
	s->dedup = nt;
	s->dedup_cap = ncap;
	return 0;
}

static struct stored *dedup_put(struct responder *s, uint64_t producer, uint64_t batch,
				const uint8_t *ack, size_t len)
{
	if (2 * (s->dedup_used + 1) > s->dedup_cap && dedup_grow(s) < 0)
		return NULL;
	struct stored *e = dedup_slot(s->dedup, s->dedup_cap, producer, batch);
	uint8_t *copy = malloc(len);
	if (!copy)
		return NULL;
	memcpy(copy, ack, len);
	s->dedup_used++;
	*e = (struct stored){ .producer = producer, .batch = batch, .used = true,
			      .len = (uint16_t)len, .ack = copy };
	return e;
}

static void send_now(struct responder *s, const uint8_t *ack, size_t len,
		     const struct sockaddr_storage *to, socklen_t tolen)
{
	if (sendto(s->fd, ack, len, 0, (const struct sockaddr *)to, tolen) == (ssize_t)len)
		s->acks_sent++;
}

/* Send an ack now or after --delay-ms. */
static void send_ack(struct responder *s, const uint8_t *ack, size_t len,
		     const struct sockaddr_storage *to, socklen_t tolen)
{
	if (s->delay_ms == 0) {
		send_now(s, ack, len, to, tolen);
		return;
	}
	if (s->qhead + s->qlen == s->qcap) {
		if (s->qhead > 0) {
			memmove(s->queue, s->queue + s->qhead, s->qlen * sizeof(*s->queue));
			s->qhead = 0;
		} else {
			size_t ncap = s->qcap ? s->qcap * 2 : 256;
			struct delayed **nq = realloc(s->queue, ncap * sizeof(*nq));
			if (!nq)
				return;
			s->queue = nq;
			s->qcap = ncap;
		}
	}
	struct delayed *d = malloc(sizeof(*d) + len);
	if (!d)
		return;
	d->due_ns = now_ns() + (int64_t)s->delay_ms * 1000000LL;
	d->to = *to;
	d->tolen = tolen;
	d->len = (uint16_t)len;
	memcpy(d->ack, ack, len);
	s->queue[s->qhead + s->qlen++] = d;
	s->acks_delayed++;
}

/* Send the delayed acks that are due; returns ms until the next one (-1: none). */
static int flush_delayed(struct responder *s)
{
	int64_t now = now_ns();
	while (s->qlen > 0) {
		struct delayed *d = s->queue[s->qhead];
		if (d->due_ns > now)
			return (int)((d->due_ns - now + 999999) / 1000000);
		send_now(s, d->ack, d->len, &d->to, d->tolen);
		free(d);
		s->qhead++;
		s->qlen--;
	}
	s->qhead = 0;
	return -1;
}

/* The first ack of a batch numbered a multiple of --drop-every is dropped. */
static void answer_new(struct responder *s, struct stored *e, const struct sockaddr_storage *to,
		       socklen_t tolen)
{
	if (s->drop_every && e->batch % s->drop_every == 0 && !e->dropped) {
		e->dropped = true;
		s->acks_dropped++;
		return;
	}
	send_ack(s, e->ack, e->len, to, tolen);
}

static int route(struct responder *s, const uint8_t *key, size_t key_len, const uint8_t *ehk,
		 uint32_t *shard)
{
	dp_u128 h;
	if (ehk) {
		h = dp_be128_load(ehk);
	} else {
		int rc = dp_hasher_md5(s->hasher, key, key_len, &h);
		if (rc < 0)
			return rc;
	}
	*shard = (uint32_t)dp_shard_map_lookup(s->map, h);
	return 0;
}

/* Write one record: route it, number it, dump it. */
static int write_rec(struct responder *s, const uint8_t *key, size_t key_len, const uint8_t *ehk,
		     const uint8_t *data, size_t data_len, struct dp_ack_rec *out)
{
	if (s->force_status >= 0) {
		*out = (struct dp_ack_rec){ .status = (uint8_t)s->force_status };
		return 0;
	}
	uint32_t shard;
	int rc = route(s, key, key_len, ehk, &shard);
	if (rc < 0)
		return rc;
	*out = (struct dp_ack_rec){ .status = DP_ACK_OK, .shard = shard,
				    .seq = ++s->next_seq[shard] };
	s->per_shard[shard]++;
	s->records_written++;
	if (s->dump) {
		fwrite(key, 1, key_len, s->dump);
		fputc('\t', s->dump);
		fwrite(data, 1, data_len, s->dump);
		fputc('\n', s->dump);
	}
	return 0;
}

/*
 * --window W: like the appliance's retry window, a frame whose batch is W or more below the
 * producer's highest batch seen is answered stale-batch and not written (even when the responder still
 * holds its ack). Returns true when f is stale.
 */
static bool window_stale(struct responder *s, const struct dp_frame *f)
{
	if (!s->window)
		return false;
	unsigned i;
	for (i = 0; i < s->nprod && s->prod_id[i] != f->producer_id; i++)
		;
	if (i == s->nprod) {
		if (s->nprod == PRODUCERS_MAX)
			return false;
		s->prod_id[s->nprod] = f->producer_id;
		s->prod_high[s->nprod++] = f->batch;
		return false;
	}
	uint64_t high = s->prod_high[i];
	if (f->batch > high)
		s->prod_high[i] = f->batch;
	return high >= s->window && f->batch <= high - s->window;
}

static void answer_error(struct responder *s, const struct dp_frame *f, unsigned status,
			 const struct sockaddr_storage *to, socklen_t tolen)
{
	uint8_t ack[DP_ACK_HDR_LEN];
	int n = dp_ack_build_error(ack, sizeof(ack), f, status);
	if (n > 0) {
		s->error_acks++;
		send_ack(s, ack, (size_t)n, to, tolen);
	}
}

static void handle(struct responder *s, const uint8_t *p, size_t len,
		   const struct sockaddr_storage *from, socklen_t fromlen)
{
	struct dp_frame f;
	struct dp_ack_rec recs[DP_FRAME_RECORDS_MAX];
	uint8_t ack[DP_FRAME_DATAGRAM_MAX];
	s->frames++;
	enum dp_drop d = dp_frame_parse(p, len, &f);
	if (d != DP_DROP_NONE) {
		s->drops[d]++;
		int st = dp_drop_ack_status(d);
		if (f.envelope && st > 0)
			answer_error(s, &f, (unsigned)st, from, fromlen);
		return;
	}
	if (f.flags & DP_FRAME_F_NO_ACK)
		return;   /* nothing to answer, and nothing stored for a retry either */
	if (s->stream && (strlen(s->stream) != f.stream_len ||
			  memcmp(s->stream, f.stream, f.stream_len) != 0)) {
		s->drops[DP_DROP_UNKNOWN_STREAM]++;
		answer_error(s, &f, DP_ACK_UNKNOWN_STREAM, from, fromlen);
		return;
	}
	if (f.type == DP_FRAME_T_CHUNK)
		s->chunks++;
	if (window_stale(s, &f)) {
		s->stale_frames++;
		for (unsigned i = 0; i < f.count; i++)
			recs[i] = (struct dp_ack_rec){ .status = DP_ACK_STALE };
		int alen = dp_ack_build(ack, f.len, f.producer_id, f.batch, recs, f.count);
		if (alen > 0)
			send_ack(s, ack, (size_t)alen, from, fromlen);
		return;
	}
	struct stored *e = dedup_find(s, f.producer_id, f.batch);
	if (e) {
		/* A retry of a batch already written (for a chunk: of a completed record). */
		s->dup_frames++;
		answer_new(s, e, from, fromlen);
		return;
	}
	unsigned n = 0;
	if (f.type == DP_FRAME_T_CHUNK) {
		struct dp_reasm_rec done;
		int rc = dp_reasm_add(s->reasm, &f, now_ns() / 1000000, &done);
		if (rc == 0)
			return;
		if (rc < 0) {
			s->drops[-rc]++;
			int st = dp_drop_ack_status((enum dp_drop)-rc);
			if (st > 0)
				answer_error(s, &f, (unsigned)st, from, fromlen);
			return;
		}
		rc = write_rec(s, done.key, done.key_len, done.ehk, done.data, done.data_len, &recs[0]);
		dp_reasm_release(s->reasm, &done);
		if (rc < 0)
			return;
		n = 1;
	} else {
		size_t it = 0;
		struct dp_frame_rec r;
		while (dp_frame_rec_next(&f, &it, &r)) {
			if (write_rec(s, r.key, r.key_len, r.ehk, r.data, r.data_len, &recs[n]) < 0)
				return;
			n++;
		}
	}
	int alen = dp_ack_build(ack, f.len, f.producer_id, f.batch, recs, n);
	if (alen < 0)
		return;
	e = dedup_put(s, f.producer_id, f.batch, ack, (size_t)alen);
	if (e)
		answer_new(s, e, from, fromlen);
}

static void print_stats(const struct responder *s)
{
	json_t *drops = json_object();
	json_t *shards = json_array();
	for (unsigned i = 0; i < DP_DROP__COUNT; i++)
		if (s->drops[i])
			json_object_set_new(drops, dp_drop_name((enum dp_drop)i),
					    json_integer((json_int_t)s->drops[i]));
	for (unsigned i = 0; i < s->shards; i++)
		json_array_append_new(shards, json_integer((json_int_t)s->per_shard[i]));
	struct dp_reasm_stats rs;
	dp_reasm_stats_get(s->reasm, &rs);
	json_t *o = json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:o, s:o}",
			      "frames", (json_int_t)s->frames,
			      "chunks", (json_int_t)s->chunks,
			      "records_written", (json_int_t)s->records_written,
			      "dup_frames", (json_int_t)s->dup_frames,
			      "acks_sent", (json_int_t)s->acks_sent,
			      "acks_dropped", (json_int_t)s->acks_dropped,
			      "acks_delayed", (json_int_t)s->acks_delayed,
			      "error_acks", (json_int_t)s->error_acks,
			      "stale_frames", (json_int_t)s->stale_frames,
			      "reasm_completed", (json_int_t)rs.completed,
			      "batches_stored", (json_int_t)s->dedup_used,
			      "drops", drops,
			      "per_shard", shards);
	if (o) {
		json_dumpf(o, stdout, JSON_COMPACT);
		fputc('\n', stdout);
		json_decref(o);
	}
	fflush(stdout);
}

static int status_by_name(const char *name)
{
	for (unsigned v = 0; v < 256; v++) {
		const char *n = dp_ack_status_name(v);
		if (n && strcmp(n, name) == 0)
			return (int)v;
	}
	return -1;
}

static void usage(void)
{
	fputs("usage: ack_responder [--bind IPV4] [--port N] [--shards N] [--drop-every N]\n"
	      "                [--delay-ms MS] [--status NAME] [--stream NAME] [--dump FILE]\n"
	      "                [--window W]\n",
	      stderr);
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "bind", required_argument, NULL, 'b' },
		{ "port", required_argument, NULL, 'p' },
		{ "shards", required_argument, NULL, 's' },
		{ "drop-every", required_argument, NULL, 'd' },
		{ "delay-ms", required_argument, NULL, 'l' },
		{ "status", required_argument, NULL, 't' },
		{ "stream", required_argument, NULL, 'n' },
		{ "dump", required_argument, NULL, 'u' },
		{ "window", required_argument, NULL, 'w' },
		{ 0 },
	};
	struct responder s = { .fd = -1, .shards = 4, .force_status = -1 };
	const char *bind_addr = "127.0.0.1";
	const char *dump = NULL;
	unsigned long port = 0;
	int ch, rc = 1;
	while ((ch = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (ch) {
		case 'b': bind_addr = optarg; break;
		case 'p': port = strtoul(optarg, NULL, 10); break;
		case 's': s.shards = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'd': s.drop_every = strtoull(optarg, NULL, 10); break;
		case 'l': s.delay_ms = (unsigned)strtoul(optarg, NULL, 10); break;
		case 't':
			s.force_status = status_by_name(optarg);
			if (s.force_status < 0) {
				fprintf(stderr, "ack_responder: unknown status %s\n", optarg);
				return 2;
			}
			break;
		case 'n': s.stream = optarg; break;
		case 'u': dump = optarg; break;
		case 'w': s.window = strtoull(optarg, NULL, 10); break;
		default: usage(); return 2;
		}
	}
	if (s.shards < 1 || s.shards > SHARDS_MAX || port > 65535) {
		usage();
		return 2;
	}
	s.dedup_cap = DEDUP_INIT;
	s.dedup = calloc(s.dedup_cap, sizeof(*s.dedup));
	if (!s.dedup || dp_hasher_new(&s.hasher) < 0 || dp_shard_map_even(s.shards, &s.map) < 0 ||
	    dp_reasm_new(REASM_SLOTS, REASM_TIMEOUT_MS, &s.reasm) < 0) {
		fprintf(stderr, "ack_responder: out of memory\n");
		goto out;
	}
	if (dump && !(s.dump = fopen(dump, "we"))) {
		perror("ack_responder: --dump");
		goto out;
	}
	s.fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	if (s.fd < 0 || inet_pton(AF_INET, bind_addr, &sin.sin_addr) != 1 ||
	    bind(s.fd, (struct sockaddr *)&sin, sizeof(sin)) < 0) {
		perror("ack_responder: bind");
		goto out;
	}
	/* A chunked record arrives as a burst of hundreds of datagrams; best effort (rmem_max). */
	int sz = 8 << 20;
	(void)setsockopt(s.fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
	socklen_t sl = sizeof(sin);
	getsockname(s.fd, (struct sockaddr *)&sin, &sl);
	printf("port %u\n", ntohs(sin.sin_port));
	fflush(stdout);

	struct sigaction sa = { .sa_handler = on_signal };
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);

	static uint8_t bufs[BURST][DP_FRAME_DATAGRAM_MAX];
	struct mmsghdr msgs[BURST];
	struct iovec iov[BURST];
	struct sockaddr_storage from[BURST];
	while (!g_stop) {
		int wait = flush_delayed(&s);
		struct pollfd pfd = { .fd = s.fd, .events = POLLIN };
		if (poll(&pfd, 1, wait < 0 ? 200 : wait) <= 0)
			continue;
		for (unsigned i = 0; i < BURST; i++) {
			iov[i] = (struct iovec){ .iov_base = bufs[i], .iov_len = sizeof(bufs[i]) };
			msgs[i] = (struct mmsghdr){ .msg_hdr = { .msg_name = &from[i],
				.msg_namelen = sizeof(from[i]), .msg_iov = &iov[i], .msg_iovlen = 1 } };
		}
		int n = recvmmsg(s.fd, msgs, BURST, MSG_DONTWAIT, NULL);
		for (int i = 0; i < n; i++)
			handle(&s, bufs[i], msgs[i].msg_len, &from[i], msgs[i].msg_hdr.msg_namelen);
	}
	while (flush_delayed(&s) >= 0)
		usleep(1000);
	print_stats(&s);
	rc = 0;
out:
	if (s.dump)
		fclose(s.dump);
	if (s.fd >= 0)
		close(s.fd);
	if (s.dedup)
		for (size_t i = 0; i < s.dedup_cap; i++)
			free(s.dedup[i].ack);
	free(s.dedup);
	free(s.queue);
	dp_reasm_free(s.reasm);
	dp_shard_map_free(s.map);
	dp_hasher_free(s.hasher);
	return rc;
}
