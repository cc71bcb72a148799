//! The project's own matrix on the real kernels of its catalog, booted in QEMU (TCG here), with
//! the real suite and the real verifier. Slow: a cell takes 15-40 s under TCG on 2 cores.
//!
//! - the whole matrix, cold: every cell runs, 5.10 shows cgroup_events as expected failures with
//!   the verifier's reason, the JUnit has one suite per kernel (host-root cells are never cached);
//! - a program broken on purpose (a removed bounds check the verifier rejects), in a copy of the
//!   project, on one kernel: its tests go red, the others stay green, the log is in the JUnit;
//! - a cell whose timeout is shorter than a boot: an infrastructure error (exit 3), guest killed;
//! - a cell whose first boot hangs (the test-only `ORCA_TEST_FIRST_BOOT=hang`): booted once more,
//!   passes, and is marked flaky with the first console's tail in the table, JSON and JUnit;
//! - a command that panics the guest (`echo c > /proc/sysrq-trigger`): the test's failure (exit
//!   1), not retried.
//!
//! With `CI=true` nothing here is skipped; otherwise a missing QEMU skips with a message.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Mutex;

use serde_json::Value;

/// One matrix at a time: two at once would share 2 cores and stretch every deadline.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

fn in_ci() -> bool {
    orca::ci::enabled()
}

/// Why this host cannot run the test, if it cannot.
fn missing_prerequisite() -> Option<String> {
    let found = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).any(|d| d.join("qemu-system-x86_64").is_file()))
        .unwrap_or(false);
    (!found).then(|| "qemu-system-x86_64 is not installed (run .ci/setup)".to_string())
}

/// False (after saying why) when the test must be skipped; panics instead under CI.
fn can_run(test: &str) -> bool {
    match missing_prerequisite() {
        None => true,
        Some(why) if in_ci() => panic!("{test}: CI=true and {why}"),
        Some(why) => {
            eprintln!("SKIPPED {test}: {why}");
            false
        }
    }
}

fn orca(dir: &Path, args: &[&str]) -> Output {
    let out = Command::new(env!("CARGO_BIN_EXE_orca"))
        .args(args)
        .current_dir(dir)
        .env("CI", "true")
        .output()
        .expect("orca runs");
    eprintln!("$ orca {}\n{}", args.join(" "), String::from_utf8_lossy(&out.stderr));
    out
}

fn read_json(p: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
}

fn scratch(name: &str) -> PathBuf {
    let d = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn tests_of<'a>(cell: &'a Value, prefix: &str) -> Vec<&'a Value> {
    cell["tests"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["name"].as_str().unwrap().starts_with(prefix))
        .collect()
}

