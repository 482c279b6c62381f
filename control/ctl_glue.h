/* SPDX-License-Identifier: MIT */
/*
 * ctl_glue: the AWS Glue Data Catalog front-end (AWSGlue.* over AWS JSON 1.1): databases,
 * tables, table versions (GetTableVersions, GetTableVersion, DeleteTableVersion,
 * BatchDeleteTableVersion) and partitions (Create/BatchCreate/Get/BatchGet/Update/Delete/
 * BatchDeletePartition, GetPartitions with an Expression, pages and segments), classifiers
 * (ctl_glue_classifier.h) and crawlers (ctl_glue_crawler.h). It decodes and validates each request the way Glue does, calls the catalog's action
 * functions (cat_store.h), and maps their errors to Glue's exceptions (EntityNotFound,
 * AlreadyExists, InvalidInput, ConcurrentModification, InternalService).
 *
 * What it owns. The catalog store over the metadata database's connection; the catalog's
 * tables are created or upgraded through ctl_meta_schema() under the module name "catalog".
 *
 * Threads. The control thread only (as ctl_aws and ctl_meta).
 */
#ifndef CTL_GLUE_H
#define CTL_GLUE_H

#include "ctl_aws.h"
#include "ctl_meta.h"

struct ctl_glue;

/* Bring the catalog's tables to the current schema and open the store over meta (borrowed;
 * must outlive the result). Returns 0 or a negative errno after logging. */
int ctl_glue_new(struct ctl_meta *meta, struct ctl_glue **ret);
/* NULL is accepted. */
void ctl_glue_free(struct ctl_glue *g);

/* The classifier operations' state inside the AWSGlue svc (ctl_glue_classifier.h). */
struct ctl_glue_classifier *ctl_glue_classifiers(void *glue_svc);
/* The crawler operations' state inside the AWSGlue svc (ctl_glue_crawler.h). */
struct ctl_glue_crawler *ctl_glue_crawlers(void *glue_svc);

struct ctl_loop;
/* Let crawlers run (ctl_glue_crawler_attach): s3:// paths resolve under s3_root, runs finish
 * and schedules fire on loop's ticks. Returns 0 or a negative errno. */
int ctl_glue_attach(struct ctl_glue *g, struct ctl_loop *loop, const char *s3_root);

/* Register the AWSGlue operations (the classifier and crawler ones included). Returns
 * ctl_aws_register()'s result, or -ENOMEM. */
int ctl_glue_register(struct ctl_glue *g, struct ctl_aws *aws);

#endif
