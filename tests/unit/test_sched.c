/* SPDX-License-Identifier: MIT */
/* EventBridge schedule expressions: parsing (valid and invalid) and next-run times. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "ctl_sched.h"
#include "dp_test.h"

/* "2026-11-27 23:45" -> epoch ms (UTC). */
static int64_t at(const char *s)
{
	struct tm t = { 0 };
	int y, mo, d, h, mi;
	if (sscanf(s, "%d-%d-%d %d:%d", &y, &mo, &d, &h, &mi) != 5)
		return -2;
	t.tm_year = y - 1900;
	t.tm_mon = mo - 1;
	t.tm_mday = d;
	t.tm_hour = h;
	t.tm_min = mi;
	return (int64_t)timegm(&t) * 1000;
}

static void show(int64_t ms, char *out, size_t n)
{
	if (ms < 0) {
		snprintf(out, n, "never");
		return;
	}
	time_t tt = (time_t)(ms / 1000);
	struct tm t;
	gmtime_r(&tt, &t);
	strftime(out, n, "%Y-%m-%d %H:%M %a", &t);
}

static void check_next(const char *expr, const char *after, const char *want)
{
	struct ctl_sched s;
	char why[200], got[64];
	int r = ctl_sched_parse(expr, &s, why, sizeof(why));
	if (r != 0)
		fprintf(stderr, "# %s: %s\n", expr, why);
	REQUIRE(r == 0);
	show(ctl_sched_next(&s, 0, at(after)), got, sizeof(got));
	if (strcmp(got, want) != 0)
		fprintf(stderr, "# %s after %s\n", expr, after);
	CHECK_STR(got, want);
}

static void test_cron_next_runs(void)
{
	/* AWS's documented examples. */
	check_next("cron(0 10 * * ? *)", "2026-11-27 23:45", "2026-11-28 10:00 Sat");
	check_next("cron(15 12 * * ? *)", "2026-11-28 12:15", "2026-11-29 12:15 Sun");
	check_next("cron(0 18 ? * MON-FRI *)", "2026-11-27 19:00", "2026-11-30 18:00 Mon");
	check_next("cron(0 8 1 * ? *)", "2026-11-27 23:45", "2026-12-01 08:00 Tue");
	check_next("cron(0/10 * ? * MON-FRI *)", "2026-11-27 23:45", "2026-11-27 23:50 Fri");
	check_next("cron(0/5 8-17 ? * MON-FRI *)", "2026-11-27 17:55", "2026-11-30 08:00 Mon");
	check_next("cron(0 9 ? * 2#1 *)", "2026-11-27 00:00", "2026-12-07 09:00 Mon");
	/* Every minute; strictly after. */
	check_next("cron(* * * * ? *)", "2026-11-27 23:45", "2026-11-27 23:46 Fri");
	check_next("cron(0 0 L * ? *)", "2026-02-01 00:00", "2026-02-28 00:00 Sat");
	check_next("cron(0 0 L * ? *)", "2028-02-01 00:00", "2028-02-29 00:00 Tue");
	check_next("cron(0 0 LW * ? *)", "2026-01-01 00:00", "2026-01-30 00:00 Fri");
	/* 15W: Nov 15 2026 is a Sunday -> Monday 16th; Aug 1 2026 is a Saturday -> Monday 3rd. */
	check_next("cron(0 0 15W * ? *)", "2026-11-01 00:00", "2026-11-16 00:00 Mon");
	check_next("cron(0 0 1W * ? *)", "2026-07-31 00:00", "2026-08-03 00:00 Mon");
	check_next("cron(30 2 ? * 6L *)", "2026-11-01 00:00", "2026-11-27 02:30 Fri");
	check_next("cron(0 0 ? * L *)", "2026-11-27 00:00", "2026-11-28 00:00 Sat");
	check_next("cron(0 12 29 FEB ? *)", "2026-03-01 00:00", "2028-02-29 12:00 Tue");
	check_next("cron(0 0 1 1 ? 2030)", "2026-11-27 00:00", "2030-01-01 00:00 Tue");
	check_next("cron(0 0 1 1 ? 2020)", "2026-11-27 00:00", "never");
	check_next("cron(0 0 31 * ? *)", "2026-11-27 00:00", "2026-12-31 00:00 Thu");
	check_next("cron(0 0 ? * FRI-MON *)", "2026-11-25 00:00", "2026-11-27 00:00 Fri");
	check_next("cron(0 0 ? * FRI-MON *)", "2026-11-30 00:00", "2026-12-04 00:00 Fri");
	check_next("cron(5,35 14 * * ? *)", "2026-11-27 14:05", "2026-11-27 14:35 Fri");
	check_next("cron(0 23 * NOV-FEB ? *)", "2026-03-01 00:00", "2026-11-01 23:00 Sun");
	check_next("cron(0 0 1 */3 ? *)", "2026-11-27 00:00", "2027-01-01 00:00 Fri");
}

