/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for cat_expr, the GetPartitions Expression: every operator, precedence (NOT over
 * AND over OR, parentheses), comparisons typed by the partition key (string vs integer vs date
 * vs timestamp vs decimal), three-valued logic for values that are not of the key's type, and
 * the exact error (position, unknown column, bad literal) for bad input and for the bounds.
 */
#include "cat_expr.h"

#include <stdlib.h>
#include <string.h>

#include "dp_test.h"

/* Keys: year int, dt date, region string, ts timestamp, price decimal(10,2), flag boolean. */
static json_t *keys;

static json_t *make_keys(void)
{
	return json_loads("[{\"Name\":\"year\",\"Type\":\"int\"},{\"Name\":\"dt\",\"Type\":\"date\"},"
			  "{\"Name\":\"Region\",\"Type\":\"string\"},"
			  "{\"Name\":\"ts\",\"Type\":\"timestamp\"},"
			  "{\"Name\":\"price\",\"Type\":\"decimal(10,2)\"},"
			  "{\"Name\":\"flag\",\"Type\":\"boolean\"}]", 0, NULL);
}

/* Does text match the partition (year, dt, region, ts, price, flag)? -1 when it fails to compile. */
static int m(const char *text, const char *year, const char *dt, const char *region)
{
	char err[CAT_EXPR_ERR_MAX];
	struct cat_expr *e;
	if (cat_expr_compile(text, keys, &e, err) < 0) {
		printf("# compile failed: %s: %s\n", text, err);
		return -1;
	}
	const char *v[] = { year, dt, region, "2024-03-01 10:00:00", "12.50", "true" };
	int r = cat_expr_match(e, v, 6);
	cat_expr_free(e);
	return r;
}

/* The compile error for text ("" when it compiles). */
static const char *bad(const char *text)
{
	static char err[CAT_EXPR_ERR_MAX];
	struct cat_expr *e = NULL;
	int r = cat_expr_compile(text, keys, &e, err);
	if (r == 0) {
		cat_expr_free(e);
		return "";
	}
	return r == -EINVAL ? err : "(not EINVAL)";
}

static void test_comparisons_and_operators(void)
{
	CHECK_EQ(m("year = 2024", "2024", "2024-01-01", "eu"), 1);
	CHECK_EQ(m("year = '2024'", "2024", "2024-01-01", "eu"), 1);
	CHECK_EQ(m("year <> 2024", "2024", "2024-01-01", "eu"), 0);
	CHECK_EQ(m("year != 2023", "2024", "2024-01-01", "eu"), 1);
	CHECK_EQ(m("year < 2025", "2024", "2024-01-01", "eu"), 1);
	CHECK_EQ(m("year > 2024", "2024", "2024-01-01", "eu"), 0);
	CHECK_EQ(m("year >= 2024", "2024", "2024-01-01", "eu"), 1);
	CHECK_EQ(m("year <= 2023", "2024", "2024-01-01", "eu"), 0);
	CHECK_EQ(m("year BETWEEN 2015 AND 2024", "2024", "2024-01-01", "eu"), 1);
	CHECK_EQ(m("year BETWEEN 2015 AND 2023", "2024", "2024-01-01", "eu"), 0);
	CHECK_EQ(m("year NOT BETWEEN 2015 AND 2023", "2024", "2024-01-01", "eu"), 1);
	CHECK_EQ(m("year IN (2015, 2016, 2024)", "2024", "2024-01-01", "eu"), 1);
	CHECK_EQ(m("year in (2015,2016)", "2024", "2024-01-01", "eu"), 0);
	CHECK_EQ(m("year NOT IN (2015,2016)", "2024", "2024-01-01", "eu"), 1);
	CHECK_EQ(m("region LIKE 'e%'", "2024", "2024-01-01", "eu-west"), 1);
	CHECK_EQ(m("region LIKE '%west'", "2024", "2024-01-01", "eu-west"), 1);
	CHECK_EQ(m("region LIKE 'eu_west'", "2024", "2024-01-01", "eu-west"), 1);
	CHECK_EQ(m("region LIKE 'eu_west'", "2024", "2024-01-01", "euwest"), 0);
	CHECK_EQ(m("region LIKE '%s%t%'", "2024", "2024-01-01", "eu-west"), 1);
	CHECK_EQ(m("region LIKE 'w%'", "2024", "2024-01-01", "eu-west"), 0);
	CHECK_EQ(m("region NOT LIKE 'w%'", "2024", "2024-01-01", "eu-west"), 1);
	CHECK_EQ(m("region LIKE '_'", "2024", "2024-01-01", "\xc3\xa9"), 1);
	CHECK_EQ(m("year LIKE '%4'", "2024", "2024-01-01", "eu"), 1);
	/* Column names and keywords in any case; quoted identifiers. */
	CHECK_EQ(m("REGION = 'eu' and YEAR=2024", "2024", "2024-01-01", "eu"), 1);
	CHECK_EQ(m("`region` = 'eu' AND \"year\" = 2024", "2024", "2024-01-01", "eu"), 1);
	/* '' inside a literal is a quote. */
	CHECK_EQ(m("region = 'o''brien'", "2024", "2024-01-01", "o'brien"), 1);
	CHECK_EQ(m("region IS NULL", "2024", "2024-01-01", "__HIVE_DEFAULT_PARTITION__"), 1);
	CHECK_EQ(m("region IS NOT NULL", "2024", "2024-01-01", "eu"), 1);
	CHECK_EQ(m("region IS NULL", "2024", "2024-01-01", "eu"), 0);
}

