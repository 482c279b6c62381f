/* SPDX-License-Identifier: MIT */
/*
 * dp_dedup: the per-producer retry window (contract and eviction rules in dp_dedup.h).
 *
 * Layout: an array of producer slots in sets of WAYS, and one pool allocated once holding, per
 * producer slot, a table indexed by batch number: `nslots` batch slots (a power of two, at
 * least the window when `entries` allows it), each with room for `per` groups (the shards one
 * batch puts on this worker). A lookup or a note reads one batch slot and its few groups: O(1)
 * whatever the window, and the slots in use are the ones of the batches in flight, adjacent in
 * memory because producers number batches in order.
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

struct group {
	uint64_t first_seq;
	uint32_t shard;
	uint32_t n;
};

/* The groups of one batch number (modulo nslots). */
struct bslot {
	uint64_t batch;
	uint32_t n;          /* groups held; 0: empty */
	uint32_t spilled;    /* more of this batch's groups are in the spill ring */
};

/* A group of a batch with more groups than its slot holds. */
struct sgroup {
	uint64_t batch;
	struct group g;
};

struct producer {
	uint64_t id;
	uint64_t max_batch;  /* B: the highest batch noted */
	uint64_t floor;      /* batches below it are no longer fully known */
	uint64_t used;       /* LRU tick; 0: free slot */
	struct bslot *slots;    /* nslots */
	struct group *groups;   /* nslots * per, slot i's at i * per */
	struct sgroup *spill;   /* `entries` of them, a ring in note order */
	uint32_t spill_head, spill_count;
};

struct dp_dedup {
	unsigned nproducers;  /* power of two, multiple of WAYS */
	unsigned window;
	unsigned entries;
	unsigned nslots;      /* power of two */
	unsigned per;         /* groups per batch slot */
	uint64_t tick;
	struct dp_dedup_stats st;
	struct bslot *slot_pool;
	struct group *group_pool;
	struct sgroup *spill_pool;
	struct producer prod[];
};

int dp_dedup_new(unsigned producers, unsigned window, unsigned entries, struct dp_dedup **ret)
{
	struct dp_dedup *d;
	unsigned np = WAYS, ns = 1, per = 1;

	if (producers < WAYS || producers > PRODUCERS_MAX || window == 0 || window > WINDOW_MAX ||
	    entries == 0 || entries > DP_DEDUP_ENTRIES_MAX)
		return -EINVAL;
	while (np < producers)
		np <<= 1;
	if (entries >= window) {
		/* The whole window, each batch with room for its share of the entries. */
		while (ns < window)
			ns <<= 1;
		per = (entries + window - 1) / window;
	} else {
		/* Fewer entries than batches: as many batch slots as entries, one group each. */
		while (ns * 2 <= entries)
			ns <<= 1;
	}
	d = calloc(1, sizeof(*d) + (size_t)np * sizeof(struct producer));
	if (!d)
		return -ENOMEM;
	d->slot_pool = calloc((size_t)np * ns, sizeof(struct bslot));
	d->group_pool = malloc((size_t)np * ns * per * sizeof(struct group));
	d->spill_pool = malloc((size_t)np * entries * sizeof(struct sgroup));
	if (!d->slot_pool || !d->group_pool || !d->spill_pool)
		goto free_d;
	d->nproducers = np;
	d->window = window;
	d->entries = entries;
	d->nslots = ns;
	d->per = per;
	for (unsigned i = 0; i < np; i++) {
		d->prod[i].slots = d->slot_pool + (size_t)i * ns;
		d->prod[i].groups = d->group_pool + (size_t)i * ns * per;
		d->prod[i].spill = d->spill_pool + (size_t)i * entries;
	}
	*ret = d;
	return 0;

free_d:
	free(d->slot_pool);
	free(d->group_pool);
	free(d->spill_pool);
	free(d);
	return -ENOMEM;
}

void dp_dedup_free(struct dp_dedup *d)
{
	if (!d)
		return;
	free(d->slot_pool);
	free(d->group_pool);
	free(d->spill_pool);
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
	victim->spill_head = victim->spill_count = 0;
	memset(victim->slots, 0, d->nslots * sizeof(struct bslot));
	return victim;
}

