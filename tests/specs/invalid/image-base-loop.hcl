# expect: 4:10: loop back to
schema_version = "1.0"
image "a" {
  base = "b"
}
image "b" {
  base = "a"
}
