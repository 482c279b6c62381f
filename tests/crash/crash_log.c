/* SPDX-License-Identifier: MIT */
/*
 * Crash test for the shard log: kill -9 at random moments, then prove that every acknowledged
 * record survived intact and that sequence numbers never repeat.
 *
 * Each cycle the parent forks a child that opens the shard (durable mode) in a directory kept
 * across cycles and appends self-describing records in bursts: data = u64 cycle, u64 counter,
 * u32 CRC32C of the rest, then bytes generated from (seed, cycle, counter). For every record the
 * ack callback covers, the child writes {seq, cycle, counter, len, crc} to a pipe (one write of
 * 24 bytes, atomic on a pipe, so a kill never leaves half a message). After a random 20..300 ms
 * the parent SIGKILLs it, drains the pipe, opens the shard itself and reads the whole log:
 *  - it must open, not quarantined;
 *  - sequence numbers strictly increase in log order (so none repeats);
 *  - every record is well formed and its bytes are exactly what its identity generates;
 *  - every acked record of every cycle so far is there, with the identity that was acked;
 *  - every seq acked in this cycle is above everything the log held after the previous cycle.
 * The parent then closes the shard cleanly and the next child appends on.
 *
 * CRASH_CYCLES (default 50) and CRASH_SEED (default: from the clock) choose the run; the seed is
 * printed first so that a failure can be replayed. CRASH_KEEP=1 keeps the directory.
 * One TAP line per cycle, and a summary line with the totals.
 */
#include "dp_log.h"

#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "dp_crc32c.h"
#include "dp_test.h"

#define BUF_BYTES (1024u * 1024u + 4096u)
#define SEG_BYTES (2u * 1024u * 1024u) /* small, so that kills also land around segment rolls */
#define HDR 20u                        /* cycle, counter, crc */
#define MAX_DATA 20000u

static const struct dp_shard_info info = { .shard_index = 0, .created_ms = 1700000000000 };

struct msg {
	uint64_t seq;
	uint32_t cycle, counter, len, crc;
};
_Static_assert(sizeof(struct msg) == 24, "one pipe message is 24 bytes");

static uint64_t seed;

/* The bytes of record (cycle, counter) of length len: a pure function, parent and child agree. */
static void make_data(uint32_t cycle, uint32_t counter, uint32_t len, uint8_t *p)
{
	uint64_t s = dp_test_splitmix(seed ^ ((uint64_t)cycle << 32 | counter));
	uint64_t cy = cycle, co = counter;
	memcpy(p, &cy, 8);
	memcpy(p + 8, &co, 8);
	for (uint32_t i = HDR; i < len; i += 8) {
		uint64_t v = dp_test_splitmix(s + i);
		memcpy(p + i, &v, len - i < 8 ? len - i : 8);
	}
	uint32_t crc = dp_crc32c(0, p + HDR, len - HDR);
	memcpy(p + 16, &crc, 4);
}

static void make_key(uint32_t cycle, uint32_t counter, char key[18])
{
	snprintf(key, 18, "k%08x%08x", cycle, counter);
}

static void cfg_init(struct dp_log_config *cfg)
{
	dp_log_config_default(cfg);
	cfg->buffer_bytes = BUF_BYTES;
	cfg->segment_bytes = SEG_BYTES;
	cfg->durability = DP_DUR_DURABLE;
}

/* ---- the child ---------------------------------------------------------------------------------- */

struct pending {
	uint64_t seq;
	uint32_t counter, len, crc;
};

struct child {
	int fd;
	uint32_t cycle;
	struct pending *q;
	size_t head, tail, cap; /* FIFO in seq order */
};

static void child_ack(void *arg, struct dp_shard *sh, uint64_t ack_next)
{
	struct child *ch = arg;
	if (dp_shard_state(sh) != DP_SHARD_OPEN)
		_exit(4);
	while (ch->head < ch->tail && ch->q[ch->head % ch->cap].seq < ack_next) {
		struct pending *p = &ch->q[ch->head % ch->cap];
		struct msg m = { .seq = p->seq, .cycle = ch->cycle, .counter = p->counter,
				 .len = p->len, .crc = p->crc };
		if (write(ch->fd, &m, sizeof(m)) != sizeof(m))
			_exit(5);
		ch->head++;
	}
}

static uint64_t child_rng_state;

