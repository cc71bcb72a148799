# expect: 5:31: has no `source`
schema_version = "1.0"
vm {
  name = "t"
  mounts = [{ type = "tmpfs", source = ".", destination = "/tmp/x" }]
}
