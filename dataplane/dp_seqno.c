/* SPDX-License-Identifier: MIT */
/*
 * dp_seqno: Kinesis-style sequence number strings (layout and contract in dp_seqno.h).
 *
 * The 188-bit value is held as three 64-bit limbs, least significant first. Decimal conversion
 * splits it into base-10^19 chunks (10^19 is the largest power of ten below 2^64) with three
 * 128-by-64-bit divisions whose quotients fit in 64 bits (one divq each on x86-64), then 64-bit
 * digit loops that emit two digits per step. No allocation and no bignum library, since formatting
 * runs once per acknowledged record (BM_SeqnoFormat in bench/bench_hash.cc).
 */
#include "dp_seqno.h"

#include <errno.h>
#include <stdbool.h>

__extension__ typedef unsigned __int128 u128;

#define POW10_19 UINT64_C(10000000000000000000)

/* Decimal digits per chunk, most significant first: 18 + 19 + 19 = DP_SEQNO_LEN. */
#define TOP_DIGITS 18
#define CHUNK_DIGITS 19

/* Bit positions of the fields in the 192-bit value (hex digit k starts at bit 4 * (46 - k)). */
#define BIT_VERSION 0
#define BIT_INDEX 4
#define BIT_ARRIVAL 36
#define BIT_BYTE1 72
#define BIT_COUNTER 80
#define BIT_NIBBLE 144
#define BIT_CREATED 148
#define BIT_HEAD 184

#define MASK36 ((UINT64_C(1) << 36) - 1)

/*
 * (hi:lo) / d with hi < d, so the quotient fits in 64 bits. On x86-64 that is one divq; the
 * generic u128 division goes through __udivti3, which checks for that case at run time.
 */
static inline uint64_t div_2by1(uint64_t hi, uint64_t lo, uint64_t d, uint64_t *rem)
{
#if defined(__x86_64__)
	uint64_t q, r;

	__asm__("divq %4" : "=a"(q), "=d"(r) : "a"(lo), "d"(hi), "rm"(d));
	*rem = r;
	return q;
#else
	u128 cur = (u128)hi << 64 | lo;

	*rem = (uint64_t)(cur % d);
	return (uint64_t)(cur / d);
#endif
}


/* l[] = l[] * m + a; returns the carry out of the top limb. */
static uint64_t mul_add_limbs(uint64_t l[3], uint64_t m, uint64_t a)
{
	uint64_t carry = a;

	for (int i = 0; i < 3; i++) {
		u128 t = (u128)l[i] * m + carry;

		l[i] = (uint64_t)t;
		carry = (uint64_t)(t >> 64);
	}
	return carry;
}

/* "00" .. "99": two digits per step halves the dependent divide-by-constant chain. */
static const char digit_pairs[201] =
	"00010203040506070809101112131415161718192021222324252627282930313233343536373839"
	"40414243444546474849505152535455565758596061626364656667686970717273747576777879"
	"8081828384858687888990919293949596979899";

/* Write v (< 10^width) as exactly `width` digits, zero-padded, ending just before `end`. */
static inline void put_digits(char *end, uint64_t v, int width)
{
	for (; width >= 2; width -= 2) {
		unsigned pair = (unsigned)(v % 100);

		v /= 100;
		end -= 2;
		end[0] = digit_pairs[2 * pair];
		end[1] = digit_pairs[2 * pair + 1];
	}
	if (width)
		*--end = (char)('0' + v);
}

/* A 19-digit chunk as two independent halves of 10 and 9 digits, so both chains overlap. */
static inline void put_chunk19(char *end, uint64_t v)
{
	put_digits(end, v % UINT64_C(10000000000), 10);
	put_digits(end - 10, v / UINT64_C(10000000000), 9);
}

/* Value of `width` decimal digits at s; false if one is not a digit. */
static bool get_digits(const char *s, int width, uint64_t *v)
{
	uint64_t x = 0;

	for (int i = 0; i < width; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		x = x * 10 + (uint64_t)(s[i] - '0');
	}
	*v = x;
	return true;
}

static bool time_ok(int64_t t)
{
	return t >= 0 && t <= DP_SEQNO_TIME_MAX;
}

