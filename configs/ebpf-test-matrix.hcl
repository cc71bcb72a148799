# The firewall's behaviour suite on every kernel it ships to: one cell per kernel. The suite is the
# firewall crate's own binary (ebpf/, `firewall-suite`), run like any project's test command: build
# it on the host first (the guest sees the host's root, so target/release/ is there too), and
# orca collects the JUnit file it writes through `results`.
#
#   cargo build --release -p firewall && orca matrix run --junit junit.xml
schema_version = "1.0"

test_matrix = [
  { name = "5.10", image = "host", kernel_version = "5.10" }, # Debian bullseye
  { name = "6.1",  image = "host", kernel_version = "6.1" },  # Debian bookworm
  { name = "6.12", image = "host", kernel_version = "6.12" }, # Debian trixie
  { name = "7.2",  image = "host", kernel_version = "7.2" },  # Debian sid
]

test {
  parallel = true
  timeout  = "10m"
  vm       = "ebpf-test"
  commands = ["target/release/firewall-suite --objects build/ebpf --junit build/test-results/suite.xml"]
  results  = ["build/test-results/*.xml"]

  # cgroup_events stamps its events with bpf_ktime_get_coarse_ns (helper 160), added in 5.11: on
  # older kernels (5.10) the verifier refuses it ("invalid func unknown#160"), so its tests are
  # expected to fail there, and reported as such rather than as failures.
  expect "cgroup_events/*" {
    min_kernel = "5.11"
    reason     = "uses bpf_ktime_get_coarse_ns (helper 160), added in 5.11"
  }
}
