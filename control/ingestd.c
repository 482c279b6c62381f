/* SPDX-License-Identifier: MIT */
/*
 * ingestd: the appliance daemon. main() parses options into struct ctl_config and composes the
 * modules: the dataplane (DPDK's EAL and NICs, one worker per lcore running the receive loop and
 * its ingest engine), the shard logs under the data directory (recovered at start by the
 * workers that own them), the metadata database, the Kinesis, Glue Data Catalog and Lambda
 * APIs, the
 * HTTP listeners (AWS API on TCP, admin API on a unix socket) and the retention timer, the
 * last ones driven from one event loop on this thread.
 *
 * Threads. Every shard log belongs to one ingest engine: records from the NICs and from HTTP
 * PutRecord(s) are appended by that engine's thread, in one order, on its io_uring. With a
 * dataplane the engines run on the worker lcores; with --nic none there is one engine and this
 * thread drives it from its event loop (the same code path, without DPDK). The control thread
 * submits puts and shard operations on rings and learns of finished puts through an eventfd.
 *
 * It stays in the foreground until SIGINT or SIGTERM, then answers accepted puts, closes every
 * shard cleanly through its owner, and only then stops the workers. It reports what it actually
 * holds; nothing is announced that is not running.
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <poll.h>
#include <time.h>
#include <unistd.h>

#include "ctl_admin.h"
#include "ctl_aws.h"
#include "ctl_config.h"
#include "ctl_dataplane.h"
#include "ctl_firehose.h"
#include "ctl_http.h"
#include "ctl_events.h"
#include "ctl_sfn.h"
#include "ctl_glue.h"
#include "ctl_s3.h"
#include "ctl_kinesis.h"
#include "ctl_lambda.h"
#include "ctl_bridge.h"
#include "ctl_meta.h"
#include "ctl_sigv4.h"
#include "ctl_log.h"
#include "ctl_loop.h"
#include "ctl_shards.h"
#include "dp_crc32c.h"
#include "dp_ingest.h"
#include "dp_log.h"

static int64_t wall_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

struct retention_tick {
	struct ctl_shards *shards;
	unsigned every_s;
};

static int64_t retention_tick(void *arg, int64_t now_ms)
{
	struct retention_tick *rt = arg;
	int del = ctl_shards_retention(rt->shards, now_ms);
	if (del > 0)
		ctl_log(CTL_LOG_INFO, "retention deleted %d segment(s)", del);
	return now_ms + (int64_t)rt->every_s * 1000;
}

/* The delivery streams' own logs are on a committer of the control thread: its ack callback
 * goes to the Firehose module, created after the committer. */
struct fh_route {
	struct ctl_fh *firehose;
};

static void fh_on_ack(void *arg, struct dp_shard *sh, uint64_t ack_next)
{
	struct fh_route *fr = arg;
	if (fr->firehose)
		ctl_fh_on_ack(fr->firehose, sh, ack_next);
}

/* Flush completions of the delivery logs (and flushes their appends need). */
static void fh_committer_ready(void *arg, int fd)
{
	uint64_t ev;
	if (read(fd, &ev, sizeof(ev)) < 0 && errno != EAGAIN)
		ctl_log(CTL_LOG_WARN, "delivery committer eventfd: %s", strerror(errno));
	int r = dp_committer_poll(arg, false);
	if (r < 0)
		ctl_log(CTL_LOG_ERR, "delivery io_uring poll: %s", strerror(-r));
}

static void fh_stats_json(void *arg, json_t *out)
{
	json_object_set_new(out, "delivery_streams", arg ? ctl_fh_stats(arg) : json_array());
}

/* Each listener's route gets its own state. */
struct route_args {
	struct ctl_aws *aws;
	struct ctl_admin *admin;
};

static void route_api(void *arg, struct ctl_http_req *rq)
{
	ctl_aws_route(((struct route_args *)arg)->aws, rq);
}

static void route_admin(void *arg, struct ctl_http_req *rq)
{
	ctl_admin_route(((struct route_args *)arg)->admin, rq);
}

