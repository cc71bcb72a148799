//! orca's in-process DWARF strip against `llvm-strip -g`, on objects the real clang builds from
//! the fixtures and from the project's own ebpf/ programs.

mod build_support;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use object::{Object as _, ObjectSection as _, ObjectSymbol as _};

/// clang 19 (the project's pin) and its llvm-strip.
const CLANG: &str = "clang-19";
const LLVM_STRIP: &str = "llvm-strip-19";

fn compile(dir: &Path, source: &str, includes: &[&str]) -> Vec<u8> {
    let out = tempfile::tempdir().unwrap();
    let obj = out.path().join("x.o");
    let mut c = Command::new(CLANG);
    c.args([
        "-target",
        "bpf",
        "-O2",
        "-g",
        "-mcpu=v3",
        "-I/usr/include/x86_64-linux-gnu",
    ])
    .current_dir(dir);
    for i in includes {
        c.arg(format!("-I{i}"));
    }
    let st = c.arg("-c").arg(source).arg("-o").arg(&obj).status().unwrap();
    assert!(st.success(), "clang failed on {source}");
    std::fs::read(obj).unwrap()
}

fn llvm_strip(raw: &[u8]) -> Vec<u8> {
    let d = tempfile::tempdir().unwrap();
    std::fs::write(d.path().join("in.o"), raw).unwrap();
    let st = Command::new(LLVM_STRIP)
        .arg("-g")
        .arg(d.path().join("in.o"))
        .arg("-o")
        .arg(d.path().join("out.o"))
        .status();
    assert!(st.unwrap().success());
    std::fs::read(d.path().join("out.o")).unwrap()
}

/// Everything that matters in an object, by name: section contents (relocations resolved to
/// symbol names), symbols.
fn describe(bytes: &[u8]) -> BTreeMap<String, String> {
    let f = object::File::parse(bytes).unwrap();
    let mut m = BTreeMap::new();
    for s in f.sections() {
        let name = s.name().unwrap().to_string();
        if name.is_empty() || name == ".llvm_addrsig" || name == ".strtab" || name == ".symtab" {
            continue;
        }
        m.insert(
            format!("section {name}"),
            format!("{:?} align {}", s.data().unwrap(), s.align()),
        );
        let relocs: Vec<String> = s
            .relocations()
            .map(|(off, r)| {
                let target = match r.target() {
                    object::RelocationTarget::Symbol(i) => f.symbol_by_index(i).unwrap().name().unwrap().to_string(),
                    other => format!("{other:?}"),
                };
                format!("{off}:{:?}:{target}", r.flags())
            })
            .collect();
        if !relocs.is_empty() {
            m.insert(format!("relocations {name}"), relocs.join(" "));
        }
    }
    for sym in f.symbols() {
        let section = sym
            .section_index()
            .map(|i| f.section_by_index(i).unwrap().name().unwrap().to_string());
        m.insert(
            format!("symbol {} {:?}", sym.name().unwrap(), section),
            format!("{:?} {:?} {} {}", sym.kind(), sym.scope(), sym.address(), sym.size()),
        );
    }
    m
}

fn check(raw: &[u8], what: &str) -> Vec<u8> {
    let ours = orca::build::strip::strip_debug(raw).unwrap_or_else(|e| panic!("{what}: {e}"));
    let theirs = llvm_strip(raw);
    assert_eq!(describe(&ours), describe(&theirs), "{what}: differs from llvm-strip -g");
    // Within a few hundred bytes: the names of the removed sections stay in .strtab.
    assert!(ours.len() < raw.len(), "{what}: nothing removed");
    assert!(
        ours.len() <= theirs.len() + 256,
        "{what}: {} bytes, llvm-strip {}",
        ours.len(),
        theirs.len()
    );
    eprintln!(
        "{what}: {} -> {} bytes (llvm-strip -g: {})",
        raw.len(),
        ours.len(),
        theirs.len()
    );
    assert!(describe(&ours).keys().all(|k| !k.contains(".debug_")), "{what}");
    orca::build::validate::validate(&ours).unwrap_or_else(|e| panic!("{what}: {e}"));
    assert_eq!(
        orca::build::strip::strip_debug(raw).unwrap(),
        ours,
        "{what}: deterministic"
    );
    ours
}

#[test]
fn strips_like_llvm_strip_on_the_fixtures() {
    let root = build_support::fixtures().join("ebpf-basic");
    for src in ["ebpf/xdp_count.c", "ebpf/tc_mark.c", "ebpf/cg_events.c"] {
        check(&compile(&root, src, &["ebpf/include"]), src);
    }
}

#[test]
fn strips_like_llvm_strip_on_the_project_programs() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let sources: Vec<_> = std::fs::read_dir(root.join("ebpf"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".c"))
        .collect();
    assert!(!sources.is_empty(), "the project has eBPF programs in ebpf/");
    for s in sources {
        let src = format!("ebpf/{s}");
        check(&compile(root, &src, &["ebpf/include"]), &src);
    }
}

#[test]
fn an_object_without_dwarf_is_unchanged_but_for_addrsig() {
    let root = build_support::fixtures().join("ebpf-invalid");
    let dir = tempfile::tempdir().unwrap();
    let obj = dir.path().join("x.o");
    let st = Command::new(CLANG)
        .args([
            "-target",
            "bpf",
            "-O2",
            "-I/usr/include/x86_64-linux-gnu",
            "-c",
            "ebpf/plain_xdp.c",
            "-o",
        ])
        .arg(&obj)
        .current_dir(&root)
        .status()
        .unwrap();
    assert!(st.success());
    let raw = std::fs::read(&obj).unwrap();
    let ours = orca::build::strip::strip_debug(&raw).unwrap();
    assert_eq!(describe(&ours), describe(&llvm_strip(&raw)));
}

/// The final proof: the kernel's verifier accepts what `orca build` wrote (stripped, staged),
/// loaded with libbpf through `bpftool prog loadall`. Needs root, bpftool and a bpffs at
/// /sys/fs/bpf; without them it says why and does nothing.
#[test]
fn built_objects_load_into_the_running_kernel() {
    let bpffs = std::fs::read_to_string("/proc/mounts")
        .unwrap_or_default()
        .lines()
        .any(|l| l.contains(" /sys/fs/bpf bpf "));
    let root = unsafe { libc::geteuid() } == 0;
    let bpftool = Command::new("bpftool")
        .arg("version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !(bpffs && root && bpftool) {
        orca::ci::skip_or_fail(format!(
            "loading the objects needs root ({root}), bpftool ({bpftool}) and a bpffs at /sys/fs/bpf ({bpffs})"
        ));
        return;
    }
    let p = build_support::Project::new("ebpf-basic", "proj");
    p.build(&[]);
    for name in p.objects().keys() {
        let pin = format!(
            "/sys/fs/bpf/orca-test-{}-{}",
            std::process::id(),
            name.trim_end_matches(".o")
        );
        let out = Command::new("bpftool")
            .args(["prog", "loadall"])
            .arg(p.root.join("build/ebpf").join(name))
            .arg(&pin)
            .output()
            .unwrap();
        // Unpinning unloads them: nothing stays in the kernel.
        let _ = std::fs::remove_dir_all(&pin);
        assert!(out.status.success(), "{name}: {}", String::from_utf8_lossy(&out.stderr));
    }
}
