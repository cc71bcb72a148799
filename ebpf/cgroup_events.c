// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * cgroup_events: per-cgroup egress accounting and policy events (cgroup_skb/egress).
 *
 * For every packet a process in the attached cgroup subtree sends, it adds to the sender's
 * cgroup in `cg_stats` (LRU hash keyed by cgroup id), then looks TCP/UDP (protocol, destination
 * port) up in the watch list `cg_watch`:
 *   - DENY: the packet is dropped (the sender's send() fails with EPERM) and an event is sent;
 *   - FLAG: the packet passes and an event is sent;
 *   - ALLOW or no rule: the packet passes, nothing is sent.
 * Events go through the `cg_events` ring buffer, at most one per cgroup per
 * `cg_config.event_gap_ns` so that a flood cannot fill the buffer; what is suppressed or lost is
 * counted in `cg_counters` (enum cg_counter).
 *
 * Needs Linux 5.11: timestamps come from bpf_ktime_get_coarse_ns (helper 160), which costs a
 * read of a cached clock instead of a clocksource access per packet and has the jiffy resolution
 * rate limiting needs. A 5.10 verifier rejects the program with "invalid func unknown#160".
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "skb_parse.h"
#include "cgroup_events.h"

/* cgroup_skb verdicts */
#define CG_PASS 1
#define CG_DROP 0

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, CG_WATCH_MAX);
	__type(key, struct port_key);
	__type(value, struct port_rule);
} cg_watch SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, CG_STATS_MAX);
	__type(key, __u64);
	__type(value, struct cgroup_stats);
} cg_stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct cg_config);
} cg_config SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, CG_CNT_MAX);
	__type(key, __u32);
	__type(value, struct counter);
} cg_counters SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, CG_EVENTS_BYTES);
} cg_events SEC(".maps");

static __always_inline void count(__u32 reason, __u64 bytes)
{
	struct counter *c = bpf_map_lookup_elem(&cg_counters, &reason);

	if (c) {
		c->packets++;
		c->bytes += bytes;
	}
}

static __always_inline struct cgroup_stats *stats_of(__u64 cgid)
{
	struct cgroup_stats *st = bpf_map_lookup_elem(&cg_stats, &cgid);

	if (!st) {
		struct cgroup_stats zero = {};

		/* NOEXIST: another CPU may have created it meanwhile; either way look it up again. */
		bpf_map_update_elem(&cg_stats, &cgid, &zero, BPF_NOEXIST);
		st = bpf_map_lookup_elem(&cg_stats, &cgid);
	}
	return st;
}

static __always_inline void report(struct cgroup_stats *st, __u64 now, __u64 cgid, __u32 len,
				   struct flow *f, struct port_rule *rule)
{
	struct policy_event *e;
	struct cg_config *cfg;
	__u32 zero = 0;

	cfg = bpf_map_lookup_elem(&cg_config, &zero);
	if (cfg && cfg->event_gap_ns && st->last_event_ns &&
	    now - st->last_event_ns < cfg->event_gap_ns) {
		count(CG_CNT_EVENTS_THROTTLED, len);
		return;
	}
	/* Racy between CPUs by design: at worst two events slip through in one gap. */
	st->last_event_ns = now;

	e = bpf_ringbuf_reserve(&cg_events, sizeof(*e), 0);
	if (!e) {
		count(CG_CNT_EVENTS_LOST, len);
		return;
	}
	e->ts_ns = now;
	e->cgroup_id = cgid;
	e->len = len;
	e->rule_id = rule->rule_id;
	e->ip_version = f->ip_version;
	e->protocol = f->protocol;
	e->action = rule->action;
	e->pad = 0;
	e->sport = f->sport;
	e->dport = f->dport;
	__builtin_memcpy(e->saddr, f->saddr, sizeof(e->saddr));
	__builtin_memcpy(e->daddr, f->daddr, sizeof(e->daddr));
	bpf_ringbuf_submit(e, 0);
	count(CG_CNT_EVENTS, len);
}

SEC("cgroup_skb/egress")
int cgroup_events(struct __sk_buff *skb)
{
	__u64 now = bpf_ktime_get_coarse_ns();
	__u64 cgid = bpf_skb_cgroup_id(skb);
	__u32 len = skb->len;
	struct flow f = {};
	struct port_key key = {};
	struct cgroup_stats *st;
	struct port_rule *rule;

	st = stats_of(cgid);
	if (st) {
		__sync_fetch_and_add(&st->packets, 1);
		__sync_fetch_and_add(&st->bytes, len);
		st->last_seen_ns = now;
	}

	if (parse_ip(skb, 0, &f) != PARSE_L4) {
		count(CG_CNT_UNPARSED, len);
		return CG_PASS;
	}

	key.port = f.dport;
	key.protocol = f.protocol;
	rule = bpf_map_lookup_elem(&cg_watch, &key);
	if (!rule || (rule->action != ACTION_DENY && rule->action != ACTION_FLAG)) {
		count(CG_CNT_ALLOWED, len);
		return CG_PASS;
	}
	__sync_fetch_and_add(&rule->hits, 1);

	if (rule->action == ACTION_DENY) {
		count(CG_CNT_DENIED, len);
		if (st) {
			__sync_fetch_and_add(&st->denied, 1);
			report(st, now, cgid, len, &f, rule);
		}
		return CG_DROP;
	}
	count(CG_CNT_FLAGGED, len);
	if (st) {
		__sync_fetch_and_add(&st->flagged, 1);
		report(st, now, cgid, len, &f, rule);
	}
	return CG_PASS;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
