//! The executor on host stages, in a throwaway project with its own cache.

use super::select::tests::{pipeline, stage};
use super::*;

struct Project {
    dir: tempfile::TempDir,
    cache: tempfile::TempDir,
}

impl Project {
    fn new() -> Project {
        Project {
            dir: tempfile::tempdir().unwrap(),
            cache: tempfile::tempdir().unwrap(),
        }
    }
    fn opts(&self) -> Options {
        Options {
            root: self.dir.path().to_path_buf(),
            from: None,
            only: None,
            jobs: None,
            no_cache: false,
            accel: "tcg".into(),
            cache_dir: Some(self.cache.path().to_path_buf()),
        }
    }
    fn run(&self, p: &Pipeline, opts: &Options) -> Report {
        let plan = Plan {
            pipelines: vec![p.clone()],
            ..Plan::default()
        };
        super::run(&plan, p, opts).unwrap()
    }
    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }
}

fn cell<'a>(r: &'a Report, id: &str) -> &'a CellResult {
    r.cells.iter().find(|c| c.id == id).unwrap()
}

fn with_artifacts(mut s: Stage, globs: &[&str]) -> Stage {
    s.artifacts = globs.iter().map(|g| g.to_string()).collect();
    s
}

/// build → unit → integration, and lint on its own branch.
fn sample_pipeline(unit_command: &str) -> Pipeline {
    pipeline(vec![
        with_artifacts(
            stage("build", &[], &["mkdir -p out && echo object > out/prog.o"]),
            &["out/*.o"],
        ),
        stage("unit", &["build"], &[unit_command]),
        stage("integration", &["unit"], &["true"]),
        with_artifacts(
            stage("lint", &[], &["mkdir -p out && echo clean > out/lint.txt"]),
            &["out/lint.txt"],
        ),
    ])
}

#[test]
fn a_failed_stage_skips_its_dependants_and_independent_branches_finish() {
    let p = Project::new();
    let r = p.run(&sample_pipeline("echo checking; exit 1"), &p.opts());
    assert_eq!(cell(&r, "build").outcome, Outcome::Pass);
    assert_eq!(cell(&r, "unit").outcome, Outcome::Fail);
    assert!(cell(&r, "unit").output.as_deref().unwrap().contains("checking"));
    assert_eq!(cell(&r, "integration").outcome, Outcome::Skip);
    assert_eq!(
        cell(&r, "integration").message.as_deref(),
        Some("dependency unit failed")
    );
    assert_eq!(cell(&r, "lint").outcome, Outcome::Pass);
    assert_eq!(r.exit_code(), 1);
    assert_eq!(r.kind, "pipeline:p");
    let ids: Vec<&str> = r.cells.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(
        ids,
        ["build", "unit", "integration", "lint"],
        "cells follow the pipeline's order"
    );
    let log = std::fs::read_to_string(p.path("build/pipeline/logs/unit.log")).unwrap();
    assert!(
        log.contains("$ [1] echo checking; exit 1") && log.contains("checking\n"),
        "{log}"
    );
}

#[test]
fn a_second_run_takes_unchanged_stages_from_the_cache_and_restores_their_artifacts() {
    let p = Project::new();
    let pl = sample_pipeline("test -s out/prog.o");
    let first = p.run(&pl, &p.opts());
    assert_eq!(first.exit_code(), 0, "{first:#?}");
    assert!(first.cells.iter().all(|c| !c.cached));
    std::fs::remove_dir_all(p.path("out")).unwrap();
    let second = p.run(&pl, &p.opts());
    assert_eq!(second.exit_code(), 0, "{second:#?}");
    assert!(second.cells.iter().all(|c| c.cached), "{second:#?}");
    assert_eq!(std::fs::read_to_string(p.path("out/prog.o")).unwrap(), "object\n");
    assert_eq!(std::fs::read_to_string(p.path("out/lint.txt")).unwrap(), "clean\n");

    // A changed input invalidates that stage and, through its artifacts, nothing else that
    // did not change: unit reads prog.o, whose bytes are the same.
    let mut changed = pl.clone();
    changed.stages[0].inputs = vec!["src/*.c".into()];
    std::fs::create_dir_all(p.path("src")).unwrap();
    std::fs::write(p.path("src/x.c"), "int x;").unwrap();
    let third = p.run(&changed, &p.opts());
    assert!(!cell(&third, "build").cached);
    assert!(cell(&third, "unit").cached && cell(&third, "lint").cached, "{third:#?}");
    std::fs::write(p.path("src/x.c"), "int y;").unwrap();
    assert!(!cell(&p.run(&changed, &p.opts()), "build").cached);
    assert!(cell(&p.run(&changed, &p.opts()), "build").cached);

    let mut no_cache = p.opts();
    no_cache.no_cache = true;
    assert!(p.run(&pl, &no_cache).cells.iter().all(|c| !c.cached));
}

#[test]
fn artifacts_flow_to_dependants_and_changed_artifacts_rerun_them() {
    let p = Project::new();
    std::fs::write(p.path("seed"), "1").unwrap();
    let mut produce = with_artifacts(
        stage("produce", &[], &["mkdir -p out && cp seed out/data"]),
        &["out/data"],
    );
    produce.inputs = vec!["seed".into()];
    let pl = pipeline(vec![
        produce,
        stage("consume", &["produce"], &["cat out/data > consumed"]),
    ]);
    assert_eq!(p.run(&pl, &p.opts()).exit_code(), 0);
    assert_eq!(std::fs::read_to_string(p.path("consumed")).unwrap(), "1");
    std::fs::write(p.path("seed"), "2").unwrap();
    let r = p.run(&pl, &p.opts());
    assert!(!cell(&r, "produce").cached && !cell(&r, "consume").cached, "{r:#?}");
    assert_eq!(std::fs::read_to_string(p.path("consumed")).unwrap(), "2");
}

