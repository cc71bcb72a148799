//! The image QEMU boots: the kernel's uncompressed ELF (`vmlinux`) through its PVH entry point
//! when it has one, else the packaged bzImage.
//!
//! Why: a distro bzImage decompresses itself in the guest before Linux starts, and under TCG
//! that costs seconds (an xz-compressed 8 MB payload took ~4 s here). Decompressing it once on the
//! host and letting QEMU jump straight into the kernel's PVH entry (`CONFIG_PVH`, a Xen ELF note
//! QEMU understands) removes that cost from every boot. The result is cached by kernel id under
//! `<cache>/vmlinux/`, written atomically.

use std::io::Read;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate::kernel::Prepared;

/// Bumped when what is written here changes.
pub const LAYOUT: &str = "v3";

/// The Xen ELF note that carries the 32-bit PVH entry point.
const XEN_ELFNOTE_PHYS32_ENTRY: u32 = 18;

/// The image to pass to `-kernel`: a cached PVH-bootable vmlinux, or the bzImage as shipped when
/// the payload cannot be extracted or has no PVH entry.
///
/// `ORCA_BOOT_IMAGE=bzimage` forces the packaged bzImage (to measure what PVH saves).
pub fn boot_image(k: &Prepared) -> Result<PathBuf> {
    if std::env::var("ORCA_BOOT_IMAGE").as_deref() == Ok("bzimage") {
        return Ok(k.vmlinuz.clone());
    }
    let dir = crate::paths::cache_dir("vmlinux")?.join(LAYOUT);
    let out = dir.join(&k.id);
    let none = dir.join(format!("{}.none", k.id));
    if out.is_file() {
        return Ok(out);
    }
    if none.is_file() {
        return Ok(k.vmlinuz.clone());
    }
    let bz = std::fs::read(&k.vmlinuz).with_context(|| format!("reading {}", k.vmlinuz.display()))?;
    match extract(&bz) {
        Some(elf) if has_pvh_entry(&elf) => {
            crate::paths::write_atomic(&out, &elf)?;
            Ok(out)
        }
        _ => {
            // Remember the answer so the next boot does not decompress again.
            crate::paths::write_atomic(&none, b"no PVH entry or unknown compression\n")?;
            Ok(k.vmlinuz.clone())
        }
    }
}

/// The decompressed payload of a bzImage, if its compression is one we read (xz, zstd, gzip, lz4
/// as Debian's cloud kernels use).
pub fn extract(bz: &[u8]) -> Option<Vec<u8>> {
    // The boot protocol's setup header: the payload's offset and length, counted from the start
    // of the protected-mode code, which follows the real-mode setup sectors.
    let u32_at = |o: usize| {
        bz.get(o..o + 4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize)
    };
    if bz.get(0x202..0x206)? != b"HdrS" {
        return None;
    }
    let setup_sects = match *bz.get(0x1f1)? as usize {
        0 => 4,
        n => n,
    };
    let pm_start = (setup_sects + 1) * 512;
    let (offset, len) = (u32_at(0x248)?, u32_at(0x24c)?);
    let payload = bz.get(pm_start + offset..pm_start + offset + len)?;
    let mut out = Vec::new();
    let ok = if payload.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0]) {
        unxz(payload, &mut out)
    } else if payload.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        zstd::stream::read::Decoder::new(payload)
            .map(|d| d.single_frame())
            .and_then(|mut d| d.read_to_end(&mut out))
            .is_ok()
    } else if payload.starts_with(&[0x1f, 0x8b]) {
        flate2::read::GzDecoder::new(payload).read_to_end(&mut out).is_ok()
    } else if let Some(blocks) = payload.strip_prefix(&[0x02, 0x21, 0x4c, 0x18]) {
        unlz4_legacy(blocks, &mut out)
    } else {
        false
    };
    (ok && out.starts_with(b"\x7fELF")).then_some(out)
}

/// Decodes one xz stream and ignores what follows it (the kernel appends the decompressed size,
/// which a reader that expects another stream takes for corruption).
fn unxz(payload: &[u8], out: &mut Vec<u8>) -> bool {
    use xz2::stream::{Action, Status, Stream};
    let Ok(mut s) = Stream::new_stream_decoder(u64::MAX, 0) else {
        return false;
    };
    out.reserve(payload.len() * 8);
    loop {
        if out.len() == out.capacity() {
            out.reserve(16 << 20);
        }
        let (before_in, before_out) = (s.total_in(), s.total_out());
        match s.process_vec(&payload[s.total_in() as usize..], out, Action::Run) {
            Ok(Status::StreamEnd) => return true,
            Ok(_) if s.total_in() == before_in && s.total_out() == before_out && out.len() < out.capacity() => {
                return false;
            }
            Ok(_) => {}
            Err(_) => return false,
        }
    }
}

