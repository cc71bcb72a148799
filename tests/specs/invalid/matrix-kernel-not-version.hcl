# expect: 4:34: not a kernel version
schema_version = "1.0"
test_matrix = [
  { name = "a", kernel_version = "newest" },
]

test {
  commands = ["true"]
}
