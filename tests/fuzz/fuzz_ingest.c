/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the ingest engine (dp_ingest): one worker with one stream "s" over two
 * shards, fed arbitrary datagrams.
 *
 * The input is a list of datagrams, each a little-endian u16 length and that many bytes (the
 * last one takes what is left); the engine is polled after each one and the clock advances by
 * 7 ms a datagram, so chunks expire. The logs run in durability mode "none", where a group is
 * acknowledged as soon as it is appended, so every frame must be complete after the poll that
 * follows it.
 *
 * Properties, each checked with abort():
 *  - dp_ingest_frame returns 1, 0 or the negation of a reason in DP_DROP_LIST;
 *  - every ack parses as an ACK, echoes a (producer, batch) and is no larger than the datagram
 *    that caused it; a frame that was taken, and asked for an ack, gets exactly one;
 *  - no frame stays pending after its poll, and the drop counters add up to the drops returned;
 *  - each datagram is also put as one record by the control-thread path (dp_ingest_put_submit:
 *    key its first 1..256 bytes, data the rest): after the poll it is handed back appended,
 *    with a sequence number the log has given out.
 * The shard logs live in a temporary directory that is emptied every few thousand records.
 */
#include <errno.h>
#include <ftw.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dp_ingest.h"

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);

#define PROPERTY(cond) do { if (!(cond)) abort(); } while (0)
#define NSH 2

static struct dp_ingest_group *g;
static struct dp_shard_map *map;
static struct dp_ingest_shard *shards[NSH];
static char dir[64];
static size_t cur_len;
static unsigned acks_now;
static uint64_t drops_returned;

static void ack_cb(void *arg, const struct dp_ingest_src *src, const uint8_t *ack, size_t len)
{
	(void)arg;
	(void)src;
	struct dp_ack a;
	PROPERTY(len <= cur_len);
	PROPERTY(dp_ack_parse(ack, len, &a) == DP_DROP_NONE);
	acks_now++;
}

static int rm_cb(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	if (ftw->level > 0)
		remove(path);
	return 0;
}

static void poll_until(bool (*done)(void))
{
	for (int k = 0; k < 100000 && !done(); k++)
		dp_ingest_poll(dp_ingest_worker(g, 0), 0);
	PROPERTY(done());
}

static bool all_open(void)
{
	for (int i = 0; i < NSH; i++)
		if (atomic_load(&shards[i]->state) != DP_INGEST_SHARD_OPEN)
			return false;
	return true;
}

static bool all_closed(void)
{
	for (int i = 0; i < NSH; i++)
		if (atomic_load(&shards[i]->state) != DP_INGEST_SHARD_CLOSED)
			return false;
	return true;
}

static unsigned generation;

static void shards_up(void)
{
	generation++;
	for (int i = 0; i < NSH; i++) {
		struct dp_ingest_shard *s = calloc(1, sizeof(*s));
		PROPERTY(s);
		snprintf(s->dir, sizeof(s->dir), "%s/%d", dir, i);
		s->info = (struct dp_shard_info){ .shard_index = (uint32_t)i, .created_ms = 1 };
		dp_log_config_default(&s->cfg);
		s->cfg.segment_bytes = 4u << 20;
		s->cfg.buffer_bytes = (1u << 20) + 4096;
		s->cfg.durability = DP_DUR_NONE;
		s->key = (uint32_t)(generation * NSH + i); /* a new log: new retry-window keys */
		shards[i] = s;
		PROPERTY(dp_ingest_shard_open(g, s) == 0);
	}
	poll_until(all_open);
	struct dp_ingest_table *t;
	struct dp_ingest_stream_def def = { .name = "s", .name_len = 1, .map = map,
					    .shards = shards, .nshards = NSH };
	PROPERTY(dp_ingest_table_new(&def, 1, &t) == 0);
	dp_ingest_table_publish(g, t);
}

static void free_shard(void *p)
{
	free(p);
}

