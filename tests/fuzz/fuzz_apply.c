/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the declaration files of `ingestctl plan/apply` (ic_yaml + ic_apply's
 * validation): any bytes are either accepted or refused with a message that names the input and
 * a position; nothing crashes, leaks or runs unbounded. A violated property aborts.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ic_apply.h"
#include "ic_yaml.h"

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);

#define PROPERTY(cond) do { if (!(cond)) abort(); } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	char err[600] = "";
	struct ic_yaml *y = NULL;
	int r = ic_yaml_parse("in.yaml", (const char *)d, n, &y, err, sizeof(err));
	if (r == 0) {
		PROPERTY(ic_yaml_root(y) != NULL);
		char where[600];
		ic_yaml_where(y, "/streams/0/StreamName", where, sizeof(where));
		PROPERTY(strncmp(where, "in.yaml", 7) == 0);
		ic_yaml_free(y);
	} else {
		PROPERTY(r == -22 || r == -12);
		PROPERTY(r == -12 || strncmp(err, "in.yaml", 7) == 0);
	}
	/* The whole validation, without a daemon: messages go to a memory stream. */
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	if (!f)
		return 0;
	struct ic_apply_opts o = { .apply = false, .out = f, .err = f };
	int rc = ic_apply_text(NULL, "in.yaml", (const char *)d, n, &o);
	fclose(f);
	PROPERTY(rc == 0 || rc == IC_APPLY_ERR_FILE);
	PROPERTY(rc == 0 || (len > 0 && strncmp(buf, "in.yaml", 7) == 0) ||
		 (len > 0 && strncmp(buf, "out of memory", 13) == 0));
	free(buf);
	return 0;
}
