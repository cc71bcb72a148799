# expect: 8:10: declared twice
schema_version = "1.0"
vm {
  name = "t"
}

vm {
  name = "t"
}
