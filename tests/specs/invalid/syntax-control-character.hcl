# expect: 3:1: control character
schema_version = "1.0"
vm {
  name = "t"
}
