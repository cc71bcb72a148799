//! Every valid spec in `tests/specs/valid/` passes `orca validate`, and `orca plan --json` on it
//! matches the golden `*.plan.json` beside it. `UPDATE_GOLDEN=1 cargo test --test spec_golden`
//! rewrites the golden files (review the diff before committing).

use std::path::PathBuf;
use std::process::Command;

const ORCA: &str = env!("CARGO_BIN_EXE_orca");

fn valid_specs() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir("tests/specs/valid")
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "hcl"))
        .collect();
    files.sort();
    files
}

fn orca(args: &[&str]) -> std::process::Output {
    // Variables may be overridden from the environment; keep the goldens independent of it.
    let mut cmd = Command::new(ORCA);
    for (k, _) in std::env::vars().filter(|(k, _)| k.starts_with("ORCA_VAR_")) {
        cmd.env_remove(k);
    }
    cmd.args(args).output().expect("running orca")
}

#[test]
fn valid_specs_validate_and_match_their_golden_plans() {
    let files = valid_specs();
    assert!(files.len() >= 12, "only {} valid specs", files.len());
    let update = std::env::var_os("UPDATE_GOLDEN").is_some();
    let mut failures = Vec::new();
    for f in &files {
        let path = f.to_str().unwrap();
        let v = orca(&["validate", path]);
        if v.status.code() != Some(0) {
            failures.push(format!(
                "{path}: orca validate exited {:?}:\n{}",
                v.status.code(),
                String::from_utf8_lossy(&v.stderr)
            ));
            continue;
        }
        let p = orca(&["plan", "--json", path]);
        if p.status.code() != Some(0) {
            failures.push(format!(
                "{path}: orca plan exited {:?}:\n{}",
                p.status.code(),
                String::from_utf8_lossy(&p.stderr)
            ));
            continue;
        }
        let actual = String::from_utf8(p.stdout).unwrap();
        let plan: serde_json::Value = serde_json::from_str(&actual).expect("plan --json is JSON");
        assert_eq!(plan["files"][0], path, "plan files are project-relative");
        let golden = f.with_extension("plan.json");
        if update {
            std::fs::write(&golden, &actual).unwrap();
            continue;
        }
        match std::fs::read_to_string(&golden) {
            Ok(expected) if expected == actual => {}
            Ok(expected) => failures.push(format!(
                "{path}: plan differs from {}:\n{}",
                golden.display(),
                diff(&expected, &actual)
            )),
            Err(_) => failures.push(format!(
                "{path}: no golden {} (run with UPDATE_GOLDEN=1)",
                golden.display()
            )),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// The lines that differ, for a readable failure.
fn diff(expected: &str, actual: &str) -> String {
    let (e, a): (Vec<&str>, Vec<&str>) = (expected.lines().collect(), actual.lines().collect());
    let mut out = Vec::new();
    for i in 0..e.len().max(a.len()) {
        let (x, y) = (e.get(i).copied().unwrap_or(""), a.get(i).copied().unwrap_or(""));
        if x != y {
            out.push(format!("line {}:\n  - {x}\n  + {y}", i + 1));
        }
        if out.len() >= 10 {
            break;
        }
    }
    out.join("\n")
}

#[test]
fn the_human_plan_says_what_cannot_be_resolved() {
    let p = orca(&["plan", "tests/specs/valid/matrix-unresolved.hcl"]);
    let out = String::from_utf8_lossy(&p.stdout);
    assert_eq!(p.status.code(), Some(0));
    assert!(out.contains("Cannot be resolved here (3):"), "{out}");
    assert!(out.contains("kernel 5.16"), "{out}");
    // A distro image is bootable: built when a cell needs it, never "cannot be resolved".
    assert!(out.contains("image ubuntu-22.04"), "{out}");
    assert!(!out.contains("image ubuntu-22.04:"), "{out}");
    assert!(out.contains("UNAVAILABLE"), "{out}");
}

#[test]
fn the_project_specs_are_valid() {
    let v = orca(&["validate"]);
    assert_eq!(v.status.code(), Some(0), "{}", String::from_utf8_lossy(&v.stderr));
    let p = orca(&["plan", "--json"]);
    assert_eq!(p.status.code(), Some(0), "{}", String::from_utf8_lossy(&p.stderr));
    let plan: serde_json::Value = serde_json::from_slice(&p.stdout).unwrap();
    let names = |key: &str, field: &str| -> Vec<String> {
        plan[key]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x[field].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(
        names("programs", "name"),
        ["xdp_blocklist", "tc_egress_policy", "cgroup_events"]
    );
    assert!(names("vms", "name").contains(&"ebpf-test".to_string()));
    assert!(names("vms", "name").contains(&"ebpf-builder".to_string()));
    let cells: Vec<&str> = plan["matrix"]["cells"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["kernel"].as_str().unwrap())
        .collect();
    assert_eq!(cells, ["5.10", "6.1", "6.12", "7.2"]);
    let order: Vec<&str> = plan["pipelines"][0]["order"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap())
        .collect();
    assert_eq!(order, ["build", "unit", "integration", "performance"]);
}

#[test]
fn spec_errors_make_plan_exit_2_with_the_diagnostics() {
    let p = orca(&["plan", "tests/specs/invalid/dependency-cycle.hcl"]);
    let err = String::from_utf8_lossy(&p.stderr);
    assert_eq!(p.status.code(), Some(2), "{err}");
    assert!(
        err.contains("tests/specs/invalid/dependency-cycle.hcl:6:56: error: dependency cycle: a -> b -> c -> a"),
        "{err}"
    );
}

#[test]
fn variables_can_be_overridden_and_environment_read() {
    let dir = tempfile::tempdir().unwrap();
    let spec = dir.path().join("env.hcl");
    std::fs::write(
        &spec,
        "schema_version = \"1.0\"\nvariable \"name\" { default = \"from-default\" }\nvm {\n  name = var.name\n  provision = [\"echo ${env.ORCA_SPEC_TEST_GREETING}\"]\n}\n",
    )
    .unwrap();
    let run = |envs: &[(&str, &str)]| {
        let mut cmd = Command::new(ORCA);
        cmd.args(["plan", "--json", spec.to_str().unwrap()])
            .env_remove("ORCA_VAR_name")
            .env_remove("ORCA_SPEC_TEST_GREETING");
        for (k, v) in envs {
            cmd.env(k, v);
        }
        cmd.output().unwrap()
    };
    let unset = run(&[]);
    assert_eq!(unset.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&unset.stderr).contains("environment variable `ORCA_SPEC_TEST_GREETING` is not set")
    );
    let set = run(&[("ORCA_SPEC_TEST_GREETING", "hello")]);
    let plan: serde_json::Value = serde_json::from_slice(&set.stdout).unwrap();
    assert_eq!(plan["vms"][0]["name"], "from-default");
    assert_eq!(plan["vms"][0]["provision"][0], "echo hello");
    let overridden = run(&[("ORCA_SPEC_TEST_GREETING", "hi"), ("ORCA_VAR_name", "from-env")]);
    let plan: serde_json::Value = serde_json::from_slice(&overridden.stdout).unwrap();
    assert_eq!(plan["vms"][0]["name"], "from-env");
}

#[test]
fn a_reader_that_goes_away_is_not_a_panic() {
    // `orca plan --json | head -1`: orca must stop quietly when the pipe closes.
    let dir = tempfile::tempdir().unwrap();
    let spec = dir.path().join("big.hcl");
    let mut text = String::from("schema_version = \"1.0\"\ntest_matrix = [\n");
    for i in 0..20_000 {
        text.push_str(&format!("  {{ name = \"e{i}\", kernel_version = \"6.1\" }},\n"));
    }
    text.push_str("]\ntest {\n  commands = [\"true\"]\n}\n");
    std::fs::write(&spec, text).unwrap();
    for args in [&["plan", "--json"][..], &["plan"][..]] {
        let mut child = Command::new(ORCA)
            .args(args)
            .arg(&spec)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut first = [0u8; 1];
        std::io::Read::read_exact(child.stdout.as_mut().unwrap(), &mut first).unwrap();
        drop(child.stdout.take());
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
        // Like other Unix tools, orca ends quietly: exit 0, or SIGPIPE's default action.
        use std::os::unix::process::ExitStatusExt;
        assert!(
            out.status.code() == Some(0) || out.status.signal() == Some(libc::SIGPIPE),
            "{args:?}: {:?} {stderr}",
            out.status
        );
    }
}
