# expect: 6:14: zero
schema_version = "1.0"
vm {
  name = "t"
  resources {
    memory = "0GB"
  }
}
