/* SPDX-License-Identifier: MIT */
/*
 * Recovery at open: verify every batch of every segment, rebuild the sparse indexes, and decide
 * what to do with the first invalid batch (protocol-aware recovery):
 *
 *  - If nothing anywhere claims it durable (no valid batch, before or after it, carries a
 *    durable_seq above its sequence number), it is a torn tail: the bytes from there on were
 *    never fdatasync'ed, so none of them was acked. They are zeroed (so that stale batches never
 *    reappear behind later appends) and later, empty segments are removed.
 *  - Otherwise it is corruption of acknowledged data: the shard is QUARANTINED, nothing is cut,
 *    the valid prefix stays readable and the operator gets the exact place in rep->detail.
 *
 * Every open of an existing log then writes and syncs a SKIP batch before any append (see
 * start_run()): after an unclean stop it moves the next sequence number past everything the
 * previous run could have handed out (DP_STAGES staging buffers of the smallest records), so
 * numbers are never reused even for records that were lost unacked.
 */
#include "dp_log_internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dp_crc32c.h"

/* Smallest record frame: header plus a one-byte key and no data. */
#define DP_MIN_REC_BYTES (DP_REC_HDR_BYTES + 1u)

struct seg_file {
	uint64_t base;
	char name[DP_SEG_NAME_LEN + 1];
};

static int cmp_seg_file(const void *a, const void *b)
{
	const struct seg_file *x = a, *y = b;
	return x->base < y->base ? -1 : x->base > y->base;
}

/* List `%020llu.log` files of the shard directory, sorted by base sequence number. */
static int list_segments(int dirfd, struct seg_file **out, unsigned *n_out)
{
	int fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	DIR *d = fdopendir(fd);
	if (!d) {
		int r = -errno;
		close(fd);
		return r;
	}
	struct seg_file *v = NULL;
	unsigned n = 0, cap = 0;
	struct dirent *e;
	int r = 0;
	while ((e = readdir(d))) {
		const char *s = e->d_name;
		if (strlen(s) != DP_SEG_NAME_LEN || strcmp(s + 20, ".log") != 0 ||
		    strspn(s, "0123456789") != 20)
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 16;
			struct seg_file *nv = realloc(v, cap * sizeof(*nv));
			if (!nv) {
				r = -ENOMEM;
				break;
			}
			v = nv;
		}
		v[n].base = strtoull(s, NULL, 10);
		memcpy(v[n].name, s, DP_SEG_NAME_LEN + 1);
		n++;
	}
	closedir(d);
	if (r < 0) {
		free(v);
		return r;
	}
	if (n) /* qsort's base must not be NULL, even for zero elements */
		qsort(v, n, sizeof(*v), cmp_seg_file);
	*out = v;
	*n_out = n;
	return 0;
}

/* A segment file mapped for the scan. */
struct scan_seg {
	struct dp_seg *seg;
	const uint8_t *map;
	uint64_t size;         /* file size: what the scan may look at */
	uint64_t seg_bytes;    /* size the header records (>= size when the header is valid) */
	uint32_t buffer_bytes; /* staging size of the writer that created it */
	bool header_ok;
};

