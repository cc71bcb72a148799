//! The results model. `--json` output is these structs serialized; the table and JUnit are
//! rendered from them.

use serde::{Deserialize, Serialize};

/// How one test (or one stage) ended, after kernel expectations are applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    /// Ran and passed.
    Pass,
    /// Ran and failed where it was expected to pass.
    Fail,
    /// Failed on a kernel older than the test's `min_kernel`, as expected.
    ExpectedFail,
    /// Passed on a kernel older than its `min_kernel`: the expectation is wrong. Counts as a failure.
    UnexpectedPass,
    /// Not run (filtered out, or a dependency failed); the message says why.
    Skip,
    /// The cell cannot run on this host (no kernel source, unknown image).
    Unavailable,
    /// orca or the VM failed (boot failure, timeout, panic): an infrastructure failure.
    Error,
}

impl Outcome {
    /// True for outcomes that make the run fail (exit 1).
    pub fn is_failure(self) -> bool {
        matches!(self, Outcome::Fail | Outcome::UnexpectedPass)
    }
    /// True for outcomes that mean orca or the host failed, not the code under test (exit 3).
    pub fn is_infra(self) -> bool {
        self == Outcome::Error
    }

    /// A cell's outcome from its tests' outcomes: a failure if any test failed (a plain failure
    /// before an unexpected pass), then an error, else a pass if anything ran as expected (expected
    /// failures included: they matched), else a skip (nothing ran, or nothing was reported).
    pub fn of_tests(outcomes: impl IntoIterator<Item = Outcome>) -> Outcome {
        let mut worst = Outcome::Skip;
        let rank = |o: Outcome| match o {
            Outcome::Skip => 0,
            Outcome::Pass | Outcome::ExpectedFail => 1,
            Outcome::Unavailable => 2,
            Outcome::Error => 3,
            Outcome::UnexpectedPass => 4,
            Outcome::Fail => 5,
        };
        for o in outcomes {
            let o = if o == Outcome::ExpectedFail { Outcome::Pass } else { o };
            if rank(o) > rank(worst) {
                worst = o;
            }
        }
        worst
    }

    pub fn label(self) -> &'static str {
        match self {
            Outcome::Pass => "pass",
            Outcome::Fail => "FAIL",
            Outcome::ExpectedFail => "xfail",
            Outcome::UnexpectedPass => "XPASS",
            Outcome::Skip => "skip",
            Outcome::Unavailable => "n/a",
            Outcome::Error => "ERROR",
        }
    }
}

/// One test's result inside a cell.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TestResult {
    /// The test's name, e.g. `xdp_drop/ipv4_blocked`.
    pub name: String,
    pub outcome: Outcome,
    pub duration_ms: u64,
    /// A one-line reason for anything but a pass.
    pub message: Option<String>,
    /// The verifier log or captured output, kept for failures and expected failures.
    pub log: Option<String>,
    /// The expectation that applied, e.g. `needs kernel >= 5.17: uses bpf_loop`.
    pub expectation: Option<String>,
}

/// One matrix cell's (or one pipeline stage's) result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CellResult {
    /// The cell id (`<entry>/<n>`) or stage name.
    pub id: String,
    /// The kernel version (catalog key), if the cell ran in a VM.
    pub kernel: Option<String>,
    /// The guest's `uname -r`, when known.
    pub release: Option<String>,
    /// The command that ran.
    pub command: String,
    /// The cell's overall outcome: the worst of its tests, or its own failure.
    pub outcome: Outcome,
    pub duration_ms: u64,
    /// True when the result was taken from the result cache without running.
    pub cached: bool,
    /// The tests the cell reported; empty for a plain command or a stage.
    pub tests: Vec<TestResult>,
    /// Why the cell failed, was skipped or is unavailable.
    pub message: Option<String>,
    /// The tail of the cell's output, kept for failures.
    pub output: Option<String>,
    /// Each line of the cell's (or stage's) script as it ran: one shell runs them in order and
    /// stops at the first that fails. Empty for results that ran no script.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub steps: Vec<StepResult>,
    /// Set when the cell's first guest failed before its agent was ready (a panic or a hang, an
    /// infrastructure fault) and the cell ran on a second boot: how the first one failed, with its
    /// console tail. The outcome is the second boot's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flaky: Option<String>,
}

/// One line of a script: its index (from 0), text, exit code, time and the tail of its output.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepResult {
    pub index: usize,
    pub command: String,
    /// `None`: the shell was killed by a signal during the line.
    pub exit_code: Option<i32>,
    pub duration_ms: u64,
    /// The tail of the line's output (stderr, then stdout).
    pub output: Option<String>,
}

/// A whole run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// `matrix` or `pipeline:<name>`.
    pub kind: String,
    /// The backend that ran it: `native` or `nix`.
    pub backend: String,
    /// `kvm` or `tcg` (native), or the nix system.
    pub accel: Option<String>,
    pub wall_ms: u64,
    pub cells: Vec<CellResult>,
}

impl Report {
    /// The exit code the run ends with: 0 all matched expectations, 1 a test failed, 3 an
    /// infrastructure failure (and no test failure).
    pub fn exit_code(&self) -> u8 {
        let outcomes = self
            .cells
            .iter()
            .flat_map(|c| std::iter::once(c.outcome).chain(c.tests.iter().map(|t| t.outcome)));
        let mut code = 0;
        for o in outcomes {
            if o.is_failure() {
                return 1;
            }
            if o == Outcome::Error {
                code = 3;
            }
        }
        code
    }

    /// The cells (or stages) that could not run on this host.
    pub fn unavailable(&self) -> Vec<&CellResult> {
        self.cells.iter().filter(|c| c.outcome == Outcome::Unavailable).collect()
    }

    /// [`Report::exit_code`], except that a run in which a cell or stage could not run exits 4
    /// (kernel unavailable) when nothing else went wrong, unless `allow_unavailable`
    /// (`--allow-unavailable`): a run that tested less than it says is never green by default.
    pub fn exit_code_with(&self, allow_unavailable: bool) -> u8 {
        let code = self.exit_code();
        if code != 0 || allow_unavailable || self.unavailable().is_empty() {
            return code;
        }
        crate::error::Exit::KernelUnavailable.code()
    }
}
