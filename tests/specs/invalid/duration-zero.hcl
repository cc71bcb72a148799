# expect: 6:50: zero
schema_version = "1.0"
pipeline {
  name = "p"
  stages = [
    { name = "a", commands = ["true"], timeout = "0s" },
  ]
}
