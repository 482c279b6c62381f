/* SPDX-License-Identifier: MIT */
/*
 * wf_intrinsic: every States.* function with the examples of the AWS documentation and the
 * edge cases recorded from AWS, argument errors (States.IntrinsicFailure), nesting, escapes,
 * paths into the input and the context object, and refused expressions.
 */
#include "dp_test.h"
#include "wf_test_host.h"
#include "wf_intrinsic.h"

static const char *input_text =
	"{\"name\":\"Arnav\",\"escapedJsonString\":\"{\\\"foo\\\": \\\"bar\\\"}\","
	"\"unescapedJson\":{\"foo\":\"bar\"},\"someJson\":{\"random\":\"abcdefg\"},"
	"\"inputArray\":[1,2,3,4,5,6,7,8,9],\"lookingFor\":5,\"index\":5,"
	"\"dup\":[1,2,3,3,3,3,3,3,4],\"json1\":{\"a\":{\"a1\":1,\"a2\":2},\"b\":2},"
	"\"json2\":{\"a\":{\"a3\":1,\"a4\":2},\"c\":3},\"obj\":{\"Arg1\":1,\"Arg2\":[]},"
	"\"str\":\"HelloWorld\",\"n\":1.1}";

static json_t *context(void *arg)
{
	return arg;
}

/* Evaluate @expr; compare with @want, or expect error @err (-EINVAL / -ENOENT) when want NULL. */
static bool ev(const char *expr, const char *want, int err)
{
	struct wf_intrinsic *f = NULL;
	json_t *in = json_loads(input_text, 0, NULL), *out = NULL;
	json_t *ctx = json_pack("{s:{s:s}}", "Execution", "Name", "ex1");
	uint64_t rng = 7;
	struct wf_intrinsic_env env = {.input = in, .context = context, .context_arg = ctx, .rng = &rng};
	char msg[512];
	bool ok;
	int r = wf_intrinsic_compile(expr, &f, msg, sizeof(msg));

	if (r < 0) {
		printf("# %s: %s\n", expr, msg);
		ok = false;
		goto out;
	}
	r = wf_intrinsic_eval(f, &env, &out, msg, sizeof(msg));
	if (want) {
		ok = r == 0 && th_json_is(out, want);
	} else {
		ok = r == err && msg[0];
		if (!ok)
			printf("# %s: r=%d\n", expr, r);
	}
out:
	json_decref(out);
	json_decref(in);
	json_decref(ctx);
	wf_intrinsic_free(f);
	return ok;
}

static bool refused(const char *expr)
{
	struct wf_intrinsic *f = NULL;
	char msg[256];
	int r = wf_intrinsic_compile(expr, &f, msg, sizeof(msg));

	if (r == 0) {
		printf("# accepted %s\n", expr);
		wf_intrinsic_free(f);
	}
	return r == -EINVAL && msg[0];
}

static void test_intrinsic_format(void)
{
	CHECK(ev("States.Format('Hello, my name is {}.', $.name)", "\"Hello, my name is Arnav.\"", 0));
	CHECK(ev("States.Format('{} {} {} {}', 1.1, null, true, 3)", "\"1.1 null true 3\"", 0));
	CHECK(ev("States.Format('{}', $.n)", "\"1.1\"", 0));
	CHECK(ev("States.Format('obj {}', $.obj)", "\"obj {Arg1=1, Arg2=[]}\"", 0));
	CHECK(ev("States.Format('esc \\{\\} {} it\\'s', 'x')", "\"esc {} x it's\"", 0));
	CHECK(ev("States.Format('back\\\\slash {}', 1)", "\"back\\\\slash 1\"", 0));
	CHECK(ev("States.Format('no placeholders')", "\"no placeholders\"", 0));
	CHECK(ev("States.Format('{} {}', 'one')", NULL, -EINVAL));
	CHECK(ev("States.Format('{}', 'one', 'two')", NULL, -EINVAL));
	CHECK(ev("States.Format(1)", NULL, -EINVAL));
	CHECK(ev("States.Format('{}', $$.Execution.Name)", "\"ex1\"", 0));
}

static void test_intrinsic_json(void)
{
	CHECK(ev("States.StringToJson($.escapedJsonString)", "{\"foo\":\"bar\"}", 0));
	CHECK(ev("States.StringToJson('')", "null", 0));
	CHECK(ev("States.StringToJson(' ')", "null", 0));
	CHECK(ev("States.StringToJson('-0')", "0", 0));
	CHECK(ev("States.StringToJson('{bad')", NULL, -EINVAL));
	CHECK(ev("States.JsonToString($.unescapedJson)", "\"{\\\"foo\\\":\\\"bar\\\"}\"", 0));
	CHECK(ev("States.JsonToString($.obj)", "\"{\\\"Arg1\\\":1,\\\"Arg2\\\":[]}\"", 0));
	CHECK(ev("States.JsonToString($.str)", "\"\\\"HelloWorld\\\"\"", 0));
	CHECK(ev("States.JsonMerge($.json1, $.json2, false)",
		 "{\"a\":{\"a3\":1,\"a4\":2},\"b\":2,\"c\":3}", 0));
	CHECK(ev("States.JsonMerge($.json1, $.json2, true)", NULL, -EINVAL));
	CHECK(ev("States.JsonMerge($.json1, 'x', false)", NULL, -EINVAL));
}

