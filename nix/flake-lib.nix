# lib.<system> of orca's flake: what another flake calls, as it calls crane's or naersk's lib, to get
# its own eBPF package, per-cell matrix checks from its own specs, and a dev shell; orca's own
# flake.nix calls the same functions for this repository. See nix/README.md, "Using orca's flake
# from your own flake", and nix/project.nix for the arguments.
#
#   mkProject { src = ./.; }   -> { packages; checks; devShells; legacyPackages; } for this system
#   mkEbpf { src = ./.; }      -> the project's `ebpf` package (Linux)
#   mkChecks { src = ./.; }    -> its checks: gen-in-sync and, on x86_64-linux, one per bootable cell
#   mkDevShell { src = ./.; }  -> its dev shell
{ nixpkgs, system, orcaRoot }:
let
  pkgs = nixpkgs.legacyPackages.${system};
  lib = nixpkgs.lib;
  orca = import ./orca.nix { inherit pkgs lib; root = orcaRoot; };
  mkProject = import ./project.nix { inherit nixpkgs system orca; };
in
{
  inherit mkProject orca;
  mkEbpf = args:
    (mkProject args).packages.ebpf
      or (throw "orca: mkEbpf: no eBPF package on ${system} (objects are built on Linux, from a project whose configs/build.hcl declares a toolchain and programs)");
  mkChecks = args: (mkProject args).checks;
  mkDevShell = args: (mkProject args).devShells.default;
}