static bool outside_window(const struct dp_dedup *d, const struct producer *p, uint64_t batch)
{
	return batch < p->floor || (batch <= p->max_batch && p->max_batch - batch >= d->window);
}

static inline struct bslot *slot_of(const struct dp_dedup *d, const struct producer *p,
				    uint64_t batch)
{
	return &p->slots[batch & (d->nslots - 1)];
}

static inline struct group *groups_of(const struct dp_dedup *d, const struct producer *p,
				      const struct bslot *bs)
{
	return &p->groups[(size_t)(bs - p->slots) * d->per];
}

/* The spilled group (batch, shard), or NULL: a linear scan, only for batches that spilled. */
static struct group *spill_find(const struct dp_dedup *d, const struct producer *p,
				uint64_t batch, uint32_t shard)
{
	for (uint32_t k = 0; k < p->spill_count; k++) {
		uint32_t i = p->spill_head + k;
		if (i >= d->entries)
			i -= d->entries;
		struct sgroup *sg = &p->spill[i];
		if (sg->batch == batch && sg->g.shard == shard)
			return &sg->g;
	}
	return NULL;
}

/* Batch b is no longer fully known (its groups were dropped or one could not be kept). */
static void forget(struct producer *p, uint64_t b)
{
	if (b + 1 > p->floor)
		p->floor = b + 1;
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
	const struct bslot *bs = slot_of(d, p, batch);
	if (bs->n && bs->batch == batch) {
		const struct group *g = groups_of(d, p, bs);
		const struct group *hit = NULL;
		for (unsigned i = 0; i < bs->n && !hit; i++)
			if (g[i].shard == shard)
				hit = &g[i];
		if (!hit && bs->spilled)
			hit = spill_find(d, p, batch, shard);
		if (hit) {
			*first_seq = hit->first_seq;
			*n = hit->n;
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
	struct bslot *bs = slot_of(d, p, batch);
	if (bs->n && bs->batch != batch) {
		if (bs->batch > batch) {
			/* A newer batch holds the slot (a table smaller than the window): this one
			 * cannot be kept, and the floor rises above it. */
			d->st.entries_evicted++;
			forget(p, batch);
			d->st.notes_ignored++;
			return 0;
		}
		/* An older batch leaves the slot. Outside the window it is simply dropped; inside,
		 * the floor rises above it, so that a lookup of that batch says STALE, never NEW. */
		if (!outside_window(d, p, bs->batch)) {
			d->st.entries_evicted += bs->n;
			forget(p, bs->batch);
		}
		bs->n = 0;
		bs->spilled = 0;
	}
	if (!bs->n)
		bs->spilled = 0;
	bs->batch = batch;
	struct group *g = groups_of(d, p, bs);
	for (unsigned i = 0; i < bs->n; i++)
		if (g[i].shard == shard) {
			g[i].first_seq = first_seq;
			g[i].n = n;
			return 1;
		}
	if (bs->n < d->per) {
		g[bs->n++] = (struct group){ .first_seq = first_seq, .shard = shard, .n = n };
		return 1;
	}
	/* The batch touched more shards than its slot holds: the rest go to the spill ring. */
	struct group *sg = bs->spilled ? spill_find(d, p, batch, shard) : NULL;
	if (sg) {
		sg->first_seq = first_seq;
		sg->n = n;
		return 1;
	}
	if (p->spill_count == d->entries) {
		/* Full: the oldest spilled group goes; inside the window the floor rises above
		 * its batch. */
		struct sgroup *old = &p->spill[p->spill_head];
		if (!outside_window(d, p, old->batch)) {
			d->st.entries_evicted++;
			forget(p, old->batch);
		}
		p->spill_head = p->spill_head + 1 == d->entries ? 0 : p->spill_head + 1;
		p->spill_count--;
		if (outside_window(d, p, batch)) {
			d->st.notes_ignored++;
			return 0;
		}
	}
	uint32_t i = p->spill_head + p->spill_count;
	if (i >= d->entries)
		i -= d->entries;
	p->spill[i] = (struct sgroup){ .batch = batch,
				       .g = { .first_seq = first_seq, .shard = shard, .n = n } };
	p->spill_count++;
	bs->spilled = 1;
	return 1;
}
