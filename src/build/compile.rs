//! One clang invocation: a C source to a stripped eBPF object, reproducibly.
//!
//! Reproducibility comes from how clang is run, not from post-processing:
//! - clang runs in a stage (see `stage.rs`): a snapshot of the sources at a path of fixed length,
//!   with project-relative source and include paths, `-fdebug-compilation-dir=.`,
//!   `-fdebug-prefix-map=<stage>=.` and `-fmacro-prefix-map=<stage>=.`, so no path of the checkout
//!   reaches the object (clang 14 and later have all three), and the path's length cannot move
//!   clang's heap layout (which orders BTF types in clang 19);
//! - `-fno-ident` drops the `.comment` section naming the compiler build;
//! - `-Werror=date-time` refuses `__DATE__`, `__TIME__` and `__TIMESTAMP__`, which clang before 18 would
//!   fill from the clock (from 18 on clang reads `SOURCE_DATE_EPOCH`, and gets a fixed 0);
//! - the environment is emptied but for `PATH` and `LD_LIBRARY_PATH`, with `LC_ALL=C` and `TZ=UTC`,
//!   so `CPATH`, `C_INCLUDE_PATH` and the like cannot change what is compiled.
//!
//! Then the DWARF sections are removed (`strip.rs`, what `llvm-strip -g` does, as bpf2go does,
//! but in process). BTF (`.BTF`, `.BTF.ext`, with its line info) stays: it is what the loader and
//! the verifier use. Stripping makes the objects about half as big and leaves no source paths but
//! the project-relative ones in BTF line info.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, SystemTime};

use anyhow::{Context, Result};

use super::depfile;
use super::toolchain::Clang;
use crate::error::Exit;
use crate::fail;
use crate::plan::{Program, Toolchain};

/// How long one clang may run.
const COMPILE_DEADLINE: Duration = Duration::from_secs(300);

/// The placeholder for the build directory in the arguments that go into cache keys.
pub const KEY_DIR: &str = "$STAGE";

/// What varies between the two builds of `--verify-reproducible`; fixed for normal builds.
#[derive(Debug, Clone)]
pub struct Env {
    pub source_date_epoch: u64,
    pub tz: String,
}

impl Default for Env {
    fn default() -> Env {
        Env {
            source_date_epoch: 0,
            tz: "UTC".into(),
        }
    }
}

/// clang's arguments for `program` when run in `dir`, except the output paths: target, the
/// toolchain's flags, the program's flags, include directories, reproducibility flags, the source.
/// An absolute include directory inside the project `root` is made relative, so that it is read
/// from the stage too. With `dir` = [`KEY_DIR`] these are the arguments cache keys hash.
pub fn args(root: &Path, dir: &Path, tc: &Toolchain, program: &Program) -> Vec<String> {
    let mut a = vec!["-target".to_string(), tc.target.clone()];
    a.extend(tc.cflags.iter().cloned());
    a.extend(program.cflags.iter().cloned());
    a.extend(tc.include_dirs.iter().map(|d| {
        let d = d.strip_prefix(root).unwrap_or(d);
        format!(
            "-I{}",
            if d.as_os_str().is_empty() { Path::new(".") } else { d }.display()
        )
    }));
    a.extend(system_args(
        std::env::var_os(SYSTEM_INCLUDES_VAR).as_deref(),
        std::env::var_os(RESOURCE_DIR_VAR).as_deref(),
    ));
    let dir = dir.display();
    a.extend([
        "-fno-ident".to_string(),
        "-fdebug-compilation-dir=.".to_string(),
        format!("-fdebug-prefix-map={dir}=."),
        format!("-fmacro-prefix-map={dir}=."),
        "-Werror=date-time".to_string(),
        "-c".to_string(),
        program.source.display().to_string(),
    ]);
    a
}

/// `:`-separated system include directories (`-isystem`), after the toolchain's: what a clang
/// without a wrapper or a `/usr/include` (the Nix dev shell's clang-unwrapped) cannot find alone.
/// The dev shell sets it to the directories `packages.ebpf` compiles against (nix/devshell.nix).
pub const SYSTEM_INCLUDES_VAR: &str = "ORCA_SYSTEM_INCLUDES";
/// clang's resource directory (`-resource-dir`), for a clang whose builtin headers are not where
/// its binary expects them (nixpkgs' clang-unwrapped from LLVM 19 on).
pub const RESOURCE_DIR_VAR: &str = "ORCA_CLANG_RESOURCE_DIR";

/// The arguments [`SYSTEM_INCLUDES_VAR`] and [`RESOURCE_DIR_VAR`] give; none when unset or empty.
/// They are arguments like the others, so they are part of every cache key.
fn system_args(includes: Option<&std::ffi::OsStr>, resource_dir: Option<&std::ffi::OsStr>) -> Vec<String> {
    let mut a = Vec::new();
    if let Some(r) = resource_dir.filter(|r| !r.is_empty()) {
        a.extend(["-resource-dir".to_string(), r.to_string_lossy().into_owned()]);
    }
    if let Some(dirs) = includes {
        for d in std::env::split_paths(dirs).filter(|d| !d.as_os_str().is_empty()) {
            a.extend(["-isystem".to_string(), d.display().to_string()]);
        }
    }
    a
}

/// A successful compile.
pub struct Compiled {
    /// The stripped object.
    pub object: Vec<u8>,
    /// Every file the preprocessor read, as clang named them (relative to the stage or absolute).
    pub inputs: Vec<String>,
    /// clang's warnings, if any.
    pub warnings: String,
    /// When clang started: inputs outside the stage changed after this may not be what clang read.
    pub started: SystemTime,
}

