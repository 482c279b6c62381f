/* SPDX-License-Identifier: MIT */
/* ingestd's options: getopt_long into struct ctl_config, with a message for every bad value. */
#include "ctl_config.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char usage[] =
	"usage: ingestd [OPTIONS]\n"
	"\n"
	"Runs the ingest appliance: opens and recovers every shard log under the data directory,\n"
	"serves the AWS-compatible API (Kinesis) on TCP and the admin API on a unix socket,\n"
	"enforces retention, and stays in the foreground until SIGINT or SIGTERM, then closes\n"
	"every shard cleanly.\n"
	"\n"
	"  --data-dir DIR          data directory (default /var/lib/ingestd); shard logs live in\n"
	"                          DIR/streams/<stream>/<shardId-NNNNNNNNNNNN>/\n"
	"  --durability MODE       when a record is acknowledged: durable (default, after\n"
	"                          fdatasync), written (after the write), none (when staged)\n"
	"  --segment-size SIZE     segment file size, preallocated (default 64M; K, M, G suffixes)\n"
	"  --buffer-size SIZE      per-shard staging buffer, two per shard (default 4M, >= 1M+4K)\n"
	"  --index-interval SIZE   bytes of log between sparse index entries (default 64K)\n"
	"  --retention-hours N     default retention, 24..8760 (default 24)\n"
	"  --retention-check SECS  seconds between retention passes (default 60)\n"
	"  --log-level LEVEL       error, warn, info (default) or debug\n"
	"  --api-listen HOST:PORT  AWS API listener (default 127.0.0.1:4566; 'none' to disable);\n"
	"                          a non-loopback address is served with a warning\n"
	"  --admin-socket PATH     admin API unix socket, mode 0600 (default DATA_DIR/ingestd.sock)\n"
	"  --account-id ID         12-digit account id in ARNs (default 000000000000)\n"
	"  --region REGION         region when a request's SigV4 scope names none (default\n"
	"                          us-east-1)\n"
	"  --shard-limit N         open shards over all streams (default 512)\n"
	"  --max-body SIZE         largest request body accepted (default 16M)\n"
	"  --iterator-ttl SECS     lifetime of shard iterators (default 300, as AWS)\n"
	"  --credentials FILE      verify every AWS request's SigV4 signature against the keys in\n"
	"                          FILE (the ~/.aws/credentials format); without it any signature\n"
	"                          is accepted and the API may only listen on loopback\n"
	"  --s3-root DIR           local S3: bucket B is directory DIR/B/ and object key K the\n"
	"                          file DIR/B/K (default DATA_DIR/s3); delivery streams write there\n"
	"  -h, --help              this text\n"
	"  -V, --version           version\n";

const char *ctl_config_usage(void)
{
	return usage;
}

int ctl_parse_size(const char *s, unsigned long long *out)
{
	if (!s || !*s || *s == '-')
		return -EINVAL;
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (end == s || errno == ERANGE)
		return end == s ? -EINVAL : -ERANGE;
	unsigned shift = 0;
	if (*end) {
		switch (*end) {
		case 'K': case 'k': shift = 10; break;
		case 'M': case 'm': shift = 20; break;
		case 'G': case 'g': shift = 30; break;
		default: return -EINVAL;
		}
		if (end[1] && !(end[1] == 'i' && end[2] == 'B' && !end[3]) &&
		    !((end[1] == 'B') && !end[2]))
			return -EINVAL;
	}
	if (shift && v > (ULLONG_MAX >> shift))
		return -ERANGE;
	*out = v << shift;
	return 0;
}

enum { OPT_DATA_DIR = 256, OPT_DURABILITY, OPT_SEGMENT, OPT_BUFFER, OPT_INDEX, OPT_RETENTION,
       OPT_RETENTION_CHECK, OPT_LOG_LEVEL, OPT_API_LISTEN, OPT_ADMIN_SOCKET, OPT_ACCOUNT,
       OPT_REGION, OPT_SHARD_LIMIT, OPT_MAX_BODY, OPT_ITER_TTL, OPT_CREDENTIALS,
       OPT_S3_ROOT };

