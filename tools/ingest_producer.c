/* SPDX-License-Identifier: MIT */
/*
 * ingest-producer: a kernel UDP producer and load generator for the ingest wire protocol
 * (docs/protocol.md; usage in docs/producer.md).
 *
 * Records come from stdin (one per line: `key<TAB>data`, JSON Lines with --json-lines, or data
 * only with --key) or from a generator (--count, --size, --keys). They are packed into RECORDS
 * frames of at most one datagram (--mtu less the IP and UDP headers) and --batch records; a
 * record too large for one frame travels alone as CHUNK frames. Up to --inflight batches are
 * outstanding, their batch numbers
 * within --window of the oldest unacked one (the receiver's retry window); each waits for its
 * durable ACK. A batch with no ack after --timeout-ms is resent
 * byte for byte, with the same producer id and batch number, so that the receiver's retry window
 * answers what it already wrote instead of writing it twice; the wait doubles on every try, and
 * after --retries resends its unacked records fail as `timeout`. Records answered `throttled` or
 * `internal` are resent the same way; every other status is final.
 *
 * Sending and receiving use sendmmsg/recvmmsg on one connected, non-blocking socket, driven by
 * one poll() loop: no threads. Latency is measured per batch on the monotonic clock, from its
 * first send to the ack that settles its last record.
 *
 * Exit codes: 0 every record acked (ok or duplicate), 1 some records failed (or the ack log could
 * not be written), 2 usage error, 3 network error (the socket failed, or the target never
 * answered and records timed out).
 *
 * Process-wide state: only the SIGINT/SIGTERM flag, which stops taking records like --duration.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "ctl_b64.h"
#include "dp_frame.h"
#include "dp_hash.h"
#include "dp_log.h"

enum {
	RC_OK = 0,
	RC_FAILED = 1,    /* some records were not acked ok */
	RC_USAGE = 2,
	RC_NETWORK = 3,   /* socket error, or the target never answered */
};

#define DEFAULT_TARGET "198.18.0.1:4789"
/* IPv4 and UDP headers; IPv6's header is 40 bytes. A frame larger than the path MTU would be
 * fragmented, and one lost fragment loses the whole frame. */
#define IPV4_UDP_OVERHEAD 28u
#define IPV6_UDP_OVERHEAD 48u
/* The smallest MTU IPv4 guarantees; it still leaves room for a chunk of a 256-byte key on a
 * 128-byte stream name. */
#define MTU_MIN 576u
#define MTU_MAX 65535u
/* Datagrams per sendmmsg/recvmmsg call: the dataplane's burst size. */
#define BURST 32u
/* A stdin line holds at most a 256-byte key and 1 MiB of data; JSON escapes may grow the data
 * up to six times, base64 by a third. Longer lines are skipped as bad input. */
#define LINE_MAX_BYTES (8u << 20)
#define LINE_BUF_INIT (64u << 10)
/* Resend waits double per try up to this multiple of --timeout-ms. */
#define BACKOFF_MAX_SHIFT 6u
/* After --duration or a signal, outstanding batches get this long (or two timeouts) to settle. */
#define DRAIN_MIN_NS (1000 * 1000 * 1000LL)
/* Bad input lines named on stderr; the rest are only counted. */
#define INPUT_WARN_MAX 10u
/* Socket buffers asked for: a chunked 1 MiB record is ~750 MTU-sized datagrams at once. */
#define SOCK_BUF_BYTES (8 << 20)

/* Outcome codes beyond the wire's byte statuses (which are < 256). */
#define ST_PENDING 0xffu
#define ST_TIMEOUT 256u     /* no ack after every retry */
#define ST_BAD_INPUT 257u   /* the input line was rejected: never sent */
#define ST_COUNT 258u
/* shard value for an ok record whose ack used the status-only fallback (no sequence number). */
#define SHARD_UNKNOWN UINT32_MAX

/* Latency histogram: values below 2^8 ns exactly, above in 256 sub-buckets per power of two
 * (relative error below 0.4 %), 64 powers: fixed memory, no sort. */
#define HIST_SUB_BITS 8u
#define HIST_SUB (1u << HIST_SUB_BITS)
#define HIST_BUCKETS ((64u - HIST_SUB_BITS + 1u) * HIST_SUB)

static volatile sig_atomic_t g_stop;

struct opts {
	const char *to;
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
	double rate;
	unsigned timeout_ms;
	unsigned retries;
	unsigned window;
	unsigned ports;
	const char *ack_log;
	bool progress;
	bool json;
	double duration;
};

/* One input record; its bytes belong to the source until src_take(). */
struct rec_in {
	const uint8_t *key;
	size_t key_len;
	const uint8_t *data;
	size_t data_len;
	const uint8_t *ehk;   /* NULL or 16 bytes */
};

struct src {
	bool generate;
	bool json_lines;
	const char *fixed_key;
	bool eof;
	bool have;            /* cur is valid and not yet taken */
	struct rec_in cur;
	uint64_t rejected;
	/* stdin */
	int fd;
	char *buf;
	size_t off, len, cap;
	size_t line_end;      /* where the line of cur ends (its newline, or len) */
	bool discarding;      /* inside an over-long line: skip to the next newline */
	uint64_t lineno;
	json_t *json;         /* the JSON document cur points into */
	uint8_t *scratch;     /* decoded data_b64 */
	uint8_t ehk[DP_FRAME_EHK_LEN];
	/* generator */
	uint64_t count, made;
	size_t size;
	uint64_t keys;
	uint64_t rng;
	uint8_t *gen_data;
	char gen_key[32];
};

enum slot_state { SLOT_FREE, SLOT_SENDING, SLOT_WAIT };

/* One batch in flight: its frames exactly as first sent (a retry resends these bytes). */
struct slot {
	enum slot_state state;
	uint64_t batch;
	bool chunked;
	uint8_t *frames;      /* nframes frames at a stride of frame_cap bytes */
	size_t frames_cap;    /* bytes allocated */
	uint32_t *flen;
	uint32_t flen_cap;
	uint32_t nframes;
	uint32_t next_frame;  /* sending cursor */
	uint16_t nrec;
	uint16_t pending;     /* records without a final outcome */
	struct dp_ack_rec *out;
	unsigned tries;       /* sends so far */
	int64_t first_send_ns;
	int64_t deadline_ns;
};

struct stats {
	uint64_t taken;           /* records taken from the input into batches */
	uint64_t settled[ST_COUNT];
	uint64_t batches;
	uint64_t retries;         /* batch resends */
	uint64_t datagrams;
	uint64_t bytes;
	uint64_t acks;            /* acks matched to a batch in flight */
	uint64_t acks_late;       /* for a batch already settled (retry replays, chunk replays) */
	uint64_t acks_bad;        /* unparsable, another producer's, or a wrong record count */
	uint64_t received;        /* datagrams received from the target at all */
	uint64_t send_errors;     /* transient: refused, no buffer, unreachable */
	uint64_t hist[HIST_BUCKETS];
	uint64_t hist_n;
};

