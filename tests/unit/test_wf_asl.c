/* SPDX-License-Identifier: MIT */
/*
 * wf_asl: definitions Step Functions accepts compile; those it refuses are refused with its
 * error code and the JSON pointer of the offending field.
 */
#include "dp_test.h"
#include "wf_asl.h"

/* Parse @def; expect success when @want is NULL, else a message containing @want. */
static bool def_is(const char *def, const char *want)
{
	struct wf_machine *m = NULL;
	char err[512];
	int r = wf_machine_parse(def, strlen(def), &m, err, sizeof(err));

	if (!want) {
		if (r != 0)
			printf("# refused: %s\n", err);
		wf_machine_free(m);
		return r == 0;
	}
	if (r == 0) {
		printf("# accepted, wanted \"%s\"\n", want);
		wf_machine_free(m);
		return false;
	}
	if (r != -EINVAL || !strstr(err, want)) {
		printf("# r=%d message \"%s\", wanted \"%s\"\n", r, err, want);
		return false;
	}
	return true;
}

#define ONE(state) "{\"StartAt\":\"A\",\"States\":{\"A\":" state "}}"

static void test_asl_accepts(void)
{
	CHECK(def_is(ONE("{\"Type\":\"Pass\",\"End\":true}"), NULL));
	CHECK(def_is("{\"Comment\":\"c\",\"Version\":\"1.0\",\"TimeoutSeconds\":10,\"StartAt\":\"A\","
		     "\"States\":{\"A\":{\"Type\":\"Pass\",\"Next\":\"B\"},\"B\":{\"Type\":\"Choice\","
		     "\"Choices\":[{\"Variable\":\"$.x\",\"NumericEquals\":1,\"Next\":\"A\"},"
		     "{\"And\":[{\"Variable\":\"$.s\",\"StringMatches\":\"a*\"},{\"Not\":{\"Variable\":"
		     "\"$.t\",\"IsPresent\":true}}],\"Next\":\"C\"}],\"Default\":\"D\"},"
		     "\"C\":{\"Type\":\"Succeed\"},\"D\":{\"Type\":\"Fail\",\"Error\":\"E\",\"Cause\":\"c\"}}}",
		     NULL));
	/* Cycles are legal. */
	CHECK(def_is("{\"StartAt\":\"A\",\"States\":{\"A\":{\"Type\":\"Pass\",\"Next\":\"B\"},"
		     "\"B\":{\"Type\":\"Wait\",\"Seconds\":1,\"Next\":\"A\"}}}", NULL));
	CHECK(def_is(ONE("{\"Type\":\"Task\",\"Resource\":\"arn:aws:states:::x:echo\",\"End\":true,"
			 "\"Parameters\":{\"a.$\":\"$.x\",\"b\":{\"c.$\":\"States.Format('{}', $.y)\"},"
			 "\"ctx.$\":\"$$.Execution.Id\"},\"ResultSelector\":{\"r.$\":\"$.v\"},"
			 "\"ResultPath\":\"$.res\",\"Retry\":[{\"ErrorEquals\":[\"X\"],\"MaxAttempts\":0},"
			 "{\"ErrorEquals\":[\"States.ALL\"],\"JitterStrategy\":\"FULL\","
			 "\"MaxDelaySeconds\":5}],\"Catch\":[],\"TimeoutSeconds\":10,"
			 "\"HeartbeatSeconds\":5}"), NULL));
	CHECK(def_is(ONE("{\"Type\":\"Map\",\"ItemsPath\":\"$$.Execution.Input.items\",\"End\":true,"
			 "\"ItemProcessor\":{\"ProcessorConfig\":{\"Mode\":\"INLINE\"},\"StartAt\":\"I\","
			 "\"States\":{\"I\":{\"Type\":\"Pass\",\"End\":true}}},\"MaxConcurrency\":2}"),
		     NULL));
	CHECK(def_is(ONE("{\"Type\":\"Map\",\"End\":true,\"Iterator\":{\"StartAt\":\"I\","
			 "\"States\":{\"I\":{\"Type\":\"Pass\",\"End\":true}}}}"), NULL));
	CHECK(def_is(ONE("{\"Type\":\"Wait\",\"Timestamp\":\"2016-03-14T01:59:00.000000Z\","
			 "\"End\":true}"), NULL));
	CHECK(def_is(ONE("{\"Type\":\"Wait\",\"Timestamp\":\"2016-03-14T01:59:00+02:00\","
			 "\"End\":true}"), NULL));
	CHECK(def_is(ONE("{\"Type\":\"Fail\",\"ErrorPath\":\"$.e\",\"CausePath\":"
			 "\"States.Format('x {}', $.c)\"}"), NULL));
	/* A literal "$.x" without ".$" is just a string; Pass Result is literal too. */
	CHECK(def_is(ONE("{\"Type\":\"Pass\",\"Parameters\":{\"a\":\"$.x\"},\"Result\":{\"b.$\":"
			 "\"not a path\"},\"End\":true}"), NULL));
}

