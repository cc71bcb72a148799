# expect: 6:1: given twice
schema_version = "1.0"
toolchain {
  clang_version = "14"
}
toolchain {
  clang_version = "15"
}