struct producer {
	struct opts o;
	int fd;
	size_t frame_cap;
	size_t stream_len;
	struct src src;
	struct slot *slots;
	struct stats st;
	FILE *ack_log;
	bool ack_log_failed;
	uint64_t next_batch;
	bool input_done;
	bool stopping;
	int64_t start_ns;
	int64_t stop_ns;          /* when stopping began */
	int64_t drain_deadline_ns;
	int64_t next_progress_ns;
	bool send_blocked;        /* the last sendmmsg met a full socket buffer */
	bool fatal;
	bool warned_stale, warned_dup;
	uint8_t *rxbuf;           /* BURST datagrams of DP_FRAME_DATAGRAM_MAX bytes */
};

/* ---- small helpers --------------------------------------------------------------------------- */

static void errmsg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void errmsg(const char *fmt, ...)
{
	va_list ap;
	fputs("ingest-producer: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static int64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static uint64_t splitmix(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static void on_signal(int sig)
{
	(void)sig;
	g_stop = 1;
}

static const char *status_text(unsigned st)
{
	if (st == ST_TIMEOUT)
		return "timeout";
	if (st == ST_BAD_INPUT)
		return "bad-input";
	const char *n = dp_ack_status_name(st);
	return n ? n : "unknown";
}

/* Statuses that mean "not written by this frame, resend the same batch" (docs/protocol.md). */
static bool status_is_retryable(unsigned st)
{
	return st == DP_ACK_THROTTLED || st == DP_ACK_INTERNAL;
}

static unsigned hist_bucket(uint64_t v)
{
	if (v < HIST_SUB)
		return (unsigned)v;
	unsigned e = 63u - (unsigned)__builtin_clzll(v);
	unsigned sub = (unsigned)(v >> (e - HIST_SUB_BITS)) & (HIST_SUB - 1u);
	return (e - HIST_SUB_BITS + 1u) * HIST_SUB + sub;
}

/* The smallest value of bucket b. */
static uint64_t hist_value(unsigned b)
{
	if (b < HIST_SUB)
		return b;
	unsigned e = b / HIST_SUB + HIST_SUB_BITS - 1u;
	uint64_t sub = b % HIST_SUB;
	return (HIST_SUB + sub) << (e - HIST_SUB_BITS);
}

static uint64_t hist_quantile(const struct stats *st, double q)
{
	if (st->hist_n == 0)
		return 0;
	uint64_t rank = (uint64_t)ceil(q * (double)st->hist_n);
	if (rank == 0)
		rank = 1;
	uint64_t seen = 0;
	for (unsigned b = 0; b < HIST_BUCKETS; b++) {
		seen += st->hist[b];
		if (seen >= rank)
			return hist_value(b);
	}
	return 0;
}

/* ---- input ----------------------------------------------------------------------------------- */

static void src_reject(struct src *s, const char *why)
{
	s->rejected++;
	if (s->rejected <= INPUT_WARN_MAX)
		errmsg("input line %" PRIu64 ": %s; skipped", s->lineno, why);
	else if (s->rejected == INPUT_WARN_MAX + 1)
		errmsg("more bad input lines; only counting them now");
}

/* Check the Kinesis bounds of a record. Returns NULL or what is wrong. */
static const char *rec_check(const struct rec_in *r)
{
	if (r->key_len == 0)
		return "empty partition key";
	if (r->key_len > DP_KEY_MAX)
		return "partition key longer than 256 bytes";
	if (r->data_len == 0)
		return "empty data";
	if (r->data_len > DP_DATA_MAX)
		return "data longer than 1 MiB";
	return NULL;
}

/* Parse one JSON line into s->cur. Returns NULL or what is wrong. */
static const char *src_parse_json(struct src *s, const char *line, size_t len)
{
	json_error_t jerr;
	json_t *j = json_loadb(line, len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &jerr);
	if (!j || !json_is_object(j)) {
		json_decref(j);
		return "not a JSON object";
	}
	s->json = j;
	json_t *k = json_object_get(j, "key");
	json_t *d = json_object_get(j, "data");
	json_t *d64 = json_object_get(j, "data_b64");
	json_t *ehk = json_object_get(j, "ehk");
	if (s->fixed_key) {
		if (k)
			return "\"key\" given with --key";
		s->cur.key = (const uint8_t *)s->fixed_key;
		s->cur.key_len = strlen(s->fixed_key);
	} else {
		if (!json_is_string(k))
			return "\"key\" is missing or not a string";
		s->cur.key = (const uint8_t *)json_string_value(k);
		s->cur.key_len = json_string_length(k);
	}
	if ((d != NULL) == (d64 != NULL))
		return "exactly one of \"data\" and \"data_b64\" is needed";
	if (d) {
		if (!json_is_string(d))
			return "\"data\" is not a string";
		s->cur.data = (const uint8_t *)json_string_value(d);
		s->cur.data_len = json_string_length(d);
	} else {
		if (!json_is_string(d64))
			return "\"data_b64\" is not a string";
		size_t n = json_string_length(d64);
		if (n > ctl_b64_enc_len(DP_DATA_MAX))
			return "data longer than 1 MiB";
		long m = ctl_b64_decode(json_string_value(d64), n, s->scratch);
		if (m < 0)
			return "\"data_b64\" is not base64";
		s->cur.data = s->scratch;
		s->cur.data_len = (size_t)m;
	}
	s->cur.ehk = NULL;
	if (ehk) {
		dp_u128 v;
		if (!json_is_string(ehk) ||
		    dp_u128_parse(json_string_value(ehk), json_string_length(ehk), &v) < 0)
			return "\"ehk\" is not a decimal string in 0..2^128-1";
		dp_be128_store(v, s->ehk);
		s->cur.ehk = s->ehk;
	}
	return NULL;
}

static const char *src_parse_line(struct src *s, char *line, size_t len)
{
	memset(&s->cur, 0, sizeof(s->cur));
	if (s->json_lines)
		return src_parse_json(s, line, len);
	if (s->fixed_key) {
		s->cur.key = (const uint8_t *)s->fixed_key;
		s->cur.key_len = strlen(s->fixed_key);
		s->cur.data = (const uint8_t *)line;
		s->cur.data_len = len;
		return NULL;
	}
	char *tab = memchr(line, '\t', len);
	if (!tab)
		return "no TAB between key and data (or use --key)";
	s->cur.key = (const uint8_t *)line;
	s->cur.key_len = (size_t)(tab - line);
	s->cur.data = (const uint8_t *)tab + 1;
	s->cur.data_len = len - s->cur.key_len - 1;
	return NULL;
}

/* Read what stdin has. Returns 0, or a negative errno for a read error. */
static int src_read(struct src *s)
{
	if (s->off > 0) {
		memmove(s->buf, s->buf + s->off, s->len - s->off);
		s->len -= s->off;
		s->off = 0;
	}
	if (s->len == s->cap) {
		if (s->cap >= LINE_MAX_BYTES) {
			/* No newline in the whole buffer: the line is too long. Skip it. */
			s->lineno++;
			src_reject(s, "line longer than 8 MiB");
			s->lineno--;
			s->discarding = true;
			s->len = 0;
		} else {
			size_t ncap = s->cap * 2;
			char *nb = realloc(s->buf, ncap);
			if (!nb)
				return -ENOMEM;
			s->buf = nb;
			s->cap = ncap;
		}
	}
	ssize_t n = read(s->fd, s->buf + s->len, s->cap - s->len);
	if (n < 0)
		return (errno == EINTR || errno == EAGAIN) ? 0 : -errno;
	if (n == 0)
		s->eof = true;
	s->len += (size_t)n;
	return 0;
}

static bool stdin_readable(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	return poll(&p, 1, 0) > 0;
}

/*
 * The next record, not consumed. Returns 1 (*r filled), 0 when stdin has no complete line yet,
 * -ENODATA at the end of the input, or another negative errno (a read error).
 */
static int src_peek(struct src *s, struct rec_in *r)
{
	if (s->have) {
		*r = s->cur;
		return 1;
	}
	if (s->generate) {
		if (s->count && s->made >= s->count)
			return -ENODATA;
		uint64_t k = splitmix(&s->rng) % s->keys;
		if (s->fixed_key) {
			s->cur.key = (const uint8_t *)s->fixed_key;
			s->cur.key_len = strlen(s->fixed_key);
		} else {
			int n = snprintf(s->gen_key, sizeof(s->gen_key), "key-%" PRIu64, k);
			s->cur.key = (const uint8_t *)s->gen_key;
			s->cur.key_len = (size_t)n;
		}
		/* The record number leads the data, so that every record differs. */
		char num[17];
		snprintf(num, sizeof(num), "%016" PRIx64, s->made);
		memcpy(s->gen_data, num, s->size < 16 ? s->size : 16);
		s->cur.data = s->gen_data;
		s->cur.data_len = s->size;
		s->cur.ehk = NULL;
		s->have = true;
		*r = s->cur;
		return 1;
	}
	for (;;) {
		char *start = s->buf + s->off;
		size_t avail = s->len - s->off;
		char *nl = memchr(start, '\n', avail);
		if (s->discarding) {
			if (nl) {
				s->off += (size_t)(nl - start) + 1;
				s->lineno++;
				s->discarding = false;
				continue;
			}
			s->off = s->len;
		} else if (nl || (s->eof && avail > 0)) {
			size_t llen = nl ? (size_t)(nl - start) : avail;
			s->line_end = s->off + llen + (nl ? 1 : 0);
			s->lineno++;
			if (llen == 0) {
				s->off = s->line_end;   /* empty lines are skipped */
				continue;
			}
			const char *why = src_parse_line(s, start, llen);
			if (!why)
				why = rec_check(&s->cur);
			if (why) {
				src_reject(s, why);
				json_decref(s->json);
				s->json = NULL;
				s->off = s->line_end;
				continue;
			}
			s->have = true;
			*r = s->cur;
			return 1;
		}
		if (s->eof)
			return -ENODATA;
		if (!stdin_readable(s->fd))
			return 0;
		int rc = src_read(s);
		if (rc < 0)
			return rc;
	}
}

static void src_take(struct src *s)
{
	s->have = false;
	if (s->generate) {
		s->made++;
		return;
	}
	json_decref(s->json);
	s->json = NULL;
	s->off = s->line_end;
}

/* ---- batches --------------------------------------------------------------------------------- */

static int slot_reserve(struct slot *sl, size_t frame_cap, uint32_t nframes)
{
	size_t need = frame_cap * nframes;
	if (need > sl->frames_cap) {
		uint8_t *nf = realloc(sl->frames, need);
		if (!nf)
			return -ENOMEM;
		sl->frames = nf;
		sl->frames_cap = need;
	}
	if (nframes > sl->flen_cap) {
		uint32_t *nl = realloc(sl->flen, nframes * sizeof(*nl));
		if (!nl)
			return -ENOMEM;
		sl->flen = nl;
		sl->flen_cap = nframes;
	}
	return 0;
}

static bool rec_needs_chunks(const struct producer *p, const struct rec_in *r)
{
	return DP_FRAME_HDR_LEN + p->stream_len +
		       dp_frame_rec_size(r->key_len, r->ehk != NULL, r->data_len) >
	       p->frame_cap;
}

/* Records the rate limit lets us take now (UINT64_MAX without --rate); *wake_ns when it is 0. */
static uint64_t rate_allowance(const struct producer *p, int64_t now, int64_t *wake_ns)
{
	if (p->o.rate <= 0)
		return UINT64_MAX;
	double elapsed = (double)(now - p->start_ns) / 1e9;
	uint64_t allowed = (uint64_t)(p->o.rate * elapsed) + 1;
	if (allowed > p->st.taken)
		return allowed - p->st.taken;
	*wake_ns = p->start_ns + (int64_t)((double)p->st.taken / p->o.rate * 1e9) + 1;
	return 0;
}

/* Cut one record into CHUNK frames at fixed offsets (a retry resends identical chunks). */
static int slot_build_chunked(struct producer *p, struct slot *sl, const struct rec_in *r)
{
	size_t room = dp_frame_chunk_room(p->frame_cap, p->stream_len, r->key_len, r->ehk != NULL);
	if (room == 0)
		return -EMSGSIZE;
	uint32_t nframes = (uint32_t)((r->data_len + room - 1) / room);
	int rc = slot_reserve(sl, p->frame_cap, nframes);
	if (rc < 0)
		return rc;
	for (uint32_t i = 0; i < nframes; i++) {
		size_t off = (size_t)i * room;
		size_t len = r->data_len - off < room ? r->data_len - off : room;
		rc = dp_frame_build_chunk(sl->frames + (size_t)i * p->frame_cap, p->frame_cap,
					  p->o.producer_id, sl->batch, p->o.stream, p->stream_len, 0,
					  r->key, r->key_len, r->ehk, (uint32_t)r->data_len,
					  (uint32_t)off, r->data + off, len);
		if (rc < 0)
			return rc;
		sl->flen[i] = (uint32_t)rc;
	}
	sl->nframes = nframes;
	sl->chunked = true;
	sl->nrec = 1;
	return 1;
}

/*
 * Fill a free slot with the next batch. Returns the records taken (0: no input ready, the input
 * ended, or the rate limit says wait) or a negative errno.
 */
static int slot_build(struct producer *p, struct slot *sl, int64_t now, int64_t *wake_ns)
{
	uint64_t allow = rate_allowance(p, now, wake_ns);
	if (allow == 0)
		return 0;
	struct rec_in r;
	int rc = src_peek(&p->src, &r);
	if (rc == -ENODATA) {
		p->input_done = true;
		return 0;
	}
	if (rc <= 0)
		return rc;

	sl->batch = p->next_batch;
	sl->chunked = false;
	if (rec_needs_chunks(p, &r)) {
		rc = slot_build_chunked(p, sl, &r);
		if (rc < 0)
			return rc;
		src_take(&p->src);
	} else {
		rc = slot_reserve(sl, p->frame_cap, 1);
		if (rc < 0)
			return rc;
		struct dp_frame_builder b;
		rc = dp_frame_builder_init(&b, sl->frames, p->frame_cap, p->o.producer_id, sl->batch,
					   p->o.stream, p->stream_len, 0);
		if (rc < 0)
			return rc;
		unsigned n = 0;
		for (;;) {
			rc = dp_frame_builder_add(&b, r.key, r.key_len, r.ehk, r.data, r.data_len);
			if (rc == -EMSGSIZE)
				break;    /* full: the record opens the next batch */
			if (rc < 0)
				return rc;
			src_take(&p->src);
			n++;
			if (n >= p->o.batch || n >= allow)
				break;
			rc = src_peek(&p->src, &r);
			if (rc == -ENODATA) {
				p->input_done = true;
				break;
			}
			if (rc < 0)
				return rc;
			if (rc == 0 || rec_needs_chunks(p, &r))
				break;
		}
		rc = dp_frame_builder_finish(&b);
		if (rc < 0)
			return rc;
		sl->flen[0] = (uint32_t)rc;
		sl->nframes = 1;
		sl->nrec = (uint16_t)n;
	}
	p->next_batch++;
	for (unsigned i = 0; i < sl->nrec; i++)
		sl->out[i] = (struct dp_ack_rec){ .status = ST_PENDING };
	sl->pending = sl->nrec;
	sl->tries = 1;
	sl->next_frame = 0;
	sl->first_send_ns = 0;
	sl->state = SLOT_SENDING;
	p->st.taken += sl->nrec;
	p->st.batches++;
	return sl->nrec;
}

static int64_t backoff_ns(const struct producer *p, unsigned tries)
{
	unsigned shift = tries > 0 ? tries - 1 : 0;
	if (shift > BACKOFF_MAX_SHIFT)
		shift = BACKOFF_MAX_SHIFT;
	return ((int64_t)p->o.timeout_ms << shift) * 1000000LL;
}

static void ack_log_line(struct producer *p, const struct slot *sl, unsigned i, unsigned st)
{
	if (!p->ack_log)
		return;
	int rc;
	if (st == DP_ACK_OK && sl->out[i].shard != SHARD_UNKNOWN)
		rc = fprintf(p->ack_log, "%" PRIu64 " %" PRIu64 " %u %" PRIu32 " %" PRIu64 "\n",
			     p->o.producer_id, sl->batch, i, sl->out[i].shard, sl->out[i].seq);
	else
		rc = fprintf(p->ack_log, "%" PRIu64 " %" PRIu64 " %u %s\n", p->o.producer_id,
			     sl->batch, i, status_text(st));
	if (rc < 0)
		p->ack_log_failed = true;
}

/* The batch is settled: count, log and free the slot. */
static void slot_finish(struct producer *p, struct slot *sl, int64_t now, unsigned fallback)
{
	for (unsigned i = 0; i < sl->nrec; i++) {
		unsigned st = sl->out[i].status;
		if (st == ST_PENDING)
			st = fallback;
		p->st.settled[st]++;
		ack_log_line(p, sl, i, st);
		if (st == DP_ACK_STALE && !p->warned_stale) {
			p->warned_stale = true;
			errmsg("batch %" PRIu64 " answered stale-batch: outside the receiver's retry "
			       "window (a reused producer id, or --window above the receiver's?)", sl->batch);
		}
		if (st == DP_ACK_DUPLICATE && !p->warned_dup) {
			p->warned_dup = true;
			errmsg("batch %" PRIu64 " answered duplicate: written by an earlier copy "
			       "whose sequence numbers cannot be restated", sl->batch);
		}
	}
	if (fallback == DP_ACK_OK && sl->first_send_ns) {
		uint64_t lat = (uint64_t)(now - sl->first_send_ns);
		p->st.hist[hist_bucket(lat)]++;
		p->st.hist_n++;
	}
	sl->state = SLOT_FREE;
	if (sl->chunked && sl->frames_cap > p->frame_cap) {
		/* Give a chunked record's megabyte back; ordinary batches need one frame. */
		free(sl->frames);
		sl->frames = NULL;
		sl->frames_cap = 0;
	}
	sl->pending = 0;
}

/* Give up on a batch: its unacked records fail with `timeout` (or their last retryable status). */
static void slot_fail(struct producer *p, struct slot *sl, int64_t now)
{
	for (unsigned i = 0; i < sl->nrec; i++)
		if (sl->out[i].status == ST_PENDING && sl->out[i].seq != 0)
			sl->out[i].status = (uint8_t)sl->out[i].seq;  /* the last retryable status */
	/* Latency only counts batches that completed; slot_finish skips it for a fallback. */
	slot_finish(p, sl, now, ST_TIMEOUT);
}

/* ---- network --------------------------------------------------------------------------------- */

static bool send_error_transient(int e)
{
	return e == EAGAIN || e == EWOULDBLOCK || e == ENOBUFS || e == ECONNREFUSED ||
	       e == EHOSTUNREACH || e == ENETUNREACH || e == EINTR || e == ENETDOWN ||
	       e == EHOSTDOWN;
}

/* Send what the slots in SENDING state still have to send. Returns 0 or a negative errno. */
static int flush_sends(struct producer *p, int64_t now)
{
	struct mmsghdr msgs[BURST];
	struct iovec iov[BURST];
	struct slot *owner[BURST];
	p->send_blocked = false;
	for (;;) {
		unsigned n = 0;
		for (unsigned s = 0; s < p->o.inflight && n < BURST; s++) {
			struct slot *sl = &p->slots[s];
			if (sl->state != SLOT_SENDING)
				continue;
			for (uint32_t f = sl->next_frame; f < sl->nframes && n < BURST; f++) {
				iov[n].iov_base = sl->frames + (size_t)f * p->frame_cap;
				iov[n].iov_len = sl->flen[f];
				memset(&msgs[n], 0, sizeof(msgs[n]));
				msgs[n].msg_hdr.msg_iov = &iov[n];
				msgs[n].msg_hdr.msg_iovlen = 1;
				owner[n] = sl;
				n++;
			}
		}
		if (n == 0)
			return 0;
		int sent = sendmmsg(p->fd, msgs, n, MSG_DONTWAIT);
		if (sent < 0) {
			int e = errno;
			if (!send_error_transient(e))
				return -e;
			if (e == EAGAIN || e == EWOULDBLOCK || e == ENOBUFS) {
				p->send_blocked = true;
				return 0;
			}
			/* Refused or unreachable: these datagrams are lost; the retry timer resends
			 * them. Count and move the cursors on as if they went. */
			p->st.send_errors++;
			sent = (int)n;
		} else {
			for (int i = 0; i < sent; i++) {
				p->st.datagrams++;
				p->st.bytes += iov[i].iov_len;
			}
		}
		for (int i = 0; i < sent; i++) {
			struct slot *sl = owner[i];
			if (sl->next_frame == 0 && sl->first_send_ns == 0)
				sl->first_send_ns = now;
			sl->next_frame++;
			if (sl->next_frame == sl->nframes) {
				sl->state = SLOT_WAIT;
				sl->deadline_ns = now + backoff_ns(p, sl->tries);
			}
		}
		if ((unsigned)sent < n) {
			p->send_blocked = true;
			return 0;
		}
	}
}

static struct slot *slot_find(struct producer *p, uint64_t batch)
{
	for (unsigned s = 0; s < p->o.inflight; s++)
		if (p->slots[s].state != SLOT_FREE && p->slots[s].batch == batch)
			return &p->slots[s];
	return NULL;
}

static void handle_ack(struct producer *p, const uint8_t *buf, size_t len, int64_t now)
{
	struct dp_ack a;
	p->st.received++;
	if (dp_ack_parse(buf, len, &a) != DP_DROP_NONE || a.producer_id != p->o.producer_id) {
		p->st.acks_bad++;
		return;
	}
	struct slot *sl = slot_find(p, a.batch);
	if (!sl) {
		p->st.acks_late++;
		return;
	}
	bool retry = false;
	if (a.status != DP_ACK_OK) {
		/* Frame-level: the whole frame failed with one status. */
		for (unsigned i = 0; i < sl->nrec; i++) {
			if (sl->out[i].status != ST_PENDING)
				continue;
			if (status_is_retryable(a.status)) {
				sl->out[i].seq = a.status;
				retry = true;
			} else {
				sl->out[i].status = a.status;
				sl->pending--;
			}
		}
	} else {
		struct dp_ack_rec recs[DP_FRAME_RECORDS_MAX];
		if (a.count != sl->nrec || dp_ack_expand(&a, recs, DP_FRAME_RECORDS_MAX) < 0) {
			p->st.acks_bad++;
			return;
		}
		bool status_only = (a.flags & DP_ACK_F_STATUS_ONLY) != 0;
		for (unsigned i = 0; i < sl->nrec; i++) {
			if (sl->out[i].status != ST_PENDING)
				continue;
			unsigned st = recs[i].status;
			if (status_is_retryable(st)) {
				sl->out[i].seq = st;
				retry = true;
				continue;
			}
			sl->out[i] = recs[i];
			if (st == DP_ACK_OK && status_only)
				sl->out[i].shard = SHARD_UNKNOWN;
			sl->pending--;
		}
	}
	p->st.acks++;
	if (sl->pending == 0) {
		slot_finish(p, sl, now, DP_ACK_OK);
		return;
	}
	if (retry && sl->state == SLOT_WAIT)
		sl->deadline_ns = now + backoff_ns(p, sl->tries);  /* resend after the backoff */
}

/* Read every datagram waiting. Returns 0 or a negative errno for a fatal socket error. */
static int drain_acks(struct producer *p, int64_t now)
{
	struct mmsghdr msgs[BURST];
	struct iovec iov[BURST];
	for (;;) {
		for (unsigned i = 0; i < BURST; i++) {
			iov[i].iov_base = p->rxbuf + (size_t)i * DP_FRAME_DATAGRAM_MAX;
			iov[i].iov_len = DP_FRAME_DATAGRAM_MAX;
			memset(&msgs[i], 0, sizeof(msgs[i]));
			msgs[i].msg_hdr.msg_iov = &iov[i];
			msgs[i].msg_hdr.msg_iovlen = 1;
		}
		int n = recvmmsg(p->fd, msgs, BURST, MSG_DONTWAIT, NULL);
		if (n < 0) {
			int e = errno;
			if (e == EAGAIN || e == EWOULDBLOCK || e == EINTR)
				return 0;
			if (send_error_transient(e)) {
				/* An ICMP error for an earlier datagram: nobody listens (yet). */
				p->st.send_errors++;
				continue;
			}
			return -e;
		}
		for (int i = 0; i < n; i++)
			handle_ack(p, p->rxbuf + (size_t)i * DP_FRAME_DATAGRAM_MAX, msgs[i].msg_len,
				   now);
		if ((unsigned)n < BURST)
			return 0;
	}
}

/* Resend batches whose wait ran out, or give up on them. */
static void expire(struct producer *p, int64_t now)
{
	for (unsigned s = 0; s < p->o.inflight; s++) {
		struct slot *sl = &p->slots[s];
		if (sl->state != SLOT_WAIT || now < sl->deadline_ns)
			continue;
		if (sl->tries > p->o.retries) {
			slot_fail(p, sl, now);
			continue;
		}
		sl->tries++;
		sl->next_frame = 0;
		sl->state = SLOT_SENDING;
		p->st.retries++;
	}
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
		errmsg("--to %s: %s", to, gai_strerror(rc));
		return -EINVAL;
	}
	return 0;
}

static int open_socket(struct producer *p)
{
	struct addrinfo *ai = NULL;
	int rc = parse_target(p->o.to, &ai);
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
	if (p->o.ports > 1) {
		in_port_t *pp = ai->ai_family == AF_INET6 ?
			&((struct sockaddr_in6 *)ai->ai_addr)->sin6_port :
			&((struct sockaddr_in *)ai->ai_addr)->sin_port;
		unsigned base = ntohs(*pp);
		if (base + p->o.ports - 1 > 65535) {
			errmsg("--ports %u from port %u passes 65535", p->o.ports, base);
			rc = -EINVAL;
			close(fd);
			goto out_ai;
		}
		*pp = htons((uint16_t)(base + p->o.producer_id % p->o.ports));
	}
	/* Connected: the kernel filters out datagrams from anyone else and reports ICMP errors. */
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
		rc = -errno;
		close(fd);
		goto out_ai;
	}
	size_t overhead = ai->ai_family == AF_INET6 ? IPV6_UDP_OVERHEAD : IPV4_UDP_OVERHEAD;
	p->frame_cap = p->o.mtu - overhead;
	if (p->frame_cap > DP_FRAME_DATAGRAM_MAX)
		p->frame_cap = DP_FRAME_DATAGRAM_MAX;
	p->fd = fd;
	rc = 0;
out_ai:
	freeaddrinfo(ai);
	return rc;
}

