//! `orca pipeline run` end to end on host-only fixture pipelines, each in a throwaway project with
//! its own result cache.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

struct Project {
    dir: tempfile::TempDir,
    cache: tempfile::TempDir,
}

impl Project {
    /// A project whose only spec is the fixture `name`, as `configs/pipeline.hcl`.
    fn new(fixture: &str) -> Project {
        let dir = tempfile::tempdir().unwrap();
        let src = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/pipelines")
            .join(fixture);
        std::fs::create_dir_all(dir.path().join("configs")).unwrap();
        std::fs::create_dir_all(dir.path().join("ebpf")).unwrap();
        std::fs::create_dir_all(dir.path().join("src")).unwrap();
        std::fs::copy(src, dir.path().join("configs/pipeline.hcl")).unwrap();
        std::fs::write(dir.path().join("src/prog.c"), "int prog;\n").unwrap();
        Project {
            dir,
            cache: tempfile::tempdir().unwrap(),
        }
    }

    fn orca(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_orca"))
            .args(["pipeline", "run", "configs/pipeline.hcl"])
            .args(args)
            .current_dir(self.dir.path())
            .env("ORCA_CACHE_DIR", self.cache.path())
            .env("CI", "true")
            .output()
            .expect("run orca")
    }

    /// Runs with `--json -` and returns the exit code and the report.
    fn run(&self, args: &[&str]) -> (i32, Value) {
        let mut all = vec!["--json", "-"];
        all.extend_from_slice(args);
        let out = self.orca(&all);
        let report = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "no JSON report ({e}); stderr:\n{}",
                String::from_utf8_lossy(&out.stderr)
            )
        });
        (out.status.code().unwrap(), report)
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }
}

fn stage<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["cells"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == name)
        .unwrap_or_else(|| panic!("no stage {name}"))
}

fn outcome(report: &Value, name: &str) -> String {
    stage(report, name)["outcome"].as_str().unwrap().to_string()
}

#[test]
fn a_failing_middle_stage_skips_its_dependants_and_the_other_branch_finishes() {
    let p = Project::new("branches.hcl");
    std::fs::write(p.path("unit-fails"), "").unwrap();
    let (code, r) = p.run(&[]);
    assert_eq!(code, 1, "{r:#}");
    assert_eq!(r["kind"], "pipeline:branches");
    assert_eq!(outcome(&r, "build"), "pass");
    assert_eq!(outcome(&r, "unit"), "fail");
    assert!(stage(&r, "unit")["output"].as_str().unwrap().contains("unit says no"));
    assert_eq!(outcome(&r, "integration"), "skip");
    assert_eq!(stage(&r, "integration")["message"], "dependency unit failed");
    assert_eq!(outcome(&r, "lint"), "pass");
    let log = std::fs::read_to_string(p.path("build/pipeline/logs/unit.log")).unwrap();
    assert!(log.contains("unit says no"), "{log}");

    // The plain summary on stdout says the same.
    let out = p.orca(&[]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.lines()
            .any(|l| l.starts_with("integration") && l.contains("skip") && l.contains("dependency unit failed")),
        "{text}"
    );
}

#[test]
fn a_second_run_takes_every_stage_from_the_cache_and_restores_artifacts() {
    let p = Project::new("branches.hcl");
    let (code, first) = p.run(&[]);
    assert_eq!(code, 0, "{first:#}");
    assert!(first["cells"].as_array().unwrap().iter().all(|c| c["cached"] == false));
    assert_eq!(
        std::fs::read_to_string(p.path("integration.out")).unwrap(),
        "int prog;\n"
    );

    std::fs::remove_dir_all(p.path("out")).unwrap();
    std::fs::remove_file(p.path("integration.out")).unwrap();
    let (code, second) = p.run(&[]);
    assert_eq!(code, 0, "{second:#}");
    for s in ["build", "unit", "integration", "lint"] {
        assert_eq!(stage(&second, s)["cached"], true, "{s} was not cached: {second:#}");
    }
    assert_eq!(std::fs::read_to_string(p.path("out/prog.o")).unwrap(), "int prog;\n");
    assert_eq!(
        std::fs::read_to_string(p.path("integration.out")).unwrap(),
        "int prog;\n"
    );

    // A changed input reruns its stage, and the changed artifact reruns the dependants.
    std::fs::write(p.path("src/prog.c"), "int prog2;\n").unwrap();
    let (code, third) = p.run(&[]);
    assert_eq!(code, 0, "{third:#}");
    for s in ["build", "unit", "integration"] {
        assert_eq!(stage(&third, s)["cached"], false, "{s} should have rerun: {third:#}");
    }
    assert_eq!(stage(&third, "lint")["cached"], true);
    assert_eq!(
        std::fs::read_to_string(p.path("integration.out")).unwrap(),
        "int prog2;\n"
    );

    let (_, forced) = p.run(&["--no-cache"]);
    assert!(forced["cells"].as_array().unwrap().iter().all(|c| c["cached"] == false));
}

