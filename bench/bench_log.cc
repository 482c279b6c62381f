// SPDX-License-Identifier: MIT
/*
 * bench_log: what the shard log's append path costs, against a minimal io_uring group commit
 * measured in the same run. Run it through `bench/run log`, which pairs each benchmark with its
 * baseline and prints the ratio.
 *
 *   BM_LogAppendDurable/<record_bytes>  one DURABLE shard (256 MiB segments, other settings from
 *       dp_log_config_default): bursts of 32 records (1 for 64 KiB records) with a 16-byte
 *       partition key, dp_committer_poll(c, false) after each burst, a blocking poll and retry on
 *       -EAGAIN. The last iteration waits until dp_shard_ack_next() covers every record, so the
 *       measured time includes the final fdatasync.
 *   BM_Baseline_RawUring/<record_bytes>  the same bytes written sequentially into a preallocated
 *       file by one io_uring: each write linked (IOSQE_IO_LINK) to an fdatasync, one flush in
 *       flight, with the log's fsync cadence (see struct cadence).
 *   BM_LogAppendNone/100  the same loop with durability "none": the CPU cost of an append. Its
 *       rates are over the appending thread's CPU time (records/s on one core); the writes still
 *       go to the page cache, where dirty-page throttling makes wall time vary from run to run,
 *       so the wall-clock rate is only a counter (wall_records_per_second).
 *
 * Both durable sides report the same payload (data plus key bytes per record) as bytes_per_second
 * and records as items_per_second, over wall-clock time, so that their ratio is the ratio of the
 * time each takes for the same work. Data files live under $INGEST_BENCH_DIR (default
 * /var/tmp/ingest-bench-<pid>); each run's files are removed when the run ends, the directory
 * itself at exit when this program created it.
 */
#include <benchmark/benchmark.h>

#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

extern "C" {
#include "bench_dir.h"
#include "dp_log.h"
}

#define KEY_BYTES 16u                       /* partition key of every record */
#define BURST_SMALL 32u                     /* records per burst below 64 KiB (STYLE 9) */
#define BURST_LARGE_FROM 65536u             /* from this record size on, one record per burst */
#define SEGMENT_BYTES (256ull << 20)        /* large enough that few runs roll a segment */
#define COMMITTER_ENTRIES 64u               /* one shard: one write + one fdatasync in flight */
#define CALIBRATE_PAYLOAD (64ull << 20)     /* log run used when the baseline runs alone */

/* ---- data directory -------------------------------------------------------------------------- */

static struct bench_dir g_base;
static unsigned g_run_count;

/* A fresh directory (or file name) for one run under the base directory. */
static std::string bench_run_path(const char *what)
{
	return g_base.path + "/" + what + "-" + std::to_string(++g_run_count);
}

static void bench_run_remove(const std::string &path)
{
	std::error_code ec;

	std::filesystem::remove_all(path, ec);
}

/*
 * Write back whatever earlier runs left dirty (the "none" run leaves hundreds of MiB), so that
 * every timed run starts with an idle disk. Best effort: a failure only costs precision.
 */
static void bench_quiesce(void)
{
	int fd = open(g_base.path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd >= 0) {
		syncfs(fd);
		close(fd);
	}
}

/* ---- the workload: one burst of records, identical on both sides ----------------------------- */

struct burst {
	std::vector<uint8_t> data;          /* one record's data, shared by every record of the burst */
	std::vector<uint8_t> keys;          /* KEY_BYTES per record, all different */
	std::vector<struct dp_record_in> recs;
	uint64_t payload_bytes;             /* sum of data + key bytes of the burst */
};

static unsigned burst_records(uint32_t record_bytes)
{
	return record_bytes >= BURST_LARGE_FROM ? 1 : BURST_SMALL;
}

static void burst_init(struct burst *b, uint32_t record_bytes)
{
	unsigned n = burst_records(record_bytes);

	b->data.resize(record_bytes);
	for (uint32_t i = 0; i < record_bytes; i++)
		b->data[i] = (uint8_t)(i * 131u + 7u);
	b->keys.resize((size_t)n * KEY_BYTES);
	b->recs.resize(n);
	for (unsigned i = 0; i < n; i++) {
		uint8_t *key = &b->keys[(size_t)i * KEY_BYTES];

		snprintf((char *)key, KEY_BYTES, "pk-%012u", i);
		key[KEY_BYTES - 1] = 'k';
		b->recs[i].key = key;
		b->recs[i].key_len = KEY_BYTES;
		b->recs[i].data = b->data.data();
		b->recs[i].data_len = record_bytes;
	}
	b->payload_bytes = (uint64_t)n * (record_bytes + KEY_BYTES);
}

/* ---- the log side ---------------------------------------------------------------------------- */

