/* SPDX-License-Identifier: MIT */
/*
 * wf_exec conformance: every state type, the input/output pipeline in AWS's order, every Choice
 * operator, Retry/Catch ordering and the predefined errors, Parallel and Map results and
 * failures, timeouts, stop, the context object and the history events.
 */
#include "dp_test.h"
#include "wf_test_host.h"

static struct th_host host;

struct run {
	struct wf_machine *m;
	struct wf_exec *ex;
};

static struct run go(const char *def, const char *input)
{
	struct run r = {0};

	th_clear(&host);
	r.ex = th_run(&host, &r.m, def, input);
	return r;
}

static void done(struct run *r)
{
	wf_exec_free(r->ex);
	wf_machine_free(r->m);
	th_clear(&host);
}

static bool succeeded_with(struct run *r, const char *out)
{
	if (!r->ex)
		return false;
	if (wf_exec_status(r->ex) != WF_EXEC_SUCCEEDED) {
		printf("# status %d error %s cause %s\n", wf_exec_status(r->ex),
		       wf_exec_error(r->ex) ? wf_exec_error(r->ex) : "-",
		       wf_exec_cause(r->ex) ? wf_exec_cause(r->ex) : "-");
		return false;
	}
	return th_json_is(wf_exec_output(r->ex), out);
}

static bool failed_with(struct run *r, const char *error, const char *cause_part)
{
	const char *e, *c;

	if (!r->ex || wf_exec_status(r->ex) != WF_EXEC_FAILED) {
		printf("# not failed: status %d\n", r->ex ? (int)wf_exec_status(r->ex) : -1);
		return false;
	}
	e = wf_exec_error(r->ex);
	c = wf_exec_cause(r->ex);
	if (!e || strcmp(e, error) || (cause_part && (!c || !strstr(c, cause_part)))) {
		printf("# error %s cause %s, wanted %s / %s\n", e ? e : "-", c ? c : "-", error,
		       cause_part ? cause_part : "-");
		return false;
	}
	return true;
}

static bool types_are(const char *want)
{
	char got[8192];

	th_types(&host, got, sizeof(got));
	if (strcmp(got, want)) {
		printf("# events %s\n# wanted %s\n", got, want);
		return false;
	}
	return true;
}

#define ECHO "\"Resource\":\"arn:aws:states:::test:echo\""
#define FAIL "\"Resource\":\"arn:aws:states:::test:fail\""
#define SLEEP "\"Resource\":\"arn:aws:states:::test:sleep\""
#define ONE(state) "{\"StartAt\":\"A\",\"States\":{\"A\":" state "}}"

static void test_exec_pass_pipeline(void)
{
	struct run r = go(ONE("{\"Type\":\"Pass\",\"InputPath\":\"$.in\",\"Parameters\":"
			      "{\"p.$\":\"$.v\",\"lit\":\"$.v\"},\"ResultPath\":\"$.res\","
			      "\"OutputPath\":\"$.res\",\"End\":true}"),
			  "{\"in\":{\"v\":1},\"other\":2}");

	CHECK(succeeded_with(&r, "{\"p\":1,\"lit\":\"$.v\"}"));
	CHECK(types_are("ExecutionStarted,PassStateEntered,PassStateExited,ExecutionSucceeded"));
	/* Ids from 1, each event linked to the one before it. */
	for (size_t i = 0; i < host.nevents; i++) {
		CHECK_EQ(host.events[i].id, i + 1);
		CHECK_EQ(host.events[i].prev_id, i);
	}
	CHECK(th_json_is(json_object_get(host.events[1].details, "input"),
			 "{\"in\":{\"v\":1},\"other\":2}"));
	CHECK_STR(json_string_value(json_object_get(host.events[1].details, "name")), "A");
	CHECK(th_json_is(json_object_get(host.events[2].details, "output"), "{\"p\":1,\"lit\":\"$.v\"}"));
	done(&r);

	/* Result is literal (".$" keys are not evaluated) and ResultPath merges into the raw input. */
	r = go(ONE("{\"Type\":\"Pass\",\"InputPath\":\"$.in\",\"Result\":{\"x.$\":\"$.v\"},"
		   "\"ResultPath\":\"$.in.r\",\"End\":true}"), "{\"in\":{\"v\":1}}");
	CHECK(succeeded_with(&r, "{\"in\":{\"v\":1,\"r\":{\"x.$\":\"$.v\"}}}"));
	done(&r);
	/* null InputPath gives {}, null ResultPath keeps the raw input, null OutputPath gives {}. */
	r = go(ONE("{\"Type\":\"Pass\",\"InputPath\":null,\"End\":true}"), "{\"a\":1}");
	CHECK(succeeded_with(&r, "{}"));
	done(&r);
	r = go(ONE("{\"Type\":\"Pass\",\"Result\":5,\"ResultPath\":null,\"End\":true}"), "{\"a\":1}");
	CHECK(succeeded_with(&r, "{\"a\":1}"));
	done(&r);
	r = go(ONE("{\"Type\":\"Pass\",\"OutputPath\":null,\"End\":true}"), "{\"a\":1}");
	CHECK(succeeded_with(&r, "{}"));
	done(&r);
	/* An indefinite InputPath over a missing field is [] (AWS); a definite one fails. */
	r = go(ONE("{\"Type\":\"Pass\",\"InputPath\":\"$.items[*].type\",\"End\":true}"), "{}");
	CHECK(succeeded_with(&r, "[]"));
	done(&r);
	r = go(ONE("{\"Type\":\"Pass\",\"InputPath\":\"$.NoSuchInputPath\",\"End\":true}"), "{}");
	CHECK(failed_with(&r, "States.Runtime", "An error occurred while executing the state 'A' "
			  "(entered at the event id #2). Invalid path '$.NoSuchInputPath'"));
	done(&r);
	r = go(ONE("{\"Type\":\"Pass\",\"Parameters\":{\"value.$\":\"$.no_such_jsonpath\"},"
		   "\"End\":true}"), "{\"a\":1}");
	CHECK(failed_with(&r, "States.Runtime", "The JSONPath '$.no_such_jsonpath' specified for "
			  "the field 'value.$' could not be found in the input '{\"a\":1}'"));
	done(&r);
	r = go(ONE("{\"Type\":\"Pass\",\"ResultPath\":\"$.x\",\"End\":true}"), "\"str\"");
	CHECK(failed_with(&r, "States.ResultPathMatchFailure", "$.x"));
	done(&r);
	r = go(ONE("{\"Type\":\"Pass\",\"Parameters\":{\"v.$\":\"States.ArrayGetItem($.a, 5)\"},"
		   "\"End\":true}"), "{\"a\":[1]}");
	CHECK(failed_with(&r, "States.IntrinsicFailure", "out of bounds"));
	done(&r);
}

