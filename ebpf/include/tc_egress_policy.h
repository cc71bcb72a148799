/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * tc_egress_policy: allows or denies egress TCP/UDP by destination port. Mirrored in
 * src/programs/tc_egress_policy.rs.
 */
#ifndef ORCA_TC_EGRESS_POLICY_H
#define ORCA_TC_EGRESS_POLICY_H

#include "firewall.h"

/* The single entry of the `tc_config` ARRAY. All zero means: default allow. */
struct tc_config {
	__u32 default_action; /* enum policy_action for TCP/UDP that matches no rule */
	__u32 pad;
};

/* Indices into the `tc_counters` PERCPU_ARRAY. */
enum tc_counter {
	TC_CNT_ALLOW_RULE = 0,	  /* matched an ALLOW or FLAG rule: TC_ACT_OK */
	TC_CNT_DENY_RULE = 1,	  /* matched a DENY rule: TC_ACT_SHOT */
	TC_CNT_ALLOW_DEFAULT = 2, /* no rule, default allow: TC_ACT_OK */
	TC_CNT_DENY_DEFAULT = 3,  /* no rule, default deny: TC_ACT_SHOT */
	TC_CNT_NO_PORTS = 4,	  /* IP without TCP/UDP (ICMP, ...): TC_ACT_OK */
	TC_CNT_FRAGMENT = 5,	  /* non-first fragment, no ports to check: TC_ACT_OK */
	TC_CNT_NON_IP = 6,	  /* not IPv4/IPv6: TC_ACT_OK */
	TC_CNT_MALFORMED = 7,	  /* truncated or invalid headers: TC_ACT_SHOT */
	TC_CNT_MAX = 8,
};

#define EGRESS_POLICY_MAX 4096

#endif /* ORCA_TC_EGRESS_POLICY_H */
