/* SPDX-License-Identifier: MIT */
/*
 * The built-in record transforms of ctl_firehose.h, with Lambda's Firehose contract: they let a
 * Lambda processor run (and be tested end to end) before real functions are wired in.
 */
#include "ctl_firehose_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "ctl_b64.h"

static const char *fn_name(const char *arn)
{
	const char *p = arn ? strstr(arn, ":function:") : NULL;
	return p ? p + 10 : arn ? arn : "";
}

static bool contains(const uint8_t *p, size_t n, const char *needle)
{
	size_t m = strlen(needle);
	for (size_t i = 0; i + m <= n; i++)
		if (memcmp(p + i, needle, m) == 0)
			return true;
	return false;
}

static json_t *one(const char *id, const uint8_t *data, size_t n, bool upper)
{
	if (upper && contains(data, n, "DROP"))
		return json_pack("{s:s, s:s}", "recordId", id, "result", "Dropped");
	if (upper && contains(data, n, "FAIL"))
		return json_pack("{s:s, s:s, s:s}", "recordId", id, "result", "ProcessingFailed",
				 "data", "");
	uint8_t *out = malloc(n + 1);
	char *b64 = malloc(ctl_b64_enc_len(n) + 1);
	json_t *r = NULL;
	if (!out || !b64)
		goto out;
	for (size_t i = 0; i < n; i++)
		out[i] = upper && data[i] >= 'a' && data[i] <= 'z' ? (uint8_t)(data[i] - 32) : data[i];
	b64[ctl_b64_encode(out, n, b64)] = 0;
	r = json_pack("{s:s, s:s, s:s}", "recordId", id, "result", "Ok", "data", b64);
	json_t *doc = upper ? json_loadb((const char *)data, n, 0, NULL) : NULL;
	const char *key = json_string_value(json_object_get(doc, "key"));
	if (r && key)
		json_object_set_new(r, "metadata", json_pack("{s:{s:s}}", "partitionKeys", "key", key));
	json_decref(doc);
out:
	free(out);
	free(b64);
	return r;
}

static void invoke(void *arg, const char *function_arn, const char *payload, size_t len,
		   ctl_fh_transform_done done, void *done_arg)
{
	(void)arg;
	const char *name = fn_name(function_arn);
	bool upper = strcmp(name, "ingestd-upper") == 0;
	if (!upper && strcmp(name, "ingestd-identity") != 0) {
		done(done_arg, -ENOENT, NULL, 0);
		return;
	}
	json_t *ev = json_loadb(payload, len, 0, NULL);
	json_t *recs = json_object_get(ev, "records"), *out = json_array(), *r;
	size_t i;
	int status = 0;
	json_array_foreach(recs, i, r) {
		const char *id = json_string_value(json_object_get(r, "recordId"));
		const char *data = json_string_value(json_object_get(r, "data"));
		size_t bl = data ? strlen(data) : 0;
		uint8_t *dec = malloc(ctl_b64_dec_max(bl) + 3);
		long n = dec && data ? ctl_b64_decode(data, bl, dec) : -1;
		json_t *o = id && n >= 0 ? one(id, dec, (size_t)n, upper) : NULL;
		free(dec);
		if (!o) {
			status = -EINVAL;
			break;
		}
		json_array_append_new(out, o);
	}
	json_t *res = json_pack("{s:o}", "records", out);
	char *text = status == 0 && res ? json_dumps(res, JSON_COMPACT) : NULL;
	json_decref(res);
	json_decref(ev);
	if (text)
		done(done_arg, 0, text, strlen(text));
	else
		done(done_arg, status ? status : -ENOMEM, NULL, 0);
	free(text);
}

static const struct ctl_fh_transform builtin = { invoke, NULL };

const struct ctl_fh_transform *ctl_fh_builtin_transform(void)
{
	return &builtin;
}
