//! Tests of the matrix driver: the cells' life (unavailable, prepared once, run, cached).
//! The guest is a scripted [`CellRunner`]; booting real kernels is tested in `tests/matrix_*.rs`.

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::*;
use crate::plan::{Expectation, Kernel, KernelSource, Matrix};

type Respond = fn(&str, &Job) -> Result<CellOutput>;

struct Script {
    prepared: Mutex<Vec<String>>,
    runs: AtomicUsize,
    respond: Respond,
    /// A kernel whose preparation fails.
    broken: Option<&'static str>,
    /// What [`CellRunner::guest`] says: `None` for the host's root.
    image: Mutex<Option<String>>,
}

impl Script {
    fn new(respond: Respond) -> Script {
        Script {
            prepared: Mutex::new(vec![]),
            runs: AtomicUsize::new(0),
            respond,
            broken: None,
            image: Mutex::new(Some("aa".repeat(32))),
        }
    }
}

impl CellRunner for Script {
    type Kernel = String;
    fn prepare(&self, k: &Kernel) -> Result<String> {
        self.prepared.lock().unwrap().push(k.version.clone());
        if self.broken == Some(k.version.as_str()) {
            anyhow::bail!("sha256 mismatch");
        }
        Ok(k.version.clone())
    }
    fn guest(&self, _: &Job) -> Result<Option<cache::Guest>> {
        Ok(self.image.lock().unwrap().clone().map(|image_sha256| cache::Guest {
            image_sha256,
            provision: None,
            env: vec![],
        }))
    }
    fn run(&self, k: &String, job: &Job, state: &dyn Fn(&str)) -> Result<CellOutput> {
        state("running");
        self.runs.fetch_add(1, Ordering::SeqCst);
        (self.respond)(k, job)
    }
    fn accel(&self) -> Option<String> {
        Some("tcg".into())
    }
}

/// A test command that fails on 5.10 and passes elsewhere.
fn shell_output(k: &str, job: &Job) -> Result<CellOutput> {
    assert_eq!(job.command.argv[..2], ["/bin/sh", "-c"], "{:?}", job.command);
    let code = if k == "5.10" { 1 } else { 0 };
    Ok(CellOutput {
        exit_code: Some(code),
        stdout: format!("tested on {k}\n"),
        ..Default::default()
    })
}

fn guest_crash(_: &str, _: &Job) -> Result<CellOutput> {
    Err(crate::fail!(
        crate::error::Exit::GuestPanic,
        "the guest kernel panicked"
    ))
}

fn kernel(version: &str, with_source: bool) -> Kernel {
    Kernel {
        version: version.into(),
        release: None,
        sources: if with_source {
            vec![KernelSource::File {
                path: format!("{version}.deb").into(),
                sha256: "ab".repeat(32),
            }]
        } else {
            vec![]
        },
        nixpkgs: None,
    }
}

fn cell(kernel: &str, n: usize, command: &str) -> Cell {
    Cell {
        id: format!("{kernel}/{n}"),
        name: kernel.into(),
        image: "host".into(),
        kernel: kernel.into(),
        command: command.into(),
        unavailable: (kernel == "5.4").then(|| "kernel 5.4 has no source".to_string()),
    }
}

struct Fixture {
    plan: Plan,
    dir: tempfile::TempDir,
    cache: ResultCache,
}

fn fixture() -> Fixture {
    let test = TestSpec {
        results: vec![],
        cache: true,
        parallel: true,
        timeout_secs: 600,
        commands: vec!["make test".into()],
        vm: None,
        expectations: vec![Expectation {
            test: "probe*".into(),
            min_kernel: "5.17".into(),
            reason: None,
        }],
    };
    let cells = vec![
        cell("5.10", 0, "make test"),
        cell("5.10", 1, "make test V=1"),
        cell("6.1", 0, "make test"),
        cell("5.4", 0, "make test"),
    ];
    let plan = Plan {
        kernels: vec![kernel("5.4", false), kernel("5.10", true), kernel("6.1", true)],
        matrix: Some(Matrix {
            file: "configs/m.hcl".into(),
            test,
            cells,
        }),
        ..Plan::default()
    };
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("project/src")).unwrap();
    std::fs::write(dir.path().join("project/src/main.c"), "int main(void) { return 0; }\n").unwrap();
    let cache = ResultCache::at(dir.path().join("results"));
    Fixture { plan, dir, cache }
}

