/* SPDX-License-Identifier: MIT */
/* The daemon's stderr log. The level is the module's only state, set once at start-up. */
#include "ctl_log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static enum ctl_log_level max_level = CTL_LOG_INFO;
static const char *const level_names[] = { "error", "warn", "info", "debug" };

void ctl_log_set_level(enum ctl_log_level lvl)
{
	max_level = lvl;
}

int ctl_log_parse_level(const char *s, enum ctl_log_level *out)
{
	for (unsigned i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++)
		if (strcmp(s, level_names[i]) == 0) {
			*out = (enum ctl_log_level)i;
			return 0;
		}
	return -EINVAL;
}

void ctl_log(enum ctl_log_level lvl, const char *fmt, ...)
{
	if (lvl > max_level)
		return;
	char line[1024];
	struct timespec ts;
	struct tm tm;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	int n = snprintf(line, sizeof(line), "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ ingestd %s: ",
			 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
			 tm.tm_sec, ts.tv_nsec / 1000000, level_names[lvl]);
	va_list ap;
	va_start(ap, fmt);
	if (n > 0 && (size_t)n < sizeof(line))
		vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
	va_end(ap);
	fprintf(stderr, "%s\n", line);
}
