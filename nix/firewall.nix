# packages.firewall (Linux only): the firewall crate's behaviour suite, `bin/firewall-suite`, which
# this project's matrix runs in every guest (configs/ebpf-test-matrix.hcl). flake.nix puts it where
# the matrix command expects it, target/release/firewall-suite, in each cell's copy of the project
# (mkProject's guestFiles), as `cargo build --release -p firewall` does natively. The crate is a
# member of orca's workspace and shares its Cargo.lock; it does not depend on orca.
{ pkgs, lib, root }:
pkgs.rustPlatform.buildRustPackage {
  pname = "firewall";
  version = (lib.importTOML (root + "/ebpf/Cargo.toml")).package.version;
  src = lib.fileset.toSource {
    inherit root;
    fileset = lib.fileset.unions [
      (root + "/Cargo.toml")
      (root + "/Cargo.lock")
      # cargo loads every member's manifest and target: orca's sources come too, but only the
      # firewall is built.
      (root + "/src")
      (root + "/ebpf/Cargo.toml")
      (root + "/ebpf/src")
      (lib.fileset.maybeMissing (root + "/benches"))
      (lib.fileset.maybeMissing (root + "/tests"))
    ];
  };
  cargoDeps = import ./cargo-deps.nix { inherit pkgs lib root; };
  cargoBuildFlags = [ "-p" "firewall" ];
  # The suite needs root, veth and a kernel that loads BPF: it runs in the matrix cells.
  doCheck = false;
  meta = {
    description = "The host firewall's eBPF behaviour suite (orca's first user)";
    mainProgram = "firewall-suite";
  };
}
