/* SPDX-License-Identifier: MIT */
/*
 * prod_engine: batches, retries, acks and the report of the ingest producers (prod_engine.h;
 * usage in docs/producer.md).
 *
 * Records come from stdin (one per line: `key<TAB>data`, JSON Lines with --json-lines, or data
 * only with --key) or from a generator (--count, --size, --keys, --key-len). They are packed
 * into RECORDS frames of at most one datagram (the frame_cap the tool gives: its MTU less the
 * headers) and --batch records; a record too large for one frame travels alone as CHUNK frames.
 * Up to --inflight batches are outstanding, their batch numbers within --window of the oldest
 * unacked one (the receiver's retry window); each waits for its durable ACK. A batch with no ack
 * after --timeout-ms is resent byte for byte, with the same producer id and batch number, so
 * that the receiver's retry window answers what it already wrote instead of writing it twice;
 * the wait doubles on every try, and after --retries resends its unacked records fail as
 * `timeout`. Records answered `throttled` or `internal` are resent the same way; every other
 * status is final.
 *
 * One loop, no threads: build what the window allows, send it through the tool's prod_io, wait
 * through the same for acks. Nothing walks the slots per round or per ack, so windows of tens
 * of thousands of batches cost no more per batch than small ones: an ack finds its slot by
 * batch number (a map of --window entries: the outstanding batch numbers are all within
 * --window of each other), batches to send wait in one FIFO, batches waiting for an ack in one
 * FIFO per resend wait (deadlines in order within each), free slots on a stack. Latency is measured per batch on the monotonic clock, from its
 * first send to the ack that settles its last record.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "ctl_b64.h"
#include "dp_frame.h"
#include "dp_hash.h"
#include "dp_log.h"
#include "prod_engine.h"

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
/* The program name messages begin with. */
static const char *g_prog = "ingest-producer";

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
	char gen_key[DP_KEY_MAX + 1];
	unsigned key_len;     /* 0: key-<n> */
};

enum slot_state { SLOT_FREE, SLOT_SENDING, SLOT_WAIT };

/* The resend waits: timeout << min(tries - 1, BACKOFF_MAX_SHIFT), one wait list each. */
#define WAIT_LISTS (BACKOFF_MAX_SHIFT + 1u)

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
	uint16_t out_cap;
	unsigned tries;       /* sends so far */
	int64_t first_send_ns;
	int64_t deadline_ns;
	struct slot *prev, *next;  /* on the send list or a wait list, by state */
};

