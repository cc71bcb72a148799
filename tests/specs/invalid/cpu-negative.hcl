# expect: 6:11: between 1 and 256
schema_version = "1.0"
vm {
  name = "t"
  resources {
    cpu = -2
  }
}
