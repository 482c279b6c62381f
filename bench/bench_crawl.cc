// SPDX-License-Identifier: MIT
//
// Crawl rate: cat_crawl_run (walk, sample, classify with the built-in classifiers, merge
// schemas, decide tables and partitions) over 10,000 small JSON-lines files in 100 Hive-style
// partition folders (dt=.../), against a plain walk of the same tree that reads every file
// (opendir/readdir, fstatat, open, read, close): the floor of any crawler that looks at each
// file, with the page cache warm for both.
//   BM_Crawl               one crawl per iteration (the result is built and freed)
//   BM_Baseline_WalkRead   one walk + read of every file per iteration
// items/s is files/s; bytes/s is the files' bytes per second. Benchmarks are never pass/fail
// tests.
#include <benchmark/benchmark.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

extern "C" {
#include "cat_classify.h"
// bench_crawl_run.c: cat_crawl.h's C11 atomics do not compile as C++17.
int bench_crawl_once(const char *root, const struct cat_classifiers *cl, unsigned *tables,
		     size_t *partitions);
}

namespace {

constexpr unsigned kFolders = 100;
constexpr unsigned kPerFolder = 100;

struct Tree {
	std::string root;
	uint64_t bytes = 0;
	unsigned files = 0;
	struct cat_classifiers *cl = nullptr;

	Tree()
	{
		char tmpl[] = "/tmp/bench_crawl.XXXXXX";
		if (!mkdtemp(tmpl))
			abort();
		root = tmpl;
		for (unsigned d = 0; d < kFolders; d++) {
			char dir[256];
			snprintf(dir, sizeof(dir), "%s/dt=2024-%02u-%02u", root.c_str(), 1 + d / 28,
				 1 + d % 28);
			mkdir(dir, 0755);
			for (unsigned f = 0; f < kPerFolder; f++) {
				char path[300], line[256];
				snprintf(path, sizeof(path), "%s/part-%04u.json", dir, f);
				FILE *fp = fopen(path, "w");
				if (!fp)
					abort();
				for (unsigned r = 0; r < 3; r++) {
					int n = snprintf(line, sizeof(line), "{\"id\": %u, \"user\": \"u%u\", "
							 "\"amount\": %u.%02u, \"ok\": %s, \"tags\": "
							 "[\"a\", \"b\"]}\n", d * 1000 + f * 3 + r,
							 f, r, f % 100, r ? "true" : "false");
					fwrite(line, 1, (size_t)n, fp);
					bytes += (uint64_t)n;
				}
				fclose(fp);
				files++;
			}
		}
		char err[256];
		if (cat_classifiers_new(nullptr, 0, nullptr, &cl, err, sizeof(err)) != 0)
			abort();
	}
	~Tree()
	{
		cat_classifiers_free(cl);
		std::string cmd = "rm -rf '" + root + "'";
		if (system(cmd.c_str()) != 0)
			fprintf(stderr, "bench_crawl: could not remove %s\n", root.c_str());
	}
};

Tree &tree()
{
	static Tree t;
	return t;
}

void BM_Crawl(benchmark::State &st)
{
	Tree &t = tree();
	for (auto _ : st) {
		unsigned tables = 0;
		size_t parts = 0;
		if (bench_crawl_once(t.root.c_str(), t.cl, &tables, &parts) != 0 || tables != 1 ||
		    parts != kFolders) {
			st.SkipWithError("the crawl did not find one table of 100 partitions");
			break;
		}
	}
	st.SetItemsProcessed(static_cast<int64_t>(st.iterations()) * t.files);
	st.SetBytesProcessed(static_cast<int64_t>(st.iterations() * t.bytes));
}
BENCHMARK(BM_Crawl)->Unit(benchmark::kMillisecond)->UseRealTime();

uint64_t walk_read(int dfd, char *buf, size_t cap)
{
	uint64_t got = 0;
	DIR *d = fdopendir(dfd);
	if (!d)
		return 0;
	struct dirent *e;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		struct stat sb;
		if (fstatat(dirfd(d), e->d_name, &sb, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		if (S_ISDIR(sb.st_mode)) {
			int sub = openat(dirfd(d), e->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
			if (sub >= 0)
				got += walk_read(sub, buf, cap);
			continue;
		}
		int fd = openat(dirfd(d), e->d_name, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		ssize_t n;
		while ((n = read(fd, buf, cap)) > 0)
			got += static_cast<uint64_t>(n);
		close(fd);
	}
	closedir(d);
	return got;
}

void BM_Baseline_WalkRead(benchmark::State &st)
{
	Tree &t = tree();
	std::string buf(1 << 20, '\0');
	for (auto _ : st) {
		int fd = open(t.root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		uint64_t got = walk_read(fd, buf.data(), buf.size());
		if (got != t.bytes) {
			st.SkipWithError("the walk did not read every byte");
			break;
		}
		benchmark::DoNotOptimize(got);
	}
	st.SetItemsProcessed(static_cast<int64_t>(st.iterations()) * t.files);
	st.SetBytesProcessed(static_cast<int64_t>(st.iterations() * t.bytes));
}
BENCHMARK(BM_Baseline_WalkRead)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
