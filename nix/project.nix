# mkProject, the heart of orca's flake as a library (`lib.<system>.mkProject`, nix/flake-lib.nix):
# one project's flake outputs for one system, from the project's own specs as `orca gen` renders
# them into nix/generated/*.json. orca's own flake.nix uses it for this repository.
#
#   src            the project root (a path, e.g. ./. in the project's flake.nix)
#   projectPaths   project-relative paths the matrix cells and gen-in-sync see (default: all of src)
#   guestFiles     { "<project-relative path>" = <store path>; }: build outputs the script expects
#                  where a native build leaves them (e.g. "target/release/my-tests"), linked into
#                  the cells' copy of the project
#   guestPackages  packages on the guest's PATH besides iproute2, bpftools and gnumake (a cell on a
#                  distro image gets these alone, after the image's own tools)
#   shellPackages  packages of the dev shell besides clang, llvm, qemu, orca and the BPF tools
#   name           a name for the derivations
#
# Returns { packages; checks; devShells; legacyPackages; }, each for this system: map them over
# your systems in flake.nix (nix/README.md, "Using orca's flake from your own flake").
{ nixpkgs, system, orca }:
{ src
, projectPaths ? null
, guestFiles ? { }
, guestPackages ? [ ]
, shellPackages ? [ ]
, name ? "orca-project"
}:
let
  pkgs = nixpkgs.legacyPackages.${system};
  lib = nixpkgs.lib;
  isLinux = lib.hasSuffix "-linux" system;
  orcaLib = import ./lib { inherit lib; };
  data = import ./data.nix { dir = src + "/nix/generated"; };
  rev = nixpkgs.rev or "(unknown revision)";

  # Only the given paths of src (when src is a path; a store path is taken whole), so that a change
  # elsewhere rebuilds nothing here.
  sources = paths:
    if builtins.isPath src then
      lib.fileset.toSource {
        root = src;
        fileset = lib.fileset.unions (map (p: lib.fileset.maybeMissing (src + "/${p}")) paths);
      }
    else src;
  hasPrograms = data.toolchain != null && data.programs != [ ];
  # The programs' directories and the include dirs: what clang reads.
  ebpfSrc = sources (lib.unique (map (p: dirOf p.source) data.programs ++ data.toolchain.include_dirs));
  projectSrc = if projectPaths == null then src else sources projectPaths;

  llvm = orcaLib.llvmFor { inherit pkgs rev; } data.toolchain.clang_major;
  clangSystem = import ./clang-system.nix { inherit pkgs lib isLinux llvm; major = data.toolchain.clang_major; };
  ebpf = import ./ebpf.nix { inherit pkgs lib orcaLib data clangSystem name; src = ebpfSrc; };

  resolveKernel = orcaLib.kernelFor { inherit pkgs rev; inherit (data) kernels; };
  # Kernels the pin has and builds with BTF (resolve.nix): the ones a vmlinux.h can come from.
  bootable = lib.filterAttrs (_: k: k.available) (lib.genAttrs (builtins.attrNames data.kernels) resolveKernel);
  vmlinuxH = lib.mapAttrs' (version: k: {
    name = "vmlinux-h-${orcaLib.versionAttr version}";
    value = import ./vmlinux-h.nix { inherit pkgs version; inherit (k) kernelPackages; };
  }) bootable;

  # What every cell's guest copies before the script: the project, the objects where `orca build`
  # puts them (each program's `object`), and the guest files.
  cellProject = pkgs.runCommand "${name}-cell-project" { } ''
    cp -R ${projectSrc} $out
    chmod -R u+w $out
    ${lib.concatMapStringsSep "\n" (p: ''
      mkdir -p "$(dirname $out/${p.object})"
      cp ${ebpf}/${baseNameOf p.object} $out/${p.object}
    '') (if hasPrograms then data.programs else [ ])}
    ${lib.concatStringsSep "\n" (lib.mapAttrsToList (path: target: ''
      mkdir -p "$(dirname $out/${path})"
      rm -rf $out/${path}
      ln -s ${target} $out/${path}
    '') guestFiles)}
  '';

  # The kernel matrix runs on x86_64-linux only: the catalog's kernels are x86_64 kernels.
  # A cell on the host image runs in a NixOS test VM (cell-test.nix); one on a distro image, in
  # nixpkgs' build of that image booted with the cell's kernel (lib/images.nix,
  # image-cell-test.nix); one the pin cannot give (kernel or image) is unavailable with the reason.
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
      import ./cell-test.nix {
        inherit pkgs orcaLib cell;
        project = cellProject;
        guestPackages = [ pkgs.iproute2 pkgs.bpftools pkgs.gnumake ] ++ guestPackages;
      }
    else
      # The image brings its own tools (its packages and the provision's); the guest packages
      # come after them on PATH, so none of the image's is shadowed.
      import ./image-cell-test.nix {
        inherit pkgs orcaLib cell guestPackages;
        project = cellProject;
      }) cells.available;
in
{
  packages = lib.optionalAttrs (isLinux && hasPrograms) ({ inherit ebpf; } // vmlinuxH);

  checks = {
    # The committed nix/generated/*.json must be what configs/*.hcl give.
    gen-in-sync = pkgs.runCommand "${name}-gen-in-sync" { nativeBuildInputs = [ orca ]; } ''
      cd ${projectSrc}
      orca gen --check
      touch $out
    '';
  } // lib.optionalAttrs (system == "x86_64-linux") cellChecks;

  # `nix eval .#legacyPackages.x86_64-linux.orca.unavailable`: the cells the pin cannot boot, and
  # why. `orca matrix run --backend nix` reads it.
  legacyPackages.orca = {
    unavailable = if system == "x86_64-linux" then cells.unavailable else { };
    inherit data;
  };

  devShells.default = import ./devshell.nix { inherit pkgs lib isLinux llvm orca clangSystem shellPackages; };
}
