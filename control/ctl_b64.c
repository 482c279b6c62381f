/* SPDX-License-Identifier: MIT */
/* ctl_b64: see ctl_b64.h. The codec is libcrypto's; this file only validates and sizes. */
#include "ctl_b64.h"

#include <errno.h>
#include <limits.h>

#include <openssl/evp.h>

size_t ctl_b64_encode(const void *in, size_t n, char *out)
{
	size_t done = 0, w = 0;

	/* EVP_EncodeBlock takes an int length: feed it in chunks that are multiples of 3. */
	while (n - done > 0) {
		size_t chunk = n - done;
		if (chunk > (size_t)3 * (INT_MAX / 8))
			chunk = (size_t)3 * (INT_MAX / 8);
		w += (size_t)EVP_EncodeBlock((unsigned char *)out + w,
					     (const unsigned char *)in + done, (int)chunk);
		done += chunk;
	}
	out[w] = '\0';
	return w;
}

static int b64_char_ok(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '+' || c == '/';
}

long ctl_b64_decode(const char *in, size_t n, uint8_t *out)
{
	if (n % 4 != 0 || n > (size_t)INT_MAX / 2)
		return -EINVAL;
	if (n == 0)
		return 0;
	size_t pad = 0;
	if (in[n - 1] == '=')
		pad = in[n - 2] == '=' ? 2 : 1;
	for (size_t i = 0; i < n - pad; i++)
		if (!b64_char_ok((unsigned char)in[i]))
			return -EINVAL;
	int r = EVP_DecodeBlock(out, (const unsigned char *)in, (int)n);
	if (r < 0)
		return -EINVAL;
	return (long)((size_t)r - pad);
}