static void route_done(void *arg, struct ctl_http_req *rq, void *state)
{
	ctl_aws_done(((struct route_args *)arg)->aws, rq, state);
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
	struct ctl_dataplane dp = { 0 };
	struct ctl_shards *shards = NULL;
	struct ctl_meta *meta = NULL;
	struct ctl_kinesis *kinesis = NULL;
	struct ctl_glue *glue = NULL;
	struct ctl_lambda *lambda = NULL;
	struct ctl_bridge_transform fh_transform;
	struct ctl_events *events = NULL;
	struct ctl_sfn *sfn = NULL;
	struct ctl_s3 *s3 = NULL;
	struct ctl_fh *firehose = NULL;
	struct dp_committer *fhc = NULL;
	struct fh_route fr = { NULL };
	struct ctl_aws *aws = NULL;
	struct ctl_http *http = NULL;
	struct ctl_sigv4_creds *creds = NULL;
	int r, cfd = -1;
	struct ctl_loop *loop = NULL;
	r = ctl_loop_new(&loop);
	if (r < 0) {
		ctl_log(CTL_LOG_ERR, "cannot create the event loop's eventfd: %s", strerror(-r));
		goto out;
	}
	ctl_log(CTL_LOG_INFO, "starting: data dir %s, durability %s, segments %" PRIu64
		" bytes, retention %u h, CRC32C %s", cfg.data_dir,
		dp_durability_name(cfg.log.durability), cfg.log.segment_bytes,
		cfg.log.retention_hours, dp_crc32c_hw() ? "sse4.2" : "table");

	struct stat dst;
	if ((mkdir(cfg.data_dir, 0750) < 0 && errno != EEXIST) || stat(cfg.data_dir, &dst) < 0 ||
	    !S_ISDIR(dst.st_mode)) {
		ctl_log(CTL_LOG_ERR, "cannot create data directory %s: %s", cfg.data_dir,
			errno == EEXIST ? strerror(ENOTDIR) : strerror(errno));
		goto out;
	}
	if (ctl_dataplane_start(&cfg, ctl_shards_count_on_disk(cfg.data_dir), &dp) < 0)
		goto out;
	if (dp.own) {
		/* This thread drives the engine: wake when its io_uring completes a flush. */
		cfd = dp_committer_event_fd(dp_ingest_committer(dp_ingest_worker(dp.own, 0)));
		if (cfd < 0) {
			ctl_log(CTL_LOG_ERR, "cannot register an eventfd with io_uring: %s",
				strerror(-cfd));
			goto out;
		}
	}
	char path[4096];
	snprintf(path, sizeof(path), "%s/meta.db", cfg.data_dir);
	if (ctl_meta_open(path, &meta) < 0)
		goto out;
	struct ctl_shards_summary sum;
	r = ctl_shards_open(cfg.data_dir, &cfg.log, dp.g, dp.n, dp.own != NULL,
			    ctl_kinesis_max_record, meta, &shards, &sum);
	if (r < 0)
		goto out;
	ctl_log(CTL_LOG_INFO, "recovered %u shard log(s) in %" PRId64 " ms: %" PRIu64 " records, %"
		PRIu64 " bytes verified, %" PRIu64 " torn bytes cut, %u after an unclean stop, %u "
		"quarantined", sum.shards, sum.elapsed_ms, sum.records, sum.bytes_scanned,
		sum.torn_bytes, sum.unclean, sum.quarantined);

	struct ctl_kinesis_config kcfg = { .shard_limit = cfg.shard_limit,
					   .default_retention_h = cfg.log.retention_hours,
					   .iterator_ttl_s = cfg.iterator_ttl_s };
	if (ctl_kinesis_new(&kcfg, meta, shards, &kinesis) < 0 || ctl_glue_new(meta, &glue) < 0)
		goto out;
	char s3_root[4096];
	snprintf(s3_root, sizeof(s3_root), "%s", cfg.s3_root ? cfg.s3_root : "");
	if (!cfg.s3_root)
		snprintf(s3_root, sizeof(s3_root), "%s/s3", cfg.data_dir);
	r = dp_committer_new(256, fh_on_ack, &fr, &fhc);
	if (r < 0) {
		ctl_log(CTL_LOG_ERR, "cannot set up io_uring: %s; ingestd needs Linux >= 5.6 with "
			"io_uring enabled (sysctl kernel.io_uring_disabled=0)", strerror(-r));
		goto out;
	}
	int fhfd = dp_committer_event_fd(fhc);
	if (fhfd < 0) {
		ctl_log(CTL_LOG_ERR, "cannot register an eventfd with io_uring: %s", strerror(-fhfd));
		goto out;
	}
	if (ctl_loop_add_fd(loop, fhfd, fh_committer_ready, fhc) < 0)
		goto out;
	struct ctl_fh_config fcfg = { .data_dir = cfg.data_dir, .s3_root = s3_root,
				      .log = &cfg.log, .account_id = cfg.account_id,
				      .region = cfg.region };
	if (ctl_fh_new(&fcfg, meta, fhc, loop, kinesis, &firehose) < 0)
		goto out;
	fr.firehose = firehose;
	if (cfg.credentials) {
		char why[300];
		r = ctl_sigv4_creds_load(cfg.credentials, &creds, why, sizeof(why));
		if (r < 0) {
			ctl_log(CTL_LOG_ERR, "--credentials: %s", why);
			goto out;
		}
		ctl_log(CTL_LOG_INFO, "AWS requests must be signed with one of %zu key(s) from %s",
			ctl_sigv4_creds_count(creds), cfg.credentials);
	}
	struct ctl_aws_config acfg = { .account_id = cfg.account_id, .region = cfg.region,
				       .creds = creds };
	if (ctl_aws_new(&acfg, &aws) < 0 || ctl_kinesis_register(kinesis, aws) < 0 ||
	    ctl_glue_register(glue, aws) < 0 || ctl_fh_register(firehose, aws) < 0)
		goto out;
	/* Functions: the Lambda API, and event source mappings driven by the loop. */
	struct ctl_lambda_config lcfg = { .data_dir = cfg.data_dir, .account_id = cfg.account_id,
					  .region = cfg.region, .deliver = ctl_bridge_deliver,
					  .deliver_arg = aws };
	if (ctl_lambda_new(&lcfg, meta, aws, loop, &lambda) < 0 ||
	    ctl_lambda_register(lambda, aws) < 0)
		goto out;
	/* Delivery streams' Lambda processors run functions (built-ins for other names). */
	ctl_bridge_transform_init(&fh_transform, lambda);
	ctl_fh_set_transform(firehose, &fh_transform.t);
	if (ctl_events_new(meta, aws, loop, &events) < 0 || ctl_events_register(events, aws) < 0)
		goto out;
	/* Step Functions: Lambda tasks run functions. */
	struct ctl_sfn_config sfcfg = { .meta = meta, .aws = aws, .loop = loop,
					.invoker = { ctl_bridge_sfn_invoke, lambda },
					.region = cfg.region, .account_id = cfg.account_id };
	if (ctl_sfn_new(&sfcfg, &sfn) < 0 || ctl_sfn_register(sfn, aws) < 0)
		goto out;
	/* S3 takes every REST path: registered after every other REST service. */
	if (ctl_s3_new(s3_root, &s3) < 0 || ctl_s3_register(s3, aws) < 0)
		goto out;
	if ((r = ctl_glue_attach(glue, loop, s3_root)) < 0) {
		ctl_log(CTL_LOG_ERR, "cannot start the crawlers: %s", strerror(-r));
		goto out;
	}

	char sock[4096];
	if (cfg.admin_socket)
		snprintf(sock, sizeof(sock), "%s", cfg.admin_socket);
	else
		snprintf(sock, sizeof(sock), "%s/ingestd.sock", cfg.data_dir);
	if (ctl_admin_schema(meta) < 0)
		goto out;
	struct ctl_admin admin = { .aws = aws, .kinesis = kinesis, .shards = shards, .meta = meta,
				   .lambda = lambda,
				   .dataplane_stats = ctl_dataplane_stats, .dataplane_arg = &dp,
				   .data_dir = cfg.data_dir, .api_listen = cfg.api_listen,
				   .started_ms = wall_ms() };
	if (ctl_admin_add_stats(&admin, ctl_events_stats_json, events) < 0 ||
	    ctl_admin_add_stats(&admin, fh_stats_json, firehose) < 0 ||
	    ctl_admin_add_stats(&admin, ctl_sfn_stats_json, sfn) < 0)
		goto out;
	struct route_args ra = { aws, &admin };
	struct ctl_http_config hcfg = {
		.api_listen = cfg.api_listen,
		.admin_socket = sock,
		.max_body = cfg.max_body,
		.allow_public = creds != NULL,
		.api_route = route_api,
		.admin_route = route_admin,
		.done = route_done,
		.arg = &ra,
	};
	if (ctl_http_new(&hcfg, &http) < 0)
		goto out;

	unsigned streams, open;
	ctl_kinesis_counts(kinesis, &streams, &open);
	char api[300] = "(disabled)";
	if (cfg.api_listen) {
		/* Name the port actually bound (a :0 listen picks one). */
		const char *colon = strrchr(cfg.api_listen, ':');
		snprintf(api, sizeof(api), "%.*s:%u", (int)(colon - cfg.api_listen), cfg.api_listen,
			 ctl_http_api_port(http));
	}
	ctl_log(CTL_LOG_INFO, "running with %u shard log(s) under %s/streams, %u stream(s) with %u "
		"open shard(s), %u delivery stream(s) writing under %s; AWS API on %s, admin API on %s; stop with Ctrl-C or SIGTERM",
		sum.shards, cfg.data_dir, streams, open, ctl_fh_count(firehose), cfg.s3_root, api,
		sock);

	struct retention_tick rt = { shards, cfg.retention_check_s };
	if (ctl_loop_add_tick(loop, "retention", retention_tick, &rt) < 0)
		goto out;
	int loop_wait = 0;
	for (;;) {
		uint64_t ev;
		if (cfd >= 0 && read(cfd, &ev, sizeof(ev)) < 0 && errno != EAGAIN)
			ctl_log(CTL_LOG_WARN, "committer eventfd: %s", strerror(errno));
		/* Flush completions (when this thread drives the engine), then the finished puts. */
		r = ctl_shards_poll(shards);
		if (r < 0)
			ctl_log(CTL_LOG_ERR, "io_uring poll: %s", strerror(-r));
		ctl_kinesis_reap(kinesis);
		if (ctl_http_run(http) < 0)
			ctl_log(CTL_LOG_WARN, "HTTP listeners reported an error");
		/* Handlers submitted puts: let this thread's engine append and flush them now. */
		r = ctl_shards_poll(shards);
		if (r < 0)
			ctl_log(CTL_LOG_ERR, "io_uring poll: %s", strerror(-r));
		ctl_kinesis_reap(kinesis);
		/* Delivery streams staged records: their flushes too. */
		r = dp_committer_poll(fhc, false);
		if (r < 0)
			ctl_log(CTL_LOG_ERR, "delivery io_uring poll: %s", strerror(-r));

		struct pollfd p[4 + 40] = {
			{ .fd = sfd, .events = POLLIN },
			{ .fd = ctl_http_fd(http), .events = POLLIN },
			{ .fd = dp_ingest_event_fd(dp.g), .events = POLLIN },
			{ .fd = cfd, .events = POLLIN },
		};
		/* The committer's eventfd only when this thread drives the engine. */
		unsigned base = cfd >= 0 ? 4 : 3;
		unsigned np = base + ctl_loop_pollfds(loop, p + base, 40);
		int wait = loop_wait;
		int ht = ctl_http_timeout_ms(http);
		if (ht >= 0 && (wait < 0 || ht < wait))
			wait = ht;
		/* Retired routing objects are reclaimed on the loop's turns. */
		if (wait < 0 || wait > 200)
			wait = 200;
		int pr = poll(p, np, wait);
		if (pr > 0 && (p[0].revents & POLLIN)) {
			struct signalfd_siginfo si;
			if (read(sfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
				ctl_log(CTL_LOG_INFO, "%s received: answering pending requests, closing "
					"shard logs", strsignal((int)si.ssi_signo));
				break;
			}
		}
		loop_wait = ctl_loop_dispatch(loop, p + base, pr > 0 ? np - base : 0, wall_ms());
		/* Internal requests (schedules' targets) answered this turn. */
		ctl_aws_reap(aws);
	}
	/* Every accepted put gets its answer before the logs close. */
	ctl_kinesis_drain(kinesis);
	ctl_fh_drain(firehose);
	for (int i = 0; i < 20; i++) {
		ctl_http_run(http);
		/* A request read in these last turns is answered too. */
		ctl_kinesis_drain(kinesis);
	}
	/* What the last turn changed in executions is journaled (and its callers answered). */
	ctl_sfn_flush(sfn);
	rc = 0;
out:
	ctl_http_free(http);
	/* After the drain (the Kinesis calls functions made are answered), before Kinesis goes. */
	ctl_lambda_free(lambda);
	/* Before the Kinesis shards close: a stream source's reads happen on this thread, and the
	 * delivery logs share the committer. */
	ctl_fh_free(firehose);
	fr.firehose = NULL;
	ctl_kinesis_free(kinesis);
	ctl_glue_free(glue);
	ctl_events_free(events);
	ctl_sfn_free(sfn);
	ctl_s3_free(s3);
	ctl_aws_free(aws);
	ctl_sigv4_creds_free(creds);
	/* Through the owners, so before the workers stop. */
	if (ctl_shards_close(shards) < 0)
		rc = 1;
	ctl_meta_close(meta);
	ctl_dataplane_stop(&dp);
	dp_committer_free(fhc);
	ctl_loop_free(loop);
	close(sfd);
	if (rc == 0)
		ctl_log(CTL_LOG_INFO, "stopped cleanly");
	return rc;
}
