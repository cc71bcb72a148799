/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Definitions shared by every program of the host firewall's data plane and by userspace.
 *
 * Userspace mirrors each struct and enum here in src/programs/ (#[repr(C)]); a unit test there
 * compiles these headers and compares the BTF layout with the Rust types, so change both together.
 * Every struct is padded explicitly: userspace writes keys byte for byte, and hidden padding
 * would make two equal keys hash differently.
 */
#ifndef ORCA_FIREWALL_H
#define ORCA_FIREWALL_H

#include <linux/types.h>

/* A packet and byte count. Counter maps are PERCPU_ARRAYs of these indexed by a reason; userspace
 * sums the per-CPU values. */
struct counter {
	__u64 packets;
	__u64 bytes;
};

/* What a port rule does with a matching packet. Zero is ALLOW so that a zeroed config means
 * "allow", the conventional egress default. */
enum policy_action {
	ACTION_ALLOW = 0,
	ACTION_DENY = 1,
	/* Allow, but report it (cgroup_events sends an event; tc_egress_policy treats it as allow). */
	ACTION_FLAG = 2,
};

/* Key of the port-keyed policy maps: L4 protocol (IPPROTO_TCP or IPPROTO_UDP) and destination
 * port in host byte order. `pad` must be zero. */
struct port_key {
	__u16 port;
	__u8 protocol;
	__u8 pad;
};

/* Value of the port-keyed policy maps. `hits` is incremented atomically by the program. */
struct port_rule {
	__u32 action;  /* enum policy_action */
	__u32 rule_id; /* chosen by userspace, echoed in events */
	__u64 hits;
};

/* An 802.1Q or 802.1AD tag as it sits in the frame, after the MAC addresses. The UAPI has no
 * such struct (struct vlan_hdr is kernel-internal). */
struct vlan_tag {
	__be16 tci;
	__be16 encapsulated_proto;
};

/* How many stacked VLAN tags the parsers walk (802.1AD outer + 802.1Q inner). A frame with more
 * cannot be inspected, and the programs refuse it rather than let it pass unchecked. */
#define VLAN_MAX_DEPTH 2

/* How many IPv6 extension headers the parsers walk before giving up on finding the L4 header. */
#define IPV6_EXT_MAX 6

#endif /* ORCA_FIREWALL_H */
