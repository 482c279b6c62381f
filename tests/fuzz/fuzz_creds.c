/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for ctl_sigv4's credentials file parser: the input is the file's text.
 * Properties: an error leaves *ret alone and writes one NUL-terminated line; a parsed set has at
 * least one key, and every key id found in the text as "aws_access_key_id = ID" that the set
 * holds maps to a secret with no whitespace or control character.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ctl_sigv4.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define PROPERTY(cond) do { if (!(cond)) abort(); } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ctl_sigv4_creds *c = (struct ctl_sigv4_creds *)&c;  /* must stay untouched on error */
	char err[128];

	memset(err, 'x', sizeof(err));
	int rc = ctl_sigv4_creds_parse((const char *)data, size, &c, err, sizeof(err));
	if (rc) {
		PROPERTY(rc == -EINVAL || rc == -ENOMEM);
		PROPERTY(c == (struct ctl_sigv4_creds *)&c);
		PROPERTY(memchr(err, 0, sizeof(err)) && err[0] && !strchr(err, '\n'));
		return 0;
	}
	PROPERTY(ctl_sigv4_creds_count(c) >= 1);
	/* Look up every line's value as a key id: found secrets are printable and unspaced. */
	char *text = malloc(size + 1);
	if (text) {
		memcpy(text, data, size);
		text[size] = '\0';
		for (char *line = strtok(text, "\r\n"); line; line = strtok(NULL, "\r\n")) {
			char *eq = strpbrk(line, "=:");
			if (!eq)
				continue;
			char *v = eq + 1;
			while (*v == ' ' || *v == '\t')
				v++;
			size_t n = strcspn(v, " \t");
			v[n] = '\0';
			const char *s = ctl_sigv4_creds_secret(c, v);
			if (s) {
				PROPERTY(*s);
				for (; *s; s++)
					PROPERTY((unsigned char)*s > ' ' && (unsigned char)*s != 0x7f);
			}
		}
		free(text);
	}
	ctl_sigv4_creds_free(c);
	return 0;
}
