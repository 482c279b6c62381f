// SPDX-License-Identifier: MIT
//
// Benchmarks for partition-key routing and sequence number rendering, the two per-record costs
// of dp_hash and dp_seqno on the ingest and ack paths. Each is paired with a baseline in the
// same binary, so that numbers from one run on one machine compare directly:
//   BM_HashRoute/<keylen>/<shards>   dp_hasher_md5 + dp_shard_map_lookup per record
//   BM_HasherMD5/<keylen>            dp_hasher_md5 alone (what the routing adds on top)
//   BM_Baseline_EVPDigest/<keylen>   OpenSSL one-shot EVP_Digest(..., EVP_md5(), NULL)
//   BM_SeqnoFormat                   dp_seqno_format, 56 digits
//   BM_Baseline_Snprintf_u64         snprintf("%" PRIu64) of the 64-bit counter
// Keys cycle through 1024 distinct random printable keys so the lookups do not all hit one
// shard. Benchmarks are never pass/fail tests.
#include <benchmark/benchmark.h>

#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include <openssl/evp.h>

extern "C" {
#include "dp_hash.h"
#include "dp_seqno.h"
}

namespace {

constexpr size_t kKeys = 1024;  // power of two: the index wraps with a mask

std::vector<std::string> make_keys(size_t len)
{
	static const char alphabet[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	std::mt19937_64 gen(42);
	std::vector<std::string> keys(kKeys);

	for (auto &k : keys) {
		k.resize(len);
		for (auto &c : k)
			c = alphabet[gen() % (sizeof(alphabet) - 1)];
	}
	return keys;
}

void BM_HashRoute(benchmark::State &state)
{
	const auto keys = make_keys(static_cast<size_t>(state.range(0)));
	struct dp_hasher *h = nullptr;
	struct dp_shard_map *m = nullptr;
	size_t i = 0;

	if (dp_hasher_new(&h) != 0 || dp_shard_map_even(static_cast<uint32_t>(state.range(1)), &m) != 0) {
		state.SkipWithError("dp_hasher_new or dp_shard_map_even failed");
		return;
	}
	for (auto _ : state) {
		const std::string &k = keys[i++ & (kKeys - 1)];
		dp_u128 v;

		if (dp_hasher_md5(h, k.data(), k.size(), &v) != 0) {
			state.SkipWithError("dp_hasher_md5 failed");
			break;
		}
		int shard = dp_shard_map_lookup(m, v);
		benchmark::DoNotOptimize(shard);
	}
	state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
	dp_shard_map_free(m);
	dp_hasher_free(h);
}
BENCHMARK(BM_HashRoute)->ArgNames({"keylen", "shards"})
	->Args({16, 4})->Args({16, 1024})->Args({64, 4})->Args({64, 1024});

void BM_HasherMD5(benchmark::State &state)
{
	const auto keys = make_keys(static_cast<size_t>(state.range(0)));
	struct dp_hasher *h = nullptr;
	size_t i = 0;

	if (dp_hasher_new(&h) != 0) {
		state.SkipWithError("dp_hasher_new failed");
		return;
	}
	for (auto _ : state) {
		const std::string &k = keys[i++ & (kKeys - 1)];
		dp_u128 v;

		benchmark::DoNotOptimize(dp_hasher_md5(h, k.data(), k.size(), &v));
		benchmark::DoNotOptimize(v);
	}
	state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
	dp_hasher_free(h);
}
BENCHMARK(BM_HasherMD5)->ArgName("keylen")->Arg(16)->Arg(64);

void BM_Baseline_EVPDigest(benchmark::State &state)
{
	const auto keys = make_keys(static_cast<size_t>(state.range(0)));
	size_t i = 0;

	for (auto _ : state) {
		const std::string &k = keys[i++ & (kKeys - 1)];
		unsigned char md[EVP_MAX_MD_SIZE];
		unsigned int mdlen = 0;

		if (!EVP_Digest(k.data(), k.size(), md, &mdlen, EVP_md5(), nullptr)) {
			state.SkipWithError("EVP_Digest failed");
			break;
		}
		benchmark::DoNotOptimize(md);
		benchmark::DoNotOptimize(mdlen);
	}
	state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}
BENCHMARK(BM_Baseline_EVPDigest)->ArgName("keylen")->Arg(16)->Arg(64);

void BM_SeqnoFormat(benchmark::State &state)
{
	// A realistic shard: created in 2019, index 3, counter in the millions, arrival ticking.
	struct dp_seqno s = {1549093360, 3, 12345678, 1549093360};
	char buf[DP_SEQNO_LEN + 1];

	for (auto _ : state) {
		s.counter++;
		s.arrival_s += (s.counter & 1023) == 0;
		benchmark::DoNotOptimize(dp_seqno_format(&s, buf));
		benchmark::DoNotOptimize(buf);
	}
	state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}
BENCHMARK(BM_SeqnoFormat);

void BM_Baseline_Snprintf_u64(benchmark::State &state)
{
	uint64_t counter = 12345678;
	char buf[32];

	for (auto _ : state) {
		counter++;
		benchmark::DoNotOptimize(std::snprintf(buf, sizeof(buf), "%" PRIu64, counter));
		benchmark::DoNotOptimize(buf);
	}
	state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}
BENCHMARK(BM_Baseline_Snprintf_u64);

}  // namespace

BENCHMARK_MAIN();
