# expect: 6:11: `cpu` must be a whole number
schema_version = "1.0"
vm {
  name = "t"
  resources {
    cpu = "2"
  }
}
