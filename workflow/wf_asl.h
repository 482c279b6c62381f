/* SPDX-License-Identifier: MIT */
/*
 * wf_asl: Amazon States Language definitions, parsed, validated and compiled.
 *
 * wf_machine_parse() takes a definition (JSON text), checks it as Step Functions does at
 * CreateStateMachine and compiles every path, payload template, intrinsic function and Choice
 * rule, so that running it never parses again. A refused definition yields -EINVAL and a message
 * in Step Functions' words, naming the state and field by JSON pointer:
 *   "SCHEMA_VALIDATION_FAILED: The field 'Next' should be a string at /States/Foo/Next"
 *   "MISSING_TRANSITION_TARGET: Missing 'Next' target: X at /States/Y/Next"
 * (other codes: INVALID_JSON_DESCRIPTION, DUPLICATE_STATE_NAME, UNREACHABLE_STATE,
 * INVALID_JSONPATH, INVALID_INTRINSIC_FUNCTION, INVALID_TIMESTAMP). The front-end prefixes
 * "Invalid State Machine Definition: " as AWS does.
 *
 * Scope: JSONPath query language (JSONata and Assign are refused), every state type, inline Map
 * (ItemReader, ItemBatcher and ResultWriter are refused). Cycles are allowed; a state no
 * transition reaches is refused, as AWS refuses it.
 *
 * A compiled machine is immutable: any number of executions, on any threads, may share it; it
 * must outlive them all.
 */
#ifndef WF_ASL_H
#define WF_ASL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

struct wf_machine;

/* Parse @len bytes of @def. *ret is written only on success; messages go to @err. */
int wf_machine_parse(const char *def, size_t len, struct wf_machine **ret, char *err,
		     size_t errlen);
void wf_machine_free(struct wf_machine *m);

/* Number of states, nested ones included. */
size_t wf_machine_state_count(const struct wf_machine *m);
/* The top-level TimeoutSeconds, 0 when absent. */
int64_t wf_machine_timeout_s(const struct wf_machine *m);

/*
 * RFC 3339 timestamps as ASL accepts them: "2016-03-14T01:59:00Z", uppercase T, fractional
 * seconds optional, Z or a numeric offset required. Writes nanoseconds since the epoch (UTC);
 * returns -EINVAL for anything else.
 */
int wf_timestamp_parse(const char *s, int64_t *ns);
/* Milliseconds since the epoch as ISO 8601 with milliseconds and Z (the context object's form):
 * writes 25 bytes including the NUL into @buf. */
void wf_timestamp_format(int64_t ms, char buf[32]);

#ifdef __cplusplus
}
#endif

#endif
