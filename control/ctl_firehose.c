/* SPDX-License-Identifier: MIT */
/*
 * ctl_firehose: delivery streams, their API and the control-thread half of the delivery engine
 * (see ctl_firehose.h for the contract). The other halves: ctl_firehose_sink.c (workers: objects,
 * HTTP), ctl_firehose_util.c (prefixes, codecs, atomic writes).
 *
 * The pipeline of one stream, on the control thread:
 *   lanes (the DirectPut log, or each shard of the source Kinesis stream), read from their
 *   checkpoint -> parts (open buffers, one per evaluated partition with dynamic partitioning;
 *   records concatenated as sent, plus the AppendDelimiterToRecord delimiter) -> when a part
 *   reaches SizeInMBs or has been open IntervalInSeconds, a job (-> the transform, if a Lambda
 *   processor is configured -> objects or an HTTP batch) -> the stream's worker -> done.
 * A lane's checkpoint is the smallest sequence number still held by a part or a job not yet
 * done (or the read position when none is): everything below it is delivered. It is written
 * to firehose_ckpt after the jobs that cover it reported their objects durable.
 */
#include "ctl_firehose_internal.h"

#include <errno.h>
#include <ftw.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jq.h>

#include "ctl_b64.h"
#include "ctl_kinesis_internal.h"
#include "ctl_log.h"

#define FH_NAME_MAX 64
#define FH_TAGS_MAX 50
#define FH_RECORD_MAX 1024000u          /* 1,000 KiB per record */
#define FH_BATCH_RECORDS 500
#define FH_BATCH_BYTES (4u * 1024 * 1024)
#define FH_INFLIGHT_MAX 3               /* jobs per stream handed out and not yet done */
#define FH_PENDING_MIN (32u << 20)      /* bytes a stream may hold in parts (at least) */
#define FH_SOURCE_POLL_MS 100           /* how often a Kinesis source is polled */
#define FH_RETENTION_EVERY_MS 60000
#define APPEND_TRIES 1000

static const char *const fh_schema[] = {
	"CREATE TABLE firehose_stream(name TEXT PRIMARY KEY, type TEXT NOT NULL, "
	"  created_ms INTEGER NOT NULL, updated_ms INTEGER NOT NULL, version INTEGER NOT NULL, "
	"  source TEXT, dest_kind TEXT NOT NULL, dest TEXT NOT NULL, incarnation INTEGER NOT NULL);"
	"CREATE TABLE firehose_tag(stream TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL, "
	"  PRIMARY KEY(stream, key));"
	"CREATE TABLE firehose_ckpt(stream TEXT NOT NULL, lane INTEGER NOT NULL, "
	"  next_seq INTEGER NOT NULL, PRIMARY KEY(stream, lane));",
};

struct fh_put;

struct fh_wait {
	struct fh_wait *next;
	struct fh_put *put;
	uint64_t need;
};

struct fh_put {
	struct ctl_aws_call *c;
	bool single;
	unsigned n;
	uint64_t first;
	uint64_t incarnation;
	struct fh_wait w;
	int err;
};

struct fh_lane {
	uint32_t id;          /* Kinesis shard index; 0 for the DirectPut log */
	uint64_t read_next;   /* next sequence number to read */
	uint64_t ckpt;        /* persisted: every seq below is delivered */
};

struct fh_part {
	struct fh_part *next;
	char group[FH_EVAL_MAX + 1];
	struct fh_keys *keys;  /* dynamic partitioning: the partition's keys */
	struct fh_buf data;
	struct fh_buf offs;    /* uint32_t offsets: n + 1 once closed */
	struct fh_buf arr;     /* int64_t arrival times */
	unsigned n;
	int64_t opened_ms, oldest_ms;
	uint64_t lane_min[FH_LANES_MAX];
};

/* A transform in flight. The done callback only queues it; the control thread applies it. */
struct fh_ticket {
	struct fh_ticket *next;
	struct ctl_fh *fh;
	struct fh_job *job;  /* NULL once the stream went away */
	int status;
	char *result;
	size_t len;
};

struct fh_stats {
	uint64_t in_records, in_bytes;
	uint64_t out_records, out_bytes, out_objects;
	uint64_t failed_records, transform_dropped;
	int64_t last_delivery_ms;
};

struct fh_stream {
	struct ctl_fh *fh;
	char name[FH_NAME_MAX + 1];
	char arn[256];
	bool kinesis_src;
	char src_stream[K_NAME_MAX + 1];
	json_t *src_conf;           /* KinesisStreamSourceConfiguration as given */
	char dest_kind[16];         /* "ExtendedS3", "S3", "HttpEndpoint" */
	json_t *dest_conf;          /* the destination configuration as given (and updated) */
	int64_t created_ms, updated_ms;
	unsigned version;
	bool active;
	uint64_t incarnation;
	struct fh_dest *dest;
	jq_state *jq;
	struct dp_shard *log;       /* DirectPut */
	struct fh_wait *wait_head, *wait_tail;
	struct fh_lane lanes[FH_LANES_MAX];
	unsigned n_lanes;
	bool ckpt_dirty;
	struct fh_part *parts;
	size_t part_bytes;
	struct fh_job *inflight;    /* jobs not yet done (transforming, queued, running, stuck) */
	unsigned n_inflight;
	struct fh_worker worker;
	struct fh_stats stats;
	int64_t retention_ms;
};

struct ctl_fh {
	struct ctl_fh_config cfg;
	char *data_dir, *s3_root, *account, *region;
	struct dp_log_config log;
	struct ctl_meta *meta;
	struct dp_committer *c;
	struct ctl_loop *loop;
	struct ctl_kinesis *kinesis;
	struct fh_stream **streams;  /* sorted by name */
	unsigned n_streams;
	pthread_mutex_t done_mu;
	struct fh_job *done;         /* jobs the workers finished */
	struct fh_ticket *tickets;   /* transforms that answered */
	struct ctl_fh_transform transform;
	bool has_transform;
};

static int64_t wall_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- field access, with or without a call (stored configurations are re-read at start) ----------- */

static void fail(struct ctl_aws_call *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void fail(struct ctl_aws_call *c, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (c)
		ctl_aws_invalid(c, "%s", msg);
	else
		ctl_log(CTL_LOG_ERR, "stored delivery stream configuration: %s", msg);
}

static int g_str(struct ctl_aws_call *c, json_t *o, const char *f, size_t min, size_t max,
		 bool req, const char **out)
{
	if (c)
		return ctl_aws_str(c, o, f, min, max, req, out);
	json_t *v = json_object_get(o, f);
	if (!v || json_is_null(v))
		return req ? -1 : 0;
	if (!json_is_string(v) || json_string_length(v) < min || json_string_length(v) > max)
		return -1;
	*out = json_string_value(v);
	return 1;
}

static int g_int(struct ctl_aws_call *c, json_t *o, const char *f, int64_t min, int64_t max,
		 bool req, int64_t *out)
{
	if (c)
		return ctl_aws_int(c, o, f, min, max, req, out);
	json_t *v = json_object_get(o, f);
	if (!v || json_is_null(v))
		return req ? -1 : 0;
	if (!json_is_integer(v) || json_integer_value(v) < min || json_integer_value(v) > max)
		return -1;
	*out = json_integer_value(v);
	return 1;
}

static int g_bool(struct ctl_aws_call *c, json_t *o, const char *f, bool *out)
{
	if (c)
		return ctl_aws_bool(c, o, f, false, out);
	json_t *v = json_object_get(o, f);
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_boolean(v))
		return -1;
	*out = json_is_true(v);
	return 1;
}

static int g_obj(struct ctl_aws_call *c, json_t *o, const char *f, bool req, json_t **out)
{
	if (c)
		return ctl_aws_object(c, o, f, req, out);
	json_t *v = json_object_get(o, f);
	if (!v || json_is_null(v))
		return req ? -1 : 0;
	if (!json_is_object(v))
		return -1;
	*out = v;
	return 1;
}

static int g_arr(struct ctl_aws_call *c, json_t *o, const char *f, size_t min, size_t max,
		 json_t **out)
{
	if (c)
		return ctl_aws_array(c, o, f, min, max, false, out);
	json_t *v = json_object_get(o, f);
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_array(v) || json_array_size(v) < min || json_array_size(v) > max)
		return -1;
	*out = v;
	return 1;
}

/* ---- jq ----------------------------------------------------------------------------------------- */

static void jq_err_cb(void *arg, jv msg)
{
	char *why = arg;
	if (!why[0]) {
		jv s = jv_dump_string(jv_copy(msg), 0);
		snprintf(why, 256, "%s", jv_string_value(s));
		jv_free(s);
	}
	jv_free(msg);
}

/* Compile a MetadataExtractionQuery. Returns the state or NULL with the reason in why. */
static jq_state *jq_make(const char *query, char why[256])
{
	why[0] = 0;
	jq_state *jq = jq_init();
	if (!jq) {
		snprintf(why, 256, "out of memory");
		return NULL;
	}
	jq_set_error_cb(jq, jq_err_cb, why);
	if (!jq_compile(jq, query)) {
		if (!why[0])
			snprintf(why, 256, "the query does not compile");
		jq_teardown(&jq);
		return NULL;
	}
	jq_set_error_cb(jq, NULL, NULL);
	return jq;
}

/* Run the query on one record: its result must be an object of scalars, the partition keys. */
static int jq_keys(jq_state *jq, const uint8_t *data, size_t len, struct fh_keys *k)
{
	if (len > INT32_MAX)
		return -EINVAL;
	jv in = jv_parse_sized((const char *)data, (int)len);
	if (!jv_is_valid(in)) {
		jv_free(in);
		return -EBADMSG;
	}
	jq_start(jq, in, 0);
	jv out = jq_next(jq);
	int rc = 0;
	if (jv_get_kind(out) != JV_KIND_OBJECT) {
		jv_free(out);
		return -EINVAL;
	}
	int it = jv_object_iter(out);
	while (rc == 0 && jv_object_iter_valid(out, it)) {
		jv key = jv_object_iter_key(out, it);
		jv val = jv_object_iter_value(out, it);
		jv_kind kind = jv_get_kind(val);
		if (kind == JV_KIND_STRING) {
			rc = fh_keys_add(k, jv_string_value(key), jv_string_value(val),
					 (size_t)jv_string_length_bytes(jv_copy(val)));
		} else if (kind == JV_KIND_NUMBER || kind == JV_KIND_TRUE || kind == JV_KIND_FALSE) {
			jv s = jv_dump_string(jv_copy(val), 0);
			const char *t = jv_string_value(s);
			rc = fh_keys_add(k, jv_string_value(key), t, strlen(t));
			jv_free(s);
		} else {
			rc = -EINVAL;  /* null, arrays, objects: not a key */
		}
		jv_free(key);
		jv_free(val);
		it = jv_object_iter_next(out, it);
	}
	jv_free(out);
	return rc;
}

/* ---- destinations ------------------------------------------------------------------------------- */

static int parse_hints(struct ctl_aws_call *c, json_t *conf, int64_t max_mb, uint64_t *size,
		       int64_t *interval_ms)
{
	json_t *bh = NULL;
	int64_t mb = 5, sec = 300;
	if (g_obj(c, conf, "BufferingHints", false, &bh) < 0)
		return -1;
	if (bh && (g_int(c, bh, "SizeInMBs", 1, max_mb, false, &mb) < 0 ||
		   g_int(c, bh, "IntervalInSeconds", 0, 900, false, &sec) < 0))
		return -1;
	*size = (uint64_t)mb << 20;
	*interval_ms = sec * 1000;
	return 0;
}

/* The S3 part of a configuration (ExtendedS3 / S3 destination, or HTTP's S3Configuration). */
static int parse_s3(struct ctl_aws_call *c, json_t *conf, struct fh_dest *d, bool own_hints)
{
	const char *bucket_arn, *role, *prefix = NULL, *eprefix = NULL, *comp = NULL;
	if (g_str(c, conf, "RoleARN", 1, 512, true, &role) < 0 ||
	    g_str(c, conf, "BucketARN", 1, 2048, true, &bucket_arn) < 0 ||
	    g_str(c, conf, "Prefix", 0, FH_PREFIX_MAX, false, &prefix) < 0 ||
	    g_str(c, conf, "ErrorOutputPrefix", 0, FH_PREFIX_MAX, false, &eprefix) < 0 ||
	    g_str(c, conf, "CompressionFormat", 1, 32, false, &comp) < 0)
		return -1;
	const char *b = fh_bucket_of(bucket_arn);
	if (!b) {
		fail(c, "BucketARN %s is not an S3 bucket ARN (arn:aws:s3:::bucket-name)", bucket_arn);
		return -1;
	}
	snprintf(d->bucket, sizeof(d->bucket), "%s", b);
	if (comp && fh_codec_parse(comp, &d->codec) < 0) {
		fail(c, "CompressionFormat %s: expected UNCOMPRESSED, GZIP, ZIP, Snappy, HADOOP_SNAPPY "
		     "or ZSTD", comp);
		return -1;
	}
	if (prefix && *prefix)
		d->prefix = strdup(prefix);
	if (eprefix && *eprefix)
		d->error_prefix = strdup(eprefix);
	if (own_hints && parse_hints(c, conf, 128, &d->size_bytes, &d->interval_ms) < 0)
		return -1;
	return 0;
}

