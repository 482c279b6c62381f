/* SPDX-License-Identifier: MIT */
/*
 * dp_ingest: frames in, groups appended on their owners' logs, acks out once durable
 * (contract in dp_ingest.h; wire rules in docs/protocol.md).
 *
 * Life of a frame on worker w. dp_ingest_frame() parses it, takes a pending-frame slot, copies
 * the datagram into the slot (the records must outlive the call while another worker or the disk
 * works on them), routes every record, and sorts the records into groups by shard, keeping frame
 * order inside each group. A group whose shard w owns is handled at once (owner_take); the others
 * go into the ring w -> owner as a pointer to the slot and the group's index: the owner reads the
 * records from w's slot, which w does not touch until the owner replies (zero-copy between cores).
 * The owner answers every group through one path, deliver(): immediately for a status that needs
 * no disk (stale, read-only, a retry whose count changed), or from the await list once the log's
 * ack mark covers the group's last record. deliver() marks the group done on w (directly, or
 * with a reply in the ring owner -> w); the last group done builds the frame's ack.
 *
 * Rings are single-producer single-consumer arrays of fixed-size messages with acquire/release
 * indexes: one per (source worker, destination worker) pair and one control -> worker. DPDK's
 * rte_ring would do the same job, but this library stays free of DPDK so that the unit tests and
 * fuzzers run it on any machine (dataplane/meson.build); the messages are 32 bytes, copied.
 */
#include "dp_ingest.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "dp_dedup.h"
#include "dp_hcache.h"

/* ---- rings ------------------------------------------------------------------------------------ */

enum msg_kind {
	MSG_GROUP = 1, /* source -> owner: append group gidx of frame pf */
	MSG_REPLY,     /* owner -> source: group gidx of pf is answered */
	MSG_OPEN,      /* control -> owner: open shard */
	MSG_CLOSE,     /* control -> owner: close shard */
	MSG_PUT,       /* control -> owner: append a control-plane put */
	MSG_CALL,      /* control -> owner: run a function on the owner's thread */
};

struct pframe;

struct msg {
	uint8_t kind;
	uint8_t status;
	uint16_t gidx;
	uint16_t src;
	union {
		struct pframe *pf;
		struct dp_ingest_put *put;
		struct dp_ingest_call *call;
	};
	struct dp_ingest_shard *shard;
	uint64_t first_seq;
};

struct ring {
	_Alignas(64) _Atomic uint32_t head; /* next slot the producer writes */
	_Alignas(64) _Atomic uint32_t tail; /* next slot the consumer reads */
	_Alignas(64) uint32_t mask;
	struct msg *slots;
};

static int ring_init(struct ring *r, unsigned entries)
{
	r->slots = calloc(entries, sizeof(*r->slots));
	if (!r->slots)
		return -ENOMEM;
	r->mask = entries - 1;
	atomic_init(&r->head, 0);
	atomic_init(&r->tail, 0);
	return 0;
}

static bool ring_push(struct ring *r, const struct msg *m)
{
	uint32_t h = atomic_load_explicit(&r->head, memory_order_relaxed);
	uint32_t t = atomic_load_explicit(&r->tail, memory_order_acquire);
	if (h - t > r->mask)
		return false;
	r->slots[h & r->mask] = *m;
	atomic_store_explicit(&r->head, h + 1, memory_order_release);
	return true;
}

/* Peek at the oldest message without consuming it (NULL when empty). */
static const struct msg *ring_peek(struct ring *r)
{
	uint32_t t = atomic_load_explicit(&r->tail, memory_order_relaxed);
	uint32_t h = atomic_load_explicit(&r->head, memory_order_acquire);
	return h == t ? NULL : &r->slots[t & r->mask];
}

static void ring_pop(struct ring *r)
{
	uint32_t t = atomic_load_explicit(&r->tail, memory_order_relaxed);
	atomic_store_explicit(&r->tail, t + 1, memory_order_release);
}

/* ---- routing table ---------------------------------------------------------------------------- */

struct tstream {
	char name[DP_FRAME_STREAM_MAX];
	uint8_t name_len;
	const struct dp_shard_map *map;
	struct dp_ingest_shard **shards; /* sorted by info.shard_index */
	unsigned nshards;
};

/* An object waiting for its grace periods (dp_ingest_retire). */
struct retired {
	void *p;
	void (*free_fn)(void *);
	uint64_t epoch;  /* freed once every worker recorded this epoch */
	bool embedded;   /* part of *p (a table's own node): not freed separately */
	struct retired *next;
};

struct dp_ingest_table {
	struct tstream *streams; /* sorted by (name_len, name) */
	unsigned n;
	struct retired node;     /* a replaced table retires without allocating */
};

/* Shards per stream: the group sort packs a shard's position into 22 bits. */
#define TABLE_SHARDS_MAX (1u << 21)

static int tstream_cmp(const char *a, unsigned al, const char *b, unsigned bl)
{
	if (al != bl)
		return al < bl ? -1 : 1;
	return memcmp(a, b, al);
}

static int stream_sort_cmp(const void *x, const void *y)
{
	const struct tstream *a = x, *b = y;
	return tstream_cmp(a->name, a->name_len, b->name, b->name_len);
}

static int shard_sort_cmp(const void *x, const void *y)
{
	uint32_t a = (*(struct dp_ingest_shard *const *)x)->info.shard_index;
	uint32_t b = (*(struct dp_ingest_shard *const *)y)->info.shard_index;
	return a < b ? -1 : a > b;
}

void dp_ingest_table_free(struct dp_ingest_table *t)
{
	if (!t)
		return;
	for (unsigned i = 0; i < t->n; i++)
		free(t->streams[i].shards);
	free(t->streams);
	free(t);
}

static void table_free_cb(void *p)
{
	dp_ingest_table_free(p);
}

int dp_ingest_table_new(const struct dp_ingest_stream_def *defs, unsigned n,
			struct dp_ingest_table **ret)
{
	if ((n && !defs) || !ret)
		return -EINVAL;
	struct dp_ingest_table *t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	t->streams = calloc(n ? n : 1, sizeof(*t->streams));
	if (!t->streams) {
		free(t);
		return -ENOMEM;
	}
	int r = -EINVAL;
	for (unsigned i = 0; i < n; i++) {
		const struct dp_ingest_stream_def *d = &defs[i];
		struct tstream *s = &t->streams[i];
		if (!d->name || d->name_len == 0 || d->name_len > DP_FRAME_STREAM_MAX || !d->map ||
		    !d->shards || d->nshards == 0 || d->nshards > TABLE_SHARDS_MAX)
			goto err;
		s->shards = malloc(d->nshards * sizeof(*s->shards));
		if (!s->shards) {
			r = -ENOMEM;
			goto err;
		}
		t->n = i + 1;
		memcpy(s->name, d->name, d->name_len);
		s->name_len = (uint8_t)d->name_len;
		s->map = d->map;
		s->nshards = d->nshards;
		for (unsigned k = 0; k < d->nshards; k++) {
			if (!d->shards[k])
				goto err;
			s->shards[k] = d->shards[k];
		}
		qsort(s->shards, s->nshards, sizeof(*s->shards), shard_sort_cmp);
		for (unsigned k = 1; k < s->nshards; k++)
			if (s->shards[k]->info.shard_index == s->shards[k - 1]->info.shard_index)
				goto err;
	}
	qsort(t->streams, n, sizeof(*t->streams), stream_sort_cmp);
	for (unsigned i = 1; i < n; i++)
		if (stream_sort_cmp(&t->streams[i - 1], &t->streams[i]) == 0)
			goto err;
	t->n = n;
	*ret = t;
	return 0;
err:
	dp_ingest_table_free(t);
	return r;
}

