//! xdp_blocklist: blocked and allowed IPv4/IPv6 sources, VLAN tags, truncated frames, non-IP
//! through BPF_PROG_TEST_RUN, then live traffic on a veth pair.

use std::net::{Ipv4Addr, Ipv6Addr};

use anyhow::{Result, bail};

use super::Body;
use super::fixture::{XdpFixture, expect_counters, expect_verdict};
use super::packets::*;
use crate::programs::xdp_blocklist::{BlocklistRule, XdpCounter, v4_prefix, v6_prefix};

pub const XDP_DROP: u32 = 1;
pub const XDP_PASS: u32 = 2;

pub fn action_name(a: u32) -> &'static str {
    match a {
        0 => "XDP_ABORTED",
        1 => "XDP_DROP",
        2 => "XDP_PASS",
        3 => "XDP_TX",
        4 => "XDP_REDIRECT",
        _ => "an unknown action",
    }
}

pub fn cases() -> Vec<(&'static str, Body<XdpFixture>)> {
    vec![
        ("ipv4_blocked", ipv4_blocked),
        ("ipv4_allowed", ipv4_allowed),
        ("ipv6_blocked", ipv6_blocked),
        ("ipv6_allowed", ipv6_allowed),
        ("vlan_single", vlan_single),
        ("vlan_double", vlan_double),
        ("vlan_too_deep", vlan_too_deep),
        ("truncated", truncated),
        ("non_ip", non_ip),
        ("live_veth", super::live::xdp_live),
    ]
}

const DST4: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 10);
const DST6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0x10);
const NET4: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 0);
const HOST4: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 7);
const NET6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0xbad, 0, 0, 0, 0, 0);

/// The blocklist most tests use: 203.0.113.0/24 (rule 1), 198.51.100.7/32 (rule 2),
/// 2001:db8:bad::/48 (rule 3).
fn block_defaults(f: &mut XdpFixture) -> Result<()> {
    f.v4.insert(&v4_prefix(NET4, 24), BlocklistRule::new(1), 0)?;
    f.v4.insert(&v4_prefix(HOST4, 32), BlocklistRule::new(2), 0)?;
    f.v6.insert(&v6_prefix(NET6, 48), BlocklistRule::new(3), 0)?;
    Ok(())
}

/// Runs `frame` and checks the action; returns the frame's length for the byte counters.
fn expect(f: &XdpFixture, what: &str, frame: &[u8], want: u32) -> Result<u64> {
    expect_verdict(what, f.run(frame)?, want, action_name)?;
    Ok(frame.len() as u64)
}

fn expect_hits4(f: &XdpFixture, net: Ipv4Addr, len: u32, want: u64) -> Result<()> {
    let rule = f.v4.get(&v4_prefix(net, len), 0)?;
    if rule.hits != want {
        bail!("rule {net}/{len} counted {} hits, expected {want}", rule.hits);
    }
    Ok(())
}

fn ipv4_blocked(f: &mut XdpFixture) -> Result<String> {
    block_defaults(f)?;
    let mut bytes = expect(
        f,
        "UDP from 203.0.113.9 (in /24)",
        &v4_udp(&[], Ipv4Addr::new(203, 0, 113, 9), DST4, 53),
        XDP_DROP,
    )?;
    bytes += expect(
        f,
        "TCP from 198.51.100.7 (the /32)",
        &v4_tcp(&[], HOST4, DST4, 22),
        XDP_DROP,
    )?;
    bytes += expect(
        f,
        "ICMP from 203.0.113.255",
        &ether(
            &[],
            ETH_P_IP,
            &ipv4(Ipv4Addr::new(203, 0, 113, 255), DST4, IPPROTO_ICMP, &icmp_echo()),
        ),
        XDP_DROP,
    )?;
    expect_counters(&XdpCounter::ALL, &f.counters()?, &[(XdpCounter::DropV4, 3, bytes)])?;
    expect_hits4(f, NET4, 24, 2)?;
    expect_hits4(f, HOST4, 32, 1)?;
    Ok("3 packets from blocked prefixes dropped; per-rule hits 2 and 1".into())
}

