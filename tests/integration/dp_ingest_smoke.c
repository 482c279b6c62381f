/* SPDX-License-Identifier: MIT */
/*
 * dp_ingest_smoke: the NIC path end to end outside the daemon, for
 * tests/integration/test_nic_ingest.py. Brings up the port (dp_port), the ingest engines and
 * their glue (dp_nic), the workers (dp_worker), opens the shards of one stream under
 * DATA/streams/NAME/shardId-NNNNNNNNNNNN through their owners, publishes an even routing table,
 * prints "ready" and ingests until SIGTERM, SIGINT or --seconds; then unpublishes the table,
 * closes every shard cleanly through its owner, stops the workers and prints every counter as
 * one JSON object on a line of its own. "shard N opened records R tags T clean C" lines after
 * the opens tell what recovery found.
 *
 *   dp_ingest_smoke --stream NAME --shards N --dir DATA [--netns NS] [--nic SPEC]
 *                   [--ip A.B.C.D/N] [--kernel-ip A.B.C.D[/N]] [--workers W] [--udp-port P]
 *                   [--seconds S] [--eal "ARGS"] [--pending-frames N]
 *                   [--durability durable|written|none] [--retry-window W]
 *                   [--flush-depth N]
 *   dp_ingest_smoke --dump DIR
 *
 * --pending-frames sets the frames each engine holds in flight (dp_ingest_config), so that a
 * test can make it throttle (and, when larger than the default, the groups that may await
 * their flush to match). --durability sets the shards' ack point (dp_log_config; default
 * durable): bench/run dataplane uses `none` to tell the worker core's ceiling from the disk's.
 * --retry-window sets the batches each producer's retry window spans (dp_dedup; default 32),
 * for producers that keep more batches in flight, with room for 64 producers per worker.
 * --flush-depth sets the flushes each engine keeps in flight (dp_committer_set_flush_depth).
 * As in ingestd, the engines' io_uring workers run on the CPUs no worker lcore runs on.
 * The closing JSON gives each shard's flush latency p50 / p99 / max (us) beside its counters.
 *
 * --dump needs no DPDK: it opens every shard log found under DIR (directories named
 * shardId-...) and prints each record as "shard seq key data_len head", head being the first
 * 32 data bytes with anything outside printable ASCII (and space) as '.'.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "dp_dedup.h"
#include "dp_hash.h"
#include "dp_ingest.h"
#include "dp_log.h"
#include "dp_nic.h"
#include "dp_pkt.h"
#include "dp_port.h"
#include "dp_worker.h"

/* Every shard of the test stream claims this creation time, so a restart reopens its logs. */
#define SMOKE_CREATED_MS 1700000000000LL
#define MAX_SHARDS 64

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
	(void)sig;
	stop_requested = 1;
}

static void log_line(void *arg, enum dp_port_log_level lvl, const char *msg)
{
	static const char *const names[] = { "error", "warn", "info" };

	(void)arg;
	printf("port %s: %s\n", names[lvl], msg);
	fflush(stdout);
}

static int parse_ip(const char *s, uint32_t *ip, uint8_t *prefix)
{
	char buf[32], *slash;
	struct in_addr a;

	snprintf(buf, sizeof(buf), "%s", s);
	slash = strchr(buf, '/');
	if (slash) {
		*slash = '\0';
		*prefix = (uint8_t)atoi(slash + 1);
	}
	if (inet_pton(AF_INET, buf, &a) != 1)
		return -1;
	*ip = ntohl(a.s_addr);
	return 0;
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
	nanosleep(&ts, NULL);
}

/* ---- --dump ----------------------------------------------------------------------------------- */

