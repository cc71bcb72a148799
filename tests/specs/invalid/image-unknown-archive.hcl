# expect: 4:13: unknown archive "fedora"
schema_version = "1.0"
image "f" {
  archive = "fedora"
  suite   = "f40"
}
