/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for dp_md5x and dp_hcache: the input is cut into a burst of keys and every
 * lane of every implementation this CPU runs must equal libcrypto's MD5 of the same key; the
 * same burst then goes twice through a tiny cache (one set, so most keys evict each other), whose
 * answers must equal those hash keys too.
 *
 * Input format: repeated [len_lo, len_hi, key bytes...], the length taken modulo 600 (past
 * DP_MD5X_KEY_MAX, so that the scalar route for long keys is fuzzed too) and cut short by the
 * end of the input; at most 64 keys. A violated property calls abort(),
 * which libFuzzer reports with the input.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define OPENSSL_SUPPRESS_DEPRECATED
#include <openssl/md5.h>

#include "dp_hcache.h"
#include "dp_md5x.h"

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);

#define PROPERTY(cond) do { if (!(cond)) abort(); } while (0)
#define MAX_KEYS 64

static dp_u128 be128(const uint8_t md[16])
{
	dp_u128 v = 0;

	for (int i = 0; i < 16; i++)
		v = v << 8 | md[i];
	return v;
}

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	static const char *const impls[] = { "scalar", "avx2", "avx512" };
	const uint8_t *keys[MAX_KEYS];
	uint16_t lens[MAX_KEYS];
	uint8_t ref[MAX_KEYS][16], out[MAX_KEYS][16];
	dp_u128 hk[MAX_KEYS];
	struct dp_hcache *c = NULL;
	unsigned nk = 0;
	size_t pos = 0;

	while (pos + 2 <= n && nk < MAX_KEYS) {
		size_t len = (size_t)(d[pos] | d[pos + 1] << 8) % 600;

		pos += 2;
		if (len > n - pos)
			len = n - pos;
		keys[nk] = d + pos;
		lens[nk] = (uint16_t)len;
		MD5(d + pos, len, ref[nk]);
		nk++;
		pos += len;
	}

	for (size_t k = 0; k < sizeof(impls) / sizeof(impls[0]); k++) {
		if (dp_md5x_impl_set(impls[k]) != 0)
			continue;
		dp_md5x(keys, lens, nk, out);
		dp_md5x_hashkeys(keys, lens, nk, hk);
		for (unsigned i = 0; i < nk; i++) {
			PROPERTY(memcmp(out[i], ref[i], 16) == 0);
			PROPERTY(hk[i] == be128(ref[i]));
		}
	}
	PROPERTY(dp_md5x_impl_set(NULL) == 0);

	if (dp_hcache_new(DP_HCACHE_WAYS, &c) != 0)
		return 0;
	for (int round = 0; round < 2; round++) {
		dp_hcache_hashkeys(c, keys, lens, nk, hk);
		for (unsigned i = 0; i < nk; i++)
			PROPERTY(hk[i] == be128(ref[i]));
	}
	dp_hcache_free(c);
	return 0;
}
