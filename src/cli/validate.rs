use super::ValidateArgs;

pub fn run(_a: ValidateArgs) -> anyhow::Result<u8> {
    Err(super::not_yet("orca validate"))
}
