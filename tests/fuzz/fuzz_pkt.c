/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for dp_pkt: every input is a received frame. The parser must never read past
 * the buffer (the input is copied to an exactly sized heap block, so ASan sees any overrun) and
 * whatever it accepts must be consistent: offsets inside the frame, UDP payload ending where
 * the IP datagram ends, and both checksums right by an independent RFC 1071 sum. Every reply
 * the builders make from an accepted frame must itself parse, with the fields swapped, and a
 * UDP reply never outgrows its request. The checksum routine is also checked against the
 * reference over the raw input, whole and split. A violated property calls abort().
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dp_pkt.h"

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);

#define PROPERTY(cond) do { if (!(cond)) abort(); } while (0)

static const uint8_t our_mac[6] = { 0x02, 0, 0, 0, 0, 0x01 };

static uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

/* Plain RFC 1071 over big-endian words; returns the folded sum, not its complement. */
static uint32_t ref_sum(uint32_t s, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i + 1 < n; i += 2)
		s += rd16(p + i);
	if (n & 1)
		s += (uint32_t)p[n - 1] << 8;
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return s;
}

static void check_cksum(const uint8_t *d, size_t n)
{
	uint16_t c = dp_pkt_cksum_fold(dp_pkt_cksum_add(0, d, n)), split_c;
	uint8_t out[2];
	size_t split = n ? (d[0] % (n + 1)) & ~(size_t)1 : 0;

	memcpy(out, &c, 2);
	PROPERTY(rd16(out) == (uint16_t)~ref_sum(0, d, n));
	split_c = dp_pkt_cksum_fold(dp_pkt_cksum_add(dp_pkt_cksum_add(0, d, split), d + split,
						     n - split));
	PROPERTY(split_c == c);
}

static void check_accepted(const uint8_t *f, size_t n, const struct dp_pkt_info *pi)
{
	const uint8_t *ip = f + pi->l3_off;
	size_t ihl;

	PROPERTY(pi->l3_off == (pi->has_vlan ? 18 : 14));
	PROPERTY((size_t)pi->l3_off + pi->l3_len <= n);
	if (pi->kind == DP_PKT_ARP) {
		PROPERTY(pi->l3_len == DP_PKT_ARP_LEN);
		return;
	}
	PROPERTY(pi->kind == DP_PKT_UDP || pi->kind == DP_PKT_ICMP ||
		 pi->kind == DP_PKT_IPV4_FRAGMENT);
	ihl = (size_t)(ip[0] & 0xf) * 4;
	PROPERTY(ip[0] >> 4 == 4 && ihl >= 20 && ihl <= pi->l3_len);
	PROPERTY(pi->l4_off == pi->l3_off + ihl);
	PROPERTY(ref_sum(0, ip, ihl) == 0xffff);
	if (pi->kind == DP_PKT_IPV4_FRAGMENT) {
		PROPERTY((rd16(ip + 6) & 0x3fff) != 0);
		return;
	}
	PROPERTY((size_t)pi->payload_off + pi->payload_len == (size_t)pi->l3_off + pi->l3_len);
	if (pi->kind == DP_PKT_ICMP) {
		PROPERTY(ref_sum(0, f + pi->l4_off, pi->l3_len - ihl) == 0xffff);
		return;
	}
	if (rd16(f + pi->l4_off + 6) != 0) {
		uint8_t ph[12];
		memcpy(ph, ip + 12, 8);
		ph[8] = 0;
		ph[9] = DP_PKT_PROTO_UDP;
		ph[10] = (uint8_t)((pi->payload_len + 8) >> 8);
		ph[11] = (uint8_t)(pi->payload_len + 8);
		PROPERTY(ref_sum(ref_sum(0, ph, 12), f + pi->l4_off, pi->payload_len + 8u) == 0xffff);
	}
}

static void check_replies(const uint8_t *f, size_t n, const struct dp_pkt_info *pi)
{
	uint8_t *r = malloc(n);
	struct dp_pkt_info ri;
	int len;

	if (!r)
		abort();
	memcpy(r, f, n);
	switch (pi->kind) {
	case DP_PKT_ARP:
		len = dp_pkt_arp_reply(r, n, pi, our_mac, pi->dst_ip);
		PROPERTY((len > 0) == (pi->arp_op == DP_PKT_ARP_REQUEST));
		if (len > 0) {
			PROPERTY(dp_pkt_parse(r, (size_t)len, &ri) == DP_PKT_DROP_NONE);
			PROPERTY(ri.kind == DP_PKT_ARP && ri.arp_op == DP_PKT_ARP_REPLY);
			PROPERTY(ri.src_ip == pi->dst_ip && ri.dst_ip == pi->src_ip);
			PROPERTY(memcmp(r, f + 6, 6) == 0 && memcmp(r + 6, our_mac, 6) == 0);
		}
		break;
	case DP_PKT_ICMP:
		len = dp_pkt_icmp_echo_reply(r, n, pi);
		PROPERTY((len > 0) == (pi->icmp_type == DP_PKT_ICMP_ECHO_REQUEST));
		if (len > 0) {
			PROPERTY(dp_pkt_parse(r, (size_t)len, &ri) == DP_PKT_DROP_NONE);
			PROPERTY(ri.kind == DP_PKT_ICMP && ri.icmp_type == DP_PKT_ICMP_ECHO_REPLY);
			PROPERTY(ri.src_ip == pi->dst_ip && ri.dst_ip == pi->src_ip);
		}
		break;
	case DP_PKT_UDP: {
		size_t want = pi->payload_len ? f[n - 1] % (pi->payload_len + 1u) : 0;
		PROPERTY(dp_pkt_udp_reply(r, n, pi, pi->payload_len + 1u) == -EMSGSIZE);
		len = dp_pkt_udp_reply(r, n, pi, want);
		PROPERTY(len > 0 && (size_t)len <= n);
		PROPERTY(dp_pkt_parse(r, (size_t)len, &ri) == DP_PKT_DROP_NONE);
		PROPERTY(ri.kind == DP_PKT_UDP && ri.payload_len == want);
		PROPERTY(ri.src_ip == pi->dst_ip && ri.dst_ip == pi->src_ip);
		PROPERTY(ri.src_port == pi->dst_port && ri.dst_port == pi->src_port);
		PROPERTY(memcmp(r + ri.payload_off, f + pi->payload_off, want) == 0);
		break;
	}
	default:
		PROPERTY(dp_pkt_udp_reply(r, n, pi, 0) == -EINVAL);
		PROPERTY(dp_pkt_icmp_echo_reply(r, n, pi) == -EINVAL);
		break;
	}
	free(r);
}

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	struct dp_pkt_info pi;
	uint8_t *f;
	enum dp_pkt_drop why;

	check_cksum(d, n);
	f = malloc(n ? n : 1);
	if (!f)
		abort();
	memcpy(f, d, n);
	why = dp_pkt_parse(f, n, &pi);
	PROPERTY((unsigned)why < DP_PKT_DROP_MULTISEG);   /* only parser reasons come from here */
	if (why == DP_PKT_DROP_NONE) {
		check_accepted(f, n, &pi);
		check_replies(f, n, &pi);
	}
	free(f);
	return 0;
}
