# expect: 5:11: never closed
schema_version = "1.0"
vm {
  name = "t"
  image = "host

}
