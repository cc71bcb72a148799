# expect: 5:24: must be a string
schema_version = "1.0"
vm {
  name = "t"
  provision = ["true", 42]
}
