//! orca's error type and exit codes.
//!
//! Errors travel as `anyhow::Error` with context at each step. Where a failure has a meaning the
//! user's scripts may depend on, it carries a [`Fail`] somewhere in its chain, which fixes the exit
//! code and an optional hint. `cli::main` prints the chain as one message and exits with that code.

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};

/// orca's documented exit codes. The README's "Exit codes" table mirrors this enum.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Exit {
    /// Everything passed, or matched its expectation.
    Ok,
    /// A test, stage or checked command failed.
    TestFailed,
    /// A usage error: a bad argument or an invalid spec.
    Usage,
    /// An infrastructure failure: a host tool missing, QEMU died, a download failed.
    Infra,
    /// The kernel is not available: no source, a hash mismatch, a failed fetch.
    KernelUnavailable,
    /// The kernel lacks a config option orca needs to boot it.
    KernelConfig,
    /// The guest kernel panicked.
    GuestPanic,
    /// A deadline passed (a hung guest or command).
    Timeout,
    /// Interrupted by Ctrl-C or SIGTERM.
    Interrupted,
}

impl Exit {
    pub fn code(self) -> u8 {
        match self {
            Exit::Ok => 0,
            Exit::TestFailed => 1,
            Exit::Usage => 2,
            Exit::Infra => 3,
            Exit::KernelUnavailable => 4,
            Exit::KernelConfig => 5,
            Exit::GuestPanic => 6,
            Exit::Timeout => 124,
            Exit::Interrupted => 130,
        }
    }
}

/// A failure with a fixed exit code and an optional "how to fix it" hint.
#[derive(Debug)]
pub struct Fail {
    pub exit: Exit,
    pub message: String,
    pub hint: Option<String>,
}

impl fmt::Display for Fail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Fail {}

impl Fail {
    pub fn new(exit: Exit, message: impl Into<String>) -> Self {
        Fail { exit, message: message.into(), hint: None }
    }
    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
}

/// Builds an `anyhow::Error` carrying a [`Fail`]: `fail!(Exit::Usage, "bad {}", x)`.
#[macro_export]
macro_rules! fail {
    ($exit:expr, $($arg:tt)*) => {
        ::anyhow::Error::new($crate::error::Fail::new($exit, format!($($arg)*)))
    };
}

/// The [`Fail`] nearest the top of an error's chain, if any.
pub fn find_fail(err: &anyhow::Error) -> Option<&Fail> {
    err.chain().find_map(|e| e.downcast_ref::<Fail>())
}

/// Set by `process`'s signal handler once SIGINT, SIGTERM or SIGHUP arrived. It lives here, below
/// `process`, because the exit code of every error depends on it.
pub(crate) static INTERRUPTED: AtomicBool = AtomicBool::new(false);

/// True once SIGINT, SIGTERM or SIGHUP arrived.
pub fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::SeqCst)
}

/// The exit code for an error: the code of its [`Fail`], or `Infra` when it carries none.
pub fn exit_of(err: &anyhow::Error) -> Exit {
    if interrupted() {
        return Exit::Interrupted;
    }
    find_fail(err).map(|f| f.exit).unwrap_or(Exit::Infra)
}

/// A shorthand for a usage error with a hint.
pub fn usage(message: impl Into<String>, hint: impl Into<String>) -> anyhow::Error {
    anyhow::Error::new(Fail::new(Exit::Usage, message).hint(hint))
}
