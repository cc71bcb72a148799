# expect: 5:12: unknown BPF target
schema_version = "1.0"
toolchain {
  clang_version = "14"
  target = "x86"
}
