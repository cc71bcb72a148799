# expect: 4:10: must be a string
schema_version = "1.0"
vm {
  name = 7
}
