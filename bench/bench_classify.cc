// SPDX-License-Identifier: MIT
//
// Benchmarks for line classification with Grok-derived patterns: one Hyperscan database over
// all patterns (cat_hsdb, as cat_classify runs it) against PCRE2-JIT trying the same patterns one
// by one in Glue's order, which is what a classifier without a multi-pattern engine does.
//   BM_Classify_Hyperscan/<patterns>  cat_hsdb_match(max = 1) per line: one scan of the database,
//                                     PCRE2 confirmation of prefilter candidates
//   BM_Baseline_PCRE2JIT/<patterns>   pcre2_match (JIT) of pattern 0, 1, ... until one matches
//   BM_HsdbCompile/<patterns>         cat_hsdb_new without a cache (PCRE2 compile + JIT included)
//   BM_HsdbLoadCache/<patterns>       cat_hsdb_new from the serialized cache of the same set
// Patterns: <patterns> Grok patterns in four shapes that custom classifiers use (syslog-style
// service lines, ISO-timestamped module logs, Apache-style access lines of one API, key=value
// events), each with its own literal tag, compiled by cat_grok. Lines: 8192 lines drawn at
// random, 90% matching one pattern (uniform over all of them) and 10% matching none; throughput
// is bytes of lines per second on one core. Benchmarks are never pass/fail tests.
#include <benchmark/benchmark.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <random>
#include <string>
#include <vector>

#include <unistd.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

extern "C" {
#include "cat_grok.h"
#include "cat_hsdb.h"
}

