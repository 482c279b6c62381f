/* SPDX-License-Identifier: MIT */
/* ingestd's option parser: defaults, every option, and the exact refusal of bad values. */
#include <errno.h>
#include <string.h>

#include "ctl_config.h"
#include "dp_test.h"

static int parse(struct ctl_config *cfg, char *err, int argc, char **argv)
{
	return ctl_config_parse(argc, argv, cfg, err, 256);
}

#define ARGV(...) ((char *[]){ "ingestd", __VA_ARGS__, NULL })
#define ARGC(...) ((int)(sizeof((char *[]){ "ingestd", __VA_ARGS__ }) / sizeof(char *)))

static void test_defaults(void)
{
	struct ctl_config cfg;
	char err[256] = "";
	char *argv[] = { "ingestd", NULL };
	CHECK_EQ(parse(&cfg, err, 1, argv), 0);
	CHECK_STR(cfg.data_dir, "/var/lib/ingestd");
	CHECK_EQ(cfg.log.durability, DP_DUR_DURABLE);
	CHECK_EQ_U64(cfg.log.segment_bytes, 64ull << 20);
	CHECK_EQ(cfg.log.buffer_bytes, 4u << 20);
	CHECK_EQ(cfg.log.retention_hours, 24);
	CHECK_EQ(cfg.retention_check_s, 60);
	CHECK_STR(cfg.api_listen, "127.0.0.1:4566");
	CHECK(cfg.admin_socket == NULL);
	CHECK_STR(cfg.account_id, "000000000000");
	CHECK_STR(cfg.region, "us-east-1");
	CHECK_EQ(cfg.shard_limit, 512);
	CHECK_EQ(cfg.max_body, 16u << 20);
	CHECK_EQ(cfg.iterator_ttl_s, 300);
	CHECK(!cfg.help && !cfg.version);
}

static void test_api_options(void)
{
	struct ctl_config cfg;
	char err[256] = "";
	CHECK_EQ(parse(&cfg, err, ARGC("--api-listen", "[::1]:8080", "--admin-socket", "/run/i.sock",
				       "--account-id", "123456789012", "--region", "eu-west-1",
				       "--shard-limit", "9", "--max-body", "1M", "--iterator-ttl", "7"),
		       ARGV("--api-listen", "[::1]:8080", "--admin-socket", "/run/i.sock",
			    "--account-id", "123456789012", "--region", "eu-west-1", "--shard-limit", "9",
			    "--max-body", "1M", "--iterator-ttl", "7")), 0);
	CHECK_STR(cfg.api_listen, "[::1]:8080");
	CHECK_STR(cfg.admin_socket, "/run/i.sock");
	CHECK_STR(cfg.account_id, "123456789012");
	CHECK_STR(cfg.region, "eu-west-1");
	CHECK_EQ(cfg.shard_limit, 9);
	CHECK_EQ(cfg.max_body, 1u << 20);
	CHECK_EQ(cfg.iterator_ttl_s, 7);
	CHECK_EQ(parse(&cfg, err, ARGC("--api-listen", "none"), ARGV("--api-listen", "none")), 0);
	CHECK(cfg.api_listen == NULL);
}

static void test_every_option(void)
{
	struct ctl_config cfg;
	char err[256] = "";
	CHECK_EQ(parse(&cfg, err, ARGC("--data-dir", "/d", "--durability", "written", "--segment-size",
				       "1G", "--buffer-size", "8M", "--index-interval", "4K",
				       "--retention-hours", "8760", "--retention-check", "5",
				       "--log-level", "debug"),
		       ARGV("--data-dir", "/d", "--durability", "written", "--segment-size", "1G",
			    "--buffer-size", "8M", "--index-interval", "4K", "--retention-hours", "8760",
			    "--retention-check", "5", "--log-level", "debug")), 0);
	CHECK_STR(cfg.data_dir, "/d");
	CHECK_EQ(cfg.log.durability, DP_DUR_WRITTEN);
	CHECK_EQ_U64(cfg.log.segment_bytes, 1ull << 30);
	CHECK_EQ(cfg.log.buffer_bytes, 8u << 20);
	CHECK_EQ(cfg.log.index_interval, 4096);
	CHECK_EQ(cfg.log.retention_hours, 8760);
	CHECK_EQ(cfg.retention_check_s, 5);
	CHECK_EQ(cfg.log_level, CTL_LOG_DEBUG);
	CHECK_EQ(parse(&cfg, err, ARGC("-h", "-V"), ARGV("-h", "-V")), 0);
	CHECK(cfg.help && cfg.version);
}

