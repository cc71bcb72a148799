//! The egress port policy (mirrors `ebpf/include/tc_egress_policy.h`).
//!
//! `egress_rules` maps a [`PortKey`](super::common::PortKey) to a
//! [`PortRule`](super::common::PortRule); TCP/UDP with no rule gets `tc_config`'s default.
//! `tc_counters` counts every verdict by [`TcCounter`].

/// The program's function name in the object.
pub const PROGRAM: &str = "egress_policy";
pub const RULES: &str = "egress_rules";
pub const CONFIG: &str = "tc_config";
pub const COUNTERS: &str = "tc_counters";

pub const EGRESS_POLICY_MAX: u32 = 4096;

/// The single entry of `tc_config` (`struct tc_config`). All zero: default allow.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TcConfig {
    /// An [`Action`](super::common::Action) as `u32`, for TCP/UDP that matches no rule.
    pub default_action: u32,
    pub pad: u32,
}

unsafe impl aya::Pod for TcConfig {}

/// Indices of `tc_counters` (`enum tc_counter`).
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TcCounter {
    AllowRule = 0,
    DenyRule = 1,
    AllowDefault = 2,
    DenyDefault = 3,
    /// IP without TCP/UDP: passed.
    NoPorts = 4,
    /// A non-first fragment: passed.
    Fragment = 5,
    NonIp = 6,
    /// Truncated or invalid headers: dropped.
    Malformed = 7,
}

impl From<TcCounter> for u32 {
    fn from(c: TcCounter) -> u32 {
        c as u32
    }
}

impl TcCounter {
    pub const ALL: [TcCounter; 8] = [
        TcCounter::AllowRule,
        TcCounter::DenyRule,
        TcCounter::AllowDefault,
        TcCounter::DenyDefault,
        TcCounter::NoPorts,
        TcCounter::Fragment,
        TcCounter::NonIp,
        TcCounter::Malformed,
    ];
    /// `TC_CNT_MAX`.
    pub const COUNT: u32 = 8;
}

/// tc verdicts the program returns (`TC_ACT_OK`, `TC_ACT_SHOT`).
pub const TC_ACT_OK: u32 = 0;
pub const TC_ACT_SHOT: u32 = 2;
