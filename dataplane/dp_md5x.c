/* SPDX-License-Identifier: MIT */
/*
 * dp_md5x: burst MD5 in SIMD lanes (contract in dp_md5x.h).
 *
 * Layout. A call is cut into chunks of up to CHUNK messages. Each chunk is sorted by block count
 * (a counting sort: a message of len bytes takes (len + 8) / 64 + 1 blocks, 1..5 for keys up to
 * 256 bytes) and cut into groups of the implementation's lane count, so that the lanes of one
 * group mostly end together. For each group the padded messages (key, 0x80, zeros, bit length)
 * are written lane after lane into a zeroed stack buffer, an 8x8 transpose in registers turns
 * them into the word-major layout the kernel loads (word j of all lanes in one vector), then the
 * lane kernel (dp_md5x_lanes_internal.h) runs every block of the group's longest lane on all
 * lanes at once and saves each lane's state after its own last block. Lanes that ended earlier
 * keep computing on zero words and are ignored: sorted, they waste little, and the kernel needs
 * no per-block masks. Two alternatives were timed against this one in throwaway builds, with
 * bursts of 32 keys as in bench/bench_hash.cc BM_Md5x_avx2: without the sort, keys of 1..256
 * random bytes took 98 ns per key against 87; building each lane's rows directly in registers
 * with masked loads, instead of through the buffer, was about 8 % slower with 16-byte keys.
 *
 * A group with only a few live lanes costs as much as a full one, so a tail of at most
 * SCALAR_TAIL messages is hashed by the scalar code instead. Measured with AVX2 and 16-byte keys
 * (bench/bench_hash.cc BM_Md5x_avx2, bursts of 32 and 33, and bursts of 34 and 35 timed the
 * same way): one or two keys are cheaper scalar (a burst of 34: 35.2 ns per key against 37.8
 * with a third group), three break even.
 *
 * The scalar code is the textbook MD5 compression with the same round macros as the lanes; it is
 * the fallback on CPUs without AVX2 and on non-x86 builds, and it serves the short tails.
 */
#include "dp_md5x.h"

#include <errno.h>
#include <stdatomic.h>
#include <string.h>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define DP_MD5X_X86 1
#include <immintrin.h>
#endif

/* Messages sorted and grouped together: two AVX-512 groups, and small enough for the stack. */
#define CHUNK 64
/* Most blocks one message takes: (DP_MD5X_KEY_MAX + 8) / 64 + 1. */
#define MAX_BLOCKS ((DP_MD5X_KEY_MAX + 8) / 64 + 1)
/* Widest group of any implementation. */
#define MAX_LANES 32
/* Tails of at most this many messages go to the scalar code (see the file comment). */
#define SCALAR_TAIL 2

#define MD5_A0 0x67452301u
#define MD5_B0 0xefcdab89u
#define MD5_C0 0x98badcfeu
#define MD5_D0 0x10325476u

/* The four round functions in forms with one fewer operation than RFC 1321's. */
#define MD5_F(x, y, z) ((z) ^ ((x) & ((y) ^ (z))))
#define MD5_G(x, y, z) ((y) ^ ((z) & ((x) ^ (y))))
#define MD5_H(x, y, z) ((x) ^ (y) ^ (z))
#define MD5_I(x, y, z) ((y) ^ ((x) | ~(z)))
#define MD5_STEP(f, a, b, c, d, w, k, s) do { \
	a += f(b, c, d) + (w) + (k); \
	a = ((a) << (s) | (a) >> (32 - (s))) + (b); \
	} while (0)

/* All 64 steps of one block on state a, b, c, d with message words m[0..15] (scalars or vectors:
 * the same text serves both). Constants: RFC 1321 section 3.4, floor(2^32 * |sin(i + 1)|). */
