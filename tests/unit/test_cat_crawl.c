/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for cat_crawl: Hive type merging (widening, conflicts, struct unions, nesting) and
 * bad type text; column list merging; partition folder names; table names; whole crawls over
 * temporary trees (Hive-style and unnamed partitions, one table per compatible tree, separate
 * tables for incompatible sub-folders, CSV with a header, gzip, junk and empty files skipped,
 * symlinks not followed, exclusions, SampleSize, a root that does not exist, cancellation); and
 * writing a result into the catalog (create, then update with a new table version and new
 * partitions, UpdateBehavior LOG, DeleteBehavior).
 */
#include "cat_crawl.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <zlib.h>

#include "dp_test.h"

static struct cat_classifiers *builtin;
static char root[256];

static void merge_is(const char *a, const char *b, const char *want)
{
	char *out = NULL;
	int r = cat_crawl_type_merge(a, strlen(a), b, strlen(b), &out);
	CHECK_EQ(r, 0);
	if (r == 0)
		CHECK_STR(out, want);
	free(out);
}

static void merge_fails(const char *a, const char *b, int want)
{
	char *out = NULL;
	CHECK_EQ(cat_crawl_type_merge(a, strlen(a), b, strlen(b), &out), want);
	CHECK(out == NULL);
}

static void test_type_merge(void)
{
	merge_is("bigint", "bigint", "bigint");
	merge_is("int", "bigint", "bigint");
	merge_is("bigint", "double", "double");
	merge_is("double", "int", "double");
	merge_is("decimal(10,2)", "bigint", "double");
	merge_is("boolean", "bigint", "string");
	merge_is("timestamp", "timestamp", "timestamp");
	merge_is("timestamp", "bigint", "string");
	merge_is("BIGINT", "bigint", "bigint");
	merge_is("struct<a:bigint>", "string", "string");
	merge_is("array<bigint>", "array<double>", "array<double>");
	merge_is("array<struct<a:bigint>>", "array<struct<b:string>>",
		 "array<struct<a:bigint,b:string>>");
	merge_is("struct<a:bigint,b:struct<x:int>>", "struct<b:struct<y:boolean>,c:double>",
		 "struct<a:bigint,b:struct<x:int,y:boolean>,c:double>");
	merge_is("map<string,bigint>", "map<string,double>", "map<string,double>");
	merge_is("struct<>", "struct<a:int>", "struct<a:int>");
	merge_is("struct< a : int >", "struct<a:int>", "struct<a:int>");
}

static void test_type_bad(void)
{
	merge_fails("", "bigint", -EINVAL);
	merge_fails("bigint", "", -EINVAL);
	merge_fails("array<", "bigint", -EINVAL);
	merge_fails("array<bigint", "bigint", -EINVAL);
	merge_fails("array<bigint,string>", "bigint", -EINVAL);
	merge_fails("map<string>", "bigint", -EINVAL);
	merge_fails("struct<a>", "bigint", -EINVAL);
	merge_fails("struct<:int>", "bigint", -EINVAL);
	merge_fails("bigint>", "bigint", -EINVAL);
	merge_fails("decimal(10,2", "bigint", -EINVAL);
	merge_fails("big int", "bigint", -EINVAL);
	merge_fails("struct<a:int,a:string>", "int", -EINVAL);
	/* Nesting beyond the bound is refused, not recursed into. */
	char deep[1024] = "";
	for (int i = 0; i < 100; i++)
		strcat(deep, "array<");
	strcat(deep, "int");
	for (int i = 0; i < 100; i++)
		strcat(deep, ">");
	merge_fails(deep, "int", -EINVAL);
	char *big = malloc(CAT_CRAWL_TYPE_MAX + 2);
	REQUIRE(big);
	memset(big, 'a', CAT_CRAWL_TYPE_MAX + 1);
	big[CAT_CRAWL_TYPE_MAX + 1] = '\0';
	merge_fails(big, "int", -E2BIG);
	free(big);
}

