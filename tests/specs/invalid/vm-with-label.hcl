# expect: 3:4: takes no label
schema_version = "1.0"
vm "t" {
  name = "t"
}
