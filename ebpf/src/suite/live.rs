//! Live traffic: the programs attached for real, with packets from real sockets.
//!
//! - xdp_blocklist on `va` (generic mode) drops what B sends from a blocked source and passes
//!   what it sends from another; unblocking lets the first source through again.
//! - tc_egress_policy on `va` egress drops UDP/TCP from A to denied ports of B.
//! - cgroup_events on a private cgroup: sockets created in it get EPERM for denied ports, flagged
//!   ports pass, and both are reported through the ring buffer with the cgroup's id.
//!
//! A blocked packet is always followed by an allowed "marker" on the same path, so the check
//! waits for the marker rather than for a timeout: packets on one veth queue keep their order,
//! so once the marker is in, a packet that was let through would be in too.

use std::io::ErrorKind;
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use aya::programs::XdpMode;
use aya::programs::cgroup_skb::CgroupSkbAttachType;
use aya::programs::links::CgroupAttachMode;
use aya::programs::tc::TcAttachType;

use super::cgroupfs::{Hierarchy, Moved};
use super::fixture::{CgFixture, TcFixture, XdpFixture};
use super::netns::{A4, A6, B4, B6, Entered, VA, Veth, ip};
use crate::programs::cgroup_events::PolicyEvent;
use crate::programs::common::{Action, PortKey, PortRule};
use crate::programs::tc_egress_policy::TcCounter;
use crate::programs::xdp_blocklist::{BlocklistRule, XdpCounter, v4_prefix, v6_prefix};

/// How long a packet that must arrive may take (generous for TCG guests).
const ARRIVAL: Duration = Duration::from_secs(10);

fn addr(ip: &str, port: u16) -> SocketAddr {
    SocketAddr::new(ip.parse().expect("a literal address"), port)
}

/// Receives until `marker` arrives; everything received, the marker included.
fn recv_until(sock: &UdpSocket, marker: &[u8]) -> Result<Vec<Vec<u8>>> {
    sock.set_read_timeout(Some(Duration::from_millis(50)))?;
    let start = Instant::now();
    let mut got = Vec::new();
    let mut buf = [0u8; 256];
    while start.elapsed() < ARRIVAL {
        match sock.recv(&mut buf) {
            Ok(n) => {
                got.push(buf[..n].to_vec());
                if &buf[..n] == marker {
                    return Ok(got);
                }
            }
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(e) => return Err(e.into()),
        }
    }
    bail!(
        "{:?} did not arrive within {}",
        String::from_utf8_lossy(marker),
        crate::sys::duration(ARRIVAL)
    )
}

/// Sends `warm` until one arrives: the path is up (links, qdiscs) before anything is measured.
fn warm_up(tx: &UdpSocket, to: SocketAddr, rx: &UdpSocket) -> Result<()> {
    rx.set_read_timeout(Some(Duration::from_millis(50)))?;
    let start = Instant::now();
    let mut buf = [0u8; 64];
    while start.elapsed() < ARRIVAL {
        tx.send_to(b"warm", to)?;
        if let Ok(n) = rx.recv(&mut buf)
            && &buf[..n] == b"warm"
        {
            // Drop the other warm-ups still queued.
            rx.set_nonblocking(true)?;
            while rx.recv(&mut buf).is_ok() {}
            rx.set_nonblocking(false)?;
            return Ok(());
        }
    }
    bail!(
        "no warm-up datagram reached {to} within {}",
        crate::sys::duration(ARRIVAL)
    )
}

fn none_waiting(sock: &UdpSocket) -> Result<Option<Vec<u8>>> {
    sock.set_nonblocking(true)?;
    let mut buf = [0u8; 256];
    let r = match sock.recv(&mut buf) {
        Ok(n) => Some(buf[..n].to_vec()),
        Err(e) if e.kind() == ErrorKind::WouldBlock => None,
        Err(e) => return Err(e.into()),
    };
    sock.set_nonblocking(false)?;
    Ok(r)
}

