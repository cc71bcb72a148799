//! cgroup_events: accounting, the deny and flag watch list, ring buffer events and their rate
//! limit through BPF_PROG_TEST_RUN, then live sockets in a private cgroup.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use anyhow::{Result, bail, ensure};

use super::Body;
use super::fixture::{CgFixture, expect_counters};
use super::packets::*;
use crate::programs::cgroup_events::{CG_DROP, CG_PASS, CgConfig, CgCounter, CgroupStats, PolicyEvent};
use crate::programs::common::{Action, IPPROTO_TCP, IPPROTO_UDP, PortKey, PortRule};

pub fn verdict_name(v: u32) -> &'static str {
    match v {
        CG_PASS => "pass (1)",
        CG_DROP => "drop (0)",
        _ => "another verdict",
    }
}

pub fn cases() -> Vec<(&'static str, Body<CgFixture>)> {
    vec![
        ("accounting", accounting),
        ("deny", deny),
        ("flag", flag),
        ("ringbuf_events", ringbuf_events),
        ("rate_limit", rate_limit),
        ("live_cgroup", super::live::cgroup_live),
    ]
}

const SRC4: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);
const DST4: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 20);
const SRC6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1);
const MDNS6: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 0xfb);

/// The watch list most tests use: deny tcp/25 (rule 20), flag udp/5353 (rule 21), allow tcp/80
/// (rule 22).
fn watch(f: &mut CgFixture) -> Result<()> {
    f.watch.insert(PortKey::tcp(25), PortRule::new(Action::Deny, 20), 0)?;
    f.watch.insert(PortKey::udp(5353), PortRule::new(Action::Flag, 21), 0)?;
    f.watch.insert(PortKey::tcp(80), PortRule::new(Action::Allow, 22), 0)?;
    Ok(())
}

/// Runs `frame` and checks the verdict; returns the length the program saw (the kernel strips
/// the Ethernet header before a cgroup_skb program runs).
fn expect(f: &CgFixture, what: &str, frame: &[u8], want: u32) -> Result<u64> {
    super::fixture::expect_verdict(what, f.run(frame)?, want, verdict_name)?;
    Ok((frame.len() - ETH_HLEN) as u64)
}

/// The only cgroup in `cg_stats`: the one test runs are charged to.
fn only_stats(f: &CgFixture) -> Result<(u64, CgroupStats)> {
    let all: Vec<(u64, CgroupStats)> = f.stats.iter().collect::<Result<_, _>>()?;
    ensure!(
        all.len() == 1,
        "cg_stats holds {} cgroups, expected 1: {all:?}",
        all.len()
    );
    let (id, stats) = all[0];
    if let Some(own) = super::cgroupfs::own_cgroup_id() {
        ensure!(
            id == own,
            "packets were charged to cgroup {id}, expected this process's cgroup {own}"
        );
    }
    Ok((id, stats))
}

fn events(f: &mut CgFixture) -> Result<Vec<PolicyEvent>> {
    f.drain_events()
        .into_iter()
        .map(|b| {
            PolicyEvent::from_bytes(&b).ok_or_else(|| anyhow::anyhow!("a ring buffer record of {} bytes", b.len()))
        })
        .collect()
}

fn accounting(f: &mut CgFixture) -> Result<String> {
    watch(f)?;
    let a = expect(f, "UDP to 9999 (no rule)", &v4_udp(&[], SRC4, DST4, 9999), CG_PASS)?;
    let b = expect(f, "IPv6 TCP to 80 (allow rule)", &v6_tcp(&[], SRC6, MDNS6, 80), CG_PASS)?;
    let c = expect(
        f,
        "ICMP",
        &ether(&[], ETH_P_IP, &ipv4(SRC4, DST4, IPPROTO_ICMP, &icmp_echo())),
        CG_PASS,
    )?;
    expect_counters(
        &CgCounter::ALL,
        &f.counters()?,
        &[(CgCounter::Allowed, 2, a + b), (CgCounter::Unparsed, 1, c)],
    )?;
    let (id, st) = only_stats(f)?;
    ensure!(
        st.packets == 3 && st.bytes == a + b + c,
        "cgroup {id}: {st:?}, expected 3 packets, {} bytes",
        a + b + c
    );
    ensure!(
        st.flagged == 0 && st.denied == 0 && st.last_event_ns == 0,
        "cgroup {id}: {st:?}"
    );
    ensure!(st.last_seen_ns > 0, "cgroup {id}: last_seen_ns not set");
    let ev = events(f)?;
    ensure!(ev.is_empty(), "allowed traffic produced events: {ev:?}");
    Ok(format!(
        "3 packets, {} bytes charged to cgroup {id}; no events",
        a + b + c
    ))
}

