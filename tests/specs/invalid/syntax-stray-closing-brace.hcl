# expect: 6:1: unexpected `}`
schema_version = "1.0"
vm {
  name = "t"
}
}
