//! Checks that the Rust mirrors have the layout of the C definitions: compiles the headers with
//! the real clang, reads the BTF back with bpftool and compares sizes, member offsets and enum
//! values with `size_of`/`offset_of!` here.

use std::collections::HashMap;
use std::mem::{offset_of, size_of};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use serde_json::Value;

use super::cgroup_events::*;
use super::common::*;
use super::tc_egress_policy::*;
use super::xdp_blocklist::*;

/// One C struct as the Rust side sees it: name, size, (member, offset, size) in declaration order.
type Layout = (&'static str, usize, Vec<(&'static str, usize, usize)>);

fn field_size<T, F>(_: fn(&T) -> &F) -> usize {
    size_of::<F>()
}

macro_rules! layout {
    ($c:literal, $t:ty { $($f:ident),* }) => {
        ($c, size_of::<$t>(), vec![$((stringify!($f), offset_of!($t, $f), field_size(|s: &$t| &s.$f))),*])
    };
}

/// The size in bytes of BTF type `id`, through typedefs, qualifiers and arrays.
fn btf_size(by_id: &HashMap<u64, &Value>, id: u64) -> u64 {
    let t = by_id[&id];
    match t["kind"].as_str().unwrap() {
        "TYPEDEF" | "VOLATILE" | "CONST" | "RESTRICT" => btf_size(by_id, t["type_id"].as_u64().unwrap()),
        "ARRAY" => t["nr_elems"].as_u64().unwrap() * btf_size(by_id, t["type_id"].as_u64().unwrap()),
        _ => t["size"].as_u64().unwrap(),
    }
}

fn rust_structs() -> Vec<Layout> {
    vec![
        layout!("counter", Counter { packets, bytes }),
        layout!("port_key", PortKey { port, protocol, pad }),
        layout!("port_rule", PortRule { action, rule_id, hits }),
        layout!("lpm_v4_key", LpmV4Key { prefixlen, addr }),
        layout!("lpm_v6_key", LpmV6Key { prefixlen, addr }),
        layout!("blocklist_rule", BlocklistRule { rule_id, pad, hits }),
        layout!("tc_config", TcConfig { default_action, pad }),
        layout!(
            "cgroup_stats",
            CgroupStats {
                packets,
                bytes,
                flagged,
                denied,
                last_seen_ns,
                last_event_ns
            }
        ),
        layout!("cg_config", CgConfig { event_gap_ns }),
        layout!(
            "policy_event",
            PolicyEvent {
                ts_ns,
                cgroup_id,
                len,
                rule_id,
                ip_version,
                protocol,
                action,
                pad,
                sport,
                dport,
                saddr,
                daddr
            }
        ),
    ]
}

fn rust_enums() -> Vec<(&'static str, Vec<u32>)> {
    vec![
        (
            "policy_action",
            vec![Action::Allow as u32, Action::Deny as u32, Action::Flag as u32],
        ),
        (
            "xdp_counter",
            XdpCounter::ALL
                .iter()
                .map(|c| *c as u32)
                .chain([XdpCounter::COUNT])
                .collect(),
        ),
        (
            "tc_counter",
            TcCounter::ALL
                .iter()
                .map(|c| *c as u32)
                .chain([TcCounter::COUNT])
                .collect(),
        ),
        (
            "cg_counter",
            CgCounter::ALL
                .iter()
                .map(|c| *c as u32)
                .chain([CgCounter::COUNT])
                .collect(),
        ),
    ]
}

