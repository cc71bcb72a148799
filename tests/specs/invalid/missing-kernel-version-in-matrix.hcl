# expect: 4:3: missing `kernel_version`
schema_version = "1.0"
test_matrix = [
  { name = "a", image = "host" },
]

test {
  commands = ["true"]
}
