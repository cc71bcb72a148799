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
  # The crates of Cargo.lock, each a fixed-output fetch checked against its Cargo.lock checksum.
  # At the pinned revision importCargoLock downloads them from the registry's API download path
  # (<registry>/api/v1/crates/<name>/<version>/download), which has answered 403 to the `curl/...`
  # User-Agent of nixpkgs' fetchurl since May 2026 (NixOS/nixpkgs#524979, fixed in nixpkgs after
  # this pin). The registry's static download host (its name prefixed with `static.`, the host cargo
  # itself downloads from) serves the same files under <host>/crates/<name>/<version>/download, so
  # only the URL changes: the hashes, and so the store paths and any binary-cache hit, stay as they
  # were. (Not `cargoLock.extraRegistries`: that would declare a second crates-io source, which
  # cargo rejects.)
  cargoDeps =
    (pkgs.rustPlatform.importCargoLock.override {
      fetchurl =
        args:
        let
          api = if args ? url then builtins.match "https://([^/]+)/api/v1/crates/(.*)" args.url else null;
        in
        pkgs.fetchurl (
          args
          // lib.optionalAttrs (api != null) {
            url = "https://static.${builtins.elemAt api 0}/crates/${builtins.elemAt api 1}";
          }
        );
    })
      { lockFile = root + "/Cargo.lock"; };
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