/* ---- report ---------------------------------------------------------------------------------- */

static uint64_t settled_total(const struct stats *st)
{
	uint64_t t = 0;
	for (unsigned i = 0; i < ST_COUNT; i++)
		t += st->settled[i];
	return t;
}

static uint64_t written_total(const struct stats *st)
{
	return st->settled[DP_ACK_OK] + st->settled[DP_ACK_DUPLICATE];
}

static void report_progress(const struct producer *p, int64_t now)
{
	double el = (double)(now - p->start_ns) / 1e9;
	uint64_t w = written_total(&p->st);
	fprintf(stderr,
		"%.1fs sent %" PRIu64 " acked %" PRIu64 " failed %" PRIu64 " retries %" PRIu64
		" p99 %" PRIu64 "ns %.0f rec/s\n",
		el, p->st.taken, w, settled_total(&p->st) - w, p->st.retries,
		hist_quantile(&p->st, 0.99), el > 0 ? (double)w / el : 0.0);
}

static int report_json(const struct producer *p, double el, int rc)
{
	const struct stats *st = &p->st;
	json_t *failed = json_object();
	json_t *root = NULL;
	if (!failed)
		return -ENOMEM;
	uint64_t nfailed = 0;
	for (unsigned i = 1; i < ST_COUNT; i++) {
		if (!st->settled[i] || i == DP_ACK_DUPLICATE)
			continue;
		nfailed += st->settled[i];
		json_object_set_new(failed, status_text(i), json_integer((json_int_t)st->settled[i]));
	}
	char pid[24];
	snprintf(pid, sizeof(pid), "%" PRIu64, p->o.producer_id);
	root = json_pack("{s:s, s:s, s:I, s:I, s:I, s:I, s:o, s:I, s:I, s:I, s:I, s:I, s:I, s:I,"
			 " s:I, s:I, s:{s:I, s:I, s:I}, s:f, s:f, s:i}",
			 "stream", p->o.stream,
			 "producer_id", pid,
			 "sent", (json_int_t)st->taken,
			 "acked", (json_int_t)written_total(st),
			 "duplicate", (json_int_t)st->settled[DP_ACK_DUPLICATE],
			 "failed", (json_int_t)nfailed,
			 "failed_by_status", failed,
			 "batches", (json_int_t)st->batches,
			 "retries", (json_int_t)st->retries,
			 "datagrams", (json_int_t)st->datagrams,
			 "bytes", (json_int_t)st->bytes,
			 "acks", (json_int_t)st->acks,
			 "acks_late", (json_int_t)st->acks_late,
			 "acks_bad", (json_int_t)st->acks_bad,
			 "send_errors", (json_int_t)st->send_errors,
			 "input_rejected", (json_int_t)st->settled[ST_BAD_INPUT],
			 "latency_ns",
			 "p50", (json_int_t)hist_quantile(st, 0.50),
			 "p99", (json_int_t)hist_quantile(st, 0.99),
			 "p999", (json_int_t)hist_quantile(st, 0.999),
			 "elapsed_s", el,
			 "records_per_s", el > 0 ? (double)written_total(st) / el : 0.0,
			 "exit_code", rc);
	if (!root)
		return -ENOMEM;
	int r = json_dumpf(root, stdout, JSON_COMPACT);
	fputc('\n', stdout);
	json_decref(root);
	return r < 0 ? -EIO : 0;
}

