# expect: 4:7: expected `=`
schema_version = "1.0"
vm {
  name: "t"
}
