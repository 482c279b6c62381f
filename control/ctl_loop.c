/* SPDX-License-Identifier: MIT */
#include "ctl_loop.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "ctl_log.h"

#define LOOP_MAX 32

struct loop_tick {
	const char *name;
	ctl_loop_tick_fn fn;
	void *arg;
	int64_t due;
};

struct loop_fd {
	int fd;
	ctl_loop_fd_fn fn;
	void *arg;
};

struct ctl_loop {
	int wake_fd;
	struct loop_tick tick[LOOP_MAX];
	unsigned n_tick;
	struct loop_fd fds[LOOP_MAX];
	unsigned n_fd;
};

int ctl_loop_new(struct ctl_loop **ret)
{
	struct ctl_loop *l = calloc(1, sizeof(*l));
	if (!l)
		return -ENOMEM;
	l->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (l->wake_fd < 0) {
		int e = errno;
		free(l);
		return -e;
	}
	*ret = l;
	return 0;
}

void ctl_loop_free(struct ctl_loop *l)
{
	if (!l)
		return;
	close(l->wake_fd);
	free(l);
}

int ctl_loop_add_tick(struct ctl_loop *l, const char *name, ctl_loop_tick_fn fn, void *arg)
{
	if (!fn)
		return -EINVAL;
	if (l->n_tick == LOOP_MAX)
		return -ENOSPC;
	/* Due at once: a service's first tick picks up work recovered at start. */
	l->tick[l->n_tick++] = (struct loop_tick){ name ? name : "?", fn, arg, 0 };
	return 0;
}

int ctl_loop_add_fd(struct ctl_loop *l, int fd, ctl_loop_fd_fn fn, void *arg)
{
	if (fd < 0 || !fn)
		return -EINVAL;
	if (l->n_fd == LOOP_MAX)
		return -ENOSPC;
	l->fds[l->n_fd++] = (struct loop_fd){ fd, fn, arg };
	return 0;
}

int ctl_loop_del_fd(struct ctl_loop *l, int fd)
{
	for (unsigned i = 0; i < l->n_fd; i++) {
		if (l->fds[i].fd != fd)
			continue;
		memmove(&l->fds[i], &l->fds[i + 1], (l->n_fd - i - 1) * sizeof(l->fds[0]));
		l->n_fd--;
		return 0;
	}
	return -ENOENT;
}

void ctl_loop_wake(struct ctl_loop *l)
{
	uint64_t one = 1;
	/* EAGAIN means the counter is already non-zero: a wake is pending either way. */
	if (write(l->wake_fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		ctl_log(CTL_LOG_WARN, "event loop wake-up failed: %s", strerror(errno));
}

unsigned ctl_loop_pollfds(const struct ctl_loop *l, struct pollfd *p, unsigned max)
{
	unsigned n = 0;
	if (n < max)
		p[n++] = (struct pollfd){ .fd = l->wake_fd, .events = POLLIN };
	for (unsigned i = 0; i < l->n_fd && n < max; i++)
		p[n++] = (struct pollfd){ .fd = l->fds[i].fd, .events = POLLIN };
	return n;
}

int ctl_loop_dispatch(struct ctl_loop *l, const struct pollfd *p, unsigned n, int64_t now_ms)
{
	bool woken = false;
	for (unsigned i = 0; i < n; i++) {
		if (!p[i].revents)
			continue;
		if (p[i].fd == l->wake_fd) {
			uint64_t v;
			if (read(l->wake_fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
				ctl_log(CTL_LOG_WARN, "event loop wake-up read failed: %s",
					strerror(errno));
			woken = true;
			continue;
		}
		/* Look the callback up by descriptor: an earlier callback may have removed it. */
		for (unsigned j = 0; j < l->n_fd; j++)
			if (l->fds[j].fd == p[i].fd) {
				l->fds[j].fn(l->fds[j].arg, p[i].fd);
				break;
			}
	}
	int64_t next = CTL_LOOP_NEVER;
	for (unsigned i = 0; i < l->n_tick; i++) {
		struct loop_tick *t = &l->tick[i];
		if (woken || t->due <= now_ms)
			t->due = t->fn(t->arg, now_ms);
		if (t->due < next)
			next = t->due;
	}
	if (next == CTL_LOOP_NEVER)
		return -1;
	int64_t wait = next - now_ms;
	return wait <= 0 ? 0 : wait > 60000 ? 60000 : (int)wait;
}
