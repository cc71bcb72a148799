# A VM that builds the programs with the pinned clang, the project shared writable at /project.
#
#   orca run configs/ebpf-builder.hcl --command 'cd /project && make build'
schema_version = "1.0"

vm {
  name  = "ebpf-builder"
  image = "host"

  resources {
    cpu    = 2
    memory = "1GB"
  }

  mounts = [
    { source = "..", destination = "/project", readonly = false },
  ]

  # Fails early, with clang's own message, if the pinned clang is missing.
  provision = ["clang-19 --version"]
}
