/* SPDX-License-Identifier: MIT */
/*
 * ctl_uuid: RFC 4122 version-4 identifiers in their 36-character text form, as AWS services hand
 * them out (request ids, revision ids, execution names, event ids).
 *
 * ctl_uuid_format() is the one formatter (version and variant bits set here, lower-case hex, no
 * printf: Step Functions names every express execution with one, the AWS front-end every
 * request); ctl_uuid4() draws the 16 bytes from libcrypto's RAND_bytes (a user-space generator
 * the kernel seeds: no system call per id). Both are thread-safe.
 */
#ifndef CTL_UUID_H
#define CTL_UUID_H

#include <stdint.h>

#define CTL_UUID_LEN 36 /* characters, without the terminating NUL */

/* Format b (16 bytes; bits 48-51 and 64-65 are overwritten with the version and variant) as
 * "xxxxxxxx-xxxx-4xxx-[89ab]xxx-xxxxxxxxxxxx" into out (37 bytes, NUL-terminated). */
void ctl_uuid_format(const uint8_t b[16], char out[CTL_UUID_LEN + 1]);

/* A random version-4 id. When the generator fails (it cannot be seeded), the bytes come from the
 * clock, the process id and a counter: unique, not unpredictable. */
void ctl_uuid4(char out[CTL_UUID_LEN + 1]);

#endif
