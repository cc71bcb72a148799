# expect: 5:13: must be an object
schema_version = "1.0"
vm {
  name = "t"
  mounts = ["/src"]
}