static void test_exec_task_pipeline(void)
{
	/* InputPath -> Parameters -> task -> ResultSelector -> ResultPath -> OutputPath. */
	struct run r = go(ONE("{\"Type\":\"Task\"," ECHO ",\"InputPath\":\"$.in\",\"Parameters\":"
			      "{\"v.$\":\"$.a\",\"state.$\":\"$$.State.Name\",\"tok.$\":"
			      "\"$$.Task.Token\"},\"ResultSelector\":{\"got.$\":\"$.v\",\"s.$\":"
			      "\"$.state\",\"t.$\":\"$.tok\"},\"ResultPath\":\"$.in.r\","
			      "\"OutputPath\":\"$.in\",\"End\":true}"),
			  "{\"in\":{\"a\":7}}");

	CHECK(succeeded_with(&r, "{\"a\":7,\"r\":{\"got\":7,\"s\":\"A\",\"t\":\"ex1:3\"}}"));
	CHECK(types_are("ExecutionStarted,TaskStateEntered,TaskScheduled,TaskStarted,TaskSucceeded,"
			"TaskStateExited,ExecutionSucceeded"));
	CHECK_EQ(host.ninvoked, 1);
	CHECK_EQ(host.invoked[0], 3); /* the token is the TaskScheduled event id */
	CHECK_STR(json_string_value(json_object_get(host.events[2].details, "resourceType")), "test");
	CHECK_STR(json_string_value(json_object_get(host.events[2].details, "resource")), "echo");
	CHECK(th_json_is(json_object_get(host.events[2].details, "parameters"),
			 "{\"v\":7,\"state\":\"A\",\"tok\":\"ex1:3\"}"));
	done(&r);
	/* A result over 256 KiB: States.DataLimitExceeded, which States.ALL catches (AWS). */
	r = go("{\"StartAt\":\"A\",\"States\":{\"A\":{\"Type\":\"Task\",\"Resource\":\"x:big\","
	       "\"Catch\":[{\"ErrorEquals\":[\"States.ALL\"],\"ResultPath\":\"$.e\",\"Next\":\"B\"}],"
	       "\"End\":true},\"B\":{\"Type\":\"Pass\",\"OutputPath\":\"$.e.Error\",\"End\":true}}}",
	       "{}");
	CHECK(succeeded_with(&r, "\"States.DataLimitExceeded\""));
	done(&r);
}

static void test_exec_context(void)
{
	struct run r = go(ONE("{\"Type\":\"Pass\",\"Parameters\":{\"id.$\":\"$$.Execution.Id\","
			      "\"name.$\":\"$$.Execution.Name\",\"in.$\":\"$$.Execution.Input\","
			      "\"sm.$\":\"$$.StateMachine.Name\",\"smid.$\":\"$$.StateMachine.Id\","
			      "\"st.$\":\"$$.State.Name\",\"t.$\":\"$$.State.EnteredTime\","
			      "\"start.$\":\"$$.Execution.StartTime\",\"rc.$\":\"$$.State.RetryCount\","
			      "\"role.$\":\"$$.Execution.RoleArn\"},\"End\":true}"),
			  "{\"k\":1}");

	CHECK(succeeded_with(&r, "{\"id\":\"arn:aws:states:us-east-1:000000000000:execution:sm:ex1\","
			     "\"name\":\"ex1\",\"in\":{\"k\":1},\"sm\":\"sm\",\"smid\":"
			     "\"arn:aws:states:us-east-1:000000000000:stateMachine:sm\",\"st\":\"A\","
			     "\"t\":\"1970-01-01T00:16:40.000Z\",\"start\":\"1970-01-01T00:16:40.000Z\","
			     "\"rc\":0,\"role\":\"arn:aws:iam::000000000000:role/r\"}"));
	done(&r);
	r = go(ONE("{\"Type\":\"Pass\",\"InputPath\":\"$$.Execution.Input\",\"End\":true}"),
	       "{\"k\":2}");
	CHECK(succeeded_with(&r, "{\"k\":2}"));
	done(&r);
}

/* Choice: one rule against one input, "yes" when it matches, "no" (Default) when not. */
static const char *choose(const char *rule, const char *input)
{
	static char out[64];
	char def[2048];
	struct run r;

	snprintf(def, sizeof(def),
		 "{\"StartAt\":\"C\",\"States\":{\"C\":{\"Type\":\"Choice\",\"Choices\":[%s],"
		 "\"Default\":\"N\"},\"Y\":{\"Type\":\"Pass\",\"Result\":\"yes\",\"End\":true},"
		 "\"N\":{\"Type\":\"Pass\",\"Result\":\"no\",\"End\":true}}}", rule);
	r = go(def, input);
	if (!r.ex)
		snprintf(out, sizeof(out), "refused");
	else if (wf_exec_status(r.ex) == WF_EXEC_SUCCEEDED)
		snprintf(out, sizeof(out), "%s", json_string_value(wf_exec_output(r.ex)));
	else
		snprintf(out, sizeof(out), "%s", wf_exec_error(r.ex));
	done(&r);
	return out;
}

