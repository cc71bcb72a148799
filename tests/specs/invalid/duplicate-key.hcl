# expect: 7:5: given twice
schema_version = "1.0"
vm {
  name = "t"
  resources {
    cpu = 2
    cpu = 4
  }
}
