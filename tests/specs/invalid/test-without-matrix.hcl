# expect: 3:1: without a `test_matrix`
schema_version = "1.0"
test {
  commands = ["true"]
}
