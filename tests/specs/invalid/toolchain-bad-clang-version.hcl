# expect: 4:19: not a clang version
schema_version = "1.0"
toolchain {
  clang_version = "latest"
}
