# expect: 5:13: true or false
schema_version = "1.0"
vm {
  name = "t"
  network = "false"
}
