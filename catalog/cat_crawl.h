/* SPDX-License-Identifier: MIT */
/*
 * cat_crawl: the crawl engine behind Glue's crawlers. It walks one local folder, samples and
 * classifies its files (cat_classify.h), infers and merges their schemas, detects partitions,
 * decides where tables begin, and writes what it found into the catalog (cat_store.h).
 *
 * A run has two halves on purpose. cat_crawl_run() touches only the file system and memory: it
 * may run on any thread (a crawler's worker) and never sees the store. cat_crawl_apply() writes
 * the result into the store on the store's thread. A cancelled or failed run writes nothing.
 *
 * Walk. Folders are read in name order, depth-first, to at most CAT_CRAWL_DEPTH_MAX levels and
 * CAT_CRAWL_FILES_MAX files (the rest is reported, not crawled). Symbolic links are not
 * followed; names starting with '.' or '_' are skipped (Hive's hidden files: _SUCCESS,
 * _temporary, .crc); a path (relative to the root, '/'-separated) that matches one of the
 * Exclusions glob patterns (fnmatch(3), where '*' also crosses '/' as Glue's '**' does) is
 * skipped with everything below it. Files that cannot be opened or read are reported in the
 * result's messages and skipped; a root that cannot be read fails the run.
 *
 * Sampling (Glue's). In each folder the first sample_size files in name order are classified
 * (0: every file); each is read up to CAT_CLASSIFY_SAMPLE_MAX bytes, and a gzip or zstd file is
 * decompressed up to that many bytes and classified again (compressionType gzip/zstd). Files
 * whose classification is UNKNOWN (binary junk, empty files, bzip2/zip/snappy) are skipped.
 *
 * Schemas. Each sampled file gives columns with Hive types (cat_classify.h). They merge by name
 * in first-seen order with cat_crawl_type_merge(): equal types stay; tinyint/smallint/int/bigint
 * widen to bigint and any integer with float/double/decimal to double; arrays and maps merge
 * element-wise; structs take the union of their fields (merged by name); anything else that
 * differs (boolean with bigint, timestamp with bigint, struct with string, ...) becomes string.
 * A column whose type text does not parse (a nested field named "a:b" cannot be spelled in a
 * Hive type) is typed string, with a message.
 *
 * Tables (Glue's grouping). A folder holds one table, its files below it being its partitions,
 * when every classified file under it has the same format (classification, compression and,
 * for csv, delimiter and header), all files lie at the same depth, and the schemas are similar
 * (Glue's partition threshold): at least CAT_CRAWL_SIMILARITY of the leaf folders (those that
 * hold files) are similar, a leaf being similar when at least CAT_CRAWL_COLUMN_SHARE of its
 * column names were seen in the leaves before it (in path order; the first always is); or the
 * grouping policy is CombineCompatibleSchemas (format alone decides). Otherwise each sub-folder is decided on its
 * own, and the files directly in the folder form a table per format. The crawl root's table is
 * named after the location's last component, the others after their folder; names keep
 * [a-z0-9_] (other bytes become '_', letters are folded), TablePrefix first, at most
 * CAT_CRAWL_TABLE_NAME_MAX bytes; a name used twice in one run gets '_' and 8 hex digits of a
 * hash of its path.
 *
 * Partitions. The folders between a table's root and its files are its partition levels. A level
 * whose folders are all `key=value` with one key is partition key `key` (values the text after
 * '='); any other level is `partition_<i>`, values the folder names. Keys are typed string, as
 * Glue's crawler types them.
 *
 * What a table says. TableInput as Glue's crawler writes it: TableType EXTERNAL_TABLE,
 * PartitionKeys, StorageDescriptor {Columns, Location (the location URI of the table's folder,
 * with a trailing '/'), InputFormat, OutputFormat, SerdeInfo (json: org.openx.data.jsonserde.
 * JsonSerDe; csv: LazySimpleSerDe with field.delim, or OpenCSVSerde when the sample quotes
 * fields; grok-style logs: GrokSerDe), Compressed, NumberOfBuckets -1, Parameters}, Parameters
 * {classification, compressionType, typeOfData, recordCount (records sampled, scaled by size to
 * every file), averageRecordSize, objectCount, sizeKey, UPDATED_BY_CRAWLER, CrawlerSchema*
 * Version; csv: delimiter, skip.header.line.count, areColumnsQuoted, columnsOrdered}.
 *
 * Errors. Negative errno: -EINVAL for a bad argument or type text, -ENOMEM; file system
 * problems are the result's (error text or messages), not the return value.
 *
 * Threads. cat_crawl_run() on any thread (it reads cfg->cancel between files and bumps
 * cfg->progress); cat_crawl_apply() on the store's thread.
 */
#ifndef CAT_CRAWL_H
#define CAT_CRAWL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "cat_classify.h"
#include "cat_store.h"

/* Deepest folder level walked below the root: deeper than any partition scheme in use. */
#define CAT_CRAWL_DEPTH_MAX 32
/* Most files one run looks at: bounds memory (about 200 bytes a file) and time. */
#define CAT_CRAWL_FILES_MAX 1000000
/* Glue's SampleSize limit (files per leaf folder). */
#define CAT_CRAWL_SAMPLE_MAX 249
/* Glue: generated table names are at most 128 bytes. */
#define CAT_CRAWL_TABLE_NAME_MAX 128
/* Glue's partition threshold: the share of leaf folders with similar schemas. */
#define CAT_CRAWL_SIMILARITY 0.7
/* A leaf folder's schema is similar when this share of its columns is known already: new
 * fields (a record type that grew) keep it, unrelated data (disjoint columns) does not. */