static void report_text(const struct producer *p, double el)
{
	const struct stats *st = &p->st;
	uint64_t w = written_total(st);
	printf("stream        %s\n", p->o.stream);
	printf("producer id   %" PRIu64 "\n", p->o.producer_id);
	printf("records       sent %" PRIu64 ", acked %" PRIu64 " (duplicate %" PRIu64
	       "), failed %" PRIu64 "\n",
	       st->taken, w, st->settled[DP_ACK_DUPLICATE], settled_total(st) - w);
	for (unsigned i = 1; i < ST_COUNT; i++)
		if (st->settled[i] && i != DP_ACK_DUPLICATE)
			printf("  failed      %-14s %" PRIu64 "\n", status_text(i), st->settled[i]);
	printf("batches       %" PRIu64 ", retries %" PRIu64 ", datagrams %" PRIu64
	       ", bytes %" PRIu64 "\n", st->batches, st->retries, st->datagrams, st->bytes);
	printf("acks          %" PRIu64 ", late %" PRIu64 ", bad %" PRIu64 ", send errors %" PRIu64
	       "\n", st->acks, st->acks_late, st->acks_bad, st->send_errors);
	printf("ack latency   p50 %" PRIu64 " ns, p99 %" PRIu64 " ns, p999 %" PRIu64 " ns\n",
	       hist_quantile(st, 0.50), hist_quantile(st, 0.99), hist_quantile(st, 0.999));
	printf("elapsed       %.3f s, %.0f records/s\n", el, el > 0 ? (double)w / el : 0.0);
}