static void test_columns_merge(void)
{
	json_t *into = json_loads("[{\"Name\":\"id\",\"Type\":\"bigint\"},"
				  "{\"Name\":\"v\",\"Type\":\"bigint\"}]", 0, NULL);
	json_t *cols = json_loads("[{\"Name\":\"v\",\"Type\":\"double\"},"
				  "{\"Name\":\"new\",\"Type\":\"string\"}]", 0, NULL);
	REQUIRE(into && cols);
	CHECK_EQ(cat_crawl_columns_merge(into, cols), 0);
	CHECK_EQ(json_array_size(into), 3);
	CHECK_STR(json_string_value(json_object_get(json_array_get(into, 1), "Type")), "double");
	CHECK_STR(json_string_value(json_object_get(json_array_get(into, 2), "Name")), "new");
	json_t *bad = json_loads("[{\"Name\":\"x\"}]", 0, NULL);
	CHECK_EQ(cat_crawl_columns_merge(into, bad), -EINVAL);
	json_t *badtype = json_loads("[{\"Name\":\"x\",\"Type\":\"array<\"}]", 0, NULL);
	CHECK_EQ(cat_crawl_columns_merge(into, badtype), -EINVAL);
	json_t *bare = json_loads("[{\"Name\":\"x\",\"Type\":\"struct\"}]", 0, NULL);
	CHECK_EQ(cat_crawl_columns_merge(into, bare), -EINVAL);
	json_decref(bare);
	CHECK_EQ(json_array_size(into), 3);
	CHECK_EQ(cat_crawl_columns_merge(into, json_object_get(bad, "x")), -EINVAL);
	json_decref(badtype);
	json_decref(bad);
	json_decref(cols);
	json_decref(into);
}

static void test_partition_name(void)
{
	char k[16], v[16];
	CHECK_EQ(cat_crawl_partition_name("dt=2024-01-01", 13, k, sizeof(k), v, sizeof(v)), 1);
	CHECK_STR(k, "dt");
	CHECK_STR(v, "2024-01-01");
	CHECK_EQ(cat_crawl_partition_name("a=", 2, k, sizeof(k), v, sizeof(v)), 1);
	CHECK_STR(v, "");
	CHECK_EQ(cat_crawl_partition_name("x=a=b", 5, k, sizeof(k), v, sizeof(v)), 1);
	CHECK_STR(v, "a=b");
	CHECK_EQ(cat_crawl_partition_name("2024", 4, k, sizeof(k), v, sizeof(v)), 0);
	CHECK_EQ(cat_crawl_partition_name("=x", 2, k, sizeof(k), v, sizeof(v)), 0);
	CHECK_EQ(cat_crawl_partition_name("", 0, k, sizeof(k), v, sizeof(v)), -EINVAL);
	CHECK_EQ(cat_crawl_partition_name("a\0=b", 4, k, sizeof(k), v, sizeof(v)), -EINVAL);
	CHECK_EQ(cat_crawl_partition_name("averyveryverylongkey=1", 22, k, sizeof(k), v, sizeof(v)),
		 -E2BIG);
}

static void test_table_name(void)
{
	char out[CAT_CRAWL_TABLE_NAME_MAX + 1];
	CHECK_EQ(cat_crawl_table_name(NULL, "My-Table.v2", 11, out), 11);
	CHECK_STR(out, "my_table_v2");
	CHECK_EQ(cat_crawl_table_name("raw_", "Events", 6, out), 10);
	CHECK_STR(out, "raw_events");
	CHECK_EQ(cat_crawl_table_name(NULL, "", 0, out), 1);
	CHECK_STR(out, "_");
	char longname[300];
	memset(longname, 'x', sizeof(longname));
	CHECK_EQ(cat_crawl_table_name(NULL, longname, sizeof(longname), out),
		 CAT_CRAWL_TABLE_NAME_MAX);
}

/* ---- crawls over real trees ------------------------------------------------------------------ */

static void put(const char *rel, const void *data, size_t n)
{
	char path[512], dir[512];
	snprintf(path, sizeof(path), "%s/%s", root, rel);
	snprintf(dir, sizeof(dir), "%s", path);
	for (char *p = dir + strlen(root) + 1; (p = strchr(p, '/')); p++) {
		*p = '\0';
		mkdir(dir, 0755);
		*p = '/';
	}
	FILE *f = fopen(path, "wb");
	REQUIRE(f);
	REQUIRE(fwrite(data, 1, n, f) == n);
	fclose(f);
}

static void puts_(const char *rel, const char *text)
{
	put(rel, text, strlen(text));
}

static void rm_tree(void)
{
	char cmd[600];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'/* '%s'/.hidden", root, root);
	(void)!system(cmd);
}

