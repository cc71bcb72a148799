# expect: 5:11: expected a value
schema_version = "1.0"
vm {
  name = "t"
  image = 

}
