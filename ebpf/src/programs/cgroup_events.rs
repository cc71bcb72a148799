//! Per-cgroup egress accounting and policy events (mirrors `ebpf/include/cgroup_events.h`).
//!
//! `cg_watch` maps a [`PortKey`](super::common::PortKey) to a
//! [`PortRule`](super::common::PortRule) whose action is DENY (drop and report) or FLAG (pass and
//! report). `cg_stats` holds a [`CgroupStats`] per cgroup id, `cg_events` is the ring buffer of
//! [`PolicyEvent`]s, `cg_counters` counts by [`CgCounter`].
//!
//! Needs Linux 5.11 (`bpf_ktime_get_coarse_ns`); see [`MIN_KERNEL`].

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// The program's function name in the object.
pub const PROGRAM: &str = "cgroup_events";
pub const WATCH: &str = "cg_watch";
pub const STATS: &str = "cg_stats";
pub const CONFIG: &str = "cg_config";
pub const COUNTERS: &str = "cg_counters";
pub const EVENTS: &str = "cg_events";

pub const CG_WATCH_MAX: u32 = 4096;
pub const CG_STATS_MAX: u32 = 4096;
pub const CG_EVENTS_BYTES: u32 = 256 * 1024;

/// The oldest kernel whose verifier accepts the program: bpf_ktime_get_coarse_ns (helper 160)
/// arrived in 5.11. A 5.10 verifier says [`VERIFIER_MESSAGE_5_10`].
pub const MIN_KERNEL: (u32, u32) = (5, 11);
pub const VERIFIER_MESSAGE_5_10: &str = "invalid func unknown#160";

/// Value of `cg_stats` (`struct cgroup_stats`), keyed by cgroup id. Times are
/// CLOCK_MONOTONIC_COARSE nanoseconds.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CgroupStats {
    pub packets: u64,
    pub bytes: u64,
    pub flagged: u64,
    pub denied: u64,
    pub last_seen_ns: u64,
    pub last_event_ns: u64,
}

unsafe impl aya::Pod for CgroupStats {}

/// The single entry of `cg_config` (`struct cg_config`).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CgConfig {
    /// Minimum gap between two events of one cgroup; 0 sends every event.
    pub event_gap_ns: u64,
}

unsafe impl aya::Pod for CgConfig {}

/// One ring buffer record (`struct policy_event`).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PolicyEvent {
    /// CLOCK_MONOTONIC_COARSE nanoseconds.
    pub ts_ns: u64,
    pub cgroup_id: u64,
    /// The packet's length (skb->len).
    pub len: u32,
    pub rule_id: u32,
    /// 4 or 6.
    pub ip_version: u8,
    pub protocol: u8,
    /// An [`Action`](super::common::Action): Deny or Flag.
    pub action: u8,
    pub pad: u8,
    pub sport: u16,
    pub dport: u16,
    /// Network byte order; IPv4 in the first 4 bytes.
    pub saddr: [u8; 16],
    pub daddr: [u8; 16],
}

unsafe impl aya::Pod for PolicyEvent {}

impl PolicyEvent {
    /// Decodes a ring buffer record; `None` if it is not exactly one event long.
    pub fn from_bytes(bytes: &[u8]) -> Option<PolicyEvent> {
        if bytes.len() != size_of::<PolicyEvent>() {
            return None;
        }
        // SAFETY: the length matches and every bit pattern is a valid PolicyEvent.
        Some(unsafe { std::ptr::read_unaligned(bytes.as_ptr() as *const PolicyEvent) })
    }

    pub fn source(&self) -> Option<IpAddr> {
        addr(self.ip_version, &self.saddr)
    }

    pub fn destination(&self) -> Option<IpAddr> {
        addr(self.ip_version, &self.daddr)
    }
}

fn addr(version: u8, bytes: &[u8; 16]) -> Option<IpAddr> {
    match version {
        4 => Some(IpAddr::V4(Ipv4Addr::new(bytes[0], bytes[1], bytes[2], bytes[3]))),
        6 => Some(IpAddr::V6(Ipv6Addr::from(*bytes))),
        _ => None,
    }
}

/// Indices of `cg_counters` (`enum cg_counter`).
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CgCounter {
    Allowed = 0,
    Flagged = 1,
    Denied = 2,
    /// No ports to check (ICMP, fragments, malformed): passed.
    Unparsed = 3,
    Events = 4,
    /// The ring buffer was full.
    EventsLost = 5,
    /// Suppressed by `event_gap_ns`.
    EventsThrottled = 6,
}

impl From<CgCounter> for u32 {
    fn from(c: CgCounter) -> u32 {
        c as u32
    }
}

impl CgCounter {
    pub const ALL: [CgCounter; 7] = [
        CgCounter::Allowed,
        CgCounter::Flagged,
        CgCounter::Denied,
        CgCounter::Unparsed,
        CgCounter::Events,
        CgCounter::EventsLost,
        CgCounter::EventsThrottled,
    ];
    /// `CG_CNT_MAX`.
    pub const COUNT: u32 = 7;
}

/// cgroup_skb verdicts.
pub const CG_PASS: u32 = 1;
pub const CG_DROP: u32 = 0;