static const struct option long_opts[] = {
	{ "data-dir", required_argument, NULL, OPT_DATA_DIR },
	{ "durability", required_argument, NULL, OPT_DURABILITY },
	{ "segment-size", required_argument, NULL, OPT_SEGMENT },
	{ "buffer-size", required_argument, NULL, OPT_BUFFER },
	{ "index-interval", required_argument, NULL, OPT_INDEX },
	{ "retention-hours", required_argument, NULL, OPT_RETENTION },
	{ "retention-check", required_argument, NULL, OPT_RETENTION_CHECK },
	{ "log-level", required_argument, NULL, OPT_LOG_LEVEL },
	{ "api-listen", required_argument, NULL, OPT_API_LISTEN },
	{ "admin-socket", required_argument, NULL, OPT_ADMIN_SOCKET },
	{ "account-id", required_argument, NULL, OPT_ACCOUNT },
	{ "region", required_argument, NULL, OPT_REGION },
	{ "shard-limit", required_argument, NULL, OPT_SHARD_LIMIT },
	{ "max-body", required_argument, NULL, OPT_MAX_BODY },
	{ "iterator-ttl", required_argument, NULL, OPT_ITER_TTL },
	{ "credentials", required_argument, NULL, OPT_CREDENTIALS },
	{ "s3-root", required_argument, NULL, OPT_S3_ROOT },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, 'V' },
	{ NULL, 0, NULL, 0 },
};

