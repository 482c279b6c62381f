/* SPDX-License-Identifier: MIT */
/*
 * ctl_firehose: Firehose delivery streams (Firehose_20150804.*) on the appliance.
 *
 * What it owns. The delivery streams: their definitions, tags and delivery checkpoints in the
 * metadata database (tables firehose_*), each DirectPut stream's own shard log under
 * DATA_DIR/firehose/<name>/ (opened on the control thread's committer, not part of the Kinesis
 * shard set), one delivery worker thread per stream, and the objects it writes under
 * S3_ROOT/<bucket>/<key> (bucket ARN arn:aws:s3:::<bucket>).
 *
 * Delivery contract (at least once). PutRecord / PutRecordBatch answer only once the records
 * are acknowledged by the stream's log (durable by default). The control thread reads the log
 * (or, for a KinesisStreamAsSource stream, the source stream's shard logs), cuts buffers by
 * BufferingHints (SizeInMBs or IntervalInSeconds, whichever comes first; one buffer per
 * evaluated prefix with dynamic partitioning), and hands each buffer to the stream's worker,
 * which transforms nothing itself, compresses, and makes the object visible atomically (temp
 * file in the same directory, fsync, rename, directory fsync) or POSTs it to an HTTP endpoint
 * with retries, falling back to the S3 error prefix. The checkpoint (per source shard: every
 * sequence number below it is delivered) is written to the metadata only after the objects
 * that hold those records are durable, so a restart re-delivers at most what was in flight.
 *
 * Threads. Everything here runs on the control thread except the workers, which own nothing
 * but their job queue; results come back through ctl_loop_wake().
 */
#ifndef CTL_FIREHOSE_H
#define CTL_FIREHOSE_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "ctl_aws.h"
#include "ctl_loop.h"
#include "ctl_meta.h"
#include "dp_log.h"

struct ctl_fh;
struct ctl_kinesis;

/*
 * A record transform with Lambda's Firehose contract. invoke() is called on the control thread
 * with payload = {"invocationId", "deliveryStreamArn", "region", "records":[{"recordId",
 * "approximateArrivalTimestamp", "data"}]} (JSON text, len bytes, valid during the call); it
 * must eventually call done(done_arg, status, result, result_len) exactly once, from any thread
 * (also from inside invoke), with status >= 0 and the function's response JSON
 * {"records":[{"recordId", "result": "Ok"|"Dropped"|"ProcessingFailed", "data", "metadata"?}]}
 * or a negative errno (every record then counts as ProcessingFailed). result is copied before
 * done returns.
 */
typedef void (*ctl_fh_transform_done)(void *done_arg, int status, const char *result, size_t len);

struct ctl_fh_transform {
	void (*invoke)(void *arg, const char *function_arn, const char *payload, size_t len,
		       ctl_fh_transform_done done, void *done_arg);
	void *arg;
};

/*
 * The built-in transforms, until functions are wired in: a Lambda processor whose LambdaArn
 * names the function (":function:<name>", any region and account)
 *   ingestd-identity        answers every record Ok, unchanged;
 *   ingestd-upper           Ok with ASCII letters upper-cased, except records containing
 *                           "DROP" (Dropped) or "FAIL" (ProcessingFailed); a JSON record's
 *                           string member "key" becomes metadata.partitionKeys.key.
 * Any other function fails the invocation (its records become processing-failed). Calls done
 * before returning. Static; thread-safe.
 */
const struct ctl_fh_transform *ctl_fh_builtin_transform(void);

struct ctl_fh_config {
	const char *data_dir;             /* DATA_DIR: logs in DATA_DIR/firehose/<name>/ */
	const char *s3_root;              /* bucket B is directory S3_ROOT/B/ */
	const struct dp_log_config *log;  /* the daemon's shard log settings */
	const char *account_id;
	const char *region;
};

/*
 * Load every delivery stream from the metadata (creating the tables on first use), open the
 * DirectPut logs, register the delivery tick on loop and start the workers. loop may be NULL
 * (tests, the benchmark): the caller then runs ctl_fh_tick itself. kinesis (may be
 * NULL: no stream sources) is the Kinesis service whose streams a KinesisStreamAsSource stream
 * reads. Returns 0 or a negative errno after logging.
 */
int ctl_fh_new(const struct ctl_fh_config *cfg, struct ctl_meta *meta, struct dp_committer *c,
	       struct ctl_loop *loop, struct ctl_kinesis *kinesis, struct ctl_fh **ret);
/* Stops the workers (after their current job), closes the logs, frees. NULL is accepted. */
void ctl_fh_free(struct ctl_fh *fh);

/* Register the Firehose_20150804 operations. */
int ctl_fh_register(struct ctl_fh *fh, struct ctl_aws *aws);

/* Route the committer's ack callback here too: answers the puts that the ack covers. Shards
 * that are not a delivery stream's are ignored. */
void ctl_fh_on_ack(struct ctl_fh *fh, struct dp_shard *sh, uint64_t ack_next);

/* Drive the committer until every accepted put is acknowledged (or its log failed), so that
 * every pending PutRecord(Batch) has its answer. Used before stopping, while the HTTP
 * listeners still exist. */
void ctl_fh_drain(struct ctl_fh *fh);

/* Install the record transform used by Lambda processors (NULL: such streams answer every
 * record ProcessingFailed). The struct is copied. */
void ctl_fh_set_transform(struct ctl_fh *fh, const struct ctl_fh_transform *t);

/* Per-stream delivery metrics for GET /stats: a new JSON array (NULL when out of memory). */
json_t *ctl_fh_stats(const struct ctl_fh *fh);

/* Delivery streams, for status reports. */
unsigned ctl_fh_count(const struct ctl_fh *fh);

/* Run the delivery engine once now (the registered tick does this; exposed for the
 * benchmark). Returns when it next wants to run (ms, wall clock). */
int64_t ctl_fh_tick(struct ctl_fh *fh, int64_t now_ms);

#endif