static void shards_down(void)
{
	dp_ingest_table_publish(g, NULL);
	for (int i = 0; i < NSH; i++)
		PROPERTY(dp_ingest_shard_close(g, shards[i]) == 0);
	poll_until(all_closed);
	for (int i = 0; i < NSH; i++) {
		dp_ingest_retire(g, shards[i], free_shard);
		shards[i] = NULL;
	}
	for (int k = 0; k < 8 && dp_ingest_reclaim(g); k++)
		dp_ingest_poll(dp_ingest_worker(g, 0), 0);
	nftw(dir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

/* The logs go with the process (libFuzzer exits without returning to a caller). */
static void cleanup(void)
{
	nftw(dir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
	rmdir(dir);
}

static void setup(void)
{
	struct dp_ingest_config cfg;
	dp_ingest_config_default(&cfg);
	cfg.pending_frames = 4;
	cfg.reasm_slots = 2;
	cfg.reasm_timeout_ms = 100;
	cfg.hcache_entries = 64;
	cfg.dedup_producers = 16;
	cfg.dedup_window = 8;
	cfg.dedup_entries = 16;
	cfg.ack_fn = ack_cb;
	PROPERTY(mkdtemp(strcpy(dir, "/tmp/fuzz_ingest.XXXXXX")));
	atexit(cleanup);
	PROPERTY(dp_ingest_group_new(&cfg, &g) == 0);
	PROPERTY(dp_shard_map_even(NSH, &map) == 0);
	shards_up();
}

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	static int64_t now;
	if (!g)
		setup();
	struct dp_ingest *w = dp_ingest_worker(g, 0);
	struct dp_ingest_src src = { .addr = 1, .port = 2 };

	size_t off = 0;
	while (off + 2 <= n) {
		size_t len = (size_t)(d[off] | d[off + 1] << 8);
		off += 2;
		if (len > n - off)
			len = n - off;
		/* A copy of exactly len bytes, so the sanitizers see any read past the datagram. */
		uint8_t *p = malloc(len ? len : 1);
		PROPERTY(p);
		memcpy(p, d + off, len);
		off += len;
		cur_len = len;
		acks_now = 0;
		now += 7;
		int r = dp_ingest_frame(w, p, len, &src, now);
		PROPERTY(r == 0 || r == 1 || (r < 0 && -r < DP_DROP__COUNT));
		if (r < 0)
			drops_returned++;
		PROPERTY(dp_ingest_poll(w, now) >= 0);
		PROPERTY(dp_ingest_pending(w) == 0);
		PROPERTY(acks_now <= 1);
		if (r == 1 && !(p[6] & DP_FRAME_F_NO_ACK))
			PROPERTY(acks_now == 1);
		if (r == 0)
			PROPERTY(acks_now == 0);
		if (len) {
			uint16_t kl = (uint16_t)(1 + (p[0] + len) % (len < 256 ? len : 256));
			struct dp_record_in rec = { .key = p, .key_len = kl, .data = p + kl,
						    .data_len = (uint32_t)(len - kl) };
			uint64_t seq = UINT64_MAX;
			struct dp_ingest_shard *s = shards[p[0] % NSH];
			struct dp_ingest_put put = { .shard = s, .recs = &rec, .seq = &seq, .n = 1,
						     .ts_ms = now };
			struct dp_ingest_put *back = NULL;
			PROPERTY(dp_ingest_put_submit(g, &put) == 0);
			PROPERTY(dp_ingest_poll(w, now) >= 0);
			PROPERTY(dp_ingest_put_reap(g, &back, 1) == 1 && back == &put);
			PROPERTY(put.err == 0 && seq < dp_shard_next_seq(s->sh));
		}
		free(p);
	}

	struct dp_ingest_stats st;
	dp_ingest_stats_get(w, &st);
	uint64_t drops = 0;
	for (unsigned i = 0; i < DP_DROP__COUNT; i++)
		drops += st.drops[i];
	PROPERTY(drops == drops_returned);
	/* Keep the logs small: start over every few thousand records. */
	if (dp_shard_next_seq(shards[0]->sh) + dp_shard_next_seq(shards[1]->sh) > 4096) {
		shards_down();
		shards_up();
	}
	return 0;
}