namespace {

constexpr size_t kLines = 8192;

std::string grok_of(unsigned i)
{
	char b[512];
	switch (i % 4) {
	case 0:
		snprintf(b, sizeof(b), "%%{SYSLOGTIMESTAMP:ts} %%{HOSTNAME:host} svc%u\\[%%{POSINT:pid}\\]: "
			 "%%{GREEDYDATA:msg}", i);
		break;
	case 1:
		snprintf(b, sizeof(b), "%%{TIMESTAMP_ISO8601:ts} %%{LOGLEVEL:level} \\[mod%u\\] "
			 "%%{GREEDYDATA:msg}", i);
		break;
	case 2:
		snprintf(b, sizeof(b), "%%{IPV4:client} - %%{USER:user} \\[%%{HTTPDATE:ts}\\] \"%%{WORD:verb} "
			 "/api%u/%%{NOTSPACE:path} HTTP/%%{NUMBER:v}\" %%{INT:status:int} %%{INT:bytes:int}", i);
		break;
	default:
		snprintf(b, sizeof(b), "evt%u id=%%{INT:id:int} user=%%{USERNAME:user} "
			 "took=%%{NUMBER:ms:double}ms ok=%%{WORD:ok}", i);
		break;
	}
	return b;
}

std::string line_of(unsigned i, std::mt19937_64 &g)
{
	char b[512];
	unsigned v = static_cast<unsigned>(g() % 100000);
	switch (i % 4) {
	case 0:
		snprintf(b, sizeof(b), "Mar %2u 04:%02u:16 web%u.example.com svc%u[%u]: request %u served in "
			 "%u ms from cache", 1 + v % 28, v % 60, v % 9, i, 1000 + v, v, v % 300);
		break;
	case 1:
		snprintf(b, sizeof(b), "2024-05-%02uT12:%02u:%02u.%03uZ INFO [mod%u] worker %u finished batch "
			 "%u with 0 errors", 1 + v % 28, v % 60, v % 59, v % 1000, i, v % 16, v);
		break;
	case 2:
		snprintf(b, sizeof(b), "10.%u.%u.%u - alice [10/Oct/2024:13:55:36 -0700] \"GET /api%u/items/%u?"
			 "page=2 HTTP/1.1\" 200 %u", v % 256, (v / 7) % 256, (v / 13) % 256, i, v, v % 5000);
		break;
	default:
		snprintf(b, sizeof(b), "evt%u id=%u user=user_%u took=%u.%02ums ok=true", i, v, v % 97,
			 v % 500, v % 100);
		break;
	}
	return b;
}

struct Corpus {
	std::vector<std::string> regex;
	std::vector<std::string> lines;
	size_t bytes = 0;
};

const Corpus &corpus(unsigned n)
{
	static std::map<unsigned, Corpus> cache;
	auto it = cache.find(n);
	if (it != cache.end())
		return it->second;
	Corpus &c = cache[n];
	for (unsigned i = 0; i < n; i++) {
		struct cat_grok *g;
		char err[256];
		if (cat_grok_compile(grok_of(i).c_str(), nullptr, &g, err, sizeof(err)) != 0) {
			fprintf(stderr, "grok %u: %s\n", i, err);
			abort();
		}
		c.regex.emplace_back(g->regex);
		cat_grok_free(g);
	}
	std::mt19937_64 gen(42);
	for (size_t k = 0; k < kLines; k++) {
		std::string l;
		if (gen() % 10 == 0)  // matches nothing: an unknown tag
			l = line_of(static_cast<unsigned>(n + gen() % 1000), gen);
		else
			l = line_of(static_cast<unsigned>(gen() % n), gen);
		c.bytes += l.size() + 1;
		c.lines.push_back(std::move(l));
	}
	return c;
}

std::vector<const char *> cstrs(const Corpus &c)
{
	std::vector<const char *> v;
	for (auto &r : c.regex)
		v.push_back(r.c_str());
	return v;
}

std::string cache_dir()
{
	static std::string dir;
	if (dir.empty()) {
		char t[] = "/tmp/bench_classify.XXXXXX";
		if (!mkdtemp(t))
			abort();
		dir = t;
	}
	return dir;
}

void BM_Classify_Hyperscan(benchmark::State &state)
{
	const Corpus &c = corpus(static_cast<unsigned>(state.range(0)));
	auto re = cstrs(c);
	struct cat_hsdb *db;
	struct cat_hsdb_scratch *s;
	char err[256];
	if (cat_hsdb_new(re.data(), static_cast<unsigned>(re.size()), cache_dir().c_str(), &db, err,
			 sizeof(err)) != 0 || cat_hsdb_scratch_new(db, &s) != 0) {
		state.SkipWithError(err);
		return;
	}
	size_t matched = 0;
	for (auto _ : state) {
		for (auto &l : c.lines) {
			unsigned id;
			matched += cat_hsdb_match(db, s, l.data(), l.size(), &id, 1) > 0;
		}
	}
	state.counters["matched_per_line"] = static_cast<double>(matched) /
					     static_cast<double>(state.iterations() * c.lines.size());
	state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * c.bytes));
	state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * c.lines.size()));
	cat_hsdb_scratch_free(s);
	cat_hsdb_free(db);
}
BENCHMARK(BM_Classify_Hyperscan)->ArgName("patterns")->Arg(10)->Arg(100)->Arg(1000)
	->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_Baseline_PCRE2JIT(benchmark::State &state)
{
	const Corpus &c = corpus(static_cast<unsigned>(state.range(0)));
	std::vector<pcre2_code *> code;
	for (auto &r : c.regex) {
		int e;
		PCRE2_SIZE off;
		pcre2_code *p = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(r.c_str()), r.size(),
					      PCRE2_DUPNAMES, &e, &off, nullptr);
		if (!p) {
			state.SkipWithError("pcre2_compile failed");
			return;
		}
		pcre2_jit_compile(p, PCRE2_JIT_COMPLETE);
		code.push_back(p);
	}
	pcre2_match_data *md = pcre2_match_data_create(64, nullptr);
	size_t matched = 0;
	for (auto _ : state) {
		for (auto &l : c.lines) {
			for (auto *p : code)
				if (pcre2_match(p, reinterpret_cast<PCRE2_SPTR>(l.data()), l.size(), 0, 0, md,
						nullptr) > 0) {
					matched++;
					break;
				}
		}
	}
	state.counters["matched_per_line"] = static_cast<double>(matched) /
					     static_cast<double>(state.iterations() * c.lines.size());
	state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * c.bytes));
	state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * c.lines.size()));
	pcre2_match_data_free(md);
	for (auto *p : code)
		pcre2_code_free(p);
}
BENCHMARK(BM_Baseline_PCRE2JIT)->ArgName("patterns")->Arg(10)->Arg(100)->Arg(1000)
	->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_HsdbCompile(benchmark::State &state)
{
	auto re = cstrs(corpus(static_cast<unsigned>(state.range(0))));
	char err[256];
	for (auto _ : state) {
		struct cat_hsdb *db;
		if (cat_hsdb_new(re.data(), static_cast<unsigned>(re.size()), nullptr, &db, err,
				 sizeof(err)) != 0) {
			state.SkipWithError(err);
			return;
		}
		struct cat_hsdb_info info;
		cat_hsdb_get_info(db, &info);
		state.counters["db_bytes"] = static_cast<double>(info.db_bytes);
		state.counters["prefilter"] = info.n_prefilter;
		cat_hsdb_free(db);
	}
}
BENCHMARK(BM_HsdbCompile)->ArgName("patterns")->Arg(100)->Arg(1000)->Iterations(1)
	->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_HsdbLoadCache(benchmark::State &state)
{
	auto re = cstrs(corpus(static_cast<unsigned>(state.range(0))));
	char err[256];
	struct cat_hsdb *db;
	// Warm the cache once (compiles when no earlier benchmark did).
	if (cat_hsdb_new(re.data(), static_cast<unsigned>(re.size()), cache_dir().c_str(), &db, err,
			 sizeof(err)) != 0) {
		state.SkipWithError(err);
		return;
	}
	cat_hsdb_free(db);
	double hs = 0;
	for (auto _ : state) {
		if (cat_hsdb_new(re.data(), static_cast<unsigned>(re.size()), cache_dir().c_str(), &db,
				 err, sizeof(err)) != 0) {
			state.SkipWithError(err);
			return;
		}
		struct cat_hsdb_info info;
		cat_hsdb_get_info(db, &info);
		if (!info.from_cache) {
			state.SkipWithError("the cache was not used");
			cat_hsdb_free(db);
			return;
		}
		hs += info.hs_s;
		cat_hsdb_free(db);
	}
	// Of the load, the Hyperscan part (read + deserialize); the rest is PCRE2 compile + JIT.
	state.counters["hs_load_ms"] = 1e3 * hs / static_cast<double>(state.iterations());
}
BENCHMARK(BM_HsdbLoadCache)->ArgName("patterns")->Arg(100)->Arg(1000)
	->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
