/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the Glue Data Catalog front-end: the input's first line is the
 * operation (as in "AWSGlue.<line>"), the rest is the body. The request runs through
 * ctl_aws_invoke against a real catalog in an in-memory metadata database (no fsync per change,
 * so the run does not slow as the catalog grows) that holds a database "d" with a table "t" and
 * a table "p" partitioned by (year int, region string) with two partitions. Every request must be answered exactly once with a JSON document; an
 * error must carry __type and message; a 500 (nothing in a request may cause an internal
 * failure) or a crash is a finding.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "ctl_aws.h"
#include "fuzz_aws_answer.h"
#include "ctl_glue.h"
#include "ctl_meta.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct {
	struct ctl_meta *meta;
	struct ctl_glue *g;
	struct ctl_aws *aws;
} F;

static void cleanup(void)
{
	ctl_glue_free(F.g);
	ctl_aws_free(F.aws);
	ctl_meta_close(F.meta);
}

static void invoke(const char *target, const char *body, size_t len)
{
	struct ctl_aws_request r = { .method = "POST", .target = target, .body = body, .len = len };
	struct fuzz_answer a = { 0, 0 };
	struct ctl_aws_call *call = ctl_aws_invoke(F.aws, &r, fuzz_answer_check, &a);
	if (a.count != 1 || a.status == 500)
		abort();
	ctl_aws_call_free(call);
}

static void setup(void)
{
	struct ctl_aws_config ac = { 0 };
	if (ctl_meta_open(":memory:", &F.meta) < 0 || ctl_glue_new(F.meta, &F.g) < 0 ||
	    ctl_aws_new(&ac, &F.aws) < 0 || ctl_glue_register(F.g, F.aws) < 0)
		abort();
	atexit(cleanup);
	static const char db[] = "{\"DatabaseInput\":{\"Name\":\"d\"}}";
	static const char t[] = "{\"DatabaseName\":\"d\",\"TableInput\":{\"Name\":\"t\"}}";
	invoke("AWSGlue.CreateDatabase", db, sizeof(db) - 1);
	invoke("AWSGlue.CreateTable", t, sizeof(t) - 1);
	static const char p[] = "{\"DatabaseName\":\"d\",\"TableInput\":{\"Name\":\"p\","
				"\"PartitionKeys\":[{\"Name\":\"year\",\"Type\":\"int\"},"
				"{\"Name\":\"region\",\"Type\":\"string\"}]}}";
	static const char parts[] = "{\"DatabaseName\":\"d\",\"TableName\":\"p\","
				    "\"PartitionInputList\":[{\"Values\":[\"2024\",\"eu\"]},"
				    "{\"Values\":[\"2023\",\"us\"]}]}";
	invoke("AWSGlue.CreateTable", p, sizeof(p) - 1);
	invoke("AWSGlue.BatchCreatePartition", parts, sizeof(parts) - 1);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!F.meta)
		setup();
	char target[96];
	const char *body;
	size_t blen;
	if (!fuzz_split_request("AWSGlue.", data, size, target, NULL, &body, &blen))
		return 0;
	invoke(target, body, blen);
	return 0;
}