static int map_segment(struct dp_shard *sh, const struct seg_file *f, struct scan_seg *ss)
{
	memset(ss, 0, sizeof(*ss));
	int fd = sh->io->open(sh->io->arg, sh->dirfd, f->name, O_RDWR, 0);
	if (fd < 0)
		return fd;
	struct stat stt;
	if (fstat(fd, &stt) < 0) {
		int r = -errno;
		sh->io->close(sh->io->arg, fd);
		return r;
	}
	uint64_t size = (uint64_t)stt.st_size;
	int r = dp_seg_alloc(sh, f->base, size < DP_SEG_HDR_BYTES ? DP_SEG_HDR_BYTES : size, &ss->seg);
	if (r < 0) {
		sh->io->close(sh->io->arg, fd);
		return r;
	}
	ss->seg->fd = fd;
	ss->size = size;
	if (size) {
		void *m = mmap(NULL, size, PROT_READ, MAP_SHARED, fd, 0);
		if (m == MAP_FAILED) {
			r = -errno;
			dp_seg_unref(ss->seg);
			ss->seg = NULL;
			return r;
		}
		madvise(m, size, MADV_SEQUENTIAL);
		ss->map = m;
	}
	if (size >= DP_SEG_HDR_BYTES) {
		struct dp_seg_hdr h;
		memcpy(&h, ss->map, sizeof(h));
		uint32_t crc = h.crc;
		h.crc = 0;
		/*
		 * A file shorter than its header says lost its end (truncated by a tool, a copy or a
		 * file system that never persisted the preallocated size): the missing bytes count as
		 * zeros, i.e. like an unwritten tail, and whether anything acknowledged went with them
		 * is decided like for any other tail, by the durable claims of what remains. A file
		 * longer than its header says, or a size no config makes, was not written by the
		 * log: damage.
		 */
		ss->header_ok = memcmp(h.magic, DP_SEG_MAGIC, 8) == 0 && h.version == DP_SEG_VERSION &&
				dp_crc32c(0, &h, sizeof(h)) == crc && h.base_seq == f->base &&
				h.seg_bytes >= size && h.seg_bytes >= DP_SEG_MIN_BYTES;
		if (ss->header_ok) {
			if (h.shard_index != sh->info.shard_index)
				return -ESTALE;
			sh->info.created_ms = h.shard_created_ms;
			ss->buffer_bytes = h.buffer_bytes;
			ss->seg_bytes = h.seg_bytes;
		}
	}
	return 0;
}

/* Give a short last segment back its recorded size (preallocated, reads as zeros), so that the
 * writer rolls where the header says and the file matches its header again. */
static int restore_size(struct dp_shard *sh, struct scan_seg *ss)
{
	struct dp_seg *seg = ss->seg;
	/* Never beyond the configured size: the header's word alone must not make us allocate. */
	if (!ss->header_ok || ss->seg_bytes <= seg->size || ss->seg_bytes > sh->cfg.segment_bytes)
		return 0;
	uint32_t cap = dp_seg_idx_cap(ss->seg_bytes, sh->cfg.index_interval);
	struct dp_idx_entry *idx = realloc(seg->idx, (size_t)cap * sizeof(*idx));
	if (!idx)
		return -ENOMEM;
	seg->idx = idx;
	seg->idx_cap = cap;
	int r = sh->io->fallocate(sh->io->arg, seg->fd, 0, 0, (off_t)ss->seg_bytes);
	if (r < 0)
		return r;
	r = sh->io->fdatasync(sh->io->arg, seg->fd);
	if (r < 0)
		return r;
	seg->size = ss->seg_bytes;
	return 0;
}

static void unmap_segment(struct scan_seg *ss)
{
	if (ss->map)
		munmap((void *)ss->map, ss->size);
	ss->map = NULL;
}

/* What lies past a point of the log: the largest durable claim of anything that still parses
 * as a batch, whether any does, and the end of the last non-zero word of the first segment. */
struct tail_info {
	uint64_t claim;
	uint64_t valid;
	uint64_t nz_end;
};

static inline bool block_is_zero(const uint8_t *p)
{
	uint64_t w[8];
	memcpy(w, p, sizeof(w));
	return (w[0] | w[1] | w[2] | w[3] | w[4] | w[5] | w[6] | w[7]) == 0;
}

static void scan_one(const struct scan_seg *ss, uint64_t off, struct tail_info *t, bool first)
{
	uint64_t o = off & ~7ull;
	while (o < ss->size) {
		/* Only data extents can hold anything: the preallocated rest of a segment is unwritten
		 * extents that read as zeros, which SEEK_DATA skips without touching a page. Where the
		 * file system cannot say, everything is scanned. */
		uint64_t end = ss->size;
		off_t d = lseek(ss->seg->fd, (off_t)o, SEEK_DATA);
		if (d < 0 && errno == ENXIO)
			break;
		if (d >= 0) {
			if (((uint64_t)d & ~7ull) > o)
				o = (uint64_t)d & ~7ull;
			off_t hole = lseek(ss->seg->fd, (off_t)o, SEEK_HOLE);
			if (hole >= 0 && (uint64_t)hole < end)
				end = (uint64_t)hole;
		}
		for (; o < end; o += 8) {
			/* Zeros are the common case (a preallocated tail that is in the page cache, so
			 * SEEK_DATA calls it data): skip them 64 bytes at a time. */
			while ((o & 63) == 0 && o + 64 <= end && block_is_zero(ss->map + o))
				o += 64;
			if (o >= end)
				break;
			/* A short file may end inside a word: its last bytes count too. */
			uint64_t w = 0, n = ss->size - o < 8 ? ss->size - o : 8;
			memcpy(&w, ss->map + o, n);
			if (!w)
				continue;
			if (first)
				t->nz_end = o + n;
			if ((uint32_t)w != DP_BATCH_MAGIC)
				continue;
			struct dp_batch_hdr h;
			if (dp_batch_check(ss->map + o, ss->size - o, &h) == 0) {
				t->valid++;
				if (h.durable_seq > t->claim)
					t->claim = h.durable_seq;
			}
		}
	}
}

