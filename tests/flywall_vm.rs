//! A Flywall-shaped project (tests/fixtures/flywall: a Makefile, bpf/hello.bpf.c and the three
//! specs in the forms its authors write), copied to a folder OUTSIDE this repository and driven
//! from its own root with the real orca, real QEMU (TCG here) and the built-in kernel catalog (the
//! project has no kernels.hcl). Three boots in all:
//!
//! - `orca validate`: valid, one warning for the matrix file without `schema_version`;
//! - `orca run configs/ebpf-builder.hcl --command "cd /flywall && make"`: `provision` runs as one
//!   script (its `cd` and `export` carry over), the object lands in build/ebpf on the host;
//! - `orca pipeline run configs/ebpf-test-pipeline.hcl`: a VM stage's commands are one script
//!   (`cd`, `export` carry over), each line a step in the JSON;
//! - `orca matrix run configs/ebpf-test-matrix.hcl --kernel 6.1`: one cell for the entry, one
//!   boot for the three lines, the `make`s run in /flywall (the project folder mounted read-write
//!   at /<its name> when the test names no `vm`), three steps in the JSON and the JUnit.
//!
//! With `CI=true` nothing here is skipped.

mod vm_support;

use std::path::Path;
use std::process::Output;

use vm_support::{Vm, stderr, stdout};

/// The fixture copied into a fresh folder named `flywall` under the system's temp folder.
fn scratch_project() -> tempfile::TempDir {
    let t = tempfile::Builder::new().prefix("orca-flywall-").tempdir().unwrap();
    let dest = t.path().join("flywall");
    let src = Path::new(vm_support::ROOT).join("tests/fixtures/flywall");
    let ok = std::process::Command::new("cp")
        .arg("-a")
        .arg(&src)
        .arg(&dest)
        .status()
        .unwrap()
        .success();
    assert!(ok, "copying the fixture");
    assert!(!dest.starts_with(vm_support::ROOT), "the project must lie outside the repository");
    t
}

fn run_in(vm: &Vm, dir: &Path, args: &[&str]) -> Output {
    let out = vm.orca().current_dir(dir).env("CI", "true").args(args).output().unwrap();
    eprintln!(
        "orca {args:?} → {:?}\n--- stdout\n{}--- stderr\n{}",
        out.status.code(),
        stdout(&out),
        stderr(&out)
    );
    out
}

fn json(p: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
}

