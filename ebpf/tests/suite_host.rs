//! `firewall-suite` on the host's own kernel: the objects built with the real clang, loaded, attached
//! and exercised for real. Needs root (BPF, namespaces, cgroups); without it these tests say why
//! and return, except under CI=true where that is a failure.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use serde_json::Value;

const PROGRAMS: [&str; 3] = ["xdp_blocklist", "tc_egress_policy", "cgroup_events"];

/// The firewall crate's folder (`ebpf/`): the C sources and their headers.
fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    if !root {
        let missing = "not root, and the suite loads BPF programs";
        assert!(!firewall::sys::ci_enabled(), "CI is set, so nothing may be skipped, but {missing}");
        eprintln!("skipped: {missing}");
    }
    root
}

/// The pinned clang when installed, else the default one.
fn clang() -> &'static str {
    if Path::new("/usr/bin/clang-19").exists() {
        "clang-19"
    } else {
        "clang"
    }
}

/// Compiles `programs` from `src` (a copy of ebpf/ or ebpf/ itself) into `out`.
fn build(src: &Path, out: &Path, programs: &[&str]) {
    for p in programs {
        let mut cmd = Command::new(clang());
        cmd.args(["-target", "bpf", "-O2", "-g", "-Wall", "-Werror", "-mcpu=v3", "-c"])
            .arg("-I")
            .arg(root().join("include"))
            .args(["-I", "/usr/include/x86_64-linux-gnu"])
            .arg(src.join(format!("{p}.c")))
            .arg("-o")
            .arg(out.join(format!("{p}.o")));
        firewall::sys::run_ok(&mut cmd, "clang", Duration::from_secs(120)).unwrap();
    }
}

fn suite(objects: &Path, args: &[&str]) -> (Option<i32>, String, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_firewall-suite"));
    cmd.arg("--objects").arg(objects).args(args);
    let out = firewall::sys::run(&mut cmd, "firewall-suite", Duration::from_secs(300)).unwrap();
    (out.status.code(), out.stdout_str(), out.stderr_str())
}

fn tests_of(json: &str) -> Vec<Value> {
    let v: Value = serde_json::from_str(json).unwrap_or_else(|e| panic!("not JSON ({e}): {json}"));
    v["tests"].as_array().unwrap().clone()
}

#[test]
fn the_test_names_are_stable() {
    let (code, stdout, stderr) = suite(Path::new("build/ebpf"), &["--list"]);
    assert_eq!(code, Some(0), "{stderr}");
    let expected = "\
xdp_blocklist/load xdp_blocklist/ipv4_blocked xdp_blocklist/ipv4_allowed xdp_blocklist/ipv6_blocked \
xdp_blocklist/ipv6_allowed xdp_blocklist/vlan_single xdp_blocklist/vlan_double xdp_blocklist/vlan_too_deep \
xdp_blocklist/truncated xdp_blocklist/non_ip xdp_blocklist/live_veth \
tc_egress_policy/load tc_egress_policy/tcp_deny tc_egress_policy/udp_allow tc_egress_policy/ipv6 \
tc_egress_policy/default_action tc_egress_policy/vlan tc_egress_policy/no_ports tc_egress_policy/truncated \
tc_egress_policy/live_veth \
cgroup_events/load cgroup_events/accounting cgroup_events/deny cgroup_events/flag cgroup_events/ringbuf_events \
cgroup_events/rate_limit cgroup_events/live_cgroup";
    assert_eq!(
        stdout.split_whitespace().collect::<Vec<_>>(),
        expected.split(' ').collect::<Vec<_>>()
    );

    let (_, filtered, _) = suite(Path::new("build/ebpf"), &["--list", "--test", "cgroup_events/*"]);
    assert_eq!(filtered.lines().count(), 7, "{filtered}");
}