#[test]
fn the_project_matrix_on_every_kernel() {
    if !can_run("the_project_matrix_on_every_kernel") {
        return;
    }
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = scratch("matrix-full");
    let (junit, json) = (out.join("junit.xml"), out.join("results.json"));
    let cold = orca(
        root,
        &[
            "matrix",
            "run",
            "--no-cache",
            "--junit",
            junit.to_str().unwrap(),
            "--json",
            json.to_str().unwrap(),
        ],
    );
    let table = String::from_utf8_lossy(&cold.stdout);
    println!("{table}");
    assert_eq!(
        cold.status.code(),
        Some(0),
        "the project's matrix matches its expectations"
    );

    let report = read_json(&json);
    let cells = report["cells"].as_array().unwrap();
    let kernels: Vec<&str> = cells.iter().map(|c| c["kernel"].as_str().unwrap()).collect();
    assert_eq!(kernels, ["5.10", "6.1", "6.12", "7.2"]);
    for c in cells {
        assert_eq!(c["outcome"], "pass", "cell {}: {c:#}", c["id"]);
        assert_eq!(c["cached"], false);
        assert!(
            c["tests"].as_array().unwrap().len() > 10,
            "cell {} reported the suite's testcases through its JUnit results",
            c["id"]
        );
        assert!(
            c["release"]
                .as_str()
                .unwrap()
                .starts_with(c["kernel"].as_str().unwrap()),
            "{c:#}"
        );
    }
    // 5.10 has no bpf_loop: cgroup_events fails to load there, as the matrix expects.
    let old = tests_of(&cells[0], "cgroup_events/");
    assert!(!old.is_empty());
    for t in &old {
        assert_eq!(t["outcome"], "expected-fail", "{t:#}");
        assert!(
            t["expectation"].as_str().unwrap().starts_with("needs kernel >= "),
            "{t:#}"
        );
    }
    let load = old
        .iter()
        .find(|t| t["name"] == "cgroup_events/load")
        .expect("a load test");
    let log = load["log"].as_str().expect("the verifier's log is kept");
    // An old verifier refuses a helper it does not know.
    assert!(log.contains("invalid func") || log.contains("unknown func"), "{log}");
    for c in &cells[1..] {
        assert!(
            tests_of(c, "cgroup_events/").iter().all(|t| t["outcome"] == "pass"),
            "{c:#}"
        );
    }
    assert!(table.contains("xfail"), "{table}");

    let xml = std::fs::read_to_string(&junit).unwrap();
    let parsed = quick_junit::Report::deserialize_from_str(&xml).unwrap();
    let suites: Vec<&str> = parsed.test_suites.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(suites, ["kernel 5.10", "kernel 6.1", "kernel 6.12", "kernel 7.2"]);
    for (s, c) in parsed.test_suites.iter().zip(cells) {
        assert_eq!(s.test_cases.len(), c["tests"].as_array().unwrap().len());
        assert_eq!(s.failures + s.errors, 0);
    }

    let _ = std::fs::remove_dir_all(&out);
}

/// Copies what a project is made of (specs and sources) into `dest`.
fn copy_project(from: &Path, dest: &Path) {
    // The matrix runs the firewall's suite binary from the project's target/release.
    let bin = from.join("target/release/firewall-suite");
    assert!(bin.is_file(), "{} is built by `cargo test --workspace`", bin.display());
    std::fs::create_dir_all(dest.join("target/release")).unwrap();
    std::fs::copy(&bin, dest.join("target/release/firewall-suite")).unwrap();
    for dir in ["configs", "ebpf"] {
        let status = Command::new("cp")
            .arg("-a")
            .arg(from.join(dir))
            .arg(dest)
            .status()
            .unwrap();
        assert!(status.success());
    }
}

#[test]
fn a_program_broken_on_purpose_turns_its_tests_red() {
    if !can_run("a_program_broken_on_purpose_turns_its_tests_red") {
        return;
    }
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let project = scratch("matrix-broken");
    copy_project(Path::new(env!("CARGO_MANIFEST_DIR")), &project);
    // Drop the IPv4 header's bounds check: clang is happy, the verifier is not.
    let src = project.join("ebpf/xdp_blocklist.c");
    let code = std::fs::read_to_string(&src).unwrap();
    let check = "\tif ((void *)(ip + 1) > data_end)\n\t\treturn verdict(XDP_CNT_MALFORMED, len, XDP_DROP);\n";
    assert!(
        code.contains(check),
        "the bounds check this test removes is no longer in xdp_blocklist.c"
    );
    std::fs::write(&src, code.replacen(check, "", 1)).unwrap();

    let (junit, json) = (project.join("junit.xml"), project.join("results.json"));
    let run = orca(
        &project,
        &[
            "matrix",
            "run",
            "--kernel",
            "6.12",
            "--no-cache",
            "--junit",
            "junit.xml",
            "--json",
            "results.json",
        ],
    );
    println!("{}", String::from_utf8_lossy(&run.stdout));
    assert_eq!(run.status.code(), Some(1), "a failing test fails the run");

    let report = read_json(&json);
    let cells = report["cells"].as_array().unwrap();
    assert_eq!(cells.len(), 1);
    assert_eq!(cells[0]["outcome"], "fail");
    let xdp = tests_of(&cells[0], "xdp_blocklist/");
    assert!(
        !xdp.is_empty() && xdp.iter().all(|t| t["outcome"] == "fail"),
        "{xdp:#?}"
    );
    let load = xdp.iter().find(|t| t["name"] == "xdp_blocklist/load").unwrap();
    let log = load["log"].as_str().expect("the verifier log is kept");
    assert!(
        log.contains("invalid access to packet") || log.contains("outside of the packet"),
        "{log}"
    );
    for other in ["tc_egress_policy/", "cgroup_events/"] {
        assert!(
            tests_of(&cells[0], other).iter().all(|t| t["outcome"] == "pass"),
            "{other} stays green"
        );
    }

    let xml = std::fs::read_to_string(&junit).unwrap();
    let parsed = quick_junit::Report::deserialize_from_str(&xml).unwrap();
    assert_eq!(parsed.test_suites.len(), 1);
    let case = parsed.test_suites[0]
        .test_cases
        .iter()
        .find(|c| c.name.as_str() == "xdp_blocklist/load")
        .unwrap();
    match &case.status {
        quick_junit::TestCaseStatus::NonSuccess { description, .. } => {
            assert!(
                description
                    .as_ref()
                    .unwrap()
                    .as_str()
                    .contains(log.lines().last().unwrap()),
                "the JUnit failure carries the verifier log"
            );
        }
        other => panic!("xdp_blocklist/load should fail in the JUnit: {other:?}"),
    }
    let _ = std::fs::remove_dir_all(&project);
}