int dp_seqno_format(const struct dp_seqno *s, char out[DP_SEQNO_LEN + 1])
{
	uint64_t l[3], c0, c1, q_hi, q_lo, top;

	if (s->counter > DP_SEQNO_COUNTER_MAX || !time_ok(s->shard_created_s) ||
	    !time_ok(s->arrival_s))
		return -EINVAL;

	/* Limb 0: bits 0-63; limb 1: bits 64-127; limb 2: bits 128-191. */
	l[0] = UINT64_C(2) << BIT_VERSION |
	       (uint64_t)s->shard_index << BIT_INDEX |
	       (uint64_t)s->arrival_s << BIT_ARRIVAL;                  /* bits 36-63 of 36-71 */
	l[1] = (uint64_t)s->arrival_s >> (64 - BIT_ARRIVAL) |          /* bits 64-71 */
	       s->counter << (BIT_COUNTER - 64);                       /* bits 80-127 of 80-143 */
	l[2] = s->counter >> (128 - BIT_COUNTER) |                     /* bits 128-143 */
	       (uint64_t)(s->shard_index & 0xf) << (BIT_NIBBLE - 128) |
	       (uint64_t)s->shard_created_s << (BIT_CREATED - 128) |
	       UINT64_C(2) << (BIT_HEAD - 128);

	/*
	 * value = top * 10^38 + c1 * 10^19 + c0 in three 2-by-1 divisions, each with its high word
	 * below 10^19 as divq requires: l[2] < 2^58; value / 10^19 < 7.4e36 has a high word below
	 * 2^59; and value lies in [2 * 16^46, 3 * 16^46), so top = value / 10^38 is in
	 * [4.9e17, 7.4e17): exactly TOP_DIGITS digits, the first one non-zero.
	 */
	q_hi = div_2by1(l[2], l[1], POW10_19, &c1);
	q_lo = div_2by1(c1, l[0], POW10_19, &c0);
	top = div_2by1(q_hi, q_lo, POW10_19, &c1);
	put_digits(out + TOP_DIGITS - 9, top / 1000000000, 9);
	put_digits(out + TOP_DIGITS, top % 1000000000, 9);
	put_chunk19(out + TOP_DIGITS + CHUNK_DIGITS, c1);
	put_chunk19(out + DP_SEQNO_LEN, c0);
	out[DP_SEQNO_LEN] = '\0';
	return DP_SEQNO_LEN;
}

int dp_seqno_parse(const char *str, size_t len, struct dp_seqno *out)
{
	uint64_t l[3] = { 0, 0, 0 }, c2, c1, c0;
	uint32_t index;

	if (len != DP_SEQNO_LEN ||
	    !get_digits(str, TOP_DIGITS, &c2) ||
	    !get_digits(str + TOP_DIGITS, CHUNK_DIGITS, &c1) ||
	    !get_digits(str + TOP_DIGITS + CHUNK_DIGITS, CHUNK_DIGITS, &c0))
		return -EINVAL;
	l[0] = c2;
	/* 10^56 < 2^187: no carry can leave the top limb. */
	mul_add_limbs(l, POW10_19, c1);
	mul_add_limbs(l, POW10_19, c0);

	/* Top byte 0x02: hex digit 0 is 2 and nothing lies above 188 bits. */
	if (l[2] >> (BIT_HEAD - 128) != 2 || (l[0] & 0xf) != 2)
		return -EINVAL;
	if ((l[1] >> (BIT_BYTE1 - 64) & 0xff) != 0)
		return -EINVAL;
	index = (uint32_t)(l[0] >> BIT_INDEX);
	if ((l[2] >> (BIT_NIBBLE - 128) & 0xf) != (index & 0xf))
		return -EINVAL;
	/* Counter bits 80-143: the top 48 bits of limb 1's part and 16 bits of limb 2. */
	c0 = l[1] >> (BIT_COUNTER - 64) | (l[2] & 0xffff) << (128 - BIT_COUNTER);
	if (c0 > DP_SEQNO_COUNTER_MAX)
		return -EINVAL;

	out->counter = c0;
	out->shard_index = index;
	out->arrival_s = (int64_t)((l[0] >> BIT_ARRIVAL | l[1] << (64 - BIT_ARRIVAL)) & MASK36);
	out->shard_created_s = (int64_t)(l[2] >> (BIT_CREATED - 128) & MASK36);
	return 0;
}
