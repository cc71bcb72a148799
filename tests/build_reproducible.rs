//! Reproducibility with the real clang: the same sources give the same bytes wherever, whenever
//! and by whomever they are built.

mod build_support;

use build_support::{Project, text};

/// Clones at paths of different lengths. (clang 19 orders BTF types by heap address, and the
/// checkout's path length moves the heap: without orca's fixed-length stage, some of these differ.)
#[test]
fn clones_at_different_paths_give_identical_objects() {
    let clones = [
        Project::new("ebpf-basic", "a"),
        Project::new(
            "ebpf-basic",
            "run-12345/repro-b-abcdef/a/much/longer/path/to/another/checkout",
        ),
        Project::new("ebpf-basic", "src/firewall"),
        Project::new("ebpf-basic", "home/someone-else/work/projects/2024/x"),
    ];
    clones[0].build(&[]);
    let expected = clones[0].objects();
    assert_eq!(expected.len(), 3);
    // A different time, time zone, locale, epoch and environment for the others.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    for b in &clones[1..] {
        let out = b
            .command(&["build"])
            .env("TZ", "NZST-12")
            .env("SOURCE_DATE_EPOCH", "1700000000")
            .env("LC_ALL", "de_DE.UTF-8")
            .env("CPATH", "/nonexistent/include")
            .env("TMPDIR", b.root.join("tmp"))
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", text(&out.stderr));
        assert_eq!(b.objects(), expected, "built in {}", b.root.display());
    }

    // No trace of any checkout's path in any object.
    for p in &clones {
        for name in expected.keys() {
            let bytes = std::fs::read(p.root.join("build/ebpf").join(name)).unwrap();
            let root = p.root.display().to_string();
            assert!(!contains(&bytes, root.as_bytes()), "{name} names {root}");
            assert!(!contains(&bytes, b"/tmp"), "{name} names a temporary path");
        }
    }
}

#[test]
fn objects_keep_btf_and_lose_dwarf() {
    let p = Project::new("ebpf-basic", "proj");
    p.build(&[]);
    let bytes = std::fs::read(p.root.join("build/ebpf/xdp_count.o")).unwrap();
    use object::{Object as _, ObjectSection as _};
    let elf = object::File::parse(&*bytes).unwrap();
    let names: Vec<&str> = elf.sections().filter_map(|s| s.name().ok()).collect();
    assert!(names.contains(&".BTF") && names.contains(&".BTF.ext"), "{names:?}");
    assert!(
        !names
            .iter()
            .any(|n| n.starts_with(".debug_info") || n.starts_with(".debug_str")),
        "{names:?}"
    );
    assert!(!names.contains(&".comment"), "-fno-ident: {names:?}");
}

#[test]
fn verify_reproducible_builds_twice_and_compares() {
    let p = Project::new("ebpf-basic", "proj");
    let out = p.orca(&["build", "--verify-reproducible", "--json"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["reproducible"], true);
    let programs = v["programs"].as_array().unwrap();
    assert_eq!(programs.len(), 3);
    for c in programs {
        assert_eq!(c["identical"], true);
        assert_eq!(c["sha256"][0], c["sha256"][1]);
    }
    assert!(!p.root.join("build").exists(), "the project's own tree is not touched");
}

#[test]
fn differing_objects_are_told_apart_by_section() {
    // Two real objects that differ only in a map's size.
    let dir = tempfile::tempdir().unwrap();
    let compile = |slots: u32| {
        let src = dir.path().join(format!("m{slots}.c"));
        std::fs::write(
            &src,
            format!(
                "#include <linux/bpf.h>\n#include <bpf/bpf_helpers.h>\n\
                 struct {{ __uint(type, BPF_MAP_TYPE_ARRAY); __uint(max_entries, {slots}); __type(key, __u32); __type(value, __u32); }} m SEC(\".maps\");\n\
                 SEC(\"xdp\") int f(struct xdp_md *c) {{ return bpf_map_lookup_elem(&m, &(__u32){{0}}) ? 2 : 1; }}\n\
                 char LICENSE[] SEC(\"license\") = \"GPL\";\n"
            ),
        )
        .unwrap();
        let obj = dir.path().join(format!("m{slots}.o"));
        let st = std::process::Command::new("clang-19")
            .args(["-target", "bpf", "-O2", "-g", "-I/usr/include/x86_64-linux-gnu", "-c"])
            .arg(&src)
            .arg("-o")
            .arg(&obj)
            .status()
            .unwrap();
        assert!(st.success());
        std::fs::read(obj).unwrap()
    };
    let (a, b) = (compile(4), compile(8));
    let diff = orca::build::reproducible::differing_sections(&a, &b);
    assert!(diff.iter().any(|s| s == ".BTF"), "{diff:?}");
    assert!(!diff.iter().any(|s| s == "xdp"), "the code is the same: {diff:?}");
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}
