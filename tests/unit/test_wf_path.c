/* SPDX-License-Identifier: MIT */
/*
 * wf_path: JSONPath selection (definite and list paths, filters, deep scan, slices), reference
 * paths, ResultPath placement and refused paths.
 */
#include "dp_test.h"
#include "wf_test_host.h"
#include "wf_path.h"

static const char *store =
	"{\"store\":{\"book\":[{\"category\":\"reference\",\"author\":\"Nigel Rees\",\"price\":8.95},"
	"{\"category\":\"fiction\",\"author\":\"Evelyn Waugh\",\"price\":12.99},"
	"{\"category\":\"fiction\",\"author\":\"Herman Melville\",\"isbn\":\"0-553\",\"price\":8.99},"
	"{\"category\":\"fiction\",\"author\":\"J. R. R. Tolkien\",\"isbn\":\"0-395\",\"price\":22.99}],"
	"\"bicycle\":{\"color\":\"red\",\"price\":19.95}},\"a\":{\"b c\":1,\"x\":[1,2,3,4,5]}}";

/* Evaluate @path over store; compare with @want (JSON text) or expect ENOENT when NULL. */
static bool sel(const char *path, const char *want)
{
	struct wf_path *p = NULL;
	json_t *doc = json_loads(store, 0, NULL), *out = NULL;
	char err[256];
	bool ok;
	int r = wf_path_compile(path, 0, &p, err, sizeof(err));

	if (r < 0) {
		printf("# %s: %s\n", path, err);
		json_decref(doc);
		return false;
	}
	r = wf_path_eval(p, doc, &out);
	if (!want)
		ok = r == -ENOENT;
	else
		ok = r == 0 && th_json_is(out, want);
	if (!ok)
		printf("# path %s (r=%d)\n", path, r);
	json_decref(out);
	json_decref(doc);
	wf_path_free(p);
	return ok;
}

static void test_path_definite(void)
{
	CHECK(sel("$", store));
	CHECK(sel("$.store.bicycle.color", "\"red\""));
	CHECK(sel("$['store']['bicycle']['price']", "19.95"));
	CHECK(sel("$.a['b c']", "1"));
	CHECK(sel("$.store.book[1].author", "\"Evelyn Waugh\""));
	CHECK(sel("$.a.x[-1]", "5"));
	CHECK(sel("$.store.nothing", NULL));
	CHECK(sel("$.store.book[9]", NULL));
	CHECK(sel("$.store.bicycle.color.deeper", NULL));
}

static void test_path_lists(void)
{
	CHECK(sel("$.store.book[*].author",
		  "[\"Nigel Rees\",\"Evelyn Waugh\",\"Herman Melville\",\"J. R. R. Tolkien\"]"));
	CHECK(sel("$.a.x[1:3]", "[2,3]"));
	CHECK(sel("$.a.x[-2:]", "[4,5]"));
	CHECK(sel("$.a.x[:2]", "[1,2]"));
	CHECK(sel("$.a.x[::2]", "[1,3,5]"));
	CHECK(sel("$.a.x[0,2]", "[1,3]"));
	CHECK(sel("$.store.bicycle['color','price']", "[\"red\",19.95]"));
	CHECK(sel("$..price", "[8.95,12.99,8.99,22.99,19.95]"));
	CHECK(sel("$..book[2].author", "[\"Herman Melville\"]"));
	CHECK(sel("$.store.bicycle.*", "[\"red\",19.95]"));
	/* Indefinite paths over missing fields give [] (AWS), never an error. */
	CHECK(sel("$.missing[*]", "[]"));
	CHECK(sel("$.missing[*].type", "[]"));
}

