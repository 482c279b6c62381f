/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for cat_store on an in-memory SQLite database: databases and tables created, read,
 * listed in pages, updated (with the version check) and deleted; names folded and rejected as
 * Glue does; a database's tables go with it.
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
	CHECK_EQ(cat_table_update(st, "d", up, 0, 200), 0);
	CHECK_EQ(cat_table_update(st, "d", up, 0, 300), -CAT_ERR_CONFLICT);
	CHECK_EQ(cat_table_update(st, "d", up, -1, 300), 0);
	CHECK_EQ(cat_table_update(st, "nodb", up, -1, 300), -CAT_ERR_NOT_FOUND);
	json_decref(up);
	up = obj("{\"Name\":\"ghost\"}");
	CHECK_EQ(cat_table_update(st, "d", up, -1, 300), -CAT_ERR_NOT_FOUND);
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

int main(void)
{
	DP_TEST_RUN(test_name_fold_and_rules);
	DP_TEST_RUN(test_database_lifecycle);
	DP_TEST_RUN(test_database_list_pages);
	DP_TEST_RUN(test_table_lifecycle_and_versions);
	DP_TEST_RUN(test_database_delete_and_rename_carry_tables);
	return dp_test_done();
}
