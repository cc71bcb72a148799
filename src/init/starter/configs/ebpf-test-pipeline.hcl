# From source to a tested object: build on the host, then the tests in a VM on the newest kernel.
#
#   orca pipeline run
schema_version = "1.0"

pipeline {
  name = "ebpf"

  stages = [
    {
      name      = "build"
      commands  = ["make build"]
      inputs    = ["bpf/**", "configs/build.hcl"]
      artifacts = ["build/ebpf/*.o"]
      timeout   = "10m"
    },
    {
      name         = "test"
      vm           = "ebpf-test"
      commands     = ["make test"]
      dependencies = ["build"]
      inputs       = ["build/ebpf/*.o", "tests/**"]
      timeout      = "15m"
    },
  ]
}