struct log_shard {
	std::string dir;
	struct dp_committer *c;
	struct dp_shard *sh;
	int64_t ts_ms;
};

static int log_shard_open(struct log_shard *ls, enum dp_durability dur)
{
	struct dp_log_config cfg;
	struct dp_shard_info info;
	struct timespec now;
	int rc;

	dp_log_config_default(&cfg);
	cfg.segment_bytes = SEGMENT_BYTES;
	cfg.durability = dur;
	clock_gettime(CLOCK_REALTIME, &now);
	ls->ts_ms = (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;
	info.shard_index = 0;
	info.created_ms = ls->ts_ms;
	ls->dir = bench_run_path("log");
	ls->c = NULL;
	ls->sh = NULL;

	rc = dp_committer_new(COMMITTER_ENTRIES, NULL, NULL, &ls->c);
	if (rc < 0)
		return rc;
	rc = dp_shard_open(ls->c, ls->dir.c_str(), &info, &cfg, NULL, &ls->sh);
	if (rc < 0)
		goto free_committer;
	return 0;

free_committer:
	dp_committer_free(ls->c);
	ls->c = NULL;
	bench_run_remove(ls->dir);
	return rc;
}

static void log_shard_close(struct log_shard *ls)
{
	dp_shard_close(ls->sh);
	dp_committer_free(ls->c);
	bench_run_remove(ls->dir);
}

/* Append one burst, polling (blocking) while both staging buffers are busy, then poll once. */
static int log_append_burst(struct log_shard *ls, const struct burst *b)
{
	uint64_t first;
	int rc;

	while ((rc = dp_shard_append(ls->sh, b->recs.data(), (unsigned)b->recs.size(), ls->ts_ms,
				     &first)) == -EAGAIN) {
		rc = dp_committer_poll(ls->c, true);
		if (rc < 0)
			return rc;
	}
	if (rc < 0)
		return rc;
	rc = dp_committer_poll(ls->c, false);
	return rc < 0 ? rc : 0;
}

/*
 * Wait until every appended record is acked. A shard that fails, or that has staged records but
 * neither a flush in flight nor an ack after a few blocking polls, is an error of the log
 * (-EPROTO), not a reason to spin forever.
 */
static int log_drain(struct log_shard *ls)
{
	uint64_t target = dp_shard_next_seq(ls->sh);
	unsigned idle = 0;

	while (dp_shard_ack_next(ls->sh) < target) {
		uint64_t before = dp_shard_ack_next(ls->sh);
		int rc;

		if (dp_shard_state(ls->sh) != DP_SHARD_OPEN) {
			rc = dp_shard_error(ls->sh, NULL);
			return rc > 0 ? -rc : rc < 0 ? rc : -EIO;
		}
		rc = dp_committer_poll(ls->c, true);
		if (rc < 0)
			return rc;
		if (dp_shard_ack_next(ls->sh) == before && dp_committer_inflight(ls->c) == 0) {
			if (++idle > 3)
				return -EPROTO;
		} else {
			idle = 0;
		}
	}
	return 0;
}

/*
 * The fsync cadence the baseline copies, per record size: what the last BM_LogAppendDurable run
 * of that size measured. Registration order runs the log benchmark first; when a filter selects
 * the baseline alone, or random interleaving (bench/run's full runs) puts it first, it measures
 * the cadence with a short untimed log run (log_calibrate()).
 * Records per fsync rather than a fixed bytes-per-fsync parameter, because group commit sets the
 * cadence by itself (whatever was staged while the previous fdatasync ran) and the point of the
 * baseline is the same number of fdatasyncs for the same bytes.
 */
struct cadence {
	double staged_per_record;   /* bytes_staged / records: the log's bytes with its framing */
	double records_per_fsync;
};

static std::map<uint32_t, struct cadence> g_cadence;

static void cadence_record(uint32_t record_bytes, const struct dp_shard_stats *st)
{
	if (st->records == 0 || st->fsyncs == 0)
		return;
	g_cadence[record_bytes] = {
		(double)st->bytes_staged / (double)st->records,
		(double)st->records / (double)st->fsyncs,
	};
}

static int log_calibrate(uint32_t record_bytes)
{
	struct dp_shard_stats st;
	struct log_shard ls;
	struct burst b;
	uint64_t bursts;
	int rc;

	burst_init(&b, record_bytes);
	bursts = CALIBRATE_PAYLOAD / b.payload_bytes + 1;
	rc = log_shard_open(&ls, DP_DUR_DURABLE);
	if (rc < 0)
		return rc;
	for (uint64_t i = 0; i < bursts && rc == 0; i++)
		rc = log_append_burst(&ls, &b);
	if (rc == 0)
		rc = log_drain(&ls);
	if (rc == 0) {
		dp_shard_stats_get(ls.sh, &st);
		cadence_record(record_bytes, &st);
	}
	log_shard_close(&ls);
	return rc;
}

static void log_append_bench(benchmark::State &state, enum dp_durability dur)
{
	const uint32_t record_bytes = (uint32_t)state.range(0);
	benchmark::IterationCount done = 0;
	struct dp_shard_stats st;
	struct log_shard ls;
	struct burst b;
	int rc;

	burst_init(&b, record_bytes);
	rc = log_shard_open(&ls, dur);
	if (rc < 0) {
		bench_fail(state, "dp_shard_open", rc);
		return;
	}
	bench_quiesce();
	auto t0 = std::chrono::steady_clock::now();
	for (auto _ : state) {
		rc = log_append_burst(&ls, &b);
		/* The last iteration includes the wait for the final group commit. */
		if (rc == 0 && ++done == state.max_iterations)
			rc = log_drain(&ls);
		if (rc < 0) {
			bench_fail(state, "append", rc);
			break;
		}
	}
	double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
	dp_shard_stats_get(ls.sh, &st);
	log_shard_close(&ls);
	if (rc < 0)
		return;

	state.SetItemsProcessed(done * (int64_t)b.recs.size());
	state.SetBytesProcessed(done * (int64_t)b.payload_bytes);
	state.counters["fsyncs"] = (double)st.fsyncs;
	state.counters["records_per_fsync"] = st.fsyncs ? (double)st.records / (double)st.fsyncs : 0;
	state.counters["staged_bytes"] = (double)st.bytes_staged;
	state.counters["eagain"] = (double)st.eagain;
	if (dur == DP_DUR_DURABLE)
		cadence_record(record_bytes, &st);
	else
		state.counters["wall_records_per_second"] = (double)st.records / wall;
}

static void BM_LogAppendDurable(benchmark::State &state)
{
	log_append_bench(state, DP_DUR_DURABLE);
}

static void BM_LogAppendNone(benchmark::State &state)
{
	log_append_bench(state, DP_DUR_NONE);
}

/* ---- the baseline: one io_uring, write linked to fdatasync, one flush in flight -------------- */

enum { RAW_WRITE = 1, RAW_FSYNC = 2 };

struct raw_writer {
	struct io_uring ring;
	int fd;
	uint8_t *src;               /* what every write sends; content does not matter */
	const uint8_t *flight_buf;  /* the flush in flight: buffer, offset, length */
	uint64_t flight_off;
	size_t flight_len;
	unsigned inflight;          /* CQEs still expected for it */
	uint64_t fsyncs;
};

static int raw_submit(struct raw_writer *w, const uint8_t *buf, uint64_t off, size_t len)
{
	struct io_uring_sqe *sqe;
	int rc;

	sqe = io_uring_get_sqe(&w->ring);
	io_uring_prep_write(sqe, w->fd, buf, (unsigned)len, off);
	sqe->flags |= IOSQE_IO_LINK;
	io_uring_sqe_set_data64(sqe, RAW_WRITE);
	sqe = io_uring_get_sqe(&w->ring);
	io_uring_prep_fsync(sqe, w->fd, IORING_FSYNC_DATASYNC);
	io_uring_sqe_set_data64(sqe, RAW_FSYNC);
	rc = io_uring_submit(&w->ring);
	if (rc < 0)
		return rc;
	if (rc != 2)
		return -EIO;
	w->flight_buf = buf;
	w->flight_off = off;
	w->flight_len = len;
	w->inflight = 2;
	return 0;
}

/* Wait for the flush in flight; a short write is resubmitted with a new fdatasync. */
static int raw_wait(struct raw_writer *w)
{
	while (w->inflight) {
		int wres = 0, fres = 0;

		while (w->inflight) {
			struct io_uring_cqe *cqe;
			int rc = io_uring_wait_cqe(&w->ring, &cqe);

			if (rc == -EINTR)
				continue;
			if (rc < 0)
				return rc;
			if (io_uring_cqe_get_data64(cqe) == RAW_WRITE)
				wres = cqe->res;
			else
				fres = cqe->res;
			io_uring_cqe_seen(&w->ring, cqe);
			w->inflight--;
		}
		if (wres < 0)
			return wres;
		if ((size_t)wres < w->flight_len) {
			int rc = raw_submit(w, w->flight_buf + wres, w->flight_off + (uint64_t)wres,
					    w->flight_len - (size_t)wres);
			if (rc < 0)
				return rc;
			continue;
		}
		if (fres < 0)
			return fres;
		w->fsyncs++;
	}
	return 0;
}

static int raw_flush(struct raw_writer *w, uint64_t off, size_t len)
{
	int rc = raw_wait(w);

	return rc < 0 ? rc : raw_submit(w, w->src, off, len);
}

static int raw_open(struct raw_writer *w, const std::string &path, uint64_t file_bytes,
		    size_t max_flush)
{
	int rc;

	w->inflight = 0;
	w->fsyncs = 0;
	w->src = bench_page_alloc(max_flush, 0x5a);
	if (!w->src)
		return -ENOMEM;
	w->fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (w->fd < 0) {
		rc = -errno;
		goto free_src;
	}
	/* Preallocated and made durable before timing, like a log segment. */
	if (fallocate(w->fd, 0, 0, (off_t)file_bytes) < 0 || fsync(w->fd) < 0) {
		rc = -errno;
		goto close_fd;
	}
	rc = io_uring_queue_init(8, &w->ring, 0);
	if (rc < 0)
		goto close_fd;
	return 0;

close_fd:
	close(w->fd);
free_src:
	free(w->src);
	return rc;
}

static void raw_close(struct raw_writer *w)
{
	raw_wait(w);
	io_uring_queue_exit(&w->ring);
	close(w->fd);
	free(w->src);
}

static void BM_Baseline_RawUring(benchmark::State &state)
{
	const uint32_t record_bytes = (uint32_t)state.range(0);
	const unsigned n = burst_records(record_bytes);
	benchmark::IterationCount done = 0;
	struct raw_writer w;
	struct cadence cad;
	double next_flush;
	uint64_t records = 0, written = 0, total_bytes;
	std::string path;
	struct burst b;
	size_t max_flush;
	int rc;

	if (g_cadence.count(record_bytes) == 0) {
		rc = log_calibrate(record_bytes);
		if (rc < 0 || g_cadence.count(record_bytes) == 0) {
			bench_fail(state, "measuring the log's fsync cadence", rc < 0 ? rc : EPROTO);
			return;
		}
	}
	cad = g_cadence[record_bytes];
	burst_init(&b, record_bytes);
	total_bytes = (uint64_t)std::llround((double)state.max_iterations * n * cad.staged_per_record);
	/* A flush covers at most one cadence period plus one burst, rounded up. */
	max_flush = (size_t)std::ceil((cad.records_per_fsync + n) * cad.staged_per_record) + 4096;
	path = bench_run_path("raw");
	rc = raw_open(&w, path, total_bytes + max_flush, max_flush);
	if (rc < 0) {
		bench_run_remove(path);
		bench_fail(state, "raw file setup", rc);
		return;
	}
	bench_quiesce();

	next_flush = cad.records_per_fsync;
	for (auto _ : state) {
		bool last = ++done == state.max_iterations;

		records += n;
		/* Flush k covers the framed bytes of the first k * records_per_fsync records. */
		while (rc == 0 && (double)records >= next_flush) {
			uint64_t upto = (uint64_t)std::llround(next_flush * cad.staged_per_record);

			if (upto > written) {
				rc = raw_flush(&w, written, (size_t)(upto - written));
				written = upto;
			}
			next_flush += cad.records_per_fsync;
		}
		if (rc == 0 && last) {
			uint64_t upto = (uint64_t)std::llround((double)records * cad.staged_per_record);

			if (upto > written) {
				rc = raw_flush(&w, written, (size_t)(upto - written));
				written = upto;
			}
			if (rc == 0)
				rc = raw_wait(&w);
		}
		if (rc < 0) {
			bench_fail(state, "raw write/fdatasync", rc);
			break;
		}
	}
	raw_close(&w);
	bench_run_remove(path);
	if (rc < 0)
		return;

	state.SetItemsProcessed(done * (int64_t)n);
	state.SetBytesProcessed(done * (int64_t)b.payload_bytes);
	state.counters["fsyncs"] = (double)w.fsyncs;
	state.counters["records_per_fsync"] = w.fsyncs ? (double)records / (double)w.fsyncs : 0;
	state.counters["staged_bytes"] = (double)written;
}

/* Wall-clock time: the durable cases spend most of it waiting for the disk, not on the CPU. */
BENCHMARK(BM_LogAppendDurable)->Arg(100)->Arg(1024)->Arg(65536)->UseRealTime();
BENCHMARK(BM_Baseline_RawUring)->Arg(100)->Arg(1024)->Arg(65536)->UseRealTime();
/* CPU time of the appending thread: what one core sustains (see the header). */
BENCHMARK(BM_LogAppendNone)->Arg(100);

int main(int argc, char **argv)
{
	if (!bench_start(&argc, argv, "bench_log", &g_base))
		return 1;
	benchmark::RunSpecifiedBenchmarks();
	benchmark::Shutdown();
	bench_dir_fini(&g_base);
	return 0;
}