#[test]
fn from_and_only_run_the_chosen_stages_with_earlier_artifacts_restored() {
    let p = Project::new("branches.hcl");
    assert_eq!(p.run(&[]).0, 0);
    std::fs::remove_dir_all(p.path("out")).unwrap();
    std::fs::remove_file(p.path("integration.out")).unwrap();

    let (code, r) = p.run(&["--from", "unit"]);
    assert_eq!(code, 0, "{r:#}");
    assert_eq!(stage(&r, "build")["cached"], true);
    assert_eq!(outcome(&r, "unit"), "pass");
    assert_eq!(stage(&r, "unit")["cached"], false);
    assert_eq!(stage(&r, "integration")["cached"], false);
    assert_eq!(outcome(&r, "lint"), "skip");
    assert_eq!(stage(&r, "lint")["message"], "not selected (--from unit)");
    // integration read out/prog.o, which only the restore of build's artifacts put back.
    assert_eq!(
        std::fs::read_to_string(p.path("integration.out")).unwrap(),
        "int prog;\n"
    );

    let (code, r) = p.run(&["--only", "lint"]);
    assert_eq!(code, 0, "{r:#}");
    assert_eq!(outcome(&r, "lint"), "pass");
    assert_eq!(stage(&r, "lint")["cached"], false);
    for s in ["build", "unit", "integration"] {
        assert_eq!(outcome(&r, s), "skip", "{r:#}");
    }
}

