use super::{CpArgs, ExecArgs, RunArgs, ShellArgs, StartArgs, StopArgs};

pub fn run(_a: RunArgs) -> anyhow::Result<u8> {
    Err(super::not_yet("orca run"))
}
pub fn start(_a: StartArgs) -> anyhow::Result<u8> {
    Err(super::not_yet("orca start"))
}
pub fn stop(_a: StopArgs) -> anyhow::Result<u8> {
    Err(super::not_yet("orca stop"))
}
pub fn exec(_a: ExecArgs) -> anyhow::Result<u8> {
    Err(super::not_yet("orca exec"))
}
pub fn cp(_a: CpArgs) -> anyhow::Result<u8> {
    Err(super::not_yet("orca cp"))
}
pub fn shell(_a: ShellArgs) -> anyhow::Result<u8> {
    Err(super::not_yet("orca shell"))
}
