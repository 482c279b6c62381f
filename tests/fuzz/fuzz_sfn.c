/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the Step Functions front-end: the input's first line is the operation
 * (as in "AWSStepFunctions.<line>"), the rest is the body. The request runs through
 * ctl_aws_invoke against a real service on an in-memory metadata database holding a standard
 * machine "m" (Pass, Choice, Wait), an express machine "x" and an execution "e1" of "m" waiting
 * in its Wait state. Calls answered after the journal commit are flushed before checking: every
 * request must be answered exactly once with a JSON document; an error must carry __type and
 * message; a 500 (nothing in a request may cause an internal failure) or a crash is a finding.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "ctl_aws.h"
#include "ctl_meta.h"
#include "ctl_sfn.h"
#include "fuzz_aws_answer.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct {
	struct ctl_meta *meta;
	struct ctl_sfn *s;
	struct ctl_aws *aws;
} F;

static void cleanup(void)
{
	ctl_sfn_free(F.s);
	ctl_aws_free(F.aws);
	ctl_meta_close(F.meta);
}

static void invoke(const char *target, const char *body, size_t len)
{
	struct ctl_aws_request r = { .method = "POST", .target = target, .body = body, .len = len,
				     .content_type = "application/x-amz-json-1.0" };
	struct fuzz_answer a = { 0, 0 };
	struct ctl_aws_call *call = ctl_aws_invoke(F.aws, &r, fuzz_answer_check, &a);
	ctl_sfn_flush(F.s);
	if (a.count != 1 || a.status == 500)
		abort();
	ctl_aws_call_free(call);
}

static void setup(void)
{
	struct ctl_aws_config ac = { 0 };
	if (ctl_meta_open(":memory:", &F.meta) < 0 || ctl_aws_new(&ac, &F.aws) < 0)
		abort();
	struct ctl_sfn_config sc = { .meta = F.meta, .aws = F.aws };
	if (ctl_sfn_new(&sc, &F.s) < 0 || ctl_sfn_register(F.s, F.aws) < 0)
		abort();
	atexit(cleanup);
	static const char m[] =
		"{\"name\":\"m\",\"roleArn\":\"arn:aws:iam::000000000000:role/r\",\"definition\":"
		"\"{\\\"StartAt\\\":\\\"C\\\",\\\"States\\\":{\\\"C\\\":{\\\"Type\\\":\\\"Choice\\\","
		"\\\"Choices\\\":[{\\\"Variable\\\":\\\"$.w\\\",\\\"IsPresent\\\":true,\\\"Next\\\":"
		"\\\"W\\\"}],\\\"Default\\\":\\\"P\\\"},\\\"W\\\":{\\\"Type\\\":\\\"Wait\\\","
		"\\\"Seconds\\\":100000,\\\"Next\\\":\\\"P\\\"},\\\"P\\\":{\\\"Type\\\":\\\"Pass\\\","
		"\\\"End\\\":true}}}\"}";
	static const char x[] =
		"{\"name\":\"x\",\"type\":\"EXPRESS\",\"definition\":\"{\\\"StartAt\\\":\\\"P\\\","
		"\\\"States\\\":{\\\"P\\\":{\\\"Type\\\":\\\"Pass\\\",\\\"End\\\":true}}}\"}";
	static const char e[] =
		"{\"stateMachineArn\":\"arn:aws:states:us-east-1:000000000000:stateMachine:m\","
		"\"name\":\"e1\",\"input\":\"{\\\"w\\\":1}\"}";
	invoke("AWSStepFunctions.CreateStateMachine", m, sizeof(m) - 1);
	invoke("AWSStepFunctions.CreateStateMachine", x, sizeof(x) - 1);
	invoke("AWSStepFunctions.StartExecution", e, sizeof(e) - 1);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!F.meta)
		setup();
	char target[96];
	const char *body;
	size_t blen;
	if (!fuzz_split_request("AWSStepFunctions.", data, size, target, NULL, &body, &blen))
		return 0;
	invoke(target, body, blen);
	return 0;
}
