# packages.orca: the orca binary, from the Rust sources only (a change to configs/ or ebpf/ does not
# rebuild it).
{ pkgs, lib, root }:
pkgs.rustPlatform.buildRustPackage {
  pname = "orca";
  version = (lib.importTOML (root + "/Cargo.toml")).package.version;
  src = lib.fileset.toSource {
    inherit root;
    fileset = lib.fileset.unions [
      (root + "/Cargo.toml")
      (root + "/Cargo.lock")
      (root + "/src")
      (lib.fileset.maybeMissing (root + "/benches"))
      (lib.fileset.maybeMissing (root + "/tests"))
    ];
  };
  cargoLock.lockFile = root + "/Cargo.lock";
  nativeBuildInputs = [ pkgs.pkg-config ];
  buildInputs = [ pkgs.xz ];
  # orca's tests boot kernels in QEMU and drive clang: they run in CI and in the matrix checks, not
  # in the build sandbox.
  doCheck = false;
  meta = {
    description = "Reproducible eBPF builds, proven on every kernel you ship to";
    mainProgram = "orca";
  };
}
