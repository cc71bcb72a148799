# expect: 8:14: `commands` is empty
schema_version = "1.0"
test_matrix = [
  { kernel_version = "6.1" },
]

test {
  commands = []
}