/* ---- main loop ------------------------------------------------------------------------------- */

/*
 * Whether a new batch number stays within --window of the oldest batch still outstanding. The
 * receiver remembers the outcome of the last W batch numbers per producer (docs/protocol.md,
 * "Retries and idempotence"); a retry of a batch older than that is answered stale-batch instead
 * of being deduplicated. One slow batch must therefore hold back new numbers, not only new
 * slots: --inflight alone bounds how many are outstanding, not how far apart they are.
 */
static bool window_open(const struct producer *p)
{
	uint64_t oldest = p->next_batch;
	for (unsigned s = 0; s < p->o.inflight; s++)
		if (p->slots[s].state != SLOT_FREE && p->slots[s].batch < oldest)
			oldest = p->slots[s].batch;
	return p->next_batch - oldest < p->o.window;
}

static bool any_active(const struct producer *p)
{
	for (unsigned s = 0; s < p->o.inflight; s++)
		if (p->slots[s].state != SLOT_FREE)
			return true;
	return false;
}

static void begin_stop(struct producer *p, int64_t now)
{
	p->stopping = true;
	p->stop_ns = now;
	int64_t grace = 2 * (int64_t)p->o.timeout_ms * 1000000LL;
	p->drain_deadline_ns = now + (grace > DRAIN_MIN_NS ? grace : DRAIN_MIN_NS);
}

