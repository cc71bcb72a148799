# The firewall's data plane from source to figures: build, unit tests (which also build the
# firewall's `firewall-suite`), the behaviour suite in a VM on the newest kernel, then the benchmark.
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
      commands = ["cargo test --release --workspace --lib", "cargo build --release -p firewall"]
      inputs   = ["src/**", "ebpf/src/**", "ebpf/Cargo.toml", "Cargo.toml", "Cargo.lock"]
      timeout  = "30m"
    },
    {
      # No kernel named: the catalog's newest.
      name         = "integration"
      vm           = "ebpf-test"
      commands     = ["target/release/firewall-suite --objects build/ebpf --junit build/test-results/suite.xml"]
      dependencies = ["build", "unit"]
      inputs       = ["build/ebpf/*.o", "target/release/firewall-suite"]
      timeout      = "15m"
    },
    {
      name         = "performance"
      vm           = "ebpf-test"
      commands     = ["target/release/firewall-suite --objects build/ebpf --bench > build/perf.json"]
      dependencies = ["integration"]
      inputs       = ["build/ebpf/*.o", "target/release/firewall-suite"]
      artifacts    = ["build/perf.json"]
      timeout      = "20m"
    },
  ]
}
