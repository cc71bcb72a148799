# expect: 5:11: is not a value
schema_version = "1.0"
vm {
  name = "t"
  image = host
}