static struct cat_crawl_result *crawl_at(const char *sub, const char *location, unsigned sample,
					 const char *const *excl, unsigned nexcl)
{
	char path[512];
	snprintf(path, sizeof(path), "%s%s%s", root, sub ? "/" : "", sub ? sub : "");
	struct cat_crawl_config cfg = {
		.root = path, .location = location, .classifiers = builtin, .sample_size = sample,
		.crawler_name = "c1", .exclusions = excl, .n_exclusions = nexcl,
	};
	struct cat_crawl_result *r = NULL;
	CHECK_EQ(cat_crawl_run(&cfg, &r), 0);
	return r;
}

static const json_t *tab(const struct cat_crawl_result *r, const char *name)
{
	for (unsigned i = 0; r && i < r->n_tables; i++)
		if (strcmp(json_string_value(json_object_get(r->tables[i].table, "Name")), name) == 0)
			return r->tables[i].table;
	return NULL;
}

static const char *col_type(const json_t *t, const char *name)
{
	size_t i;
	json_t *c;
	json_array_foreach(json_object_get(json_object_get(t, "StorageDescriptor"), "Columns"), i, c)
		if (strcmp(json_string_value(json_object_get(c, "Name")), name) == 0)
			return json_string_value(json_object_get(c, "Type"));
	return "(absent)";
}

static const char *param(const json_t *t, const char *k)
{
	const char *v = json_string_value(json_object_get(json_object_get(t, "Parameters"), k));
	return v ? v : "(absent)";
}

static void test_crawl_hive_partitions(void)
{
	rm_tree();
	puts_("dt=2024-01-01/a.json", "{\"id\": 1, \"name\": \"a\", \"ok\": true}\n"
					"{\"id\": 2, \"name\": \"b\", \"ok\": false}\n");
	puts_("dt=2024-01-02/a.json", "{\"id\": 3.5, \"name\": \"c\", \"ok\": true, "
					"\"tags\": [\"x\"]}\n");
	puts_("dt=2024-01-02/_SUCCESS", "");
	puts_(".hidden", "junk");
	puts_("dt=2024-01-03/b.json", "{\"id\": 4, \"name\": \"d\", \"nested\": {\"k\": 1}}\n");
	struct cat_crawl_result *r = crawl_at(NULL, "s3://bucket/events/", 0, NULL, 0);
	REQUIRE(r);
	CHECK_STR(r->error, "");
	CHECK_EQ(r->n_tables, 1);
	CHECK_EQ(r->files, 3);
	const json_t *t = tab(r, "events");
	REQUIRE(t);
	CHECK_STR(col_type(t, "id"), "double");
	CHECK_STR(col_type(t, "name"), "string");
	CHECK_STR(col_type(t, "ok"), "boolean");
	CHECK_STR(col_type(t, "tags"), "array<string>");
	CHECK_STR(col_type(t, "nested"), "struct<k:bigint>");
	CHECK_STR(param(t, "classification"), "json");
	CHECK_STR(param(t, "recordCount"), "4");
	CHECK_STR(param(t, "objectCount"), "3");
	CHECK_STR(param(t, "UPDATED_BY_CRAWLER"), "c1");
	const json_t *sd = json_object_get(t, "StorageDescriptor");
	CHECK_STR(json_string_value(json_object_get(sd, "Location")), "s3://bucket/events/");
	CHECK_STR(json_string_value(json_object_get(json_object_get(sd, "SerdeInfo"),
						    "SerializationLibrary")),
		  "org.openx.data.jsonserde.JsonSerDe");
	json_t *keys = json_object_get(t, "PartitionKeys");
	CHECK_EQ(json_array_size(keys), 1);
	CHECK_STR(json_string_value(json_object_get(json_array_get(keys, 0), "Name")), "dt");
	CHECK_STR(json_string_value(json_object_get(json_array_get(keys, 0), "Type")), "string");
	json_t *parts = r->tables[0].partitions;
	CHECK_EQ(json_array_size(parts), 3);
	json_t *p1 = json_array_get(parts, 1);
	CHECK_STR(json_string_value(json_array_get(json_object_get(p1, "Values"), 0)), "2024-01-02");
	CHECK_STR(json_string_value(json_object_get(json_object_get(p1, "StorageDescriptor"),
						    "Location")),
		  "s3://bucket/events/dt=2024-01-02/");
	cat_crawl_result_free(r);
}

