/* SPDX-License-Identifier: MIT */
/*
 * ctl_s3's listing pages (prefix, delimiter roll-up, start-after, a common prefix as the place to
 * continue from, max-keys, truncation) on key arrays, then the whole service through
 * ctl_aws_invoke over a temporary tree: what is listed and served and what never is (dot files,
 * symlinks out of the root, FIFOs), paging a bucket to its end, ranges, ETags, errors.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ctl_s3.h"
#include "dp_test.h"

static char *const keys[] = {
	"a.txt", "dir/", "dir/x", "dir/y/z", "dir0", "dirx/1", "e", "f/g", "f/h", "\xc3\xa9t\xc3\xa9",
};
#define NKEYS (sizeof(keys) / sizeof(keys[0]))

/* One page as "k:KEY p:PREFIX ..." plus "|T" when truncated. */
static void page(const struct ctl_s3_list_query *q, char *out, size_t n)
{
	struct ctl_s3_item items[CTL_S3_MAX_KEYS];
	bool trunc;
	size_t ni = ctl_s3_list_page(keys, NKEYS, q, items, &trunc);
	out[0] = '\0';
	for (size_t i = 0; i < ni; i++) {
		size_t l = strlen(out);
		snprintf(out + l, n - l, "%s%c:%.*s", i ? " " : "", items[i].prefix ? 'p' : 'k',
			 (int)items[i].len, keys[items[i].idx]);
	}
	if (trunc)
		strncat(out, "|T", n - strlen(out) - 1);
}

static void test_page_plain(void)
{
	char out[512];
	struct ctl_s3_list_query q = { "", "", "", false, 1000 };
	page(&q, out, sizeof(out));
	CHECK_STR(out, "k:a.txt k:dir/ k:dir/x k:dir/y/z k:dir0 k:dirx/1 k:e k:f/g k:f/h "
		  "k:\xc3\xa9t\xc3\xa9");
	q.max_keys = 3;
	page(&q, out, sizeof(out));
	CHECK_STR(out, "k:a.txt k:dir/ k:dir/x|T");
	q.after = "dir/x";
	page(&q, out, sizeof(out));
	CHECK_STR(out, "k:dir/y/z k:dir0 k:dirx/1|T");
	/* A start-after between keys, and past the end. */
	q.after = "dir/xx";
	page(&q, out, sizeof(out));
	CHECK_STR(out, "k:dir/y/z k:dir0 k:dirx/1|T");
	q.after = "\xc3\xa9t\xc3\xa9";
	page(&q, out, sizeof(out));
	CHECK_STR(out, "");
	/* Exactly max-keys left: not truncated. */
	q.after = "f/g";
	q.max_keys = 2;
	page(&q, out, sizeof(out));
	CHECK_STR(out, "k:f/h k:\xc3\xa9t\xc3\xa9");
	/* max-keys 0: nothing, truncated when something would follow. */
	q.after = "";
	q.max_keys = 0;
	page(&q, out, sizeof(out));
	CHECK_STR(out, "|T");
}

static void test_page_prefix_delimiter(void)
{
	char out[512];
	struct ctl_s3_list_query q = { "", "/", "", false, 1000 };
	page(&q, out, sizeof(out));
	CHECK_STR(out, "k:a.txt p:dir/ k:dir0 p:dirx/ k:e p:f/ k:\xc3\xa9t\xc3\xa9");
	q.prefix = "dir/";
	page(&q, out, sizeof(out));
	CHECK_STR(out, "k:dir/ k:dir/x p:dir/y/");
	q.prefix = "dir";
	page(&q, out, sizeof(out));
	CHECK_STR(out, "p:dir/ k:dir0 p:dirx/");
	q.prefix = "nothing";
	page(&q, out, sizeof(out));
	CHECK_STR(out, "");
	/* A delimiter of several bytes. */
	q.prefix = "";
	q.delimiter = "r/";
	page(&q, out, sizeof(out));
	CHECK_STR(out, "k:a.txt p:dir/ k:dir0 k:dirx/1 k:e k:f/g k:f/h k:\xc3\xa9t\xc3\xa9");

	/* Paging with a delimiter: a page that ends on a common prefix continues after all of
	 * it, so no prefix is given twice and no key under it comes back. */
	q.delimiter = "/";
	q.max_keys = 2;
	page(&q, out, sizeof(out));
	CHECK_STR(out, "k:a.txt p:dir/|T");
	q.after = "dir/";
	q.after_is_prefix = true;
	page(&q, out, sizeof(out));
	CHECK_STR(out, "k:dir0 p:dirx/|T");
	q.after = "dirx/";
	page(&q, out, sizeof(out));
	CHECK_STR(out, "k:e p:f/|T");
	q.after = "f/";
	page(&q, out, sizeof(out));
	CHECK_STR(out, "k:\xc3\xa9t\xc3\xa9");
	/* Without the prefix flag, the same place would give dir/'s prefix again. */
	q.after = "dir/";
	q.after_is_prefix = false;
	page(&q, out, sizeof(out));
	CHECK_STR(out, "p:dir/ k:dir0|T");
}

