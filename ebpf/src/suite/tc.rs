//! tc_egress_policy: port rules for TCP/UDP over IPv4/IPv6, the configurable default, VLAN tags,
//! what has no ports, truncated headers through BPF_PROG_TEST_RUN, then live traffic on a veth
//! pair.

use std::net::{Ipv4Addr, Ipv6Addr};

use anyhow::{Result, bail};

use super::Body;
use super::fixture::{TcFixture, expect_counters, expect_verdict};
use super::packets::*;
use crate::programs::common::{Action, PortKey, PortRule};
use crate::programs::tc_egress_policy::{TC_ACT_OK, TC_ACT_SHOT, TcConfig, TcCounter};

pub fn verdict_name(v: u32) -> &'static str {
    match v {
        TC_ACT_OK => "TC_ACT_OK",
        TC_ACT_SHOT => "TC_ACT_SHOT",
        u32::MAX => "TC_ACT_UNSPEC",
        _ => "another tc verdict",
    }
}

pub fn cases() -> Vec<(&'static str, Body<TcFixture>)> {
    vec![
        ("tcp_deny", tcp_deny),
        ("udp_allow", udp_allow),
        ("ipv6", ipv6_ports),
        ("default_action", default_action),
        ("vlan", vlan),
        ("no_ports", no_ports),
        ("truncated", truncated),
        ("live_veth", super::live::tc_live),
    ]
}

const SRC4: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);
const DST4: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 20);
const SRC6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1);
const DST6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 2);

/// The policy most tests use: deny tcp/22 (rule 10), allow udp/53 (rule 11), flag tcp/443
/// (rule 12); everything else gets the default (allow unless a test changes it).
fn rules(f: &mut TcFixture) -> Result<()> {
    f.rules.insert(PortKey::tcp(22), PortRule::new(Action::Deny, 10), 0)?;
    f.rules.insert(PortKey::udp(53), PortRule::new(Action::Allow, 11), 0)?;
    f.rules.insert(PortKey::tcp(443), PortRule::new(Action::Flag, 12), 0)?;
    Ok(())
}

fn expect(f: &TcFixture, what: &str, frame: &[u8], want: u32) -> Result<u64> {
    expect_verdict(what, f.run(frame)?, want, verdict_name)?;
    Ok(frame.len() as u64)
}

fn expect_hits(f: &TcFixture, key: PortKey, want: u64) -> Result<()> {
    let hits = f.hits(key)?;
    if hits != want {
        bail!(
            "rule {}/{} counted {hits} hits, expected {want}",
            key.protocol,
            key.port
        );
    }
    Ok(())
}

fn tcp_deny(f: &mut TcFixture) -> Result<String> {
    rules(f)?;
    let bytes = expect(f, "IPv4 TCP to port 22", &v4_tcp(&[], SRC4, DST4, 22), TC_ACT_SHOT)?;
    expect_counters(&TcCounter::ALL, &f.counters()?, &[(TcCounter::DenyRule, 1, bytes)])?;
    expect_hits(f, PortKey::tcp(22), 1)?;
    Ok("TCP to a denied port is dropped".into())
}

fn udp_allow(f: &mut TcFixture) -> Result<String> {
    rules(f)?;
    let rule = expect(
        f,
        "IPv4 UDP to port 53 (allow rule)",
        &v4_udp(&[], SRC4, DST4, 53),
        TC_ACT_OK,
    )?;
    let flag = expect(
        f,
        "IPv4 TCP to port 443 (flag rule)",
        &v4_tcp(&[], SRC4, DST4, 443),
        TC_ACT_OK,
    )?;
    // The protocol is part of the key: the tcp/22 deny rule does not cover udp/22.
    let default = expect(
        f,
        "IPv4 UDP to port 22 (no rule)",
        &v4_udp(&[], SRC4, DST4, 22),
        TC_ACT_OK,
    )?;
    expect_counters(
        &TcCounter::ALL,
        &f.counters()?,
        &[
            (TcCounter::AllowRule, 2, rule + flag),
            (TcCounter::AllowDefault, 1, default),
        ],
    )?;
    expect_hits(f, PortKey::udp(53), 1)?;
    expect_hits(f, PortKey::tcp(22), 0)?;
    Ok("allow and flag rules pass; rules key on the protocol".into())
}