/* A FIFO of slots (intrusive, doubly linked: a slot leaves from anywhere when acked). */
struct slist {
	struct slot *head, *tail;
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

struct prod {
	struct prod_opts o;
	const struct prod_io *io;
	size_t frame_cap;
	size_t stream_len;
	struct src src;
	struct slot *slots;
	struct slot **free;       /* stack of free slots */
	unsigned nfree;
	unsigned active;          /* slots not free */
	struct slot **bymap;      /* [batch % window]: the outstanding batch of that number */
	uint64_t oldest;          /* the oldest outstanding batch, or next_batch when none */
	struct slist sendq;       /* SENDING, in order */
	struct slist waitq[WAIT_LISTS];  /* WAIT, by resend wait; deadlines in order */
	struct stats st;
	FILE *ack_log;
	bool ack_log_failed;
	uint64_t next_batch;
	bool input_done;
	bool stopping;
	int64_t start_ns;
	int64_t stop_ns;          /* when stopping began */
	int64_t end_ns;           /* when prod_run() returned */
	int64_t drain_deadline_ns;
	int64_t next_progress_ns;
	bool send_blocked;        /* the last send met a full transport */
	bool path_open;           /* an ack came back since the start or the last loss on send */
	bool fatal;
	bool warned_stale, warned_dup;
};

/* ---- small helpers --------------------------------------------------------------------------- */

void prod_errmsg(const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "%s: ", g_prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

int64_t prod_now_ns(void)
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

static void slist_push(struct slist *l, struct slot *sl)
{
	sl->next = NULL;
	sl->prev = l->tail;
	if (l->tail)
		l->tail->next = sl;
	else
		l->head = sl;
	l->tail = sl;
}

static void slist_remove(struct slist *l, struct slot *sl)
{
	if (sl->prev)
		sl->prev->next = sl->next;
	else
		l->head = sl->next;
	if (sl->next)
		sl->next->prev = sl->prev;
	else
		l->tail = sl->prev;
	sl->prev = sl->next = NULL;
}

static unsigned wait_list_of(unsigned tries)
{
	unsigned shift = tries > 0 ? tries - 1 : 0;
	return shift > BACKOFF_MAX_SHIFT ? BACKOFF_MAX_SHIFT : shift;
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
		prod_errmsg("input line %" PRIu64 ": %s; skipped", s->lineno, why);
	else if (s->rejected == INPUT_WARN_MAX + 1)
		prod_errmsg("more bad input lines; only counting them now");
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

/* v as 16 lower-case hex digits (what "%016" PRIx64 prints, without the call: the generator
 * makes millions of records a second). */
static void hex16(char out[16], uint64_t v)
{
	static const char digits[] = "0123456789abcdef";
	for (int i = 15; i >= 0; i--, v >>= 4)
		out[i] = digits[v & 15];
}

/* A generated key of exactly len bytes: 'k' and n in decimal, zero-padded (--key-len; the
 * options check that len - 1 digits hold every n below --keys). Returns len. */
static size_t gen_key_fixed(char *out, unsigned len, uint64_t n)
{
	out[0] = 'k';
	for (unsigned i = len - 1; i >= 1; i--, n /= 10)
		out[i] = (char)('0' + n % 10);
	return len;
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
		} else if (s->key_len) {
			s->cur.key = (const uint8_t *)s->gen_key;
			s->cur.key_len = gen_key_fixed(s->gen_key, s->key_len, k);
		} else {
			int n = snprintf(s->gen_key, sizeof(s->gen_key), "key-%" PRIu64, k);
			s->cur.key = (const uint8_t *)s->gen_key;
			s->cur.key_len = (size_t)n;
		}
		/* The record number leads the data, so that every record differs. */
		char num[16];
		hex16(num, s->made);
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

static bool rec_needs_chunks(const struct prod *p, const struct rec_in *r)
{
	return DP_FRAME_HDR_LEN + p->stream_len +
		       dp_frame_rec_size(r->key_len, r->ehk != NULL, r->data_len) >
	       p->frame_cap;
}

/* Under --rate, a batch waits until this long's worth of records (at most --batch) may be
 * taken: without it, a fast loop would send a frame per record as soon as each is allowed,
 * and the receiver would see many times the frames for the same records. */
#define RATE_LINGER_S 0.001

/* Records the rate limit lets us take now (UINT64_MAX without --rate); *wake_ns when it is 0. */
static uint64_t rate_allowance(const struct prod *p, int64_t now, int64_t *wake_ns)
{
	if (p->o.rate <= 0)
		return UINT64_MAX;
	double want = p->o.rate * RATE_LINGER_S;
	uint64_t least = want < 1 ? 1 : want > p->o.batch ? p->o.batch : (uint64_t)want;
	double elapsed = (double)(now - p->start_ns) / 1e9;
	uint64_t allowed = (uint64_t)(p->o.rate * elapsed) + 1;
	if (allowed >= p->st.taken + least)
		return allowed - p->st.taken;
	*wake_ns = p->start_ns + (int64_t)((double)(p->st.taken + least) / p->o.rate * 1e9) + 1;
	return 0;
}

/* Cut one record into CHUNK frames at fixed offsets (a retry resends identical chunks). */
static int slot_build_chunked(struct prod *p, struct slot *sl, const struct rec_in *r)
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
static int slot_build(struct prod *p, struct slot *sl, int64_t now, int64_t *wake_ns)
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
	if (sl->nrec > sl->out_cap) {
		/* Sized on first use: a deep window of small frames needs little. */
		struct dp_ack_rec *out = realloc(sl->out, sl->nrec * sizeof(*out));
		if (!out)
			return -ENOMEM;
		sl->out = out;
		sl->out_cap = sl->nrec;
	}
	p->next_batch++;
	for (unsigned i = 0; i < sl->nrec; i++)
		sl->out[i] = (struct dp_ack_rec){ .status = ST_PENDING };
	sl->pending = sl->nrec;
	sl->tries = 1;
	sl->next_frame = 0;
	sl->first_send_ns = 0;
	sl->state = SLOT_SENDING;
	p->nfree--;   /* sl is the top of the free stack */
	p->active++;
	p->bymap[sl->batch % p->o.window] = sl;
	slist_push(&p->sendq, sl);
	p->st.taken += sl->nrec;
	p->st.batches++;
	return sl->nrec;
}

static int64_t backoff_ns(const struct prod *p, unsigned tries)
{
	unsigned shift = tries > 0 ? tries - 1 : 0;
	if (shift > BACKOFF_MAX_SHIFT)
		shift = BACKOFF_MAX_SHIFT;
	return ((int64_t)p->o.timeout_ms << shift) * 1000000LL;
}

static void ack_log_line(struct prod *p, const struct slot *sl, unsigned i, unsigned st)
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
static void slot_finish(struct prod *p, struct slot *sl, int64_t now, unsigned fallback)
{
	for (unsigned i = 0; i < sl->nrec; i++) {
		unsigned st = sl->out[i].status;
		if (st == ST_PENDING)
			st = fallback;
		p->st.settled[st]++;
		ack_log_line(p, sl, i, st);
		if (st == DP_ACK_STALE && !p->warned_stale) {
			p->warned_stale = true;
			prod_errmsg("batch %" PRIu64 " answered stale-batch: outside the receiver's retry "
			       "window (a reused producer id, or --window above the receiver's?)", sl->batch);
		}
		if (st == DP_ACK_DUPLICATE && !p->warned_dup) {
			p->warned_dup = true;
			prod_errmsg("batch %" PRIu64 " answered duplicate: written by an earlier copy "
			       "whose sequence numbers cannot be restated", sl->batch);
		}
	}
	if (fallback == DP_ACK_OK && sl->first_send_ns) {
		uint64_t lat = (uint64_t)(now - sl->first_send_ns);
		p->st.hist[hist_bucket(lat)]++;
		p->st.hist_n++;
	}
	if (sl->state == SLOT_SENDING)
		slist_remove(&p->sendq, sl);
	else if (sl->state == SLOT_WAIT)
		slist_remove(&p->waitq[wait_list_of(sl->tries)], sl);
	sl->state = SLOT_FREE;
	p->bymap[sl->batch % p->o.window] = NULL;
	p->free[p->nfree++] = sl;
	p->active--;
	/* Move the oldest outstanding batch on past every settled one. */
	while (p->oldest < p->next_batch && !p->bymap[p->oldest % p->o.window])
		p->oldest++;
	if (sl->chunked && sl->frames_cap > p->frame_cap) {
		/* Give a chunked record's megabyte back; ordinary batches need one frame. */
		free(sl->frames);
		sl->frames = NULL;
		sl->frames_cap = 0;
	}
	sl->pending = 0;
}

/* Give up on a batch: its unacked records fail with `timeout` (or their last retryable status). */
static void slot_fail(struct prod *p, struct slot *sl, int64_t now)
{
	for (unsigned i = 0; i < sl->nrec; i++)
		if (sl->out[i].status == ST_PENDING && sl->out[i].seq != 0)
			sl->out[i].status = (uint8_t)sl->out[i].seq;  /* the last retryable status */
	/* Latency only counts batches that completed; slot_finish skips it for a fallback. */
	slot_finish(p, sl, now, ST_TIMEOUT);
}

/* ---- network --------------------------------------------------------------------------------- */

bool prod_error_transient(int e)
{
	return e == EAGAIN || e == EWOULDBLOCK || e == ENOBUFS || e == ECONNREFUSED ||
	       e == EHOSTUNREACH || e == ENETUNREACH || e == EINTR || e == ENETDOWN ||
	       e == EHOSTDOWN;
}

/* Send what the slots in SENDING state still have to send. Returns 0 or a negative errno. */
static int flush_sends(struct prod *p, int64_t now)
{
	struct iovec iov[PROD_BURST];
	struct slot *owner[PROD_BURST];
	p->send_blocked = false;
	for (;;) {
		unsigned n = 0;
		for (struct slot *sl = p->sendq.head; sl && n < PROD_BURST; sl = sl->next) {
			for (uint32_t f = sl->next_frame; f < sl->nframes && n < PROD_BURST; f++) {
				iov[n].iov_base = sl->frames + (size_t)f * p->frame_cap;
				iov[n].iov_len = sl->flen[f];
				owner[n] = sl;
				n++;
			}
		}
		if (n == 0)
			return 0;
		int sent = p->io->send(p->io->arg, iov, n);
		if (sent < 0) {
			int e = -sent;
			if (!prod_error_transient(e))
				return -e;
			if (e == EAGAIN || e == EWOULDBLOCK || e == ENOBUFS) {
				p->send_blocked = true;
				return 0;
			}
			/* Refused or unreachable: these datagrams are lost; the retry timer resends
			 * them. Count and move the cursors on as if they went. The path is in doubt
			 * again (see path_open in run()). */
			p->st.send_errors++;
			p->path_open = false;
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
				slist_remove(&p->sendq, sl);
				sl->state = SLOT_WAIT;
				sl->deadline_ns = now + backoff_ns(p, sl->tries);
				slist_push(&p->waitq[wait_list_of(sl->tries)], sl);
			}
		}
		if ((unsigned)sent < n) {
			p->send_blocked = true;
			return 0;
		}
	}
}

static struct slot *slot_find(struct prod *p, uint64_t batch)
{
	struct slot *sl = p->bymap[batch % p->o.window];
	return sl && sl->batch == batch ? sl : NULL;
}

void prod_rx(struct prod *p, const uint8_t *buf, size_t len, int64_t now)
{
	struct dp_ack a;
	p->st.received++;
	if (dp_ack_parse(buf, len, &a) != DP_DROP_NONE || a.producer_id != p->o.producer_id) {
		p->st.acks_bad++;
		return;
	}
	/* Our datagrams reach the receiver: the window may open (see run()). */
	p->path_open = true;
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
	if (retry && sl->state == SLOT_WAIT) {
		/* Resend after the backoff: to the tail of its list, whose deadlines stay in order. */
		struct slist *l = &p->waitq[wait_list_of(sl->tries)];
		slist_remove(l, sl);
		sl->deadline_ns = now + backoff_ns(p, sl->tries);
		slist_push(l, sl);
	}
}

void prod_note_send_error(struct prod *p)
{
	p->st.send_errors++;
	p->path_open = false;
}

/* Resend batches whose wait ran out, or give up on them. */
static void expire(struct prod *p, int64_t now)
{
	for (unsigned w = 0; w < WAIT_LISTS; w++) {
		struct slist *l = &p->waitq[w];
		while (l->head && now >= l->head->deadline_ns) {
			struct slot *sl = l->head;
			if (sl->tries > p->o.retries) {
				slot_fail(p, sl, now);
				continue;
			}
			slist_remove(l, sl);
			sl->tries++;
			sl->next_frame = 0;
			sl->state = SLOT_SENDING;
			slist_push(&p->sendq, sl);
			p->st.retries++;
		}
	}
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

static void report_progress(const struct prod *p, int64_t now)
{
	double el = (double)(now - p->start_ns) / 1e9;
	uint64_t w = written_total(&p->st);
	fprintf(stderr,
		"%.1fs sent %" PRIu64 " acked %" PRIu64 " failed %" PRIu64 " retries %" PRIu64
		" p99 %" PRIu64 "ns %.0f rec/s\n",
		el, p->st.taken, w, settled_total(&p->st) - w, p->st.retries,
		hist_quantile(&p->st, 0.99), el > 0 ? (double)w / el : 0.0);
}

static int report_json(const struct prod *p, double el, int rc)
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

static void report_text(const struct prod *p, double el)
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
static uint64_t oldest_batch(const struct prod *p)
{
	return p->oldest;
}

static bool any_active(const struct prod *p)
{
	return p->active != 0;
}

static void begin_stop(struct prod *p, int64_t now)
{
	p->stopping = true;
	p->stop_ns = now;
	int64_t grace = 2 * (int64_t)p->o.timeout_ms * 1000000LL;
	p->drain_deadline_ns = now + (grace > DRAIN_MIN_NS ? grace : DRAIN_MIN_NS);
}

static int run(struct prod *p)
{
	int64_t end_ns = p->o.duration > 0 ? p->start_ns + (int64_t)(p->o.duration * 1e9) : 0;
	for (;;) {
		int64_t now = prod_now_ns();
		if (!p->stopping && (g_stop || (end_ns && now >= end_ns)))
			begin_stop(p, now);
		if (p->stopping && now >= p->drain_deadline_ns) {
			while (p->sendq.head)
				slot_fail(p, p->sendq.head, now);
			for (unsigned w = 0; w < WAIT_LISTS; w++)
				while (p->waitq[w].head)
					slot_fail(p, p->waitq[w].head, now);
			return 0;
		}
		expire(p, now);

		int64_t wake_ns = 0;
		bool need_input = false;
		/* Batches built below are all newer: the oldest outstanding one stays the same. */
		uint64_t oldest = oldest_batch(p);
		while (p->nfree && !p->stopping && !p->input_done) {
			struct slot *sl = p->free[p->nfree - 1];
			if (p->next_batch - oldest >= p->o.window)
				break;    /* an ack (or a give-up) of the oldest batch opens it */
			/*
			 * Until an ack shows that datagrams reach the receiver, one batch at a time.
			 * The sender's kernel holds datagrams to a neighbour it has not resolved yet
			 * (ARP, neighbour discovery) and, once resolved, flushes them while newer
			 * sends already go straight out: a burst sent into an unresolved path can
			 * reach the receiver out of order, a later batch written before an earlier
			 * one with no resend at all, which breaks a key's send order. One batch
			 * cannot overtake itself; its ack proves the neighbour resolved. The same
			 * after a send reported unreachable or refused (the neighbour may have
			 * failed): batches already out go on, new ones wait for an ack.
			 */
			if (!p->path_open && p->active)
				break;
			int rc = slot_build(p, sl, now, &wake_ns);
			if (rc < 0) {
				prod_errmsg("input: %s", strerror(-rc));
				return rc == -ENOMEM ? rc : -EIO;
			}
			if (rc == 0) {
				need_input = !p->input_done && wake_ns == 0;
				break;
			}
		}
		int rc = flush_sends(p, now);
		if (rc < 0) {
			prod_errmsg("send to %s: %s", p->io->peer, strerror(-rc));
			p->fatal = true;
			return 0;
		}
		if (p->input_done && !any_active(p))
			return 0;
		if (p->stopping && !any_active(p))
			return 0;

		/* Sleep until an ack, input, a resend deadline, the rate limit, or a tick. */
		int64_t next = now + 1000000000LL;
		for (unsigned w = 0; w < WAIT_LISTS; w++)
			if (p->waitq[w].head && p->waitq[w].head->deadline_ns < next)
				next = p->waitq[w].head->deadline_ns;
		if (wake_ns && wake_ns < next)
			next = wake_ns;
		if (end_ns && !p->stopping && end_ns < next)
			next = end_ns;
		if (p->stopping && p->drain_deadline_ns < next)
			next = p->drain_deadline_ns;
		if (p->o.progress && p->next_progress_ns < next)
			next = p->next_progress_ns;
		int input_fd = need_input && !p->src.generate ? p->src.fd : -1;
		int64_t wait_ns = next - prod_now_ns();
		rc = p->io->wait(p->io->arg, p, wait_ns > 0 ? wait_ns : 0, p->send_blocked, input_fd);
		if (rc < 0) {
			prod_errmsg("receive from %s: %s", p->io->peer, strerror(-rc));
			p->fatal = true;
			return 0;
		}
		now = prod_now_ns();
		if (p->o.progress && now >= p->next_progress_ns) {
			report_progress(p, now);
			p->next_progress_ns = now + 1000000000LL;
		}
	}
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

/* ---- options --------------------------------------------------------------------------------- */

void prod_opts_default(struct prod_opts *o, const char *prog)
{
	*o = (struct prod_opts){ .inflight = 8, .batch = 500, .mtu = 1500, .size = 100,
				 .keys = 1024, .timeout_ms = 200, .retries = 5, .window = 32 };
	g_prog = prog;
}

/* Option names by id, for messages. */
static const char *opt_name(int ch)
{
	static const struct option rows[] = { PROD_OPTIONS };
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		if (rows[i].val == ch)
			return rows[i].name;
	return "?";
}

int prod_opt_apply(struct prod_opts *o, int ch, const char *arg)
{
	int rc = 0;
	uint64_t v;
	switch (ch) {
	case PROD_OPT_STREAM: o->stream = arg; break;
	case PROD_OPT_PID:
		rc = parse_u64(arg, 0, UINT64_MAX, &o->producer_id);
		o->producer_id_set = true;
		break;
	case PROD_OPT_INFLIGHT:
		rc = parse_u64(arg, 1, PROD_INFLIGHT_MAX, &v);
		o->inflight = (unsigned)v;
		break;
	case PROD_OPT_BATCH:
		rc = parse_u64(arg, 1, DP_FRAME_RECORDS_MAX, &v);
		o->batch = (unsigned)v;
		break;
	case PROD_OPT_MTU:
		rc = parse_u64(arg, PROD_MTU_MIN, PROD_MTU_MAX, &v);
		o->mtu = (unsigned)v;
		break;
	case PROD_OPT_KEY:
		o->key = arg;
		if (!o->key[0] || strlen(o->key) > DP_KEY_MAX)
			rc = -EINVAL;
		break;
	case PROD_OPT_JSON_LINES: o->json_lines = true; break;
	case PROD_OPT_COUNT:
		rc = parse_u64(arg, 0, UINT64_MAX, &o->count);
		o->generate = true;
		break;
	case PROD_OPT_SIZE:
		rc = parse_u64(arg, 1, DP_DATA_MAX, &v);
		o->size = (size_t)v;
		o->size_set = true;
		break;
	case PROD_OPT_KEYS:
		rc = parse_u64(arg, 1, UINT64_MAX, &o->keys);
		o->keys_set = true;
		break;
	case PROD_OPT_KEY_LEN:
		rc = parse_u64(arg, 2, DP_KEY_MAX, &v);
		o->key_len = (unsigned)v;
		o->keys_set = true;
		break;
	case PROD_OPT_RATE: rc = parse_double(arg, &o->rate); break;
	case PROD_OPT_TIMEOUT:
		rc = parse_u64(arg, 1, 60000, &v);
		o->timeout_ms = (unsigned)v;
		break;
	case PROD_OPT_RETRIES:
		rc = parse_u64(arg, 0, 30, &v);
		o->retries = (unsigned)v;
		break;
	case PROD_OPT_ACK_LOG: o->ack_log = arg; break;
	case PROD_OPT_PROGRESS: o->progress = true; break;
	case PROD_OPT_JSON: o->json = true; break;
	case PROD_OPT_DURATION:
		rc = parse_double(arg, &o->duration);
		if (rc == 0 && o->duration > 1e7)
			rc = -EINVAL;
		break;
	case PROD_OPT_WINDOW:
		rc = parse_u64(arg, 1, 65536, &v);
		o->window = (unsigned)v;
		break;
	default:
		return -EINVAL;
	}
	if (rc < 0)
		prod_errmsg("--%s: bad value '%s'", opt_name(ch), arg);
	return rc < 0 ? -EINVAL : 0;
}

int prod_opts_check(const struct prod_opts *o)
{
	if (!o->stream) {
		prod_errmsg("--stream is required");
		return -EINVAL;
	}
	if (!stream_name_ok(o->stream)) {
		prod_errmsg("--stream: 1..128 characters of [a-zA-Z0-9_.-]");
		return -EINVAL;
	}
	if (!o->generate && (o->size_set || o->keys_set)) {
		prod_errmsg("--size, --keys and --key-len generate records: give --count too");
		return -EINVAL;
	}
	if (o->generate && o->json_lines) {
		prod_errmsg("--json-lines reads stdin; --count generates: choose one");
		return -EINVAL;
	}
	if (o->generate && o->count == 0 && o->duration <= 0) {
		prod_errmsg("--count 0 generates without end: give --duration");
		return -EINVAL;
	}
	if (o->key_len) {
		/* 'k' and key_len - 1 decimal digits must tell every key apart. */
		uint64_t room = 1;
		for (unsigned i = 1; i < o->key_len && room <= o->keys; i++)
			room *= 10;
		if (room < o->keys) {
			prod_errmsg("--key-len %u is too short for --keys %" PRIu64 " distinct keys",
				    o->key_len, o->keys);
			return -EINVAL;
		}
		if (o->key) {
			prod_errmsg("--key-len generates keys; --key fixes one: choose one");
			return -EINVAL;
		}
	}
	return 0;
}

void prod_usage_common(FILE *f)
{
	fputs("batching:\n"
	      "  --stream NAME       stream name, 1..128 of [a-zA-Z0-9_.-] (required)\n"
	      "  --producer-id N     64-bit producer id (default: random)\n"
	      "  --inflight N        batches outstanding, 1..65536 (default 8)\n"
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
	      "  --key-len L         generated keys of exactly L bytes, 2..256 (default: key-<n>)\n"
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

void prod_signals_install(void)
{
	struct sigaction sa = { .sa_handler = on_signal };
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

/* ---- life cycle ------------------------------------------------------------------------------ */

void prod_free(struct prod *p)
{
	if (!p)
		return;
	if (p->ack_log)
		fclose(p->ack_log);
	if (p->slots)
		for (unsigned i = 0; i < p->o.inflight; i++) {
			free(p->slots[i].frames);
			free(p->slots[i].flen);
			free(p->slots[i].out);
		}
	free(p->slots);
	free(p->free);
	free(p->bymap);
	json_decref(p->src.json);
	free(p->src.buf);
	free(p->src.scratch);
	free(p->src.gen_data);
	free(p);
}

int prod_new(const struct prod_opts *o, size_t frame_cap, struct prod **ret)
{
	struct prod *p = calloc(1, sizeof(*p));
	int rc = -ENOMEM;
	if (!p)
		goto fail;
	p->o = *o;
	if (!p->o.producer_id_set &&
	    getrandom(&p->o.producer_id, sizeof(p->o.producer_id), 0) !=
		    sizeof(p->o.producer_id)) {
		rc = -errno;
		prod_errmsg("getrandom: %s", strerror(errno));
		goto fail;
	}
	p->frame_cap = frame_cap > DP_FRAME_DATAGRAM_MAX ? DP_FRAME_DATAGRAM_MAX : frame_cap;
	p->stream_len = strlen(p->o.stream);
	p->next_batch = 1;

	struct src *s = &p->src;
	s->generate = p->o.generate;
	s->json_lines = p->o.json_lines;
	s->fixed_key = p->o.key;
	s->fd = STDIN_FILENO;
	s->count = p->o.count;
	s->size = p->o.size;
	s->keys = p->o.keys;
	s->key_len = p->o.key_len;
	s->rng = p->o.producer_id;
	if (s->generate) {
		s->gen_data = malloc(s->size);
		if (!s->gen_data)
			goto fail_oom;
		for (size_t i = 0; i < s->size; i++)
			s->gen_data[i] = (uint8_t)('a' + i % 26);
	} else {
		s->cap = LINE_BUF_INIT;
		s->buf = malloc(s->cap);
		s->scratch = p->o.json_lines ? malloc(DP_DATA_MAX) : NULL;
		if (!s->buf || (p->o.json_lines && !s->scratch))
			goto fail_oom;
	}
	p->slots = calloc(p->o.inflight, sizeof(*p->slots));
	p->free = calloc(p->o.inflight, sizeof(*p->free));
	p->bymap = calloc(p->o.window, sizeof(*p->bymap));
	if (!p->slots || !p->free || !p->bymap)
		goto fail_oom;
	/* The lowest slot on top: a light load touches few. */
	for (unsigned i = 0; i < p->o.inflight; i++)
		p->free[i] = &p->slots[p->o.inflight - 1 - i];
	p->nfree = p->o.inflight;
	p->oldest = p->next_batch;
	if (p->o.ack_log) {
		p->ack_log = fopen(p->o.ack_log, "we");
		if (!p->ack_log) {
			rc = -errno;
			prod_errmsg("--ack-log %s: %s", p->o.ack_log, strerror(errno));
			goto fail;
		}
	}
	*ret = p;
	return 0;

fail_oom:
	prod_errmsg("out of memory");
	rc = -ENOMEM;
fail:
	prod_free(p);
	return rc;
}

uint64_t prod_producer_id(const struct prod *p)
{
	return p->o.producer_id;
}

int prod_run(struct prod *p, const struct prod_io *io)
{
	p->io = io;
	p->start_ns = prod_now_ns();
	p->next_progress_ns = p->start_ns + 1000000000LL;
	int rc = run(p);
	p->end_ns = prod_now_ns();
	if (rc == -ENOMEM)
		prod_errmsg("out of memory");
	return rc;
}

int prod_finish(struct prod *p, int run_rc)
{
	int exit_rc;
	p->st.settled[ST_BAD_INPUT] = p->src.rejected;
	if (p->ack_log) {
		if (fflush(p->ack_log) != 0 || fsync(fileno(p->ack_log)) != 0)
			p->ack_log_failed = true;
		if (fclose(p->ack_log) != 0)
			p->ack_log_failed = true;
		p->ack_log = NULL;
		if (p->ack_log_failed)
			prod_errmsg("--ack-log %s: write failed: %s", p->o.ack_log, strerror(errno));
	}
	if (run_rc == -ENOMEM)
		return PROD_RC_FAILED;

	uint64_t failed = settled_total(&p->st) - written_total(&p->st);
	if (p->fatal || run_rc < 0)
		exit_rc = PROD_RC_NETWORK;
	else if (failed && p->st.received == 0 && p->st.settled[ST_TIMEOUT])
		exit_rc = PROD_RC_NETWORK;  /* the target never answered anything */
	else if (failed || p->ack_log_failed)
		exit_rc = PROD_RC_FAILED;
	else
		exit_rc = PROD_RC_OK;
	if (exit_rc == PROD_RC_NETWORK && !p->fatal && run_rc >= 0)
		prod_errmsg("no answer from %s: is a receiver listening?", p->io->peer);

	double el = (double)(p->end_ns - p->start_ns) / 1e9;
	if (p->o.json)
		report_json(p, el, exit_rc);
	else
		report_text(p, el);
	fflush(stdout);
	return exit_rc;
}
