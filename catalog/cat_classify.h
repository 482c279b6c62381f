/* SPDX-License-Identifier: MIT */
/*
 * cat_classify: what a sample of a file is (Glue's classifiers): its classification, Glue's
 * certainty, and the columns a table over such files would have.
 *
 * Order (Glue's). Magic bytes first (avro, orc, parquet; gzip, bzip2, zstd, zip, snappy frames
 * report UNKNOWN with `compression` set, for the caller to decompress and ask again); binary junk
 * is UNKNOWN with certainty 0.0 and never reaches a text classifier. Then the custom classifiers
 * in the order given (a crawler's Classifiers list): the first with certainty 1.0 wins. Then the
 * built-ins, which answer only 1.0 or 0.0, in Glue's order: json, xml, combined_apache, apache,
 * syslog, log (a line that starts with an ISO 8601 or syslog timestamp), csv. When none says 1.0
 * the custom classifier with the highest certainty above 0.0 wins; else UNKNOWN, 0.0.
 *
 * Certainty. Built-ins: 1.0 or 0.0. Custom Grok: the fraction of the sample's non-empty lines
 * its pattern matches (1.0 when all do); custom JSON: 1.0 when its JsonPath finds a record in
 * every document; custom CSV: 1.0 when every record has the same number of columns (at least
 * two unless AllowSingleColumn); custom XML: 1.0 when the sample holds a <RowTag> element. A
 * last line without a newline is treated as cut off by the sampler: when it fails to parse or
 * match it is left out rather than counted against the file.
 *
 * CSV (built-in). The delimiters ',' '|' '\t' ';' and '\x01' are each tried with '"' quoting
 * (RFC 4180, a doubled quote inside quotes) over the first CAT_CLASSIFY_CSV_RECORDS records;
 * one qualifies when every record has the same number of columns, at least two, over at least
 * two records, with no text after a closing quote; the one with the most columns wins, then
 * the order above.
 *
 * Columns. json: one per top-level member (names folded to lower case), typed bigint, double,
 * boolean, string, struct<...>, array<...> merged over the records (boolean < bigint < double <
 * string; structs member-wise; null alone is string); a document that is a top-level array is
 * one column `array`. csv: header names folded to lower case when Glue's rules find a header
 * (every header field a string, shorter than 150 bytes but the last, and some data column not a
 * string), else col0, col1, ...; types bigint, double, boolean or string (dates stay strings, as
 * Glue's LazySimpleSerDe tables have them). grok: the pattern's fields with their declared types
 * (string unless %{P:f:type}). xml: none.
 *
 * Engines. All Grok patterns (custom and built-in) live in one Hyperscan database (cat_hsdb):
 * one scan per line decides every Grok classifier at once; PCRE2 confirms prefilter hits.
 *
 * Threads. A cat_classifiers is immutable once built; cat_classify_sample() may run on any
 * number of threads at once (each call borrows a scratch from a small locked pool).
 */
#ifndef CAT_CLASSIFY_H
#define CAT_CLASSIFY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

/* What Glue reads of a file on a first crawl: the first 1 MiB, or 1000 CSV records. */
#define CAT_CLASSIFY_SAMPLE_MAX (1u << 20)
#define CAT_CLASSIFY_CSV_RECORDS 1000
/* Glue: every header field but the last is shorter than 150 characters. */
#define CAT_CLASSIFY_HEADER_FIELD_MAX 150
/* Longest JsonPath accepted (Glue: the JsonPath member has no stated limit; 4096 bounds it). */
#define CAT_CLASSIFY_JSONPATH_MAX 4096

struct cat_column {
	char *name;  /* malloc'd */
	char *type;  /* malloc'd Hive type: "bigint", "array<struct<a:string>>", ... */
};

struct cat_classification {
	char classification[256];  /* "json", "csv", "combined_apache", "apache", "syslog", "log",
	                              "xml", "avro", "orc", "parquet", a custom classifier's
	                              Classification, or "UNKNOWN" */
	char classifier[256];      /* the classifier's Name; the classification for built-ins;
	                              "" for UNKNOWN */
	double certainty;          /* 1.0, a fraction for custom Grok, or 0.0 */
	char compression[16];      /* "gzip", "bzip2", "zstd", "zip", "snappy" or "" (none) */
	unsigned n_columns;
	struct cat_column *columns;  /* owned; released by cat_classification_clear() */
	/* csv only */
	char delimiter;
	char quote;
	bool header;               /* the first record is a header (skip.header.line.count=1) */
	/* records seen in the sample (lines, JSON documents or CSV records) and how many of them
	 * the winning classifier accepted */
	unsigned records;
	unsigned matched;
};

struct cat_classifiers;

/*
 * Validate one classifier definition as GetClassifier returns it: an object with exactly one of
 * GrokClassifier {Name, Classification, GrokPattern, CustomPatterns?}, JsonClassifier {Name,
 * JsonPath}, CsvClassifier {Name, Delimiter?, QuoteSymbol?, ContainsHeader?, Header?,
 * AllowSingleColumn?, ...}, XMLClassifier {Name, Classification, RowTag?}. Checks what only
 * the engine knows (Grok compiles and Hyperscan/PCRE2 accept it, JsonPath parses, CSV delimiter
 * and quote are one character each and differ); member types and lengths are the front-end's.
 * Returns 0, or -EINVAL with err saying why (for Grok: the pattern name, position or construct),
 * -E2BIG for a limit, -ENOMEM.
 */
int cat_classifier_def_check(const json_t *def, char *err, size_t errlen);

/*
 * Build the classifiers of defs[0..n) (definitions as above, in the order they are tried),
 * followed by the built-ins. cache_dir (may be NULL) holds the Hyperscan database cache (see
 * cat_hsdb.h). Returns 0, or -EINVAL with err naming the definition and the reason, -ENOMEM.
 */
int cat_classifiers_new(const json_t *const *defs, unsigned n, const char *cache_dir,
			struct cat_classifiers **ret, char *err, size_t errlen);
/* NULL is accepted. */
void cat_classifiers_free(struct cat_classifiers *cl);

struct cat_hsdb;
/* The Grok database (for its cat_hsdb_info: compile time, cache use, prefilter count). */
const struct cat_hsdb *cat_classifiers_hsdb(const struct cat_classifiers *cl);

/*
 * Classify buf[0..len) (the first bytes of one file, at most CAT_CLASSIFY_SAMPLE_MAX are read).
 * name_hint is the file's name or NULL; it does not decide the result today (Glue classifies by
 * content, not by extension) and is part of the signature so that a crawler passes it from the
 * start. *out is overwritten (call cat_classification_clear() on it afterwards). Returns 0
 * (UNKNOWN included) or -ENOMEM / -EIO (Hyperscan failed).
 */
int cat_classify_sample(const struct cat_classifiers *cl, const char *name_hint,
			const uint8_t *buf, size_t len, struct cat_classification *out);

/* Free out's columns and zero it. NULL is accepted. */
void cat_classification_clear(struct cat_classification *out);

#endif