pub fn xdp_live(f: &mut XdpFixture) -> Result<String> {
    let blocked4: std::net::Ipv4Addr = B4[0].parse()?;
    let blocked6: std::net::Ipv6Addr = B6[0].parse()?;
    f.v4.insert(&v4_prefix(blocked4, 32), BlocklistRule::new(7), 0)?;
    f.v6.insert(&v6_prefix(blocked6, 128), BlocklistRule::new(8), 0)?;

    let veth = Veth::create()?;
    let id = f
        .program_mut()?
        .attach(VA, XdpMode::Skb)
        .context("attaching XDP (generic mode) to va")?;
    let _link = f.program_mut()?.take_link(id)?;

    let rx4 = UdpSocket::bind(addr(A4, 7201))?;
    let rx6 = UdpSocket::bind(addr(A6, 7201))?;
    let [b4, a4, b6, a6] = veth.b.run(|| -> std::io::Result<[UdpSocket; 4]> {
        Ok([
            UdpSocket::bind(addr(B4[0], 0))?,
            UdpSocket::bind(addr(B4[1], 0))?,
            UdpSocket::bind(addr(B6[0], 0))?,
            UdpSocket::bind(addr(B6[1], 0))?,
        ])
    })??;
    let (to4, to6) = (addr(A4, 7201), addr(A6, 7201));
    warm_up(&a4, to4, &rx4)?;
    warm_up(&a6, to6, &rx6)?;

    for (blocked, allowed, to, rx, v) in [(&b4, &a4, to4, &rx4, "v4"), (&b6, &a6, to6, &rx6, "v6")] {
        let (dropped, marker) = (format!("blocked-{v}"), format!("marker-{v}"));
        blocked.send_to(dropped.as_bytes(), to)?;
        allowed.send_to(marker.as_bytes(), to)?;
        let got = recv_until(rx, marker.as_bytes())?;
        ensure!(
            !got.iter().any(|d| d == dropped.as_bytes()),
            "{dropped} from a blocked source arrived"
        );
    }
    let c = f.counters()?;
    let (d4, d6) = (
        c[XdpCounter::DropV4 as usize].packets,
        c[XdpCounter::DropV6 as usize].packets,
    );
    ensure!(d4 == 1 && d6 == 1, "drop counters v4 {d4}, v6 {d6}; expected 1 each");
    let hits4 = f.v4.get(&v4_prefix(blocked4, 32), 0)?.hits;
    let hits6 = f.v6.get(&v6_prefix(blocked6, 128), 0)?.hits;
    ensure!(
        hits4 == 1 && hits6 == 1,
        "rule hits v4 {hits4}, v6 {hits6}; expected 1 each"
    );

    // The drop was the blocklist's: without the prefix the same source gets through.
    f.v4.remove(&v4_prefix(blocked4, 32))?;
    b4.send_to(b"unblocked-v4", to4)?;
    recv_until(&rx4, b"unblocked-v4").context("after removing the prefix")?;
    let passed = f.counters()?[XdpCounter::Pass as usize].packets;
    Ok(format!(
        "on veth: blocked sources dropped (v4, v6), others passed ({passed} packets), unblocking lets through"
    ))
}

pub fn tc_live(f: &mut TcFixture) -> Result<String> {
    f.rules.insert(PortKey::udp(7301), PortRule::new(Action::Deny, 30), 0)?;
    f.rules
        .insert(PortKey::udp(7302), PortRule::new(Action::Allow, 31), 0)?;
    f.rules.insert(PortKey::tcp(7303), PortRule::new(Action::Deny, 32), 0)?;

    let veth = Veth::create()?;
    // Kernels before 6.6 attach through netlink under a clsact qdisc; later ones use tcx links
    // and do not need it, so a failure here is only reported if attaching fails too.
    let qdisc = aya::programs::tc::qdisc_add_clsact(VA);
    let id = f
        .program_mut()?
        .attach(VA, TcAttachType::Egress)
        .with_context(|| format!("attaching to va egress (clsact qdisc: {qdisc:?})"))?;
    let _link = f.program_mut()?.take_link(id)?;

    let [d4, o4, d6, o6] = veth.b.run(|| -> std::io::Result<[UdpSocket; 4]> {
        Ok([
            UdpSocket::bind(addr(B4[0], 7301))?,
            UdpSocket::bind(addr(B4[0], 7302))?,
            UdpSocket::bind(addr(B6[0], 7301))?,
            UdpSocket::bind(addr(B6[0], 7302))?,
        ])
    })??;
    let listeners = veth.b.run(|| -> std::io::Result<[TcpListener; 2]> {
        Ok([
            TcpListener::bind(addr(B4[0], 7303))?,
            TcpListener::bind(addr(B4[0], 7304))?,
        ])
    })??;
    let tx4 = UdpSocket::bind(addr(A4, 0))?;
    let tx6 = UdpSocket::bind(addr(A6, 0))?;
    warm_up(&tx4, addr(B4[0], 7302), &o4)?;
    warm_up(&tx6, addr(B6[0], 7302), &o6)?;

    for (tx, ip, denied, open, v) in [(&tx4, B4[0], &d4, &o4, "v4"), (&tx6, B6[0], &d6, &o6, "v6")] {
        let marker = format!("marker-{v}");
        tx.send_to(format!("denied-{v}").as_bytes(), addr(ip, 7301))?;
        tx.send_to(marker.as_bytes(), addr(ip, 7302))?;
        recv_until(open, marker.as_bytes())?;
        if let Some(d) = none_waiting(denied)? {
            bail!("{} reached a denied port", String::from_utf8_lossy(&d));
        }
    }

    TcpStream::connect_timeout(&addr(B4[0], 7304), ARRIVAL).context("TCP to an open port")?;
    let denied_tcp = TcpStream::connect_timeout(&addr(B4[0], 7303), Duration::from_millis(500));
    ensure!(denied_tcp.is_err(), "TCP to denied port 7303 connected");
    drop(listeners);

    let hits = |k| f.rules.get(&k, 0).map(|r| r.hits);
    let (udp_denied, tcp_denied) = (hits(PortKey::udp(7301))?, hits(PortKey::tcp(7303))?);
    ensure!(udp_denied == 2, "udp/7301 rule counted {udp_denied} hits, expected 2");
    ensure!(tcp_denied >= 1, "tcp/7303 rule counted no hits");
    let c = f.counters()?;
    let deny = c[TcCounter::DenyRule as usize].packets;
    ensure!(
        deny == udp_denied + tcp_denied,
        "DenyRule counted {deny}, rules {udp_denied} + {tcp_denied}"
    );
    Ok(format!(
        "on veth egress: denied UDP (v4, v6) and TCP dropped ({deny} packets), allowed ports reached"
    ))
}