static void test_asl_refuses(void)
{
	CHECK(def_is("{", "INVALID_JSON_DESCRIPTION"));
	CHECK(def_is("[]", "SCHEMA_VALIDATION_FAILED"));
	CHECK(def_is("{\"StartAt\":\"A\"}", "SCHEMA_VALIDATION_FAILED: The field 'States' is "
		     "required at /"));
	CHECK(def_is("{\"States\":{}}", "The field 'StartAt' is required"));
	CHECK(def_is("{\"StartAt\":\"B\",\"States\":{\"A\":{\"Type\":\"Pass\",\"End\":true}}}",
		     "MISSING_TRANSITION_TARGET: Missing 'Next' target: B at /StartAt"));
	CHECK(def_is("{\"StartAt\":\"Y\",\"States\":{\"Y\":{\"Type\":\"Pass\",\"Next\":\"X\"}}}",
		     "MISSING_TRANSITION_TARGET: Missing 'Next' target: X at /States/Y/Next"));
	CHECK(def_is(ONE("{\"Type\":\"Pass\",\"Next\":7}"),
		     "SCHEMA_VALIDATION_FAILED: The field 'Next' should be a string at /States/A/Next"));
	CHECK(def_is(ONE("{\"Type\":\"Pass\"}"), "The field 'Next' or 'End: true' is required at "
		     "/States/A"));
	CHECK(def_is(ONE("{\"Type\":\"Pass\",\"End\":true,\"Next\":\"A\"}"), "mutually exclusive"));
	CHECK(def_is(ONE("{\"Type\":\"Bogus\",\"End\":true}"), "Unknown state type 'Bogus' at "
		     "/States/A/Type"));
	CHECK(def_is(ONE("{\"Type\":\"Pass\",\"End\":true,\"Resource\":\"x\"}"),
		     "The field 'Resource' is not supported by Step Functions at /States/A/Resource"));
	CHECK(def_is(ONE("{\"Type\":\"Task\",\"End\":true}"), "The field 'Resource' is required at "
		     "/States/A"));
	CHECK(def_is(ONE("{\"Type\":\"Succeed\",\"End\":true}"), "/States/A/End"));
	CHECK(def_is("{\"StartAt\":\"A\",\"States\":{\"A\":{\"Type\":\"Pass\",\"End\":true},"
		     "\"B\":{\"Type\":\"Pass\",\"End\":true}}}",
		     "MISSING_TRANSITION_TARGET: State \"B\" is not reachable at /States/B"));
	CHECK(def_is(ONE("{\"Type\":\"Pass\",\"InputPath\":\"nope\",\"End\":true}"),
		     "at /States/A/InputPath"));
	CHECK(def_is(ONE("{\"Type\":\"Pass\",\"ResultPath\":\"$.a[*]\",\"End\":true}"),
		     "reference JSONPath"));
	CHECK(def_is(ONE("{\"Type\":\"Pass\",\"ResultPath\":\"$$.Execution\",\"End\":true}"),
		     "/States/A/ResultPath"));
	CHECK(def_is(ONE("{\"Type\":\"Pass\",\"Parameters\":{\"a.$\":\"nope\"},\"End\":true}"),
		     "at /States/A/Parameters/a.$"));
	CHECK(def_is(ONE("{\"Type\":\"Pass\",\"Parameters\":{\"a.$\":\"States.Nope()\"},"
			 "\"End\":true}"), "valid intrinsic function"));
	CHECK(def_is(ONE("{\"Type\":\"Pass\",\"Parameters\":{\"a.$\":\"States.Format('\\\\x')\"},"
			 "\"End\":true}"), "illegal escape"));
	CHECK(def_is(ONE("{\"Type\":\"Pass\",\"Parameters\":{\"a.$\":\"$.x\",\"a\":1},"
			 "\"End\":true}"), "Duplicate field name 'a'"));
	CHECK(def_is(ONE("{\"Type\":\"Task\",\"Resource\":\"r\",\"End\":true,\"Retry\":["
			 "{\"ErrorEquals\":[\"States.ALL\"]},{\"ErrorEquals\":[\"X\"]}]}"),
		     "States.ALL must appear in the last retrier or catcher at /States/A/Retry/0/"
		     "ErrorEquals"));
	CHECK(def_is(ONE("{\"Type\":\"Task\",\"Resource\":\"r\",\"End\":true,\"Catch\":["
			 "{\"ErrorEquals\":[\"States.ALL\",\"X\"],\"Next\":\"A\"}]}"),
		     "States.ALL must appear alone"));
	CHECK(def_is(ONE("{\"Type\":\"Task\",\"Resource\":\"r\",\"End\":true,\"Catch\":["
			 "{\"ErrorEquals\":[\"X\"],\"Next\":\"Q\"}]}"),
		     "Missing 'Next' target: Q at /States/A/Catch/0/Next"));
	CHECK(def_is(ONE("{\"Type\":\"Task\",\"Resource\":\"r\",\"End\":true,\"Retry\":["
			 "{\"ErrorEquals\":[]}]}"), "non-empty array"));
	CHECK(def_is(ONE("{\"Type\":\"Task\",\"Resource\":\"r\",\"End\":true,\"Retry\":["
			 "{\"ErrorEquals\":[\"X\"],\"BackoffRate\":0.5}]}"), "BackoffRate"));
	CHECK(def_is(ONE("{\"Type\":\"Task\",\"Resource\":\"r\",\"End\":true,\"TimeoutSeconds\":5,"
			 "\"HeartbeatSeconds\":5}"), "HeartbeatSeconds must be smaller"));
	CHECK(def_is(ONE("{\"Type\":\"Task\",\"Resource\":\"r\",\"End\":true,\"TimeoutSeconds\":5,"
			 "\"TimeoutSecondsPath\":\"$.t\"}"), "mutually exclusive"));
	CHECK(def_is(ONE("{\"Type\":\"Choice\",\"Choices\":[]}"), "non-empty array at "
		     "/States/A/Choices"));
	CHECK(def_is(ONE("{\"Type\":\"Choice\",\"Choices\":[{\"Variable\":\"$.x\","
			 "\"NumericEquals\":1}]}"), "The field 'Next' is required at "
		     "/States/A/Choices/0"));
	CHECK(def_is(ONE("{\"Type\":\"Choice\",\"Choices\":[{\"Variable\":\"$.x\","
			 "\"NumericEquals\":\"1\",\"Next\":\"A\"}]}"), "/States/A/Choices/0/"
		     "NumericEquals"));
	CHECK(def_is(ONE("{\"Type\":\"Choice\",\"Choices\":[{\"Variable\":\"$.x\","
			 "\"Frobnicate\":1,\"Next\":\"A\"}]}"), "Frobnicate"));
	CHECK(def_is(ONE("{\"Type\":\"Choice\",\"Choices\":[{\"Variable\":\"$.x\","
			 "\"NumericEquals\":1,\"StringEquals\":\"a\",\"Next\":\"A\"}]}"),
		     "exactly one"));
	CHECK(def_is(ONE("{\"Type\":\"Choice\",\"Choices\":[{\"Not\":{\"Variable\":\"$.x\","
			 "\"IsNull\":true,\"Next\":\"A\"},\"Next\":\"A\"}]}"),
		     "A nested choice rule cannot have 'Next' at /States/A/Choices/0/Not/Next"));
	CHECK(def_is(ONE("{\"Type\":\"Choice\",\"Choices\":[{\"Variable\":\"$.t\","
			 "\"TimestampEquals\":\"2016-03-14 01:59:00Z\",\"Next\":\"A\"}]}"),
		     "RFC3339"));
	CHECK(def_is(ONE("{\"Type\":\"Choice\",\"End\":true,\"Choices\":[{\"Variable\":\"$.x\","
			 "\"IsNull\":true,\"Next\":\"A\"}]}"), "/States/A/End"));
	CHECK(def_is(ONE("{\"Type\":\"Choice\",\"Default\":\"Z\",\"Choices\":[{\"Variable\":"
			 "\"$.x\",\"IsNull\":true,\"Next\":\"A\"}]}"),
		     "Missing 'Next' target: Z at /States/A/Default"));
	CHECK(def_is(ONE("{\"Type\":\"Wait\",\"End\":true}"), "exactly one of"));
	CHECK(def_is(ONE("{\"Type\":\"Wait\",\"Seconds\":1,\"SecondsPath\":\"$.s\",\"End\":true}"),
		     "exactly one of"));
	CHECK(def_is(ONE("{\"Type\":\"Wait\",\"Seconds\":-1,\"End\":true}"), "/States/A/Seconds"));
	static const char *bad_ts[] = {"2016-03-14 01:59:00Z", "2016-03-14T01:59:00",
				       "2016-13-14T01:59:00Z", "2016-03-14T25:59:00Z",
				       "2016-03-14t01:59:00Z", "2015-02-29T01:59:00Z"};
	for (size_t i = 0; i < sizeof(bad_ts) / sizeof(bad_ts[0]); i++) {
		char def[256];

		snprintf(def, sizeof(def), ONE("{\"Type\":\"Wait\",\"Timestamp\":\"%s\",\"End\":true}"),
			 bad_ts[i]);
		CHECK(def_is(def, "/States/A/Timestamp"));
	}
	CHECK(def_is(ONE("{\"Type\":\"Wait\",\"SecondsPath\":\"$.a[*]\",\"End\":true}"),
		     "/States/A/SecondsPath"));
	CHECK(def_is(ONE("{\"Type\":\"Fail\",\"Error\":\"E\",\"ErrorPath\":\"$.e\"}"),
		     "mutually exclusive"));
	CHECK(def_is(ONE("{\"Type\":\"Parallel\",\"End\":true}"), "The field 'Branches' is required"));
	CHECK(def_is(ONE("{\"Type\":\"Parallel\",\"End\":true,\"Branches\":[{\"StartAt\":\"B\","
			 "\"States\":{\"B\":{\"Type\":\"Pass\",\"Next\":\"A\"}}}]}"),
		     "Missing 'Next' target: A at /States/A/Branches/0/States/B/Next"));
	CHECK(def_is(ONE("{\"Type\":\"Parallel\",\"End\":true,\"Branches\":[{\"StartAt\":\"A\","
			 "\"States\":{\"A\":{\"Type\":\"Pass\",\"End\":true}}}]}"),
		     "DUPLICATE_STATE_NAME: Duplicate State name: A"));
	CHECK(def_is(ONE("{\"Type\":\"Map\",\"End\":true}"), "The field 'ItemProcessor' is required"));
	CHECK(def_is(ONE("{\"Type\":\"Map\",\"End\":true,\"ItemProcessor\":{\"ProcessorConfig\":"
			 "{\"Mode\":\"DISTRIBUTED\"},\"StartAt\":\"I\",\"States\":{\"I\":{\"Type\":"
			 "\"Pass\",\"End\":true}}}}"), "/States/A/ItemProcessor/ProcessorConfig/Mode"));
	CHECK(def_is(ONE("{\"Type\":\"Map\",\"End\":true,\"ToleratedFailurePercentage\":100.1,"
			 "\"Iterator\":{\"StartAt\":\"I\",\"States\":{\"I\":{\"Type\":\"Pass\","
			 "\"End\":true}}}}"), "ToleratedFailurePercentage"));
	CHECK(def_is("{\"StartAt\":\"A\",\"QueryLanguage\":\"JSONata\",\"States\":{\"A\":"
		     "{\"Type\":\"Pass\",\"End\":true}}}", "JSONPath"));
	CHECK(def_is("{\"StartAt\":\"A\",\"States\":{\"A\":{\"Type\":\"Pass\",\"End\":true},"
		     "\"A\":{\"Type\":\"Pass\",\"End\":true}}}", "INVALID_JSON_DESCRIPTION"));
	CHECK(def_is("{\"StartAt\":\"A\",\"Extra\":1,\"States\":{\"A\":{\"Type\":\"Pass\","
		     "\"End\":true}}}", "The field 'Extra' is not supported by Step Functions at "
		     "/Extra"));
}

