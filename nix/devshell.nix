# devShells.default: the project's pinned eBPF toolchain, QEMU and orca itself, plus the project's
# shellPackages (orca's own flake adds Rust). On macOS only what runs there (clang, QEMU, orca); the
# BPF tools, libbpf and pahole are Linux-only.
#
# The clang here is clang-unwrapped (no cc-wrapper, so no hardening flags): it reads no
# NIX_CFLAGS_COMPILE, and NixOS has no /usr/include, so the shell tells orca where the headers
# packages.ebpf compiles against are: `orca build` adds ORCA_SYSTEM_INCLUDES (`:`-separated) as
# -isystem directories and ORCA_CLANG_RESOURCE_DIR as -resource-dir (README, "Building in the
# Nix dev shell").
{ pkgs, lib, isLinux, llvm, orca, clangSystem, shellPackages ? [ ] }:
pkgs.mkShell ({
  packages = [
    llvm.clang-unwrapped
    llvm.llvm
    pkgs.qemu
    orca
  ] ++ lib.optionals isLinux [ pkgs.bpftools pkgs.libbpf pkgs.pahole ] ++ shellPackages;
  # cc-wrapper's hardening flags (zerocallusedregs, stackprotector, fortify) break BPF objects.
  hardeningDisable = [ "all" ];
  ORCA_CLANG_RESOURCE_DIR = clangSystem.resourceDir;
} // lib.optionalAttrs isLinux {
  ORCA_SYSTEM_INCLUDES = lib.concatStringsSep ":" clangSystem.systemIncludes;
})
