/* SPDX-License-Identifier: MIT */
/*
 * kbench: a load client for the Kinesis API over HTTP (AWS JSON 1.1, X-Amz-Target
 * Kinesis_20131202.*), so that ingestd and another implementation of the API can be measured by
 * the same client in the same run (`bench/run kinesis`).
 *
 *   kbench [--endpoint URL] [--stream NAME] [--shards N]
 *          [--mode putrecords|putrecord|getrecords|all] [--batch 500] [--size 100]
 *          [--inflight 16] [--duration S | --requests N] [--keys N] [--get-limit N]
 *          [--threads N] [--sign] [--region R] [--seed N]
 *
 * It creates the stream (CreateStream, then DescribeStreamSummary until ACTIVE; an existing
 * stream is used as it is), then runs the phases of --mode in order:
 *   putrecords  PutRecords of --batch records of --size random bytes each;
 *   putrecord   PutRecord of one such record;
 *   getrecords  GetShardIterator TRIM_HORIZON for every shard, then GetRecords on each shard
 *               until a call returns no record and no lag: everything in the stream is read
 *               back once. Alone it first runs putrecords, so that there is something to read.
 * A put phase keeps --inflight requests in flight, each slot on its own keep-alive connection
 * (--engine raw, the default: one socket per slot on epoll, answers parsed by http_parser;
 * --engine curl: libcurl's multi interface), for --duration seconds or until --requests were sent;
 * getrecords keeps one request in flight per shard, at most --inflight. --threads spreads the
 * slots (and the shards) over that many threads, each with its own multi handle, for a server
 * that one client thread cannot saturate. Request bodies are built before the clock starts
 * (base64 data, partition keys drawn from a set of --keys random keys), so a request costs the
 * client one pointer hand-over to libcurl and the parse of its answer.
 *
 * Every response is checked: HTTP 200 and a well-formed answer (FailedRecordCount == 0 for
 * PutRecords, or the failed entries counted by ErrorCode), otherwise it is counted as throttled
 * (ProvisionedThroughputExceededException, LimitExceededException: on the request or on
 * records), as an HTTP error or as a transport error. Latency is the time from handing a request
 * to libcurl until its response is complete, CLOCK_MONOTONIC, of successful requests only.
 *
 * Output: one JSON object on stdout: per phase requests, records and bytes acknowledged, rates,
 * latency percentiles (p50/p99/p999/max, ns), the error counts and the client's own CPU time
 * (a client near one CPU-second per second is the bottleneck, not the server).
 *
 * Requests carry a syntactically valid but unsigned Authorization header (emulators do not check
 * signatures); --sign signs each request with SigV4 through libcurl (CURLOPT_AWS_SIGV4) with
 * AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY from the environment.
 *
 * Exit status: 0 every phase ran and acknowledged something; 1 the endpoint or the stream could
 * not be set up (one line on stderr names the call and the answer), or a phase had no successful
 * request (the JSON is still printed); 2 a bad command line.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <curl/curl.h>
#include <cjson/cJSON.h>
#include <http_parser.h>
#include <jansson.h>

#include "ctl_b64.h"

#define TARGET_PREFIX "Kinesis_20131202."
#define CONTENT_TYPE "application/x-amz-json-1.1"
#define PUTRECORDS_BODIES 32u     /* distinct PutRecords bodies, reused in turn: enough that the
                                     server does not see one payload over and over */
#define PUTRECORD_BODIES 4096u    /* distinct PutRecord bodies */
#define LAT_CAP_DURATION (1u << 22) /* latency slots of a timed phase (32 MiB); a phase that
                                       reaches it stops issuing and says so */
#define ACTIVE_TIMEOUT_S 60.0     /* CreateStream to ACTIVE */
#define ACTIVE_POLL_NS 20000000L  /* DescribeStreamSummary every 20 ms while CREATING */
#define MAX_SHARDS 100000u
#define MAX_INFLIGHT 4096u

enum kb_op {
	OP_CREATE_STREAM,
	OP_DESCRIBE_STREAM_SUMMARY,
	OP_LIST_SHARDS,
	OP_PUT_RECORDS,
	OP_PUT_RECORD,
	OP_GET_SHARD_ITERATOR,
	OP_GET_RECORDS,
	OP_COUNT,
};

static const char *const op_names[OP_COUNT] = {
	[OP_CREATE_STREAM] = "CreateStream",
	[OP_DESCRIBE_STREAM_SUMMARY] = "DescribeStreamSummary",
	[OP_LIST_SHARDS] = "ListShards",
	[OP_PUT_RECORDS] = "PutRecords",
	[OP_PUT_RECORD] = "PutRecord",
	[OP_GET_SHARD_ITERATOR] = "GetShardIterator",
	[OP_GET_RECORDS] = "GetRecords",
};

enum kb_mode { MODE_PUTRECORDS = 1, MODE_PUTRECORD = 2, MODE_GETRECORDS = 4 };

struct kb_opts {
	const char *endpoint;
	const char *stream;
	unsigned shards;
	unsigned mode;            /* MODE_* bits */
	unsigned batch;
	unsigned size;
	unsigned inflight;
	double duration;
	uint64_t requests;        /* 0: run for duration */
	unsigned keys;
	unsigned get_limit;
	unsigned threads;
	bool sign;
	bool raw;                 /* --engine raw: own sockets and epoll, http_parser answers */
	const char *region;
	uint64_t seed;
};

struct kb_buf {
	char *p;
	size_t len, cap;
};

/* One phase's results. */
struct kb_stats {
	const char *name;
	uint64_t requests;          /* sent */
	uint64_t ok;                /* HTTP 200 with a well-formed answer */
	uint64_t records;           /* records acknowledged (put) or read (get) */
	uint64_t bytes;             /* their data bytes */
	uint64_t http_errors, transport_errors, bad_responses;
	uint64_t throttled_requests, throttled_records, failed_records;
	char first_error[256];
	double seconds, cpu_seconds;
	uint64_t *lat;              /* ns, one per successful request */
	size_t nlat, lat_cap;
	bool capped;                /* stopped issuing at lat_cap */
	uint64_t shards_read;       /* getrecords: shards read to their end */
};

struct kb_slot {
	CURL *h;
	struct kb_buf resp;
	enum kb_op op;              /* the request prepare() chose */
	const char *req;            /* its body (owned by the phase or by the slot) */
	/* --engine raw */
	int fd;
	http_parser hp;
	bool complete;              /* the answer's last byte arrived */
	struct iovec iov[3];
	unsigned niov;
	bool out_armed;           /* raw engine: EPOLLOUT is armed (a request only partly written) */
	char clen[32];              /* "<Content-Length>\r\n\r\n" */
	uint64_t t0;
	char *body;                 /* getrecords: this slot's own body (owned) */
	long shard;                 /* getrecords: the shard index read, -1 none */
};

struct kb_shard {
	char *id;
	char *iter;                 /* owned; NULL once read to the end */
	bool busy;
};

struct kb {
	struct kb_opts o;
	char url[512];
	char userpwd[512];
	char sigv4[128];
	struct curl_slist *hdr[OP_COUNT];
	char *raw_hdr[OP_COUNT];    /* --engine raw: request line and headers up to Content-Length */
	struct sockaddr_storage addr;
	socklen_t addrlen;
	CURL *ctl;                  /* synchronous calls outside the timed loops */
	struct kb_buf ctl_resp;
	struct kb_shard *shards;
	size_t nshards;
	uint64_t rng;
	/* the put phase being run: read-only while its workers run */
	char **bodies;
	size_t nbodies;
	unsigned records_per_body;
	enum kb_op op;
};

/* A phase: prepare a slot's next request (0) or say there is none (1); judge a response. */
struct kb_worker;
struct kb_phase {
	int (*prepare)(struct kb_worker *w, struct kb_slot *s);
	void (*complete)(struct kb_worker *w, struct kb_slot *s, cJSON *resp);
};