static void test_exec_choice_operators(void)
{
	static const struct { const char *rule, *input, *want; } cases[] = {
#define R(op, val) "{\"Variable\":\"$.v\",\"" op "\":" val ",\"Next\":\"Y\"}"
		{R("StringEquals", "\"a\""), "{\"v\":\"a\"}", "yes"},
		{R("StringEquals", "\"a\""), "{\"v\":\"A\"}", "no"},
		{R("StringEquals", "\"HelloWorld\""), "{\"v\":1}", "no"},
		{R("StringLessThan", "\"AB\""), "{\"v\":\"A\"}", "yes"},
		{R("StringGreaterThan", "\"a\""), "{\"v\":\"b\"}", "yes"},
		{R("StringLessThanEquals", "\"a\""), "{\"v\":\"a\"}", "yes"},
		{R("StringGreaterThanEquals", "\"b\""), "{\"v\":\"a\"}", "no"},
		{R("StringMatches", "\"foo*.log\""), "{\"v\":\"foo23.log\"}", "yes"},
		{R("StringMatches", "\"foo*.*\""), "{\"v\":\"foobar.zebra\"}", "yes"},
		{R("StringMatches", "\"*.log\""), "{\"v\":\"x.txt\"}", "no"},
		{R("StringMatches", "\"a\\\\*b\""), "{\"v\":\"a*b\"}", "yes"},
		{R("StringMatches", "\"a\\\\*b\""), "{\"v\":\"axxb\"}", "no"},
		{R("StringMatches", "\"a\\\\\\\\b\""), "{\"v\":\"a\\\\b\"}", "yes"},
		{R("StringMatches", "\"*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*b\""),
		 "{\"v\":\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"}", "no"},
		{R("StringMatches", "\"*\""), "{\"v\":\"\"}", "yes"},
		{R("StringMatches", "\"a*\""), "{\"v\":\"\"}", "no"},
		{R("StringMatches", "\"*x*y\""), "{\"v\":\"axbxy\"}", "yes"},
		{R("NumericEquals", "0"), "{\"v\":0.0}", "yes"},
		{R("NumericEquals", "0"), "{\"v\":\"\"}", "no"},
		{R("NumericLessThan", "2"), "{\"v\":1.5}", "yes"},
		{R("NumericGreaterThan", "2"), "{\"v\":2}", "no"},
		{R("NumericLessThanEquals", "2"), "{\"v\":2}", "yes"},
		{R("NumericGreaterThanEquals", "2.5"), "{\"v\":3}", "yes"},
		{R("BooleanEquals", "true"), "{\"v\":true}", "yes"},
		{R("BooleanEquals", "true"), "{\"v\":1}", "no"},
		{R("TimestampEquals", "\"2016-03-14T01:59:00Z\""),
		 "{\"v\":\"2016-03-14T03:59:00+02:00\"}", "yes"},
		{R("TimestampLessThan", "\"2016-03-14T01:59:00Z\""),
		 "{\"v\":\"2016-03-14T01:58:59.999Z\"}", "yes"},
		{R("TimestampGreaterThan", "\"2016-03-14T01:59:00Z\""), "{\"v\":\"not a time\"}", "no"},
		{R("TimestampLessThanEquals", "\"2016-03-14T01:59:00Z\""),
		 "{\"v\":\"2016-03-14T01:59:00Z\"}", "yes"},
		{R("TimestampGreaterThanEquals", "\"2016-03-14T01:59:00Z\""),
		 "{\"v\":\"2017-01-01T00:00:00Z\"}", "yes"},
		{R("StringEqualsPath", "\"$.w\""), "{\"v\":\"a\",\"w\":\"a\"}", "yes"},
		{R("StringLessThanPath", "\"$.w\""), "{\"v\":\"a\",\"w\":\"b\"}", "yes"},
		{R("StringGreaterThanPath", "\"$.w\""), "{\"v\":\"a\",\"w\":\"b\"}", "no"},
		{R("StringLessThanEqualsPath", "\"$.w\""), "{\"v\":\"b\",\"w\":\"b\"}", "yes"},
		{R("StringGreaterThanEqualsPath", "\"$.w\""), "{\"v\":\"c\",\"w\":\"b\"}", "yes"},
		{R("NumericEqualsPath", "\"$.w\""), "{\"v\":0,\"w\":0.0}", "yes"},
		{R("NumericLessThanPath", "\"$.w\""), "{\"v\":1,\"w\":2}", "yes"},
		{R("NumericGreaterThanPath", "\"$.w\""), "{\"v\":1,\"w\":2}", "no"},
		{R("NumericLessThanEqualsPath", "\"$.w\""), "{\"v\":3,\"w\":2}", "no"},
		{R("NumericGreaterThanEqualsPath", "\"$.w\""), "{\"v\":3,\"w\":2}", "yes"},
		{R("BooleanEqualsPath", "\"$.w\""), "{\"v\":false,\"w\":false}", "yes"},
		{R("TimestampEqualsPath", "\"$.w\""),
		 "{\"v\":\"2016-03-14T01:59:00Z\",\"w\":\"2016-03-14T01:59:00.000Z\"}", "yes"},
		{R("TimestampLessThanPath", "\"$.w\""),
		 "{\"v\":\"2016-03-14T01:59:00Z\",\"w\":\"2016-03-14T02:59:00Z\"}", "yes"},
		{R("TimestampGreaterThanPath", "\"$.w\""),
		 "{\"v\":\"2016-03-14T01:59:00Z\",\"w\":\"2016-03-14T02:59:00Z\"}", "no"},
		{R("TimestampLessThanEqualsPath", "\"$.w\""),
		 "{\"v\":\"2016-03-14T01:59:00Z\",\"w\":\"2016-03-14T01:59:00Z\"}", "yes"},
		{R("TimestampGreaterThanEqualsPath", "\"$.w\""),
		 "{\"v\":\"2016-03-14T01:59:00Z\",\"w\":\"2016-03-14T02:59:00Z\"}", "no"},
		{R("StringEqualsPath", "\"$.missing\""), "{\"v\":\"a\"}", "States.Runtime"},
		{R("IsNull", "true"), "{\"v\":null}", "yes"},
		{R("IsNull", "true"), "{\"v\":0}", "no"},
		{R("IsPresent", "true"), "{\"v\":null}", "yes"},
		{R("IsPresent", "true"), "{}", "no"},
		{R("IsPresent", "false"), "{}", "yes"},
		{R("IsNumeric", "true"), "{\"v\":1.5}", "yes"},
		{R("IsNumeric", "false"), "{\"v\":\"1\"}", "yes"},
		{R("IsString", "true"), "{\"v\":\"x\"}", "yes"},
		{R("IsBoolean", "true"), "{\"v\":false}", "yes"},
		{R("IsBoolean", "true"), "{\"v\":\"true\"}", "no"},
		{R("IsTimestamp", "true"), "{\"v\":\"2016-03-14T01:59:00Z\"}", "yes"},
		{R("IsTimestamp", "true"), "{\"v\":\"2016-03-14\"}", "no"},
		/* A missing Variable fails the execution (States.Runtime), except for IsPresent. */
		{R("StringEquals", "\"a\""), "{}", "States.Runtime"},
		{"{\"And\":[{\"Variable\":\"$.a\",\"NumericGreaterThan\":1},{\"Variable\":\"$.a\","
		 "\"NumericLessThan\":5}],\"Next\":\"Y\"}", "{\"a\":3}", "yes"},
		{"{\"And\":[{\"Variable\":\"$.a\",\"NumericGreaterThan\":1},{\"Variable\":\"$.a\","
		 "\"NumericLessThan\":5}],\"Next\":\"Y\"}", "{\"a\":6}", "no"},
		{"{\"Or\":[{\"Variable\":\"$.a\",\"IsString\":true},{\"Variable\":\"$.a\","
		 "\"NumericLessThan\":5}],\"Next\":\"Y\"}", "{\"a\":3}", "yes"},
		/* Short circuit: the second rule would fail on the missing path. */
		{"{\"Or\":[{\"Variable\":\"$.a\",\"IsPresent\":true},{\"Variable\":\"$.zz\","
		 "\"StringEquals\":\"x\"}],\"Next\":\"Y\"}", "{\"a\":3}", "yes"},
		{"{\"Not\":{\"Variable\":\"$.a\",\"IsPresent\":true},\"Next\":\"Y\"}", "{}", "yes"},
		{"{\"Variable\":\"$$.Execution.Name\",\"StringEquals\":\"ex1\",\"Next\":\"Y\"}", "{}",
		 "yes"},
#undef R
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *got = choose(cases[i].rule, cases[i].input);

		if (strcmp(got, cases[i].want)) {
			printf("# rule %s on %s: %s, expected %s\n", cases[i].rule, cases[i].input, got,
			       cases[i].want);
			CHECK(false);
		}
	}
}

