# Stages in VMs: a stage's kernel is its own, else its VM's, else the catalog's newest with a
# source. `vm = "host"` is the same as no `vm`.
schema_version = "1.0"

kernel "6.1" {
  url {
    url = "https://kernels.invalid/6.1.deb"
    sha256 = "1111111111111111111111111111111111111111111111111111111111111111"
  }
}
kernel "6.12" {
  url {
    url = "https://kernels.invalid/6.12.deb"
    sha256 = "2222222222222222222222222222222222222222222222222222222222222222"
  }
}
kernel "7.2" {
  release = "7.2.13+deb14-amd64"
}

vm {
  name   = "pinned"
  kernel = "6.1"
}

vm {
  name = "floating"
}

pipeline {
  name = "vms"
  stages = [
    { name = "on-host", vm = "host", commands = ["true"] },
    { name = "vm-kernel", vm = "pinned", commands = ["uname -r"], dependencies = ["on-host"] },
    { name = "newest", vm = "floating", commands = ["uname -r"], results = ["build/test-results/*.xml"], dependencies = ["on-host"] },
    { name = "explicit", vm = "floating", kernel = "6.1", commands = ["uname -r"], dependencies = ["newest", "vm-kernel"] },
  ]
}
