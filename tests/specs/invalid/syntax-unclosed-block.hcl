# expect: 3:4: never closed
schema_version = "1.0"
vm {
  name = "t"
