/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for wf_path: JSONPath text from definitions (InputPath, Parameters values,
 * Choice variables, filters) is client input.
 *
 * The first byte picks the compile flags; the rest, up to a NUL, is the path; after the NUL, a
 * JSON document to evaluate against (a fixed one when absent or invalid). Properties: compile
 * either succeeds or returns -EINVAL with a message; a reference path is definite; a definite
 * path yields the node or -ENOENT, any other path an array; ResultPath placement leaves the
 * document unchanged and puts the value where the same path then finds it.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "wf_path.h"

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);

#define PROPERTY(cond) do { if (!(cond)) abort(); } while (0)

static const char fixed[] =
	"{\"a\":{\"b\":[1,2,{\"c\":\"x\"}],\"d e\":null},\"l\":[5,4,3],\"s\":\"str\","
	"\"o\":{\"p\":{\"q\":true}},\"n\":1.5}";

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	struct wf_path *p = NULL;
	json_t *doc = NULL, *out = NULL, *val, *placed = NULL, *before, *back = NULL;
	unsigned flags;
	char *text, err[256];
	size_t len;
	int r;

	if (n < 1)
		return 0;
	flags = d[0] & 3u;
	d++;
	n--;
	len = strnlen((const char *)d, n);
	text = malloc(len + 1);
	if (!text)
		return 0;
	memcpy(text, d, len);
	text[len] = '\0';
	if (len + 1 < n)
		doc = json_loadb((const char *)d + len + 1, n - len - 1, JSON_DECODE_ANY, NULL);
	if (!doc)
		doc = json_loads(fixed, 0, NULL);
	r = wf_path_compile(text, flags, &p, err, sizeof(err));
	PROPERTY(r == 0 || (r == -EINVAL && err[0]));
	if (r < 0)
		goto out;
	PROPERTY(!strcmp(wf_path_text(p), text));
	if (flags & WF_PATH_REFERENCE)
		PROPERTY(wf_path_is_definite(p));
	r = wf_path_eval(p, doc, &out);
	if (wf_path_is_definite(p))
		PROPERTY(r == 0 || r == -ENOENT);
	else
		PROPERTY(r == 0 && json_is_array(out));
	if (wf_path_is_definite(p) && !wf_path_is_context(p)) {
		before = json_deep_copy(doc);
		val = json_pack("{s:i}", "placed", 1);
		r = wf_path_set(p, doc, val, &placed);
		PROPERTY(r == 0 || r == -EINVAL);
		PROPERTY(json_equal(before, doc));
		if (r == 0) {
			PROPERTY(wf_path_eval(p, placed, &back) == 0);
			PROPERTY(json_equal(back, val));
		}
		json_decref(before);
		json_decref(val);
	}
out:
	json_decref(back);
	json_decref(placed);
	json_decref(out);
	json_decref(doc);
	wf_path_free(p);
	free(text);
	return 0;
}
