# expect: 3:1: missing `source`
schema_version = "1.0"
program "x" {
  cflags = ["-O2"]
}
