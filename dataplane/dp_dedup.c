/* SPDX-License-Identifier: MIT */
/*
 * dp_dedup: the per-producer retry window (contract and eviction rules in dp_dedup.h).
 *
 * Layout: an array of producer slots in sets of WAYS, and one pool allocated once holding, per
 * producer slot, `entries` groups kept as a ring in the order they were noted, and an index
 * over them: chains of the groups of one batch number (modulo the index size). A lookup or a
 * note costs a short chain, whatever the window: the owner does one of each per (frame, shard),
 * hundreds of thousands a second, with windows of thousands of batches.
 */
#include "dp_dedup.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "dp_log.h"

#define WAYS 4u
#define PRODUCERS_MAX (1u << 20)
#define WINDOW_MAX (1u << 20)
#define NIL UINT32_MAX

struct group {
	uint64_t batch;
	uint64_t first_seq;
	uint32_t shard;
	uint32_t n;
	uint32_t next;       /* the next group of its hash chain, or NIL */
};

struct producer {
	uint64_t id;
	uint64_t max_batch;  /* B: the highest batch noted */
	uint64_t floor;      /* batches below it are no longer fully known */
	uint64_t used;       /* LRU tick; 0: free slot */
	uint32_t head;       /* the oldest group of the ring */
	uint32_t count;      /* groups held */
	struct group *groups;   /* entries of them, a ring in note order */
	uint32_t *bucket;       /* nbuckets chain heads */
};

struct dp_dedup {
	unsigned nproducers;  /* power of two, multiple of WAYS */
	unsigned window;
	unsigned entries;
	unsigned nbuckets;    /* power of two >= entries */
	uint64_t tick;
	struct dp_dedup_stats st;
	struct group *pool;
	uint32_t *buckets;
	struct producer prod[];
};

int dp_dedup_new(unsigned producers, unsigned window, unsigned entries, struct dp_dedup **ret)
{
	struct dp_dedup *d;
	unsigned np = WAYS, nb = 4;

	if (producers < WAYS || producers > PRODUCERS_MAX || window == 0 || window > WINDOW_MAX ||
	    entries == 0 || entries > DP_DEDUP_ENTRIES_MAX)
		return -EINVAL;
	while (np < producers)
		np <<= 1;
	while (nb < entries)
		nb <<= 1;
	d = calloc(1, sizeof(*d) + (size_t)np * sizeof(struct producer));
	if (!d)
		return -ENOMEM;
	d->pool = calloc((size_t)np * entries, sizeof(struct group));
	d->buckets = malloc((size_t)np * nb * sizeof(uint32_t));
	if (!d->pool || !d->buckets)
		goto free_d;
	memset(d->buckets, 0xff, (size_t)np * nb * sizeof(uint32_t));
	d->nproducers = np;
	d->window = window;
	d->entries = entries;
	d->nbuckets = nb;
	for (unsigned i = 0; i < np; i++) {
		d->prod[i].groups = d->pool + (size_t)i * entries;
		d->prod[i].bucket = d->buckets + (size_t)i * nb;
	}
	*ret = d;
	return 0;

free_d:
	free(d->pool);
	free(d->buckets);
	free(d);
	return -ENOMEM;
}

void dp_dedup_free(struct dp_dedup *d)
{
	if (!d)
		return;
	free(d->pool);
	free(d->buckets);
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
	victim->head = 0;
	victim->count = 0;
	memset(victim->bucket, 0xff, d->nbuckets * sizeof(uint32_t));
	return victim;
}

static bool outside_window(const struct dp_dedup *d, const struct producer *p, uint64_t batch)
{
	return batch < p->floor || (batch <= p->max_batch && p->max_batch - batch >= d->window);
}

/* A batch's groups share one chain, picked by the batch number itself: producers number
 * batches in order, so the chains in use (and the ring entries they lead to) are the few
 * recently touched ones, in cache, rather than random lines of a table of megabytes. */
static inline uint32_t *chain_of(const struct dp_dedup *d, const struct producer *p,
				 uint64_t batch, uint32_t shard)
{
	(void)shard;
	return &p->bucket[batch & (d->nbuckets - 1)];
}

static struct group *group_find(const struct dp_dedup *d, const struct producer *p,
				uint64_t batch, uint32_t shard)
{
	for (uint32_t i = *chain_of(d, p, batch, shard); i != NIL; i = p->groups[i].next) {
		struct group *g = &p->groups[i];
		if (g->batch == batch && g->shard == shard)
			return g;
	}
	return NULL;
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
	const struct group *g = group_find(d, p, batch, shard);
	if (g) {
		*first_seq = g->first_seq;
		*n = g->n;
		d->st.hits++;
		return DP_DEDUP_HIT;
	}
	return DP_DEDUP_NEW;
}

/* Forget the oldest group of a full ring: unlink it from its chain; when it is still inside the
 * window the floor rises above its batch (the table no longer knows all of that batch). */
static void group_evict(struct dp_dedup *d, struct producer *p)
{
	uint32_t i = p->head;
	struct group *g = &p->groups[i];
	uint32_t *pp = chain_of(d, p, g->batch, g->shard);
	while (*pp != i)
		pp = &p->groups[*pp].next;
	*pp = g->next;
	if (!outside_window(d, p, g->batch)) {
		d->st.entries_evicted++;
		if (g->batch + 1 > p->floor)
			p->floor = g->batch + 1;
	}
	p->head = p->head + 1 == d->entries ? 0 : p->head + 1;
	p->count--;
}

int dp_dedup_note(struct dp_dedup *d, uint64_t producer, uint64_t batch, uint32_t shard,
		  uint64_t first_seq, uint32_t n)
{
	struct producer *p;

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
	struct group *g = group_find(d, p, batch, shard);
	if (g) {
		g->first_seq = first_seq;
		g->n = n;
		return 1;
	}
	/* Full: the oldest noted group goes (in practice the lowest batch: producers number
	 * batches in order). Outside the window it is simply dropped; inside, the floor rises
	 * above it, so that a lookup of that batch says STALE, never NEW. */
	if (p->count == d->entries) {
		group_evict(d, p);
		if (outside_window(d, p, batch)) {
			/* The note was for that batch or a lower one: it cannot be kept either. */
			d->st.notes_ignored++;
			return 0;
		}
	}
	uint32_t i = p->head + p->count;
	if (i >= d->entries)
		i -= d->entries;
	uint32_t *chain = chain_of(d, p, batch, shard);
	p->groups[i] = (struct group){ .batch = batch, .first_seq = first_seq, .shard = shard,
				       .n = n, .next = *chain };
	*chain = i;
	p->count++;
	return 1;
}