static int dump_shard(const char *dir, uint32_t index)
{
	struct dp_shard_info info = { .shard_index = index, .created_ms = SMOKE_CREATED_MS };
	struct dp_log_config cfg;
	struct dp_committer *c = NULL;
	struct dp_shard *sh = NULL;
	struct dp_reader *rd = NULL;
	struct dp_record_out recs[64];
	int r;

	dp_log_config_default(&cfg);
	r = dp_committer_new(16, NULL, NULL, &c);
	if (r < 0)
		goto out;
	r = dp_shard_open(c, dir, &info, &cfg, NULL, &sh);
	if (r < 0)
		goto out_committer;
	r = dp_reader_new(sh, DP_POS_TRIM_HORIZON, 0, &rd);
	if (r < 0)
		goto out_shard;
	while ((r = dp_reader_read(rd, recs, 64, 1u << 20)) > 0) {
		for (int i = 0; i < r; i++) {
			char head[33];
			unsigned h = recs[i].data_len < 32 ? recs[i].data_len : 32;
			for (unsigned k = 0; k < h; k++) {
				uint8_t b = recs[i].data[k];
				head[k] = (b > ' ' && b < 0x7f) ? (char)b : '.';
			}
			head[h] = '\0';
			printf("%u %llu %.*s %u %s\n", index, (unsigned long long)recs[i].seq,
			       (int)recs[i].key_len, (const char *)recs[i].key, recs[i].data_len, head);
		}
	}
	dp_reader_free(rd);
out_shard:
	dp_shard_close(sh);
out_committer:
	dp_committer_free(c);
out:
	if (r < 0)
		fprintf(stderr, "dump %s: %s\n", dir, strerror(-r));
	return r;
}

/* Every directory named shardId-... at or below dir, depth first. */
static int dump_tree(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int rc = 0;

	if (!d) {
		fprintf(stderr, "dump %s: %s\n", dir, strerror(errno));
		return -errno;
	}
	while ((e = readdir(d))) {
		char path[4096];
		struct stat st;
		uint32_t index;

		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode))
			continue;
		if (strncmp(e->d_name, "shardId-", 8) == 0 && dp_shard_id_parse(e->d_name, &index) == 0) {
			if (dump_shard(path, index) < 0)
				rc = -EIO;
		} else if (dump_tree(path) < 0) {
			rc = -EIO;
		}
	}
	closedir(d);
	return rc;
}

/* ---- the running path ------------------------------------------------------------------------- */

static void shard_free(void *p)
{
	free(p);
}

static void map_free(void *p)
{
	dp_shard_map_free(p);
}

/* Wait until every shard reached `want` or an end state (FAILED, CLOSED); 1 when all are `want`.
 * The state moves on the owner's thread, some steps only after the request was queued. */
static int shards_wait(struct dp_ingest_shard **s, unsigned n, int want, int timeout_ms)
{
	for (int t = 0; t < timeout_ms; t += 5) {
		unsigned settled = 0;
		for (unsigned i = 0; i < n; i++) {
			int st = atomic_load(&s[i]->state);
			settled += st == want || st == DP_INGEST_SHARD_FAILED ||
				   st == DP_INGEST_SHARD_CLOSED;
		}
		if (settled == n)
			break;
		sleep_ms(5);
	}
	for (unsigned i = 0; i < n; i++)
		if (atomic_load(&s[i]->state) != want)
			return 0;
	return 1;
}

/* A shard log's counters, read on its owner's thread (dp_ingest_call_post). */
struct shard_snap {
	struct dp_ingest_shard *s;
	struct dp_shard_stats st;
	bool have;
};

static int shard_snap_fn(void *arg)
{
	struct shard_snap *x = arg;
	if (!x->s->sh)
		return -ENOENT;
	dp_shard_stats_get(x->s->sh, &x->st);
	x->have = true;
	return 0;
}

/* Snapshot every open shard's log counters while the owners still poll. */
static void shards_snap(struct dp_ingest_group *g, struct dp_ingest_shard **s, unsigned n,
			struct shard_snap *out)
{
	for (unsigned i = 0; i < n; i++) {
		struct dp_ingest_call call = { .fn = shard_snap_fn, .arg = &out[i] };
		out[i] = (struct shard_snap){ .s = s[i] };
		if (atomic_load(&s[i]->state) != DP_INGEST_SHARD_OPEN)
			continue;
		while (dp_ingest_call_post(g, s[i]->owner, &call) == -EAGAIN)
			sleep_ms(1);
		for (int k = 0; k < 5000 && !dp_ingest_call_done(&call); k++)
			sleep_ms(1);
		if (!dp_ingest_call_done(&call))
			out[i].have = false;  /* the owner stopped polling: nothing to show */
	}
}

