/* SPDX-License-Identifier: MIT */
/* ingestd's options: getopt_long into struct ctl_config, with a message for every bad value. */
#include "ctl_config.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dp_log.h"

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
	"  --buffer-size SIZE      per-shard staging buffer, five per shard (default 4M, >= 1M+4K)\n"
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
	"  --s3-root DIR           the tree served read-only through S3's API, one directory per\n"
	"                          bucket, where delivery streams write (default DATA_DIR/s3)\n"
	"\n"
	"Dataplane (DPDK; needs root). Producers send ingest frames over UDP (docs/protocol.md);\n"
	"every shard log is owned by one worker, and PutRecord(s) over HTTP go through the same\n"
	"owner, so both paths share one log and one sequence order per shard:\n"
	"  --nic SPEC              a NIC: a PCI address (0000:3b:00.0, bound to vfio-pci) or a\n"
	"                          DPDK virtual device (net_af_packet0,iface=veth0,\n"
	"                          net_memif0,role=server,socket=/run/m.sock, ...); repeatable\n"
	"                          (up to 8). Without --nic: the embedded default, a TAP\n"
	"                          interface ingest0 (net_tap0,iface=ingest0). 'none': no\n"
	"                          dataplane, the AWS API only (the control thread owns the logs)\n"
	"  --workers N|LCORES      worker lcores, one rx/tx queue each per NIC (default 1), or an\n"
	"                          EAL --lcores list naming the main lcore first (\"0@0,1@2,2@3\")\n"
	"  --ip ADDR/PREFIX        the appliance's address on its NICs (default 198.18.0.1/24,\n"
	"                          from 198.18.0.0/15)\n"
	"  --tap-ip ADDR[/PREFIX]  give the kernel side of TAP NICs this address and bring it up\n"
	"                          (default with the embedded TAP and --ip: 198.18.0.2/24)\n"
	"  --ingest-port PORT      UDP port of ingest frames (default 4789)\n"
	"  --eal \"ARGS\"            extra EAL options, passed through as they are (e.g. \"-m 512\");\n"
	"                          --no-huge is added when no huge pages are free\n"
	"  --netns NAME            create virtual NICs (the TAP) inside network namespace NAME\n"
	"                          (/run/netns/NAME); the daemon's sockets stay where it runs\n"
	"  --pending-frames N      frames each worker holds in flight until their acks (default\n"
	"                          64, up to 65536): cover the producers' windows, or frames\n"
	"                          beyond are answered throttled\n"
	"  --retry-window W        batch numbers per producer whose outcome a worker remembers\n"
	"                          (default 32, up to 65536): at least the producers' --window,\n"
	"                          or a resent batch is answered stale-batch\n"
	"  --flush-depth N         shard-log flushes (write + fdatasync) each worker keeps in\n"
	"                          flight over all its shards (default 4, up to 256): more only\n"
	"                          for devices with deep parallel queues (NVMe)\n"
	"  -h, --help              this text\n"
	"  -V, --version           version\n";

const char *ctl_config_usage(void)
{
	return usage;
}

