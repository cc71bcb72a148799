# expect: 6:49: runs on the host
schema_version = "1.0"
pipeline {
  name = "p"
  stages = [
    { name = "a", commands = ["true"], kernel = "6.1" },
  ]
}
