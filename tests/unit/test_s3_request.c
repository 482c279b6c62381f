/* SPDX-License-Identifier: MIT */
/*
 * ctl_s3's request decoding: bucket names, percent-decoding, path to bucket and key, which keys
 * may name a file (no way out of the bucket), query parameters, Range headers and continuation
 * tokens; each with the bad inputs a client can send.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ctl_s3.h"
#include "dp_test.h"

static bool bucket_ok(const char *s)
{
	return ctl_s3_bucket_valid(s, strlen(s));
}

static void test_bucket_names(void)
{
	CHECK(bucket_ok("logs"));
	CHECK(bucket_ok("my-bucket.2026"));
	CHECK(bucket_ok("abc"));
	CHECK(bucket_ok("a23456789012345678901234567890123456789012345678901234567890123"));
	CHECK(!bucket_ok("a234567890123456789012345678901234567890123456789012345678901234"));
	CHECK(!bucket_ok("ab"));
	CHECK(!bucket_ok("Logs"));
	CHECK(!bucket_ok("-logs"));
	CHECK(!bucket_ok("logs-"));
	CHECK(!bucket_ok("lo..gs"));
	CHECK(!bucket_ok("lo_gs"));
	CHECK(!bucket_ok("192.168.1.1"));
	CHECK(bucket_ok("192.168.1"));
	CHECK(!bucket_ok("xn--abc"));
	CHECK(!bucket_ok("abc-s3alias"));
	CHECK(!bucket_ok("abc--ol-s3"));
	CHECK(!bucket_ok(".."));
	CHECK(!bucket_ok("..."));
	/* len bounds the name: the byte after it is not read as part of it. */
	CHECK(ctl_s3_bucket_valid("abc.", 3));
}

static void test_decode(void)
{
	char out[16];
	CHECK_EQ(ctl_s3_decode("a%20b", 5, false, out, sizeof(out)), 3);
	CHECK_STR(out, "a b");
	CHECK_EQ(ctl_s3_decode("a+b", 3, false, out, sizeof(out)), 3);
	CHECK_STR(out, "a+b");
	CHECK_EQ(ctl_s3_decode("a+b", 3, true, out, sizeof(out)), 3);
	CHECK_STR(out, "a b");
	CHECK_EQ(ctl_s3_decode("%2f%2F", 6, false, out, sizeof(out)), 2);
	CHECK_STR(out, "//");
	CHECK_EQ(ctl_s3_decode("%e2%82%ac", 9, false, out, sizeof(out)), 3);
	CHECK_STR(out, "\xe2\x82\xac");
	CHECK_EQ(ctl_s3_decode("", 0, false, out, sizeof(out)), 0);
	CHECK_STR(out, "");
	/* Malformed escapes, a NUL, and what does not fit. */
	CHECK_EQ(ctl_s3_decode("%", 1, false, out, sizeof(out)), -EINVAL);
	CHECK_EQ(ctl_s3_decode("%2", 2, false, out, sizeof(out)), -EINVAL);
	CHECK_EQ(ctl_s3_decode("%zz", 3, false, out, sizeof(out)), -EINVAL);
	CHECK_EQ(ctl_s3_decode("%2g", 3, false, out, sizeof(out)), -EINVAL);
	CHECK_EQ(ctl_s3_decode("a%00b", 5, false, out, sizeof(out)), -EINVAL);
	/* n bounds the input: a '%' at the end of the range does not read past it. */
	CHECK_EQ(ctl_s3_decode("a%41", 2, false, out, sizeof(out)), -EINVAL);
	CHECK_EQ(ctl_s3_decode("0123456789abcdef", 16, false, out, sizeof(out)), -ENAMETOOLONG);
	CHECK_EQ(ctl_s3_decode("0123456789abcde", 15, false, out, sizeof(out)), 15);
	CHECK_EQ(ctl_s3_decode("a", 1, false, out, 0), -ENAMETOOLONG);
}

