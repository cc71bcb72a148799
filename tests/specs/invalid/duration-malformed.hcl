# expect: 9:14: unknown duration unit
schema_version = "1.0"
test_matrix = [
  { name = "a", kernel_version = "6.1" },
]

test {
  commands = ["true"]
  timeout  = "10 minutes"
}
