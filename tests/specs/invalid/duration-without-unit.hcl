# expect: 6:50: no unit
schema_version = "1.0"
pipeline {
  name = "p"
  stages = [
    { name = "a", commands = ["true"], timeout = "600" },
  ]
}
