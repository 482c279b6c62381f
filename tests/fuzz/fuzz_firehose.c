/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for Firehose: the prefix expression language, the codecs' decoders and the
 * Firehose_20150804 front-end. The first byte picks the part:
 *   'P'  the rest is "<prefix>\n<key value>\n<key value>...": fh_prefix_check for both prefix
 *        kinds, then fh_prefix_eval with the values as partition keys k0, k1, ... The property:
 *        an accepted prefix evaluates with harmless keys, and whatever the keys hold, an
 *        evaluated key that fh_key_safe accepts never has a "." or ".." segment, never starts
 *        with '/', and fh_object_write refuses every key that fh_key_safe refuses.
 *   'C'  the rest goes to every codec's decoder (must refuse or decode, never crash) and
 *        through every codec's round trip (must give the bytes back).
 *   else the input's first line is the operation ("Firehose_20150804.<line>") and the rest its
 *        body, run through ctl_aws_invoke against a real ctl_fh (scratch data directory, its
 *        own committer; deferred puts are driven to their answer). Every request is answered
 *        exactly once, with JSON, never with a 500. The delivery tick runs after each request.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "ctl_aws.h"
#include "ctl_firehose_internal.h"
#include "ctl_meta.h"
#include "fuzz_aws_answer.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define PROPERTY(cond) do { if (!(cond)) abort(); } while (0)

static struct {
	char dir[64];
	char s3[96];
	struct ctl_meta *meta;
	struct dp_committer *c;
	struct ctl_fh *fh;
	struct ctl_aws *aws;
	struct dp_log_config log;
} F;

static void on_ack(void *arg, struct dp_shard *sh, uint64_t ack_next)
{
	(void)arg;
	ctl_fh_on_ack(F.fh, sh, ack_next);
}

static void cleanup(void)
{
	ctl_fh_free(F.fh);
	ctl_aws_free(F.aws);
	ctl_meta_close(F.meta);
	dp_committer_free(F.c);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", F.dir);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", F.dir);
}

static void setup(void)
{
	snprintf(F.dir, sizeof(F.dir), "/tmp/fuzz-firehose-XXXXXX");
	if (!mkdtemp(F.dir))
		abort();
	char path[128];
	snprintf(path, sizeof(path), "%s/meta.db", F.dir);
	snprintf(F.s3, sizeof(F.s3), "%s/s3", F.dir);
	dp_log_config_default(&F.log);
	F.log.segment_bytes = 1u << 20;
	F.log.buffer_bytes = (1u << 20) + 8192;
	struct ctl_aws_config ac = { 0 };
	struct ctl_fh_config fc = { .data_dir = F.dir, .s3_root = F.s3, .log = &F.log };
	if (ctl_meta_open(path, &F.meta) < 0 || dp_committer_new(64, on_ack, NULL, &F.c) < 0 ||
	    ctl_fh_new(&fc, F.meta, F.c, NULL, NULL, &F.fh) < 0 || ctl_aws_new(&ac, &F.aws) < 0 ||
	    ctl_fh_register(F.fh, F.aws) < 0)
		abort();
	ctl_fh_set_transform(F.fh, ctl_fh_builtin_transform());
	atexit(cleanup);
}

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void api(const uint8_t *data, size_t size)
{
	if (!F.fh)
		setup();
	const uint8_t *nl = memchr(data, '\n', size);
	size_t ol = nl ? (size_t)(nl - data) : size;
	if (ol > 64)
		return;
	char target[96];
	snprintf(target, sizeof(target), "Firehose_20150804.%.*s", (int)ol, (const char *)data);
	const char *body = nl ? (const char *)nl + 1 : "";
	size_t blen = nl ? size - ol - 1 : 0;
	struct ctl_aws_request r = { .method = "POST", .target = target, .body = body, .len = blen };
	struct fuzz_answer a = { 0, 0 };
	struct ctl_aws_call *call = ctl_aws_invoke(F.aws, &r, fuzz_answer_check, &a);
	for (int i = 0; i < 1000 && a.count == 0; i++)
		if (dp_committer_poll(F.c, true) < 0)
			break;
	if (a.count != 1 || a.status == 500)
		abort();
	ctl_aws_call_free(call);
	ctl_fh_tick(F.fh, now_ms());
}

static void prefixes(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);
	if (!s)
		return;
	memcpy(s, data, size);
	s[size] = 0;
	char *nl = strchr(s, '\n');
	char *vals = nl ? nl + 1 : NULL;
	if (nl)
		*nl = 0;
	char why[256], out[FH_EVAL_MAX + 64];
	struct fh_keys keys = { 0 }, dummy = { 0 };
	for (unsigned i = 0; vals && i < 4; i++) {
		char *e = strchr(vals, '\n');
		size_t vl = e ? (size_t)(e - vals) : strlen(vals);
		char name[8];
		snprintf(name, sizeof(name), "k%u", i);
		fh_keys_add(&keys, name, vals, vl);
		fh_keys_add(&dummy, name, "v", 1);
		vals = e ? e + 1 : NULL;
	}
	for (int kind = 0; kind < 2; kind++) {
		int ok = fh_prefix_check(s, (enum fh_prefix_kind)kind, true, why, sizeof(why));
		if (ok == 0 && !fh_prefix_uses(s, "partitionKeyFromQuery") &&
		    !fh_prefix_uses(s, "partitionKeyFromLambda")) {
			int r = fh_prefix_eval(s, (enum fh_prefix_kind)kind, 0, "processing-failed", NULL,
					       out, sizeof(out));
			PROPERTY(r >= 0);
			PROPERTY(r == 0 || out[0] != '/');
		}
		int r = fh_prefix_eval(s, (enum fh_prefix_kind)kind, now_ms(), "processing-failed",
				       &keys, out, sizeof(out));
		if (r > 0 && fh_key_safe(out)) {
			PROPERTY(out[0] != '/');
			PROPERTY(strstr(out, "/../") == NULL && strncmp(out, "../", 3) != 0 &&
				 strcmp(out, "..") != 0);
		}
		if (r > 0 && !fh_key_safe(out))
			PROPERTY(fh_object_write("/nonexistent-root", "bkt", out, "x", 1) == -EINVAL);
	}
	free(s);
}

static void codecs(const uint8_t *data, size_t size)
{
	for (int c = 0; c < FH_CODEC_COUNT; c++) {
		struct fh_buf out = { 0 }, z = { 0 }, back = { 0 };
		(void)fh_decompress((enum fh_codec)c, data, size, &out);
		PROPERTY(fh_compress((enum fh_codec)c, data, size, "e", &z) == 0);
		PROPERTY(fh_decompress((enum fh_codec)c, z.p, z.len, &back) == 0);
		PROPERTY(back.len == size && (size == 0 || memcmp(back.p, data, size) == 0));
		fh_buf_free(&out);
		fh_buf_free(&z);
		fh_buf_free(&back);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1 || size > 65536)
		return 0;
	if (data[0] == 'P')
		prefixes(data + 1, size - 1);
	else if (data[0] == 'C')
		codecs(data + 1, size - 1);
	else
		api(data, size);
	return 0;
}