#define CAT_CRAWL_COLUMN_SHARE 0.5
/* Longest Hive type text handled (Glue's Column.Type limit) and deepest nesting. */
#define CAT_CRAWL_TYPE_MAX 131072
#define CAT_CRAWL_TYPE_DEPTH 64
/* Messages kept in one result (the rest is counted). */
#define CAT_CRAWL_MESSAGES_MAX 100

struct cat_crawl_config {
	const char *root;          /* local folder (or one file) to crawl */
	const char *location;      /* the URI tables name as Location for root: "s3://b/p" or
	                              root itself */
	const char *const *exclusions;  /* glob patterns over root-relative paths */
	unsigned n_exclusions;
	unsigned sample_size;      /* files classified per folder, 0: all */
	unsigned max_depth;        /* 0: CAT_CRAWL_DEPTH_MAX */
	unsigned max_files;        /* 0: CAT_CRAWL_FILES_MAX */
	const struct cat_classifiers *classifiers;  /* borrowed */
	const char *table_prefix;  /* may be NULL */
	const char *crawler_name;  /* UPDATED_BY_CRAWLER; may be NULL */
	bool combine_compatible;   /* Grouping.TableGroupingPolicy CombineCompatibleSchemas */
	const atomic_bool *cancel; /* may be NULL: checked between files */
	atomic_uint_fast64_t *progress;  /* may be NULL: files examined so far */
};

struct cat_crawl_table {
	json_t *table;       /* TableInput */
	json_t *partitions;  /* array of PartitionInput (empty without PartitionKeys) */
};

struct cat_crawl_result {
	struct cat_crawl_table *tables;
	unsigned n_tables;
	uint64_t files;            /* regular files found */
	uint64_t sampled;          /* files classified */
	uint64_t unknown;          /* sampled files that were UNKNOWN (skipped) */
	uint64_t unreadable;       /* files that could not be read */
	uint64_t bytes_read;       /* sample bytes read from disk */
	uint64_t bytes_total;      /* size of every file found */
	bool truncated;            /* the file or depth bound was hit */
	bool cancelled;            /* cfg->cancel was seen: the result is partial */
	char error[512];           /* non-empty: the run failed (the root cannot be read) */
	json_t *messages;          /* array of strings: what was skipped and why */
};

/* Crawl cfg->root. *ret (free with cat_crawl_result_free) is written unless the return is
 * negative: -EINVAL (no root, location or classifiers) or -ENOMEM. */
int cat_crawl_run(const struct cat_crawl_config *cfg, struct cat_crawl_result **ret);
/* NULL is accepted. */
void cat_crawl_result_free(struct cat_crawl_result *r);

enum cat_crawl_update { CAT_CRAWL_UPDATE_IN_DATABASE, CAT_CRAWL_UPDATE_LOG };
enum cat_crawl_delete { CAT_CRAWL_DELETE_DEPRECATE, CAT_CRAWL_DELETE_FROM_DATABASE,
			CAT_CRAWL_DELETE_LOG };

struct cat_crawl_counts {
	unsigned tables_created, tables_updated, tables_deleted, tables_deprecated;
	unsigned partitions_created, partitions_updated;
};

/*
 * Write the results rs[0..n) (one per crawled target) into database db of s: a table not there is created; one that is there is updated
 * (a new table version) when its columns, partition keys, location or format changed and
 * update is UPDATE_IN_DATABASE (LOG: left as it is, a message says so); partitions are created,
 * or replaced when their storage changed. Tables this crawler made before (UPDATED_BY_CRAWLER
 * is crawler) and not found now are deleted, marked DEPRECATED_BY_CRAWLER, or left, as del says.
 * Messages go to rs[0]->messages. Returns 0, -CAT_ERR_NOT_FOUND (no database db) or another cat_err
 * (the first failure; what was written before it stays).
 */
int cat_crawl_apply(struct cat_store *s, const char *db, struct cat_crawl_result *const *rs,
		    unsigned n, const char *crawler, enum cat_crawl_update update, enum cat_crawl_delete del,
		    int64_t now_s, struct cat_crawl_counts *out);

/*
 * Merge two Hive type texts (a, b of alen, blen bytes) as above into *out (malloc'd,
 * NUL-terminated). Returns 0, -EINVAL (a or b is not a type: the grammar is primitive names
 * [A-Za-z0-9_] with an optional (...) argument list, array<T>, map<K,V>, struct<name:T,...>
 * with names free of ":,<>" and each named once, at most CAT_CRAWL_TYPE_DEPTH deep), -E2BIG (longer than
 * CAT_CRAWL_TYPE_MAX) or -ENOMEM.
 */
int cat_crawl_type_merge(const char *a, size_t alen, const char *b, size_t blen, char **out);

/*
 * Merge the Column array cols ([{Name, Type}, ...]) into the Column array into: a new name is
 * appended, a known one gets the merged type. Returns 0, -EINVAL (a column without a string
 * Name and Type, or a bad type) or -ENOMEM.
 */
int cat_crawl_columns_merge(json_t *into, const json_t *cols);

/*
 * One partition folder name: `key=value` (key non-empty, no '=' in it) writes key and value
 * and returns 1; any other name returns 0 (an unnamed level). Returns -E2BIG when key or value
 * do not fit keymax / valmax bytes with their NUL, -EINVAL for an empty name or one holding a
 * NUL byte.
 */
int cat_crawl_partition_name(const char *name, size_t len, char *key, size_t keymax, char *val,
			     size_t valmax);

/* Fold name into a crawler table name ([a-z0-9_], see above) with prefix; out has
 * CAT_CRAWL_TABLE_NAME_MAX + 1 bytes. Returns the length (>= 1; "_" for an empty name). */
int cat_crawl_table_name(const char *prefix, const char *name, size_t len,
			 char out[CAT_CRAWL_TABLE_NAME_MAX + 1]);

#endif
