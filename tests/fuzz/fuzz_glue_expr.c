/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for cat_expr, the GetPartitions Expression. The input's first line is the
 * expression; the rest, if any, is the value of the string key `region` of the partitions it is
 * evaluated against. Keys: year int, dt date, region string, ts timestamp, price decimal(10,2),
 * flag boolean.
 *
 * Properties: compiling either succeeds or fails with -EINVAL and a message that starts
 * "Invalid partition expression"; an expression that compiles also compiles wrapped in
 * NOT ( ... ) (when that stays within the bounds), and for well-typed partition values (no
 * unknowns) the wrapped one matches exactly when the plain one does not. A violation or a crash
 * (stack, memory, time) is a finding.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cat_expr.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define PROPERTY(cond) do { if (!(cond)) abort(); } while (0)

static json_t *g_keys;

static int compile(const char *text, struct cat_expr **e)
{
	char err[CAT_EXPR_ERR_MAX];
	int r = cat_expr_compile(text, g_keys, e, err);
	PROPERTY(r == 0 || r == -EINVAL);
	if (r < 0) {
		PROPERTY(memchr(err, '\0', sizeof(err)) != NULL);
		PROPERTY(strncmp(err, "Invalid partition expression", 28) == 0);
	}
	return r;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!g_keys) {
		g_keys = json_loads("[{\"Name\":\"year\",\"Type\":\"int\"},{\"Name\":\"dt\",\"Type\":"
				    "\"date\"},{\"Name\":\"region\",\"Type\":\"string\"},{\"Name\":"
				    "\"ts\",\"Type\":\"timestamp\"},{\"Name\":\"price\",\"Type\":"
				    "\"decimal(10,2)\"},{\"Name\":\"flag\",\"Type\":\"boolean\"}]",
				    0, NULL);
		if (!g_keys)
			abort();
	}
	if (size > 2 * CAT_EXPR_LEN_MAX)
		return 0;
	const uint8_t *nl = memchr(data, '\n', size);
	size_t el = nl ? (size_t)(nl - data) : size;
	char *text = malloc(el + 16), *region = malloc(size - el + 1);
	if (!text || !region)
		abort();
	memcpy(text, data, el);
	text[el] = '\0';
	size_t rl = nl ? size - el - 1 : 0;
	if (rl)
		memcpy(region, nl + 1, rl);
	region[rl] = '\0';
	/* An embedded NUL ends the expression, as it would a C string from JSON. */
	struct cat_expr *e = NULL, *ne = NULL;
	if (compile(text, &e) == 0) {
		char *wrapped = malloc(strlen(text) + 8);
		if (!wrapped)
			abort();
		sprintf(wrapped, "NOT (%s)", text);
		int r = compile(wrapped, &ne);
		static const char *const years[] = { "2024", "-1", "0", "99" };
		static const char *const dts[] = { "2024-01-02", "1999-12-31", "2024-02-29" };
		for (size_t y = 0; y < 4; y++)
			for (size_t d = 0; d < 3; d++) {
				const char *v[] = { years[y], dts[d], region, "2024-03-01 10:00:00",
						    "1.5", "true" };
				bool m = cat_expr_match(e, v, 6);
				if (r == 0)
					PROPERTY(cat_expr_match(ne, v, 6) == !m);
			}
		/* Ill-typed values are unknown: never a crash, whatever the result. */
		const char *odd[] = { "x", "2024-13-01", region, "", "nan", "" };
		(void)cat_expr_match(e, odd, 6);
		(void)cat_expr_match(e, odd, 5);
		free(wrapped);
	}
	cat_expr_free(ne);
	cat_expr_free(e);
	free(text);
	free(region);
	return 0;
}
