/* SPDX-License-Identifier: MIT */
/*
 * ingest_engine: the worker core's own cost per record, without a NIC or a load generator
 * (bench/run dataplane). One thread drives one dp_ingest engine the way a worker does: frames
 * of `--size`-byte records with `--key-len`-byte keys drawn from `--keys` keys (as many records
 * as a 1472-byte datagram holds, the memif generator's frames), handed to dp_ingest_frame() in
 * bursts of 32 with a dp_ingest_poll() after each burst, each frame's successor prefetched as the
 * NIC path does (dp_ingest_prefetch; `--prefetch 0` leaves it out, to show that step's gain),
 * into one stream of `--shards` shard logs under `--dir` with the given durability; acks are
 * built and counted, not sent. Frames
 * are built once and only their batch number changes, so the figure is the engine's work:
 * parse, copy, MD5 (with the key cache), routing, retry window, staging with CRC32C, group
 * commit, ack building.
 *
 *   ingest_engine --dir DIR [--seconds S] [--shards N] [--size B] [--key-len L] [--keys K]
 *                 [--durability durable|written|none] [--pending-frames N] [--hcache N]
 *                 [--prefetch 1|0] [--io-cpu N]
 *
 * --io-cpu runs the engine's io_uring workers (the buffered writes' page-cache copies) on CPU N,
 * as ingestd does with the CPUs no worker runs on (dp_committer_set_iowq_cpus); by default they
 * share the engine thread's CPUs.
 *
 * Prints one JSON object: records acked, wall seconds, the thread's CPU seconds, records/s,
 * and CPU ns per record (the figure to read on a shared machine: it does not count the time
 * the thread was not running).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "dp_frame.h"
#include "dp_ingest.h"

#define BURST 32
#define FRAME_CAP 1472u          /* a 1500-byte MTU less IPv4 and UDP headers */
#define NFRAMES 4096u            /* distinct frames, reused with new batch numbers */
#define SHARDS_MAX 64u

struct opts {
	const char *dir;
	double seconds;
	unsigned shards, size, key_len, keys, pending, hcache, prefetch;
	int io_cpu;
	enum dp_durability durability;
};

struct counts {
	uint64_t acks, records, other;
};

static void on_ack(void *arg, const struct dp_ingest_src *src, const uint8_t *ack, size_t len)
{
	struct counts *c = arg;
	struct dp_ack a;
	struct dp_ack_rec out[DP_FRAME_RECORDS_MAX];
	(void)src;
	if (dp_ack_parse(ack, len, &a) != DP_DROP_NONE || a.status != DP_ACK_OK)
		return;
	int n = dp_ack_expand(&a, out, DP_FRAME_RECORDS_MAX);
	c->acks++;
	for (int i = 0; i < n; i++)
		if (out[i].status == DP_ACK_OK)
			c->records++;   /* only records written and acked ok count */
		else
			c->other++;
}