fn ipv4_allowed(f: &mut XdpFixture) -> Result<String> {
    block_defaults(f)?;
    let mut bytes = expect(
        f,
        "UDP from 203.0.114.1 (next /24)",
        &v4_udp(&[], Ipv4Addr::new(203, 0, 114, 1), DST4, 53),
        XDP_PASS,
    )?;
    bytes += expect(
        f,
        "TCP from 198.51.100.8 (next to the /32)",
        &v4_tcp(&[], Ipv4Addr::new(198, 51, 100, 8), DST4, 22),
        XDP_PASS,
    )?;
    let to_blocked = v4_udp(&[], Ipv4Addr::new(192, 0, 2, 1), Ipv4Addr::new(203, 0, 113, 9), 53);
    bytes += expect(
        f,
        "UDP to a blocked address (only sources count)",
        &to_blocked,
        XDP_PASS,
    )?;
    expect_counters(&XdpCounter::ALL, &f.counters()?, &[(XdpCounter::Pass, 3, bytes)])?;
    expect_hits4(f, NET4, 24, 0)?;
    Ok("3 packets from unblocked sources passed".into())
}

fn ipv6_blocked(f: &mut XdpFixture) -> Result<String> {
    block_defaults(f)?;
    let a = Ipv6Addr::new(0x2001, 0xdb8, 0xbad, 1, 0, 0, 0, 5);
    let b = Ipv6Addr::new(0x2001, 0xdb8, 0xbad, 0xffff, 0, 0, 0, 1);
    let mut bytes = expect(f, "UDP from 2001:db8:bad:1::5", &v6_udp(&[], a, DST6, 53), XDP_DROP)?;
    bytes += expect(f, "TCP from 2001:db8:bad:ffff::1", &v6_tcp(&[], b, DST6, 443), XDP_DROP)?;
    let ext = ether(
        &[],
        ETH_P_IPV6,
        &ipv6(a, DST6, IPPROTO_TCP, &[opts6(IPPROTO_HOPOPTS, 6)], &tcp(1, 2)),
    );
    bytes += expect(f, "TCP with a hop-by-hop header from the prefix", &ext, XDP_DROP)?;
    expect_counters(&XdpCounter::ALL, &f.counters()?, &[(XdpCounter::DropV6, 3, bytes)])?;
    let hits = f.v6.get(&v6_prefix(NET6, 48), 0)?.hits;
    if hits != 3 {
        bail!("rule 2001:db8:bad::/48 counted {hits} hits, expected 3");
    }
    Ok("3 packets from 2001:db8:bad::/48 dropped".into())
}

fn ipv6_allowed(f: &mut XdpFixture) -> Result<String> {
    block_defaults(f)?;
    let outside = Ipv6Addr::new(0x2001, 0xdb8, 0xbae, 0, 0, 0, 0, 1);
    let mut bytes = expect(
        f,
        "UDP from 2001:db8:bae::1 (next /48)",
        &v6_udp(&[], outside, DST6, 53),
        XDP_PASS,
    )?;
    let to_blocked = v6_udp(&[], DST6, Ipv6Addr::new(0x2001, 0xdb8, 0xbad, 0, 0, 0, 0, 1), 53);
    bytes += expect(f, "UDP to a blocked address", &to_blocked, XDP_PASS)?;
    let mapped = v6_udp(&[], Ipv4Addr::new(203, 0, 113, 9).to_ipv6_mapped(), DST6, 53);
    bytes += expect(f, "UDP from ::ffff:203.0.113.9 (v6 trie only)", &mapped, XDP_PASS)?;
    expect_counters(&XdpCounter::ALL, &f.counters()?, &[(XdpCounter::Pass, 3, bytes)])?;
    Ok("3 IPv6 packets from unblocked sources passed".into())
}

fn vlan_single(f: &mut XdpFixture) -> Result<String> {
    block_defaults(f)?;
    let q = &[ETH_P_8021Q];
    let drop = expect(
        f,
        "802.1Q, IPv4 from 203.0.113.9",
        &v4_udp(q, Ipv4Addr::new(203, 0, 113, 9), DST4, 53),
        XDP_DROP,
    )?;
    let pass = expect(
        f,
        "802.1Q, IPv6 from 2001:db8::1",
        &v6_udp(q, Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1), DST6, 53),
        XDP_PASS,
    )?;
    let drop6 = expect(
        f,
        "802.1AD, IPv6 from the blocked /48",
        &v6_udp(&[ETH_P_8021AD], NET6, DST6, 53),
        XDP_DROP,
    )?;
    expect_counters(
        &XdpCounter::ALL,
        &f.counters()?,
        &[
            (XdpCounter::DropV4, 1, drop),
            (XdpCounter::Pass, 1, pass),
            (XdpCounter::DropV6, 1, drop6),
        ],
    )?;
    Ok("single-tagged frames parsed past the tag".into())
}