/* Scan segment i from off, and every later segment whole. */
static struct tail_info scan_tail(const struct scan_seg *ss, unsigned i, unsigned n, uint64_t off)
{
	struct tail_info t = { 0, 0, 0 };
	scan_one(&ss[i], off, &t, true);
	for (unsigned j = i + 1; j < n; j++)
		scan_one(&ss[j], DP_SEG_HDR_BYTES, &t, false);
	return t;
}

/* Zero [from, to) of a segment and make that durable, so stale bytes never reappear. */
static int zero_range(struct dp_shard *sh, int fd, uint64_t from, uint64_t to)
{
	if (to <= from)
		return 0;
	int r = sh->io->fallocate(sh->io->arg, fd, FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE,
				  (off_t)from, (off_t)(to - from));
	if (r == -EOPNOTSUPP || r == -EINVAL) {
		static const uint8_t zeros[65536];
		for (uint64_t o = from; o < to; o += sizeof(zeros)) {
			uint64_t n = to - o < sizeof(zeros) ? to - o : sizeof(zeros);
			r = dp_io_pwrite_all(sh->io, fd, zeros, n, (off_t)o);
			if (r < 0)
				return r;
		}
		r = 0;
	}
	if (r < 0)
		return r;
	return sh->io->fdatasync(sh->io->arg, fd);
}

static void quarantine(struct dp_shard_recovery *rep, uint64_t seq, const char *seg, uint64_t off,
		       uint64_t claim, const char *what)
{
	rep->quarantined = true;
	rep->corrupt_seq = seq;
	char acked[64] = "";
	if (claim > seq)
		snprintf(acked, sizeof(acked), ", below the durable mark %" PRIu64, claim);
	snprintf(rep->detail, sizeof(rep->detail),
		 "%s at %s offset %" PRIu64 " (sequence %" PRIu64 "%s); nothing was cut, restore "
		 "the shard from a replica or backup", what, seg, off, seq, acked);
}

/*
 * Begin a new run on a recovered log: a SKIP marker, written and synced before the first append.
 * After an unclean stop (the log does not end with CLOSE) it jumps past every number the last
 * run may have handed out (every staging buffer full of the smallest records: the ones in flight
 * and the one being filled, DP_STAGES in all). After a clean stop it jumps nothing, but the log
 * no longer ends with CLOSE, so a crash of this run before its first flush is seen as unclean and
 * the numbers it handed out are skipped too.
 *
 * The marker claims every kept record durable, so first fdatasync the segments that hold
 * records no claim covers: written and none modes never sync, and a crash can leave a flush's
 * write in the page cache without its fdatasync. A segment already covered costs nothing.
 *
 * The marker goes at the end of the last segment, or when it does not fit there at the start of
 * a new segment whose base is `expected`, so that the segment chain stays contiguous.
 * Returns 0 and the next sequence number in *next_out, or a negative errno.
 */
