//! Helpers for the kernel tests: the real catalog, and small synthetic kernels (a `.deb` with an
//! image, a config and modules whose `.modinfo` says what they depend on).
#![allow(dead_code)]

use std::io::Write;
use std::path::{Path, PathBuf};

use orca::error::{Exit, exit_of};
use orca::plan::{Kernel, KernelSource};

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn ci() -> bool {
    orca::ci::enabled()
}

/// The catalog kernel `version` from the project's own `configs/`.
pub fn catalog_kernel(version: &str) -> Kernel {
    let plan = orca::plan::load_project(&root()).expect("the project's specs load");
    plan.kernel(version)
        .unwrap_or_else(|| panic!("kernel {version} is not in configs/kernels.hcl"))
        .clone()
}

/// Prepares a real catalog kernel. Without CI, a kernel that cannot be fetched here (no mirror,
/// no network) skips the test with the reason printed; with `CI=true` it fails.
pub fn prepare_real(version: &str) -> Option<orca::kernel::Prepared> {
    let k = catalog_kernel(version);
    match orca::kernel::prepare(&k) {
        Ok(p) => Some(p),
        Err(e) if !ci() && exit_of(&e) == Exit::KernelUnavailable && !format!("{e:#}").contains("does not match") => {
            eprintln!("SKIP: kernel {version} cannot be fetched here (CI is not set): {e:#}");
            None
        }
        Err(e) => panic!("preparing kernel {version}: {e:#}"),
    }
}

/// A minimal ELF64 relocatable object whose `.modinfo` holds `fields` (`key=value`).
pub fn fake_module(fields: &[&str]) -> Vec<u8> {
    let mut modinfo = Vec::new();
    for f in fields {
        modinfo.extend_from_slice(f.as_bytes());
        modinfo.push(0);
    }
    let shstrtab = b"\0.modinfo\0.shstrtab\0";
    let modinfo_off = 64u64;
    let shstr_off = modinfo_off + modinfo.len() as u64;
    let sh_off = (shstr_off + shstrtab.len() as u64).div_ceil(8) * 8;
    let mut e = Vec::new();
    e.extend_from_slice(b"\x7fELF\x02\x01\x01\0\0\0\0\0\0\0\0\0");
    e.extend_from_slice(&1u16.to_le_bytes()); // ET_REL
    e.extend_from_slice(&62u16.to_le_bytes()); // EM_X86_64
    e.extend_from_slice(&1u32.to_le_bytes());
    e.extend_from_slice(&0u64.to_le_bytes()); // entry
    e.extend_from_slice(&0u64.to_le_bytes()); // phoff
    e.extend_from_slice(&sh_off.to_le_bytes());
    e.extend_from_slice(&0u32.to_le_bytes()); // flags
    for v in [64u16, 0, 0, 64, 3, 2] {
        e.extend_from_slice(&v.to_le_bytes()); // ehsize, phentsize, phnum, shentsize, shnum, shstrndx
    }
    e.extend_from_slice(&modinfo);
    e.extend_from_slice(shstrtab);
    e.resize(sh_off as usize, 0);
    let section = |e: &mut Vec<u8>, name: u32, kind: u32, flags: u64, off: u64, size: u64| {
        e.extend_from_slice(&name.to_le_bytes());
        e.extend_from_slice(&kind.to_le_bytes());
        e.extend_from_slice(&flags.to_le_bytes());
        e.extend_from_slice(&0u64.to_le_bytes()); // addr
        e.extend_from_slice(&off.to_le_bytes());
        e.extend_from_slice(&size.to_le_bytes());
        e.extend_from_slice(&0u32.to_le_bytes()); // link
        e.extend_from_slice(&0u32.to_le_bytes()); // info
        e.extend_from_slice(&1u64.to_le_bytes()); // addralign
        e.extend_from_slice(&0u64.to_le_bytes()); // entsize
    };
    section(&mut e, 0, 0, 0, 0, 0);
    section(&mut e, 1, 1, 2, modinfo_off, modinfo.len() as u64);
    section(&mut e, 10, 3, 0, shstr_off, shstrtab.len() as u64);
    e
}