static void test_intrinsic_arrays(void)
{
	CHECK(ev("States.Array('Foo', 2020, $.someJson, null)",
		 "[\"Foo\",2020,{\"random\":\"abcdefg\"},null]", 0));
	CHECK(ev("States.Array()", "[]", 0));
	CHECK(ev("States.ArrayPartition($.inputArray, 4)", "[[1,2,3,4],[5,6,7,8],[9]]", 0));
	CHECK(ev("States.ArrayPartition(States.Array(), 4)", "[]", 0));
	CHECK(ev("States.ArrayPartition($.inputArray, 0)", NULL, -EINVAL));
	CHECK(ev("States.ArrayContains($.inputArray, $.lookingFor)", "true", 0));
	CHECK(ev("States.ArrayContains($.inputArray, 42)", "false", 0));
	CHECK(ev("States.ArrayContains(States.Array($.someJson), $.someJson)", "true", 0));
	CHECK(ev("States.ArrayRange(1, 9, 2)", "[1,3,5,7,9]", 0));
	CHECK(ev("States.ArrayRange(0, 10, 3)", "[0,3,6,9]", 0));
	CHECK(ev("States.ArrayRange(5, 1, -2)", "[5,3,1]", 0));
	CHECK(ev("States.ArrayRange(1, 9, 0)", NULL, -EINVAL));
	CHECK(ev("States.ArrayRange(0, 2000, 1)", NULL, -EINVAL));
	CHECK(ev("States.ArrayGetItem($.inputArray, $.index)", "6", 0));
	CHECK(ev("States.ArrayGetItem($.inputArray, 9)", NULL, -EINVAL));
	CHECK(ev("States.ArrayLength($.inputArray)", "9", 0));
	CHECK(ev("States.ArrayLength($.str)", NULL, -EINVAL));
	CHECK(ev("States.ArrayUnique($.dup)", "[1,2,3,4]", 0));
}

static void test_intrinsic_encoding(void)
{
	CHECK(ev("States.Base64Encode('Data to encode')", "\"RGF0YSB0byBlbmNvZGU=\"", 0));
	CHECK(ev("States.Base64Decode('RGF0YSB0byBlbmNvZGU=')", "\"Data to encode\"", 0));
	CHECK(ev("States.Base64Decode('YQ==')", "\"a\"", 0));
	CHECK(ev("States.Base64Encode('')", "\"\"", 0));
	CHECK(ev("States.Base64Decode('!!!')", NULL, -EINVAL));
	CHECK(ev("States.Base64Decode(States.Base64Encode($.name))", "\"Arnav\"", 0));
	CHECK(ev("States.Hash('input data', 'MD5')", "\"812f45842bc6d66ee14572ce20db8e86\"", 0));
	CHECK(ev("States.Hash('input data', 'SHA-1')",
		 "\"aaff4a450a104cd177d28d18d74485e8cae074b7\"", 0));
	CHECK(ev("States.Hash('input data', 'SHA-256')",
		 "\"b4a697a057313163aee33cd8d40c66e9f0f177e00cac2de32475ffff6169c3e3\"", 0));
	CHECK(ev("States.Hash('input data', 'SHA-384')",
		 "\"d28a7d5cf25a74f11a50a18452b75e04bb3d70c9dd0510d6123aa008c756511b87525bdc835ebb27e1f"
		 "b9e9374a15562\"", 0));
	CHECK(ev("States.Hash('input data', 'SHA-512')",
		 "\"6ce4adb348546d4f449c4d25aad9a7c9cb711d9e91982d3f0b29ca2f3f47d4ce2deba23bf2954f0f1d5"
		 "93fc50283731a533d30d425402d4f91316d871303aac4\"", 0));
	CHECK(ev("States.Hash('input data', 'SHA-999')", NULL, -EINVAL));
}

