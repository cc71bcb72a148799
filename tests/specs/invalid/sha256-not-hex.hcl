# expect: 6:14: 64 hex digits
schema_version = "1.0"
kernel "6.1" {
  url {
    url    = "https://example.org/vmlinuz"
    sha256 = "gggggggggggggggggggggggggggggggggggggggggggggggggggggggggggggggg"
  }
}
