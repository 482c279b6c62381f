/* SPDX-License-Identifier: MIT */
#include "ctl_sched.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define YEAR_MIN 1970
#define YEAR_MAX 2199

static int fail(char *why, unsigned n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int fail(char *why, unsigned n, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	if (why && n)
		vsnprintf(why, n, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

/* ---- rate() ---------------------------------------------------------------------------------- */

static int parse_rate(const char *s, size_t len, struct ctl_sched *out, char *why, unsigned n)
{
	char buf[64];
	if (len >= sizeof(buf))
		return fail(why, n, "rate(): expected rate(VALUE UNIT), e.g. rate(5 minutes)");
	memcpy(buf, s, len);
	buf[len] = '\0';
	char *p = buf;
	while (*p == ' ')
		p++;
	if (!isdigit((unsigned char)*p))
		return fail(why, n, "rate(): the value must be a positive whole number, e.g. "
			    "rate(5 minutes)");
	errno = 0;
	char *end;
	unsigned long long v = strtoull(p, &end, 10);
	if (errno || v == 0 || v > 1000000)
		return fail(why, n, "rate(): the value must be a whole number from 1 to 1000000");
	if (*end != ' ')
		return fail(why, n, "rate(): expected a unit after the value (minute(s), hour(s), "
			    "day(s) or second(s))");
	while (*end == ' ')
		end++;
	size_t ul = strlen(end);
	while (ul && end[ul - 1] == ' ')
		end[--ul] = '\0';
	static const struct { const char *name; int64_t ms; } units[] = {
		{ "second", 1000 }, { "minute", 60000 }, { "hour", 3600000 }, { "day", 86400000 },
	};
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		size_t l = strlen(units[i].name);
		if (strncmp(end, units[i].name, l) != 0)
			continue;
		bool plural = end[l] == 's' && end[l + 1] == '\0';
		if (!plural && end[l] != '\0')
			break;
		if (plural != (v != 1))
			return fail(why, n, "rate(): use the singular unit for 1 and the plural "
				    "otherwise, e.g. rate(1 %s) or rate(%llu %ss)", units[i].name,
				    v == 1 ? 2ULL : v, units[i].name);
		out->is_rate = true;
		out->rate_ms = (int64_t)v * units[i].ms;
		return 0;
	}
	return fail(why, n, "rate(): unknown unit '%s': use minute(s), hour(s), day(s) or "
		    "second(s)", end);
}

/* ---- cron() ---------------------------------------------------------------------------------- */

struct field_def {
	const char *name;
	int min, max;
	const char *const *names;  /* names[i] is value min + i; NULL: numbers only */
};

static const char *const month_names[] = { "JAN", "FEB", "MAR", "APR", "MAY", "JUN",
					   "JUL", "AUG", "SEP", "OCT", "NOV", "DEC" };
static const char *const wday_names[] = { "SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT" };

enum { F_MIN, F_HOUR, F_MDAY, F_MONTH, F_WDAY, F_YEAR, F__COUNT };

static const struct field_def fields[F__COUNT] = {
	{ "Minutes", 0, 59, NULL },
	{ "Hours", 0, 23, NULL },
	{ "Day-of-month", 1, 31, NULL },
	{ "Month", 1, 12, month_names },
	{ "Day-of-week", 1, 7, wday_names },
	{ "Year", YEAR_MIN, YEAR_MAX, NULL },
};

/* A value (number or name) at *p; advances *p. Returns 0 or -1. */
static int field_value(const struct field_def *f, const char **p, int *out)
{
	const char *s = *p;
	if (isdigit((unsigned char)*s)) {
		long v = 0;
		while (isdigit((unsigned char)*s) && v < 100000)
			v = v * 10 + (*s++ - '0');
		if (v < f->min || v > f->max)
			return -1;
		*out = (int)v;
		*p = s;
		return 0;
	}
	if (!f->names)
		return -1;
	for (int i = 0; i <= f->max - f->min; i++)
		if (strncasecmp(s, f->names[i], 3) == 0 && !isalpha((unsigned char)s[3])) {
			*out = f->min + i;
			*p = s + 3;
			return 0;
		}
	return -1;
}

static void bit_set(uint64_t *bits, int v)
{
	bits[v / 64] |= 1ULL << (v % 64);
}

static bool bit_get(const uint64_t *bits, int v)
{
	return bits[v / 64] >> (v % 64) & 1;
}

/*
 * One comma-separated item of a field into bits (indexed by value - f->min). Specials of the day
 * fields are handled by the caller.
 */
static int field_item(const struct field_def *f, const char *s, uint64_t *bits)
{
	int lo = f->min, hi = f->max, step = 1;
	const char *p = s;
	if (*p == '*') {
		p++;
	} else {
		if (field_value(f, &p, &lo) < 0)
			return -1;
		hi = lo;
		if (*p == '-') {
			p++;
			if (field_value(f, &p, &hi) < 0)
				return -1;
		}
	}
	if (*p == '/') {
		p++;
		if (!isdigit((unsigned char)*p))
			return -1;
		long st = 0;
		while (isdigit((unsigned char)*p) && st < 100000)
			st = st * 10 + (*p++ - '0');
		if (st < 1 || st > f->max - f->min + 1)
			return -1;
		step = (int)st;
		/* "5/15" runs from 5 to the end of the range. */
		if (s[0] != '*' && !strchr(s, '-'))
			hi = f->max;
	}
	if (*p)
		return -1;
	if (lo <= hi) {
		for (int v = lo; v <= hi; v += step)
			bit_set(bits, v - f->min);
	} else {
		/* A range that wraps (e.g. FRI-MON, NOV-FEB), as EventBridge accepts. */
		int span = f->max - f->min + 1, count = (hi - f->min + span - (lo - f->min)) % span;
		for (int k = 0; k <= count; k += step)
			bit_set(bits, (lo - f->min + k) % span);
	}
	return 0;
}

static int parse_field(int idx, const char *s, struct ctl_sched *out, uint64_t *bits, char *why,
		       unsigned n)
{
	const struct field_def *f = &fields[idx];
	if (strcmp(s, "?") == 0) {
		if (idx != F_MDAY && idx != F_WDAY)
			return fail(why, n, "cron(): '?' is only allowed in Day-of-month or "
				    "Day-of-week, not in %s", f->name);
		if (idx == F_MDAY)
			out->mday_any = true;
		else
			out->wday_any = true;
		return 0;
	}
	if (idx == F_MDAY) {
		if (strcasecmp(s, "L") == 0) {
			out->mday_last = true;
			return 0;
		}
		if (strcasecmp(s, "LW") == 0) {
			out->mday_last_weekday = true;
			return 0;
		}
		size_t l = strlen(s);
		if (l >= 2 && l <= 3 && (s[l - 1] == 'W' || s[l - 1] == 'w')) {
			int d = atoi(s);
			if (d < 1 || d > 31 || !isdigit((unsigned char)s[0]) ||
			    (l == 3 && !isdigit((unsigned char)s[1])))
				return fail(why, n, "cron(): Day-of-month '%s': W needs a day from 1 "
					    "to 31 before it, e.g. 15W", s);
			out->mday_nearest_weekday = d;
			return 0;
		}
	}
	if (idx == F_WDAY) {
		size_t l = strlen(s);
		const char *hash = strchr(s, '#');
		if (strcasecmp(s, "L") == 0) {
			/* "L" alone in Day-of-week is Saturday, the week's last day. */
			out->wday_last = 0;
			bit_set(bits, 6);
			return 0;
		}
		if (l >= 2 && (s[l - 1] == 'L' || s[l - 1] == 'l')) {
			char v[8];
			snprintf(v, sizeof(v), "%.*s", (int)(l - 1), s);
			const char *p = v;
			int d;
			if (field_value(f, &p, &d) < 0 || *p)
				return fail(why, n, "cron(): Day-of-week '%s': L needs a day (1-7 or "
					    "SUN-SAT) before it, e.g. 6L", s);
			out->wday_last = d;
			return 0;
		}
		if (hash) {
			char v[8];
			snprintf(v, sizeof(v), "%.*s", (int)(hash - s), s);
			const char *p = v;
			int d;
			if (field_value(f, &p, &d) < 0 || *p || hash[1] < '1' || hash[1] > '5' ||
			    hash[2])
				return fail(why, n, "cron(): Day-of-week '%s': use DAY#N with N from "
					    "1 to 5, e.g. 3#2 (the second Tuesday)", s);
			out->wday_nth_day = d - 1;
			out->wday_nth = hash[1] - '0';
			return 0;
		}
	}
	char buf[CTL_SCHED_EXPR_MAX];
	snprintf(buf, sizeof(buf), "%s", s);
	for (char *save = NULL, *it = strtok_r(buf, ",", &save); it;
	     it = strtok_r(NULL, ",", &save))
		if (field_item(f, it, bits) < 0)
			goto bad;
	if (s[0] == ',' || s[strlen(s) - 1] == ',' || strstr(s, ",,"))
		goto bad;
	return 0;
bad:
	return fail(why, n, "cron(): %s '%s' is not valid: use values %d-%d%s with , - * /%s",
		    f->name, s, f->min, f->max,
		    f->names ? (idx == F_MONTH ? " or JAN-DEC" : " or SUN-SAT") : "",
		    idx == F_MDAY ? " ? L W" : idx == F_WDAY ? " ? L #" : "");
}

static int parse_cron(const char *s, size_t len, struct ctl_sched *out, char *why, unsigned n)
{
	char buf[CTL_SCHED_EXPR_MAX];
	if (len >= sizeof(buf))
		return fail(why, n, "cron(): expression too long");
	memcpy(buf, s, len);
	buf[len] = '\0';
	char *f[F__COUNT + 1];
	int nf = 0;
	for (char *save = NULL, *it = strtok_r(buf, " \t", &save); it;
	     it = strtok_r(NULL, " \t", &save)) {
		if (nf == F__COUNT)
			return fail(why, n, "cron(): expected 6 fields (Minutes Hours Day-of-month "
				    "Month Day-of-week Year), found more");
		f[nf++] = it;
	}
	if (nf != F__COUNT)
		return fail(why, n, "cron(): expected 6 fields (Minutes Hours Day-of-month Month "
			    "Day-of-week Year), found %d", nf);
	uint64_t bits[F__COUNT][4];
	memset(bits, 0, sizeof(bits));
	for (int i = 0; i < F__COUNT; i++) {
		int r = parse_field(i, f[i], out, bits[i], why, n);
		if (r < 0)
			return r;
	}
	if (out->mday_any == out->wday_any)
		return fail(why, n, "cron(): exactly one of Day-of-month and Day-of-week must be "
			    "'?', e.g. cron(0 12 * * ? *) or cron(0 12 ? * MON-FRI *)");
	out->minutes = bits[F_MIN][0];
	out->hours = (uint32_t)bits[F_HOUR][0];
	out->mdays = (uint32_t)(bits[F_MDAY][0] << 1);    /* bit d for day d */
	out->months = (uint16_t)(bits[F_MONTH][0] << 1);  /* bit m for month m */
	out->wdays = (uint8_t)bits[F_WDAY][0];            /* bit 0 = SUN (value 1) */
	memcpy(out->years, bits[F_YEAR], sizeof(out->years));
	return 0;
}

int ctl_sched_parse(const char *expr, struct ctl_sched *out, char *why, unsigned whylen)
{
	memset(out, 0, sizeof(*out));
	if (!expr || !*expr)
		return fail(why, whylen, "empty schedule expression: use rate(...) or cron(...)");
	size_t len = strnlen(expr, CTL_SCHED_EXPR_MAX + 1);
	if (len > CTL_SCHED_EXPR_MAX)
		return fail(why, whylen, "schedule expression longer than %d characters",
			    CTL_SCHED_EXPR_MAX);
	if (expr[len - 1] != ')')
		return fail(why, whylen, "schedule expression must be rate(...) or cron(...)");
	if (strncmp(expr, "rate(", 5) == 0)
		return parse_rate(expr + 5, len - 6, out, why, whylen);
	if (strncmp(expr, "cron(", 5) == 0)
		return parse_cron(expr + 5, len - 6, out, why, whylen);
	return fail(why, whylen, "schedule expression must be rate(...) or cron(...)");
}

/* ---- next run -------------------------------------------------------------------------------- */

static int days_in_month(int year, int mon0)
{
	static const int d[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
	return mon0 == 1 && leap ? 29 : d[mon0];
}

/* Weekday (0 = Sunday) of a date. */
static int weekday(int year, int mon0, int mday)
{
	struct tm t = { .tm_year = year - 1900, .tm_mon = mon0, .tm_mday = mday, .tm_hour = 12 };
	time_t tt = timegm(&t);
	struct tm o;
	gmtime_r(&tt, &o);
	return o.tm_wday;
}

static bool day_matches(const struct ctl_sched *s, const struct tm *t)
{
	int year = t->tm_year + 1900, dim = days_in_month(year, t->tm_mon), d = t->tm_mday;
	if (s->wday_any) {
		if (s->mday_last)
			return d == dim;
		if (s->mday_last_weekday) {
			int last = dim, wd = weekday(year, t->tm_mon, dim);
			last -= wd == 0 ? 2 : wd == 6 ? 1 : 0;
			return d == last;
		}
		if (s->mday_nearest_weekday) {
			int target = s->mday_nearest_weekday;
			if (target > dim)
				return false;
			int wd = weekday(year, t->tm_mon, target), want = target;
			/* The nearest weekday within the month, as Quartz and EventBridge read W. */
			if (wd == 6)
				want = target == 1 ? 3 : target - 1;
			else if (wd == 0)
				want = target == dim ? target - 2 : target + 1;
			return d == want;
		}
		return s->mdays >> d & 1;
	}
	if (s->wday_last)
		return t->tm_wday == s->wday_last - 1 && d + 7 > dim;
	if (s->wday_nth)
		return t->tm_wday == s->wday_nth_day && (d - 1) / 7 + 1 == s->wday_nth;
	return s->wdays >> t->tm_wday & 1;
}

static int64_t cron_next(const struct ctl_sched *s, int64_t after_ms)
{
	int64_t start = after_ms < 0 ? 0 : after_ms;
	time_t tt = (time_t)(start / 60000 + 1) * 60;
	struct tm t;
	gmtime_r(&tt, &t);
	/* Each step moves to the start of the next candidate unit: a few thousand steps at most
	 * within a year, and years that do not match are skipped whole. */
	for (int guard = 0; guard < 1000000; guard++) {
		int year = t.tm_year + 1900;
		if (year > YEAR_MAX)
			return -1;
		if (!bit_get(s->years, year - YEAR_MIN)) {
			t = (struct tm){ .tm_year = t.tm_year + 1, .tm_mday = 1 };
		} else if (!(s->months >> (t.tm_mon + 1) & 1)) {
			t = (struct tm){ .tm_year = t.tm_year, .tm_mon = t.tm_mon + 1, .tm_mday = 1 };
		} else if (!day_matches(s, &t)) {
			t = (struct tm){ .tm_year = t.tm_year, .tm_mon = t.tm_mon,
					 .tm_mday = t.tm_mday + 1 };
		} else if (!(s->hours >> t.tm_hour & 1)) {
			t = (struct tm){ .tm_year = t.tm_year, .tm_mon = t.tm_mon,
					 .tm_mday = t.tm_mday, .tm_hour = t.tm_hour + 1 };
		} else if (!(s->minutes >> t.tm_min & 1)) {
			t.tm_min++;
			t.tm_sec = 0;
		} else {
			return (int64_t)timegm(&t) * 1000;
		}
		/* Normalise the carried field (and fill in tm_wday). */
		tt = timegm(&t);
		gmtime_r(&tt, &t);
	}
	return -1;
}

int64_t ctl_sched_next(const struct ctl_sched *s, int64_t anchor_ms, int64_t after_ms)
{
	if (!s->is_rate)
		return cron_next(s, after_ms);
	if (after_ms < anchor_ms)
		return anchor_ms + s->rate_ms;
	int64_t k = (after_ms - anchor_ms) / s->rate_ms + 1;
	return anchor_ms + k * s->rate_ms;
}