/// Decodes LZ4's legacy frame (what the kernel's `lz4 -l` writes): after the magic, blocks of a
/// 4-byte little-endian compressed size and an LZ4 block; the kernel appends the decompressed
/// size, which reads as a block size larger than what is left, and ends the frame.
fn unlz4_legacy(mut rest: &[u8], out: &mut Vec<u8>) -> bool {
    while rest.len() >= 4 {
        let size = u32::from_le_bytes([rest[0], rest[1], rest[2], rest[3]]) as usize;
        let Some(block) = rest.get(4..4 + size) else { break };
        if !unlz4_block(block, out) {
            return false;
        }
        rest = &rest[4 + size..];
    }
    !out.is_empty()
}

/// One LZ4 block appended to `out`. Matches may reach back into earlier blocks of the frame.
fn unlz4_block(b: &[u8], out: &mut Vec<u8>) -> bool {
    let mut i = 0;
    // A length nibble of 15 continues in the following bytes, each added, until one below 255.
    let length = |i: &mut usize, mut n: usize| -> Option<usize> {
        if n == 15 {
            loop {
                let x = *b.get(*i)? as usize;
                *i += 1;
                n += x;
                if x != 255 {
                    break;
                }
            }
        }
        Some(n)
    };
    while i < b.len() {
        let token = b[i] as usize;
        i += 1;
        let Some(lits) = length(&mut i, token >> 4) else {
            return false;
        };
        let Some(l) = b.get(i..i + lits) else { return false };
        out.extend_from_slice(l);
        i += lits;
        if i >= b.len() {
            break; // the last sequence has literals only
        }
        let Some(off) = b.get(i..i + 2).map(|o| u16::from_le_bytes([o[0], o[1]]) as usize) else {
            return false;
        };
        i += 2;
        let Some(len) = length(&mut i, token & 15).map(|n| n + 4) else {
            return false;
        };
        if off == 0 || off > out.len() {
            return false;
        }
        let start = out.len() - off;
        // Byte by byte: a match may overlap what it is writing.
        for k in 0..len {
            out.push(out[start + k]);
        }
    }
    true
}

/// Whether an ELF64 image carries a PVH entry point note.
pub fn has_pvh_entry(elf: &[u8]) -> bool {
    let u16_at = |o: usize| elf.get(o..o + 2).map(|b| u16::from_le_bytes([b[0], b[1]]) as usize);
    let u32_at = |o: usize| elf.get(o..o + 4).map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]));
    let u64_at = |o: usize| {
        elf.get(o..o + 8)
            .map(|b| u64::from_le_bytes(b.try_into().unwrap()) as usize)
    };
    // ELF64, little endian.
    if !elf.starts_with(b"\x7fELF\x02\x01") {
        return false;
    }
    let (Some(phoff), Some(phentsize), Some(phnum)) = (u64_at(0x20), u16_at(0x36), u16_at(0x38)) else {
        return false;
    };
    for i in 0..phnum {
        let ph = phoff + i * phentsize;
        if u32_at(ph) != Some(4) {
            continue; // not PT_NOTE
        }
        let (Some(off), Some(size)) = (u64_at(ph + 0x08), u64_at(ph + 0x20)) else {
            continue;
        };
        let mut p = off;
        while p + 12 <= off + size {
            let (Some(namesz), Some(descsz), Some(kind)) = (u32_at(p), u32_at(p + 4), u32_at(p + 8)) else {
                break;
            };
            let name = elf.get(p + 12..p + 12 + namesz as usize).unwrap_or_default();
            if name.starts_with(b"Xen") && kind == XEN_ELFNOTE_PHYS32_ENTRY {
                return true;
            }
            p += 12 + (namesz as usize).next_multiple_of(4) + (descsz as usize).next_multiple_of(4);
        }
    }
    false
}

