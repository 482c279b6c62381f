/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for ingestd's option parser: the input, split at NUL bytes, is argv. Any
 * result is fine; a crash, a sanitizer report, or an accepted config that fails its own check
 * is not.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ctl_config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 4096)
		return 0;
	char *buf = malloc(size + 1);
	if (!buf)
		return 0;
	memcpy(buf, data, size);
	buf[size] = 0;
	char *argv[66] = { "ingestd" };
	int argc = 1;
	for (size_t i = 0; i < size && argc < 65;) {
		argv[argc++] = buf + i;
		i += strlen(buf + i) + 1;
	}
	argv[argc] = NULL;
	struct ctl_config cfg;
	char err[256];
	if (ctl_config_parse(argc, argv, &cfg, err, sizeof(err)) == 0 &&
	    dp_log_config_check(&cfg.log, NULL) != 0)
		abort();
	unsigned long long v;
	ctl_parse_size(buf, &v);
	free(buf);
	return 0;
}
