/* SPDX-License-Identifier: MIT */
/*
 * dp_pkt: Ethernet/VLAN/IPv4/UDP parsing and in-place replies, on plain byte buffers.
 *
 * What it owns. The validation a worker applies to every received frame before the ingest frame
 * parser sees a byte of it: Ethernet II with at most one 802.1Q tag; ARP (Ethernet/IPv4 only);
 * IPv4 with its header checksum, IHL (options are skipped, not interpreted), total length
 * against the buffer (trailing Ethernet padding is allowed and ignored) and fragments flagged;
 * UDP with its length equal to the IP payload length and its checksum verified when non-zero;
 * ICMP with its checksum. Every reason a frame is refused, here or by a worker, is one row of
 * DP_PKT_DROP_LIST, which yields both enum dp_pkt_drop and the names dp_pkt_drop_name() returns.
 *
 * It also builds, in the received buffer itself, the three replies the dataplane sends: an ARP
 * reply for our address, an ICMP echo reply, and the header swap that turns a received UDP
 * datagram into its ack (the ack payload is written by the caller in place of the request's,
 * and is never longer than it: a reply can never amplify).
 *
 * No DPDK types: the worker passes rte_pktmbuf_mtod() and the segment length, tests and the
 * fuzzer pass arrays. Multi-byte header fields are read with memcpy, so buffers need no
 * alignment. Addresses and ports in struct dp_pkt_info are in host byte order.
 *
 * Threads. Pure functions of their arguments; no allocation, no locks, no global state.
 */
#ifndef DP_PKT_H
#define DP_PKT_H

#include <stddef.h>
#include <stdint.h>

#define DP_PKT_ETH_HLEN 14
#define DP_PKT_VLAN_HLEN 4
#define DP_PKT_IPV4_HLEN 20     /* without options */
#define DP_PKT_UDP_HLEN 8
#define DP_PKT_ICMP_HLEN 8      /* echo: type, code, checksum, id, sequence */
#define DP_PKT_ARP_LEN 28       /* Ethernet/IPv4 ARP body */

#define DP_PKT_ETHERTYPE_IPV4 0x0800
#define DP_PKT_ETHERTYPE_ARP 0x0806
#define DP_PKT_ETHERTYPE_VLAN 0x8100
#define DP_PKT_ETHERTYPE_QINQ 0x88a8

#define DP_PKT_PROTO_ICMP 1
#define DP_PKT_PROTO_UDP 17

/* TTL of every packet we originate (Linux's default). */
#define DP_PKT_TTL 64

/*
 * Every reason a received frame is dropped: X(ENUM_SUFFIX, "name"). The first block is decided
 * by dp_pkt_parse(), the second by a worker after a successful parse. Names are stable: they
 * appear in counters that operators and tests read.
 */
#define DP_PKT_DROP_LIST(X) \
	X(NONE,           "none") \
	X(ETH_TRUNCATED,  "eth_truncated") \
	X(VLAN_STACKED,   "vlan_stacked") \
	X(ETHERTYPE,      "ethertype") \
	X(ARP_TRUNCATED,  "arp_truncated") \
	X(ARP_FORMAT,     "arp_format") \
	X(IP_TRUNCATED,   "ip_truncated") \
	X(IP_VERSION,     "ip_version") \
	X(IP_IHL,         "ip_ihl") \
	X(IP_TOTLEN,      "ip_total_length") \
	X(IP_CSUM,        "ip_checksum") \
	X(IP_PROTO,       "ip_protocol") \
	X(UDP_TRUNCATED,  "udp_truncated") \
	X(UDP_LEN,        "udp_length") \
	X(UDP_CSUM,       "udp_checksum") \
	X(ICMP_TRUNCATED, "icmp_truncated") \
	X(ICMP_CSUM,      "icmp_checksum") \
	\
	X(MULTISEG,       "multi_segment") \
	X(IP_FRAGMENT,    "ip_fragment") \
	X(NOT_OUR_IP,     "not_our_ip") \
	X(ARP_OTHER,      "arp_other") \
	X(ICMP_OTHER,     "icmp_other") \
	X(UDP_PORT,       "udp_port") \
	X(UDP_REFUSED,    "udp_refused") \
	X(TX_FULL,        "tx_full")

enum dp_pkt_drop {
#define DP_PKT_DROP_ENUM(e, s) DP_PKT_DROP_##e,
	DP_PKT_DROP_LIST(DP_PKT_DROP_ENUM)
#undef DP_PKT_DROP_ENUM
	DP_PKT_DROP_COUNT
};

/* The stable name of a drop reason; "unknown" for a value outside the list. */
const char *dp_pkt_drop_name(enum dp_pkt_drop reason);

/* What a frame that parsed cleanly carries. */
enum dp_pkt_kind {
	DP_PKT_ARP = 1,
	DP_PKT_UDP,
	DP_PKT_ICMP,
	DP_PKT_IPV4_FRAGMENT,  /* any fragment of a UDP or ICMP datagram: no L4 header parsed */
};

