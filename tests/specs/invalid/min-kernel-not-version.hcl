# expect: 9:30: not a kernel version
schema_version = "1.0"
test_matrix = [
  { kernel_version = "6.1" },
]

test {
  commands = ["true"]
  expect "x*" { min_kernel = "5.x" }
}
