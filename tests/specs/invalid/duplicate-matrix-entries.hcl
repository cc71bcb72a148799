# expect: 5:12: two matrix entries
schema_version = "1.0"
test_matrix = [
  { name = "a", kernel_version = "6.1" },
  { name = "a", kernel_version = "6.12" },
]

test {
  commands = ["true"]
}
