/* SPDX-License-Identifier: MIT */
/*
 * ingestd: the appliance daemon. main() parses options into struct ctl_config and composes the
 * modules: the shard logs under the data directory (recovered at start), their committer, and
 * the retention timer. It stays in the foreground until SIGINT or SIGTERM, then closes every
 * shard cleanly. It reports what it actually holds; nothing is announced that is not running.
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <poll.h>
#include <time.h>
#include <unistd.h>

#include "ctl_config.h"
#include "ctl_log.h"
#include "ctl_shards.h"
#include "dp_crc32c.h"
#include "dp_log.h"

static int64_t wall_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int main(int argc, char **argv)
{
	struct ctl_config cfg;
	char err[256];
	if (ctl_config_parse(argc, argv, &cfg, err, sizeof(err)) < 0) {
		fprintf(stderr, "ingestd: %s\n", err);
		return 2;
	}
	if (cfg.help) {
		fputs(ctl_config_usage(), stdout);
		return 0;
	}
	if (cfg.version) {
		printf("ingestd %s\n", INGESTD_VERSION);
		return 0;
	}
	ctl_log_set_level(cfg.log_level);

	/* Signals arrive through a descriptor so the loop can wait on them and on timers alike. */
	sigset_t mask;
	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0) {
		ctl_log(CTL_LOG_ERR, "sigprocmask: %s", strerror(errno));
		return 1;
	}
	int sfd = signalfd(-1, &mask, SFD_CLOEXEC);
	if (sfd < 0) {
		ctl_log(CTL_LOG_ERR, "signalfd: %s", strerror(errno));
		return 1;
	}

	int rc = 1;
	struct dp_committer *c = NULL;
	struct ctl_shards *shards = NULL;
	int r = dp_committer_new(256, NULL, NULL, &c);
	if (r < 0) {
		ctl_log(CTL_LOG_ERR, "cannot set up io_uring: %s; ingestd needs Linux >= 5.6 with "
			"io_uring enabled (sysctl kernel.io_uring_disabled=0)", strerror(-r));
		goto out;
	}
	ctl_log(CTL_LOG_INFO, "starting: data dir %s, durability %s, segments %" PRIu64
		" bytes, retention %u h, CRC32C %s", cfg.data_dir,
		dp_durability_name(cfg.log.durability), cfg.log.segment_bytes,
		cfg.log.retention_hours, dp_crc32c_hw() ? "sse4.2" : "table");

	struct ctl_shards_summary sum;
	r = ctl_shards_open(cfg.data_dir, &cfg.log, c, &shards, &sum);
	if (r < 0)
		goto out;
	ctl_log(CTL_LOG_INFO, "recovered %u shard log(s) in %" PRId64 " ms: %" PRIu64 " records, %"
		PRIu64 " bytes verified, %" PRIu64 " torn bytes cut, %u after an unclean stop, %u "
		"quarantined", sum.shards, sum.elapsed_ms, sum.records, sum.bytes_scanned,
		sum.torn_bytes, sum.unclean, sum.quarantined);
	ctl_log(CTL_LOG_INFO, "running with %u shard log(s) under %s/streams; network listeners: "
		"none configured; stop with Ctrl-C or SIGTERM", sum.shards, cfg.data_dir);

	int64_t next_retention = wall_ms();
	for (;;) {
		int64_t now = wall_ms();
		if (now >= next_retention) {
			int del = ctl_shards_retention(shards, now);
			if (del > 0)
				ctl_log(CTL_LOG_INFO, "retention deleted %d segment(s)", del);
			next_retention = now + (int64_t)cfg.retention_check_s * 1000;
		}
		r = dp_committer_poll(c, false);
		if (r < 0)
			ctl_log(CTL_LOG_ERR, "io_uring poll: %s", strerror(-r));
		struct pollfd p = { .fd = sfd, .events = POLLIN };
		int wait = dp_committer_inflight(c) ? 1 : (int)(next_retention - wall_ms());
		if (wait < 0)
			wait = 0;
		if (poll(&p, 1, wait) > 0) {
			struct signalfd_siginfo si;
			if (read(sfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
				ctl_log(CTL_LOG_INFO, "%s received: closing shard logs",
					strsignal((int)si.ssi_signo));
				break;
			}
		}
	}
	rc = 0;
out:
	if (ctl_shards_close(shards) < 0)
		rc = 1;
	dp_committer_free(c);
	close(sfd);
	if (rc == 0)
		ctl_log(CTL_LOG_INFO, "stopped cleanly");
	return rc;
}
