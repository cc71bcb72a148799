//! Loading objects with aya, pinning their programs and maps, and attaching XDP and TC programs
//! to an interface with pinned links.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use aya::programs::links::FdLink;
use aya::programs::{Program, SchedClassifier, TcAttachType, Xdp, XdpMode, tc};

use super::InstallOptions;
use super::host;
use super::manifest::{Manifest, Pinned, What};
use crate::error::{Exit, Fail};
use crate::fail;

/// Loads every object in `o.objects` and pins it under `o.pin_dir`. A previous install there is
/// removed first. If anything fails, what this install pinned is removed again.
pub fn install(o: &InstallOptions) -> Result<Manifest> {
    host::check_can_load()?;
    let objects = objects(&o.objects)?;
    host::ensure_bpffs(&o.pin_dir)?;
    if let Some(old) = Manifest::read(&o.pin_dir)? {
        crate::ui::status(format!("removing the previous install under {}", old.pin_dir.display()));
        super::uninstall(&o.pin_dir)?;
    } else if std::fs::read_dir(&o.pin_dir).is_ok_and(|mut d| d.next().is_some()) {
        return Err(anyhow::Error::new(
            Fail::new(
                Exit::Usage,
                format!("{} already holds pins that orca did not record", o.pin_dir.display()),
            )
            .hint("remove them (rm -r) or pin elsewhere with --pin-dir"),
        ));
    }
    let mut m = Manifest::new(&o.pin_dir);
    let result = (|| {
        m.create_dir(&o.pin_dir)?;
        for obj in &objects {
            install_object(&mut m, obj, o.iface.as_deref())?;
        }
        Ok(())
    })();
    if let Err(e) = result {
        let leftovers = undo(&m);
        let _ = Manifest::remove(&o.pin_dir);
        for l in leftovers {
            crate::ui::warn(format!("could not undo: {l}"));
        }
        return Err(e);
    }
    Ok(m)
}

/// The `*.o` files in `dir`, sorted.
fn objects(dir: &Path) -> Result<Vec<PathBuf>> {
    let hint = "build them first: orca build";
    let rd = std::fs::read_dir(dir).map_err(|e| {
        anyhow::Error::new(
            Fail::new(
                Exit::Usage,
                format!("cannot read the objects folder {}: {e}", dir.display()),
            )
            .hint(hint),
        )
    })?;
    let mut v: Vec<PathBuf> = rd
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "o"))
        .collect();
    v.sort();
    if v.is_empty() {
        return Err(anyhow::Error::new(
            Fail::new(Exit::Usage, format!("no eBPF objects (*.o) in {}", dir.display())).hint(hint),
        ));
    }
    Ok(v)
}

fn install_object(m: &mut Manifest, path: &Path, iface: Option<&str>) -> Result<()> {
    let object = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let base = m.pin_dir.join(&object);
    let mut ebpf =
        aya::Ebpf::load_file(path).map_err(|e| fail!(Exit::TestFailed, "{}: cannot load: {e}", path.display()))?;
    m.create_dir(&base.join("maps"))?;
    for (name, map) in ebpf.maps() {
        let pin = base.join("maps").join(name);
        map.pin(&pin)
            .with_context(|| format!("{object}: pinning map {name} at {}", pin.display()))?;
        let kind = aya::maps::MapInfo::from_pin(&pin)
            .and_then(|i| i.map_type())
            .map(|t| format!("{t:?}"));
        record(
            m,
            What::Map,
            &object,
            name,
            kind.unwrap_or_else(|_| "?".into()),
            Some(pin),
            None,
        )?;
    }
    m.create_dir(&base.join("programs"))?;
    let names: Vec<String> = ebpf.programs().map(|(n, _)| n.to_string()).collect();
    for name in &names {
        let prog = ebpf.program_mut(name).expect("listed program");
        load_program(prog).map_err(|e| fail!(Exit::TestFailed, "{object}: program {name} was rejected: {e:#}"))?;
        let pin = base.join("programs").join(name);
        prog.pin(&pin)
            .with_context(|| format!("{object}: pinning program {name} at {}", pin.display()))?;
        let kind = format!("{:?}", prog.prog_type());
        record(m, What::Program, &object, name, kind, Some(pin), None)?;
        if let Some(iface) = iface {
            attach(m, prog, &object, name, &base, iface)?;
        }
    }
    Ok(())
}

fn record(
    m: &mut Manifest,
    what: What,
    object: &str,
    name: &str,
    kind: String,
    path: Option<PathBuf>,
    iface: Option<&str>,
) -> Result<()> {
    m.pins.push(Pinned {
        what,
        object: object.into(),
        name: name.into(),
        kind,
        path,
        iface: iface.map(Into::into),
    });
    m.save()
}

/// Loads a program of any type whose load needs no arguments (XDP, tc, cgroup, socket, tracing).
fn load_program(prog: &mut Program) -> Result<()> {
    match prog {
        Program::Xdp(p) => p.load(),
        Program::SchedClassifier(p) => p.load(),
        Program::CgroupSkb(p) => p.load(),
        Program::CgroupSock(p) => p.load(),
        Program::CgroupSockAddr(p) => p.load(),
        Program::SocketFilter(p) => p.load(),
        Program::SkMsg(p) => p.load(),
        Program::SkSkb(p) => p.load(),
        Program::SockOps(p) => p.load(),
        Program::KProbe(p) => p.load(),
        Program::TracePoint(p) => p.load(),
        Program::RawTracePoint(p) => p.load(),
        other => {
            return Err(anyhow::anyhow!(
                "orca install does not load {:?} programs",
                other.prog_type()
            ));
        }
    }
    .map_err(anyhow::Error::new)
}

