/* SPDX-License-Identifier: MIT */
/*
 * wf_path: JSONPath as Amazon States Language uses it, compiled once at definition time.
 *
 * A path starts with `$` (the state's data) or `$$` (the context object); the caller hands the
 * matching document to wf_path_eval(). Supported segments (the Jayway dialect Step Functions
 * runs): `.name`, `['name']`, `["name"]`, `[n]` (negative counts from the end), `.*` / `[*]`,
 * unions `['a','b']` / `[0,2]`, slices `[start:end:step]`, deep scan `..name` / `..*` /
 * `..[n]`, and filters `[?(<expr>)]` where expr combines `@...` / `$...` operands and literals
 * (numbers, 'strings', true, false, null) with == != < <= > >=, && || ! and parentheses; a
 * bare operand tests existence.
 *
 * A path is *definite* when it has only name and index segments: it selects one node or fails.
 * Any other path selects a list, returned as an array (empty when nothing matches, as AWS does).
 * A *reference path* (WF_PATH_REFERENCE) is a definite path with non-negative indexes: the only
 * form ResultPath, ItemsPath, SecondsPath, ErrorPath etc. accept.
 *
 * JSON values handed in are never modified: wf_path_set() copies each object or array on the way
 * to the target (shallow copies; untouched subtrees are shared by reference). The engine relies
 * on this: a value, once shared, is immutable. The one exception, wf_path_set_reuse(), changes
 * only containers that its caller alone holds (reference count 1) and is about to let go of.
 *
 * Threading: a compiled path is immutable and may be evaluated from several threads at once.
 */
#ifndef WF_PATH_H
#define WF_PATH_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#ifdef __cplusplus
extern "C" {
#endif

struct wf_path;

/* Compile flags. */
#define WF_PATH_REFERENCE 0x1u /* only a reference path is accepted */
#define WF_PATH_NO_CONTEXT 0x2u /* a `$$` path is refused (ResultPath) */

/*
 * Compile @text. On failure returns -EINVAL and writes a message naming the problem into
 * @err (@errlen bytes, may be 0); -ENOMEM when out of memory. *ret is written only on success.
 */
int wf_path_compile(const char *text, unsigned flags, struct wf_path **ret, char *err,
		    size_t errlen);
void wf_path_free(struct wf_path *p);

/* The source text, as compiled. */
const char *wf_path_text(const struct wf_path *p);
/* True for a `$$...` path: evaluate it against the context object. */
bool wf_path_is_context(const struct wf_path *p);
/* True when the path selects at most one node (names and indexes only). */
bool wf_path_is_definite(const struct wf_path *p);
/* True for the path `$` (or `$$`) itself. */
bool wf_path_is_root(const struct wf_path *p);

/*
 * Evaluate @p over @doc. On success *ret holds a new reference: the node (definite path) or a
 * new array of the matches (other paths; [] when none). Returns -ENOENT when a definite path
 * selects nothing, -ENOMEM when out of memory.
 */
int wf_path_eval(const struct wf_path *p, json_t *doc, json_t **ret);

/*
 * ResultPath: a copy of @doc with @value placed at reference path @p, creating missing objects
 * on the way. `$` yields @value itself. *ret is a new reference; @doc and @value are not
 * modified (@value is referenced, not copied). Returns -EINVAL when the path cannot be applied
 * (a step through a non-object, an index past the end): States.ResultPathMatchFailure.
 */
int wf_path_set(const struct wf_path *p, json_t *doc, json_t *value, json_t **ret);

/*
 * wf_path_set for a caller about to let go of @doc: objects and arrays on the path that nothing
 * else references are changed in place instead of copied, so that a state's ResultPath does not
 * copy its input. @holders is how many of @doc's references the caller accounts for (its own and
 * those it will drop with it); @doc is reused when its reference count is at most that, a child
 * when only its reused parent holds it. On success the caller must not read @doc's old contents
 * again; on failure nothing was changed. A @value that is or contains @doc holds a reference of
 * its own, so @doc is then copied: no cycle can form.
 */
int wf_path_set_reuse(const struct wf_path *p, json_t *doc, size_t holders, json_t *value,
		      json_t **ret);

#ifdef __cplusplus
}
#endif

#endif
