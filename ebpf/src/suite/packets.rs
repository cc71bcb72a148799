//! Crafted frames for BPF_PROG_TEST_RUN: Ethernet with optional VLAN tags, IPv4/IPv6 (with
//! extension headers), TCP, UDP, ICMP and ARP. Checksums are filled where the kernel would look.

use std::net::{Ipv4Addr, Ipv6Addr};

pub const ETH_P_IP: u16 = 0x0800;
pub const ETH_P_ARP: u16 = 0x0806;
pub const ETH_P_IPV6: u16 = 0x86dd;
pub const ETH_P_8021Q: u16 = 0x8100;
pub const ETH_P_8021AD: u16 = 0x88a8;

pub const IPPROTO_ICMP: u8 = 1;
pub const IPPROTO_TCP: u8 = 6;
pub const IPPROTO_UDP: u8 = 17;
pub const IPPROTO_HOPOPTS: u8 = 0;
pub const IPPROTO_DSTOPTS: u8 = 60;
pub const IPPROTO_FRAGMENT: u8 = 44;

pub const ETH_HLEN: usize = 14;

const SRC_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x0b];
const DST_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x0a];

/// An Ethernet frame: MACs, one tag per entry of `tpids` (outermost first, VLAN ids 100, 101, ...),
/// then `ethertype` and `payload`.
pub fn ether(tpids: &[u16], ethertype: u16, payload: &[u8]) -> Vec<u8> {
    let mut f = Vec::with_capacity(ETH_HLEN + 4 * tpids.len() + payload.len());
    f.extend_from_slice(&DST_MAC);
    f.extend_from_slice(&SRC_MAC);
    for (i, tpid) in tpids.iter().enumerate() {
        f.extend_from_slice(&tpid.to_be_bytes());
        f.extend_from_slice(&(100 + i as u16).to_be_bytes());
    }
    f.extend_from_slice(&ethertype.to_be_bytes());
    f.extend_from_slice(payload);
    f
}

/// An IPv4 packet with a 20-byte header.
pub fn ipv4(src: Ipv4Addr, dst: Ipv4Addr, protocol: u8, payload: &[u8]) -> Vec<u8> {
    ipv4_frag(src, dst, protocol, 0, payload)
}

/// An IPv4 packet whose fragment offset is `frag_offset` 8-byte units.
pub fn ipv4_frag(src: Ipv4Addr, dst: Ipv4Addr, protocol: u8, frag_offset: u16, payload: &[u8]) -> Vec<u8> {
    let total = (20 + payload.len()) as u16;
    let mut h = vec![0x45, 0];
    h.extend_from_slice(&total.to_be_bytes());
    h.extend_from_slice(&0x1234u16.to_be_bytes());
    h.extend_from_slice(&(frag_offset & 0x1fff).to_be_bytes());
    h.extend_from_slice(&[64, protocol, 0, 0]);
    h.extend_from_slice(&src.octets());
    h.extend_from_slice(&dst.octets());
    let sum = checksum(&h);
    h[10..12].copy_from_slice(&sum.to_be_bytes());
    h.extend_from_slice(payload);
    h
}

/// An IPv6 packet; `ext` are extension headers as (type, body) in order, each padded to 8 bytes.
pub fn ipv6(src: Ipv6Addr, dst: Ipv6Addr, next: u8, ext: &[(u8, Vec<u8>)], payload: &[u8]) -> Vec<u8> {
    let mut chain = Vec::new();
    for (i, (_, body)) in ext.iter().enumerate() {
        let following = ext.get(i + 1).map(|e| e.0).unwrap_or(next);
        chain.extend(ext_header(ext[i].0, following, body));
    }
    let first = ext.first().map(|e| e.0).unwrap_or(next);
    let len = (chain.len() + payload.len()) as u16;
    let mut h = vec![0x60, 0, 0, 0];
    h.extend_from_slice(&len.to_be_bytes());
    h.extend_from_slice(&[first, 64]);
    h.extend_from_slice(&src.octets());
    h.extend_from_slice(&dst.octets());
    h.extend(chain);
    h.extend_from_slice(payload);
    h
}

fn ext_header(kind: u8, next: u8, body: &[u8]) -> Vec<u8> {
    if kind == IPPROTO_FRAGMENT {
        // body: the 16-bit offset/flags field, then zero id.
        let mut h = vec![next, 0];
        h.extend_from_slice(&body[..2]);
        h.extend_from_slice(&[0, 0, 0, 1]);
        return h;
    }
    // Hop-by-hop/destination options: next, length in 8-byte units past the first, PadN.
    let total = (2 + body.len()).div_ceil(8) * 8;
    let mut h = vec![next, (total / 8 - 1) as u8];
    h.extend_from_slice(body);
    while h.len() < total {
        h.push(0); // Pad1 options
    }
    h
}

/// An IPv6 fragment extension header for `ipv6(..)`: offset in 8-byte units, more-fragments set.
pub fn frag6(offset: u16) -> (u8, Vec<u8>) {
    (IPPROTO_FRAGMENT, ((offset << 3) | 1).to_be_bytes().to_vec())
}

/// An options extension header (hop-by-hop or destination options) with `len` bytes of padding.
pub fn opts6(kind: u8, len: usize) -> (u8, Vec<u8>) {
    (kind, vec![0; len])
}

