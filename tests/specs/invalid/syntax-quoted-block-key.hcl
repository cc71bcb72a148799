# expect: 4:3: without quotes
schema_version = "1.0"
vm {
  "name" = "t"
}
