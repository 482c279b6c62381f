/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for dp_md5x: the RFC 1321 test suite, then random bursts of 1..40 keys (and longer,
 * past one internal chunk) with lengths 0..256 mixed within a burst, boundary lengths included
 * (55, 56, 63, 64, 119, 120, ...: where the padding spills into one more block). Every
 * implementation this CPU supports is forced in turn and every lane is compared with
 * libcrypto's MD5 and with dp_hasher_md5's hash key; implementations the CPU lacks are reported
 * as not tested.
 *
 * The expected digests are not produced by the code under test: RFC 1321 appendix A.5 gives the
 * suite's digests, libcrypto gives the rest.
 */
#include "dp_md5x.h"

#define OPENSSL_SUPPRESS_DEPRECATED
#include <openssl/md5.h>

#include "dp_test.h"

static uint64_t rng_state = UINT64_C(0x9e3779b97f4a7c15);

static uint64_t rng(void)
{
	return dp_test_rng(&rng_state);
}

static const char *const impl_names[] = { "scalar", "avx2", "avx512" };

static const struct {
	const char *msg;
	const char *hex;
} rfc1321[] = {
	{ "", "d41d8cd98f00b204e9800998ecf8427e" },
	{ "a", "0cc175b9c0f1b6a831c399e269772661" },
	{ "abc", "900150983cd24fb0d6963f7d28e17f72" },
	{ "message digest", "f96b697d7cb7938d525a2f31aaf161d0" },
	{ "abcdefghijklmnopqrstuvwxyz", "c3fcd3d76192e4007dfb496cca67e13b" },
	{ "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
	  "d174ab98d277d9f5a5611c2c9f419d9f" },
	{ "12345678901234567890123456789012345678901234567890123456789012345678901234567890",
	  "57edf4a22be3c955ac49da2e2107b67a" },
};
#define N_RFC (sizeof(rfc1321) / sizeof(rfc1321[0]))

/* Lengths where the padding changes shape: 0x80 and the bit length in one block or two. */
static const uint16_t boundary_lens[] = {
	0, 1, 3, 4, 55, 56, 57, 63, 64, 65, 119, 120, 121, 127, 128, 129,
	183, 184, 191, 192, 247, 248, 255, 256,
};
#define N_BOUNDARY (sizeof(boundary_lens) / sizeof(boundary_lens[0]))

static void hex(const uint8_t d[16], char out[33])
{
	static const char digits[] = "0123456789abcdef";

	for (int i = 0; i < 16; i++) {
		out[2 * i] = digits[d[i] >> 4];
		out[2 * i + 1] = digits[d[i] & 15];
	}
	out[32] = '\0';
}

static int impl_use(const char *name)
{
	int err = dp_md5x_impl_set(name);

	if (err == -ENOTSUP)
		printf("# %s: not supported by this CPU, not tested\n", name);
	return err;
}

/* The RFC suite as one burst (different lengths side by side) and each vector alone. */
static void test_rfc1321_every_impl(void)
{
	const uint8_t *keys[N_RFC];
	uint16_t lens[N_RFC];
	uint8_t out[N_RFC][16];
	char h[33];

	for (size_t i = 0; i < N_RFC; i++) {
		keys[i] = (const uint8_t *)rfc1321[i].msg;
		lens[i] = (uint16_t)strlen(rfc1321[i].msg);
	}
	for (size_t k = 0; k < sizeof(impl_names) / sizeof(impl_names[0]); k++) {
		if (impl_use(impl_names[k]) != 0)
			continue;
		CHECK_STR(dp_md5x_impl(), impl_names[k]);
		memset(out, 0, sizeof(out));
		dp_md5x(keys, lens, N_RFC, out);
		for (size_t i = 0; i < N_RFC; i++) {
			hex(out[i], h);
			CHECK_STR(h, rfc1321[i].hex);
		}
		for (size_t i = 0; i < N_RFC; i++) {
			memset(out, 0, sizeof(out));
			dp_md5x(keys + i, lens + i, 1, out);
			hex(out[0], h);
			CHECK_STR(h, rfc1321[i].hex);
		}
	}
	CHECK_EQ(dp_md5x_impl_set(NULL), 0);
}

