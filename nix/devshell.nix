# devShells.default: the pinned eBPF toolchain and Rust, plus orca itself. On macOS only what runs
# there (Rust, clang, QEMU, orca); the BPF tools, libbpf and pahole are Linux-only.
{ pkgs, lib, isLinux, llvm, orca }:
pkgs.mkShell {
  packages = [
    pkgs.rustc
    pkgs.cargo
    pkgs.clippy
    pkgs.rustfmt
    llvm.clang-unwrapped
    llvm.llvm
    pkgs.qemu
    orca
  ] ++ lib.optionals isLinux [ pkgs.bpftools pkgs.libbpf pkgs.pahole ];
  # cc-wrapper's hardening flags (zerocallusedregs, stackprotector, fortify) break BPF objects.
  hardeningDisable = [ "all" ];
}
