/* SPDX-License-Identifier: MIT */
/*
 * For the fuzz targets of AWS front-ends (fuzz_aws, fuzz_glue, fuzz_sfn): the reply sink handed
 * to ctl_aws_invoke (every answer must be one JSON object; an error must carry __type and
 * message; anything else aborts, which libFuzzer reports), and the split of a fuzz input into
 * an operation and its body.
 */
#ifndef FUZZ_AWS_ANSWER_H
#define FUZZ_AWS_ANSWER_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

struct fuzz_answer {
	int count;
	unsigned status;
};

static inline void fuzz_answer_check(void *arg, unsigned status, const char *ctype, char *body,
				     size_t len, const char *rid, const char *const *headers)
{
	struct fuzz_answer *a = arg;
	(void)ctype;
	(void)rid;
	(void)headers;
	a->count++;
	a->status = status;
	json_error_t je;
	json_t *j = body ? json_loadb(body, len, 0, &je) : NULL;
	if (!j || !json_is_object(j))
		abort();
	if (status != 200 && (!json_is_string(json_object_get(j, "__type")) ||
			      !json_is_string(json_object_get(j, "message"))))
		abort();
	json_decref(j);
	free(body);
}

/*
 * A fuzz input is "<operation>\n<body>" (no newline: an operation and an empty body). Fills
 * target with prefix + operation and points *body / *blen at the body; false for inputs the
 * targets skip (over 64 KiB, an operation name over 64 bytes). *op_len (may be NULL): the
 * operation's length.
 */
static inline bool fuzz_split_request(const char *prefix, const uint8_t *data, size_t size,
				      char target[96], size_t *op_len, const char **body,
				      size_t *blen)
{
	if (size > 65536)
		return false;
	const uint8_t *nl = memchr(data, '\n', size);
	size_t tl = nl ? (size_t)(nl - data) : size;
	if (tl > 64)
		return false;
	snprintf(target, 96, "%s%.*s", prefix, (int)tl, (const char *)data);
	if (op_len)
		*op_len = tl;
	*body = nl ? (const char *)nl + 1 : "";
	*blen = nl ? size - tl - 1 : 0;
	return true;
}

#endif