/*
 * One thread of a phase, with its own slots, libcurl multi handle and results; it shares only
 * the read-only struct kb (options, headers, request bodies). Its shards are its own slice.
 */
struct kb_worker {
	struct kb *kb;
	const struct kb_phase *ph;
	unsigned nslots;
	uint64_t duration_ns;       /* 0: until prepare() has nothing more */
	struct kb_stats st;
	uint64_t issued, issue_limit;
	size_t next_body;
	bool stop;
	struct kb_shard *shards;
	size_t nshards, next_shard;
	uint64_t t_start, t_last;
	int rc;
	pthread_t tid;
};

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static double cpu_seconds(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
	       (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

static uint64_t splitmix(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15u);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
	return z ^ (z >> 31);
}

static void die_oom(void)
{
	fputs("kbench: out of memory\n", stderr);
	exit(1);
}

static void *xcalloc(size_t n, size_t sz)
{
	void *p = calloc(n ? n : 1, sz ? sz : 1);
	if (!p)
		die_oom();
	return p;
}

static char *xstrdup(const char *s)
{
	char *p = strdup(s);
	if (!p)
		die_oom();
	return p;
}

static size_t on_body(char *data, size_t sz, size_t n, void *arg)
{
	struct kb_buf *b = arg;
	size_t add = sz * n;
	if (b->len + add + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;
		while (cap < b->len + add + 1)
			cap *= 2;
		char *p = realloc(b->p, cap);
		if (!p)
			return 0;   /* libcurl fails the transfer with CURLE_WRITE_ERROR */
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->len, data, add);
	b->len += add;
	b->p[b->len] = '\0';
	return add;
}

static void stats_error(struct kb_stats *st, const char *fmt, ...)
{
	if (st->first_error[0])
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(st->first_error, sizeof(st->first_error), fmt, ap);
	va_end(ap);
}

/* The AWS error type of an answer: __type, without a "namespace#" prefix; NULL if none. */
static const char *strip_namespace(const char *t)
{
	const char *hash = t ? strrchr(t, '#') : NULL;
	return hash ? hash + 1 : t;
}

static const char *error_type(json_t *resp)
{
	return strip_namespace(json_string_value(json_object_get(resp, "__type")));
}

static bool is_throttle(const char *type)
{
	return type && (!strcmp(type, "ProvisionedThroughputExceededException") ||
			!strcmp(type, "LimitExceededException"));
}

/* Decoded length of a base64 string, from its length and padding alone. */
static size_t b64_decoded_len(const char *s)
{
	size_t n = strlen(s);
	size_t d = n / 4 * 3;
	if (n >= 1 && s[n - 1] == '=')
		d--;
	if (n >= 2 && s[n - 2] == '=')
		d--;
	return d;
}

/* ---- request set-up ------------------------------------------------------------------------ */

static int setup_headers(struct kb *kb)
{
	char date[32], line[512];
	time_t t = time(NULL);
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(date, sizeof(date), "%Y%m%dT%H%M%SZ", &tm);
	for (int op = 0; op < OP_COUNT; op++) {
		struct curl_slist *l = NULL, *n;
		const char *lines[5];
		int k = 0;
		char target[96], auth[400];
		snprintf(target, sizeof(target), "X-Amz-Target: " TARGET_PREFIX "%s", op_names[op]);
		lines[k++] = "Content-Type: " CONTENT_TYPE;
		lines[k++] = target;
		lines[k++] = "Expect:";   /* no 100-continue round trip before large bodies */
		if (!kb->o.sign) {
			snprintf(auth, sizeof(auth), "Authorization: AWS4-HMAC-SHA256 Credential=AKIDKBENCH/"
				 "%.8s/%s/kinesis/aws4_request, SignedHeaders=content-type;host;"
				 "x-amz-date;x-amz-target, Signature=%064d", date, kb->o.region, 0);
			snprintf(line, sizeof(line), "X-Amz-Date: %s", date);
			lines[k++] = auth;
			lines[k++] = line;
		}
		for (int i = 0; i < k; i++) {
			n = curl_slist_append(l, lines[i]);
			if (!n) {
				curl_slist_free_all(l);
				return -ENOMEM;
			}
			l = n;
		}
		kb->hdr[op] = l;
	}
	return 0;
}

static int easy_setup(struct kb *kb, CURL *h, struct kb_buf *resp)
{
	int bad = 0;
	bad |= curl_easy_setopt(h, CURLOPT_URL, kb->url) != CURLE_OK;
	bad |= curl_easy_setopt(h, CURLOPT_POST, 1L) != CURLE_OK;
	bad |= curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body) != CURLE_OK;
	bad |= curl_easy_setopt(h, CURLOPT_WRITEDATA, resp) != CURLE_OK;
	bad |= curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L) != CURLE_OK;
	bad |= curl_easy_setopt(h, CURLOPT_TCP_NODELAY, 1L) != CURLE_OK;
	bad |= curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, 5000L) != CURLE_OK;
	bad |= curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 60000L) != CURLE_OK;
	if (kb->o.sign) {
		bad |= curl_easy_setopt(h, CURLOPT_AWS_SIGV4, kb->sigv4) != CURLE_OK;
		bad |= curl_easy_setopt(h, CURLOPT_USERPWD, kb->userpwd) != CURLE_OK;
	}
	return bad ? -EINVAL : 0;
}

static void easy_body(struct kb *kb, CURL *h, enum kb_op op, const char *body)
{
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, kb->hdr[op]);
	curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(body));
	curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
}

/*
 * One synchronous call on the control handle. Returns 0 with *status and *resp (the parsed
 * answer, NULL when it is not JSON; the caller owns it), or -EIO when no HTTP answer came
 * (the reason on stderr).
 */
static int kb_call(struct kb *kb, enum kb_op op, json_t *req, long *status, json_t **resp)
{
	char *body = json_dumps(req, JSON_COMPACT);
	if (!body)
		die_oom();
	kb->ctl_resp.len = 0;
	easy_body(kb, kb->ctl, op, body);
	CURLcode rc = curl_easy_perform(kb->ctl);
	free(body);
	if (rc != CURLE_OK) {
		fprintf(stderr, "kbench: %s on %s: %s\n", op_names[op], kb->o.endpoint,
			curl_easy_strerror(rc));
		return -EIO;
	}
	curl_easy_getinfo(kb->ctl, CURLINFO_RESPONSE_CODE, status);
	*resp = kb->ctl_resp.len ? json_loadb(kb->ctl_resp.p, kb->ctl_resp.len, 0, NULL) : NULL;
	return 0;
}

static void call_failed(struct kb *kb, enum kb_op op, long status, json_t *resp)
{
	const char *type = error_type(resp);
	const char *msg = json_string_value(json_object_get(resp, "message"));
	if (!msg)
		msg = json_string_value(json_object_get(resp, "Message"));
	fprintf(stderr, "kbench: %s on %s answered HTTP %ld%s%s%s%s%s\n", op_names[op],
		kb->o.endpoint, status, type ? " " : "", type ? type : "", msg ? ": " : "",
		msg ? msg : "", !resp && kb->ctl_resp.len ? " (not JSON)" : "");
}

/* ---- stream set-up ------------------------------------------------------------------------- */

