# The eBPF toolchain pin and the programs of the host firewall's data plane.
schema_version = "1.0"

toolchain {
  # The clang major version every object is built with. A different clang is refused.
  # 19: Debian 12 ships clang-19, and the flake's pinned nixpkgs (nixos-25.11) has llvmPackages_19
  # but no longer any LLVM older than 18, so both backends build with the same compiler.
  clang_version = "19"
  target        = "bpf"
  cflags        = ["-O2", "-g", "-Wall", "-Werror", "-mcpu=v3"]
  include_dirs  = ["ebpf/include", "/usr/include/x86_64-linux-gnu"]
  out_dir       = "build/ebpf"
}

program "xdp_blocklist" {
  source = "ebpf/xdp_blocklist.c"
}

program "tc_egress_policy" {
  source = "ebpf/tc_egress_policy.c"
}

program "cgroup_events" {
  source = "ebpf/cgroup_events.c"
}