#define MD5_ROUNDS(a, b, c, d, m) do { \
	MD5_STEP(MD5_F, a, b, c, d, m[0], 0xd76aa478u, 7); \
	MD5_STEP(MD5_F, d, a, b, c, m[1], 0xe8c7b756u, 12); \
	MD5_STEP(MD5_F, c, d, a, b, m[2], 0x242070dbu, 17); \
	MD5_STEP(MD5_F, b, c, d, a, m[3], 0xc1bdceeeu, 22); \
	MD5_STEP(MD5_F, a, b, c, d, m[4], 0xf57c0fafu, 7); \
	MD5_STEP(MD5_F, d, a, b, c, m[5], 0x4787c62au, 12); \
	MD5_STEP(MD5_F, c, d, a, b, m[6], 0xa8304613u, 17); \
	MD5_STEP(MD5_F, b, c, d, a, m[7], 0xfd469501u, 22); \
	MD5_STEP(MD5_F, a, b, c, d, m[8], 0x698098d8u, 7); \
	MD5_STEP(MD5_F, d, a, b, c, m[9], 0x8b44f7afu, 12); \
	MD5_STEP(MD5_F, c, d, a, b, m[10], 0xffff5bb1u, 17); \
	MD5_STEP(MD5_F, b, c, d, a, m[11], 0x895cd7beu, 22); \
	MD5_STEP(MD5_F, a, b, c, d, m[12], 0x6b901122u, 7); \
	MD5_STEP(MD5_F, d, a, b, c, m[13], 0xfd987193u, 12); \
	MD5_STEP(MD5_F, c, d, a, b, m[14], 0xa679438eu, 17); \
	MD5_STEP(MD5_F, b, c, d, a, m[15], 0x49b40821u, 22); \
	MD5_STEP(MD5_G, a, b, c, d, m[1], 0xf61e2562u, 5); \
	MD5_STEP(MD5_G, d, a, b, c, m[6], 0xc040b340u, 9); \
	MD5_STEP(MD5_G, c, d, a, b, m[11], 0x265e5a51u, 14); \
	MD5_STEP(MD5_G, b, c, d, a, m[0], 0xe9b6c7aau, 20); \
	MD5_STEP(MD5_G, a, b, c, d, m[5], 0xd62f105du, 5); \
	MD5_STEP(MD5_G, d, a, b, c, m[10], 0x02441453u, 9); \
	MD5_STEP(MD5_G, c, d, a, b, m[15], 0xd8a1e681u, 14); \
	MD5_STEP(MD5_G, b, c, d, a, m[4], 0xe7d3fbc8u, 20); \
	MD5_STEP(MD5_G, a, b, c, d, m[9], 0x21e1cde6u, 5); \
	MD5_STEP(MD5_G, d, a, b, c, m[14], 0xc33707d6u, 9); \
	MD5_STEP(MD5_G, c, d, a, b, m[3], 0xf4d50d87u, 14); \
	MD5_STEP(MD5_G, b, c, d, a, m[8], 0x455a14edu, 20); \
	MD5_STEP(MD5_G, a, b, c, d, m[13], 0xa9e3e905u, 5); \
	MD5_STEP(MD5_G, d, a, b, c, m[2], 0xfcefa3f8u, 9); \
	MD5_STEP(MD5_G, c, d, a, b, m[7], 0x676f02d9u, 14); \
	MD5_STEP(MD5_G, b, c, d, a, m[12], 0x8d2a4c8au, 20); \
	MD5_STEP(MD5_H, a, b, c, d, m[5], 0xfffa3942u, 4); \
	MD5_STEP(MD5_H, d, a, b, c, m[8], 0x8771f681u, 11); \
	MD5_STEP(MD5_H, c, d, a, b, m[11], 0x6d9d6122u, 16); \
	MD5_STEP(MD5_H, b, c, d, a, m[14], 0xfde5380cu, 23); \
	MD5_STEP(MD5_H, a, b, c, d, m[1], 0xa4beea44u, 4); \
	MD5_STEP(MD5_H, d, a, b, c, m[4], 0x4bdecfa9u, 11); \
	MD5_STEP(MD5_H, c, d, a, b, m[7], 0xf6bb4b60u, 16); \
	MD5_STEP(MD5_H, b, c, d, a, m[10], 0xbebfbc70u, 23); \
	MD5_STEP(MD5_H, a, b, c, d, m[13], 0x289b7ec6u, 4); \
	MD5_STEP(MD5_H, d, a, b, c, m[0], 0xeaa127fau, 11); \
	MD5_STEP(MD5_H, c, d, a, b, m[3], 0xd4ef3085u, 16); \
	MD5_STEP(MD5_H, b, c, d, a, m[6], 0x04881d05u, 23); \
	MD5_STEP(MD5_H, a, b, c, d, m[9], 0xd9d4d039u, 4); \
	MD5_STEP(MD5_H, d, a, b, c, m[12], 0xe6db99e5u, 11); \
	MD5_STEP(MD5_H, c, d, a, b, m[15], 0x1fa27cf8u, 16); \
	MD5_STEP(MD5_H, b, c, d, a, m[2], 0xc4ac5665u, 23); \
	MD5_STEP(MD5_I, a, b, c, d, m[0], 0xf4292244u, 6); \
	MD5_STEP(MD5_I, d, a, b, c, m[7], 0x432aff97u, 10); \
	MD5_STEP(MD5_I, c, d, a, b, m[14], 0xab9423a7u, 15); \
	MD5_STEP(MD5_I, b, c, d, a, m[5], 0xfc93a039u, 21); \
	MD5_STEP(MD5_I, a, b, c, d, m[12], 0x655b59c3u, 6); \
	MD5_STEP(MD5_I, d, a, b, c, m[3], 0x8f0ccc92u, 10); \
	MD5_STEP(MD5_I, c, d, a, b, m[10], 0xffeff47du, 15); \
	MD5_STEP(MD5_I, b, c, d, a, m[1], 0x85845dd1u, 21); \
	MD5_STEP(MD5_I, a, b, c, d, m[8], 0x6fa87e4fu, 6); \
	MD5_STEP(MD5_I, d, a, b, c, m[15], 0xfe2ce6e0u, 10); \
	MD5_STEP(MD5_I, c, d, a, b, m[6], 0xa3014314u, 15); \
	MD5_STEP(MD5_I, b, c, d, a, m[13], 0x4e0811a1u, 21); \
	MD5_STEP(MD5_I, a, b, c, d, m[4], 0xf7537e82u, 6); \
	MD5_STEP(MD5_I, d, a, b, c, m[11], 0xbd3af235u, 10); \
	MD5_STEP(MD5_I, c, d, a, b, m[2], 0x2ad7d2bbu, 15); \
	MD5_STEP(MD5_I, b, c, d, a, m[9], 0xeb86d391u, 21); \
	} while (0)

