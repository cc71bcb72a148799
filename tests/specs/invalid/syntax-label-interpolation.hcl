# expect: 3:9: label cannot contain
schema_version = "1.0"
program "${var.x}" {
  source = "a.c"
}