pub fn cgroup_live(f: &mut CgFixture) -> Result<String> {
    f.watch.insert(PortKey::udp(7401), PortRule::new(Action::Flag, 41), 0)?;
    f.watch.insert(PortKey::udp(7402), PortRule::new(Action::Deny, 42), 0)?;

    let hierarchy = Hierarchy::open()?;
    let own = hierarchy.own()?;
    let child = hierarchy.child()?;
    let child_id = child.id()?;
    let dir = std::fs::File::open(&child.path)?;
    // A bpf_link (what aya creates from 5.7 on) always lets other programs run beside it and
    // takes no mode flags: the kernel refuses any with EINVAL, hence Single.
    let id = f
        .program_mut()?
        .attach(&dir, CgroupSkbAttachType::Egress, CgroupAttachMode::Single)
        .context("attaching to the cgroup's egress")?;
    let _link = f.program_mut()?.take_link(id)?;

    // Loopback of a private namespace: the host's own services never see these packets.
    let _ns = Entered::new()?;
    ip(&["link", "set", "lo", "up"])?;
    let rx4 = UdpSocket::bind("127.0.0.1:7401")?;
    let rx6 = UdpSocket::bind("[::1]:7401")?;
    // A socket belongs to the cgroup its creator was in when it was created.
    let (tx4, tx6) = {
        let _moved = Moved::into(&child.path, &own)?;
        (UdpSocket::bind("127.0.0.1:0"), UdpSocket::bind("[::1]:0"))
    };
    let (tx4, tx6) = (tx4?, tx6?);

    for (tx, rx, lo, v) in [(&tx4, &rx4, "127.0.0.1", "v4"), (&tx6, &rx6, "::1", "v6")] {
        let flagged = format!("flagged-{v}");
        tx.send_to(flagged.as_bytes(), addr(lo, 7401))
            .with_context(|| format!("sending to flagged {lo}:7401"))?;
        match tx.send_to(b"denied", addr(lo, 7402)) {
            Err(e) if e.raw_os_error() == Some(libc::EPERM) => {}
            other => bail!("sending to denied port 7402 over {v}: {other:?}, expected EPERM"),
        }
        recv_until(rx, flagged.as_bytes())?;
    }
    // Outside the cgroup the program does not run: the same denied port is reachable.
    rx4.send_to(b"outside", "127.0.0.1:7402")
        .context("a socket outside the cgroup sending to 7402")?;

    let events: Vec<PolicyEvent> = f
        .drain_events()
        .iter()
        .filter_map(|b| PolicyEvent::from_bytes(b))
        .collect();
    ensure!(events.len() == 4, "{} events, expected 4: {events:?}", events.len());
    for e in &events {
        ensure!(
            e.cgroup_id == child_id,
            "event for cgroup {}, expected {child_id}",
            e.cgroup_id
        );
        let want = if e.dport == 7401 { Action::Flag } else { Action::Deny };
        ensure!(
            e.action == want as u8 && (e.dport == 7401 || e.dport == 7402),
            "unexpected event {e:?}"
        );
        ensure!(
            e.destination().is_some_and(|d| d.is_loopback()),
            "event destination {:?}",
            e.destination()
        );
    }
    let st = f.stats.get(&child_id, 0).context("no stats for the cgroup")?;
    ensure!(
        st.packets == 4 && st.flagged == 2 && st.denied == 2,
        "cgroup stats {st:?}"
    );
    Ok(format!(
        "cgroup {child_id}: EPERM for denied, flagged delivered, 4 events, stats {}/{} packets",
        st.packets, st.bytes
    ))
}
