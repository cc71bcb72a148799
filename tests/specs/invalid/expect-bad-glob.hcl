# expect: 9:10: not a valid glob
schema_version = "1.0"
test_matrix = [
  { kernel_version = "6.1" },
]

test {
  commands = ["true"]
  expect "cgroup_[" { min_kernel = "5.17" }
}
