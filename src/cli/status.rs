use super::{InstallArgs, StatusArgs, UninstallArgs};

pub fn run(_a: StatusArgs) -> anyhow::Result<u8> {
    Err(super::not_yet("orca status"))
}
pub fn install(_a: InstallArgs) -> anyhow::Result<u8> {
    Err(super::not_yet("orca install"))
}
pub fn uninstall(_a: UninstallArgs) -> anyhow::Result<u8> {
    Err(super::not_yet("orca uninstall"))
}
