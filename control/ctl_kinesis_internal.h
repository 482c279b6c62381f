/* SPDX-License-Identifier: MIT */
/*
 * ctl_kinesis internals shared by its files: ctl_kinesis.c (streams, metadata, lookups),
 * ctl_kinesis_data.c (PutRecord(s), iterators, GetRecords) and ctl_kinesis_reshard.c
 * (SplitShard, MergeShards, UpdateShardCount).
 */
#ifndef CTL_KINESIS_INTERNAL_H
#define CTL_KINESIS_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "ctl_kinesis.h"
#include "dp_hash.h"
#include "dp_ingest.h"
#include "dp_seqno.h"

#define K_NAME_MAX 128
#define K_RECORD_DEFAULT_KIB 1024u
#define K_TOKEN_TTL_MS (300 * 1000)

struct k_routes;

struct k_stream;

struct k_shard {
	struct k_stream *st;
	uint32_t index;
	dp_u128 start, end;       /* hash key range, inclusive */
	int64_t parent, adjacent; /* shard indexes, -1 for none */
	int64_t created_ms;
	int64_t closed_ms;        /* 0 while open */
	uint64_t end_seq;         /* when closed: last sequence counter the shard holds */
	struct dp_shard *log;      /* owned by its worker (ctl_shards); read here */
};

struct k_stream {
	char name[K_NAME_MAX + 1];
	char region[32];
	char status[16];
	int64_t created_ms;
	bool on_demand;
	unsigned retention_h;
	unsigned max_record_kib;
	uint32_t next_index;
	struct k_shard **shards;  /* every shard, by index order */
	unsigned n_shards;
	struct k_shard **open;    /* open shards in hash order; map entry i is open[i] */
	unsigned n_open;
	struct dp_shard_map *map;
};

struct ctl_kinesis {
	struct ctl_kinesis_config cfg;
	struct ctl_meta *meta;
	struct ctl_shards *shards;
	struct dp_ingest_group *g;  /* the engines that own the shard logs */
	struct k_routes *routes;    /* the maps the published routing table points to */
	unsigned puts_out;          /* shard batches submitted and not yet reaped */
	struct dp_hasher *hasher;
	struct k_stream **streams;  /* sorted by name */
	unsigned n_streams;
	uint8_t iter_key[32];
};

/* ctl_kinesis.c */
struct k_stream *k_stream_find(struct ctl_kinesis *k, const char *name);
/* Resolve StreamName / StreamARN of the call's input (obj NULL) and answer the error when absent
 * or unknown. Returns the stream or NULL (answered). */
struct k_stream *k_stream_arg(struct ctl_kinesis *k, struct ctl_aws_call *c);
/* Pick the stream name from StreamName and/or StreamARN (either may be NULL) with AWS's checks.
 * Returns 1 (*out set), 0 when neither was given and !required, or -1 after answering. */
int k_stream_name_pick(struct ctl_aws_call *c, const char *name, const char *arn,
		       const char **out, bool required);
/* The stream called name, or NULL after answering ResourceNotFoundException. */
struct k_stream *k_stream_named(struct ctl_kinesis *k, struct ctl_aws_call *c, const char *name);
struct k_shard *k_shard_find(struct k_stream *st, uint32_t index);
/* Resolve a ShardId string ("shardId-000000000001", also "1" as kinesalite accepts). */
struct k_shard *k_shard_arg(struct k_stream *st, struct ctl_aws_call *c, const char *field);
void k_stream_arn(const struct k_stream *st, const char *account, char *out, size_t n);
json_t *k_shard_json(const struct k_shard *sh);
void k_shard_seqno(const struct k_shard *sh, uint64_t counter, int64_t arrival_ms, char *out);
/* Rebuild the routing map of st from its open shards. Returns 0 or -ENOMEM. */
int k_stream_remap(struct k_stream *st);
/* Persist one shard's row (insert or replace), inside the caller's transaction. */
int k_meta_put_shard(struct ctl_kinesis *k, const struct k_shard *sh);
int k_meta_put_stream(struct ctl_kinesis *k, const struct k_stream *st);
/* Create a new shard with the next index (log + memory, not yet in the metadata). */
int k_shard_new(struct ctl_kinesis *k, struct k_stream *st, dp_u128 start, dp_u128 end,
		int64_t parent, int64_t adjacent, int64_t now_ms, struct k_shard **ret);
unsigned k_open_shards_total(const struct ctl_kinesis *k);

/* ctl_kinesis_data.c */
void k_op_put_record(void *svc, struct ctl_aws_call *c, const char *body, size_t len);
void k_op_put_records(void *svc, struct ctl_aws_call *c, const char *body, size_t len);
void k_op_get_shard_iterator(void *svc, struct ctl_aws_call *c);
void k_op_get_records(void *svc, struct ctl_aws_call *c);
/* Reap finished puts until none is outstanding (answering them). */
void k_puts_drain(struct ctl_kinesis *k);

/* ctl_kinesis_route.c */
/* Publish the routing table of every stream's open shards to the engines (after any change to
 * streams or shards). Returns 0 or -ENOMEM (the previous table stays). */
int k_routes_publish(struct ctl_kinesis *k);
/* Wait until no engine can still route by an older table and every accepted put is answered:
 * from then on, shards that left the table receive no records. */
void k_routes_settle(struct ctl_kinesis *k);
/* Publish no table and release the maps (at shutdown). */
void k_routes_clear(struct ctl_kinesis *k);

/* ctl_kinesis_reshard.c */
void k_op_split_shard(void *svc, struct ctl_aws_call *c);
void k_op_merge_shards(void *svc, struct ctl_aws_call *c);
void k_op_update_shard_count(void *svc, struct ctl_aws_call *c);
/* Close an open shard at now (its log stays readable). Memory only; caller persists. */
void k_shard_close(struct k_shard *sh, int64_t now_ms);

#endif
