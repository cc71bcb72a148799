# expect: 5:44: absolute path in the guest
schema_version = "1.0"
vm {
  name = "t"
  mounts = [{ source = "..", destination = "flywall" }]
}
