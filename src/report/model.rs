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
    /// The test's name, e.g. `xdp_blocklist/ipv4_blocked`.
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
}