/// Compiles `program` in the stage `dir` with `args` (from [`args`] for `dir`); outputs go to
/// `dir/.orca-out/<name>/`. A compile error is an `Exit::TestFailed` failure whose message is
/// clang's diagnostics, which name the source project-relative with its line.
pub fn compile(clang: &Clang, dir: &Path, args: &[String], env: &Env, program: &Program) -> Result<Compiled> {
    // Output paths are relative and named after the program: the same in every stage.
    let out = PathBuf::from(".orca-out").join(&program.name);
    std::fs::create_dir_all(dir.join(&out)).with_context(|| format!("creating {}", dir.join(&out).display()))?;
    let (raw, dep) = (out.join("raw.o"), out.join("out.d"));

    let mut cmd = Command::new(&clang.command);
    cmd.args(args)
        .arg("-o")
        .arg(&raw)
        .arg("-MD")
        .arg("-MF")
        .arg(&dep)
        .current_dir(dir);
    sanitize_env(&mut cmd, env);
    let started = SystemTime::now();
    let run = crate::process::run(&mut cmd, "clang", COMPILE_DEADLINE)?;
    let diagnostics = run
        .stderr_str()
        .replace(&raw.display().to_string(), &program.object.display().to_string())
        .replace(&format!("{}/", dir.display()), "");
    if !run.status.success() {
        let text = if diagnostics.trim().is_empty() {
            format!("clang failed ({})", run.status)
        } else {
            diagnostics
        };
        return Err(fail!(Exit::TestFailed, "{}", text.trim_end()));
    }

    let raw = std::fs::read(dir.join(&raw)).context("reading clang's output")?;
    let object = super::strip::strip_debug(&raw)
        .map_err(|e| fail!(Exit::Infra, "cannot strip DWARF from {}: {e}", program.object.display()))?;
    let deps = std::fs::read_to_string(dir.join(&dep)).context("reading clang's depfile")?;
    let inputs = depfile::inputs(&deps);
    if inputs.is_empty() {
        return Err(fail!(
            Exit::Infra,
            "clang wrote an empty depfile for {}",
            program.object.display()
        ));
    }
    Ok(Compiled {
        object,
        inputs,
        warnings: diagnostics,
        started,
    })
}

/// An empty environment but for what clang needs to start: `CPATH`, `C_INCLUDE_PATH` and the like
/// cannot change what is compiled, and `TMPDIR` (which differs between users) is not set.
fn sanitize_env(cmd: &mut Command, env: &Env) {
    cmd.env_clear();
    for keep in ["PATH", "LD_LIBRARY_PATH"] {
        if let Some(v) = std::env::var_os(keep) {
            cmd.env(keep, v);
        }
    }
    cmd.env("LC_ALL", "C")
        .env("LANG", "C")
        .env("TZ", &env.tz)
        .env("SOURCE_DATE_EPOCH", env.source_date_epoch.to_string());
}

#[cfg(test)]
mod tests {
    use super::*;

    fn program() -> (Toolchain, Program) {
        let tc = Toolchain {
            clang_major: 14,
            clang: None,
            clang_sha256: None,
            target: "bpf".into(),
            cflags: vec!["-O2".into(), "-g".into()],
            include_dirs: vec![
                "ebpf/include".into(),
                "/usr/include/x86_64-linux-gnu".into(),
                "/src/proj/gen".into(),
            ],
            out_dir: "build/ebpf".into(),
        };
        let p = Program {
            name: "xdp_pass".into(),
            source: "ebpf/xdp_pass.c".into(),
            object: "build/ebpf/xdp_pass.o".into(),
            cflags: vec!["-DEXTRA=1".into()],
        };
        (tc, p)
    }

    #[test]
    fn flags_keep_their_order_and_end_with_the_source() {
        let (tc, p) = program();
        let a = args(Path::new("/src/proj"), Path::new("/tmp/stage"), &tc, &p);
        assert_eq!(&a[..5], ["-target", "bpf", "-O2", "-g", "-DEXTRA=1"]);
        assert_eq!(&a[5..8], ["-Iebpf/include", "-I/usr/include/x86_64-linux-gnu", "-Igen"]);
        assert!(a.contains(&"-fdebug-prefix-map=/tmp/stage=.".to_string()));
        assert_eq!(a.last().unwrap(), "ebpf/xdp_pass.c");
    }

    #[test]
    fn the_dev_shell_variables_become_system_include_and_resource_dir_flags() {
        use std::ffi::OsStr;
        assert!(system_args(None, None).is_empty());
        assert!(system_args(Some(OsStr::new("")), Some(OsStr::new(""))).is_empty());
        assert_eq!(
            system_args(
                Some(OsStr::new("/nix/store/a-libbpf/include:/nix/store/b-linux-headers/include")),
                Some(OsStr::new("/nix/store/c-clang-lib/lib/clang/19"))
            ),
            [
                "-resource-dir",
                "/nix/store/c-clang-lib/lib/clang/19",
                "-isystem",
                "/nix/store/a-libbpf/include",
                "-isystem",
                "/nix/store/b-linux-headers/include"
            ]
        );
    }

    #[test]
    fn key_flags_do_not_depend_on_the_checkout() {
        let (tc, p) = program();
        let mut tc2 = tc.clone();
        tc2.include_dirs[2] = "/home/x/two/gen".into();
        let a = args(Path::new("/src/proj"), Path::new(KEY_DIR), &tc, &p);
        let b = args(Path::new("/home/x/two"), Path::new(KEY_DIR), &tc2, &p);
        assert_eq!(a, b);
    }
}