#define MAX_BURST 200

/*
 * Random bursts against libcrypto. Keys live at random offsets of one random buffer, so they
 * are unaligned and some overlap; every burst mixes random and boundary lengths.
 */
static void check_random_bursts(const char *impl, unsigned rounds)
{
	static uint8_t pool[4096];
	const uint8_t *keys[MAX_BURST];
	uint16_t lens[MAX_BURST];
	uint8_t out[MAX_BURST][16], ref[16];
	dp_u128 hk[MAX_BURST];
	struct dp_hasher *hasher = NULL;
	unsigned bad = 0, lanes = 0;

	REQUIRE(dp_hasher_new(&hasher) == 0);
	dp_test_fill(7, pool, sizeof(pool));
	for (unsigned r = 0; r < rounds; r++) {
		/* Bursts of 1..40 mostly, sometimes past the 64-key internal chunk. */
		unsigned n = r % 10 == 9 ? 41 + (unsigned)(rng() % (MAX_BURST - 40)) : 1 + r % 40;
		int uniform = r % 7 == 3;   /* all lanes one length: groups end together */
		uint16_t ulen = (uint16_t)(rng() % (DP_MD5X_KEY_MAX + 1));

		for (unsigned i = 0; i < n; i++) {
			uint64_t x = rng();

			if (uniform)
				lens[i] = ulen;
			else if (x & 1)
				lens[i] = boundary_lens[(x >> 1) % N_BOUNDARY];
			else
				lens[i] = (uint16_t)((x >> 1) % (DP_MD5X_KEY_MAX + 1));
			keys[i] = pool + (x >> 20) % (sizeof(pool) - DP_MD5X_KEY_MAX);
		}
		if (n > 0 && r % 5 == 0) {
			lens[0] = 0;
			keys[0] = NULL;   /* allowed for an empty key */
		}
		memset(out, 0xa5, sizeof(out));
		memset(hk, 0, sizeof(hk));
		dp_md5x(keys, lens, n, out);
		dp_md5x_hashkeys(keys, lens, n, hk);
		for (unsigned i = 0; i < n; i++) {
			dp_u128 want = 0;

			MD5(keys[i] ? keys[i] : (const uint8_t *)"", lens[i], ref);
			CHECK(dp_hasher_md5(hasher, keys[i], lens[i], &want) == 0);
			lanes++;
			if (memcmp(out[i], ref, 16) != 0 || hk[i] != want) {
				if (bad++ < 5)
					printf("# %s: burst %u (n=%u) lane %u len %u differs\n", impl, r,
					       n, i, lens[i]);
			}
		}
	}
	CHECK_EQ(bad, 0);
	printf("# %s: %u lanes checked\n", impl, lanes);
	dp_hasher_free(hasher);
}

static void test_random_bursts_match_libcrypto(void)
{
	for (size_t k = 0; k < sizeof(impl_names) / sizeof(impl_names[0]); k++) {
		if (impl_use(impl_names[k]) != 0)
			continue;
		check_random_bursts(impl_names[k], 2000);
	}
	CHECK_EQ(dp_md5x_impl_set(NULL), 0);
}