static void test_exec_choice_flow(void)
{
	/* First matching rule wins; no match and no Default: States.NoChoiceMatched. */
	struct run r = go("{\"StartAt\":\"C\",\"States\":{\"C\":{\"Type\":\"Choice\",\"Choices\":["
			  "{\"Variable\":\"$.n\",\"NumericGreaterThan\":1,\"Next\":\"A\"},"
			  "{\"Variable\":\"$.n\",\"NumericGreaterThan\":0,\"Next\":\"B\"}],"
			  "\"OutputPath\":\"$.n\"},"
			  "\"A\":{\"Type\":\"Pass\",\"Result\":\"a\",\"End\":true},"
			  "\"B\":{\"Type\":\"Pass\",\"Result\":\"b\",\"End\":true}}}", "{\"n\":5}");

	CHECK(succeeded_with(&r, "\"a\""));
	CHECK(types_are("ExecutionStarted,ChoiceStateEntered,ChoiceStateExited,PassStateEntered,"
			"PassStateExited,ExecutionSucceeded"));
	CHECK(th_json_is(json_object_get(host.events[2].details, "output"), "5"));
	done(&r);
	r = go("{\"StartAt\":\"C\",\"States\":{\"C\":{\"Type\":\"Choice\",\"Choices\":["
	       "{\"Variable\":\"$.n\",\"NumericGreaterThan\":1,\"Next\":\"A\"}]},"
	       "\"A\":{\"Type\":\"Pass\",\"End\":true}}}", "{\"n\":0}");
	CHECK(failed_with(&r, "States.NoChoiceMatched", NULL));
	done(&r);
	/* A loop: count down through a Choice and a Pass with an intrinsic. */
	r = go("{\"StartAt\":\"C\",\"States\":{\"C\":{\"Type\":\"Choice\",\"Choices\":["
	       "{\"Variable\":\"$.n\",\"NumericGreaterThan\":0,\"Next\":\"Dec\"}],\"Default\":\"E\"},"
	       "\"Dec\":{\"Type\":\"Pass\",\"Parameters\":{\"n.$\":\"States.MathAdd($.n, -1)\"},"
	       "\"Next\":\"C\"},\"E\":{\"Type\":\"Succeed\"}}}", "{\"n\":10}");
	CHECK(succeeded_with(&r, "{\"n\":0}"));
	CHECK_EQ(wf_exec_transitions(r.ex), 22);
	done(&r);
}

static void test_exec_wait(void)
{
	struct run r = go(ONE("{\"Type\":\"Wait\",\"Seconds\":5,\"End\":true}"), "{\"a\":1}");

	CHECK(succeeded_with(&r, "{\"a\":1}"));
	CHECK_EQ(host.now, 1005000);
	CHECK(types_are("ExecutionStarted,WaitStateEntered,WaitStateExited,ExecutionSucceeded"));
	CHECK_EQ(host.events[2].trigger, WF_TRIGGER_TIMER);
	done(&r);
	r = go(ONE("{\"Type\":\"Wait\",\"SecondsPath\":\"$.s\",\"End\":true}"), "{\"s\":7}");
	CHECK(succeeded_with(&r, "{\"s\":7}"));
	CHECK_EQ(host.now, 1007000);
	done(&r);
	r = go(ONE("{\"Type\":\"Wait\",\"Timestamp\":\"1970-01-01T00:20:00Z\",\"End\":true}"), "{}");
	CHECK(succeeded_with(&r, "{}"));
	CHECK_EQ(host.now, 1200000);
	done(&r);
	r = go(ONE("{\"Type\":\"Wait\",\"TimestampPath\":\"$.t\",\"End\":true}"),
	       "{\"t\":\"1970-01-01T00:30:00Z\"}");
	CHECK(succeeded_with(&r, "{\"t\":\"1970-01-01T00:30:00Z\"}"));
	CHECK_EQ(host.now, 1800000);
	done(&r);
	r = go(ONE("{\"Type\":\"Wait\",\"SecondsPath\":\"$.s\",\"End\":true}"), "{\"s\":-1}");
	CHECK(failed_with(&r, "States.Runtime", "references a negative value"));
	done(&r);
	r = go(ONE("{\"Type\":\"Wait\",\"SecondsPath\":\"$.s\",\"End\":true}"), "{\"s\":1.5}");
	CHECK(failed_with(&r, "States.Runtime", "cannot be parsed as a long value"));
	done(&r);
	r = go(ONE("{\"Type\":\"Wait\",\"Timestamp\":\"2200-01-01T00:00:00Z\",\"End\":true}"), "{}");
	CHECK(failed_with(&r, "States.Runtime", "Wait state delay is too long."));
	done(&r);
	r = go(ONE("{\"Type\":\"Wait\",\"TimestampPath\":\"$.t\",\"End\":true}"), "{\"t\":\"soon\"}");
	CHECK(failed_with(&r, "States.Runtime", "TimestampPath"));
	done(&r);
}

