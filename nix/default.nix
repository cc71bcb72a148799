# Everything the flake offers for one system. flake.nix only maps this over the systems.
{ nixpkgs, system, root }:
let
  pkgs = nixpkgs.legacyPackages.${system};
  lib = nixpkgs.lib;
  isLinux = lib.hasSuffix "-linux" system;
  orcaLib = import ./lib { inherit lib; };
  data = import ./data.nix { inherit root; };
  rev = nixpkgs.rev or "(unknown revision)";

  sources = paths: lib.fileset.toSource {
    inherit root;
    fileset = lib.fileset.unions (map (p: lib.fileset.maybeMissing (root + "/${p}")) paths);
  };
  ebpfSrc = sources [ "ebpf" ];
  # What `orca gen --check` reads, and what non-suite cells see as their working directory.
  projectSrc = sources [ "Cargo.toml" "configs" "ebpf" "nix" ];

  llvm = orcaLib.llvmFor { inherit pkgs rev; } data.toolchain.clang_major;
  clangSystem = import ./clang-system.nix { inherit pkgs lib isLinux llvm; major = data.toolchain.clang_major; };
  orca = import ./orca.nix { inherit pkgs lib root; };
  ebpf = import ./ebpf.nix { inherit pkgs lib orcaLib data clangSystem; src = ebpfSrc; };

  resolveKernel = orcaLib.kernelFor { inherit pkgs rev; inherit (data) kernels; };
  # Kernels the pin has and builds with BTF (resolve.nix): the ones a vmlinux.h can come from.
  bootable = lib.filterAttrs (_: k: k.available) (lib.genAttrs (builtins.attrNames data.kernels) resolveKernel);
  vmlinuxH = lib.mapAttrs' (version: k: {
    name = "vmlinux-h-${orcaLib.versionAttr version}";
    value = import ./vmlinux-h.nix { inherit pkgs version; inherit (k) kernelPackages; };
  }) bootable;

  # The kernel matrix runs on x86_64-linux only: the catalog's kernels are x86_64 kernels.
  # A cell on the host image runs in a NixOS test VM; one on a distro image, in nixpkgs' build of
  # that image (lib/images.nix), or is unavailable with the reason.
  kernelCells = orcaLib.partitionCells { inherit (data) matrix; inherit resolveKernel; };
  cells = orcaLib.partitionImages {
    inherit (data) matrix;
    cells = kernelCells;
    resolveImage = orcaLib.imageFor {
      inherit (data.images) images;
      matrixVm = data.images.matrix_vm;
      inherit (pkgs) vmTools;
      inherit rev system;
    };
  };
  cellChecks = lib.mapAttrs (_: cell:
    if cell.image.host then
      import ./cell-test.nix { inherit pkgs orcaLib orca ebpf cell; src = projectSrc; }
    else
      import ./image-cell-test.nix { inherit pkgs orcaLib orca ebpf cell; src = projectSrc; }) cells.available;

  unitTests = import ./tests { inherit lib; };
in
{
  packages = { inherit orca; default = orca; } // lib.optionalAttrs isLinux ({ inherit ebpf; } // vmlinuxH);

  checks = {
    # The committed nix/generated/*.json must be what configs/*.hcl give.
    gen-in-sync = pkgs.runCommand "orca-gen-in-sync" { nativeBuildInputs = [ orca ]; } ''
      cd ${projectSrc}
      orca gen --check
      touch $out
    '';
    # nix/tests, evaluated with nixpkgs' own lib (CI evaluates them with a stand-in too).
    nix-unit = pkgs.runCommand "orca-nix-unit" { } ''
      echo ${lib.escapeShellArg unitTests} > $out
    '';
  } // lib.optionalAttrs (system == "x86_64-linux") cellChecks;

  # `nix eval .#legacyPackages.x86_64-linux.orca.unavailable`: the cells the pin cannot boot, and why.
  legacyPackages.orca = {
    unavailable = if system == "x86_64-linux" then cells.unavailable else { };
    inherit data;
  };

  devShell = import ./devshell.nix { inherit pkgs lib isLinux llvm orca clangSystem; };

  # nixfmt is the RFC 166 style formatter; nixfmt-rfc-style is a deprecated alias of it in 25.11.
  formatter = pkgs.nixfmt;

  app = { type = "app"; program = lib.getExe orca; meta.description = "orca"; };
}
