/* SPDX-License-Identifier: MIT */
/*
 * wf_intrinsic: the States.* intrinsic functions of Amazon States Language (JSONPath mode).
 *
 * An expression such as `States.Format('Hello {}', States.ArrayGetItem($.names, 0))` compiles
 * once, at definition time, into a tree whose leaves are literals ('strings' with the escapes
 * \' \{ \} \\, numbers, true, false, null) and compiled paths (`$...` over the input, `$$...`
 * over the context object). Nesting is limited to WF_INTRINSIC_MAX_DEPTH, as AWS limits it.
 * Argument counts are checked at compile time; argument types and values at evaluation, where
 * AWS checks them, failing with States.IntrinsicFailure.
 *
 * Functions: Format, StringToJson, JsonToString, Array, ArrayPartition, ArrayContains,
 * ArrayRange, ArrayGetItem, ArrayLength, ArrayUnique, Base64Encode, Base64Decode, Hash (MD5,
 * SHA-1, SHA-256, SHA-384, SHA-512 through libcrypto EVP), JsonMerge (shallow only), MathRandom,
 * MathAdd, StringSplit, UUID.
 *
 * Randomness (MathRandom without a seed, UUID) is drawn from the caller's generator state so that
 * an execution replayed from its journal computes the same values.
 *
 * Threading: a compiled expression is immutable; evaluation touches only the caller's env.
 */
#ifndef WF_INTRINSIC_H
#define WF_INTRINSIC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#ifdef __cplusplus
extern "C" {
#endif

#define WF_INTRINSIC_MAX_DEPTH 10
/* Base64 and Hash inputs are limited to this many characters (AWS). */
#define WF_INTRINSIC_MAX_TEXT 10000
/* States.ArrayRange yields at most this many items (AWS). */
#define WF_INTRINSIC_MAX_RANGE 1000

struct wf_intrinsic;

/* What an evaluation reads: the input for `$` paths and, on demand, the context for `$$`. */
struct wf_intrinsic_env {
	json_t *input;
	json_t *(*context)(void *arg); /* borrowed reference; may return NULL */
	void *context_arg;
	uint64_t *rng; /* splitmix64 state, advanced by MathRandom (unseeded) and UUID */
};

/* True when @s looks like an intrinsic call (starts with "States."). */
bool wf_intrinsic_is_call(const char *s);

/*
 * Compile @text. Returns -EINVAL with a message in @err for a malformed expression, an unknown
 * function or a wrong argument count; -ENOMEM. *ret is written only on success.
 */
int wf_intrinsic_compile(const char *text, struct wf_intrinsic **ret, char *err, size_t errlen);
void wf_intrinsic_free(struct wf_intrinsic *f);

/*
 * Evaluate. On success *ret holds a new reference. Errors: -EINVAL (States.IntrinsicFailure) or
 * -ENOENT (a path argument selected nothing: States.Runtime), each with the cause in @cause;
 * -ENOMEM.
 */
int wf_intrinsic_eval(const struct wf_intrinsic *f, const struct wf_intrinsic_env *env,
		      json_t **ret, char *cause, size_t causelen);

/* One step of splitmix64 over *state (the generator intrinsics and retry jitter use). */
uint64_t wf_rng_next(uint64_t *state);

#ifdef __cplusplus
}
#endif

#endif
