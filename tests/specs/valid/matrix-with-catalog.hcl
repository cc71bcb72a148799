# A matrix whose kernels are all in the catalog: every cell can run. Two commands make two cells
# per kernel.
schema_version = "1.0"

kernel "5.10" {
  release = "5.10.0-32-amd64"
  debian {
    package = "linux-image-5.10.0-32-amd64-unsigned"
    version = "5.10.223-1"
    suite   = "bullseye"
    sha256  = "53a0ada535b8b35b3ee80ead5ab88036591963941c42dff6881bdb741deebead"
  }
}

kernel "6.1" {
  debian {
    package = "linux-image-6.1.0-50-amd64-unsigned"
    suite = "bookworm"
    sha256 = "439422e41d2dbb840b60b81e3bf5e5955bfa56b7a8c268aec83c9ff882d421e6"
  }
}

test_matrix = [
  { name = "old", image = "host", kernel_version = "5.10" },
  { name = "lts", image = "host", kernel_version = "6.1" },
]

test {
  parallel = false
  timeout  = "5m"
  commands = ["uname -r", "orca suite --test 'xdp_*'"]
}
