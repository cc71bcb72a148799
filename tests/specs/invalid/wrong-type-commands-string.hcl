# expect: 8:14: must be a list
schema_version = "1.0"
test_matrix = [
  { name = "a", kernel_version = "6.1" },
]

test {
  commands = "orca suite"
}