static void test_crawl_unnamed_partitions_and_split(void)
{
	rm_tree();
	puts_("logs/2024/01/a.json", "{\"a\": 1, \"b\": 2}\n");
	puts_("logs/2024/02/a.json", "{\"a\": 1, \"b\": 2, \"c\": 3}\n");
	puts_("users/x.csv", "name,age\nann,31\nbob,42\n");
	puts_("users/y.csv", "name,age\ncid,7\n");
	puts_("junk/blob.bin", "\x00\x01\x02\x03\xff\xfe\x00\x00binary\x00");
	puts_("junk/empty.json", "");
	char lnk[512];
	snprintf(lnk, sizeof(lnk), "%s/users/link.csv", root);
	CHECK_EQ(symlink("/etc/passwd", lnk), 0);
	struct cat_crawl_result *r = crawl_at(NULL, "/data/in", 0, NULL, 0);
	REQUIRE(r);
	CHECK_EQ(r->n_tables, 2);
	CHECK_EQ(r->unknown, 2);
	const json_t *logs = tab(r, "logs"), *users = tab(r, "users");
	REQUIRE(logs && users);
	json_t *keys = json_object_get(logs, "PartitionKeys");
	CHECK_EQ(json_array_size(keys), 2);
	CHECK_STR(json_string_value(json_object_get(json_array_get(keys, 0), "Name")), "partition_0");
	CHECK_STR(json_string_value(json_object_get(json_array_get(keys, 1), "Name")), "partition_1");
	CHECK_STR(col_type(logs, "c"), "bigint");
	CHECK_STR(json_string_value(json_object_get(json_object_get(logs, "StorageDescriptor"),
						    "Location")),
		  "/data/in/logs/");
	CHECK_STR(param(users, "classification"), "csv");
	CHECK_STR(param(users, "skip.header.line.count"), "1");
	CHECK_STR(param(users, "delimiter"), ",");
	CHECK_STR(param(users, "recordCount"), "3");
	CHECK_STR(col_type(users, "age"), "bigint");
	CHECK_EQ(json_array_size(json_object_get(users, "PartitionKeys")), 0);
	bool link_noted = false;
	size_t i;
	json_t *m;
	json_array_foreach(r->messages, i, m)
		link_noted |= strstr(json_string_value(m), "link.csv: a symbolic link") != NULL;
	CHECK(link_noted);
	cat_crawl_result_free(r);

	/* Disjoint schemas in sibling folders are separate tables; combined, they are one. */
	rm_tree();
	puts_("year=2023/a.json", "{\"a\": 1, \"b\": 2}\n");
	puts_("year=2024/a.json", "{\"c\": 1, \"d\": 2}\n");
	r = crawl_at(NULL, "s3://b/p", 0, NULL, 0);
	CHECK_EQ(r->n_tables, 2);
	CHECK(tab(r, "year_2023") && tab(r, "year_2024"));
	cat_crawl_result_free(r);
	char path[512];
	snprintf(path, sizeof(path), "%s", root);
	struct cat_crawl_config cfg = { .root = path, .location = "s3://b/p", .classifiers = builtin,
					.combine_compatible = true };
	REQUIRE(cat_crawl_run(&cfg, &r) == 0);
	CHECK_EQ(r->n_tables, 1);
	CHECK_STR(col_type(tab(r, "p"), "d"), "bigint");
	cat_crawl_result_free(r);
}

static void test_crawl_gzip_sample_exclusions(void)
{
	rm_tree();
	const char *text = "{\"k\": \"v\", \"n\": 7}\n{\"k\": \"w\", \"n\": 8}\n";
	uint8_t gz[256];
	z_stream z = { 0 };
	REQUIRE(deflateInit2(&z, 6, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) == Z_OK);
	z.next_in = (Bytef *)text;
	z.avail_in = (uInt)strlen(text);
	z.next_out = gz;
	z.avail_out = sizeof(gz);
	REQUIRE(deflate(&z, Z_FINISH) == Z_STREAM_END);
	size_t gzn = sizeof(gz) - z.avail_out;
	deflateEnd(&z);
	put("t/a.json.gz", gz, gzn);
	put("t/b.json.gz", gz, gzn);
	puts_("t/skip/c.json", "{\"zzz\": 1}\n");
	const char *const excl[] = { "**/skip/**", "*.tmp" };
	puts_("t/x.tmp", "garbage\x01\x02");
	struct cat_crawl_result *r = crawl_at("t", "s3://b/t", 1, excl, 2);
	REQUIRE(r);
	CHECK_EQ(r->n_tables, 1);
	CHECK_EQ(r->files, 2);
	CHECK_EQ(r->sampled, 1);
	const json_t *t = tab(r, "t");
	REQUIRE(t);
	CHECK_STR(param(t, "compressionType"), "gzip");
	CHECK_STR(col_type(t, "n"), "bigint");
	CHECK_STR(col_type(t, "zzz"), "(absent)");
	/* The unsampled file is counted, its records estimated from the sampled one. */
	CHECK_STR(param(t, "objectCount"), "2");
	CHECK_STR(param(t, "recordCount"), "4");
	cat_crawl_result_free(r);
}

