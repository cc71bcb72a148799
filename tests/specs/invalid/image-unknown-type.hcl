# expect: 4:10: unknown image type
schema_version = "1.0"
image "u" {
  type = "qcow2"
}
