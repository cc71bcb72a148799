/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * xdp_blocklist: drops ingress packets whose IPv4 or IPv6 source address falls in a blocked
 * prefix. Mirrored in src/programs/xdp_blocklist.rs.
 */
#ifndef ORCA_XDP_BLOCKLIST_H
#define ORCA_XDP_BLOCKLIST_H

#include "firewall.h"

/* Keys of the LPM tries: prefix length in bits, then the address in network byte order. */
struct lpm_v4_key {
	__u32 prefixlen;
	__u8 addr[4];
};

struct lpm_v6_key {
	__u32 prefixlen;
	__u8 addr[16];
};

/* Value of both blocklists. `hits` counts the packets the prefix dropped (atomic). */
struct blocklist_rule {
	__u32 rule_id;
	__u32 pad;
	__u64 hits;
};

/* Indices into the `xdp_counters` PERCPU_ARRAY. */
enum xdp_counter {
	XDP_CNT_PASS = 0,	/* IPv4/IPv6 with an unblocked source: XDP_PASS */
	XDP_CNT_DROP_V4 = 1,	/* IPv4 from a blocked prefix: XDP_DROP */
	XDP_CNT_DROP_V6 = 2,	/* IPv6 from a blocked prefix: XDP_DROP */
	XDP_CNT_MALFORMED = 3,	/* truncated Ethernet/VLAN/IP header, bad version or IHL: XDP_DROP */
	XDP_CNT_NON_IP = 4,	/* ARP, LLDP, ...: XDP_PASS */
	XDP_CNT_VLAN_DEPTH = 5, /* more than VLAN_MAX_DEPTH tags: XDP_DROP */
	XDP_CNT_MAX = 6,
};

#define BLOCKLIST_V4_MAX 65536
#define BLOCKLIST_V6_MAX 65536

#endif /* ORCA_XDP_BLOCKLIST_H */