static void test_target_parse(void)
{
	struct ctl_s3_target t;
	CHECK_EQ(ctl_s3_target_parse("/", &t), 0);
	CHECK_STR(t.bucket, "");
	CHECK_EQ(t.key_len, 0u);
	CHECK_EQ(ctl_s3_target_parse("/logs", &t), 0);
	CHECK_STR(t.bucket, "logs");
	CHECK_EQ(t.key_len, 0u);
	CHECK_EQ(ctl_s3_target_parse("/logs/", &t), 0);
	CHECK_STR(t.bucket, "logs");
	CHECK_EQ(t.key_len, 0u);
	CHECK_EQ(ctl_s3_target_parse("/logs/2026/11/a%20b%2Bc.json", &t), 0);
	CHECK_STR(t.bucket, "logs");
	CHECK_STR(t.key, "2026/11/a b+c.json");
	CHECK_EQ(t.key_len, 18u);
	/* %2F in a key is a '/' like any other: S3 keys are decoded once. */
	CHECK_EQ(ctl_s3_target_parse("/logs/..%2f..%2fetc/passwd", &t), 0);
	CHECK_STR(t.key, "../../etc/passwd");
	CHECK_EQ(ctl_s3_key_check(t.key, t.key_len), -EPERM);

	CHECK_EQ(ctl_s3_target_parse("logs/a", &t), -EINVAL);
	CHECK_EQ(ctl_s3_target_parse("//a", &t), -EINVAL);
	CHECK_EQ(ctl_s3_target_parse("/Logs/a", &t), -EBADR);
	CHECK_EQ(ctl_s3_target_parse("/l%6Fgs/a", &t), 0);
	CHECK_STR(t.bucket, "logs");
	CHECK_EQ(ctl_s3_target_parse("/lo%2fgs/a", &t), -EBADR);
	CHECK_EQ(ctl_s3_target_parse("/logs/a%00b", &t), -EINVAL);
	CHECK_EQ(ctl_s3_target_parse("/logs/a%zz", &t), -EINVAL);
	char longp[1200] = "/logs/";
	memset(longp + 6, 'k', 1025);
	CHECK_EQ(ctl_s3_target_parse(longp, &t), -ENAMETOOLONG);
	longp[6 + 1024] = '\0';
	CHECK_EQ(ctl_s3_target_parse(longp, &t), 0);
	CHECK_EQ(t.key_len, 1024u);
	char longb[300] = "/";
	memset(longb + 1, 'b', 250);
	CHECK_EQ(ctl_s3_target_parse(longb, &t), -EBADR);
}

static int kc(const char *k)
{
	return ctl_s3_key_check(k, strlen(k));
}

static void test_key_check(void)
{
	CHECK_EQ(kc("a"), 0);
	CHECK_EQ(kc("2026/11/28/part-0001.gz"), 0);
	CHECK_EQ(kc("a..b/c.d"), 0);
	CHECK_EQ(kc("caf\xc3\xa9"), 0);
	/* Ways out of the bucket are refused. */
	CHECK_EQ(kc(".."), -EPERM);
	CHECK_EQ(kc("../x"), -EPERM);
	CHECK_EQ(kc("a/../../x"), -EPERM);
	CHECK_EQ(kc("a/.."), -EPERM);
	CHECK_EQ(kc("./a"), -EPERM);
	CHECK_EQ(kc("a/./b"), -EPERM);
	CHECK_EQ(kc("/etc/passwd"), -EPERM);
	CHECK_EQ(ctl_s3_key_check("a\0b", 3), -EPERM);
	/* A hidden segment before a ".." still gets the refusal, not "no such key". */
	CHECK_EQ(kc(".tmp/../x"), -EPERM);
	/* Never served: delivery's dot files, empty segments, not UTF-8. */
	CHECK_EQ(kc(".part-1.tmp"), -ENOENT);
	CHECK_EQ(kc("a/.hidden"), -ENOENT);
	CHECK_EQ(kc("a/.x/b"), -ENOENT);
	CHECK_EQ(kc("a//b"), -ENOENT);
	CHECK_EQ(kc("a/"), -ENOENT);
	CHECK_EQ(kc(""), -ENOENT);
	CHECK_EQ(kc("caf\xe9"), -ENOENT);
}