static uint64_t child_rng(void)
{
	child_rng_state ^= child_rng_state >> 12;
	child_rng_state ^= child_rng_state << 25;
	child_rng_state ^= child_rng_state >> 27;
	return child_rng_state * UINT64_C(2685821657736338717);
}

static void child_main(const char *dir, uint32_t cycle, int fd)
{
	struct child ch = { .fd = fd, .cycle = cycle, .cap = 1u << 16 };
	ch.q = malloc(ch.cap * sizeof(*ch.q));
	child_rng_state = dp_test_splitmix(seed + cycle) | 1;
	struct dp_committer *c;
	struct dp_shard *sh;
	struct dp_log_config cfg;
	cfg_init(&cfg);
	if (!ch.q || dp_committer_new(256, child_ack, &ch, &c) < 0 ||
	    dp_shard_open(c, dir, &info, &cfg, NULL, &sh) < 0)
		_exit(2);
	static uint8_t data[8][MAX_DATA];
	static char keys[8][18];
	struct dp_record_in in[8];
	uint32_t counter = 0;
	struct timespec t0, t;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		unsigned n = 1 + (unsigned)(child_rng() % 8);
		for (unsigned i = 0; i < n; i++) {
			uint32_t len = HDR + (uint32_t)(child_rng() % 1005);
			if (child_rng() % 100 == 0)
				len = HDR + (uint32_t)(child_rng() % (MAX_DATA - HDR + 1));
			make_data(cycle, counter + i, len, data[i]);
			make_key(cycle, counter + i, keys[i]);
			in[i] = (struct dp_record_in){ .key = keys[i], .key_len = 17, .data = data[i],
						       .data_len = len };
		}
		if (ch.tail - ch.head + n > ch.cap)
			_exit(7);
		uint64_t first;
		int r;
		while ((r = dp_shard_append(sh, in, n, 0, &first)) == -EAGAIN)
			if (dp_committer_poll(c, true) < 0)
				_exit(3);
		if (r != (int)n)
			_exit(3);
		for (unsigned i = 0; i < n; i++) {
			uint32_t crc;
			memcpy(&crc, data[i] + 16, 4);
			ch.q[ch.tail++ % ch.cap] = (struct pending){ .seq = first + i,
								     .counter = counter + i,
								     .len = in[i].data_len, .crc = crc };
		}
		counter += n;
		if (dp_committer_poll(c, child_rng() % 4 == 0) < 0)
			_exit(3);
		/* Pace the bursts so that the log grows by about a MiB a cycle, not by hundreds. */
		usleep(200 + (useconds_t)(child_rng() % 800));
		clock_gettime(CLOCK_MONOTONIC, &t);
		if (t.tv_sec - t0.tv_sec > 20)
			_exit(6); /* the parent should have killed us long ago */
	}
}

/* ---- the parent --------------------------------------------------------------------------------- */

static struct msg *acked;
static size_t nacked, acked_cap;

static int64_t now_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* Check one record read from the log: well formed, bytes as generated. */
static bool record_ok(const struct dp_record_out *o, uint32_t *cycle, uint32_t *counter,
		      uint32_t *crc)
{
	static uint8_t want[MAX_DATA];
	if (o->data_len < HDR || o->data_len > MAX_DATA || o->key_len != 17)
		return false;
	uint64_t cy, co;
	memcpy(&cy, o->data, 8);
	memcpy(&co, o->data + 8, 8);
	if (cy > UINT32_MAX || co > UINT32_MAX)
		return false;
	*cycle = (uint32_t)cy;
	*counter = (uint32_t)co;
	make_data(*cycle, *counter, o->data_len, want);
	char key[18];
	make_key(*cycle, *counter, key);
	memcpy(crc, o->data + 16, 4);
	return memcmp(o->data, want, o->data_len) == 0 && memcmp(o->key, key, 17) == 0 &&
	       dp_crc32c(0, o->data + HDR, o->data_len - HDR) == *crc;
}

struct verdict {
	uint64_t records, last_seq, torn;
	char why[320];
};

