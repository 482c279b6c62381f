/* SPDX-License-Identifier: MIT */
/*
 * ctl_config: ingestd's command line, parsed into one struct that main() hands to each module.
 * Every option is documented in `ingestd --help` and docs/ingestd.md.
 */
#ifndef CTL_CONFIG_H
#define CTL_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ctl_log.h"
#include "dp_log.h"

/* --nic given at most this often (dp_port's limit). */
#define CTL_CONFIG_MAX_NICS 8

struct ctl_config {
	const char *data_dir;          /* --data-dir, default /var/lib/ingestd */
	struct dp_log_config log;      /* --durability, --segment-size, --retention-hours, ... */
	enum ctl_log_level log_level;  /* --log-level */
	unsigned retention_check_s;    /* --retention-check, seconds between retention passes */
	const char *api_listen;        /* --api-listen, default 127.0.0.1:4566; NULL: none */
	const char *admin_socket;      /* --admin-socket; NULL: DATA_DIR/ingestd.sock */
	const char *account_id;        /* --account-id, default 000000000000 */
	const char *region;            /* --region, default us-east-1 */
	unsigned shard_limit;          /* --shard-limit, default 512 */
	size_t max_body;               /* --max-body, default 16 MiB */
	unsigned iterator_ttl_s;       /* --iterator-ttl, default 300 */
	const char *credentials;       /* --credentials FILE, NULL: signatures not verified */
	const char *s3_root;           /* --s3-root DIR; NULL: DATA_DIR/s3 */
	/* the dataplane */
	bool no_dataplane;             /* --nic none: HTTP only, the control thread owns the logs */
	const char *nics[CTL_CONFIG_MAX_NICS]; /* --nic SPEC, repeatable; none: the embedded TAP */
	unsigned n_nics;
	unsigned workers;              /* --workers N (0: 1) */
	const char *lcores;            /* --workers with an EAL lcore list, e.g. "0@0,1@1,2@1" */
	uint32_t ip;                   /* --ip ADDR/PREFIX, host order; 0: 198.18.0.1/24 */
	uint8_t prefix;
	uint32_t tap_ip;               /* --tap-ip ADDR[/PREFIX]: the kernel side of TAP NICs */
	uint8_t tap_prefix;
	bool tap_ip_set;
	uint16_t ingest_port;          /* --ingest-port, default 4789 */
	const char *eal_args;          /* --eal "ARGS": passed to the EAL as they are */
	const char *netns;             /* --netns NAME: virtual NICs live in /run/netns/NAME */
	unsigned pending_frames;       /* --pending-frames N per worker; 0: the engine's 64 */
	unsigned retry_window;         /* --retry-window W batches per producer; 0: 32 */
	unsigned flush_depth;          /* --flush-depth N per worker; 0: dp_log's default (4) */
	bool help, version;
};

/*
 * Parse argv. Returns 0, or -EINVAL after writing one line that names the bad option and what
 * it accepts into err (errlen bytes).
 */
int ctl_config_parse(int argc, char **argv, struct ctl_config *cfg, char *err, unsigned errlen);

/* The --help text. */
const char *ctl_config_usage(void);

/* Parse "A.B.C.D/N" (with_prefix required) or "A.B.C.D[/N]". Returns 0 or -EINVAL. */
int ctl_parse_ipv4(const char *s, bool prefix_required, uint32_t *ip, uint8_t *prefix);

/* Parse "64M", "1G", "65536" (K/M/G are powers of 1024). Returns 0 or -EINVAL / -ERANGE. */
int ctl_parse_size(const char *s, unsigned long long *out);

#endif