#[test]
fn a_flywall_shaped_project_runs_as_written_from_its_own_root() {
    let Some(vm) = Vm::new() else { return };
    let t = scratch_project();
    let root = t.path().join("flywall");

    let o = run_in(&vm, &root, &["validate"]);
    assert_eq!(o.status.code(), Some(0));
    let warned = stderr(&o).matches("no `schema_version`").count();
    assert_eq!(warned, 1, "one warning, naming the file: {}", stderr(&o));
    assert!(stderr(&o).contains("ebpf-test-matrix.hcl"), "{}", stderr(&o));

    // The built-in catalog, said so.
    let o = run_in(&vm, &root, &["kernel", "list"]);
    assert_eq!(o.status.code(), Some(0));
    assert!(stdout(&o).contains("built-in"), "{}", stdout(&o));

    // provision is one script; the command builds into the read-write share.
    let o = run_in(
        &vm,
        &root,
        &["run", "configs/ebpf-builder.hcl", "--kernel", "6.1", "--command", "cd /flywall && make"],
    );
    assert_eq!(o.status.code(), Some(0));
    let obj = root.join("build/ebpf/hello.bpf.o");
    assert!(obj.is_file(), "the object is on the host");
    std::fs::remove_dir_all(root.join("build")).unwrap();

    // A VM stage's commands are one script.
    let o = run_in(
        &vm,
        &root,
        &["pipeline", "run", "configs/ebpf-test-pipeline.hcl", "--no-cache", "--json", "p.json"],
    );
    assert_eq!(o.status.code(), Some(0));
    let p = json(&root.join("p.json"));
    let build = p["cells"].as_array().unwrap().iter().find(|c| c["id"] == "build").unwrap();
    let steps = build["steps"].as_array().unwrap();
    assert_eq!(steps.len(), 5, "{build}");
    assert!(steps.iter().all(|s| s["exit_code"] == 0), "{build}");
    assert_eq!(steps[2]["command"], "test \"$(pwd)\" = /tmp && test \"$STAGE_MARK\" = carried");

    // The matrix on all four catalog kernels: one cell per entry, the three lines in one boot, the
    // makes in /flywall, XDP attached to a veth pair the guest's own modules provide.
    let o = run_in(
        &vm,
        &root,
        &["matrix", "run", "configs/ebpf-test-matrix.hcl", "--json", "m.json", "--junit", "m.xml"],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let m = json(&root.join("m.json"));
    let cells = m["cells"].as_array().unwrap();
    let ids: Vec<&str> = cells.iter().map(|c| c["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["debian-11", "debian-12", "debian-13", "debian-sid"], "one cell per entry: {m}");
    for c in cells {
        let steps = c["steps"].as_array().unwrap();
        let lines: Vec<&str> = steps.iter().map(|s| s["command"].as_str().unwrap()).collect();
        assert_eq!(
            lines,
            ["cd /flywall", "make test-ebpf-compatibility", "make test-integration"]
        );
        assert!(steps.iter().all(|s| s["exit_code"] == 0), "{c}");
    }
    // The guests wrote through the share: the kernels they ran on are on the host.
    for k in ["kernel-5.10", "kernel-6.1.", "kernel-6.12", "kernel-7.2"] {
        let marks: Vec<String> = std::fs::read_dir(root.join("build/ebpf"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with(k))
            .collect();
        assert_eq!(marks.len(), 1, "{k}: {marks:?}");
    }
    let junit = quick_junit::Report::deserialize_from_str(&std::fs::read_to_string(root.join("m.xml")).unwrap())
        .unwrap();
    let cases: Vec<&str> = junit.test_suites[0]
        .test_cases
        .iter()
        .map(|c| c.name.as_str())
        .collect();
    assert_eq!(
        cases,
        [
            "[1] cd /flywall",
            "[2] make test-ebpf-compatibility",
            "[3] make test-integration"
        ]
    );
    vm.assert_clean();
}

/// A failing line stops the script and is named, with its exit code and output, in the table.
#[test]
fn a_failing_line_of_a_matrix_script_is_named() {
    let Some(vm) = Vm::new() else { return };
    let t = scratch_project();
    let root = t.path().join("flywall");
    std::fs::write(
        root.join("configs/ebpf-test-matrix.hcl"),
        "test_matrix = [{ name = \"k\", kernel_version = \"6.1\" }]\n\
         test { commands = [\"cd /tmp\", \"export X=1\", \"echo x-is-$X in-$(pwd) >&2; exit 3\", \"echo never\"] }\n",
    )
    .unwrap();
    let o = run_in(&vm, &root, &["matrix", "run", "--json", "m.json"]);
    assert_eq!(o.status.code(), Some(1));
    let table = stdout(&o);
    assert!(
        table.contains("line 3 of 4 `echo x-is-$X in-$(pwd) >&2; exit 3` exited with status 3"),
        "{table}"
    );
    assert!(table.contains("x-is-1 in-/tmp"), "the state carried over: {table}");
    let m = json(&root.join("m.json"));
    assert_eq!(m["cells"][0]["steps"].as_array().unwrap().len(), 3, "the 4th line never ran");
    vm.assert_clean();
}

/// A script that writes JUnit (a shell script here; any runner that writes JUnit works alike): its
/// test cases become the matrix's tests, kernel × test, in the table, the JSON and the JUnit; a
/// test failing on one kernel only is reported there, an expectation turns another into xfail.
#[test]
fn junit_written_by_the_users_script_becomes_kernel_by_test() {
    let Some(vm) = Vm::new() else { return };
    let t = scratch_project();
    let root = t.path().join("flywall");
    std::fs::write(
        root.join("run-tests.sh"),
        r#"#!/bin/sh
# Writes JUnit like any test runner would; two tests fail on 5.10 only.
case "$(uname -r)" in 5.10*) v=fail ;; *) v=pass ;; esac
tc() {
  if [ "$2" = pass ]; then echo "<testcase name=\"$1\" time=\"0.01\"/>"
  else echo "<testcase name=\"$1\"><failure message=\"failed on $(uname -r)\">details for $1</failure></testcase>"; fi
}
mkdir -p /tmp/results
{
  echo '<?xml version="1.0" encoding="UTF-8"?>'
  echo '<testsuites><testsuite name="user">'
  tc attach_xdp pass
  tc old_kernel_bug "$v"
  tc needs_new_helper "$v"
  echo '</testsuite></testsuites>'
} > /tmp/results/junit.xml
[ "$v" = pass ]
"#,
    )
    .unwrap();
    std::fs::write(
        root.join("configs/ebpf-test-matrix.hcl"),
        r#"test_matrix = [
  { name = "old", kernel_version = "5.10" },
  { name = "new", kernel_version = "6.1" },
]
test {
  commands = ["sh ./run-tests.sh"]
  results  = ["/tmp/results/*.xml"]
  expect "needs_new_helper" {
    min_kernel = "6.0"
    reason     = "the helper came in 6.0"
  }
}
"#,
    )
    .unwrap();
    let o = run_in(&vm, &root, &["matrix", "run", "--json", "m.json", "--junit", "m.xml"]);
    assert_eq!(o.status.code(), Some(1), "a test failed on 5.10");
    let table = stdout(&o);
    let row = |name: &str| {
        table
            .lines()
            .find(|l| l.starts_with(name))
            .unwrap_or_else(|| panic!("no row {name}:\n{table}"))
            .split_whitespace()
            .skip(1)
            .map(str::to_string)
            .collect::<Vec<_>>()
    };
    assert_eq!(row("attach_xdp"), ["pass", "pass"], "{table}");
    assert_eq!(row("old_kernel_bug"), ["FAIL", "pass"], "{table}");
    assert_eq!(row("needs_new_helper"), ["xfail", "pass"], "{table}");
    let m = json(&root.join("m.json"));
    let old = &m["cells"][0];
    assert_eq!(old["kernel"], "5.10");
    assert_eq!(old["outcome"], "fail");
    let tests: Vec<(&str, &str)> = old["tests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| (t["name"].as_str().unwrap(), t["outcome"].as_str().unwrap()))
        .collect();
    assert_eq!(
        tests,
        [
            ("attach_xdp", "pass"),
            ("old_kernel_bug", "fail"),
            ("needs_new_helper", "expected-fail")
        ]
    );
    assert_eq!(m["cells"][1]["outcome"], "pass");
    let junit = quick_junit::Report::deserialize_from_str(&std::fs::read_to_string(root.join("m.xml")).unwrap())
        .unwrap();
    assert_eq!(junit.test_suites.len(), 2);
    assert_eq!(junit.test_suites[0].name.as_str(), "kernel 5.10");
    assert_eq!(junit.test_suites[0].failures, 1);
    assert_eq!(junit.test_suites[1].failures, 0);
    let names: Vec<&str> = junit.test_suites[1].test_cases.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["attach_xdp", "old_kernel_bug", "needs_new_helper"]);

    // A glob that matches nothing is an error of the cell, not a pass.
    let text = std::fs::read_to_string(root.join("configs/ebpf-test-matrix.hcl"))
        .unwrap()
        .replace("/tmp/results/*.xml", "/tmp/nowhere/*.xml")
        .replace("{ name = \"old\", kernel_version = \"5.10\" },\n", "");
    std::fs::write(root.join("configs/ebpf-test-matrix.hcl"), text).unwrap();
    let o = run_in(&vm, &root, &["matrix", "run"]);
    assert_eq!(o.status.code(), Some(3), "an infrastructure-like error, never exit 0");
    assert!(
        stdout(&o).contains("\"/tmp/nowhere/*.xml\" matched no file"),
        "{}",
        stdout(&o)
    );
    vm.assert_clean();
}