static int stream_create(struct kb *kb)
{
	long status = 0;
	json_t *resp = NULL;
	json_t *req = json_pack("{s:s, s:I}", "StreamName", kb->o.stream, "ShardCount",
				(json_int_t)kb->o.shards);
	int r = kb_call(kb, OP_CREATE_STREAM, req, &status, &resp);
	json_decref(req);
	if (r < 0)
		return r;
	if (status != 200 && !(status == 400 && error_type(resp) &&
			       !strcmp(error_type(resp), "ResourceInUseException"))) {
		call_failed(kb, OP_CREATE_STREAM, status, resp);
		json_decref(resp);
		return -EIO;
	}
	json_decref(resp);

	uint64_t deadline = now_ns() + (uint64_t)(ACTIVE_TIMEOUT_S * 1e9);
	for (;;) {
		req = json_pack("{s:s}", "StreamName", kb->o.stream);
		r = kb_call(kb, OP_DESCRIBE_STREAM_SUMMARY, req, &status, &resp);
		json_decref(req);
		if (r < 0)
			return r;
		if (status != 200) {
			call_failed(kb, OP_DESCRIBE_STREAM_SUMMARY, status, resp);
			json_decref(resp);
			return -EIO;
		}
		json_t *d = json_object_get(resp, "StreamDescriptionSummary");
		const char *state = json_string_value(json_object_get(d, "StreamStatus"));
		bool active = state && (!strcmp(state, "ACTIVE") || !strcmp(state, "UPDATING"));
		json_decref(resp);
		if (active)
			return 0;
		if (!state) {
			fprintf(stderr, "kbench: DescribeStreamSummary on %s: no StreamStatus\n",
				kb->o.endpoint);
			return -EIO;
		}
		if (now_ns() > deadline) {
			fprintf(stderr, "kbench: stream %s still %s after %.0f s\n", kb->o.stream,
				state, ACTIVE_TIMEOUT_S);
			return -ETIMEDOUT;
		}
		nanosleep(&(struct timespec){ .tv_nsec = ACTIVE_POLL_NS }, NULL);
	}
}

static void shards_free(struct kb *kb)
{
	for (size_t i = 0; i < kb->nshards; i++) {
		free(kb->shards[i].id);
		free(kb->shards[i].iter);
	}
	free(kb->shards);
	kb->shards = NULL;
	kb->nshards = 0;
}

/* The open and closed shards of the stream, from ListShards (every page). */
static int shards_list(struct kb *kb)
{
	char *token = NULL;
	size_t cap = 0;
	int r = 0;
	shards_free(kb);
	do {
		long status = 0;
		json_t *resp = NULL;
		json_t *req = token ? json_pack("{s:s}", "NextToken", token)
				    : json_pack("{s:s}", "StreamName", kb->o.stream);
		free(token);
		token = NULL;
		r = kb_call(kb, OP_LIST_SHARDS, req, &status, &resp);
		json_decref(req);
		if (r < 0)
			break;
		json_t *list = json_object_get(resp, "Shards");
		if (status != 200 || !json_is_array(list)) {
			call_failed(kb, OP_LIST_SHARDS, status, resp);
			json_decref(resp);
			r = -EIO;
			break;
		}
		size_t i;
		json_t *s;
		json_array_foreach(list, i, s) {
			const char *id = json_string_value(json_object_get(s, "ShardId"));
			if (!id || kb->nshards >= MAX_SHARDS)
				continue;
			if (kb->nshards == cap) {
				cap = cap ? cap * 2 : 16;
				struct kb_shard *n = realloc(kb->shards, cap * sizeof(*n));
				if (!n)
					die_oom();
				kb->shards = n;
			}
			kb->shards[kb->nshards++] = (struct kb_shard){ .id = xstrdup(id) };
		}
		const char *next = json_string_value(json_object_get(resp, "NextToken"));
		if (next)
			token = xstrdup(next);
		json_decref(resp);
	} while (token);
	free(token);
	if (r == 0 && kb->nshards == 0) {
		fprintf(stderr, "kbench: ListShards on %s: stream %s has no shard\n", kb->o.endpoint,
			kb->o.stream);
		r = -EIO;
	}
	return r;
}

/* ---- request bodies ------------------------------------------------------------------------- */

static char **keys_make(struct kb *kb)
{
	char **keys = xcalloc(kb->o.keys, sizeof(*keys));
	for (unsigned i = 0; i < kb->o.keys; i++) {
		char k[40];
		snprintf(k, sizeof(k), "pk-%016" PRIx64, splitmix(&kb->rng));
		keys[i] = xstrdup(k);
	}
	return keys;
}

static json_t *record_make(struct kb *kb, char **keys, uint8_t *data, char *b64, bool with_stream)
{
	for (unsigned j = 0; j < kb->o.size; j += 8) {
		uint64_t v = splitmix(&kb->rng);
		memcpy(data + j, &v, kb->o.size - j < 8 ? kb->o.size - j : 8);
	}
	ctl_b64_encode(data, kb->o.size, b64);
	const char *key = keys[splitmix(&kb->rng) % kb->o.keys];
	return with_stream ? json_pack("{s:s, s:s, s:s}", "StreamName", kb->o.stream, "Data", b64,
				       "PartitionKey", key)
			   : json_pack("{s:s, s:s}", "Data", b64, "PartitionKey", key);
}

/* n request bodies of `per` records each (per == 0: PutRecord bodies of one record). */
static char **bodies_make(struct kb *kb, size_t n, unsigned per)
{
	char **keys = keys_make(kb);
	char **bodies = xcalloc(n, sizeof(*bodies));
	uint8_t *data = xcalloc(kb->o.size + 8, 1);
	char *b64 = xcalloc(ctl_b64_enc_len(kb->o.size) + 1, 1);
	for (size_t i = 0; i < n; i++) {
		json_t *req;
		if (per == 0) {
			req = record_make(kb, keys, data, b64, true);
		} else {
			json_t *recs = json_array();
			for (unsigned j = 0; j < per; j++)
				json_array_append_new(recs, record_make(kb, keys, data, b64, false));
			req = json_pack("{s:s, s:o}", "StreamName", kb->o.stream, "Records", recs);
		}
		if (!req || !(bodies[i] = json_dumps(req, JSON_COMPACT)))
			die_oom();
		json_decref(req);
	}
	for (unsigned i = 0; i < kb->o.keys; i++)
		free(keys[i]);
	free(keys);
	free(data);
	free(b64);
	return bodies;
}

static void bodies_free(char **bodies, size_t n)
{
	for (size_t i = 0; bodies && i < n; i++)
		free(bodies[i]);
	free(bodies);
}

/* ---- the load loop -------------------------------------------------------------------------- */

static int put_prepare(struct kb_worker *w, struct kb_slot *s)
{
	struct kb *kb = w->kb;
	if (w->stop || (w->issue_limit && w->issued >= w->issue_limit) ||
	    w->issued >= w->st.lat_cap) {
		w->st.capped |= w->issued >= w->st.lat_cap && !w->issue_limit;
		return 1;
	}
	s->op = kb->op;
	s->req = kb->bodies[w->next_body];
	w->next_body = (w->next_body + 1) % kb->nbodies;
	w->issued++;
	return 0;
}

/* Answers on the measured path are read with cJSON: jansson's parse of a 500-record answer
 * (1.07 ms) made the client, not the server, the limit on a 2-core machine. */
static const char *cj_string(const cJSON *o, const char *name)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
	return cJSON_IsString(v) ? v->valuestring : NULL;
}

