/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * cgroup_events: per-cgroup egress accounting, a port watch list that flags or denies, and
 * events for flagged and denied packets through a ring buffer. Mirrored in
 * src/programs/cgroup_events.rs.
 */
#ifndef ORCA_CGROUP_EVENTS_H
#define ORCA_CGROUP_EVENTS_H

#include "firewall.h"

/* Value of the `cg_stats` LRU hash, keyed by cgroup id (__u64). Timestamps come from
 * bpf_ktime_get_coarse_ns (CLOCK_MONOTONIC_COARSE). */
struct cgroup_stats {
	__u64 packets;
	__u64 bytes;
	__u64 flagged;
	__u64 denied;
	__u64 last_seen_ns;
	__u64 last_event_ns;
};

/* The single entry of the `cg_config` ARRAY. */
struct cg_config {
	/* Minimum gap between two events of one cgroup; 0 sends every event. Rate limiting keeps
	 * a flood of denied packets from filling the ring buffer. */
	__u64 event_gap_ns;
};

/* One record in the `cg_events` ring buffer. Addresses are in network byte order (IPv4 in the
 * first 4 bytes), ports in host byte order. */
struct policy_event {
	__u64 ts_ns; /* bpf_ktime_get_coarse_ns */
	__u64 cgroup_id;
	__u32 len; /* skb->len */
	__u32 rule_id;
	__u8 ip_version; /* 4 or 6 */
	__u8 protocol;
	__u8 action; /* enum policy_action: DENY or FLAG */
	__u8 pad;
	__u16 sport;
	__u16 dport;
	__u8 saddr[16];
	__u8 daddr[16];
};

/* Indices into the `cg_counters` PERCPU_ARRAY. */
enum cg_counter {
	CG_CNT_ALLOWED = 0,	    /* no rule or an ALLOW rule */
	CG_CNT_FLAGGED = 1,	    /* FLAG rule: passed and reported */
	CG_CNT_DENIED = 2,	    /* DENY rule: dropped (the sender sees EPERM) and reported */
	CG_CNT_UNPARSED = 3,	    /* no ports to check (ICMP, fragments, malformed): passed */
	CG_CNT_EVENTS = 4,	    /* events submitted */
	CG_CNT_EVENTS_LOST = 5,	    /* ring buffer full */
	CG_CNT_EVENTS_THROTTLED = 6, /* suppressed by event_gap_ns */
	CG_CNT_MAX = 7,
};

#define CG_WATCH_MAX 4096
#define CG_STATS_MAX 4096
#define CG_EVENTS_BYTES (256 * 1024)

#endif /* ORCA_CGROUP_EVENTS_H */
