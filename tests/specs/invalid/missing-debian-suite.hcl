# expect: 4:3: missing `suite`
schema_version = "1.0"
kernel "6.1" {
  debian {
    package = "linux-image"
    sha256  = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
  }
}