static int run(struct producer *p)
{
	int64_t end_ns = p->o.duration > 0 ? p->start_ns + (int64_t)(p->o.duration * 1e9) : 0;
	for (;;) {
		int64_t now = now_ns();
		if (!p->stopping && (g_stop || (end_ns && now >= end_ns)))
			begin_stop(p, now);
		if (p->stopping && now >= p->drain_deadline_ns) {
			for (unsigned s = 0; s < p->o.inflight; s++)
				if (p->slots[s].state != SLOT_FREE)
					slot_fail(p, &p->slots[s], now);
			return 0;
		}
		expire(p, now);

		int64_t wake_ns = 0;
		bool need_input = false;
		for (unsigned s = 0; s < p->o.inflight && !p->stopping && !p->input_done; s++) {
			struct slot *sl = &p->slots[s];
			if (sl->state != SLOT_FREE)
				continue;
			if (!window_open(p))
				break;    /* an ack (or a give-up) of the oldest batch opens it */
			int rc = slot_build(p, sl, now, &wake_ns);
			if (rc < 0) {
				errmsg("input: %s", strerror(-rc));
				return rc == -ENOMEM ? rc : -EIO;
			}
			if (rc == 0) {
				need_input = !p->input_done && wake_ns == 0;
				break;
			}
		}
		int rc = flush_sends(p, now);
		if (rc < 0) {
			errmsg("send to %s: %s", p->o.to, strerror(-rc));
			p->fatal = true;
			return 0;
		}
		if (p->input_done && !any_active(p))
			return 0;
		if (p->stopping && !any_active(p))
			return 0;

		/* Sleep until an ack, input, a resend deadline, the rate limit, or a tick. */
		int64_t next = now + 1000000000LL;
		for (unsigned s = 0; s < p->o.inflight; s++)
			if (p->slots[s].state == SLOT_WAIT && p->slots[s].deadline_ns < next)
				next = p->slots[s].deadline_ns;
		if (wake_ns && wake_ns < next)
			next = wake_ns;
		if (end_ns && !p->stopping && end_ns < next)
			next = end_ns;
		if (p->stopping && p->drain_deadline_ns < next)
			next = p->drain_deadline_ns;
		if (p->o.progress && p->next_progress_ns < next)
			next = p->next_progress_ns;
		struct pollfd pfd[2] = {
			{ .fd = p->fd, .events = POLLIN | (p->send_blocked ? POLLOUT : 0) },
			{ .fd = p->src.fd, .events = POLLIN },
		};
		nfds_t nfds = need_input && !p->src.generate ? 2 : 1;
		int64_t wait_ns = next - now_ns();
		int timeout = wait_ns <= 0 ? 0 : (int)((wait_ns + 999999) / 1000000);
		if (poll(pfd, nfds, timeout) < 0 && errno != EINTR) {
			errmsg("poll: %s", strerror(errno));
			p->fatal = true;
			return 0;
		}
		now = now_ns();
		if (pfd[0].revents & (POLLIN | POLLERR)) {
			rc = drain_acks(p, now);
			if (rc < 0) {
				errmsg("receive from %s: %s", p->o.to, strerror(-rc));
				p->fatal = true;
				return 0;
			}
		}
		if (p->o.progress && now >= p->next_progress_ns) {
			report_progress(p, now);
			p->next_progress_ns = now + 1000000000LL;
		}
	}
}

