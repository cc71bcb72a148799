# expect: 10:10: two `expect` blocks
schema_version = "1.0"
test_matrix = [
  { kernel_version = "6.1" },
]

test {
  commands = ["true"]
  expect "x*" { min_kernel = "5.17" }
  expect "x*" { min_kernel = "6.1" }
}
