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

/* The standard alphabet as a lookup table: the check runs over every blob on the records path. */
static const uint8_t b64_ok[256] = {
	['A'] = 1, ['B'] = 1, ['C'] = 1, ['D'] = 1, ['E'] = 1, ['F'] = 1, ['G'] = 1, ['H'] = 1,
	['I'] = 1, ['J'] = 1, ['K'] = 1, ['L'] = 1, ['M'] = 1, ['N'] = 1, ['O'] = 1, ['P'] = 1,
	['Q'] = 1, ['R'] = 1, ['S'] = 1, ['T'] = 1, ['U'] = 1, ['V'] = 1, ['W'] = 1, ['X'] = 1,
	['Y'] = 1, ['Z'] = 1, ['a'] = 1, ['b'] = 1, ['c'] = 1, ['d'] = 1, ['e'] = 1, ['f'] = 1,
	['g'] = 1, ['h'] = 1, ['i'] = 1, ['j'] = 1, ['k'] = 1, ['l'] = 1, ['m'] = 1, ['n'] = 1,
	['o'] = 1, ['p'] = 1, ['q'] = 1, ['r'] = 1, ['s'] = 1, ['t'] = 1, ['u'] = 1, ['v'] = 1,
	['w'] = 1, ['x'] = 1, ['y'] = 1, ['z'] = 1, ['0'] = 1, ['1'] = 1, ['2'] = 1, ['3'] = 1,
	['4'] = 1, ['5'] = 1, ['6'] = 1, ['7'] = 1, ['8'] = 1, ['9'] = 1, ['+'] = 1, ['/'] = 1,
};

long ctl_b64_decode(const char *in, size_t n, uint8_t *out)
{
	if (n % 4 != 0 || n > (size_t)INT_MAX / 2)
		return -EINVAL;
	if (n == 0)
		return 0;
	size_t pad = 0;
	if (in[n - 1] == '=')
		pad = in[n - 2] == '=' ? 2 : 1;
	unsigned bad = 0;
	for (size_t i = 0; i < n - pad; i++)
		bad |= b64_ok[(unsigned char)in[i]] ^ 1u;
	if (bad)
		return -EINVAL;
	int r = EVP_DecodeBlock(out, (const unsigned char *)in, (int)n);
	if (r < 0)
		return -EINVAL;
	return (long)((size_t)r - pad);
}