/* ---- options --------------------------------------------------------------------------------- */

static void usage(FILE *f)
{
	fputs("usage: ingest-producer --stream NAME [options] < records\n"
	      "       ingest-producer --stream NAME --count N [--size B] [--keys K] [options]\n"
	      "Sends records to an ingest appliance over UDP and waits for durable acks.\n"
	      "\n"
	      "target and batching:\n"
	      "  --to HOST:PORT      receiver (default " DEFAULT_TARGET ")\n"
	      "  --stream NAME       stream name, 1..128 of [a-zA-Z0-9_.-] (required)\n"
	      "  --producer-id N     64-bit producer id (default: random)\n"
	      "  --ports N           receiver ports PORT .. PORT+N-1 (one per worker); this\n"
	      "                      producer uses PORT + id mod N (default 1)\n"
	      "  --inflight N        batches outstanding, 1..1024 (default 8)\n"
	      "  --window W          batch numbers outstanding from the oldest unacked one,\n"
	      "                      1..65536 (default 32: the receiver's retry window)\n"
	      "  --batch N           records per frame at most, 1..1024 (default 500)\n"
	      "  --mtu N             path MTU, 576..65535 (default 1500); a frame is the MTU less\n"
	      "                      the IP and UDP headers; larger records go as chunks\n"
	      "input (stdin unless --count):\n"
	      "  (default)           lines `key<TAB>data`\n"
	      "  --json-lines        JSON objects {\"key\", \"data\" | \"data_b64\", \"ehk\"}\n"
	      "  --key K             every record has key K; a stdin line is the data\n"
	      "  --count N           generate N records (0: until --duration)\n"
	      "  --size B            generated data bytes, 1..1048576 (default 100)\n"
	      "  --keys K            generated distinct keys (default 1024)\n"
	      "  --rate R            records per second at most (default 0: as fast as acks allow)\n"
	      "retries and limits:\n"
	      "  --timeout-ms MS     first ack wait, doubling per resend (default 200)\n"
	      "  --retries N         resends of an unacked batch, 0..30 (default 5)\n"
	      "  --duration S        stop taking records after S seconds\n"
	      "output:\n"
	      "  --ack-log FILE      one line per record: producer batch index shard seq, or\n"
	      "                      producer batch index status; fsync'd at exit\n"
	      "  --progress          a line on stderr every second\n"
	      "  --json              the final report as one JSON object\n"
	      "exit codes: 0 all acked, 1 some failed, 2 usage, 3 network error\n",
	      f);
}

static int parse_u64(const char *s, uint64_t lo, uint64_t hi, uint64_t *out)
{
	char *end;
	errno = 0;
	if (!s[0] || s[0] == '-')
		return -EINVAL;
	unsigned long long v = strtoull(s, &end, 0);
	if (errno || *end || v < lo || v > hi)
		return -EINVAL;
	*out = v;
	return 0;
}

static int parse_double(const char *s, double *out)
{
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (errno || *end || !s[0] || !(v >= 0) || isinf(v))
		return -EINVAL;
	*out = v;
	return 0;
}

static bool stream_name_ok(const char *s)
{
	size_t n = strlen(s);
	if (n < 1 || n > DP_FRAME_STREAM_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == '.' || c == '-'))
			return false;
	}
	return true;
}

enum {
	OPT_TO = 256, OPT_STREAM, OPT_PID, OPT_INFLIGHT, OPT_BATCH, OPT_MTU, OPT_KEY,
	OPT_JSON_LINES, OPT_COUNT, OPT_SIZE, OPT_KEYS, OPT_RATE, OPT_TIMEOUT, OPT_RETRIES,
	OPT_ACK_LOG, OPT_PROGRESS, OPT_JSON, OPT_DURATION, OPT_WINDOW, OPT_PORTS,
};

