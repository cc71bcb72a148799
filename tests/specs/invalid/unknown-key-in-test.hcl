# expect: 8:3: unknown key `comands`
schema_version = "1.0"
test_matrix = [
  { name = "a", kernel_version = "6.1" },
]

test {
  comands = ["true"]
}
