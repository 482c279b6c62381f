/* SPDX-License-Identifier: MIT */
/*
 * dp_hash: partition-key routing (contract in dp_hash.h).
 *
 * MD5 comes from libcrypto. Its EVP interface in OpenSSL 3.0 allocates and frees provider state
 * on every digest even with a reused context (about 260 ns for a 16-byte key here, against
 * about 110 ns for the low-level MD5_Init/Update/Final, bench/run hash), and routing pays this
 * per record, so the hasher uses the low-level functions, which 3.0 marks deprecated but still
 * ships; OPENSSL_SUPPRESS_DEPRECATED keeps -Werror quiet for this one file. A hand-written MD5
 * would be one more thing to get wrong. The routing map keeps its range starts in one
 * sorted array: a lookup is a branch-free binary search, about log2(n) predictable steps.
 */
#include "dp_hash.h"

#include <assert.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#define OPENSSL_SUPPRESS_DEPRECATED
#include <openssl/md5.h>

/* dp_shard_map_even passes a uint32_t count as unsigned. */
_Static_assert(UINT_MAX >= UINT32_MAX, "unsigned holds a uint32_t");

/* 10^19: the largest power of ten below 2^64, so a dp_u128 splits into at most 3 such chunks. */
#define POW10_19 UINT64_C(10000000000000000000)

struct dp_hasher {
	MD5_CTX ctx;
};

int dp_hasher_new(struct dp_hasher **ret)
{
	struct dp_hasher *h = calloc(1, sizeof(*h));
	if (!h)
		return -ENOMEM;
	*ret = h;
	return 0;
}

int dp_hasher_md5(struct dp_hasher *h, const void *key, size_t len, dp_u128 *out)
{
	unsigned char d[MD5_DIGEST_LENGTH];
	dp_u128 v = 0;

	if (!MD5_Init(&h->ctx) || !MD5_Update(&h->ctx, key, len) || !MD5_Final(d, &h->ctx))
		return -EIO;
	for (unsigned i = 0; i < sizeof(d); i++)
		v = v << 8 | d[i];
	*out = v;
	return 0;
}

void dp_hasher_free(struct dp_hasher *h)
{
	free(h);
}

int dp_u128_parse(const char *s, size_t len, dp_u128 *out)
{
	dp_u128 v = 0;

	/* Syntax first, as Kinesis validates the pattern before it checks the range. */
	if (len == 0 || len > DP_U128_DIGITS)
		return -EINVAL;
	if (s[0] == '0' && len > 1)
		return -EINVAL;
	for (size_t i = 0; i < len; i++)
		if (s[i] < '0' || s[i] > '9')
			return -EINVAL;
	for (size_t i = 0; i < len; i++) {
		unsigned dgt = (unsigned)(s[i] - '0');

		/* v * 10 + dgt <= MAX  <=>  v < MAX / 10, or v == MAX / 10 and dgt <= MAX % 10. */
		if (v > DP_U128_MAX / 10 ||
		    (v == DP_U128_MAX / 10 && dgt > (unsigned)(DP_U128_MAX % 10)))
			return -ERANGE;
		v = v * 10 + dgt;
	}
	*out = v;
	return 0;
}

/* Write v as exactly `width` digits, zero-padded, ending just before `end`. */
static void put_digits(char *end, uint64_t v, int width)
{
	while (width-- > 0) {
		*--end = (char)('0' + v % 10);
		v /= 10;
	}
}

int dp_u128_format(dp_u128 v, char out[DP_U128_DIGITS + 1])
{
	char buf[3 * 19];
	char *end = buf + sizeof(buf);
	uint64_t lo, mid, hi;
	char *p;
	int n;

	/*
	 * Split into base-10^19 chunks so that the digit loop runs on 64-bit values: one 128-bit
	 * division per chunk instead of one per digit.
	 */
	lo = (uint64_t)(v % POW10_19);
	v /= POW10_19;
	mid = (uint64_t)(v % POW10_19);
	hi = (uint64_t)(v / POW10_19);
	put_digits(end, lo, 19);
	put_digits(end - 19, mid, 19);
	put_digits(end - 38, hi, 19);
	p = buf;
	while (p < end - 1 && *p == '0')
		p++;
	n = (int)(end - p);
	memcpy(out, p, (size_t)n);
	out[n] = '\0';
	return n;
}

void dp_hash_range_even(uint32_t n, uint32_t i, dp_u128 *start, dp_u128 *end)
{
	dp_u128 h;

	assert(n >= 1 && i < n);
	if (n == 1) {
		/* floor(2^128 / 1) does not fit in 128 bits; the single shard owns everything. */
		*start = 0;
		*end = DP_U128_MAX;
		return;
	}
	/* floor(2^128 / n) == floor((2^128 - n) / n) + 1, and 2^128 - n fits for n >= 1. */
	h = (DP_U128_MAX - n + 1) / n + 1;
	*start = (dp_u128)i * h;
	*end = (i == n - 1) ? DP_U128_MAX : (dp_u128)(i + 1) * h - 1;
}

/*
 * The map: starts[] ascending with starts[0] == 0; range k is [starts[k], starts[k+1] - 1] and
 * belongs to shard idx[k]. The ends are implied, since validation proved there are no gaps.
 */
