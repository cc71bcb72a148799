use super::PipelineRunArgs;

pub fn run(_a: PipelineRunArgs) -> anyhow::Result<u8> {
    Err(super::not_yet("orca pipeline run"))
}
