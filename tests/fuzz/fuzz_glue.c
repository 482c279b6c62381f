/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the Glue Data Catalog front-end: the input's first line is the
 * operation (as in "AWSGlue.<line>"), the rest is the body. The request runs through
 * ctl_aws_invoke against a real catalog in a scratch metadata database that holds a database
 * "d" with a table "t". Every request must be answered exactly once with a JSON document; an
 * error must carry __type and message; a 500 (nothing in a request may cause an internal
 * failure) or a crash is a finding.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "ctl_aws.h"
#include "fuzz_aws_answer.h"
#include "ctl_glue.h"
#include "ctl_meta.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct {
	char dir[64];
	char path[128];
	struct ctl_meta *meta;
	struct ctl_glue *g;
	struct ctl_aws *aws;
} F;

static void cleanup(void)
{
	char p[160];
	ctl_glue_free(F.g);
	ctl_aws_free(F.aws);
	ctl_meta_close(F.meta);
	static const char *const suffix[] = { "", "-wal", "-shm" };
	for (int i = 0; i < 3; i++) {
		snprintf(p, sizeof(p), "%s%s", F.path, suffix[i]);
		unlink(p);
	}
	rmdir(F.dir);
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
	snprintf(F.dir, sizeof(F.dir), "/tmp/fuzz-glue-XXXXXX");
	if (!mkdtemp(F.dir))
		abort();
	snprintf(F.path, sizeof(F.path), "%s/meta.db", F.dir);
	struct ctl_aws_config ac = { 0 };
	if (ctl_meta_open(F.path, &F.meta) < 0 || ctl_glue_new(F.meta, &F.g) < 0 ||
	    ctl_aws_new(&ac, &F.aws) < 0 || ctl_glue_register(F.g, F.aws) < 0)
		abort();
	atexit(cleanup);
	static const char db[] = "{\"DatabaseInput\":{\"Name\":\"d\"}}";
	static const char t[] = "{\"DatabaseName\":\"d\",\"TableInput\":{\"Name\":\"t\"}}";
	invoke("AWSGlue.CreateDatabase", db, sizeof(db) - 1);
	invoke("AWSGlue.CreateTable", t, sizeof(t) - 1);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!F.meta)
		setup();
	if (size > 65536)
		return 0;
	const uint8_t *nl = memchr(data, '\n', size);
	size_t tl = nl ? (size_t)(nl - data) : size;
	if (tl > 64)
		return 0;
	char target[96];
	snprintf(target, sizeof(target), "AWSGlue.%.*s", (int)tl, (const char *)data);
	const char *body = nl ? (const char *)nl + 1 : "";
	size_t blen = nl ? size - tl - 1 : 0;
	invoke(target, body, blen);
	return 0;
}