/* Little-endian 32-bit load and store, as MD5 reads its words and writes its digest. */
static inline uint32_t le32_load(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, sizeof(v));
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
	v = __builtin_bswap32(v);
#endif
	return v;
}

static inline void le32_store(uint8_t *p, uint32_t v)
{
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
	v = __builtin_bswap32(v);
#endif
	memcpy(p, &v, sizeof(v));
}

static inline unsigned md5_blocks(unsigned len)
{
	/* The message, the 0x80 byte and the 8-byte bit length, rounded up to 64. */
	return (len + 8) / 64 + 1;
}

/*
 * Write the 16 words of block blk (of nb) of the padded message key[0..len) to dst[0],
 * dst[stride], ..., dst[15 * stride].
 */
static inline void block_words(const uint8_t *key, unsigned len, unsigned blk, unsigned nb,
			       uint32_t *dst, unsigned stride)
{
	unsigned off = blk * 64;
	uint8_t buf[64];

	if (off + 64 <= len) {
		for (unsigned j = 0; j < 16; j++)
			dst[j * stride] = le32_load(key + off + 4 * j);
		return;
	}
	memset(buf, 0, sizeof(buf));
	if (off <= len) {
		/* This block holds the message's end: its last bytes and the 0x80 marker. */
		if (len > off)
			memcpy(buf, key + off, len - off);
		buf[len - off] = 0x80;
	}
	if (blk == nb - 1) {
		uint64_t bits = (uint64_t)len * 8;

		le32_store(buf + 56, (uint32_t)bits);
		le32_store(buf + 60, (uint32_t)(bits >> 32));
	}
	for (unsigned j = 0; j < 16; j++)
		dst[j * stride] = le32_load(buf + 4 * j);
}

