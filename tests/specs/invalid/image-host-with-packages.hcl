# expect: 5:3: a host image takes no `packages`
schema_version = "1.0"
image "h" {
  type     = "host"
  packages = ["clang"]
}