static void test_typed_comparisons(void)
{
	/* Integers compare as numbers on an int key ... */
	CHECK_EQ(m("year > 9", "10", "2024-01-01", "eu"), 1);
	CHECK_EQ(m("year = 10", "010", "2024-01-01", "eu"), 1);
	CHECK_EQ(m("year > -1", "0", "2024-01-01", "eu"), 1);
	/* ... and as text on a string key. */
	CHECK_EQ(m("region > 9", "1", "2024-01-01", "10"), 0);
	CHECK_EQ(m("region > '09'", "1", "2024-01-01", "10"), 1);
	CHECK_EQ(m("region = 10", "1", "2024-01-01", "10"), 1);
	/* Dates compare as dates. */
	CHECK_EQ(m("dt > '2024-01-01'", "1", "2024-01-02", "eu"), 1);
	CHECK_EQ(m("dt BETWEEN '2023-12-31' AND '2024-02-29'", "1", "2024-02-29", "eu"), 1);
	CHECK_EQ(m("dt < '2024-01-01'", "1", "2023-12-31", "eu"), 1);
	/* Timestamps: date-only and fractional literals. */
	CHECK_EQ(m("ts > '2024-03-01'", "1", "2024-01-01", "eu"), 1);
	CHECK_EQ(m("ts = '2024-03-01 10:00:00.000'", "1", "2024-01-01", "eu"), 1);
	CHECK_EQ(m("ts < '2024-03-01 09:59:59.999999999'", "1", "2024-01-01", "eu"), 0);
	CHECK_EQ(m("ts < '9999-12-31 23:59:59.999999999'", "1", "2024-01-01", "eu"), 1);
	CHECK_EQ(m("ts > '2024-03-01 10:00:00.000000001'", "1", "2024-01-01", "eu"), 0);
	CHECK_EQ(m("ts >= '2024-03-01T10:00:00'", "1", "2024-01-01", "eu"), 1);
	CHECK_EQ(m("dt > '0000-01-01' AND dt < '9999-12-31'", "1", "2024-01-01", "eu"), 1);
	/* Decimals compare as numbers. */
	CHECK_EQ(m("price > 9.99", "1", "2024-01-01", "eu"), 1);
	CHECK_EQ(m("price = 12.5", "1", "2024-01-01", "eu"), 1);
	/* A value that is not of the key's type is unknown: neither the predicate nor its NOT. */
	CHECK_EQ(m("year = 1", "__HIVE_DEFAULT_PARTITION__", "2024-01-01", "eu"), 0);
	CHECK_EQ(m("NOT year = 1", "__HIVE_DEFAULT_PARTITION__", "2024-01-01", "eu"), 0);
	CHECK_EQ(m("year = 1 OR region = 'eu'", "x", "2024-01-01", "eu"), 1);
	CHECK_EQ(m("year IS NULL", "__HIVE_DEFAULT_PARTITION__", "2024-01-01", "eu"), 0);
	CHECK_EQ(m("dt = '2024-01-01'", "1", "2024-02-30", "eu"), 0);
}