int ctl_config_parse(int argc, char **argv, struct ctl_config *cfg, char *err, unsigned errlen)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->data_dir = "/var/lib/ingestd";
	dp_log_config_default(&cfg->log);
	cfg->log_level = CTL_LOG_INFO;
	cfg->retention_check_s = 60;
	cfg->api_listen = "127.0.0.1:4566";
	cfg->account_id = "000000000000";
	cfg->region = "us-east-1";
	cfg->shard_limit = 512;
	cfg->max_body = 16u << 20;
	cfg->iterator_ttl_s = 300;

	int opt;
	unsigned long long v;
	optind = 0; /* 0, not 1: glibc then also resets its state inside grouped short options */
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "hV", long_opts, NULL)) != -1) {
		switch (opt) {
		case OPT_DATA_DIR:
			if (!*optarg)
				goto bad;
			cfg->data_dir = optarg;
			break;
		case OPT_DURABILITY:
			if (dp_durability_parse(optarg, &cfg->log.durability) < 0) {
				snprintf(err, errlen, "--durability %s: expected durable, written or none",
					 optarg);
				return -EINVAL;
			}
			break;
		case OPT_SEGMENT:
		case OPT_BUFFER:
		case OPT_INDEX:
			if (ctl_parse_size(optarg, &v) < 0 || v == 0 ||
			    (opt != OPT_SEGMENT && v > UINT32_MAX)) {
				snprintf(err, errlen, "%s %s: expected a size such as 65536, 64K, 4M or 1G",
					 argv[optind - 2], optarg);
				return -EINVAL;
			}
			if (opt == OPT_SEGMENT)
				cfg->log.segment_bytes = v;
			else if (opt == OPT_BUFFER)
				cfg->log.buffer_bytes = (uint32_t)v;
			else
				cfg->log.index_interval = (uint32_t)v;
			break;
		case OPT_RETENTION:
			if (ctl_parse_size(optarg, &v) < 0 || strspn(optarg, "0123456789") != strlen(optarg) ||
			    v < 24 || v > 8760) {
				snprintf(err, errlen, "--retention-hours %s: expected 24..8760", optarg);
				return -EINVAL;
			}
			cfg->log.retention_hours = (uint32_t)v;
			break;
		case OPT_RETENTION_CHECK:
			if (ctl_parse_size(optarg, &v) < 0 || strspn(optarg, "0123456789") != strlen(optarg) ||
			    v < 1 || v > 86400) {
				snprintf(err, errlen, "--retention-check %s: expected 1..86400 seconds", optarg);
				return -EINVAL;
			}
			cfg->retention_check_s = (unsigned)v;
			break;
		case OPT_LOG_LEVEL:
			if (ctl_log_parse_level(optarg, &cfg->log_level) < 0) {
				snprintf(err, errlen, "--log-level %s: expected error, warn, info or debug",
					 optarg);
				return -EINVAL;
			}
			break;
		case OPT_API_LISTEN:
			cfg->api_listen = strcmp(optarg, "none") == 0 ? NULL : optarg;
			if (cfg->api_listen && !strchr(optarg, ':')) {
				snprintf(err, errlen, "--api-listen %s: expected HOST:PORT such as "
					 "127.0.0.1:4566, or none", optarg);
				return -EINVAL;
			}
			break;
		case OPT_ADMIN_SOCKET:
			if (!*optarg)
				goto bad;
			cfg->admin_socket = optarg;
			break;
		case OPT_ACCOUNT:
			if (strlen(optarg) != 12 || strspn(optarg, "0123456789") != 12) {
				snprintf(err, errlen, "--account-id %s: expected 12 digits", optarg);
				return -EINVAL;
			}
			cfg->account_id = optarg;
			break;
		case OPT_REGION:
			if (!*optarg || strlen(optarg) > 31 ||
			    strspn(optarg, "abcdefghijklmnopqrstuvwxyz0123456789-") != strlen(optarg)) {
				snprintf(err, errlen, "--region %s: expected a region name such as "
					 "us-east-1", optarg);
				return -EINVAL;
			}
			cfg->region = optarg;
			break;
		case OPT_SHARD_LIMIT:
			if (ctl_parse_size(optarg, &v) < 0 || strspn(optarg, "0123456789") != strlen(optarg) ||
			    v < 1 || v > 100000) {
				snprintf(err, errlen, "--shard-limit %s: expected 1..100000", optarg);
				return -EINVAL;
			}
			cfg->shard_limit = (unsigned)v;
			break;
		case OPT_MAX_BODY:
			if (ctl_parse_size(optarg, &v) < 0 || v < 65536 || v > (1ull << 30)) {
				snprintf(err, errlen, "--max-body %s: expected a size from 64K to 1G",
					 optarg);
				return -EINVAL;
			}
			cfg->max_body = (size_t)v;
			break;
		case OPT_ITER_TTL:
			if (ctl_parse_size(optarg, &v) < 0 || strspn(optarg, "0123456789") != strlen(optarg) ||
			    v < 1 || v > 86400) {
				snprintf(err, errlen, "--iterator-ttl %s: expected 1..86400 seconds", optarg);
				return -EINVAL;
			}
			cfg->iterator_ttl_s = (unsigned)v;
			break;
		case OPT_CREDENTIALS:
			if (!*optarg)
				goto bad;
			cfg->credentials = optarg;
			break;
		case OPT_S3_ROOT:
			if (!*optarg)
				goto bad;
			cfg->s3_root = optarg;
			break;
		case 'h':
			cfg->help = true;
			break;
		case 'V':
			cfg->version = true;
			break;
		case '?':
		default:
			goto bad;
		}
	}
	if (optind < argc) {
		snprintf(err, errlen, "unexpected argument '%s' (see ingestd --help)", argv[optind]);
		return -EINVAL;
	}
	if (!cfg->s3_root) {
		/* DATA_DIR/s3, kept for the life of the process like argv. */
		static char s3_default[4096];
		if ((size_t)snprintf(s3_default, sizeof(s3_default), "%s/s3", cfg->data_dir) >=
		    sizeof(s3_default)) {
			snprintf(err, errlen, "--data-dir is too long");
			return -EINVAL;
		}
		cfg->s3_root = s3_default;
	}
	const char *why;
	if (dp_log_config_check(&cfg->log, &why) < 0) {
		snprintf(err, errlen, "bad shard log settings: %s", why);
		return -EINVAL;
	}
	return 0;
bad:
	snprintf(err, errlen, "unknown or incomplete option '%s' (see ingestd --help)",
		 argv[optind - 1]);
	return -EINVAL;
}
