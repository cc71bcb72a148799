# expect: 5:3: is a setting, not a block
schema_version = "1.0"
vm {
  name = "t"
  image {
    type = "host"
  }
}
