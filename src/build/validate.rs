//! Checking a built object the way the loader will read it.
//!
//! orca loads objects with aya, so an object is parsed with `aya_obj::Object::parse`, the same
//! parser. On top of what aya checks, an object must carry BTF (aya silently accepts an object
//! without it until a map needs it) and a `license` section (aya silently assumes GPL, the
//! kernel does not), and must define at least one program. Failures name the object's problem
//! and the fix in the C source.

use object::{Object as _, ObjectSection as _, ObjectSymbol as _};
use serde::{Deserialize, Serialize};

/// What an object holds, for summaries and `--json`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct ObjectInfo {
    /// The license string from the `license` section, e.g. `GPL`.
    pub license: String,
    /// The programs, by function name, sorted.
    pub programs: Vec<ProgramInfo>,
    /// The maps (BTF `.maps` and legacy `maps`), by name, sorted. Global data sections
    /// (`.data`, `.rodata`, `.bss`) are not listed.
    pub maps: Vec<MapInfo>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ProgramInfo {
    /// The C function's name.
    pub name: String,
    /// The ELF section it lives in, which names its type: `xdp`, `classifier`, `cgroup_skb/egress`.
    pub section: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct MapInfo {
    pub name: String,
    /// The map type, e.g. `hash` for `BPF_MAP_TYPE_HASH`.
    #[serde(rename = "type")]
    pub kind: String,
    pub key_size: u32,
    pub value_size: u32,
    pub max_entries: u32,
}

/// Checks `bytes` and describes them; the error says what is wrong and how to fix it.
pub fn validate(bytes: &[u8]) -> Result<ObjectInfo, String> {
    let elf = object::File::parse(bytes).map_err(|e| format!("is not an ELF object ({e})"))?;
    if elf.architecture() != object::Architecture::Bpf {
        return Err(format!(
            "is not an eBPF object (architecture {:?}); compile with `-target bpf`",
            elf.architecture()
        ));
    }
    let section = |name: &str| elf.section_by_name(name);
    if section(".BTF").is_none() {
        return Err(
            "has no BTF (no .BTF section): the loader needs BTF for maps, CO-RE and line info; \
                    keep `-g` in the toolchain's cflags in configs/build.hcl"
                .into(),
        );
    }
    let Some(license) = section("license") else {
        return Err(
            "has no license section: add `char LICENSE[] SEC(\"license\") = \"GPL\";` to the source \
                    (the kernel refuses GPL-only helpers without it)"
                .into(),
        );
    };
    let license = license
        .data()
        .ok()
        .and_then(|d| std::ffi::CStr::from_bytes_until_nul(d).ok())
        .map(|c| c.to_string_lossy().into_owned());
    let Some(license) = license.filter(|l| !l.is_empty()) else {
        return Err("has an empty or unterminated license section: write it as a C string, \
                    `char LICENSE[] SEC(\"license\") = \"GPL\";`"
            .into());
    };

    let obj = aya_obj::Object::parse(bytes).map_err(|e| explain(&e, &elf))?;

    let section_name = |index: usize| {
        elf.section_by_index(object::SectionIndex(index))
            .ok()
            .and_then(|s| s.name().ok().map(str::to_string))
            .unwrap_or_default()
    };
    let mut programs: Vec<ProgramInfo> = obj
        .programs
        .iter()
        .map(|(name, p)| ProgramInfo {
            name: name.clone(),
            section: section_name(p.section_index),
        })
        .collect();
    programs.sort_by(|a, b| a.name.cmp(&b.name));
    if programs.is_empty() {
        return Err("defines no program: mark the entry function with a program section, e.g. `SEC(\"xdp\")`".into());
    }

    let mut maps = Vec::new();
    for (name, m) in &obj.maps {
        use aya_obj::EbpfSectionKind as K;
        if !matches!(m.section_kind(), K::Maps | K::BtfMaps) {
            continue;
        }
        if m.map_type() == 0 {
            return Err(format!(
                "has a malformed map definition: map `{name}` has no type; declare it with \
                 `__uint(type, BPF_MAP_TYPE_...)`"
            ));
        }
        maps.push(MapInfo {
            name: name.clone(),
            kind: map_kind(m.map_type()),
            key_size: m.key_size(),
            value_size: m.value_size(),
            max_entries: m.max_entries(),
        });
    }
    maps.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(ObjectInfo {
        license,
        programs,
        maps,
    })
}

/// Turns aya's parse error into the object's problem and its fix.
fn explain(e: &aya_obj::ParseError, elf: &object::File<'_>) -> String {
    use aya_obj::ParseError as P;
    match e {
        P::InvalidProgramSection { section } => format!(
            "has a program in section `{section}`, which is not a program type the loader knows; use one \
             of `xdp`, `classifier` (tc), `cgroup_skb/ingress`, `cgroup_skb/egress`, `cgroup/sock_create`, \
             `socket`, `kprobe/FN`, `tracepoint/CAT/NAME`, `tp_btf/NAME`, `fentry/FN`, `lsm/HOOK`..."
        ),
        P::InvalidMapDefinition { name } => format!(
            "has a malformed map definition: map `{name}` in the legacy `maps` section is smaller than \
             `struct bpf_map_def`; declare maps in `.maps` with `__uint(type, ...)`, `__uint(max_entries, ...)`, \
             `__type(key, ...)` and `__type(value, ...)`"
        ),
        P::BtfError(b) if btf_parses(elf) && elf.section_by_name(".maps").is_some() => format!(
            "has a malformed map definition in `.maps` (maps: {}): {}; declare every field with the \
             `__uint(type, ...)`, `__uint(max_entries, ...)`, `__type(key, ...)`, `__type(value, ...)` macros \
             of bpf_helpers.h, not as plain members",
            symbols_in(elf, ".maps").join(", "),
            chain(b)
        ),
        P::NoBTF => "has BTF-defined maps but no usable BTF; keep `-g` in the toolchain's cflags".into(),
        P::NoSymbolsForSection { section_name } => {
            format!(
                "has a section `{section_name}` without symbols; a program or map there must be a non-static global"
            )
        }
        other => format!("cannot be parsed the way the loader parses it: {}", chain(other)),
    }
}

/// Whether the `.BTF` section parses on its own, i.e. a BTF error came from elsewhere (the maps).
fn btf_parses(elf: &object::File<'_>) -> bool {
    let endianness = if elf.is_little_endian() {
        object::Endianness::Little
    } else {
        object::Endianness::Big
    };
    elf.section_by_name(".BTF")
        .and_then(|s| s.data().ok())
        .is_some_and(|d| aya_obj::btf::Btf::parse(d, endianness).is_ok())
}

/// The names of the symbols defined in section `name`.
fn symbols_in(elf: &object::File<'_>, name: &str) -> Vec<String> {
    let Some(index) = elf.section_by_name(name).map(|s| s.index()) else {
        return Vec::new();
    };
    let mut v: Vec<String> = elf
        .symbols()
        .filter(|s| s.section_index() == Some(index))
        .filter_map(|s| s.name().ok().filter(|n| !n.is_empty()).map(str::to_string))
        .collect();
    v.sort();
    v
}

fn chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}