struct dp_shard_map {
	unsigned n;
	uint32_t *idx;
	dp_u128 starts[];
};

static int range_cmp_start(const void *a, const void *b)
{
	const struct dp_hash_range *x = a, *y = b;

	return (x->start > y->start) - (x->start < y->start);
}

static int u32_cmp(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return (x > y) - (x < y);
}

int dp_shard_map_new(const struct dp_hash_range *r, unsigned n, struct dp_shard_map **ret)
{
	struct dp_hash_range *sorted;
	size_t map_bytes, sorted_bytes;
	struct dp_shard_map *m;
	uint32_t *ids;
	int err = -EINVAL;

	if (n == 0)
		return -EINVAL;
	/* Header + n starts + n indexes in one block; refuse sizes that would overflow size_t. */
	if (__builtin_mul_overflow((size_t)n, sizeof(dp_u128) + sizeof(uint32_t), &map_bytes) ||
	    __builtin_add_overflow(map_bytes, sizeof(*m), &map_bytes) ||
	    __builtin_mul_overflow((size_t)n, sizeof(*sorted), &sorted_bytes))
		return -ENOMEM;
	sorted = malloc(sorted_bytes);
	if (!sorted)
		return -ENOMEM;
	memcpy(sorted, r, sorted_bytes);
	qsort(sorted, n, sizeof(*sorted), range_cmp_start);

	if (sorted[0].start != 0 || sorted[n - 1].end != DP_U128_MAX)
		goto out_sorted;
	for (unsigned k = 0; k < n; k++) {
		if (sorted[k].start > sorted[k].end || sorted[k].shard_index > INT32_MAX)
			goto out_sorted;
		/* Next start must be exactly end + 1: smaller is an overlap, larger a gap. */
		if (k + 1 < n && (sorted[k].end == DP_U128_MAX ||
				  sorted[k + 1].start != sorted[k].end + 1))
			goto out_sorted;
	}

	m = malloc(map_bytes);
	if (!m) {
		err = -ENOMEM;
		goto out_sorted;
	}
	m->n = n;
	m->idx = (uint32_t *)(m->starts + n);
	for (unsigned k = 0; k < n; k++) {
		m->starts[k] = sorted[k].start;
		m->idx[k] = sorted[k].shard_index;
	}

	/* Repeated shard indexes: sort a scratch copy (reusing the ranges buffer) and compare. */
	ids = (uint32_t *)sorted;
	memcpy(ids, m->idx, n * sizeof(*ids));
	qsort(ids, n, sizeof(*ids), u32_cmp);
	for (unsigned k = 1; k < n; k++)
		if (ids[k] == ids[k - 1]) {
			free(m);
			goto out_sorted;
		}

	*ret = m;
	err = 0;
out_sorted:
	free(sorted);
	return err;
}

int dp_shard_map_even(uint32_t n, struct dp_shard_map **ret)
{
	struct dp_hash_range *r;
	int err;

	if (n == 0 || n - 1 > INT32_MAX)
		return -EINVAL;
	r = malloc((size_t)n * sizeof(*r));
	if (!r)
		return -ENOMEM;
	for (uint32_t i = 0; i < n; i++) {
		dp_hash_range_even(n, i, &r[i].start, &r[i].end);
		r[i].shard_index = i;
	}
	err = dp_shard_map_new(r, (unsigned)n, ret);
	free(r);
	return err;
}

int dp_shard_map_lookup(const struct dp_shard_map *m, dp_u128 hash)
{
	const dp_u128 *base = m->starts;
	unsigned len = m->n;

	/*
	 * Invariant: the last start <= hash lies in base[0 .. len). starts[0] == 0 <= hash, so it
	 * exists. The conditional move keeps the loop free of data-dependent branches.
	 */
	while (len > 1) {
		unsigned half = len / 2;

		base = (base[half] <= hash) ? base + half : base;
		len -= half;
	}
	return (int)m->idx[base - m->starts];
}

unsigned dp_shard_map_count(const struct dp_shard_map *m)
{
	return m->n;
}

void dp_shard_map_free(struct dp_shard_map *m)
{
	free(m);
}

int dp_shard_id_format(uint32_t index, char out[DP_SHARD_ID_LEN + 1])
{
	static const char prefix[] = "shardId-";

	memcpy(out, prefix, sizeof(prefix) - 1);
	/* UINT32_MAX has 10 digits, so 12 always holds the index. */
	put_digits(out + DP_SHARD_ID_LEN, index, 12);
	out[DP_SHARD_ID_LEN] = '\0';
	return DP_SHARD_ID_LEN;
}

int dp_shard_id_parse(const char *s, uint32_t *index)
{
	static const char prefix[] = "shardId-";
	uint64_t v = 0;
	size_t n;

	if (strncmp(s, prefix, sizeof(prefix) - 1) == 0)
		s += sizeof(prefix) - 1;
	/* 12 digits is the canonical width; more can only be padding nobody sends. */
	for (n = 0; s[n] >= '0' && s[n] <= '9'; n++) {
		if (n == 12)
			return -EINVAL;
		v = v * 10 + (uint64_t)(s[n] - '0');
	}
	if (n == 0 || s[n] != '\0' || v > INT32_MAX)
		return -EINVAL;
	*index = (uint32_t)v;
	return 0;
}
