# expect: 5:21: expected `,` or `]`
schema_version = "1.0"
vm {
  name = "t"
  modules = ["veth" "bridge"]
}