static int check_prefixes(struct ctl_aws_call *c, struct fh_dest *d)
{
	char why[200];
	if (d->prefix && fh_prefix_check(d->prefix, FH_PREFIX_DATA, d->dynamic, why,
					 sizeof(why)) < 0) {
		fail(c, "Prefix: %s", why);
		return -1;
	}
	if (d->error_prefix && fh_prefix_check(d->error_prefix, FH_PREFIX_ERROR, false, why,
					       sizeof(why)) < 0) {
		fail(c, "ErrorOutputPrefix: %s", why);
		return -1;
	}
	if (fh_prefix_has_expr(d->prefix) && !d->error_prefix) {
		fail(c, "ErrorOutputPrefix cannot be null or empty when Prefix contains expressions");
		return -1;
	}
	if (d->error_prefix && fh_prefix_has_expr(d->error_prefix) &&
	    !fh_prefix_uses(d->error_prefix, "firehose") ) {
		/* Firehose needs the error type to keep error kinds apart once expressions are used. */
		fail(c, "ErrorOutputPrefix must contain !{firehose:error-output-type} when it "
		     "contains expressions");
		return -1;
	}
	if (d->dynamic && !d->error_prefix) {
		fail(c, "ErrorOutputPrefix is required when dynamic partitioning is enabled");
		return -1;
	}
	if (d->dynamic && !fh_prefix_uses(d->prefix, "partitionKeyFromQuery") &&
	    !fh_prefix_uses(d->prefix, "partitionKeyFromLambda")) {
		fail(c, "Prefix must contain a partitionKeyFromQuery or partitionKeyFromLambda "
		     "expression when dynamic partitioning is enabled");
		return -1;
	}
	if (fh_prefix_uses(d->prefix, "partitionKeyFromQuery") && !d->jq_query) {
		fail(c, "partitionKeyFromQuery needs a MetadataExtraction processor");
		return -1;
	}
	if (fh_prefix_uses(d->prefix, "partitionKeyFromLambda") && !d->lambda_arn) {
		fail(c, "partitionKeyFromLambda needs a Lambda processor");
		return -1;
	}
	return 0;
}

static int parse_processing(struct ctl_aws_call *c, json_t *conf, struct fh_dest *d)
{
	json_t *pc = NULL, *procs = NULL, *dp = NULL;
	bool enabled = false, dyn = false;
	if (g_obj(c, conf, "DynamicPartitioningConfiguration", false, &dp) < 0 ||
	    (dp && g_bool(c, dp, "Enabled", &dyn) < 0))
		return -1;
	d->dynamic = dyn;
	if (g_obj(c, conf, "ProcessingConfiguration", false, &pc) < 0 || !pc)
		return pc ? -1 : 0;
	if (g_bool(c, pc, "Enabled", &enabled) < 0 || g_arr(c, pc, "Processors", 0, 5, &procs) < 0)
		return -1;
	if (!enabled || !procs)
		return 0;
	size_t i;
	json_t *p;
	json_array_foreach(procs, i, p) {
		const char *type;
		json_t *params = NULL;
		if (!json_is_object(p)) {
			fail(c, "Processors must be structures");
			return -1;
		}
		if (g_str(c, p, "Type", 1, 64, true, &type) < 0 ||
		    g_arr(c, p, "Parameters", 0, 5, &params) < 0)
			return -1;
		size_t k;
		json_t *prm;
		const char *arn = NULL, *query = NULL, *engine = NULL, *delim = NULL;
		json_array_foreach(params, k, prm) {
			const char *pn, *pv;
			if (!json_is_object(prm)) {
				fail(c, "Parameters must be structures");
				return -1;
			}
			if (g_str(c, prm, "ParameterName", 1, 64, true, &pn) < 0 ||
			    g_str(c, prm, "ParameterValue", 0, 5120, true, &pv) < 0)
				return -1;
			if (strcmp(pn, "LambdaArn") == 0)
				arn = pv;
			else if (strcmp(pn, "MetadataExtractionQuery") == 0)
				query = pv;
			else if (strcmp(pn, "JsonParsingEngine") == 0)
				engine = pv;
			else if (strcmp(pn, "Delimiter") == 0)
				delim = pv;
		}
		if (strcmp(type, "Lambda") == 0) {
			if (!arn) {
				fail(c, "Lambda processor needs a LambdaArn parameter");
				return -1;
			}
			free(d->lambda_arn);
			d->lambda_arn = strdup(arn);
		} else if (strcmp(type, "MetadataExtraction") == 0) {
			if (!query || (engine && strcmp(engine, "JQ-1.6") != 0)) {
				fail(c, "MetadataExtraction processor needs MetadataExtractionQuery and "
				     "JsonParsingEngine JQ-1.6");
				return -1;
			}
			char why[256];
			jq_state *jq = jq_make(query, why);
			if (!jq) {
				fail(c, "MetadataExtractionQuery %s is invalid: %s", query, why);
				return -1;
			}
			jq_teardown(&jq);
			free(d->jq_query);
			d->jq_query = strdup(query);
		} else if (strcmp(type, "AppendDelimiterToRecord") == 0) {
			d->delim[0] = '\n';
			d->delim_len = 1;
			if (delim) {
				/* The delimiter is given base64-encoded, as Firehose takes it. */
				long n = strlen(delim) <= 20 ? ctl_b64_decode(delim, strlen(delim), d->delim)
							     : -1;
				if (n < 1) {
					fail(c, "Delimiter must be 1..15 bytes, base64-encoded");
					return -1;
				}
				d->delim_len = (size_t)n;
			}
		} else if (strcmp(type, "RecordDeAggregation") == 0 ||
			   strcmp(type, "CloudWatchLogProcessing") == 0) {
			fail(c, "processor type %s is not supported", type);
			return -1;
		} else {
			fail(c, "unknown processor type %s", type);
			return -1;
		}
	}
	return 0;
}

/* Validate and build a destination of kind ("ExtendedS3", "S3", "HttpEndpoint"). */
static struct fh_dest *dest_parse(struct ctl_aws_call *c, const char *kind, json_t *conf,
				  const char *stream_arn)
{
	struct fh_dest *d = calloc(1, sizeof(*d));
	if (!d) {
		if (c)
			ctl_aws_internal(c, "out of memory");
		return NULL;
	}
	atomic_init(&d->refs, 1);
	d->stream_arn = strdup(stream_arn);
	if (strcmp(kind, "HttpEndpoint") == 0) {
		json_t *ep, *s3, *ro = NULL, *rc = NULL;
		const char *url, *key = NULL, *name = NULL, *mode = NULL;
		int64_t retry = 300;
		d->http = true;
		if (g_obj(c, conf, "EndpointConfiguration", true, &ep) < 0 ||
		    g_str(c, ep, "Url", 1, 1000, true, &url) < 0 ||
		    g_str(c, ep, "Name", 1, 256, false, &name) < 0 ||
		    g_str(c, ep, "AccessKey", 0, 4096, false, &key) < 0 ||
		    g_obj(c, conf, "S3Configuration", true, &s3) < 0 ||
		    g_str(c, conf, "RoleARN", 1, 512, false, &name) < 0 ||
		    g_str(c, conf, "S3BackupMode", 1, 32, false, &mode) < 0 ||
		    g_obj(c, conf, "RetryOptions", false, &ro) < 0 ||
		    (ro && g_int(c, ro, "DurationInSeconds", 0, 7200, false, &retry) < 0) ||
		    g_obj(c, conf, "RequestConfiguration", false, &rc) < 0)
			goto bad;
		if (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0) {
			fail(c, "Url %s: expected an http:// or https:// URL", url);
			goto bad;
		}
		if (mode && strcmp(mode, "FailedDataOnly") != 0 && strcmp(mode, "AllData") != 0) {
			fail(c, "S3BackupMode %s: expected FailedDataOnly or AllData", mode);
			goto bad;
		}
		d->backup_all = mode && strcmp(mode, "AllData") == 0;
		d->url = strdup(url);
		d->access_key = key && *key ? strdup(key) : NULL;
		d->retry_ms = retry * 1000;
		if (rc) {
			const char *enc = NULL;
			json_t *attrs = NULL;
			if (g_str(c, rc, "ContentEncoding", 1, 8, false, &enc) < 0 ||
			    g_arr(c, rc, "CommonAttributes", 0, 50, &attrs) < 0)
				goto bad;
			if (enc && strcmp(enc, "NONE") != 0 && strcmp(enc, "GZIP") != 0) {
				fail(c, "ContentEncoding %s: expected NONE or GZIP", enc);
				goto bad;
			}
			d->http_gzip = enc && strcmp(enc, "GZIP") == 0;
			if (attrs && json_array_size(attrs) > 0) {
				json_t *m = json_object(), *a;
				size_t i;
				json_array_foreach(attrs, i, a) {
					const char *an, *av;
					if (!json_is_object(a) ||
					    g_str(c, a, "AttributeName", 1, 256, true, &an) < 0 ||
					    g_str(c, a, "AttributeValue", 0, 1024, true, &av) < 0) {
						json_decref(m);
						if (!json_is_object(a))
							fail(c, "CommonAttributes must be structures");
						goto bad;
					}
					json_object_set_new(m, an, json_string(av));
				}
				json_t *wrap = json_pack("{s:o}", "commonAttributes", m);
				d->common_attrs = json_dumps(wrap, JSON_COMPACT);
				json_decref(wrap);
			}
		}
		if (parse_hints(c, conf, 64, &d->size_bytes, &d->interval_ms) < 0 ||
		    parse_s3(c, s3, d, false) < 0 || parse_processing(c, conf, d) < 0)
			goto bad;
		if (d->dynamic) {
			fail(c, "dynamic partitioning is only available for S3 destinations");
			goto bad;
		}
	} else {
		bool extended = strcmp(kind, "ExtendedS3") == 0;
		if (parse_s3(c, conf, d, true) < 0 ||
		    (extended && parse_processing(c, conf, d) < 0))
			goto bad;
	}
	if (check_prefixes(c, d) < 0)
		goto bad;
	return d;
bad:
	fh_dest_unref(d);
	return NULL;
}

/* ---- lookups ------------------------------------------------------------------------------------ */