/// The name of a `BPF_MAP_TYPE_*` number, lowercased without the prefix.
pub fn map_kind(t: u32) -> String {
    const NAMES: [&str; 34] = [
        "unspec",
        "hash",
        "array",
        "prog_array",
        "perf_event_array",
        "percpu_hash",
        "percpu_array",
        "stack_trace",
        "cgroup_array",
        "lru_hash",
        "lru_percpu_hash",
        "lpm_trie",
        "array_of_maps",
        "hash_of_maps",
        "devmap",
        "sockmap",
        "cpumap",
        "xskmap",
        "sockhash",
        "cgroup_storage",
        "reuseport_sockarray",
        "percpu_cgroup_storage",
        "queue",
        "stack",
        "sk_storage",
        "devmap_hash",
        "struct_ops",
        "ringbuf",
        "inode_storage",
        "task_storage",
        "bloom_filter",
        "user_ringbuf",
        "cgrp_storage",
        "arena",
    ];
    NAMES
        .get(t as usize)
        .map(|s| s.to_string())
        .unwrap_or_else(|| format!("type {t}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn map_kinds_follow_the_kernel_numbering() {
        assert_eq!(map_kind(1), "hash");
        assert_eq!(map_kind(27), "ringbuf");
        assert_eq!(map_kind(11), "lpm_trie");
        assert_eq!(map_kind(99), "type 99");
    }

    #[test]
    fn garbage_is_not_an_object() {
        let e = validate(b"not an elf").unwrap_err();
        assert!(e.contains("not an ELF object"), "{e}");
    }
}