int ctl_parse_ipv4(const char *s, bool prefix_required, uint32_t *ip, uint8_t *prefix)
{
	unsigned a[4], p = 32;
	int used = 0;
	if (!s || sscanf(s, "%3u.%3u.%3u.%3u%n", &a[0], &a[1], &a[2], &a[3], &used) != 4)
		return -EINVAL;
	const char *rest = s + used;
	if (*rest == '/') {
		char *end;
		errno = 0;
		unsigned long v = strtoul(rest + 1, &end, 10);
		if (end == rest + 1 || *end || errno || v < 1 || v > 32)
			return -EINVAL;
		p = (unsigned)v;
	} else if (*rest || prefix_required) {
		return -EINVAL;
	}
	for (unsigned i = 0; i < 4; i++)
		if (a[i] > 255)
			return -EINVAL;
	*ip = a[0] << 24 | a[1] << 16 | a[2] << 8 | a[3];
	*prefix = (uint8_t)(*rest ? p : 0);
	return 0;
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
       OPT_S3_ROOT, OPT_NIC, OPT_WORKERS, OPT_IP, OPT_TAP_IP, OPT_INGEST_PORT, OPT_EAL,
       OPT_NETNS, OPT_PENDING_FRAMES, OPT_RETRY_WINDOW,
       OPT_FLUSH_DEPTH };

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
	{ "nic", required_argument, NULL, OPT_NIC },
	{ "workers", required_argument, NULL, OPT_WORKERS },
	{ "pending-frames", required_argument, NULL, OPT_PENDING_FRAMES },
	{ "retry-window", required_argument, NULL, OPT_RETRY_WINDOW },
	{ "flush-depth", required_argument, NULL, OPT_FLUSH_DEPTH },
	{ "ip", required_argument, NULL, OPT_IP },
	{ "tap-ip", required_argument, NULL, OPT_TAP_IP },
	{ "ingest-port", required_argument, NULL, OPT_INGEST_PORT },
	{ "eal", required_argument, NULL, OPT_EAL },
	{ "netns", required_argument, NULL, OPT_NETNS },
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
		case OPT_NIC:
			if (strcmp(optarg, "none") == 0) {
				cfg->no_dataplane = true;
				break;
			}
			if (!*optarg || cfg->n_nics == CTL_CONFIG_MAX_NICS) {
				snprintf(err, errlen, "--nic %s: %s", optarg, *optarg ?
					 "at most 8 NICs" : "expected a PCI address, a vdev or none");
				return -EINVAL;
			}
			cfg->nics[cfg->n_nics++] = optarg;
			break;
		case OPT_WORKERS:
			if (strspn(optarg, "0123456789") == strlen(optarg)) {
				if (ctl_parse_size(optarg, &v) < 0 || v < 1 || v > 64) {
					snprintf(err, errlen, "--workers %s: expected 1..64 or an lcore "
						 "list", optarg);
					return -EINVAL;
				}
				cfg->workers = (unsigned)v;
			} else if (strspn(optarg, "0123456789@,()-") == strlen(optarg)) {
				cfg->lcores = optarg;
			} else {
				snprintf(err, errlen, "--workers %s: expected 1..64 or an EAL lcore list "
					 "such as 0@0,1@1", optarg);
				return -EINVAL;
			}
			break;
		case OPT_IP:
			if (ctl_parse_ipv4(optarg, true, &cfg->ip, &cfg->prefix) < 0 || !cfg->ip) {
				snprintf(err, errlen, "--ip %s: expected ADDR/PREFIX such as "
					 "198.18.0.1/24", optarg);
				return -EINVAL;
			}
			break;
		case OPT_TAP_IP:
			if (ctl_parse_ipv4(optarg, false, &cfg->tap_ip, &cfg->tap_prefix) < 0 ||
			    !cfg->tap_ip) {
				snprintf(err, errlen, "--tap-ip %s: expected ADDR[/PREFIX] such as "
					 "198.18.0.2/24", optarg);
				return -EINVAL;
			}
			cfg->tap_ip_set = true;
			break;
		case OPT_INGEST_PORT:
			if (ctl_parse_size(optarg, &v) < 0 || strspn(optarg, "0123456789") != strlen(optarg) ||
			    v < 1 || v > 65535) {
				snprintf(err, errlen, "--ingest-port %s: expected 1..65535", optarg);
				return -EINVAL;
			}
			cfg->ingest_port = (uint16_t)v;
			break;
		case OPT_PENDING_FRAMES:
		case OPT_RETRY_WINDOW:
			if (ctl_parse_size(optarg, &v) < 0 || strspn(optarg, "0123456789") != strlen(optarg) ||
			    v < 1 || v > 65536) {
				snprintf(err, errlen, "--%s %s: expected 1..65536",
					 opt == OPT_PENDING_FRAMES ? "pending-frames" : "retry-window", optarg);
				return -EINVAL;
			}
			if (opt == OPT_PENDING_FRAMES)
				cfg->pending_frames = (unsigned)v;
			else
				cfg->retry_window = (unsigned)v;
			break;
		case OPT_FLUSH_DEPTH:
			if (ctl_parse_size(optarg, &v) < 0 || strspn(optarg, "0123456789") != strlen(optarg) ||
			    v < 1 || v > DP_COMMITTER_FLUSH_DEPTH_MAX) {
				snprintf(err, errlen, "--flush-depth %s: expected 1..%u", optarg,
					 DP_COMMITTER_FLUSH_DEPTH_MAX);
				return -EINVAL;
			}
			cfg->flush_depth = (unsigned)v;
			break;
		case OPT_EAL:
			cfg->eal_args = optarg;
			break;
		case OPT_NETNS:
			if (!*optarg || strlen(optarg) > 63 || strchr(optarg, '/')) {
				snprintf(err, errlen, "--netns %s: expected a namespace name under "
					 "/run/netns", optarg);
				return -EINVAL;
			}
			cfg->netns = optarg;
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
	if (cfg->no_dataplane && cfg->n_nics) {
		snprintf(err, errlen, "--nic none cannot be combined with other --nic options");
		return -EINVAL;
	}
	if (!cfg->ingest_port)
		cfg->ingest_port = 4789;
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
