/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for cat_store on an in-memory SQLite database: databases and tables created, read,
 * listed in pages, updated (with the version check) and deleted; names folded and rejected as
 * Glue does; a database's tables go with it; table versions archived, listed newest first and
 * deleted; partitions created (one and in batches, with per-entry results), read, moved, put,
 * listed in pages through a typed filter and in segments, and gone with their table.
 */
#include "cat_store.h"

#include <string.h>

#include "dp_test.h"

static sqlite3 *db;
static struct cat_store *st;

static void setup(void)
{
	REQUIRE(sqlite3_open(":memory:", &db) == SQLITE_OK);
	for (int v = 0; v < CAT_STORE_SCHEMA_VERSION; v++)
		REQUIRE(sqlite3_exec(db, cat_store_schema_steps[v], NULL, NULL, NULL) == SQLITE_OK);
	REQUIRE(cat_store_new(db, &st) == 0);
}

static void teardown(void)
{
	cat_store_free(st);
	sqlite3_close(db);
}

static json_t *obj(const char *text)
{
	json_t *j = json_loads(text, 0, NULL);
	if (!j)
		printf("# bad JSON in test: %s\n", text);
	return j;
}

/* Create from JSON text, releasing the input. */
static int db_create(const char *text, int64_t now)
{
	json_t *in = obj(text);
	int r = cat_db_create(st, in, now);
	json_decref(in);
	return r;
}

static int table_create(const char *dbn, const char *text, int64_t now)
{
	json_t *in = obj(text);
	int r = cat_table_create(st, dbn, in, now);
	json_decref(in);
	return r;
}

static const char *str(json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));
	return s ? s : "(absent)";
}

static void test_name_fold_and_rules(void)
{
	char out[CAT_NAME_MAX + 1], longname[CAT_NAME_MAX + 2];
	CHECK_EQ(cat_name_fold("Sales_EU", out), 0);
	CHECK_STR(out, "sales_eu");
	CHECK_EQ(cat_name_fold("with space\tand tab", out), 0);
	CHECK_EQ(cat_name_fold("", out), -CAT_ERR_INVALID);
	CHECK_EQ(cat_name_fold(NULL, out), -CAT_ERR_INVALID);
	CHECK_EQ(cat_name_fold("two\nlines", out), -CAT_ERR_INVALID);
	memset(longname, 'a', CAT_NAME_MAX);
	longname[CAT_NAME_MAX] = '\0';
	CHECK_EQ(cat_name_fold(longname, out), 0);
	longname[CAT_NAME_MAX] = 'a';
	longname[CAT_NAME_MAX + 1] = '\0';
	CHECK_EQ(cat_name_fold(longname, out), -CAT_ERR_INVALID);
	CHECK_STR(cat_err_name(-CAT_ERR_NOT_FOUND), "not found");
	CHECK_STR(cat_err_name(-12345), "unknown");
}

