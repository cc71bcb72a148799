# expect: 4:14: not UTF-8
schema_version = "1.0"
vm {
  name = "café"
}