/// Whether `path` is an ELF file (a vmlinux rather than a bzImage).
pub fn is_elf(path: &Path) -> bool {
    let mut magic = [0u8; 4];
    std::fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut magic))
        .is_ok()
        && &magic == b"\x7fELF"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn garbage_is_not_a_bzimage() {
        assert!(extract(b"not a kernel").is_none());
        let mut fake = vec![0u8; 4096];
        fake[0x202..0x206].copy_from_slice(b"HdrS");
        assert!(extract(&fake).is_none(), "a header without a payload");
        assert!(!has_pvh_entry(b"\x7fELF\x02\x01"));
    }

    #[test]
    fn decodes_lz4_legacy_frames_with_overlapping_matches() {
        // "abcabcabcabcX": 3 literals "abc", a match at offset 3 of length 9 (overlapping), then a
        // last sequence of one literal; then the kernel's trailing size, which ends the frame.
        let block = [0x35, b'a', b'b', b'c', 3, 0, 0x10, b'X'];
        let mut frame = vec![0x02, 0x21, 0x4c, 0x18];
        frame.extend_from_slice(&(block.len() as u32).to_le_bytes());
        frame.extend_from_slice(&block);
        frame.extend_from_slice(&13u32.to_le_bytes());
        let mut out = Vec::new();
        assert!(unlz4_legacy(&frame[4..], &mut out));
        assert_eq!(out, b"abcabcabcabcX");
        // An offset reaching before the start is corruption, not a panic.
        let mut out = Vec::new();
        assert!(!unlz4_block(&[0x10, b'a', 9, 0], &mut out));
    }

    #[test]
    fn finds_the_pvh_note_in_a_hand_made_elf() {
        // ELF64 header + one PT_NOTE program header + one Xen note of type 18.
        let mut elf = vec![0u8; 0x200];
        elf[..6].copy_from_slice(b"\x7fELF\x02\x01");
        elf[0x20..0x28].copy_from_slice(&0x40u64.to_le_bytes()); // e_phoff
        elf[0x36..0x38].copy_from_slice(&56u16.to_le_bytes()); // e_phentsize
        elf[0x38..0x3a].copy_from_slice(&1u16.to_le_bytes()); // e_phnum
        elf[0x40..0x44].copy_from_slice(&4u32.to_le_bytes()); // PT_NOTE
        elf[0x48..0x50].copy_from_slice(&0x100u64.to_le_bytes()); // p_offset
        elf[0x60..0x68].copy_from_slice(&20u64.to_le_bytes()); // p_filesz
        elf[0x100..0x104].copy_from_slice(&4u32.to_le_bytes()); // namesz
        elf[0x104..0x108].copy_from_slice(&4u32.to_le_bytes()); // descsz
        elf[0x108..0x10c].copy_from_slice(&18u32.to_le_bytes()); // type
        elf[0x10c..0x110].copy_from_slice(b"Xen\0");
        assert!(has_pvh_entry(&elf));
        elf[0x108..0x10c].copy_from_slice(&5u32.to_le_bytes());
        assert!(!has_pvh_entry(&elf));
    }
}

#[cfg(test)]
mod fixture {
    /// A bzImage made here (setup header, gzip/xz/zstd payload around a hand-made ELF with a PVH
    /// note) extracts to that ELF; the test needs no kernel in the user's cache.
    #[test]
    fn a_made_bzimage_extracts_to_its_pvh_elf() {
        use std::io::Write;
        let mut elf = vec![0u8; 0x200];
        elf[..6].copy_from_slice(b"\x7fELF\x02\x01");
        elf[0x20..0x28].copy_from_slice(&0x40u64.to_le_bytes());
        elf[0x36..0x38].copy_from_slice(&56u16.to_le_bytes());
        elf[0x38..0x3a].copy_from_slice(&1u16.to_le_bytes());
        elf[0x40..0x44].copy_from_slice(&4u32.to_le_bytes());
        elf[0x48..0x50].copy_from_slice(&0x100u64.to_le_bytes());
        elf[0x60..0x68].copy_from_slice(&20u64.to_le_bytes());
        elf[0x100..0x104].copy_from_slice(&4u32.to_le_bytes());
        elf[0x104..0x108].copy_from_slice(&4u32.to_le_bytes());
        elf[0x108..0x10c].copy_from_slice(&18u32.to_le_bytes());
        elf[0x10c..0x110].copy_from_slice(b"Xen\0");
        let gz = {
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
            e.write_all(&elf).unwrap();
            e.finish().unwrap()
        };
        let xz = {
            let mut e = xz2::write::XzEncoder::new(Vec::new(), 6);
            e.write_all(&elf).unwrap();
            e.finish().unwrap()
        };
        let zst = zstd::encode_all(&elf[..], 3).unwrap();
        for (what, payload) in [("gzip", gz), ("xz", xz), ("zstd", zst)] {
            // One setup sector after the boot sector: the protected-mode code starts at 1024.
            let mut bz = vec![0u8; 1024 + 16];
            bz[0x1f1] = 1;
            bz[0x202..0x206].copy_from_slice(b"HdrS");
            bz[0x248..0x24c].copy_from_slice(&16u32.to_le_bytes());
            bz[0x24c..0x250].copy_from_slice(&(payload.len() as u32).to_le_bytes());
            bz.extend_from_slice(&payload);
            bz.extend_from_slice(&(elf.len() as u32).to_le_bytes()); // as the kernel appends it
            let out = super::extract(&bz).unwrap_or_else(|| panic!("{what}: not extracted"));
            assert_eq!(out, elf, "{what}");
            assert!(super::has_pvh_entry(&out), "{what}");
        }
    }
}
