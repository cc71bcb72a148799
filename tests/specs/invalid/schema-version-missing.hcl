# expect: 2:1: no `schema_version`
vm {
  name = "t"
}