/* MD5 of one message, the scalar way: state words a, b, c, d into st. */
static void md5_scalar_one(const uint8_t *key, unsigned len, uint32_t st[4])
{
	uint32_t a = MD5_A0, b = MD5_B0, c = MD5_C0, d = MD5_D0;
	unsigned nb = md5_blocks(len);
	uint32_t m[16];

	for (unsigned blk = 0; blk < nb; blk++) {
		uint32_t aa = a, bb = b, cc = c, dd = d;

		block_words(key, len, blk, nb, m, 1);
		MD5_ROUNDS(a, b, c, d, m);
		a += aa;
		b += bb;
		c += cc;
		d += dd;
	}
	st[0] = a;
	st[1] = b;
	st[2] = c;
	st[3] = d;
}

/*
 * Copy len bytes with a few overlapping fixed-size moves instead of a call: the keys are short
 * and their lengths vary from lane to lane, which is what a generic memcpy pays most for.
 */
static inline void copy_short(uint8_t *dst, const uint8_t *src, unsigned len)
{
	if (len >= 16) {
		unsigned i;

		for (i = 0; i + 16 < len; i += 16)
			memcpy(dst + i, src + i, 16);
		memcpy(dst + len - 16, src + len - 16, 16);
	} else if (len >= 8) {
		memcpy(dst, src, 8);
		memcpy(dst + len - 8, src + len - 8, 8);
	} else if (len >= 4) {
		memcpy(dst, src, 4);
		memcpy(dst + len - 4, src + len - 4, 4);
	} else {
		for (unsigned i = 0; i < len; i++)
			dst[i] = src[i];
	}
}

/*
 * Write the padded message key[0..len) into p, which is zeroed and at least
 * md5_blocks(len) * 64 bytes long: the key, the 0x80 marker and the bit length at the end of
 * the last block.
 */
static inline void lane_fill(uint8_t *p, const uint8_t *key, unsigned len)
{
	unsigned end = md5_blocks(len) * 64;
	uint64_t bits = (uint64_t)len * 8;

	copy_short(p, key, len);
	p[len] = 0x80;
	le32_store(p + end - 8, (uint32_t)bits);
	le32_store(p + end - 4, (uint32_t)(bits >> 32));
}

typedef void group_fn(const uint32_t *T, unsigned nblk, const uint8_t *fin, uint32_t (*st)[4]);
typedef void transpose_fn(const uint8_t *P, unsigned stride, unsigned nblk, unsigned lanes,
			  uint32_t *T);

#ifdef DP_MD5X_X86
/*
 * Lane-major padded messages to the kernel's word-major layout: P holds each lane's blocks
 * contiguously (lane l at P + l * stride), T gets word j of block b of lane l at
 * T[(b * 16 + j) * lanes + l]. Eight lanes by eight words at a time, an 8x8 transpose of 32-bit
 * elements in registers (unpack 32, unpack 64, swap 128-bit halves). lanes is a multiple of 8
 * and T is 32-byte aligned. AVX-512F implies AVX2, so both SIMD implementations use this.
 */
__attribute__((target("avx2")))
static void transpose_avx2(const uint8_t *P, unsigned stride, unsigned nblk, unsigned lanes,
			   uint32_t *T)
{
	for (unsigned blk = 0; blk < nblk; blk++)
		for (unsigned l0 = 0; l0 < lanes; l0 += 8)
			for (unsigned j0 = 0; j0 < 16; j0 += 8) {
				const uint8_t *src = P + (size_t)l0 * stride + blk * 64 + j0 * 4;
				uint32_t *dst = T + (size_t)(blk * 16 + j0) * lanes + l0;
				__m256i r[8], t[8], u[8];

				for (unsigned i = 0; i < 8; i++)
					r[i] = _mm256_loadu_si256((const __m256i *)(src + i * stride));
				for (unsigned i = 0; i < 8; i += 2) {
					t[i] = _mm256_unpacklo_epi32(r[i], r[i + 1]);
					t[i + 1] = _mm256_unpackhi_epi32(r[i], r[i + 1]);
				}
				for (unsigned i = 0; i < 8; i += 4) {
					u[i] = _mm256_unpacklo_epi64(t[i], t[i + 2]);
					u[i + 1] = _mm256_unpackhi_epi64(t[i], t[i + 2]);
					u[i + 2] = _mm256_unpacklo_epi64(t[i + 1], t[i + 3]);
					u[i + 3] = _mm256_unpackhi_epi64(t[i + 1], t[i + 3]);
				}
				/* u[i] holds word i of lanes 0-3 (low half) and word i + 4 (high). */
				for (unsigned i = 0; i < 4; i++) {
					_mm256_store_si256((__m256i *)(dst + i * lanes),
							   _mm256_permute2x128_si256(u[i], u[i + 4], 0x20));
					_mm256_store_si256((__m256i *)(dst + (i + 4) * lanes),
							   _mm256_permute2x128_si256(u[i], u[i + 4], 0x31));
				}
			}
}

