//! Tests of the matrix driver: the cells' life (unavailable, cached, prepared once, run, stored).
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
}

impl Script {
    fn new(respond: Respond) -> Script {
        Script {
            prepared: Mutex::new(vec![]),
            runs: AtomicUsize::new(0),
            respond,
            broken: None,
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
    fn run(&self, k: &String, job: &Job, state: &dyn Fn(&str)) -> Result<CellOutput> {
        state("running");
        self.runs.fetch_add(1, Ordering::SeqCst);
        (self.respond)(k, job)
    }
    fn accel(&self) -> Option<String> {
        Some("tcg".into())
    }
}

const OLD: &str = r#"{"kernel":"5.10.0-32-amd64","tests":[
    {"name":"xdp_blocklist/drop","outcome":"pass","duration_ms":5},
    {"name":"cgroup_events/loop","outcome":"fail","duration_ms":2,"message":"load failed","verifier_log":"unknown func bpf_loop#181"}]}"#;
const NEW: &str = r#"{"kernel":"6.1.0-50-amd64","tests":[
    {"name":"xdp_blocklist/drop","outcome":"pass","duration_ms":5},
    {"name":"cgroup_events/loop","outcome":"pass","duration_ms":2}]}"#;

fn suite_output(k: &str, job: &Job) -> Result<CellOutput> {
    assert!(job.command.suite(), "{:?}", job.command);
    assert!(job.command.argv[2].contains("'--json'"));
    let (code, doc) = if k == "5.10" { (1, OLD) } else { (0, NEW) };
    Ok(CellOutput {
        exit_code: Some(code),
        stdout: doc.into(),
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
}

fn fixture() -> Fixture {
    let test = TestSpec {
        results: vec![],
        parallel: true,
        timeout_secs: 600,
        commands: vec!["orca suite".into()],
        vm: None,
        expectations: vec![Expectation {
            test: "cgroup_events*".into(),
            min_kernel: "5.17".into(),
            reason: None,
        }],
    };
    let cells = vec![
        cell("5.10", 0, "orca suite"),
        cell("5.10", 1, "orca suite --verbose"),
        cell("6.1", 0, "orca suite"),
        cell("5.4", 0, "orca suite"),
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
    std::fs::write(dir.path().join("orca"), b"the suite binary").unwrap();
    Fixture { plan, dir }
}

fn execute_with(f: &Fixture, runner: &Script, use_cache: bool) -> Report {
    let m = f.plan.matrix.as_ref().unwrap();
    let run = Run {
        plan: &f.plan,
        root: f.dir.path(),
        test: &m.test,
        cells: m.cells.clone(),
        tests: vec![],
        budget: Budget::new(2, 8192),
        exe: f.dir.path().join("orca"),
        cache: ResultCache::at(f.dir.path().join("results")),
        use_cache,
    };
    execute(&run, runner).unwrap()
}

fn outcomes(r: &Report) -> Vec<(&str, Outcome, bool)> {
    r.cells.iter().map(|c| (c.id.as_str(), c.outcome, c.cached)).collect()
}

#[test]
fn runs_every_cell_preparing_each_kernel_once() {
    let f = fixture();
    let runner = Script::new(suite_output);
    let r = execute_with(&f, &runner, true);
    assert_eq!(
        outcomes(&r),
        [
            ("5.10/0", Outcome::Pass, false),
            ("5.10/1", Outcome::Pass, false),
            ("6.1/0", Outcome::Pass, false),
            ("5.4/0", Outcome::Unavailable, false)
        ]
    );
    assert_eq!(r.cells[0].tests[1].outcome, Outcome::ExpectedFail);
    assert_eq!(r.cells[0].tests[1].log.as_deref(), Some("unknown func bpf_loop#181"));
    assert_eq!(r.cells[3].message.as_deref(), Some("kernel 5.4 has no source"));
    let mut prepared = runner.prepared.lock().unwrap().clone();
    prepared.sort();
    assert_eq!(prepared, ["5.10", "6.1"], "each kernel once, never the unavailable one");
    assert_eq!(runner.runs.load(Ordering::SeqCst), 3);
    assert_eq!(r.exit_code(), 0);
    assert_eq!(r.accel.as_deref(), Some("tcg"));
}

#[test]
fn a_warm_run_is_taken_from_the_cache_without_booting() {
    let f = fixture();
    let cold = execute_with(&f, &Script::new(suite_output), true);
    let runner = Script::new(suite_output);
    let warm = execute_with(&f, &runner, true);
    assert_eq!(runner.runs.load(Ordering::SeqCst), 0);
    assert!(
        runner.prepared.lock().unwrap().is_empty(),
        "a cached cell needs no kernel"
    );
    assert!(warm.cells[..3].iter().all(|c| c.cached));
    for (c, w) in cold.cells.iter().zip(&warm.cells) {
        assert_eq!((&c.id, c.outcome, &c.tests), (&w.id, w.outcome, &w.tests));
    }
    let forced = Script::new(suite_output);
    let again = execute_with(&f, &forced, false);
    assert_eq!(forced.runs.load(Ordering::SeqCst), 3, "--no-cache runs everything");
    assert!(again.cells.iter().all(|c| !c.cached));
}

#[test]
fn changed_objects_miss_the_cache() {
    let mut f = fixture();
    std::fs::create_dir_all(f.dir.path().join("build/ebpf")).unwrap();
    std::fs::write(f.dir.path().join("build/ebpf/x.o"), b"v1").unwrap();
    f.plan.programs.push(crate::plan::Program {
        name: "x".into(),
        source: "ebpf/x.c".into(),
        object: "build/ebpf/x.o".into(),
        cflags: vec![],
    });
    execute_with(&f, &Script::new(suite_output), true);
    std::fs::write(f.dir.path().join("build/ebpf/x.o"), b"v2").unwrap();
    let runner = Script::new(suite_output);
    execute_with(&f, &runner, true);
    assert_eq!(runner.runs.load(Ordering::SeqCst), 3);
}

#[test]
fn a_crashed_guest_is_an_infrastructure_error_and_is_not_cached() {
    let f = fixture();
    let r = execute_with(&f, &Script::new(guest_crash), true);
    assert!(
        r.cells[..3].iter().all(|c| c.outcome == Outcome::Error),
        "{:?}",
        outcomes(&r)
    );
    assert!(r.cells[0].message.as_deref().unwrap().contains("panicked"));
    assert_eq!(r.exit_code(), 3);
    let runner = Script::new(suite_output);
    execute_with(&f, &runner, true);
    assert_eq!(runner.runs.load(Ordering::SeqCst), 3, "errors were not stored");
}

#[test]
fn a_kernel_that_cannot_be_prepared_fails_only_its_cells() {
    let f = fixture();
    let runner = Script {
        broken: Some("6.1"),
        ..Script::new(suite_output)
    };
    let r = execute_with(&f, &runner, true);
    assert_eq!(r.cells[2].outcome, Outcome::Error);
    assert!(
        r.cells[2]
            .message
            .as_deref()
            .unwrap()
            .contains("kernel 6.1 could not be prepared: sha256 mismatch")
    );
    assert_eq!(r.cells[0].outcome, Outcome::Pass);
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
        suite_output(k, job)
    }
    execute_with(&f, &Script::new(slow), false);
    assert_eq!(PEAK.load(Ordering::SeqCst), 1);
}
