# expect: 9:3: missing `min_kernel`
schema_version = "1.0"
test_matrix = [
  { kernel_version = "6.1" },
]

test {
  commands = ["true"]
  expect "x*" { reason = "why" }
}
