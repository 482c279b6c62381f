/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for AWS request decoding: the input's first line is the X-Amz-Target's
 * operation (as in "Kinesis_20131202.<line>"; "-" means no target), the rest is the body. The
 * request runs through ctl_aws_invoke against a real Kinesis module on shard logs in a scratch
 * directory that holds a 2-shard stream "s". Every request must be answered exactly once with a
 * JSON document; an error must carry __type and message; a 500 (nothing in a request may cause
 * an internal failure) or a crash is a finding.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ftw.h>
#include <jansson.h>
#include <stdio.h>

#include "ctl_aws.h"
#include "fuzz_aws_answer.h"
#include "ctl_kinesis.h"
#include "ctl_meta.h"
#include "ctl_shards.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct {
	char dir[64];
	struct dp_ingest_group *g;
	struct ctl_shards *shards;
	struct ctl_meta *meta;
	struct ctl_kinesis *k;
	struct ctl_aws *aws;
} F;

static int rm_cb(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(p);
}

static void cleanup(void)
{
	ctl_kinesis_free(F.k);
	ctl_shards_close(F.shards);
	ctl_meta_close(F.meta);
	dp_ingest_group_free(F.g);
	ctl_aws_free(F.aws);
	nftw(F.dir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

static void setup(void)
{
	snprintf(F.dir, sizeof(F.dir), "/tmp/fuzz-aws-XXXXXX");
	if (!mkdtemp(F.dir))
		abort();
	struct dp_log_config cfg;
	dp_log_config_default(&cfg);
	cfg.durability = DP_DUR_NONE;
	cfg.segment_bytes = 2u << 20;
	cfg.buffer_bytes = 1028u << 10;
	char path[128];
	struct ctl_shards_summary sum;
	snprintf(path, sizeof(path), "%s/meta.db", F.dir);
	struct ctl_kinesis_config kc = { .shard_limit = 8 };
	struct ctl_aws_config ac = { 0 };
	struct dp_ingest_config ic;
	dp_ingest_config_default(&ic);
	ic.pending_frames = 1;
	/* One engine that this thread drives: the daemon's arrangement without NICs. */
	if (dp_ingest_group_new(&ic, &F.g) < 0 || ctl_meta_open(path, &F.meta) < 0 ||
	    ctl_shards_open(F.dir, &cfg, F.g, 1, true, ctl_kinesis_max_record, F.meta, &F.shards,
			    &sum) < 0 ||
	    ctl_kinesis_new(&kc, F.meta, F.shards, &F.k) < 0 ||
	    ctl_aws_new(&ac, &F.aws) < 0 || ctl_kinesis_register(F.k, F.aws) < 0)
		abort();
	atexit(cleanup);
}

static void invoke(const char *target, const char *body, size_t len)
{
	struct ctl_aws_request r = { .method = "POST", .target = target, .body = body, .len = len };
	struct fuzz_answer a = { 0, 0 };
	struct ctl_aws_call *call = ctl_aws_invoke(F.aws, &r, fuzz_answer_check, &a);
	for (int i = 0; i < 100000 && ctl_aws_pending(call); i++) {
		ctl_shards_step(F.shards);
		ctl_kinesis_reap(F.k);
	}
	if (a.count != 1 || a.status == 500)
		abort();
	ctl_aws_call_free(call);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!F.g) {
		setup();
		static const char mk[] = "{\"StreamName\":\"s\",\"ShardCount\":2}";
		invoke("Kinesis_20131202.CreateStream", mk, sizeof(mk) - 1);
	}
	char target[96];
	const char *body;
	size_t tl, blen;
	if (!fuzz_split_request("Kinesis_20131202.", data, size, target, &tl, &body, &blen))
		return 0;
	invoke(tl == 1 && data[0] == '-' ? NULL : target, body, blen);
	return 0;
}
