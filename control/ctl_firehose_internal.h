/* SPDX-License-Identifier: MIT */
/*
 * ctl_firehose internals shared by its files and its tests: growable buffers, the prefix
 * expression language (ctl_firehose_prefix.c), the codecs and the atomic object writer
 * (ctl_firehose_sink.c). Nothing here touches the control thread's state: the workers use it.
 */
#ifndef CTL_FIREHOSE_INTERNAL_H
#define CTL_FIREHOSE_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ctl_firehose.h"

/* ---- buffers ---------------------------------------------------------------------------------- */

/* Buffers of at least this capacity are page-aligned (fh_object_write writes them O_DIRECT). */
#define FH_ALIGNED_MIN (1u << 20)

struct fh_buf {
	uint8_t *p;
	size_t len, cap;
};

/* Append n bytes. Returns 0 or -ENOMEM. */
int fh_buf_put(struct fh_buf *b, const void *p, size_t n);
int fh_buf_reserve(struct fh_buf *b, size_t extra);
void fh_buf_free(struct fh_buf *b);

/* ---- prefixes --------------------------------------------------------------------------------- */

#define FH_PREFIX_MAX 1024   /* Prefix / ErrorOutputPrefix length (AWS: 0..1024) */
#define FH_EVAL_MAX 512      /* an evaluated prefix (AWS: <= 512 characters) */
#define FH_KEYS_MAX 50       /* partition keys per record (AWS: 50 with MetadataExtraction) */
#define FH_KEY_VALUE_MAX 512

/* Which expressions a prefix may hold. */
enum fh_prefix_kind {
	FH_PREFIX_DATA = 0,  /* Prefix: timestamp, random-string, partitionKeyFrom* */
	FH_PREFIX_ERROR,     /* ErrorOutputPrefix: timestamp, random-string, error-output-type */
};

/*
 * Check a prefix as CreateDeliveryStream does: balanced `!{namespace:argument}` expressions of a
 * known namespace, timestamp formats of yyyy yy MM dd HH mm ss and separators, no `!{` outside
 * one, no literal segment "." or "..", no leading '/', no control characters. dynamic: whether
 * partitionKeyFrom* is allowed (dynamic partitioning enabled). Returns 0, or -EINVAL with the
 * reason written to why (n bytes).
 */
int fh_prefix_check(const char *prefix, enum fh_prefix_kind kind, bool dynamic, char *why,
		    size_t n);
/* Whether the prefix holds any `!{` expression. */
bool fh_prefix_has_expr(const char *prefix);
/* Whether the prefix names the given partition key source ("partitionKeyFromQuery", ...). */
bool fh_prefix_uses(const char *prefix, const char *ns);

/* Partition keys of one record (name, value pairs; values sanitized by fh_keys_add). */
struct fh_keys {
	unsigned n;
	char name[FH_KEYS_MAX][64];
	char value[FH_KEYS_MAX][FH_KEY_VALUE_MAX + 1];
};

/*
 * Add a key. The value is sanitized so that it can never move an object out of its prefix:
 * '/', '\\' and control characters become '_', and a value of "." or ".." becomes "_" / "__".
 * Returns 0, -ENOSPC (too many keys) or -EINVAL (name too long or empty).
 */
int fh_keys_add(struct fh_keys *k, const char *name, const char *value, size_t vlen);

/*
 * Evaluate prefix at time ts_ms (UTC) into out (n bytes): timestamp formats, random strings
 * (11 characters, new per occurrence), the error output type (error prefixes), partition keys
 * (a missing key is -ENOENT). A prefix without expressions gets "YYYY/MM/DD/HH/" appended as
 * Firehose does; an empty prefix is exactly that. The result is checked with fh_key_safe.
 * Returns the length, or -EINVAL (bad expression), -ENOENT (missing key), -ENAMETOOLONG.
 */
int fh_prefix_eval(const char *prefix, enum fh_prefix_kind kind, int64_t ts_ms,
		   const char *error_type, const struct fh_keys *keys, char *out, size_t n);

/* Whether an object key stays inside its bucket as a relative path: not empty, no leading '/',
 * no segment "." or "..", no NUL or control character. */
bool fh_key_safe(const char *key);

/* The object name `<stream>-<version>-YYYY-MM-DD-HH-MM-SS-<uuid><ext>`. Returns the length or
 * -ENAMETOOLONG. */
int fh_object_name(const char *stream, unsigned version, int64_t ts_ms, const char *ext,
		   char *out, size_t n);

/* ---- codecs ----------------------------------------------------------------------------------- */

enum fh_codec {
	FH_UNCOMPRESSED = 0,
	FH_GZIP,
	FH_ZIP,
	FH_SNAPPY,          /* Snappy framing format */
	FH_HADOOP_SNAPPY,   /* Hadoop's block format */
	FH_ZSTD,            /* an extension: not an AWS CompressionFormat */
	FH_CODEC_COUNT,
};

/* "UNCOMPRESSED", "GZIP", "ZIP", "Snappy", "HADOOP_SNAPPY", "ZSTD". Returns 0 or -EINVAL. */
int fh_codec_parse(const char *s, enum fh_codec *out);
const char *fh_codec_name(enum fh_codec c);
/* The object name suffix: "", ".gz", ".zip", ".snappy", ".snappy", ".zst". */
const char *fh_codec_ext(enum fh_codec c);

