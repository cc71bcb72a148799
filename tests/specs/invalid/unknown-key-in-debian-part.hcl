# expect: 7:5: unknown key `sha265`
schema_version = "1.0"
kernel "6.1" {
  debian {
    package = "linux-image"
    suite   = "bookworm"
    sha265  = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
  }
}
