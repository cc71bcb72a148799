//! The QEMU command line, trimmed for boot speed.
//!
//! Choices, measured under TCG with `orca run --kernel 6.1 -- uname -r` (hyperfine, idle host,
//! 2.55 s in all; see benches/boot.sh for the side-by-side figures):
//! - The uncompressed vmlinux through its PVH entry (see `bootimage`) instead of the bzImage:
//!   no in-guest decompression; 6.05 s → 2.78 s.
//! - `-M microvm` when the kernel has virtio-mmio and ACPI (which describes the virtio-mmio
//!   devices, since Debian kernels lack `VIRTIO_MMIO_CMDLINE_DEVICES`): no PCI bus to enumerate,
//!   no SeaBIOS (qboot); 3.05 s on q35 → 2.78 s. Otherwise q35 with virtio-pci.
//! - `cryptomgr.notests`: skips the crypto self-tests; 3.02 s → 2.78 s.
//! - `tsc_early_khz` + `tsc=reliable` under TCG: no TSC calibration, which fails on a busy host
//!   and then leaves a microvm without a clock (it hangs).
//! - No NIC unless asked, no VGA, no default devices (`-nodefaults`). The serial console goes to
//!   a file, and the kernel boots `quiet`: every byte on the emulated 8250 is a trap out of the
//!   translated code, and the log the kernel holds back until its console is up is written with
//!   interrupts off (3.26 s → 3.13 s to a command on 6.12, medians of six interleaved boots).
//!   Errors, oopses and panics still reach the console (a panic or oops turns the log level up
//!   first); `ORCA_VM_CMDLINE=-quiet` logs the whole boot, for a guest that hangs.
//! - `panic=-1` with `-no-reboot` (a panic ends QEMU once the kernel has flushed its console) and
//!   under KVM a pvpanic device with `-action panic=none` (a panic is also a QMP event,
//!   `GUEST_PANICKED`; see `command`). Under TCG the console's "Kernel panic" and the exit's
//!   `guest-reset` say it, without pvpanic's two modules (~80 ms per boot).
//! - Multi-vCPU guests under TCG run their vCPUs on one host thread (`-accel tcg,thread=single`)
//!   when QEMU is older than 8.1: before QEMU's commit deba78709a ("accel/tcg: Always lock pages
//!   before translation", 8.1.0) a vCPU can translate guest code while another vCPU rewrites it, and
//!   keep the stale translation. Linux rewrites its own code whenever a static key flips (the
//!   int3-based `text_poke_bp`), so a guest now and then executes a leftover `int3` after the patch
//!   is done and dies ("int3: 0000", "Fatal exception in interrupt"), or hangs. Seen at boot when
//!   `sched_clock: Marking stable` flips `__sched_clock_stable`; see docs/decisions.md.
//!   `ORCA_TCG_THREAD=single|multi` overrides the choice.
//! - Under TCG, `rodata=off`, guest RAM in a memfd, and the other words of [`kernel_cmdline`]
//!   (docs/decisions.md, "Boot under TCG", three rounds).
//! - Measured and left out: `mitigations=off` (changes what the BPF verifier does). A second
//!   vCPU costs nothing on an idle host but ~0.9 s when the host is busy, so VMs without a spec
//!   get one.
//! - Shares are virtio-9p, served by QEMU itself. Kernels without 9p (Debian's cloud flavour) get
//!   virtiofs instead: `vhost-user-fs-{device,pci}` on a virtiofsd's socket (see `virtiofs`),
//!   which needs guest RAM in a shared memfd (`memory-backend-memfd,share=on`) and, on microvm,
//!   modern virtio-mmio (`virtio-mmio.force-legacy=false`: libvhost-user refuses legacy devices).

use std::path::{Path, PathBuf};
use std::process::Command;

pub use super::accel::QEMU;
use super::accel::Resolved;
pub use super::share::Share;
use crate::kernel::kconfig::ShareFs;

/// The machine type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MachineType {
    Microvm,
    Q35,
}

