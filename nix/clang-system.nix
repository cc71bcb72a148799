# What the pinned, unwrapped clang needs from nixpkgs to compile orca's programs, shared by
# packages.ebpf (ebpf.nix) and the dev shell (devshell.nix) so that both compile with the same
# headers. nixpkgs' cc-wrapper would add these; orca uses clang-unwrapped to keep the wrapper's
# hardening flags away from BPF, so it passes them itself.
{ pkgs, lib, isLinux, llvm, major }:
let
  clang = llvm.clang-unwrapped;
  # From LLVM 19 nixpkgs puts lib/clang in clang-unwrapped's `lib` output, so the path clang
  # derives from its binary (`clang -print-resource-dir`) does not exist; cc-wrapper passes
  # -resource-dir under `lib.getLib clang` for the same reason.
  resourceDir = "${lib.getLib clang}/lib/clang/${toString major}";
in
{
  inherit clang resourceDir;
  # Instead of the host's /usr/include (Debian's linux-libc-dev and libbpf-dev). Linux only:
  # nixpkgs has no libbpf or kernel headers for macOS.
  systemIncludes = lib.optionals isLinux [ "${pkgs.libbpf}/include" "${pkgs.linuxHeaders}/include" ];
  prefixMaps = lib.optionals isLinux [
    { from = "${pkgs.libbpf}"; to = "/libbpf"; }
    { from = "${pkgs.linuxHeaders}"; to = "/linux-headers"; }
  ] ++ [ { from = resourceDir; to = "/clang"; } ];
}
