# expect: 5:13: never closed
schema_version = "1.0"
vm {
  name = "t"
  modules = ["veth",

}
