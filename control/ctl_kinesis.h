/* SPDX-License-Identifier: MIT */
/*
 * ctl_kinesis: Kinesis Data Streams (Kinesis_20131202.*) on the appliance's shard logs.
 *
 * What it owns. The streams: their definitions, shards, hash ranges, lineage, retention and tags
 * in the metadata database (tables kinesis_*, written in transactions before an answer says a
 * change happened), and the in-memory routing built from them. Every shard is a dp_shard log
 * under DATA_DIR/streams/<stream>/shardId-N/ held by ctl_shards; PutRecord(s) append to the
 * owning shard and answer only when the records are acknowledged by the log (durable by
 * default), so an answered record is never lost. Sequence numbers are the log's counters
 * rendered by dp_seqno; shard iterators are stateless tokens authenticated with a key kept in
 * the metadata, so they survive restarts and cannot be forged.
 *
 * Threads. The control thread owns everything here. The shard logs belong to their owner
 * workers (ctl_shards): a put is routed here and submitted to the owner of its shard
 * (dp_ingest_put_submit), which appends it in the same order as the records that reach it from
 * the NICs; the answer goes out when the owner hands the put back (ctl_kinesis_reap, run by
 * the event loop when dp_ingest_event_fd is readable). Reads (GetRecords) use dp_reader on the
 * control thread, which dp_log allows from any thread below the readable mark. The routing table
 * of the engines is republished after every change to streams or shards.
 */
#ifndef CTL_KINESIS_H
#define CTL_KINESIS_H

#include <stdint.h>

#include "ctl_aws.h"
#include "ctl_meta.h"
#include "ctl_shards.h"
#include "dp_log.h"

struct ctl_kinesis;

struct ctl_kinesis_config {
	unsigned shard_limit;          /* open shards over all streams; default 512 */
	unsigned default_retention_h;  /* for new streams; 24 */
	unsigned iterator_ttl_s;       /* shard iterator and NextToken lifetime; 300 as AWS */
};

/*
 * Load every stream from the metadata (creating the tables on first use) and attach each shard
 * to its open log in shards (creating missing logs). Shard logs on disk that no stream names are
 * reported and left alone. Returns 0 or a negative errno after logging.
 */
int ctl_kinesis_new(const struct ctl_kinesis_config *cfg, struct ctl_meta *meta,
		    struct ctl_shards *shards, struct ctl_kinesis **ret);
/* Detaches from the shard logs (which must still be open) and frees. NULL is accepted. */
void ctl_kinesis_free(struct ctl_kinesis *k);

/* Wait until every accepted put is handed back by its owner and answered. Used before
 * stopping. */
void ctl_kinesis_drain(struct ctl_kinesis *k);

/* The largest record of a stream's shard logs, from the metadata (meta is a struct ctl_meta *;
 * 0 when unknown): the ctl_shards_record_fn used when the logs are opened at start. */
uint32_t ctl_kinesis_max_record(void *meta, const char *stream);

/* Register the Kinesis_20131202 operations. */
int ctl_kinesis_register(struct ctl_kinesis *k, struct ctl_aws *aws);

/* Answer the puts their owners handed back (dp_ingest_put_reap). Control thread. */
void ctl_kinesis_reap(struct ctl_kinesis *k);

/* Streams and open shards, for status reports. */
void ctl_kinesis_counts(const struct ctl_kinesis *k, unsigned *streams, unsigned *open_shards);

#endif
