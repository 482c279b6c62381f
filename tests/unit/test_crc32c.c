/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for dp_crc32c: the standard check value, agreement of the SSE4.2 path (three
 * interleaved streams above 3 KiB) with the slicing-by-8 table over every length class and
 * alignment, and the chaining property that batch framing relies on.
 *
 * The expected values are not produced by the code under test: 0xE3069283 is the catalogued
 * CRC-32C check value (RFC 3720 B.4 test vectors for the other constants), and the reference for
 * the random cases is a bitwise implementation written here from the polynomial.
 */
#include "dp_crc32c.h"

#include <stdbool.h>

#include "dp_test.h"

static uint64_t rng_state = UINT64_C(0x9e3779b97f4a7c15);

static uint64_t rng(void)
{
	return dp_test_rng(&rng_state);
}

/* One bit at a time, straight from the reflected polynomial: slow, obviously right. */
static uint32_t crc_bitwise(uint32_t crc, const uint8_t *p, size_t len)
{
	crc = ~crc;
	while (len--) {
		crc ^= *p++;
		for (int k = 0; k < 8; k++)
			crc = (crc >> 1) ^ (0x82F63B78u & (0u - (crc & 1u)));
	}
	return ~crc;
}

static void test_check_value(void)
{
	CHECK_EQ_U64(dp_crc32c(0, "123456789", 9), 0xE3069283u);
	CHECK_EQ_U64(dp_crc32c_sw(0, "123456789", 9), 0xE3069283u);
	CHECK_EQ_U64(dp_crc32c(0, "", 0), 0);
	CHECK_EQ_U64(dp_crc32c_sw(0, NULL, 0), 0);

	/* RFC 3720 B.4: 32 bytes of zeros, of 0xff, and an ascending sequence. */
	uint8_t b[32];
	memset(b, 0, sizeof(b));
	CHECK_EQ_U64(dp_crc32c(0, b, sizeof(b)), 0x8A9136AAu);
	memset(b, 0xff, sizeof(b));
	CHECK_EQ_U64(dp_crc32c(0, b, sizeof(b)), 0x62A8AB43u);
	for (int i = 0; i < 32; i++)
		b[i] = (uint8_t)i;
	CHECK_EQ_U64(dp_crc32c(0, b, sizeof(b)), 0x46DD794Eu);
	CHECK_EQ_U64(dp_crc32c_sw(0, b, sizeof(b)), 0x46DD794Eu);
}

static void test_paths_agree(void)
{
	enum { MAXLEN = 10000, PAD = 16 };
	uint8_t *buf = malloc(MAXLEN + PAD);
	REQUIRE(buf);
	for (size_t i = 0; i < MAXLEN + PAD; i++)
		buf[i] = (uint8_t)rng();
	printf("# hardware path %s\n", dp_crc32c_hw() ? "in use" : "not available (table only)");

	unsigned bad = 0, cases = 0;
	/* Every length around the three-stream threshold (3 * 1024) and its multiples, plus random
	 * lengths and alignments up to 10000. */
	for (size_t len = 0; len <= MAXLEN; len++) {
		bool edge = len < 64 || (len % 1024) < 16 || (len % 1024) > 1008;
		if (!edge && rng() % 8)
			continue;
		size_t align = rng() % PAD;
		uint32_t seed = (rng() & 1) ? (uint32_t)rng() : 0;
		uint32_t want = crc_bitwise(seed, buf + align, len);
		uint32_t hw = dp_crc32c(seed, buf + align, len);
		uint32_t sw = dp_crc32c_sw(seed, buf + align, len);
		cases++;
		if (hw != want || sw != want) {
			if (bad++ < 5)
				printf("# len %zu align %zu seed %08x: want %08x hw %08x sw %08x\n", len,
				       align, seed, want, hw, sw);
		}
	}
	CHECK_EQ(bad, 0);
	CHECK(cases >= 1000);
	free(buf);
}

static void test_chaining(void)
{
	enum { LEN = 9000 };
	uint8_t *buf = malloc(LEN);
	REQUIRE(buf);
	for (size_t i = 0; i < LEN; i++)
		buf[i] = (uint8_t)rng();
	uint32_t whole = dp_crc32c(0, buf, LEN);
	CHECK_EQ_U64(whole, crc_bitwise(0, buf, LEN));
	unsigned bad = 0;
	for (int i = 0; i < 500; i++) {
		size_t a = rng() % (LEN + 1);
		size_t b = a + rng() % (LEN - a + 1);
		uint32_t c = dp_crc32c(0, buf, a);
		c = dp_crc32c(c, buf + a, b - a);
		c = dp_crc32c(c, buf + b, LEN - b);
		uint32_t s = dp_crc32c_sw(0, buf, a);
		s = dp_crc32c_sw(s, buf + a, LEN - a);
		if (c != whole || s != whole)
			bad++;
	}
	CHECK_EQ(bad, 0);
	/* Byte at a time through the public entry point. */
	uint32_t c = 0;
	for (size_t i = 0; i < LEN; i++)
		c = dp_crc32c(c, buf + i, 1);
	CHECK_EQ_U64(c, whole);
	free(buf);
}

int main(void)
{
	DP_TEST_RUN(test_check_value);
	DP_TEST_RUN(test_paths_agree);
	DP_TEST_RUN(test_chaining);
	return dp_test_done();
}
