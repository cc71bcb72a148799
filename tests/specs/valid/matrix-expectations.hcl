# Expectations per test glob; entry names default to the kernel version, and versions may be
# written as bare numbers.
schema_version = "1.0"

test_matrix = [
  { kernel_version = 5.10 },
  { kernel_version = "6.12" },
]

test {
  timeout  = "1h30m"
  commands = ["orca suite"]

  expect "cgroup_events*" {
    min_kernel = "5.17"
    reason     = "uses bpf_loop"
  }

  expect "tc_egress_policy_tcx" {
    min_kernel = 6.6
  }
}