impl Fixture {
    fn root(&self) -> std::path::PathBuf {
        self.dir.path().join("project")
    }
}

fn execute_with(f: &Fixture, runner: &Script) -> Report {
    execute_opts(f, runner, true)
}

fn execute_opts(f: &Fixture, runner: &Script, reuse: bool) -> Report {
    let m = f.plan.matrix.as_ref().unwrap();
    let root = f.root();
    let run = Run {
        plan: &f.plan,
        root: &root,
        test: &m.test,
        cells: m.cells.clone(),
        tests: vec![],
        budget: Budget::new(2, 8192),
        cache: Some(&f.cache),
        reuse,
    };
    execute(&run, runner).unwrap()
}

fn outcomes(r: &Report) -> Vec<(&str, Outcome, bool)> {
    r.cells.iter().map(|c| (c.id.as_str(), c.outcome, c.cached)).collect()
}

#[test]
fn runs_every_cell_preparing_each_kernel_once() {
    let f = fixture();
    let runner = Script::new(shell_output);
    let r = execute_with(&f, &runner);
    assert_eq!(
        outcomes(&r),
        [
            ("5.10/0", Outcome::Fail, false),
            ("5.10/1", Outcome::Fail, false),
            ("6.1/0", Outcome::Pass, false),
            ("5.4/0", Outcome::Unavailable, false)
        ]
    );
    assert!(r.cells[0].output.as_deref().unwrap().contains("tested on 5.10"));
    assert_eq!(r.cells[3].message.as_deref(), Some("kernel 5.4 has no source"));
    let mut prepared = runner.prepared.lock().unwrap().clone();
    prepared.sort();
    assert_eq!(prepared, ["5.10", "6.1"], "each kernel once, never the unavailable one");
    assert_eq!(runner.runs.load(Ordering::SeqCst), 3);
    assert_eq!(r.exit_code(), 1);
    assert_eq!(r.accel.as_deref(), Some("tcg"));
}

#[test]
fn a_passing_cell_is_reused_while_its_inputs_are_unchanged_and_a_failing_one_never() {
    let f = fixture();
    execute_with(&f, &Script::new(shell_output));
    let runner = Script::new(shell_output);
    let again = execute_with(&f, &runner);
    assert_eq!(
        outcomes(&again),
        [
            ("5.10/0", Outcome::Fail, false),
            ("5.10/1", Outcome::Fail, false),
            ("6.1/0", Outcome::Pass, true),
            ("5.4/0", Outcome::Unavailable, false)
        ]
    );
    assert_eq!(runner.runs.load(Ordering::SeqCst), 2, "the two failures ran again");

    // A file of the mounted project changes: the cell runs again.
    std::fs::write(f.root().join("src/main.c"), "int main(void) { return 1; }\n").unwrap();
    let runner = Script::new(shell_output);
    let changed = execute_with(&f, &runner);
    assert!(!changed.cells[2].cached, "a changed source reruns the cell");
    assert_eq!(runner.runs.load(Ordering::SeqCst), 3);

    // So does another image.
    let runner = Script::new(shell_output);
    *runner.image.lock().unwrap() = Some("bb".repeat(32));
    assert!(!execute_with(&f, &runner).cells[2].cached, "another image reruns the cell");

    // --no-cache runs it, and stores it afresh.
    let runner = Script::new(shell_output);
    let forced = execute_opts(&f, &runner, false);
    assert!(!forced.cells[2].cached);
    assert_eq!(runner.runs.load(Ordering::SeqCst), 3);
    assert!(execute_with(&f, &Script::new(shell_output)).cells[2].cached);
}

#[test]
fn ignored_files_do_not_rerun_a_cell() {
    let f = fixture();
    std::fs::write(f.root().join(".gitignore"), "/target\n").unwrap();
    std::fs::create_dir_all(f.root().join("target")).unwrap();
    execute_with(&f, &Script::new(shell_output));
    std::fs::write(f.root().join("target/out"), "built").unwrap();
    assert!(execute_with(&f, &Script::new(shell_output)).cells[2].cached);
}

