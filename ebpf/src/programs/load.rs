//! Loading an object: create its maps, then pass its program through the verifier.

use std::path::Path;

use aya::programs::{CgroupSkb, ProgramError, SchedClassifier, Xdp};
use aya::{Ebpf, EbpfLoader};

use super::Program;

/// How far loading got before it failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LoadStage {
    /// Reading the object file.
    Read,
    /// Parsing the ELF/BTF and creating the maps.
    Object,
    /// Loading the program into the kernel (the verifier).
    Verifier,
}

impl std::fmt::Display for LoadStage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            LoadStage::Read => "reading the object",
            LoadStage::Object => "creating its maps",
            LoadStage::Verifier => "loading it into the kernel",
        })
    }
}

/// A program that could not be loaded. For verifier rejections `verifier_log` is the kernel's
/// whole log and the message ends with its decisive line.
#[derive(Debug)]
pub struct LoadError {
    pub program: Program,
    pub stage: LoadStage,
    pub message: String,
    pub verifier_log: Option<String>,
}

impl std::fmt::Display for LoadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}: {}", self.program, self.stage, self.message)
    }
}

impl std::error::Error for LoadError {}

impl LoadError {
    fn new(program: Program, stage: LoadStage, message: impl Into<String>) -> LoadError {
        LoadError {
            program,
            stage,
            message: message.into(),
            verifier_log: None,
        }
    }
}

/// Reads `dir/<program>.o` (what `orca build` writes), creates its maps and loads its program.
pub fn load_from_dir(dir: &Path, program: Program) -> Result<Ebpf, LoadError> {
    let path = dir.join(program.object_file());
    let bytes = std::fs::read(&path).map_err(|e| {
        let hint = if e.kind() == std::io::ErrorKind::NotFound {
            " (run `orca build` first)"
        } else {
            ""
        };
        LoadError::new(program, LoadStage::Read, format!("{}: {e}{hint}", path.display()))
    })?;
    load_bytes(&bytes, program)
}

/// Creates the maps of an object held in memory and loads `program` from it.
pub fn load_bytes(bytes: &[u8], program: Program) -> Result<Ebpf, LoadError> {
    let mut ebpf = EbpfLoader::new()
        .load(bytes)
        .map_err(|e| LoadError::new(program, LoadStage::Object, error_chain(&e)))?;
    load_program(&mut ebpf, program)?;
    Ok(ebpf)
}

fn load_program(ebpf: &mut Ebpf, program: Program) -> Result<(), LoadError> {
    let function = program.function();
    let Some(prog) = ebpf.program_mut(function) else {
        return Err(LoadError::new(
            program,
            LoadStage::Object,
            format!("the object has no program `{function}`"),
        ));
    };
    let kind_error = |e: ProgramError| LoadError::new(program, LoadStage::Object, error_chain(&e));
    let result = match program {
        Program::XdpBlocklist => <&mut Xdp>::try_from(prog).map_err(kind_error)?.load(),
        Program::TcEgressPolicy => <&mut SchedClassifier>::try_from(prog).map_err(kind_error)?.load(),
        Program::CgroupEvents => <&mut CgroupSkb>::try_from(prog).map_err(kind_error)?.load(),
    };
    result.map_err(|e| match e {
        ProgramError::LoadError { io_error, verifier_log } => {
            let log = verifier_log.to_string();
            let mut message = format!("the verifier refused it ({io_error})");
            if let Some(line) = decisive_line(&log) {
                message.push_str(": ");
                message.push_str(line);
            }
            LoadError {
                program,
                stage: LoadStage::Verifier,
                message,
                verifier_log: Some(log),
            }
        }
        other => LoadError::new(program, LoadStage::Verifier, error_chain(&other)),
    })
}

/// The line of a verifier log that says why: the last one before the statistics.
pub fn decisive_line(log: &str) -> Option<&str> {
    log.lines().map(str::trim).rev().find(|l| {
        !l.is_empty()
            && !l.starts_with("processed ")
            && !l.starts_with("verification time")
            && !l.starts_with("stack depth")
            && !l.starts_with("-- END PROG LOAD LOG --")
    })
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut parts = vec![e.to_string()];
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        source = s.source();
    }
    parts.join(": ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decisive_line_skips_the_statistics() {
        let log = "0: R1=ctx() R10=fp0\n0: (85) call unknown#160\ninvalid func unknown#160\n\
                   processed 1 insns (limit 1000000) max_states_per_insn 0 total_states 0\n";
        assert_eq!(decisive_line(log), Some("invalid func unknown#160"));
        assert_eq!(decisive_line(""), None);
    }

    #[test]
    fn a_missing_object_says_to_build() {
        let err = load_from_dir(Path::new("/nonexistent-orca-dir"), Program::XdpBlocklist).unwrap_err();
        assert_eq!(err.stage, LoadStage::Read);
        assert!(err.to_string().contains("orca build"), "{err}");
    }

    #[test]
    fn bytes_that_are_no_object_fail_before_the_kernel() {
        // Aligned, so the parser sees the bytes themselves rather than a misaligned slice.
        let not_elf: &[u8] = crate::embed_object!("Cargo.toml");
        let err = load_bytes(not_elf, Program::TcEgressPolicy).unwrap_err();
        assert_eq!(err.stage, LoadStage::Object, "{err}");
        assert_eq!(not_elf.as_ptr() as usize % 8, 0);
    }
}