static void test_precedence(void)
{
	/* AND binds tighter than OR: a OR (b AND c). */
	CHECK_EQ(m("year = 1 OR year = 2 AND region = 'x'", "1", "2024-01-01", "eu"), 1);
	CHECK_EQ(m("(year = 1 OR year = 2) AND region = 'x'", "1", "2024-01-01", "eu"), 0);
	/* NOT binds tighter than AND. */
	CHECK_EQ(m("NOT year = 1 AND region = 'eu'", "2", "2024-01-01", "eu"), 1);
	CHECK_EQ(m("NOT (year = 2 AND region = 'x')", "2", "2024-01-01", "eu"), 1);
	CHECK_EQ(m("NOT NOT year = 2", "2", "2024-01-01", "eu"), 1);
	/* BETWEEN's AND is not the connective. */
	CHECK_EQ(m("year BETWEEN 1 AND 3 AND region = 'eu'", "2", "2024-01-01", "eu"), 1);
	CHECK_EQ(m("((((year = 2))))", "2", "2024-01-01", "eu"), 1);
}

static void test_errors_name_position_and_cause(void)
{
	CHECK_STR(bad("year = 2024"), "");
	CHECK_STR(bad("nope = 1"), "Invalid partition expression at position 1: unknown column "
		  "'nope'; the partition keys are year, dt, Region, ts, price, flag");
	CHECK_STR(bad("year = 1 AND zz > 'a'"), "Invalid partition expression at position 14: "
		  "unknown column 'zz'; the partition keys are year, dt, Region, ts, price, flag");
	CHECK_STR(bad("year = "), "Invalid partition expression at position 8: expected a quoted "
		  "string or a number, found the end of the expression");
	CHECK_STR(bad("year = 'abc'"), "Invalid partition expression at position 8: 'abc' is not "
		  "a integer, the type of partition key 'year'");
	CHECK_STR(bad("dt > '2024-13-01'"), "Invalid partition expression at position 6: "
		  "'2024-13-01' is not a date (YYYY-MM-DD), the type of partition key 'dt'");
	CHECK_STR(bad("region = 'eu"), "Invalid partition expression at position 10: "
		  "unterminated string literal");
	CHECK_STR(bad("(year = 1"), "Invalid partition expression at position 10: expected ')', "
		  "found the end of the expression");
	CHECK_STR(bad("year = 1 region = 'x'"), "Invalid partition expression at position 10: "
		  "expected AND, OR or the end of the expression, found 'region'");
	CHECK_STR(bad("year == 1"), "Invalid partition expression at position 7: expected a "
		  "quoted string or a number, found '='");
	CHECK_STR(bad("year ~ 1"), "Invalid partition expression at position 6: unexpected "
		  "character '~'");
	CHECK_STR(bad("flag = 'true'"), "Invalid partition expression at position 1: partition key "
		  "'flag' has type boolean, which an expression cannot compare (use string, date, "
		  "timestamp, an integer type or decimal)");
	CHECK_STR(bad("year IN ()"), "Invalid partition expression at position 10: expected a "
		  "quoted string or a number, found ')'");
	CHECK_STR(bad("year BETWEEN 1 OR 2"), "Invalid partition expression at position 16: "
		  "expected AND, found 'OR'");
	CHECK_STR(bad("region LIKE 5"), "Invalid partition expression at position 13: expected a "
		  "quoted pattern, found '5'");
	CHECK_STR(bad("AND = 1"), "Invalid partition expression at position 1: expected a "
		  "partition key name, found 'AND'");
	CHECK_STR(bad("year = 99999999999999999999"), "Invalid partition expression at position "
		  "8: 99999999999999999999 is not a integer, the type of partition key 'year'");
	CHECK_STR(bad(""), "Invalid partition expression at position 1: the expression is empty");
	CHECK_STR(bad("year = 1x"), "Invalid partition expression at position 8: malformed number");
	/* No partition keys: every column is unknown. */
	char err[CAT_EXPR_ERR_MAX];
	struct cat_expr *e = NULL;
	CHECK_EQ(cat_expr_compile("a = 1", NULL, &e, err), -EINVAL);
	CHECK(e == NULL);
	CHECK_STR(err, "Invalid partition expression at position 1: unknown column 'a'; the table "
		  "has no partition keys");
}

