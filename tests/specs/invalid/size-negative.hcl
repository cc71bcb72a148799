# expect: 5:62: negative
schema_version = "1.0"
vm {
  name = "t"
  mounts = [{ type = "tmpfs", destination = "/tmp/x", size = "-1GB" }]
}
