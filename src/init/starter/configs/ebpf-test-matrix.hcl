# The tests on every kernel the project supports: one cell per entry.
#
#   orca matrix run --junit junit.xml
schema_version = "1.0"

test_matrix = [
  {
    name           = "5.10"
    image          = "host"
    kernel_version = "5.10"
  },
  {
    name           = "6.1"
    image          = "host"
    kernel_version = "6.1"
  },
  {
    name           = "6.12"
    image          = "host"
    kernel_version = "6.12"
  },
]

test {
  parallel = true
  timeout  = "10m"
  vm       = "ebpf-test"
  commands = ["make test"]
  # The JUnit files `make test` writes: their testcases are the matrix's rows.
  results = ["build/test-results/*.xml"]
}
