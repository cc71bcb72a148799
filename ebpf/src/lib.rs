//! The firewall: three eBPF programs (`xdp_blocklist`, `tc_egress_policy`, `cgroup_events`, C
//! sources beside this crate, built by `orca build`), their userspace in Rust ([`programs`]: typed
//! maps, events, loading) and their behaviour suite ([`suite`], the `firewall-suite` binary).
//!
//! It is a user of orca like any other project: the matrix in `configs/` runs `firewall-suite`
//! in each guest and collects the JUnit file it writes.

#[cfg(target_os = "linux")]
pub mod programs;
#[cfg(target_os = "linux")]
pub mod suite;
#[cfg(target_os = "linux")]
pub mod sys;