fn ipv6_ports(f: &mut TcFixture) -> Result<String> {
    rules(f)?;
    let deny = expect(f, "IPv6 TCP to port 22", &v6_tcp(&[], SRC6, DST6, 22), TC_ACT_SHOT)?;
    let chain = ether(
        &[],
        ETH_P_IPV6,
        &ipv6(
            SRC6,
            DST6,
            IPPROTO_TCP,
            &[opts6(IPPROTO_HOPOPTS, 4), opts6(IPPROTO_DSTOPTS, 12)],
            &tcp(40000, 22),
        ),
    );
    let deny_ext = expect(
        f,
        "IPv6 TCP to port 22 behind hop-by-hop and destination options",
        &chain,
        TC_ACT_SHOT,
    )?;
    let first_frag = ether(
        &[],
        ETH_P_IPV6,
        &ipv6(SRC6, DST6, IPPROTO_TCP, &[frag6(0)], &tcp(40000, 22)),
    );
    let deny_frag = expect(f, "IPv6 first fragment of TCP to port 22", &first_frag, TC_ACT_SHOT)?;
    let allow = expect(f, "IPv6 UDP to port 53", &v6_udp(&[], SRC6, DST6, 53), TC_ACT_OK)?;
    expect_counters(
        &TcCounter::ALL,
        &f.counters()?,
        &[
            (TcCounter::DenyRule, 3, deny + deny_ext + deny_frag),
            (TcCounter::AllowRule, 1, allow),
        ],
    )?;
    expect_hits(f, PortKey::tcp(22), 3)?;
    Ok("IPv6 ports found through extension headers".into())
}

fn default_action(f: &mut TcFixture) -> Result<String> {
    rules(f)?;
    let open = expect(
        f,
        "TCP to 8080 with the default unset",
        &v4_tcp(&[], SRC4, DST4, 8080),
        TC_ACT_OK,
    )?;
    f.config.set(
        0,
        TcConfig {
            default_action: Action::Deny as u32,
            pad: 0,
        },
        0,
    )?;
    let closed = expect(
        f,
        "TCP to 8080 with default deny",
        &v4_tcp(&[], SRC4, DST4, 8080),
        TC_ACT_SHOT,
    )?;
    let closed6 = expect(
        f,
        "IPv6 UDP to 123 with default deny",
        &v6_udp(&[], SRC6, DST6, 123),
        TC_ACT_SHOT,
    )?;
    let rule = expect(
        f,
        "UDP to 53 (allow rule) with default deny",
        &v4_udp(&[], SRC4, DST4, 53),
        TC_ACT_OK,
    )?;
    let icmp = ether(&[], ETH_P_IP, &ipv4(SRC4, DST4, IPPROTO_ICMP, &icmp_echo()));
    let no_ports = expect(
        f,
        "ICMP with default deny (no ports: not the policy's)",
        &icmp,
        TC_ACT_OK,
    )?;
    expect_counters(
        &TcCounter::ALL,
        &f.counters()?,
        &[
            (TcCounter::AllowDefault, 1, open),
            (TcCounter::DenyDefault, 2, closed + closed6),
            (TcCounter::AllowRule, 1, rule),
            (TcCounter::NoPorts, 1, no_ports),
        ],
    )?;
    Ok("the default applies to TCP/UDP without a rule and follows tc_config".into())
}

fn vlan(f: &mut TcFixture) -> Result<String> {
    rules(f)?;
    let one = expect(
        f,
        "802.1Q, IPv4 TCP to 22",
        &v4_tcp(&[ETH_P_8021Q], SRC4, DST4, 22),
        TC_ACT_SHOT,
    )?;
    let two = expect(
        f,
        "QinQ, IPv6 TCP to 22",
        &v6_tcp(&[ETH_P_8021AD, ETH_P_8021Q], SRC6, DST6, 22),
        TC_ACT_SHOT,
    )?;
    let ok = expect(
        f,
        "QinQ, IPv4 UDP to 53",
        &v4_udp(&[ETH_P_8021AD, ETH_P_8021Q], SRC4, DST4, 53),
        TC_ACT_OK,
    )?;
    let deep = v4_udp(&[ETH_P_8021AD, ETH_P_8021Q, ETH_P_8021Q], SRC4, DST4, 53);
    let bad = expect(f, "three tags", &deep, TC_ACT_SHOT)?;
    expect_counters(
        &TcCounter::ALL,
        &f.counters()?,
        &[
            (TcCounter::DenyRule, 2, one + two),
            (TcCounter::AllowRule, 1, ok),
            (TcCounter::Malformed, 1, bad),
        ],
    )?;
    Ok("in-band tags parsed; a third tag is refused".into())
}