static void test_crawl_bad_roots(void)
{
	struct cat_crawl_result *r = crawl_at("does/not/exist", "s3://b/missing", 0, NULL, 0);
	REQUIRE(r);
	CHECK(strstr(r->error, "s3://b/missing cannot be crawled: No such file or directory") != NULL);
	CHECK_EQ(r->n_tables, 0);
	cat_crawl_result_free(r);
	struct cat_crawl_config cfg = { .root = NULL, .location = "x", .classifiers = builtin };
	CHECK_EQ(cat_crawl_run(&cfg, &r), -EINVAL);
	cfg.root = "/";
	cfg.classifiers = NULL;
	CHECK_EQ(cat_crawl_run(&cfg, &r), -EINVAL);

	/* Cancelled before the first file: nothing decided. */
	rm_tree();
	puts_("a.json", "{\"a\": 1}\n");
	atomic_bool stop = true;
	char path[512];
	snprintf(path, sizeof(path), "%s", root);
	struct cat_crawl_config c2 = { .root = path, .location = "s3://b/p", .classifiers = builtin,
				       .cancel = &stop };
	REQUIRE(cat_crawl_run(&c2, &r) == 0);
	CHECK(r->cancelled);
	CHECK_EQ(r->n_tables, 0);
	cat_crawl_result_free(r);
}

/* ---- writing the catalog --------------------------------------------------------------------- */

static void open_store(sqlite3 **db, struct cat_store **ret)
{
	struct cat_store *s;
	REQUIRE(sqlite3_open(":memory:", db) == SQLITE_OK);
	for (int v = 0; v < CAT_STORE_SCHEMA_VERSION; v++)
		REQUIRE(sqlite3_exec(*db, cat_store_schema_steps[v], NULL, NULL, NULL) == SQLITE_OK);
	REQUIRE(cat_store_new(*db, &s) == 0);
	json_t *in = json_pack("{s:s}", "Name", "lake");
	REQUIRE(cat_db_create(s, in, 1000) == 0);
	json_decref(in);
	*ret = s;
}

