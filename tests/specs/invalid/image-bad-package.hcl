# expect: 5:14: "Clang" is not a package name
schema_version = "1.0"
image "builder" {
  base     = "debian-12"
  packages = ["Clang"]
}