/* ARP operations (RFC 826). */
#define DP_PKT_ARP_REQUEST 1
#define DP_PKT_ARP_REPLY 2

/* ICMP types the dataplane handles. */
#define DP_PKT_ICMP_ECHO_REPLY 0
#define DP_PKT_ICMP_ECHO_REQUEST 8

struct dp_pkt_info {
	enum dp_pkt_kind kind;
	uint16_t l3_off;        /* offset of the ARP body or the IPv4 header */
	uint16_t l4_off;        /* offset of the UDP or ICMP header (IPv4 kinds) */
	uint16_t l3_len;        /* IPv4 total length; DP_PKT_ARP_LEN for ARP */
	uint16_t payload_off;   /* UDP: first payload byte; ICMP: the byte after its header */
	uint16_t payload_len;   /* UDP: length field - 8; ICMP: message length - 8 */
	uint16_t vlan_tci;      /* valid when has_vlan */
	uint8_t has_vlan;
	uint8_t ip_proto;       /* IPv4 kinds */
	uint16_t arp_op;        /* ARP: DP_PKT_ARP_REQUEST, DP_PKT_ARP_REPLY, ... */
	uint32_t src_ip;        /* IPv4 source, or ARP sender protocol address */
	uint32_t dst_ip;        /* IPv4 destination, or ARP target protocol address */
	uint16_t src_port;      /* UDP */
	uint16_t dst_port;      /* UDP */
	uint8_t icmp_type;      /* ICMP */
	uint8_t icmp_code;      /* ICMP */
};

/*
 * Validate and classify the frame p[0..len). On success fills *info (every field the kind
 * defines) and returns DP_PKT_DROP_NONE (0); otherwise returns the reason and *info is
 * unspecified. Refused: anything shorter than its headers, ethertypes other than IPv4 and ARP
 * (stacked VLAN tags separately), ARP that is not Ethernet/IPv4, IPv4 with version != 4,
 * IHL < 5, a header past the buffer, total length below the header or past the buffer, a bad
 * header checksum, protocols other than UDP and ICMP, UDP whose length field differs from the
 * IP payload length or whose non-zero checksum is wrong, ICMP with a bad checksum. Fragments
 * (MF set or offset != 0) parse as DP_PKT_IPV4_FRAGMENT after the IPv4 checks.
 */
enum dp_pkt_drop dp_pkt_parse(const uint8_t *p, size_t len, struct dp_pkt_info *info);

/*
 * The Internet checksum (RFC 1071) of p[0..len) with sum as the running 32-bit partial sum of
 * earlier pieces (0 to start): returns a new partial sum. Pieces other than the last must have
 * even lengths. Words are summed in host order; dp_pkt_cksum_fold() of the total, stored with
 * memcpy, is the checksum in network order.
 */
uint32_t dp_pkt_cksum_add(uint32_t sum, const void *p, size_t len);

/* Fold a partial sum to 16 bits and complement it: the value to store in a header. */
uint16_t dp_pkt_cksum_fold(uint32_t sum);

/*
 * Turn an ARP request for our_ip (parsed into *info from p) into our reply, in place: Ethernet
 * and ARP addresses swapped, our MAC as sender, operation 2. A VLAN tag stays as it was.
 * Returns the reply's length (the Ethernet and ARP headers; any padding after them is
 * dropped), or -EINVAL when the frame is not an ARP request for our_ip.
 */
int dp_pkt_arp_reply(uint8_t *p, size_t len, const struct dp_pkt_info *info,
		     const uint8_t our_mac[6], uint32_t our_ip);

/*
 * Turn an ICMP echo request (parsed into *info from p) into its reply, in place: MACs and IP
 * addresses swapped, type 0, TTL DP_PKT_TTL, both checksums recomputed; IP options and the
 * echo data are returned as received. Returns the reply's length (Ethernet padding dropped),
 * or -EINVAL when the frame is not an echo request.
 */
int dp_pkt_icmp_echo_reply(uint8_t *p, size_t len, const struct dp_pkt_info *info);

/*
 * Turn a received UDP datagram (parsed into *info from p) into the header of our reply to its
 * sender, in place: MACs, IP addresses and ports swapped, UDP length 8 + payload_len, IP total
 * length to match, ID 0 with DF, TTL DP_PKT_TTL, IPv4 and UDP checksums computed. The caller
 * has already written the reply payload at p + info->payload_off. IP options stay as received.
 * Returns the reply's frame length, or -EINVAL when the frame is not UDP, or -EMSGSIZE when
 * payload_len exceeds the request's own payload length (a reply never outgrows its request).
 */
int dp_pkt_udp_reply(uint8_t *p, size_t len, const struct dp_pkt_info *info, size_t payload_len);

#endif