/*
 * Compress n bytes into out (appended). entry names the single member of a ZIP archive.
 * Returns 0, -ENOMEM or -EIO (the library failed).
 */
int fh_compress(enum fh_codec c, const void *in, size_t n, const char *entry, struct fh_buf *out);
/* The inverse, for tests and the benchmark (ZIP: the first member). Returns 0, -EBADMSG, -ENOMEM. */
int fh_decompress(enum fh_codec c, const void *in, size_t n, struct fh_buf *out);

/* ---- objects ---------------------------------------------------------------------------------- */

/*
 * Write object `key` of bucket directory `root/bucket` atomically: creates the directories of
 * the key (each fsync'ed into its parent), writes a temp file in the final directory,
 * fdatasyncs it, renames it over the final name and fsyncs the directory. The key must pass fh_key_safe
 * and bucket must be one path segment (-EINVAL otherwise). Returns 0 or a negative errno.
 */
int fh_object_write(const char *root, const char *bucket, const char *key, const void *data,
		    size_t n);

/* The bucket of an S3 bucket ARN "arn:aws:s3:::B" (B: 3..63 of [a-z0-9.-], not "." / ".."):
 * returns B's start, or NULL. */
const char *fh_bucket_of(const char *arn);

/* ---- delivery configuration and jobs (ctl_firehose.c builds them, ctl_firehose_sink.c runs) -- */

#include <pthread.h>
#include <stdatomic.h>

#define FH_LANES_MAX 64      /* source shards per delivery stream (a Kinesis source's shards) */

/* Where a buffer goes: immutable once built; shared by reference between the stream and jobs. */
struct fh_dest {
	atomic_int refs;
	bool http;
	/* S3 (the destination itself, or an HTTP destination's S3Configuration for its backups) */
	char bucket[64];
	char *prefix, *error_prefix;
	enum fh_codec codec;
	uint64_t size_bytes;   /* BufferingHints.SizeInMBs */
	int64_t interval_ms;   /* BufferingHints.IntervalInSeconds */
	/* processing */
	bool dynamic;
	char *jq_query;        /* MetadataExtractionQuery */
	char *lambda_arn;      /* Lambda processor */
	uint8_t delim[16];     /* AppendDelimiterToRecord */
	size_t delim_len;
	/* HTTP endpoint */
	char *url, *access_key, *common_attrs;  /* common_attrs: the header's JSON or NULL */
	bool http_gzip, backup_all;
	int64_t retry_ms;      /* RetryOptions.DurationInSeconds */
	char *stream_arn;
};

void fh_dest_unref(struct fh_dest *d);

/* One S3 object a job writes (a data object, or error records as JSON lines). */
struct fh_obj {
	char *key;
	struct fh_buf data;
	bool compress;  /* apply the destination's codec (data objects) */
	bool is_error;  /* error records: counted as failed, not delivered */
	unsigned records;
};

/* A buffer on its way out. Built on the control thread, run on the stream's worker. */
struct fh_job {
	struct fh_job *next;      /* worker queue, then the done queue */
	struct fh_job *inext;     /* the stream's in-flight list (control thread) */
	void *owner;              /* the stream */
	struct fh_dest *dest;     /* one reference */
	char stream[80];
	unsigned version;
	/* the records, for HTTP bodies and error records */
	struct fh_buf recs;
	uint32_t *offs;           /* n + 1 offsets into recs */
	int64_t *arrival;         /* n arrival times (ms) */
	unsigned n;
	/* objects to write (S3 destinations; transform and partitioning errors) */
	struct fh_obj *objs;
	unsigned n_objs;
	uint64_t lane_min[FH_LANES_MAX];  /* per lane, the smallest sequence number it holds */
	int64_t oldest_ms;
	struct fh_ticket *ticket; /* while a transform runs */
	/* results, written by the worker */
	int err;
	uint64_t ok_records, ok_bytes, ok_objects, failed_records;
	unsigned attempts;
};

/* The worker of one stream: a thread that runs jobs in order. */
struct fh_worker {
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct fh_job *head, *tail;
	atomic_bool stop;
	bool started;
	const char *s3_root;
	/* where finished jobs go (shared by every worker of the module) */
	pthread_mutex_t *done_mu;
	struct fh_job **done_head;
	struct ctl_loop *loop;
};

int fh_worker_start(struct fh_worker *w);
void fh_worker_push(struct fh_worker *w, struct fh_job *j);
/* Stop after the current job; the queued jobs are returned (not run) through *left. */
void fh_worker_stop(struct fh_worker *w, struct fh_job **left);
/* Run one job synchronously (the worker's body; also the benchmark's). */
void fh_job_run(const char *s3_root, struct fh_job *j, const atomic_bool *stop);
void fh_job_free(struct fh_job *j);
/* Append records to DirectPut stream `name`'s log as PutRecordBatch does, without the API's
 * decoding (the benchmark fills streams with it). Control thread. Returns 0, -ENOENT (no such
 * DirectPut stream) or the log's errno. */
int fh_stream_append(struct ctl_fh *fh, const char *name, struct dp_record_in *recs, unsigned n,
		     int64_t ts_ms);

/* Append an error record line (Firehose's JSON shape) to b. */
int fh_error_line(struct fh_buf *b, unsigned attempts, int64_t arrival_ms, const char *code,
		  const char *message, const void *raw, size_t raw_len, const char *lambda_arn);

#endif