static struct fh_stream *stream_find(struct ctl_fh *fh, const char *name, unsigned *at)
{
	unsigned lo = 0, hi = fh->n_streams;
	while (lo < hi) {
		unsigned mid = (lo + hi) / 2;
		int r = strcmp(fh->streams[mid]->name, name);
		if (r == 0) {
			if (at)
				*at = mid;
			return fh->streams[mid];
		}
		if (r < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (at)
		*at = lo;
	return NULL;
}

static bool name_ok(const char *s)
{
	size_t n = strlen(s);
	return n >= 1 && n <= FH_NAME_MAX &&
	       strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") == n &&
	       strcmp(s, ".") != 0 && strcmp(s, "..") != 0;
}

/* DeliveryStreamName of the input: the stream, or NULL after answering. */
static struct fh_stream *stream_arg(struct ctl_fh *fh, struct ctl_aws_call *c)
{
	const char *name;
	if (ctl_aws_str(c, NULL, "DeliveryStreamName", 1, FH_NAME_MAX, true, &name) < 0)
		return NULL;
	struct fh_stream *st = stream_find(fh, name, NULL);
	if (!st)
		ctl_aws_notfound(c, "Firehose %s under account %s not found.", name,
				 ctl_aws_account(c));
	return st;
}

/* ---- metadata ----------------------------------------------------------------------------------- */

static int meta_step(struct ctl_fh *fh, const char *sql, const char *t1, const char *t2,
		     const char *t3, int64_t i1, int64_t i2)
{
	sqlite3_stmt *s;
	if (sqlite3_prepare_v2(ctl_meta_db(fh->meta), sql, -1, &s, NULL) != SQLITE_OK)
		return ctl_meta_fail(fh->meta, "prepare");
	int p = 1;
	if (t1)
		sqlite3_bind_text(s, p++, t1, -1, SQLITE_TRANSIENT);
	if (t2)
		sqlite3_bind_text(s, p++, t2, -1, SQLITE_TRANSIENT);
	if (t3)
		sqlite3_bind_text(s, p++, t3, -1, SQLITE_TRANSIENT);
	if (p <= sqlite3_bind_parameter_count(s))
		sqlite3_bind_int64(s, p++, i1);
	if (p <= sqlite3_bind_parameter_count(s))
		sqlite3_bind_int64(s, p++, i2);
	int r = sqlite3_step(s);
	sqlite3_finalize(s);
	return r == SQLITE_DONE ? 0 : ctl_meta_fail(fh->meta, "write");
}

static int meta_put_stream(struct ctl_fh *fh, const struct fh_stream *st)
{
	char *src = st->src_conf ? json_dumps(st->src_conf, JSON_COMPACT) : NULL;
	char *dest = json_dumps(st->dest_conf, JSON_COMPACT);
	sqlite3_stmt *s;
	int rc = -EIO;
	if (!dest)
		goto out;
	if (sqlite3_prepare_v2(ctl_meta_db(fh->meta), "INSERT OR REPLACE INTO firehose_stream("
			       "name, type, created_ms, updated_ms, version, source, dest_kind, dest, "
			       "incarnation) VALUES(?,?,?,?,?,?,?,?,?)", -1, &s, NULL) != SQLITE_OK) {
		rc = ctl_meta_fail(fh->meta, "prepare");
		goto out;
	}
	sqlite3_bind_text(s, 1, st->name, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, st->kinesis_src ? "KinesisStreamAsSource" : "DirectPut", -1,
			  SQLITE_STATIC);
	sqlite3_bind_int64(s, 3, st->created_ms);
	sqlite3_bind_int64(s, 4, st->updated_ms);
	sqlite3_bind_int64(s, 5, st->version);
	if (src)
		sqlite3_bind_text(s, 6, src, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(s, 6);
	sqlite3_bind_text(s, 7, st->dest_kind, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 8, dest, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 9, (int64_t)st->incarnation);
	rc = sqlite3_step(s) == SQLITE_DONE ? 0 : ctl_meta_fail(fh->meta, "write firehose_stream");
	sqlite3_finalize(s);
out:
	free(src);
	free(dest);
	return rc;
}

static int meta_put_ckpts(struct ctl_fh *fh, struct fh_stream *st)
{
	for (unsigned i = 0; i < st->n_lanes; i++)
		if (meta_step(fh, "INSERT OR REPLACE INTO firehose_ckpt(stream, lane, next_seq) "
			      "VALUES(?,?,?)", st->name, NULL, NULL, st->lanes[i].id,
			      (int64_t)st->lanes[i].ckpt) < 0)
			return -EIO;
	return 0;
}

/* ---- streams: life cycle ------------------------------------------------------------------------ */

static void stream_dir(const struct ctl_fh *fh, const char *name, char *out, size_t n)
{
	snprintf(out, n, "%s/firehose/%s", fh->data_dir, name);
}

static int rm_cb(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb, (void)flag, (void)ftw;
	return remove(path) < 0 && errno != ENOENT ? -1 : 0;
}

static void part_free(struct fh_part *p)
{
	if (!p)
		return;
	fh_buf_free(&p->data);
	fh_buf_free(&p->offs);
	fh_buf_free(&p->arr);
	free(p->keys);
	free(p);
}

static struct fh_lane *lane_get(struct fh_stream *st, uint32_t id, unsigned *idx)
{
	for (unsigned i = 0; i < st->n_lanes; i++)
		if (st->lanes[i].id == id) {
			*idx = i;
			return &st->lanes[i];
		}
	if (st->n_lanes >= FH_LANES_MAX)
		return NULL;
	*idx = st->n_lanes;
	st->lanes[st->n_lanes] = (struct fh_lane){ id, 0, 0 };
	return &st->lanes[st->n_lanes++];
}

static void waiters_answer(struct fh_stream *st, uint64_t ack_next, bool failed);

/* Free a stream's memory: workers stopped, log closed (delete: its files removed). */
static void stream_free(struct ctl_fh *fh, struct fh_stream *st, bool remove_files)
{
	if (!st)
		return;
	struct fh_job *left;
	fh_worker_stop(&st->worker, &left);
	/* Jobs the worker finished but the control thread has not seen yet belong to st too. */
	pthread_mutex_lock(&fh->done_mu);
	for (struct fh_job **pp = &fh->done; *pp;) {
		if ((*pp)->owner == st)
			*pp = (*pp)->next;
		else
			pp = &(*pp)->next;
	}
	pthread_mutex_unlock(&fh->done_mu);
	for (struct fh_job *j = st->inflight, *nx; j; j = nx) {
		nx = j->inext;
		if (j->ticket)
			j->ticket->job = NULL;
		fh_job_free(j);
	}
	for (struct fh_part *p = st->parts, *nx; p; p = nx) {
		nx = p->next;
		part_free(p);
	}
	if (st->log) {
		int r = dp_shard_close(st->log);
		st->log = NULL;
		if (r < 0)
			ctl_log(CTL_LOG_ERR, "delivery stream %s: closing its log: %s", st->name,
				strerror(-r));
		waiters_answer(st, UINT64_MAX, r < 0);
	}
	if (remove_files) {
		char dir[4096];
		stream_dir(fh, st->name, dir, sizeof(dir));
		nftw(dir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
	}
	if (st->jq)
		jq_teardown(&st->jq);
	fh_dest_unref(st->dest);
	json_decref(st->src_conf);
	json_decref(st->dest_conf);
	free(st);
}

/* Open what a loaded or created stream needs: its log (DirectPut), jq, its worker. */
static int stream_start(struct ctl_fh *fh, struct fh_stream *st)
{
	if (st->dest->jq_query) {
		char why[256];
		st->jq = jq_make(st->dest->jq_query, why);
		if (!st->jq) {
			ctl_log(CTL_LOG_ERR, "delivery stream %s: jq query: %s", st->name, why);
			return -EINVAL;
		}
	}
	if (!st->kinesis_src) {
		char dir[4096];
		snprintf(dir, sizeof(dir), "%s/firehose", fh->data_dir);
		if (mkdir(dir, 0750) < 0 && errno != EEXIST)
			return -errno;
		stream_dir(fh, st->name, dir, sizeof(dir));
		struct dp_shard_info info = { 0, st->created_ms };
		struct dp_shard_recovery rep;
		int r = dp_shard_open(fh->c, dir, &info, &fh->log, &rep, &st->log);
		if (r < 0) {
			ctl_log(CTL_LOG_ERR, "delivery stream %s: cannot open its log %s: %s", st->name,
				dir, strerror(-r));
			return r;
		}
		if (rep.torn_bytes || rep.quarantined)
			ctl_log(CTL_LOG_WARN, "delivery stream %s: log recovery: %s", st->name,
				rep.detail);
		unsigned idx;
		struct fh_lane *l = lane_get(st, 0, &idx);
		if (l->read_next < l->ckpt)
			l->read_next = l->ckpt;
	}
	st->worker.s3_root = fh->s3_root;
	st->worker.done_mu = &fh->done_mu;
	st->worker.done_head = &fh->done;
	st->worker.loop = fh->loop;
	int r = fh_worker_start(&st->worker);
	if (r < 0)
		ctl_log(CTL_LOG_ERR, "delivery stream %s: cannot start its worker: %s", st->name,
			strerror(-r));
	return r;
}

static int streams_insert(struct ctl_fh *fh, struct fh_stream *st)
{
	unsigned at;
	if (stream_find(fh, st->name, &at))
		return -EEXIST;
	struct fh_stream **n = realloc(fh->streams, (fh->n_streams + 1) * sizeof(*n));
	if (!n)
		return -ENOMEM;
	fh->streams = n;
	memmove(n + at + 1, n + at, (fh->n_streams - at) * sizeof(*n));
	n[at] = st;
	fh->n_streams++;
	return 0;
}

static void stream_arn(const struct ctl_fh *fh, const char *name, char *out, size_t n)
{
	snprintf(out, n, "arn:aws:firehose:%s:%s:deliverystream/%s", fh->region, fh->account, name);
}

static int load(struct ctl_fh *fh)
{
	sqlite3_stmt *s;
	if (sqlite3_prepare_v2(ctl_meta_db(fh->meta), "SELECT name, type, created_ms, updated_ms, "
			       "version, source, dest_kind, dest, incarnation FROM firehose_stream",
			       -1, &s, NULL) != SQLITE_OK)
		return ctl_meta_fail(fh->meta, "read firehose_stream");
	int rc = 0;
	while (rc == 0 && sqlite3_step(s) == SQLITE_ROW) {
		struct fh_stream *st = calloc(1, sizeof(*st));
		if (!st) {
			rc = -ENOMEM;
			break;
		}
		st->fh = fh;
		snprintf(st->name, sizeof(st->name), "%s", (const char *)sqlite3_column_text(s, 0));
		st->kinesis_src = strcmp((const char *)sqlite3_column_text(s, 1), "DirectPut") != 0;
		st->created_ms = sqlite3_column_int64(s, 2);
		st->updated_ms = sqlite3_column_int64(s, 3);
		st->version = (unsigned)sqlite3_column_int64(s, 4);
		if (sqlite3_column_type(s, 5) != SQLITE_NULL)
			st->src_conf = json_loads((const char *)sqlite3_column_text(s, 5), 0, NULL);
		snprintf(st->dest_kind, sizeof(st->dest_kind), "%s",
			 (const char *)sqlite3_column_text(s, 6));
		st->dest_conf = json_loads((const char *)sqlite3_column_text(s, 7), 0, NULL);
		st->incarnation = (uint64_t)sqlite3_column_int64(s, 8);
		st->active = true;
		stream_arn(fh, st->name, st->arn, sizeof(st->arn));
		const char *src_arn = json_string_value(json_object_get(st->src_conf,
									 "KinesisStreamARN"));
		const char *slash = src_arn ? strrchr(src_arn, '/') : NULL;
		if (slash)
			snprintf(st->src_stream, sizeof(st->src_stream), "%s", slash + 1);
		st->dest = st->dest_conf ? dest_parse(NULL, st->dest_kind, st->dest_conf, st->arn)
					 : NULL;
		if (!st->dest || streams_insert(fh, st) < 0) {
			ctl_log(CTL_LOG_ERR, "delivery stream %s: stored configuration is unusable; "
				"skipped (delete and recreate it)", st->name);
			stream_free(fh, st, false);
			continue;
		}
	}
	sqlite3_finalize(s);
	if (rc < 0)
		return rc;
	/* Checkpoints, then open each stream. */
	if (sqlite3_prepare_v2(ctl_meta_db(fh->meta), "SELECT stream, lane, next_seq FROM "
			       "firehose_ckpt", -1, &s, NULL) != SQLITE_OK)
		return ctl_meta_fail(fh->meta, "read firehose_ckpt");
	while (sqlite3_step(s) == SQLITE_ROW) {
		struct fh_stream *st = stream_find(fh, (const char *)sqlite3_column_text(s, 0), NULL);
		unsigned idx;
		struct fh_lane *l = st ? lane_get(st, (uint32_t)sqlite3_column_int64(s, 1), &idx) : NULL;
		if (l)
			l->ckpt = l->read_next = (uint64_t)sqlite3_column_int64(s, 2);
	}
	sqlite3_finalize(s);
	/* A stream that cannot start (its log unreadable, say) is left out with a message rather
	 * than keeping every other stream down; its metadata stays for the next start. */
	for (unsigned i = 0; i < fh->n_streams;) {
		struct fh_stream *st = fh->streams[i];
		if (stream_start(fh, st) == 0) {
			i++;
			continue;
		}
		ctl_log(CTL_LOG_ERR, "delivery stream %s is not served until the problem above is "
			"fixed and ingestd restarts", st->name);
		memmove(fh->streams + i, fh->streams + i + 1,
			(fh->n_streams - i - 1) * sizeof(*fh->streams));
		fh->n_streams--;
		stream_free(fh, st, false);
	}
	return 0;
}

static int64_t fh_tick(void *arg, int64_t now_ms)
{
	return ctl_fh_tick(arg, now_ms);
}

int ctl_fh_new(const struct ctl_fh_config *cfg, struct ctl_meta *meta, struct dp_committer *c,
	       struct ctl_loop *loop, struct ctl_kinesis *kinesis, struct ctl_fh **ret)
{
	static bool curl_ready;
	if (!curl_ready) {
		/* Before any worker thread exists: curl_global_init is not thread-safe. */
		if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
			ctl_log(CTL_LOG_ERR, "libcurl failed to initialize");
			return -ENOMEM;
		}
		curl_ready = true;
	}
	struct ctl_fh *fh = calloc(1, sizeof(*fh));
	if (!fh)
		return -ENOMEM;
	fh->data_dir = strdup(cfg->data_dir);
	fh->s3_root = strdup(cfg->s3_root);
	fh->account = strdup(cfg->account_id ? cfg->account_id : "000000000000");
	fh->region = strdup(cfg->region ? cfg->region : "us-east-1");
	fh->log = *cfg->log;
	fh->meta = meta;
	fh->c = c;
	fh->loop = loop;
	fh->kinesis = kinesis;
	pthread_mutex_init(&fh->done_mu, NULL);
	int r = -ENOMEM;
	if (!fh->data_dir || !fh->s3_root || !fh->account || !fh->region)
		goto fail;
	if (mkdir(fh->s3_root, 0755) < 0 && errno != EEXIST) {
		r = -errno;
		ctl_log(CTL_LOG_ERR, "cannot create the S3 root %s: %s (set --s3-root)", fh->s3_root,
			strerror(errno));
		goto fail;
	}
	if ((r = ctl_meta_schema(meta, "firehose", 1, fh_schema)) < 0 || (r = load(fh)) < 0)
		goto fail;
	if (loop && (r = ctl_loop_add_tick(loop, "firehose", fh_tick, fh)) < 0)
		goto fail;
	*ret = fh;
	return 0;
fail:
	ctl_fh_free(fh);
	return r;
}

void ctl_fh_free(struct ctl_fh *fh)
{
	if (!fh)
		return;
	/* Out of the list before it is freed: closing a log runs the ack callback, which walks
	 * the list. */
	while (fh->n_streams > 0) {
		struct fh_stream *st = fh->streams[--fh->n_streams];
		stream_free(fh, st, false);
	}
	free(fh->streams);
	for (struct fh_ticket *t = fh->tickets, *nx; t; t = nx) {
		nx = t->next;
		free(t->result);
		free(t);
	}
	pthread_mutex_destroy(&fh->done_mu);
	free(fh->data_dir);
	free(fh->s3_root);
	free(fh->account);
	free(fh->region);
	free(fh);
}

void ctl_fh_set_transform(struct ctl_fh *fh, const struct ctl_fh_transform *t)
{
	fh->has_transform = t != NULL;
	if (t)
		fh->transform = *t;
}

unsigned ctl_fh_count(const struct ctl_fh *fh)
{
	return fh ? fh->n_streams : 0;
}

/* ---- puts --------------------------------------------------------------------------------------- */

static void record_id(const struct fh_stream *st, uint64_t seq, char out[40])
{
	snprintf(out, 40, "%016" PRIx64 "%016" PRIx64, st->incarnation, seq);
}

static void put_answer(struct fh_stream *st, struct fh_put *p)
{
	struct ctl_aws_call *c = p->c;
	if (p->err) {
		ctl_aws_err(c, 503, "ServiceUnavailableException", "The delivery stream's log failed "
			    "(%s); retry later.", strerror(-p->err));
		return;
	}
	char id[40];
	if (p->single) {
		record_id(st, p->first, id);
		ctl_aws_ok(c, json_pack("{s:s, s:b}", "RecordId", id, "Encrypted", 0));
		return;
	}
	json_t *arr = json_array();
	for (unsigned i = 0; i < p->n; i++) {
		record_id(st, p->first + i, id);
		json_array_append_new(arr, json_pack("{s:s}", "RecordId", id));
	}
	ctl_aws_ok(c, json_pack("{s:i, s:b, s:o}", "FailedPutCount", 0, "Encrypted", 0,
				"RequestResponses", arr));
}

static void waiters_answer(struct fh_stream *st, uint64_t ack_next, bool failed)
{
	while (st->wait_head && (failed || st->wait_head->need <= ack_next)) {
		struct fh_wait *w = st->wait_head;
		st->wait_head = w->next;
		if (!st->wait_head)
			st->wait_tail = NULL;
		if (failed)
			w->put->err = -EIO;
		put_answer(st, w->put);
	}
}

void ctl_fh_on_ack(struct ctl_fh *fh, struct dp_shard *sh, uint64_t ack_next)
{
	if (!fh)
		return;
	for (unsigned i = 0; i < fh->n_streams; i++) {
		struct fh_stream *st = fh->streams[i];
		if (st->log != sh)
			continue;
		bool failed = dp_shard_state(sh) != DP_SHARD_OPEN;
		if (failed) {
			const char *why;
			int e = dp_shard_error(sh, &why);
			ctl_log(CTL_LOG_ERR, "delivery stream %s: its log failed (%s: %s); puts are "
				"refused until ingestd restarts", st->name, strerror(e), why);
		}
		waiters_answer(st, ack_next, failed);
		if (fh->loop)  /* new readable records: deliver without waiting */
			if (fh->loop)
		ctl_loop_wake(fh->loop);
		return;
	}
}

void ctl_fh_drain(struct ctl_fh *fh)
{
	for (unsigned i = 0; fh && i < fh->n_streams; i++) {
		struct fh_stream *st = fh->streams[i];
		for (int k = 0; k < 10000 && st->wait_head && st->log &&
				dp_shard_state(st->log) == DP_SHARD_OPEN; k++)
			if (dp_committer_poll(fh->c, true) < 0)
				break;
		if (st->wait_head)
			waiters_answer(st, 0, true);
	}
}

static int append_all(struct ctl_fh *fh, struct dp_shard *log, struct dp_record_in *recs,
		      unsigned n, int64_t ts, uint64_t *first)
{
	unsigned done = 0, chunk = n;
	int tries = 0;
	bool have_first = false;
	while (done < n) {
		uint64_t f;
		unsigned m = chunk < n - done ? chunk : n - done;
		int r = dp_shard_append(log, recs + done, m, ts, &f);
		if (r == -EMSGSIZE && m > 1) {
			chunk = m / 2;
			continue;
		}
		if (r == -EAGAIN && ++tries < APPEND_TRIES) {
			int pr = dp_committer_poll(fh->c, true);
			if (pr < 0)
				return pr;
			continue;
		}
		if (r < 0)
			return r;
		if (!have_first) {
			*first = f;
			have_first = true;
		}
		done += m;
	}
	return 0;
}

int fh_stream_append(struct ctl_fh *fh, const char *name, struct dp_record_in *recs, unsigned n,
		     int64_t ts_ms)
{
	struct fh_stream *st = stream_find(fh, name, NULL);
	if (!st || !st->log)
		return -ENOENT;
	uint64_t first;
	int r = append_all(fh, st->log, recs, n, ts_ms, &first);
	if (r < 0)
		return r;
	st->stats.in_records += n;
	for (unsigned i = 0; i < n; i++)
		st->stats.in_bytes += recs[i].data_len;
	return 0;
}

static void put_free(void *p)
{
	free(p);
}

static void put_common(struct ctl_fh *fh, struct ctl_aws_call *c, bool single)
{
	struct fh_stream *st = stream_arg(fh, c);
	if (!st)
		return;
	if (st->kinesis_src) {
		ctl_aws_invalid(c, "This operation is not permitted on KinesisStreamAsSource delivery "
				"stream type.");
		return;
	}
	json_t *arr = NULL, *one = NULL;
	size_t n = 1;
	if (single) {
		if (ctl_aws_object(c, NULL, "Record", true, &one) < 0)
			return;
	} else {
		if (ctl_aws_array(c, NULL, "Records", 1, FH_BATCH_RECORDS, true, &arr) < 0)
			return;
		n = json_array_size(arr);
	}
	struct dp_record_in *recs = calloc(n, sizeof(*recs));
	uint8_t **bufs = calloc(n, sizeof(*bufs));
	struct fh_put *p = NULL;
	size_t total = 0;
	if (!recs || !bufs) {
		ctl_aws_internal(c, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		json_t *o = single ? one : json_array_get(arr, i);
		const char *data;
		if (!json_is_object(o)) {
			ctl_aws_err(c, 400, "SerializationException", "Records must be structures");
			goto out;
		}
		if (ctl_aws_str(c, o, "Data", 0, SIZE_MAX, true, &data) < 0)
			goto out;
		size_t bl = strlen(data);
		long dl = (long)ctl_b64_dec_max(bl);
		if ((size_t)dl <= FH_RECORD_MAX + 3) {
			if (!(bufs[i] = malloc((size_t)dl + 3))) {
				ctl_aws_internal(c, "out of memory");
				goto out;
			}
			dl = ctl_b64_decode(data, bl, bufs[i]);
		}
		if (dl < 0) {
			ctl_aws_err(c, 400, "SerializationException", "Data of record %zu is not valid "
				    "base64", i);
			goto out;
		}
		if ((size_t)dl > FH_RECORD_MAX) {
			char val[48], member[64];
			snprintf(val, sizeof(val), "[%ld bytes]", dl);
			if (single)
				snprintf(member, sizeof(member), "record.data");
			else
				snprintf(member, sizeof(member), "records.%zu.member.data", i + 1);
			ctl_aws_validation(c, val, member, "Member must have length less than or "
					   "equal to 1024000");
			goto out;
		}
		total += (size_t)dl;
		recs[i] = (struct dp_record_in){ "f", bufs[i], (uint32_t)dl, 1 };
	}
	if (!single && total > FH_BATCH_BYTES) {
		ctl_aws_invalid(c, "Records size %zu exceeds the 4 MiB limit of a PutRecordBatch "
				"request.", total);
		goto out;
	}
	p = calloc(1, sizeof(*p));
	if (!p) {
		ctl_aws_internal(c, "out of memory");
		goto out;
	}
	p->c = c;
	p->single = single;
	p->n = (unsigned)n;
	ctl_aws_set_state(c, p, put_free);
	int r = append_all(fh, st->log, recs, (unsigned)n, ctl_aws_now_ms(c), &p->first);
	if (r < 0) {
		ctl_log(CTL_LOG_WARN, "delivery stream %s refused %zu record(s): %s", st->name, n,
			strerror(-r));
		ctl_aws_err(c, 503, "ServiceUnavailableException", "Slow down: the delivery stream "
			    "cannot accept records now (%s).", strerror(-r));
		goto out;
	}
	st->stats.in_records += n;
	st->stats.in_bytes += total;
	p->w = (struct fh_wait){ NULL, p, p->first + n };
	if (dp_shard_ack_next(st->log) >= p->first + n) {
		put_answer(st, p);
		goto out;
	}
	if (st->wait_tail)
		st->wait_tail->next = &p->w;
	else
		st->wait_head = &p->w;
	st->wait_tail = &p->w;
	ctl_aws_defer(c);
out:
	for (size_t i = 0; bufs && i < n; i++)
		free(bufs[i]);
	free(bufs);
	free(recs);
}

static void op_put_record(void *svc, struct ctl_aws_call *c)
{
	put_common(svc, c, true);
}

static void op_put_record_batch(void *svc, struct ctl_aws_call *c)
{
	put_common(svc, c, false);
}

/* ---- create / describe / list / delete / update ------------------------------------------------- */

static const char *const dest_kinds[][2] = {
	{ "ExtendedS3DestinationConfiguration", "ExtendedS3" },
	{ "S3DestinationConfiguration", "S3" },
	{ "HttpEndpointDestinationConfiguration", "HttpEndpoint" },
};

static int tags_put(struct ctl_fh *fh, struct ctl_aws_call *c, const char *stream, json_t *tags)
{
	size_t i;
	json_t *t;
	json_array_foreach(tags, i, t) {
		const char *k, *v = "";
		if (!json_is_object(t)) {
			ctl_aws_err(c, 400, "SerializationException", "Tags must be structures");
			return -1;
		}
		if (ctl_aws_str(c, t, "Key", 1, 128, true, &k) < 0 ||
		    ctl_aws_str(c, t, "Value", 0, 256, false, &v) < 0)
			return -1;
		if (meta_step(fh, "INSERT OR REPLACE INTO firehose_tag(stream, key, value) "
			      "VALUES(?,?,?)", stream, k, v ? v : "", 0, 0) < 0) {
			ctl_aws_internal(c, "metadata write failed");
			return -1;
		}
	}
	return 0;
}

static int tag_count(struct ctl_fh *fh, const char *stream)
{
	sqlite3_stmt *s;
	int n = 0;
	if (sqlite3_prepare_v2(ctl_meta_db(fh->meta), "SELECT count(*) FROM firehose_tag WHERE "
			       "stream = ?", -1, &s, NULL) != SQLITE_OK)
		return ctl_meta_fail(fh->meta, "prepare");
	sqlite3_bind_text(s, 1, stream, -1, SQLITE_STATIC);
	if (sqlite3_step(s) == SQLITE_ROW)
		n = sqlite3_column_int(s, 0);
	sqlite3_finalize(s);
	return n;
}

static void op_create(void *svc, struct ctl_aws_call *c)
{
	struct ctl_fh *fh = svc;
	const char *name, *type = "DirectPut";
	json_t *tags = NULL, *src = NULL, *conf = NULL;
	const char *kind = NULL;
	if (ctl_aws_str(c, NULL, "DeliveryStreamName", 1, FH_NAME_MAX, true, &name) < 0 ||
	    ctl_aws_str(c, NULL, "DeliveryStreamType", 1, 32, false, &type) < 0 ||
	    ctl_aws_array(c, NULL, "Tags", 1, FH_TAGS_MAX, false, &tags) < 0 ||
	    ctl_aws_object(c, NULL, "KinesisStreamSourceConfiguration", false, &src) < 0)
		return;
	if (!type)
		type = "DirectPut";
	if (!name_ok(name)) {
		ctl_aws_validation(c, name, "deliveryStreamName",
				   "Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+");
		return;
	}
	if (strcmp(type, "DirectPut") != 0 && strcmp(type, "KinesisStreamAsSource") != 0) {
		ctl_aws_invalid(c, "DeliveryStreamType %s is not supported: use DirectPut or "
				"KinesisStreamAsSource.", type);
		return;
	}
	bool ksrc = strcmp(type, "KinesisStreamAsSource") == 0;
	if (ksrc != (src != NULL)) {
		ctl_aws_invalid(c, ksrc ? "KinesisStreamSourceConfiguration is required for "
				"KinesisStreamAsSource." : "KinesisStreamSourceConfiguration is only "
				"allowed with KinesisStreamAsSource.");
		return;
	}
	for (unsigned i = 0; i < 3; i++) {
		json_t *o = NULL;
		if (ctl_aws_object(c, NULL, dest_kinds[i][0], false, &o) < 0)
			return;
		if (o && conf) {
			ctl_aws_invalid(c, "Only one destination configuration may be given.");
			return;
		}
		if (o) {
			conf = o;
			kind = dest_kinds[i][1];
		}
	}
	if (!conf) {
		ctl_aws_invalid(c, "A destination configuration is required: "
				"ExtendedS3DestinationConfiguration, S3DestinationConfiguration or "
				"HttpEndpointDestinationConfiguration.");
		return;
	}
	if (stream_find(fh, name, NULL)) {
		ctl_aws_inuse(c, "Firehose %s under accountId %s already exists", name,
			      ctl_aws_account(c));
		return;
	}
	char src_stream[K_NAME_MAX + 1] = "";
	const char *start = "TRIM_HORIZON";
	if (src) {
		const char *sarn, *role;
		if (ctl_aws_str(c, src, "KinesisStreamARN", 1, 512, true, &sarn) < 0 ||
		    ctl_aws_str(c, src, "RoleARN", 1, 512, true, &role) < 0 ||
		    ctl_aws_str(c, src, "StartingPosition", 1, 16, false, &start) < 0)
			return;
		if (!start)
			start = "TRIM_HORIZON";
		const char *slash = strrchr(sarn, '/');
		if (strncmp(sarn, "arn:aws:kinesis:", 16) != 0 || !strstr(sarn, ":stream/") || !slash ||
		    strlen(slash + 1) > K_NAME_MAX) {
			ctl_aws_invalid(c, "KinesisStreamARN %s is not a Kinesis stream ARN.", sarn);
			return;
		}
		if (strcmp(start, "TRIM_HORIZON") != 0 && strcmp(start, "LATEST") != 0) {
			ctl_aws_invalid(c, "StartingPosition %s: expected TRIM_HORIZON or LATEST.", start);
			return;
		}
		snprintf(src_stream, sizeof(src_stream), "%s", slash + 1);
		if (!fh->kinesis || !k_stream_find(fh->kinesis, src_stream)) {
			ctl_aws_invalid(c, "Kinesis stream %s does not exist.", src_stream);
			return;
		}
	}
	char arn[256];
	stream_arn(fh, name, arn, sizeof(arn));
	struct fh_dest *d = dest_parse(c, kind, conf, arn);
	if (!d)
		return;
	struct fh_stream *st = calloc(1, sizeof(*st));
	if (!st) {
		fh_dest_unref(d);
		ctl_aws_internal(c, "out of memory");
		return;
	}
	st->fh = fh;
	snprintf(st->name, sizeof(st->name), "%s", name);
	snprintf(st->arn, sizeof(st->arn), "%s", arn);
	snprintf(st->dest_kind, sizeof(st->dest_kind), "%s", kind);
	snprintf(st->src_stream, sizeof(st->src_stream), "%s", src_stream);
	st->kinesis_src = ksrc;
	st->dest = d;
	st->dest_conf = json_deep_copy(conf);
	st->src_conf = src ? json_deep_copy(src) : NULL;
	st->created_ms = st->updated_ms = ctl_aws_now_ms(c);
	st->version = 1;
	if (getrandom(&st->incarnation, sizeof(st->incarnation), 0) != sizeof(st->incarnation))
		st->incarnation = (uint64_t)st->created_ms;
	st->incarnation &= INT64_MAX;
	if (ksrc && strcmp(start, "LATEST") == 0) {
		/* Start after everything the source holds now. */
		struct k_stream *ks = k_stream_find(fh->kinesis, src_stream);
		for (unsigned i = 0; i < ks->n_shards; i++) {
			unsigned idx;
			struct fh_lane *l = ks->shards[i]->log ?
					    lane_get(st, ks->shards[i]->index, &idx) : NULL;
			if (l)
				l->ckpt = l->read_next = dp_shard_ack_next(ks->shards[i]->log);
		}
	}
	/* A log left by a stream of the same name that was deleted in a crash is not ours. */
	char dir[4096];
	stream_dir(fh, name, dir, sizeof(dir));
	nftw(dir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
	if (ctl_meta_begin(fh->meta) < 0)
		goto internal;
	if (meta_put_stream(fh, st) < 0 || meta_put_ckpts(fh, st) < 0 ||
	    (tags && tags_put(fh, c, name, tags) < 0)) {
		ctl_meta_rollback(fh->meta);
		if (ctl_aws_answered(c))
			goto free;
		goto internal;
	}
	if (stream_start(fh, st) < 0 || streams_insert(fh, st) < 0) {
		ctl_meta_rollback(fh->meta);
		goto internal;
	}
	if (ctl_meta_commit(fh->meta) < 0) {
		unsigned at;
		stream_find(fh, name, &at);
		memmove(fh->streams + at, fh->streams + at + 1, (fh->n_streams - at - 1) *
			sizeof(*fh->streams));
		fh->n_streams--;
		goto internal;
	}
	ctl_log(CTL_LOG_INFO, "delivery stream %s created (%s, %s destination)", name, type, kind);
	if (fh->loop)
		ctl_loop_wake(fh->loop);
	ctl_aws_ok(c, json_pack("{s:s}", "DeliveryStreamARN", arn));
	return;
internal:
	ctl_aws_internal(c, "cannot create the delivery stream (see the daemon's log)");
free:
	stream_free(fh, st, true);
}

static json_t *hints_json(uint64_t size, int64_t interval_ms)
{
	return json_pack("{s:I, s:I}", "SizeInMBs", (json_int_t)(size >> 20), "IntervalInSeconds",
			 (json_int_t)(interval_ms / 1000));
}

/* An S3 destination description from its configuration, with the defaults filled in. */
static json_t *s3_desc(json_t *conf, const struct fh_dest *d, bool http_backup)
{
	json_t *o = json_deep_copy(conf);
	if (!http_backup)
		json_object_set_new(o, "BufferingHints", hints_json(d->size_bytes, d->interval_ms));
	else if (!json_object_get(o, "BufferingHints"))
		json_object_set_new(o, "BufferingHints", hints_json(5u << 20, 300000));
	if (!json_object_get(o, "CompressionFormat"))
		json_object_set_new(o, "CompressionFormat", json_string("UNCOMPRESSED"));
	if (!json_object_get(o, "EncryptionConfiguration"))
		json_object_set_new(o, "EncryptionConfiguration",
				    json_pack("{s:s}", "NoEncryptionConfig", "NoEncryption"));
	return o;
}

static json_t *describe_json(const struct fh_stream *st, int64_t now)
{
	const struct fh_dest *d = st->dest;
	json_t *dst = json_pack("{s:s}", "DestinationId", "destinationId-000000000001");
	if (d->http) {
		json_t *h = json_deep_copy(st->dest_conf);
		json_t *ep = json_object_get(h, "EndpointConfiguration");
		json_object_del(ep, "AccessKey");  /* a secret: never described */
		json_object_set_new(h, "BufferingHints", hints_json(d->size_bytes, d->interval_ms));
		json_object_set_new(h, "RetryOptions", json_pack("{s:I}", "DurationInSeconds",
								(json_int_t)(d->retry_ms / 1000)));
		if (!json_object_get(h, "S3BackupMode"))
			json_object_set_new(h, "S3BackupMode", json_string("FailedDataOnly"));
		json_t *s3 = json_object_get(h, "S3Configuration");
		json_object_set_new(h, "S3DestinationDescription", s3_desc(s3, d, true));
		json_object_del(h, "S3Configuration");
		json_object_set_new(dst, "HttpEndpointDestinationDescription", h);
	} else {
		json_t *x = s3_desc(st->dest_conf, d, false);
		json_t *plain = json_pack("{s:O*, s:O*, s:O*, s:O*, s:O*, s:O*, s:O*}",
					  "RoleARN", json_object_get(x, "RoleARN"),
					  "BucketARN", json_object_get(x, "BucketARN"),
					  "Prefix", json_object_get(x, "Prefix"),
					  "ErrorOutputPrefix", json_object_get(x, "ErrorOutputPrefix"),
					  "BufferingHints", json_object_get(x, "BufferingHints"),
					  "CompressionFormat", json_object_get(x, "CompressionFormat"),
					  "EncryptionConfiguration",
					  json_object_get(x, "EncryptionConfiguration"));
		json_object_set_new(dst, "S3DestinationDescription", plain);
		if (strcmp(st->dest_kind, "ExtendedS3") == 0) {
			if (!json_object_get(x, "S3BackupMode"))
				json_object_set_new(x, "S3BackupMode", json_string("Disabled"));
			json_object_set_new(dst, "ExtendedS3DestinationDescription", x);
		} else {
			json_decref(x);
		}
	}
	char ver[16];
	snprintf(ver, sizeof(ver), "%u", st->version);
	json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:o, s:o, s:[o], s:b, s:{s:s}}",
			      "DeliveryStreamName", st->name, "DeliveryStreamARN", st->arn,
			      "DeliveryStreamStatus", st->active ? "ACTIVE" : "CREATING",
			      "DeliveryStreamType", st->kinesis_src ? "KinesisStreamAsSource" :
			      "DirectPut", "VersionId", ver,
			      "CreateTimestamp", ctl_aws_time_json(st->created_ms),
			      "LastUpdateTimestamp", ctl_aws_time_json(st->updated_ms),
			      "Destinations", dst, "HasMoreDestinations", 0,
			      "DeliveryStreamEncryptionConfiguration", "Status", "DISABLED");
	if (st->kinesis_src) {
		json_t *ks = json_pack("{s:O*, s:O*, s:o}", "KinesisStreamARN",
				       json_object_get(st->src_conf, "KinesisStreamARN"), "RoleARN",
				       json_object_get(st->src_conf, "RoleARN"),
				       "DeliveryStartTimestamp", ctl_aws_time_json(st->created_ms));
		json_object_set_new(o, "Source", json_pack("{s:o}", "KinesisStreamSourceDescription",
							   ks));
	}
	/* An extension: the delivery metrics of GET /stats (SDKs ignore unknown members). */
	int64_t oldest = 0;
	for (const struct fh_part *p = st->parts; p; p = p->next)
		if (!oldest || p->oldest_ms < oldest)
			oldest = p->oldest_ms;
	for (const struct fh_job *j = st->inflight; j; j = j->inext)
		if (!oldest || j->oldest_ms < oldest)
			oldest = j->oldest_ms;
	json_object_set_new(o, "DeliveryMetrics", json_pack(
		"{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}",
		"IncomingRecords", (json_int_t)st->stats.in_records,
		"IncomingBytes", (json_int_t)st->stats.in_bytes,
		"DeliveredRecords", (json_int_t)st->stats.out_records,
		"DeliveredBytes", (json_int_t)st->stats.out_bytes,
		"DeliveredObjects", (json_int_t)st->stats.out_objects,
		"FailedRecords", (json_int_t)st->stats.failed_records,
		"DroppedRecords", (json_int_t)st->stats.transform_dropped,
		"DataFreshnessMs", (json_int_t)(oldest ? now - oldest : 0)));
	return o;
}

static void op_describe(void *svc, struct ctl_aws_call *c)
{
	int64_t limit;
	const char *start;
	struct fh_stream *st = stream_arg(svc, c);
	if (!st || ctl_aws_int(c, NULL, "Limit", 1, 10000, false, &limit) < 0 ||
	    ctl_aws_str(c, NULL, "ExclusiveStartDestinationId", 1, 100, false, &start) < 0)
		return;
	ctl_aws_ok(c, json_pack("{s:o}", "DeliveryStreamDescription",
				describe_json(st, ctl_aws_now_ms(c))));
}

static void op_list(void *svc, struct ctl_aws_call *c)
{
	struct ctl_fh *fh = svc;
	int64_t limit = 10;
	const char *type = NULL, *after = NULL;
	if (ctl_aws_int(c, NULL, "Limit", 1, 10000, false, &limit) < 0 ||
	    ctl_aws_str(c, NULL, "DeliveryStreamType", 1, 32, false, &type) < 0 ||
	    ctl_aws_str(c, NULL, "ExclusiveStartDeliveryStreamName", 1, FH_NAME_MAX, false,
			&after) < 0)
		return;
	json_t *names = json_array();
	bool more = false;
	for (unsigned i = 0; i < fh->n_streams; i++) {
		const struct fh_stream *st = fh->streams[i];
		if (after && strcmp(st->name, after) <= 0)
			continue;
		if (type && strcmp(type, st->kinesis_src ? "KinesisStreamAsSource" : "DirectPut"))
			continue;
		if ((int64_t)json_array_size(names) == limit) {
			more = true;
			break;
		}
		json_array_append_new(names, json_string(st->name));
	}
	ctl_aws_ok(c, json_pack("{s:o, s:b}", "DeliveryStreamNames", names,
				"HasMoreDeliveryStreams", more));
}

static void op_delete(void *svc, struct ctl_aws_call *c)
{
	struct ctl_fh *fh = svc;
	bool force = false;
	struct fh_stream *st = stream_arg(fh, c);
	if (!st || ctl_aws_bool(c, NULL, "AllowForceDelete", false, &force) < 0)
		return;
	if (ctl_meta_begin(fh->meta) < 0 ||
	    meta_step(fh, "DELETE FROM firehose_stream WHERE name = ?", st->name, NULL, NULL, 0, 0) ||
	    meta_step(fh, "DELETE FROM firehose_tag WHERE stream = ?", st->name, NULL, NULL, 0, 0) ||
	    meta_step(fh, "DELETE FROM firehose_ckpt WHERE stream = ?", st->name, NULL, NULL, 0, 0) ||
	    ctl_meta_commit(fh->meta) < 0) {
		ctl_meta_rollback(fh->meta);
		ctl_aws_internal(c, "metadata write failed");
		return;
	}
	unsigned at;
	stream_find(fh, st->name, &at);
	memmove(fh->streams + at, fh->streams + at + 1,
		(fh->n_streams - at - 1) * sizeof(*fh->streams));
	fh->n_streams--;
	ctl_log(CTL_LOG_INFO, "delivery stream %s deleted", st->name);
	ctl_aws_ok(c, NULL);
	stream_free(fh, st, true);
}

static void op_update_destination(void *svc, struct ctl_aws_call *c)
{
	struct ctl_fh *fh = svc;
	const char *ver, *dest_id;
	struct fh_stream *st = stream_arg(fh, c);
	if (!st || ctl_aws_str(c, NULL, "CurrentDeliveryStreamVersionId", 1, 50, true, &ver) < 0 ||
	    ctl_aws_str(c, NULL, "DestinationId", 1, 100, true, &dest_id) < 0)
		return;
	char cur[16];
	snprintf(cur, sizeof(cur), "%u", st->version);
	if (strcmp(ver, cur) != 0) {
		ctl_aws_err(c, 400, "ConcurrentModificationException", "Delivery stream %s has version "
			    "%s, not %s.", st->name, cur, ver);
		return;
	}
	if (strcmp(dest_id, "destinationId-000000000001") != 0) {
		ctl_aws_invalid(c, "Destination %s not found.", dest_id);
		return;
	}
	static const char *const upd[][2] = {
		{ "ExtendedS3DestinationUpdate", "ExtendedS3" },
		{ "S3DestinationUpdate", "S3" },
		{ "HttpEndpointDestinationUpdate", "HttpEndpoint" },
	};
	json_t *u = NULL;
	const char *kind = NULL;
	for (unsigned i = 0; i < 3; i++) {
		json_t *o = NULL;
		if (ctl_aws_object(c, NULL, upd[i][0], false, &o) < 0)
			return;
		if (o && u) {
			ctl_aws_invalid(c, "Only one destination update may be given.");
			return;
		}
		if (o) {
			u = o;
			kind = upd[i][1];
		}
	}
	if (!u) {
		ctl_aws_invalid(c, "A destination update is required.");
		return;
	}
	/* An update of the same kind changes the members it names; another kind replaces the
	 * destination (and must then be complete). An S3 update of an ExtendedS3 destination keeps
	 * its extended members. */
	bool same = strcmp(kind, st->dest_kind) == 0 ||
		    (strcmp(kind, "S3") == 0 && strcmp(st->dest_kind, "ExtendedS3") == 0);
	json_t *conf = same ? json_deep_copy(st->dest_conf) : json_object();
	if (strcmp(kind, "HttpEndpoint") == 0 && same) {
		/* S3Update merges into S3Configuration. */
		json_t *s3u = json_object_get(u, "S3Update");
		if (s3u)
			json_object_update(json_object_get(conf, "S3Configuration"), s3u);
	}
	json_object_update(conf, u);
	if (strcmp(kind, "HttpEndpoint") == 0) {
		json_t *s3u = json_object_get(conf, "S3Update");
		if (s3u && !json_object_get(conf, "S3Configuration"))
			json_object_set(conf, "S3Configuration", s3u);
		json_object_del(conf, "S3Update");
	}
	char new_kind[16];
	snprintf(new_kind, sizeof(new_kind), "%s", same ? st->dest_kind : kind);
	struct fh_dest *d = dest_parse(c, new_kind, conf, st->arn);
	if (!d) {
		json_decref(conf);
		return;
	}
	jq_state *jq = NULL;
	char why[256];
	if (d->jq_query && !(jq = jq_make(d->jq_query, why))) {
		fh_dest_unref(d);
		json_decref(conf);
		ctl_aws_invalid(c, "MetadataExtractionQuery is invalid: %s", why);
		return;
	}
	json_t *old_conf = st->dest_conf;
	char old_kind[16];
	snprintf(old_kind, sizeof(old_kind), "%s", st->dest_kind);
	st->dest_conf = conf;
	snprintf(st->dest_kind, sizeof(st->dest_kind), "%s", new_kind);
	st->version++;
	st->updated_ms = ctl_aws_now_ms(c);
	if (meta_put_stream(fh, st) < 0) {
		st->dest_conf = old_conf;
		snprintf(st->dest_kind, sizeof(st->dest_kind), "%s", old_kind);
		st->version--;
		json_decref(conf);
		fh_dest_unref(d);
		if (jq)
			jq_teardown(&jq);
		ctl_aws_internal(c, "metadata write failed");
		return;
	}
	json_decref(old_conf);
	/* Buffers already cut keep the destination they were cut for; open parts follow the new
	 * one when they are flushed. */
	fh_dest_unref(st->dest);
	st->dest = d;
	if (st->jq)
		jq_teardown(&st->jq);
	st->jq = jq;
	ctl_aws_ok(c, NULL);
}

static void op_tag(void *svc, struct ctl_aws_call *c)
{
	struct ctl_fh *fh = svc;
	json_t *tags;
	struct fh_stream *st = stream_arg(fh, c);
	if (!st || ctl_aws_array(c, NULL, "Tags", 1, FH_TAGS_MAX, true, &tags) < 0)
		return;
	if (ctl_meta_begin(fh->meta) < 0) {
		ctl_aws_internal(c, "metadata write failed");
		return;
	}
	if (tags_put(fh, c, st->name, tags) < 0) {
		ctl_meta_rollback(fh->meta);
		return;
	}
	if (tag_count(fh, st->name) > FH_TAGS_MAX) {
		ctl_meta_rollback(fh->meta);
		ctl_aws_limit(c, "A delivery stream can have at most %d tags.", FH_TAGS_MAX);
		return;
	}
	if (ctl_meta_commit(fh->meta) < 0) {
		ctl_aws_internal(c, "metadata write failed");
		return;
	}
	ctl_aws_ok(c, NULL);
}

static void op_untag(void *svc, struct ctl_aws_call *c)
{
	struct ctl_fh *fh = svc;
	json_t *keys, *k;
	struct fh_stream *st = stream_arg(fh, c);
	if (!st || ctl_aws_array(c, NULL, "TagKeys", 1, FH_TAGS_MAX, true, &keys) < 0)
		return;
	size_t i;
	json_array_foreach(keys, i, k) {
		if (!json_is_string(k)) {
			ctl_aws_err(c, 400, "SerializationException", "TagKeys must be strings");
			return;
		}
	}
	if (ctl_meta_begin(fh->meta) < 0)
		goto fail;
	json_array_foreach(keys, i, k) {
		if (meta_step(fh, "DELETE FROM firehose_tag WHERE stream = ? AND key = ?", st->name,
			      json_string_value(k), NULL, 0, 0) < 0) {
			ctl_meta_rollback(fh->meta);
			goto fail;
		}
	}
	if (ctl_meta_commit(fh->meta) < 0)
		goto fail;
	ctl_aws_ok(c, NULL);
	return;
fail:
	ctl_aws_internal(c, "metadata write failed");
}

static void op_list_tags(void *svc, struct ctl_aws_call *c)
{
	struct ctl_fh *fh = svc;
	int64_t limit = 50;
	const char *after = NULL;
	struct fh_stream *st = stream_arg(fh, c);
	if (!st || ctl_aws_int(c, NULL, "Limit", 1, 50, false, &limit) < 0 ||
	    ctl_aws_str(c, NULL, "ExclusiveStartTagKey", 1, 128, false, &after) < 0)
		return;
	sqlite3_stmt *s;
	if (sqlite3_prepare_v2(ctl_meta_db(fh->meta), "SELECT key, value FROM firehose_tag WHERE "
			       "stream = ? AND key > ? ORDER BY key", -1, &s, NULL) != SQLITE_OK) {
		ctl_aws_internal(c, "metadata read failed");
		return;
	}
	sqlite3_bind_text(s, 1, st->name, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, after ? after : "", -1, SQLITE_STATIC);
	json_t *tags = json_array();
	bool more = false;
	while (sqlite3_step(s) == SQLITE_ROW) {
		if ((int64_t)json_array_size(tags) == limit) {
			more = true;
			break;
		}
		json_array_append_new(tags, json_pack("{s:s, s:s}", "Key",
						      (const char *)sqlite3_column_text(s, 0), "Value",
						      (const char *)sqlite3_column_text(s, 1)));
	}
	sqlite3_finalize(s);
	ctl_aws_ok(c, json_pack("{s:o, s:b}", "Tags", tags, "HasMoreTags", more));
}

/* ---- the delivery engine ------------------------------------------------------------------------ */

/* The error prefix of a destination for an error type, evaluated at ts. */
static int error_key(const struct fh_dest *d, const char *stream, unsigned version,
		     const char *type, int64_t ts, char *out, size_t n)
{
	char tmp[FH_PREFIX_MAX + 64];
	const char *ep = d->error_prefix;
	if (!ep) {
		snprintf(tmp, sizeof(tmp), "%s!{firehose:error-output-type}/!{timestamp:yyyy/MM/dd/HH}/",
			 d->prefix ? d->prefix : "");
		ep = tmp;
	}
	int pl = fh_prefix_eval(ep, FH_PREFIX_ERROR, ts, type, NULL, out, n);
	if (pl < 0)
		return pl;
	return fh_object_name(stream, version, ts, "", out + pl, n - (size_t)pl) < 0 ? -ENAMETOOLONG
										    : 0;
}

static int job_add_obj(struct fh_job *j, char *key, struct fh_buf *data, bool compress,
		       bool is_error, unsigned records)
{
	struct fh_obj *o = realloc(j->objs, (j->n_objs + 1) * sizeof(*o));
	if (!o)
		return -ENOMEM;
	j->objs = o;
	o[j->n_objs++] = (struct fh_obj){ key, *data, compress, is_error, records };
	*data = (struct fh_buf){ 0 };
	return 0;
}

/* The data object of a buffer: key from the prefix at the oldest arrival time. */
static int job_data_obj(struct fh_stream *st, struct fh_job *j, const struct fh_keys *keys,
			struct fh_buf *data, unsigned records)
{
	const struct fh_dest *d = j->dest;
	char key[FH_EVAL_MAX + 200];
	int pl = fh_prefix_eval(d->prefix, FH_PREFIX_DATA, j->oldest_ms, NULL, keys, key,
				sizeof(key));
	if (pl < 0 || fh_object_name(st->name, j->version, j->oldest_ms, fh_codec_ext(d->codec),
				     key + pl, sizeof(key) - (size_t)pl) < 0 || !fh_key_safe(key))
		return pl == -ENOENT ? -ENOENT : -ENAMETOOLONG;
	char *k = strdup(key);
	if (!k)
		return -ENOMEM;
	int r = job_add_obj(j, k, data, true, false, records);
	if (r < 0)
		free(k);
	return r;
}

static int job_error_obj(struct fh_job *j, const char *type, struct fh_buf *lines,
			 unsigned records)
{
	char key[FH_EVAL_MAX + 200];
	int r = error_key(j->dest, j->stream, j->version, type, wall_ms(), key, sizeof(key));
	if (r < 0)
		return r;
	char *k = strdup(key);
	if (!k)
		return -ENOMEM;
	r = job_add_obj(j, k, lines, false, true, records);
	if (r < 0)
		free(k);
	return r;
}

static void job_dispatch(struct fh_stream *st, struct fh_job *j)
{
	fh_worker_push(&st->worker, j);
}

/* ---- transform ---------------------------------------------------------------------------------- */

static void transform_done(void *arg, int status, const char *result, size_t len)
{
	struct fh_ticket *t = arg;
	t->status = status;
	if (status >= 0 && result) {
		t->result = malloc(len + 1);
		if (t->result) {
			memcpy(t->result, result, len);
			t->result[len] = 0;
			t->len = len;
		} else {
			t->status = -ENOMEM;
		}
	}
	struct ctl_fh *fh = t->fh;
	pthread_mutex_lock(&fh->done_mu);
	t->next = fh->tickets;
	fh->tickets = t;
	pthread_mutex_unlock(&fh->done_mu);
	if (fh->loop)
		ctl_loop_wake(fh->loop);
}

static void transform_start(struct ctl_fh *fh, struct fh_stream *st, struct fh_job *j)
{
	struct fh_ticket *t = calloc(1, sizeof(*t));
	json_t *recs = json_array();
	for (unsigned i = 0; t && recs && i < j->n; i++) {
		size_t n = j->offs[i + 1] - j->offs[i];
		char *b64 = malloc(ctl_b64_enc_len(n) + 1);
		if (!b64)
			break;
		b64[ctl_b64_encode(j->recs.p + j->offs[i], n, b64)] = 0;
		char id[16];
		snprintf(id, sizeof(id), "%u", i);
		json_array_append_new(recs, json_pack("{s:s, s:I, s:s}", "recordId", id,
						      "approximateArrivalTimestamp",
						      (json_int_t)j->arrival[i], "data", b64));
		free(b64);
	}
	char inv[40];
	snprintf(inv, sizeof(inv), "%016" PRIx64 "-%08x", st->incarnation, (unsigned)wall_ms());
	json_t *ev = json_pack("{s:s, s:s, s:s, s:o}", "invocationId", inv, "deliveryStreamArn",
			       st->arn, "region", fh->region, "records", recs);
	char *payload = ev ? json_dumps(ev, JSON_COMPACT) : NULL;
	json_decref(ev);
	if (!t || !payload) {
		free(t);
		free(payload);
		ctl_log(CTL_LOG_ERR, "delivery stream %s: out of memory building a transform", st->name);
		return;  /* stays in flight; retried after a restart */
	}
	t->fh = fh;
	t->job = j;
	j->ticket = t;
	if (!fh->has_transform) {
		transform_done(t, -ENOSYS, NULL, 0);
	} else {
		fh->transform.invoke(fh->transform.arg, j->dest->lambda_arn, payload, strlen(payload),
				     transform_done, t);
	}
	free(payload);
}

/* Apply a transform's answer to its job: Ok records replace the job's records (grouped by
 * their partitionKeyFromLambda keys), Dropped ones vanish, ProcessingFailed ones and every
 * record without a valid answer become processing-failed error records. */
static void transform_apply(struct fh_stream *st, struct fh_job *j, struct fh_ticket *t)
{
	const struct fh_dest *d = j->dest;
	json_t *doc = t->status >= 0 ? json_loadb(t->result, t->len, 0, NULL) : NULL;
	json_t *arr = json_object_get(doc, "records");
	json_t **by_id = calloc(j->n ? j->n : 1, sizeof(*by_id));
	size_t i;
	json_t *r;
	json_array_foreach(arr, i, r) {
		const char *id = json_string_value(json_object_get(r, "recordId"));
		char *end;
		unsigned long v = id ? strtoul(id, &end, 10) : ULONG_MAX;
		if (by_id && id && *id && !*end && v < j->n && !by_id[v])
			by_id[v] = r;
	}
	bool by_lambda = fh_prefix_uses(d->prefix, "partitionKeyFromLambda");
	struct group {
		struct fh_keys keys;
		struct fh_buf data, offs, arr;
		unsigned n;
	} *groups = NULL;
	unsigned ng = 0;
	struct fh_buf errors = { 0 };
	unsigned n_err = 0;
	char why[160] = "";
	if (t->status < 0)
		snprintf(why, sizeof(why), "The transform could not be invoked: %s",
			 strerror(-t->status));
	else if (!doc || !json_is_array(arr))
		snprintf(why, sizeof(why), "The transform's response is not {\"records\": [...]}");
	for (unsigned k = 0; k < j->n; k++) {
		const uint8_t *raw = j->recs.p + j->offs[k];
		size_t raw_len = j->offs[k + 1] - j->offs[k];
		json_t *ans = by_id ? by_id[k] : NULL;
		const char *res = json_string_value(json_object_get(ans, "result"));
		const char *data = json_string_value(json_object_get(ans, "data"));
		const char *code = "Lambda.ProcessingFailed";
		const char *msg = why[0] ? why : "The record was marked ProcessingFailed.";
		if (res && strcmp(res, "Dropped") == 0) {
			st->stats.transform_dropped++;
			continue;
		}
		if (!why[0] && !ans) {
			code = "Lambda.MissingRecordId";
			msg = "The transform's response has no record with this recordId.";
		} else if (res && strcmp(res, "Ok") == 0 && data) {
			size_t bl = strlen(data);
			uint8_t *dec = malloc(ctl_b64_dec_max(bl) + 3);
			long dl = dec ? ctl_b64_decode(data, bl, dec) : -1;
			struct fh_keys keys = { 0 };
			json_t *pk = json_object_get(json_object_get(ans, "metadata"), "partitionKeys");
			const char *kk;
			json_t *kv;
			int kr = 0;
			json_object_foreach(pk, kk, kv) {
				if (kr == 0 && json_is_string(kv))
					kr = fh_keys_add(&keys, kk, json_string_value(kv),
							 json_string_length(kv));
			}
			char gkey[FH_EVAL_MAX + 1] = "";
			if (dl >= 0 && by_lambda && (kr < 0 ||
			    fh_prefix_eval(d->prefix, FH_PREFIX_DATA, j->oldest_ms, NULL, &keys, gkey,
					   sizeof(gkey)) < 0)) {
				free(dec);
				code = "Lambda.MissingPartitionKeys";
				msg = "The transform's metadata lacks a key the prefix names.";
				goto failed;
			}
			if (dl < 0) {
				free(dec);
				code = "Lambda.InvalidBase64";
				msg = "The transform's data is not valid base64.";
				goto failed;
			}
			unsigned g = 0;
			/* Group by the keys' values (not the evaluated prefix: it holds random parts). */
			for (; g < ng; g++) {
				bool same = groups[g].keys.n == keys.n;
				for (unsigned q = 0; same && q < keys.n; q++)
					same = strcmp(groups[g].keys.name[q], keys.name[q]) == 0 &&
					       strcmp(groups[g].keys.value[q], keys.value[q]) == 0;
				if (same)
					break;
			}
			if (g == ng) {
				struct group *ngp = realloc(groups, (ng + 1) * sizeof(*groups));
				if (!ngp) {
					free(dec);
					goto failed;
				}
				groups = ngp;
				memset(&groups[ng], 0, sizeof(groups[ng]));
				groups[ng].keys = keys;
				ng++;
			}
			struct group *gp = &groups[g];
			uint32_t off = (uint32_t)gp->data.len;
			fh_buf_put(&gp->offs, &off, sizeof(off));
			fh_buf_put(&gp->arr, &j->arrival[k], sizeof(j->arrival[k]));
			fh_buf_put(&gp->data, dec, (size_t)dl);
			fh_buf_put(&gp->data, d->delim, d->delim_len);
			gp->n++;
			free(dec);
			continue;
		} else if (!why[0] && res && strcmp(res, "Ok") == 0) {
			code = "Lambda.MissingData";
			msg = "The transform answered Ok without data.";
		} else if (!why[0] && res && strcmp(res, "ProcessingFailed") != 0) {
			code = "Lambda.InvalidResult";
			msg = "The transform's result is not Ok, Dropped or ProcessingFailed.";
		}
failed:
		fh_error_line(&errors, 1, j->arrival[k], code, msg, raw, raw_len, d->lambda_arn);
		n_err++;
	}
	json_decref(doc);
	free(by_id);
	/* Rebuild the job: objects per group, or (HTTP) the transformed records. */
	fh_buf_free(&j->recs);
	free(j->offs);
	free(j->arrival);
	j->offs = NULL;
	j->arrival = NULL;
	j->n = 0;
	for (unsigned g = 0; g < ng; g++) {
		struct group *gp = &groups[g];
		if (d->http) {
			/* One group: the records as the endpoint will get them. */
			uint32_t end = (uint32_t)gp->data.len;
			fh_buf_put(&gp->offs, &end, sizeof(end));
			j->recs = gp->data;
			j->offs = (uint32_t *)gp->offs.p;
			j->arrival = (int64_t *)gp->arr.p;
			j->n = gp->n;
			continue;
		}
		int rr = job_data_obj(st, j, by_lambda ? &gp->keys : NULL, &gp->data, gp->n);
		if (rr < 0)
			ctl_log(CTL_LOG_ERR, "delivery stream %s: cannot name an object: %s", st->name,
				strerror(-rr));
		fh_buf_free(&gp->data);
		fh_buf_free(&gp->offs);
		fh_buf_free(&gp->arr);
	}
	free(groups);
	if (n_err && job_error_obj(j, "processing-failed", &errors, n_err) < 0)
		ctl_log(CTL_LOG_ERR, "delivery stream %s: cannot name an error object", st->name);
	fh_buf_free(&errors);
}

/* ---- parts and jobs ----------------------------------------------------------------------------- */

/* Turn a part into a job (in flight) and send it on. */
static void part_flush(struct ctl_fh *fh, struct fh_stream *st, struct fh_part *p)
{
	struct fh_job *j = calloc(1, sizeof(*j));
	if (!j)
		return;  /* the part stays; tried again at the next tick */
	/* Unlink p. */
	for (struct fh_part **pp = &st->parts; *pp; pp = &(*pp)->next)
		if (*pp == p) {
			*pp = p->next;
			break;
		}
	st->part_bytes -= p->data.len;
	j->owner = st;
	j->dest = st->dest;
	atomic_fetch_add(&st->dest->refs, 1);
	snprintf(j->stream, sizeof(j->stream), "%s", st->name);
	j->version = st->version;
	j->oldest_ms = p->oldest_ms;
	memcpy(j->lane_min, p->lane_min, sizeof(j->lane_min));
	uint32_t end = (uint32_t)p->data.len;
	fh_buf_put(&p->offs, &end, sizeof(end));
	j->n = p->n;
	j->recs = p->data;
	j->offs = (uint32_t *)p->offs.p;
	j->arrival = (int64_t *)p->arr.p;
	p->data = p->offs = p->arr = (struct fh_buf){ 0 };
	j->inext = st->inflight;
	st->inflight = j;
	st->n_inflight++;
	if (j->dest->lambda_arn) {
		transform_start(fh, st, j);
	} else {
		if (!j->dest->http) {
			struct fh_buf data = j->recs;
			j->recs = (struct fh_buf){ 0 };
			int r = job_data_obj(st, j, p->keys, &data, j->n);
			if (r < 0) {
				ctl_log(CTL_LOG_ERR, "delivery stream %s: cannot name an object: %s",
					st->name, strerror(-r));
				j->recs = data;
			}
		}
		job_dispatch(st, j);
	}
	part_free(p);
}

/* Route one record read from a lane into its part. Returns 0 or -ENOMEM. */
static int route(struct fh_stream *st, unsigned lane, const struct dp_record_out *rec,
		 int64_t now, struct fh_buf *part_errors, unsigned *n_part_errors,
		 uint64_t *err_lane_min)
{
	const struct fh_dest *d = st->dest;
	struct fh_keys *keys = NULL;
	char group[FH_EVAL_MAX + 1] = "";
	if (st->jq) {
		keys = calloc(1, sizeof(*keys));
		if (!keys)
			return -ENOMEM;
		int r = jq_keys(st->jq, rec->data, rec->data_len, keys);
		if (r == 0 && fh_prefix_uses(d->prefix, "partitionKeyFromQuery")) {
			/* The group: the key values the prefix uses, joined (evaluating the prefix
			 * itself would draw new random strings). */
			size_t o = 0;
			for (unsigned i = 0; i < keys->n && r == 0; i++) {
				int w = snprintf(group + o, sizeof(group) - o, "%s\x1f", keys->value[i]);
				if (w < 0 || (size_t)w >= sizeof(group) - o)
					r = -ENAMETOOLONG;
				else
					o += (size_t)w;
			}
			char probe[FH_EVAL_MAX + 1];
			if (r == 0)
				r = fh_prefix_eval(d->prefix, FH_PREFIX_DATA, rec->ts_ms, NULL, keys, probe,
						   sizeof(probe));
			if (r > 0 && !fh_key_safe(probe))
				r = -EINVAL;
			if (r >= 0) {
				/* The hour of arrival is part of the group too: a timestamp
				 * expression splits buffers as Firehose does. */
				char hour[32];
				snprintf(hour, sizeof(hour), "%" PRId64, rec->ts_ms / 3600000);
				if (strlen(group) + strlen(hour) < sizeof(group))
					strcat(group, hour);
				r = 0;
			}
		}
		if (r < 0) {
			free(keys);
			*err_lane_min = rec->seq < *err_lane_min ? rec->seq : *err_lane_min;
			(*n_part_errors)++;
			return fh_error_line(part_errors, 1, rec->ts_ms,
					     r == -EBADMSG ? "DynamicPartitioning.MetadataExtractionFailed"
							   : "DynamicPartitioning.PartitionKeyInvalid",
					     r == -EBADMSG ? "The record is not valid JSON."
							   : "The query did not yield usable partition keys.",
					     rec->data, rec->data_len, NULL);
		}
	}
	struct fh_part *p = st->parts;
	for (; p; p = p->next)
		if (strcmp(p->group, group) == 0)
			break;
	if (!p) {
		p = calloc(1, sizeof(*p));
		if (!p) {
			free(keys);
			return -ENOMEM;
		}
		snprintf(p->group, sizeof(p->group), "%s", group);
		/* One reservation for the whole buffer (untouched pages cost nothing) instead of
		 * doublings that copy it; not per partition, where there may be many. */
		if (!st->jq && fh_buf_reserve(&p->data, d->size_bytes + FH_RECORD_MAX + d->delim_len) < 0) {
			free(p);
			free(keys);
			return -ENOMEM;
		}
		p->keys = keys;
		keys = NULL;
		p->opened_ms = now;
		p->oldest_ms = rec->ts_ms;
		for (unsigned i = 0; i < FH_LANES_MAX; i++)
			p->lane_min[i] = UINT64_MAX;
		p->next = st->parts;
		st->parts = p;
	}
	free(keys);
	uint32_t off = (uint32_t)p->data.len;
	size_t before = p->data.len;
	if (fh_buf_put(&p->offs, &off, sizeof(off)) < 0 ||
	    fh_buf_put(&p->arr, &rec->ts_ms, sizeof(rec->ts_ms)) < 0 ||
	    fh_buf_put(&p->data, rec->data, rec->data_len) < 0 ||
	    (!d->lambda_arn && fh_buf_put(&p->data, d->delim, d->delim_len) < 0))
		return -ENOMEM;
	st->part_bytes += p->data.len - before;
	p->n++;
	if (rec->ts_ms < p->oldest_ms)
		p->oldest_ms = rec->ts_ms;
	if (rec->seq < p->lane_min[lane])
		p->lane_min[lane] = rec->seq;
	if (p->data.len >= d->size_bytes)
		part_flush(st->fh, st, p);
	return 0;
}

static size_t pending_cap(const struct fh_stream *st)
{
	size_t cap = (size_t)st->dest->size_bytes * 2;
	return cap < FH_PENDING_MIN ? FH_PENDING_MIN : cap;
}

/* Read what the lanes have, within the stream's memory budget. */
static void read_lanes(struct ctl_fh *fh, struct fh_stream *st, int64_t now)
{
	struct dp_shard *logs[FH_LANES_MAX];
	unsigned n_logs = 0;
	uint32_t ids[FH_LANES_MAX];
	if (!st->kinesis_src) {
		logs[0] = st->log;
		ids[0] = 0;
		n_logs = 1;
	} else {
		struct k_stream *ks = fh->kinesis ? k_stream_find(fh->kinesis, st->src_stream) : NULL;
		for (unsigned i = 0; ks && i < ks->n_shards && n_logs < FH_LANES_MAX; i++) {
			if (!ks->shards[i]->log)
				continue;
			logs[n_logs] = ks->shards[i]->log;
			ids[n_logs++] = ks->shards[i]->index;
		}
	}
	struct fh_buf errors = { 0 };
	unsigned n_err = 0;
	uint64_t err_min[FH_LANES_MAX];
	for (unsigned i = 0; i < FH_LANES_MAX; i++)
		err_min[i] = UINT64_MAX;
	for (unsigned li = 0; li < n_logs; li++) {
		unsigned lane;
		struct fh_lane *l = lane_get(st, ids[li], &lane);
		if (!l)
			break;
		if (l->read_next >= dp_shard_readable_next(logs[li]))
			continue;
		/* A reader lives only within this call: a source stream may be deleted between
		 * ticks, and a reader must never outlive its log. */
		struct dp_reader *rd;
		if (dp_reader_new(logs[li], DP_POS_AT_SEQ, l->read_next, &rd) < 0)
			continue;
		struct dp_record_out out[256];
		while (st->n_inflight < FH_INFLIGHT_MAX && st->part_bytes < pending_cap(st)) {
			int n = dp_reader_read(rd, out, 256, 4u << 20);
			if (n <= 0) {
				if (n < 0)
					ctl_log(CTL_LOG_ERR, "delivery stream %s: reading lane %u: %s",
						st->name, l->id, strerror(-n));
				break;
			}
			for (int k = 0; k < n; k++) {
				uint64_t em = err_min[lane];
				if (route(st, lane, &out[k], now, &errors, &n_err, &em) < 0) {
					ctl_log(CTL_LOG_ERR, "delivery stream %s: out of memory", st->name);
					break;
				}
				err_min[lane] = em;
				l->read_next = out[k].seq + 1;
			}
		}
		dp_reader_free(rd);
	}
	if (n_err) {
		/* Records whose partition keys failed: one error job, as Firehose sends them to the
		 * error prefix. */
		struct fh_job *j = calloc(1, sizeof(*j));
		if (j) {
			j->owner = st;
			j->dest = st->dest;
			atomic_fetch_add(&st->dest->refs, 1);
			snprintf(j->stream, sizeof(j->stream), "%s", st->name);
			j->version = st->version;
			j->oldest_ms = now;
			memcpy(j->lane_min, err_min, sizeof(err_min));
			if (job_error_obj(j, "partitioning-failed", &errors, n_err) < 0)
				ctl_log(CTL_LOG_ERR, "delivery stream %s: cannot name an error object",
					st->name);
			j->inext = st->inflight;
			st->inflight = j;
			st->n_inflight++;
			job_dispatch(st, j);
		}
	}
	fh_buf_free(&errors);
}

/* Recompute the checkpoints; persist those that moved. */
static void checkpoint(struct ctl_fh *fh, struct fh_stream *st)
{
	bool moved = false;
	for (unsigned i = 0; i < st->n_lanes; i++) {
		uint64_t m = st->lanes[i].read_next;
		for (const struct fh_part *p = st->parts; p; p = p->next)
			if (p->lane_min[i] < m)
				m = p->lane_min[i];
		for (const struct fh_job *j = st->inflight; j; j = j->inext)
			if (j->lane_min[i] < m)
				m = j->lane_min[i];
		if (m > st->lanes[i].ckpt) {
			st->lanes[i].ckpt = m;
			moved = true;
		}
	}
	if (moved && meta_put_ckpts(fh, st) < 0)
		ctl_log(CTL_LOG_WARN, "delivery stream %s: checkpoint not saved (records may be "
			"delivered again after a restart)", st->name);
}

static void job_finished(struct ctl_fh *fh, struct fh_job *j)
{
	struct fh_stream *st = j->owner;
	if (j->err < 0 && j->err != -EINVAL) {
		/* Not delivered (the worker stopped, or memory ran out): keep it in flight so the
		 * checkpoint stays before its records; a restart delivers them again. */
		ctl_log(CTL_LOG_ERR, "delivery stream %s: a buffer was not delivered (%s); it is "
			"delivered again after a restart", st->name, strerror(-j->err));
		return;
	}
	st->stats.out_records += j->ok_records;
	st->stats.out_bytes += j->ok_bytes;
	st->stats.out_objects += j->ok_objects;
	st->stats.failed_records += j->failed_records;
	st->stats.last_delivery_ms = wall_ms();
	for (struct fh_job **pp = &st->inflight; *pp; pp = &(*pp)->inext)
		if (*pp == j) {
			*pp = j->inext;
			st->n_inflight--;
			break;
		}
	fh_job_free(j);
	(void)fh;
}

int64_t ctl_fh_tick(struct ctl_fh *fh, int64_t now)
{
	/* Finished jobs and transform answers. */
	pthread_mutex_lock(&fh->done_mu);
	struct fh_job *done = fh->done;
	struct fh_ticket *tickets = fh->tickets;
	fh->done = NULL;
	fh->tickets = NULL;
	pthread_mutex_unlock(&fh->done_mu);
	for (struct fh_job *j = done, *nx; j; j = nx) {
		nx = j->next;
		job_finished(fh, j);
	}
	for (struct fh_ticket *t = tickets, *nx; t; t = nx) {
		nx = t->next;
		struct fh_job *j = t->job;
		if (j) {
			j->ticket = NULL;
			transform_apply(j->owner, j, t);
			job_dispatch(j->owner, j);
		}
		free(t->result);
		free(t);
	}
	int64_t next = CTL_LOOP_NEVER;
	for (unsigned i = 0; i < fh->n_streams; i++) {
		struct fh_stream *st = fh->streams[i];
		st->active = true;  /* CREATING until the first turn of the engine, as AWS reports */
		read_lanes(fh, st, now);
		/* Interval flushes. */
		for (struct fh_part *p = st->parts, *nx; p; p = nx) {
			nx = p->next;
			if (now - p->opened_ms >= st->dest->interval_ms &&
			    st->n_inflight < FH_INFLIGHT_MAX)
				part_flush(fh, st, p);
		}
		for (const struct fh_part *p = st->parts; p; p = p->next) {
			int64_t due = p->opened_ms + st->dest->interval_ms;
			if (st->n_inflight >= FH_INFLIGHT_MAX)
				continue;  /* woken when a job finishes */
			if (due < next)
				next = due;
		}
		checkpoint(fh, st);
		if (st->kinesis_src && now + FH_SOURCE_POLL_MS < next)
			next = now + FH_SOURCE_POLL_MS;
		if (st->log && now - st->retention_ms >= FH_RETENTION_EVERY_MS) {
			st->retention_ms = now;
			dp_shard_retention_run(st->log, now);
		}
	}
	if (next != CTL_LOOP_NEVER && next < now)
		next = now;
	return next;
}

/* ---- stats -------------------------------------------------------------------------------------- */

json_t *ctl_fh_stats(const struct ctl_fh *fh)
{
	json_t *arr = json_array();
	int64_t now = wall_ms();
	for (unsigned i = 0; fh && arr && i < fh->n_streams; i++) {
		const struct fh_stream *st = fh->streams[i];
		json_t *d = describe_json(st, now);
		json_t *m = json_incref(json_object_get(d, "DeliveryMetrics"));
		json_decref(d);
		json_object_set_new(m, "DeliveryStreamName", json_string(st->name));
		json_object_set_new(m, "PendingBytes", json_integer((json_int_t)st->part_bytes));
		json_object_set_new(m, "InflightBuffers", json_integer(st->n_inflight));
		json_array_append_new(arr, m);
	}
	return arr;
}

/* ---- registration ------------------------------------------------------------------------------- */

static const struct ctl_aws_op fh_ops[] = {
	{ "CreateDeliveryStream", op_create, NULL },
	{ "DescribeDeliveryStream", op_describe, NULL },
	{ "ListDeliveryStreams", op_list, NULL },
	{ "DeleteDeliveryStream", op_delete, NULL },
	{ "PutRecord", op_put_record, NULL },
	{ "PutRecordBatch", op_put_record_batch, NULL },
	{ "UpdateDestination", op_update_destination, NULL },
	{ "TagDeliveryStream", op_tag, NULL },
	{ "UntagDeliveryStream", op_untag, NULL },
	{ "ListTagsForDeliveryStream", op_list_tags, NULL },
};

int ctl_fh_register(struct ctl_fh *fh, struct ctl_aws *aws)
{
	struct ctl_aws_service s = {
		.target_prefix = "Firehose_20150804",
		.ops = fh_ops,
		.n_ops = sizeof(fh_ops) / sizeof(fh_ops[0]),
		.svc = fh,
		.cbor = NULL,
	};
	return ctl_aws_register(aws, &s);
}
