# The firewall's data plane from source to figures: build, unit tests, the behaviour suite in a VM
# on the newest kernel, then the benchmark.
#
#   orca pipeline run
schema_version = "1.0"

pipeline {
  name = "ebpf"

  stages = [
    {
      name      = "build"
      commands  = ["orca build"]
      inputs    = ["ebpf/**", "configs/build.hcl"]
      artifacts = ["build/ebpf/*.o"]
      timeout   = "10m"
    },
    {
      name     = "unit"
      commands = ["cargo test --lib"]
      inputs   = ["src/**", "Cargo.toml", "Cargo.lock"]
      timeout  = "30m"
    },
    {
      # No kernel named: the catalog's newest.
      name         = "integration"
      vm           = "ebpf-test"
      commands     = ["orca suite"]
      dependencies = ["build", "unit"]
      inputs       = ["build/ebpf/*.o"]
      timeout      = "15m"
    },
    {
      name         = "performance"
      vm           = "ebpf-test"
      commands     = ["orca suite --bench > build/perf.json"]
      dependencies = ["integration"]
      inputs       = ["build/ebpf/*.o"]
      artifacts    = ["build/perf.json"]
      timeout      = "20m"
    },
  ]
}