static void test_exec_succeed_fail(void)
{
	struct run r = go(ONE("{\"Type\":\"Succeed\",\"InputPath\":\"$.a\",\"OutputPath\":\"$.b\"}"),
			  "{\"a\":{\"b\":3}}");

	CHECK(succeeded_with(&r, "3"));
	CHECK(types_are("ExecutionStarted,SucceedStateEntered,SucceedStateExited,ExecutionSucceeded"));
	done(&r);
	r = go(ONE("{\"Type\":\"Fail\",\"Error\":\"MyError\",\"Cause\":\"my cause\"}"), "{}");
	CHECK(failed_with(&r, "MyError", "my cause"));
	CHECK(types_are("ExecutionStarted,FailStateEntered,ExecutionFailed"));
	CHECK_STR(json_string_value(json_object_get(host.events[2].details, "error")), "MyError");
	done(&r);
	r = go(ONE("{\"Type\":\"Fail\",\"ErrorPath\":\"$.e\",\"CausePath\":"
		   "\"States.Format('bad {}', $.c)\"}"), "{\"e\":\"E1\",\"c\":42}");
	CHECK(failed_with(&r, "E1", "bad 42"));
	done(&r);
	r = go(ONE("{\"Type\":\"Fail\"}"), "{}");
	REQUIRE(r.ex && wf_exec_status(r.ex) == WF_EXEC_FAILED);
	CHECK(wf_exec_error(r.ex) == NULL);
	CHECK(wf_exec_cause(r.ex) == NULL);
	done(&r);
	r = go(ONE("{\"Type\":\"Fail\",\"ErrorPath\":\"$.ErrorX\"}"), "{}");
	CHECK(failed_with(&r, "States.Runtime", "The JSONPath '$.ErrorX' specified for the field "
			  "'ErrorPath' could not be found in the input '{}'"));
	done(&r);
}

static void test_exec_retry(void)
{
	/* Fails twice, succeeds on the second retry: waits 1 s then 2 s. */
	struct run r = go(ONE("{\"Type\":\"Task\",\"Resource\":\"x:flaky\",\"Parameters\":"
			      "{\"ok_after\":2},\"Retry\":[{\"ErrorEquals\":[\"Flaky\"]}],\"End\":true}"),
			  "{}");

	CHECK(succeeded_with(&r, "{\"ok_after\":2}"));
	CHECK_EQ(host.ninvoked, 3);
	CHECK_EQ(host.now, 1003000);
	CHECK(types_are("ExecutionStarted,TaskStateEntered,TaskScheduled,TaskStarted,TaskFailed,"
			"TaskScheduled,TaskStarted,TaskFailed,TaskScheduled,TaskStarted,TaskSucceeded,"
			"TaskStateExited,ExecutionSucceeded"));
	done(&r);
	/* MaxAttempts 3: four invocations, then the error stands. */
	r = go(ONE("{\"Type\":\"Task\"," FAIL ",\"Retry\":[{\"ErrorEquals\":[\"States.ALL\"],"
		   "\"IntervalSeconds\":2,\"BackoffRate\":3,\"MaxDelaySeconds\":10}],\"End\":true}"),
	       "{}");
	CHECK(failed_with(&r, "CustomError", "it failed"));
	CHECK_EQ(host.ninvoked, 4);
	CHECK_EQ(host.now, 1000000 + 2000 + 6000 + 10000); /* 18 s capped to 10 s */
	done(&r);
	/* MaxAttempts 0 never retries. */
	r = go(ONE("{\"Type\":\"Task\"," FAIL ",\"Retry\":[{\"ErrorEquals\":[\"CustomError\"],"
		   "\"MaxAttempts\":0}],\"End\":true}"), "{}");
	CHECK(failed_with(&r, "CustomError", NULL));
	CHECK_EQ(host.ninvoked, 1);
	done(&r);
	/* The spec's example: errors A, B, C, B; retriers [A,B x2] and [C]: 1 s, 2 s, 5 s, then
	 * the exhausted first retrier stops the scan and the catcher takes B. */
	r = go("{\"StartAt\":\"T\",\"States\":{\"T\":{\"Type\":\"Task\"," FAIL ",\"Parameters\":"
	       "{\"error.$\":\"States.ArrayGetItem(States.Array('A','B','C','B'), "
	       "$$.State.RetryCount)\"},\"Retry\":[{\"ErrorEquals\":[\"A\",\"B\"],\"IntervalSeconds\":1,"
	       "\"BackoffRate\":2,\"MaxAttempts\":2},{\"ErrorEquals\":[\"C\"],\"IntervalSeconds\":5}],"
	       "\"Catch\":[{\"ErrorEquals\":[\"States.ALL\"],\"Next\":\"Caught\"}],\"End\":true},"
	       "\"Caught\":{\"Type\":\"Pass\",\"End\":true}}}", "{}");
	CHECK(succeeded_with(&r, "{\"Error\":\"B\",\"Cause\":\"it failed\"}"));
	CHECK_EQ(host.ninvoked, 4);
	CHECK_EQ(host.now, 1008000);
	done(&r);
	/* FULL jitter stays within the computed delay. */
	r = go(ONE("{\"Type\":\"Task\",\"Resource\":\"x:flaky\",\"Parameters\":{\"ok_after\":1},"
		   "\"Retry\":[{\"ErrorEquals\":[\"Flaky\"],\"IntervalSeconds\":10,"
		   "\"JitterStrategy\":\"FULL\"}],\"End\":true}"), "{}");
	CHECK(succeeded_with(&r, "{\"ok_after\":1}"));
	CHECK(host.now >= 1000000 && host.now <= 1010000);
	done(&r);
}