static void test_utf8(void)
{
	CHECK(ctl_s3_utf8_valid("plain", 5));
	CHECK(ctl_s3_utf8_valid("\xe2\x82\xac\xf0\x9f\x98\x80", 7));
	CHECK(!ctl_s3_utf8_valid("\xc0\xaf", 2));          /* overlong '/' */
	CHECK(!ctl_s3_utf8_valid("\xed\xa0\x80", 3));      /* surrogate */
	CHECK(!ctl_s3_utf8_valid("\xf4\x90\x80\x80", 4));  /* past U+10FFFF */
	CHECK(!ctl_s3_utf8_valid("\xe2\x82", 2));          /* cut short */
	CHECK(!ctl_s3_utf8_valid("\x80", 1));
	CHECK(!ctl_s3_utf8_valid("\xff", 1));
}

static void test_query(void)
{
	char v[16];
	const char *q = "list-type=2&prefix=a%2Fb+c&delimiter=%2F&fetch-owner&max-keys=";
	CHECK_EQ(ctl_s3_query_get(q, "list-type", v, sizeof(v)), 1);
	CHECK_STR(v, "2");
	CHECK_EQ(ctl_s3_query_get(q, "prefix", v, sizeof(v)), 1);
	CHECK_STR(v, "a/b c");
	CHECK_EQ(ctl_s3_query_get(q, "delimiter", v, sizeof(v)), 1);
	CHECK_STR(v, "/");
	CHECK_EQ(ctl_s3_query_get(q, "fetch-owner", v, sizeof(v)), 1);
	CHECK_STR(v, "");
	CHECK_EQ(ctl_s3_query_get(q, "max-keys", v, sizeof(v)), 1);
	CHECK_STR(v, "");
	CHECK_EQ(ctl_s3_query_get(q, "marker", v, sizeof(v)), 0);
	CHECK_EQ(ctl_s3_query_get(q, "list", v, sizeof(v)), 0);
	CHECK_EQ(ctl_s3_query_get("", "prefix", v, sizeof(v)), 0);
	CHECK_EQ(ctl_s3_query_get(NULL, "prefix", v, sizeof(v)), 0);
	/* An escaped parameter name is the same parameter. */
	CHECK_EQ(ctl_s3_query_get("list%2Dtype=2", "list-type", v, sizeof(v)), 1);
	CHECK_EQ(ctl_s3_query_get("prefix=%zz", "prefix", v, sizeof(v)), -EINVAL);
	CHECK_EQ(ctl_s3_query_get("prefix=%00", "prefix", v, sizeof(v)), -EINVAL);
	CHECK_EQ(ctl_s3_query_get("prefix=0123456789abcdef", "prefix", v, sizeof(v)),
		 -ENAMETOOLONG);
	CHECK_EQ(ctl_s3_query_get("&&prefix=x&", "prefix", v, sizeof(v)), 1);
	CHECK_STR(v, "x");
}