static void expect_refused(int argc, char **argv, const char *msg)
{
	struct ctl_config cfg;
	char err[256] = "";
	CHECK_EQ(parse(&cfg, err, argc, argv), -EINVAL);
	if (!strstr(err, msg)) {
		printf("# message \"%s\" lacks \"%s\"\n", err, msg);
		CHECK(0);
	}
}

static void test_bad_values(void)
{
	expect_refused(ARGC("--durability", "fsync"), ARGV("--durability", "fsync"),
		       "expected durable, written or none");
	expect_refused(ARGC("--retention-hours", "23"), ARGV("--retention-hours", "23"), "24..8760");
	expect_refused(ARGC("--retention-hours", "8761"), ARGV("--retention-hours", "8761"), "24..8760");
	expect_refused(ARGC("--retention-hours", "24h"), ARGV("--retention-hours", "24h"), "24..8760");
	expect_refused(ARGC("--segment-size", "-1"), ARGV("--segment-size", "-1"), "expected a size");
	expect_refused(ARGC("--segment-size", "12Q"), ARGV("--segment-size", "12Q"), "expected a size");
	expect_refused(ARGC("--segment-size", ""), ARGV("--segment-size", ""), "expected a size");
	expect_refused(ARGC("--buffer-size", "8G"), ARGV("--buffer-size", "8G"), "expected a size");
	expect_refused(ARGC("--buffer-size", "64K"), ARGV("--buffer-size", "64K"),
		       "buffer_bytes must be at least");
	expect_refused(ARGC("--segment-size", "1M"), ARGV("--segment-size", "1M"),
		       "segment_bytes must be at least");
	expect_refused(ARGC("--log-level", "loud"), ARGV("--log-level", "loud"), "expected error, warn");
	expect_refused(ARGC("--retention-check", "0"), ARGV("--retention-check", "0"), "1..86400");
	expect_refused(ARGC("--bogus"), ARGV("--bogus"), "unknown or incomplete option '--bogus'");
	expect_refused(ARGC("--data-dir"), ARGV("--data-dir"), "unknown or incomplete option");
	expect_refused(ARGC("extra"), ARGV("extra"), "unexpected argument 'extra'");
	expect_refused(ARGC("--api-listen", "4566"), ARGV("--api-listen", "4566"), "HOST:PORT");
	expect_refused(ARGC("--account-id", "12345"), ARGV("--account-id", "12345"), "12 digits");
	expect_refused(ARGC("--account-id", "12345678901x"), ARGV("--account-id", "12345678901x"),
		       "12 digits");
	expect_refused(ARGC("--region", "US_EAST"), ARGV("--region", "US_EAST"), "region name");
	expect_refused(ARGC("--shard-limit", "0"), ARGV("--shard-limit", "0"), "1..100000");
	expect_refused(ARGC("--max-body", "1K"), ARGV("--max-body", "1K"), "64K to 1G");
	expect_refused(ARGC("--iterator-ttl", "0"), ARGV("--iterator-ttl", "0"), "1..86400");
	expect_refused(ARGC("--admin-socket", ""), ARGV("--admin-socket", ""), "unknown or incomplete");
}

