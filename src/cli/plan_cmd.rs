use super::PlanArgs;

pub fn run(_a: PlanArgs) -> anyhow::Result<u8> {
    Err(super::not_yet("orca plan"))
}