/* ---- the service over a temporary tree ---- */

struct answer {
	unsigned status;
	char ctype[64];
	char *body;
	size_t len;
	char hdr[512];
};

static void collect(void *arg, unsigned status, const char *ctype, char *body, size_t len,
		    const char *rid, const char *const *headers)
{
	struct answer *a = arg;
	(void)rid;
	a->status = status;
	snprintf(a->ctype, sizeof(a->ctype), "%s", ctype ? ctype : "");
	free(a->body);
	a->body = calloc(1, len + 1);
	if (a->body && body)
		memcpy(a->body, body, len);
	a->len = len;
	a->hdr[0] = '\0';
	for (size_t i = 0; headers && headers[i] && headers[i + 1]; i += 2) {
		size_t l = strlen(a->hdr);
		snprintf(a->hdr + l, sizeof(a->hdr) - l, "%s=%s;", headers[i], headers[i + 1]);
	}
	free(body);
}

static struct ctl_aws *aws;
static char root[256];

static void req(const char *method, const char *path, const char *query, const char *range,
		struct answer *a)
{
	struct ctl_sigv4_header h[] = { { "Range", range } };
	struct ctl_aws_request r = { .method = method, .path = path, .query = query,
				     .hdrs = h, .n_hdrs = range ? 1 : 0, .body = "", .len = 0 };
	ctl_aws_call_free(ctl_aws_invoke(aws, &r, collect, a));
}

static void put(const char *rel, const char *text)
{
	char p[512];
	snprintf(p, sizeof(p), "%s/%s", root, rel);
	/* Make the parents. */
	for (char *s = p + strlen(root) + 1; (s = strchr(s, '/')); s++) {
		*s = '\0';
		mkdir(p, 0755);
		*s = '/';
	}
	FILE *f = fopen(p, "w");
	REQUIRE(f);
	fputs(text, f);
	fclose(f);
}

static bool has(const struct answer *a, const char *s)
{
	return a->body && strstr(a->body, s) != NULL;
}