static void test_exec_catch(void)
{
	/* States.TaskFailed after a non-matching catcher; ResultPath merges into the raw input. */
	struct run r = go("{\"StartAt\":\"T\",\"States\":{\"T\":{\"Type\":\"Task\"," FAIL ","
			  "\"Parameters\":{\"error\":\"Exception\",\"cause\":\"boom\"},\"Catch\":["
			  "{\"ErrorEquals\":[\"Lambda.Unknown\"],\"Next\":\"Wrong\"},"
			  "{\"ErrorEquals\":[\"States.TaskFailed\"],\"ResultPath\":\"$.err\","
			  "\"Next\":\"Right\"}],\"End\":true},"
			  "\"Wrong\":{\"Type\":\"Fail\",\"Error\":\"Wrong\"},"
			  "\"Right\":{\"Type\":\"Pass\",\"End\":true}}}", "{\"keep\":1}");

	CHECK(succeeded_with(&r, "{\"keep\":1,\"err\":{\"Error\":\"Exception\",\"Cause\":\"boom\"}}"));
	CHECK(types_are("ExecutionStarted,TaskStateEntered,TaskScheduled,TaskStarted,TaskFailed,"
			"TaskStateExited,PassStateEntered,PassStateExited,ExecutionSucceeded"));
	done(&r);
	/* States.Runtime is never caught, not even by a catcher naming it. */
	r = go("{\"StartAt\":\"T\",\"States\":{\"T\":{\"Type\":\"Task\"," ECHO ",\"InputPath\":"
	       "\"$.nope\",\"Catch\":[{\"ErrorEquals\":[\"States.Runtime\"],\"Next\":\"P\"},"
	       "{\"ErrorEquals\":[\"States.ALL\"],\"Next\":\"P\"}],\"End\":true},"
	       "\"P\":{\"Type\":\"Pass\",\"End\":true}}}", "{}");
	CHECK(failed_with(&r, "States.Runtime", NULL));
	done(&r);
	/* Timeouts: States.TaskFailed does not match States.Timeout; States.ALL does. */
	r = go("{\"StartAt\":\"T\",\"States\":{\"T\":{\"Type\":\"Task\"," SLEEP ","
	       "\"TimeoutSeconds\":3,\"Catch\":[{\"ErrorEquals\":[\"States.TaskFailed\"],\"Next\":\"W\"},"
	       "{\"ErrorEquals\":[\"States.ALL\"],\"Next\":\"P\"}],\"End\":true},"
	       "\"W\":{\"Type\":\"Fail\"},\"P\":{\"Type\":\"Pass\",\"OutputPath\":\"$.Error\","
	       "\"End\":true}}}", "{}");
	CHECK(succeeded_with(&r, "\"States.Timeout\""));
	CHECK_EQ(host.now, 1003000);
	CHECK_EQ(host.cancelled, 1);
	CHECK(types_are("ExecutionStarted,TaskStateEntered,TaskScheduled,TaskStarted,TaskTimedOut,"
			"TaskStateExited,PassStateEntered,PassStateExited,ExecutionSucceeded"));
	done(&r);
	r = go(ONE("{\"Type\":\"Task\"," SLEEP ",\"TimeoutSeconds\":10,\"HeartbeatSeconds\":2,"
		   "\"End\":true}"), "{}");
	CHECK(failed_with(&r, "States.HeartbeatTimeout", NULL));
	CHECK_EQ(host.now, 1002000);
	done(&r);
}

static void test_exec_parallel(void)
{
	struct run r = go("{\"StartAt\":\"P\",\"States\":{\"P\":{\"Type\":\"Parallel\",\"Branches\":["
			  "{\"StartAt\":\"B1\",\"States\":{\"B1\":{\"Type\":\"Task\"," ECHO ","
			  "\"Parameters\":{\"b\":1,\"x.$\":\"$.x\"},\"End\":true}}},"
			  "{\"StartAt\":\"B2\",\"States\":{\"B2\":{\"Type\":\"Pass\",\"Result\":2,"
			  "\"End\":true}}}],\"ResultSelector\":{\"first.$\":\"$[0]\",\"second.$\":\"$[1]\"},"
			  "\"ResultPath\":\"$.r\",\"End\":true}}}", "{\"x\":9}");

	CHECK(succeeded_with(&r, "{\"x\":9,\"r\":{\"first\":{\"b\":1,\"x\":9},\"second\":2}}"));
	CHECK(types_are("ExecutionStarted,ParallelStateEntered,ParallelStateStarted,TaskStateEntered,"
			"TaskScheduled,TaskStarted,PassStateEntered,PassStateExited,TaskSucceeded,"
			"TaskStateExited,ParallelStateSucceeded,ParallelStateExited,ExecutionSucceeded"));
	/* The first event of a branch points back at ParallelStateStarted. */
	CHECK_EQ(host.events[3].prev_id, 3);
	CHECK_EQ(host.events[6].prev_id, 3);
	done(&r);
	/* A failing branch fails the state with its own error, cancelling the others. */
	r = go("{\"StartAt\":\"P\",\"States\":{\"P\":{\"Type\":\"Parallel\",\"Branches\":["
	       "{\"StartAt\":\"S\",\"States\":{\"S\":{\"Type\":\"Task\"," SLEEP ",\"End\":true}}},"
	       "{\"StartAt\":\"F\",\"States\":{\"F\":{\"Type\":\"Fail\",\"Error\":\"FailureType\","
	       "\"Cause\":\"c\"}}}],\"End\":true}}}", "{}");
	CHECK(failed_with(&r, "FailureType", "c"));
	CHECK_EQ(host.cancelled, 1);
	done(&r);
	/* Caught: ParallelStateFailed, ParallelStateExited, then the catcher's state. */
	r = go("{\"StartAt\":\"P\",\"States\":{\"P\":{\"Type\":\"Parallel\",\"Branches\":["
	       "{\"StartAt\":\"F\",\"States\":{\"F\":{\"Type\":\"Fail\",\"Error\":\"E\"}}}],"
	       "\"Catch\":[{\"ErrorEquals\":[\"E\"],\"Next\":\"OK\"}],\"End\":true},"
	       "\"OK\":{\"Type\":\"Pass\",\"End\":true}}}", "{}");
	CHECK(succeeded_with(&r, "{\"Error\":\"E\"}"));
	CHECK(types_are("ExecutionStarted,ParallelStateEntered,ParallelStateStarted,FailStateEntered,"
			"ParallelStateFailed,ParallelStateExited,PassStateEntered,PassStateExited,"
			"ExecutionSucceeded"));
	done(&r);
	/* Retry re-runs the whole state. */
	r = go("{\"StartAt\":\"P\",\"States\":{\"P\":{\"Type\":\"Parallel\",\"Branches\":["
	       "{\"StartAt\":\"T\",\"States\":{\"T\":{\"Type\":\"Task\"," FAIL ",\"End\":true}}}],"
	       "\"Retry\":[{\"ErrorEquals\":[\"CustomError\"],\"MaxAttempts\":2}],\"End\":true}}}",
	       "{}");
	CHECK(failed_with(&r, "CustomError", NULL));
	CHECK_EQ(host.ninvoked, 3);
	done(&r);
}

