//! The VM engine of the native backend: boots a catalog kernel in QEMU with orca's own
//! initramfs, shares the host root into it, and talks to the guest agent.
//!
//! # Using it
//!
//! ```no_run
//! # fn demo(kernel: orca::kernel::Prepared) -> anyhow::Result<()> {
//! use orca::vm::{ExecRequest, Machine, Stream, VmConfig};
//! let mut cfg = VmConfig::new("demo", kernel); // 1 CPU, 1024 MiB, no NIC, accel auto
//! cfg.modules = vec!["veth".into()];
//! let mut vm = Machine::boot(cfg)?; // exit 5 before booting if the kernel lacks an option
//! let res = vm.exec(&ExecRequest::shell("uname -r; exit 7"), &mut |stream, bytes| match stream {
//!     Stream::Stdout => print!("{}", String::from_utf8_lossy(bytes)),
//!     Stream::Stderr => eprint!("{}", String::from_utf8_lossy(bytes)),
//! })?;
//! assert_eq!(res.exit_code(), 7);
//! vm.copy_out("/etc/hostname", std::path::Path::new("hostname.txt"))?;
//! vm.shutdown()?; // or drop it: QEMU is killed and its files removed
//! # Ok(()) }
//! ```
//!
//! - [`Machine::boot`] checks the kernel config (exit 5), resolves acceleration ([`accel`]: KVM
//!   only where a probe guest really boots, else TCG with a warning), builds or reuses the
//!   initramfs ([`initramfs`]) and the PVH boot image ([`bootimage`]), starts QEMU ([`qemu`]),
//!   connects QMP ([`qmp`]) and waits for the agent's `ready`. Deadlines scale with
//!   [`Machine::scale`] (×1 KVM, ×6 TCG).
//! - [`Machine::boot_or_retry`] boots once more, on a fresh VM, when the guest panics or hangs
//!   before its agent is ready (an infrastructure fault), and remembers the first try
//!   ([`Machine::flaky`]) for reports; every command that boots guests uses it.
//! - [`Machine::exec`] / [`Machine::exec_until`], [`Machine::copy_in`], [`Machine::copy_out`],
//!   [`Machine::shell`] speak the agent protocol ([`protocol`], host side in [`conn`] and
//!   [`ops`]). Copies follow the rules in [`transfer`].
//! - Failures carry their exit code: guest panic 6, deadline 124, QEMU or the guest dying 3,
//!   Ctrl-C 130. Dropping a `Machine` kills QEMU and removes its sockets and temp files.
//! - Long-lived VMs (`orca start`) run in a daemon ([`daemon`]) registered in [`state`];
//!   [`state::list`] lists them, [`state::connect`] reaches one.
//!
//! # The guest
//!
//! The guest's root is the host's root over 9p (read-only) under a tmpfs overlay; declared
//! shares are extra 9p mounts (read-write only with `readonly = false`). The agent is this very
//! binary (`orca agent`), at the same absolute path as on the host.

pub mod accel;
pub mod agentkit;
pub mod bootimage;
pub mod conn;
pub mod daemon;
pub mod diagnose;
pub mod initramfs;
pub mod machine;
pub mod ops;
pub mod protocol;
pub mod qemu;
pub mod provision;
pub mod qmp;
pub mod rootfs;
pub mod setup;
pub mod share;
pub mod state;
pub mod term;
pub mod transfer;
pub mod virtiofs;

pub use accel::{Accel, Resolved};
pub use machine::{Machine, VmConfig};
pub use protocol::{ExecRequest, ExecResult, ShellRequest, Stream};
