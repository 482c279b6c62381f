/* SPDX-License-Identifier: MIT */
/*
 * ctl_log: the daemon's leveled log on stderr (one line per event, UTC timestamp, level, text).
 * Thread-safe (one fprintf per line). Hot paths count instead of logging (STYLE.md rule 8).
 */
#ifndef CTL_LOG_H
#define CTL_LOG_H

enum ctl_log_level { CTL_LOG_ERR = 0, CTL_LOG_WARN, CTL_LOG_INFO, CTL_LOG_DEBUG };

/* Messages above this level are dropped; default CTL_LOG_INFO. */
void ctl_log_set_level(enum ctl_log_level lvl);
/* Parse "error", "warn", "info" or "debug". Returns 0 or -EINVAL. */
int ctl_log_parse_level(const char *s, enum ctl_log_level *out);

__attribute__((format(printf, 2, 3))) void ctl_log(enum ctl_log_level lvl, const char *fmt, ...);

#endif