static void test_apply(void)
{
	sqlite3 *db;
	struct cat_store *s = NULL;
	open_store(&db, &s);
	REQUIRE(s);
	struct cat_crawl_counts n;
	rm_tree();
	puts_("dt=1/a.json", "{\"a\": 1}\n");
	puts_("dt=2/a.json", "{\"a\": 2}\n");
	struct cat_crawl_result *r = crawl_at(NULL, "s3://b/ev", 0, NULL, 0);
	CHECK_EQ(cat_crawl_apply(s, "nodb", &r, 1, "c1", CAT_CRAWL_UPDATE_IN_DATABASE,
				 CAT_CRAWL_DELETE_DEPRECATE, 2000, &n), -CAT_ERR_NOT_FOUND);
	CHECK_EQ(cat_crawl_apply(s, "lake", &r, 1, "c1", CAT_CRAWL_UPDATE_IN_DATABASE,
				 CAT_CRAWL_DELETE_DEPRECATE, 2000, &n), 0);
	CHECK_EQ(n.tables_created, 1);
	CHECK_EQ(n.partitions_created, 2);
	cat_crawl_result_free(r);
	/* Same data again: nothing changes. */
	r = crawl_at(NULL, "s3://b/ev", 0, NULL, 0);
	CHECK_EQ(cat_crawl_apply(s, "lake", &r, 1, "c1", CAT_CRAWL_UPDATE_IN_DATABASE,
				 CAT_CRAWL_DELETE_DEPRECATE, 2001, &n), 0);
	CHECK_EQ(n.tables_created + n.tables_updated + n.partitions_created, 0);
	cat_crawl_result_free(r);
	/* A new field and a new partition: LOG keeps the schema, but partitions are added. */
	puts_("dt=3/a.json", "{\"a\": 3, \"extra\": \"x\"}\n");
	r = crawl_at(NULL, "s3://b/ev", 0, NULL, 0);
	CHECK_EQ(cat_crawl_apply(s, "lake", &r, 1, "c1", CAT_CRAWL_UPDATE_LOG,
				 CAT_CRAWL_DELETE_DEPRECATE, 2002, &n), 0);
	CHECK_EQ(n.tables_updated, 0);
	CHECK_EQ(n.partitions_created, 1);
	json_t *t;
	REQUIRE(cat_table_get(s, "lake", "ev", &t) == 0);
	CHECK_STR(col_type(t, "extra"), "(absent)");
	CHECK_STR(json_string_value(json_object_get(t, "VersionId")), "0");
	json_decref(t);
	CHECK_EQ(cat_crawl_apply(s, "lake", &r, 1, "c1", CAT_CRAWL_UPDATE_IN_DATABASE,
				 CAT_CRAWL_DELETE_DEPRECATE, 2003, &n), 0);
	CHECK_EQ(n.tables_updated, 1);
	REQUIRE(cat_table_get(s, "lake", "ev", &t) == 0);
	CHECK_STR(col_type(t, "extra"), "string");
	CHECK_STR(json_string_value(json_object_get(t, "VersionId")), "1");
	json_decref(t);
	cat_crawl_result_free(r);
	/* The data moves elsewhere: the old table is deprecated, then deleted. */
	rm_tree();
	puts_("other/a.json", "{\"a\": 1}\n");
	puts_("more/a.json", "{\"zz\": 1, \"yy\": 2, \"xx\": 3}\n");
	r = crawl_at(NULL, "s3://b/ev", 0, NULL, 0);
	CHECK_EQ(cat_crawl_apply(s, "lake", &r, 1, "c1", CAT_CRAWL_UPDATE_IN_DATABASE,
				 CAT_CRAWL_DELETE_DEPRECATE, 2004, &n), 0);
	CHECK_EQ(n.tables_deprecated, 1);
	REQUIRE(cat_table_get(s, "lake", "ev", &t) == 0);
	CHECK_STR(param(t, "DEPRECATED_BY_CRAWLER"), "1");
	json_decref(t);
	json_t *fake = json_pack("{s:s,s:{s:s}}", "Name", "gone", "Parameters", "UPDATED_BY_CRAWLER",
				 "c1");
	REQUIRE(cat_table_create(s, "lake", fake, 2005) == 0);
	json_decref(fake);
	CHECK_EQ(cat_crawl_apply(s, "lake", &r, 1, "c1", CAT_CRAWL_UPDATE_IN_DATABASE,
				 CAT_CRAWL_DELETE_FROM_DATABASE, 2006, &n), 0);
	CHECK_EQ(n.tables_deleted, 1);
	CHECK_EQ(cat_table_get(s, "lake", "gone", &t), -CAT_ERR_NOT_FOUND);
	cat_crawl_result_free(r);
	cat_store_free(s);
	sqlite3_close(db);
}

int main(void)
{
	char err[256];
	snprintf(root, sizeof(root), "/tmp/test_cat_crawl.XXXXXX");
	if (cat_classifiers_new(NULL, 0, NULL, &builtin, err, sizeof(err)) != 0 || !mkdtemp(root)) {
		printf("Bail out! cannot set up: %s\n", err);
		return 1;
	}
	DP_TEST_RUN(test_type_merge);
	DP_TEST_RUN(test_type_bad);
	DP_TEST_RUN(test_columns_merge);
	DP_TEST_RUN(test_partition_name);
	DP_TEST_RUN(test_table_name);
	DP_TEST_RUN(test_crawl_hive_partitions);
	DP_TEST_RUN(test_crawl_unnamed_partitions_and_split);
	DP_TEST_RUN(test_crawl_gzip_sample_exclusions);
	DP_TEST_RUN(test_crawl_bad_roots);
	DP_TEST_RUN(test_apply);
	rm_tree();
	rmdir(root);
	cat_classifiers_free(builtin);
	return dp_test_done();
}