/* Every boundary length in every lane position of a full burst of 40. */
static void test_boundary_lengths_every_lane(void)
{
	static uint8_t pool[DP_MD5X_KEY_MAX + 64];
	const uint8_t *keys[40];
	uint16_t lens[40];
	uint8_t out[40][16], ref[16];

	dp_test_fill(11, pool, sizeof(pool));
	for (size_t k = 0; k < sizeof(impl_names) / sizeof(impl_names[0]); k++) {
		unsigned bad = 0;

		if (impl_use(impl_names[k]) != 0)
			continue;
		for (unsigned shift = 0; shift < 40; shift++) {
			for (unsigned i = 0; i < 40; i++) {
				lens[i] = boundary_lens[(i + shift) % N_BOUNDARY];
				keys[i] = pool + (i % 8);
			}
			dp_md5x(keys, lens, 40, out);
			for (unsigned i = 0; i < 40; i++) {
				MD5(keys[i], lens[i], ref);
				bad += memcmp(out[i], ref, 16) != 0;
			}
		}
		CHECK_EQ(bad, 0);
	}
	CHECK_EQ(dp_md5x_impl_set(NULL), 0);
}

/* Keys past DP_MD5X_KEY_MAX (multi-byte UTF-8 keys can be) are hashed right, beside short ones. */
static void test_keys_longer_than_lanes_take(void)
{
	static uint8_t pool[4096];
	const uint8_t *keys[40];
	uint16_t lens[40];
	uint8_t out[40][16], ref[16];

	dp_test_fill(13, pool, sizeof(pool));
	for (size_t k = 0; k < sizeof(impl_names) / sizeof(impl_names[0]); k++) {
		unsigned bad = 0;

		if (impl_use(impl_names[k]) != 0)
			continue;
		for (unsigned i = 0; i < 40; i++) {
			keys[i] = pool + i;
			lens[i] = (uint16_t)(i % 3 == 0 ? DP_MD5X_KEY_MAX + 1 + i * 50 : i);
		}
		dp_md5x(keys, lens, 40, out);
		for (unsigned i = 0; i < 40; i++) {
			MD5(keys[i], lens[i], ref);
			bad += memcmp(out[i], ref, 16) != 0;
		}
		CHECK_EQ(bad, 0);
	}
	CHECK_EQ(dp_md5x_impl_set(NULL), 0);
}

static void test_impl_selection(void)
{
	const char *best;

	CHECK_EQ(dp_md5x_impl_set(NULL), 0);
	best = dp_md5x_impl();
	CHECK(strcmp(best, "scalar") == 0 || strcmp(best, "avx2") == 0 ||
	      strcmp(best, "avx512") == 0);
	CHECK_EQ(dp_md5x_impl_set("md4"), -EINVAL);
	CHECK_EQ(dp_md5x_impl_set(""), -EINVAL);
	CHECK_STR(dp_md5x_impl(), best);   /* a refused name changes nothing */
	CHECK_EQ(dp_md5x_impl_set("scalar"), 0);
	CHECK_STR(dp_md5x_impl(), "scalar");
#if defined(__x86_64__)
	/* The load-time choice is the widest the CPU has. */
	if (__builtin_cpu_supports("avx512f"))
		CHECK_STR(best, "avx512");
	else if (__builtin_cpu_supports("avx2"))
		CHECK_STR(best, "avx2");
	CHECK_EQ(dp_md5x_impl_set("avx512"), __builtin_cpu_supports("avx512f") ? 0 : -ENOTSUP);
#endif
	CHECK_EQ(dp_md5x_impl_set(NULL), 0);
	CHECK_STR(dp_md5x_impl(), best);
	/* n == 0 writes nothing. */
	uint8_t out[1][16] = {{0}};
	dp_md5x(NULL, NULL, 0, out);
	CHECK_EQ(out[0][0], 0);
}

int main(void)
{
	printf("# best implementation here: %s\n", dp_md5x_impl());
	DP_TEST_RUN(test_rfc1321_every_impl);
	DP_TEST_RUN(test_random_bursts_match_libcrypto);
	DP_TEST_RUN(test_boundary_lengths_every_lane);
	DP_TEST_RUN(test_keys_longer_than_lanes_take);
	DP_TEST_RUN(test_impl_selection);
	return dp_test_done();
}
