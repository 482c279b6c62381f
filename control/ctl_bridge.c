/* SPDX-License-Identifier: MIT */
/* ctl_bridge: see ctl_bridge.h. */
#include "ctl_bridge.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "ctl_b64.h"
#include "ctl_log.h"

static void deliver_answered(void *arg, unsigned status, const char *ctype, char *body,
			     size_t len, const char *rid, const char *const *headers)
{
	(void)ctype;
	(void)rid;
	(void)headers;
	if (status >= 300)
		ctl_log(CTL_LOG_WARN, "a function's output was not delivered to %s: HTTP %u %.*s",
			(const char *)arg, status, (int)(len > 300 ? 300 : len), body ? body : "");
	free(body);
	free(arg);
}

int ctl_bridge_deliver(void *arg, const char *delivery_stream, const char *data, size_t len)
{
	char *b64 = malloc(ctl_b64_enc_len(len) + 1);
	char *name = strdup(delivery_stream);
	json_t *in = NULL;
	char *text = NULL;
	if (b64 && name) {
		ctl_b64_encode(data, len, b64);
		in = json_pack("{s:s, s:{s:s}}", "DeliveryStreamName", delivery_stream, "Record",
			       "Data", b64);
		text = in ? json_dumps(in, JSON_COMPACT) : NULL;
	}
	free(b64);
	json_decref(in);
	if (!text) {
		free(name);
		return -ENOMEM;
	}
	struct ctl_aws_request rq = {
		.method = "POST", .path = "/", .target = "Firehose_20150804.PutRecord",
		.content_type = "application/x-amz-json-1.1", .body = text, .len = strlen(text),
		.trusted = true,
	};
	ctl_aws_invoke_detached(arg, &rq, deliver_answered, name);
	free(text);
	return 0;
}

struct transform_call {
	ctl_fh_transform_done done;
	void *done_arg;
};

static void transform_done(void *arg, const struct wf_fn_result *r)
{
	struct transform_call *tc = arg;
	if (r->ok)
		tc->done(tc->done_arg, 0, r->text, r->len);
	else
		/* The function failed: every record of the call is ProcessingFailed. */
		tc->done(tc->done_arg, -EIO, r->text, r->len);
	free(tc);
}

static void transform_invoke(void *arg, const char *function_arn, const char *payload,
			     size_t len, ctl_fh_transform_done done, void *done_arg)
{
	struct ctl_bridge_transform *bt = arg;
	struct transform_call *tc = malloc(sizeof(*tc));
	if (!tc) {
		done(done_arg, -ENOMEM, NULL, 0);
		return;
	}
	*tc = (struct transform_call){ done, done_arg };
	int r = ctl_lambda_invoke(bt->lambda, function_arn, payload, len, transform_done, tc);
	if (r == 0)
		return;
	free(tc);
	if (r == -ENOENT) {
		/* No such function: the built-in transforms answer for their names. */
		const struct ctl_fh_transform *b = ctl_fh_builtin_transform();
		b->invoke(b->arg, function_arn, payload, len, done, done_arg);
		return;
	}
	done(done_arg, r, NULL, 0);
}

void ctl_bridge_transform_init(struct ctl_bridge_transform *bt, struct ctl_lambda *l)
{
	bt->t.invoke = transform_invoke;
	bt->t.arg = bt;
	bt->lambda = l;
}

struct sfn_call {
	ctl_sfn_done_fn done;
	void *done_arg;
};

static void sfn_invoked(void *arg, const struct wf_fn_result *r)
{
	struct sfn_call *c = arg;
	c->done(c->done_arg, r->ok, r->text, r->len);
	free(c);
}

int ctl_bridge_sfn_invoke(void *arg, const char *function_name_or_arn, const char *payload,
			  size_t len, ctl_sfn_done_fn done, void *done_arg)
{
	struct sfn_call *c = malloc(sizeof(*c));
	if (!c)
		return -ENOMEM;
	*c = (struct sfn_call){ done, done_arg };
	int r = ctl_lambda_invoke(arg, function_name_or_arn, payload, len, sfn_invoked, c);
	if (r < 0)
		free(c);
	return r;
}