static void test_dataplane_options(void)
{
	struct ctl_config cfg;
	char err[256];
	CHECK_EQ(parse(&cfg, err, 1, ARGV(NULL)), 0);
	CHECK(!cfg.no_dataplane && cfg.n_nics == 0 && cfg.ingest_port == 4789 && cfg.ip == 0);
	CHECK_EQ(parse(&cfg, err, ARGC("--nic", "0000:3b:00.0", "--nic",
				       "net_af_packet0,iface=veth0", "--workers", "3", "--ip",
				       "10.1.2.3/16", "--tap-ip", "10.1.0.9", "--ingest-port", "9000",
				       "--eal", "-m 512 --log-level=8", "--netns", "ns1"),
		       ARGV("--nic", "0000:3b:00.0", "--nic", "net_af_packet0,iface=veth0",
			    "--workers", "3", "--ip", "10.1.2.3/16", "--tap-ip", "10.1.0.9",
			    "--ingest-port", "9000", "--eal", "-m 512 --log-level=8", "--netns",
			    "ns1")), 0);
	CHECK_EQ(cfg.n_nics, 2u);
	CHECK_STR(cfg.nics[1], "net_af_packet0,iface=veth0");
	CHECK_EQ(cfg.workers, 3u);
	CHECK(cfg.ip == (10u << 24 | 1u << 16 | 2u << 8 | 3u) && cfg.prefix == 16);
	CHECK(cfg.tap_ip_set && cfg.tap_ip == (10u << 24 | 1u << 16 | 9u) && cfg.tap_prefix == 0);
	CHECK_EQ(cfg.ingest_port, 9000);
	CHECK_STR(cfg.eal_args, "-m 512 --log-level=8");
	CHECK_STR(cfg.netns, "ns1");
	CHECK_EQ(parse(&cfg, err, ARGC("--workers", "0@0,1@1,2@1"), ARGV("--workers", "0@0,1@1,2@1")),
		 0);
	CHECK(cfg.workers == 0 && cfg.lcores && strcmp(cfg.lcores, "0@0,1@1,2@1") == 0);
	CHECK_EQ(parse(&cfg, err, ARGC("--nic", "none"), ARGV("--nic", "none")), 0);
	CHECK(cfg.no_dataplane && cfg.n_nics == 0);

	expect_refused(ARGC("--nic", "none", "--nic", "net_tap0"), ARGV("--nic", "none", "--nic",
		       "net_tap0"), "--nic none cannot be combined");
	expect_refused(ARGC("--workers", "0"), ARGV("--workers", "0"), "1..64");
	expect_refused(ARGC("--workers", "two"), ARGV("--workers", "two"), "lcore list");
	expect_refused(ARGC("--ip", "10.0.0.1"), ARGV("--ip", "10.0.0.1"), "ADDR/PREFIX");
	expect_refused(ARGC("--ip", "300.0.0.1/24"), ARGV("--ip", "300.0.0.1/24"), "ADDR/PREFIX");
	expect_refused(ARGC("--ip", "10.0.0.1/33"), ARGV("--ip", "10.0.0.1/33"), "ADDR/PREFIX");
	expect_refused(ARGC("--tap-ip", "10.0.0.1/"), ARGV("--tap-ip", "10.0.0.1/"), "ADDR[/PREFIX]");
	expect_refused(ARGC("--ingest-port", "0"), ARGV("--ingest-port", "0"), "1..65535");
	expect_refused(ARGC("--ingest-port", "65536"), ARGV("--ingest-port", "65536"), "1..65535");
	expect_refused(ARGC("--netns", "a/b"), ARGV("--netns", "a/b"), "under /run/netns");
	expect_refused(ARGC("--nic", ""), ARGV("--nic", ""), "expected a PCI address");
	char *many[20] = { "ingestd" };
	for (int i = 0; i < 9; i++) {
		many[1 + 2 * i] = "--nic";
		many[2 + 2 * i] = "net_null0";
	}
	expect_refused(19, many, "at most 8 NICs");
}