/* Returns 0, 1 for --help (exit 0), or -EINVAL (message printed). */
static int parse_opts(int argc, char **argv, struct opts *o)
{
	static const struct option lo[] = {
		{ "to", required_argument, NULL, OPT_TO },
		{ "stream", required_argument, NULL, OPT_STREAM },
		{ "producer-id", required_argument, NULL, OPT_PID },
		{ "inflight", required_argument, NULL, OPT_INFLIGHT },
		{ "batch", required_argument, NULL, OPT_BATCH },
		{ "mtu", required_argument, NULL, OPT_MTU },
		{ "key", required_argument, NULL, OPT_KEY },
		{ "json-lines", no_argument, NULL, OPT_JSON_LINES },
		{ "count", required_argument, NULL, OPT_COUNT },
		{ "size", required_argument, NULL, OPT_SIZE },
		{ "keys", required_argument, NULL, OPT_KEYS },
		{ "rate", required_argument, NULL, OPT_RATE },
		{ "timeout-ms", required_argument, NULL, OPT_TIMEOUT },
		{ "retries", required_argument, NULL, OPT_RETRIES },
		{ "ack-log", required_argument, NULL, OPT_ACK_LOG },
		{ "progress", no_argument, NULL, OPT_PROGRESS },
		{ "json", no_argument, NULL, OPT_JSON },
		{ "duration", required_argument, NULL, OPT_DURATION },
		{ "window", required_argument, NULL, OPT_WINDOW },
		{ "ports", required_argument, NULL, OPT_PORTS },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	*o = (struct opts){ .to = DEFAULT_TARGET, .inflight = 8, .batch = 500, .mtu = 1500,
			    .size = 100, .keys = 1024, .timeout_ms = 200, .retries = 5,
			    .window = 32, .ports = 1 };
	bool size_set = false, keys_set = false;
	int ch;
	uint64_t v;
	while ((ch = getopt_long(argc, argv, ":h", lo, NULL)) != -1) {
		int rc = 0;
		const char *name = ch >= OPT_TO && ch <= OPT_PORTS ? lo[ch - OPT_TO].name : "";
		switch (ch) {
		case 'h':
			return 1;
		case OPT_TO: o->to = optarg; break;
		case OPT_STREAM: o->stream = optarg; break;
		case OPT_PID:
			rc = parse_u64(optarg, 0, UINT64_MAX, &o->producer_id);
			o->producer_id_set = true;
			break;
		case OPT_INFLIGHT:
			rc = parse_u64(optarg, 1, 1024, &v);
			o->inflight = (unsigned)v;
			break;
		case OPT_BATCH:
			rc = parse_u64(optarg, 1, DP_FRAME_RECORDS_MAX, &v);
			o->batch = (unsigned)v;
			break;
		case OPT_MTU:
			rc = parse_u64(optarg, MTU_MIN, MTU_MAX, &v);
			o->mtu = (unsigned)v;
			break;
		case OPT_KEY:
			o->key = optarg;
			if (!o->key[0] || strlen(o->key) > DP_KEY_MAX)
				rc = -EINVAL;
			break;
		case OPT_JSON_LINES: o->json_lines = true; break;
		case OPT_COUNT:
			rc = parse_u64(optarg, 0, UINT64_MAX, &o->count);
			o->generate = true;
			break;
		case OPT_SIZE:
			rc = parse_u64(optarg, 1, DP_DATA_MAX, &v);
			o->size = (size_t)v;
			size_set = true;
			break;
		case OPT_KEYS:
			rc = parse_u64(optarg, 1, UINT64_MAX, &o->keys);
			keys_set = true;
			break;
		case OPT_RATE: rc = parse_double(optarg, &o->rate); break;
		case OPT_TIMEOUT:
			rc = parse_u64(optarg, 1, 60000, &v);
			o->timeout_ms = (unsigned)v;
			break;
		case OPT_RETRIES:
			rc = parse_u64(optarg, 0, 30, &v);
			o->retries = (unsigned)v;
			break;
		case OPT_ACK_LOG: o->ack_log = optarg; break;
		case OPT_PROGRESS: o->progress = true; break;
		case OPT_JSON: o->json = true; break;
		case OPT_DURATION:
			rc = parse_double(optarg, &o->duration);
			if (rc == 0 && o->duration > 1e7)
				rc = -EINVAL;
			break;
		case OPT_PORTS:
			rc = parse_u64(optarg, 1, 65535, &v);
			o->ports = (unsigned)v;
			break;
		case OPT_WINDOW:
			rc = parse_u64(optarg, 1, 65536, &v);
			o->window = (unsigned)v;
			break;
		case ':':
			errmsg("option %s needs a value", argv[optind - 1]);
			return -EINVAL;
		default:
			errmsg("unknown option %s", argv[optind - 1]);
			return -EINVAL;
		}
		if (rc < 0) {
			errmsg("--%s: bad value '%s'", name, optarg);
			return -EINVAL;
		}
	}
	if (optind < argc) {
		errmsg("unexpected argument '%s'", argv[optind]);
		return -EINVAL;
	}
	if (!o->stream) {
		errmsg("--stream is required");
		return -EINVAL;
	}
	if (!stream_name_ok(o->stream)) {
		errmsg("--stream: 1..128 characters of [a-zA-Z0-9_.-]");
		return -EINVAL;
	}
	if (!o->generate && (size_set || keys_set)) {
		errmsg("--size and --keys generate records: give --count too");
		return -EINVAL;
	}
	if (o->generate && o->json_lines) {
		errmsg("--json-lines reads stdin; --count generates: choose one");
		return -EINVAL;
	}
	if (o->generate && o->count == 0 && o->duration <= 0) {
		errmsg("--count 0 generates without end: give --duration");
		return -EINVAL;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct producer p = { .fd = -1 };
	int rc = parse_opts(argc, argv, &p.o);
	if (rc == 1) {
		usage(stdout);
		return RC_OK;
	}
	if (rc < 0) {
		fputs("try 'ingest-producer --help'\n", stderr);
		return RC_USAGE;
	}
	if (!p.o.producer_id_set &&
	    getrandom(&p.o.producer_id, sizeof(p.o.producer_id), 0) != sizeof(p.o.producer_id)) {
		errmsg("getrandom: %s", strerror(errno));
		return RC_FAILED;
	}
	p.stream_len = strlen(p.o.stream);
	p.next_batch = 1;

	int exit_rc = RC_FAILED;
	rc = open_socket(&p);
	if (rc == -EINVAL) {
		errmsg("--to: expected HOST:PORT, got '%s'", p.o.to);
		return RC_USAGE;
	}
	if (rc < 0) {
		errmsg("socket to %s: %s", p.o.to, strerror(-rc));
		return RC_NETWORK;
	}

	struct src *s = &p.src;
	s->generate = p.o.generate;
	s->json_lines = p.o.json_lines;
	s->fixed_key = p.o.key;
	s->fd = STDIN_FILENO;
	s->count = p.o.count;
	s->size = p.o.size;
	s->keys = p.o.keys;
	s->rng = p.o.producer_id;
	if (s->generate) {
		s->gen_data = malloc(s->size);
		if (!s->gen_data)
			goto out_oom;
		for (size_t i = 0; i < s->size; i++)
			s->gen_data[i] = (uint8_t)('a' + i % 26);
	} else {
		s->cap = LINE_BUF_INIT;
		s->buf = malloc(s->cap);
		s->scratch = p.o.json_lines ? malloc(DP_DATA_MAX) : NULL;
		if (!s->buf || (p.o.json_lines && !s->scratch))
			goto out_oom;
	}
	p.rxbuf = malloc((size_t)BURST * DP_FRAME_DATAGRAM_MAX);
	p.slots = calloc(p.o.inflight, sizeof(*p.slots));
	if (!p.slots || !p.rxbuf)
		goto out_oom;
	for (unsigned i = 0; i < p.o.inflight; i++) {
		p.slots[i].out = calloc(p.o.batch, sizeof(*p.slots[i].out));
		if (!p.slots[i].out)
			goto out_oom;
	}
	if (p.o.ack_log) {
		p.ack_log = fopen(p.o.ack_log, "we");
		if (!p.ack_log) {
			errmsg("--ack-log %s: %s", p.o.ack_log, strerror(errno));
			exit_rc = RC_USAGE;
			goto out;
		}
	}

	struct sigaction sa = { .sa_handler = on_signal };
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	p.start_ns = now_ns();
	p.next_progress_ns = p.start_ns + 1000000000LL;
	rc = run(&p);
	int64_t end = now_ns();
	if (rc == -ENOMEM)
		goto out_oom;

	p.st.settled[ST_BAD_INPUT] = s->rejected;
	if (p.ack_log) {
		if (fflush(p.ack_log) != 0 || fsync(fileno(p.ack_log)) != 0)
			p.ack_log_failed = true;
		if (fclose(p.ack_log) != 0)
			p.ack_log_failed = true;
		p.ack_log = NULL;
		if (p.ack_log_failed)
			errmsg("--ack-log %s: write failed: %s", p.o.ack_log, strerror(errno));
	}

	uint64_t failed = settled_total(&p.st) - written_total(&p.st);
	if (p.fatal || rc < 0)
		exit_rc = RC_NETWORK;
	else if (failed && p.st.received == 0 && p.st.settled[ST_TIMEOUT])
		exit_rc = RC_NETWORK;  /* the target never answered anything */
	else if (failed || p.ack_log_failed)
		exit_rc = RC_FAILED;
	else
		exit_rc = RC_OK;
	if (exit_rc == RC_NETWORK && !p.fatal && rc >= 0)
		errmsg("no answer from %s: is a receiver listening?", p.o.to);

	double el = (double)(end - p.start_ns) / 1e9;
	if (p.o.json)
		report_json(&p, el, exit_rc);
	else
		report_text(&p, el);
	fflush(stdout);
	goto out;

out_oom:
	errmsg("out of memory");
	exit_rc = RC_FAILED;
out:
	if (p.ack_log)
		fclose(p.ack_log);
	if (p.slots)
		for (unsigned i = 0; i < p.o.inflight; i++) {
			free(p.slots[i].frames);
			free(p.slots[i].flen);
			free(p.slots[i].out);
		}
	free(p.slots);
	free(p.rxbuf);
	json_decref(s->json);
	free(s->buf);
	free(s->scratch);
	free(s->gen_data);
	if (p.fd >= 0)
		close(p.fd);
	return exit_rc;
}
