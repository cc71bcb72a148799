//! VM stages: boot the stage's VM on its kernel and run the commands in the guest.

use std::fs::File;

use super::host::Ran;
use crate::plan::{Plan, Stage};
use crate::report::Outcome;

pub fn run(
    _plan: &Plan,
    _s: &Stage,
    vm: &str,
    kernel: &str,
    _accel: &str,
    _env: &[(String, String)],
    _log: &mut File,
) -> Ran {
    Ran::new(
        Outcome::Error,
        format!("VM stage (vm {vm}, kernel {kernel}): the VM engine is not in this build of orca yet"),
    )
}
