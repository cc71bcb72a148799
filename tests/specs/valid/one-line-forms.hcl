# One-line forms HCL allows: objects whose fields share a line, separated by commas, and lists of
# objects on one line. (A block on one line holds a single setting: see variables.hcl.)
schema_version = "1.0"

vm {
  name = "compact"
  image = "host"
  resources {
    cpu = 1
    memory = "256MB"
  }
  mounts = [{ source = ".", destination = "/here", readonly = true }, { type = "tmpfs", destination = "/tmp/t", size = "64MB" }]
  artifacts = [{ source = "/here/out", destination = "build/compact" }]
}
