# The VM the tests run in: the host's own root (image = "host") on the kernel a matrix entry or
# pipeline stage names, with the project shared writable at /project so that the test script's
# JUnit (build/test-results/) reaches the host.
#
#   orca run configs/ebpf-test.hcl --kernel 6.1 -- make test
schema_version = "1.0"

vm {
  name  = "ebpf-test"
  image = "host"

  resources {
    cpu    = 1
    memory = "512MB"
  }

  network = false

  mounts = [
    { source = "..", destination = "/project", readonly = false },
  ]
}
