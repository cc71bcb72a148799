//! Removing DWARF from an eBPF object, in process: what `llvm-strip -g` does, without a process.
//!
//! clang emits BTF (which the loader needs) from the same `-g` that emits DWARF (which nothing
//! at load time reads). The DWARF sections are two thirds of a typical object. `llvm-strip -g`
//! costs a process per object, about a quarter of a small program's compile; this is a few
//! microseconds.
//!
//! What goes: every `.debug_*` section, the relocation sections that apply to them, the symbols
//! defined in them (their section symbols), `STT_FILE` symbols, and `.llvm_addrsig` (a linker hint
//! holding symbol indices, which change). Everything else is kept byte for byte, in the same
//! order; symbol indices in the kept relocation sections and section indices in headers and
//! symbols are renumbered. The output is a function of the input bytes alone.

use std::collections::HashMap;

const SHT_SYMTAB: u32 = 2;
const SHT_RELA: u32 = 4;
const SHT_NOBITS: u32 = 8;
const SHT_REL: u32 = 9;
const SHT_SYMTAB_SHNDX: u32 = 18;
const SHT_LLVM_ADDRSIG: u32 = 0x6fff_4c03;
const SHN_LORESERVE: u16 = 0xff00;
const STT_FILE: u8 = 4;
const EHDR: usize = 64;
const SHDR: usize = 64;
const SYM: usize = 24;

/// The object without DWARF. Errors name what in the input is not a plain ELF64 relocatable.
pub fn strip_debug(input: &[u8]) -> Result<Vec<u8>, String> {
    let e = Endian::of(input)?;
    let shoff = e.u64(input, 40)? as usize;
    let shnum = e.u16(input, 60)? as usize;
    let shstrndx = e.u16(input, 62)? as usize;
    if e.u16(input, 58)? as usize != SHDR || shnum == 0 || shstrndx >= shnum {
        return Err("unexpected section header layout".into());
    }
    let mut sections: Vec<Section> = (0..shnum)
        .map(|i| Section::read(input, &e, shoff + i * SHDR))
        .collect::<Result<_, _>>()?;
    let names = sections[shstrndx].data(input)?;
    let name = |s: &Section| -> &[u8] {
        let start = (s.name as usize).min(names.len());
        let end = names[start..]
            .iter()
            .position(|b| *b == 0)
            .map_or(names.len(), |n| start + n);
        &names[start..end]
    };
    if sections.iter().any(|s| s.kind == SHT_SYMTAB_SHNDX) {
        return Err("extended section indices are not supported".into());
    }

    // Which sections go, and the new index of each one that stays.
    let mut gone: Vec<bool> = sections
        .iter()
        .map(|s| name(s).starts_with(b".debug_") || s.kind == SHT_LLVM_ADDRSIG)
        .collect();
    for (i, s) in sections.iter().enumerate() {
        if (s.kind == SHT_REL || s.kind == SHT_RELA) && gone.get(s.info as usize).copied().unwrap_or(false) {
            gone[i] = true;
        }
    }
    if gone[shstrndx] {
        return Err("the section name table would be removed".into());
    }
    let mut new_index = vec![0u32; shnum];
    let mut next = 0u32;
    for i in 0..shnum {
        if !gone[i] {
            new_index[i] = next;
            next += 1;
        }
    }
    let map_section = |i: u32| -> u32 {
        if (i as usize) < shnum && !gone[i as usize] {
            new_index[i as usize]
        } else {
            0
        }
    };

    // The symbol table: drop symbols of removed sections and file symbols; renumber the rest.
    let mut new_data: HashMap<usize, Vec<u8>> = HashMap::new();
    let mut symbol_map: HashMap<u32, u32> = HashMap::new();
    if let Some(t) = sections.iter().position(|s| s.kind == SHT_SYMTAB) {
        let data = sections[t].data(input)?;
        let (mut out, mut locals) = (Vec::with_capacity(data.len()), 0u32);
        for (old, sym) in data.chunks_exact(SYM).enumerate() {
            let kind = sym[4] & 0xf;
            let shndx = e.u16(sym, 6)?;
            let in_gone = shndx != 0 && shndx < SHN_LORESERVE && gone.get(shndx as usize).copied().unwrap_or(false);
            if old != 0 && (in_gone || kind == STT_FILE) {
                continue;
            }
            symbol_map.insert(old as u32, (out.len() / SYM) as u32);
            if (old as u32) < sections[t].info {
                locals += 1;
            }
            let mut sym = sym.to_vec();
            if shndx != 0 && shndx < SHN_LORESERVE {
                e.put_u16(&mut sym, 6, map_section(shndx as u32) as u16);
            }
            out.extend_from_slice(&sym);
        }
        sections[t].info = locals;
        new_data.insert(t, out);
    }

    // Relocations that stay point at renumbered symbols.
    for (i, s) in sections.iter().enumerate() {
        if gone[i] || (s.kind != SHT_REL && s.kind != SHT_RELA) {
            continue;
        }
        let size = if s.kind == SHT_REL { 16 } else { 24 };
        let mut data = s.data(input)?.to_vec();
        for r in data.chunks_exact_mut(size) {
            let info = e.u64(r, 8)?;
            let sym = (info >> 32) as u32;
            let new = *symbol_map.get(&sym).ok_or_else(|| {
                format!(
                    "section {} relocates against a removed symbol",
                    String::from_utf8_lossy(name(s))
                )
            })?;
            e.put_u64(r, 8, (u64::from(new) << 32) | (info & 0xffff_ffff));
        }
        new_data.insert(i, data);
    }

    // Lay out: header, kept sections in their original order, section headers.
    let mut out = input[..EHDR].to_vec();
    let mut order: Vec<usize> = (1..shnum).filter(|i| !gone[*i]).collect();
    order.sort_by_key(|i| (sections[*i].offset, *i));
    for &i in &order {
        let s = &sections[i];
        if s.kind == SHT_NOBITS {
            continue;
        }
        let data = match new_data.get(&i) {
            Some(d) => d.as_slice(),
            None => s.data(input)?,
        };
        pad_to(&mut out, s.align.max(1) as usize);
        sections[i].offset = out.len() as u64;
        sections[i].size = data.len() as u64;
        out.extend_from_slice(data);
    }
    pad_to(&mut out, 8);
    let new_shoff = out.len() as u64;
    for i in (0..shnum).filter(|i| !gone[*i]) {
        let mut s = sections[i].clone();
        s.link = map_section(s.link);
        if s.kind == SHT_REL || s.kind == SHT_RELA {
            s.info = map_section(s.info);
        }
        s.write(&mut out, &e);
    }
    e.put_u64(&mut out, 40, new_shoff);
    e.put_u16(&mut out, 60, next as u16);
    e.put_u16(&mut out, 62, new_index[shstrndx] as u16);
    Ok(out)
}