static void print_json(struct dp_workers *workers, struct dp_nic *nic, struct dp_ingest_shard **s,
		       unsigned nshards, const struct shard_snap *snap)
{
	struct dp_worker_stats wt = { 0 }, ws;
	struct dp_nic_stats nt = { { 0 } }, ns;
	struct dp_ingest_stats it, is;
	unsigned n = dp_nic_workers(nic);
	const char *sep = "";

	memset(&it, 0, sizeof(it));
	for (unsigned i = 0; i < n; i++) {
		dp_worker_stats_read(workers, i, &ws);
		wt.rx_pkts += ws.rx_pkts;
		wt.tx_pkts += ws.tx_pkts;
		wt.arp_replies += ws.arp_replies;
		wt.icmp_replies += ws.icmp_replies;
		wt.udp_pkts += ws.udp_pkts;
		wt.udp_bytes += ws.udp_bytes;
		for (unsigned d = 0; d < DP_PKT_DROP_COUNT; d++)
			wt.drops[d] += ws.drops[d];
		dp_nic_stats_read(nic, i, &ns);
		for (unsigned c = 0; c < DP_NIC_C__COUNT; c++)
			nt.c[c] += ns.c[c];
		dp_ingest_stats_get(dp_ingest_worker(dp_nic_group(nic), i), &is);
		for (unsigned c = 0; c < DP_INGEST_C__COUNT; c++)
			it.c[c] += is.c[c];
		for (unsigned d = 0; d < DP_DROP__COUNT; d++)
			it.drops[d] += is.drops[d];
		for (unsigned st = 0; st < DP_INGEST_STATUS_SLOTS; st++)
			it.status[st] += is.status[st];
	}
	printf("{\"workers\": %u, \"worker\": {\"rx_pkts\": %llu, \"tx_pkts\": %llu, "
	       "\"arp_replies\": %llu, \"icmp_replies\": %llu, \"udp_pkts\": %llu, "
	       "\"udp_bytes\": %llu", n, (unsigned long long)wt.rx_pkts,
	       (unsigned long long)wt.tx_pkts, (unsigned long long)wt.arp_replies,
	       (unsigned long long)wt.icmp_replies, (unsigned long long)wt.udp_pkts,
	       (unsigned long long)wt.udp_bytes);
	for (unsigned d = 1; d < DP_PKT_DROP_COUNT; d++)
		printf(", \"drop_%s\": %llu", dp_pkt_drop_name(d), (unsigned long long)wt.drops[d]);
	printf("}, \"nic\": {");
	for (unsigned c = 0; c < DP_NIC_C__COUNT; c++, sep = ", ")
		printf("%s\"%s\": %llu", sep, dp_nic_counter_name(c), (unsigned long long)nt.c[c]);
	printf("}, \"ingest\": {");
	sep = "";
	for (unsigned c = 0; c < DP_INGEST_C__COUNT; c++, sep = ", ")
		printf("%s\"%s\": %llu", sep, dp_ingest_counter_name(c), (unsigned long long)it.c[c]);
	printf("}, \"drops\": {");
	sep = "";
	for (unsigned d = 1; d < DP_DROP__COUNT; d++, sep = ", ")
		printf("%s\"%s\": %llu", sep, dp_drop_name(d), (unsigned long long)it.drops[d]);
	printf("}, \"status\": {");
	sep = "";
	for (unsigned st = 0; st < DP_INGEST_STATUS_SLOTS; st++) {
		const char *name = dp_ack_status_name(st);
		if (!it.status[st] || !name)
			continue;
		printf("%s\"%s\": %llu", sep, name, (unsigned long long)it.status[st]);
		sep = ", ";
	}
	printf("}, \"shards\": [");
	sep = "";
	for (unsigned i = 0; i < nshards; i++, sep = ", ")
	{
		printf("%s{\"index\": %u, \"state\": %d, \"err\": %d", sep, s[i]->info.shard_index,
		       atomic_load(&s[i]->state), s[i]->err);
		if (snap && snap[i].have)
			printf(", \"appends\": %llu, \"records\": %llu, \"bytes\": %llu, "
			       "\"flushes\": %llu, \"fsyncs\": %llu, \"eagain\": %llu",
			       (unsigned long long)snap[i].st.appends,
			       (unsigned long long)snap[i].st.records,
			       (unsigned long long)snap[i].st.bytes_staged,
			       (unsigned long long)snap[i].st.flushes,
			       (unsigned long long)snap[i].st.fsyncs,
			       (unsigned long long)snap[i].st.eagain);
		if (snap && snap[i].have)
			printf(", \"flush-us-p50\": %llu, \"flush-us-p99\": %llu, \"flush-us-max\": %llu",
			       (unsigned long long)dp_flush_hist_quantile(snap[i].st.flush_us_hist, 0.5),
			       (unsigned long long)dp_flush_hist_quantile(snap[i].st.flush_us_hist, 0.99),
			       (unsigned long long)dp_flush_hist_quantile(snap[i].st.flush_us_hist, 1.0));
		printf("}");
	}
	printf("]}\n");
	fflush(stdout);
}

