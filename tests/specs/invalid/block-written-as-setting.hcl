# expect: 5:3: is a block, not a setting
schema_version = "1.0"
vm {
  name = "t"
  resources = { cpu = 2 }
}
