# expect: 3:1: missing `name`
schema_version = "1.0"
vm {
  image = "host"
}