static void test_exec_map(void)
{
	struct run r = go("{\"StartAt\":\"M\",\"States\":{\"M\":{\"Type\":\"Map\",\"ItemsPath\":"
			  "\"$.items\",\"ItemSelector\":{\"i.$\":\"$$.Map.Item.Index\",\"v.$\":"
			  "\"$$.Map.Item.Value\",\"k.$\":\"$.k\"},\"MaxConcurrency\":1,"
			  "\"ItemProcessor\":{\"StartAt\":\"T\",\"States\":{\"T\":{\"Type\":\"Task\","
			  ECHO ",\"End\":true}}},\"ResultPath\":\"$.out\",\"End\":true}}}",
			  "{\"items\":[\"a\",\"b\"],\"k\":0}");

	CHECK(succeeded_with(&r, "{\"items\":[\"a\",\"b\"],\"k\":0,\"out\":[{\"i\":0,\"v\":\"a\","
			     "\"k\":0},{\"i\":1,\"v\":\"b\",\"k\":0}]}"));
	CHECK(types_are("ExecutionStarted,MapStateEntered,MapStateStarted,MapIterationStarted,"
			"TaskStateEntered,TaskScheduled,TaskStarted,TaskSucceeded,TaskStateExited,"
			"MapIterationSucceeded,MapIterationStarted,TaskStateEntered,TaskScheduled,"
			"TaskStarted,TaskSucceeded,TaskStateExited,MapIterationSucceeded,"
			"MapStateSucceeded,MapStateExited,ExecutionSucceeded"));
	CHECK(th_json_is(json_object_get(host.events[2].details, "length"), "2"));
	done(&r);
	/* Unlimited concurrency: every iteration starts at once; output keeps item order. */
	r = go("{\"StartAt\":\"M\",\"States\":{\"M\":{\"Type\":\"Map\",\"Iterator\":{\"StartAt\":"
	       "\"W\",\"States\":{\"W\":{\"Type\":\"Wait\",\"SecondsPath\":\"$\",\"End\":true}}},"
	       "\"End\":true}}}", "[3,1,2]");
	CHECK(succeeded_with(&r, "[3,1,2]"));
	CHECK_EQ(host.now, 1003000);
	done(&r);
	r = go("{\"StartAt\":\"M\",\"States\":{\"M\":{\"Type\":\"Map\",\"ItemProcessor\":{\"StartAt\":"
	       "\"P\",\"States\":{\"P\":{\"Type\":\"Pass\",\"End\":true}}},\"End\":true}}}", "[]");
	CHECK(succeeded_with(&r, "[]"));
	done(&r);
	/* An iteration's error fails the Map unchanged. */
	r = go("{\"StartAt\":\"M\",\"States\":{\"M\":{\"Type\":\"Map\",\"ItemProcessor\":{\"StartAt\":"
	       "\"T\",\"States\":{\"T\":{\"Type\":\"Task\"," FAIL ",\"End\":true}}},\"End\":true}}}",
	       "[{\"error\":\"ItemError\"}]");
	CHECK(failed_with(&r, "ItemError", NULL));
	done(&r);
	/* Tolerated failures: one of three tolerated; two exceed the threshold. */
	r = go("{\"StartAt\":\"M\",\"States\":{\"M\":{\"Type\":\"Map\",\"ToleratedFailureCount\":1,"
	       "\"ItemProcessor\":{\"StartAt\":\"T\",\"States\":{\"T\":{\"Type\":\"Task\"," FAIL
	       ",\"End\":true}}},\"End\":true}}}", "[{\"error\":\"E\"}]");
	CHECK(succeeded_with(&r, "[{\"Error\":\"E\",\"Cause\":\"it failed\"}]"));
	done(&r);
	r = go("{\"StartAt\":\"M\",\"States\":{\"M\":{\"Type\":\"Map\",\"ToleratedFailurePercentage\":"
	       "40,\"ItemProcessor\":{\"StartAt\":\"T\",\"States\":{\"T\":{\"Type\":\"Task\"," FAIL
	       ",\"End\":true}}},\"End\":true}}}", "[{},{},{}]");
	CHECK(failed_with(&r, "States.ExceedToleratedFailureThreshold", NULL));
	done(&r);
	r = go("{\"StartAt\":\"M\",\"States\":{\"M\":{\"Type\":\"Map\",\"ItemsPath\":\"$.x\","
	       "\"ItemProcessor\":{\"StartAt\":\"P\",\"States\":{\"P\":{\"Type\":\"Pass\","
	       "\"End\":true}}},\"End\":true}}}", "{\"x\":5}");
	CHECK(failed_with(&r, "States.Runtime", "must point to a JSON array"));
	done(&r);
	r = go("{\"StartAt\":\"M\",\"States\":{\"M\":{\"Type\":\"Map\",\"MaxConcurrencyPath\":"
	       "\"$.mc\",\"ItemsPath\":\"$.x\",\"ItemProcessor\":{\"StartAt\":\"P\",\"States\":{\"P\":"
	       "{\"Type\":\"Pass\",\"End\":true}}},\"End\":true}}}", "{\"x\":[1],\"mc\":\"NoNumber\"}");
	CHECK(failed_with(&r, "States.Runtime", "The MaxConcurrencyPath field refers to value "
			  "\"NoNumber\" which is not a valid integer: $.mc"));
	done(&r);
}

static void test_exec_nested_cancel(void)
{
	/* A Map of sleeping tasks inside a Parallel whose other branch fails after a Wait: the
	 * failure cancels every iteration's task and propagates its own error. */
	struct run r = go("{\"StartAt\":\"P\",\"States\":{\"P\":{\"Type\":\"Parallel\",\"Branches\":["
			  "{\"StartAt\":\"M\",\"States\":{\"M\":{\"Type\":\"Map\",\"ItemProcessor\":"
			  "{\"StartAt\":\"S\",\"States\":{\"S\":{\"Type\":\"Task\"," SLEEP ","
			  "\"End\":true}}},\"End\":true}}},"
			  "{\"StartAt\":\"W\",\"States\":{\"W\":{\"Type\":\"Wait\",\"Seconds\":1,"
			  "\"Next\":\"F\"},\"F\":{\"Type\":\"Fail\",\"Error\":\"Late\"}}}],"
			  "\"InputPath\":\"$.items\",\"End\":true}}}", "{\"items\":[1,2,3]}");

	CHECK(failed_with(&r, "Late", NULL));
	CHECK_EQ(host.ninvoked, 3);
	CHECK_EQ(host.cancelled, 3);
	CHECK_EQ(host.ntasks, 0);
	done(&r);
	/* A branch that fails without an error name fails the Parallel as States.BranchFailed. */
	r = go("{\"StartAt\":\"P\",\"States\":{\"P\":{\"Type\":\"Parallel\",\"Branches\":["
	       "{\"StartAt\":\"F\",\"States\":{\"F\":{\"Type\":\"Fail\"}}}],\"End\":true}}}",
	       "{}");
	CHECK(failed_with(&r, "States.BranchFailed", NULL));
	done(&r);
}

