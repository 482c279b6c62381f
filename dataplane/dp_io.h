/* SPDX-License-Identifier: MIT */
/*
 * dp_io: the table through which the shard log reaches the file system.
 *
 * Every synchronous call the log makes on its files (open, close, fallocate, pwrite, fdatasync,
 * unlink, directory fsync) goes through a struct dp_io_ops, and every io_uring completion the
 * log receives passes through its cqe_filter before it is acted on. Tests install their own table
 * to inject EIO, ENOSPC, short writes or cancelled links at a chosen call; production uses
 * dp_io_default(). The table is read-only after it is handed to the log; it may be shared by any
 * number of threads as long as the hooks themselves are thread-safe.
 *
 * All functions return >= 0 on success and a negative errno on failure (never -1 with errno).
 */
#ifndef DP_IO_H
#define DP_IO_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Operations that reach the file system; the cqe filter is told which one completed. */
enum dp_io_op {
	DP_IO_WRITE = 1,  /* io_uring write of staged batches */
	DP_IO_FSYNC,      /* io_uring fdatasync linked after a write */
	DP_IO_ZERO,       /* io_uring write of zeros ahead of the log's tail (dp_log.c, "Zero ahead") */
	DP_IO_OP_COUNT
};

struct dp_io_ops {
	int (*open)(void *arg, int dirfd, const char *name, int flags, mode_t mode);
	int (*close)(void *arg, int fd);
	int (*fallocate)(void *arg, int fd, int mode, off_t off, off_t len);
	ssize_t (*pwrite)(void *arg, int fd, const void *buf, size_t len, off_t off);
	int (*fdatasync)(void *arg, int fd);
	int (*unlink)(void *arg, int dirfd, const char *name);
	/*
	 * Called with each io_uring completion result before the log looks at it. Returns the result
	 * the log should act on: res unchanged, a negative errno, or a smaller byte count for a write
	 * (the log then rewrites the remainder, which is harmless since the bytes are the same).
	 */
	int (*cqe_filter)(void *arg, enum dp_io_op op, int fd, int res);
	void *arg;
};

/* The table of real system calls. Never NULL. */
const struct dp_io_ops *dp_io_default(void);

/* Open `name` under `dirfd` read-only as a directory and fsync it (after create or unlink). */
int dp_io_fsync_dir(const struct dp_io_ops *io, int dirfd);

/* pwrite all of buf, retrying short writes and EINTR. Returns 0 or a negative errno. */
int dp_io_pwrite_all(const struct dp_io_ops *io, int fd, const void *buf, size_t len, off_t off);

#endif
