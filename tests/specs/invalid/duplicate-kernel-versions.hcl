# expect: 4:8: declared twice
schema_version = "1.0"
kernel "6.1" {}
kernel "6.1" {}
