# A toolchain that sets everything.
schema_version = "1.0"

toolchain {
  clang_version = "14.0.6"
  clang         = "/usr/bin/clang-14"
  clang_sha256  = "ABCDEF0123456789abcdef0123456789ABCDEF0123456789abcdef0123456789"
  target        = "bpfel"
  cflags        = ["-O2", "-g", "-Wall"]
  include_dirs  = ["ebpf/include", "/usr/include/x86_64-linux-gnu"]
  out_dir       = "build/objects"
}

program "tc_egress_policy" {
  source = "ebpf/tc_egress_policy.c"
}