#[test]
fn a_cell_past_its_deadline_is_an_infrastructure_error() {
    if !can_run("a_cell_past_its_deadline_is_an_infrastructure_error") {
        return;
    }
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let project = scratch("matrix-deadline");
    copy_project(Path::new(env!("CARGO_MANIFEST_DIR")), &project);
    // 1 s (6 s under TCG) is less than a boot and a command that sleeps a minute need. (The suite
    // alone no longer serves: a boot plus the suite can finish within 6 s under TCG.)
    let matrix = project.join("configs/ebpf-test-matrix.hcl");
    let text = std::fs::read_to_string(&matrix).unwrap();
    let commands = text
        .lines()
        .find(|l| l.trim_start().starts_with("commands"))
        .expect("the test has commands")
        .to_string();
    let text = text.replacen(&commands, "  commands = [\"sleep 60\"]", 1);
    assert!(text.contains("sleep 60"), "the matrix's command changed: {text}");
    let timeout = text
        .lines()
        .find(|l| l.trim_start().starts_with("timeout"))
        .expect("the test has a timeout")
        .to_string();
    std::fs::write(&matrix, text.replacen(&timeout, "  timeout = \"1s\"", 1)).unwrap();

    let run = orca(
        &project,
        &[
            "matrix",
            "run",
            "--kernel",
            "6.12",
            "--no-cache",
            "--json",
            "results.json",
        ],
    );
    assert_eq!(
        run.status.code(),
        Some(3),
        "a passed deadline is an infrastructure failure"
    );
    let report = read_json(&project.join("results.json"));
    let cell = &report["cells"][0];
    assert_eq!(cell["outcome"], "error");
    assert!(
        cell["message"].as_str().unwrap().contains("passed its deadline"),
        "{cell:#}"
    );
    let _ = std::fs::remove_dir_all(&project);
}

/// A copy of the project whose matrix runs `command` on kernel 6.12 in the 2-vCPU test VM.
fn one_command_matrix(name: &str, command: &str) -> PathBuf {
    let project = scratch(name);
    copy_project(Path::new(env!("CARGO_MANIFEST_DIR")), &project);
    let spec = format!(
        "schema_version = \"1.0\"\n\
         test_matrix = [{{ name = \"6.12\", image = \"host\", kernel_version = \"6.12\" }}]\n\
         test {{\n  timeout = \"10m\"\n  vm = \"ebpf-test\"\n  commands = [{command:?}]\n}}\n"
    );
    std::fs::write(project.join("configs/one.hcl"), spec).unwrap();
    project
}

