/* SPDX-License-Identifier: MIT */
/*
 * ctl_glue_classifier: Glue's classifier operations (AWSGlue.CreateClassifier, GetClassifier,
 * GetClassifiers, UpdateClassifier, DeleteClassifier) over AWS JSON 1.1. Each decodes and checks
 * members the way Glue's model constrains them, proves a definition usable with
 * cat_classifier_def_check() (a Grok pattern that does not compile, names an unknown pattern or
 * uses a construct the engine cannot run is InvalidInputException with the reason), stores it
 * with cat_classifier_*, and answers Glue's shapes and exceptions (AlreadyExistsException,
 * EntityNotFoundException, InvalidInputException).
 *
 * What it owns. The classifier table (ctl_meta_schema module "classifier") and the compiled
 * set of all stored classifiers with the Hyperscan database cache in
 * <data dir>/classifier-cache (next to meta.db): rebuilt on first use after any change.
 *
 * Registration. The AWSGlue service is one ctl_aws service with one svc, so these operations
 * join ctl_glue's table: ctl_glue_classifier_ops() gives them, and each finds its state with
 * ctl_glue_classifiers(svc) from the AWSGlue svc (ctl_glue.h).
 *
 * Threads. The control thread only (as ctl_aws and ctl_meta).
 */
#ifndef CTL_GLUE_CLASSIFIER_H
#define CTL_GLUE_CLASSIFIER_H

#include "cat_classify.h"
#include "ctl_aws.h"
#include "ctl_meta.h"

struct ctl_glue_classifier;

/* Bring the classifier table to the current schema. meta is borrowed. 0 or negative errno
 * after logging. */
int ctl_glue_classifier_new(struct ctl_meta *meta, struct ctl_glue_classifier **ret);
/* NULL is accepted. */
void ctl_glue_classifier_free(struct ctl_glue_classifier *k);

/*
 * The Hyperscan cache directory of the data directory that holds meta's database
 * (<dir of meta.db>/classifier-cache; not created here) in *dir, malloc'd; NULL when the
 * database is in memory. 0 or -ENOMEM.
 */
int ctl_glue_classifier_cache_dir(struct ctl_meta *meta, char **dir);

/* The operations (a static table of n entries); their svc is the AWSGlue service's. */
const struct ctl_aws_op *ctl_glue_classifier_ops(unsigned *n);

/*
 * The compiled set of every stored classifier (in name order, then the built-ins), rebuilt when
 * a classifier changed since the last call. Borrowed: valid until the next call or free.
 * Returns 0 or a negative errno after logging.
 */
int ctl_glue_classifier_set(struct ctl_glue_classifier *k, const struct cat_classifiers **ret);

#endif
