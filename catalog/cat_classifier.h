/* SPDX-License-Identifier: MIT */
/*
 * cat_classifier: the custom classifiers (Glue's CreateClassifier and friends), kept in the
 * metadata database.
 *
 * What it owns. The table cat_classifier in the sqlite3 connection handed to each call; the
 * caller brings it to the current version first by running cat_classifier_schema_steps through
 * its schema mechanism (ctl_meta_schema under the module name "classifier" in the daemon).
 *
 * What is stored. Each classifier as GetClassifier returns it: one of {"GrokClassifier": {...}},
 * {"JsonClassifier": {...}}, {"CsvClassifier": {...}}, {"XMLClassifier": {...}}, the caller's
 * members as sent plus CreationTime and LastUpdated (epoch seconds) and Version (1, +1 per
 * update). Names are kept as sent (Glue does not fold classifier names). Whether a definition is
 * usable (Grok compiles, JsonPath parses) is cat_classifier_def_check()'s business
 * (cat_classify.h), called by the front-end before it stores anything.
 *
 * Errors. Negated enum cat_err values (cat_store.h). Threads: the connection's thread only.
 */
#ifndef CAT_CLASSIFIER_H
#define CAT_CLASSIFIER_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>
#include <sqlite3.h>

#include "cat_store.h"

#define CAT_CLASSIFIER_SCHEMA_VERSION 1
extern const char *const cat_classifier_schema_steps[CAT_CLASSIFIER_SCHEMA_VERSION];

/*
 * Store a new classifier: def is {"<Kind>Classifier": {Name, ...}} with exactly one kind.
 * Returns 0, -CAT_ERR_INVALID (no single kind, bad Name), -CAT_ERR_EXISTS or -CAT_ERR_IO.
 */
int cat_classifier_create(sqlite3 *db, const json_t *def, int64_t now_s);
/* The stored classifier (new reference). 0, -CAT_ERR_NOT_FOUND, -CAT_ERR_INVALID or -CAT_ERR_IO. */
int cat_classifier_get(sqlite3 *db, const char *name, json_t **out);
/*
 * Replace a classifier's definition with def (same shape as create; the members given replace
 * the stored ones, the others stay), Version + 1, LastUpdated = now_s. The kind must be the
 * stored one's: -CAT_ERR_CONFLICT otherwise. Returns 0, -CAT_ERR_NOT_FOUND, -CAT_ERR_INVALID,
 * -CAT_ERR_CONFLICT or -CAT_ERR_IO. *merged (may be NULL) receives the definition as stored.
 */
int cat_classifier_update(sqlite3 *db, const json_t *def, int64_t now_s, json_t **merged);
/* 0, -CAT_ERR_NOT_FOUND or -CAT_ERR_IO. */
int cat_classifier_delete(sqlite3 *db, const char *name);
/*
 * Up to max classifiers (max 0: all) in name order after `after` (NULL: from the start) as a
 * new array in *out; *more says whether more follow. 0 or -CAT_ERR_IO.
 */
int cat_classifier_list(sqlite3 *db, const char *after, unsigned max, json_t **out, bool *more);
/* A change counter: +1 on every create, update and delete (the classifier set's version, so a
 * compiled cat_classifiers can tell it is stale). 0 when none was ever made; <0 on error. */
int64_t cat_classifier_generation(sqlite3 *db);

/* The definition's kind member and its body (borrowed), or NULL when not exactly one. */
const char *cat_classifier_kind(const json_t *def, json_t **body);

#endif
