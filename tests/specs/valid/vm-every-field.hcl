# A VM that sets every field.
schema_version = "1.0"

vm {
  name   = "full"
  image  = "host"
  kernel = "6.1"

  resources {
    cpu    = 4
    memory = "2GB"
    disk   = "512MB"
  }

  mounts = [
    { source = "..", destination = "/project", readonly = false },
    { source = "../specs", destination = "/specs" },
    { type = "tmpfs", destination = "/tmp/scratch", size = "1.5G" },
    { type = "tmpfs", destination = "/tmp/small" },
  ]

  provision = ["mount -t bpf bpf /sys/fs/bpf", "sysctl -w net.core.bpf_jit_enable=1"]

  artifacts = [
    { source = "/project/build/out", destination = "../build/out" },
  ]

  network = true
  modules = ["veth", "sch_ingress", "cls_bpf"]
  workdir = "/project/src"
}
