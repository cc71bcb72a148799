# expect: 5:11: function calls
schema_version = "1.0"
vm {
  name = "t"
  image = lower("HOST")
}
