/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for dp_pkt: the checksum against RFC 1071's worked example, the textbook IPv4
 * header and a word-at-a-time reference; parsing of frames the Linux kernel wrote to a TAP
 * (ARP request, ICMP echo request, two UDP datagrams of odd lengths, captured once and pasted
 * here, so their checksums come from the kernel, not from the code under test); every refusal
 * with its exact reason; VLAN tags, IP options, Ethernet padding, fragments; and the three
 * in-place replies, whose expected checksums were derived by hand with RFC 1624's incremental
 * update from the kernel's values.
 */
#include "dp_pkt.h"

#include <errno.h>

#include "dp_test.h"

static uint64_t rng_state = UINT64_C(0x243f6a8885a308d3);

/* Kernel 6.x, TAP cap0 198.18.0.2 (MAC 7e:0b:8c:a4:92:41) towards 198.18.0.1. */
static const char arp_hex[] =
	"ffffffffffff7e0b8ca49241080600010800060400017e0b8ca49241c6120002000000000000c6120001";
static const char icmp_hex[] =
	"0200000000017e0b8ca49241080045000028d16f40004001dd3dc6120002c61200010800fea1177b0001"
	"a5a5a5a5a5a5a5a5a5a5a5a5";
static const char udp_hex[] =        /* 40000 -> 4789, "hello world" */
	"0200000000017e0b8ca49241080045000027e47740004011ca26c6120002c61200019c4012b5001332dc"
	"68656c6c6f20776f726c64";
static const char udp31_hex[] =      /* 40000 -> 4789, 31 bytes */
	"0200000000017e0b8ca4924108004500003be47840004011ca11c6120002c61200019c4012b50027667a"
	"30313233343536373839616263646566303132333435363738396162636465";

#define IP_A 0xc6120001u   /* 198.18.0.1 */
#define IP_B 0xc6120002u   /* 198.18.0.2 */

static const uint8_t our_mac[6] = { 0x02, 0x00, 0x00, 0x00, 0x00, 0x01 };
static const uint8_t peer_mac[6] = { 0x7e, 0x0b, 0x8c, 0xa4, 0x92, 0x41 };

static size_t from_hex(const char *hex, uint8_t *out)
{
	size_t n = strlen(hex) / 2;

	for (size_t i = 0; i < n; i++) {
		unsigned v;
		sscanf(hex + 2 * i, "%2x", &v);
		out[i] = (uint8_t)v;
	}
	return n;
}

static uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

