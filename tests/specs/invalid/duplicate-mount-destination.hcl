# expect: 7:37: share the destination
schema_version = "1.0"
vm {
  name = "t"
  mounts = [
    { source = "..", destination = "/src" },
    { type = "tmpfs", destination = "/src" },
  ]
}