struct opts {
	const char *stream, *dir, *dump;
	unsigned shards;
	unsigned pending;       /* 0: dp_ingest's default */
	unsigned retry_window;  /* 0: dp_dedup's default */
	unsigned flush_depth;   /* 0: dp_log's default */
	enum dp_durability durability;
	double seconds;
};

static int run(struct dp_port_config *cfg, struct dp_worker_config *wcfg, const struct opts *o)
{
	struct dp_ingest_shard *shards[MAX_SHARDS] = { 0 };
	struct dp_nic_config ncfg = { 0 };
	struct dp_port *port = NULL;
	struct dp_nic *nic = NULL;
	struct dp_workers *workers = NULL;
	struct dp_shard_map *map = NULL;
	struct dp_ingest_table *table = NULL;
	struct dp_ingest_stream_def def = { .name = o->stream, .name_len = strlen(o->stream),
					    .shards = shards, .nshards = o->shards };
	struct dp_ingest_group *g;
	char base[3072];
	struct timespec t0, now;
	struct shard_snap *snap = NULL;
	int r, rc = 1;
	unsigned opened = 0;

	snprintf(base, sizeof(base), "%s/streams", o->dir);
	if (mkdir(base, 0755) != 0 && errno != EEXIST) {
		printf("mkdir %s: %s\n", base, strerror(errno));
		return 1;
	}
	snprintf(base, sizeof(base), "%s/streams/%s", o->dir, o->stream);
	if (mkdir(base, 0755) != 0 && errno != EEXIST) {
		printf("mkdir %s: %s\n", base, strerror(errno));
		return 1;
	}

	if (o->pending > DP_PORT_TX_BACKLOG)
		cfg->tx_backlog = o->pending;  /* an ack per pending frame may wait for tx room */
	r = dp_port_start(cfg, &port);
	if (r < 0) {
		printf("dp_port_start failed: %s\n", strerror(-r));
		return 1;
	}
	ncfg.port = port;
	dp_ingest_config_default(&ncfg.ingest);
	/* A worker's retry window holds one entry per (batch, shard) group of a producer: room for
	 * a whole window of batches that each touch every shard the worker owns, or a resent
	 * batch (throttled, ack lost) would find its producer's floor above it and be refused as
	 * stale. */
	{
		unsigned w = cfg->workers ? cfg->workers : 1;
		unsigned win = o->retry_window ? o->retry_window : DP_DEDUP_WINDOW_DEFAULT;
		unsigned entries = win * ((o->shards + w - 1) / w);
		ncfg.ingest.dedup_entries =
			entries > DP_DEDUP_ENTRIES_MAX ? DP_DEDUP_ENTRIES_MAX : entries;
		if (o->retry_window) {
			ncfg.ingest.dedup_window = o->retry_window;
			ncfg.ingest.dedup_producers = 64;
		}
	}
	ncfg.ingest.flush_depth = o->flush_depth;
	ncfg.ingest.iowq_set = dp_port_io_cpus(port, &ncfg.ingest.iowq_cpus) > 0; /* as ingestd */
	if (o->pending) {
		ncfg.ingest.pending_frames = o->pending;
		/* Room for every group of every pending frame to await its flush (a frame has a
		 * group per shard it touches), or the engine throttles before its frames run out. */
		if (o->pending * o->shards > ncfg.ingest.await_max)
			ncfg.ingest.await_max = o->pending * o->shards;
	}
	r = dp_nic_new(&ncfg, &nic);
	if (r < 0) {
		printf("dp_nic_new failed: %s\n", strerror(-r));
		goto out_port;
	}
	g = dp_nic_group(nic);
	wcfg->port = port;
	dp_nic_worker_config(nic, wcfg);
	r = dp_workers_start(wcfg, &workers);
	if (r < 0) {
		printf("dp_workers_start failed: %s\n", strerror(-r));
		goto out_nic;
	}

	r = dp_shard_map_even(o->shards, &map);
	if (r < 0) {
		printf("dp_shard_map_even failed: %s\n", strerror(-r));
		goto out_workers;
	}
	for (unsigned i = 0; i < o->shards; i++) {
		struct dp_ingest_shard *s = calloc(1, sizeof(*s));
		char id[DP_SHARD_ID_LEN + 1];
		if (!s)
			goto out_shards;
		shards[i] = s;
		dp_shard_id_format(i, id);
		if (strlen(base) > 200) {
			printf("--dir and --stream make a path too long for a shard\n");
			goto out_shards;
		}
		snprintf(s->dir, sizeof(s->dir), "%.200s/%s", base, id);
		s->info = (struct dp_shard_info){ .shard_index = i, .created_ms = SMOKE_CREATED_MS };
		dp_log_config_default(&s->cfg);
		s->cfg.durability = o->durability;
		s->key = i;
		s->owner = (uint16_t)(i % dp_nic_workers(nic));
		while ((r = dp_ingest_shard_open(g, s)) == -EAGAIN)
			sleep_ms(1);
		if (r < 0) {
			printf("dp_ingest_shard_open %s: %s\n", s->dir, strerror(-r));
			goto out_shards;
		}
		opened++;
	}
	if (!shards_wait(shards, opened, DP_INGEST_SHARD_OPEN, 30000)) {
		for (unsigned i = 0; i < opened; i++)
			printf("shard %u state %d err %s\n", i, atomic_load(&shards[i]->state),
			       strerror(shards[i]->err));
		goto out_shards;
	}
	for (unsigned i = 0; i < opened; i++)
		printf("shard %u opened records %llu batches %llu clean %d\n", i,
		       (unsigned long long)shards[i]->rep.records,
		       (unsigned long long)shards[i]->rep.batches, shards[i]->rep.clean);
	def.map = map;
	r = dp_ingest_table_new(&def, 1, &table);
	if (r < 0) {
		printf("dp_ingest_table_new failed: %s\n", strerror(-r));
		goto out_shards;
	}
	dp_ingest_table_publish(g, table);
	printf("ready\n");
	fflush(stdout);

	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (!stop_requested) {
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (o->seconds > 0 &&
		    (double)(now.tv_sec - t0.tv_sec) + (now.tv_nsec - t0.tv_nsec) / 1e9 > o->seconds)
			break;
		dp_ingest_reclaim(g);
		sleep_ms(20);
	}
	rc = 0;
	snap = calloc(opened ? opened : 1, sizeof(*snap));
	if (snap)
		shards_snap(g, shards, opened, snap);

	/* Unpublish, then close through the owners while they still poll. */
	dp_ingest_table_publish(g, NULL);
out_shards:
	for (unsigned i = 0; i < opened; i++) {
		if (atomic_load(&shards[i]->state) != DP_INGEST_SHARD_OPEN)
			continue;
		while ((r = dp_ingest_shard_close(g, shards[i])) == -EAGAIN)
			sleep_ms(1);
	}
	if (!shards_wait(shards, opened, DP_INGEST_SHARD_CLOSED, 30000))
		rc = 1;
	for (unsigned i = 0; i < opened; i++)
		if (atomic_load(&shards[i]->state) == DP_INGEST_SHARD_CLOSED && shards[i]->err != 0) {
			printf("shard %u close: %s\n", i, strerror(-shards[i]->err));
			rc = 1;
		}
	for (int k = 0; k < 100 && dp_ingest_reclaim(g) > 0; k++)
		sleep_ms(5);
out_workers:
	dp_workers_stop(workers);
	print_json(workers, nic, shards, opened, snap);
	free(snap);
	/* The group frees what is still retired; shards not closed are leaked on purpose (their
	 * owner has stopped). */
	for (unsigned i = 0; i < o->shards; i++)
		if (shards[i] && (i >= opened || atomic_load(&shards[i]->state) == DP_INGEST_SHARD_CLOSED))
			dp_ingest_retire(g, shards[i], shard_free);
	if (map)
		dp_ingest_retire(g, map, map_free);
	dp_workers_free(workers);
out_nic:
	dp_nic_free(nic);
out_port:
	dp_port_stop(port);
	printf("stopped\n");
	fflush(stdout);
	return rc;
}

