/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for cat_classify: the sample classifier (binary sniffing, line splitting,
 * JSON documents and JSON lines, JsonPath evaluation, the CSV reader and its header rules, the
 * Grok database) over arbitrary file contents, which a crawler reads from anywhere. The set is
 * the built-ins plus one custom classifier of each kind, built once. The input's first line is
 * also tried as a JsonPath (the JsonClassifier definition check parses it).
 *
 * Properties: classification returns 0; the classification is non-empty; UNKNOWN has certainty
 * 0.0 and no columns; certainty is within [0, 1]; built-ins answer only 1.0; every column has a
 * non-empty name and a type; classifying the same bytes twice gives the same answer.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cat_classify.h"

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);

#define PROPERTY(cond) do { if (!(cond)) abort(); } while (0)

static struct cat_classifiers *g_cl;

static void build(void)
{
	static const char *const defs[] = {
		("{\"GrokClassifier\": {\"Name\": \"kv\", \"Classification\": \"kv\", "
		 "\"GrokPattern\": \"%{WORD:k}=%{NUMBER:v:double}( %{GREEDYDATA:rest})?\"}}"),
		"{\"JsonClassifier\": {\"Name\": \"items\", \"JsonPath\": \"$.items[*]\"}}",
		"{\"CsvClassifier\": {\"Name\": \"semi\", \"Delimiter\": \";\", \"QuoteSymbol\": \"'\"}}",
		"{\"XMLClassifier\": {\"Name\": \"rows\", \"Classification\": \"xml\", \"RowTag\": \"row\"}}",
	};
	json_t *j[4];
	char err[256];
	for (int i = 0; i < 4; i++)
		if (!(j[i] = json_loads(defs[i], 0, NULL)))
			abort();
	if (cat_classifiers_new((const json_t *const *)j, 4, NULL, &g_cl, err, sizeof(err)) != 0) {
		fprintf(stderr, "fuzz_classify: %s\n", err);
		abort();
	}
	for (int i = 0; i < 4; i++)
		json_decref(j[i]);
}

static void check(const struct cat_classification *c)
{
	PROPERTY(c->classification[0] != '\0');
	PROPERTY(c->certainty >= 0.0 && c->certainty <= 1.0);
	if (strcmp(c->classification, "UNKNOWN") == 0)
		PROPERTY(c->certainty == 0.0 && c->n_columns == 0);
	static const char *const builtins[] = { "json", "xml", "csv", "combined_apache", "apache",
						"syslog", "log", "avro", "orc", "parquet", "ion" };
	for (size_t i = 0; i < sizeof(builtins) / sizeof(builtins[0]); i++)
		if (strcmp(c->classifier, builtins[i]) == 0)
			PROPERTY(c->certainty == 1.0);
	for (unsigned i = 0; i < c->n_columns; i++)
		PROPERTY(c->columns[i].name && c->columns[i].name[0] && c->columns[i].type &&
			 c->columns[i].type[0]);
}

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	if (!g_cl)
		build();
	struct cat_classification a, b;
	PROPERTY(cat_classify_sample(g_cl, "fuzz", d, n, &a) == 0);
	check(&a);
	PROPERTY(cat_classify_sample(g_cl, "fuzz", d, n, &b) == 0);
	PROPERTY(strcmp(a.classification, b.classification) == 0 && a.certainty == b.certainty &&
		 a.n_columns == b.n_columns);
	for (unsigned i = 0; i < a.n_columns; i++)
		PROPERTY(strcmp(a.columns[i].name, b.columns[i].name) == 0 &&
			 strcmp(a.columns[i].type, b.columns[i].type) == 0);
	cat_classification_clear(&a);
	cat_classification_clear(&b);

	/* The first line as a JsonPath. */
	const uint8_t *nl = memchr(d, '\n', n);
	size_t l = nl ? (size_t)(nl - d) : n;
	if (l < 512 && !memchr(d, '\0', l)) {
		char path[512];
		memcpy(path, d, l);
		path[l] = '\0';
		json_t *def = json_pack("{s:{s:s,s:s}}", "JsonClassifier", "Name", "j", "JsonPath", path);
		if (def) {
			char err[256];
			int r = cat_classifier_def_check(def, err, sizeof(err));
			PROPERTY(r == 0 || r == -EINVAL);
			json_decref(def);
		}
	}
	return 0;
}