/* The engine's depth: pending frames and the retry window, 0 (unset) by default. */
static void test_window_options(void)
{
	struct ctl_config cfg;
	char err[256];
	CHECK_EQ(parse(&cfg, err, 1, ARGV(NULL)), 0);
	CHECK(cfg.pending_frames == 0 && cfg.retry_window == 0);
	CHECK_EQ(parse(&cfg, err, ARGC("--pending-frames", "16384", "--retry-window", "8192"),
		       ARGV("--pending-frames", "16384", "--retry-window", "8192")), 0);
	CHECK_EQ(cfg.pending_frames, 16384u);
	CHECK_EQ(cfg.retry_window, 8192u);
	CHECK_EQ(parse(&cfg, err, ARGC("--pending-frames", "65536", "--retry-window", "1"),
		       ARGV("--pending-frames", "65536", "--retry-window", "1")), 0);
	CHECK(cfg.pending_frames == 65536 && cfg.retry_window == 1);
	expect_refused(ARGC("--pending-frames", "0"), ARGV("--pending-frames", "0"),
		       "--pending-frames 0: expected 1..65536");
	expect_refused(ARGC("--pending-frames", "65537"), ARGV("--pending-frames", "65537"),
		       "1..65536");
	expect_refused(ARGC("--pending-frames", "4k"), ARGV("--pending-frames", "4k"), "1..65536");
	expect_refused(ARGC("--retry-window", "-1"), ARGV("--retry-window", "-1"),
		       "--retry-window -1: expected 1..65536");
	expect_refused(ARGC("--retry-window", ""), ARGV("--retry-window", ""), "1..65536");
	CHECK_EQ(cfg.flush_depth, 0u);
	CHECK_EQ(parse(&cfg, err, ARGC("--flush-depth", "16"), ARGV("--flush-depth", "16")), 0);
	CHECK_EQ(cfg.flush_depth, 16u);
	expect_refused(ARGC("--flush-depth", "0"), ARGV("--flush-depth", "0"),
		       "--flush-depth 0: expected 1..256");
	expect_refused(ARGC("--flush-depth", "257"), ARGV("--flush-depth", "257"), "1..256");
	expect_refused(ARGC("--flush-depth", "2x"), ARGV("--flush-depth", "2x"), "1..256");
}

static void test_parse_size(void)
{
	unsigned long long v;
	CHECK_EQ(ctl_parse_size("65536", &v), 0);
	CHECK_EQ_U64(v, 65536);
	CHECK_EQ(ctl_parse_size("64K", &v), 0);
	CHECK_EQ_U64(v, 65536);
	CHECK_EQ(ctl_parse_size("4MiB", &v), 0);
	CHECK_EQ_U64(v, 4ull << 20);
	CHECK_EQ(ctl_parse_size("2GB", &v), 0);
	CHECK_EQ_U64(v, 2ull << 30);
	CHECK_EQ(ctl_parse_size("", &v), -EINVAL);
	CHECK_EQ(ctl_parse_size("K", &v), -EINVAL);
	CHECK_EQ(ctl_parse_size("1KB2", &v), -EINVAL);
	CHECK_EQ(ctl_parse_size("1T", &v), -EINVAL);
	CHECK_EQ(ctl_parse_size("-5", &v), -EINVAL);
	CHECK_EQ(ctl_parse_size("99999999999999999999999", &v), -ERANGE);
	CHECK_EQ(ctl_parse_size("17179869184G", &v), -ERANGE);
}

int main(void)
{
	DP_TEST_RUN(test_defaults);
	DP_TEST_RUN(test_every_option);
	DP_TEST_RUN(test_api_options);
	DP_TEST_RUN(test_bad_values);
	DP_TEST_RUN(test_dataplane_options);
	DP_TEST_RUN(test_window_options);
	DP_TEST_RUN(test_parse_size);
	return dp_test_done();
}
