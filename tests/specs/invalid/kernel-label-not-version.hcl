# expect: 3:8: not a kernel version
schema_version = "1.0"
kernel "latest" {}
