/* SPDX-License-Identifier: MIT */
/*
 * CRC32C for batch framing. The SSE4.2 crc32 instruction has a 3-cycle latency and 1-cycle
 * throughput, so long buffers run three independent streams over thirds of the block and fold
 * them together with a precomputed shift (multiplication by x^(8*len) mod P through tables built
 * at load). Short buffers use one stream. CPUs without SSE4.2 take a slicing-by-8 table.
 */
#include "dp_crc32c.h"

#include <string.h>

#if defined(__x86_64__)
#include <cpuid.h>
#include <nmmintrin.h>
#define DP_CRC_X86 1
#endif

#define POLY 0x82F63B78u

/* Bytes per stream in the three-way loop; the fold tables are built for exactly this length. */
#define STRIDE 1024u

static uint32_t tab8[8][256];
static uint32_t fold_tab[4][256];    /* crc shifted over STRIDE zero bytes, bytewise tables */
static int hw_ok;

/* Multiply-by-x^(8*n) of a crc value, bitwise; used only at init to build the fold tables. */
static uint32_t shift_zeros_sw(uint32_t crc, size_t n)
{
	while (n--) {
		crc ^= 0; /* a zero byte */
		for (int k = 0; k < 8; k++)
			crc = (crc >> 1) ^ (POLY & (0u - (crc & 1u)));
	}
	return crc;
}

__attribute__((constructor)) static void crc_init(void)
{
	for (uint32_t i = 0; i < 256; i++) {
		uint32_t c = i;
		for (int k = 0; k < 8; k++)
			c = (c >> 1) ^ (POLY & (0u - (c & 1u)));
		tab8[0][i] = c;
	}
	for (uint32_t i = 0; i < 256; i++)
		for (int t = 1; t < 8; t++)
			tab8[t][i] = (tab8[t - 1][i] >> 8) ^ tab8[0][tab8[t - 1][i] & 0xff];
	/* fold_tab[b][v] = shift of (v << 8b) over STRIDE zero bytes. The shift is linear, so a
	 * 32-bit value's shift is the xor of its four bytes' entries, and each entry the xor of
	 * its set bits' shifts: 32 slow shifts at load instead of 1024. */
	uint32_t bit[32];
	for (int k = 0; k < 32; k++)
		bit[k] = shift_zeros_sw(1u << k, STRIDE);
	for (int b = 0; b < 4; b++)
		for (uint32_t v = 0; v < 256; v++) {
			uint32_t x = 0;
			for (int k = 0; k < 8; k++)
				if (v & (1u << k))
					x ^= bit[8 * b + k];
			fold_tab[b][v] = x;
		}
#ifdef DP_CRC_X86
	unsigned a, bx, c, d;
	if (__get_cpuid(1, &a, &bx, &c, &d))
		hw_ok = (c & bit_SSE4_2) != 0;
#endif
}

int dp_crc32c_hw(void)
{
	return hw_ok;
}

uint32_t dp_crc32c_sw(uint32_t crc, const void *buf, size_t len)
{
	const uint8_t *p = buf;
	crc = ~crc;
	while (len >= 8) {
		uint64_t w;
		memcpy(&w, p, 8);
		w ^= crc;
		crc = tab8[7][w & 0xff] ^ tab8[6][(w >> 8) & 0xff] ^ tab8[5][(w >> 16) & 0xff] ^
		      tab8[4][(w >> 24) & 0xff] ^ tab8[3][(w >> 32) & 0xff] ^
		      tab8[2][(w >> 40) & 0xff] ^ tab8[1][(w >> 48) & 0xff] ^ tab8[0][w >> 56];
		p += 8;
		len -= 8;
	}
	while (len--)
		crc = (crc >> 8) ^ tab8[0][(crc ^ *p++) & 0xff];
	return ~crc;
}

#ifdef DP_CRC_X86
static inline uint32_t fold(uint32_t crc)
{
	return fold_tab[0][crc & 0xff] ^ fold_tab[1][(crc >> 8) & 0xff] ^
	       fold_tab[2][(crc >> 16) & 0xff] ^ fold_tab[3][crc >> 24];
}

__attribute__((target("sse4.2"))) static uint32_t crc_hw(uint32_t crc, const uint8_t *p, size_t len)
{
	uint64_t c0 = ~crc;
	while (len >= 3 * STRIDE) {
		uint64_t c1 = 0, c2 = 0;
		for (size_t i = 0; i < STRIDE; i += 8) {
			uint64_t w0, w1, w2;
			memcpy(&w0, p + i, 8);
			memcpy(&w1, p + STRIDE + i, 8);
			memcpy(&w2, p + 2 * STRIDE + i, 8);
			c0 = _mm_crc32_u64(c0, w0);
			c1 = _mm_crc32_u64(c1, w1);
			c2 = _mm_crc32_u64(c2, w2);
		}
		/* crc(a||b||c) = shift(shift(c0) ^ c1) ^ c2, all raw (uncomplemented) states. */
		c0 = fold((uint32_t)c0) ^ (uint32_t)c1;
		c0 = fold((uint32_t)c0) ^ (uint32_t)c2;
		p += 3 * STRIDE;
		len -= 3 * STRIDE;
	}
	while (len >= 8) {
		uint64_t w;
		memcpy(&w, p, 8);
		c0 = _mm_crc32_u64(c0, w);
		p += 8;
		len -= 8;
	}
	uint32_t c = (uint32_t)c0;
	while (len--)
		c = _mm_crc32_u8(c, *p++);
	return ~c;
}
#endif

uint32_t dp_crc32c(uint32_t crc, const void *buf, size_t len)
{
#ifdef DP_CRC_X86
	if (hw_ok)
		return crc_hw(crc, buf, len);
#endif
	return dp_crc32c_sw(crc, buf, len);
}
