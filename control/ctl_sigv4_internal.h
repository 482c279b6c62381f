/* SPDX-License-Identifier: MIT */
/*
 * ctl_sigv4 internals that the unit tests reach: the canonical request exactly as verification
 * builds it, so that tests compare it with AWS's published canonical requests line by line.
 */
#ifndef CTL_SIGV4_INTERNAL_H
#define CTL_SIGV4_INTERNAL_H

#include <stdbool.h>

#include "ctl_sigv4.h"

/*
 * Parse r's signature parts and build its canonical request into *out (malloc'd, the caller
 * frees it). without_query_token asks for the second form verification tries for a presigned
 * request: its X-Amz-Security-Token left out. Returns 0, -EACCES with res filled as
 * ctl_sigv4_verify fills it, -ENOENT when there is no second form, or -ENOMEM.
 */
int ctl_sigv4_canonical_request(const struct ctl_sigv4_req *r, bool without_query_token,
				char **out, struct ctl_sigv4_result *res);

#endif