impl MachineType {
    /// The virtio transport's device suffix: `virtio-9p-device` on microvm, `virtio-9p-pci` on q35.
    fn virtio(self, dev: &str) -> String {
        match self {
            MachineType::Microvm => format!("{dev}-device"),
            MachineType::Q35 => format!("{dev}-pci"),
        }
    }
}

/// Everything the command line is made of.
#[derive(Debug, Clone)]
pub struct Spec {
    pub accel: Resolved,
    pub machine: MachineType,
    pub cpus: u32,
    /// Under TCG, all vCPUs on one host thread (see [`super::machine::VmConfig::tcg_single_thread`]).
    pub tcg_single_thread: bool,
    pub memory_mib: u64,
    pub kernel: PathBuf,
    pub initrd: PathBuf,
    pub cmdline: String,
    /// The host root first (tag `orca.root`), then the declared shares.
    pub shares: Vec<Share>,
    /// `Some(dir)`: the shares are virtiofs, served by virtiofsd on the sockets
    /// [`super::virtiofs::socket_path`] makes in `dir`, and guest RAM is a shared memfd (vhost-user
    /// needs the daemon to map it). `None`: virtio-9p, served by QEMU itself.
    pub virtiofs: Option<PathBuf>,
    pub network: bool,
    pub pvpanic: bool,
    /// Unix sockets orca listens on; QEMU connects to them as a client.
    pub agent_socket: PathBuf,
    pub qmp_socket: PathBuf,
    /// The serial console is written here.
    pub console_log: PathBuf,
}

/// QEMU's version as (major, minor), asked once per process; `None` when it cannot be told.
pub fn version() -> Option<(u32, u32)> {
    static V: std::sync::OnceLock<Option<(u32, u32)>> = std::sync::OnceLock::new();
    *V.get_or_init(|| {
        let out = crate::process::run(
            Command::new(QEMU).arg("--version"),
            "QEMU",
            std::time::Duration::from_secs(10),
        )
        .ok()?;
        parse_version(&out.stdout_str())
    })
}

/// `QEMU emulator version 7.2.22 (Debian 1:7.2+dfsg-7+deb12u18)` → (7, 2).
fn parse_version(text: &str) -> Option<(u32, u32)> {
    let rest = text.split("version ").nth(1)?;
    let mut parts = rest.split(|c: char| !c.is_ascii_digit());
    Some((parts.next()?.parse().ok()?, parts.next()?.parse().ok()?))
}

/// Whether QEMU's multi-threaded TCG keeps a guest's code consistent while the guest rewrites it
/// (QEMU 8.1 and later; see the module's notes). Unknown versions are taken as unsafe.
fn mttcg_keeps_code_consistent(version: Option<(u32, u32)>) -> bool {
    version.is_some_and(|v| v >= (8, 1))
}

/// Whether a TCG guest with `cpus` vCPUs runs them on one host thread: when `crowded` (its vCPUs
/// would only contend with other guests for the cores), when it has several vCPUs and this QEMU's
/// multi-threaded TCG can run stale guest code, or as `ORCA_TCG_THREAD` (`single`, `multi`) says.
pub fn tcg_single_thread(cpus: u32, crowded: bool) -> bool {
    match std::env::var("ORCA_TCG_THREAD").as_deref() {
        Ok("single") => true,
        Ok("multi") => false,
        _ => crowded || (cpus > 1 && !mttcg_keeps_code_consistent(version())),
    }
}

/// The CPU a TCG guest gets: every feature QEMU emulates but five-level paging.
pub const TCG_CPU: &str = "max,la57=off";

