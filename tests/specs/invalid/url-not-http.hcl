# expect: 5:14: not an http(s) URL
schema_version = "1.0"
kernel "6.1" {
  url {
    url    = "ftp://example.org/vmlinuz"
    sha256 = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
  }
}
