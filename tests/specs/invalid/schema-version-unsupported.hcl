# expect: 2:18: not supported
schema_version = "2.0"
vm {
  name = "t"
}