/// The kernel command line for a boot.
pub fn kernel_cmdline(accel: Resolved, tsc_khz: Option<u64>, machine: MachineType, share: ShareFs) -> String {
    let mut c = String::from("console=ttyS0 quiet panic=-1 8250.nr_uarts=1 cryptomgr.notests no_timer_check");
    if machine == MachineType::Microvm {
        // microvm has no PCI bus (its devices are virtio-mmio), but the kernel probes for one
        // anyway, one port access at a time: with the AMD vendor TCG's CPU reports, the early GART
        // aperture check alone reads the config space of every slot of every bus, ~0.15 s of a
        // 6.12 boot under TCG before the kernel's clock starts, and as many VM exits under KVM.
        c.push_str(" pci=off");
    }
    if accel == Resolved::Tcg {
        if let Some(k) = tsc_khz {
            c.push_str(&format!(" tsc_early_khz={k} tsc=reliable"));
        }
        // The jitter entropy source's start-up health test (6.12's jent_mod_init) times thousands
        // of memory accesses: 0.3 s of a 2 s boot under TCG, a few ms under KVM. Nothing a guest
        // runs needs it outside FIPS mode; the kernel's RNG is seeded without it.
        // crypto_kdf108_init is the SP800-108 KDF's self-test and nothing else (17 ms on 6.12).
        c.push_str(" initcall_blacklist=jent_mod_init,crypto_kdf108_init");
        // Debian's kernels zero every allocation (CONFIG_INIT_ON_ALLOC_DEFAULT_ON, a hardening
        // against leaks of stale memory): page cache, slabs, module text. Under TCG that zeroing
        // is a large share of the guest's work: the agent's start and the first command took
        // 1.74 s with it and 0.84 s without on 5.10, 1.01 s and 0.58 s on 7.2. Memory a program
        // maps is zeroed either way, and nothing a test observes depends on the rest.
        //
        // Not with virtiofs shares: virtiofsd writes file data straight into guest RAM, behind
        // QEMU's back, and TCG only drops its translations of a page when QEMU sees the page
        // written (by the guest's CPU or its own device models, as 9p's are). A page-cache page
        // that once held code and is refilled by virtiofsd keeps running the old code's
        // translations: guests segfaulted in libc within minutes (norandmaps puts every process's
        // libraries at the same addresses, which makes a hit likely). The kernel's zeroing of
        // each new page is a CPU write, so it drops them first.
        if share == ShareFs::NineP {
            c.push_str(" init_on_alloc=0");
        }
        // Without address-space randomisation a program's code sits at the same addresses in
        // every process, so QEMU's translations of ld.so, libc and the program itself are found
        // again instead of redone: `python3 -c 1` 6.1 s → 3.5 s and ten `/bin/true` 0.46 s →
        // 0.17 s on 7.2. A test VM has no attacker to hide addresses from; a test that needs
        // randomisation sets kernel.randomize_va_space=2 or boots with ORCA_VM_CMDLINE=-norandmaps.
        c.push_str(" norandmaps");
        // The kernel's text and read-only data stay writable: no marking them read-only at the
        // end of boot (page attribute changes that flush QEMU's soft TLB), no walk of every page
        // table for writable and executable mappings (CONFIG_DEBUG_WX, 0.14 s alone), no
        // read-only marking of each module's data. 3.02 s → 2.77 s to a command on 6.12 (medians
        // of eight interleaved boots). BPF is unaffected: JIT images and trampolines are made
        // read-only and executable by set_memory_rox, which rodata= does not gate, and module
        // text stays read-only too. It is a guard against kernel bugs that write where they should
        // not; a test VM that hunts such bugs boots with ORCA_VM_CMDLINE=-rodata=off.
        c.push_str(" rodata=off");
        // A kernel that finds one CPU rewrites every `lock` prefix in its text (and in each module
        // it loads) to a plain prefix, one text_poke at a time, each switching page tables: ~0.2 s
        // of a 6.12 boot under TCG, where a lock prefix on a single vCPU costs nothing anyway.
        // Guests with more CPUs never rewrite them.
        c.push_str(" noreplace-smp");
    }
    if let Ok(extra) = std::env::var("ORCA_VM_CMDLINE") {
        // For debugging and measuring: extra words (`printk.time=1`), or `-WORD` to drop one.
        for word in extra.split_whitespace() {
            match word.strip_prefix('-') {
                Some(drop) => c = c.split(' ').filter(|w| *w != drop).collect::<Vec<_>>().join(" "),
                None => {
                    c.push(' ');
                    c.push_str(word);
                }
            }
        }
    }
    c
}

