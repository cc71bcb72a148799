# expect: 5:22: unknown mount type
schema_version = "1.0"
vm {
  name = "t"
  mounts = [{ type = "tmpsf", destination = "/tmp/x" }]
}
