# expect: 5:22: two matrix entries
schema_version = "1.0"
test_matrix = [
  { kernel_version = "6.1" },
  { kernel_version = "6.1" },
]

test {
  commands = ["true"]
}