/// The full command.
pub fn command(s: &Spec) -> Command {
    let mut c = Command::new(QEMU);
    let arg = |c: &mut Command, a: &str, v: String| {
        c.arg(a).arg(v);
    };
    c.args(["-nodefaults", "-no-user-config", "-display", "none", "-no-reboot"]);
    // A panic reported through pvpanic is a QMP event and nothing more: the guest goes on to
    // flush its console and reboot (`panic=-1`), which `-no-reboot` makes QEMU's exit. With
    // `panic=shutdown` QEMU stopped at the panic notifier, before the kernel flushed its console,
    // and an oops raised in NMI context (an unexpected int3) never reached the console log.
    c.args(["-action", "panic=none"]);
    match s.accel {
        Resolved::Kvm => c.args(["-accel", "kvm", "-cpu", "host"]),
        // la57=off: with it, the kernel runs five-level page tables, and every page walk of the
        // emulated MMU and every fork and exec pays for the fifth level (about 9 % of a 6.12 boot
        // to init here). Only programs that ask mmap for addresses above 128 TiB can tell.
        Resolved::Tcg if s.tcg_single_thread => c.args(["-accel", "tcg,thread=single", "-cpu", TCG_CPU]),
        Resolved::Tcg => c.args(["-accel", "tcg", "-cpu", TCG_CPU]),
    };
    let mut m = match s.machine {
        MachineType::Microvm => "microvm,acpi=on,rtc=on,x-option-roms=off",
        MachineType::Q35 => "q35",
    }
    .to_string();
    // Guest RAM in a memfd: what virtiofsd needs to share it, and under TCG, also 4 KiB pages on
    // the host. QEMU asks for transparent huge pages on its anonymous guest RAM, so each first
    // touch of a 2 MiB stretch made the host clear all of it (clear_page was 8 % of QEMU's time
    // in a 6.12 boot); that helps a KVM guest's page walks, and nothing under TCG, whose soft
    // MMU works in guest pages anyway. ~0.07 s of a 6.12 boot.
    if s.virtiofs.is_some() || s.accel == Resolved::Tcg {
        m.push_str(",memory-backend=mem");
        arg(
            &mut c,
            "-object",
            format!("memory-backend-memfd,id=mem,size={}M,share=on", s.memory_mib),
        );
    }
    arg(&mut c, "-M", m);
    if s.virtiofs.is_some() && s.machine == MachineType::Microvm {
        // microvm's virtio-mmio devices are legacy (version 1) by default, and virtiofsd's
        // libvhost-user refuses legacy devices.
        c.args(["-global", "virtio-mmio.force-legacy=false"]);
    }
    arg(&mut c, "-smp", s.cpus.to_string());
    arg(&mut c, "-m", format!("{}M", s.memory_mib));
    c.arg("-kernel")
        .arg(&s.kernel)
        .arg("-initrd")
        .arg(&s.initrd)
        .arg("-append")
        .arg(&s.cmdline);
    arg(
        &mut c,
        "-chardev",
        format!("file,id=console,path={}", opt_path(&s.console_log)),
    );
    c.args(["-serial", "chardev:console"]);
    for (i, sh) in s.shares.iter().enumerate() {
        if let Some(dir) = &s.virtiofs {
            let sock = super::virtiofs::socket_path(dir, i);
            arg(&mut c, "-chardev", format!("socket,id=fs{i},path={}", opt_path(&sock)));
            arg(
                &mut c,
                "-device",
                format!("{},chardev=fs{i},tag={}", s.machine.virtio("vhost-user-fs"), sh.tag),
            );
            continue;
        }
        let ro = if sh.readonly { ",readonly=on" } else { "" };
        arg(
            &mut c,
            "-fsdev",
            format!(
                "local,id=fs{i},path={},security_model=none,multidevs=remap{ro}",
                opt_path(&sh.source)
            ),
        );
        arg(
            &mut c,
            "-device",
            format!("{},fsdev=fs{i},mount_tag={}", s.machine.virtio("virtio-9p"), sh.tag),
        );
    }
    arg(
        &mut c,
        "-device",
        format!("{},max_ports=2", s.machine.virtio("virtio-serial")),
    );
    arg(
        &mut c,
        "-chardev",
        format!("socket,id=agent,path={}", opt_path(&s.agent_socket)),
    );
    arg(
        &mut c,
        "-device",
        format!("virtserialport,chardev=agent,name={}", super::protocol::PORT_NAME),
    );
    arg(
        &mut c,
        "-chardev",
        format!("socket,id=qmp,path={}", opt_path(&s.qmp_socket)),
    );
    c.args(["-mon", "chardev=qmp,mode=control"]);
    if s.pvpanic {
        c.args(["-device", "pvpanic"]);
    }
    if s.network {
        c.args(["-netdev", "user,id=net0"]);
        arg(
            &mut c,
            "-device",
            format!("{},netdev=net0", s.machine.virtio("virtio-net")),
        );
    }
    c
}

