/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for Lambda's REST front-end (ctl_lambda): the input is a request as text,
 * "METHOD PATH[?QUERY]\n", then header lines "Name: value\n", an empty line, and the body.
 * It runs through ctl_aws_invoke against a real module in a scratch data directory holding two
 * built-in functions, "flat" (flatten_json) and "gen" (generate_record). Every request must be
 * answered exactly once: a success with an empty or JSON body, an error with X-Amzn-ErrorType
 * and a JSON body {"Type", "message"}; a 500 or a crash is a finding. Invocations are allowed
 * for the built-ins only (a fuzzed ZIP could otherwise name a program that never ends).
 */
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <jansson.h>

#include "ctl_aws.h"
#include "ctl_lambda.h"
#include "ctl_loop.h"
#include "ctl_meta.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct {
	char dir[64];
	struct ctl_meta *meta;
	struct ctl_loop *loop;
	struct ctl_lambda *l;
	struct ctl_aws *aws;
} F;

struct answer {
	int count;
	unsigned status;
};

static void check(void *arg, unsigned status, const char *ctype, char *body, size_t len,
		  const char *rid, const char *const *headers)
{
	struct answer *a = arg;
	(void)ctype;
	(void)rid;
	a->count++;
	a->status = status;
	const char *etype = NULL;
	for (size_t i = 0; headers && headers[i] && headers[i + 1]; i += 2)
		if (strcasecmp(headers[i], "X-Amzn-ErrorType") == 0)
			etype = headers[i + 1];
	json_t *j = len ? json_loadb(body, len, JSON_DECODE_ANY, NULL) : NULL;
	if (len && !j)
		abort();
	if (status >= 400) {
		/* The front-end's own errors (unknown operation, signature) use __type. */
		bool lambda = etype && json_is_string(json_object_get(j, "Type")) &&
			      json_is_string(json_object_get(j, "message"));
		bool generic = json_is_string(json_object_get(j, "__type"));
		if (!lambda && !generic)
			abort();
	}
	json_decref(j);
	free(body);
}

static int rm_cb(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	remove(p);
	return 0;
}

static void cleanup(void)
{
	ctl_lambda_free(F.l);
	ctl_aws_free(F.aws);
	ctl_meta_close(F.meta);
	ctl_loop_free(F.loop);
	nftw(F.dir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

static void run(const char *method, const char *path, const char *query,
		const struct ctl_sigv4_header *h, size_t nh, const char *body, size_t len)
{
	struct ctl_aws_request r = { .method = method, .path = path, .query = query, .hdrs = h,
				     .n_hdrs = nh, .body = body, .len = len };
	struct answer a = { 0, 0 };
	struct ctl_aws_call *call = ctl_aws_invoke(F.aws, &r, check, &a);
	/* Built-ins answer through the runtime's done queue. */
	for (int i = 0; i < 1000 && a.count == 0; i++)
		if (wf_fn_runtime_poll(ctl_lambda_runtime(F.l)) == 0)
			usleep(100);
	if (a.count != 1 || a.status == 500)
		abort();
	ctl_aws_call_free(call);
}

static void setup(void)
{
	snprintf(F.dir, sizeof(F.dir), "/tmp/fuzz-lambda-XXXXXX");
	if (!mkdtemp(F.dir))
		abort();
	char path[128];
	snprintf(path, sizeof(path), "%s/meta.db", F.dir);
	struct ctl_aws_config ac = { 0 };
	struct ctl_lambda_config lc = { .data_dir = F.dir, .workers = 1 };
	if (ctl_meta_open(path, &F.meta) < 0 || ctl_loop_new(&F.loop) < 0 ||
	    ctl_aws_new(&ac, &F.aws) < 0 || ctl_lambda_new(&lc, F.meta, F.aws, F.loop, &F.l) < 0 ||
	    ctl_lambda_register(F.l, F.aws) < 0)
		abort();
	atexit(cleanup);
	static const char flat[] = "{\"FunctionName\":\"flat\",\"Runtime\":\"builtin\",\"Handler\":"
				   "\"flatten_json\",\"Role\":\"r\",\"Code\":{}}";
	static const char gen[] = "{\"FunctionName\":\"gen\",\"Runtime\":\"builtin\",\"Handler\":"
				  "\"generate_record\",\"Role\":\"r\",\"Code\":{}}";
	run("POST", "/2015-03-31/functions", NULL, NULL, 0, flat, sizeof(flat) - 1);
	run("POST", "/2015-03-31/functions", NULL, NULL, 0, gen, sizeof(gen) - 1);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!F.l)
		setup();
	if (size > 65536)
		return 0;
	char *text = malloc(size + 1);
	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	if (strlen(text) != size)
		goto out;  /* NULs: a transport never hands those over in a path or header */
	char *line = text, *nl = strchr(line, '\n');
	if (!nl)
		goto out;
	*nl = '\0';
	char *sp = strchr(line, ' ');
	if (!sp)
		goto out;
	*sp = '\0';
	char *method = line, *path = sp + 1, *query = strchr(path, '?');
	if (query)
		*query++ = '\0';
	if (strstr(path, "/invocations") && !strstr(path, "/functions/flat/") &&
	    !strstr(path, "/functions/gen/"))
		goto out;
	struct ctl_sigv4_header h[8];
	size_t nh = 0;
	char *p = nl + 1;
	while ((nl = strchr(p, '\n')) && nl != p && nh < 8) {
		*nl = '\0';
		char *colon = strchr(p, ':');
		if (colon) {
			*colon = '\0';
			h[nh++] = (struct ctl_sigv4_header){ p, colon + 1 + (colon[1] == ' ') };
		}
		p = nl + 1;
	}
	if (nl == p)
		p++;
	run(method, path, query, h, nh, p, size - (size_t)(p - text));
out:
	free(text);
	return 0;
}