/* Open the shard, check the whole log against everything acked so far, close it. */
static bool verify(struct dp_committer *c, const char *dir, struct verdict *v)
{
	struct dp_log_config cfg;
	cfg_init(&cfg);
	struct dp_shard *sh;
	struct dp_shard_recovery rep;
	int r = dp_shard_open(c, dir, &info, &cfg, &rep, &sh);
	if (r < 0) {
		snprintf(v->why, sizeof(v->why), "dp_shard_open: %s", strerror(-r));
		return false;
	}
	v->torn = rep.torn_bytes;
	bool ok = true;
	if (rep.quarantined || dp_shard_state(sh) != DP_SHARD_OPEN) {
		snprintf(v->why, sizeof(v->why), "quarantined: %s", rep.detail);
		ok = false;
	}
	struct dp_reader *rd = NULL;
	if (ok && (r = dp_reader_new(sh, DP_POS_TRIM_HORIZON, 0, &rd)) < 0) {
		snprintf(v->why, sizeof(v->why), "dp_reader_new: %d", r);
		ok = false;
	}
	size_t ai = 0;
	uint64_t prev = 0, n = 0;
	struct dp_record_out out[256];
	while (ok && (r = dp_reader_read(rd, out, 256, 4u << 20)) > 0) {
		for (int i = 0; ok && i < r; i++, n++) {
			const struct dp_record_out *o = &out[i];
			uint32_t cy, co, crc;
			if (o->seq <= prev) {
				snprintf(v->why, sizeof(v->why), "seq %" PRIu64 " after %" PRIu64, o->seq,
					 prev);
				ok = false;
			} else if (!record_ok(o, &cy, &co, &crc)) {
				snprintf(v->why, sizeof(v->why), "record seq %" PRIu64 " is damaged",
					 o->seq);
				ok = false;
			} else if (ai < nacked && acked[ai].seq < o->seq) {
				snprintf(v->why, sizeof(v->why), "acked seq %" PRIu64 " (cycle %u) missing",
					 acked[ai].seq, acked[ai].cycle);
				ok = false;
			} else if (ai < nacked && acked[ai].seq == o->seq) {
				const struct msg *m = &acked[ai++];
				if (m->cycle != cy || m->counter != co || m->len != o->data_len ||
				    m->crc != crc) {
					snprintf(v->why, sizeof(v->why),
						 "seq %" PRIu64 " holds cycle %u record %u, acked as "
						 "cycle %u record %u", o->seq, cy, co, m->cycle,
						 m->counter);
					ok = false;
				}
			}
			prev = o->seq;
		}
	}
	if (ok && r < 0) {
		snprintf(v->why, sizeof(v->why), "dp_reader_read: %d", r);
		ok = false;
	}
	if (ok && ai < nacked) {
		snprintf(v->why, sizeof(v->why), "acked seq %" PRIu64 " (cycle %u) missing at the end",
			 acked[ai].seq, acked[ai].cycle);
		ok = false;
	}
	if (ok && rep.records != n) {
		snprintf(v->why, sizeof(v->why), "recovery counted %" PRIu64 " records, read %" PRIu64,
			 rep.records, n);
		ok = false;
	}
	dp_reader_free(rd);
	v->records = n;
	v->last_seq = prev;
	r = dp_shard_close(sh);
	if (ok && r < 0) {
		snprintf(v->why, sizeof(v->why), "dp_shard_close: %d", r);
		ok = false;
	}
	return ok;
}

/* Run one cycle; returns false with v->why set on any violation. */
static bool cycle_run(struct dp_committer *c, const char *dir, uint32_t cycle, int delay_ms,
		      uint64_t prev_last, size_t *acked_now, struct verdict *v)
{
	int pfd[2];
	if (pipe(pfd) < 0) {
		snprintf(v->why, sizeof(v->why), "pipe: %s", strerror(errno));
		return false;
	}
	fflush(stdout);
	pid_t pid = fork();
	if (pid < 0) {
		snprintf(v->why, sizeof(v->why), "fork: %s", strerror(errno));
		return false;
	}
	if (pid == 0) {
		close(pfd[0]);
		child_main(dir, cycle, pfd[1]);
	}
	close(pfd[1]);
	bool ok = true, killed = false;
	int64_t deadline = now_ms() + delay_ms;
	uint8_t buf[1 << 16];
	size_t have = 0, before = nacked;
	for (;;) {
		int64_t left = deadline - now_ms();
		if (!killed && left <= 0) {
			kill(pid, SIGKILL);
			killed = true;
		}
		struct pollfd p = { .fd = pfd[0], .events = POLLIN };
		if (poll(&p, 1, killed ? -1 : (int)left) <= 0)
			continue;
		ssize_t got = read(pfd[0], buf + have, sizeof(buf) - have);
		if (got <= 0)
			break; /* EOF: the child is gone */
		have += (size_t)got;
		size_t used = 0;
		for (; have - used >= sizeof(struct msg); used += sizeof(struct msg)) {
			struct msg m;
			memcpy(&m, buf + used, sizeof(m));
			uint64_t last = nacked ? acked[nacked - 1].seq : 0;
			if (ok && (m.seq <= last || m.seq <= prev_last || m.cycle != cycle)) {
				snprintf(v->why, sizeof(v->why),
					 "acked seq %" PRIu64 " not above %" PRIu64 " / %" PRIu64, m.seq,
					 last, prev_last);
				ok = false;
			}
			if (nacked == acked_cap) {
				acked_cap = acked_cap ? 2 * acked_cap : 1 << 16;
				acked = realloc(acked, acked_cap * sizeof(*acked));
				if (!acked)
					abort();
			}
			acked[nacked++] = m;
		}
		memmove(buf, buf + used, have - used);
		have -= used;
	}
	close(pfd[0]);
	int status;
	waitpid(pid, &status, 0);
	*acked_now = nacked - before;
	if (ok && !(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)) {
		snprintf(v->why, sizeof(v->why), "child ended by itself (status %#x)", status);
		ok = false;
	}
	if (ok && have) {
		snprintf(v->why, sizeof(v->why), "%zu bytes of a torn pipe message", have);
		ok = false;
	}
	return verify(c, dir, v) && ok;
}

