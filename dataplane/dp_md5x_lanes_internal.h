/* SPDX-License-Identifier: MIT */
/*
 * dp_md5x lane kernel, a template included by dp_md5x.c once per SIMD implementation (no
 * include guard on purpose). Before including, define:
 *   MD5X_FN      the function's name
 *   MD5X_LANES   lanes per group (messages hashed side by side)
 *   MD5X_TARGET  the target attribute string ("avx2", "avx512f")
 * The vectors are GCC generic vectors of MD5X_LANES 32-bit lanes. A group wider than the target's
 * registers (16 lanes under AVX2, 32 under AVX-512) is split by the compiler into two register
 * halves whose instructions interleave: MD5 is one serial chain per message, and two
 * independent chains keep the vector units busy where one would wait on latency.
 *
 * The function hashes one group: T holds the message words already laid out lane-major per
 * word (T[(b * 16 + j) * MD5X_LANES + lane] is word j of block b of that lane), nblk is the
 * block count of the longest lane, and fin[b] is the first lane whose message is longer than
 * b + 1 blocks (lanes are sorted by block count, so the lanes ending after block b are
 * fin[b - 1] .. fin[b] - 1). Each lane's final state goes to st[lane] right after its last
 * block; lanes past their end keep computing on zero words, and their results are dropped.
 */

__attribute__((target(MD5X_TARGET)))
static void MD5X_FN(const uint32_t *T, unsigned nblk, const uint8_t *fin, uint32_t (*st)[4])
{
	typedef uint32_t v_t __attribute__((vector_size(4 * MD5X_LANES), aligned(4 * MD5X_LANES)));
	v_t a = (v_t){0} + MD5_A0, b = (v_t){0} + MD5_B0, c = (v_t){0} + MD5_C0,
	    d = (v_t){0} + MD5_D0;
	unsigned done = 0;

	for (unsigned blk = 0; blk < nblk; blk++) {
		const v_t *m = (const v_t *)(T + (size_t)blk * 16 * MD5X_LANES);
		v_t aa = a, bb = b, cc = c, dd = d;

		MD5_ROUNDS(a, b, c, d, m);
		a += aa;
		b += bb;
		c += cc;
		d += dd;
		if (fin[blk] > done) {
			uint32_t sa[MD5X_LANES], sb[MD5X_LANES], sc[MD5X_LANES], sd[MD5X_LANES];

			memcpy(sa, &a, sizeof(sa));
			memcpy(sb, &b, sizeof(sb));
			memcpy(sc, &c, sizeof(sc));
			memcpy(sd, &d, sizeof(sd));
			for (; done < fin[blk]; done++) {
				st[done][0] = sa[done];
				st[done][1] = sb[done];
				st[done][2] = sc[done];
				st[done][3] = sd[done];
			}
		}
	}
}

#undef MD5X_FN
#undef MD5X_LANES
#undef MD5X_TARGET
