# expect: 6:18: after a value
schema_version = "1.0"
vm {
  name = "t"
  resources {
    memory = "1" + "GB"
  }
}