static void test_path_filters(void)
{
	CHECK(sel("$.store.book[?(@.price < 10)].author", "[\"Nigel Rees\",\"Herman Melville\"]"));
	CHECK(sel("$.store.book[?(@.isbn)].author", "[\"Herman Melville\",\"J. R. R. Tolkien\"]"));
	CHECK(sel("$.store.book[?(@.category == 'reference')].price", "[8.95]"));
	CHECK(sel("$.store.book[?(@.price >= 12.99 && @.category != 'reference')].price",
		  "[12.99,22.99]"));
	CHECK(sel("$.store.book[?(@.price > 20 || @.price < 9)].price", "[8.95,8.99,22.99]"));
	CHECK(sel("$.store.book[?(!(@.price > 9))].price", "[8.95,8.99]"));
	CHECK(sel("$.store.book[?(@.price > $.store.bicycle.price)].author",
		  "[\"J. R. R. Tolkien\"]"));
	CHECK(sel("$.a.x[?(@ > 3)]", "[4,5]"));
}

static void test_path_refused(void)
{
	static const char *bad[] = {"", "a.b", "$.", "$[", "$['a'", "$[?(@.a >)]", "$.a[1:2:0]",
				    "$..", "$[x]", "$.a[?(@.a == 'x)]", "$[?(1)]",
				    /* found by fuzz_jsonpath: */ "$..b[?(!!(!!$!> 2)]", "$.p\xdb\x30]"};
	struct wf_path *p = NULL;
	char err[256];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int r = wf_path_compile(bad[i], 0, &p, err, sizeof(err));

		CHECK_EQ(r, -EINVAL);
		if (r == 0) {
			printf("# accepted '%s'\n", bad[i]);
			wf_path_free(p);
		} else {
			CHECK(err[0] != '\0');
		}
	}
	{
		char deep[256] = "$[?(";

		for (int i = 0; i < 40; i++)
			strcat(deep, "(");
		strcat(deep, "@.a");
		for (int i = 0; i < 40; i++)
			strcat(deep, ")");
		strcat(deep, ")]");
		CHECK_EQ(wf_path_compile(deep, 0, &p, err, sizeof(err)), -EINVAL);
		CHECK(strstr(err, "deeper") != NULL);
	}
	/* Reference paths: names and non-negative indexes only. */
	CHECK_EQ(wf_path_compile("$.a[*]", WF_PATH_REFERENCE, &p, err, sizeof(err)), -EINVAL);
	CHECK_EQ(wf_path_compile("$..a", WF_PATH_REFERENCE, &p, err, sizeof(err)), -EINVAL);
	CHECK_EQ(wf_path_compile("$.a[-1]", WF_PATH_REFERENCE, &p, err, sizeof(err)), -EINVAL);
	CHECK_EQ(wf_path_compile("$$.Execution", WF_PATH_NO_CONTEXT, &p, err, sizeof(err)), -EINVAL);
	REQUIRE(wf_path_compile("$.a['b'][0].c", WF_PATH_REFERENCE, &p, err, sizeof(err)) == 0);
	CHECK(wf_path_is_definite(p));
	CHECK(!wf_path_is_context(p));
	wf_path_free(p);
	REQUIRE(wf_path_compile("$$.Execution.Id", WF_PATH_REFERENCE, &p, err, sizeof(err)) == 0);
	CHECK(wf_path_is_context(p));
	wf_path_free(p);
}

static bool set(const char *path, const char *doc, const char *val, const char *want)
{
	struct wf_path *p = NULL;
	json_t *d = json_loads(doc, JSON_DECODE_ANY, NULL), *v = json_loads(val, JSON_DECODE_ANY, NULL);
	json_t *before = json_deep_copy(d), *out = NULL;
	bool ok;
	int r = wf_path_compile(path, WF_PATH_REFERENCE, &p, NULL, 0);

	if (r == 0)
		r = wf_path_set(p, d, v, &out);
	ok = want ? r == 0 && th_json_is(out, want) : r == -EINVAL;
	/* The input document is never modified. */
	ok = ok && json_equal(d, before);
	json_decref(out);
	json_decref(d);
	json_decref(v);
	json_decref(before);
	wf_path_free(p);
	return ok;
}

