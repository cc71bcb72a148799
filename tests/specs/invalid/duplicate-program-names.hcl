# expect: 6:9: declared twice
schema_version = "1.0"
program "x" {
  source = "x.c"
}
program "x" {
  source = "y.c"
}