static void test_exec_timeout_stop(void)
{
	struct wf_host w;
	struct run r = go("{\"TimeoutSeconds\":5,\"StartAt\":\"T\",\"States\":{\"T\":{\"Type\":"
			  "\"Task\"," SLEEP ",\"End\":true}}}", "{}");

	REQUIRE(r.ex);
	CHECK_EQ(wf_exec_status(r.ex), WF_EXEC_TIMED_OUT);
	CHECK_STR(wf_exec_error(r.ex), "States.Timeout");
	CHECK_EQ(host.now, 1005000);
	CHECK_EQ(host.cancelled, 1);
	CHECK(types_are("ExecutionStarted,TaskStateEntered,TaskScheduled,TaskStarted,"
			"ExecutionTimedOut"));
	done(&r);
	th_clear(&host);
	r.ex = NULL;
	REQUIRE(wf_machine_parse(ONE("{\"Type\":\"Task\"," SLEEP ",\"End\":true}"),
				 strlen(ONE("{\"Type\":\"Task\"," SLEEP ",\"End\":true}")), &r.m, NULL,
				 0) == 0);
	w = th_host_of(&host);
	{
		json_t *in = json_object();

		REQUIRE(wf_exec_start(r.m, NULL, &w, in, 5, &r.ex) == 0);
		json_decref(in);
	}
	CHECK_EQ(wf_exec_run(r.ex), WF_EXEC_RUNNING);
	CHECK_EQ(host.ntasks, 1);
	CHECK_EQ(wf_exec_task_succeeded(r.ex, 999, json_null(), 6), -ENOENT);
	CHECK_EQ(wf_exec_timer_fired(r.ex, 999, 6), -ENOENT);
	CHECK_EQ(wf_exec_stop(r.ex, "Stopped", "by test", 7), WF_EXEC_ABORTED);
	CHECK_STR(wf_exec_error(r.ex), "Stopped");
	CHECK_EQ(host.cancelled, 1);
	CHECK_EQ(host.events[host.nevents - 1].type, WF_EV_ExecutionAborted);
	CHECK_EQ(host.events[host.nevents - 1].trigger, WF_TRIGGER_STOP);
	CHECK_EQ(wf_exec_stop(r.ex, NULL, NULL, 8), -EALREADY);
	CHECK_EQ(wf_exec_task_succeeded(r.ex, 3, json_null(), 9), -ENOENT);
	done(&r);
}

static void test_exec_heartbeat_extends(void)
{
	static const char def[] = ONE("{\"Type\":\"Task\"," SLEEP ",\"HeartbeatSeconds\":2,"
				      "\"End\":true}");
	struct wf_machine *m = NULL;
	struct wf_exec *ex = NULL;
	struct wf_host w;
	json_t *in = json_object();

	th_clear(&host);
	REQUIRE(wf_machine_parse(def, strlen(def), &m, NULL, 0) == 0);
	w = th_host_of(&host);
	REQUIRE(wf_exec_start(m, NULL, &w, in, 0, &ex) == 0);
	wf_exec_run(ex);
	REQUIRE(host.ntimers == 1);
	CHECK_EQ(wf_exec_task_heartbeat(ex, host.tasks[0].token, 1500), WF_EXEC_RUNNING);
	/* The old deadline passes harmlessly: the timer is asked again for 3.5 s. */
	CHECK_EQ(wf_exec_timer_fired(ex, host.timers[0].id, 2000), WF_EXEC_RUNNING);
	CHECK_EQ(host.timers[0].due, 3500);
	CHECK_EQ(wf_exec_task_succeeded(ex, host.tasks[0].token, in, 3000), WF_EXEC_SUCCEEDED);
	wf_exec_free(ex);
	wf_machine_free(m);
	json_decref(in);
	th_clear(&host);
}

static void test_exec_event_limit(void)
{
	/* A loop that never waits ends at the history limit instead of spinning forever. */
	struct run r = go("{\"StartAt\":\"A\",\"States\":{\"A\":{\"Type\":\"Pass\",\"Next\":\"B\"},"
			  "\"B\":{\"Type\":\"Pass\",\"Next\":\"A\"}}}", "{}");

	CHECK(failed_with(&r, "States.Runtime", "maximum number of history events"));
	CHECK(wf_exec_event_count(r.ex) > WF_EXEC_MAX_EVENTS);
	CHECK(wf_exec_event_count(r.ex) <= WF_EXEC_MAX_EVENTS + 3);
	done(&r);
}

static void test_exec_event_names(void)
{
	enum wf_event_type t;
	char buf[64];

	CHECK_STR(wf_event_type_name(WF_EV_TaskStateEntered), "TaskStateEntered");
	wf_event_details_name(WF_EV_TaskStateEntered, buf);
	CHECK_STR(buf, "taskStateEnteredEventDetails");
	wf_event_details_name(WF_EV_ExecutionStarted, buf);
	CHECK_STR(buf, "executionStartedEventDetails");
	CHECK_EQ(wf_event_type_parse("MapIterationFailed", &t), 0);
	CHECK_EQ(t, WF_EV_MapIterationFailed);
	CHECK_EQ(wf_event_type_parse("NoSuchEvent", &t), -EINVAL);
	CHECK(wf_event_type_name(WF_EV__COUNT) == NULL);
}

int main(void)
{
	DP_TEST_RUN(test_exec_pass_pipeline);
	DP_TEST_RUN(test_exec_task_pipeline);
	DP_TEST_RUN(test_exec_context);
	DP_TEST_RUN(test_exec_choice_operators);
	DP_TEST_RUN(test_exec_choice_flow);
	DP_TEST_RUN(test_exec_wait);
	DP_TEST_RUN(test_exec_succeed_fail);
	DP_TEST_RUN(test_exec_retry);
	DP_TEST_RUN(test_exec_catch);
	DP_TEST_RUN(test_exec_parallel);
	DP_TEST_RUN(test_exec_map);
	DP_TEST_RUN(test_exec_nested_cancel);
	DP_TEST_RUN(test_exec_timeout_stop);
	DP_TEST_RUN(test_exec_heartbeat_extends);
	DP_TEST_RUN(test_exec_event_limit);
	DP_TEST_RUN(test_exec_event_names);
	return dp_test_done();
}
