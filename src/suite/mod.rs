//! The in-guest behaviour suite for the programs in `ebpf/`.

pub fn main(_objects: std::path::PathBuf, _tests: Vec<String>, _list: bool) -> anyhow::Result<u8> {
    Err(crate::cli_not_yet("orca suite"))
}