static void test_service(void)
{
	snprintf(root, sizeof(root), "/tmp/test_s3_XXXXXX");
	REQUIRE(mkdtemp(root));
	put("logs/2026/11/a.json", "hello");
	put("logs/2026/11/b.bin", "0123456789");
	put("logs/2026/.part.tmp", "half");          /* delivery's temporary file */
	put("logs/.staging/x", "half");
	put("logs/k&<>.txt", "x");
	put("other-bucket/o", "o");
	put("Not_A_Bucket/o", "o");
	put("outside/secret", "secret");
	char p[512], t[512];
	snprintf(p, sizeof(p), "%s/outside/secret", root);
	snprintf(t, sizeof(t), "%s/logs/link", root);
	REQUIRE(symlink(p, t) == 0);
	snprintf(p, sizeof(p), "%s/outside", root);
	snprintf(t, sizeof(t), "%s/logs/dirlink", root);
	REQUIRE(symlink(p, t) == 0);
	snprintf(t, sizeof(t), "%s/logs/fifo", root);
	REQUIRE(mkfifo(t, 0600) == 0);

	struct ctl_aws_config cfg = { 0 };
	REQUIRE(ctl_aws_new(&cfg, &aws) == 0);
	struct ctl_s3 *s3;
	REQUIRE(ctl_s3_new(root, &s3) == 0);
	REQUIRE(ctl_s3_register(s3, aws) == 0);
	struct answer a = { 0 };

	req("GET", "/", "", NULL, &a);
	CHECK_EQ(a.status, 200u);
	CHECK(has(&a, "<Bucket><Name>logs</Name><CreationDate>"));
	CHECK(has(&a, "<Name>other-bucket</Name>"));
	CHECK(!has(&a, "Not_A_Bucket"));
	CHECK(has(&a, "xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\""));

	req("GET", "/logs", "list-type=2", NULL, &a);
	CHECK_EQ(a.status, 200u);
	CHECK(has(&a, "<KeyCount>3</KeyCount>"));
	CHECK(has(&a, "<Key>2026/11/a.json</Key>"));
	CHECK(has(&a, "<Key>2026/11/b.bin</Key>"));
	CHECK(has(&a, "<Key>k&amp;&lt;&gt;.txt</Key>"));
	CHECK(has(&a, "<ETag>&quot;5d41402abc4b2a76b9719d911017c592&quot;</ETag>"));  /* "hello" */
	CHECK(has(&a, "<Size>10</Size>"));
	CHECK(!has(&a, "part.tmp") && !has(&a, "staging") && !has(&a, "link") &&
	      !has(&a, "fifo") && !has(&a, "secret"));

	/* Paging one key at a time reaches every key once, then stops. */
	char query[512] = "list-type=2&max-keys=1";
	const char *want[] = { "2026/11/a.json", "2026/11/b.bin", "k&amp;&lt;&gt;.txt" };
	for (int i = 0; i < 3; i++) {
		req("GET", "/logs", query, NULL, &a);
		CHECK_EQ(a.status, 200u);
		char k[64];
		snprintf(k, sizeof(k), "<Key>%s</Key>", want[i]);
		CHECK(has(&a, k));
		CHECK(has(&a, i < 2 ? "<IsTruncated>true" : "<IsTruncated>false"));
		const char *nt = a.body ? strstr(a.body, "<NextContinuationToken>") : NULL;
		CHECK((nt != NULL) == (i < 2));
		if (!nt)
			break;
		nt += strlen("<NextContinuationToken>");
		size_t tl = strcspn(nt, "<");
		/* base64's '+', '/' and '=' are escaped in the query, as clients do. */
		size_t ql = (size_t)snprintf(query, sizeof(query),
					      "list-type=2&max-keys=1&continuation-token=");
		for (size_t j = 0; j < tl && ql + 4 < sizeof(query); j++)
			ql += (size_t)snprintf(query + ql, sizeof(query) - ql,
					       strchr("+/=", nt[j]) ? "%%%02X" : "%c",
					       (unsigned char)nt[j]);
	}

	req("GET", "/logs", "list-type=2&delimiter=%2F&encoding-type=url", NULL, &a);
	CHECK(has(&a, "<CommonPrefixes><Prefix>2026/</Prefix></CommonPrefixes>"));
	CHECK(has(&a, "<Key>k%26%3C%3E.txt</Key>"));
	CHECK(has(&a, "<EncodingType>url</EncodingType>"));
	req("GET", "/logs", "list-type=2&prefix=2026%2F11%2Fb", NULL, &a);
	CHECK(has(&a, "<KeyCount>1</KeyCount>") && has(&a, "<Key>2026/11/b.bin</Key>"));

	/* ListObjects v1 with a delimiter names the NextMarker. */
	req("GET", "/logs", "delimiter=/&max-keys=1", NULL, &a);
	CHECK(has(&a, "<NextMarker>2026/</NextMarker>") && has(&a, "<Marker></Marker>"));
	req("GET", "/logs", "delimiter=/&max-keys=1&marker=2026/", NULL, &a);
	CHECK(has(&a, "<Key>k&amp;&lt;&gt;.txt</Key>") && has(&a, "<IsTruncated>false"));

	/* Bad listing parameters. */
	req("GET", "/logs", "list-type=2&max-keys=-1", NULL, &a);
	CHECK_EQ(a.status, 400u);
	CHECK(has(&a, "<Code>InvalidArgument</Code>"));
	req("GET", "/logs", "list-type=2&continuation-token=bogus", NULL, &a);
	CHECK_EQ(a.status, 400u);
	req("GET", "/logs", "list-type=2&encoding-type=xml", NULL, &a);
	CHECK_EQ(a.status, 400u);
	req("GET", "/logs", "list-type=3", NULL, &a);
	CHECK_EQ(a.status, 400u);
	req("GET", "/logs", "list-type=2&prefix=%zz", NULL, &a);
	CHECK_EQ(a.status, 400u);
	req("GET", "/nobucket", "list-type=2", NULL, &a);
	CHECK_EQ(a.status, 404u);
	CHECK(has(&a, "<Code>NoSuchBucket</Code>") && has(&a, "<Resource>/nobucket</Resource>"));

	/* Objects: whole, ranged, and what is never served. */
	req("GET", "/logs/2026/11/b.bin", "", NULL, &a);
	CHECK_EQ(a.status, 200u);
	CHECK_STR(a.body, "0123456789");
	CHECK_STR(a.ctype, "application/octet-stream");
	CHECK(strstr(a.hdr, "ETag=\"781e5e245d69b566979b86e28d23f2c7\";") != NULL);
	CHECK(strstr(a.hdr, "Last-Modified=") != NULL);
	req("GET", "/logs/2026/11/b.bin", "", "bytes=2-4", &a);
	CHECK_EQ(a.status, 206u);
	CHECK_STR(a.body, "234");
	CHECK(strstr(a.hdr, "Content-Range=bytes 2-4/10;") != NULL);
	req("GET", "/logs/2026/11/b.bin", "", "bytes=-3", &a);
	CHECK_STR(a.body, "789");
	req("GET", "/logs/2026/11/b.bin", "", "bytes=10-", &a);
	CHECK_EQ(a.status, 416u);
	CHECK(has(&a, "<Code>InvalidRange</Code>"));
	CHECK(strstr(a.hdr, "Content-Range=bytes */10;") != NULL);
	req("GET", "/logs/2026/11/a.json", "", NULL, &a);
	CHECK_STR(a.ctype, "application/json");
	req("HEAD", "/logs/2026/11/a.json", "", NULL, &a);
	CHECK_EQ(a.status, 200u);
	CHECK_EQ(a.len, 0u);
	req("HEAD", "/logs", "", NULL, &a);
	CHECK_EQ(a.status, 200u);
	req("HEAD", "/nobucket", "", NULL, &a);
	CHECK_EQ(a.status, 404u);

	const char *never[] = { "/logs/link", "/logs/dirlink/secret", "/logs/fifo",
				"/logs/2026/.part.tmp", "/logs/.staging/x", "/logs/2026",
				"/logs/2026/11/", "/logs/2026//11/a.json", "/logs/nothing" };
	for (size_t i = 0; i < sizeof(never) / sizeof(never[0]); i++) {
		req("GET", never[i], "", NULL, &a);
		CHECK_EQ(a.status, 404u);
		CHECK(has(&a, "<Code>NoSuchKey</Code>"));
	}
	const char *refused[] = { "/logs/..%2f..%2fetc/passwd", "/logs/../outside/secret",
				  "/logs/2026/./11/a.json", "/logs/%2Fetc%2Fpasswd" };
	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		req("GET", refused[i], "", NULL, &a);
		CHECK_EQ(a.status, 400u);
		CHECK(has(&a, "<Code>InvalidArgument</Code>"));
	}
	req("GET", "/logs/a%00b", "", NULL, &a);
	CHECK_EQ(a.status, 400u);
	req("GET", "/BAD/x", "", NULL, &a);
	CHECK_EQ(a.status, 400u);
	CHECK(has(&a, "<Code>InvalidBucketName</Code>"));
	req("GET", "/logs/x", "acl", NULL, &a);
	CHECK_EQ(a.status, 501u);
	req("GET", "/logs", "list-type=2&prefix=2026/11/a&fetch-owner=true", NULL, &a);
	CHECK(has(&a, "<Owner><ID>000000000000</ID>"));

	/* The front-end's own refusals come in S3's XML under S3's names. */
	struct ctl_aws_request big = { .method = "GET", .path = "/logs/x", .query = "",
				       .too_big = true };
	ctl_aws_call_free(ctl_aws_invoke(aws, &big, collect, &a));
	CHECK_EQ(a.status, 413u);
	CHECK(has(&a, "<Code>EntityTooLarge</Code>"));

	/* Writes are refused whatever they target. */
	const char *methods[] = { "PUT", "DELETE", "POST", "PATCH" };
	for (size_t i = 0; i < 4; i++) {
		req(methods[i], "/logs/2026/11/a.json", "", NULL, &a);
		CHECK_EQ(a.status, 405u);
		CHECK(has(&a, "<Code>MethodNotAllowed</Code>") && has(&a, "read-only"));
	}
	req("PUT", "/newbucket", "", NULL, &a);
	CHECK_EQ(a.status, 405u);
	snprintf(p, sizeof(p), "%s/logs/2026/11/a.json", root);
	struct stat st;
	CHECK(stat(p, &st) == 0 && st.st_size == 5);

	/* A rewritten file gets a new ETag (the cache keys on size and mtime). */
	put("logs/2026/11/a.json", "hello, again");
	req("GET", "/logs/2026/11/a.json", "", NULL, &a);
	CHECK(strstr(a.hdr, "ETag=\"5d41402abc4b2a76b9719d911017c592\"") == NULL);
	CHECK_STR(a.body, "hello, again");

	free(a.body);
	ctl_s3_free(s3);
	ctl_aws_free(aws);
	char cmd[300];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
	CHECK(system(cmd) == 0);
}

int main(void)
{
	DP_TEST_RUN(test_page_plain);
	DP_TEST_RUN(test_page_prefix_delimiter);
	DP_TEST_RUN(test_service);
	return dp_test_done();
}
