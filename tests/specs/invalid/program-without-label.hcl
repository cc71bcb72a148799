# expect: 3:1: takes one label
schema_version = "1.0"
program {
  source = "a.c"
}
