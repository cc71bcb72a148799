//! `orca gen`: the committed nix/generated/ matches configs/, and a hand-built plan shaped like the
//! project's (cells on 5.10, 6.1, 6.12 and 7.2) renders to the golden files the Nix unit tests
//! read (nix/tests/fixtures/). Set ORCA_UPDATE_GOLDEN=1 to rewrite the golden files.

use std::path::{Path, PathBuf};
use std::process::Command;

use orca::plan::{Cell, Expectation, Kernel, Matrix, Mount, Plan, Program, TestSpec, Toolchain, Vm};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn orca(dir: &Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_orca"))
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap()
}

#[test]
fn committed_generated_files_are_in_sync_with_configs() {
    let out = orca(&root(), &["gen", "--check"]);
    assert!(
        out.status.success(),
        "nix/generated/ is stale; run `orca gen` and commit it:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A copy of the project's configs/ in a temporary directory, with nix/generated/ generated.
fn scratch_project() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("configs")).unwrap();
    std::fs::create_dir_all(dir.path().join("ebpf")).unwrap();
    for e in std::fs::read_dir(root().join("configs")).unwrap().flatten() {
        std::fs::copy(e.path(), dir.path().join("configs").join(e.file_name())).unwrap();
    }
    let out = orca(dir.path(), &["gen"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    dir
}

#[test]
fn check_fails_with_a_diff_when_stale_and_gen_repairs_it() {
    let dir = scratch_project();
    let toolchain = dir.path().join("nix/generated/toolchain.json");
    let good = std::fs::read_to_string(&toolchain).unwrap();
    std::fs::write(&toolchain, good.replace("\"target\": \"bpf\"", "\"target\": \"bpfel\"")).unwrap();

    let out = orca(dir.path(), &["gen", "--check"]);
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    let diff = String::from_utf8_lossy(&out.stdout);
    assert!(diff.contains("--- a/nix/generated/toolchain.json"), "{diff}");
    assert!(diff.contains("-  \"target\": \"bpfel\""), "{diff}");
    assert!(diff.contains("+  \"target\": \"bpf\""), "{diff}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("run `orca gen`"));

    assert!(orca(dir.path(), &["gen"]).status.success());
    assert_eq!(std::fs::read_to_string(&toolchain).unwrap(), good);
    assert_eq!(orca(dir.path(), &["gen", "--check"]).status.code(), Some(0));
}

#[test]
fn check_reports_missing_files() {
    let dir = scratch_project();
    std::fs::remove_file(dir.path().join("nix/generated/matrix.json")).unwrap();
    let out = orca(dir.path(), &["gen", "--check"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains("+++ b/nix/generated/matrix.json"));
}

/// The project's matrix command: the firewall's suite binary, writing JUnit the matrix collects.
const SUITE: &str = "target/release/firewall-suite --objects build/ebpf --junit build/test-results/suite.xml";

fn project_like_plan() -> Plan {
    let kernel = |v: &str, attr: Option<&str>| Kernel {
        version: v.into(),
        release: None,
        sources: vec![],
        nixpkgs: attr.map(String::from),
    };
    let cell = |k: &str| Cell {
        id: format!("kernel-{k}/0"),
        name: format!("kernel-{k}"),
        image: "host".into(),
        kernel: k.into(),
        command: SUITE.into(),
        unavailable: None,
    };
    let program = |name: &str| Program {
        name: name.into(),
        source: format!("ebpf/{name}.c").into(),
        object: format!("build/ebpf/{name}.o").into(),
        cflags: vec![],
    };
    Plan {
        toolchain: Some(Toolchain {
            clang_major: 14,
            clang: None,
            clang_sha256: None,
            target: "bpf".into(),
            cflags: ["-O2", "-g", "-Wall", "-Werror", "-mcpu=v3"].map(String::from).to_vec(),
            include_dirs: vec!["ebpf/include".into(), "/usr/include/x86_64-linux-gnu".into()],
            out_dir: "build/ebpf".into(),
        }),
        programs: vec![
            program("xdp_blocklist"),
            program("tc_egress_policy"),
            program("cgroup_events"),
        ],
        kernels: vec![
            kernel("5.10", Some("linuxPackages_5_10")),
            kernel("6.1", Some("linuxPackages_6_1")),
            kernel("6.12", Some("linuxPackages_6_12")),
            kernel("7.2", None),
        ],
        matrix: Some(Matrix {
            file: "configs/ebpf-test-matrix.hcl".into(),
            test: TestSpec {
                results: vec!["build/test-results/*.xml".into()],
                cache: true,
                parallel: true,
                timeout_secs: 600,
                commands: vec![SUITE.into()],
                vm: Some("ebpf-test".into()),
                expectations: vec![Expectation {
                    test: "cgroup_events/*".into(),
                    min_kernel: "5.17".into(),
                    reason: Some("uses bpf_loop".into()),
                }],
            },
            cells: ["5.10", "6.1", "6.12", "7.2"].map(cell).to_vec(),
        }),
        vms: vec![Vm {
            name: "ebpf-test".into(),
            file: "configs/ebpf-test.hcl".into(),
            image: "host".into(),
            kernel: None,
            cpus: 2,
            memory_mib: 1024,
            disk_mib: None,
            mounts: vec![Mount::Share {
                source: ".".into(),
                destination: "/firewall".into(),
                readonly: false,
            }],
            provision: vec![],
            artifacts: vec![],
            network: false,
            modules: vec!["veth".into(), "sch_ingress".into(), "cls_bpf".into()],
            workdir: None,
        }],
        ..Plan::default()
    }
}

#[test]
fn project_like_plan_renders_the_golden_files() {
    let files = orca::nix::generate::render(&project_like_plan()).unwrap();
    let golden = root().join("nix/tests/fixtures");
    let update = std::env::var_os("ORCA_UPDATE_GOLDEN").is_some();
    for f in files {
        let path = golden.join(f.path.file_name().unwrap());
        if update {
            std::fs::create_dir_all(&golden).unwrap();
            std::fs::write(&path, &f.contents).unwrap();
        }
        let want = std::fs::read_to_string(&path).unwrap_or_default();
        assert_eq!(
            f.contents,
            want,
            "{} differs; rerun with ORCA_UPDATE_GOLDEN=1 if intended",
            path.display()
        );
    }
}
