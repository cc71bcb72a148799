# This repository's outputs for one system: its project outputs from orca's own library
# (`lib.<system>.mkProject`, the function any other flake calls), plus what only orca has: the orca
# package and app, the firewall's suite, the Nix unit tests and the formatter. flake.nix maps this
# over the systems.
{ nixpkgs, system, root, orcaLib }:
let
  pkgs = nixpkgs.legacyPackages.${system};
  lib = nixpkgs.lib;
  isLinux = lib.hasSuffix "-linux" system;
  orca = orcaLib.orca;
  # aya, and so the firewall crate, builds on Linux only.
  firewall = import ./firewall.nix { inherit pkgs lib root; };

  project = orcaLib.mkProject {
    src = root;
    name = "orca";
    # What `orca gen --check` reads, and what the matrix's cells see as the project: not src/,
    # so a change to orca's Rust does not rerun the kernel matrix.
    projectPaths = [ "Cargo.toml" "configs" "ebpf" "nix" ];
    # The matrix command runs target/release/firewall-suite, where `cargo build --release -p
    # firewall` leaves it natively.
    guestFiles = lib.optionalAttrs isLinux { "target/release/firewall-suite" = lib.getExe firewall; };
    shellPackages = [ pkgs.rustc pkgs.cargo pkgs.clippy pkgs.rustfmt ];
  };

  unitTests = import ./tests { inherit lib; };
in
{
  packages = project.packages // { inherit orca; default = orca; } // lib.optionalAttrs isLinux { inherit firewall; };

  checks = project.checks // {
    # nix/tests, evaluated with nixpkgs' own lib (CI evaluates them with a stand-in too).
    nix-unit = pkgs.runCommand "orca-nix-unit" { } ''
      echo ${lib.escapeShellArg unitTests} > $out
    '';
  };

  inherit (project) legacyPackages devShells;

  # nixfmt is the RFC 166 style formatter; nixfmt-rfc-style is a deprecated alias of it in 25.11.
  formatter = pkgs.nixfmt;

  apps.default = { type = "app"; program = lib.getExe orca; meta.description = "orca"; };
}
