/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for cat_grok and cat_hsdb: Grok expansion (fields, types, CustomPatterns, the
 * library's log patterns on real lines), the errors for bad Grok (unknown names, invalid regex,
 * cycles, nesting, size limits) with the pattern and offset they name, and the one-database
 * matcher: Glue order of ids, prefilter confirmation by PCRE2, field extraction, a pathological
 * pattern bounded by the match limit, constructs refused up front, and the serialized cache.
 */
#include "cat_grok.h"
#include "cat_hsdb.h"

#include <string.h>
#include <unistd.h>

#include "dp_test.h"

static int compile(const char *pat, const char *custom, struct cat_grok **g, char *err, size_t n)
{
	return cat_grok_compile(pat, custom, g, err, n);
}

static void test_fields_and_types(void)
{
	struct cat_grok *g;
	char err[256];
	REQUIRE(compile("%{IP:client} %{NUMBER:bytes:long} %{NUMBER:t:float} %{WORD:ok:boolean} "
			"%{NOTSPACE:[http][verb]} %{INT:UNWANTED} (?<raw>x+)", NULL, &g, err,
			sizeof(err)) == 0);
	CHECK_EQ(g->n_fields, 6);
	CHECK_STR(g->fields[0].name, "client");
	CHECK_EQ(g->fields[0].type, CAT_GROK_STRING);
	CHECK_STR(g->fields[1].name, "bytes");
	CHECK_EQ(g->fields[1].type, CAT_GROK_BIGINT);
	CHECK_EQ(g->fields[2].type, CAT_GROK_DOUBLE);
	CHECK_EQ(g->fields[3].type, CAT_GROK_BOOLEAN);
	CHECK_STR(g->fields[4].name, "http_verb");
	CHECK_STR(g->fields[5].name, "raw");
	CHECK(strncmp(g->regex, "^(?:", 4) == 0);
	CHECK(strcmp(g->regex + g->regex_len - 2, ")$") == 0);
	cat_grok_free(g);

	/* A custom name shadows the library's. */
	REQUIRE(compile("%{WORD:w}", "WORD abc", &g, err, sizeof(err)) == 0);
	CHECK(strstr(g->regex, "(?<w>abc)") != NULL);
	cat_grok_free(g);
	CHECK(cat_grok_library("COMBINEDAPACHELOG") != NULL);
	CHECK(cat_grok_library_size() > 60);
}

