// SPDX-License-Identifier: MIT
/*
 * bench_dir: what the shard log suites (bench_log, bench_recovery) share: the data directory
 * their files live in, page-aligned buffers for the baselines, and how a run stops on an error.
 * Header-only: each suite is an executable of one file (bench/meson.build). Single-threaded, as
 * the suites' setup and teardown are.
 */
#ifndef BENCH_DIR_H
#define BENCH_DIR_H

#include <benchmark/benchmark.h>

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <string>

/* $INGEST_BENCH_DIR, or /var/tmp/ingest-bench-<pid>. */
struct bench_dir {
	std::string path;
	bool created;  /* by this process: bench_dir_fini removes it */
};

/* Name the directory and create it unless it exists: 0 or -errno. */
static inline int bench_dir_init(struct bench_dir *d)
{
	const char *env = getenv("INGEST_BENCH_DIR");

	d->path = env && *env ? env : "/var/tmp/ingest-bench-" + std::to_string(getpid());
	if (mkdir(d->path.c_str(), 0700) == 0)
		d->created = true;
	else if (errno != EEXIST)
		return -errno;
	return 0;
}

/*
 * The start of a suite's main: Google Benchmark's flags, then the data directory. false (after
 * saying why) when the program cannot go on and exits with 1.
 */
static inline bool bench_start(int *argc, char **argv, const char *prog, struct bench_dir *d)
{
	int rc;

	benchmark::Initialize(argc, argv);
	if (benchmark::ReportUnrecognizedArguments(*argc, argv))
		return false;
	rc = bench_dir_init(d);
	if (rc < 0) {
		fprintf(stderr, "%s: cannot create %s: %s (set INGEST_BENCH_DIR)\n", prog,
			d->path.c_str(), strerror(-rc));
		return false;
	}
	return true;
}

/* Remove the directory with what is left in it, when this process created it. */
static inline void bench_dir_fini(const struct bench_dir *d)
{
	std::error_code ec;

	if (d->created)
		std::filesystem::remove_all(d->path, ec);
}

/*
 * Page-aligned memory of at least len bytes, every byte fill, for what a baseline hands to the
 * kernel; free() it. Alignment is part of a fair baseline: the log's staging buffers are
 * page-aligned, and the kernel's copy is much slower from or into some misaligned buffers (on an
 * AMD EPYC VM, read() into glibc's 1 MiB malloc block, 16 bytes past a page, ran at 1.5 GB/s;
 * into a page-aligned block at 8.5 GB/s).
 */
static inline uint8_t *bench_page_alloc(size_t len, int fill)
{
	size_t cap = (len + 4095) & ~(size_t)4095;
	uint8_t *p = (uint8_t *)aligned_alloc(4096, cap ? cap : 4096);

	if (p)
		memset(p, fill, cap);
	return p;
}

/* Stop the benchmark with "<op>: <errno text>" (the run is reported as an error). */
static inline void bench_fail(benchmark::State &state, const char *op, int err)
{
	std::string msg = std::string(op) + ": " + strerror(err < 0 ? -err : err);

	state.SkipWithError(msg.c_str());
}

#endif
