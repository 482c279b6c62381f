/* SPDX-License-Identifier: MIT */
/* Unit tests for ctl_b64: RFC 4648 section 10 vectors, round trips, and rejected input. */
#include "ctl_b64.h"

#include <errno.h>

#include "dp_test.h"

static const struct {
	const char *raw, *enc;
} rfc[] = {
	{ "", "" }, { "f", "Zg==" }, { "fo", "Zm8=" }, { "foo", "Zm9v" },
	{ "foob", "Zm9vYg==" }, { "fooba", "Zm9vYmE=" }, { "foobar", "Zm9vYmFy" },
};

static void test_b64_rfc_vectors(void)
{
	char enc[64];
	uint8_t dec[64];

	for (size_t i = 0; i < sizeof(rfc) / sizeof(rfc[0]); i++) {
		size_t n = strlen(rfc[i].raw);
		CHECK_EQ(ctl_b64_encode(rfc[i].raw, n, enc), strlen(rfc[i].enc));
		CHECK_STR(enc, rfc[i].enc);
		CHECK_EQ(ctl_b64_decode(rfc[i].enc, strlen(rfc[i].enc), dec), (long)n);
		CHECK(memcmp(dec, rfc[i].raw, n) == 0);
	}
}

static void test_b64_round_trip_binary(void)
{
	static uint8_t raw[3000], back[3000];
	static char enc[4100];

	for (size_t n = 0; n < sizeof(raw); n += 1 + n / 3) {
		dp_test_fill(n, raw, n);
		size_t e = ctl_b64_encode(raw, n, enc);
		CHECK_EQ(e, ctl_b64_enc_len(n));
		long d = ctl_b64_decode(enc, e, back);
		CHECK_EQ(d, (long)n);
		CHECK(memcmp(raw, back, n) == 0);
	}
}

static void test_b64_rejects_bad_input(void)
{
	static const char *bad[] = {
		"Zg=", "Zg", "Z", "Zm9v!A==", "Zm 9v", "Zm9v\n", "=Zg=", "Z===", "Zg==Zg==",
		"Zm9-", "Zm9_", "Zg\0=",
	};
	uint8_t out[16];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		size_t n = i == sizeof(bad) / sizeof(bad[0]) - 1 ? 4 : strlen(bad[i]);
		CHECK_EQ(ctl_b64_decode(bad[i], n, out), -EINVAL);
	}
}

int main(void)
{
	DP_TEST_RUN(test_b64_rfc_vectors);
	DP_TEST_RUN(test_b64_round_trip_binary);
	DP_TEST_RUN(test_b64_rejects_bad_input);
	return dp_test_done();
}
