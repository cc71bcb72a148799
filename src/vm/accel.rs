//! Acceleration: KVM only where it really works, else TCG, and deadlines scaled to match.
//!
//! On some hosts `/dev/kvm` opens but a real guest stops with "KVM internal error" and hangs
//! (nested virtualisation gone wrong). A few bytes of real-mode code run fine there, so the probe
//! boots the real kernel with orca's initramfs and `orca_probe=1`, whose init powers off at once:
//! under a working KVM that takes well under a second; the deadline is 2 s. The answer is cached
//! under `<cache>/accel/`, keyed on the host kernel and the QEMU binary.

use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

use anyhow::Result;
use serde::{Deserialize, Serialize};

use crate::error::{Exit, Fail};
use crate::fail;

/// The QEMU binary (probed here for its accelerators; `qemu` builds its command line).
pub const QEMU: &str = "qemu-system-x86_64";

/// What the user asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Accel {
    /// KVM when the probe says it works, else TCG with a warning.
    #[default]
    Auto,
    /// KVM or a clear error.
    Kvm,
    /// Always TCG (software emulation).
    Tcg,
}

impl std::str::FromStr for Accel {
    type Err = anyhow::Error;
    fn from_str(s: &str) -> Result<Accel> {
        match s {
            "auto" | "" => Ok(Accel::Auto),
            "kvm" => Ok(Accel::Kvm),
            "tcg" => Ok(Accel::Tcg),
            _ => Err(crate::error::usage(
                format!("unknown acceleration `{s}`"),
                "use --accel auto, kvm or tcg (or ORCA_ACCEL)",
            )),
        }
    }
}

/// What a VM actually runs with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Resolved {
    Kvm,
    Tcg,
}

impl Resolved {
    /// The factor every deadline is multiplied by: TCG boots and runs several times slower.
    pub fn scale(self) -> f64 {
        match self {
            Resolved::Kvm => 1.0,
            Resolved::Tcg => 6.0,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Resolved::Kvm => "kvm",
            Resolved::Tcg => "tcg",
        }
    }
}

/// The probe's cached verdict.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Verdict {
    works: bool,
    why: String,
}

/// Resolves `want` for a VM that will boot `image` with the base initramfs `initrd`, probing KVM
/// when needed. A fallback to TCG prints one warning per process.
pub fn resolve(want: Accel, image: &Path, initrd: &Path) -> Result<Resolved> {
    let r = decide(want, image, initrd)?;
    LAST.store(
        if r == Resolved::Kvm { 1 } else { 2 },
        std::sync::atomic::Ordering::Relaxed,
    );
    Ok(r)
}

/// The last acceleration [`resolve`] settled on in this process: 0 none yet, 1 KVM, 2 TCG.
static LAST: std::sync::atomic::AtomicU8 = std::sync::atomic::AtomicU8::new(0);

/// The deadline factor of the last acceleration resolved in this process (1 before any).
pub fn last_scale() -> f64 {
    match LAST.load(std::sync::atomic::Ordering::Relaxed) {
        2 => Resolved::Tcg.scale(),
        _ => Resolved::Kvm.scale(),
    }
}

/// What [`resolve`] settles on, before it is remembered.
fn decide(want: Accel, image: &Path, initrd: &Path) -> Result<Resolved> {
    if want == Accel::Tcg {
        return Ok(Resolved::Tcg);
    }
    let verdict = match open_kvm() {
        Err(why) => Verdict { works: false, why },
        Ok(()) => cached_probe(image, initrd)?,
    };
    if verdict.works {
        return Ok(Resolved::Kvm);
    }
    if want == Accel::Kvm {
        return Err(anyhow::Error::new(
            Fail::new(Exit::Infra, format!("KVM is not usable here: {}", verdict.why))
                .hint("run with --accel tcg (or auto) to use software emulation"),
        ));
    }
    static WARNED: OnceLock<()> = OnceLock::new();
    WARNED.get_or_init(|| {
        crate::ui::warn(format!(
            "KVM is not usable ({}); using TCG, deadlines ×{}",
            verdict.why,
            Resolved::Tcg.scale()
        ))
    });
    Ok(Resolved::Tcg)
}

fn open_kvm() -> std::result::Result<(), String> {
    match std::fs::OpenOptions::new().read(true).write(true).open("/dev/kvm") {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err("no /dev/kvm".into()),
        Err(e) => Err(format!("/dev/kvm: {e}")),
    }
}

fn cached_probe(image: &Path, initrd: &Path) -> Result<Verdict> {
    let file = crate::paths::cache_dir("accel")?.join(format!("kvm-{}.json", host_key()));
    if let Ok(v) = std::fs::read(&file)
        .map_err(anyhow::Error::from)
        .and_then(|b| Ok(serde_json::from_slice(&b)?))
    {
        return Ok(v);
    }
    let v = probe(image, initrd)?;
    crate::paths::write_atomic(&file, &serde_json::to_vec(&v)?)?;
    Ok(v)
}