static void put_complete(struct kb_worker *w, struct kb_slot *s, cJSON *resp)
{
	struct kb *kb = w->kb;
	struct kb_stats *st = &w->st;
	(void)s;
	if (kb->op == OP_PUT_RECORD) {
		if (!cj_string(resp, "SequenceNumber") || !cj_string(resp, "ShardId")) {
			st->bad_responses++;
			stats_error(st, "PutRecord answer without SequenceNumber/ShardId");
			return;
		}
		st->ok++;
		st->records++;
		st->bytes += kb->o.size;
		return;
	}
	const cJSON *failed = cJSON_GetObjectItemCaseSensitive(resp, "FailedRecordCount");
	const cJSON *recs = cJSON_GetObjectItemCaseSensitive(resp, "Records");
	int nrecs = cJSON_IsArray(recs) ? cJSON_GetArraySize(recs) : -1;
	if (!cJSON_IsNumber(failed) || nrecs != (int)kb->records_per_body) {
		st->bad_responses++;
		stats_error(st, "PutRecords answer without FailedRecordCount or with %d of %u "
			    "Records", nrecs, kb->records_per_body);
		return;
	}
	uint64_t nfailed = 0;
	if (failed->valueint > 0) {
		const cJSON *r;
		cJSON_ArrayForEach(r, recs) {
			const char *code = cj_string(r, "ErrorCode");
			if (!code)
				continue;
			nfailed++;
			if (is_throttle(code)) {
				st->throttled_records++;
			} else {
				st->failed_records++;
				stats_error(st, "PutRecords record failed: %s", code);
			}
		}
	}
	if (nfailed != (uint64_t)failed->valueint) {
		st->bad_responses++;
		stats_error(st, "PutRecords FailedRecordCount %d but %" PRIu64
			    " records with an ErrorCode", failed->valueint, nfailed);
	}
	st->ok++;
	st->records += kb->records_per_body - nfailed;
	st->bytes += (kb->records_per_body - nfailed) * (uint64_t)kb->o.size;
}

static int get_prepare(struct kb_worker *w, struct kb_slot *s)
{
	struct kb *kb = w->kb;
	if (w->stop)
		return 1;
	for (size_t k = 0; k < w->nshards; k++) {
		size_t i = (w->next_shard + k) % w->nshards;
		struct kb_shard *sh = &w->shards[i];
		if (sh->busy || !sh->iter)
			continue;
		w->next_shard = i + 1;   /* round robin over the shards when they outnumber slots */
		json_t *req = json_pack("{s:s, s:I}", "ShardIterator", sh->iter, "Limit",
					(json_int_t)kb->o.get_limit);
		free(s->body);
		if (!req || !(s->body = json_dumps(req, JSON_COMPACT)))
			die_oom();
		json_decref(req);
		s->op = OP_GET_RECORDS;
		s->req = s->body;
		sh->busy = true;
		s->shard = (long)i;
		w->issued++;
		return 0;
	}
	return 1;
}

static void get_complete(struct kb_worker *w, struct kb_slot *s, cJSON *resp)
{
	struct kb_stats *st = &w->st;
	struct kb_shard *sh = &w->shards[s->shard];
	sh->busy = false;
	s->shard = -1;
	const cJSON *recs = cJSON_GetObjectItemCaseSensitive(resp, "Records");
	const cJSON *next = cJSON_GetObjectItemCaseSensitive(resp, "NextShardIterator");
	if (!cJSON_IsArray(recs) || !(cJSON_IsString(next) || cJSON_IsNull(next) || !next)) {
		st->bad_responses++;
		stats_error(st, "GetRecords answer without Records");
		/* give the shard up rather than loop on an answer that cannot be read */
		free(sh->iter);
		sh->iter = NULL;
		return;
	}
	st->ok++;
	const cJSON *r;
	int n = 0;
	cJSON_ArrayForEach(r, recs) {
		const char *data = cj_string(r, "Data");
		n++;
		if (!data) {
			st->bad_responses++;
			stats_error(st, "GetRecords record without Data");
			continue;
		}
		st->records++;
		st->bytes += b64_decoded_len(data);
	}
	const cJSON *bh = cJSON_GetObjectItemCaseSensitive(resp, "MillisBehindLatest");
	double behind = cJSON_IsNumber(bh) ? bh->valuedouble : 0;
	free(sh->iter);
	sh->iter = NULL;
	if (n == 0 && behind == 0) {
		st->shards_read++;    /* read to the end of what it holds */
		return;
	}
	if (cJSON_IsString(next))
		sh->iter = xstrdup(next->valuestring);
	else
		st->shards_read++;    /* closed shard, read entirely */
}

/* A request finished on slot s: classify it, record its latency when it succeeded. */
static void slot_done(struct kb_worker *w, const struct kb_phase *ph, struct kb_slot *s,
		      const char *transport_err, long status, uint64_t t1)
{
	struct kb_stats *st = &w->st;
	if (transport_err) {
		st->transport_errors++;
		stats_error(st, "transport: %s", transport_err);
		if (s->shard >= 0) {
			/* the shard is given up: a server that stopped answering would otherwise be
			 * asked again and again until the phase's time limit */
			struct kb_shard *sh = &w->shards[s->shard];
			sh->busy = false;
			free(sh->iter);
			sh->iter = NULL;
			s->shard = -1;
		}
		return;
	}
	cJSON *resp = cJSON_ParseWithLength(s->resp.p ? s->resp.p : "", s->resp.len);
	if (status == 200 && resp) {
		uint64_t ok = st->ok;
		ph->complete(w, s, resp);
		if (st->ok > ok && st->nlat < st->lat_cap)
			st->lat[st->nlat++] = t1 - s->t0;
	} else {
		const cJSON *tv = cJSON_GetObjectItemCaseSensitive(resp, "__type");
		const char *type = strip_namespace(cJSON_IsString(tv) ? tv->valuestring : NULL);
		if (status == 200) {
			st->bad_responses++;
			stats_error(st, "HTTP 200 with a body that is not JSON");
		} else if (is_throttle(type)) {
			st->throttled_requests++;
		} else {
			st->http_errors++;
			stats_error(st, "HTTP %ld %s", status, type ? type : "(no __type)");
		}
		if (s->shard >= 0) {
			struct kb_shard *sh = &w->shards[s->shard];
			sh->busy = false;
			s->shard = -1;
			if (!is_throttle(type)) {
				/* an expired or refused iterator: give the shard up, do not spin on it */
				free(sh->iter);
				sh->iter = NULL;
			}
		}
	}
	cJSON_Delete(resp);
}

/*
 * Run a phase on nslots slots until prepare() has nothing more and every request is answered,
 * or until duration_ns have passed (0: no limit), after which no request is started.
 */
static int phase_run_curl(struct kb_worker *w)
{
	struct kb *kb = w->kb;
	const struct kb_phase *ph = w->ph;
	unsigned nslots = w->nslots;
	struct kb_stats *st = &w->st;
	int r = -ENOMEM;
	CURLM *m = curl_multi_init();
	struct kb_slot *slots = xcalloc(nslots, sizeof(*slots));
	unsigned active = 0;
	if (!m)
		goto out;
	/* one connection per slot: the pool holds them all, nothing is opened per request */
	curl_multi_setopt(m, CURLMOPT_MAX_HOST_CONNECTIONS, (long)nslots);
	curl_multi_setopt(m, CURLMOPT_MAXCONNECTS, (long)nslots);
	for (unsigned i = 0; i < nslots; i++) {
		slots[i].shard = -1;
		slots[i].h = curl_easy_init();
		if (!slots[i].h || easy_setup(kb, slots[i].h, &slots[i].resp) < 0)
			goto out;
		curl_easy_setopt(slots[i].h, CURLOPT_PRIVATE, &slots[i]);
	}

	uint64_t t_start = now_ns(), t_last = t_start;
	uint64_t deadline_ns = w->duration_ns ? t_start + w->duration_ns : 0;
	for (unsigned i = 0; i < nslots; i++) {
		if (ph->prepare(w, &slots[i]) != 0)
			break;
		easy_body(kb, slots[i].h, slots[i].op, slots[i].req);
		slots[i].resp.len = 0;
		slots[i].t0 = now_ns();
		curl_multi_add_handle(m, slots[i].h);
		active++;
	}
	while (active > 0) {
		int running = 0, left = 0;
		CURLMcode mc = curl_multi_perform(m, &running);
		if (mc != CURLM_OK) {
			fprintf(stderr, "kbench: curl_multi_perform: %s\n", curl_multi_strerror(mc));
			r = -EIO;
			goto out;
		}
		CURLMsg *msg;
		while ((msg = curl_multi_info_read(m, &left))) {
			if (msg->msg != CURLMSG_DONE)
				continue;
			uint64_t t1 = now_ns();
			struct kb_slot *s = NULL;
			CURL *h = msg->easy_handle;
			CURLcode rc = msg->data.result;
			curl_easy_getinfo(h, CURLINFO_PRIVATE, (char **)&s);
			curl_multi_remove_handle(m, h);
			active--;
			t_last = t1;
			long status = 0;
			curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
			slot_done(w, ph, s, rc == CURLE_OK ? NULL : curl_easy_strerror(rc), status, t1);
			if (deadline_ns && t1 >= deadline_ns)
				w->stop = true;
			if (ph->prepare(w, s) == 0) {
				easy_body(kb, h, s->op, s->req);
				s->resp.len = 0;
				s->t0 = now_ns();
				curl_multi_add_handle(m, h);
				active++;
			}
		}
		/* An idle slot never waits for a shard: a shard becomes readable again only when
		 * its own response arrives, and that slot takes the next shard at once. */
		if (active > 0 && curl_multi_poll(m, NULL, 0, 100, NULL) != CURLM_OK) {
			r = -EIO;
			goto out;
		}
	}
	w->t_start = t_start;
	w->t_last = t_last;
	st->requests = w->issued;
	r = 0;
out:
	for (unsigned i = 0; i < nslots; i++) {
		if (slots[i].h) {
			if (m)
				curl_multi_remove_handle(m, slots[i].h);
			curl_easy_cleanup(slots[i].h);
		}
		free(slots[i].resp.p);
		free(slots[i].body);
	}
	free(slots);
	if (m)
		curl_multi_cleanup(m);
	return r;
}

