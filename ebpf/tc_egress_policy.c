// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * tc_egress_policy: the egress port policy of the host firewall (tc clsact egress, direct action).
 *
 * For TCP and UDP over IPv4 and IPv6 it looks the (protocol, destination port) pair up in
 * `egress_rules`: a DENY rule drops (TC_ACT_SHOT), an ALLOW or FLAG rule passes. Traffic with no
 * rule gets `tc_config.default_action` (allow when unset). Every verdict is counted per CPU by
 * reason in `tc_counters` (enum tc_counter).
 *
 * What has no ports passes: ICMP and other IP protocols, non-first fragments (the first fragment
 * carried the ports and was checked) and non-IP frames. Truncated or invalid headers, more than
 * two VLAN tags and over-long IPv6 extension chains are dropped: they cannot be checked, and
 * letting them pass would be a way around the policy.
 *
 * Expects an Ethernet device (veth, physical NICs): the parser reads L2 first.
 */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>

#include "skb_parse.h"
#include "tc_egress_policy.h"

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, EGRESS_POLICY_MAX);
	__type(key, struct port_key);
	__type(value, struct port_rule);
} egress_rules SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct tc_config);
} tc_config SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, TC_CNT_MAX);
	__type(key, __u32);
	__type(value, struct counter);
} tc_counters SEC(".maps");

static __always_inline int verdict(__u32 reason, __u64 bytes, int action)
{
	struct counter *c = bpf_map_lookup_elem(&tc_counters, &reason);

	if (c) {
		c->packets++;
		c->bytes += bytes;
	}
	return action;
}

SEC("classifier")
int egress_policy(struct __sk_buff *skb)
{
	struct flow f = {};
	struct port_key key = {};
	struct port_rule *rule;
	struct tc_config *cfg;
	__u32 zero = 0;
	__u64 len = skb->len;

	switch (parse_eth(skb, &f)) {
	case PARSE_L4:
		break;
	case PARSE_NO_PORTS:
		return verdict(TC_CNT_NO_PORTS, len, TC_ACT_OK);
	case PARSE_FRAGMENT:
		return verdict(TC_CNT_FRAGMENT, len, TC_ACT_OK);
	case PARSE_NOT_IP:
		return verdict(TC_CNT_NON_IP, len, TC_ACT_OK);
	default:
		return verdict(TC_CNT_MALFORMED, len, TC_ACT_SHOT);
	}

	key.port = f.dport;
	key.protocol = f.protocol;
	rule = bpf_map_lookup_elem(&egress_rules, &key);
	if (rule) {
		__sync_fetch_and_add(&rule->hits, 1);
		if (rule->action == ACTION_DENY)
			return verdict(TC_CNT_DENY_RULE, len, TC_ACT_SHOT);
		return verdict(TC_CNT_ALLOW_RULE, len, TC_ACT_OK);
	}

	cfg = bpf_map_lookup_elem(&tc_config, &zero);
	if (cfg && cfg->default_action == ACTION_DENY)
		return verdict(TC_CNT_DENY_DEFAULT, len, TC_ACT_SHOT);
	return verdict(TC_CNT_ALLOW_DEFAULT, len, TC_ACT_OK);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
