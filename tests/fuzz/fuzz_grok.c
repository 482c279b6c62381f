/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for cat_grok, the Grok compiler that CreateClassifier feeds with a client's
 * GrokPattern and CustomPatterns. The input's first line is the GrokPattern, the rest are the
 * CustomPatterns (so the corpus files read like a classifier definition).
 *
 * Properties, checked on every input (a violation aborts, which libFuzzer reports):
 *  - the compiler returns 0, -EINVAL or -E2BIG (never anything else, never crashes) and always
 *    writes a message on failure;
 *  - an accepted pattern's regex is "^(?:" ... ")$", at most CAT_GROK_REGEX_MAX + 6 bytes, and
 *    PCRE2 compiles it (the contract the classifier database relies on);
 *  - every field name is a valid PCRE2 group name, and names are unique;
 *  - compiling the same input twice gives the same regex (no hidden state).
 */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <errno.h>
#include <pcre2.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cat_grok.h"

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);

#define PROPERTY(cond) do { if (!(cond)) abort(); } while (0)

static bool group_name_ok(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > CAT_GROK_NAME_MAX || (s[0] >= '0' && s[0] <= '9'))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
		      (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
			return false;
	return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	if (n > 3 * CAT_GROK_CUSTOM_MAX)
		return 0;
	char *text = malloc(n + 1);
	if (!text)
		return 0;
	memcpy(text, d, n);
	text[n] = '\0';
	char *nl = strchr(text, '\n');
	const char *custom = NULL;
	if (nl) {
		*nl = '\0';
		custom = nl + 1;
	}
	struct cat_grok *g = NULL, *g2 = NULL;
	char err[512];
	err[0] = '\0';
	int r = cat_grok_compile(text, custom, &g, err, sizeof(err));
	PROPERTY(r == 0 || r == -EINVAL || r == -E2BIG || r == -ENOMEM);
	if (r < 0) {
		PROPERTY(err[0] != '\0');
		free(text);
		return 0;
	}
	PROPERTY(g->regex_len == strlen(g->regex));
	PROPERTY(g->regex_len >= 6 && g->regex_len <= CAT_GROK_REGEX_MAX + 6);
	PROPERTY(memcmp(g->regex, "^(?:", 4) == 0);
	PROPERTY(memcmp(g->regex + g->regex_len - 2, ")$", 2) == 0);
	int code;
	PCRE2_SIZE off;
	pcre2_code *c = pcre2_compile((PCRE2_SPTR)g->regex, g->regex_len, PCRE2_DUPNAMES, &code, &off,
				      NULL);
	PROPERTY(c != NULL);
	pcre2_code_free(c);
	for (unsigned i = 0; i < g->n_fields; i++) {
		PROPERTY(group_name_ok(g->fields[i].name));
		for (unsigned j = 0; j < i; j++)
			PROPERTY(strcmp(g->fields[i].name, g->fields[j].name) != 0);
	}
	PROPERTY(cat_grok_compile(text, custom, &g2, err, sizeof(err)) == 0);
	PROPERTY(strcmp(g->regex, g2->regex) == 0 && g->n_fields == g2->n_fields);
	cat_grok_free(g);
	cat_grok_free(g2);
	free(text);
	return 0;
}
