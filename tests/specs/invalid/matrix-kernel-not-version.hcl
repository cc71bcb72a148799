# expect: 4:33: not a kernel version
schema_version = "1.0"
test_matrix = [
  { name = "a" kernel_version = "newest" },
]

test {
  commands = ["true"]
}