#[test]
fn nothing_is_cached_on_the_host_root_or_with_cache_false() {
    let f = fixture();
    let host = || {
        let r = Script::new(shell_output);
        *r.image.lock().unwrap() = None;
        r
    };
    execute_with(&f, &host());
    let runner = host();
    assert!(!execute_with(&f, &runner).cells[2].cached, "the host's root is never hashed");
    assert_eq!(runner.runs.load(Ordering::SeqCst), 3);

    let mut f = fixture();
    f.plan.matrix.as_mut().unwrap().test.cache = false;
    execute_with(&f, &Script::new(shell_output));
    let runner = Script::new(shell_output);
    assert!(!execute_with(&f, &runner).cells[2].cached, "cache = false");
    assert_eq!(runner.runs.load(Ordering::SeqCst), 3);
    assert!(!f.dir.path().join("results/matrix").exists(), "and nothing is stored");
}

#[test]
fn a_cell_that_writes_into_the_project_keeps_nothing() {
    let f = fixture();
    fn writes(k: &str, job: &Job) -> Result<CellOutput> {
        let root = job.command.cwd.clone();
        std::fs::write(root.join(format!("written-on-{k}")), "x").unwrap();
        shell_output(k, job)
    }
    execute_with(&f, &Script::new(writes));
    let runner = Script::new(shell_output);
    assert!(!execute_with(&f, &runner).cells[2].cached, "the tree changed during the first run");
}

#[test]
fn test_filters_are_refused_for_cells_without_testcases() {
    let f = fixture();
    let m = f.plan.matrix.as_ref().unwrap();
    let run = Run {
        plan: &f.plan,
        root: f.dir.path(),
        test: &m.test,
        cells: m.cells.clone(),
        tests: vec!["probe/*".into()],
        budget: Budget::new(2, 8192),
        cache: None,
        reuse: true,
    };
    let runner = Script::new(shell_output);
    let e = format!("{:#}", execute(&run, &runner).unwrap_err());
    assert!(e.contains("--test probe/* cannot narrow"), "{e}");
    assert_eq!(runner.runs.load(Ordering::SeqCst), 0);
}

#[test]
fn a_crashed_guest_is_an_infrastructure_error() {
    let f = fixture();
    let r = execute_with(&f, &Script::new(guest_crash));
    assert!(
        r.cells[..3].iter().all(|c| c.outcome == Outcome::Error),
        "{:?}",
        outcomes(&r)
    );
    assert!(r.cells[0].message.as_deref().unwrap().contains("panicked"));
    assert_eq!(r.exit_code(), 3);
}

#[test]
fn a_kernel_that_cannot_be_prepared_fails_only_its_cells() {
    let f = fixture();
    let runner = Script {
        broken: Some("6.1"),
        ..Script::new(shell_output)
    };
    let r = execute_with(&f, &runner);
    assert_eq!(r.cells[2].outcome, Outcome::Error);
    assert!(
        r.cells[2]
            .message
            .as_deref()
            .unwrap()
            .contains("kernel 6.1 could not be prepared: sha256 mismatch")
    );
    assert_eq!(r.cells[0].outcome, Outcome::Fail);
    assert_eq!(
        runner.prepared.lock().unwrap().iter().filter(|k| *k == "6.1").count(),
        1
    );
}

#[test]
fn one_at_a_time_when_the_test_says_so() {
    let mut f = fixture();
    f.plan.matrix.as_mut().unwrap().test.parallel = false;
    static NOW: AtomicUsize = AtomicUsize::new(0);
    static PEAK: AtomicUsize = AtomicUsize::new(0);
    fn slow(k: &str, job: &Job) -> Result<CellOutput> {
        let n = NOW.fetch_add(1, Ordering::SeqCst) + 1;
        PEAK.fetch_max(n, Ordering::SeqCst);
        std::thread::sleep(Duration::from_millis(30));
        NOW.fetch_sub(1, Ordering::SeqCst);
        shell_output(k, job)
    }
    execute_with(&f, &Script::new(slow));
    assert_eq!(PEAK.load(Ordering::SeqCst), 1);
}
