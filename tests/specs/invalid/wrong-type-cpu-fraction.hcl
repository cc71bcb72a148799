# expect: 6:11: whole number
schema_version = "1.0"
vm {
  name = "t"
  resources {
    cpu = 1.5
  }
}