#[test]
fn a_first_boot_that_hangs_is_booted_again_and_the_cell_passes_as_flaky() {
    if !can_run("a_first_boot_that_hangs_is_booted_again_and_the_cell_passes_as_flaky") {
        return;
    }
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let project = one_command_matrix("matrix-flaky", "uname -r");
    // The test-only knob: the guest's init stops before the agent on the first boot only.
    let out = Command::new(env!("CARGO_BIN_EXE_orca"))
        .args(["matrix", "run", "configs/one.hcl", "--no-cache"])
        .args(["--json", "results.json", "--junit", "junit.xml"])
        .current_dir(&project)
        .env("CI", "true")
        .env("ORCA_TEST_FIRST_BOOT", "hang")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    let table = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "a flaky pass passes:\n{table}\n{err}");
    assert_eq!(err.matches("booting once more").count(), 1, "{err}");
    assert!(err.contains("(first try: exit 124)"), "{err}");
    assert!(table.contains("flaky — ran on a second boot; first boot failed (exit 124)"), "{table}");
    assert!(table.contains("orca_test_hang: stopping here"), "the first console's tail:\n{table}");
    let report = read_json(&project.join("results.json"));
    let cell = &report["cells"][0];
    assert_eq!(cell["outcome"], "pass", "{cell:#}");
    let flaky = cell["flaky"].as_str().unwrap_or_else(|| panic!("not marked flaky: {cell:#}"));
    assert!(
        flaky.starts_with("first boot failed (exit 124)") && flaky.contains("orca_test_hang"),
        "{flaky}"
    );
    let junit = std::fs::read_to_string(project.join("junit.xml")).unwrap();
    let back = quick_junit::Report::deserialize_from_str(&junit).unwrap();
    assert_eq!((back.failures, back.errors), (0, 0), "{junit}");
    match &back.test_suites[0].test_cases[0].status {
        quick_junit::TestCaseStatus::Success { flaky_runs } => {
            assert_eq!(flaky_runs.len(), 1, "{junit}");
            let body = flaky_runs[0].description.as_ref().unwrap().as_str();
            assert!(body.contains("orca_test_hang: stopping here"), "{junit}");
        }
        other => panic!("the cell should pass with a flaky run: {other:?}\n{junit}"),
    }
    let _ = std::fs::remove_dir_all(&project);
}

#[test]
fn a_command_that_panics_the_guest_is_the_tests_failure_and_is_not_retried() {
    if !can_run("a_command_that_panics_the_guest_is_the_tests_failure_and_is_not_retried") {
        return;
    }
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let project = one_command_matrix("matrix-sysrq", "echo c > /proc/sysrq-trigger; sleep 60");
    let out = orca(
        &project,
        &["matrix", "run", "configs/one.hcl", "--no-cache", "--json", "results.json"],
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "the test's failure, not an infrastructure one:\n{err}");
    assert!(!err.contains("booting once more"), "{err}");
    let report = read_json(&project.join("results.json"));
    let cell = &report["cells"][0];
    assert_eq!(cell["outcome"], "fail", "{cell:#}");
    assert!(cell.get("flaky").is_none(), "{cell:#}");
    let message = cell["message"].as_str().unwrap();
    assert!(
        message.contains("while the command ran") && message.contains("panicked") && message.contains("sysrq"),
        "{message}"
    );
    let _ = std::fs::remove_dir_all(&project);
}

#[test]
fn a_host_root_cell_runs_its_vms_provision_before_the_script() {
    if !can_run("a_host_root_cell_runs_its_vms_provision_before_the_script") {
        return;
    }
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let project = one_command_matrix(
        "matrix-provision",
        "grep -qx 'provisioned in /firewall' /tmp/orca-provision-mark",
    );
    // The test VM provisions as `orca run` would: one script, from where the cell's script starts.
    let vm = project.join("configs/ebpf-test.hcl");
    let text = std::fs::read_to_string(&vm).unwrap();
    let text = text.replacen(
        "  network = false\n",
        "  network = false\n\n  provision = [\n    \"where=$(pwd)\",\n    \"echo \\\"provisioned in $where\\\" > /tmp/orca-provision-mark\",\n  ]\n",
        1,
    );
    assert!(text.contains("provision = ["), "{text}");
    std::fs::write(&vm, text).unwrap();
    let out = orca(&project, &["matrix", "run", "configs/one.hcl", "--no-cache", "--json", "results.json"]);
    let table = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{table}");
    assert_eq!(read_json(&project.join("results.json"))["cells"][0]["outcome"], "pass");
    let _ = std::fs::remove_dir_all(&project);
}