/// A path inside a QEMU option value, where `,` must be doubled.
fn opt_path(p: &Path) -> String {
    p.to_string_lossy().replace(',', ",,")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(machine: MachineType) -> Spec {
        Spec {
            accel: Resolved::Tcg,
            machine,
            cpus: 1,
            tcg_single_thread: false,
            memory_mib: 1024,
            kernel: "/k".into(),
            initrd: "/i".into(),
            cmdline: kernel_cmdline(Resolved::Tcg, Some(2_600_000), MachineType::Microvm, ShareFs::NineP),
            shares: vec![
                Share {
                    tag: "orca.root".into(),
                    source: "/".into(),
                    readonly: true,
                },
                Share {
                    tag: "orca.share0".into(),
                    source: "/a,b".into(),
                    readonly: false,
                },
            ],
            virtiofs: None,
            network: false,
            pvpanic: true,
            agent_socket: "/t/agent.sock".into(),
            qmp_socket: "/t/qmp.sock".into(),
            console_log: "/t/console.log".into(),
        }
    }

    fn args(c: &Command) -> Vec<String> {
        c.get_args().map(|a| a.to_string_lossy().into_owned()).collect()
    }

    #[test]
    fn microvm_uses_virtio_mmio_devices_and_no_nic() {
        let a = args(&command(&spec(MachineType::Microvm)));
        let joined = a.join(" ");
        assert!(
            joined.contains("virtio-9p-device,fsdev=fs0,mount_tag=orca.root"),
            "{joined}"
        );
        assert!(
            joined.contains("path=/a,,b,security_model=none,multidevs=remap -device"),
            "{joined}"
        );
        assert!(
            joined.contains("path=/,security_model=none,multidevs=remap,readonly=on"),
            "{joined}"
        );
        assert!(!joined.contains("netdev"), "{joined}");
        assert!(joined.contains("tsc_early_khz=2600000"), "{joined}");
        assert!(joined.contains("-cpu max"), "{joined}");
        assert!(
            joined.contains("-accel tcg -cpu"),
            "multi-threaded TCG by default: {joined}"
        );
    }

    #[test]
    fn qemu_versions_parse_and_8_1_is_the_first_safe_mttcg() {
        let v = parse_version("QEMU emulator version 7.2.22 (Debian 1:7.2+dfsg-7+deb12u18+b3)\nCopyright");
        assert_eq!(v, Some((7, 2)));
        assert!(!mttcg_keeps_code_consistent(v));
        assert_eq!(parse_version("QEMU emulator version 8.1.0\n"), Some((8, 1)));
        assert!(mttcg_keeps_code_consistent(Some((8, 1))));
        assert!(mttcg_keeps_code_consistent(Some((10, 0))));
        assert!(!mttcg_keeps_code_consistent(Some((8, 0))));
        assert!(!mttcg_keeps_code_consistent(None), "an unknown QEMU is taken as unsafe");
        assert_eq!(parse_version("something else"), None);
    }

    #[test]
    fn crowded_guests_run_single_threaded_tcg() {
        let mut s = spec(MachineType::Microvm);
        s.tcg_single_thread = true;
        let joined = args(&command(&s)).join(" ");
        assert!(joined.contains("-accel tcg,thread=single -cpu max"), "{joined}");
        s.accel = Resolved::Kvm;
        let joined = args(&command(&s)).join(" ");
        assert!(joined.contains("-accel kvm -cpu host"), "KVM is unaffected: {joined}");
    }

    #[test]
    fn tcg_guests_skip_what_emulation_makes_slow_and_kvm_guests_keep_it() {
        let tcg = kernel_cmdline(Resolved::Tcg, Some(1), MachineType::Microvm, ShareFs::NineP);
        let kvm = kernel_cmdline(Resolved::Kvm, Some(1), MachineType::Microvm, ShareFs::NineP);
        for w in [
            "initcall_blacklist=jent_mod_init,crypto_kdf108_init",
            "init_on_alloc=0",
            "norandmaps",
            "rodata=off",
            "noreplace-smp",
        ] {
            assert!(tcg.split(' ').any(|x| x == w), "{w} under TCG: {tcg}");
            assert!(!kvm.contains(w), "{w} under KVM: {kvm}");
        }
    }

    #[test]
    fn tcg_guests_with_virtiofs_shares_keep_zeroing_new_pages() {
        // virtiofsd fills guest pages behind TCG's back; the kernel's zeroing of a new page is
        // what drops TCG's stale translations of the code that page held before.
        let fs = kernel_cmdline(Resolved::Tcg, Some(1), MachineType::Microvm, ShareFs::Virtiofs);
        assert!(!fs.contains("init_on_alloc"), "{fs}");
        for w in ["norandmaps", "rodata=off"] {
            assert!(fs.split(' ').any(|x| x == w), "{w} under TCG with virtiofs: {fs}");
        }
    }

    #[test]
    fn q35_uses_pci_devices_and_a_nic_on_request() {
        let mut s = spec(MachineType::Q35);
        s.network = true;
        let joined = args(&command(&s)).join(" ");
        assert!(joined.contains("virtio-9p-pci,fsdev=fs0"), "{joined}");
        assert!(joined.contains("virtio-net-pci,netdev=net0"), "{joined}");
        assert!(!kernel_cmdline(Resolved::Kvm, Some(1), MachineType::Q35, ShareFs::NineP).contains("tsc_early_khz"));
        // q35 has a PCI bus, and its devices are on it.
        assert!(!kernel_cmdline(Resolved::Tcg, Some(1), MachineType::Q35, ShareFs::NineP).contains("pci=off"));
        assert!(kernel_cmdline(Resolved::Kvm, Some(1), MachineType::Microvm, ShareFs::NineP).contains(" pci=off"));
    }

    #[test]
    fn virtiofs_shares_guest_memory_and_uses_vhost_user_devices() {
        for (machine, dev, m) in [
            (
                MachineType::Microvm,
                "vhost-user-fs-device",
                "microvm,acpi=on,rtc=on,x-option-roms=off,memory-backend=mem",
            ),
            (MachineType::Q35, "vhost-user-fs-pci", "q35,memory-backend=mem"),
        ] {
            let mut s = spec(machine);
            s.virtiofs = Some("/t/vm,1".into());
            let joined = args(&command(&s)).join(" ");
            assert!(
                joined.contains("-object memory-backend-memfd,id=mem,size=1024M,share=on"),
                "{joined}"
            );
            assert!(joined.contains(&format!("-M {m} ")), "{joined}");
            assert_eq!(
                joined.contains("-global virtio-mmio.force-legacy=false"),
                machine == MachineType::Microvm,
                "{joined}"
            );
            assert!(
                joined.contains(&format!(
                    "-chardev socket,id=fs1,path=/t/vm,,1/fs1.sock -device {dev},chardev=fs1,tag=orca.share0"
                )),
                "{joined}"
            );
            assert!(!joined.contains("fsdev") && !joined.contains("9p"), "{joined}");
        }
    }
}
