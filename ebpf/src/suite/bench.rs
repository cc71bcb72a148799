//! `orca suite --bench`: how fast the programs decide, through BPF_PROG_TEST_RUN with `repeat`.
//!
//! Each case runs one crafted frame `repeat` times in the kernel, three rounds, and reports the
//! median of the kernel's mean time per run, against maps filled like a real deployment (1,000
//! blocked prefixes per family, 1,000 port rules). The verdict of every case is checked, so a
//! figure always belongs to the path it names. JSON on stdout for the pipeline's performance
//! stage; one line per case on stderr.

use std::net::{Ipv4Addr, Ipv6Addr};
use std::path::Path;
use std::time::Duration;

use anyhow::{Result, bail};
use serde::Serialize;

use super::Fixture;
use super::fixture::{TcFixture, XdpFixture, bench_run};
use super::packets::*;
use crate::programs::common::{Action, PortKey, PortRule};
use crate::programs::tc_egress_policy::{TC_ACT_OK, TC_ACT_SHOT};
use crate::programs::xdp_blocklist::{BlocklistRule, v4_prefix, v6_prefix};

const ROUNDS: usize = 3;
/// How many entries the maps hold while measuring.
const FILL: u32 = 1000;

#[derive(Serialize)]
struct Case {
    program: &'static str,
    name: &'static str,
    verdict: u32,
    /// The kernel's mean time per run (median of the rounds), in nanoseconds.
    ns_per_packet: u64,
    packets_per_second: u64,
}

#[derive(Serialize)]
struct Report {
    kernel: String,
    repeat: u32,
    rounds: usize,
    cases: Vec<Case>,
}

pub fn run(objects: &Path, repeat: u32) -> Result<u8> {
    if repeat == 0 {
        return Err(crate::sys::usage(
            "--repeat must be at least 1",
            "e.g. --repeat 100000",
        ));
    }
    let mut cases = Vec::new();

    let mut xdp = XdpFixture::load(objects)?;
    xdp.reset()?;
    for i in 0..FILL {
        let net = Ipv4Addr::new(10, (i / 256) as u8, (i % 256) as u8, 0);
        xdp.v4.insert(&v4_prefix(net, 24), BlocklistRule::new(i), 0)?;
        let net6 = Ipv6Addr::new(0x2001, 0xdb8, i as u16, 0, 0, 0, 0, 0);
        xdp.v6.insert(&v6_prefix(net6, 48), BlocklistRule::new(i), 0)?;
    }
    let (pass4, drop4) = (Ipv4Addr::new(192, 0, 2, 1), Ipv4Addr::new(10, 3, 7, 9));
    let (pass6, drop6) = (
        Ipv6Addr::new(0x2001, 0xdb9, 0, 0, 0, 0, 0, 1),
        Ipv6Addr::new(0x2001, 0xdb8, 500, 0, 0, 0, 0, 1),
    );
    let dst4 = Ipv4Addr::new(198, 51, 100, 1);
    let dst6 = Ipv6Addr::new(0x2001, 0xdb8, 0xffff, 0, 0, 0, 0, 1);
    let xdp_cases: Vec<(&'static str, Vec<u8>, u32)> = vec![
        ("ipv4_pass", v4_udp(&[], pass4, dst4, 53), super::xdp::XDP_PASS),
        ("ipv4_drop", v4_udp(&[], drop4, dst4, 53), super::xdp::XDP_DROP),
        ("ipv6_pass", v6_udp(&[], pass6, dst6, 53), super::xdp::XDP_PASS),
        ("ipv6_drop", v6_udp(&[], drop6, dst6, 53), super::xdp::XDP_DROP),
        (
            "qinq_ipv4_pass",
            v4_udp(&[ETH_P_8021AD, ETH_P_8021Q], pass4, dst4, 53),
            super::xdp::XDP_PASS,
        ),
        ("non_ip", arp(), super::xdp::XDP_PASS),
    ];
    for (name, frame, want) in xdp_cases {
        cases.push(measure(
            "xdp_blocklist",
            name,
            want,
            |r| bench_run(xdp.program()?, &frame, r),
            repeat,
        )?);
    }
    drop(xdp);

    let mut tc = TcFixture::load(objects)?;
    tc.reset()?;
    for port in 1..=FILL as u16 {
        let action = if port % 2 == 0 { Action::Deny } else { Action::Allow };
        tc.rules
            .insert(PortKey::tcp(10000 + port), PortRule::new(action, u32::from(port)), 0)?;
    }
    tc.rules.insert(PortKey::udp(53), PortRule::new(Action::Allow, 1), 0)?;
    let tc_cases: Vec<(&'static str, Vec<u8>, u32)> = vec![
        ("tcp_deny_rule", v4_tcp(&[], pass4, dst4, 10002), TC_ACT_SHOT),
        ("udp_allow_rule", v4_udp(&[], pass4, dst4, 53), TC_ACT_OK),
        ("ipv6_udp_default", v6_udp(&[], pass6, dst6, 9999), TC_ACT_OK),
    ];
    for (name, frame, want) in tc_cases {
        cases.push(measure(
            "tc_egress_policy",
            name,
            want,
            |r| bench_run(tc.program()?, &frame, r),
            repeat,
        )?);
    }

    let report = Report {
        kernel: super::kernel_release(),
        repeat,
        rounds: ROUNDS,
        cases,
    };
    println!("{}", serde_json::to_string_pretty(&report)?);
    Ok(0)
}

fn measure(
    program: &'static str,
    name: &'static str,
    want: u32,
    run: impl Fn(u32) -> Result<(u32, Duration)>,
    repeat: u32,
) -> Result<Case> {
    let mut times = Vec::with_capacity(ROUNDS);
    for _ in 0..ROUNDS {
        crate::sys::check_interrupted()?;
        let (verdict, mean) = run(repeat)?;
        if verdict != want {
            bail!("{program}/{name}: verdict {verdict}, expected {want}: the case does not measure what it names");
        }
        times.push(mean.as_nanos() as u64);
    }
    times.sort_unstable();
    let ns = times[ROUNDS / 2];
    let pps = 1_000_000_000u64.checked_div(ns).unwrap_or(0);
    eprintln!("bench {program}/{name}: {ns} ns/packet, {pps} packets/s");
    Ok(Case {
        program,
        name,
        verdict: want,
        ns_per_packet: ns,
        packets_per_second: pps,
    })
}
