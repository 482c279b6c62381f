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

struct ctl_shard_ent {
	struct dp_shard *sh;
	char name[PATH_MAX];
};

struct ctl_shards {
	ctl_shards_record_fn record_fn;
	void *record_arg;
	struct ctl_shard_ent *v;
	unsigned n, cap;
	char root[PATH_MAX];          /* DATA_DIR/streams */
	struct dp_log_config cfg;
	struct dp_committer *c;
};

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

static int push(struct ctl_shards *s, struct dp_shard *sh, const char *name)
{
	if (s->n == s->cap) {
		unsigned cap = s->cap ? s->cap * 2 : 16;
		struct ctl_shard_ent *v = realloc(s->v, cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		s->v = v;
		s->cap = cap;
	}
	s->v[s->n].sh = sh;
	snprintf(s->v[s->n].name, sizeof(s->v[s->n].name), "%s", name);
	s->n++;
	return 0;
}

static int open_stream(struct ctl_shards *s, const char *sdir, const char *stream,
		       const struct dp_log_config *base, struct dp_committer *c,
		       struct ctl_shards_summary *sum)
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
		struct dp_shard *sh;
		r = dp_shard_open(c, path, &info, cfg, &rep, &sh);
		if (r == -EUCLEAN) {
			ctl_log(CTL_LOG_ERR, "shard log %s is damaged: %s", path, rep.detail);
			break;
		}
		if (r < 0) {
			ctl_log(CTL_LOG_ERR, "cannot open shard log %s: %s; fix the cause (permissions, "
				"disk space) and restart", path, strerror(-r));
			break;
		}
		r = push(s, sh, name);
		if (r < 0) {
			dp_shard_close(sh);
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

int ctl_shards_open(const char *data_dir, const struct dp_log_config *cfg, struct dp_committer *c,
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
	s->c = c;
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
		r = open_stream(s, sdir, e->d_name, cfg, c, sum);
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

int ctl_shards_retention(struct ctl_shards *s, int64_t now_ms)
{
	int total = 0;
	for (unsigned i = 0; i < s->n; i++) {
		int r = dp_shard_retention_run(s->v[i].sh, now_ms);
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
	for (unsigned i = 0; i < s->n; i++) {
		int r = dp_shard_close(s->v[i].sh);
		if (r < 0) {
			ctl_log(CTL_LOG_ERR, "closing shard %s: %s", s->v[i].name, strerror(-r));
			if (!rc)
				rc = r;
		}
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
	struct dp_shard *sh;
	r = dp_shard_open(s->c, path, &info, &cfg, &rep, &sh);
	if (r < 0) {
		ctl_log(CTL_LOG_ERR, "cannot create shard log %s: %s", path, strerror(-r));
		return r;
	}
	/* The new directory entries must survive a crash before the metadata says they exist. */
	if ((r = fsync_dir(sdir)) < 0 || (r = fsync_dir(s->root)) < 0 || (r = push(s, sh, name)) < 0) {
		dp_shard_close(sh);
		return r;
	}
	*ret = sh;
	return 0;
}

int ctl_shards_remove_stream(struct ctl_shards *s, const char *stream)
{
	size_t sl = strlen(stream);
	int rc = 0;
	unsigned w = 0;
	for (unsigned i = 0; i < s->n; i++) {
		if (strncmp(s->v[i].name, stream, sl) == 0 && s->v[i].name[sl] == '/') {
			int r = dp_shard_close(s->v[i].sh);
			if (r < 0 && !rc)
				rc = r;
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
