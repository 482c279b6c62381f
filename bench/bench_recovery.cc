// SPDX-License-Identifier: MIT
/*
 * bench_recovery: how fast dp_shard_open() recovers a shard log, against plain read() of the
 * same files, both from a warm page cache. Run it through `bench/run recovery`.
 *
 *   BM_LogRecoveryScan  time dp_shard_open() on a ~256 MiB log of 1 KiB records (written once
 *       per process with durability "none" and closed). Recovery verifies the CRC of every batch
 *       and rebuilds the indexes; bytes_per_second is dp_shard_recovery.bytes_scanned over the
 *       time of the open alone (manual time: the close that follows is not counted).
 *   BM_Baseline_ReadFiles  read() the segment files in order into one buffer until as many
 *       bytes were read as recovery scanned.
 *
 * Both read every file once before timing, so both measure memory bandwidth plus their own
 * work, not the disk. Data files live under $INGEST_BENCH_DIR (default
 * /var/tmp/ingest-bench-<pid>) and are removed at exit.
 */
#include <benchmark/benchmark.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

extern "C" {
#include "bench_dir.h"
#include "dp_log.h"
}

#define LOG_BYTES (256ull << 20)    /* large enough that the scan takes ~100 ms, not cache-sized */
#define RECORD_BYTES 1024u
#define KEY_BYTES 16u
#define BURST 32u                   /* records per append (STYLE 9) */
#define READ_CHUNK (1u << 20)       /* read() size of the baseline: a typical streaming buffer */
#define COMMITTER_ENTRIES 64u

/* ---- data directory -------------------------------------------------------------------------- */

static struct bench_dir g_base;

/* ---- the log under test, built once per process ---------------------------------------------- */

struct recovery_log {
	std::string dir;
	struct dp_log_config cfg;
	struct dp_shard_info info;
	std::vector<std::string> files;   /* segment files, in log order */
	uint64_t bytes_scanned;           /* what a warm open scanned */
	int err;                          /* < 0: building it failed */
	bool built;
};

static struct recovery_log g_rlog;

static int rlog_write(struct recovery_log *rl)
{
	std::vector<uint8_t> data(RECORD_BYTES), keys(BURST * KEY_BYTES);
	struct dp_record_in recs[BURST];
	struct dp_committer *c = NULL;
	struct dp_shard_stats st;
	struct dp_shard *sh = NULL;
	int rc, rc_close;

	for (unsigned i = 0; i < RECORD_BYTES; i++)
		data[i] = (uint8_t)(i * 131u + 7u);
	for (unsigned i = 0; i < BURST; i++) {
		uint8_t *key = &keys[i * KEY_BYTES];

		snprintf((char *)key, KEY_BYTES, "pk-%012u", i);
		key[KEY_BYTES - 1] = 'k';
		recs[i] = {key, data.data(), RECORD_BYTES, KEY_BYTES};
	}

	rc = dp_committer_new(COMMITTER_ENTRIES, NULL, NULL, &c);
	if (rc < 0)
		return rc;
	rc = dp_shard_open(c, rl->dir.c_str(), &rl->info, &rl->cfg, NULL, &sh);
	if (rc < 0)
		goto free_committer;
	do {
		uint64_t first;

		while ((rc = dp_shard_append(sh, recs, BURST, rl->info.created_ms, &first)) == -EAGAIN) {
			rc = dp_committer_poll(c, true);
			if (rc < 0)
				break;
		}
		if (rc >= 0)
			rc = dp_committer_poll(c, false);
		dp_shard_stats_get(sh, &st);
	} while (rc >= 0 && st.bytes_staged < LOG_BYTES);
	rc_close = dp_shard_close(sh);
	if (rc >= 0)
		rc = rc_close;
free_committer:
	dp_committer_free(c);
	return rc < 0 ? rc : 0;
}

/* Open and close the shard once; returns what recovery reported. */
static int rlog_open_close(const struct recovery_log *rl, struct dp_committer *c,
			   struct dp_shard_recovery *rep, double *open_seconds)
{
	struct dp_shard *sh;
	int rc;

	auto t0 = std::chrono::steady_clock::now();
	rc = dp_shard_open(c, rl->dir.c_str(), &rl->info, &rl->cfg, rep, &sh);
	auto t1 = std::chrono::steady_clock::now();
	if (rc < 0)
		return rc;
	if (open_seconds)
		*open_seconds = std::chrono::duration<double>(t1 - t0).count();
	if (rep->quarantined || dp_shard_state(sh) != DP_SHARD_OPEN) {
		dp_shard_close(sh);
		return -EBADMSG;
	}
	return dp_shard_close(sh);
}

/* Read the files in order until `limit` bytes were read; returns the count or a negative errno. */
static int64_t read_files(const std::vector<std::string> &files, uint64_t limit, uint8_t *buf)
{
	uint64_t total = 0;

	for (const std::string &f : files) {
		int fd = open(f.c_str(), O_RDONLY | O_CLOEXEC);

		if (fd < 0)
			return -errno;
		while (total < limit) {
			size_t want = (size_t)std::min<uint64_t>(READ_CHUNK, limit - total);
			ssize_t got = read(fd, buf, want);

			if (got < 0 && errno == EINTR)
				continue;
			if (got < 0) {
				int err = -errno;

				close(fd);
				return err;
			}
			if (got == 0)
				break;
			total += (uint64_t)got;
		}
		close(fd);
		if (total >= limit)
			break;
	}
	return (int64_t)total;
}

