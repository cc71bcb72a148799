# expect: 3:1: unknown key `vms`
schema_version = "1.0"
vms {
  name = "t"
}