fn no_ports(f: &mut TcFixture) -> Result<String> {
    rules(f)?;
    f.config.set(
        0,
        TcConfig {
            default_action: Action::Deny as u32,
            pad: 0,
        },
        0,
    )?;
    let icmp = expect(
        f,
        "ICMP echo",
        &ether(&[], ETH_P_IP, &ipv4(SRC4, DST4, IPPROTO_ICMP, &icmp_echo())),
        TC_ACT_OK,
    )?;
    let arp_len = expect(f, "ARP", &arp(), TC_ACT_OK)?;
    let frag4 = ether(&[], ETH_P_IP, &ipv4_frag(SRC4, DST4, IPPROTO_TCP, 185, &[0; 16]));
    let f4 = expect(f, "IPv4 non-first fragment of TCP", &frag4, TC_ACT_OK)?;
    let later6 = ether(&[], ETH_P_IPV6, &ipv6(SRC6, DST6, IPPROTO_TCP, &[frag6(185)], &[0; 16]));
    let f6 = expect(f, "IPv6 non-first fragment of TCP", &later6, TC_ACT_OK)?;
    expect_counters(
        &TcCounter::ALL,
        &f.counters()?,
        &[
            (TcCounter::NoPorts, 1, icmp),
            (TcCounter::NonIp, 1, arp_len),
            (TcCounter::Fragment, 2, f4 + f6),
        ],
    )?;
    Ok("ICMP, ARP and later fragments pass even under default deny".into())
}

fn truncated(f: &mut TcFixture) -> Result<String> {
    rules(f)?;
    let v4 = v4_tcp(&[], SRC4, DST4, 80);
    let v6 = v6_tcp(&[], SRC6, DST6, 80);
    let mut ihl4 = v4.clone();
    ihl4[ETH_HLEN] = 0x44;
    let mut options = v4.clone();
    options[ETH_HLEN] = 0x4f; // 60-byte header claimed: the TCP header would start past the end
    let long_chain: Vec<(u8, Vec<u8>)> = (0..7).map(|_| opts6(IPPROTO_DSTOPTS, 6)).collect();
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("IPv4 TCP header of 10 bytes", v4[..v4.len() - 10].to_vec()),
        (
            "IPv4 UDP header of 6 bytes",
            v4_udp(&[], SRC4, DST4, 53)[..ETH_HLEN + 20 + 6].to_vec(),
        ),
        ("IPv4 header of 12 bytes", v4[..ETH_HLEN + 12].to_vec()),
        ("IPv4 IHL 4", ihl4),
        ("IPv4 options running past the end", options),
        ("IPv6 TCP header of 19 bytes", v6[..v6.len() - 1].to_vec()),
        ("IPv6 header of 30 bytes", v6[..ETH_HLEN + 30].to_vec()),
        (
            "IPv6 with 7 extension headers",
            ether(
                &[],
                ETH_P_IPV6,
                &ipv6(SRC6, DST6, IPPROTO_TCP, &long_chain, &tcp(1, 80)),
            ),
        ),
        (
            "802.1Q tag cut short",
            v4_tcp(&[ETH_P_8021Q], SRC4, DST4, 80)[..ETH_HLEN + 2].to_vec(),
        ),
    ];
    let (mut bytes, mut checked, mut refused) = (0, 0, Vec::new());
    for (what, frame) in &cases {
        match f.run(frame) {
            Ok(v) => {
                expect_verdict(what, v, TC_ACT_SHOT, verdict_name)?;
                bytes += frame.len() as u64;
                checked += 1;
            }
            // Newer kernels refuse to build a test skb whose IP header is cut short (EINVAL);
            // the frame can then only reach the program from a device, never from here.
            Err(e) if is_einval(&e) => refused.push(*what),
            Err(e) => return Err(e.context(*what)),
        }
    }
    expect_counters(
        &TcCounter::ALL,
        &f.counters()?,
        &[(TcCounter::Malformed, checked, bytes)],
    )?;
    let mut note = format!("{checked} truncated or uninspectable packets dropped as malformed");
    if !refused.is_empty() {
        note.push_str(&format!("; the kernel refuses to test-run: {}", refused.join(", ")));
    }
    Ok(note)
}

fn is_einval(e: &anyhow::Error) -> bool {
    e.chain()
        .any(|c| c.downcast_ref::<std::io::Error>().and_then(|io| io.raw_os_error()) == Some(libc::EINVAL))
}
