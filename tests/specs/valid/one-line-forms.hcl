# Objects whose fields share a line without commas, blocks whose settings share a line, and a
# comma between the items of a block.
schema_version = "1.0"

vm {
  name = "compact", image = "host"
  resources { cpu = 1 memory = "256MB" }
  mounts = [{ source = "." destination = "/here" readonly = true }, { type = "tmpfs" destination = "/tmp/t" size = "64MB" }]
  artifacts = [{ source = "/here/out" destination = "build/compact" }]
}
