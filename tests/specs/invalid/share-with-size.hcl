# expect: 5:51: only a tmpfs
schema_version = "1.0"
vm {
  name = "t"
  mounts = [{ source = ".", destination = "/src", size = "1GB" }]
}
