/* SPDX-License-Identifier: MIT */
/*
 * For the fuzz targets of AWS front-ends (fuzz_aws, fuzz_glue): the reply sink handed to
 * ctl_aws_invoke. Every answer must be one JSON object; an error must carry __type and message.
 * Anything else aborts, which libFuzzer reports.
 */
#ifndef FUZZ_AWS_ANSWER_H
#define FUZZ_AWS_ANSWER_H

#include <stdlib.h>

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

#endif
