use super::{BuildArgs, CleanArgs};

pub fn run(_a: BuildArgs) -> anyhow::Result<u8> {
    Err(super::not_yet("orca build"))
}

pub fn clean(_a: CleanArgs) -> anyhow::Result<u8> {
    Err(super::not_yet("orca clean"))
}