static void test_database_lifecycle(void)
{
	setup();
	json_t *d = NULL;
	CHECK_EQ(db_create("{\"Name\":\"MyDB\",\"Description\":\"x\",\"Parameters\":{\"a\":\"b\"}}",
			   1700000000), 0);
	CHECK_EQ(db_create("{\"Name\":\"mydb\"}", 1), -CAT_ERR_EXISTS);
	CHECK_EQ(db_create("{\"Description\":\"no name\"}", 1), -CAT_ERR_INVALID);
	CHECK_EQ(db_create("{\"Name\":5}", 1), -CAT_ERR_INVALID);
	CHECK_EQ(cat_db_get(st, "MYDB", &d), 0);
	CHECK_STR(str(d, "Name"), "mydb");
	CHECK_STR(str(d, "Description"), "x");
	CHECK_EQ(json_integer_value(json_object_get(d, "CreateTime")), 1700000000);
	CHECK_STR(str(json_object_get(d, "Parameters"), "a"), "b");
	json_decref(d);
	CHECK_EQ(cat_db_get(st, "other", &d), -CAT_ERR_NOT_FOUND);

	json_t *up = obj("{\"Name\":\"mydb\",\"LocationUri\":\"s3://b/\"}");
	CHECK_EQ(cat_db_update(st, "mydb", up), 0);
	CHECK_EQ(cat_db_update(st, "none", up), -CAT_ERR_NOT_FOUND);
	json_decref(up);
	REQUIRE(cat_db_get(st, "mydb", &d) == 0);
	CHECK_STR(str(d, "LocationUri"), "s3://b/");
	CHECK_STR(str(d, "Description"), "(absent)");
	CHECK_EQ(json_integer_value(json_object_get(d, "CreateTime")), 1700000000);
	json_decref(d);

	CHECK_EQ(cat_db_delete(st, "mydb"), 0);
	CHECK_EQ(cat_db_delete(st, "mydb"), -CAT_ERR_NOT_FOUND);
	CHECK_EQ(cat_db_get(st, "mydb", &d), -CAT_ERR_NOT_FOUND);
	teardown();
}

static void test_database_list_pages(void)
{
	setup();
	json_t *l;
	bool more;
	const char *names[] = { "c", "a", "e", "b", "d" };
	for (int i = 0; i < 5; i++) {
		char t[64];
		snprintf(t, sizeof(t), "{\"Name\":\"%s\"}", names[i]);
		CHECK_EQ(db_create(t, i), 0);
	}
	CHECK_EQ(cat_db_list(st, NULL, 2, &l, &more), 2);
	CHECK(more);
	CHECK_STR(str(json_array_get(l, 0), "Name"), "a");
	CHECK_STR(str(json_array_get(l, 1), "Name"), "b");
	json_decref(l);
	CHECK_EQ(cat_db_list(st, "b", 2, &l, &more), 2);
	CHECK(more);
	CHECK_STR(str(json_array_get(l, 0), "Name"), "c");
	json_decref(l);
	CHECK_EQ(cat_db_list(st, "d", 2, &l, &more), 1);
	CHECK(!more);
	CHECK_STR(str(json_array_get(l, 0), "Name"), "e");
	json_decref(l);
	/* Exactly a full page: no more. */
	CHECK_EQ(cat_db_list(st, "c", 2, &l, &more), 2);
	CHECK(!more);
	json_decref(l);
	teardown();
}

static bool starts_with_s(void *arg, const char *name)
{
	(void)arg;
	return name[0] == 's';
}