static double ts_sec(clockid_t id)
{
	struct timespec t;
	clock_gettime(id, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void st64le(uint8_t *p, uint64_t v)
{
	for (unsigned i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static int usage(const char *prog)
{
	fprintf(stderr, "usage: %s --dir DIR [--seconds S] [--shards N] [--size B] [--key-len L] "
		"[--keys K] [--durability durable|written|none] [--pending-frames N] [--hcache N]\n"
		"       [--prefetch 1|0] [--io-cpu N]\n", prog);
	return 2;
}

int main(int argc, char **argv)
{
	struct opts o = { .seconds = 3, .shards = 4, .size = 100, .key_len = 16, .keys = 100000,
			  .pending = 4096, .hcache = 4096, .prefetch = 1, .io_cpu = -1,
			  .durability = DP_DUR_DURABLE };
	/* Every option takes a value: step over pairs. */
	for (int i = 1; i < argc; i += 2) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!v)
			return usage(argv[0]);
		if (strcmp(a, "--dir") == 0)
			o.dir = v;
		else if (strcmp(a, "--seconds") == 0)
			o.seconds = atof(v);
		else if (strcmp(a, "--shards") == 0)
			o.shards = (unsigned)atoi(v);
		else if (strcmp(a, "--size") == 0)
			o.size = (unsigned)atoi(v);
		else if (strcmp(a, "--key-len") == 0)
			o.key_len = (unsigned)atoi(v);
		else if (strcmp(a, "--keys") == 0)
			o.keys = (unsigned)atoi(v);
		else if (strcmp(a, "--pending-frames") == 0)
			o.pending = (unsigned)atoi(v);
		else if (strcmp(a, "--hcache") == 0)
			o.hcache = (unsigned)atoi(v);
		else if (strcmp(a, "--prefetch") == 0)
			o.prefetch = (unsigned)atoi(v);
		else if (strcmp(a, "--io-cpu") == 0)
			o.io_cpu = atoi(v);
		else if (strcmp(a, "--durability") == 0) {
			if (dp_durability_parse(v, &o.durability) < 0)
				return usage(argv[0]);
		} else
			return usage(argv[0]);
	}
	if (!o.dir || o.shards == 0 || o.shards > SHARDS_MAX || o.size == 0 || o.size > 1024 ||
	    o.key_len < 2 || o.key_len > 64 || o.keys == 0 || o.pending == 0 || o.pending > 16384 ||
	    o.io_cpu < -1 || o.io_cpu >= CPU_SETSIZE)
		return usage(argv[0]);

	int rc = 1;
	struct counts cnt = { 0 };
	struct dp_ingest_config cfg;
	struct dp_ingest_group *g = NULL;
	struct dp_shard_map *map = NULL;
	struct dp_ingest_shard *shards[SHARDS_MAX] = { 0 };
	struct dp_ingest_table *t = NULL;
	uint8_t *frames = calloc(NFRAMES, FRAME_CAP);
	size_t *flen = calloc(NFRAMES, sizeof(*flen));
	uint8_t *data = malloc(o.size);
	if (!frames || !flen || !data)
		goto out;
	memset(data, 'x', o.size);

	dp_ingest_config_default(&cfg);
	cfg.pending_frames = o.pending;
	cfg.await_max = o.pending * o.shards;
	/* A retry window wider than the frames in flight, with a slot for every shard a batch
	 * touches (dp_dedup.h). */
	cfg.dedup_window = 16384;
	cfg.dedup_entries = 16384 * o.shards;
	cfg.dedup_producers = 4;
	cfg.hcache_entries = o.hcache;
	if (o.io_cpu >= 0) {
		CPU_ZERO(&cfg.iowq_cpus);
		CPU_SET(o.io_cpu, &cfg.iowq_cpus);
		cfg.iowq_set = true;
	}
	cfg.ack_fn = on_ack;
	cfg.ack_arg = &cnt;
	if (dp_ingest_group_new(&cfg, &g) < 0 || dp_shard_map_even(o.shards, &map) < 0) {
		fprintf(stderr, "setup failed\n");
		goto out;
	}
	struct dp_ingest *ing = dp_ingest_worker(g, 0);
	mkdir(o.dir, 0755);
	for (unsigned i = 0; i < o.shards; i++) {
		struct dp_ingest_shard *s = calloc(1, sizeof(*s));
		if (!s)
			goto out;
		shards[i] = s;
		snprintf(s->dir, sizeof(s->dir), "%s/shard%u", o.dir, i);
		s->info = (struct dp_shard_info){ .shard_index = i, .created_ms = 1700000000000 };
		dp_log_config_default(&s->cfg);
		s->cfg.durability = o.durability;
		s->key = i;
		if (dp_ingest_shard_open(g, s) < 0)
			goto out;
		while (atomic_load(&s->state) == DP_INGEST_SHARD_OPENING)
			dp_ingest_poll(ing, 0);
		if (atomic_load(&s->state) != DP_INGEST_SHARD_OPEN) {
			fprintf(stderr, "shard %u: %s\n", i, strerror(s->err));
			goto out;
		}
	}
	struct dp_ingest_stream_def def = { .name = "bench", .name_len = 5, .map = map,
					    .shards = shards, .nshards = o.shards };
	if (dp_ingest_table_new(&def, 1, &t) < 0)
		goto out;
	dp_ingest_table_publish(g, t);

	/* The frames: records with keys key-<n> cut or padded to key_len, over `keys` keys. */
	uint64_t rng = 88172645463325252ull;
	unsigned per = 0;
	for (unsigned f = 0; f < NFRAMES; f++) {
		struct dp_frame_builder b;
		dp_frame_builder_init(&b, frames + (size_t)f * FRAME_CAP, FRAME_CAP, 7, f + 1, "bench", 5,
				      0);
		unsigned n = 0;
		for (;;) {
			char key[64];
			rng ^= rng << 13;
			rng ^= rng >> 7;
			rng ^= rng << 17;
			snprintf(key, sizeof(key), "%0*llu", (int)o.key_len,
				 (unsigned long long)(rng % o.keys));
			if (dp_frame_builder_add(&b, key, o.key_len, NULL, data, o.size) < 0)
				break;
			n++;
		}
		int len = dp_frame_builder_finish(&b);
		if (len < 0)
			goto out;
		flen[f] = (size_t)len;
		per = n;
	}

	struct dp_ingest_src src = { .addr = 1, .port = 2 };
	uint64_t batch = 1;
	double w0 = ts_sec(CLOCK_MONOTONIC), c0 = ts_sec(CLOCK_THREAD_CPUTIME_ID), w1 = w0;
	int64_t now_ms = 1;
	for (uint64_t round = 1; w1 - w0 < o.seconds; round++) {
		for (unsigned k = 0; k < BURST; k++) {
			if (dp_ingest_pending(ing) >= o.pending)
				break;
			uint8_t *fr = frames + (size_t)(batch % NFRAMES) * FRAME_CAP;
			/* As the NIC path does (dp_nic.c): the next datagram is on its way in. */
			if (o.prefetch)
				dp_ingest_prefetch(frames + (size_t)((batch + 1) % NFRAMES) * FRAME_CAP,
						   flen[(batch + 1) % NFRAMES]);
			st64le(fr + 16, batch);
			dp_ingest_frame(ing, fr, flen[batch % NFRAMES], &src, now_ms);
			batch++;
		}
		if (dp_ingest_poll(ing, now_ms) < 0)
			break;
		if ((round & 7) == 0) {
			w1 = ts_sec(CLOCK_MONOTONIC);
			now_ms = (int64_t)((w1 - w0) * 1000) + 1;
		}
	}
	for (int k = 0; dp_ingest_pending(ing) > 0 && k < 10000000; k++)
		if (dp_ingest_poll(ing, now_ms) < 0)
			break;
	{
		struct dp_ingest_stats st;
		dp_ingest_stats_get(ing, &st);
		for (unsigned i = 0; i < DP_INGEST_C__COUNT; i++)
			if (st.c[i])
				fprintf(stderr, "%s=%llu ", dp_ingest_counter_name(i),
					(unsigned long long)st.c[i]);
		fprintf(stderr, "pending=%u\n", dp_ingest_pending(ing));
	}
	w1 = ts_sec(CLOCK_MONOTONIC);
	double c1 = ts_sec(CLOCK_THREAD_CPUTIME_ID);
	if (cnt.other)
		fprintf(stderr, "%llu records acked with another status than ok\n",
			(unsigned long long)cnt.other);
	printf("{\"records\": %llu, \"records_per_frame\": %u, \"seconds\": %.3f, "
	       "\"cpu_seconds\": %.3f, \"records_per_s\": %.0f, \"cpu_ns_per_record\": %.1f, "
	       "\"durability\": \"%s\"}\n",
	       (unsigned long long)cnt.records, per, w1 - w0, c1 - c0,
	       (double)cnt.records / (w1 - w0),
	       cnt.records ? (c1 - c0) * 1e9 / (double)cnt.records : 0.0,
	       dp_durability_name(o.durability));
	rc = 0;

	dp_ingest_table_publish(g, NULL);
	for (unsigned i = 0; i < o.shards; i++) {
		if (dp_ingest_shard_close(g, shards[i]) < 0)
			continue;
		while (atomic_load(&shards[i]->state) != DP_INGEST_SHARD_CLOSED)
			dp_ingest_poll(ing, now_ms);
	}
	for (int k = 0; k < 4; k++) {
		dp_ingest_poll(ing, now_ms);
		dp_ingest_reclaim(g);
	}
out:
	/* Shards were closed; the group frees what is still retired. */
	dp_ingest_group_free(g);
	for (unsigned i = 0; i < o.shards; i++)
		free(shards[i]);
	dp_shard_map_free(map);
	free(frames);
	free(flen);
	free(data);
	return rc;
}