static void test_rate_next_runs(void)
{
	struct ctl_sched s;
	char why[200];
	REQUIRE(ctl_sched_parse("rate(5 minutes)", &s, why, sizeof(why)) == 0);
	CHECK(s.is_rate);
	CHECK_EQ(s.rate_ms, 300000);
	/* Anchored at creation: the first run one period later, then every period. */
	CHECK_EQ(ctl_sched_next(&s, 1000, 0), 301000);
	CHECK_EQ(ctl_sched_next(&s, 1000, 1000), 301000);
	CHECK_EQ(ctl_sched_next(&s, 1000, 300999), 301000);
	CHECK_EQ(ctl_sched_next(&s, 1000, 301000), 601000);
	REQUIRE(ctl_sched_parse("rate(1 hour)", &s, why, sizeof(why)) == 0);
	CHECK_EQ(s.rate_ms, 3600000);
	REQUIRE(ctl_sched_parse("rate(2 days)", &s, why, sizeof(why)) == 0);
	CHECK_EQ(s.rate_ms, 2 * 86400000LL);
	REQUIRE(ctl_sched_parse("rate(10 seconds)", &s, why, sizeof(why)) == 0);
	CHECK_EQ(s.rate_ms, 10000);
	REQUIRE(ctl_sched_parse("rate(1 minute)", &s, why, sizeof(why)) == 0);
	CHECK_EQ(s.rate_ms, 60000);
}

static void check_bad(const char *expr, const char *needle)
{
	struct ctl_sched s;
	char why[200] = "";
	CHECK_EQ(ctl_sched_parse(expr, &s, why, sizeof(why)), -EINVAL);
	if (!strstr(why, needle))
		fprintf(stderr, "# '%s' -> '%s' (wanted '%s')\n", expr, why, needle);
	CHECK(strstr(why, needle) != NULL);
}

static void test_bad_expressions(void)
{
	check_bad("", "empty");
	check_bad("rate(5 minute)", "plural");
	check_bad("rate(1 minutes)", "singular");
	check_bad("rate(0 minutes)", "from 1");
	check_bad("rate(-5 minutes)", "positive");
	check_bad("rate(5 weeks)", "unknown unit");
	check_bad("rate(5)", "unit");
	check_bad("rate 5 minutes", "rate(...) or cron(...)");
	check_bad("at(2026-01-01T00:00:00)", "rate(...) or cron(...)");
	check_bad("cron(0 10 * * ?)", "found 5");
	check_bad("cron(0 10 * * ? * *)", "found more");
	check_bad("cron(0 10 * * * *)", "exactly one");
	check_bad("cron(0 10 ? * ? *)", "exactly one");
	check_bad("cron(60 10 * * ? *)", "Minutes '60'");
	check_bad("cron(0 24 * * ? *)", "Hours '24'");
	check_bad("cron(0 0 32 * ? *)", "Day-of-month '32'");
	check_bad("cron(0 0 0 * ? *)", "Day-of-month '0'");
	check_bad("cron(0 0 * 13 ? *)", "Month '13'");
	check_bad("cron(0 0 * FOO ? *)", "Month 'FOO'");
	check_bad("cron(0 0 ? * 8 *)", "Day-of-week '8'");
	check_bad("cron(0 0 ? * 2#6 *)", "DAY#N");
	check_bad("cron(0 0 * * ? 1969)", "Year '1969'");
	check_bad("cron(0 0 * * ? 2200)", "Year '2200'");
	check_bad("cron(0/0 0 * * ? *)", "Minutes");
	check_bad("cron(0,,5 0 * * ? *)", "Minutes");
	check_bad("cron(0, 0 * * ? *)", "Minutes '0,'");
	check_bad("cron(? 0 * * ? *)", "only allowed");
	check_bad("cron(0 0 40W * ? *)", "W needs");
	check_bad("cron(0 0 ? * 9L *)", "L needs");
	check_bad("cron(0 0 * * ? *", "rate(...) or cron(...)");
	char longx[400];
	memset(longx, ' ', sizeof(longx));
	memcpy(longx, "cron(", 5);
	longx[398] = ')';
	longx[399] = '\0';
	check_bad(longx, "longer than");
}

int main(void)
{
	DP_TEST_RUN(test_cron_next_runs);
	DP_TEST_RUN(test_rate_next_runs);
	DP_TEST_RUN(test_bad_expressions);
	return dp_test_done();
}
