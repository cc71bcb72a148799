//! The matrix's result cache, for real (TCG, the real debian-12-minimal image and catalog kernels
//! from the user's cache, as for every VM test), on a matrix of two cells over the project
//! mounted in the guest: one passes (6.1), one fails its script (6.12).
//!
//! - a second run takes the passing cell from the cache (shown cached, with the first run's
//!   duration) and runs the failing one again; an ignored file written meanwhile changes nothing;
//! - changing a source file under the mount runs the cell again;
//! - `--no-cache` runs it again; the run after that takes it from the cache.
//!
//! The project is new for every run of the test (its source holds a nonce), so the first run
//! is cold whatever the cache holds.

mod vm_support;

use std::path::Path;
use std::process::Output;

use serde_json::Value;
use vm_support::{Vm, project, stderr, stdout};

const MATRIX: &str = r#"schema_version = "1.0"
test_matrix = [
  { name = "on-6.1", image = "debian-12-minimal", kernel_version = "6.1" },
  { name = "on-6.12", image = "debian-12-minimal", kernel_version = "6.12" },
]
test {
  timeout = "20m"
  commands = [
    "cat src/input.txt",
    "uname -r | grep -q '^6[.]1[.]'",
  ]
}
"#;

fn run(vm: &Vm, dir: &Path, args: &[&str]) -> (Output, Value) {
    let json = dir.join("build/report.json");
    let _ = std::fs::remove_file(&json);
    let mut all = vec!["matrix", "run", "configs/matrix.hcl", "--json", json.to_str().unwrap()];
    all.extend_from_slice(args);
    let out = vm.orca().current_dir(dir).env("CI", "true").args(&all).output().unwrap();
    eprintln!(
        "orca {all:?} → {:?}\n--- stdout\n{}--- stderr\n{}",
        out.status.code(),
        stdout(&out),
        stderr(&out)
    );
    let report = serde_json::from_slice(&std::fs::read(&json).expect("the run wrote its JSON")).unwrap();
    (out, report)
}

/// (id, outcome, cached) of every cell.
fn cells(r: &Value) -> Vec<(String, String, bool)> {
    r["cells"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["id"].as_str().unwrap().to_string(),
                c["outcome"].as_str().unwrap().to_string(),
                c["cached"].as_bool().unwrap(),
            )
        })
        .collect()
}

fn cell(id: &str, outcome: &str, cached: bool) -> (String, String, bool) {
    (id.to_string(), outcome.to_string(), cached)
}

#[test]
fn passing_cells_are_reused_until_an_input_changes_and_failing_ones_never() {
    let Some(vm) = Vm::new() else { return };
    let nonce = format!("{}-{:?}", std::process::id(), std::time::SystemTime::now());
    let proj = project(&[
        ("configs/matrix.hcl", MATRIX),
        ("src/input.txt", &format!("input {nonce}\n")),
        (".gitignore", "build/\n"),
    ]);
    let p = proj.path();
    std::fs::create_dir_all(p.join("build")).unwrap();

    let (first, r1) = run(&vm, p, &[]);
    assert_eq!(first.status.code(), Some(1), "the 6.12 cell fails its script");
    assert_eq!(cells(&r1), [cell("on-6.1", "pass", false), cell("on-6.12", "fail", false)]);

    // Unchanged inputs (an ignored file aside): the pass is reused, the failure runs again.
    std::fs::write(p.join("build/ignored.txt"), "not an input").unwrap();
    let (second, r2) = run(&vm, p, &[]);
    assert_eq!(second.status.code(), Some(1));
    assert_eq!(cells(&r2), [cell("on-6.1", "pass", true), cell("on-6.12", "fail", false)]);
    assert_eq!(
        r2["cells"][0]["duration_ms"], r1["cells"][0]["duration_ms"],
        "a cached cell shows the duration of the run it comes from"
    );
    let table = stdout(&second);
    let row = table.lines().find(|l| l.starts_with("cached")).expect("a cached row");
    assert_eq!(row.split_whitespace().collect::<Vec<_>>(), ["cached", "yes", "no"], "{table}");

    // A source file under the mount changes: the cell runs again.
    std::fs::write(p.join("src/input.txt"), format!("input {nonce} changed\n")).unwrap();
    let (third, r3) = run(&vm, p, &["--kernel", "6.1"]);
    assert_eq!(third.status.code(), Some(0));
    assert_eq!(cells(&r3), [cell("on-6.1", "pass", false)]);

    // --no-cache runs it although it is cached; the next run takes it from the cache.
    let (forced, r4) = run(&vm, p, &["--kernel", "6.1", "--no-cache"]);
    assert_eq!(forced.status.code(), Some(0));
    assert_eq!(cells(&r4), [cell("on-6.1", "pass", false)]);
    let (_, r5) = run(&vm, p, &["--kernel", "6.1"]);
    assert_eq!(cells(&r5), [cell("on-6.1", "pass", true)]);
    vm.assert_clean();
}
