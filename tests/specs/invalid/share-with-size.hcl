# expect: 5:49: only a tmpfs
schema_version = "1.0"
vm {
  name = "t"
  mounts = [{ source = "." destination = "/src" size = "1GB" }]
}