#[test]
fn every_test_passes_on_the_host_kernel() {
    if !is_root() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    build(&root(), dir.path(), &PROGRAMS);
    let junit = dir.path().join("results/suite.xml");
    let (code, stdout, stderr) = suite(dir.path(), &["--json", "--junit", junit.to_str().unwrap()]);
    let tests = tests_of(&stdout);
    let failed: Vec<&Value> = tests.iter().filter(|t| t["outcome"] != "pass").collect();
    assert!(failed.is_empty(), "not passed: {failed:#?}\n{stderr}");
    assert_eq!(code, Some(0));
    assert_eq!(tests.len(), 27);
    for t in &tests {
        assert!(t["duration_ms"].is_u64() && t["message"].is_string(), "{t}");
    }
    // The JUnit file says the same: 27 passing testcases with the same names.
    let xml = std::fs::read_to_string(&junit).unwrap();
    let report = quick_junit::Report::deserialize_from_str(&xml).unwrap();
    assert_eq!((report.tests, report.failures, report.errors), (27, 0, 0), "{xml}");
    let names: Vec<&str> = report.test_suites[0].test_cases.iter().map(|c| c.name.as_str()).collect();
    let json_names: Vec<&str> = tests.iter().map(|t| t["name"].as_str().unwrap()).collect();
    assert_eq!(names, json_names);
    // The private cgroup is gone: any `orca-suite-<pid>` left belongs to a suite still running.
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    let cgroup2 = mountinfo.lines().find_map(|l| {
        let (left, right) = l.split_once(" - ")?;
        right
            .starts_with("cgroup2 ")
            .then(|| left.split_whitespace().nth(4).unwrap().to_string())
    });
    if let Some(root) = cgroup2 {
        for e in std::fs::read_dir(root).unwrap().flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if let Some(pid) = name.strip_prefix("orca-suite-") {
                assert!(
                    Path::new("/proc").join(pid).exists(),
                    "{name} left behind by a finished run"
                );
            }
        }
    }
}

#[test]
fn a_program_the_verifier_refuses_fails_its_tests_with_the_log() {
    if !is_root() {
        return;
    }
    let src = tempfile::tempdir().unwrap();
    let out = tempfile::tempdir().unwrap();
    // Without this bounds check the IPv6 header is read past what the verifier knows is there.
    let text = std::fs::read_to_string(root().join("xdp_blocklist.c")).unwrap();
    let check = "\tif ((void *)(ip6 + 1) > data_end)\n\t\treturn verdict(XDP_CNT_MALFORMED, len, XDP_DROP);\n";
    assert!(text.contains(check), "the fixture's bounds check moved");
    std::fs::write(src.path().join("xdp_blocklist.c"), text.replacen(check, "", 1)).unwrap();
    build(src.path(), out.path(), &["xdp_blocklist"]);

    let junit = out.path().join("suite.xml");
    let (code, stdout, _) = suite(
        out.path(),
        &["--json", "--test", "xdp_blocklist/*", "--junit", junit.to_str().unwrap()],
    );
    assert_eq!(code, Some(1));
    // In JUnit the verifier log is the failure's text.
    let xml = std::fs::read_to_string(&junit).unwrap();
    let report = quick_junit::Report::deserialize_from_str(&xml).unwrap();
    match &report.test_suites[0].test_cases[0].status {
        quick_junit::TestCaseStatus::NonSuccess { description, .. } => {
            assert!(description.as_ref().unwrap().as_str().contains("outside of the packet"), "{xml}")
        }
        other => panic!("the load should fail: {other:?}"),
    }
    let tests = tests_of(&stdout);
    assert_eq!(tests[0]["name"], "xdp_blocklist/load");
    assert_eq!(tests[0]["outcome"], "fail");
    let log = tests[0]["verifier_log"].as_str().expect("a verifier log");
    assert!(log.contains("outside of the packet"), "{log}");
    assert!(tests[0]["message"].as_str().unwrap().contains("outside of the packet"));
    for t in &tests[1..] {
        assert_eq!(t["outcome"], "fail", "{t}");
        assert!(
            t["message"]
                .as_str()
                .unwrap()
                .starts_with("not run: the program did not load"),
            "{t}"
        );
    }
}

#[test]
fn a_missing_object_fails_only_its_own_program() {
    if !is_root() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    build(&root(), dir.path(), &["xdp_blocklist"]);
    let (code, stdout, _) = suite(
        dir.path(),
        &["--json", "--test", "xdp_blocklist/ipv4*", "--test", "cgroup_events/*"],
    );
    assert_eq!(code, Some(1));
    for t in tests_of(&stdout) {
        let name = t["name"].as_str().unwrap();
        if name.starts_with("xdp_blocklist/") {
            assert_eq!(t["outcome"], "pass", "{t}");
        } else {
            assert_eq!(t["outcome"], "fail", "{t}");
            assert!(t["message"].as_str().unwrap().contains("orca build"), "{t}");
        }
    }
}

#[test]
fn bench_measures_every_case_on_its_own_path() {
    if !is_root() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    build(&root(), dir.path(), &["xdp_blocklist", "tc_egress_policy"]);
    let (code, stdout, stderr) = suite(dir.path(), &["--bench", "--repeat", "1000"]);
    assert_eq!(code, Some(0), "{stderr}");
    let v: Value = serde_json::from_str(&stdout).unwrap();
    let cases = v["cases"].as_array().unwrap();
    assert_eq!(cases.len(), 9, "{v:#}");
    for c in cases {
        assert!(c["ns_per_packet"].as_u64().unwrap() > 0, "{c}");
        assert!(c["packets_per_second"].as_u64().unwrap() > 0, "{c}");
    }
}
