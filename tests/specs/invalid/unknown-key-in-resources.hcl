# expect: 6:5: unknown key `cpus`
schema_version = "1.0"
vm {
  name = "t"
  resources {
    cpus = 2
  }
}
