// SPDX-License-Identifier: MIT
//
// Benchmarks for partition-key routing and sequence number rendering, the two per-record costs
// of dp_hash and dp_seqno on the ingest and ack paths. Each is paired with a baseline in the
// same binary, so that numbers from one run on one machine compare directly:
//   BM_HashRoute/<keylen>/<shards>   dp_hasher_md5 + dp_shard_map_lookup per record
//   BM_HasherMD5/<keylen>            dp_hasher_md5 alone (what the routing adds on top)
//   BM_Baseline_EVPDigest/<keylen>   OpenSSL one-shot EVP_Digest(..., EVP_md5(), NULL)
//   BM_Md5x_<impl>/<keylen>/<burst>  dp_md5x_hashkeys of bursts of keys, per key; impl is scalar,
//                                    avx2, avx512 (those this CPU has); paired with BM_HasherMD5
//   BM_HashCache/<keylen>/<keys>     dp_hcache_hashkeys of bursts of 32 keys drawn at random from a
//                                    working set of <keys> keys, cache of 4096 entries, per key;
//                                    paired with BM_HashNoCache: dp_md5x_hashkeys of the same draws
//   BM_SeqnoFormat                   dp_seqno_format, 56 digits
//   BM_Baseline_Snprintf_u64         snprintf("%" PRIu64) of the 64-bit counter
// Keys cycle through 1024 distinct random printable keys so the lookups do not all hit one
// shard. keylen:0 means mixed lengths, 1..256 bytes at random. Benchmarks are never pass/fail tests.
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
#include "dp_hcache.h"
#include "dp_md5x.h"
#include "dp_seqno.h"
}

namespace {

constexpr size_t kKeys = 1024;  // power of two: the index wraps with a mask

std::vector<std::string> make_keys(size_t len, size_t count = kKeys, uint64_t seed = 42)
{
	static const char alphabet[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	std::mt19937_64 gen(seed);
	std::vector<std::string> keys(count);

	for (auto &k : keys) {
		k.resize(len ? len : 1 + gen() % 256);
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
BENCHMARK(BM_HasherMD5)->ArgName("keylen")->Arg(16)->Arg(64)->Arg(0);

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

// Bursts walk the 1024 keys in order, so every burst hashes different keys.
void BM_Md5x(benchmark::State &state, const char *impl)
{
	const auto keys = make_keys(static_cast<size_t>(state.range(0)));
	const unsigned burst = static_cast<unsigned>(state.range(1));
	std::vector<const uint8_t *> ptrs(kKeys + burst);
	std::vector<uint16_t> lens(kKeys + burst);
	std::vector<dp_u128> out(burst);
	size_t i = 0;

	if (dp_md5x_impl_set(impl) != 0) {
		state.SkipWithError("implementation not supported");
		return;
	}
	for (size_t k = 0; k < ptrs.size(); k++) {
		ptrs[k] = reinterpret_cast<const uint8_t *>(keys[k % kKeys].data());
		lens[k] = static_cast<uint16_t>(keys[k % kKeys].size());
	}
	for (auto _ : state) {
		dp_md5x_hashkeys(&ptrs[i], &lens[i], burst, out.data());
		benchmark::DoNotOptimize(out.data());
		benchmark::ClobberMemory();
		i = (i + burst) & (kKeys - 1);
	}
	state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) * burst);
	dp_md5x_impl_set(nullptr);
}

// A worker's view: bursts of 32 keys drawn uniformly from a working set of <keys> keys. With the
// cache (BM_HashCache) the keys it holds are answered from it and the rest hashed in one dp_md5x
// burst; without (BM_HashNoCache) every burst goes to dp_md5x_hashkeys. Both read the same keys
// in the same order, so the pair isolates what the cache adds or costs: 1000 keys fit in the
// 4096-entry cache, 100k keys do not (about 4 % hits), and their bytes no longer fit in the CPU
// caches either, which costs both sides alike.
void run_draws(benchmark::State &state, bool cached)
{
	const size_t nkeys = static_cast<size_t>(state.range(1));
	const auto keys = make_keys(static_cast<size_t>(state.range(0)), nkeys, 7);
	constexpr unsigned kBurst = 32;
	// A fixed random sequence of key indexes, long and of prime length so that it repeats
	// neither within a run's working set nor in step with the cache's 1024-key windows.
	constexpr size_t kDraws = 1000003;
	std::vector<const uint8_t *> ptrs(kDraws + kBurst);
	std::vector<uint16_t> lens(kDraws + kBurst);
	std::mt19937_64 gen(1);
	struct dp_hcache *c = nullptr;
	dp_u128 out[kBurst];
	size_t i = 0;

	if (cached && dp_hcache_new(4096, &c) != 0) {
		state.SkipWithError("dp_hcache_new failed");
		return;
	}
	for (size_t k = 0; k < ptrs.size(); k++) {
		const std::string &key = keys[gen() % nkeys];

		ptrs[k] = reinterpret_cast<const uint8_t *>(key.data());
		lens[k] = static_cast<uint16_t>(key.size());
	}
	for (auto _ : state) {
		if (cached)
			dp_hcache_hashkeys(c, &ptrs[i], &lens[i], kBurst, out);
		else
			dp_md5x_hashkeys(&ptrs[i], &lens[i], kBurst, out);
		benchmark::DoNotOptimize(out);
		benchmark::ClobberMemory();
		i += kBurst;
		if (i >= kDraws)
			i -= kDraws;
	}
	if (cached) {
		struct dp_hcache_stats st;

		dp_hcache_stats(c, &st);
		state.counters["hit_rate"] = static_cast<double>(st.hits) /
			static_cast<double>(st.hits + st.misses + st.uncacheable);
		state.counters["bypassed"] = static_cast<double>(st.bypassed) /
			static_cast<double>(st.hits + st.misses + st.uncacheable + st.bypassed);
		dp_hcache_free(c);
	}
	state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) * kBurst);
}

void BM_HashCache(benchmark::State &state)
{
	run_draws(state, true);
}
BENCHMARK(BM_HashCache)->ArgNames({"keylen", "keys"})
	->Args({16, 1000})->Args({16, 100000})->Args({64, 1000})->Args({64, 100000});

void BM_HashNoCache(benchmark::State &state)
{
	run_draws(state, false);
}
BENCHMARK(BM_HashNoCache)->ArgNames({"keylen", "keys"})
	->Args({16, 1000})->Args({16, 100000})->Args({64, 1000})->Args({64, 100000});

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

// The dp_md5x benchmarks exist once per implementation this CPU runs, so that a run on a CPU
// without AVX-512 reports no error for it.
int main(int argc, char **argv)
{
	static const char *const impls[] = {"scalar", "avx2", "avx512"};

	benchmark::Initialize(&argc, argv);
	for (const char *impl : impls) {
		if (dp_md5x_impl_set(impl) != 0)
			continue;
		benchmark::RegisterBenchmark((std::string("BM_Md5x_") + impl).c_str(), BM_Md5x, impl)
			->ArgNames({"keylen", "burst"})
			->Args({16, 32})->Args({16, 33})->Args({16, 8})->Args({64, 32})->Args({0, 32});
	}
	dp_md5x_impl_set(nullptr);
	benchmark::RunSpecifiedBenchmarks();
	benchmark::Shutdown();
	return 0;
}