/* Build the log (once), warm the page cache for both benchmarks and measure what recovery scans. */
static int rlog_get(const struct recovery_log **ret)
{
	struct recovery_log *rl = &g_rlog;
	struct dp_shard_recovery rep;
	struct dp_committer *c;
	std::error_code ec;
	uint8_t *buf;
	int64_t n;
	int fd;

	if (rl->built) {
		*ret = rl;
		return rl->err;
	}
	rl->built = true;
	rl->dir = g_base.path + "/recovery-log";
	std::filesystem::remove_all(rl->dir, ec);
	dp_log_config_default(&rl->cfg);
	rl->cfg.durability = DP_DUR_NONE;
	rl->info.shard_index = 0;
	rl->info.created_ms = (int64_t)time(NULL) * 1000;

	rl->err = rlog_write(rl);
	if (rl->err < 0)
		goto out;
	/* Finish the writeback now, not during a timed scan. */
	fd = open(rl->dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		syncfs(fd);
		close(fd);
	}
	rl->err = dp_committer_new(COMMITTER_ENTRIES, NULL, NULL, &c);
	if (rl->err < 0)
		goto out;
	rl->err = rlog_open_close(rl, c, &rep, NULL);
	dp_committer_free(c);
	if (rl->err < 0)
		goto out;
	rl->bytes_scanned = rep.bytes_scanned;

	for (const auto &e : std::filesystem::directory_iterator(rl->dir, ec))
		if (e.path().extension() == ".log")
			rl->files.push_back(e.path().string());
	/* Names are the zero-padded base sequence number: name order is log order. */
	std::sort(rl->files.begin(), rl->files.end());
	buf = bench_page_alloc(READ_CHUNK, 0);
	n = buf ? read_files(rl->files, UINT64_MAX, buf) : -ENOMEM;
	free(buf);
	if (n < 0)
		rl->err = (int)n;
	else if (rl->files.empty() || rl->bytes_scanned == 0)
		rl->err = -ENODATA;
out:
	*ret = rl;
	return rl->err;
}

/* ---- benchmarks ------------------------------------------------------------------------------ */

static void BM_LogRecoveryScan(benchmark::State &state)
{
	const struct recovery_log *rl;
	struct dp_shard_recovery rep = {};
	struct dp_committer *c;
	uint64_t scanned = 0;
	int rc;

	rc = rlog_get(&rl);
	if (rc < 0) {
		bench_fail(state, "building the log", rc);
		return;
	}
	rc = dp_committer_new(COMMITTER_ENTRIES, NULL, NULL, &c);
	if (rc < 0) {
		bench_fail(state, "dp_committer_new", rc);
		return;
	}
	for (auto _ : state) {
		double seconds = 0;

		rc = rlog_open_close(rl, c, &rep, &seconds);
		if (rc < 0) {
			bench_fail(state, "dp_shard_open", rc);
			break;
		}
		state.SetIterationTime(seconds);
		scanned += rep.bytes_scanned;
	}
	dp_committer_free(c);
	if (rc < 0)
		return;
	state.SetBytesProcessed((int64_t)scanned);
	state.counters["segments"] = rep.segments;
	state.counters["batches"] = (double)rep.batches;
	state.counters["records"] = (double)rep.records;
	state.counters["bytes_scanned"] = (double)rep.bytes_scanned;
	state.counters["clean"] = rep.clean;
}

static void BM_Baseline_ReadFiles(benchmark::State &state)
{
	const struct recovery_log *rl;
	uint64_t total = 0;
	int64_t n = 0;
	uint8_t *buf;
	int rc;

	rc = rlog_get(&rl);
	if (rc < 0) {
		bench_fail(state, "building the log", rc);
		return;
	}
	buf = bench_page_alloc(READ_CHUNK, 0);
	if (!buf) {
		bench_fail(state, "buffer", -ENOMEM);
		return;
	}
	for (auto _ : state) {
		auto t0 = std::chrono::steady_clock::now();
		n = read_files(rl->files, rl->bytes_scanned, buf);
		auto t1 = std::chrono::steady_clock::now();

		if (n < 0) {
			bench_fail(state, "read", (int)n);
			break;
		}
		benchmark::DoNotOptimize(buf);
		state.SetIterationTime(std::chrono::duration<double>(t1 - t0).count());
		total += (uint64_t)n;
	}
	free(buf);
	if (n < 0)
		return;
	state.SetBytesProcessed((int64_t)total);
	state.counters["files"] = (double)rl->files.size();
}

/* Each iteration scans the whole log (~0.1 s or more): a few are enough and bound the time. */
BENCHMARK(BM_LogRecoveryScan)->Iterations(5)->UseManualTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Baseline_ReadFiles)->Iterations(5)->UseManualTime()->Unit(benchmark::kMillisecond);

int main(int argc, char **argv)
{
	std::error_code ec;

	if (!bench_start(&argc, argv, "bench_recovery", &g_base))
		return 1;
	benchmark::RunSpecifiedBenchmarks();
	benchmark::Shutdown();
	if (g_rlog.built)
		std::filesystem::remove_all(g_rlog.dir, ec);
	bench_dir_fini(&g_base);
	return 0;
}
