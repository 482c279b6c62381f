/* SPDX-License-Identifier: MIT */
/*
 * ctl_glue_crawler: Glue's crawlers (AWSGlue.CreateCrawler, GetCrawler, GetCrawlers,
 * BatchGetCrawlers, ListCrawlers, UpdateCrawler, DeleteCrawler, StartCrawler, StopCrawler,
 * GetCrawlerMetrics) over AWS JSON 1.1, and the runs they start.
 *
 * What it owns. The table glue_crawler in the metadata database (ctl_meta_schema module
 * "crawler"): one row per crawler with its Crawler document as GetCrawler returns it (State,
 * LastCrawl, Version, ...) and the run history that GetCrawlerMetrics reads. The runs in
 * flight: one worker thread per running crawler.
 *
 * Targets. Only S3Targets are crawled. A Path `s3://BUCKET/PREFIX` is read from
 * S3_ROOT/BUCKET/PREFIX (the folder the S3 API serves, ctl_s3.h), so a crawler over a delivery
 * stream's output is created exactly as on AWS and its tables say `s3://...` as Location; an
 * absolute local path (`/srv/data/x`) is accepted too and written as Location as it is. Other
 * target kinds are stored and answered but a run over them fails with a message saying so.
 *
 * A run. StartCrawler (or the crawler's Schedule, a `cron(...)` expression, or `rate(...)` as
 * an extension) turns State READY -> RUNNING and starts a worker that compiles the crawler's
 * Classifiers (custom ones, tried first in the order listed, then the built-ins) and runs
 * cat_crawl_run() over each target; it never touches the metadata database. When it ends it
 * wakes the control loop (ctl_loop_wake), whose tick joins it and applies the result with
 * cat_crawl_apply() on the control thread, then sets LastCrawl {Status SUCCEEDED | FAILED |
 * CANCELLED, ErrorMessage, StartTime, LogGroup, MessagePrefix} and State READY. StopCrawler
 * turns RUNNING -> STOPPING; the worker sees it between files, and the run ends CANCELLED
 * with nothing written. A crawler found RUNNING or STOPPING when the daemon starts (a crash or
 * stop mid-run) becomes READY with LastCrawl FAILED "interrupted by a restart".
 *
 * Threads. Everything but the workers runs on the control thread. A worker reads only its own
 * copy of the crawler's definition and writes only its job (an atomic done flag, then the loop
 * wake); the control thread reads the job after it sees done.
 */
#ifndef CTL_GLUE_CRAWLER_H
#define CTL_GLUE_CRAWLER_H

#include "cat_store.h"
#include "ctl_aws.h"
#include "ctl_loop.h"
#include "ctl_meta.h"

struct ctl_glue_crawler;

/*
 * Bring the crawler table to the current schema and settle crawlers a previous process left
 * RUNNING. meta and store are borrowed (the store is the catalog the runs write). Returns 0 or
 * a negative errno after logging.
 */
int ctl_glue_crawler_new(struct ctl_meta *meta, struct cat_store *store,
			 struct ctl_glue_crawler **ret);
/* Stop every run (cancelled, joined; the crawler stays RUNNING in the database, settled at the
 * next start). NULL is accepted. */
void ctl_glue_crawler_free(struct ctl_glue_crawler *k);

/*
 * Let crawlers run: s3_root is where s3:// paths resolve (copied); loop gets the tick that
 * finishes runs and starts scheduled ones. Until this is called (a front-end built without a
 * loop: tests, fuzzers) StartCrawler answers 503 ServiceUnavailableException. Returns 0 or ctl_loop_add_tick()'s error, -ENOMEM.
 */
int ctl_glue_crawler_attach(struct ctl_glue_crawler *k, struct ctl_loop *loop, const char *s3_root);

/* The operations (a static table of n entries); their svc is the AWSGlue service's, from which
 * each finds this state with ctl_glue_crawlers(svc) (ctl_glue.h). */
const struct ctl_aws_op *ctl_glue_crawler_ops(unsigned *n);

/* Runs in flight (for tests and stats). */
unsigned ctl_glue_crawler_running(const struct ctl_glue_crawler *k);

#endif