static void test_bounds(void)
{
	char *s = malloc(8192);
	REQUIRE(s);
	/* Depth: 32 nested parentheses compile, 33 do not. */
	size_t n = 0;
	for (int i = 0; i < CAT_EXPR_DEPTH_MAX; i++)
		s[n++] = '(';
	n += (size_t)sprintf(s + n, "year=1");
	for (int i = 0; i < CAT_EXPR_DEPTH_MAX; i++)
		s[n++] = ')';
	s[n] = '\0';
	CHECK_EQ(m(s, "1", "2024-01-01", "eu"), 1);
	memmove(s + 1, s, n + 1);
	s[0] = '(';
	strcat(s, ")");
	CHECK(strstr(bad(s), "nested deeper than 32") != NULL);
	/* NOT chains count as depth too. */
	n = 0;
	for (int i = 0; i < 40; i++)
		n += (size_t)sprintf(s + n, "NOT ");
	sprintf(s + n, "year = 1");
	CHECK(strstr(bad(s), "nested deeper than 32") != NULL);
	/* Length. */
	memset(s, ' ', CAT_EXPR_LEN_MAX + 1);
	memcpy(s, "year=1", 6);
	s[CAT_EXPR_LEN_MAX + 1] = '\0';
	CHECK_STR(bad(s), "Invalid partition expression: longer than 2048 bytes");
	s[CAT_EXPR_LEN_MAX] = '\0';
	CHECK_STR(bad(s), "");
	/* A long flat OR chain costs no depth; a wide IN list is fine within the node bound. */
	n = 0;
	while (n < CAT_EXPR_LEN_MAX - 16)
		n += (size_t)sprintf(s + n, "%syear=%d", n ? " OR " : "", (int)n);
	CHECK_STR(bad(s), "");
	n = (size_t)sprintf(s, "year IN (1");
	while (n < CAT_EXPR_LEN_MAX - 4)
		n += (size_t)sprintf(s + n, ",1");
	strcpy(s + n, ")");
	CHECK_STR(bad(s), "");
	CHECK_EQ(m(s, "1", "2024-01-01", "eu"), 1);
	/* LIKE worst case stays fast: many '%' against a long non-matching value. */
	char val[1025];
	memset(val, 'a', 1024);
	val[1024] = '\0';
	n = (size_t)sprintf(s, "region LIKE '");
	for (int i = 0; i < 500; i++)
		n += (size_t)sprintf(s + n, "%%a");
	strcpy(s + n, "b'");
	CHECK_EQ(m(s, "1", "2024-01-01", val), 0);
	free(s);
}

static void test_match_json_and_arity(void)
{
	char err[CAT_EXPR_ERR_MAX];
	struct cat_expr *e;
	json_t *k = json_loads("[{\"Name\":\"a\",\"Type\":\"string\"},{\"Name\":\"b\"}]", 0, NULL);
	REQUIRE(cat_expr_compile("a = 'x' AND b LIKE 'y%'", k, &e, err) == 0);
	json_t *v = json_loads("[\"x\",\"yes\"]", 0, NULL);
	CHECK(cat_expr_match_json(e, v));
	json_decref(v);
	v = json_loads("[\"x\"]", 0, NULL);
	CHECK(!cat_expr_match_json(e, v));
	json_decref(v);
	v = json_loads("[\"x\", 5]", 0, NULL);
	CHECK(!cat_expr_match_json(e, v));
	json_decref(v);
	cat_expr_free(e);
	json_decref(k);
}

int main(void)
{
	keys = make_keys();
	if (!keys)
		return 1;
	DP_TEST_RUN(test_comparisons_and_operators);
	DP_TEST_RUN(test_typed_comparisons);
	DP_TEST_RUN(test_precedence);
	DP_TEST_RUN(test_errors_name_position_and_cause);
	DP_TEST_RUN(test_bounds);
	DP_TEST_RUN(test_match_json_and_arity);
	json_decref(keys);
	return dp_test_done();
}