static void test_range(void)
{
	uint64_t a = 7, b = 7;
	CHECK_EQ(ctl_s3_range_parse(NULL, 100, &a, &b), 0);
	CHECK_EQ(ctl_s3_range_parse("bytes=0-9", 100, &a, &b), 1);
	CHECK_EQ_U64(a, 0);
	CHECK_EQ_U64(b, 9);
	CHECK_EQ(ctl_s3_range_parse("bytes=90-", 100, &a, &b), 1);
	CHECK_EQ_U64(a, 90);
	CHECK_EQ_U64(b, 99);
	CHECK_EQ(ctl_s3_range_parse("bytes=90-1000", 100, &a, &b), 1);
	CHECK_EQ_U64(b, 99);
	CHECK_EQ(ctl_s3_range_parse("bytes=-10", 100, &a, &b), 1);
	CHECK_EQ_U64(a, 90);
	CHECK_EQ_U64(b, 99);
	CHECK_EQ(ctl_s3_range_parse("bytes=-1000", 100, &a, &b), 1);
	CHECK_EQ_U64(a, 0);
	CHECK_EQ(ctl_s3_range_parse("BYTES=5-5 ", 100, &a, &b), 1);
	CHECK_EQ_U64(a, 5);
	CHECK_EQ_U64(b, 5);
	/* Unsatisfiable: 416. */
	CHECK_EQ(ctl_s3_range_parse("bytes=100-", 100, &a, &b), -ERANGE);
	CHECK_EQ(ctl_s3_range_parse("bytes=100-200", 100, &a, &b), -ERANGE);
	CHECK_EQ(ctl_s3_range_parse("bytes=-0", 100, &a, &b), -ERANGE);
	CHECK_EQ(ctl_s3_range_parse("bytes=0-", 0, &a, &b), -ERANGE);
	CHECK_EQ(ctl_s3_range_parse("bytes=-5", 0, &a, &b), -ERANGE);
	/* Not one byte range: ignored, the whole object is sent. */
	CHECK_EQ(ctl_s3_range_parse("bytes=0-1,5-6", 100, &a, &b), 0);
	CHECK_EQ(ctl_s3_range_parse("bytes=9-1", 100, &a, &b), 0);
	CHECK_EQ(ctl_s3_range_parse("bytes=a-1", 100, &a, &b), 0);
	CHECK_EQ(ctl_s3_range_parse("bytes=-", 100, &a, &b), 0);
	CHECK_EQ(ctl_s3_range_parse("bytes=1", 100, &a, &b), 0);
	CHECK_EQ(ctl_s3_range_parse("items=0-1", 100, &a, &b), 0);
	CHECK_EQ(ctl_s3_range_parse("bytes=+1-2", 100, &a, &b), 0);
	CHECK_EQ(ctl_s3_range_parse("bytes=99999999999999999999-", 100, &a, &b), 0);
}

static void test_tokens(void)
{
	char tok[64], after[32];
	bool prefix = true;
	CHECK_EQ(ctl_s3_token_encode("a/b", 3, false, tok, sizeof(tok)), 0);
	CHECK_EQ(ctl_s3_token_decode(tok, after, sizeof(after), &prefix), 0);
	CHECK_STR(after, "a/b");
	CHECK(!prefix);
	CHECK_EQ(ctl_s3_token_encode("a/b/c", 2, true, tok, sizeof(tok)), 0);
	CHECK_EQ(ctl_s3_token_decode(tok, after, sizeof(after), &prefix), 0);
	CHECK_STR(after, "a/");
	CHECK(prefix);
	CHECK_EQ(ctl_s3_token_encode("abc", 3, false, tok, 4), -ENAMETOOLONG);
	/* Tokens this server did not issue. */
	CHECK_EQ(ctl_s3_token_decode("", after, sizeof(after), &prefix), -EINVAL);
	CHECK_EQ(ctl_s3_token_decode("not base64!", after, sizeof(after), &prefix), -EINVAL);
	CHECK_EQ(ctl_s3_token_decode("WGFi", after, sizeof(after), &prefix), -EINVAL); /* "Xab" */
	CHECK_EQ(ctl_s3_token_decode("SwBi", after, sizeof(after), &prefix), -EINVAL); /* K\0b */
	CHECK_EQ(ctl_s3_token_decode("S2FiY2RlZmdoaWprbG1ub3BxcnN0dXZ3eHl6MDEyMzQ1Njc4OQ==",
				     after, 8, &prefix), -EINVAL);  /* too long for after */
}

int main(void)
{
	DP_TEST_RUN(test_bucket_names);
	DP_TEST_RUN(test_decode);
	DP_TEST_RUN(test_target_parse);
	DP_TEST_RUN(test_key_check);
	DP_TEST_RUN(test_utf8);
	DP_TEST_RUN(test_query);
	DP_TEST_RUN(test_range);
	DP_TEST_RUN(test_tokens);
	return dp_test_done();
}