/* ---- --engine raw: one socket per slot, epoll, answers read with http_parser -------------- */

/*
 * The curl engine costs the client about 70 us per request on this machine (a handle removed
 * from and added back to the multi handle, its options set, curl's own bookkeeping): with 16
 * single-record PutRecords in flight it, not the server, set the rate. This engine sends the
 * prebuilt request with one writev() and parses the answer with http_parser, so a request
 * costs the client a few microseconds; everything it measures and checks is the same.
 */

static int raw_on_body(http_parser *hp, const char *at, size_t len)
{
	struct kb_slot *s = hp->data;
	return on_body((char *)at, 1, len, &s->resp) == len ? 0 : -1;
}

static int raw_on_complete(http_parser *hp)
{
	struct kb_slot *s = hp->data;
	s->complete = true;
	/* Stop here: the next answer starts only after the next request. */
	http_parser_pause(hp, 1);
	return 0;
}

static const http_parser_settings raw_settings = {
	.on_body = raw_on_body,
	.on_message_complete = raw_on_complete,
};

static int raw_connect(struct kb *kb, struct kb_slot *s, int ep)
{
	if (s->fd >= 0) {
		epoll_ctl(ep, EPOLL_CTL_DEL, s->fd, NULL);
		close(s->fd);
	}
	s->fd = socket(kb->addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s->fd < 0)
		return -errno;
	int one = 1;
	setsockopt(s->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(s->fd, (struct sockaddr *)&kb->addr, kb->addrlen) < 0) {
		int e = errno;
		close(s->fd);
		s->fd = -1;
		return -e;
	}
	fcntl(s->fd, F_SETFL, fcntl(s->fd, F_GETFL) | O_NONBLOCK);
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = s };
	s->out_armed = false;
	if (epoll_ctl(ep, EPOLL_CTL_ADD, s->fd, &ev) < 0)
		return -errno;
	return 0;
}

/* Write what is left of the slot's request; EPOLLOUT is armed while some remains. */
static int raw_flush(struct kb_slot *s, int ep)
{
	while (s->niov) {
		ssize_t n = writev(s->fd, s->iov + (3 - s->niov), (int)s->niov);
		if (n < 0) {
			if (errno == EAGAIN && !s->out_armed) {
				struct epoll_event ev = { .events = EPOLLIN | EPOLLOUT, .data.ptr = s };
				s->out_armed = true;
				return epoll_ctl(ep, EPOLL_CTL_MOD, s->fd, &ev) < 0 ? -errno : 0;
			}
			return errno == EAGAIN ? 0 : -errno;
		}
		while (s->niov && (size_t)n >= s->iov[3 - s->niov].iov_len) {
			n -= (ssize_t)s->iov[3 - s->niov].iov_len;
			s->niov--;
		}
		if (s->niov) {
			struct iovec *v = &s->iov[3 - s->niov];
			v->iov_base = (char *)v->iov_base + n;
			v->iov_len -= (size_t)n;
		}
	}
	/* Written in full: disarm EPOLLOUT if it was armed, and only then (a request that fits the
	 * socket buffer, the usual case, costs no epoll_ctl). */
	if (!s->out_armed)
		return 0;
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = s };
	s->out_armed = false;
	return epoll_ctl(ep, EPOLL_CTL_MOD, s->fd, &ev) < 0 ? -errno : 0;
}

static int raw_send(struct kb *kb, struct kb_slot *s, int ep)
{
	size_t blen = strlen(s->req);
	int cl = snprintf(s->clen, sizeof(s->clen), "%zu\r\n\r\n", blen);
	s->iov[0] = (struct iovec){ kb->raw_hdr[s->op], strlen(kb->raw_hdr[s->op]) };
	s->iov[1] = (struct iovec){ s->clen, (size_t)cl };
	s->iov[2] = (struct iovec){ (void *)s->req, blen };
	s->niov = 3;
	s->resp.len = 0;
	s->complete = false;
	http_parser_init(&s->hp, HTTP_RESPONSE);
	s->hp.data = s;
	s->t0 = now_ns();
	return raw_flush(s, ep);
}

/* Read what arrived; returns 1 when the answer is complete, 0 for more, or -errno. */
static int raw_read(struct kb_slot *s)
{
	char buf[65536];
	/* Acknowledge at once: a server that writes an answer's head and body separately must not
	 * wait out this end's delayed ACK (40 ms) before its body may leave (Nagle). */
	int one = 1;
	setsockopt(s->fd, IPPROTO_TCP, TCP_QUICKACK, &one, sizeof(one));
	for (;;) {
		ssize_t n = read(s->fd, buf, sizeof(buf));
		if (n < 0)
			return errno == EAGAIN ? 0 : -errno;
		size_t done = http_parser_execute(&s->hp, &raw_settings, buf, (size_t)n);
		if (n == 0)
			return s->complete ? 1 : -ECONNRESET;
		if (s->complete)
			return done == (size_t)n ? 1 : -EPROTO;  /* bytes past the answer: not ours */
		if (HTTP_PARSER_ERRNO(&s->hp) != HPE_OK)
			return -EPROTO;
	}
}

