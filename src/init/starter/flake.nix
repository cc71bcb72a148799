# The project's flake, from orca's flake used as a library (orca.lib.<system>):
#   nix build .#ebpf    the programs of configs/build.hcl, built with the pinned clang
#   nix flake check     one check per matrix cell of configs/ebpf-test-matrix.hcl, booting that
#                       kernel (in a NixOS test on the host image, or in nixpkgs' build of a Debian
#                       or Ubuntu image) and running the test block's script; and nix/generated/
#                       in sync
#   nix develop         a shell with orca, the pinned clang, QEMU and the BPF tools
# The checks come from nix/generated/*.json, which `orca gen` writes from configs/: run it after
# changing a spec, and commit nix/generated/ (a flake sees only the files git tracks).
#
# Edit `inputs.orca.url` first: point it at your copy of orca, e.g. "path:/home/me/src/orca" or
# the git URL you fetch orca from; `nix flake lock --update-input orca` moves to a newer orca.
{
  description = "An eBPF project, built and tested on every kernel with orca";

  inputs = {
    orca.url = "path:/path/to/orca"; # EDIT ME: where orca's flake lives
    nixpkgs.follows = "orca/nixpkgs";
  };

  outputs =
    { nixpkgs, orca, ... }:
    let
      systems = [ "x86_64-linux" "aarch64-linux" ];
      forAll = f: nixpkgs.lib.genAttrs systems (system: f orca.lib.${system});
    in
    {
      packages = forAll (o: { ebpf = o.mkEbpf { src = ./.; }; });
      checks = forAll (o: o.mkChecks { src = ./.; });
      devShells = forAll (o: { default = o.mkDevShell { src = ./.; }; });
      # The cells the pinned nixpkgs cannot boot, and why (`orca matrix run --backend nix` reads it).
      legacyPackages = forAll (o: (o.mkProject { src = ./.; }).legacyPackages);
    };
}