int main(int argc, char **argv)
{
	struct dp_port_config cfg = { .log = log_line };
	struct dp_worker_config wcfg = { 0 };
	struct opts o = { .shards = 4 };

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!v)
			goto usage;
		i++;
		if (strcmp(a, "--netns") == 0)
			cfg.netns = v;
		else if (strcmp(a, "--nic") == 0 && cfg.n_nics < DP_PORT_MAX_NICS)
			cfg.nics[cfg.n_nics++] = v;
		else if (strcmp(a, "--ip") == 0 && parse_ip(v, &cfg.ip, &cfg.prefix) == 0)
			;
		else if (strcmp(a, "--kernel-ip") == 0 &&
			 parse_ip(v, &cfg.kernel_ip, &cfg.kernel_prefix) == 0)
			;
		else if (strcmp(a, "--workers") == 0)
			cfg.workers = (unsigned)atoi(v);
		else if (strcmp(a, "--udp-port") == 0)
			wcfg.udp_port = (uint16_t)atoi(v);
		else if (strcmp(a, "--seconds") == 0)
			o.seconds = atof(v);
		else if (strcmp(a, "--eal") == 0)
			cfg.eal_args = v;
		else if (strcmp(a, "--stream") == 0)
			o.stream = v;
		else if (strcmp(a, "--shards") == 0)
			o.shards = (unsigned)atoi(v);
		else if (strcmp(a, "--dir") == 0)
			o.dir = v;
		else if (strcmp(a, "--pending-frames") == 0)
			o.pending = (unsigned)atoi(v);
		else if (strcmp(a, "--dump") == 0)
			o.dump = v;
		else if (strcmp(a, "--durability") == 0 && dp_durability_parse(v, &o.durability) == 0)
			;
		else if (strcmp(a, "--retry-window") == 0)
			o.retry_window = (unsigned)atoi(v);
		else if (strcmp(a, "--flush-depth") == 0)
			o.flush_depth = (unsigned)atoi(v);
		else
			goto usage;
	}
	if (o.dump)
		return dump_tree(o.dump) < 0 ? 1 : 0;
	if (!o.stream || !o.dir || o.shards == 0 || o.shards > MAX_SHARDS)
		goto usage;
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	return run(&cfg, &wcfg, &o);

usage:
	fprintf(stderr, "usage: %s --stream NAME --shards N --dir DATA [--netns NS] [--nic SPEC] "
		"[--ip A.B.C.D/N] [--kernel-ip A.B.C.D[/N]] [--workers W] [--udp-port P] "
		"[--seconds S] [--eal ARGS] [--pending-frames N] "
		"[--durability durable|written|none] [--retry-window W] [--flush-depth N]\n       %s --dump DIR\n", argv[0], argv[0]);
	return 2;
}
