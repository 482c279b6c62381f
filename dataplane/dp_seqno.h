/* SPDX-License-Identifier: MIT */
/*
 * dp_seqno: Kinesis-style sequence number strings.
 *
 * What it owns. The text form of a record's sequence number as clients see it: the decimal
 * rendering of a 47-hex-digit (188-bit) integer laid out as kinesalite's "version 2"
 * (reference kinesis_firehose.md §3.2), hex digit 0 being the most significant:
 *
 *   digit  0       2 (constant)
 *   digits 1-9     shard creation time, epoch seconds (36 bits)
 *   digit  10      low hex digit of the shard index
 *   digits 11-26   64-bit per-shard counter (first digit <= 7: counter < 2^63)
 *   digits 27-28   00
 *   digits 29-37   record arrival time, epoch seconds (36 bits)
 *   digits 38-45   shard index (32 bits)
 *   digit  46      2 (version)
 *
 * Invariants. The value lies in [2 * 16^46, 3 * 16^46), so its decimal form is always exactly
 * DP_SEQNO_LEN digits. Within one shard (same creation time and index) the counter is the most
 * significant field that varies, so a larger counter gives a numerically and lexicographically
 * larger string whatever the arrival times: clients may compare our numbers as strings, and
 * KCL's BigInteger comparison agrees.
 *
 * Threads. Pure functions, no allocation, no locks: formatting runs on the ack path.
 */
#ifndef DP_SEQNO_H
#define DP_SEQNO_H

#include <stddef.h>
#include <stdint.h>

/* Decimal digits of every sequence number (2 * 16^46 and 3 * 16^46 - 1 both have 56). */
#define DP_SEQNO_LEN 56

/* Largest counter: the 16-hex-digit field must start with a digit <= 7. */
#define DP_SEQNO_COUNTER_MAX ((UINT64_C(1) << 63) - 1)
/* Largest time in seconds: a 9-hex-digit field (36 bits, about the year 4147). */
#define DP_SEQNO_TIME_MAX ((INT64_C(1) << 36) - 1)

struct dp_seqno {
	int64_t shard_created_s;   /* 0..DP_SEQNO_TIME_MAX */
	uint32_t shard_index;      /* N of shardId-00000000000N */
	uint64_t counter;          /* 0..DP_SEQNO_COUNTER_MAX */
	int64_t arrival_s;         /* 0..DP_SEQNO_TIME_MAX */
};

/*
 * Render s as DP_SEQNO_LEN decimal digits plus a NUL into out.
 * Returns DP_SEQNO_LEN, or -EINVAL when the counter exceeds DP_SEQNO_COUNTER_MAX or a time is
 * outside 0..DP_SEQNO_TIME_MAX (out is then untouched).
 */
int dp_seqno_format(const struct dp_seqno *s, char out[DP_SEQNO_LEN + 1]);

/*
 * Parse str[0..len) (need not be NUL-terminated): exactly DP_SEQNO_LEN decimal digits that
 * decode to a version-2 number this module could have written: first and last hex digits 2,
 * digits 27-28 zero, digit 10 equal to the low hex digit of the shard index, counter
 * <= DP_SEQNO_COUNTER_MAX. Such a string round-trips through dp_seqno_format unchanged.
 * *out is written only on success. Returns 0 or -EINVAL.
 */
int dp_seqno_parse(const char *str, size_t len, struct dp_seqno *out);

#endif
