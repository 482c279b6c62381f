/* SPDX-License-Identifier: MIT */
/*
 * ctl_kinesis resharding: SplitShard, MergeShards, UpdateShardCount (UNIFORM_SCALING).
 * A parent shard is closed at the moment of the change: its last sequence number becomes its
 * EndingSequenceNumber, it stays readable until retention removes it, and new records route to
 * the children. UpdateShardCount is a series of splits at the target's even boundaries followed
 * by merges inside each target range, so every new shard has at most two parents, as AWS does,
 * and consumers can follow ChildShards. Each operation commits its shards in one transaction;
 * if that commit fails the module stops accepting puts (fail-stop) rather than route records to
 * shards the metadata does not know.
 */
#include "ctl_kinesis_internal.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl_log.h"

void k_shard_close(struct k_shard *sh, int64_t now_ms)
{
	uint64_t next = dp_shard_next_seq(sh->log);
	sh->closed_ms = now_ms > sh->created_ms ? now_ms : sh->created_ms + 1;
	sh->end_seq = next > 0 ? next - 1 : 0;
}

/* Split without AWS's argument rules (callers check them). */
static int split(struct ctl_kinesis *k, struct k_shard *p, dp_u128 at, int64_t now)
{
	struct k_shard *a, *b;
	int r = k_shard_new(k, p->st, p->start, at - 1, p->index, -1, now, &a);
	if (r == 0)
		r = k_shard_new(k, p->st, at, p->end, p->index, -1, now, &b);
	if (r == 0)
		k_shard_close(p, now);
	return r;
}

static int merge(struct ctl_kinesis *k, struct k_shard *x, struct k_shard *y, int64_t now)
{
	struct k_shard *m;
	dp_u128 s = x->start < y->start ? x->start : y->start;
	dp_u128 e = x->end > y->end ? x->end : y->end;
	int r = k_shard_new(k, x->st, s, e, x->index, y->index, now, &m);
	if (r == 0) {
		k_shard_close(x, now);
		k_shard_close(y, now);
	}
	return r;
}

/* Persist every shard from index `from` on and every shard closed by this change. */
static int commit(struct ctl_kinesis *k, struct k_stream *st, unsigned from, int64_t now)
{
	int r = k_stream_remap(st);
	if (r == 0)
		r = k_routes_publish(k);
	if (r == 0) {
		/* The closed shards' last numbers are final once nothing routes to them any more. */
		k_routes_settle(k);
		for (unsigned i = 0; i < st->n_shards; i++)
			if (st->shards[i]->closed_ms >= now)
				k_shard_close(st->shards[i], st->shards[i]->closed_ms);
	}
	if (r == 0 && (r = ctl_meta_begin(k->meta)) == 0) {
		r = k_meta_put_stream(k, st);
		for (unsigned i = 0; i < st->n_shards && r == 0; i++)
			if (i >= from || st->shards[i]->closed_ms >= now)
				r = k_meta_put_shard(k, st->shards[i]);
		r = r ? (ctl_meta_rollback(k->meta), r) : ctl_meta_commit(k->meta);
	}
	if (r < 0) {
		snprintf(st->status, sizeof(st->status), "FAILED");
		ctl_log(CTL_LOG_ERR, "stream %s: resharding could not be saved (%s); the stream "
			"refuses writes until ingestd restarts with a working data directory",
			st->name, strerror(-r));
	}
	return r;
}

static bool check_active(struct ctl_aws_call *c, const struct k_stream *st)
{
	if (strcmp(st->status, "ACTIVE") != 0) {
		ctl_aws_inuse(c, "Stream %s under account %s not ACTIVE, instead in state %s",
			      st->name, ctl_aws_account(c), st->status);
		return false;
	}
	if (st->on_demand) {
		ctl_aws_err(c, 400, "ValidationException", "This operation is not supported for a "
			    "stream in ON_DEMAND mode.");
		return false;
	}
	return true;
}

static bool check_open(struct ctl_aws_call *c, const struct k_shard *sh)
{
	if (!sh->closed_ms)
		return true;
	char id[DP_SHARD_ID_LEN + 1];
	dp_shard_id_format(sh->index, id);
	ctl_aws_err(c, 400, "ResourceInUseException", "Shard %s in stream %s under account %s has "
		    "already been merged or split, and thus is not eligible for merging or "
		    "splitting.", id, sh->st->name, ctl_aws_account(c));
	return false;
}

static bool check_limit(struct ctl_kinesis *k, struct ctl_aws_call *c, unsigned more)
{
	if (k_open_shards_total(k) + more <= k->cfg.shard_limit)
		return true;
	ctl_aws_limit(c, "This request would exceed the shard limit for the account %s in %s. "
		      "Current shard count for the account: %u. Limit: %u. Raise --shard-limit to "
		      "allow more.", ctl_aws_account(c), ctl_aws_region(c), k_open_shards_total(k),
		      k->cfg.shard_limit);
	return false;
}

