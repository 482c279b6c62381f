/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for wf_intrinsic: intrinsic calls in `.$` fields come from definitions.
 *
 * The input is the expression. Properties: compile returns 0 or -EINVAL with a message; an
 * accepted expression evaluates against a fixed input and context to a value, -EINVAL
 * (States.IntrinsicFailure) or -ENOENT (a path found nothing), each error with a cause; the same
 * generator state gives the same result twice (replay depends on it).
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "wf_intrinsic.h"

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);

#define PROPERTY(cond) do { if (!(cond)) abort(); } while (0)

static const char input_text[] =
	"{\"s\":\"a,b,,c\",\"n\":3,\"f\":1.5,\"arr\":[1,2,2,\"x\",{\"k\":[]}],\"o\":{\"a\":1},"
	"\"j\":\"{\\\"x\\\":[1,2]}\",\"b64\":\"aGVsbG8=\",\"t\":true,\"z\":null}";

static json_t *context(void *arg)
{
	return arg;
}

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	struct wf_intrinsic *f = NULL;
	json_t *in, *ctx, *a = NULL, *b = NULL;
	char *text, err[256], c1[512], c2[512];
	uint64_t r1 = 5, r2 = 5;
	int x, y;

	text = malloc(n + 1);
	if (!text)
		return 0;
	memcpy(text, d, n);
	text[n] = '\0';
	x = wf_intrinsic_compile(text, &f, err, sizeof(err));
	PROPERTY(x == 0 || (x == -EINVAL && err[0]));
	if (x == 0) {
		in = json_loads(input_text, 0, NULL);
		ctx = json_pack("{s:{s:s,s:O}}", "Execution", "Name", "e", "Input", in);
		struct wf_intrinsic_env e1 = {.input = in, .context = context, .context_arg = ctx,
					      .rng = &r1};
		struct wf_intrinsic_env e2 = {.input = in, .context = context, .context_arg = ctx,
					      .rng = &r2};

		c1[0] = c2[0] = '\0';
		x = wf_intrinsic_eval(f, &e1, &a, c1, sizeof(c1));
		y = wf_intrinsic_eval(f, &e2, &b, c2, sizeof(c2));
		PROPERTY(x == 0 || x == -EINVAL || x == -ENOENT);
		PROPERTY(x == y);
		if (x == 0)
			PROPERTY(a && json_equal(a, b));
		else
			PROPERTY(c1[0] && !strcmp(c1, c2));
		json_decref(a);
		json_decref(b);
		json_decref(ctx);
		json_decref(in);
		wf_intrinsic_free(f);
	}
	free(text);
	return 0;
}