#[test]
fn a_promised_artifact_that_was_not_made_fails_the_stage() {
    let p = Project::new();
    let pl = pipeline(vec![
        with_artifacts(stage("build", &[], &["true"]), &["out/*.o"]),
        stage("after", &["build"], &["true"]),
    ]);
    let r = p.run(&pl, &p.opts());
    assert_eq!(cell(&r, "build").outcome, Outcome::Fail);
    assert!(
        cell(&r, "build")
            .message
            .as_deref()
            .unwrap()
            .contains("`out/*.o` matched no file")
    );
    assert_eq!(cell(&r, "after").outcome, Outcome::Skip);
}

#[test]
fn only_and_from_run_the_chosen_stages_with_earlier_artifacts_restored() {
    let p = Project::new();
    let pl = sample_pipeline("test -s out/prog.o && date +%s%N >> unit-runs");
    assert_eq!(p.run(&pl, &p.opts()).exit_code(), 0);
    std::fs::remove_dir_all(p.path("out")).unwrap();

    let mut only = p.opts();
    only.only = Some("unit".into());
    let r = p.run(&pl, &only);
    assert_eq!(r.exit_code(), 0, "{r:#?}");
    assert!(!cell(&r, "unit").cached, "a chosen stage runs even when cached");
    assert!(cell(&r, "build").cached, "a needed stage comes from the cache");
    assert_eq!(cell(&r, "integration").outcome, Outcome::Skip);
    assert_eq!(
        cell(&r, "integration").message.as_deref(),
        Some("not selected (--only unit)")
    );
    assert_eq!(cell(&r, "lint").outcome, Outcome::Skip);
    assert_eq!(std::fs::read_to_string(p.path("unit-runs")).unwrap().lines().count(), 2);

    let mut from = p.opts();
    from.from = Some("unit".into());
    let r = p.run(&pl, &from);
    assert_eq!(r.exit_code(), 0);
    assert!(!cell(&r, "unit").cached && !cell(&r, "integration").cached);
    assert_eq!(cell(&r, "integration").outcome, Outcome::Pass);
    assert_eq!(cell(&r, "lint").outcome, Outcome::Skip);

    // The needed stage's inputs changed: its last stored result stands in.
    let mut changed = pl.clone();
    changed.stages[0].commands.push("true".into());
    let r = p.run(&changed, &only);
    assert_eq!(cell(&r, "unit").outcome, Outcome::Pass, "{r:#?}");
    assert!(
        cell(&r, "build")
            .message
            .as_deref()
            .unwrap()
            .contains("artifacts restored from run")
    );
}

#[test]
fn only_without_a_stored_dependency_is_an_error_not_a_silent_skip() {
    let p = Project::new();
    let mut only = p.opts();
    only.only = Some("unit".into());
    let r = p.run(&sample_pipeline("true"), &only);
    assert_eq!(cell(&r, "unit").outcome, Outcome::Error);
    assert!(
        cell(&r, "unit")
            .message
            .as_deref()
            .unwrap()
            .contains("dependency build has no stored result")
    );
    assert_eq!(r.exit_code(), 3);
}

#[test]
fn independent_stages_run_at_the_same_time() {
    let p = Project::new();
    let pl = pipeline(vec![
        stage(
            "a",
            &[],
            &["touch a.started; for i in $(seq 100); do test -e b.started && exit 0; sleep 0.05; done; exit 1"],
        ),
        stage(
            "b",
            &[],
            &["touch b.started; for i in $(seq 100); do test -e a.started && exit 0; sleep 0.05; done; exit 1"],
        ),
    ]);
    let mut opts = p.opts();
    opts.no_cache = true;
    let r = p.run(&pl, &opts);
    assert_eq!(r.exit_code(), 0, "{r:#?}");
    opts.jobs = Some(1);
    std::fs::remove_file(p.path("a.started")).unwrap();
    std::fs::remove_file(p.path("b.started")).unwrap();
    assert_eq!(p.run(&pl, &opts).exit_code(), 1, "--jobs 1 runs one stage at a time");
}

#[test]
fn the_stage_deadline_is_an_error_and_kills_the_command() {
    let p = Project::new();
    let mut slow = stage("slow", &[], &["sleep 120"]);
    slow.timeout_secs = 1;
    let start = Instant::now();
    let r = p.run(&pipeline(vec![slow]), &p.opts());
    assert_eq!(cell(&r, "slow").outcome, Outcome::Error);
    assert_eq!(r.exit_code(), 3);
    // The stage's 1 s deadline is orca's own; checked against the command's 120 s, not the
    // machine's speed: orca killed the command instead of waiting for it.
    assert!(start.elapsed() < Duration::from_secs(120), "{:?}", start.elapsed());
}

#[test]
fn junit_has_one_case_per_stage() {
    let p = Project::new();
    let r = p.run(&sample_pipeline("exit 1"), &p.opts());
    let xml = junit::render(&r).unwrap();
    assert_eq!(xml.matches("<testcase ").count(), 4, "{xml}");
    assert!(xml.contains("<failure") && xml.contains("<skipped"), "{xml}");
}

#[test]
fn a_stage_name_that_is_not_a_file_name_still_gets_a_log() {
    let p = Project::new();
    let r = p.run(&pipeline(vec![stage("unit/fast tests", &[], &["echo ran"])]), &p.opts());
    assert_eq!(r.exit_code(), 0, "{r:#?}");
    let log = std::fs::read_to_string(p.path("build/pipeline/logs/unit_fast_tests.log")).unwrap();
    assert!(log.contains("ran"), "{log}");
}
