# expect: 7:15: 64 hex digits
schema_version = "1.0"
kernel "6.1" {
  debian {
    package = "linux-image"
    suite   = "bookworm"
    sha256  = "abc123"
  }
}