/// Attaches XDP programs (kernel-chosen mode) and TC classifiers (egress, or ingress when the
/// program's name says so) to `iface`, pinning the link. TC before kernel 6.6 attaches over
/// netlink, which has no link to pin; the manifest records it so uninstall can detach it.
fn attach(m: &mut Manifest, prog: &mut Program, object: &str, name: &str, base: &Path, iface: &str) -> Result<()> {
    let links = base.join("links");
    let pin = links.join(format!("{name}@{iface}"));
    match prog {
        Program::Xdp(p) => {
            m.create_dir(&links)?;
            let p: &mut Xdp = p;
            let id = p
                .attach(iface, XdpMode::default())
                .with_context(|| format!("attaching {name} to {iface} (XDP)"))?;
            let link: FdLink = p
                .take_link(id)?
                .try_into()
                .context("this kernel attaches XDP without a bpf link")?;
            link.pin(&pin)
                .with_context(|| format!("pinning the link of {name} at {}", pin.display()))?;
            record(m, What::Link, object, name, "xdp".into(), Some(pin), Some(iface))
        }
        Program::SchedClassifier(p) => {
            let p: &mut SchedClassifier = p;
            let (attach_type, dir) = if name.contains("ingress") {
                (TcAttachType::Ingress, "ingress")
            } else {
                (TcAttachType::Egress, "egress")
            };
            let tcx = aya::util::KernelVersion::current().is_ok_and(|v| v >= aya::util::KernelVersion::new(6, 6, 0));
            // Before TCX, TC programs hang off a clsact qdisc. One that exists already is not
            // ours; one we add is recorded, so uninstall removes it.
            if !tcx && tc::qdisc_add_clsact(iface).is_ok() {
                record(
                    m,
                    What::Qdisc,
                    object,
                    "clsact",
                    "clsact qdisc".into(),
                    None,
                    Some(iface),
                )?;
            }
            let id = p
                .attach(iface, attach_type)
                .with_context(|| format!("attaching {name} to {iface} (TC {dir})"))?;
            let link = p.take_link(id)?;
            if tcx {
                m.create_dir(&links)?;
                let link: FdLink = link.try_into().context("expected a TCX link")?;
                link.pin(&pin)
                    .with_context(|| format!("pinning the link of {name} at {}", pin.display()))?;
                record(
                    m,
                    What::Link,
                    object,
                    name,
                    format!("tcx {dir}"),
                    Some(pin),
                    Some(iface),
                )
            } else {
                // A netlink filter outlives orca on its own; dropping the link would remove it.
                std::mem::forget(link);
                record(m, What::Link, object, name, format!("tc {dir}"), None, Some(iface))
            }
        }
        _ => Ok(()),
    }
}

/// Undoes a manifest: links first (removing a link's last pin detaches it), then programs and
/// maps, then a clsact qdisc install added, then the folders it created if they are empty.
/// Returns what could not be undone.
pub fn undo(m: &Manifest) -> Vec<String> {
    let mut problems = Vec::new();
    let order = [What::Link, What::Program, What::Map, What::Qdisc];
    for what in order {
        for p in m.pins.iter().rev().filter(|p| p.what == what) {
            let result = match (&p.path, &p.iface) {
                (Some(path), _) => match std::fs::remove_file(path) {
                    Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(format!("{}: {e}", path.display())),
                    _ => Ok(()),
                },
                (None, Some(iface)) if p.what == What::Qdisc => remove_clsact(iface),
                (None, Some(iface)) => detach_netlink(p, iface),
                (None, None) => Ok(()),
            };
            if let Err(e) = result {
                problems.push(e);
            }
        }
    }
    for d in m.dirs.iter().rev() {
        // Only empty folders go: anything else in them is not ours.
        let _ = std::fs::remove_dir(d);
    }
    problems
}

/// Detaches a netlink TC filter recorded by [`attach`].
pub fn detach_netlink(p: &Pinned, iface: &str) -> Result<(), String> {
    let attach_type = if p.kind.ends_with("ingress") {
        TcAttachType::Ingress
    } else {
        TcAttachType::Egress
    };
    match tc::qdisc_detach_program(iface, attach_type, &p.name) {
        Ok(()) => Ok(()),
        Err(tc::TcError::IoError(e)) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(format!("detaching {} from {iface}: {e}", p.name)),
    }
}

/// Removes the clsact qdisc install added to `iface` (aya has no call for it, so `tc` does it).
pub fn remove_clsact(iface: &str) -> Result<(), String> {
    let mut cmd = std::process::Command::new("tc");
    cmd.args(["qdisc", "del", "dev", iface, "clsact"]);
    match crate::process::run(&mut cmd, "tc qdisc del", std::time::Duration::from_secs(10)) {
        Ok(out) if out.status.success() => Ok(()),
        // Gone already, with its interface or by hand.
        Ok(out) if out.stderr_str().contains("Cannot find device") || out.stderr_str().contains("Invalid handle") => {
            Ok(())
        }
        Ok(out) => Err(format!(
            "removing the clsact qdisc of {iface}: {}",
            out.stderr_str().trim()
        )),
        Err(e) => Err(format!(
            "removing the clsact qdisc of {iface} (tc qdisc del dev {iface} clsact): {e:#}"
        )),
    }
}
