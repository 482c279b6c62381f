/* SPDX-License-Identifier: MIT */
/*
 * dp_dedup: the per-producer retry window (contract and eviction rules in dp_dedup.h).
 *
 * Layout: an array of producer slots in sets of WAYS, and one pool of groups, `entries` per
 * producer slot, allocated once. A slot's groups are scanned linearly: `entries` is tens, the
 * scan reads contiguous 24-byte records, and a lookup happens once per (frame, shard), not per
 * record.
 */
#include "dp_dedup.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>

#include "dp_log.h"

#define WAYS 4u
#define PRODUCERS_MAX (1u << 20)
#define WINDOW_MAX (1u << 20)
#define ENTRIES_MAX 4096u

struct group {
	uint64_t batch;
	uint64_t first_seq;
	uint32_t shard;
	uint32_t n;          /* 0: unused */
};

struct producer {
	uint64_t id;
	uint64_t max_batch;  /* B: the highest batch noted */
	uint64_t floor;      /* batches below it are no longer fully known */
	uint64_t used;       /* LRU tick; 0: free slot */
	struct group *groups;
};

struct dp_dedup {
	unsigned nproducers;  /* power of two, multiple of WAYS */
	unsigned window;
	unsigned entries;
	uint64_t tick;
	struct dp_dedup_stats st;
	struct group *pool;
	struct producer prod[];
};

int dp_dedup_new(unsigned producers, unsigned window, unsigned entries, struct dp_dedup **ret)
{
	struct dp_dedup *d;
	unsigned np = WAYS;

	if (producers < WAYS || producers > PRODUCERS_MAX || window == 0 || window > WINDOW_MAX ||
	    entries == 0 || entries > ENTRIES_MAX)
		return -EINVAL;
	while (np < producers)
		np <<= 1;
	d = calloc(1, sizeof(*d) + (size_t)np * sizeof(struct producer));
	if (!d)
		return -ENOMEM;
	d->pool = calloc((size_t)np * entries, sizeof(struct group));
	if (!d->pool)
		goto free_d;
	d->nproducers = np;
	d->window = window;
	d->entries = entries;
	for (unsigned i = 0; i < np; i++)
		d->prod[i].groups = d->pool + (size_t)i * entries;
	*ret = d;
	return 0;

free_d:
	free(d);
	return -ENOMEM;
}

void dp_dedup_free(struct dp_dedup *d)
{
	if (!d)
		return;
	free(d->pool);
	free(d);
}

void dp_dedup_stats_get(const struct dp_dedup *d, struct dp_dedup_stats *st)
{
	*st = d->st;
}

/* Producer ids are chosen by producers (random or sequential): mix before picking a set. */
static unsigned set_of(const struct dp_dedup *d, uint64_t id)
{
	id ^= id >> 33;
	id *= UINT64_C(0xff51afd7ed558ccd);
	id ^= id >> 33;
	return (unsigned)(id & (d->nproducers / WAYS - 1)) * WAYS;
}

static struct producer *producer_find(struct dp_dedup *d, uint64_t id)
{
	unsigned base = set_of(d, id);

	for (unsigned w = 0; w < WAYS; w++) {
		struct producer *p = &d->prod[base + w];

		if (p->used && p->id == id)
			return p;
	}
	return NULL;
}

/* A slot for a new producer: a free way, else the least recently used one (forgotten). */
static struct producer *producer_add(struct dp_dedup *d, uint64_t id, uint64_t batch)
{
	unsigned base = set_of(d, id);
	struct producer *victim = NULL;

	for (unsigned w = 0; w < WAYS; w++) {
		struct producer *p = &d->prod[base + w];

		if (!p->used) {
			victim = p;
			break;
		}
		if (!victim || p->used < victim->used)
			victim = p;
	}
	if (victim->used)
		d->st.producers_evicted++;
	victim->id = id;
	victim->max_batch = batch;
	victim->floor = 0;
	for (unsigned e = 0; e < d->entries; e++)
		victim->groups[e].n = 0;
	return victim;
}

static bool outside_window(const struct dp_dedup *d, const struct producer *p, uint64_t batch)
{
	return batch < p->floor || (batch <= p->max_batch && p->max_batch - batch >= d->window);
}

int dp_dedup_lookup(struct dp_dedup *d, uint64_t producer, uint64_t batch, uint32_t shard,
		    uint64_t *first_seq, uint32_t *n)
{
	struct producer *p = producer_find(d, producer);

	d->st.lookups++;
	if (!p)
		return DP_DEDUP_NEW;
	p->used = ++d->tick;
	if (outside_window(d, p, batch)) {
		d->st.stale++;
		return DP_DEDUP_STALE;
	}
	for (unsigned e = 0; e < d->entries; e++) {
		const struct group *g = &p->groups[e];

		if (g->n && g->batch == batch && g->shard == shard) {
			*first_seq = g->first_seq;
			*n = g->n;
			d->st.hits++;
			return DP_DEDUP_HIT;
		}
	}
	return DP_DEDUP_NEW;
}

int dp_dedup_note(struct dp_dedup *d, uint64_t producer, uint64_t batch, uint32_t shard,
		  uint64_t first_seq, uint32_t n)
{
	struct producer *p;
	struct group *slot = NULL, *lowest = NULL;

	if (n == 0 || n > UINT16_MAX || first_seq > DP_SEQ_MAX || n - 1 > DP_SEQ_MAX - first_seq)
		return -EINVAL;
	d->st.notes++;
	p = producer_find(d, producer);
	if (!p)
		p = producer_add(d, producer, batch);
	p->used = ++d->tick;
	if (batch > p->max_batch)
		p->max_batch = batch;
	if (outside_window(d, p, batch)) {
		d->st.notes_ignored++;
		return 0;
	}
	/* One pass: the same group (replace it), else the first reusable entry (unused, outside
	 * the window or below the floor), else the lowest batch held. */
	for (unsigned e = 0; e < d->entries; e++) {
		struct group *g = &p->groups[e];

		if (!g->n || outside_window(d, p, g->batch)) {
			if (!slot)
				slot = g;
			continue;
		}
		if (g->batch == batch && g->shard == shard) {
			slot = g;
			goto store;
		}
		if (!lowest || g->batch < lowest->batch)
			lowest = g;
	}
	if (slot)
		goto store;
	/* Full inside the window: the lowest batch goes, and with it any claim to know it. The
	 * floor rises above it, so that a lookup of that batch says STALE, never NEW. */
	d->st.entries_evicted++;
	if (batch <= lowest->batch) {
		/* The note is for the lowest batch itself (or lower): it cannot be kept either. */
		p->floor = batch + 1;
		d->st.notes_ignored++;
		return 0;
	}
	p->floor = lowest->batch + 1;
	slot = lowest;
store:
	*slot = (struct group){ .batch = batch, .first_seq = first_seq, .shard = shard, .n = n };
	return 1;
}
