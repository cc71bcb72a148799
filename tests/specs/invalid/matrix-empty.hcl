# expect: 3:15: `test_matrix` is empty
schema_version = "1.0"
test_matrix = [

]

test {
  commands = ["true"]
}
