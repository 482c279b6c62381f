/* SPDX-License-Identifier: MIT */
/*
 * ctl_loop: timers and extra descriptors for the daemon's control-thread event loop.
 *
 * What it owns. A list of tick functions (each says when it wants to run next), a list of
 * descriptors with their callbacks, and one eventfd that any thread may signal to make every
 * tick run at the next turn (a crawler or function thread that finished work, a delivery buffer
 * that filled). Services that need time (delivery buffering intervals, workflow Wait states,
 * schedules) register a tick instead of owning a thread or a loop of their own.
 *
 * Threads. Everything but ctl_loop_wake() runs on the control thread; ctl_loop_wake() is safe
 * from any thread (and from inside a tick: the ticks then run again at the next turn).
 */
#ifndef CTL_LOOP_H
#define CTL_LOOP_H

#include <poll.h>
#include <stdint.h>

struct ctl_loop;

/* Called when due (or woken). Returns the wall-clock ms at which it wants to run next, or
 * CTL_LOOP_NEVER (it still runs after a ctl_loop_wake()). */
typedef int64_t (*ctl_loop_tick_fn)(void *arg, int64_t now_ms);
#define CTL_LOOP_NEVER INT64_MAX

/* Called when fd is readable (or has an error condition). */
typedef void (*ctl_loop_fd_fn)(void *arg, int fd);

int ctl_loop_new(struct ctl_loop **ret);
/* NULL is accepted. Registered descriptors are not closed. */
void ctl_loop_free(struct ctl_loop *l);

/* Register a tick that first runs at the next turn. name appears in logs. Returns 0, -ENOSPC
 * (at most 32) or -EINVAL. */
int ctl_loop_add_tick(struct ctl_loop *l, const char *name, ctl_loop_tick_fn fn, void *arg);

/* Watch fd for POLLIN. Returns 0, -ENOSPC (at most 32) or -EINVAL. */
int ctl_loop_add_fd(struct ctl_loop *l, int fd, ctl_loop_fd_fn fn, void *arg);
/* Stop watching fd. Returns 0 or -ENOENT. */
int ctl_loop_del_fd(struct ctl_loop *l, int fd);

/* Any thread: run every tick at the next turn. */
void ctl_loop_wake(struct ctl_loop *l);

/*
 * One turn's bookkeeping, for the loop that owns poll(): ctl_loop_pollfds() fills at most max
 * entries (the wake descriptor and every registered one) and returns how many; after poll(),
 * ctl_loop_dispatch() runs the callbacks of those that are ready and the ticks that are due
 * (all of them after a wake). It returns the ms until the earliest next tick (0 when one is due
 * now, -1 when none wants time), for poll()'s timeout.
 */
unsigned ctl_loop_pollfds(const struct ctl_loop *l, struct pollfd *p, unsigned max);
int ctl_loop_dispatch(struct ctl_loop *l, const struct pollfd *p, unsigned n, int64_t now_ms);

#endif