pub fn xz(bytes: &[u8]) -> Vec<u8> {
    let mut w = xz2::write::XzEncoder::new(Vec::new(), 6);
    w.write_all(bytes).unwrap();
    w.finish().unwrap()
}

pub fn zst(bytes: &[u8]) -> Vec<u8> {
    zstd::encode_all(bytes, 3).unwrap()
}

/// A fake bzImage: just enough setup header for orca to read its release.
pub fn fake_image(release: &str, size: usize) -> Vec<u8> {
    let mut img = vec![0u8; size.max(0x1000)];
    img[0x202..0x206].copy_from_slice(b"HdrS");
    img[0x20E..0x210].copy_from_slice(&0x300u16.to_le_bytes());
    let s = format!("{release} (test@orca) #1 SMP");
    img[0x500..0x500 + s.len()].copy_from_slice(s.as_bytes());
    img
}

/// A `.deb` holding `files` (path in the package, bytes), with a control file.
pub fn build_deb(path: &Path, package: &str, version: &str, files: &[(&str, Vec<u8>)]) {
    build_deb_with(path, package, version, files, true)
}

/// [`build_deb`] with the data member gzipped or plain (`data.tar`, quicker for big test data).
pub fn build_deb_with(path: &Path, package: &str, version: &str, files: &[(&str, Vec<u8>)], gzip: bool) {
    fn tar(files: &[(String, Vec<u8>)]) -> Vec<u8> {
        let mut t = tar::Builder::new(Vec::new());
        for (name, bytes) in files {
            let mut h = tar::Header::new_gnu();
            h.set_size(bytes.len() as u64);
            h.set_mode(0o644);
            h.set_entry_type(tar::EntryType::Regular);
            h.set_cksum();
            t.append_data(&mut h, name, &bytes[..]).unwrap();
        }
        t.into_inner().unwrap()
    }
    fn gz(bytes: Vec<u8>) -> Vec<u8> {
        let mut w = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        w.write_all(&bytes).unwrap();
        w.finish().unwrap()
    }
    let control = format!("Package: {package}\nVersion: {version}\nArchitecture: amd64\nDescription: test kernel\n");
    let control_tar = gz(tar(&[("./control".to_string(), control.into_bytes())]));
    let data: Vec<(String, Vec<u8>)> = files.iter().map(|(p, b)| (format!("./{p}"), b.clone())).collect();
    let (data_name, data_tar) = if gzip {
        ("data.tar.gz", gz(tar(&data)))
    } else {
        ("data.tar", tar(&data))
    };
    let mut ar = ar::Builder::new(std::fs::File::create(path).unwrap());
    for (name, bytes) in [
        ("debian-binary", b"2.0\n".to_vec()),
        ("control.tar.gz", control_tar),
        (data_name, data_tar),
    ] {
        let h = ar::Header::new(name.as_bytes().to_vec(), bytes.len() as u64);
        ar.append(&h, &bytes[..]).unwrap();
    }
}

pub fn sha256(path: &Path) -> String {
    orca::kernel::fetch::sha256_file(path).unwrap()
}

/// A catalog kernel made of local files.
pub fn file_kernel(version: &str, parts: &[&Path]) -> Kernel {
    Kernel {
        version: version.to_string(),
        release: None,
        sources: parts
            .iter()
            .map(|p| KernelSource::File {
                path: p.to_path_buf(),
                sha256: sha256(p),
            })
            .collect(),
        nixpkgs: None,
    }
}

/// The config fixture of a kernel that cannot share the host root: no 9p, no overlayfs.
pub const CONFIG_WITHOUT_9P: &str = include_str!("config-without-9p");
