# expect: 5:60: negative
schema_version = "1.0"
vm {
  name = "t"
  mounts = [{ type = "tmpfs" destination = "/tmp/x" size = "-1GB" }]
}