static void test_path_set(void)
{
	CHECK(set("$", "{\"a\":1}", "[1]", "[1]"));
	CHECK(set("$.r", "{\"a\":1}", "2", "{\"a\":1,\"r\":2}"));
	CHECK(set("$.a", "{\"a\":1}", "2", "{\"a\":2}"));
	CHECK(set("$.x.y.z", "{\"a\":1}", "true", "{\"a\":1,\"x\":{\"y\":{\"z\":true}}}"));
	CHECK(set("$.a.b", "{\"a\":{\"c\":1}}", "2", "{\"a\":{\"c\":1,\"b\":2}}"));
	CHECK(set("$.l[1]", "{\"l\":[1,2,3]}", "9", "{\"l\":[1,9,3]}"));
	CHECK(set("$.x", "\"a string\"", "1", NULL));
	CHECK(set("$.a.b", "{\"a\":5}", "1", NULL));
	CHECK(set("$.l[5]", "{\"l\":[1]}", "1", NULL));
}

/* wf_path_set_reuse: containers only the caller holds are changed in place, shared ones copied. */
static void test_path_set_reuse(void)
{
	struct wf_path *p = NULL, *deep = NULL, *bad = NULL;
	REQUIRE(wf_path_compile("$.r", WF_PATH_REFERENCE, &p, NULL, 0) == 0);
	REQUIRE(wf_path_compile("$.a.b", WF_PATH_REFERENCE, &deep, NULL, 0) == 0);
	REQUIRE(wf_path_compile("$.n.x", WF_PATH_REFERENCE, &bad, NULL, 0) == 0);
	json_t *out = NULL;

	/* Held once: the same object comes back with the value in it. */
	json_t *d = json_pack("{s:i}", "a", 1);
	CHECK_EQ(wf_path_set_reuse(p, d, 1, json_true(), &out), 0);
	CHECK(out == d);
	CHECK(th_json_is(out, "{\"a\":1,\"r\":true}"));
	json_decref(out);

	/* Held by someone else too: copied, the other holder's view unchanged. */
	json_t *other = json_incref(d);
	CHECK_EQ(wf_path_set_reuse(p, d, 1, json_false(), &out), 0);
	CHECK(out != d);
	CHECK(th_json_is(other, "{\"a\":1,\"r\":true}"));
	CHECK(th_json_is(out, "{\"a\":1,\"r\":false}"));
	json_decref(out);
	/* ... unless the caller accounts for that reference (it drops it with the document). */
	CHECK_EQ(wf_path_set_reuse(p, d, 2, json_false(), &out), 0);
	CHECK(out == d);
	json_decref(out);
	json_decref(other);

	/* The value is the document (a Pass state's result is its input): the value's own
	 * reference makes the document shared, so it is copied and no cycle is built. */
	json_t *v = json_incref(d);
	CHECK_EQ(wf_path_set_reuse(p, d, 1, v, &out), 0);
	CHECK(out != d);
	CHECK(json_object_get(out, "r") == d);
	json_decref(out);
	json_decref(v);

	/* A shared child is copied even when its parent is reused. */
	json_t *child = json_pack("{s:i}", "c", 1);
	json_object_set(d, "a", child);
	json_t *two = json_integer(2);
	CHECK_EQ(wf_path_set_reuse(deep, d, 1, two, &out), 0);
	json_decref(two);
	CHECK(out == d);
	CHECK(json_object_get(out, "a") != child);
	CHECK(th_json_is(child, "{\"c\":1}"));
	CHECK(th_json_is(json_object_get(out, "a"), "{\"c\":1,\"b\":2}"));
	json_decref(out);
	json_decref(child);

	/* Failure changes nothing. */
	json_object_set_new(d, "n", json_integer(5));
	json_t *before = json_deep_copy(d);
	CHECK_EQ(wf_path_set_reuse(bad, d, 1, json_true(), &out), -EINVAL);
	CHECK(json_equal(d, before));
	json_decref(before);
	json_decref(d);
	wf_path_free(p);
	wf_path_free(deep);
	wf_path_free(bad);
}

int main(void)
{
	DP_TEST_RUN(test_path_definite);
	DP_TEST_RUN(test_path_lists);
	DP_TEST_RUN(test_path_filters);
	DP_TEST_RUN(test_path_refused);
	DP_TEST_RUN(test_path_set);
	DP_TEST_RUN(test_path_set_reuse);
	return dp_test_done();
}