static void test_asl_state_names(void)
{
	char def[1024], name[400];

	/* 80 characters are allowed (here 80 two-byte characters), 81 are not. */
	name[0] = '\0';
	for (int i = 0; i < 80; i++)
		strcat(name, "\xc3\xa9");
	snprintf(def, sizeof(def), "{\"StartAt\":\"%s\",\"States\":{\"%s\":{\"Type\":\"Pass\","
		 "\"End\":true}}}", name, name);
	CHECK(def_is(def, NULL));
	strcat(name, "x");
	snprintf(def, sizeof(def), "{\"StartAt\":\"%s\",\"States\":{\"%s\":{\"Type\":\"Pass\","
		 "\"End\":true}}}", name, name);
	CHECK(def_is(def, "State names must be 1 to 80 characters"));
	CHECK(def_is("{\"StartAt\":\"\",\"States\":{\"\":{\"Type\":\"Pass\",\"End\":true}}}",
		     "State names must be 1 to 80 characters"));
}

static void test_asl_timestamps(void)
{
	int64_t ns = 0;
	char buf[32];

	CHECK_EQ(wf_timestamp_parse("1970-01-01T00:00:00Z", &ns), 0);
	CHECK_EQ(ns, 0);
	CHECK_EQ(wf_timestamp_parse("2016-03-14T01:59:00Z", &ns), 0);
	CHECK_EQ(ns, 1457920740LL * 1000000000LL);
	CHECK_EQ(wf_timestamp_parse("2016-03-14T03:59:00+02:00", &ns), 0);
	CHECK_EQ(ns, 1457920740LL * 1000000000LL);
	CHECK_EQ(wf_timestamp_parse("2016-03-14T01:59:00.5Z", &ns), 0);
	CHECK_EQ(ns, 1457920740LL * 1000000000LL + 500000000LL);
	CHECK_EQ(wf_timestamp_parse("2016-03-14T01:59:00.Z", &ns), -EINVAL);
	CHECK_EQ(wf_timestamp_parse("2016-03-14T01:59:00Zjunk", &ns), -EINVAL);
	wf_timestamp_format(1457920740123LL, buf);
	CHECK_STR(buf, "2016-03-14T01:59:00.123Z");
}

int main(void)
{
	DP_TEST_RUN(test_asl_accepts);
	DP_TEST_RUN(test_asl_refuses);
	DP_TEST_RUN(test_asl_state_names);
	DP_TEST_RUN(test_asl_timestamps);
	return dp_test_done();
}