static void test_table_lifecycle_and_versions(void)
{
	setup();
	json_t *t = NULL, *l;
	bool more;
	REQUIRE(db_create("{\"Name\":\"d\"}", 1) == 0);
	CHECK_EQ(table_create("d", "{\"Name\":\"Events\",\"StorageDescriptor\":{\"Columns\":"
			      "[{\"Name\":\"id\",\"Type\":\"bigint\"}]},\"TableType\":"
			      "\"EXTERNAL_TABLE\"}", 100), 0);
	CHECK_EQ(table_create("d", "{\"Name\":\"events\"}", 100), -CAT_ERR_EXISTS);
	CHECK_EQ(table_create("nodb", "{\"Name\":\"t\"}", 100), -CAT_ERR_NOT_FOUND);
	CHECK_EQ(table_create("d", "{\"Name\":\"\"}", 100), -CAT_ERR_INVALID);
	CHECK_EQ(table_create("d", "[1]", 100), -CAT_ERR_INVALID);

	REQUIRE(cat_table_get(st, "D", "EVENTS", &t) == 0);
	CHECK_STR(str(t, "Name"), "events");
	CHECK_STR(str(t, "DatabaseName"), "d");
	CHECK_STR(str(t, "TableType"), "EXTERNAL_TABLE");
	CHECK_STR(str(t, "VersionId"), "0");
	CHECK_EQ(json_integer_value(json_object_get(t, "CreateTime")), 100);
	json_t *col = json_array_get(json_object_get(json_object_get(t, "StorageDescriptor"),
						     "Columns"), 0);
	CHECK_STR(str(col, "Type"), "bigint");
	json_decref(t);
	CHECK_EQ(cat_table_get(st, "d", "x", &t), -CAT_ERR_NOT_FOUND);
	CHECK_EQ(cat_table_get(st, "x", "events", &t), -CAT_ERR_NOT_FOUND);

	json_t *up = obj("{\"Name\":\"events\",\"Parameters\":{\"classification\":\"csv\"}}");
	CHECK_EQ(cat_table_update(st, "d", up, 0, true, 200), 0);
	CHECK_EQ(cat_table_update(st, "d", up, 0, true, 300), -CAT_ERR_CONFLICT);
	CHECK_EQ(cat_table_update(st, "d", up, -1, true, 300), 0);
	CHECK_EQ(cat_table_update(st, "nodb", up, -1, true, 300), -CAT_ERR_NOT_FOUND);
	json_decref(up);
	up = obj("{\"Name\":\"ghost\"}");
	CHECK_EQ(cat_table_update(st, "d", up, -1, true, 300), -CAT_ERR_NOT_FOUND);
	json_decref(up);
	REQUIRE(cat_table_get(st, "d", "events", &t) == 0);
	CHECK_STR(str(t, "VersionId"), "2");
	CHECK_EQ(json_integer_value(json_object_get(t, "CreateTime")), 100);
	CHECK_EQ(json_integer_value(json_object_get(t, "UpdateTime")), 300);
	CHECK(json_object_get(t, "StorageDescriptor") == NULL);
	json_decref(t);

	CHECK_EQ(table_create("d", "{\"Name\":\"sales\"}", 1), 0);
	CHECK_EQ(table_create("d", "{\"Name\":\"stock\"}", 1), 0);
	CHECK_EQ(cat_table_list(st, "d", NULL, 100, starts_with_s, NULL, &l, &more), 2);
	CHECK(!more);
	CHECK_STR(str(json_array_get(l, 0), "Name"), "sales");
	json_decref(l);
	CHECK_EQ(cat_table_list(st, "d", NULL, 1, starts_with_s, NULL, &l, &more), 1);
	CHECK(more);
	json_decref(l);
	CHECK_EQ(cat_table_list(st, "d", "sales", 10, NULL, NULL, &l, &more), 1);
	CHECK_STR(str(json_array_get(l, 0), "Name"), "stock");
	json_decref(l);
	CHECK_EQ(cat_table_list(st, "nodb", NULL, 10, NULL, NULL, &l, &more), -CAT_ERR_NOT_FOUND);

	CHECK_EQ(cat_table_delete(st, "d", "sales"), 0);
	CHECK_EQ(cat_table_delete(st, "d", "sales"), -CAT_ERR_NOT_FOUND);
	CHECK_EQ(cat_table_delete(st, "nodb", "sales"), -CAT_ERR_NOT_FOUND);
	teardown();
}

static void test_database_delete_and_rename_carry_tables(void)
{
	setup();
	json_t *t = NULL, *l;
	bool more;
	REQUIRE(db_create("{\"Name\":\"a\"}", 1) == 0);
	REQUIRE(db_create("{\"Name\":\"b\"}", 1) == 0);
	REQUIRE(table_create("a", "{\"Name\":\"t1\"}", 1) == 0);
	REQUIRE(table_create("b", "{\"Name\":\"t2\"}", 1) == 0);

	json_t *up = obj("{\"Name\":\"b\"}");
	CHECK_EQ(cat_db_update(st, "a", up), -CAT_ERR_EXISTS);
	json_decref(up);
	up = obj("{\"Name\":\"c\"}");
	CHECK_EQ(cat_db_update(st, "a", up), 0);
	json_decref(up);
	REQUIRE(cat_table_get(st, "c", "t1", &t) == 0);
	CHECK_STR(str(t, "DatabaseName"), "c");
	json_decref(t);

	CHECK_EQ(cat_db_delete(st, "c"), 0);
	REQUIRE(db_create("{\"Name\":\"c\"}", 2) == 0);
	CHECK_EQ(cat_table_list(st, "c", NULL, 10, NULL, NULL, &l, &more), 0);
	json_decref(l);
	/* The other database's tables stay. */
	CHECK_EQ(cat_table_get(st, "b", "t2", &t), 0);
	json_decref(t);
	teardown();
}