int main(void)
{
	const char *e = getenv("CRASH_CYCLES");
	unsigned long cycles = e ? strtoul(e, NULL, 10) : 50;
	e = getenv("CRASH_SEED");
	seed = e ? strtoull(e, NULL, 0) : (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
	printf("# crash_log: seed %" PRIu64 ", %lu cycles (replay: CRASH_SEED=%" PRIu64
	       " CRASH_CYCLES=%lu)\n", seed, cycles, seed, cycles);
	uint64_t rs = dp_test_splitmix(seed) | 1;

	char root[] = "/tmp/crash_log.XXXXXX", dir[64];
	if (!mkdtemp(root)) {
		printf("1..0 # SKIP no temp dir\n");
		return DP_TEST_SKIP;
	}
	snprintf(dir, sizeof(dir), "%s/shard", root);
	struct dp_committer *c;
	if (dp_committer_new(64, NULL, NULL, &c) < 0) {
		printf("1..0 # SKIP no io_uring\n");
		return DP_TEST_SKIP;
	}
	int64_t t0 = now_ms();
	uint64_t total_torn = 0, prev_last = 0, last_records = 0;
	unsigned cuts = 0;
	for (uint32_t cy = 1; cy <= cycles; cy++) {
		rs ^= rs >> 12, rs ^= rs << 25, rs ^= rs >> 27;
		int delay = 20 + (int)((rs * UINT64_C(2685821657736338717)) % 281);
		struct verdict v = { 0 };
		size_t now = 0;
		dp_test_cur_failed = 0;
		bool ok = cycle_run(c, dir, cy, delay, prev_last, &now, &v);
		if (!ok) {
			dp_test_cur_failed++;
			printf("# cycle %u (kill after %d ms): %s\n", cy, delay, v.why);
		}
		total_torn += v.torn;
		cuts += v.torn > 0;
		dp_test_n++;
		dp_test_failed_total += !ok;
		printf("%s %d - cycle %u: killed after %d ms, %zu acked, %" PRIu64 " records in the log, "
		       "%" PRIu64 " torn bytes\n", ok ? "ok" : "not ok", dp_test_n, cy, delay, now,
		       v.records, v.torn);
		fflush(stdout);
		if (!ok) {
			printf("# stopping; replay with CRASH_SEED=%" PRIu64 " CRASH_CYCLES=%u\n", seed, cy);
			break;
		}
		prev_last = v.last_seq;
		last_records = v.records;
	}
	double secs = (double)(now_ms() - t0) / 1000.0;
	dp_test_n++;
	bool sum_ok = dp_test_failed_total == 0 && nacked > 0;
	dp_test_failed_total += !sum_ok;
	printf("%s %d - summary: %lu cycles, %zu acked records, %" PRIu64 " records in the log, %"
	       PRIu64 " torn bytes in %u cycles, %.1f s, seed %" PRIu64 "\n", sum_ok ? "ok" : "not ok",
	       dp_test_n, cycles, nacked, last_records, total_torn, cuts, secs, seed);
	dp_committer_free(c);
	free(acked);
	if (!getenv("CRASH_KEEP"))
		dp_test_rm_tree(root);
	else
		printf("# kept %s\n", root);
	return dp_test_done();
}