fn deny(f: &mut CgFixture) -> Result<String> {
    watch(f)?;
    let a = expect(f, "TCP to 25", &v4_tcp(&[], SRC4, DST4, 25), CG_DROP)?;
    let b = expect(f, "IPv6 TCP to 25", &v6_tcp(&[], SRC6, MDNS6, 25), CG_DROP)?;
    let c = expect(
        f,
        "UDP to 25 (the rule is TCP's)",
        &v4_udp(&[], SRC4, DST4, 25),
        CG_PASS,
    )?;
    expect_counters(
        &CgCounter::ALL,
        &f.counters()?,
        &[
            (CgCounter::Denied, 2, a + b),
            (CgCounter::Events, 2, a + b),
            (CgCounter::Allowed, 1, c),
        ],
    )?;
    let (_, st) = only_stats(f)?;
    ensure!(st.denied == 2 && st.flagged == 0, "stats: {st:?}");
    ensure!(f.watch.get(&PortKey::tcp(25), 0)?.hits == 2, "rule 20 hits not counted");
    let ev = events(f)?;
    ensure!(ev.len() == 2, "{} events, expected 2", ev.len());
    ensure!(
        ev.iter().all(|e| e.action == Action::Deny as u8 && e.rule_id == 20),
        "events: {ev:?}"
    );
    Ok("TCP to 25 dropped over IPv4 and IPv6, 2 deny events".into())
}

fn flag(f: &mut CgFixture) -> Result<String> {
    watch(f)?;
    let a = expect(f, "UDP to 5353", &v4_udp(&[], SRC4, DST4, 5353), CG_PASS)?;
    let b = expect(f, "IPv6 UDP to 5353", &v6_udp(&[], SRC6, MDNS6, 5353), CG_PASS)?;
    expect_counters(
        &CgCounter::ALL,
        &f.counters()?,
        &[(CgCounter::Flagged, 2, a + b), (CgCounter::Events, 2, a + b)],
    )?;
    let (_, st) = only_stats(f)?;
    ensure!(st.flagged == 2 && st.denied == 0, "stats: {st:?}");
    let ev = events(f)?;
    ensure!(
        ev.len() == 2 && ev.iter().all(|e| e.action == Action::Flag as u8),
        "events: {ev:?}"
    );
    Ok("flagged traffic passes and is reported".into())
}

fn ringbuf_events(f: &mut CgFixture) -> Result<String> {
    watch(f)?;
    let before = coarse_now();
    let a = expect(f, "TCP to 25", &v4_tcp(&[], SRC4, DST4, 25), CG_DROP)?;
    let b = expect(f, "IPv6 UDP to 5353", &v6_udp(&[], SRC6, MDNS6, 5353), CG_PASS)?;
    let after = coarse_now();
    let (id, _) = only_stats(f)?;
    let ev = events(f)?;
    ensure!(ev.len() == 2, "{} events, expected 2: {ev:?}", ev.len());
    let want = [
        (
            a,
            20,
            4,
            IPPROTO_TCP,
            Action::Deny,
            25,
            IpAddr::V4(SRC4),
            IpAddr::V4(DST4),
        ),
        (
            b,
            21,
            6,
            IPPROTO_UDP,
            Action::Flag,
            5353,
            IpAddr::V6(SRC6),
            IpAddr::V6(MDNS6),
        ),
    ];
    for (e, (len, rule, version, proto, action, dport, src, dst)) in ev.iter().zip(want) {
        let got = (
            e.len as u64,
            e.rule_id,
            e.ip_version,
            e.protocol,
            e.action,
            e.sport,
            e.dport,
            e.source(),
            e.destination(),
        );
        let expected = (
            len,
            rule,
            version,
            proto,
            action as u8,
            40000,
            dport,
            Some(src),
            Some(dst),
        );
        ensure!(got == expected, "event {e:?}: got {got:?}, expected {expected:?}");
        ensure!(e.cgroup_id == id, "event cgroup {} but stats cgroup {id}", e.cgroup_id);
        ensure!(e.pad == 0, "event padding not zeroed");
        ensure!(
            (before..=after).contains(&e.ts_ns),
            "event time {} outside the run's coarse clock window {before}..={after}",
            e.ts_ns
        );
    }
    Ok("2 events with every field as sent, timestamps on CLOCK_MONOTONIC_COARSE".into())
}

fn rate_limit(f: &mut CgFixture) -> Result<String> {
    watch(f)?;
    f.config.set(
        0,
        CgConfig {
            event_gap_ns: 60_000_000_000,
        },
        0,
    )?;
    let frame = v4_udp(&[], SRC4, DST4, 5353);
    let mut bytes = 0;
    for _ in 0..3 {
        bytes += expect(f, "UDP to 5353", &frame, CG_PASS)?;
    }
    let one = bytes / 3;
    expect_counters(
        &CgCounter::ALL,
        &f.counters()?,
        &[
            (CgCounter::Flagged, 3, bytes),
            (CgCounter::Events, 1, one),
            (CgCounter::EventsThrottled, 2, 2 * one),
        ],
    )?;
    let n = events(f)?.len();
    ensure!(n == 1, "{n} events within one 60 s gap, expected 1");
    f.config.set(0, CgConfig { event_gap_ns: 0 }, 0)?;
    expect(f, "UDP to 5353 with the limit off", &frame, CG_PASS)?;
    let n = events(f)?.len();
    if n != 1 {
        bail!("{n} events after turning the limit off, expected 1");
    }
    Ok("one event per gap; the rest counted as throttled".into())
}

/// CLOCK_MONOTONIC_COARSE in nanoseconds: the clock bpf_ktime_get_coarse_ns reads.
fn coarse_now() -> u64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: clock_gettime fills the timespec.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC_COARSE, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}