static int phase_run_raw(struct kb_worker *w)
{
	struct kb *kb = w->kb;
	const struct kb_phase *ph = w->ph;
	unsigned nslots = w->nslots;
	struct kb_stats *st = &w->st;
	struct kb_slot *slots = xcalloc(nslots ? nslots : 1, sizeof(*slots));
	struct epoll_event evs[64];
	unsigned active = 0;
	int r = 0, ep = epoll_create1(EPOLL_CLOEXEC);
	if (ep < 0) {
		free(slots);
		return -errno;
	}
	for (unsigned i = 0; i < nslots; i++) {
		slots[i].fd = -1;
		slots[i].shard = -1;
		if ((r = raw_connect(kb, &slots[i], ep)) < 0) {
			fprintf(stderr, "kbench: connect to %s: %s\n", kb->o.endpoint, strerror(-r));
			goto out;
		}
	}
	uint64_t t_start = now_ns(), t_last = t_start;
	uint64_t deadline_ns = w->duration_ns ? t_start + w->duration_ns : 0;
	for (unsigned i = 0; i < nslots; i++) {
		if (ph->prepare(w, &slots[i]) != 0)
			break;
		if ((r = raw_send(kb, &slots[i], ep)) < 0)
			goto out;
		active++;
	}
	while (active > 0) {
		int n = epoll_wait(ep, evs, 64, 1000);
		if (n < 0 && errno != EINTR) {
			r = -errno;
			goto out;
		}
		for (int i = 0; i < n; i++) {
			struct kb_slot *s = evs[i].data.ptr;
			if ((evs[i].events & EPOLLOUT) && s->niov && (r = raw_flush(s, ep)) < 0)
				goto fail_slot;
			if (!(evs[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP)))
				continue;
			r = raw_read(s);
			if (r == 0)
				continue;
		fail_slot:;
			uint64_t t1 = now_ns();
			active--;
			t_last = t1;
			if (r < 0) {
				slot_done(w, ph, s, strerror(-r), 0, t1);
				/* A broken connection is replaced; the request is not retried. */
				if ((r = raw_connect(kb, s, ep)) < 0) {
					fprintf(stderr, "kbench: reconnect to %s: %s\n", kb->o.endpoint,
						strerror(-r));
					goto out;
				}
			} else {
				slot_done(w, ph, s, NULL, (long)s->hp.status_code, t1);
			}
			r = 0;
			if (deadline_ns && t1 >= deadline_ns)
				w->stop = true;
			if (ph->prepare(w, s) == 0) {
				if ((r = raw_send(kb, s, ep)) < 0)
					goto out;
				active++;
			}
		}
	}
	w->t_start = t_start;
	w->t_last = t_last;
	st->requests = w->issued;
out:
	for (unsigned i = 0; i < nslots; i++) {
		if (slots[i].fd >= 0)
			close(slots[i].fd);
		free(slots[i].resp.p);
		free(slots[i].body);
	}
	free(slots);
	close(ep);
	return r;
}

/* Resolve the endpoint and build each operation's request head for the raw engine. */
static int raw_setup(struct kb *kb)
{
	char host[256], port[16] = "80";
	const char *p = kb->o.endpoint;
	if (strncmp(p, "http://", 7) != 0) {
		fprintf(stderr, "kbench: --engine raw needs an http:// endpoint, not %s\n", p);
		return -EINVAL;
	}
	p += 7;
	size_t hl = strcspn(p, ":/");
	if (hl == 0 || hl >= sizeof(host))
		return -EINVAL;
	memcpy(host, p, hl);
	host[hl] = '\0';
	if (p[hl] == ':')
		snprintf(port, sizeof(port), "%.*s", (int)strcspn(p + hl + 1, "/"), p + hl + 1);
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *ai = NULL;
	int e = getaddrinfo(host, port, &hints, &ai);
	if (e != 0) {
		fprintf(stderr, "kbench: %s: %s\n", kb->o.endpoint, gai_strerror(e));
		return -EINVAL;
	}
	memcpy(&kb->addr, ai->ai_addr, ai->ai_addrlen);
	kb->addrlen = ai->ai_addrlen;
	freeaddrinfo(ai);
	char date[32];
	time_t t = time(NULL);
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(date, sizeof(date), "%Y%m%dT%H%M%SZ", &tm);
	for (int op = 0; op < OP_COUNT; op++) {
		if (asprintf(&kb->raw_hdr[op], "POST / HTTP/1.1\r\nHost: %s:%s\r\n"
			     "Content-Type: " CONTENT_TYPE "\r\nX-Amz-Target: " TARGET_PREFIX "%s\r\n"
			     "X-Amz-Date: %s\r\nAuthorization: AWS4-HMAC-SHA256 Credential=AKIDKBENCH/"
			     "%.8s/%s/kinesis/aws4_request, SignedHeaders=content-type;host;x-amz-date;"
			     "x-amz-target, Signature=%064d\r\nContent-Length: ", host, port,
			     op_names[op], date, date, kb->o.region, 0) < 0)
			return -ENOMEM;
	}
	return 0;
}

static int phase_run(struct kb_worker *w)
{
	return w->kb->o.raw ? phase_run_raw(w) : phase_run_curl(w);
}

static const struct kb_phase put_phase = { put_prepare, put_complete };
static const struct kb_phase get_phase = { get_prepare, get_complete };

static void *worker_main(void *arg)
{
	struct kb_worker *w = arg;
	w->rc = phase_run(w);
	return NULL;
}

/* Add a worker's results to the phase's. */
static void stats_merge(struct kb_stats *to, const struct kb_stats *from)
{
	to->requests += from->requests;
	to->ok += from->ok;
	to->records += from->records;
	to->bytes += from->bytes;
	to->http_errors += from->http_errors;
	to->transport_errors += from->transport_errors;
	to->bad_responses += from->bad_responses;
	to->throttled_requests += from->throttled_requests;
	to->throttled_records += from->throttled_records;
	to->failed_records += from->failed_records;
	to->capped |= from->capped;
	to->shards_read += from->shards_read;
	if (!to->first_error[0])
		memcpy(to->first_error, from->first_error, sizeof(to->first_error));
	memcpy(to->lat + to->nlat, from->lat, from->nlat * sizeof(*to->lat));
	to->nlat += from->nlat;
}

/*
 * Run a phase on nslots slots spread over --threads workers (each with its share of the slots,
 * of issue_limit, of the latency slots and of the shards), and merge their results into *st.
 * The phase lasts from the first worker's start to the last response of any worker.
 */
static int phase_workers(struct kb *kb, const struct kb_phase *ph, const char *name,
			 unsigned nslots, uint64_t duration_ns, uint64_t issue_limit,
			 size_t lat_cap, struct kb_stats *st)
{
	unsigned nw = kb->o.threads < nslots ? kb->o.threads : nslots;
	struct kb_worker *w = xcalloc(nw, sizeof(*w));
	int r = 0;
	*st = (struct kb_stats){ .name = name };
	for (unsigned i = 0; i < nw; i++) {
		size_t sh0 = kb->nshards * i / nw, sh1 = kb->nshards * (i + 1) / nw;
		w[i] = (struct kb_worker){
			.kb = kb, .ph = ph, .duration_ns = duration_ns,
			.nslots = nslots / nw + (i < nslots % nw),
			.issue_limit = issue_limit ? issue_limit / nw + (i < issue_limit % nw) : 0,
			.next_body = kb->nbodies ? kb->nbodies * i / nw : 0,
			.shards = kb->shards + sh0, .nshards = sh1 - sh0,
		};
		if (issue_limit && w[i].issue_limit == 0)
			w[i].nslots = 0;
		w[i].st.lat_cap = lat_cap / nw + 1;   /* >= its share of issue_limit */
		w[i].st.lat = xcalloc(w[i].st.lat_cap, sizeof(*w[i].st.lat));
	}
	double cpu0 = cpu_seconds();
	unsigned started = 0;
	for (unsigned i = 1; i < nw; i++, started++) {
		if (pthread_create(&w[i].tid, NULL, worker_main, &w[i]) != 0) {
			fprintf(stderr, "kbench: cannot start a worker thread\n");
			w[i].rc = r = -EAGAIN;
			for (unsigned j = i; j < nw; j++)
				w[j].nslots = 0;  /* not started: nothing to wait for */
			break;
		}
	}
	worker_main(&w[0]);
	for (unsigned i = 1; i <= started; i++)
		pthread_join(w[i].tid, NULL);
	st->cpu_seconds = cpu_seconds() - cpu0;
	uint64_t t0 = UINT64_MAX, t1 = 0;
	size_t nlat = 0;
	for (unsigned i = 0; i < nw; i++)
		nlat += w[i].st.nlat;
	st->lat_cap = nlat;
	st->lat = xcalloc(nlat, sizeof(*st->lat));
	for (unsigned i = 0; i < nw; i++) {
		if (w[i].rc < 0 && r == 0)
			r = w[i].rc;
		if (w[i].nslots && w[i].t_start) {
			t0 = w[i].t_start < t0 ? w[i].t_start : t0;
			t1 = w[i].t_last > t1 ? w[i].t_last : t1;
		}
		stats_merge(st, &w[i].st);
		free(w[i].st.lat);
	}
	st->seconds = t1 > t0 ? (double)(t1 - t0) / 1e9 : 0;
	free(w);
	return r;
}