/* A partition input with these values (JSON array text) and a location. */
static int part_create(const char *values, const char *loc)
{
	char text[512];
	snprintf(text, sizeof(text), "{\"Values\":%s,\"StorageDescriptor\":{\"Location\":\"%s\"}}",
		 values, loc);
	json_t *in = obj(text);
	int r = cat_partition_create(st, "d", "t", in, 500);
	json_decref(in);
	return r;
}

static const char *loc_of(json_t *p)
{
	return str(json_object_get(p, "StorageDescriptor"), "Location");
}

static void setup_partitioned(void)
{
	setup();
	REQUIRE(db_create("{\"Name\":\"d\"}", 1) == 0);
	REQUIRE(table_create("d", "{\"Name\":\"t\",\"PartitionKeys\":[{\"Name\":\"year\","
			     "\"Type\":\"int\"},{\"Name\":\"region\",\"Type\":\"string\"}]}", 1) == 0);
	REQUIRE(table_create("d", "{\"Name\":\"flat\"}", 1) == 0);
}

static void test_table_versions_archive_list_get_delete(void)
{
	json_t *l, *t, *up = obj("{\"Name\":\"t\",\"Description\":\"v1\"}");
	bool more;
	setup_partitioned();
	CHECK_EQ(cat_table_version_list(st, "d", "t", -1, 10, &l, &more), 1);
	CHECK_STR(str(json_array_get(l, 0), "VersionId"), "0");
	json_decref(l);
	CHECK_EQ(cat_table_update(st, "d", up, 0, true, 10), 0);
	json_object_set_new(up, "Description", json_string("v2"));
	CHECK_EQ(cat_table_update(st, "d", up, 1, true, 20), 0);
	/* SkipArchive: version 2 is replaced without a trace. */
	json_object_set_new(up, "Description", json_string("v3"));
	CHECK_EQ(cat_table_update(st, "d", up, 2, false, 30), 0);
	CHECK_EQ(cat_table_version_list(st, "d", "t", -1, 10, &l, &more), 3);
	CHECK(!more);
	CHECK_STR(str(json_array_get(l, 0), "VersionId"), "3");
	CHECK_STR(str(json_object_get(json_array_get(l, 0), "Table"), "Description"), "v3");
	CHECK_STR(str(json_array_get(l, 1), "VersionId"), "1");
	CHECK_STR(str(json_object_get(json_array_get(l, 1), "Table"), "Description"), "v1");
	CHECK_STR(str(json_object_get(json_array_get(l, 1), "Table"), "VersionId"), "1");
	CHECK_STR(str(json_array_get(l, 2), "VersionId"), "0");
	json_decref(l);
	/* Pages: newest first, resumed below the last VersionId. */
	CHECK_EQ(cat_table_version_list(st, "d", "t", -1, 2, &l, &more), 2);
	CHECK(more);
	json_decref(l);
	CHECK_EQ(cat_table_version_list(st, "d", "t", 1, 2, &l, &more), 1);
	CHECK(!more);
	CHECK_STR(str(json_array_get(l, 0), "VersionId"), "0");
	json_decref(l);
	CHECK_EQ(cat_table_version_get(st, "d", "t", 0, &t), 0);
	CHECK(json_object_get(t, "Description") == NULL);
	json_decref(t);
	CHECK_EQ(cat_table_version_get(st, "d", "T", -1, &t), 0);
	CHECK_STR(str(t, "Description"), "v3");
	json_decref(t);
	CHECK_EQ(cat_table_version_get(st, "d", "t", 2, &t), -CAT_ERR_NOT_FOUND);
	CHECK_EQ(cat_table_version_get(st, "d", "nope", 0, &t), -CAT_ERR_NOT_FOUND);
	CHECK_EQ(cat_table_version_delete(st, "d", "t", 3), -CAT_ERR_CURRENT);
	CHECK_EQ(cat_table_version_delete(st, "d", "t", 1), 0);
	CHECK_EQ(cat_table_version_delete(st, "d", "t", 1), -CAT_ERR_NOT_FOUND);
	CHECK_EQ(cat_table_version_list(st, "d", "t", -1, 10, &l, &more), 2);
	json_decref(l);
	/* cat_table_put: creates, then updates with an archive. */
	json_t *in = obj("{\"Name\":\"crawled\",\"Parameters\":{\"classification\":\"csv\"}}");
	CHECK_EQ(cat_table_put(st, "d", in, 40), 1);
	CHECK_EQ(cat_table_put(st, "d", in, 50), 0);
	CHECK_EQ(cat_table_version_list(st, "d", "crawled", -1, 10, &l, &more), 2);
	json_decref(l);
	CHECK_EQ(cat_table_put(st, "nodb", in, 50), -CAT_ERR_NOT_FOUND);
	json_decref(in);
	/* Deleting the table deletes its versions: a new table of that name starts afresh. */
	CHECK_EQ(cat_table_delete(st, "d", "t"), 0);
	REQUIRE(table_create("d", "{\"Name\":\"t\"}", 60) == 0);
	CHECK_EQ(cat_table_version_list(st, "d", "t", -1, 10, &l, &more), 1);
	json_decref(l);
	json_decref(up);
	teardown();
}