pub fn udp(sport: u16, dport: u16, payload: &[u8]) -> Vec<u8> {
    let mut h = Vec::with_capacity(8 + payload.len());
    h.extend_from_slice(&sport.to_be_bytes());
    h.extend_from_slice(&dport.to_be_bytes());
    h.extend_from_slice(&((8 + payload.len()) as u16).to_be_bytes());
    h.extend_from_slice(&[0, 0]);
    h.extend_from_slice(payload);
    h
}

/// A TCP SYN with a 20-byte header.
pub fn tcp(sport: u16, dport: u16) -> Vec<u8> {
    let mut h = Vec::with_capacity(20);
    h.extend_from_slice(&sport.to_be_bytes());
    h.extend_from_slice(&dport.to_be_bytes());
    h.extend_from_slice(&1u32.to_be_bytes());
    h.extend_from_slice(&0u32.to_be_bytes());
    h.extend_from_slice(&[0x50, 0x02, 0xff, 0xff, 0, 0, 0, 0]);
    h
}

/// An ICMP echo request.
pub fn icmp_echo() -> Vec<u8> {
    let mut h = vec![8, 0, 0, 0, 0, 1, 0, 1];
    let sum = checksum(&h);
    h[2..4].copy_from_slice(&sum.to_be_bytes());
    h
}

/// An ARP request (who has 198.18.0.1).
pub fn arp() -> Vec<u8> {
    let mut p = vec![0, 1, 0x08, 0, 6, 4, 0, 1];
    p.extend_from_slice(&SRC_MAC);
    p.extend_from_slice(&[198, 18, 0, 2]);
    p.extend_from_slice(&[0; 6]);
    p.extend_from_slice(&[198, 18, 0, 1]);
    ether(&[], ETH_P_ARP, &p)
}

/// The Internet checksum (RFC 1071).
pub fn checksum(bytes: &[u8]) -> u16 {
    let mut sum: u32 = 0;
    for chunk in bytes.chunks(2) {
        let word = if chunk.len() == 2 {
            u16::from_be_bytes([chunk[0], chunk[1]])
        } else {
            u16::from(chunk[0]) << 8
        };
        sum += u32::from(word);
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// A v4 UDP frame, the most common shape in the tests.
pub fn v4_udp(tpids: &[u16], src: Ipv4Addr, dst: Ipv4Addr, dport: u16) -> Vec<u8> {
    ether(
        tpids,
        ETH_P_IP,
        &ipv4(src, dst, IPPROTO_UDP, &udp(40000, dport, b"orca")),
    )
}

pub fn v4_tcp(tpids: &[u16], src: Ipv4Addr, dst: Ipv4Addr, dport: u16) -> Vec<u8> {
    ether(tpids, ETH_P_IP, &ipv4(src, dst, IPPROTO_TCP, &tcp(40000, dport)))
}

pub fn v6_udp(tpids: &[u16], src: Ipv6Addr, dst: Ipv6Addr, dport: u16) -> Vec<u8> {
    ether(
        tpids,
        ETH_P_IPV6,
        &ipv6(src, dst, IPPROTO_UDP, &[], &udp(40000, dport, b"orca")),
    )
}

pub fn v6_tcp(tpids: &[u16], src: Ipv6Addr, dst: Ipv6Addr, dport: u16) -> Vec<u8> {
    ether(tpids, ETH_P_IPV6, &ipv6(src, dst, IPPROTO_TCP, &[], &tcp(40000, dport)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv4_header_checksum_verifies() {
        let p = ipv4(
            Ipv4Addr::new(10, 0, 0, 1),
            Ipv4Addr::new(10, 0, 0, 2),
            IPPROTO_UDP,
            &udp(1, 2, b"x"),
        );
        assert_eq!(checksum(&p[..20]), 0);
        assert_eq!(u16::from_be_bytes([p[2], p[3]]) as usize, p.len());
    }

    #[test]
    fn vlan_tags_sit_between_macs_and_ethertype() {
        let f = ether(&[ETH_P_8021AD, ETH_P_8021Q], ETH_P_IP, &[0x45]);
        assert_eq!(f.len(), ETH_HLEN + 8 + 1);
        assert_eq!(&f[12..14], &ETH_P_8021AD.to_be_bytes());
        assert_eq!(&f[16..18], &ETH_P_8021Q.to_be_bytes());
        assert_eq!(&f[20..22], &ETH_P_IP.to_be_bytes());
    }

    #[test]
    fn ipv6_extension_chain_links_next_headers() {
        let p = ipv6(
            Ipv6Addr::LOCALHOST,
            Ipv6Addr::LOCALHOST,
            IPPROTO_TCP,
            &[opts6(IPPROTO_HOPOPTS, 4), opts6(IPPROTO_DSTOPTS, 10)],
            &tcp(1, 22),
        );
        assert_eq!(p[6], IPPROTO_HOPOPTS);
        assert_eq!(p[40], IPPROTO_DSTOPTS); // hop-by-hop's next header
        assert_eq!(p[41], 0); // 8 bytes long
        assert_eq!(p[48], IPPROTO_TCP);
        assert_eq!(p[49], 1); // 16 bytes long
        assert_eq!(u16::from_be_bytes([p[64 + 2], p[64 + 3]]), 22);
        assert_eq!(u16::from_be_bytes([p[4], p[5]]) as usize, p.len() - 40);
    }
}
