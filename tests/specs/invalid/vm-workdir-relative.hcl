# expect: 5:13: is not an absolute guest path
schema_version = "1.0"
vm {
  name    = "builder"
  workdir = "flywall"
}
