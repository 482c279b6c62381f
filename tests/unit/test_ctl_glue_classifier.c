/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for ctl_glue_classifier's compiled set: built from the stored classifiers with its
 * Hyperscan cache next to meta.db, kept while nothing changes, rebuilt after a change, and the
 * cache reused by a later start.
 */
#include "ctl_glue_classifier.h"

#include <dirent.h>
#include <string.h>

#include "cat_classifier.h"
#include "cat_hsdb.h"
#include "dp_test.h"

static unsigned cache_files(const char *dir)
{
	DIR *d = opendir(dir);
	unsigned n = 0;
	struct dirent *e;
	if (!d)
		return 0;
	while ((e = readdir(d)))
		n += strncmp(e->d_name, "hsdb-", 5) == 0;
	closedir(d);
	return n;
}

static void test_set_rebuilt_on_change_and_cached(void)
{
	char dir[] = "/tmp/test_ctl_glue_classifier.XXXXXX", path[128], cache[160];
	REQUIRE(mkdtemp(dir) != NULL);
	snprintf(path, sizeof(path), "%s/meta.db", dir);
	snprintf(cache, sizeof(cache), "%s/classifier-cache", dir);
	struct ctl_meta *meta;
	struct ctl_glue_classifier *k;
	REQUIRE(ctl_meta_open(path, &meta) == 0);
	REQUIRE(ctl_glue_classifier_new(meta, &k) == 0);

	const struct cat_classifiers *a, *b;
	REQUIRE(ctl_glue_classifier_set(k, &a) == 0);
	CHECK_EQ(cache_files(cache), 1);
	REQUIRE(ctl_glue_classifier_set(k, &b) == 0);
	CHECK(a == b);  /* nothing changed: the same set */

	json_t *d = json_loads("{\"GrokClassifier\": {\"Name\": \"kv\", \"Classification\": \"kv\", "
			       "\"GrokPattern\": \"%{WORD:k}=%{INT:v:int}\"}}", 0, NULL);
	REQUIRE(cat_classifier_create(ctl_meta_db(meta), d, 1) == 0);
	json_decref(d);
	REQUIRE(ctl_glue_classifier_set(k, &b) == 0);
	CHECK_EQ(cache_files(cache), 2);
	struct cat_classification c;
	static const char kv[] = "a=1\nb=2\n";
	REQUIRE(cat_classify_sample(b, NULL, (const uint8_t *)kv, strlen(kv), &c) == 0);
	CHECK_STR(c.classification, "kv");
	cat_classification_clear(&c);
	ctl_glue_classifier_free(k);

	/* A restart with the same classifiers loads the database instead of compiling it. */
	REQUIRE(ctl_glue_classifier_new(meta, &k) == 0);
	REQUIRE(ctl_glue_classifier_set(k, &b) == 0);
	struct cat_hsdb_info info;
	cat_hsdb_get_info(cat_classifiers_hsdb(b), &info);
	CHECK(info.from_cache);
	CHECK_EQ(info.n_patterns, 5);  /* kv and the four built-in log patterns */
	ctl_glue_classifier_free(k);
	ctl_meta_close(meta);
	dp_test_rm_tree(dir);
}

int main(void)
{
	DP_TEST_RUN(test_set_rebuilt_on_change_and_cached);
	return dp_test_done();
}
