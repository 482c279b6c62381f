/* SPDX-License-Identifier: MIT */
/* Discovery and ownership of the shard logs under the data directory. */
#include "ctl_shards.h"

#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ctl_log.h"
#include "dp_hash.h"
#include "dp_ingest.h"

struct ctl_shard_ent {
	struct dp_shard *sh;
	struct dp_ingest_shard *is;   /* the engine's view: owner, state, the open log */
	char name[PATH_MAX];
};

struct ctl_shards {
	ctl_shards_record_fn record_fn;
	void *record_arg;
	struct ctl_shard_ent *v;
	unsigned n, cap;
	char root[PATH_MAX];          /* DATA_DIR/streams */
	struct dp_log_config cfg;
	struct dp_ingest_group *g;
	unsigned workers;
	bool self;                    /* the control thread drives engine 0 */
	uint32_t next_key;            /* unique key per shard ever opened (retry windows) */
	unsigned load[DP_INGEST_WORKERS_MAX]; /* shards each worker owns */
};

static int64_t wall_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void ctl_shards_step(struct ctl_shards *s)
{
	if (s->self) {
		int r = dp_ingest_poll(dp_ingest_worker(s->g, 0), wall_ms());
		if (r < 0)
			ctl_log(CTL_LOG_ERR, "io_uring poll: %s", strerror(-r));
		return;
	}
	/* The owners poll on their own cores: give them a moment. */
	struct timespec ts = { 0, 20 * 1000 };
	nanosleep(&ts, NULL);
}

int ctl_shards_poll(struct ctl_shards *s)
{
	int r = 0;
	if (s->self)
		r = dp_ingest_poll(dp_ingest_worker(s->g, 0), wall_ms());
	dp_ingest_reclaim(s->g);
	return r;
}

int ctl_shards_call(struct ctl_shards *s, struct dp_shard *sh, int (*fn)(void *arg), void *arg)
{
	struct dp_ingest_shard *is = ctl_shards_slot(s, sh);
	if (!is)
		return -ENOENT;
	if (s->self)
		return fn(arg);  /* this thread is the owner */
	struct dp_ingest_call call = { .fn = fn, .arg = arg };
	int r;
	while ((r = dp_ingest_call_post(s->g, is->owner, &call)) == -EAGAIN)
		ctl_shards_step(s);
	if (r < 0)
		return r;
	while (!dp_ingest_call_done(&call))
		ctl_shards_step(s);
	return call.rc;
}

/* Hand a shard to its owner to open, and wait for the outcome. Returns 0 (*ret is the open
 * slot) or a negative errno (the slot is freed). */
static int slot_open(struct ctl_shards *s, const char *dir, const struct dp_shard_info *info,
		     const struct dp_log_config *cfg, struct dp_shard_recovery *rep,
		     struct dp_ingest_shard **ret)
{
	struct dp_ingest_shard *is = calloc(1, sizeof(*is));
	if (!is)
		return -ENOMEM;
	if (snprintf(is->dir, sizeof(is->dir), "%s", dir) >= (int)sizeof(is->dir)) {
		free(is);
		return -ENAMETOOLONG;
	}
	is->info = *info;
	is->cfg = *cfg;
	is->key = s->next_key++;
	/* The least loaded worker owns it; its retry window was sized for an even share. */
	unsigned w = 0;
	for (unsigned i = 1; i < s->workers; i++)
		if (s->load[i] < s->load[w])
			w = i;
	is->owner = (uint16_t)w;
	atomic_init(&is->state, DP_INGEST_SHARD_NEW);
	int r;
	while ((r = dp_ingest_shard_open(s->g, is)) == -EAGAIN)
		ctl_shards_step(s);
	if (r < 0) {
		free(is);
		return r;
	}
	while (atomic_load_explicit(&is->state, memory_order_acquire) == DP_INGEST_SHARD_OPENING)
		ctl_shards_step(s);
	if (rep)
		*rep = is->rep;
	if (atomic_load(&is->state) != DP_INGEST_SHARD_OPEN) {
		r = -is->err;
		free(is);
		return r ? r : -EIO;
	}
	s->load[w]++;
	*ret = is;
	return 0;
}

