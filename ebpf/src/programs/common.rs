//! Definitions every program shares (mirrors `ebpf/include/firewall.h`).

use std::borrow::Borrow;

use aya::maps::{MapData, MapError, PerCpuArray};

/// IANA protocol numbers the policies key on.
pub const IPPROTO_TCP: u8 = 6;
pub const IPPROTO_UDP: u8 = 17;

/// How many stacked 802.1Q/802.1AD tags the parsers walk (`VLAN_MAX_DEPTH`).
pub const VLAN_MAX_DEPTH: usize = 2;
/// How many IPv6 extension headers the parsers walk (`IPV6_EXT_MAX`).
pub const IPV6_EXT_MAX: usize = 6;

/// A packet and byte count (`struct counter`). Counter maps hold one per CPU and reason.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counter {
    pub packets: u64,
    pub bytes: u64,
}

// SAFETY: plain integers, no padding, every bit pattern valid.
unsafe impl aya::Pod for Counter {}

impl std::ops::Add for Counter {
    type Output = Counter;
    fn add(self, o: Counter) -> Counter {
        Counter {
            packets: self.packets + o.packets,
            bytes: self.bytes + o.bytes,
        }
    }
}

/// What a port rule does (`enum policy_action`).
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    Allow = 0,
    Deny = 1,
    /// Allow but report: cgroup_events sends an event; tc_egress_policy treats it as allow.
    Flag = 2,
}

impl Action {
    pub fn from_u32(v: u32) -> Option<Action> {
        match v {
            0 => Some(Action::Allow),
            1 => Some(Action::Deny),
            2 => Some(Action::Flag),
            _ => None,
        }
    }
}

/// Key of the port-keyed policy maps (`struct port_key`): protocol and destination port in host
/// byte order. Build it with [`PortKey::tcp`]/[`PortKey::udp`] so `pad` stays zero.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PortKey {
    pub port: u16,
    pub protocol: u8,
    pub pad: u8,
}

unsafe impl aya::Pod for PortKey {}

impl PortKey {
    pub fn new(protocol: u8, port: u16) -> PortKey {
        PortKey { port, protocol, pad: 0 }
    }
    pub fn tcp(port: u16) -> PortKey {
        PortKey::new(IPPROTO_TCP, port)
    }
    pub fn udp(port: u16) -> PortKey {
        PortKey::new(IPPROTO_UDP, port)
    }
}

/// Value of the port-keyed policy maps (`struct port_rule`). The program counts `hits`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PortRule {
    /// An [`Action`] as `u32`.
    pub action: u32,
    /// Chosen by userspace, echoed in events.
    pub rule_id: u32,
    pub hits: u64,
}

unsafe impl aya::Pod for PortRule {}

impl PortRule {
    pub fn new(action: Action, rule_id: u32) -> PortRule {
        PortRule {
            action: action as u32,
            rule_id,
            hits: 0,
        }
    }
}

/// Reads a counter map and sums each index over the CPUs.
pub fn counter_totals<T: Borrow<MapData>>(map: &PerCpuArray<T, Counter>) -> Result<Vec<Counter>, MapError> {
    let mut totals = Vec::with_capacity(map.len() as usize);
    for index in 0..map.len() {
        let per_cpu = map.get(&index, 0)?;
        totals.push(per_cpu.iter().fold(Counter::default(), |a, c| a + *c));
    }
    Ok(totals)
}
