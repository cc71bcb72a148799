# packages.orca: the orca binary, from the Rust sources only (a change to configs/ or the C
# programs in ebpf/ does not rebuild it). The workspace's other member, the firewall crate
# (ebpf/Cargo.toml, ebpf/src), is in the source because cargo loads every member's manifest; only
# orca is built (`-p orca`).
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
      (root + "/ebpf/Cargo.toml")
      (root + "/ebpf/src")
      (lib.fileset.maybeMissing (root + "/benches"))
      (lib.fileset.maybeMissing (root + "/tests"))
    ];
  };
  cargoDeps = import ./cargo-deps.nix { inherit pkgs lib root; };
  cargoBuildFlags = [ "-p" "orca" ];
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