static void test_partitions_lifecycle(void)
{
	json_t *p, *v;
	setup_partitioned();
	CHECK_EQ(part_create("[\"2024\",\"eu\"]", "s3://b/2024/eu"), 0);
	CHECK_EQ(part_create("[\"2024\",\"eu\"]", "s3://b/x"), -CAT_ERR_EXISTS);
	CHECK_EQ(part_create("[\"2024\"]", "s3://b/x"), -CAT_ERR_VALUES);
	CHECK_EQ(part_create("[\"2024\",\"eu\",\"x\"]", "s3://b/x"), -CAT_ERR_VALUES);
	CHECK_EQ(part_create("[2024,\"eu\"]", "s3://b/x"), -CAT_ERR_INVALID);
	CHECK_EQ(part_create("\"2024\"", "s3://b/x"), -CAT_ERR_INVALID);
	json_t *in = obj("{\"Values\":[\"a\"]}");
	CHECK_EQ(cat_partition_create(st, "d", "flat", in, 1), -CAT_ERR_VALUES);
	CHECK_EQ(cat_partition_create(st, "d", "none", in, 1), -CAT_ERR_NOT_FOUND);
	CHECK_EQ(cat_partition_create(st, "x", "t", in, 1), -CAT_ERR_NOT_FOUND);
	json_decref(in);
	v = obj("[\"2024\",\"eu\"]");
	CHECK_EQ(cat_partition_get(st, "D", "T", v, &p), 0);
	CHECK_STR(loc_of(p), "s3://b/2024/eu");
	CHECK_STR(str(p, "DatabaseName"), "d");
	CHECK_STR(str(p, "TableName"), "t");
	CHECK_EQ(json_integer_value(json_object_get(p, "CreationTime")), 500);
	json_decref(p);
	/* Update moves the partition to new values, keeping CreationTime. */
	in = obj("{\"Values\":[\"2024\",\"us\"],\"StorageDescriptor\":{\"Location\":\"s3://n\"}}");
	CHECK_EQ(cat_partition_update(st, "d", "t", v, in), 0);
	CHECK_EQ(cat_partition_get(st, "d", "t", v, &p), -CAT_ERR_NOT_FOUND);
	CHECK_EQ(cat_partition_update(st, "d", "t", v, in), -CAT_ERR_NOT_FOUND);
	json_decref(v);
	v = obj("[\"2024\",\"us\"]");
	CHECK_EQ(cat_partition_get(st, "d", "t", v, &p), 0);
	CHECK_STR(loc_of(p), "s3://n");
	CHECK_EQ(json_integer_value(json_object_get(p, "CreationTime")), 500);
	json_decref(p);
	json_decref(in);
	/* Moving onto an existing partition is refused. */
	CHECK_EQ(part_create("[\"2023\",\"eu\"]", "s3://b/2023/eu"), 0);
	in = obj("{\"Values\":[\"2023\",\"eu\"]}");
	CHECK_EQ(cat_partition_update(st, "d", "t", v, in), -CAT_ERR_EXISTS);
	json_decref(in);
	/* put: replace keeps CreationTime; new values create. */
	in = obj("{\"Values\":[\"2024\",\"us\"],\"Parameters\":{\"k\":\"v\"}}");
	CHECK_EQ(cat_partition_put(st, "d", "t", in, 900), 0);
	json_decref(in);
	CHECK_EQ(cat_partition_get(st, "d", "t", v, &p), 0);
	CHECK_STR(str(json_object_get(p, "Parameters"), "k"), "v");
	CHECK_EQ(json_integer_value(json_object_get(p, "CreationTime")), 500);
	json_decref(p);
	in = obj("{\"Values\":[\"2025\",\"us\"]}");
	CHECK_EQ(cat_partition_put(st, "d", "t", in, 900), 1);
	json_decref(in);
	CHECK_EQ(cat_partition_delete(st, "d", "t", v), 0);
	CHECK_EQ(cat_partition_delete(st, "d", "t", v), -CAT_ERR_NOT_FOUND);
	json_decref(v);
	v = obj("[\"2024\"]");
	CHECK_EQ(cat_partition_delete(st, "d", "t", v), -CAT_ERR_VALUES);
	json_decref(v);
	teardown();
}

