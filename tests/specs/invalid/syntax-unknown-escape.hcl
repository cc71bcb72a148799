# expect: 5:22: unknown escape
schema_version = "1.0"
vm {
  name = "t"
  provision = ["echo \q"]
}
