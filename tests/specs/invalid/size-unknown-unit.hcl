# expect: 6:12: unknown size unit
schema_version = "1.0"
vm {
  name = "t"
  resources {
    disk = "2PB"
  }
}