static const struct tstream *table_find(const struct dp_ingest_table *t, const char *name,
					unsigned len)
{
	if (!t)
		return NULL;
	unsigned lo = 0, hi = t->n;
	while (lo < hi) {
		unsigned mid = lo + (hi - lo) / 2;
		int c = tstream_cmp(t->streams[mid].name, t->streams[mid].name_len, name, len);
		if (c == 0)
			return &t->streams[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

/* Position of shard_index in the stream's sorted list, or -1. */
static int stream_shard_pos(const struct tstream *s, uint32_t shard_index)
{
	unsigned lo = 0, hi = s->nshards;
	while (lo < hi) {
		unsigned mid = lo + (hi - lo) / 2;
		uint32_t v = s->shards[mid]->info.shard_index;
		if (v == shard_index)
			return (int)mid;
		if (v < shard_index)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

/* ---- engine state ----------------------------------------------------------------------------- */

#define NO_GROUP 0xffffu

struct pgroup {
	struct dp_ingest_shard *shard;
	uint32_t shard_index;
	uint16_t owner;
	uint16_t first;  /* index into pframe.order */
	uint16_t n;
	uint8_t status;
	bool done;
	uint64_t first_seq;
};

/* A pending frame. Its arrays live in a slot of one of two sizes (struct pclass): most frames
 * fit a small slot (SMALL_RECS records, SMALL_BYTES bytes), so that thousands of them can be in
 * flight without touching hundreds of megabytes; the few large slots take any frame. */
struct pframe {
	bool used;
	bool no_ack;
	bool has_reasm;
	uint8_t cls;                /* the struct pclass the slot came from */
	uint16_t count;
	uint16_t ngroups;
	uint16_t groups_left;
	struct dp_ingest_src src;
	uint64_t producer, batch;
	int64_t ts_ms;
	size_t len;                 /* the frame's length: the ack's cap */
	struct dp_reasm_rec rr;     /* the completed chunked record, held until the ack */
	/* each sized for the slot's class: */
	uint16_t *grp_of;           /* group of record i, or NO_GROUP */
	uint16_t *rank;             /* its position inside the group */
	uint16_t *order;            /* records in group order */
	uint8_t *status0;           /* status of a record that has no group */
	struct dp_record_in *recs;  /* frame order, pointing into buf */
	struct pgroup *groups;
	uint8_t *buf;
};

#define SMALL_RECS 64u
#define SMALL_BYTES 2048u
#define LARGE_DEFAULT 64u

/* Slots of one size: a stack of free frames over one allocation. */
struct pclass {
	struct pframe **free;
	unsigned nfree;
	unsigned cap_recs;
	size_t cap_bytes;
	void *mem;
};

#define AW_NIL UINT32_MAX

enum aw_kind {
	AW_WAIT = 0, /* appended: answered when its shard's ack mark reaches end */
	AW_BLOCKED,  /* not appended yet: its shard's staging buffers were both busy */
	AW_PARKED,   /* answered; the reply waits for room in its ring */
};

/*
 * A group this worker (the owner) holds: an entry of the await pool, linked into one FIFO: its
 * shard's wait list (in append order, so the ack mark answers a prefix), its shard's blocked
 * list (in arrival order), or the engine's parked replies. Nothing is ever scanned: a shard's
 * lists are looked at when its ack mark moves (the committer's callback), a flush completes or
 * it fails; the parked list only while replies are parked.
 */
struct await {
	struct dp_ingest_shard *shard;
	struct pframe *pf;
	uint64_t end;        /* answered when the ack mark reaches it */
	uint64_t first_seq;
	uint32_t next;       /* the next entry of its FIFO, or of the free list; AW_NIL */
	uint16_t gidx;
	uint16_t src;
	uint8_t status;
	uint8_t kind;        /* enum aw_kind */
};

struct fifo {
	uint32_t head, tail;
};

struct dp_ingest {
	struct dp_ingest_group *g;
	unsigned idx;
	struct dp_committer *c;
	struct dp_dedup *dedup;
	struct dp_hcache *hc;
	struct dp_reasm *reasm;
	struct pframe *pf;       /* pending_frames slots */
	unsigned npf, pf_used;
	struct pclass cls[2];    /* [0] small, [1] large */
	struct await *aw;        /* the await pool */
	unsigned naw, aw_max;
	uint32_t aw_free;        /* free list through await.next */
	struct fifo parked;      /* replies waiting for ring room */
	struct dp_ingest_shard *ready_head; /* shards whose ack mark moved or that failed */
	struct dp_ingest_shard **own;       /* open shards this worker owns */
	unsigned nown, own_cap;
	unsigned nblocked;       /* groups on blocked lists */
	int64_t blocked_ms;      /* the millisecond of the last sweep of the blocked lists */
	bool puts_check;         /* a mark moved or a put was appended: look at the waiting puts */
	struct ring **in;        /* in[s]: ring from worker s (NULL for s == idx) */
	struct ring **out;       /* out[d]: ring to worker d */
	struct ring ctl;         /* control -> this worker */
	struct dp_ingest_put *pq_head, *pq_tail;  /* control puts not yet appended (FIFO) */
	struct dp_ingest_put *pw_head, *pw_tail;  /* appended, waiting for the ack mark */
	_Alignas(64) _Atomic uint64_t qs_epoch; /* the epoch of this worker's last quiescent state */
	int64_t now_ms;          /* the time of the last call (latency counters) */
	/* scratch for one frame (never live across calls) */
	const uint8_t *hkeys[DP_FRAME_RECORDS_MAX];
	uint16_t hlens[DP_FRAME_RECORDS_MAX];
	uint16_t hrec[DP_FRAME_RECORDS_MAX];
	dp_u128 hash[DP_FRAME_RECORDS_MAX];
	dp_u128 htmp[DP_FRAME_RECORDS_MAX];
	uint32_t sortkey[DP_FRAME_RECORDS_MAX];
	struct dp_record_in scratch[DP_FRAME_RECORDS_MAX];
	struct dp_ack_rec ackrec[DP_FRAME_RECORDS_MAX];
	uint8_t ackbuf[DP_FRAME_DATAGRAM_MAX];
	/* counters: written by the owner with relaxed stores, read by anyone */
	_Alignas(64) _Atomic uint64_t cnt[DP_INGEST_C__COUNT];
	_Atomic uint64_t drops[DP_DROP__COUNT];
	_Atomic uint64_t status[DP_INGEST_STATUS_SLOTS];
};

struct dp_ingest_group {
	struct dp_ingest_config cfg;
	unsigned n;
	struct dp_ingest **w;
	struct ring *rings;                  /* n * n, [src * n + dst] */
	_Atomic(struct dp_ingest_table *) table;
	_Alignas(64) _Atomic uint64_t epoch;
	struct retired *retired;
	/* control puts completed by their owners: a lock-free stack the control thread empties */
	_Alignas(64) _Atomic(struct dp_ingest_put *) done;
	int efd;                             /* readable while done is not empty */
};

static inline void cnt_add(_Atomic uint64_t *c, uint64_t v)
{
	atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + v,
			      memory_order_relaxed);
}

#define COUNT(ing, name) cnt_add(&(ing)->cnt[DP_INGEST_C_##name], 1)

static const char *const counter_names[] = {
#define DP_INGEST_X_NAME(name, text) text,
	DP_INGEST_COUNTER_LIST(DP_INGEST_X_NAME)
#undef DP_INGEST_X_NAME
};

const char *dp_ingest_counter_name(enum dp_ingest_counter c)
{
	return (unsigned)c < DP_INGEST_C__COUNT ? counter_names[c] : "?";
}

void dp_ingest_config_default(struct dp_ingest_config *cfg)
{
	*cfg = (struct dp_ingest_config){
		.workers = 1,
		.ring_entries = 1024,
		.pending_frames = 64,
		.pending_large = 0,
		.await_max = 4096,
		.reasm_slots = 4,
		.reasm_timeout_ms = 5000,
		.hcache_entries = 4096,
		.committer_entries = 256,
	};
}

/* ---- group setup ------------------------------------------------------------------------------ */

/* Give n frame headers (hdr[0..n)) their arrays: one allocation of n slots of a class. */
static int pclass_init(struct pclass *c, struct pframe *hdr, unsigned n, unsigned recs,
		       size_t bytes, uint8_t cls)
{
	size_t stride = recs * (sizeof(struct dp_record_in) + sizeof(struct pgroup) +
				3 * sizeof(uint16_t) + 1) + bytes;
	stride = (stride + 63) & ~(size_t)63;
	c->cap_recs = recs;
	c->cap_bytes = bytes;
	c->nfree = 0;
	if (n == 0)
		return 0;
	c->free = calloc(n, sizeof(*c->free));
	if (!c->free || posix_memalign(&c->mem, 64, stride * n))
		return -ENOMEM;
	for (unsigned i = 0; i < n; i++) {
		uint8_t *m = (uint8_t *)c->mem + stride * i;
		struct pframe *pf = &hdr[i];
		pf->cls = cls;
		pf->recs = (struct dp_record_in *)m;
		m += recs * sizeof(struct dp_record_in);
		pf->groups = (struct pgroup *)m;
		m += recs * sizeof(struct pgroup);
		pf->grp_of = (uint16_t *)m;
		pf->rank = pf->grp_of + recs;
		pf->order = pf->rank + recs;
		m += 3 * recs * sizeof(uint16_t);
		pf->status0 = m;
		pf->buf = m + recs;
		/* Popped from the top: the lowest slots first, so a light load stays in few pages. */
		c->free[n - 1 - i] = pf;
	}
	c->nfree = n;
	return 0;
}

/* The committer's callback (inside dp_committer_poll, on this worker's thread): note the shard
 * whose ack mark moved, or that failed; dp_ingest_poll answers its groups right after. The
 * lookup walks this worker's open shards: once per completed flush, not per group. */
static void on_ack_mark(void *arg, struct dp_shard *sh, uint64_t ack_next)
{
	struct dp_ingest *ing = arg;
	(void)ack_next;
	ing->puts_check = true;
	for (unsigned k = 0; k < ing->nown; k++) {
		struct dp_ingest_shard *s = ing->own[k];
		if (s->sh != sh)
			continue;
		if (!s->ready) {
			s->ready = true;
			s->ready_next = ing->ready_head;
			ing->ready_head = s;
		}
		return;
	}
}

static void ingest_free(struct dp_ingest *ing)
{
	if (!ing)
		return;
	dp_committer_free(ing->c);
	dp_dedup_free(ing->dedup);
	dp_hcache_free(ing->hc);
	dp_reasm_free(ing->reasm);
	free(ing->pf);
	for (unsigned k = 0; k < 2; k++) {
		free(ing->cls[k].free);
		free(ing->cls[k].mem);
	}
	free(ing->own);
	free(ing->aw);
	free(ing->in);
	free(ing->out);
	free(ing->ctl.slots);
	free(ing);
}

static int ingest_new(struct dp_ingest_group *g, unsigned idx, struct dp_ingest **ret)
{
	const struct dp_ingest_config *cfg = &g->cfg;
	struct dp_ingest *ing;
	if (posix_memalign((void **)&ing, 64, sizeof(*ing)))
		return -ENOMEM;
	memset(ing, 0, sizeof(*ing));
	ing->g = g;
	ing->idx = idx;
	int r = dp_committer_new(cfg->committer_entries, on_ack_mark, ing, &ing->c);
	if (r < 0)
		goto err;
	if (cfg->flush_depth && (r = dp_committer_set_flush_depth(ing->c, cfg->flush_depth)) < 0)
		goto err;
	if (cfg->iowq_set && (r = dp_committer_set_iowq_cpus(ing->c, &cfg->iowq_cpus)) < 0)
		goto err;
	r = dp_dedup_new(cfg->dedup_producers ? cfg->dedup_producers : DP_DEDUP_PRODUCERS_DEFAULT,
			 cfg->dedup_window ? cfg->dedup_window : DP_DEDUP_WINDOW_DEFAULT,
			 cfg->dedup_entries ? cfg->dedup_entries : DP_DEDUP_ENTRIES_DEFAULT,
			 &ing->dedup);
	if (r < 0)
		goto err;
	if ((r = dp_hcache_new(cfg->hcache_entries, &ing->hc)) < 0 ||
	    (r = dp_reasm_new(cfg->reasm_slots, cfg->reasm_timeout_ms, &ing->reasm)) < 0)
		goto err;
	r = -ENOMEM;
	ing->npf = cfg->pending_frames;
	ing->aw_max = cfg->await_max;
	ing->pf = calloc(ing->npf, sizeof(*ing->pf));
	ing->aw = calloc(ing->aw_max, sizeof(*ing->aw));
	ing->in = calloc(g->n, sizeof(*ing->in));
	ing->out = calloc(g->n, sizeof(*ing->out));
	if (!ing->pf || !ing->aw || !ing->in || !ing->out)
		goto err;
	for (unsigned i = 0; i < ing->aw_max; i++)
		ing->aw[i].next = i + 1 < ing->aw_max ? i + 1 : AW_NIL;
	ing->aw_free = 0;
	ing->parked = (struct fifo){ AW_NIL, AW_NIL };
	unsigned large = cfg->pending_large ? cfg->pending_large : LARGE_DEFAULT;
	if (large > ing->npf)
		large = ing->npf;
	if ((r = pclass_init(&ing->cls[1], ing->pf, large, DP_FRAME_RECORDS_MAX,
			     DP_FRAME_DATAGRAM_MAX, 1)) < 0 ||
	    (r = pclass_init(&ing->cls[0], ing->pf + large, ing->npf - large, SMALL_RECS,
			     SMALL_BYTES, 0)) < 0)
		goto err;
	r = -ENOMEM;
	if ((r = ring_init(&ing->ctl, cfg->ring_entries)) < 0)
		goto err;
	*ret = ing;
	return 0;
err:
	ingest_free(ing);
	return r;
}

int dp_ingest_group_new(const struct dp_ingest_config *cfg, struct dp_ingest_group **ret)
{
	if (!cfg || !ret || cfg->workers == 0 || cfg->workers > DP_INGEST_WORKERS_MAX || cfg->ring_entries < 16 ||
	    cfg->ring_entries > (1u << 20) || (cfg->ring_entries & (cfg->ring_entries - 1)) ||
	    cfg->pending_frames == 0 || cfg->pending_frames > 65536 || cfg->await_max == 0 ||
	    cfg->await_max > (1u << 24))
		return -EINVAL;
	struct dp_ingest_group *g;
	if (posix_memalign((void **)&g, 64, sizeof(*g)))
		return -ENOMEM;
	memset(g, 0, sizeof(*g));
	g->efd = -1;
	g->cfg = *cfg;
	g->n = cfg->workers;
	atomic_init(&g->table, NULL);
	atomic_init(&g->epoch, 1);
	atomic_init(&g->done, NULL);
	g->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	int r = -errno;
	if (g->efd < 0)
		goto err;
	r = -ENOMEM;
	g->w = calloc(g->n, sizeof(*g->w));
	if (posix_memalign((void **)&g->rings, 64, (size_t)g->n * g->n * sizeof(*g->rings)))
		g->rings = NULL;
	if (!g->w || !g->rings)
		goto err;
	memset(g->rings, 0, (size_t)g->n * g->n * sizeof(*g->rings));
	for (unsigned i = 0; i < g->n; i++)
		if ((r = ingest_new(g, i, &g->w[i])) < 0)
			goto err;
	for (unsigned s = 0; s < g->n; s++)
		for (unsigned d = 0; d < g->n; d++) {
			if (s == d)
				continue;
			struct ring *rg = &g->rings[s * g->n + d];
			if ((r = ring_init(rg, cfg->ring_entries)) < 0)
				goto err;
			g->w[s]->out[d] = rg;
			g->w[d]->in[s] = rg;
		}
	*ret = g;
	return 0;
err:
	dp_ingest_group_free(g);
	return r;
}

void dp_ingest_group_free(struct dp_ingest_group *g)
{
	if (!g)
		return;
	for (struct retired *x = g->retired, *nx; x; x = nx) {
		nx = x->next;
		bool embedded = x->embedded;
		x->free_fn(x->p);
		if (!embedded)
			free(x);
	}
	dp_ingest_table_free(atomic_load(&g->table));
	if (g->efd >= 0)
		close(g->efd);
	if (g->rings)
		for (unsigned i = 0; i < g->n * g->n; i++)
			free(g->rings[i].slots);
	free(g->rings);
	if (g->w)
		for (unsigned i = 0; i < g->n; i++)
			ingest_free(g->w[i]);
	free(g->w);
	free(g);
}

struct dp_ingest *dp_ingest_worker(struct dp_ingest_group *g, unsigned i)
{
	return i < g->n ? g->w[i] : NULL;
}

unsigned dp_ingest_index(const struct dp_ingest *ing)
{
	return ing->idx;
}

unsigned dp_ingest_pending(const struct dp_ingest *ing)
{
	return ing->pf_used;
}

struct dp_committer *dp_ingest_committer(struct dp_ingest *ing)
{
	return ing->c;
}

void dp_ingest_stats_get(const struct dp_ingest *ing, struct dp_ingest_stats *st)
{
	for (unsigned i = 0; i < DP_INGEST_C__COUNT; i++)
		st->c[i] = atomic_load_explicit(&ing->cnt[i], memory_order_relaxed);
	for (unsigned i = 0; i < DP_DROP__COUNT; i++)
		st->drops[i] = atomic_load_explicit(&ing->drops[i], memory_order_relaxed);
	for (unsigned i = 0; i < DP_INGEST_STATUS_SLOTS; i++)
		st->status[i] = atomic_load_explicit(&ing->status[i], memory_order_relaxed);
}

/* ---- publication and reclamation -------------------------------------------------------------- */

static void retire_node(struct dp_ingest_group *g, struct retired *x)
{
	/* New epoch E: a worker that records E started its poll after the pointer was gone from
	 * everything it could load; E + 1 also ends the drains that could hold it (dp_ingest.h). */
	uint64_t e = atomic_fetch_add_explicit(&g->epoch, 1, memory_order_acq_rel) + 1;
	x->epoch = e + 1;
	x->next = g->retired;
	g->retired = x;
}

int dp_ingest_retire(struct dp_ingest_group *g, void *p, void (*free_fn)(void *))
{
	if (!p)
		return 0;
	struct retired *x = malloc(sizeof(*x));
	if (!x)
		return -ENOMEM;
	*x = (struct retired){ .p = p, .free_fn = free_fn };
	retire_node(g, x);
	return 0;
}

void dp_ingest_table_publish(struct dp_ingest_group *g, struct dp_ingest_table *t)
{
	struct dp_ingest_table *old = atomic_exchange_explicit(&g->table, t, memory_order_acq_rel);
	if (old) {
		old->node = (struct retired){ .p = old, .free_fn = table_free_cb, .embedded = true };
		retire_node(g, &old->node);
	}
}

unsigned dp_ingest_reclaim(struct dp_ingest_group *g)
{
	uint64_t min = UINT64_MAX;
	for (unsigned i = 0; i < g->n; i++) {
		uint64_t e = atomic_load_explicit(&g->w[i]->qs_epoch, memory_order_acquire);
		if (e < min)
			min = e;
	}
	/* Everyone has seen the current epoch: open the next grace period. */
	if (g->retired && min >= atomic_load_explicit(&g->epoch, memory_order_acquire))
		atomic_fetch_add_explicit(&g->epoch, 1, memory_order_acq_rel);
	unsigned left = 0;
	for (struct retired **pp = &g->retired; *pp;) {
		struct retired *x = *pp;
		if (x->epoch <= min) {
			*pp = x->next;
			bool embedded = x->embedded;
			x->free_fn(x->p);
			if (!embedded)
				free(x);
		} else {
			left++;
			pp = &x->next;
		}
	}
	return left;
}

/* ---- shards: control side --------------------------------------------------------------------- */

int dp_ingest_shard_open(struct dp_ingest_group *g, struct dp_ingest_shard *s)
{
	if (!s || s->owner >= g->n || atomic_load(&s->state) != DP_INGEST_SHARD_NEW)
		return -EINVAL;
	atomic_store_explicit(&s->state, DP_INGEST_SHARD_OPENING, memory_order_release);
	struct msg m = { .kind = MSG_OPEN, .shard = s };
	if (!ring_push(&g->w[s->owner]->ctl, &m)) {
		atomic_store(&s->state, DP_INGEST_SHARD_NEW);
		return -EAGAIN;
	}
	return 0;
}

int dp_ingest_shard_close(struct dp_ingest_group *g, struct dp_ingest_shard *s)
{
	if (!s || s->owner >= g->n || atomic_load(&s->state) != DP_INGEST_SHARD_OPEN)
		return -EINVAL;
	struct msg m = { .kind = MSG_CLOSE, .shard = s };
	return ring_push(&g->w[s->owner]->ctl, &m) ? 0 : -EAGAIN;
}

/* ---- control puts and calls ------------------------------------------------------------------- */

int dp_ingest_put_submit(struct dp_ingest_group *g, struct dp_ingest_put *p)
{
	if (!p || !p->shard || !p->recs || !p->seq || p->n == 0 || p->shard->owner >= g->n)
		return -EINVAL;
	p->err = 0;
	p->done_n = 0;
	p->end = 0;
	p->next = NULL;
	struct msg m = { .kind = MSG_PUT, .put = p };
	return ring_push(&g->w[p->shard->owner]->ctl, &m) ? 0 : -EAGAIN;
}

unsigned dp_ingest_put_reap(struct dp_ingest_group *g, struct dp_ingest_put **out, unsigned max)
{
	uint64_t v;
	if (read(g->efd, &v, sizeof(v)) < 0) {
		/* EAGAIN: nothing was signalled; the stack is looked at anyway. */
	}
	struct dp_ingest_put *l = atomic_exchange_explicit(&g->done, NULL, memory_order_acquire);
	/* The stack holds the newest first: hand them back oldest first. */
	struct dp_ingest_put *rev = NULL;
	while (l) {
		struct dp_ingest_put *nx = l->next;
		l->next = rev;
		rev = l;
		l = nx;
	}
	unsigned n = 0;
	while (rev && n < max) {
		out[n++] = rev;
		rev = rev->next;
	}
	/* Whatever did not fit goes back; the eventfd keeps the loop coming back for it. */
	while (rev) {
		struct dp_ingest_put *nx = rev->next;
		struct dp_ingest_put *h = atomic_load_explicit(&g->done, memory_order_relaxed);
		do
			rev->next = h;
		while (!atomic_compare_exchange_weak_explicit(&g->done, &h, rev, memory_order_release,
							      memory_order_relaxed));
		rev = nx;
	}
	if (atomic_load_explicit(&g->done, memory_order_relaxed)) {
		v = 1;
		if (write(g->efd, &v, sizeof(v)) < 0) {
			/* The counter cannot overflow at one per call: nothing to do. */
		}
	}
	return n;
}

int dp_ingest_event_fd(const struct dp_ingest_group *g)
{
	return g->efd;
}

int dp_ingest_call_post(struct dp_ingest_group *g, unsigned worker, struct dp_ingest_call *call)
{
	if (!call || !call->fn || worker >= g->n)
		return -EINVAL;
	atomic_store_explicit(&call->done, 0, memory_order_relaxed);
	struct msg m = { .kind = MSG_CALL, .call = call };
	return ring_push(&g->w[worker]->ctl, &m) ? 0 : -EAGAIN;
}

bool dp_ingest_call_done(const struct dp_ingest_call *call)
{
	return atomic_load_explicit(&call->done, memory_order_acquire) != 0;
}

/* ---- frame completion (source side) ----------------------------------------------------------- */

static void frame_release(struct dp_ingest *ing, struct pframe *pf)
{
	if (pf->has_reasm)
		dp_reasm_release(ing->reasm, &pf->rr);
	pf->has_reasm = false;
	pf->used = false;
	ing->pf_used--;
	struct pclass *c = &ing->cls[pf->cls];
	c->free[c->nfree++] = pf;
}

/* Account the time from arrival at ts_ms to now (clocks that step back count 0). */
static void latency_note(struct dp_ingest *ing, int64_t ts_ms)
{
	uint64_t ms = ing->now_ms > ts_ms ? (uint64_t)(ing->now_ms - ts_ms) : 0;
	cnt_add(&ing->cnt[DP_INGEST_C_ACK_MS_SUM], ms);
	if (ms > atomic_load_explicit(&ing->cnt[DP_INGEST_C_ACK_MS_MAX], memory_order_relaxed))
		atomic_store_explicit(&ing->cnt[DP_INGEST_C_ACK_MS_MAX], ms, memory_order_relaxed);
}

static void send_ack(struct dp_ingest *ing, const struct dp_ingest_src *src, const uint8_t *ack,
		     size_t len)
{
	COUNT(ing, ACKS);
	if (ing->g->cfg.ack_fn)
		ing->g->cfg.ack_fn(ing->g->cfg.ack_arg, src, ack, len);
}

static void frame_complete(struct dp_ingest *ing, struct pframe *pf)
{
	for (unsigned i = 0; i < pf->count; i++) {
		struct dp_ack_rec *a = &ing->ackrec[i];
		if (pf->grp_of[i] == NO_GROUP) {
			*a = (struct dp_ack_rec){ .status = pf->status0[i] };
		} else {
			const struct pgroup *gr = &pf->groups[pf->grp_of[i]];
			*a = (struct dp_ack_rec){ .status = gr->status };
			if (gr->status == DP_ACK_OK) {
				a->seq = gr->first_seq + pf->rank[i];
				a->shard = gr->shard_index;
			}
		}
		if (a->status < DP_INGEST_STATUS_SLOTS)
			cnt_add(&ing->status[a->status], 1);
	}
	latency_note(ing, pf->ts_ms);
	if (pf->no_ack) {
		COUNT(ing, NO_ACK);
	} else {
		int len = dp_ack_build(ing->ackbuf, pf->len, pf->producer, pf->batch, ing->ackrec,
				       pf->count);
		if (len > 0)
			send_ack(ing, &pf->src, ing->ackbuf, (size_t)len);
	}
	frame_release(ing, pf);
}

/* Group gidx of a frame of this worker got its answer. Returns 1 when the frame completed. */
static int group_done(struct dp_ingest *ing, struct pframe *pf, unsigned gidx, uint8_t status,
		      uint64_t first_seq)
{
	struct pgroup *gr = &pf->groups[gidx];
	if (gr->done)
		return 0;
	gr->done = true;
	gr->status = status;
	gr->first_seq = first_seq;
	if (--pf->groups_left == 0) {
		frame_complete(ing, pf);
		return 1;
	}
	return 0;
}

/* ---- owner side ------------------------------------------------------------------------------- */

static inline void fifo_push(struct dp_ingest *ing, struct fifo *q, uint32_t i)
{
	ing->aw[i].next = AW_NIL;
	if (q->tail == AW_NIL)
		q->head = i;
	else
		ing->aw[q->tail].next = i;
	q->tail = i;
}

static inline void fifo_push_front(struct dp_ingest *ing, struct fifo *q, uint32_t i)
{
	ing->aw[i].next = q->head;
	q->head = i;
	if (q->tail == AW_NIL)
		q->tail = i;
}

static inline uint32_t fifo_pop(struct dp_ingest *ing, struct fifo *q)
{
	uint32_t i = q->head;
	q->head = ing->aw[i].next;
	if (q->head == AW_NIL)
		q->tail = AW_NIL;
	return i;
}

/* An await entry; the caller checked that one is free (naw < aw_max). */
static inline uint32_t aw_alloc(struct dp_ingest *ing)
{
	uint32_t i = ing->aw_free;
	ing->aw_free = ing->aw[i].next;
	ing->naw++;
	return i;
}

static inline void aw_release(struct dp_ingest *ing, uint32_t i)
{
	ing->aw[i].next = ing->aw_free;
	ing->aw_free = i;
	ing->naw--;
}

/* The shard's two lists as struct fifo views (stored in the public struct as plain fields). */
#define SHARD_WAITQ(s) ((struct fifo *)&(s)->aw_head)
#define SHARD_BLOCKQ(s) ((struct fifo *)&(s)->bl_head)
_Static_assert(offsetof(struct dp_ingest_shard, aw_tail) ==
	       offsetof(struct dp_ingest_shard, aw_head) + sizeof(uint32_t), "aw fifo layout");
_Static_assert(offsetof(struct dp_ingest_shard, bl_tail) ==
	       offsetof(struct dp_ingest_shard, bl_head) + sizeof(uint32_t), "bl fifo layout");

/* Answer a group; for another worker's frame through the reply ring, parked (an await entry on
 * the parked list) when that ring is full. Returns frames completed, or -1 when parked. */
static int deliver(struct dp_ingest *ing, unsigned src, struct pframe *pf, unsigned gidx,
		   uint8_t status, uint64_t first_seq)
{
	if (src == ing->idx)
		return group_done(ing, pf, gidx, status, first_seq);
	struct msg m = { .kind = MSG_REPLY, .status = status, .gidx = (uint16_t)gidx,
			 .pf = pf, .first_seq = first_seq };
	if (ring_push(ing->out[src], &m))
		return 0;
	COUNT(ing, RING_FULL);
	/* Room is kept for this: dp_ingest_poll leaves two free entries before taking a group,
	 * and an entry being answered frees its own first. */
	uint32_t i = aw_alloc(ing);
	ing->aw[i] = (struct await){ .pf = pf, .gidx = (uint16_t)gidx, .src = (uint16_t)src,
				     .status = status, .first_seq = first_seq, .kind = AW_PARKED };
	fifo_push(ing, &ing->parked, i);
	return -1;
}

/* Answer an await entry that leaves its list (i already unlinked): frees it, then delivers. */
static int aw_answer(struct dp_ingest *ing, uint32_t i, uint8_t status, uint64_t first_seq)
{
	struct await cur = ing->aw[i];
	aw_release(ing, i);
	int r = deliver(ing, cur.src, cur.pf, cur.gidx, status, first_seq);
	return r > 0 ? r : 0;
}

/*
 * Append group gidx of frame pf (from worker src) to shard s, which this worker owns and which
 * is open: through the retry window, then as one tagged batch. slot is the group's await entry
 * when it has one (a blocked group, unlinked), else AW_NIL. Returns the frames completed (>= 0),
 * or -EAGAIN when both staging buffers are busy (nothing done; slot untouched).
 */
static int group_append(struct dp_ingest *ing, struct dp_ingest_shard *s, unsigned src,
			struct pframe *pf, unsigned gidx, uint32_t slot)
{
	const struct pgroup *gr = &pf->groups[gidx];
	uint8_t status;
	uint64_t first = 0;
	uint32_t n = 0;

	switch (dp_dedup_lookup(ing->dedup, pf->producer, pf->batch, s->key, &first, &n)) {
	case DP_DEDUP_HIT:
		/* A window entry that the log does not hold (a log removed and created again under
		 * the same key) would never become durable: forget it and write the group. */
		if (first + n > dp_shard_next_seq(s->sh))
			break;
		COUNT(ing, DEDUP_HITS);
		if (n != gr->n) {
			status = DP_ACK_DUPLICATE;
			first = 0;
			goto answer;
		}
		goto wait;
	case DP_DEDUP_STALE:
		status = DP_ACK_STALE;
		goto answer;
	default:
		break;
	}
	for (unsigned k = 0; k < gr->n; k++)
		ing->scratch[k] = pf->recs[pf->order[gr->first + k]];
	int r = dp_shard_append_tagged(s->sh, ing->scratch, gr->n, pf->ts_ms, pf->producer, pf->batch,
				       &first);
	if (r == -EAGAIN)
		return -EAGAIN;
	if (r < 0) {
		status = r == -EROFS ? DP_ACK_READ_ONLY : DP_ACK_INTERNAL;
		first = 0;
		goto answer;
	}
	COUNT(ing, APPENDS);
	dp_dedup_note(ing->dedup, pf->producer, pf->batch, s->key, first, gr->n);
	n = gr->n;
wait:
	if (dp_shard_ack_next(s->sh) >= first + n) {
		/* Acked already (durability none, or a retry of a group that is durable). */
		status = DP_ACK_OK;
		goto answer;
	}
	if (slot == AW_NIL)
		slot = aw_alloc(ing);
	ing->aw[slot] = (struct await){ .shard = s, .pf = pf, .end = first + n,
					.first_seq = first, .gidx = (uint16_t)gidx,
					.src = (uint16_t)src, .kind = AW_WAIT };
	fifo_push(ing, SHARD_WAITQ(s), slot);
	return 0;
answer:
	if (slot != AW_NIL)
		return aw_answer(ing, slot, status, first);
	r = deliver(ing, src, pf, gidx, status, first);
	return r > 0 ? r : 0;
}

/* Take group gidx of frame pf (from worker src) on this worker, which owns its shard. Returns
 * the frames completed. */
static int owner_take(struct dp_ingest *ing, unsigned src, struct pframe *pf, unsigned gidx)
{
	const struct pgroup *gr = &pf->groups[gidx];
	struct dp_ingest_shard *s = gr->shard;
	uint8_t status;

	COUNT(ing, GROUPS_LOCAL);
	if (ing->naw >= ing->aw_max) {
		/* No room to wait for this group: the producer retries. */
		status = DP_ACK_THROTTLED;
		goto answer;
	}
	if (atomic_load_explicit(&s->state, memory_order_acquire) != DP_INGEST_SHARD_OPEN ||
	    s->owner != ing->idx || dp_shard_state(s->sh) != DP_SHARD_OPEN) {
		status = DP_ACK_READ_ONLY;
		goto answer;
	}
	if (s->bl_head == AW_NIL) {
		int r = group_append(ing, s, src, pf, gidx, AW_NIL);
		if (r != -EAGAIN)
			return r;
	}
	/* Both staging buffers are busy (a flush in flight, the other one full): hold the group
	 * until the flush completes rather than answer throttled, which costs the producer a
	 * resend timeout. Groups for the shard queue behind it, so arrival order is kept. */
	uint32_t i = aw_alloc(ing);
	ing->aw[i] = (struct await){ .shard = s, .pf = pf, .gidx = (uint16_t)gidx,
				     .src = (uint16_t)src, .kind = AW_BLOCKED };
	fifo_push(ing, SHARD_BLOCKQ(s), i);
	ing->nblocked++;
	return 0;
answer:;
	int r = deliver(ing, src, pf, gidx, status, 0);
	return r > 0 ? r : 0;
}

/* Append the shard's blocked groups in order until the staging buffers are busy again (or
 * answer them read-only when the shard is no longer open). Returns frames completed. */
static int shard_unblock(struct dp_ingest *ing, struct dp_ingest_shard *s)
{
	struct fifo *q = SHARD_BLOCKQ(s);
	int done = 0;
	while (q->head != AW_NIL) {
		uint32_t i = fifo_pop(ing, q);
		ing->nblocked--;
		struct await *a = &ing->aw[i];
		if (dp_shard_state(s->sh) != DP_SHARD_OPEN) {
			done += aw_answer(ing, i, DP_ACK_READ_ONLY, 0);
			continue;
		}
		int r = group_append(ing, s, a->src, a->pf, a->gidx, i);
		if (r == -EAGAIN) {
			fifo_push_front(ing, q, i);
			ing->nblocked++;
			break;
		}
		done += r;
	}
	return done;
}

/* Answer the shard's waiting groups that its ack mark covers; with fail (the shard failed or
 * is closing with nothing more to come), also those it never will cover (read-only: never
 * acked, fail-stop). Returns frames completed. */
static int shard_answer(struct dp_ingest *ing, struct dp_ingest_shard *s, bool fail)
{
	struct fifo *q = SHARD_WAITQ(s);
	uint64_t ack = dp_shard_ack_next(s->sh);
	int done = 0;
	while (q->head != AW_NIL) {
		struct await *a = &ing->aw[q->head];
		if (a->end <= ack) {
			uint64_t first = a->first_seq;
			done += aw_answer(ing, fifo_pop(ing, q), DP_ACK_OK, first);
		} else if (fail) {
			done += aw_answer(ing, fifo_pop(ing, q), DP_ACK_READ_ONLY, 0);
		} else {
			/* Entries are in append order, so the rest waits too (a retried group that
			 * waits on an older batch may sit behind a newer one: answered a flush later
			 * at worst, never early). */
			break;
		}
	}
	return done;
}

/* Answer the groups of every shard the committer's callback named. Returns frames completed. */
static int ready_run(struct dp_ingest *ing)
{
	int done = 0;
	while (ing->ready_head) {
		struct dp_ingest_shard *s = ing->ready_head;
		ing->ready_head = s->ready_next;
		s->ready = false;
		s->ready_next = NULL;
		bool failed = dp_shard_state(s->sh) != DP_SHARD_OPEN;
		done += shard_answer(ing, s, failed);
		if (s->bl_head != AW_NIL)
			done += shard_unblock(ing, s);
	}
	return done;
}

/* Try the replies parked for ring room again (they belong to other workers' frames). */
static void parked_run(struct dp_ingest *ing)
{
	struct fifo q = ing->parked;
	ing->parked = (struct fifo){ AW_NIL, AW_NIL };
	while (q.head != AW_NIL) {
		uint32_t i = fifo_pop(ing, &q);
		struct await cur = ing->aw[i];
		aw_release(ing, i);
		/* A reply that still finds its ring full is parked again (in a fresh entry). */
		deliver(ing, cur.src, cur.pf, cur.gidx, cur.status, cur.first_seq);
	}
}

/* ---- control puts on the owner ---------------------------------------------------------------- */

/* Hand a finished put back to the control thread (lock-free push; the eventfd is written only
 * when the stack was empty, so a burst of completions costs one syscall). */
static void put_complete(struct dp_ingest *ing, struct dp_ingest_put *p)
{
	struct dp_ingest_group *g = ing->g;
	COUNT(ing, PUTS_DONE);
	cnt_add(&ing->cnt[DP_INGEST_C_PUT_MS_SUM],
		ing->now_ms > p->ts_ms ? (uint64_t)(ing->now_ms - p->ts_ms) : 0);
	struct dp_ingest_put *h = atomic_load_explicit(&g->done, memory_order_relaxed);
	do
		p->next = h;
	while (!atomic_compare_exchange_weak_explicit(&g->done, &h, p, memory_order_release,
						      memory_order_relaxed));
	if (!h) {
		uint64_t v = 1;
		if (write(g->efd, &v, sizeof(v)) < 0) {
			/* Only EAGAIN at a saturated counter, which a reader clears. */
		}
	}
}

/*
 * Append what is left of put p. Records keep their order; a put larger than a staging buffer is
 * split into several batches (each record's number is written to p->seq). Returns 1 when fully
 * appended, 0 when the staging buffers are busy (retry after the committer ran), or -1 when the
 * put failed (p->err set).
 */
static int put_append(struct dp_ingest *ing, struct dp_ingest_put *p)
{
	struct dp_ingest_shard *s = p->shard;
	if (atomic_load_explicit(&s->state, memory_order_acquire) != DP_INGEST_SHARD_OPEN ||
	    s->owner != ing->idx || !s->sh) {
		p->err = -EROFS;
		return -1;
	}
	unsigned chunk = p->n - p->done_n;
	while (p->done_n < p->n) {
		unsigned m = chunk < p->n - p->done_n ? chunk : p->n - p->done_n;
		uint64_t first;
		int r = dp_shard_append(s->sh, p->recs + p->done_n, m, p->ts_ms, &first);
		if (r == -EMSGSIZE && m > 1) {
			chunk = m / 2;
			continue;
		}
		if (r == -EAGAIN)
			return 0;
		if (r < 0) {
			p->err = r;
			return -1;
		}
		for (unsigned k = 0; k < m; k++)
			p->seq[p->done_n + k] = first + k;
		p->done_n += m;
		p->end = first + m;
		COUNT(ing, APPENDS);
	}
	cnt_add(&ing->cnt[DP_INGEST_C_PUT_RECORDS], p->n);
	return 1;
}

static void put_wait(struct dp_ingest *ing, struct dp_ingest_put *p)
{
	ing->puts_check = true;  /* durability none: acked at append, no callback follows */
	p->next = NULL;
	if (ing->pw_tail)
		ing->pw_tail->next = p;
	else
		ing->pw_head = p;
	ing->pw_tail = p;
}

/* Append the queued puts in order until the staging buffers are busy. */
static void put_queue_run(struct dp_ingest *ing)
{
	while (ing->pq_head) {
		struct dp_ingest_put *p = ing->pq_head;
		int r = put_append(ing, p);
		if (r == 0)
			return;
		ing->pq_head = p->next;
		if (!ing->pq_head)
			ing->pq_tail = NULL;
		if (r < 0)
			put_complete(ing, p);
		else
			put_wait(ing, p);
	}
}

static void put_take(struct dp_ingest *ing, struct dp_ingest_put *p)
{
	COUNT(ing, PUTS);
	p->next = NULL;
	if (ing->pq_tail)
		ing->pq_tail->next = p;
	else
		ing->pq_head = p;
	ing->pq_tail = p;
	put_queue_run(ing);
}

/* Complete the appended puts whose records are acknowledged, or whose shard failed or closed. */
static void put_scan(struct dp_ingest *ing)
{
	struct dp_ingest_put **pp = &ing->pw_head, *last = NULL;
	while (*pp) {
		struct dp_ingest_put *p = *pp;
		struct dp_ingest_shard *s = p->shard;
		struct dp_shard *sh = s->sh;
		bool ok = sh && dp_shard_ack_next(sh) >= p->end;
		if (!ok && sh && dp_shard_state(sh) == DP_SHARD_OPEN) {
			last = p;
			pp = &p->next;
			continue;
		}
		if (!ok)
			p->err = -EIO;  /* never acked: fail-stop, as for frames */
		*pp = p->next;
		put_complete(ing, p);
	}
	ing->pw_tail = last;
}

/* Fail the queued (not appended) puts of a shard that is closing. */
static void put_queue_drop(struct dp_ingest *ing, struct dp_ingest_shard *s)
{
	struct dp_ingest_put **pp = &ing->pq_head, *last = NULL;
	while (*pp) {
		struct dp_ingest_put *p = *pp;
		if (p->shard != s) {
			last = p;
			pp = &p->next;
			continue;
		}
		*pp = p->next;
		p->err = -EROFS;
		put_complete(ing, p);
	}
	ing->pq_tail = last;
}

struct tag_ctx {
	struct dp_ingest *ing;
	struct dp_ingest_shard *s;
};

static void tag_note(void *arg, const struct dp_batch_tag *t)
{
	struct tag_ctx *x = arg;
	if (dp_dedup_note(x->ing->dedup, t->producer, t->batch, x->s->key, t->first_seq,
			  t->count) > 0)
		COUNT(x->ing, TAGS_RECOVERED);
}

static void shard_open(struct dp_ingest *ing, struct dp_ingest_shard *s)
{
	struct dp_shard *sh = NULL;
	struct tag_ctx x = { .ing = ing, .s = s };
	s->aw_head = s->aw_tail = s->bl_head = s->bl_tail = AW_NIL;
	s->ready = false;
	s->ready_next = NULL;
	int r = -ENOMEM;
	if (ing->nown == ing->own_cap) {
		/* The committer's callback finds the shard in this list (not on the packet path). */
		unsigned cap = ing->own_cap ? 2 * ing->own_cap : 16;
		struct dp_ingest_shard **own = realloc(ing->own, cap * sizeof(*own));
		if (own) {
			ing->own = own;
			ing->own_cap = cap;
		}
	}
	if (ing->nown < ing->own_cap)
		r = dp_shard_open_tags(ing->c, s->dir, &s->info, &s->cfg, &s->rep, tag_note, &x, &sh);
	if (r == 0)
		ing->own[ing->nown++] = s;
	s->sh = r < 0 ? NULL : sh;
	s->err = r < 0 ? -r : 0;
	if (r == 0)
		COUNT(ing, SHARDS_OPENED);
	atomic_store_explicit(&s->state, r < 0 ? DP_INGEST_SHARD_FAILED : DP_INGEST_SHARD_OPEN,
			      memory_order_release);
}

static int shard_close(struct dp_ingest *ing, struct dp_ingest_shard *s)
{
	int done = 0;
	atomic_store_explicit(&s->state, DP_INGEST_SHARD_CLOSING, memory_order_release);
	put_queue_drop(ing, s);
	/* Let what was taken be appended, become durable and be answered before the log goes. */
	while (dp_shard_state(s->sh) == DP_SHARD_OPEN &&
	       (s->bl_head != AW_NIL || dp_shard_ack_next(s->sh) < dp_shard_next_seq(s->sh))) {
		if (dp_committer_poll(ing->c, true) < 0)
			break;
		done += ready_run(ing);
		if (s->bl_head != AW_NIL && !dp_committer_inflight(ing->c))
			done += shard_unblock(ing, s);
	}
	done += ready_run(ing);
	done += shard_answer(ing, s, true);
	if (s->bl_head != AW_NIL) {
		/* Failed: shard_unblock answers them read-only. */
		done += shard_unblock(ing, s);
	}
	put_scan(ing);
	for (unsigned k = 0; k < ing->nown; k++)
		if (ing->own[k] == s) {
			ing->own[k] = ing->own[--ing->nown];
			break;
		}
	int r = dp_shard_close(s->sh);
	s->sh = NULL;
	s->err = r < 0 ? -r : 0;
	COUNT(ing, SHARDS_CLOSED);
	atomic_store_explicit(&s->state, DP_INGEST_SHARD_CLOSED, memory_order_release);
	return done;
}

/* ---- the worker's entry points ---------------------------------------------------------------- */

static int drop(struct dp_ingest *ing, enum dp_drop why, const struct dp_frame *f,
		const struct dp_ingest_src *src)
{
	cnt_add(&ing->drops[why], 1);
	int st = dp_drop_ack_status(why);
	if (st > 0 && f->envelope && !(f->flags & DP_FRAME_F_NO_ACK)) {
		int len = dp_ack_build_error(ing->ackbuf, f->len, f, (unsigned)st);
		if (len > 0) {
			COUNT(ing, ACKS_ERROR);
			send_ack(ing, src, ing->ackbuf, (size_t)len);
		}
	}
	return -(int)why;
}

/* A free pending-frame slot that holds a frame of len bytes and count records: a small one when
 * it fits, else a large one. */
static struct pframe *pframe_get(struct dp_ingest *ing, size_t len, unsigned count)
{
	struct pclass *c = &ing->cls[0];
	if (len > c->cap_bytes || count > c->cap_recs || c->nfree == 0) {
		c = &ing->cls[1];
		if (c->nfree == 0)
			return NULL;
	}
	ing->pf_used++;
	return c->free[--c->nfree];
}

static int u32_cmp(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

int dp_ingest_frame(struct dp_ingest *ing, const uint8_t *payload, size_t len,
		    const struct dp_ingest_src *src, int64_t now_ms)
{
	struct dp_frame f;
	struct dp_reasm_rec rr;
	bool chunked = false;

	COUNT(ing, FRAMES);
	ing->now_ms = now_ms;
	enum dp_drop why = dp_frame_parse(payload, len, &f);
	if (why != DP_DROP_NONE)
		return drop(ing, why, &f, src);
	if (len > DP_FRAME_DATAGRAM_MAX)
		return drop(ing, DP_DROP_OVERSIZE, &f, src);
	if (f.type == DP_FRAME_T_CHUNK) {
		int r = dp_reasm_add(ing->reasm, &f, now_ms, &rr);
		if (r < 0)
			return drop(ing, (enum dp_drop)-r, &f, src);
		if (r == 0) {
			COUNT(ing, CHUNKS_HELD);
			return 0;
		}
		chunked = true;
	}

	const struct dp_ingest_table *t = atomic_load_explicit(&ing->g->table, memory_order_acquire);
	if (!t) {
		/* Starting or stopping: the streams are not known yet (or any more). The producer
		 * resends a throttled batch, to this process or the next. */
		if (chunked)
			dp_reasm_release(ing->reasm, &rr);
		return drop(ing, DP_DROP_NOT_READY, &f, src);
	}
	const struct tstream *st = table_find(t, f.stream, f.stream_len);
	struct pframe *pf = st ? pframe_get(ing, chunked ? 0 : len, chunked ? 1u : f.count) : NULL;
	if (!pf) {
		if (chunked)
			dp_reasm_release(ing->reasm, &rr);
		if (!st)
			return drop(ing, DP_DROP_UNKNOWN_STREAM, &f, src);
		COUNT(ing, PENDING_FULL);
		return drop(ing, DP_DROP_THROTTLED, &f, src);
	}

	pf->src = *src;
	pf->producer = f.producer_id;
	pf->batch = f.batch;
	pf->ts_ms = now_ms;
	pf->len = f.len;
	pf->no_ack = f.flags & DP_FRAME_F_NO_ACK;
	pf->has_reasm = chunked;
	unsigned n = 0, nh = 0;
	if (chunked) {
		/* The record lives in the reassembly slot until the ack. */
		pf->rr = rr;
		pf->recs[0] = (struct dp_record_in){ .key = rr.key, .key_len = rr.key_len,
						     .data = rr.data, .data_len = rr.data_len };
		if (rr.ehk) {
			ing->hash[0] = dp_be128_load(rr.ehk);
		} else {
			ing->hkeys[0] = rr.key;
			ing->hlens[0] = rr.key_len;
			ing->hrec[0] = 0;
			nh = 1;
		}
		n = 1;
	} else {
		/* Copy the datagram: records must outlive this call. Parse state moves with it. */
		memcpy(pf->buf, payload, len);
		f.recs = pf->buf + (f.recs - payload);
		f.end = pf->buf + (f.end - payload);
		size_t it = 0;
		struct dp_frame_rec r;
		while (dp_frame_rec_next(&f, &it, &r)) {
			pf->recs[n] = (struct dp_record_in){ .key = r.key, .key_len = r.key_len,
							     .data = r.data, .data_len = r.data_len };
			if (r.ehk) {
				ing->hash[n] = dp_be128_load(r.ehk);
			} else {
				ing->hkeys[nh] = r.key;
				ing->hlens[nh] = r.key_len;
				ing->hrec[nh] = (uint16_t)n;
				nh++;
			}
			n++;
		}
	}
	pf->count = (uint16_t)n;
	cnt_add(&ing->cnt[DP_INGEST_C_RECORDS], n);

	/* One burst of MD5s (cached keys skip it); results land in frame order. */
	if (nh) {
		dp_hcache_hashkeys(ing->hc, ing->hkeys, ing->hlens, nh, ing->htmp);
		for (unsigned k = 0; k < nh; k++)
			ing->hash[ing->hrec[k]] = ing->htmp[k];
	}

	/* Group by shard, frame order inside a group: sort (shard position, record index). */
	unsigned nk = 0;
	for (unsigned i = 0; i < n; i++) {
		int pos = stream_shard_pos(st, (uint32_t)dp_shard_map_lookup(st->map, ing->hash[i]));
		if (pos < 0) {
			/* The map names a shard the table lacks: a control-plane bug, not the sender's. */
			pf->grp_of[i] = NO_GROUP;
			pf->status0[i] = DP_ACK_INTERNAL;
			continue;
		}
		ing->sortkey[nk++] = ((uint32_t)pos << 10) | i;
	}
	if (nk > 64) {
		qsort(ing->sortkey, nk, sizeof(ing->sortkey[0]), u32_cmp);
	} else {
		/* The usual frame holds a few dozen records at most: an insertion sort of that
		 * many keys is several times cheaper than qsort's calls through u32_cmp. */
		for (unsigned k = 1; k < nk; k++) {
			uint32_t v = ing->sortkey[k];
			unsigned j = k;
			for (; j > 0 && ing->sortkey[j - 1] > v; j--)
				ing->sortkey[j] = ing->sortkey[j - 1];
			ing->sortkey[j] = v;
		}
	}
	unsigned ng = 0;
	uint32_t last_pos = UINT32_MAX;
	for (unsigned k = 0; k < nk; k++) {
		uint32_t pos = ing->sortkey[k] >> 10, i = ing->sortkey[k] & 1023u;
		if (pos != last_pos) {
			struct dp_ingest_shard *s = st->shards[pos];
			pf->groups[ng] = (struct pgroup){ .shard = s, .shard_index = s->info.shard_index,
							  .owner = s->owner, .first = (uint16_t)k };
			ng++;
			last_pos = pos;
		}
		struct pgroup *gr = &pf->groups[ng - 1];
		pf->grp_of[i] = (uint16_t)(ng - 1);
		pf->rank[i] = gr->n++;
		pf->order[k] = (uint16_t)i;
	}
	pf->ngroups = (uint16_t)ng;
	pf->groups_left = (uint16_t)(ng + 1); /* +1 held until every group is sent */
	pf->used = true;

	for (unsigned gi = 0; gi < ng; gi++) {
		struct pgroup *gr = &pf->groups[gi];
		if (gr->owner == ing->idx) {
			owner_take(ing, ing->idx, pf, gi);
			continue;
		}
		struct msg m = { .kind = MSG_GROUP, .gidx = (uint16_t)gi, .src = (uint16_t)ing->idx,
				 .pf = pf };
		if (gr->owner >= ing->g->n) {
			/* The control plane named a worker that does not exist. */
			group_done(ing, pf, gi, DP_ACK_INTERNAL, 0);
		} else if (!ring_push(ing->out[gr->owner], &m)) {
			COUNT(ing, RING_FULL);
			group_done(ing, pf, gi, DP_ACK_THROTTLED, 0);
		} else {
			COUNT(ing, GROUPS_OUT);
		}
	}
	/* Drop the hold: a frame whose groups were all answered at once completes here. */
	if (--pf->groups_left == 0)
		frame_complete(ing, pf);
	return 1;
}

int dp_ingest_poll(struct dp_ingest *ing, int64_t now_ms)
{
	struct dp_ingest_group *g = ing->g;
	uint64_t epoch = atomic_load_explicit(&g->epoch, memory_order_acquire);
	int done = 0;
	const struct msg *m;
	ing->now_ms = now_ms;

	while ((m = ring_peek(&ing->ctl))) {
		if (m->kind == MSG_OPEN)
			shard_open(ing, m->shard);
		else if (m->kind == MSG_CLOSE)
			done += shard_close(ing, m->shard);
		else if (m->kind == MSG_PUT)
			put_take(ing, m->put);
		else if (m->kind == MSG_CALL) {
			struct dp_ingest_call *call = m->call;
			call->rc = call->fn(call->arg);
			atomic_store_explicit(&call->done, 1, memory_order_release);
		}
		ring_pop(&ing->ctl);
	}
	int r = dp_committer_poll(ing->c, false);
	if (r < 0)
		return r;
	/* Groups whose shard's mark moved are answered; blocked ones take the staging buffer the
	 * completed flush freed. Nothing else is looked at: no list is walked per round. */
	done += ready_run(ing);
	if (ing->nblocked && now_ms != ing->blocked_ms) {
		/* Once a millisecond, a sweep for blocked groups whose flush could not start (the
		 * ring was full) and so will see no completion of its own. */
		ing->blocked_ms = now_ms;
		for (unsigned k = 0; k < ing->nown; k++)
			if (ing->own[k]->bl_head != AW_NIL)
				done += shard_unblock(ing, ing->own[k]);
	}
	if (ing->pq_head) {
		/* Staging buffers freed by the completions just reaped: append, then flush. */
		put_queue_run(ing);
		if ((r = dp_committer_poll(ing->c, false)) < 0)
			return r;
		done += ready_run(ing);
	}

	bool drained = true;
	for (unsigned s = 0; s < g->n; s++) {
		struct ring *in = ing->in[s];
		if (!in)
			continue;
		while ((m = ring_peek(in))) {
			if (m->kind == MSG_REPLY) {
				done += group_done(ing, m->pf, m->gidx, m->status, m->first_seq);
			} else if (m->kind == MSG_GROUP) {
				/* Keep room for a parked reply besides the await entry itself. */
				if (ing->naw + 2 > ing->aw_max) {
					drained = false;
					break;
				}
				COUNT(ing, GROUPS_IN);
				owner_take(ing, m->src, m->pf, m->gidx);
			}
			ring_pop(in);
		}
	}
	if (ing->parked.head != AW_NIL)
		parked_run(ing);
	if (ing->pw_head && ing->puts_check) {
		ing->puts_check = false;
		put_scan(ing);
	}
	dp_reasm_expire(ing->reasm, now_ms);
	if (drained)
		atomic_store_explicit(&ing->qs_epoch, epoch, memory_order_release);
	return done;
}
