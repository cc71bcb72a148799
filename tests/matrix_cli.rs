//! `orca matrix run` and `orca test` argument handling, with the real binary and the project's
//! own specs. Nothing here boots a VM: every case ends before the first cell (a usage error is
//! found before anything is built).

use std::process::{Command, Output};

fn orca(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_orca"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("CI", "true")
        .output()
        .expect("orca runs")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn bad_shards_are_usage_errors() {
    for shard in ["0/2", "3/2", "a/b", "1/0", "2"] {
        let o = orca(&["matrix", "run", "--shard", shard]);
        assert_eq!(o.status.code(), Some(2), "--shard {shard}: {}", stderr(&o));
        let err = stderr(&o);
        assert!(
            err.contains("--shard") && err.contains("hint:"),
            "--shard {shard}: {err}"
        );
    }
}

#[test]
fn an_unknown_kernel_is_a_usage_error_naming_the_matrix_kernels() {
    let o = orca(&["matrix", "run", "--kernel", "7.3"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(err.contains("no cell runs kernel 7.3"), "{err}");
    assert!(
        err.contains("did you mean 7.2? the kernels are: 5.10, 6.1, 6.12, 7.2"),
        "{err}"
    );
    let o = orca(&["test", "--kernel", "9.9"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
}

#[test]
fn a_bad_test_glob_is_a_usage_error() {
    let o = orca(&["matrix", "run", "--test", "xdp_["]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("--test \"xdp_[\" is not a valid glob"),
        "{}",
        stderr(&o)
    );
    let o = orca(&["test", "--test", "xdp_["]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
}

#[test]
fn a_missing_matrix_file_is_reported() {
    let o = orca(&["matrix", "run", "configs/no-such-matrix.hcl"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("no-such-matrix.hcl"), "{}", stderr(&o));
}

#[test]
fn a_file_without_a_matrix_is_refused_not_replaced_by_the_projects() {
    let o = orca(&["matrix", "run", "configs/build.hcl"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("configs/build.hcl declares no `test_matrix`"), "{}", stderr(&o));
}

#[test]
fn zero_jobs_is_a_usage_error() {
    let o = orca(&["matrix", "run", "--jobs", "0"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
}

#[test]
fn help_documents_the_exit_codes() {
    let o = orca(&["matrix", "run", "--help"]);
    assert!(o.status.success());
    let help = String::from_utf8_lossy(&o.stdout);
    for code in [
        "0 all matched expectations",
        "1 a test failed",
        "3 infrastructure failure",
        "4 a cell could not run",
        "ONE script",
        "--shard",
        "A passing cell is not run again",
        ".gitignore",
        "cache = false",
        "--no-cache",
    ] {
        assert!(help.contains(code), "missing {code:?} in:\n{help}");
    }
}

/// A copy of the project whose catalog and matrix gain a kernel with no source on this host.
fn project_with_a_sourceless_kernel() -> std::path::PathBuf {
    let dir =
        std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("matrix-unavailable-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    for d in ["configs", "ebpf"] {
        assert!(
            Command::new("cp")
                .arg("-a")
                .arg(root.join(d))
                .arg(&dir)
                .status()
                .unwrap()
                .success()
        );
    }
    let catalog = dir.join("configs/kernels.hcl");
    let text = std::fs::read_to_string(&catalog).unwrap() + "\nkernel \"4.19\" {\n  release = \"4.19.0-1-amd64\"\n}\n";
    std::fs::write(&catalog, text).unwrap();
    let matrix = dir.join("configs/ebpf-test-matrix.hcl");
    let text = std::fs::read_to_string(&matrix).unwrap();
    let entry = "test_matrix = [\n";
    assert!(text.contains(entry), "the matrix file changed shape");
    let text = text.replacen(
        entry,
        "test_matrix = [\n  { name = \"4.19\", image = \"host\", kernel_version = \"4.19\" },\n",
        1,
    );
    std::fs::write(&matrix, text).unwrap();
    dir
}

#[test]
fn a_cell_without_a_kernel_is_reported_unavailable_not_dropped() {
    let dir = project_with_a_sourceless_kernel();
    let o = Command::new(env!("CARGO_BIN_EXE_orca"))
        .args([
            "matrix", "run", "--kernel", "4.19", "--junit", "j.xml", "--json", "r.json",
        ])
        .current_dir(&dir)
        .env("CI", "true")
        .output()
        .unwrap();
    // Nothing ran: never a green result.
    assert_eq!(o.status.code(), Some(4), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("1 of 1 cells could not run") && stderr(&o).contains("--allow-unavailable"),
        "{}",
        stderr(&o)
    );
    let table = String::from_utf8_lossy(&o.stdout);
    assert!(table.contains("4.19: n/a — kernel 4.19 has no source"), "{table}");
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("r.json")).unwrap()).unwrap();
    assert_eq!(report["cells"][0]["outcome"], "unavailable");
    assert_eq!(report["cells"][0]["id"], "4.19");
    let junit =
        quick_junit::Report::deserialize_from_str(&std::fs::read_to_string(dir.join("j.xml")).unwrap()).unwrap();
    assert_eq!(junit.test_suites.len(), 1);
    assert_eq!(junit.test_suites[0].name.as_str(), "kernel 4.19");
    assert!(matches!(
        &junit.test_suites[0].test_cases[0].status,
        quick_junit::TestCaseStatus::Skipped { ty: Some(t), .. } if t.as_str() == "unavailable"
    ));

    // Accepted on request: the same run exits 0.
    let o = Command::new(env!("CARGO_BIN_EXE_orca"))
        .args(["matrix", "run", "--kernel", "4.19", "--allow-unavailable"])
        .current_dir(&dir)
        .env("CI", "true")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));

    // `orca test` on that kernel cannot do anything useful: exit 4 with a hint.
    let o = Command::new(env!("CARGO_BIN_EXE_orca"))
        .args(["test", "--kernel", "4.19"])
        .current_dir(&dir)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(4), "{}", stderr(&o));
    assert!(stderr(&o).contains("orca kernel pin 4.19"), "{}", stderr(&o));
    let _ = std::fs::remove_dir_all(&dir);
}