static int start_run(struct dp_shard *sh, bool clean, uint64_t expected, uint64_t max_claim,
		     uint64_t buf_hint, int64_t last_ts, uint64_t *next_out)
{
	const struct dp_io_ops *io = sh->io;
	uint64_t gap = clean ? 0 : DP_STAGES * (buf_hint / DP_MIN_REC_BYTES) + 1;
	uint64_t next = gap > DP_SEQ_MAX - expected ? DP_SEQ_MAX : expected + gap;
	struct dp_seg *last = sh->segs[sh->nsegs - 1];
	bool room = last->end + DP_BATCH_HDR_BYTES <= last->size;
	int r;

	for (uint32_t i = 0; i < sh->nsegs; i++) {
		uint64_t upper = i + 1 < sh->nsegs ? sh->segs[i + 1]->base_seq : expected;
		if (upper <= max_claim || (room && i + 1 == sh->nsegs))
			continue; /* covered, or synced with the marker below */
		r = io->fdatasync(io->arg, sh->segs[i]->fd);
		if (r < 0)
			return r;
	}
	struct dp_seg *seg = last;
	if (!room && last->base_seq == expected) {
		/*
		 * The last segment holds no record, only markers, and has no room for one more (or is
		 * smaller than a header and a batch, which the log never makes: refuse). A new one
		 * would need its name, so reuse it: zero everything after the header, then the marker
		 * goes first. A crash in between leaves an empty segment without CLOSE, an unclean
		 * stop: the next open still jumps.
		 */
		if (last->size < DP_SEG_HDR_BYTES + DP_BATCH_HDR_BYTES)
			return -ENOSPC;
		r = zero_range(sh, last->fd, DP_SEG_HDR_BYTES, last->end);
		if (r < 0)
			return r;
		last->end = DP_SEG_HDR_BYTES;
	} else if (!room) {
		r = dp_seg_create(sh, expected, &seg);
		if (r < 0)
			return r;
		r = dp_shard_segs_push(sh, seg);
		if (r < 0) {
			dp_seg_unref(seg);
			return r;
		}
		atomic_store(&seg->max_ts, atomic_load(&last->max_ts));
		atomic_store(&last->next_base, expected);
	}
	uint8_t b[DP_BATCH_HDR_BYTES];
	dp_batch_encode(b, DP_BATCH_SKIP, NULL, 0, 0, next, last_ts == INT64_MIN ? 0 : last_ts,
			expected, NULL);
	r = dp_io_pwrite_all(io, seg->fd, b, sizeof(b), (off_t)seg->end);
	if (r == 0)
		r = io->fdatasync(io->arg, seg->fd);
	if (r < 0)
		return r;
	seg->end += sizeof(b);
	*next_out = next;
	return 0;
}

