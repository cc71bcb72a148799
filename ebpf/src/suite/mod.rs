//! The firewall's behaviour suite (the `firewall-suite` binary).
//!
//! It runs as root inside a guest (or on a host whose kernel lets root load BPF). For each
//! program it loads the built object with aya (`<program>/load`, with the verifier log when the
//! kernel refuses it), checks behaviour with crafted packets through BPF_PROG_TEST_RUN and the
//! program's counters and events, and proves it on live traffic: XDP and tc on a veth pair in
//! private network namespaces, cgroup_skb on a private cgroup. Test names are stable,
//! `<program>/<test>`, so kernel expectations can match a program with `<program>/*`; when a
//! program does not load, each of its tests fails with the load error.
//!
//! Output: one line per test on stderr; with `--json`, `{"kernel", "tests": [{"name", "outcome",
//! "duration_ms", "message", "verifier_log"}]}` on stdout; with `--junit FILE`, the same results as
//! JUnit XML (see [`junit`]), which is what orca's matrix collects through `results`. Exit 0 when
//! nothing failed, 1 otherwise. `--bench` measures test-run throughput instead (see [`bench`]).

mod bench;
mod cgroup;
mod cgroupfs;
mod fixture;
pub mod junit;
mod live;
mod netns;
mod packets;
mod tc;
mod xdp;

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;
use std::sync::Mutex;
use std::time::Instant;

use anyhow::Result;
use serde::Serialize;

use crate::programs::{LoadError, Program};
use crate::sys::{EXIT_INFRA, Fail};

/// What `firewall-suite` takes on its command line.
#[derive(Debug, clap::Parser)]
#[command(
    name = "firewall-suite",
    version,
    about = "The firewall's behaviour suite: loads the built programs, checks them with crafted packets and on live traffic",
    after_help = "Examples:\n  sudo firewall-suite --objects build/ebpf\n  firewall-suite --objects build/ebpf --junit build/test-results/suite.xml\n  firewall-suite --test 'xdp_blocklist/*' --json\n  firewall-suite --list\n  firewall-suite --bench --repeat 10000\n\nExit codes: 0 all passed, 1 a test failed, 2 bad arguments, 3 not root or a host tool failed,\n124 a deadline passed, 130 interrupted.\nIn orca's matrix: orca matrix run (the project's configs run this binary in every guest)."
)]
pub struct Args {
    /// Directory of the built objects (what `orca build` writes).
    #[arg(long, default_value = "build/ebpf")]
    pub objects: std::path::PathBuf,
    /// Only tests matching these globs (`<program>/<test>`, e.g. 'xdp_blocklist/*').
    #[arg(long = "test")]
    pub tests: Vec<String>,
    /// List the tests and exit.
    #[arg(long)]
    pub list: bool,
    /// Print the results as JSON on stdout (progress stays on stderr).
    #[arg(long)]
    pub json: bool,
    /// Also write the results as JUnit XML to FILE (its folder is created).
    #[arg(long, value_name = "FILE")]
    pub junit: Option<std::path::PathBuf>,
    /// Instead of the tests, measure BPF_PROG_TEST_RUN throughput and print it as JSON.
    #[arg(long, conflicts_with_all = ["junit", "list"])]
    pub bench: bool,
    /// Runs per benchmark case.
    #[arg(long, default_value_t = 100_000, requires = "bench")]
    pub repeat: u32,
}

/// A test body: runs against its program's fixture, freshly reset; `Ok` carries a short note.
pub type Body<F> = fn(&mut F) -> Result<String>;

/// What every program's fixture offers the runner.
pub trait Fixture: Sized {
    const PROGRAM: Program;
    fn load(dir: &Path) -> Result<Self, LoadError>;
    /// Empties the rule maps, zeroes the counters, drops pending events, restores the config.
    fn reset(&mut self) -> Result<()>;
    /// One line about the loaded program (its size after the verifier).
    fn summary(&self) -> String;
    /// The program's tests, without the `<program>/` prefix.
    fn cases() -> Vec<(&'static str, Body<Self>)>;
}

/// A test that cannot run here for a missing prerequisite. Under `CI=true` it counts as failed.
#[derive(Debug)]
pub struct Skip(pub String);

impl std::fmt::Display for Skip {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Skip {}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Pass,
    Fail,
    Skip,
}

#[derive(Debug, Serialize)]
pub struct TestResult {
    pub name: String,
    pub outcome: Outcome,
    pub duration_ms: u64,
    pub message: String,
    pub verifier_log: Option<String>,
}

#[derive(Debug, Serialize)]
struct SuiteReport<'a> {
    kernel: String,
    tests: &'a [TestResult],
}