fn vlan_double(f: &mut XdpFixture) -> Result<String> {
    block_defaults(f)?;
    let qinq = &[ETH_P_8021AD, ETH_P_8021Q];
    let d6 = expect(
        f,
        "QinQ, IPv6 from the blocked /48",
        &v6_udp(qinq, NET6, DST6, 53),
        XDP_DROP,
    )?;
    let p4 = expect(
        f,
        "QinQ, IPv4 from 192.0.2.1",
        &v4_udp(qinq, Ipv4Addr::new(192, 0, 2, 1), DST4, 53),
        XDP_PASS,
    )?;
    let d4 = expect(
        f,
        "802.1Q in 802.1Q, IPv4 from 198.51.100.7",
        &v4_udp(&[ETH_P_8021Q, ETH_P_8021Q], HOST4, DST4, 53),
        XDP_DROP,
    )?;
    expect_counters(
        &XdpCounter::ALL,
        &f.counters()?,
        &[
            (XdpCounter::DropV6, 1, d6),
            (XdpCounter::Pass, 1, p4),
            (XdpCounter::DropV4, 1, d4),
        ],
    )?;
    Ok("double-tagged frames parsed past both tags".into())
}

fn vlan_too_deep(f: &mut XdpFixture) -> Result<String> {
    block_defaults(f)?;
    let three = v4_udp(
        &[ETH_P_8021AD, ETH_P_8021Q, ETH_P_8021Q],
        Ipv4Addr::new(192, 0, 2, 1),
        DST4,
        53,
    );
    let bytes = expect(f, "three VLAN tags (unblocked source)", &three, XDP_DROP)?;
    expect_counters(&XdpCounter::ALL, &f.counters()?, &[(XdpCounter::VlanDepth, 1, bytes)])?;
    Ok("a third tag is refused, not passed uninspected".into())
}

fn truncated(f: &mut XdpFixture) -> Result<String> {
    block_defaults(f)?;
    let v4 = v4_udp(&[], Ipv4Addr::new(192, 0, 2, 1), DST4, 53);
    let v6 = v6_udp(&[], DST6, DST6, 53);
    let mut ihl6 = v4.clone();
    ihl6[ETH_HLEN] = 0x46; // 24-byte header claimed, 20 present before the frame ends
    ihl6.truncate(ETH_HLEN + 20);
    let mut ihl4 = v4.clone();
    ihl4[ETH_HLEN] = 0x44;
    let cases: Vec<(&str, Vec<u8>)> = vec![
        (
            "802.1Q tag cut after 2 bytes",
            v4_udp(&[ETH_P_8021Q], Ipv4Addr::LOCALHOST, DST4, 53)[..ETH_HLEN + 2].to_vec(),
        ),
        ("IPv4 header of 19 bytes", v4[..ETH_HLEN + 19].to_vec()),
        ("IPv4 options past the end of the frame", ihl6),
        ("IPv4 IHL 4", ihl4),
        ("IPv6 header of 39 bytes", v6[..ETH_HLEN + 39].to_vec()),
        ("EtherType IPv4 carrying IPv6", ether(&[], ETH_P_IP, &v6[ETH_HLEN..])),
        (
            "EtherType IPv6 carrying IPv4",
            ether(
                &[],
                ETH_P_IPV6,
                &ipv4(Ipv4Addr::LOCALHOST, DST4, IPPROTO_UDP, &udp(1, 2, &[0; 40])),
            ),
        ),
    ];
    let mut bytes = 0;
    for (what, frame) in &cases {
        bytes += expect(f, what, frame, XDP_DROP)?;
    }
    expect_counters(
        &XdpCounter::ALL,
        &f.counters()?,
        &[(XdpCounter::Malformed, cases.len() as u64, bytes)],
    )?;
    Ok(format!(
        "{} truncated or invalid frames dropped as malformed",
        cases.len()
    ))
}

fn non_ip(f: &mut XdpFixture) -> Result<String> {
    block_defaults(f)?;
    let mut bytes = expect(f, "ARP", &arp(), XDP_PASS)?;
    let mut tagged = arp();
    tagged.splice(12..12, [0x88, 0xa8, 0, 100, 0x81, 0x00, 0, 101]);
    bytes += expect(f, "QinQ-tagged ARP", &tagged, XDP_PASS)?;
    expect_counters(&XdpCounter::ALL, &f.counters()?, &[(XdpCounter::NonIp, 2, bytes)])?;
    Ok("ARP passes, counted as non-IP".into())
}