/* The durable-mark file's record, when present and valid for this shard (else zeros). */
static struct dp_mark_rec read_mark(struct dp_shard *sh)
{
	struct dp_mark_rec m = { 0 };
	int fd = openat(sh->dirfd, DP_MARK_NAME, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return m;
	ssize_t n = pread(fd, &m, sizeof(m), 0);
	close(fd);
	if (n != (ssize_t)sizeof(m) || dp_mark_check(&m, sh->info.shard_index) < 0)
		memset(&m, 0, sizeof(m));
	return m;
}

/* Open the mark file for this run and record `next` and this run's buffer size, synced. */
static int write_mark(struct dp_shard *sh, uint64_t next)
{
	const struct dp_io_ops *io = sh->io;
	bool created = faccessat(sh->dirfd, DP_MARK_NAME, F_OK, 0) < 0;
	int fd = io->open(io->arg, sh->dirfd, DP_MARK_NAME, O_RDWR | O_CREAT, 0644);
	if (fd < 0)
		return fd;
	dp_mark_encode(&sh->mark.rec, sh->info.shard_index, next, sh->cfg.buffer_bytes);
	int r = dp_io_pwrite_all(io, fd, &sh->mark.rec, sizeof(sh->mark.rec), 0);
	if (r == 0)
		r = io->fdatasync(io->arg, fd);
	if (r == 0 && created)
		r = dp_io_fsync_dir(io, sh->dirfd);
	if (r < 0) {
		io->close(io->arg, fd);
		return r;
	}
	sh->mark.fd = fd;
	return 0;
}

int dp_log_recover(struct dp_shard *sh, struct dp_shard_recovery *rep)
{
	struct seg_file *files = NULL;
	unsigned nfiles = 0;
	int r = list_segments(sh->dirfd, &files, &nfiles);
	if (r < 0)
		return r;

	struct scan_seg *ss = calloc(nfiles ? nfiles : 1, sizeof(*ss));
	if (!ss) {
		free(files);
		return -ENOMEM;
	}
	for (unsigned i = 0; i < nfiles; i++) {
		r = map_segment(sh, &files[i], &ss[i]);
		if (r < 0)
			goto out;
	}

	uint64_t expected = nfiles ? files[0].base : 1;
	/* The mark file claims what the last run saw durable, including its newest batch, which no
	 * batch claim covers; and its staging size bounds what it may have handed out. */
	struct dp_mark_rec mark = read_mark(sh);
	uint64_t max_claim = mark.durable_next, buf_hint = sh->cfg.buffer_bytes;
	if (mark.buffer_bytes > buf_hint)
		buf_hint = mark.buffer_bytes;
	if (nfiles == 0 && max_claim > 1) {
		rep->quarantined = true;
		rep->corrupt_seq = 1;
		snprintf(rep->detail, sizeof(rep->detail),
			 "every segment file is missing but %s records sequence numbers up to %" PRIu64
			 " as durable; restore the segments, or remove the shard directory to start "
			 "it empty", DP_MARK_NAME, max_claim - 1);
		r = -EUCLEAN;
		goto out;
	}
	int64_t last_ts = INT64_MIN;
	bool clean = false, stopped = false;
	unsigned keep = nfiles; /* segments kept */

	for (unsigned i = 0; i < nfiles && !stopped; i++) {
		struct scan_seg *s = &ss[i];
		struct dp_seg *seg = s->seg;
		if (s->buffer_bytes > buf_hint)
			buf_hint = s->buffer_bytes;
		if (!s->header_ok || files[i].base != expected) {
			/* Only an empty leftover of a roll that never became durable is acceptable
			 * here: a header that is not all zeros, or any batch in it or after it, means
			 * damage to data that was (or may have been) acknowledged. */
			struct tail_info t = scan_tail(ss, i, nfiles, s->header_ok ? DP_SEG_HDR_BYTES : 0);
			if (t.valid || (!s->header_ok && t.nz_end) || max_claim > expected) {
				quarantine(rep, expected, files[i].name, 0,
					   t.claim > max_claim ? t.claim : max_claim,
					   s->header_ok ? "segment does not continue the log"
							: "corrupt segment header");
				keep = nfiles;
			} else {
				keep = i;
			}
			stopped = true;
			break;
		}
		uint64_t off = DP_SEG_HDR_BYTES;
		for (;;) {
			struct dp_batch_hdr h;
			int v = off < s->size ? dp_batch_check(s->map + off, s->size - off, &h) : -ENODATA;
			if (v == 0 && ((h.kind == DP_BATCH_SKIP && h.first_seq >= expected) ||
				       h.first_seq == expected)) {
				if (h.kind == DP_BATCH_DATA)
					dp_seg_index_add(seg, sh->cfg.index_interval, h.first_seq, h.ts_ms, off);
				if ((h.flags & DP_BATCH_F_TAG) && sh->tag_fn) {
					struct dp_batch_tag tag = {
						.first_seq = h.first_seq, .count = h.count,
						.ts_ms = h.ts_ms,
					};
					memcpy(&tag.producer, s->map + off + DP_BATCH_HDR_BYTES, 8);
					memcpy(&tag.batch, s->map + off + DP_BATCH_HDR_BYTES + 8, 8);
					sh->tag_fn(sh->tag_arg, &tag);
				}
				if (h.kind == DP_BATCH_DATA && h.ts_ms > last_ts)
					last_ts = h.ts_ms;
				if (h.kind == DP_BATCH_DATA && h.ts_ms > atomic_load(&seg->max_ts))
					atomic_store(&seg->max_ts, h.ts_ms);
				if (h.durable_seq > max_claim)
					max_claim = h.durable_seq;
				expected = h.first_seq + h.count;
				clean = h.kind == DP_BATCH_CLOSE;
				rep->batches++;
				rep->records += h.count;
				rep->bytes_scanned += h.len;
				off += h.len;
				continue;
			}
			/* End of this segment's batches: zeros, garbage, or a batch out of order. */
			if (v == -ENODATA && i + 1 < nfiles) {
				struct tail_info z = { 0, 0, 0 };
				scan_one(s, off, &z, true);
				if (z.nz_end <= off) {
					/* Sealed: the next file carries on, or is judged as a leftover
					 * (removed only when it holds nothing) at the top of the loop. */
					seg->end = off;
					break;
				}
			}
			/* From off itself: the first word of a torn batch is part of the torn tail. */
			struct tail_info t = scan_tail(ss, i, nfiles, off);
			uint64_t nz_end = t.nz_end, claim = t.claim > max_claim ? t.claim : max_claim;
			if (v == -ENODATA && nz_end <= off && claim <= expected) {
				/* Clean end of the log (possibly followed by empty segments). */
				seg->end = off;
				keep = i + 1;
				stopped = true;
				break;
			}
			if (claim > expected) {
				quarantine(rep, expected, files[i].name, off, claim,
					   "invalid batch");
				seg->end = off;
				keep = nfiles; /* keep everything: nothing is cut */
				stopped = true;
				break;
			}
			/* Torn tail: never durable, never acked. Zero it so it stays gone. */
			if (nz_end > off) {
				rep->torn_bytes += nz_end - off;
				r = zero_range(sh, seg->fd, off, nz_end);
				if (r < 0)
					goto out;
			}
			snprintf(rep->detail, sizeof(rep->detail),
				 "torn tail cut at %s offset %" PRIu64 " (%" PRIu64
				 " bytes, sequence %" PRIu64 " onwards was never acknowledged)",
				 files[i].name, off, rep->torn_bytes, expected);
			seg->end = off;
			keep = i + 1;
			stopped = true;
			break;
		}
	}

	/* Remove trailing segments past the end of the log (they hold nothing durable). */
	if (!rep->quarantined) {
		for (unsigned i = keep; i < nfiles; i++) {
			unmap_segment(&ss[i]);
			r = sh->io->unlink(sh->io->arg, sh->dirfd, files[i].name);
			if (r < 0)
				goto out;
			rep->segments_removed++;
			dp_seg_unref(ss[i].seg);
			ss[i].seg = NULL;
		}
		if (keep < nfiles) {
			r = dp_io_fsync_dir(sh->io, sh->dirfd);
			if (r < 0)
				goto out;
		}
		nfiles = keep;
	}

	/* A short last segment gets its preallocated size back before anything is appended. */
	if (!rep->quarantined && nfiles) {
		r = restore_size(sh, &ss[nfiles - 1]);
		if (r < 0)
			goto out;
	}
	int64_t run_ts = INT64_MIN;
	for (unsigned i = 0; i < nfiles; i++) {
		unmap_segment(&ss[i]);
		if (i + 1 < nfiles)
			atomic_store(&ss[i].seg->next_base, files[i + 1].base);
		/* Readers binary-search segments by newest arrival time: one without records (only
		 * markers) takes its predecessor's, so that the times stay sorted. */
		if (atomic_load(&ss[i].seg->max_ts) == INT64_MIN)
			atomic_store(&ss[i].seg->max_ts, run_ts);
		run_ts = atomic_load(&ss[i].seg->max_ts);
		r = dp_shard_segs_push(sh, ss[i].seg);
		if (r < 0)
			goto out;
		ss[i].seg = NULL;
	}
	rep->segments = sh->nsegs;
	rep->clean = clean;
	sh->last_ts = last_ts;

	uint64_t next = expected;
	if (sh->nsegs == 0) {
		/* A new log: a crash before the first flush leaves it without CLOSE, which the next
		 * open treats as unclean, so nothing handed out now can be handed out again. */
		struct dp_seg *seg;
		r = dp_seg_create(sh, next, &seg);
		if (r < 0)
			goto out;
		r = dp_shard_segs_push(sh, seg);
		if (r < 0) {
			dp_seg_unref(seg);
			goto out;
		}
		rep->segments = 1;
		rep->clean = true;
	} else if (!rep->quarantined) {
		r = start_run(sh, clean, expected, max_claim, buf_hint, last_ts, &next);
		if (r < 0)
			goto out;
	}
	if (!rep->quarantined) {
		r = write_mark(sh, next);
		if (r < 0)
			goto out;
	}
	atomic_store(&sh->next_seq, next);
	atomic_store(&sh->ack_next, next);
	atomic_store(&sh->durable_next, next);
	atomic_store(&sh->readable_next, rep->quarantined ? rep->corrupt_seq : next);
	atomic_store(&sh->trim_seq, sh->segs[0]->base_seq);
	r = 0;
out:
	for (unsigned i = 0; i < nfiles; i++) {
		unmap_segment(&ss[i]);
		dp_seg_unref(ss[i].seg);
	}
	free(ss);
	free(files);
	return r;
}
