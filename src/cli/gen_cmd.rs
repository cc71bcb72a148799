use super::GenArgs;

pub fn run(_a: GenArgs) -> anyhow::Result<u8> {
    Err(super::not_yet("orca gen"))
}
