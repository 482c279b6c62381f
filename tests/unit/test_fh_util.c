/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for the Firehose delivery helpers: prefix expressions (evaluation, Firehose's
 * default time layout, what is refused), partition key sanitizing, object names, every codec's
 * round trip (Snappy framing and Hadoop blocks checked byte by byte against their formats), and
 * the atomic object writer, which must never leave its bucket.
 */
#include "ctl_firehose_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dp_crc32c.h"
#include "dp_test.h"

/* 2024-02-29 13:05:09 UTC */
#define TS 1709211909000LL

static void test_fh_prefix_eval_expressions(void)
{
	char out[600];
	struct fh_keys k = { 0 };
	CHECK_EQ(fh_keys_add(&k, "customer", "acme", 4), 0);
	int n = fh_prefix_eval("a/!{timestamp:yyyy/MM/dd}/c=!{partitionKeyFromQuery:customer}/",
			       FH_PREFIX_DATA, TS, NULL, &k, out, sizeof(out));
	CHECK_EQ(n, (int)strlen("a/2024/02/29/c=acme/"));
	CHECK_STR(out, "a/2024/02/29/c=acme/");
	/* no expression: Firehose's YYYY/MM/DD/HH/ follows the prefix */
	CHECK_EQ(fh_prefix_eval("logs/", FH_PREFIX_DATA, TS, NULL, NULL, out, sizeof(out)), 19);
	CHECK_STR(out, "logs/2024/02/29/13/");
	CHECK_EQ(fh_prefix_eval(NULL, FH_PREFIX_DATA, TS, NULL, NULL, out, sizeof(out)), 14);
	CHECK_STR(out, "2024/02/29/13/");
	CHECK(fh_prefix_eval("e/!{firehose:error-output-type}/!{timestamp:yy-HH.mm.ss}/",
			     FH_PREFIX_ERROR, TS, "processing-failed", NULL, out, sizeof(out)) > 0);
	CHECK_STR(out, "e/processing-failed/24-13.05.09/");
	/* random strings: 11 alphanumerics, new per occurrence */
	CHECK_EQ(fh_prefix_eval("!{firehose:random-string}/!{firehose:random-string}", FH_PREFIX_DATA,
				TS, NULL, NULL, out, sizeof(out)), 23);
	CHECK_EQ(strspn(out, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"), 11);
	CHECK(out[11] == '/' && memcmp(out, out + 12, 11) != 0);
	/* a missing key */
	CHECK_EQ(fh_prefix_eval("!{partitionKeyFromQuery:nope}/", FH_PREFIX_DATA, TS, NULL, &k, out,
				sizeof(out)), -ENOENT);
	/* 512 characters at most */
	char big[700];
	memset(big, 'a', 520);
	strcpy(big + 520, "/!{timestamp:yyyy}");
	CHECK_EQ(fh_prefix_eval(big, FH_PREFIX_DATA, TS, NULL, NULL, out, sizeof(out)), -ENAMETOOLONG);
}

static void test_fh_prefix_check_refuses_escapes(void)
{
	char why[200];
	static const char *const bad[] = {
		"../x/", "/abs/", "a/../b/", "a/./b/", "a//b/", "..", "x\\y/", "a\x01/",
		"!{timestamp:yyyy}/../", "!{timestamp:yyyy", "!{nope:x}/", "!{firehose:bogus}/",
		"!{timestamp:yyyyy}/", "!{timestamp:QQ}/", "!{timestamp:}/", "a!{b", "!{}",
		"!{partitionKeyFromQuery:}/", "!{firehose:error-output-type}/",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int r = fh_prefix_check(bad[i], FH_PREFIX_DATA, true, why, sizeof(why));
		CHECK_EQ(r, -EINVAL);
		if (r == 0)
			printf("# accepted: %s\n", bad[i]);
	}
	static const char *const good[] = {
		"", "logs/", "a/!{timestamp:yyyy/MM/dd/HH}/", "x=!{partitionKeyFromQuery:k}/",
		"!{partitionKeyFromLambda:a}/!{partitionKeyFromQuery:b}/", "r/!{firehose:random-string}/",
		"a..b/", "...x/",
	};
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		CHECK_EQ(fh_prefix_check(good[i], FH_PREFIX_DATA, true, why, sizeof(why)), 0);
	/* partition keys need dynamic partitioning and are not for error prefixes */
	CHECK_EQ(fh_prefix_check("!{partitionKeyFromQuery:k}/", FH_PREFIX_DATA, false, why,
				 sizeof(why)), -EINVAL);
	CHECK_EQ(fh_prefix_check("!{partitionKeyFromQuery:k}/", FH_PREFIX_ERROR, true, why,
				 sizeof(why)), -EINVAL);
	CHECK_EQ(fh_prefix_check("e/!{firehose:error-output-type}/", FH_PREFIX_ERROR, false, why,
				 sizeof(why)), 0);
}

static void test_fh_keys_sanitized(void)
{
	struct fh_keys k = { 0 };
	char out[600];
	CHECK_EQ(fh_keys_add(&k, "a", "../../etc/passwd", 16), 0);
	CHECK_EQ(fh_keys_add(&k, "b", "..", 2), 0);
	CHECK_EQ(fh_keys_add(&k, "c", ".", 1), 0);
	CHECK_EQ(fh_keys_add(&k, "d", "x\0y\n", 4), 0);
	CHECK_STR(k.value[0], ".._.._etc_passwd");
	CHECK_STR(k.value[1], "__");
	CHECK_STR(k.value[2], "_");
	CHECK(memcmp(k.value[3], "x_y_", 5) == 0);
	CHECK(fh_prefix_eval("!{partitionKeyFromQuery:b}/!{partitionKeyFromQuery:a}/", FH_PREFIX_DATA,
			     TS, NULL, &k, out, sizeof(out)) > 0);
	CHECK_STR(out, "__/.._.._etc_passwd/");
	CHECK(fh_key_safe(out));
	CHECK_EQ(fh_keys_add(&k, "", "x", 1), -EINVAL);
	for (int i = k.n; i < FH_KEYS_MAX; i++)
		fh_keys_add(&k, "z", "z", 1);
	CHECK_EQ(fh_keys_add(&k, "over", "x", 1), -ENOSPC);
	CHECK(!fh_key_safe("") && !fh_key_safe("/a") && !fh_key_safe("a/../b") &&
	      !fh_key_safe("..") && !fh_key_safe("a//b") && !fh_key_safe("a/.") &&
	      !fh_key_safe("a\\b") && !fh_key_safe("a\tb"));
	CHECK(fh_key_safe("a/b/") && fh_key_safe("a..b") && fh_key_safe(".hidden"));
}

static void test_fh_object_name_and_bucket(void)
{
	char n[200];
	CHECK(fh_object_name("s1", 3, TS, ".gz", n, sizeof(n)) > 0);
	CHECK(strncmp(n, "s1-3-2024-02-29-13-05-09-", 25) == 0);
	CHECK_EQ(strlen(n), 25 + 36 + 3);
	CHECK(n[25 + 14] == '4');  /* UUID version 4 */
	CHECK_STR(n + 61, ".gz");
	CHECK_EQ(fh_object_name("s1", 3, TS, "", n, 20), -ENAMETOOLONG);
	CHECK_STR(fh_bucket_of("arn:aws:s3:::my-bucket.x"), "my-bucket.x");
	CHECK(fh_bucket_of("arn:aws:s3:::..") == NULL);
	CHECK(fh_bucket_of("arn:aws:s3:::a/b") == NULL);
	CHECK(fh_bucket_of("arn:aws:s3:::ab") == NULL);
	CHECK(fh_bucket_of("arn:aws:s3:::a..b") == NULL);
	CHECK(fh_bucket_of("arn:aws:s3:::UPPER") == NULL);
	CHECK(fh_bucket_of("arn:aws:sqs:::abc") == NULL);
}

static void round_trip(enum fh_codec c, const uint8_t *in, size_t n)
{
	struct fh_buf z = { 0 }, back = { 0 };
	CHECK_EQ(fh_compress(c, in, n, "entry", &z), 0);
	CHECK_EQ(fh_decompress(c, z.p, z.len, &back), 0);
	CHECK_EQ(back.len, n);
	CHECK(n == 0 || (back.p && memcmp(back.p, in, n) == 0));
	/* a damaged object is refused, not misread (a small ZIP's middle is its directory, whose
	 * names and dates nothing checks) */
	if (c != FH_UNCOMPRESSED && z.len > 16 && (c != FH_ZIP || n >= 1000)) {
		struct fh_buf bad = { 0 };
		z.p[z.len / 2] ^= 0x55;
		int r = fh_decompress(c, z.p, z.len, &bad);
		bool caught = r < 0 || bad.len != n || memcmp(bad.p, in, n) != 0;
		CHECK(caught);
		if (!caught)
			printf("# %s: a damaged %zu-byte object of %zu bytes decoded\n", fh_codec_name(c),
			       z.len, n);
		fh_buf_free(&bad);
	}
	fh_buf_free(&z);
	fh_buf_free(&back);
}

static void test_fh_codecs_round_trip(void)
{
	static uint8_t data[600000];
	dp_test_fill(7, data, sizeof(data));
	for (size_t i = 0; i < sizeof(data) / 2; i++)
		data[i] = (uint8_t)("{\"k\":\"value\",\"n\":12345}"[i % 24]);  /* compressible half */
	static const size_t sizes[] = { 0, 1, 100, 65535, 65536, 65537, 262144, 300001,
					sizeof(data) };
	for (int c = 0; c < FH_CODEC_COUNT; c++) {
		for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
			round_trip((enum fh_codec)c, data, sizes[i]);
		enum fh_codec back;
		CHECK_EQ(fh_codec_parse(fh_codec_name((enum fh_codec)c), &back), 0);
		CHECK_EQ(back, (enum fh_codec)c);
	}
	enum fh_codec x;
	CHECK_EQ(fh_codec_parse("snappy", &x), -EINVAL);
	CHECK_STR(fh_codec_ext(FH_GZIP), ".gz");
}

static void test_fh_snappy_formats(void)
{
	static uint8_t in[70000];
	memset(in, 'a', sizeof(in));
	struct fh_buf z = { 0 };
	CHECK_EQ(fh_compress(FH_SNAPPY, in, sizeof(in), NULL, &z), 0);
	/* stream identifier, then a compressed chunk of 64 KiB with the masked CRC32C */
	CHECK(memcmp(z.p, "\xff\x06\x00\x00sNaPpY", 10) == 0);
	CHECK_EQ(z.p[10], 0x00);
	uint32_t crc = dp_crc32c(0, in, 65536);
	uint32_t masked = ((crc >> 15) | (crc << 17)) + 0xa282ead8u;
	CHECK_EQ((uint32_t)(z.p[14] | z.p[15] << 8 | z.p[16] << 16 | (uint32_t)z.p[17] << 24), masked);
	fh_buf_free(&z);
	CHECK_EQ(fh_compress(FH_HADOOP_SNAPPY, in, sizeof(in), NULL, &z), 0);
	CHECK_EQ((uint32_t)(z.p[0] << 24 | z.p[1] << 16 | z.p[2] << 8 | z.p[3]), sizeof(in));
	uint32_t clen = (uint32_t)(z.p[4] << 24 | z.p[5] << 16 | z.p[6] << 8 | z.p[7]);
	CHECK_EQ(clen + 8, z.len);
	fh_buf_free(&z);
	/* garbage is refused */
	struct fh_buf out = { 0 };
	CHECK(fh_decompress(FH_SNAPPY, "\x00\x05\x00\x00" "abcde", 9, &out) < 0);
	CHECK(fh_decompress(FH_HADOOP_SNAPPY, "\x00\x00\x00\x05\x00\x00\x00\x09" "xx", 10, &out) < 0);
	fh_buf_free(&out);
}

static void test_fh_object_write_atomic_and_contained(void)
{
	char root[] = "/tmp/fh-util-XXXXXX";
	REQUIRE(mkdtemp(root) != NULL);
	CHECK_EQ(fh_object_write(root, "bkt", "a/b/c.txt", "hello", 5), 0);
	char p[256];
	snprintf(p, sizeof(p), "%s/bkt/a/b/c.txt", root);
	FILE *f = fopen(p, "rb");
	char buf[16] = "";
	CHECK(f && fread(buf, 1, sizeof(buf), f) == 5 && memcmp(buf, "hello", 5) == 0);
	if (f)
		fclose(f);
	/* overwriting replaces the whole object */
	CHECK_EQ(fh_object_write(root, "bkt", "a/b/c.txt", "hi", 2), 0);
	struct stat st;
	CHECK(stat(p, &st) == 0 && st.st_size == 2);
	static const char *const bad_keys[] = { "../x", "/etc/x", "a/../../x", "a//b", "", "a/./b" };
	for (size_t i = 0; i < sizeof(bad_keys) / sizeof(bad_keys[0]); i++)
		CHECK_EQ(fh_object_write(root, "bkt", bad_keys[i], "x", 1), -EINVAL);
	CHECK_EQ(fh_object_write(root, "..", "x", "x", 1), -EINVAL);
	CHECK_EQ(fh_object_write(root, "a/b", "x", "x", 1), -EINVAL);
	snprintf(p, sizeof(p), "%s/x", root);
	CHECK(access(p, F_OK) != 0);
	/* no temp file left behind */
	snprintf(p, sizeof(p), "ls -A %s/bkt/a/b | grep -c '^\\.' >/dev/null", root);
	CHECK(system(p) != 0);
	snprintf(p, sizeof(p), "rm -rf %s", root);
	CHECK_EQ(system(p), 0);
}

static void test_fh_error_line_shape(void)
{
	struct fh_buf b = { 0 };
	CHECK_EQ(fh_error_line(&b, 2, 1000, "Lambda.ProcessingFailed", "m", "ab", 2, "arn:x"), 0);
	CHECK(b.len > 0 && b.p[b.len - 1] == '\n');
	b.p[b.len - 1] = 0;
	CHECK(strstr((char *)b.p, "\"attemptsMade\":2") != NULL);
	CHECK(strstr((char *)b.p, "\"rawData\":\"YWI=\"") != NULL);
	CHECK(strstr((char *)b.p, "\"lambdaArn\":\"arn:x\"") != NULL);
	fh_buf_free(&b);
}

int main(void)
{
	DP_TEST_RUN(test_fh_prefix_eval_expressions);
	DP_TEST_RUN(test_fh_prefix_check_refuses_escapes);
	DP_TEST_RUN(test_fh_keys_sanitized);
	DP_TEST_RUN(test_fh_object_name_and_bucket);
	DP_TEST_RUN(test_fh_codecs_round_trip);
	DP_TEST_RUN(test_fh_snappy_formats);
	DP_TEST_RUN(test_fh_object_write_atomic_and_contained);
	DP_TEST_RUN(test_fh_error_line_shape);
	return dp_test_done();
}