pub fn main(args: Args) -> Result<u8> {
    let patterns = args
        .tests
        .iter()
        .map(|g| {
            glob::Pattern::new(g).map_err(|e| {
                crate::sys::usage(
                    format!("--test {g:?} is not a valid glob: {e}"),
                    "e.g. --test 'xdp_blocklist/*'",
                )
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let selected = |name: &str| patterns.is_empty() || patterns.iter().any(|p| p.matches(name));

    let names: Vec<String> = all_names().into_iter().filter(|n| selected(n)).collect();
    if args.list {
        for n in &names {
            println!("{n}");
        }
        return Ok(0);
    }
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return Err(
            Fail::new(EXIT_INFRA, "the suite loads and attaches BPF programs and needs root")
                .hint("run it as root (sudo firewall-suite), or in a VM: orca test")
                .into(),
        );
    }
    if args.bench {
        return bench::run(&args.objects, args.repeat);
    }
    if names.is_empty() {
        return Err(crate::sys::usage(
            format!("no test matches {}", args.tests.join(", ")),
            "`firewall-suite --list` shows the test names",
        ));
    }

    install_panic_hook();
    let started = Instant::now();
    let mut results = Vec::new();
    let objects = args.objects.as_path();
    run_program::<fixture::XdpFixture>(objects, &selected, &mut results);
    run_program::<fixture::TcFixture>(objects, &selected, &mut results);
    run_program::<fixture::CgFixture>(objects, &selected, &mut results);

    crate::sys::check_interrupted()?;
    let count = |o: Outcome| results.iter().filter(|r| r.outcome == o).count();
    let failed = count(Outcome::Fail);
    let elapsed = started.elapsed();
    eprintln!(
        "suite: {} passed, {failed} failed, {} skipped in {} on {}",
        count(Outcome::Pass),
        count(Outcome::Skip),
        crate::sys::duration(elapsed),
        kernel_release()
    );
    if let Some(path) = &args.junit {
        junit::write(path, &kernel_release(), &results, elapsed)?;
    }
    if args.json {
        let report = SuiteReport {
            kernel: kernel_release(),
            tests: &results,
        };
        println!("{}", serde_json::to_string_pretty(&report)?);
    }
    Ok(if failed == 0 { 0 } else { crate::sys::EXIT_TEST_FAILED })
}

/// Every test name, grouped by program, in the order they run.
pub fn all_names() -> Vec<String> {
    fn names<F: Fixture>() -> Vec<String> {
        let p = F::PROGRAM.name();
        std::iter::once(format!("{p}/load"))
            .chain(F::cases().into_iter().map(|(n, _)| format!("{p}/{n}")))
            .collect()
    }
    [
        names::<fixture::XdpFixture>(),
        names::<fixture::TcFixture>(),
        names::<fixture::CgFixture>(),
    ]
    .concat()
}

fn run_program<F: Fixture>(objects: &Path, selected: &dyn Fn(&str) -> bool, results: &mut Vec<TestResult>) {
    let prefix = F::PROGRAM.name();
    let load_name = format!("{prefix}/load");
    let cases: Vec<(String, Body<F>)> = F::cases()
        .into_iter()
        .map(|(n, b)| (format!("{prefix}/{n}"), b))
        .filter(|(n, _)| selected(n))
        .collect();
    if cases.is_empty() && !selected(&load_name) {
        return;
    }

    let start = Instant::now();
    let loaded = catch_unwind(|| F::load(objects)).unwrap_or_else(|_| {
        Err(LoadError {
            program: F::PROGRAM,
            stage: crate::programs::LoadStage::Object,
            message: format!("panicked: {}", take_panic()),
            verifier_log: None,
        })
    });
    let load_time = start.elapsed();
    let mut fixture = match loaded {
        Ok(f) => {
            if selected(&load_name) {
                record(results, load_name, Outcome::Pass, load_time, f.summary(), None);
            }
            f
        }
        Err(e) => {
            if selected(&load_name) {
                record(
                    results,
                    load_name,
                    Outcome::Fail,
                    load_time,
                    e.to_string(),
                    e.verifier_log.clone(),
                );
            }
            for (name, _) in cases {
                let message = format!("not run: the program did not load: {e}");
                record(results, name, Outcome::Fail, std::time::Duration::ZERO, message, None);
            }
            return;
        }
    };

    for (name, body) in cases {
        if crate::sys::interrupted() {
            record(
                results,
                name,
                Outcome::Fail,
                std::time::Duration::ZERO,
                "not run: interrupted".into(),
                None,
            );
            continue;
        }
        let start = Instant::now();
        let run = catch_unwind(AssertUnwindSafe(|| {
            fixture.reset()?;
            body(&mut fixture)
        }));
        let (outcome, message) = match run {
            Ok(Ok(note)) => (Outcome::Pass, note),
            Ok(Err(e)) => match e.downcast_ref::<Skip>() {
                Some(skip) if crate::sys::ci_enabled() => (
                    Outcome::Fail,
                    format!("a prerequisite is missing and CI=true forbids skipping: {skip}"),
                ),
                Some(skip) => (Outcome::Skip, skip.0.clone()),
                None => (Outcome::Fail, format!("{e:#}")),
            },
            Err(_) => (Outcome::Fail, format!("panicked: {}", take_panic())),
        };
        record(results, name, outcome, start.elapsed(), message, None);
    }
}

fn record(
    results: &mut Vec<TestResult>,
    name: String,
    outcome: Outcome,
    took: std::time::Duration,
    message: String,
    verifier_log: Option<String>,
) {
    let label = match outcome {
        Outcome::Pass => "pass",
        Outcome::Fail => "FAIL",
        Outcome::Skip => "skip",
    };
    eprintln!("{label:<4} {name} ({}) {message}", crate::sys::duration(took));
    if let Some(log) = &verifier_log {
        let lines: Vec<&str> = log.lines().collect();
        let tail = &lines[lines.len().saturating_sub(30)..];
        eprintln!("     verifier log ({} lines, last {}):", lines.len(), tail.len());
        for l in tail {
            eprintln!("     | {l}");
        }
    }
    results.push(TestResult {
        name,
        outcome,
        duration_ms: took.as_millis() as u64,
        message,
        verifier_log,
    });
}

static PANIC_MESSAGE: Mutex<Option<String>> = Mutex::new(None);

/// A test that panics fails with the panic's message instead of printing a backtrace.
fn install_panic_hook() {
    std::panic::set_hook(Box::new(|info| {
        let text = match (
            info.payload().downcast_ref::<&str>(),
            info.payload().downcast_ref::<String>(),
        ) {
            (Some(s), _) => s.to_string(),
            (_, Some(s)) => s.clone(),
            _ => "unknown panic".to_string(),
        };
        let at = info
            .location()
            .map(|l| format!(" at {}:{}", l.file(), l.line()))
            .unwrap_or_default();
        if let Ok(mut slot) = PANIC_MESSAGE.lock() {
            *slot = Some(format!("{text}{at}"));
        }
    }));
}

fn take_panic() -> String {
    PANIC_MESSAGE
        .lock()
        .ok()
        .and_then(|mut s| s.take())
        .unwrap_or_else(|| "unknown panic".into())
}

/// What `uname -r` prints.
pub fn kernel_release() -> String {
    // SAFETY: uname fills the struct it is given.
    unsafe {
        let mut u: libc::utsname = std::mem::zeroed();
        if libc::uname(&mut u) != 0 {
            return "unknown".into();
        }
        std::ffi::CStr::from_ptr(u.release.as_ptr())
            .to_string_lossy()
            .into_owned()
    }
}