/// Compiles the shared headers and returns bpftool's JSON dump of the BTF.
fn header_btf() -> Value {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("layout.c");
    let obj = dir.path().join("layout.o");
    let mut c =
        String::from("#include \"xdp_blocklist.h\"\n#include \"tc_egress_policy.h\"\n#include \"cgroup_events.h\"\n");
    for (name, _, _) in rust_structs() {
        c.push_str(&format!("struct {name} v_{name};\n"));
    }
    for (name, _) in rust_enums() {
        c.push_str(&format!("enum {name} e_{name};\n"));
    }
    std::fs::write(&src, c).unwrap();
    let mut clang = Command::new("clang");
    clang.args(["-target", "bpf", "-O2", "-g", "-Wall", "-Werror", "-mcpu=v3", "-c"]);
    clang
        .arg("-I")
        .arg(root.join("include"))
        .args(["-I", "/usr/include/x86_64-linux-gnu"]);
    clang.arg(&src).arg("-o").arg(&obj);
    crate::sys::run_ok(&mut clang, "clang", Duration::from_secs(60)).unwrap();
    let mut bpftool = Command::new("bpftool");
    bpftool.args(["-j", "btf", "dump", "file"]).arg(&obj);
    let out = crate::sys::run_ok(&mut bpftool, "bpftool", Duration::from_secs(30)).unwrap();
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn rust_mirrors_match_the_c_headers() {
    let btf = header_btf();
    let types = btf["types"].as_array().expect("bpftool JSON has types");
    let by_name: HashMap<(&str, &str), &Value> = types
        .iter()
        .filter_map(|t| Some(((t["kind"].as_str()?, t["name"].as_str()?), t)))
        .collect();
    let by_id: HashMap<u64, &Value> = types.iter().map(|t| (t["id"].as_u64().unwrap(), t)).collect();

    let mut mismatches = Vec::new();
    for (name, size, fields) in rust_structs() {
        let Some(t) = by_name.get(&("STRUCT", name)) else {
            mismatches.push(format!("struct {name}: not in the headers"));
            continue;
        };
        if t["size"].as_u64() != Some(size as u64) {
            mismatches.push(format!("struct {name}: C size {}, Rust {size}", t["size"]));
        }
        let c_fields: Vec<(String, u64, u64)> = t["members"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| {
                let name = m["name"].as_str().unwrap().to_string();
                (
                    name,
                    m["bits_offset"].as_u64().unwrap() / 8,
                    btf_size(&by_id, m["type_id"].as_u64().unwrap()),
                )
            })
            .collect();
        let r_fields: Vec<(String, u64, u64)> = fields
            .iter()
            .map(|(f, o, s)| (f.to_string(), *o as u64, *s as u64))
            .collect();
        if c_fields != r_fields {
            mismatches.push(format!("struct {name}: C members {c_fields:?}, Rust {r_fields:?}"));
        }
    }
    for (name, values) in rust_enums() {
        let Some(t) = by_name.get(&("ENUM", name)) else {
            mismatches.push(format!("enum {name}: not in the headers"));
            continue;
        };
        let c_values: Vec<u32> = t["values"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v["val"].as_u64().unwrap() as u32)
            .collect();
        if c_values != values {
            mismatches.push(format!("enum {name}: C values {c_values:?}, Rust {values:?}"));
        }
    }
    assert!(mismatches.is_empty(), "layout differences:\n{}", mismatches.join("\n"));
}

#[test]
fn lpm_keys_have_the_layout_of_ayas_key() {
    assert_eq!(size_of::<aya::maps::lpm_trie::Key<[u8; 4]>>(), size_of::<LpmV4Key>());
    assert_eq!(size_of::<aya::maps::lpm_trie::Key<[u8; 16]>>(), size_of::<LpmV6Key>());
}

#[test]
fn an_event_decodes_from_its_bytes() {
    let mut e = PolicyEvent {
        ip_version: 4,
        dport: 53,
        ..Default::default()
    };
    e.saddr[..4].copy_from_slice(&[10, 0, 0, 1]);
    // SAFETY: PolicyEvent is plain data.
    let bytes = unsafe { std::slice::from_raw_parts(&e as *const _ as *const u8, size_of::<PolicyEvent>()) };
    let back = PolicyEvent::from_bytes(bytes).unwrap();
    assert_eq!(back, e);
    assert_eq!(back.source(), Some("10.0.0.1".parse().unwrap()));
    assert!(PolicyEvent::from_bytes(&bytes[1..]).is_none());
}
