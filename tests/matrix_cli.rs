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
        "--shard",
    ] {
        assert!(help.contains(code), "missing {code:?} in:\n{help}");
    }
}
