//! The ingress blocklist (mirrors `ebpf/include/xdp_blocklist.h`).
//!
//! `blocklist_v4`/`blocklist_v6` are LPM tries from source prefixes to a [`BlocklistRule`]; a
//! match drops the packet. `xdp_counters` counts every verdict by [`XdpCounter`].

use std::net::{Ipv4Addr, Ipv6Addr};

use aya::maps::lpm_trie::Key;

/// The program's function name in the object.
pub const PROGRAM: &str = "xdp_blocklist";
pub const BLOCKLIST_V4: &str = "blocklist_v4";
pub const BLOCKLIST_V6: &str = "blocklist_v6";
pub const COUNTERS: &str = "xdp_counters";

pub const BLOCKLIST_V4_MAX: u32 = 65536;
pub const BLOCKLIST_V6_MAX: u32 = 65536;

/// `struct lpm_v4_key`. The maps are used through aya's [`Key`], which has the same layout; this
/// type documents it and lets the layout test check it.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LpmV4Key {
    pub prefixlen: u32,
    pub addr: [u8; 4],
}

/// `struct lpm_v6_key`.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LpmV6Key {
    pub prefixlen: u32,
    pub addr: [u8; 16],
}

unsafe impl aya::Pod for LpmV4Key {}
unsafe impl aya::Pod for LpmV6Key {}

/// Value of both blocklists (`struct blocklist_rule`); `hits` counts the packets it dropped.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BlocklistRule {
    pub rule_id: u32,
    pub pad: u32,
    pub hits: u64,
}

unsafe impl aya::Pod for BlocklistRule {}

impl BlocklistRule {
    pub fn new(rule_id: u32) -> BlocklistRule {
        BlocklistRule {
            rule_id,
            pad: 0,
            hits: 0,
        }
    }
}

/// The trie key for an IPv4 prefix.
pub fn v4_prefix(addr: Ipv4Addr, prefix_len: u32) -> Key<[u8; 4]> {
    Key::new(prefix_len, addr.octets())
}

/// The trie key for an IPv6 prefix.
pub fn v6_prefix(addr: Ipv6Addr, prefix_len: u32) -> Key<[u8; 16]> {
    Key::new(prefix_len, addr.octets())
}

/// Indices of `xdp_counters` (`enum xdp_counter`).
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum XdpCounter {
    /// IP with an unblocked source: passed.
    Pass = 0,
    DropV4 = 1,
    DropV6 = 2,
    /// Truncated Ethernet/VLAN/IP header, bad version or IHL: dropped.
    Malformed = 3,
    /// Not IP (ARP, LLDP, ...): passed.
    NonIp = 4,
    /// More than [`VLAN_MAX_DEPTH`](super::common::VLAN_MAX_DEPTH) tags: dropped.
    VlanDepth = 5,
}

impl From<XdpCounter> for u32 {
    fn from(c: XdpCounter) -> u32 {
        c as u32
    }
}

impl XdpCounter {
    pub const ALL: [XdpCounter; 6] = [
        XdpCounter::Pass,
        XdpCounter::DropV4,
        XdpCounter::DropV6,
        XdpCounter::Malformed,
        XdpCounter::NonIp,
        XdpCounter::VlanDepth,
    ];
    /// `XDP_CNT_MAX`: the number of counters.
    pub const COUNT: u32 = 6;
}
