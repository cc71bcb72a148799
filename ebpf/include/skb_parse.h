/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Header parsing for socket-buffer programs (tc, cgroup_skb), shared so that both read a packet
 * the same way. Every read goes through bpf_skb_load_bytes: it works on non-linear skbs (GSO,
 * fragments in pages) where direct packet access would only see the linear head, and it fails
 * cleanly past the end of the packet, which is how truncation is detected.
 */
#ifndef ORCA_SKB_PARSE_H
#define ORCA_SKB_PARSE_H

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/in6.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/tcp.h>
#include <linux/udp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "firewall.h"

enum parse_status {
	PARSE_L4 = 0,	   /* TCP or UDP with ports filled in */
	PARSE_NO_PORTS,	   /* IP, but another protocol (ICMP, ...) */
	PARSE_FRAGMENT,	   /* a non-first fragment: the L4 header is in another packet */
	PARSE_NOT_IP,	   /* neither IPv4 nor IPv6 */
	PARSE_MALFORMED,   /* truncated or invalid headers, too many VLAN tags or extension headers */
};

/* What the parsers learn about a packet. Ports in host byte order, addresses in network order. */
struct flow {
	__u8 ip_version;
	__u8 protocol;
	__u16 sport;
	__u16 dport;
	__u8 saddr[16];
	__u8 daddr[16];
};

/* The IPv6 fragment header (the UAPI has none). */
struct frag6_hdr {
	__u8 nexthdr;
	__u8 reserved;
	__be16 frag_off; /* offset in 8-byte units << 3, flags in the low 3 bits */
	__be32 identification;
};

#define IP4_OFFSET_MASK 0x1fff

static __always_inline int parse_ports(struct __sk_buff *skb, __u32 off, struct flow *f)
{
	if (f->protocol == IPPROTO_TCP) {
		struct tcphdr th;

		/* The whole fixed header must be there, not just the ports. */
		if (bpf_skb_load_bytes(skb, off, &th, sizeof(th)))
			return PARSE_MALFORMED;
		f->sport = bpf_ntohs(th.source);
		f->dport = bpf_ntohs(th.dest);
		return PARSE_L4;
	}
	if (f->protocol == IPPROTO_UDP) {
		struct udphdr uh;

		if (bpf_skb_load_bytes(skb, off, &uh, sizeof(uh)))
			return PARSE_MALFORMED;
		f->sport = bpf_ntohs(uh.source);
		f->dport = bpf_ntohs(uh.dest);
		return PARSE_L4;
	}
	return PARSE_NO_PORTS;
}

static __always_inline int parse_ipv4(struct __sk_buff *skb, __u32 off, struct flow *f)
{
	struct iphdr ip;

	if (bpf_skb_load_bytes(skb, off, &ip, sizeof(ip)))
		return PARSE_MALFORMED;
	if (ip.version != 4 || ip.ihl < 5)
		return PARSE_MALFORMED;
	f->ip_version = 4;
	f->protocol = ip.protocol;
	__builtin_memcpy(f->saddr, &ip.saddr, 4);
	__builtin_memcpy(f->daddr, &ip.daddr, 4);
	if (ip.frag_off & bpf_htons(IP4_OFFSET_MASK))
		return PARSE_FRAGMENT;
	return parse_ports(skb, off + ip.ihl * 4, f);
}

static __always_inline int parse_ipv6(struct __sk_buff *skb, __u32 off, struct flow *f)
{
	struct ipv6hdr ip6;
	__u8 next;

	if (bpf_skb_load_bytes(skb, off, &ip6, sizeof(ip6)))
		return PARSE_MALFORMED;
	if (ip6.version != 6)
		return PARSE_MALFORMED;
	f->ip_version = 6;
	__builtin_memcpy(f->saddr, &ip6.saddr, 16);
	__builtin_memcpy(f->daddr, &ip6.daddr, 16);
	next = ip6.nexthdr;
	off += sizeof(ip6);

#pragma unroll
	for (int i = 0; i < IPV6_EXT_MAX; i++) {
		if (next == IPPROTO_HOPOPTS || next == IPPROTO_ROUTING || next == IPPROTO_DSTOPTS) {
			__u8 h[2]; /* next header, length in 8-byte units not counting the first */

			if (bpf_skb_load_bytes(skb, off, h, sizeof(h)))
				return PARSE_MALFORMED;
			next = h[0];
			off += (h[1] + 1) * 8;
		} else if (next == IPPROTO_AH) {
			__u8 h[2]; /* next header, length in 4-byte units minus 2 */

			if (bpf_skb_load_bytes(skb, off, h, sizeof(h)))
				return PARSE_MALFORMED;
			next = h[0];
			off += (h[1] + 2) * 4;
		} else if (next == IPPROTO_FRAGMENT) {
			struct frag6_hdr fh;

			if (bpf_skb_load_bytes(skb, off, &fh, sizeof(fh)))
				return PARSE_MALFORMED;
			next = fh.nexthdr;
			off += sizeof(fh);
			if (bpf_ntohs(fh.frag_off) & ~7) {
				f->protocol = next;
				return PARSE_FRAGMENT;
			}
		} else {
			f->protocol = next;
			return parse_ports(skb, off, f);
		}
	}
	/* Still inside the extension header chain: refuse what cannot be inspected. */
	return PARSE_MALFORMED;
}

/* Parses from the network header at `off`, by its version nibble (cgroup_skb sees no L2). */
static __always_inline int parse_ip(struct __sk_buff *skb, __u32 off, struct flow *f)
{
	__u8 first;

	if (bpf_skb_load_bytes(skb, off, &first, 1))
		return PARSE_NOT_IP;
	if (first >> 4 == 4)
		return parse_ipv4(skb, off, f);
	if (first >> 4 == 6)
		return parse_ipv6(skb, off, f);
	return PARSE_NOT_IP;
}

/* Parses an Ethernet frame with up to VLAN_MAX_DEPTH in-band tags (tc sees L2). */
static __always_inline int parse_eth(struct __sk_buff *skb, struct flow *f)
{
	struct ethhdr eth;
	__u32 off = sizeof(eth);
	__be16 proto;

	if (bpf_skb_load_bytes(skb, 0, &eth, sizeof(eth)))
		return PARSE_MALFORMED;
	proto = eth.h_proto;

#pragma unroll
	for (int i = 0; i < VLAN_MAX_DEPTH; i++) {
		struct vlan_tag tag;

		if (proto != bpf_htons(ETH_P_8021Q) && proto != bpf_htons(ETH_P_8021AD))
			break;
		if (bpf_skb_load_bytes(skb, off, &tag, sizeof(tag)))
			return PARSE_MALFORMED;
		proto = tag.encapsulated_proto;
		off += sizeof(tag);
	}
	if (proto == bpf_htons(ETH_P_8021Q) || proto == bpf_htons(ETH_P_8021AD))
		return PARSE_MALFORMED;
	if (proto == bpf_htons(ETH_P_IP))
		return parse_ipv4(skb, off, f);
	if (proto == bpf_htons(ETH_P_IPV6))
		return parse_ipv6(skb, off, f);
	return PARSE_NOT_IP;
}

#endif /* ORCA_SKB_PARSE_H */