static void test_intrinsic_math_strings(void)
{
	CHECK(ev("States.MathAdd(111, -1)", "110", 0));
	CHECK(ev("States.MathAdd(1.49, 1.5)", "3", 0));
	CHECK(ev("States.MathAdd(-1.5, 0)", "-1", 0));
	CHECK(ev("States.MathAdd(2.5, 0)", "3", 0));
	CHECK(ev("States.MathAdd('1', 0)", NULL, -EINVAL));
	CHECK(ev("States.StringSplit('1,2,3,4,5', ',')", "[\"1\",\"2\",\"3\",\"4\",\"5\"]", 0));
	CHECK(ev("States.StringSplit('This.is+a,test=string', '.+,=')",
		 "[\"This\",\"is\",\"a\",\"test\",\"string\"]", 0));
	CHECK(ev("States.StringSplit(',,,,', ',')", "[]", 0));
	/* Seeded MathRandom is deterministic; unseeded stays in range. */
	CHECK(ev("States.MathRandom(7, 7)", "7", 0));
	{
		struct wf_intrinsic *f = NULL;
		json_t *a = NULL, *b = NULL;
		uint64_t r1 = 1, r2 = 99;
		struct wf_intrinsic_env e1 = {.rng = &r1}, e2 = {.rng = &r2};

		REQUIRE(wf_intrinsic_compile("States.MathRandom(1, 999, 1234)", &f, NULL, 0) == 0);
		REQUIRE(wf_intrinsic_eval(f, &e1, &a, NULL, 0) == 0);
		REQUIRE(wf_intrinsic_eval(f, &e2, &b, NULL, 0) == 0);
		CHECK(json_equal(a, b));
		CHECK(json_integer_value(a) >= 1 && json_integer_value(a) <= 999);
		json_decref(a);
		json_decref(b);
		wf_intrinsic_free(f);
		REQUIRE(wf_intrinsic_compile("States.MathRandom(1, 3)", &f, NULL, 0) == 0);
		for (int i = 0; i < 100; i++) {
			REQUIRE(wf_intrinsic_eval(f, &e1, &a, NULL, 0) == 0);
			CHECK(json_integer_value(a) >= 1 && json_integer_value(a) <= 3);
			json_decref(a);
		}
		wf_intrinsic_free(f);
		REQUIRE(wf_intrinsic_compile("States.UUID()", &f, NULL, 0) == 0);
		REQUIRE(wf_intrinsic_eval(f, &e1, &a, NULL, 0) == 0);
		REQUIRE(json_is_string(a) && json_string_length(a) == 36);
		CHECK(json_string_value(a)[14] == '4');
		CHECK(strchr("89ab", json_string_value(a)[19]) != NULL);
		CHECK(json_string_value(a)[8] == '-' && json_string_value(a)[23] == '-');
		json_decref(a);
		wf_intrinsic_free(f);
	}
}

static void test_intrinsic_paths_and_nesting(void)
{
	CHECK(ev("States.ArrayGetItem(States.StringSplit(States.Format('{}-{}', $.name, 'x'), '-'), 1)",
		 "\"x\"", 0));
	CHECK(ev("States.ArrayLength($.inputArray[?(@ > 4)])", "5", 0));
	CHECK(ev("States.Format('{}', $.nothing)", NULL, -ENOENT));
	CHECK(ev("States.Format('{}', $['name'])", "\"Arnav\"", 0));
}

static void test_intrinsic_refused(void)
{
	CHECK(refused("States.Nope(1)"));
	CHECK(refused("States.ArrayLength()"));
	CHECK(refused("States.ArrayLength($.a, $.b)"));
	CHECK(refused("States.UUID(1)"));
	CHECK(refused("States.Format('bad \\q escape')"));
	CHECK(refused("States.Format('unterminated)"));
	CHECK(refused("States.Format('x' 'y')"));
	CHECK(refused("States.Format('x'))"));
	CHECK(refused("States.Format(x)"));
	CHECK(refused("States.Format($.a[)"));
	CHECK(refused("Format('x')"));
	CHECK(refused("States.MathAdd(1,"));
	/* Eleven levels of nesting: one more than AWS allows. */
	CHECK(refused("States.Array(States.Array(States.Array(States.Array(States.Array("
		      "States.Array(States.Array(States.Array(States.Array(States.Array("
		      "States.Array())))))))))))"));
	CHECK(ev("States.Array(States.Array(States.Array(States.Array(States.Array("
		 "States.Array(States.Array(States.Array(States.Array(States.Array())))))))))",
		 "[[[[[[[[[[]]]]]]]]]]", 0));
}

int main(void)
{
	DP_TEST_RUN(test_intrinsic_format);
	DP_TEST_RUN(test_intrinsic_json);
	DP_TEST_RUN(test_intrinsic_arrays);
	DP_TEST_RUN(test_intrinsic_encoding);
	DP_TEST_RUN(test_intrinsic_math_strings);
	DP_TEST_RUN(test_intrinsic_paths_and_nesting);
	DP_TEST_RUN(test_intrinsic_refused);
	return dp_test_done();
}
