/* SPDX-License-Identifier: MIT */
/*
 * ctl_sched: EventBridge schedule expressions, parsed once and asked for their next run.
 *
 * The language, as EventBridge documents it:
 *  - `rate(N unit)`: N a positive integer, unit minute|minutes|hour|hours|day|days, singular
 *    exactly when N is 1 ("rate(1 hour)", "rate(5 minutes)"). Runs every N units, counted from
 *    an anchor (the time the rule was created or last enabled). Extension: the unit
 *    second|seconds (EventBridge's smallest unit is the minute; short periods serve demos and
 *    tests, and rules that use them are refused by AWS itself).
 *  - `cron(Minutes Hours Day-of-month Month Day-of-week Year)`, six fields, all in UTC:
 *      Minutes 0-59, Hours 0-23            , - * /
 *      Day-of-month 1-31                   , - * ? / L W   (L last day, LW last weekday,
 *                                                          15W the weekday nearest the 15th)
 *      Month 1-12 or JAN-DEC               , - * /
 *      Day-of-week 1-7 or SUN-SAT (1 = SUN), - * ? L #     (6L last Friday, 3#2 second Tuesday)
 *      Year 1970-2199                      , - * /
 *    Exactly one of Day-of-month and Day-of-week is `?`.
 * Anything else is refused with a message that names the field and what it accepts.
 *
 * Threads: none of its own; a parsed schedule is immutable and may be shared.
 */
#ifndef CTL_SCHED_H
#define CTL_SCHED_H

#include <stdbool.h>
#include <stdint.h>

#define CTL_SCHED_EXPR_MAX 256

struct ctl_sched {
	bool is_rate;
	int64_t rate_ms;          /* rate(): the period */
	/* cron(): bit sets of the allowed values. */
	uint64_t minutes;         /* bit m, 0..59 */
	uint32_t hours;           /* bit h, 0..23 */
	uint32_t mdays;           /* bit d, 1..31 */
	uint16_t months;          /* bit m, 1..12 */
	uint8_t wdays;            /* bit w, 0..6 (0 = Sunday) */
	uint64_t years[4];        /* bit y - 1970, 1970..2199 */
	bool mday_any, wday_any;  /* the field was `?` */
	bool mday_last, mday_last_weekday;
	int mday_nearest_weekday; /* "15W": 15; 0 none */
	int wday_last;            /* "6L": 1 + weekday (0 none) */
	int wday_nth_day, wday_nth;  /* "3#2": weekday 2 (0-based: Tuesday), nth 2; nth 0 none */
};

/*
 * Parse expr (NUL-terminated, at most CTL_SCHED_EXPR_MAX bytes). Returns 0, or -EINVAL after
 * writing a one-line reason into why (whylen bytes).
 */
int ctl_sched_parse(const char *expr, struct ctl_sched *out, char *why, unsigned whylen);

/*
 * The first run strictly after after_ms (epoch ms, UTC). anchor_ms is the rate's origin (rules:
 * when created or last enabled); cron ignores it. Returns the time in epoch ms (cron: a whole
 * minute), or -1 when no run is left (a cron whose years are over).
 */
int64_t ctl_sched_next(const struct ctl_sched *s, int64_t anchor_ms, int64_t after_ms);

#endif
