# expect: 3:9: not a valid program name
schema_version = "1.0"
program "a b" {
  source = "a.c"
}