static void test_bad_grok(void)
{
	struct cat_grok *g = NULL;
	char err[256];
	CHECK_EQ(compile("%{WORD:a} %{NOPE:b}", NULL, &g, err, sizeof(err)), -EINVAL);
	CHECK_STR(err, "unknown pattern name NOPE at offset 10 of GrokPattern");
	CHECK_EQ(compile("%{X}", "X %{Y}\nY %{MISSING}", &g, err, sizeof(err)), -EINVAL);
	CHECK_STR(err, "unknown pattern name MISSING at offset 0 of CustomPatterns line 2 (Y)");
	CHECK_EQ(compile("%{WORD", NULL, &g, err, sizeof(err)), -EINVAL);
	CHECK_STR(err, "unterminated %{ at offset 0 of GrokPattern");
	CHECK_EQ(compile("%{WORD:w:integer}", NULL, &g, err, sizeof(err)), -EINVAL);
	CHECK(strstr(err, "unknown type integer at offset 9") != NULL);
	CHECK_EQ(compile("%{WO-RD}", NULL, &g, err, sizeof(err)), -EINVAL);
	CHECK(strstr(err, "invalid pattern name WO-RD") != NULL);
	/* Invalid regex in a custom pattern: the line, the name and the offset in its body. */
	CHECK_EQ(compile("%{BAD}", "OK a+\nBAD x[a-", &g, err, sizeof(err)), -EINVAL);
	CHECK(strstr(err, "CustomPatterns line 2 (BAD): missing terminating ] for character "
		      "class at offset") != NULL);
	/* Invalid regex in GrokPattern itself: the offset is GrokPattern's, not the expansion's. */
	CHECK_EQ(compile("%{WORD} (ab", NULL, &g, err, sizeof(err)), -EINVAL);
	CHECK_STR(err, "GrokPattern: missing closing parenthesis at offset 11");
	CHECK_EQ(compile("%{IP} x{2,1}", NULL, &g, err, sizeof(err)), -EINVAL);
	CHECK(strstr(err, "GrokPattern: numbers out of order in {} quantifier at offset 11") != NULL);
	/* Recursion, direct and through others. */
	CHECK_EQ(compile("%{A}", "A x%{A}", &g, err, sizeof(err)), -EINVAL);
	CHECK_STR(err, "pattern A refers to itself: A -> A");
	CHECK_EQ(compile("%{A}", "A %{B}\nB %{C}\nC (%{A})?", &g, err, sizeof(err)), -EINVAL);
	CHECK_STR(err, "pattern A refers to itself: A -> B -> C -> A");
	/* Nesting deeper than the limit. */
	char custom[4096];
	size_t o = 0;
	for (int i = 0; i < CAT_GROK_DEPTH_MAX + 2; i++)
		o += (size_t)snprintf(custom + o, sizeof(custom) - o, "P%d %%{P%d}\n", i, i + 1);
	snprintf(custom + o, sizeof(custom) - o, "P%d x\n", CAT_GROK_DEPTH_MAX + 2);
	CHECK_EQ(compile("%{P0}", custom, &g, err, sizeof(err)), -E2BIG);
	CHECK(strstr(err, "nest deeper than 32") != NULL);
	/* Exponential growth: each level doubles the previous; refused at the size limit. */
	o = 0;
	for (int i = 0; i < 24; i++)
		o += (size_t)snprintf(custom + o, sizeof(custom) - o, "E%d %%{E%d}%%{E%d}\n", i, i + 1,
				      i + 1);
	snprintf(custom + o, sizeof(custom) - o, "E24 ab\n");
	CHECK_EQ(compile("%{E0}", custom, &g, err, sizeof(err)), -E2BIG);
	CHECK(strstr(err, "exceeds 65536 bytes") != NULL);
	/* Limits of Glue's API. */
	CHECK_EQ(compile("", NULL, &g, err, sizeof(err)), -EINVAL);
	char big[CAT_GROK_PATTERN_MAX + 2];
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	CHECK_EQ(compile(big, NULL, &g, err, sizeof(err)), -E2BIG);
	CHECK_EQ(compile("a\nb", NULL, &g, err, sizeof(err)), -EINVAL);
	CHECK_EQ(compile("%{X}", "X", &g, err, sizeof(err)), -EINVAL);
	CHECK(strstr(err, "CustomPatterns line 1") != NULL);
	CHECK(g == NULL);
}

struct got {
	char text[512];
};

static void on_field(void *arg, const char *name, const char *value, size_t len)
{
	struct got *g = arg;
	size_t o = strlen(g->text);
	snprintf(g->text + o, sizeof(g->text) - o, "%s=%.*s;", name, (int)len, value);
}

static char *regex_of(const char *pat, const char *custom)
{
	struct cat_grok *g;
	char err[256];
	if (compile(pat, custom, &g, err, sizeof(err)) != 0) {
		printf("# %s: %s\n", pat, err);
		return NULL;
	}
	char *r = strdup(g->regex);
	cat_grok_free(g);
	return r;
}