#define MD5X_FN md5x_group_avx2
#define MD5X_LANES 16
#define MD5X_TARGET "avx2"
#include "dp_md5x_lanes_internal.h"

#define MD5X_FN md5x_group_avx512
#define MD5X_LANES 32
#define MD5X_TARGET "avx512f"
#include "dp_md5x_lanes_internal.h"
#endif

struct impl {
	const char *name;
	group_fn *group;   /* NULL: scalar */
	transpose_fn *transpose;
	unsigned lanes;
};

enum { IMPL_SCALAR, IMPL_AVX2, IMPL_AVX512, IMPL_COUNT };

static const struct impl impls[IMPL_COUNT] = {
	[IMPL_SCALAR] = { "scalar", NULL, NULL, 1 },
#ifdef DP_MD5X_X86
	[IMPL_AVX2] = { "avx2", md5x_group_avx2, transpose_avx2, 16 },
	[IMPL_AVX512] = { "avx512", md5x_group_avx512, transpose_avx2, 32 },
#else
	[IMPL_AVX2] = { "avx2", NULL, NULL, 0 },
	[IMPL_AVX512] = { "avx512", NULL, NULL, 0 },
#endif
};

/*
 * The implementation in use: written at load time and by dp_md5x_impl_set() only. Atomic so
 * that a change while other threads hash is defined behaviour (they see the old or the new
 * choice); relaxed, because the tables it points to are constant.
 */
static const struct impl *_Atomic cur = &impls[IMPL_SCALAR];

static int impl_supported(unsigned i)
{
#ifdef DP_MD5X_X86
	switch (i) {
	case IMPL_AVX2:
		return __builtin_cpu_supports("avx2");
	case IMPL_AVX512:
		return __builtin_cpu_supports("avx512f");
	}
#endif
	return i == IMPL_SCALAR;
}

static const struct impl *impl_best(void)
{
	for (unsigned i = IMPL_COUNT; i-- > 0;)
		if (impl_supported(i))
			return &impls[i];
	return &impls[IMPL_SCALAR];
}

__attribute__((constructor)) static void md5x_init(void)
{
#ifdef DP_MD5X_X86
	__builtin_cpu_init();
#endif
	atomic_store_explicit(&cur, impl_best(), memory_order_relaxed);
}

const char *dp_md5x_impl(void)
{
	return atomic_load_explicit(&cur, memory_order_relaxed)->name;
}

int dp_md5x_impl_set(const char *name)
{
	if (!name) {
		atomic_store_explicit(&cur, impl_best(), memory_order_relaxed);
		return 0;
	}
	for (unsigned i = 0; i < IMPL_COUNT; i++) {
		if (strcmp(name, impls[i].name) != 0)
			continue;
		if (!impl_supported(i))
			return -ENOTSUP;
		atomic_store_explicit(&cur, &impls[i], memory_order_relaxed);
		return 0;
	}
	return -EINVAL;
}

