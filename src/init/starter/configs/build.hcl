# The eBPF toolchain pin and the project's programs: `orca build` compiles each program with
# exactly this clang into out_dir, and refuses a different clang.
schema_version = "1.0"

toolchain {
  clang_version = "19"
  target        = "bpf"
  cflags        = ["-O2", "-g", "-Wall", "-Werror"]
  include_dirs  = ["bpf"]
  out_dir       = "build/ebpf"
}

program "hello" {
  source = "bpf/hello.bpf.c"
}
