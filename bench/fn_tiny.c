/* SPDX-License-Identifier: MIT */
/* The smallest function program: reads the event, answers {"ok":true}. For bench_fn. */
#include <unistd.h>

int main(void)
{
	char buf[4096];
	while (read(0, buf, sizeof(buf)) > 0)
		;
	static const char out[] = "{\"ok\":true}\n";
	return write(1, out, sizeof(out) - 1) == (ssize_t)(sizeof(out) - 1) ? 0 : 1;
}
