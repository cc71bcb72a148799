# expect: 6:14: not a size
schema_version = "1.0"
vm {
  name = "t"
  resources {
    memory = "lots"
  }
}
