//! The guest agent: orca itself, running inside the VM.

pub fn main(_port: std::path::PathBuf) -> anyhow::Result<u8> {
    Err(crate::cli_not_yet("orca agent"))
}
