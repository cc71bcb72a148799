//! One clang invocation: a C source to a stripped eBPF object, reproducibly.
//!
//! Reproducibility comes from how clang is run, not from post-processing:
//! - clang runs in the project root with project-relative source and include paths, and with
//!   `-fdebug-compilation-dir=.`, `-fdebug-prefix-map=<root>=.` and `-fmacro-prefix-map=<root>=.`,
//!   so no absolute path of the checkout reaches the object (clang 14 has all three);
//! - `-fno-ident` drops the `.comment` section naming the compiler build;
//! - `-Werror=date-time` refuses `__DATE__`, `__TIME__` and `__TIMESTAMP__`, which clang 14 would
//!   fill from the clock (it does not read `SOURCE_DATE_EPOCH`; later clangs do, and get a fixed 0);
//! - the environment is emptied but for `PATH` and `LD_LIBRARY_PATH`, with `LC_ALL=C` and `TZ=UTC`,
//!   so `CPATH`, `C_INCLUDE_PATH` and the like cannot change what is compiled.
//!
//! Then `llvm-strip -g` removes the DWARF sections, as bpf2go does. BTF (`.BTF`, `.BTF.ext`, with
//! its line info) stays: it is what the loader and the verifier use. Stripping makes the objects
//! about 60% smaller and leaves no source paths but the project-relative ones in BTF line info.

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
/// How long one llvm-strip may run.
const STRIP_DEADLINE: Duration = Duration::from_secs(60);

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

/// clang's arguments for `program`, except the output paths: target, the toolchain's flags, the
/// program's flags, include directories, reproducibility flags, the source.
pub fn args(root: &Path, tc: &Toolchain, program: &Program) -> Vec<String> {
    let mut a = vec!["-target".to_string(), tc.target.clone()];
    a.extend(tc.cflags.iter().cloned());
    a.extend(program.cflags.iter().cloned());
    a.extend(tc.include_dirs.iter().map(|d| format!("-I{}", d.display())));
    let root = root.display();
    a.extend([
        "-fno-ident".to_string(),
        "-fdebug-compilation-dir=.".to_string(),
        format!("-fdebug-prefix-map={root}=."),
        format!("-fmacro-prefix-map={root}=."),
        "-Werror=date-time".to_string(),
        "-c".to_string(),
        program.source.display().to_string(),
    ]);
    a
}

/// `args` as they go into cache keys: the checkout's path replaced by a placeholder, so every
/// checkout of a project shares its cache entries (the prefix maps erase the path from objects).
pub fn canonical(args: &[String], root: &Path) -> Vec<String> {
    let root = root.display().to_string();
    let (eq, slash) = (format!("{root}="), format!("{root}/"));
    args.iter()
        .map(|a| a.replace(&eq, "$ROOT=").replace(&slash, "$ROOT/"))
        .collect()
}

/// A successful compile.
pub struct Compiled {
    /// The stripped object.
    pub object: Vec<u8>,
    /// Every file the preprocessor read, as clang named them (relative to the root or absolute).
    pub inputs: Vec<String>,
    /// clang's warnings, if any.
    pub warnings: String,
    /// When clang started: inputs changed after this may not be what clang read.
    pub started: SystemTime,
}

/// Compiles in `root` with `args` (from [`args`]). `shown_as` is the object path to name in
/// messages. A compile error is an `Exit::TestFailed` failure whose message is clang's
/// diagnostics, which name the source project-relative with its line.
pub fn compile(clang: &Clang, root: &Path, args: &[String], env: &Env, shown_as: &Path) -> Result<Compiled> {
    let tmp = crate::paths::temp_dir("clang-")?;
    let raw = tmp.path().join("raw.o");
    let obj = tmp.path().join("out.o");
    let dep = tmp.path().join("out.d");

    let mut cmd = Command::new(&clang.command);
    cmd.args(args)
        .arg("-o")
        .arg(&raw)
        .arg("-MD")
        .arg("-MF")
        .arg(&dep)
        .current_dir(root);
    sanitize_env(&mut cmd, env, tmp.path());
    let started = SystemTime::now();
    let out = crate::process::run(&mut cmd, "clang", COMPILE_DEADLINE)?;
    let diagnostics = out
        .stderr_str()
        .replace(&raw.display().to_string(), &shown_as.display().to_string());
    if !out.status.success() {
        let text = if diagnostics.trim().is_empty() {
            format!("clang failed ({})", out.status)
        } else {
            diagnostics
        };
        return Err(fail!(Exit::TestFailed, "{}", text.trim_end()));
    }

    let mut strip = Command::new(&clang.strip);
    strip.arg("-g").arg(&raw).arg("-o").arg(&obj).current_dir(tmp.path());
    sanitize_env(&mut strip, env, tmp.path());
    crate::process::run_ok(&mut strip, "llvm-strip", STRIP_DEADLINE)?;

    let object = std::fs::read(&obj).with_context(|| format!("reading clang's output {}", obj.display()))?;
    let deps = std::fs::read_to_string(&dep).with_context(|| format!("reading clang's depfile {}", dep.display()))?;
    let inputs = depfile::inputs(&deps);
    if inputs.is_empty() {
        return Err(fail!(
            Exit::Infra,
            "clang wrote an empty depfile for {}",
            shown_as.display()
        ));
    }
    Ok(Compiled {
        object,
        inputs,
        warnings: diagnostics,
        started,
    })
}

fn sanitize_env(cmd: &mut Command, env: &Env, tmp: &Path) {
    cmd.env_clear();
    for keep in ["PATH", "LD_LIBRARY_PATH"] {
        if let Some(v) = std::env::var_os(keep) {
            cmd.env(keep, v);
        }
    }
    cmd.env("LC_ALL", "C")
        .env("LANG", "C")
        .env("TZ", &env.tz)
        .env("SOURCE_DATE_EPOCH", env.source_date_epoch.to_string())
        .env("TMPDIR", tmp);
}

/// The inputs of a compile as paths to read: relative ones are under `root`.
pub fn input_path(root: &Path, input: &str) -> PathBuf {
    root.join(input)
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
            include_dirs: vec!["ebpf/include".into(), "/usr/include/x86_64-linux-gnu".into()],
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
        let a = args(Path::new("/src/proj"), &tc, &p);
        assert_eq!(&a[..5], ["-target", "bpf", "-O2", "-g", "-DEXTRA=1"]);
        assert_eq!(a[5], "-Iebpf/include");
        assert!(a.contains(&"-fdebug-prefix-map=/src/proj=.".to_string()));
        assert_eq!(a.last().unwrap(), "ebpf/xdp_pass.c");
    }

    #[test]
    fn canonical_flags_do_not_depend_on_the_checkout() {
        let (tc, p) = program();
        let a = canonical(&args(Path::new("/src/one"), &tc, &p), Path::new("/src/one"));
        let b = canonical(&args(Path::new("/home/x/two"), &tc, &p), Path::new("/home/x/two"));
        assert_eq!(a, b);
    }
}