void k_op_split_shard(void *svc, struct ctl_aws_call *c)
{
	struct ctl_kinesis *k = svc;
	const char *nk;
	if (ctl_aws_str(c, NULL, "NewStartingHashKey", 1, 39, true, &nk) < 0)
		return;
	struct k_stream *st = k_stream_arg(k, c);
	if (!st || !check_active(c, st))
		return;
	struct k_shard *sh = k_shard_arg(st, c, "ShardToSplit");
	if (!sh || !check_open(c, sh) || !check_limit(k, c, 1))
		return;
	dp_u128 at;
	if (dp_u128_parse(nk, strlen(nk), &at) < 0) {
		ctl_aws_validation(c, nk, "newStartingHashKey",
				   "Member must satisfy regular expression pattern: 0|([1-9]\\d{0,38})");
		return;
	}
	if (!(at > sh->start + 1 && at < sh->end)) {
		char s[DP_U128_DIGITS + 1], e[DP_U128_DIGITS + 1];
		dp_u128_format(sh->start, s);
		dp_u128_format(sh->end, e);
		ctl_aws_invalid(c, "NewStartingHashKey %s used in SplitShard() on shard %u in stream "
				"%s under account %s is not both greater than one plus the shard's "
				"StartingHashKey %s and less than the shard's EndingHashKey %s.", nk,
				sh->index, st->name, ctl_aws_account(c), s, e);
		return;
	}
	int64_t now = ctl_aws_now_ms(c);
	unsigned from = st->n_shards;
	int r = split(k, sh, at, now);
	if (r == 0)
		r = commit(k, st, from, now);
	if (r < 0) {
		ctl_aws_internal(c, "SplitShard failed: %s (see the daemon's log)", strerror(-r));
		return;
	}
	ctl_aws_ok(c, NULL);
}

void k_op_merge_shards(void *svc, struct ctl_aws_call *c)
{
	struct ctl_kinesis *k = svc;
	struct k_stream *st = k_stream_arg(k, c);
	if (!st || !check_active(c, st))
		return;
	struct k_shard *x = k_shard_arg(st, c, "ShardToMerge");
	if (!x)
		return;
	struct k_shard *y = k_shard_arg(st, c, "AdjacentShardToMerge");
	if (!y || !check_open(c, x) || !check_open(c, y))
		return;
	if (x == y || !(x->end + 1 == y->start || y->end + 1 == x->start)) {
		char a[DP_SHARD_ID_LEN + 1], b[DP_SHARD_ID_LEN + 1];
		dp_shard_id_format(x->index, a);
		dp_shard_id_format(y->index, b);
		ctl_aws_invalid(c, "Shards %s and %s in stream %s under account %s are not an "
				"adjacent pair of shards eligible for merging", a, b, st->name,
				ctl_aws_account(c));
		return;
	}
	int64_t now = ctl_aws_now_ms(c);
	unsigned from = st->n_shards;
	int r = merge(k, x, y, now);
	if (r == 0)
		r = commit(k, st, from, now);
	if (r < 0) {
		ctl_aws_internal(c, "MergeShards failed: %s (see the daemon's log)", strerror(-r));
		return;
	}
	ctl_aws_ok(c, NULL);
}

/* The open shard containing hash h. */
static struct k_shard *open_at(struct k_stream *st, dp_u128 h)
{
	return k_shard_find(st, (uint32_t)dp_shard_map_lookup(st->map, h));
}

void k_op_update_shard_count(void *svc, struct ctl_aws_call *c)
{
	struct ctl_kinesis *k = svc;
	int64_t target;
	const char *scaling;
	if (ctl_aws_int(c, NULL, "TargetShardCount", 1, 10000, true, &target) < 0 ||
	    ctl_aws_str(c, NULL, "ScalingType", 1, 32, true, &scaling) < 0)
		return;
	if (strcmp(scaling, "UNIFORM_SCALING") != 0) {
		ctl_aws_validation(c, scaling, "scalingType",
				   "Member must satisfy enum value set: [UNIFORM_SCALING]");
		return;
	}
	struct k_stream *st = k_stream_arg(k, c);
	if (!st || !check_active(c, st))
		return;
	int64_t cur = st->n_open;
	if (target > 2 * cur || 2 * target < cur) {
		ctl_aws_invalid(c, "UpdateShardCount cannot scale up over double your current open "
				"shard count (%" PRId64 ") or down below half your current open shard "
				"count. Requested target: %" PRId64 ".", cur, target);
		return;
	}
	if (target > cur && !check_limit(k, c, (unsigned)(target - cur)))
		return;
	int64_t now = ctl_aws_now_ms(c);
	unsigned from = st->n_shards;
	int r = 0;
	/* Splits: make every boundary of the even target split a shard boundary. */
	for (uint32_t i = 1; i < (uint32_t)target && r == 0; i++) {
		dp_u128 s, e;
		dp_hash_range_even((uint32_t)target, i, &s, &e);
		struct k_shard *sh = open_at(st, s);
		if (sh->start != s) {
			r = split(k, sh, s, now);
			if (r == 0)
				r = k_stream_remap(st);
		}
	}
	/* Merges: inside each target range, merge neighbours until one shard is left. */
	for (uint32_t i = 0; i < (uint32_t)target && r == 0; i++) {
		dp_u128 s, e;
		dp_hash_range_even((uint32_t)target, i, &s, &e);
		for (;;) {
			struct k_shard *a = open_at(st, s);
			if (a->end >= e || r != 0)
				break;
			struct k_shard *b = open_at(st, a->end + 1);
			r = merge(k, a, b, now);
			if (r == 0)
				r = k_stream_remap(st);
		}
	}
	if (r == 0)
		r = commit(k, st, from, now);
	if (r < 0) {
		ctl_aws_internal(c, "UpdateShardCount failed: %s (see the daemon's log)", strerror(-r));
		return;
	}
	char arn[512];
	k_stream_arn(st, ctl_aws_account(c), arn, sizeof(arn));
	ctl_aws_ok(c, json_pack("{s:s, s:I, s:I, s:s}", "StreamName", st->name, "CurrentShardCount",
				(json_int_t)cur, "TargetShardCount", (json_int_t)target, "StreamARN",
				arn));
}
