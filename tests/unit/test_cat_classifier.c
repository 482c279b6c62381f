/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for cat_classifier on an in-memory SQLite database: the four kinds stored with the
 * server's members, names kept as sent, duplicates refused, updates merged with Version + 1 and
 * the kind kept, listing in pages, deletion, the generation counter that marks a compiled set
 * stale; and a set built from the stored definitions classifies with them first.
 */
#include "cat_classifier.h"

#include <string.h>

#include "cat_classify.h"
#include "dp_test.h"

static sqlite3 *db;

static void setup(void)
{
	REQUIRE(sqlite3_open(":memory:", &db) == SQLITE_OK);
	for (int v = 0; v < CAT_CLASSIFIER_SCHEMA_VERSION; v++)
		REQUIRE(sqlite3_exec(db, cat_classifier_schema_steps[v], NULL, NULL, NULL) == SQLITE_OK);
}

static int create(const char *text, int64_t now)
{
	json_t *d = json_loads(text, 0, NULL);
	int r = cat_classifier_create(db, d, now);
	json_decref(d);
	return r;
}

static int update(const char *text, int64_t now)
{
	json_t *d = json_loads(text, 0, NULL);
	int r = cat_classifier_update(db, d, now, NULL);
	json_decref(d);
	return r;
}

static void test_create_get_update_delete(void)
{
	setup();
	CHECK_EQ(cat_classifier_generation(db), 0);
	CHECK_EQ(create("{\"GrokClassifier\": {\"Name\": \"MyLogs\", \"Classification\": \"app\", "
			"\"GrokPattern\": \"%{WORD:w}\"}}", 100), 0);
	CHECK_EQ(create("{\"GrokClassifier\": {\"Name\": \"MyLogs\", \"Classification\": \"x\", "
			"\"GrokPattern\": \"%{INT}\"}}", 101), -CAT_ERR_EXISTS);
	CHECK_EQ(create("{\"CsvClassifier\": {\"Name\": \"a\\nb\"}}", 101), -CAT_ERR_INVALID);
	CHECK_EQ(create("{\"CsvClassifier\": {}, \"JsonClassifier\": {\"Name\": \"j\"}}", 101),
		 -CAT_ERR_INVALID);
	CHECK_EQ(cat_classifier_generation(db), 1);

	json_t *d;
	REQUIRE(cat_classifier_get(db, "MyLogs", &d) == 0);
	json_t *b = json_object_get(d, "GrokClassifier");
	CHECK_STR(json_string_value(json_object_get(b, "Name")), "MyLogs");
	CHECK_EQ(json_integer_value(json_object_get(b, "Version")), 1);
	CHECK_EQ(json_integer_value(json_object_get(b, "CreationTime")), 100);
	json_decref(d);
	CHECK_EQ(cat_classifier_get(db, "mylogs", &d), -CAT_ERR_NOT_FOUND);  /* not folded */

	CHECK_EQ(update("{\"GrokClassifier\": {\"Name\": \"MyLogs\", \"GrokPattern\": \"%{INT:n}\"}}",
			200), 0);
	REQUIRE(cat_classifier_get(db, "MyLogs", &d) == 0);
	b = json_object_get(d, "GrokClassifier");
	CHECK_STR(json_string_value(json_object_get(b, "GrokPattern")), "%{INT:n}");
	CHECK_STR(json_string_value(json_object_get(b, "Classification")), "app");
	CHECK_EQ(json_integer_value(json_object_get(b, "Version")), 2);
	CHECK_EQ(json_integer_value(json_object_get(b, "CreationTime")), 100);
	CHECK_EQ(json_integer_value(json_object_get(b, "LastUpdated")), 200);
	json_decref(d);
	CHECK_EQ(update("{\"JsonClassifier\": {\"Name\": \"MyLogs\", \"JsonPath\": \"$\"}}", 201),
		 -CAT_ERR_CONFLICT);
	CHECK_EQ(update("{\"JsonClassifier\": {\"Name\": \"none\", \"JsonPath\": \"$\"}}", 201),
		 -CAT_ERR_NOT_FOUND);
	CHECK_EQ(cat_classifier_generation(db), 2);

	CHECK_EQ(cat_classifier_delete(db, "MyLogs"), 0);
	CHECK_EQ(cat_classifier_delete(db, "MyLogs"), -CAT_ERR_NOT_FOUND);
	CHECK_EQ(cat_classifier_generation(db), 3);
	sqlite3_close(db);
}

static void test_list_pages_and_build(void)
{
	setup();
	CHECK_EQ(create("{\"XMLClassifier\": {\"Name\": \"c\", \"Classification\": \"xml\", "
			"\"RowTag\": \"r\"}}", 1), 0);
	CHECK_EQ(create("{\"CsvClassifier\": {\"Name\": \"a\", \"Delimiter\": \";\", "
			"\"ContainsHeader\": \"PRESENT\"}}", 1), 0);
	CHECK_EQ(create("{\"GrokClassifier\": {\"Name\": \"b\", \"Classification\": \"kv\", "
			"\"GrokPattern\": \"%{WORD:k}=%{INT:v:int}\"}}", 1), 0);
	json_t *items;
	bool more;
	REQUIRE(cat_classifier_list(db, NULL, 2, &items, &more) == 0);
	CHECK_EQ(json_array_size(items), 2);
	CHECK(more);
	CHECK(json_object_get(json_array_get(items, 0), "CsvClassifier") != NULL);
	json_decref(items);
	REQUIRE(cat_classifier_list(db, "b", 2, &items, &more) == 0);
	CHECK_EQ(json_array_size(items), 1);
	CHECK(!more);
	json_decref(items);

	REQUIRE(cat_classifier_list(db, NULL, 0, &items, &more) == 0);
	const json_t *defs[3];
	for (size_t i = 0; i < 3; i++)
		defs[i] = json_array_get(items, i);
	struct cat_classifiers *cl;
	char err[256];
	REQUIRE(cat_classifiers_new(defs, 3, NULL, &cl, err, sizeof(err)) == 0);
	struct cat_classification c;
	static const char kv[] = "alpha=1\nbeta=22\n";
	REQUIRE(cat_classify_sample(cl, "kv.txt", (const uint8_t *)kv, strlen(kv), &c) == 0);
	CHECK_STR(c.classification, "kv");
	CHECK_STR(c.classifier, "b");
	CHECK_EQ(c.n_columns, 2);
	CHECK_STR(c.columns[1].type, "bigint");
	cat_classification_clear(&c);
	static const char csv[] = "name;n\nx;1\ny;2\n";
	REQUIRE(cat_classify_sample(cl, "a.csv", (const uint8_t *)csv, strlen(csv), &c) == 0);
	CHECK_STR(c.classifier, "a");
	CHECK(c.header);
	CHECK_STR(c.columns[0].name, "name");
	cat_classification_clear(&c);
	cat_classifiers_free(cl);
	json_decref(items);
	sqlite3_close(db);
}

int main(void)
{
	DP_TEST_RUN(test_create_get_update_delete);
	DP_TEST_RUN(test_list_pages_and_build);
	return dp_test_done();
}
