/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for cat_crawl's schema work over sample bytes: the input is split in two
 * "files" at its first NUL-free "\n--\n" (else in halves); each is classified with the built-in
 * classifiers, and their column lists are merged the way a crawl merges files of one table.
 * The first line is also read as two Hive type texts "A|B" to merge, and as a partition folder
 * name and a table name.
 *
 * Properties: classifying and merging never fail but for an unparseable type (-EINVAL, when a
 * nested field name cannot be spelled in a Hive type); the merged list holds every column name
 * of both files once; merging a merged type with itself gives it back (the result is canonical);
 * merging two types gives 0, -EINVAL or -E2BIG, and a result merges with either input again;
 * partition names answer -EINVAL, -E2BIG, 0 or 1 with a non-empty key; table names hold only
 * [a-z0-9_].
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cat_crawl.h"

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);

#define PROPERTY(cond) do { if (!(cond)) abort(); } while (0)

static struct cat_classifiers *g_cl;

static json_t *columns_of(const uint8_t *d, size_t n)
{
	struct cat_classification c;
	PROPERTY(cat_classify_sample(g_cl, "fuzz", d, n, &c) == 0);
	json_t *cols = json_array();
	PROPERTY(cols);
	for (unsigned i = 0; i < c.n_columns; i++)
		json_array_append_new(cols, json_pack("{s:s,s:s}", "Name", c.columns[i].name, "Type",
						      c.columns[i].type));
	cat_classification_clear(&c);
	return cols;
}

static bool has_name(const json_t *cols, const char *name)
{
	size_t i;
	json_t *c;
	json_array_foreach(cols, i, c)
		if (strcmp(json_string_value(json_object_get(c, "Name")), name) == 0)
			return true;
	return false;
}

static void canonical(const char *t)
{
	char *m = NULL;
	int r = cat_crawl_type_merge(t, strlen(t), t, strlen(t), &m);
	PROPERTY(r == 0);
	PROPERTY(strcmp(m, t) == 0);
	free(m);
}

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	if (!g_cl) {
		char err[256];
		if (cat_classifiers_new(NULL, 0, NULL, &g_cl, err, sizeof(err)) != 0)
			abort();
	}
	size_t cut = n / 2, skip = 0;
	for (size_t i = 0; i + 4 <= n; i++)
		if (memcmp(d + i, "\n--\n", 4) == 0) {
			cut = i + 1;
			skip = 3;
			break;
		}
	json_t *a = columns_of(d, cut), *b = columns_of(d + cut + skip, n - cut - skip);
	json_t *into = json_array();
	int r = cat_crawl_columns_merge(into, a);
	PROPERTY(r == 0 || r == -EINVAL);
	if (r == 0) {
		r = cat_crawl_columns_merge(into, b);
		PROPERTY(r == 0 || r == -EINVAL);
	}
	if (r == 0) {
		size_t i;
		json_t *c;
		json_array_foreach(a, i, c)
			PROPERTY(has_name(into, json_string_value(json_object_get(c, "Name"))));
		json_array_foreach(b, i, c)
			PROPERTY(has_name(into, json_string_value(json_object_get(c, "Name"))));
		PROPERTY(json_array_size(into) <= json_array_size(a) + json_array_size(b));
		json_array_foreach(into, i, c)
			canonical(json_string_value(json_object_get(c, "Type")));
	}
	json_decref(into);
	json_decref(a);
	json_decref(b);

	const uint8_t *nl = memchr(d, '\n', n);
	size_t l = nl ? (size_t)(nl - d) : n;
	const uint8_t *bar = memchr(d, '|', l);
	if (bar) {
		const char *ta = (const char *)d, *tb = (const char *)bar + 1;
		size_t la = (size_t)(bar - d), lb = l - la - 1;
		char *m = NULL;
		r = cat_crawl_type_merge(ta, la, tb, lb, &m);
		PROPERTY(r == 0 || r == -EINVAL || r == -E2BIG);
		if (r == 0) {
			canonical(m);
			char *m2 = NULL;
			PROPERTY(cat_crawl_type_merge(m, strlen(m), ta, la, &m2) == 0);
			free(m2);
		}
		free(m);
	}
	char key[64], val[64], tname[CAT_CRAWL_TABLE_NAME_MAX + 1];
	r = cat_crawl_partition_name((const char *)d, l, key, sizeof(key), val, sizeof(val));
	PROPERTY(r == 0 || r == 1 || r == -EINVAL || r == -E2BIG);
	if (r == 1)
		PROPERTY(key[0] != '\0');
	int tl = cat_crawl_table_name("p_", (const char *)d, l, tname);
	PROPERTY(tl >= 1 && tl <= CAT_CRAWL_TABLE_NAME_MAX && (size_t)tl == strlen(tname));
	for (int i = 0; i < tl; i++)
		PROPERTY((tname[i] >= 'a' && tname[i] <= 'z') || (tname[i] >= '0' && tname[i] <= '9') ||
			 tname[i] == '_');
	return 0;
}