/// The host kernel release and the QEMU binary's identity (size and modification time).
fn host_key() -> String {
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let qemu = which(QEMU)
        .and_then(|p| std::fs::metadata(p).ok())
        .map(|m| {
            use std::os::unix::fs::MetadataExt;
            format!("{}-{}", m.size(), m.mtime())
        })
        .unwrap_or_default();
    let mut h = <sha2::Sha256 as sha2::Digest>::new();
    sha2::Digest::update(&mut h, format!("{}\n{qemu}", release.trim()).as_bytes());
    hex::encode(sha2::Digest::finalize(h))[..16].to_string()
}

fn which(prog: &str) -> Option<std::path::PathBuf> {
    std::env::var_os("PATH")?
        .to_str()?
        .split(':')
        .map(|d| Path::new(d).join(prog))
        .find(|p| p.is_file())
}

/// Boots the kernel under KVM with an init that powers off at once.
fn probe(image: &Path, initrd: &Path) -> Result<Verdict> {
    let step = crate::ui::Step::start("probing KVM");
    let mut cmd = Command::new(QEMU);
    cmd.args(["-accel", "kvm", "-cpu", "host", "-M", "q35", "-m", "256", "-smp", "1"])
        .args([
            "-nodefaults",
            "-no-user-config",
            "-display",
            "none",
            "-no-reboot",
            "-serial",
            "stdio",
        ])
        .arg("-kernel")
        .arg(image)
        .arg("-initrd")
        .arg(initrd)
        .args(["-append", "console=ttyS0 quiet panic=-1 orca_probe=1"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let out = crate::process::run(&mut cmd, "KVM probe", Duration::from_secs(2));
    let v = match out {
        Ok(o) if o.status.success() && o.stdout_str().contains("orca-probe-ok") => Verdict {
            works: true,
            why: "a guest booted".into(),
        },
        Ok(o) => {
            let err = o.stderr_str();
            let line = err.lines().find(|l| !l.contains("warning")).unwrap_or("").trim();
            Verdict {
                works: false,
                why: format!(
                    "probe guest failed ({}{})",
                    o.status,
                    if line.is_empty() {
                        String::new()
                    } else {
                        format!(": {line}")
                    }
                ),
            }
        }
        Err(e) if crate::error::exit_of(&e) == Exit::Timeout => Verdict {
            works: false,
            why: "a probe guest did not boot within 2s".into(),
        },
        Err(e) => return Err(e),
    };
    step.done(if v.works { "KVM works" } else { "KVM is broken" });
    Ok(v)
}

/// The host's TSC frequency in kHz, measured once per process against the monotonic clock.
/// Under TCG the guest's TSC runs at the host's rate; telling the guest (`tsc_early_khz`) skips a
/// calibration that fails on a busy host and then leaves a microvm without a clock.
pub fn tsc_khz() -> Option<u64> {
    static KHZ: OnceLock<Option<u64>> = OnceLock::new();
    *KHZ.get_or_init(measure_tsc)
}

#[cfg(target_arch = "x86_64")]
fn measure_tsc() -> Option<u64> {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").ok()?;
    let flags = cpuinfo.lines().find(|l| l.starts_with("flags"))?;
    if !flags.split_whitespace().any(|f| f == "constant_tsc") {
        return None;
    }
    let mut best: Option<u64> = None;
    // The shortest of a few rounds is the one least disturbed by preemption.
    for _ in 0..3 {
        let t0 = std::time::Instant::now();
        // SAFETY: rdtsc has no preconditions on x86_64.
        let c0 = unsafe { core::arch::x86_64::_rdtsc() };
        std::thread::sleep(Duration::from_millis(10));
        let c1 = unsafe { core::arch::x86_64::_rdtsc() };
        let ns = t0.elapsed().as_nanos() as u64;
        let khz = (c1 - c0) * 1_000_000 / ns.max(1);
        best = Some(best.map_or(khz, |b: u64| b.min(khz)));
    }
    best.filter(|k| *k > 100_000)
}

#[cfg(not(target_arch = "x86_64"))]
fn measure_tsc() -> Option<u64> {
    None
}

/// A deadline scaled by the acceleration.
pub fn scaled(base: Duration, accel: Resolved) -> Duration {
    base.mul_f64(accel.scale())
}

/// Parses `--accel`.
pub fn parse(s: &str) -> Result<Accel> {
    s.parse().map_err(|e: anyhow::Error| {
        if crate::error::find_fail(&e).is_some() {
            e
        } else {
            fail!(Exit::Usage, "{e}")
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accel_names_parse() {
        assert_eq!(parse("auto").unwrap(), Accel::Auto);
        assert_eq!(parse("kvm").unwrap(), Accel::Kvm);
        assert_eq!(parse("tcg").unwrap(), Accel::Tcg);
        let e = parse("xen").unwrap_err();
        assert_eq!(crate::error::exit_of(&e), Exit::Usage);
    }

    #[test]
    fn tcg_scales_deadlines() {
        assert_eq!(scaled(Duration::from_secs(10), Resolved::Tcg), Duration::from_secs(60));
        assert_eq!(scaled(Duration::from_secs(10), Resolved::Kvm), Duration::from_secs(10));
    }

    #[test]
    #[cfg(target_arch = "x86_64")]
    fn tsc_rate_is_plausible_when_known() {
        if let Some(k) = tsc_khz() {
            assert!((100_000..10_000_000).contains(&k), "{k} kHz");
        }
    }
}
