# expect: 6:14: no unit
schema_version = "1.0"
vm {
  name = "t"
  resources {
    memory = "1024"
  }
}
