/* SPDX-License-Identifier: MIT */
/*
 * dp_test: the assertions and TAP output shared by the C unit, crash and integration tests.
 *
 * A test file defines `static void test_x(void)` functions and lists them in main() with
 * DP_TEST_RUN(test_x). Each prints one TAP line ("ok N - test_x" / "not ok N - test_x"); failed
 * checks print file:line and the values. main() ends with `return dp_test_done();`, which prints
 * the plan and returns 1 when anything failed. Exit code 77 (DP_TEST_SKIP) means skipped.
 * Header-only on purpose: every test binary is one .c file plus this header.
 */
#ifndef DP_TEST_H
#define DP_TEST_H

#include <errno.h>
#include <ftw.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define DP_TEST_SKIP 77

static int dp_test_n, dp_test_failed_total, dp_test_cur_failed;

#define CHECK(cond) do { \
	if (!(cond)) { \
		dp_test_cur_failed++; \
		printf("# %s:%d: CHECK(%s) failed\n", __FILE__, __LINE__, #cond); \
	} } while (0)

#define CHECK_EQ(a, b) do { \
	long long _a = (long long)(a), _b = (long long)(b); \
	if (_a != _b) { \
		dp_test_cur_failed++; \
		printf("# %s:%d: %s == %lld, expected %s == %lld\n", __FILE__, __LINE__, #a, _a, #b, _b); \
	} } while (0)

#define CHECK_EQ_U64(a, b) do { \
	uint64_t _a = (uint64_t)(a), _b = (uint64_t)(b); \
	if (_a != _b) { \
		dp_test_cur_failed++; \
		printf("# %s:%d: %s == %" PRIu64 ", expected %s == %" PRIu64 "\n", __FILE__, __LINE__, \
		       #a, _a, #b, _b); \
	} } while (0)

#define CHECK_STR(a, b) do { \
	const char *_a = (a), *_b = (b); \
	if (!_a || !_b || strcmp(_a, _b) != 0) { \
		dp_test_cur_failed++; \
		printf("# %s:%d: %s == \"%s\", expected \"%s\"\n", __FILE__, __LINE__, #a, \
		       _a ? _a : "(null)", _b ? _b : "(null)"); \
	} } while (0)

/* Abort the current test function when a precondition fails. */
#define REQUIRE(cond) do { \
	if (!(cond)) { \
		dp_test_cur_failed++; \
		printf("# %s:%d: REQUIRE(%s) failed\n", __FILE__, __LINE__, #cond); \
		return; \
	} } while (0)

#define DP_TEST_RUN(fn) do { \
	dp_test_cur_failed = 0; \
	fn(); \
	dp_test_n++; \
	if (dp_test_cur_failed) dp_test_failed_total++; \
	printf("%s %d - %s\n", dp_test_cur_failed ? "not ok" : "ok", dp_test_n, #fn); \
	fflush(stdout); \
	} while (0)

/* xorshift64*: a fixed, reproducible sequence for randomized checks; each file keeps its state. */
static inline uint64_t dp_test_rng(uint64_t *state)
{
	*state ^= *state >> 12;
	*state ^= *state << 25;
	*state ^= *state >> 27;
	return *state * UINT64_C(2685821657736338717);
}

/* splitmix64: a stateless hash of x, for bytes that can be regenerated from an identity. */
static inline uint64_t dp_test_splitmix(uint64_t x)
{
	x += UINT64_C(0x9e3779b97f4a7c15);
	x = (x ^ (x >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	x = (x ^ (x >> 27)) * UINT64_C(0x94d049bb133111eb);
	return x ^ (x >> 31);
}

/* Fill p[0..n) with bytes determined by seed alone. */
static inline void dp_test_fill(uint64_t seed, uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i += 8) {
		uint64_t v = dp_test_splitmix(seed + i);
		memcpy(p + i, &v, n - i < 8 ? n - i : 8);
	}
}

static inline int dp_test_rm_cb(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st, (void)flag, (void)ftw;
	return remove(path);
}

/* Remove a directory tree (the test's own temp directory). */
static inline void dp_test_rm_tree(const char *dir)
{
	nftw(dir, dp_test_rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

static inline int dp_test_done(void)
{
	printf("1..%d\n", dp_test_n);
	return dp_test_failed_total ? 1 : 0;
}

#endif