static void test_hsdb_match_and_extract(void)
{
	const char *pats[] = { "%{SYSLOGLINE}", "%{COMBINEDAPACHELOG}", "%{SYSLOGTIMESTAMP:ts} %{GREEDYDATA}",
			       "(a+)+", "%{WORD:w} %{WORD:w}" };
	char *re[5];
	for (int i = 0; i < 5; i++)
		REQUIRE((re[i] = regex_of(pats[i], NULL)) != NULL);
	struct cat_hsdb *db;
	struct cat_hsdb_scratch *s;
	char err[256];
	REQUIRE(cat_hsdb_new((const char *const *)re, 5, NULL, &db, err, sizeof(err)) == 0);
	REQUIRE(cat_hsdb_scratch_new(db, &s) == 0);
	struct cat_hsdb_info info;
	cat_hsdb_get_info(db, &info);
	CHECK_EQ(info.n_patterns, 5);
	CHECK(info.n_prefilter >= 2);  /* the log patterns use lookarounds and atomic groups */
	CHECK(!info.from_cache);

	static const char sl[] = "Mar  7 04:02:16 avas sshd[28712]: Accepted password for root";
	unsigned ids[5];
	CHECK_EQ(cat_hsdb_match(db, s, sl, strlen(sl), ids, 5), 2);
	CHECK_EQ(ids[0], 0);
	CHECK_EQ(ids[1], 2);
	/* max = 1: only the first in order. */
	CHECK_EQ(cat_hsdb_match(db, s, sl, strlen(sl), ids, 1), 1);
	CHECK_EQ(ids[0], 0);
	struct got g = { "" };
	CHECK_EQ(cat_hsdb_extract(db, s, 0, sl, strlen(sl), on_field, &g), 1);
	CHECK_STR(g.text, "logsource=avas;message=Accepted password for root;pid=28712;"
			  "program=sshd;timestamp=Mar  7 04:02:16;");

	/* The prefilter is a superset: "Mar 99 ..." passes Hyperscan's approximation of TIME
	 * nowhere, but a line PCRE2 refuses must not count. 123.456.1.1 is no IPV4 (octets). */
	static const char ap[] = "127.0.0.1 - - [10/Oct/2000:13:55:36 -0700] \"GET / HTTP/1.1\" 200 5 "
				 "\"-\" \"x\"";
	static const char ap_bad[] = "127.0.0.1 - - [10/Oct/2000:13:55:36 -0700] \"GET / HTTP/1.1\" 200 5 "
				     "\"-\" x";
	CHECK_EQ(cat_hsdb_match(db, s, ap, strlen(ap), ids, 5), 1);
	CHECK_EQ(ids[0], 1);
	CHECK_EQ(cat_hsdb_match(db, s, ap_bad, strlen(ap_bad), ids, 5), 0);

	/* Duplicate field names: one column, the first value that took part. */
	memset(&g, 0, sizeof(g));
	CHECK_EQ(cat_hsdb_extract(db, s, 4, "hello world", 11, on_field, &g), 1);
	CHECK_STR(g.text, "w=hello;");

	/* Catastrophic backtracking for PCRE2: bounded, counted, no match. */
	char evil[4000];
	memset(evil, 'a', sizeof(evil));
	evil[sizeof(evil) - 1] = '!';
	CHECK_EQ(cat_hsdb_match(db, s, evil, sizeof(evil), ids, 5), 0);
	CHECK_EQ(cat_hsdb_extract(db, s, 3, evil, sizeof(evil), on_field, &g), 0);
	CHECK(cat_hsdb_scratch_limited(s) >= 1);
	CHECK_EQ(cat_hsdb_extract(db, s, 9, evil, 1, on_field, &g), -EINVAL);

	cat_hsdb_scratch_free(s);
	cat_hsdb_free(db);
	for (int i = 0; i < 5; i++)
		free(re[i]);
}

