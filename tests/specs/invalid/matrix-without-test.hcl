# expect: 3:15: without a `test` block
schema_version = "1.0"
test_matrix = [
  { kernel_version = "6.1" },
]
