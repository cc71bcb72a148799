//! The firewall's eBPF programs as userspace sees them: the map keys, values and events they
//! share with `ebpf/include/*.h` (`#[repr(C)]`, [`aya::Pod`]), the names of their programs and
//! maps, and a small API to embed the built objects in a binary and load them with aya.
//!
//! | Program | Object | Kind | Module |
//! |---|---|---|---|
//! | [`Program::XdpBlocklist`] | `xdp_blocklist.o` | XDP | [`xdp_blocklist`] |
//! | [`Program::TcEgressPolicy`] | `tc_egress_policy.o` | tc clsact egress | [`tc_egress_policy`] |
//! | [`Program::CgroupEvents`] | `cgroup_events.o` | cgroup_skb/egress, Linux ≥ 5.11 | [`cgroup_events`] |
//!
//! # Embedding
//!
//! [`embed_object!`](crate::embed_object) includes an object at compile time, aligned for the ELF
//! parser, with the path taken from the root of the crate that invokes it. [`load_bytes`] then
//! creates the object's maps and loads its program through the verifier; when the kernel refuses
//! it, the [`LoadError`] carries the whole verifier log.
//!
//! ```ignore
//! use aya::maps::LpmTrie;
//! use firewall::programs::{Program, load_bytes, xdp_blocklist::{self, BlocklistRule}};
//!
//! // `orca build` first: the object must exist when this crate compiles.
//! static XDP: &[u8] = firewall::embed_object!("build/ebpf/xdp_blocklist.o");
//!
//! let mut ebpf = load_bytes(XDP, Program::XdpBlocklist)?;
//! let mut v4: LpmTrie<_, [u8; 4], BlocklistRule> =
//!     LpmTrie::try_from(ebpf.map_mut(xdp_blocklist::BLOCKLIST_V4).unwrap())?;
//! v4.insert(&xdp_blocklist::v4_prefix("203.0.113.0".parse()?, 24), BlocklistRule::new(1), 0)?;
//! let xdp: &mut aya::programs::Xdp = ebpf.program_mut(xdp_blocklist::PROGRAM).unwrap().try_into()?;
//! xdp.attach("eth0", aya::programs::XdpMode::Skb)?;
//! ```
//!
//! To load what `orca build` wrote at run time instead, use [`load_from_dir`]:
//! `load_from_dir(Path::new("build/ebpf"), Program::TcEgressPolicy)`.

pub mod cgroup_events;
pub mod common;
mod load;
pub mod tc_egress_policy;
pub mod xdp_blocklist;

#[cfg(test)]
mod layout_tests;

pub use load::{LoadError, LoadStage, load_bytes, load_from_dir};

#[doc(hidden)]
pub use aya as __aya;

/// Includes a built object at compile time, 8-byte aligned as the ELF parser needs.
///
/// The path is relative to the invoking crate's root (`CARGO_MANIFEST_DIR`), so
/// `firewall::embed_object!("build/ebpf/xdp_blocklist.o")` names what `orca build` wrote there. The
/// result is a `&'static [u8]` for [`programs::load_bytes`](crate::programs::load_bytes).
#[macro_export]
macro_rules! embed_object {
    ($path:literal) => {
        $crate::programs::__aya::include_bytes_aligned!(concat!(env!("CARGO_MANIFEST_DIR"), "/", $path))
    };
}

/// One of the firewall's programs: its object, the function inside it, and its kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Program {
    XdpBlocklist,
    TcEgressPolicy,
    CgroupEvents,
}

impl Program {
    pub const ALL: [Program; 3] = [Program::XdpBlocklist, Program::TcEgressPolicy, Program::CgroupEvents];

    /// The name in `configs/build.hcl`, which is also the object's file stem and the prefix of
    /// the program's suite tests.
    pub fn name(self) -> &'static str {
        match self {
            Program::XdpBlocklist => "xdp_blocklist",
            Program::TcEgressPolicy => "tc_egress_policy",
            Program::CgroupEvents => "cgroup_events",
        }
    }

    /// The object `orca build` writes for it.
    pub fn object_file(self) -> String {
        format!("{}.o", self.name())
    }

    /// The program's function (ELF symbol) inside the object.
    pub fn function(self) -> &'static str {
        match self {
            Program::XdpBlocklist => xdp_blocklist::PROGRAM,
            Program::TcEgressPolicy => tc_egress_policy::PROGRAM,
            Program::CgroupEvents => cgroup_events::PROGRAM,
        }
    }

    pub fn from_name(name: &str) -> Option<Program> {
        Program::ALL.into_iter().find(|p| p.name() == name)
    }
}

impl std::fmt::Display for Program {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}