static void test_hsdb_refusals(void)
{
	char err[256];
	CHECK_EQ(cat_hsdb_check("^(?:x(?R)?)$", 12, err, sizeof(err)), -EINVAL);
	CHECK(strstr(err, "recursion (?R) at offset 5 is not supported") != NULL);
	CHECK_EQ(cat_hsdb_check("(a)(?1)", 7, err, sizeof(err)), -EINVAL);
	CHECK(strstr(err, "a subroutine call (?n) at offset 3") != NULL);
	CHECK_EQ(cat_hsdb_check("a\\Kb", 4, err, sizeof(err)), -EINVAL);
	CHECK(strstr(err, "\\K (reset match start) at offset 1") != NULL);
	/* Too big for Hyperscan even as a prefilter: refused, never approximated away. */
	CHECK_EQ(cat_hsdb_check("(?:a{1000}){1000}", 17, err, sizeof(err)), -EINVAL);
	CHECK(strstr(err, "Bounded repeat is too large") != NULL);
	CHECK_EQ(cat_hsdb_check("(a)?(?(1)a|b)", 13, err, sizeof(err)), 0);  /* prefilter */
	CHECK_EQ(cat_hsdb_check("x(?=y)", 6, err, sizeof(err)), 0);     /* lookahead: prefilter */
	CHECK_EQ(cat_hsdb_check("(a)\\1", 5, err, sizeof(err)), 0);     /* backref: prefilter */
	CHECK_EQ(cat_hsdb_check("(?>a+)b", 7, err, sizeof(err)), 0);    /* atomic: prefilter */
	CHECK_EQ(cat_hsdb_check("a[", 2, err, sizeof(err)), -EINVAL);
	CHECK(strstr(err, "missing terminating ]") != NULL);
	const char *bad[] = { "a", "(?C1)b" };
	struct cat_hsdb *db;
	CHECK_EQ(cat_hsdb_new(bad, 2, NULL, &db, err, sizeof(err)), -EINVAL);
	CHECK(strstr(err, "pattern 1") != NULL);
	/* No patterns: nothing matches, nothing fails. */
	struct cat_hsdb_scratch *s;
	unsigned ids[1];
	REQUIRE(cat_hsdb_new(NULL, 0, NULL, &db, err, sizeof(err)) == 0);
	REQUIRE(cat_hsdb_scratch_new(db, &s) == 0);
	CHECK_EQ(cat_hsdb_match(db, s, "x", 1, ids, 1), 0);
	cat_hsdb_scratch_free(s);
	cat_hsdb_free(db);
}

static void test_hsdb_cache(void)
{
	char dir[] = "/tmp/test_cat_grok.XXXXXX";
	REQUIRE(mkdtemp(dir) != NULL);
	char *re[2] = { regex_of("%{SYSLOGLINE}", NULL), regex_of("%{WORD:a}=%{INT:b}", NULL) };
	REQUIRE(re[0] && re[1]);
	struct cat_hsdb *db;
	struct cat_hsdb_info a, b;
	char err[256];
	REQUIRE(cat_hsdb_new((const char *const *)re, 2, dir, &db, err, sizeof(err)) == 0);
	cat_hsdb_get_info(db, &a);
	cat_hsdb_free(db);
	CHECK(!a.from_cache);
	CHECK(a.cache_written);
	REQUIRE(cat_hsdb_new((const char *const *)re, 2, dir, &db, err, sizeof(err)) == 0);
	cat_hsdb_get_info(db, &b);
	CHECK(b.from_cache);
	CHECK_EQ(b.n_prefilter, a.n_prefilter);
	CHECK_EQ(b.db_bytes, a.db_bytes);
	struct cat_hsdb_scratch *s;
	unsigned ids[2];
	REQUIRE(cat_hsdb_scratch_new(db, &s) == 0);
	CHECK_EQ(cat_hsdb_match(db, s, "key=42", 6, ids, 2), 1);
	CHECK_EQ(ids[0], 1);
	cat_hsdb_scratch_free(s);
	cat_hsdb_free(db);

	/* A corrupt cache file is ignored and rewritten. */
	char cmd[512];
	snprintf(cmd, sizeof(cmd), "for f in %s/hsdb-*.bin; do printf garbage > \"$f\"; done", dir);
	REQUIRE(system(cmd) == 0);
	REQUIRE(cat_hsdb_new((const char *const *)re, 2, dir, &db, err, sizeof(err)) == 0);
	cat_hsdb_get_info(db, &b);
	CHECK(!b.from_cache);
	CHECK(b.cache_written);
	cat_hsdb_free(db);
	/* Another pattern set is another key. */
	char *one[1] = { re[1] };
	REQUIRE(cat_hsdb_new((const char *const *)one, 1, dir, &db, err, sizeof(err)) == 0);
	cat_hsdb_get_info(db, &b);
	CHECK(!b.from_cache);
	cat_hsdb_free(db);
	free(re[0]);
	free(re[1]);
	dp_test_rm_tree(dir);
}

int main(void)
{
	DP_TEST_RUN(test_fields_and_types);
	DP_TEST_RUN(test_bad_grok);
	DP_TEST_RUN(test_hsdb_match_and_extract);
	DP_TEST_RUN(test_hsdb_refusals);
	DP_TEST_RUN(test_hsdb_cache);
	return dp_test_done();
}
