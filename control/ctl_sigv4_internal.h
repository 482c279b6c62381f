/* SPDX-License-Identifier: MIT */
/*
 * ctl_sigv4 internals that the unit tests reach: the canonical request exactly as verification
 * builds it, so that tests compare it with AWS's published canonical requests line by line.
 */
#ifndef CTL_SIGV4_INTERNAL_H
#define CTL_SIGV4_INTERNAL_H

#include "ctl_sigv4.h"

/*
 * Parse r's signature parts and build its canonical request into *out (malloc'd, the caller
 * frees it). Returns 0, -EACCES with res filled as ctl_sigv4_verify fills it, or -ENOMEM.
 */
int ctl_sigv4_canonical_request(const struct ctl_sigv4_req *r, char **out,
				struct ctl_sigv4_result *res);

#endif
