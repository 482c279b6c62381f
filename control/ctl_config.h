/* SPDX-License-Identifier: MIT */
/*
 * ctl_config: ingestd's command line, parsed into one struct that main() hands to each module.
 * Every option is documented in `ingestd --help` and docs/ingestd.md.
 */
#ifndef CTL_CONFIG_H
#define CTL_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#include "ctl_log.h"
#include "dp_log.h"

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
	const char *s3_root;           /* --s3-root DIR: bucket B is DIR/B/; default DATA_DIR/s3
	                                  (ctl_config_parse fills it in; shared by every module
	                                  that reads or writes objects) */
	bool help, version;
};

/*
 * Parse argv. Returns 0, or -EINVAL after writing one line that names the bad option and what
 * it accepts into err (errlen bytes).
 */
int ctl_config_parse(int argc, char **argv, struct ctl_config *cfg, char *err, unsigned errlen);

/* The --help text. */
const char *ctl_config_usage(void);

/* Parse "64M", "1G", "65536" (K/M/G are powers of 1024). Returns 0 or -EINVAL / -ERANGE. */
int ctl_parse_size(const char *s, unsigned long long *out);

#endif