/* Close a slot through its owner and wait. The slot stays allocated (the routing table may still
 * name it): the caller retires or frees it. Returns dp_shard_close's result. */
static int slot_close(struct ctl_shards *s, struct dp_ingest_shard *is)
{
	int r;
	while ((r = dp_ingest_shard_close(s->g, is)) == -EAGAIN)
		ctl_shards_step(s);
	if (r < 0)
		return r;
	while (atomic_load_explicit(&is->state, memory_order_acquire) != DP_INGEST_SHARD_CLOSED)
		ctl_shards_step(s);
	if (s->load[is->owner])
		s->load[is->owner]--;
	return -is->err;
}

static int64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* a/b into out; -ENAMETOOLONG when it does not fit. */
static int path_join(char *out, size_t n, const char *a, const char *b)
{
	int w = snprintf(out, n, "%s/%s", a, b);
	return w < 0 || (size_t)w >= n ? -ENAMETOOLONG : 0;
}

static int rm_cb(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path) < 0 ? -1 : 0;
}

static int rm_tree(const char *path)
{
	return nftw(path, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

static int fsync_dir(const char *path)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	int r = fsync(fd) < 0 ? -errno : 0;
	close(fd);
	return r;
}

/* The log settings of one stream: the defaults, grown so that its largest record fits. */
static void stream_cfg(const struct dp_log_config *base, uint32_t max_record,
		       struct dp_log_config *out)
{
	*out = *base;
	if (max_record <= base->max_record_bytes)
		return;
	out->max_record_bytes = max_record;
	if (out->buffer_bytes < max_record + 64u * 1024)
		out->buffer_bytes = max_record + 64u * 1024;
	if (out->segment_bytes < (uint64_t)out->buffer_bytes * 2)
		out->segment_bytes = (uint64_t)out->buffer_bytes * 2;
}

static int push(struct ctl_shards *s, struct dp_ingest_shard *is, const char *name)
{
	if (s->n == s->cap) {
		unsigned cap = s->cap ? s->cap * 2 : 16;
		struct ctl_shard_ent *v = realloc(s->v, cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		s->v = v;
		s->cap = cap;
	}
	s->v[s->n].sh = is->sh;
	s->v[s->n].is = is;
	snprintf(s->v[s->n].name, sizeof(s->v[s->n].name), "%s", name);
	s->n++;
	return 0;
}

static int open_stream(struct ctl_shards *s, const char *sdir, const char *stream,
		       const struct dp_log_config *base, struct ctl_shards_summary *sum)
{
	struct dp_log_config scfg;
	stream_cfg(base, s->record_fn ? s->record_fn(s->record_arg, stream) : 0, &scfg);
	const struct dp_log_config *cfg = &scfg;
	DIR *d = opendir(sdir);
	if (!d) {
		int r = -errno;
		ctl_log(CTL_LOG_ERR, "cannot list stream directory %s: %s", sdir, strerror(-r));
		return r;
	}
	struct dirent *e;
	int r = 0;
	while ((e = readdir(d))) {
		uint32_t idx;
		if (e->d_name[0] == '.' || strncmp(e->d_name, "shardId-", 8) != 0 ||
		    dp_shard_id_parse(e->d_name, &idx) < 0)
			continue;
		char path[PATH_MAX], name[PATH_MAX];
		if (path_join(path, sizeof(path), sdir, e->d_name) < 0 ||
		    path_join(name, sizeof(name), stream, e->d_name) < 0)
			continue;
		/* created_ms is taken from the segments of an existing log. */
		struct dp_shard_info info = { .shard_index = idx, .created_ms = 0 };
		struct dp_shard_recovery rep;
		struct dp_ingest_shard *is;
		memset(&rep, 0, sizeof(rep));
		r = slot_open(s, path, &info, cfg, &rep, &is);
		if (r == -EUCLEAN) {
			ctl_log(CTL_LOG_ERR, "shard log %s is damaged: %s", path, rep.detail);
			break;
		}
		if (r < 0) {
			ctl_log(CTL_LOG_ERR, "cannot open shard log %s: %s; fix the cause (permissions, "
				"disk space) and restart", path, strerror(-r));
			break;
		}
		r = push(s, is, name);
		if (r < 0) {
			slot_close(s, is);
			free(is);
			break;
		}
		sum->shards++;
		sum->records += rep.records;
		sum->bytes_scanned += rep.bytes_scanned;
		sum->torn_bytes += rep.torn_bytes;
		if (!rep.clean)
			sum->unclean++;
		if (rep.quarantined) {
			sum->quarantined++;
			ctl_log(CTL_LOG_ERR, "shard %s QUARANTINED (read-only): %s", name, rep.detail);
		} else if (rep.torn_bytes || rep.segments_removed) {
			ctl_log(CTL_LOG_WARN, "shard %s: %s; %u empty segment(s) removed", name,
				rep.detail, rep.segments_removed);
		}
		ctl_log(CTL_LOG_DEBUG, "shard %s: %u segment(s), %" PRIu64 " records, %" PRIu64
			" bytes verified, %s", name, rep.segments, rep.records, rep.bytes_scanned,
			rep.clean ? "closed cleanly" : "recovered after an unclean stop");
	}
	closedir(d);
	return r;
}

int ctl_shards_open(const char *data_dir, const struct dp_log_config *cfg,
		    struct dp_ingest_group *g, unsigned workers, bool self_driven,
		    ctl_shards_record_fn record_fn, void *record_arg, struct ctl_shards **ret,
		    struct ctl_shards_summary *sum)
{
	memset(sum, 0, sizeof(*sum));
	int64_t t0 = mono_ms();
	char root[PATH_MAX];
	snprintf(root, sizeof(root), "%s/streams", data_dir);
	if (mkdir(data_dir, 0750) < 0 && errno != EEXIST) {
		int r = -errno;
		ctl_log(CTL_LOG_ERR, "cannot create data directory %s: %s", data_dir, strerror(-r));
		return r;
	}
	if (mkdir(root, 0750) < 0 && errno != EEXIST) {
		int r = -errno;
		ctl_log(CTL_LOG_ERR, "cannot create %s: %s", root, strerror(-r));
		return r;
	}
	struct ctl_shards *s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	snprintf(s->root, sizeof(s->root), "%s", root);
	s->cfg = *cfg;
	s->g = g;
	s->workers = workers ? workers : 1;
	s->self = self_driven;
	s->record_fn = record_fn;
	s->record_arg = record_arg;
	DIR *d = opendir(root);
	if (!d) {
		int r = -errno;
		ctl_log(CTL_LOG_ERR, "cannot list %s: %s", root, strerror(-r));
		free(s);
		return r;
	}
	struct dirent *e;
	int r = 0;
	while ((e = readdir(d))) {
		if (strncmp(e->d_name, ".deleted-", 9) == 0) {
			/* A deletion that a stop interrupted: finish it. */
			char p[PATH_MAX];
			if (path_join(p, sizeof(p), root, e->d_name) == 0 && rm_tree(p) < 0)
				ctl_log(CTL_LOG_WARN, "cannot finish removing %s: %s", p, strerror(errno));
			continue;
		}
		if (e->d_name[0] == '.')
			continue;
		char sdir[PATH_MAX];
		if (path_join(sdir, sizeof(sdir), root, e->d_name) < 0)
			continue;
		struct stat st;
		if (stat(sdir, &st) < 0 || !S_ISDIR(st.st_mode))
			continue;
		r = open_stream(s, sdir, e->d_name, cfg, sum);
		if (r < 0)
			break;
	}
	closedir(d);
	if (r < 0) {
		ctl_shards_close(s);
		return r;
	}
	sum->elapsed_ms = mono_ms() - t0;
	*ret = s;
	return 0;
}

struct retention_arg {
	struct dp_shard *sh;
	int64_t now_ms;
	uint32_t hours;
};

static int retention_run_cb(void *arg)
{
	struct retention_arg *a = arg;
	return dp_shard_retention_run(a->sh, a->now_ms);
}

static int retention_set_cb(void *arg)
{
	struct retention_arg *a = arg;
	return dp_shard_set_retention(a->sh, a->hours);
}

int ctl_shards_set_retention(struct ctl_shards *s, struct dp_shard *sh, uint32_t hours)
{
	struct retention_arg a = { .sh = sh, .hours = hours };
	return ctl_shards_call(s, sh, retention_set_cb, &a);
}

int ctl_shards_retention(struct ctl_shards *s, int64_t now_ms)
{
	int total = 0;
	for (unsigned i = 0; i < s->n; i++) {
		struct retention_arg a = { .sh = s->v[i].sh, .now_ms = now_ms };
		int r = ctl_shards_call(s, s->v[i].sh, retention_run_cb, &a);
		if (r < 0)
			ctl_log(CTL_LOG_WARN, "retention on shard %s failed: %s; will retry", s->v[i].name,
				strerror(-r));
		else
			total += r;
	}
	return total;
}

int ctl_shards_close(struct ctl_shards *s)
{
	if (!s)
		return 0;
	int rc = 0;
	/* No worker routes to these shards any more (and none waits in a ring to). */
	dp_ingest_table_publish(s->g, NULL);
	for (unsigned i = 0; i < s->n; i++) {
		int r = slot_close(s, s->v[i].is);
		if (r < 0) {
			ctl_log(CTL_LOG_ERR, "closing shard %s: %s", s->v[i].name, strerror(-r));
			if (!rc)
				rc = r;
		}
		if (dp_ingest_retire(s->g, s->v[i].is, free) < 0)
			free(s->v[i].is);  /* out of memory: the workers stop before the group goes */
	}
	free(s->v);
	free(s);
	return rc;
}

struct dp_shard *ctl_shards_find(const struct ctl_shards *s, const char *stream, uint32_t index)
{
	char id[DP_SHARD_ID_LEN + 1], name[PATH_MAX];
	if (dp_shard_id_format(index, id) < 0 || path_join(name, sizeof(name), stream, id) < 0)
		return NULL;
	for (unsigned i = 0; i < s->n; i++)
		if (strcmp(s->v[i].name, name) == 0)
			return s->v[i].sh;
	return NULL;
}

int ctl_shards_create(struct ctl_shards *s, const char *stream, uint32_t index, int64_t created_ms,
		      uint32_t max_record, struct dp_shard **ret)
{
	struct dp_log_config cfg;
	stream_cfg(&s->cfg, max_record, &cfg);
	char id[DP_SHARD_ID_LEN + 1], sdir[PATH_MAX], path[PATH_MAX], name[PATH_MAX];
	int r = dp_shard_id_format(index, id);
	if (r < 0)
		return r;
	if (path_join(sdir, sizeof(sdir), s->root, stream) < 0 ||
	    path_join(path, sizeof(path), sdir, id) < 0 ||
	    path_join(name, sizeof(name), stream, id) < 0)
		return -ENAMETOOLONG;
	if (ctl_shards_find(s, stream, index))
		return -EEXIST;
	if (mkdir(sdir, 0750) < 0 && errno != EEXIST) {
		r = -errno;
		ctl_log(CTL_LOG_ERR, "cannot create stream directory %s: %s", sdir, strerror(-r));
		return r;
	}
	struct dp_shard_info info = { .shard_index = index, .created_ms = created_ms };
	struct dp_shard_recovery rep;
	struct dp_ingest_shard *is;
	r = slot_open(s, path, &info, &cfg, &rep, &is);
	if (r < 0) {
		ctl_log(CTL_LOG_ERR, "cannot create shard log %s: %s", path, strerror(-r));
		return r;
	}
	/* The new directory entries must survive a crash before the metadata says they exist. */
	if ((r = fsync_dir(sdir)) < 0 || (r = fsync_dir(s->root)) < 0 || (r = push(s, is, name)) < 0) {
		slot_close(s, is);
		free(is);  /* never in a routing table */
		return r;
	}
	*ret = is->sh;
	return 0;
}

int ctl_shards_remove_stream(struct ctl_shards *s, const char *stream)
{
	size_t sl = strlen(stream);
	int rc = 0;
	unsigned w = 0;
	for (unsigned i = 0; i < s->n; i++) {
		if (strncmp(s->v[i].name, stream, sl) == 0 && s->v[i].name[sl] == '/') {
			int r = slot_close(s, s->v[i].is);
			if (r < 0 && !rc)
				rc = r;
			/* The published routing table may still name it: freed after a grace period. */
			if (dp_ingest_retire(s->g, s->v[i].is, free) < 0)
				ctl_log(CTL_LOG_WARN, "out of memory retiring shard %s: kept until stop",
					s->v[i].name);
			continue;
		}
		s->v[w++] = s->v[i];
	}
	s->n = w;
	char sdir[PATH_MAX], gone[PATH_MAX + 64];
	if (path_join(sdir, sizeof(sdir), s->root, stream) < 0)
		return -ENAMETOOLONG;
	snprintf(gone, sizeof(gone), "%s/.deleted-%s-%lld", s->root, stream,
		 (long long)mono_ms());
	/* Rename first so that a crash leaves either the whole stream or a marked leftover. */
	if (rename(sdir, gone) < 0) {
		if (errno == ENOENT)
			return rc;
		int r = -errno;
		ctl_log(CTL_LOG_ERR, "cannot remove stream directory %s: %s", sdir, strerror(-r));
		return r;
	}
	fsync_dir(s->root);
	if (rm_tree(gone) < 0)
		ctl_log(CTL_LOG_WARN, "cannot remove %s: %s; it is removed at the next start", gone,
			strerror(errno));
	return rc;
}

void ctl_shards_each(const struct ctl_shards *s, void (*fn)(void *arg, const char *name,
							      struct dp_shard *sh), void *arg)
{
	for (unsigned i = 0; i < s->n; i++)
		fn(arg, s->v[i].name, s->v[i].sh);
}

struct dp_ingest_shard *ctl_shards_slot(const struct ctl_shards *s, const struct dp_shard *sh)
{
	for (unsigned i = 0; i < s->n; i++)
		if (s->v[i].sh == sh)
			return s->v[i].is;
	return NULL;
}

struct dp_ingest_group *ctl_shards_group(const struct ctl_shards *s)
{
	return s->g;
}

unsigned ctl_shards_count_on_disk(const char *data_dir)
{
	char root[PATH_MAX];
	if (path_join(root, sizeof(root), data_dir, "streams") < 0)
		return 0;
	DIR *d = opendir(root);
	if (!d)
		return 0;
	unsigned n = 0;
	struct dirent *e;
	while ((e = readdir(d))) {
		char sdir[PATH_MAX];
		if (e->d_name[0] == '.' || path_join(sdir, sizeof(sdir), root, e->d_name) < 0)
			continue;
		DIR *sd = opendir(sdir);
		if (!sd)
			continue;
		struct dirent *x;
		while ((x = readdir(sd)))
			n += strncmp(x->d_name, "shardId-", 8) == 0;
		closedir(sd);
	}
	closedir(d);
	return n;
}
