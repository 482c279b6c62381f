/* SPDX-License-Identifier: MIT */
/*
 * kceiling: a Kinesis API endpoint that does no work, for measuring the ceiling of the load client
 * (bench/kbench.c): every answer is canned, built once at start, so that what limits a run
 * against it is the client and the HTTP library, not a server.
 *
 *   kceiling [--port P] [--batch N] [--shards N] [--get-pages N] [--get-records N] [--threads N]
 *
 * Answers by X-Amz-Target: PutRecords with N successful entries (--batch, as kbench sends),
 * PutRecord, CreateStream, DescribeStreamSummary (ACTIVE), ListShards (--shards shards),
 * GetShardIterator ("0"), and GetRecords: --get-pages pages of --get-records records of 100
 * bytes, then an empty page with no lag. The page number travels in the iterator, so several
 * readers each read the whole stream. It prints "listening on PORT" once ready and runs until
 * SIGINT or SIGTERM.
 *
 * Exit status: 0 stopped by a signal, 1 the listener could not start, 2 a bad command line.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>
#include <microhttpd.h>

#include "ctl_b64.h"

#define MAX_BODY (8u << 20)      /* a PutRecords body is at most 5 MiB of data, 6.7 MiB as
				    base64 */

enum canned_answer {
	ANS_PUT_RECORDS,
	ANS_PUT_RECORD,
	ANS_CREATE,
	ANS_DESCRIBE,
	ANS_LIST_SHARDS,
	ANS_ITERATOR,
	ANS_GET_EMPTY,
	ANS_COUNT,
};

struct ceiling {
	struct MHD_Response *ans[ANS_COUNT];
	struct MHD_Response **pages;   /* GetRecords page i, whose next iterator is i + 1 */
	unsigned npages;
};

struct upload {
	char *p;
	size_t len;
};

static const struct {
	const char *target;
	enum canned_answer ans;
} targets[] = {
	{ "Kinesis_20131202.PutRecords", ANS_PUT_RECORDS },
	{ "Kinesis_20131202.PutRecord", ANS_PUT_RECORD },
	{ "Kinesis_20131202.CreateStream", ANS_CREATE },
	{ "Kinesis_20131202.DescribeStreamSummary", ANS_DESCRIBE },
	{ "Kinesis_20131202.ListShards", ANS_LIST_SHARDS },
	{ "Kinesis_20131202.GetShardIterator", ANS_ITERATOR },
};

static struct MHD_Response *canned(json_t *j)
{
	char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;
	json_decref(j);
	if (!s)
		return NULL;
	struct MHD_Response *r = MHD_create_response_from_buffer(strlen(s), s,
								  MHD_RESPMEM_MUST_FREE);
	if (!r) {
		free(s);
		return NULL;
	}
	MHD_add_response_header(r, "Content-Type", "application/x-amz-json-1.1");
	return r;
}

static int ceiling_build(struct ceiling *st, unsigned batch, unsigned shards, unsigned npages,
		      unsigned per_page)
{
	json_t *list = json_array();
	for (unsigned i = 0; i < shards; i++) {
		char id[32];
		snprintf(id, sizeof(id), "shardId-%012u", i);
		json_array_append_new(list, json_pack("{s:s}", "ShardId", id));
	}
	json_t *recs = json_array();
	for (unsigned i = 0; i < batch; i++)
		json_array_append_new(recs, json_pack("{s:s, s:s}", "SequenceNumber",
			"49590338271490256608559692538361571095921575989136588898",
			"ShardId", "shardId-000000000000"));
	st->ans[ANS_PUT_RECORDS] = canned(json_pack("{s:i, s:o}", "FailedRecordCount", 0,
						    "Records", recs));
	st->ans[ANS_PUT_RECORD] = canned(json_pack("{s:s, s:s}", "SequenceNumber",
		"49590338271490256608559692538361571095921575989136588898", "ShardId",
		"shardId-000000000000"));
	st->ans[ANS_CREATE] = canned(json_object());
	st->ans[ANS_DESCRIBE] = canned(json_pack("{s:{s:s, s:i}}", "StreamDescriptionSummary",
						 "StreamStatus", "ACTIVE", "OpenShardCount", 1));
	st->ans[ANS_LIST_SHARDS] = canned(json_pack("{s:o}", "Shards", list));
	st->ans[ANS_ITERATOR] = canned(json_pack("{s:s}", "ShardIterator", "0"));
	st->ans[ANS_GET_EMPTY] = canned(json_pack("{s:[], s:s, s:i}", "Records",
						  "NextShardIterator", "end", "MillisBehindLatest",
						  0));
	uint8_t data[100];
	char b64[sizeof(data) / 3 * 4 + 8];
	memset(data, 0x5a, sizeof(data));
	ctl_b64_encode(data, sizeof(data), b64);
	st->npages = npages;
	st->pages = calloc(npages ? npages : 1, sizeof(*st->pages));
	if (!st->pages)
		return -ENOMEM;
	for (unsigned p = 0; p < npages; p++) {
		char next[16];
		snprintf(next, sizeof(next), "%u", p + 1);
		recs = json_array();
		for (unsigned i = 0; i < per_page; i++)
			json_array_append_new(recs, json_pack("{s:s, s:s, s:s}", "SequenceNumber",
				"49590338271490256608559692538361571095921575989136588898",
				"Data", b64, "PartitionKey", "pk-0000000000000000"));
		st->pages[p] = canned(json_pack("{s:o, s:s, s:i}", "Records", recs,
						"NextShardIterator", next, "MillisBehindLatest", 1));
		if (!st->pages[p])
			return -ENOMEM;
	}
	for (int i = 0; i < ANS_COUNT; i++)
		if (!st->ans[i])
			return -ENOMEM;
	return 0;
}