static void test_partitions_batch_list_filter_segments(void)
{
	char text[64];
	json_t *l, *inputs = json_array();
	int64_t next;
	int res[40];
	setup_partitioned();
	for (int i = 0; i < 30; i++) {
		snprintf(text, sizeof(text), "{\"Values\":[\"%d\",\"%s\"]}", 2000 + i % 15,
			 i < 15 ? "eu" : "us");
		json_array_append_new(inputs, obj(text));
	}
	json_array_append_new(inputs, obj("{\"Values\":[\"2000\",\"eu\"]}"));
	json_array_append_new(inputs, obj("{\"Values\":[\"1\"]}"));
	CHECK_EQ(cat_partition_create_batch(st, "d", "t", inputs, 7, res), 0);
	for (int i = 0; i < 30; i++)
		CHECK_EQ(res[i], 0);
	CHECK_EQ(res[30], -CAT_ERR_EXISTS);
	CHECK_EQ(res[31], -CAT_ERR_VALUES);
	CHECK_EQ(cat_partition_create_batch(st, "d", "nope", inputs, 7, res), -CAT_ERR_NOT_FOUND);
	json_decref(inputs);

	/* All, in pages of 7, in creation order. */
	struct cat_partition_query q = { .max = 7 };
	int total = 0, pages = 0;
	do {
		int n = cat_partition_list(st, "d", "t", &q, &l, &next);
		CHECK(n >= 0);
		if (total == 0)
			CHECK_STR(json_string_value(json_array_get(json_object_get(
				json_array_get(l, 0), "Values"), 0)), "2000");
		total += n;
		pages++;
		json_decref(l);
		q.after = next;
	} while (next && pages < 10);
	CHECK_EQ(total, 30);
	CHECK_EQ(pages, 5);

	/* A filter, typed by the keys: year is an int. */
	char err[CAT_EXPR_ERR_MAX];
	struct cat_expr *e;
	json_t *t;
	REQUIRE(cat_table_get(st, "d", "t", &t) == 0);
	REQUIRE(cat_expr_compile("year >= 2010 AND region = 'us'", json_object_get(t, "PartitionKeys"),
				 &e, err) == 0);
	json_decref(t);
	q = (struct cat_partition_query){ .filter = e, .max = 3 };
	total = 0;
	pages = 0;
	do {
		int n = cat_partition_list(st, "d", "t", &q, &l, &next);
		total += n;
		pages++;
		json_decref(l);
		q.after = next;
	} while (next && pages < 10);
	CHECK_EQ(total, 5);
	CHECK_EQ(pages, 2);
	cat_expr_free(e);

	/* Segments: disjoint, and together all. */
	total = 0;
	for (unsigned sg = 0; sg < 4; sg++) {
		q = (struct cat_partition_query){ .segment = sg, .segments = 4, .max = 100 };
		int n = cat_partition_list(st, "d", "t", &q, &l, &next);
		CHECK(n >= 5 && n <= 10);
		CHECK_EQ(next, 0);
		total += n;
		json_decref(l);
	}
	CHECK_EQ(total, 30);

	/* Deleting the table deletes its partitions; so does deleting the database. */
	CHECK_EQ(cat_table_delete(st, "d", "t"), 0);
	REQUIRE(table_create("d", "{\"Name\":\"t\",\"PartitionKeys\":[{\"Name\":\"a\"}]}", 1) == 0);
	q = (struct cat_partition_query){ .max = 100 };
	CHECK_EQ(cat_partition_list(st, "d", "t", &q, &l, &next), 0);
	json_decref(l);
	CHECK_EQ(part_create("[\"x\"]", "s3://x"), 0);
	CHECK_EQ(cat_db_delete(st, "d"), 0);
	REQUIRE(db_create("{\"Name\":\"d\"}", 1) == 0);
	REQUIRE(table_create("d", "{\"Name\":\"t\",\"PartitionKeys\":[{\"Name\":\"a\"}]}", 1) == 0);
	CHECK_EQ(cat_partition_list(st, "d", "t", &q, &l, &next), 0);
	json_decref(l);
	CHECK_EQ(cat_partition_list(st, "d", "gone", &q, &l, &next), -CAT_ERR_NOT_FOUND);
	/* A renamed database takes its partitions along. */
	CHECK_EQ(part_create("[\"x\"]", "s3://x"), 0);
	json_t *ren = obj("{\"Name\":\"e\"}");
	CHECK_EQ(cat_db_update(st, "d", ren), 0);
	json_decref(ren);
	json_t *v = obj("[\"x\"]"), *p;
	CHECK_EQ(cat_partition_get(st, "e", "t", v, &p), 0);
	CHECK_STR(str(p, "DatabaseName"), "e");
	json_decref(p);
	json_decref(v);
	teardown();
}

int main(void)
{
	DP_TEST_RUN(test_name_fold_and_rules);
	DP_TEST_RUN(test_database_lifecycle);
	DP_TEST_RUN(test_database_list_pages);
	DP_TEST_RUN(test_table_lifecycle_and_versions);
	DP_TEST_RUN(test_database_delete_and_rename_carry_tables);
	DP_TEST_RUN(test_table_versions_archive_list_get_delete);
	DP_TEST_RUN(test_partitions_lifecycle);
	DP_TEST_RUN(test_partitions_batch_list_filter_segments);
	return dp_test_done();
}