static int phase_put(struct kb *kb, enum kb_op op, struct kb_stats *st)
{
	bool batch = op == OP_PUT_RECORDS;
	kb->op = op;
	kb->records_per_body = batch ? kb->o.batch : 1;
	kb->nbodies = batch ? PUTRECORDS_BODIES : PUTRECORD_BODIES;
	if (kb->o.requests && kb->nbodies > kb->o.requests)
		kb->nbodies = kb->o.requests;
	kb->bodies = bodies_make(kb, kb->nbodies, batch ? kb->o.batch : 0);
	int r = phase_workers(kb, &put_phase, batch ? "putrecords" : "putrecord", kb->o.inflight,
			      kb->o.requests ? 0 : (uint64_t)(kb->o.duration * 1e9), kb->o.requests,
			      kb->o.requests ? kb->o.requests : LAT_CAP_DURATION, st);
	bodies_free(kb->bodies, kb->nbodies);
	kb->bodies = NULL;
	kb->nbodies = 0;
	return r;
}

static int phase_get(struct kb *kb, struct kb_stats *st)
{
	int r = shards_list(kb);
	if (r < 0)
		return r;
	for (size_t i = 0; i < kb->nshards; i++) {
		long status = 0;
		json_t *resp = NULL;
		json_t *req = json_pack("{s:s, s:s, s:s}", "StreamName", kb->o.stream, "ShardId",
					kb->shards[i].id, "ShardIteratorType", "TRIM_HORIZON");
		r = kb_call(kb, OP_GET_SHARD_ITERATOR, req, &status, &resp);
		json_decref(req);
		if (r < 0)
			return r;
		const char *it = json_string_value(json_object_get(resp, "ShardIterator"));
		if (status != 200 || !it) {
			call_failed(kb, OP_GET_SHARD_ITERATOR, status, resp);
			json_decref(resp);
			return -EIO;
		}
		kb->shards[i].iter = xstrdup(it);
		json_decref(resp);
	}
	unsigned nslots = kb->nshards < kb->o.inflight ? (unsigned)kb->nshards : kb->o.inflight;
	/* Reading runs to the end of the stream; the time limit only stops a server that never
	 * says it is at the end. */
	return phase_workers(kb, &get_phase, "getrecords", nslots,
			     (uint64_t)((120.0 + 10 * kb->o.duration) * 1e9), 0, LAT_CAP_DURATION, st);
}

/* ---- report --------------------------------------------------------------------------------- */

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/* Nearest-rank percentile of a sorted array. */
static uint64_t pct(const uint64_t *v, size_t n, double p)
{
	if (n == 0)
		return 0;
	size_t rank = (size_t)ceil(p * (double)n);
	return v[rank ? rank - 1 : 0];
}

static json_t *stats_json(struct kb_stats *st, unsigned inflight)
{
	qsort(st->lat, st->nlat, sizeof(*st->lat), cmp_u64);
	double sec = st->seconds > 0 ? st->seconds : 1e-9;
	long double sum = 0;
	for (size_t i = 0; i < st->nlat; i++)
		sum += st->lat[i];
	json_t *lat = json_pack("{s:I, s:I, s:I, s:I, s:I, s:f}",
		"count", (json_int_t)st->nlat,
		"p50", (json_int_t)pct(st->lat, st->nlat, 0.50),
		"p99", (json_int_t)pct(st->lat, st->nlat, 0.99),
		"p999", (json_int_t)pct(st->lat, st->nlat, 0.999),
		"max", (json_int_t)(st->nlat ? st->lat[st->nlat - 1] : 0),
		"mean", st->nlat ? (double)(sum / st->nlat) : 0.0);
	json_t *err = json_pack("{s:I, s:I, s:I, s:I, s:I, s:I}",
		"http", (json_int_t)st->http_errors,
		"transport", (json_int_t)st->transport_errors,
		"bad_responses", (json_int_t)st->bad_responses,
		"throttled_requests", (json_int_t)st->throttled_requests,
		"throttled_records", (json_int_t)st->throttled_records,
		"failed_records", (json_int_t)st->failed_records);
	json_object_set_new(err, "first", st->first_error[0] ? json_string(st->first_error)
							    : json_null());
	json_t *o = json_pack("{s:I, s:I, s:I, s:I, s:I, s:f, s:f, s:f, s:f, s:o, s:o, s:f, s:f, "
			      "s:b}",
		"inflight", (json_int_t)inflight,
		"requests", (json_int_t)st->requests,
		"ok", (json_int_t)st->ok,
		"records", (json_int_t)st->records,
		"bytes", (json_int_t)st->bytes,
		"seconds", st->seconds,
		"records_per_s", st->records / sec,
		"requests_per_s", st->ok / sec,
		"bytes_per_s", st->bytes / sec,
		"latency_ns", lat,
		"errors", err,
		"client_cpu_s", st->cpu_seconds,
		"client_cpu_per_s", st->cpu_seconds / sec,
		"capped", st->capped);
	return o;
}

/* ---- command line --------------------------------------------------------------------------- */

static const char usage[] =
	"usage: kbench [--endpoint URL] [--stream NAME] [--shards N]\n"
	"              [--mode putrecords|putrecord|getrecords|all] [--batch N] [--size BYTES]\n"
	"              [--inflight N] [--duration S | --requests N] [--keys N] [--get-limit N]\n"
	"              [--threads N] [--sign] [--region R] [--seed N] [--engine raw|curl]\n"
	"Loads a Kinesis API endpoint over HTTP and prints the results as JSON (see bench/kbench.c).\n";

static int parse_u64(const char *name, const char *v, uint64_t lo, uint64_t hi, uint64_t *out)
{
	char *end;
	errno = 0;
	unsigned long long x = strtoull(v, &end, 10);
	if (errno || end == v || *end || v[0] == '-' || x < lo || x > hi) {
		fprintf(stderr, "kbench: --%s %s: expected an integer from %" PRIu64 " to %" PRIu64
			"\n", name, v, lo, hi);
		return -EINVAL;
	}
	*out = x;
	return 0;
}