#[test]
fn junit_has_one_test_case_per_stage() {
    let p = Project::new("branches.hcl");
    std::fs::write(p.path("unit-fails"), "").unwrap();
    let junit = p.path("junit.xml");
    let out = p.orca(&["--junit", junit.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert_eq!(xml.matches("<testcase ").count(), 4, "{xml}");
    assert_eq!(xml.matches("<failure").count(), 1, "{xml}");
    assert_eq!(xml.matches("<skipped").count(), 1, "{xml}");
}

#[test]
fn a_cycle_or_an_unknown_dependency_is_a_spec_error() {
    for (fixture, expected) in [
        ("cycle.hcl", "dependency cycle"),
        ("unknown-dependency.hcl", "unknown stage \"biuld\""),
    ] {
        let p = Project::new(fixture);
        let out = p.orca(&[]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{fixture}: {err}");
        assert!(
            err.contains(expected) && err.contains("pipeline.hcl:"),
            "{fixture}: {err}"
        );
        assert!(!p.path("build/pipeline").exists(), "{fixture}: nothing may run");
    }
}

#[test]
fn an_unknown_stage_name_is_a_usage_error() {
    let p = Project::new("branches.hcl");
    let out = p.orca(&["--only", "integraton"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("did you mean `integration`"), "{err}");
    let out = p.orca(&["--from", "unit", "--only", "lint"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn ctrl_c_ends_every_stage_and_leaves_nothing_running() {
    let p = Project::new("slow.hcl");
    let mut child = Command::new(env!("CARGO_BIN_EXE_orca"))
        .args(["pipeline", "run", "configs/pipeline.hcl"])
        .current_dir(p.dir.path())
        .env("ORCA_CACHE_DIR", p.cache.path())
        .env("CI", "true")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // A generous bound on the wait only, so that a pipeline that never starts fails the test
    // instead of hanging it; not a measure of speed.
    let start = std::time::Instant::now();
    while !(p.path("a.started").exists() && p.path("b.started").exists()) {
        assert!(start.elapsed().as_secs() < 600, "the stages never started");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130));
    std::thread::sleep(std::time::Duration::from_millis(200));
    let left: Vec<String> = std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| std::fs::read(e.path().join("cmdline")).ok())
        .map(|c| String::from_utf8_lossy(&c).replace('\0', " "))
        .filter(|c| c.contains("sleep 3600.25"))
        .collect();
    assert!(left.is_empty(), "still running: {left:?}");
}

#[test]
fn a_stage_whose_kernel_is_unavailable_fails_the_pipeline_with_exit_4() {
    let p = Project::new("unavailable-kernel.hcl");
    let (code, r) = p.run(&[]);
    assert_eq!(code, 4, "{r:#}");
    assert_eq!(outcome(&r, "build"), "pass");
    assert_eq!(outcome(&r, "integration"), "unavailable");
    assert!(
        stage(&r, "integration")["message"]
            .as_str()
            .unwrap()
            .contains("missing/vmlinuz"),
        "{r:#}"
    );
    assert_eq!(outcome(&r, "report"), "skip");
    let out = p.orca(&[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("stage integration could not run"), "{stderr}");
}

#[test]
fn a_stages_junit_results_are_its_tests_and_missing_or_broken_ones_are_errors() {
    let p = Project::new("results.hcl");
    let (code, r) = p.run(&[]);
    assert_ne!(code, 0, "{r:#}");
    // The script passed, but one of its test cases failed: the stage fails, with both cases.
    let suite = stage(&r, "suite");
    assert_eq!(suite["outcome"], "fail", "{suite:#}");
    let tests = suite["tests"].as_array().unwrap();
    let got: Vec<(&str, &str)> = tests
        .iter()
        .map(|t| (t["name"].as_str().unwrap(), t["outcome"].as_str().unwrap()))
        .collect();
    assert_eq!(got, [("good", "pass"), ("bad", "fail")], "{suite:#}");
    assert_eq!(tests[0]["duration_ms"], 250);
    assert_eq!(tests[1]["message"], "boom");
    let msg = suite["message"].as_str().unwrap();
    assert!(msg.contains("1 of 2 test cases failed: bad"), "{msg}");
    // A glob without a match, or a file that is not JUnit, is the stage's error, never a pass.
    let missing = stage(&r, "missing");
    assert_eq!(missing["outcome"], "error", "{missing:#}");
    assert!(
        missing["message"].as_str().unwrap().contains("\"out/none/*.xml\" matched no file"),
        "{missing:#}"
    );
    let broken = stage(&r, "broken");
    assert_eq!(broken["outcome"], "error", "{broken:#}");
    assert!(
        broken["message"].as_str().unwrap().contains("out/broken.xml is not JUnit XML"),
        "{broken:#}"
    );
    let passing = stage(&r, "passing");
    assert_eq!(passing["outcome"], "pass", "{passing:#}");
    assert_eq!(passing["tests"][0]["name"], "only", "{passing:#}");

    // The terminal table lists each stage's test cases below it; the JUnit report holds them.
    let junit = p.path("junit.xml");
    let out = p.orca(&["--junit", junit.to_str().unwrap()]);
    assert_ne!(out.status.code(), Some(0));
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(table.contains("  bad") && table.contains("boom"), "{table}");
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert!(xml.contains("name=\"bad\"") && xml.contains("classname=\"pipeline:results.suite\""), "{xml}");
    assert!(xml.contains("name=\"good\""), "{xml}");
    // A passing stage taken from the cache shows its test cases again.
    let (_, again) = p.run(&[]);
    let passing = stage(&again, "passing");
    assert_eq!(passing["cached"], true, "{passing:#}");
    assert_eq!(passing["tests"][0]["name"], "only", "{passing:#}");
}
