/* SPDX-License-Identifier: MIT */
/*
 * ctl_b64: strict standard base64 (RFC 4648 section 4, with '=' padding) over libcrypto's
 * EVP_EncodeBlock / EVP_DecodeBlock. Blob fields of the AWS JSON protocols travel this way.
 * EVP_DecodeBlock alone is too lenient (it skips whitespace and reports padded lengths), so the
 * decoder checks the alphabet, the length and the padding first and returns the exact length.
 * No state; any thread.
 */
#ifndef CTL_B64_H
#define CTL_B64_H

#include <stddef.h>
#include <stdint.h>

/* Encoded length of n bytes, without the terminating NUL. */
static inline size_t ctl_b64_enc_len(size_t n)
{
	return (n + 2) / 3 * 4;
}

/* Upper bound of the decoded length of an n-character string. */
static inline size_t ctl_b64_dec_max(size_t n)
{
	return n / 4 * 3;
}

/* Encode n bytes into out (ctl_b64_enc_len(n) + 1 bytes, NUL-terminated). Returns the length. */
size_t ctl_b64_encode(const void *in, size_t n, char *out);

/*
 * Decode n characters of in into out (ctl_b64_dec_max(n) bytes at least). Returns the decoded
 * length, or -EINVAL when in is not padded base64: a character outside the alphabet, a length
 * that is not a multiple of 4, or '=' anywhere but the last one or two places. Unused low bits
 * in the last group are ignored, as AWS ignores them.
 */
long ctl_b64_decode(const char *in, size_t n, uint8_t *out);

#endif
