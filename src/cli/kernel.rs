use super::KernelCommand;

pub fn run(_c: KernelCommand) -> anyhow::Result<u8> {
    Err(super::not_yet("orca kernel"))
}
