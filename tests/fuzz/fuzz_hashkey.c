/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the text parsers of dp_hash and dp_seqno: ExplicitHashKey decimals,
 * sequence number strings and shard ids, which all arrive from clients unchecked.
 *
 * Every input goes to every parser. Each result is checked against an independent statement of
 * what the parser must do (a small oracle for the decimal pattern) and every accepted input must
 * re-format to exactly the same text, so that a number a client sent us and the one we send back
 * never differ. The same bytes also drive the formatters and the routing map. A violated property
 * calls abort(), which libFuzzer reports with the input.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dp_hash.h"
#include "dp_seqno.h"

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);

static const char u128_max_str[] = "340282366920938463463374607431768211455";

#define PROPERTY(cond) do { if (!(cond)) abort(); } while (0)

/* Oracle for dp_u128_parse: the pattern 0|[1-9][0-9]{0,38}, then the range by string compare. */
static int u128_expected(const char *s, size_t len)
{
	if (len == 0 || len > DP_U128_DIGITS || (s[0] == '0' && len > 1))
		return -EINVAL;
	for (size_t i = 0; i < len; i++)
		if (s[i] < '0' || s[i] > '9')
			return -EINVAL;
	if (len == DP_U128_DIGITS && memcmp(s, u128_max_str, DP_U128_DIGITS) > 0)
		return -ERANGE;
	return 0;
}

static void check_u128(const char *s, size_t len)
{
	char buf[DP_U128_DIGITS + 1];
	dp_u128 v = 0;
	int r = dp_u128_parse(s, len, &v);

	PROPERTY(r == u128_expected(s, len));
	if (r == 0) {
		PROPERTY(dp_u128_format(v, buf) == (int)len);
		PROPERTY(memcmp(buf, s, len) == 0);
	}
}

static void check_seqno(const char *s, size_t len)
{
	char buf[DP_SEQNO_LEN + 1];
	struct dp_seqno q;
	int r = dp_seqno_parse(s, len, &q);

	PROPERTY(r == 0 || r == -EINVAL);
	if (r == 0) {
		PROPERTY(len == DP_SEQNO_LEN);
		PROPERTY(q.counter <= DP_SEQNO_COUNTER_MAX);
		PROPERTY(dp_seqno_format(&q, buf) == DP_SEQNO_LEN);
		PROPERTY(memcmp(buf, s, DP_SEQNO_LEN) == 0);
	}
}

static void check_shard_id(const char *s, size_t len)
{
	char str[64], buf[DP_SHARD_ID_LEN + 1];
	uint32_t ix = 0, again = 0;
	int r;

	/* The parser takes a C string: stop at the first NUL, bound the copy. */
	len = strnlen(s, len < sizeof(str) - 1 ? len : sizeof(str) - 1);
	memcpy(str, s, len);
	str[len] = '\0';
	r = dp_shard_id_parse(str, &ix);
	PROPERTY(r == 0 || r == -EINVAL);
	if (r == 0) {
		PROPERTY(ix <= INT32_MAX);
		PROPERTY(dp_shard_id_format(ix, buf) == DP_SHARD_ID_LEN);
		PROPERTY(dp_shard_id_parse(buf, &again) == 0 && again == ix);
		/* The canonical form is what was given, or "shardId-" was added, or zeros were. */
		PROPERTY(strcmp(buf, str) == 0 || len < DP_SHARD_ID_LEN);
	}
}

static uint64_t take_u64(const uint8_t *d)
{
	uint64_t v;

	memcpy(&v, d, sizeof(v));
	return v;
}

/* Bytes as a struct dp_seqno: format, parse back, and the ordering property for counter + 1. */
static void check_seqno_format(const uint8_t *d, size_t n)
{
	char a[DP_SEQNO_LEN + 1], b[DP_SEQNO_LEN + 1];
	struct dp_seqno s, p;
	int r;

	if (n < 28)
		return;
	s.shard_created_s = (int64_t)take_u64(d);
	s.counter = take_u64(d + 8);
	s.arrival_s = (int64_t)take_u64(d + 16);
	memcpy(&s.shard_index, d + 24, sizeof(s.shard_index));
	r = dp_seqno_format(&s, a);
	PROPERTY(r == DP_SEQNO_LEN || r == -EINVAL);
	PROPERTY((r == DP_SEQNO_LEN) ==
		 (s.counter <= DP_SEQNO_COUNTER_MAX && s.shard_created_s >= 0 &&
		  s.shard_created_s <= DP_SEQNO_TIME_MAX && s.arrival_s >= 0 &&
		  s.arrival_s <= DP_SEQNO_TIME_MAX));
	if (r != DP_SEQNO_LEN)
		return;
	PROPERTY(strlen(a) == DP_SEQNO_LEN);
	PROPERTY(dp_seqno_parse(a, DP_SEQNO_LEN, &p) == 0);
	PROPERTY(p.shard_created_s == s.shard_created_s && p.shard_index == s.shard_index &&
		 p.counter == s.counter && p.arrival_s == s.arrival_s);
	if (s.counter < DP_SEQNO_COUNTER_MAX) {
		p.counter = s.counter + 1;
		p.arrival_s = DP_SEQNO_TIME_MAX - s.arrival_s; /* any arrival time */
		PROPERTY(dp_seqno_format(&p, b) == DP_SEQNO_LEN);
		PROPERTY(strcmp(a, b) < 0);
	}
}

/* Bytes as (shard count, hash): the even map must route the hash into its own even range. */
static void check_route(const uint8_t *d, size_t n)
{
	struct dp_shard_map *m;
	dp_u128 hash, start, end;
	uint32_t shards;
	int ix;

	if (n < 17)
		return;
	shards = 1 + d[0] % 64;
	hash = (dp_u128)take_u64(d + 1) << 64 | take_u64(d + 9);
	if (dp_shard_map_even(shards, &m) != 0)
		abort();
	ix = dp_shard_map_lookup(m, hash);
	PROPERTY(ix >= 0 && (uint32_t)ix < shards);
	dp_hash_range_even(shards, (uint32_t)ix, &start, &end);
	PROPERTY(start <= hash && hash <= end);
	dp_shard_map_free(m);
}

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	const char *s = (const char *)d;

	check_u128(s, n);
	check_seqno(s, n);
	check_shard_id(s, n);
	check_seqno_format(d, n);
	check_route(d, n);
	return 0;
}