static enum MHD_Result reply(struct MHD_Connection *c, unsigned code, struct MHD_Response *r)
{
	return MHD_queue_response(c, code, r);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
				  const char *method, const char *version, const char *data,
				  size_t *data_size, void **con_cls)
{
	struct ceiling *st = cls;
	struct upload *up = *con_cls;
	(void)url;
	(void)version;
	if (!up) {
		up = calloc(1, sizeof(*up));
		if (!up)
			return MHD_NO;
		*con_cls = up;
		return MHD_YES;
	}
	if (*data_size) {
		if (up->len + *data_size > MAX_BODY)
			return MHD_NO;
		char *p = realloc(up->p, up->len + *data_size + 1);
		if (!p)
			return MHD_NO;
		memcpy(p + up->len, data, *data_size);
		up->p = p;
		up->len += *data_size;
		up->p[up->len] = '\0';
		*data_size = 0;
		return MHD_YES;
	}
	if (strcmp(method, "POST"))
		return reply(c, 400, st->ans[ANS_CREATE]);
	const char *target = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Amz-Target");
	for (size_t i = 0; target && i < sizeof(targets) / sizeof(targets[0]); i++)
		if (!strcmp(target, targets[i].target))
			return reply(c, 200, st->ans[targets[i].ans]);
	if (target && !strcmp(target, "Kinesis_20131202.GetRecords")) {
		json_t *req = up->len ? json_loadb(up->p, up->len, 0, NULL) : NULL;
		const char *it = json_string_value(json_object_get(req, "ShardIterator"));
		char *end;
		unsigned long page = it ? strtoul(it, &end, 10) : ULONG_MAX;
		struct MHD_Response *r = it && !*end && page < st->npages ? st->pages[page]
									 : st->ans[ANS_GET_EMPTY];
		json_decref(req);
		return reply(c, 200, r);
	}
	return reply(c, 400, st->ans[ANS_CREATE]);
}

static void on_done(void *cls, struct MHD_Connection *c, void **con_cls,
		    enum MHD_RequestTerminationCode toe)
{
	struct upload *up = *con_cls;
	(void)cls;
	(void)c;
	(void)toe;
	if (up) {
		free(up->p);
		free(up);
		*con_cls = NULL;
	}
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "port", required_argument, NULL, 'p' },
		{ "batch", required_argument, NULL, 'b' },
		{ "shards", required_argument, NULL, 's' },
		{ "get-pages", required_argument, NULL, 'g' },
		{ "get-records", required_argument, NULL, 'r' },
		{ "threads", required_argument, NULL, 't' },
		{ 0 },
	};
	unsigned long port = 4566, batch = 500, shards = 1, pages = 100, per_page = 10000, threads = 1;
	int c;
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		char *end;
		unsigned long v = optarg ? strtoul(optarg, &end, 10) : 0;
		if (c == '?' || !optarg || *end || optarg[0] == '-') {
			fputs("usage: kceiling [--port P] [--batch N] [--shards N] [--get-pages N] "
			      "[--get-records N] [--threads N]\n", stderr);
			return 2;
		}
		if (c == 'p') port = v;
		if (c == 'b') batch = v;
		if (c == 's') shards = v;
		if (c == 'g') pages = v;
		if (c == 'r') per_page = v;
		if (c == 't') threads = v;
	}
	if (port > 65535 || batch < 1 || batch > 500 || shards < 1 || shards > 1024 ||
	    per_page > 10000 || pages > 100000 ||
	    threads < 1 || threads > 64) {
		fputs("kceiling: --port 0..65535, --batch 1..500, --shards 1..1024, --get-records 0..10000, "
		      "--get-pages 0..100000, --threads 1..64\n", stderr);
		return 2;
	}
	struct ceiling st = { 0 };
	if (ceiling_build(&st, (unsigned)batch, (unsigned)shards, (unsigned)pages, (unsigned)per_page) < 0) {
		fputs("kceiling: out of memory\n", stderr);
		return 1;
	}
	sigset_t mask;
	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &mask, NULL);   /* MHD's threads inherit it */
	struct MHD_Daemon *d = MHD_start_daemon(
		MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL, (uint16_t)port, NULL, NULL,
		on_request, &st, MHD_OPTION_NOTIFY_COMPLETED, on_done, NULL,
		MHD_OPTION_THREAD_POOL_SIZE, (unsigned)threads,
		MHD_OPTION_CONNECTION_TIMEOUT, 60u, MHD_OPTION_END);
	if (!d) {
		fprintf(stderr, "kceiling: cannot listen on port %lu\n", port);
		return 1;
	}
	const union MHD_DaemonInfo *info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
	printf("listening on %u\n", info ? info->port : (unsigned)port);
	fflush(stdout);
	int sig;
	sigwait(&mask, &sig);
	MHD_stop_daemon(d);
	for (int i = 0; i < ANS_COUNT; i++)
		MHD_destroy_response(st.ans[i]);
	for (unsigned p = 0; p < st.npages; p++)
		MHD_destroy_response(st.pages[p]);
	free(st.pages);
	return 0;
}
