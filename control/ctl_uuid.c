/* SPDX-License-Identifier: MIT */
/* ctl_uuid: version-4 ids (contract in ctl_uuid.h). */
#include "ctl_uuid.h"

#include <openssl/rand.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

void ctl_uuid_format(const uint8_t b[16], char out[CTL_UUID_LEN + 1])
{
	static const char hex[] = "0123456789abcdef";
	char *p = out;

	for (unsigned i = 0; i < 16; i++) {
		uint8_t v = b[i];
		if (i == 6)
			v = (uint8_t)((v & 0x0f) | 0x40);
		else if (i == 8)
			v = (uint8_t)((v & 0x3f) | 0x80);
		if (i == 4 || i == 6 || i == 8 || i == 10)
			*p++ = '-';
		*p++ = hex[v >> 4];
		*p++ = hex[v & 0x0f];
	}
	*p = '\0';
}

static uint64_t mix(uint64_t z)
{
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

void ctl_uuid4(char out[CTL_UUID_LEN + 1])
{
	static _Atomic uint64_t counter;
	uint8_t b[16];

	if (RAND_bytes(b, sizeof(b)) != 1) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		uint64_t n = atomic_fetch_add(&counter, 1);
		uint64_t x = mix((uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec + n);
		uint64_t y = mix(x ^ ((uint64_t)getpid() << 32) ^ n);
		memcpy(b, &x, 8);
		memcpy(b + 8, &y, 8);
	}
	ctl_uuid_format(b, out);
}
