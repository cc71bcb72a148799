// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * xdp_blocklist: the ingress blocklist of the host firewall.
 *
 * Drops every packet whose IPv4 or IPv6 source address lies in a prefix of `blocklist_v4` or
 * `blocklist_v6` (longest-prefix-match tries), and counts every verdict per CPU by reason in
 * `xdp_counters` (enum xdp_counter).
 *
 * Policy for what cannot be inspected (fail closed, because a blocklist that can be bypassed by
 * malforming a header is no blocklist):
 *   - a frame shorter than its Ethernet header, a truncated VLAN tag, an IPv4 header shorter than
 *     20 bytes or than its IHL says, IHL < 5, an IPv6 header shorter than 40 bytes, or an IP
 *     version that does not match the EtherType: XDP_DROP, counted as XDP_CNT_MALFORMED;
 *   - more than VLAN_MAX_DEPTH (2) stacked 802.1Q/802.1AD tags: XDP_DROP, XDP_CNT_VLAN_DEPTH;
 *   - anything that is not IP (ARP, LLDP, ...): XDP_PASS, XDP_CNT_NON_IP.
 * The IPv4 total length is not checked against the frame: Ethernet padding makes frames longer,
 * and the source address is all this program needs.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "xdp_blocklist.h"

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, BLOCKLIST_V4_MAX);
	__uint(map_flags, BPF_F_NO_PREALLOC); /* required for LPM tries */
	__type(key, struct lpm_v4_key);
	__type(value, struct blocklist_rule);
} blocklist_v4 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, BLOCKLIST_V6_MAX);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct lpm_v6_key);
	__type(value, struct blocklist_rule);
} blocklist_v6 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, XDP_CNT_MAX);
	__type(key, __u32);
	__type(value, struct counter);
} xdp_counters SEC(".maps");

static __always_inline int verdict(__u32 reason, __u64 bytes, int action)
{
	struct counter *c = bpf_map_lookup_elem(&xdp_counters, &reason);

	/* Per-CPU slot: no other CPU writes it, so plain increments are exact. */
	if (c) {
		c->packets++;
		c->bytes += bytes;
	}
	return action;
}

static __always_inline int check_v4(void *l3, void *data_end, __u64 len)
{
	struct iphdr *ip = l3;
	struct lpm_v4_key key = { .prefixlen = 32 };
	struct blocklist_rule *rule;

	if ((void *)(ip + 1) > data_end)
		return verdict(XDP_CNT_MALFORMED, len, XDP_DROP);
	if (ip->version != 4 || ip->ihl < 5)
		return verdict(XDP_CNT_MALFORMED, len, XDP_DROP);
	if (l3 + ip->ihl * 4 > data_end)
		return verdict(XDP_CNT_MALFORMED, len, XDP_DROP);

	__builtin_memcpy(key.addr, &ip->saddr, sizeof(key.addr));
	rule = bpf_map_lookup_elem(&blocklist_v4, &key);
	if (rule) {
		__sync_fetch_and_add(&rule->hits, 1);
		return verdict(XDP_CNT_DROP_V4, len, XDP_DROP);
	}
	return verdict(XDP_CNT_PASS, len, XDP_PASS);
}

static __always_inline int check_v6(void *l3, void *data_end, __u64 len)
{
	struct ipv6hdr *ip6 = l3;
	struct lpm_v6_key key = { .prefixlen = 128 };
	struct blocklist_rule *rule;

	if ((void *)(ip6 + 1) > data_end)
		return verdict(XDP_CNT_MALFORMED, len, XDP_DROP);
	if (ip6->version != 6)
		return verdict(XDP_CNT_MALFORMED, len, XDP_DROP);

	__builtin_memcpy(key.addr, &ip6->saddr, sizeof(key.addr));
	rule = bpf_map_lookup_elem(&blocklist_v6, &key);
	if (rule) {
		__sync_fetch_and_add(&rule->hits, 1);
		return verdict(XDP_CNT_DROP_V6, len, XDP_DROP);
	}
	return verdict(XDP_CNT_PASS, len, XDP_PASS);
}

SEC("xdp")
int xdp_blocklist(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	__u64 len = data_end - data;
	struct ethhdr *eth = data;
	void *cursor;
	__be16 proto;

	if ((void *)(eth + 1) > data_end)
		return verdict(XDP_CNT_MALFORMED, len, XDP_DROP);
	proto = eth->h_proto;
	cursor = eth + 1;

#pragma unroll
	for (int i = 0; i < VLAN_MAX_DEPTH; i++) {
		struct vlan_tag *tag = cursor;

		if (proto != bpf_htons(ETH_P_8021Q) && proto != bpf_htons(ETH_P_8021AD))
			break;
		if ((void *)(tag + 1) > data_end)
			return verdict(XDP_CNT_MALFORMED, len, XDP_DROP);
		proto = tag->encapsulated_proto;
		cursor = tag + 1;
	}
	if (proto == bpf_htons(ETH_P_8021Q) || proto == bpf_htons(ETH_P_8021AD))
		return verdict(XDP_CNT_VLAN_DEPTH, len, XDP_DROP);

	if (proto == bpf_htons(ETH_P_IP))
		return check_v4(cursor, data_end, len);
	if (proto == bpf_htons(ETH_P_IPV6))
		return check_v6(cursor, data_end, len);
	return verdict(XDP_CNT_NON_IP, len, XDP_PASS);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