/* RFC 1071 as written: big-endian 16-bit words, end-around carry, complement. */
static uint16_t ref_cksum(const uint8_t *p, size_t n)
{
	uint32_t s = 0;

	for (size_t i = 0; i + 1 < n; i += 2)
		s += rd16(p + i);
	if (n & 1)
		s += (uint32_t)p[n - 1] << 8;
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

/* Recompute the IPv4 header checksum after a test edited the header at p + off. */
static void fix_ip_csum(uint8_t *p, size_t off)
{
	uint8_t *ip = p + off;
	size_t ihl = (size_t)(ip[0] & 0xf) * 4;
	uint16_t c;

	ip[10] = ip[11] = 0;
	c = ref_cksum(ip, ihl);
	ip[10] = (uint8_t)(c >> 8);
	ip[11] = (uint8_t)c;
}

static void test_cksum_known_values(void)
{
	/* RFC 1071 section 3: the sum of these words is ddf2, so the checksum is 220d. */
	static const uint8_t rfc[] = { 0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7 };
	/* The classic IPv4 header example; its checksum field holds b861. */
	static const uint8_t hdr[] = { 0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11,
				       0x00, 0x00, 0xc0, 0xa8, 0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7 };
	uint8_t out[2];
	uint16_t c;

	c = dp_pkt_cksum_fold(dp_pkt_cksum_add(0, rfc, sizeof(rfc)));
	memcpy(out, &c, 2);
	CHECK_EQ(out[0], 0x22);
	CHECK_EQ(out[1], 0x0d);
	c = dp_pkt_cksum_fold(dp_pkt_cksum_add(0, hdr, sizeof(hdr)));
	memcpy(out, &c, 2);
	CHECK_EQ(out[0], 0xb8);
	CHECK_EQ(out[1], 0x61);
	/* Nothing summed: the complement of zero. */
	CHECK_EQ(dp_pkt_cksum_fold(dp_pkt_cksum_add(0, NULL, 0)), 0xffff);
}

static void test_cksum_matches_reference(void)
{
	uint8_t buf[1600], out[2];

	for (int iter = 0; iter < 2000; iter++) {
		size_t n = dp_test_rng(&rng_state) % sizeof(buf), split, off;
		uint16_t c;
		uint32_t s;

		dp_test_fill(dp_test_rng(&rng_state), buf, sizeof(buf));
		if (iter % 7 == 0)
			memset(buf, 0xff, n);   /* carries on every word */
		off = dp_test_rng(&rng_state) % 8;
		if (n + off > sizeof(buf))
			n = sizeof(buf) - off;
		c = dp_pkt_cksum_fold(dp_pkt_cksum_add(0, buf + off, n));
		memcpy(out, &c, 2);
		CHECK_EQ(rd16(out), ref_cksum(buf + off, n));
		/* Pieces of even length chain into the same result. */
		split = (dp_test_rng(&rng_state) % (n + 1)) & ~(size_t)1;
		s = dp_pkt_cksum_add(dp_pkt_cksum_add(0, buf + off, split), buf + off + split, n - split);
		CHECK_EQ(dp_pkt_cksum_fold(s), c);
	}
}

static void test_parse_kernel_frames(void)
{
	uint8_t f[128];
	struct dp_pkt_info pi;
	size_t n;

	n = from_hex(arp_hex, f);
	CHECK_EQ(dp_pkt_parse(f, n, &pi), DP_PKT_DROP_NONE);
	CHECK_EQ(pi.kind, DP_PKT_ARP);
	CHECK_EQ(pi.arp_op, DP_PKT_ARP_REQUEST);
	CHECK_EQ(pi.l3_off, 14);
	CHECK_EQ_U64(pi.src_ip, IP_B);
	CHECK_EQ_U64(pi.dst_ip, IP_A);
	CHECK_EQ(pi.has_vlan, 0);

	n = from_hex(icmp_hex, f);
	CHECK_EQ(dp_pkt_parse(f, n, &pi), DP_PKT_DROP_NONE);
	CHECK_EQ(pi.kind, DP_PKT_ICMP);
	CHECK_EQ(pi.icmp_type, DP_PKT_ICMP_ECHO_REQUEST);
	CHECK_EQ(pi.icmp_code, 0);
	CHECK_EQ(pi.l3_len, 40);
	CHECK_EQ(pi.l4_off, 34);
	CHECK_EQ(pi.payload_len, 12);
	CHECK_EQ_U64(pi.src_ip, IP_B);
	CHECK_EQ_U64(pi.dst_ip, IP_A);

	n = from_hex(udp_hex, f);
	CHECK_EQ(n, 53);
	CHECK_EQ(dp_pkt_parse(f, n, &pi), DP_PKT_DROP_NONE);
	CHECK_EQ(pi.kind, DP_PKT_UDP);
	CHECK_EQ(pi.ip_proto, DP_PKT_PROTO_UDP);
	CHECK_EQ(pi.src_port, 40000);
	CHECK_EQ(pi.dst_port, 4789);
	CHECK_EQ(pi.l4_off, 34);
	CHECK_EQ(pi.payload_off, 42);
	CHECK_EQ(pi.payload_len, 11);
	CHECK(memcmp(f + pi.payload_off, "hello world", 11) == 0);

	n = from_hex(udp31_hex, f);
	CHECK_EQ(dp_pkt_parse(f, n, &pi), DP_PKT_DROP_NONE);
	CHECK_EQ(pi.kind, DP_PKT_UDP);
	CHECK_EQ(pi.payload_len, 31);
}

static void test_udp_zero_checksum_and_padding(void)
{
	uint8_t f[128];
	struct dp_pkt_info pi;
	size_t n = from_hex(udp_hex, f);

	/* Ethernet minimum frame: 60 bytes, padding after the IP datagram is ignored. */
	memset(f + n, 0, 60 - n);
	CHECK_EQ(dp_pkt_parse(f, 60, &pi), DP_PKT_DROP_NONE);
	CHECK_EQ(pi.payload_len, 11);
	CHECK_EQ(pi.l3_len, 39);
	/* Zero checksum: not computed by the sender, accepted without verification. */
	f[40] = f[41] = 0;
	f[42] ^= 0x20;
	CHECK_EQ(dp_pkt_parse(f, n, &pi), DP_PKT_DROP_NONE);
	CHECK_EQ(pi.kind, DP_PKT_UDP);
}

/* Insert a 802.1Q tag (TCI tci, TPID tpid) after the MACs; returns the new length. */
static size_t add_tag(uint8_t *f, size_t n, uint16_t tpid, uint16_t tci)
{
	memmove(f + 16, f + 12, n - 12);
	f[12] = (uint8_t)(tpid >> 8);
	f[13] = (uint8_t)tpid;
	f[14] = (uint8_t)(tci >> 8);
	f[15] = (uint8_t)tci;
	return n + 4;
}

static void test_vlan(void)
{
	uint8_t f[160];
	struct dp_pkt_info pi;
	size_t n = from_hex(udp_hex, f);

	n = add_tag(f, n, DP_PKT_ETHERTYPE_VLAN, 0x2064);
	CHECK_EQ(dp_pkt_parse(f, n, &pi), DP_PKT_DROP_NONE);
	CHECK_EQ(pi.kind, DP_PKT_UDP);
	CHECK_EQ(pi.has_vlan, 1);
	CHECK_EQ(pi.vlan_tci, 0x2064);
	CHECK_EQ(pi.l3_off, 18);
	CHECK_EQ(pi.payload_off, 46);
	CHECK_EQ(dp_pkt_parse(f, 16, &pi), DP_PKT_DROP_ETH_TRUNCATED);
	CHECK_EQ(dp_pkt_parse(f, 17, &pi), DP_PKT_DROP_ETH_TRUNCATED);

	/* A second tag inside the first, and an 802.1ad outer tag: both refused. */
	n = add_tag(f, n, DP_PKT_ETHERTYPE_VLAN, 5);
	CHECK_EQ(dp_pkt_parse(f, n, &pi), DP_PKT_DROP_VLAN_STACKED);
	n = from_hex(udp_hex, f);
	n = add_tag(f, n, DP_PKT_ETHERTYPE_QINQ, 5);
	CHECK_EQ(dp_pkt_parse(f, n, &pi), DP_PKT_DROP_VLAN_STACKED);

	n = from_hex(arp_hex, f);
	n = add_tag(f, n, DP_PKT_ETHERTYPE_VLAN, 7);
	CHECK_EQ(dp_pkt_parse(f, n, &pi), DP_PKT_DROP_NONE);
	CHECK_EQ(pi.kind, DP_PKT_ARP);
	CHECK_EQ(pi.l3_off, 18);
}

static void test_ip_options(void)
{
	uint8_t f[160];
	struct dp_pkt_info pi;
	size_t n = from_hex(udp_hex, f);

	/* Four NOP options: IHL 6, total length + 4; the UDP checksum does not cover them. */
	memmove(f + 38, f + 34, n - 34);
	memset(f + 34, 0x01, 4);
	f[14] = 0x46;
	f[17] = 39 + 4;
	fix_ip_csum(f, 14);
	n += 4;
	CHECK_EQ(dp_pkt_parse(f, n, &pi), DP_PKT_DROP_NONE);
	CHECK_EQ(pi.kind, DP_PKT_UDP);
	CHECK_EQ(pi.l4_off, 38);
	CHECK_EQ(pi.payload_off, 46);
	CHECK_EQ(pi.payload_len, 11);
	CHECK(memcmp(f + pi.payload_off, "hello world", 11) == 0);

	/* IHL 15 (60 bytes): longer than the datagram's total length, or than the buffer. */
	memset(f + n, 0, 80 - n);
	f[14] = 0x4f;
	fix_ip_csum(f, 14);
	CHECK_EQ(dp_pkt_parse(f, 80, &pi), DP_PKT_DROP_IP_TOTLEN);
	CHECK_EQ(dp_pkt_parse(f, 14 + 59, &pi), DP_PKT_DROP_IP_TRUNCATED);
}

static void test_truncated_everywhere(void)
{
	uint8_t f[128];
	struct dp_pkt_info pi;
	size_t n = from_hex(udp_hex, f), len;

	for (len = 0; len < n; len++) {
		enum dp_pkt_drop want = len < 14 ? DP_PKT_DROP_ETH_TRUNCATED :
					len < 34 ? DP_PKT_DROP_IP_TRUNCATED : DP_PKT_DROP_IP_TOTLEN;
		CHECK_EQ(dp_pkt_parse(f, len, &pi), want);
	}
	n = from_hex(arp_hex, f);
	for (len = 14; len < n; len++)
		CHECK_EQ(dp_pkt_parse(f, len, &pi), DP_PKT_DROP_ARP_TRUNCATED);
	CHECK_EQ(dp_pkt_parse(f, n, &pi), DP_PKT_DROP_NONE);
}

static void test_bad_headers(void)
{
	uint8_t f[128];
	struct dp_pkt_info pi;
	size_t n;

	n = from_hex(arp_hex, f);
	f[18] = 7;       /* hardware address length */
	CHECK_EQ(dp_pkt_parse(f, n, &pi), DP_PKT_DROP_ARP_FORMAT);
	n = from_hex(arp_hex, f);
	f[16] = 0x86;    /* protocol IPv6 */
	f[17] = 0xdd;
	CHECK_EQ(dp_pkt_parse(f, n, &pi), DP_PKT_DROP_ARP_FORMAT);

	n = from_hex(udp_hex, f);
	f[12] = 0x86;
	f[13] = 0xdd;
	CHECK_EQ(dp_pkt_parse(f, n, &pi), DP_PKT_DROP_ETHERTYPE);

	n = from_hex(udp_hex, f);
	f[14] = 0x65;    /* version 6 in an IPv4 frame */
	CHECK_EQ(dp_pkt_parse(f, n, &pi), DP_PKT_DROP_IP_VERSION);
	f[14] = 0x44;    /* IHL 4 */
	fix_ip_csum(f, 14);
	CHECK_EQ(dp_pkt_parse(f, n, &pi), DP_PKT_DROP_IP_IHL);

	n = from_hex(udp_hex, f);
	f[17] = 19;      /* total length below the header */
	fix_ip_csum(f, 14);
	CHECK_EQ(dp_pkt_parse(f, n, &pi), DP_PKT_DROP_IP_TOTLEN);
	f[17] = 40;      /* one byte past the buffer */
	fix_ip_csum(f, 14);
	CHECK_EQ(dp_pkt_parse(f, n, &pi), DP_PKT_DROP_IP_TOTLEN);

	n = from_hex(udp_hex, f);
	f[29] ^= 1;      /* source address changed, checksum not */
	CHECK_EQ(dp_pkt_parse(f, n, &pi), DP_PKT_DROP_IP_CSUM);
	f[24] ^= 0xff;   /* the checksum itself damaged */
	f[29] ^= 1;
	CHECK_EQ(dp_pkt_parse(f, n, &pi), DP_PKT_DROP_IP_CSUM);

	n = from_hex(udp_hex, f);
	f[23] = 6;       /* TCP */
	fix_ip_csum(f, 14);
	CHECK_EQ(dp_pkt_parse(f, n, &pi), DP_PKT_DROP_IP_PROTO);

	n = from_hex(udp_hex, f);
	f[17] = 27;      /* 7 bytes of UDP */
	fix_ip_csum(f, 14);
	CHECK_EQ(dp_pkt_parse(f, n, &pi), DP_PKT_DROP_UDP_TRUNCATED);
	n = from_hex(udp_hex, f);
	f[39] = 18;      /* UDP length one short of the IP payload */
	CHECK_EQ(dp_pkt_parse(f, n, &pi), DP_PKT_DROP_UDP_LEN);
	f[39] = 20;      /* one past it */
	CHECK_EQ(dp_pkt_parse(f, n, &pi), DP_PKT_DROP_UDP_LEN);
	n = from_hex(udp_hex, f);
	f[n - 1] ^= 0x01;  /* payload changed: the odd last byte */
	CHECK_EQ(dp_pkt_parse(f, n, &pi), DP_PKT_DROP_UDP_CSUM);
	n = from_hex(udp_hex, f);
	f[33] ^= 0x01;   /* destination address: the UDP checksum covers it in the pseudo-header */
	fix_ip_csum(f, 14);
	CHECK_EQ(dp_pkt_parse(f, n, &pi), DP_PKT_DROP_UDP_CSUM);

	n = from_hex(icmp_hex, f);
	f[17] = 24;      /* 4 bytes of ICMP */
	fix_ip_csum(f, 14);
	CHECK_EQ(dp_pkt_parse(f, n, &pi), DP_PKT_DROP_ICMP_TRUNCATED);
	n = from_hex(icmp_hex, f);
	f[n - 1] ^= 0x10;
	CHECK_EQ(dp_pkt_parse(f, n, &pi), DP_PKT_DROP_ICMP_CSUM);
}

static void test_fragments(void)
{
	uint8_t f[128];
	struct dp_pkt_info pi;
	size_t n = from_hex(udp_hex, f);

	f[20] = 0x20;    /* MF, offset 0, DF cleared */
	fix_ip_csum(f, 14);
	CHECK_EQ(dp_pkt_parse(f, n, &pi), DP_PKT_DROP_NONE);
	CHECK_EQ(pi.kind, DP_PKT_IPV4_FRAGMENT);
	CHECK_EQ(pi.ip_proto, DP_PKT_PROTO_UDP);
	f[20] = 0x00;    /* last fragment: offset 8 bytes */
	f[21] = 0x01;
	fix_ip_csum(f, 14);
	CHECK_EQ(dp_pkt_parse(f, n, &pi), DP_PKT_DROP_NONE);
	CHECK_EQ(pi.kind, DP_PKT_IPV4_FRAGMENT);
	/* A fragment is still checked as IPv4 first. */
	f[29] ^= 1;
	CHECK_EQ(dp_pkt_parse(f, n, &pi), DP_PKT_DROP_IP_CSUM);
	/* DF alone is not a fragment. */
	n = from_hex(udp_hex, f);
	CHECK_EQ(f[20], 0x40);
	CHECK_EQ(dp_pkt_parse(f, n, &pi), DP_PKT_DROP_NONE);
	CHECK_EQ(pi.kind, DP_PKT_UDP);
}

static void test_arp_reply(void)
{
	uint8_t f[128], want[42];
	struct dp_pkt_info pi;
	size_t n = from_hex(arp_hex, f);

	memset(f + n, 0, 60 - n);   /* padded, as a NIC may deliver it */
	REQUIRE(dp_pkt_parse(f, 60, &pi) == DP_PKT_DROP_NONE);
	CHECK_EQ(dp_pkt_arp_reply(f, 60, &pi, our_mac, IP_B), -EINVAL);  /* not our address */
	CHECK_EQ(dp_pkt_arp_reply(f, 60, &pi, our_mac, IP_A), 42);
	from_hex("7e0b8ca49241" "020000000001" "0806" "0001080006040002" "020000000001" "c6120001"
		 "7e0b8ca49241" "c6120002", want);
	CHECK(memcmp(f, want, 42) == 0);
	REQUIRE(dp_pkt_parse(f, 42, &pi) == DP_PKT_DROP_NONE);
	CHECK_EQ(pi.arp_op, DP_PKT_ARP_REPLY);
	/* A reply is not answered. */
	CHECK_EQ(dp_pkt_arp_reply(f, 42, &pi, our_mac, IP_B), -EINVAL);

	/* Behind a VLAN tag the tag stays. */
	n = from_hex(arp_hex, f);
	n = add_tag(f, n, DP_PKT_ETHERTYPE_VLAN, 9);
	REQUIRE(dp_pkt_parse(f, n, &pi) == DP_PKT_DROP_NONE);
	CHECK_EQ(dp_pkt_arp_reply(f, n, &pi, our_mac, IP_A), 46);
	CHECK(memcmp(f, peer_mac, 6) == 0);
	CHECK_EQ(rd16(f + 12), DP_PKT_ETHERTYPE_VLAN);
	CHECK_EQ(rd16(f + 14), 9);
	CHECK(memcmp(f + 18 + 8, our_mac, 6) == 0);
}

static void test_icmp_echo_reply(void)
{
	uint8_t f[128], orig[128];
	struct dp_pkt_info pi;
	size_t n = from_hex(icmp_hex, f);

	memcpy(orig, f, n);
	memset(f + n, 0, 64 - n);
	REQUIRE(dp_pkt_parse(f, 64, &pi) == DP_PKT_DROP_NONE);
	CHECK_EQ(dp_pkt_icmp_echo_reply(f, 64, &pi), 54);
	CHECK(memcmp(f, orig + 6, 6) == 0);
	CHECK(memcmp(f + 6, orig, 6) == 0);
	CHECK(memcmp(f + 26, orig + 30, 4) == 0);
	CHECK(memcmp(f + 30, orig + 26, 4) == 0);
	CHECK_EQ(f[34], DP_PKT_ICMP_ECHO_REPLY);
	/* Type 8 -> 0 takes 0x0800 from the message: RFC 1624 gives fea1 -> 06a2. The IP
	 * checksum is unchanged: swapped addresses and the same TTL (64) sum the same. */
	CHECK_EQ(rd16(f + 36), 0x06a2);
	CHECK_EQ(rd16(f + 24), 0xdd3d);
	CHECK(memcmp(f + 38, orig + 38, 16) == 0);   /* id, sequence and data echoed */
	REQUIRE(dp_pkt_parse(f, 54, &pi) == DP_PKT_DROP_NONE);
	CHECK_EQ(pi.icmp_type, DP_PKT_ICMP_ECHO_REPLY);
	CHECK_EQ_U64(pi.src_ip, IP_A);
	/* An echo reply is not answered. */
	CHECK_EQ(dp_pkt_icmp_echo_reply(f, 54, &pi), -EINVAL);
	n = from_hex(udp_hex, f);
	REQUIRE(dp_pkt_parse(f, n, &pi) == DP_PKT_DROP_NONE);
	CHECK_EQ(dp_pkt_icmp_echo_reply(f, n, &pi), -EINVAL);
}

static void test_udp_reply(void)
{
	uint8_t f[160], orig[160];
	struct dp_pkt_info pi;
	size_t n = from_hex(udp_hex, f);

	memcpy(orig, f, n);
	REQUIRE(dp_pkt_parse(f, n, &pi) == DP_PKT_DROP_NONE);
	CHECK_EQ(dp_pkt_udp_reply(f, n, &pi, 12), -EMSGSIZE);   /* longer than the request */
	CHECK_EQ(dp_pkt_udp_reply(f, n, &pi, 11), 53);          /* echo the payload */
	CHECK(memcmp(f, orig + 6, 6) == 0);
	CHECK(memcmp(f + 6, orig, 6) == 0);
	CHECK_EQ(rd16(f + 18), 0);          /* ID */
	CHECK_EQ(rd16(f + 20), 0x4000);     /* DF */
	CHECK_EQ(f[22], 64);
	/* ID e477 -> 0: RFC 1624 takes the IP checksum from ca26 to ae9e. The UDP checksum
	 * covers the same words in another order: it stays 32dc. */
	CHECK_EQ(rd16(f + 24), 0xae9e);
	CHECK_EQ(rd16(f + 26), IP_A >> 16);
	CHECK_EQ(rd16(f + 34), 4789);
	CHECK_EQ(rd16(f + 36), 40000);
	CHECK_EQ(rd16(f + 38), 19);
	CHECK_EQ(rd16(f + 40), 0x32dc);
	REQUIRE(dp_pkt_parse(f, 53, &pi) == DP_PKT_DROP_NONE);
	CHECK_EQ(pi.kind, DP_PKT_UDP);
	CHECK_EQ(pi.dst_port, 40000);

	/* A shorter reply: "ok" in place of the request's payload. */
	n = from_hex(udp31_hex, f);
	REQUIRE(dp_pkt_parse(f, n, &pi) == DP_PKT_DROP_NONE);
	memcpy(f + pi.payload_off, "ok", 2);
	CHECK_EQ(dp_pkt_udp_reply(f, n, &pi, 2), 44);
	CHECK_EQ(rd16(f + 16), 30);
	CHECK_EQ(rd16(f + 38), 10);
	REQUIRE(dp_pkt_parse(f, 44, &pi) == DP_PKT_DROP_NONE);
	CHECK_EQ(pi.payload_len, 2);
	CHECK(memcmp(f + pi.payload_off, "ok", 2) == 0);
	CHECK_EQ_U64(pi.dst_ip, IP_B);

	/* An empty reply, behind a VLAN tag. */
	n = from_hex(udp_hex, f);
	n = add_tag(f, n, DP_PKT_ETHERTYPE_VLAN, 3);
	REQUIRE(dp_pkt_parse(f, n, &pi) == DP_PKT_DROP_NONE);
	CHECK_EQ(dp_pkt_udp_reply(f, n, &pi, 0), 18 + 20 + 8);
	REQUIRE(dp_pkt_parse(f, 46, &pi) == DP_PKT_DROP_NONE);
	CHECK_EQ(pi.payload_len, 0);
	CHECK_EQ(pi.vlan_tci, 3);

	/* Not UDP. */
	n = from_hex(icmp_hex, f);
	REQUIRE(dp_pkt_parse(f, n, &pi) == DP_PKT_DROP_NONE);
	CHECK_EQ(dp_pkt_udp_reply(f, n, &pi, 0), -EINVAL);
}

static void test_drop_names(void)
{
	CHECK_STR(dp_pkt_drop_name(DP_PKT_DROP_NONE), "none");
	CHECK_STR(dp_pkt_drop_name(DP_PKT_DROP_IP_CSUM), "ip_checksum");
	CHECK_STR(dp_pkt_drop_name(DP_PKT_DROP_TX_FULL), "tx_full");
	CHECK_STR(dp_pkt_drop_name(DP_PKT_DROP_COUNT), "unknown");
	CHECK_STR(dp_pkt_drop_name((enum dp_pkt_drop)-1), "unknown");
	for (int a = 0; a < DP_PKT_DROP_COUNT; a++) {
		const char *s = dp_pkt_drop_name(a);
		CHECK(s && *s && strcmp(s, "unknown") != 0);
		for (int b = 0; b < a; b++)
			CHECK(strcmp(s, dp_pkt_drop_name(b)) != 0);
	}
}

/* Random bit flips of valid frames: whatever parses must stay inside its buffer. */
static void test_random_damage_stays_in_bounds(void)
{
	const char *frames[] = { arp_hex, icmp_hex, udp_hex, udp31_hex };
	uint8_t f[128];
	struct dp_pkt_info pi;

	for (int iter = 0; iter < 20000; iter++) {
		size_t n = from_hex(frames[iter % 4], f);
		uint64_t r = dp_test_rng(&rng_state);
		f[r % n] ^= (uint8_t)(1u << ((r >> 8) % 8));
		if (r & 0x10000)
			n -= (r >> 20) % n;
		if (dp_pkt_parse(f, n, &pi) != DP_PKT_DROP_NONE)
			continue;
		CHECK((size_t)pi.l3_off + pi.l3_len <= n);
		if (pi.kind == DP_PKT_UDP)
			CHECK((size_t)pi.payload_off + pi.payload_len == (size_t)pi.l3_off + pi.l3_len);
	}
}

int main(void)
{
	DP_TEST_RUN(test_cksum_known_values);
	DP_TEST_RUN(test_cksum_matches_reference);
	DP_TEST_RUN(test_parse_kernel_frames);
	DP_TEST_RUN(test_udp_zero_checksum_and_padding);
	DP_TEST_RUN(test_vlan);
	DP_TEST_RUN(test_ip_options);
	DP_TEST_RUN(test_truncated_everywhere);
	DP_TEST_RUN(test_bad_headers);
	DP_TEST_RUN(test_fragments);
	DP_TEST_RUN(test_arp_reply);
	DP_TEST_RUN(test_icmp_echo_reply);
	DP_TEST_RUN(test_udp_reply);
	DP_TEST_RUN(test_drop_names);
	DP_TEST_RUN(test_random_damage_stays_in_bounds);
	return dp_test_done();
}
