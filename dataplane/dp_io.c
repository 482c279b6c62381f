/* SPDX-License-Identifier: MIT */
/*
 * The real system calls behind struct dp_io_ops, each converted to the negative-errno
 * convention, and two helpers that every caller of the table needs.
 */
#include "dp_io.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

static int sys_open(void *arg, int dirfd, const char *name, int flags, mode_t mode)
{
	(void)arg;
	int fd;
	do
		fd = openat(dirfd, name, flags | O_CLOEXEC, mode);
	while (fd < 0 && errno == EINTR);
	return fd < 0 ? -errno : fd;
}

static int sys_close(void *arg, int fd)
{
	(void)arg;
	/* Linux closes the descriptor even when close() reports EINTR: never retry. */
	return close(fd) < 0 && errno != EINTR ? -errno : 0;
}

static int sys_fallocate(void *arg, int fd, int mode, off_t off, off_t len)
{
	(void)arg;
	int r;
	do
		r = fallocate(fd, mode, off, len);
	while (r < 0 && errno == EINTR);
	return r < 0 ? -errno : 0;
}

static ssize_t sys_pwrite(void *arg, int fd, const void *buf, size_t len, off_t off)
{
	(void)arg;
	ssize_t r = pwrite(fd, buf, len, off);
	return r < 0 ? -errno : r;
}

static int sys_fdatasync(void *arg, int fd)
{
	(void)arg;
	int r;
	do
		r = fdatasync(fd);
	while (r < 0 && errno == EINTR);
	return r < 0 ? -errno : 0;
}

static int sys_unlink(void *arg, int dirfd, const char *name)
{
	(void)arg;
	return unlinkat(dirfd, name, 0) < 0 ? -errno : 0;
}

static int pass_cqe(void *arg, enum dp_io_op op, int fd, int res)
{
	(void)arg, (void)op, (void)fd;
	return res;
}

static const struct dp_io_ops default_ops = {
	.open = sys_open,
	.close = sys_close,
	.fallocate = sys_fallocate,
	.pwrite = sys_pwrite,
	.fdatasync = sys_fdatasync,
	.unlink = sys_unlink,
	.cqe_filter = pass_cqe,
	.arg = NULL,
};

const struct dp_io_ops *dp_io_default(void)
{
	return &default_ops;
}

int dp_io_fsync_dir(const struct dp_io_ops *io, int dirfd)
{
	/* fsync needs a descriptor of its own; re-open "." relative to the directory. */
	int fd = io->open(io->arg, dirfd, ".", O_RDONLY | O_DIRECTORY, 0);
	if (fd < 0)
		return fd;
	int r = io->fdatasync(io->arg, fd);
	int rc = io->close(io->arg, fd);
	return r < 0 ? r : rc;
}

int dp_io_pwrite_all(const struct dp_io_ops *io, int fd, const void *buf, size_t len, off_t off)
{
	const char *p = buf;
	while (len > 0) {
		ssize_t w = io->pwrite(io->arg, fd, p, len, off);
		if (w == -EINTR)
			continue;
		if (w < 0)
			return (int)w;
		if (w == 0)
			return -EIO;
		p += w;
		off += w;
		len -= (size_t)w;
	}
	return 0;
}