static int parse_args(int argc, char **argv, struct kb_opts *o)
{
	static const struct option longopts[] = {
		{ "endpoint", required_argument, NULL, 'e' },
		{ "stream", required_argument, NULL, 's' },
		{ "shards", required_argument, NULL, 'n' },
		{ "mode", required_argument, NULL, 'm' },
		{ "batch", required_argument, NULL, 'b' },
		{ "size", required_argument, NULL, 'z' },
		{ "inflight", required_argument, NULL, 'i' },
		{ "duration", required_argument, NULL, 'd' },
		{ "requests", required_argument, NULL, 'r' },
		{ "keys", required_argument, NULL, 'k' },
		{ "get-limit", required_argument, NULL, 'g' },
		{ "threads", required_argument, NULL, 't' },
		{ "sign", no_argument, NULL, 'S' },
		{ "engine", required_argument, NULL, 'E' },
		{ "region", required_argument, NULL, 'R' },
		{ "seed", required_argument, NULL, 'x' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	*o = (struct kb_opts){ .endpoint = "http://127.0.0.1:4566", .shards = 4,
			       .mode = MODE_PUTRECORDS | MODE_PUTRECORD | MODE_GETRECORDS,
			       .batch = 500, .size = 100, .inflight = 16, .duration = 10,
			       .keys = 1000, .get_limit = 10000, .threads = 1, .region = "us-east-1", .seed = 1,
			       .raw = true };
	int c;
	uint64_t v;
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		const char *name = NULL;
		for (const struct option *lo = longopts; lo->name; lo++)
			if (lo->val == c)
				name = lo->name;
		switch (c) {
		case 'e': o->endpoint = optarg; break;
		case 's': o->stream = optarg; break;
		case 'S': o->sign = true; break;
		case 'E':
			if (!strcmp(optarg, "raw") || !strcmp(optarg, "curl")) {
				o->raw = !strcmp(optarg, "raw");
				break;
			}
			fprintf(stderr, "kbench: --engine %s: expected raw or curl\n", optarg);
			return -EINVAL;
		case 'R': o->region = optarg; break;
		case 'm':
			if (!strcmp(optarg, "putrecords")) o->mode = MODE_PUTRECORDS;
			else if (!strcmp(optarg, "putrecord")) o->mode = MODE_PUTRECORD;
			else if (!strcmp(optarg, "getrecords")) o->mode = MODE_PUTRECORDS | MODE_GETRECORDS;
			else if (!strcmp(optarg, "all"))
				o->mode = MODE_PUTRECORDS | MODE_PUTRECORD | MODE_GETRECORDS;
			else {
				fprintf(stderr, "kbench: --mode %s: expected putrecords, putrecord, "
					"getrecords or all\n", optarg);
				return -EINVAL;
			}
			break;
		case 'd': {
			char *end;
			errno = 0;
			o->duration = strtod(optarg, &end);
			if (errno || end == optarg || *end || !(o->duration > 0) || o->duration > 86400) {
				fprintf(stderr, "kbench: --duration %s: expected seconds, > 0\n", optarg);
				return -EINVAL;
			}
			break;
		}
		case 'n': case 'b': case 'z': case 'i': case 'r': case 'k': case 'g': case 't':
		case 'x': {
			/* limits: Kinesis' own (500 records a call, 1 MiB a record, 10000 a read) */
			uint64_t lo = 1, hi = UINT32_MAX;
			if (c == 'n') hi = MAX_SHARDS;
			if (c == 'b') hi = 500;
			if (c == 'z') hi = 1 << 20;
			if (c == 'i') hi = MAX_INFLIGHT;
			if (c == 'r') hi = 1u << 28;
			if (c == 'k') hi = 1u << 20;
			if (c == 'g') hi = 10000;
			if (c == 't') hi = 64;
			if (c == 'x') { lo = 0; hi = UINT64_MAX; }
			if (parse_u64(name, optarg, lo, hi, &v) < 0)
				return -EINVAL;
			switch (c) {
			case 'n': o->shards = (unsigned)v; break;
			case 'b': o->batch = (unsigned)v; break;
			case 'z': o->size = (unsigned)v; break;
			case 'i': o->inflight = (unsigned)v; break;
			case 'r': o->requests = v; break;
			case 'k': o->keys = (unsigned)v; break;
			case 'g': o->get_limit = (unsigned)v; break;
			case 't': o->threads = (unsigned)v; break;
			default: o->seed = v; break;
			}
			break;
		}
		case 'h':
			fputs(usage, stdout);
			exit(0);
		default:
			fputs(usage, stderr);
			return -EINVAL;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "kbench: unexpected argument %s\n%s", argv[optind], usage);
		return -EINVAL;
	}
	/* Signing is libcurl's (CURLOPT_AWS_SIGV4): a signed run uses the curl engine. */
	if (o->sign)
		o->raw = false;
	return 0;
}

int main(int argc, char **argv)
{
	struct kb kb = { 0 };
	struct kb_stats st[3];
	const char *names[3] = { NULL };
	memset(st, 0, sizeof(st));
	int nst = 0, rc = 1;
	char stream[64];
	if (parse_args(argc, argv, &kb.o) < 0)
		return 2;
	if (!kb.o.stream) {
		snprintf(stream, sizeof(stream), "kbench-%ld-%ld", (long)getpid(), (long)time(NULL));
		kb.o.stream = stream;
	}
	kb.rng = kb.o.seed;
	if (snprintf(kb.url, sizeof(kb.url), "%s", kb.o.endpoint) >= (int)sizeof(kb.url)) {
		fputs("kbench: --endpoint too long\n", stderr);
		return 2;
	}
	if (kb.o.sign) {
		const char *id = getenv("AWS_ACCESS_KEY_ID"), *key = getenv("AWS_SECRET_ACCESS_KEY");
		snprintf(kb.userpwd, sizeof(kb.userpwd), "%s:%s", id ? id : "test", key ? key : "test");
		snprintf(kb.sigv4, sizeof(kb.sigv4), "aws:amz:%s:kinesis", kb.o.region);
	}
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		fputs("kbench: curl_global_init failed\n", stderr);
		return 1;
	}
	kb.ctl = curl_easy_init();
	if (!kb.ctl || setup_headers(&kb) < 0 || easy_setup(&kb, kb.ctl, &kb.ctl_resp) < 0) {
		fputs("kbench: cannot set up libcurl\n", stderr);
		goto out;
	}
	if (kb.o.raw && raw_setup(&kb) < 0)
		goto out;
	if (stream_create(&kb) < 0)
		goto out;

	uint64_t put_records = 0;
	if (kb.o.mode & MODE_PUTRECORDS) {
		if (phase_put(&kb, OP_PUT_RECORDS, &st[nst]) < 0)
			goto out;
		put_records += st[nst].records;
		names[nst++] = "putrecords";
	}
	if (kb.o.mode & MODE_PUTRECORD) {
		if (phase_put(&kb, OP_PUT_RECORD, &st[nst]) < 0)
			goto out;
		put_records += st[nst].records;
		names[nst++] = "putrecord";
	}
	if (kb.o.mode & MODE_GETRECORDS) {
		if (phase_get(&kb, &st[nst]) < 0)
			goto out;
		names[nst++] = "getrecords";
	}

	json_t *phases = json_object();
	bool all_ok = true;
	for (int i = 0; i < nst; i++) {
		json_t *p = stats_json(&st[i], i == nst - 1 && (kb.o.mode & MODE_GETRECORDS)
					       ? (unsigned)(kb.nshards < kb.o.inflight ? kb.nshards
										    : kb.o.inflight)
					       : kb.o.inflight);
		if (!strcmp(names[i], "getrecords")) {
			json_object_set_new(p, "records_put", json_integer((json_int_t)put_records));
			json_object_set_new(p, "shards_read", json_integer((json_int_t)st[i].shards_read));
		}
		all_ok &= st[i].ok > 0;
		json_object_set_new(phases, names[i], p);
	}
	json_t *out = json_pack("{s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:f, s:I, s:b, s:o}",
		"endpoint", kb.o.endpoint, "engine", kb.o.raw ? "raw" : "curl", "stream", kb.o.stream,
		"shards", (json_int_t)kb.o.shards, "batch", (json_int_t)kb.o.batch,
		"size", (json_int_t)kb.o.size, "inflight", (json_int_t)kb.o.inflight,
		"keys", (json_int_t)kb.o.keys, "duration", kb.o.requests ? 0.0 : kb.o.duration,
		"requests", (json_int_t)kb.o.requests, "signed", kb.o.sign, "phases", phases);
	json_dumpf(out, stdout, JSON_INDENT(2) | JSON_REAL_PRECISION(10));
	fputc('\n', stdout);
	json_decref(out);
	rc = all_ok ? 0 : 1;
	if (!all_ok)
		fputs("kbench: a phase had no successful request (see errors.first)\n", stderr);
out:
	for (int i = 0; i < 3; i++)
		free(st[i].lat);
	shards_free(&kb);
	for (int op = 0; op < OP_COUNT; op++) {
		curl_slist_free_all(kb.hdr[op]);
		free(kb.raw_hdr[op]);
	}
	if (kb.ctl)
		curl_easy_cleanup(kb.ctl);
	free(kb.ctl_resp.p);
	curl_global_cleanup();
	return rc;
}