/* Hash one chunk of n <= CHUNK messages with implementation im: st[i] gets message i's state. */
static void md5x_chunk(const struct impl *im, const uint8_t *const *keys, const uint16_t *lens,
		       unsigned n, uint32_t (*st)[4])
{
	_Alignas(64) uint32_t T[MAX_BLOCKS * 16 * MAX_LANES];
	_Alignas(64) uint8_t P[MAX_LANES * MAX_BLOCKS * 64];
	uint32_t gst[MAX_LANES][4];
	unsigned cnt[MAX_BLOCKS + 1] = {0};
	uint8_t nbs[CHUNK], order[CHUNK];
	unsigned W = im->lanes;

	if (!im->group) {
		for (unsigned i = 0; i < n; i++)
			md5_scalar_one(keys[i], lens[i], st[i]);
		return;
	}

	/*
	 * Counting sort of the messages by block count, shortest first. Keys longer than
	 * DP_MD5X_KEY_MAX would overflow the group buffers: they are hashed one at a time here
	 * and left out of the lanes.
	 */
	for (unsigned i = 0; i < n; i++) {
		if (lens[i] > DP_MD5X_KEY_MAX) {
			md5_scalar_one(keys[i], lens[i], st[i]);
			nbs[i] = 0;
			continue;
		}
		nbs[i] = (uint8_t)md5_blocks(lens[i]);
		cnt[nbs[i]]++;
	}
	for (unsigned b = 1, pos = 0; b <= MAX_BLOCKS; b++) {
		unsigned c = cnt[b];

		cnt[b] = pos;
		pos += c;
	}
	for (unsigned i = 0; i < n; i++)
		if (nbs[i])
			order[cnt[nbs[i]]++] = (uint8_t)i;
	n = cnt[MAX_BLOCKS];   /* the messages in lanes, now order[0 .. n) */

	for (unsigned g = 0; g < n; g += W) {
		unsigned k = n - g < W ? n - g : W;
		const uint8_t *lane = order + g;
		uint8_t fin[MAX_BLOCKS];
		unsigned nblk;

		if (k <= SCALAR_TAIL) {
			for (unsigned i = 0; i < k; i++)
				md5_scalar_one(keys[lane[i]], lens[lane[i]], st[lane[i]]);
			break;
		}
		nblk = nbs[lane[k - 1]];
		/* Holds (keys past DP_MD5X_KEY_MAX never reach the lanes); says so to the compiler,
		 * which otherwise cannot bound the writes to fin[] at -O3. */
		if (nblk > MAX_BLOCKS)
			__builtin_unreachable();
		/* Lanes past their message, and the lanes of a short group, hash zero blocks. */
		memset(P, 0, (size_t)W * nblk * 64);
		for (unsigned l = 0; l < k; l++)
			lane_fill(P + (size_t)l * nblk * 64, keys[lane[l]], lens[lane[l]]);
		im->transpose(P, nblk * 64, nblk, W, T);
		for (unsigned blk = 0, l2 = 0; blk < nblk; blk++) {
			while (l2 < k && nbs[lane[l2]] <= blk + 1)
				l2++;
			fin[blk] = (uint8_t)l2;
		}
		im->group(T, nblk, fin, gst);
		for (unsigned i = 0; i < k; i++)
			memcpy(st[lane[i]], gst[i], sizeof(gst[i]));
	}
}

void dp_md5x(const uint8_t *const *keys, const uint16_t *lens, unsigned n, uint8_t (*out)[16])
{
	const struct impl *im = atomic_load_explicit(&cur, memory_order_relaxed);
	uint32_t st[CHUNK][4];

	for (unsigned base = 0; base < n; base += CHUNK) {
		unsigned m = n - base < CHUNK ? n - base : CHUNK;

		md5x_chunk(im, keys + base, lens + base, m, st);
		for (unsigned i = 0; i < m; i++)
			for (unsigned w = 0; w < 4; w++)
				le32_store(out[base + i] + 4 * w, st[i][w]);
	}
}

void dp_md5x_hashkeys(const uint8_t *const *keys, const uint16_t *lens, unsigned n, dp_u128 *out)
{
	const struct impl *im = atomic_load_explicit(&cur, memory_order_relaxed);
	uint32_t st[CHUNK][4];

	for (unsigned base = 0; base < n; base += CHUNK) {
		unsigned m = n - base < CHUNK ? n - base : CHUNK;

		md5x_chunk(im, keys + base, lens + base, m, st);
		/* Digest bytes are the state words little-endian; the hash key reads them big-endian. */
		for (unsigned i = 0; i < m; i++) {
			uint64_t hi = (uint64_t)__builtin_bswap32(st[i][0]) << 32 |
				      __builtin_bswap32(st[i][1]);
			uint64_t lo = (uint64_t)__builtin_bswap32(st[i][2]) << 32 |
				      __builtin_bswap32(st[i][3]);

			out[base + i] = (dp_u128)hi << 64 | lo;
		}
	}
}