fn pad_to(v: &mut Vec<u8>, align: usize) {
    while !v.len().is_multiple_of(align) {
        v.push(0);
    }
}

#[derive(Clone)]
struct Section {
    name: u32,
    kind: u32,
    flags: u64,
    addr: u64,
    offset: u64,
    size: u64,
    link: u32,
    info: u32,
    align: u64,
    entsize: u64,
}

impl Section {
    fn read(b: &[u8], e: &Endian, at: usize) -> Result<Section, String> {
        Ok(Section {
            name: e.u32(b, at)?,
            kind: e.u32(b, at + 4)?,
            flags: e.u64(b, at + 8)?,
            addr: e.u64(b, at + 16)?,
            offset: e.u64(b, at + 24)?,
            size: e.u64(b, at + 32)?,
            link: e.u32(b, at + 40)?,
            info: e.u32(b, at + 44)?,
            align: e.u64(b, at + 48)?,
            entsize: e.u64(b, at + 56)?,
        })
    }

    fn data<'a>(&self, b: &'a [u8]) -> Result<&'a [u8], String> {
        if self.kind == SHT_NOBITS {
            return Ok(&[]);
        }
        let (start, end) = (self.offset as usize, self.offset as usize + self.size as usize);
        b.get(start..end)
            .ok_or_else(|| "a section lies outside the file".to_string())
    }

    fn write(&self, out: &mut Vec<u8>, e: &Endian) {
        let at = out.len();
        out.resize(at + SHDR, 0);
        let h = &mut out[at..];
        e.put_u32(h, 0, self.name);
        e.put_u32(h, 4, self.kind);
        e.put_u64(h, 8, self.flags);
        e.put_u64(h, 16, self.addr);
        e.put_u64(h, 24, self.offset);
        e.put_u64(h, 32, self.size);
        e.put_u32(h, 40, self.link);
        e.put_u32(h, 44, self.info);
        e.put_u64(h, 48, self.align);
        e.put_u64(h, 56, self.entsize);
    }
}

/// Reads and writes integers in the object's byte order.
struct Endian {
    big: bool,
}

impl Endian {
    fn of(b: &[u8]) -> Result<Endian, String> {
        if b.len() < EHDR || &b[..4] != b"\x7fELF" {
            return Err("not an ELF file".into());
        }
        if b[4] != 2 {
            return Err("not a 64-bit ELF file".into());
        }
        let e = Endian { big: b[5] == 2 };
        if e.u16(b, 16)? != 1 {
            return Err("not a relocatable object".into());
        }
        Ok(e)
    }

    fn bytes<const N: usize>(&self, b: &[u8], at: usize) -> Result<[u8; N], String> {
        let mut a: [u8; N] = b
            .get(at..at + N)
            .and_then(|s| s.try_into().ok())
            .ok_or("truncated ELF data")?;
        if self.big {
            a.reverse();
        }
        Ok(a)
    }

    fn u16(&self, b: &[u8], at: usize) -> Result<u16, String> {
        Ok(u16::from_le_bytes(self.bytes(b, at)?))
    }

    fn u32(&self, b: &[u8], at: usize) -> Result<u32, String> {
        Ok(u32::from_le_bytes(self.bytes(b, at)?))
    }

    fn u64(&self, b: &[u8], at: usize) -> Result<u64, String> {
        Ok(u64::from_le_bytes(self.bytes(b, at)?))
    }

    fn put<const N: usize>(&self, b: &mut [u8], at: usize, mut v: [u8; N]) {
        if self.big {
            v.reverse();
        }
        b[at..at + N].copy_from_slice(&v);
    }

    fn put_u16(&self, b: &mut [u8], at: usize, v: u16) {
        self.put(b, at, v.to_le_bytes());
    }

    fn put_u32(&self, b: &mut [u8], at: usize, v: u32) {
        self.put(b, at, v.to_le_bytes());
    }

    fn put_u64(&self, b: &mut [u8], at: usize, v: u64) {
        self.put(b, at, v.to_le_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_what_is_not_a_relocatable_elf64() {
        assert!(strip_debug(b"not elf at all, not even close to sixty-four bytes long......").is_err());
        let mut h = vec![0u8; 64];
        h[..4].copy_from_slice(b"\x7fELF");
        h[4] = 1;
        assert_eq!(strip_debug(&h).unwrap_err(), "not a 64-bit ELF file");
    }
}
