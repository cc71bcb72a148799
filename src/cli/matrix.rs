use super::{MatrixRunArgs, TestArgs};

pub fn run(_a: MatrixRunArgs) -> anyhow::Result<u8> {
    Err(super::not_yet("orca matrix run"))
}
pub fn test(_a: TestArgs) -> anyhow::Result<u8> {
    Err(super::not_yet("orca test"))
}
