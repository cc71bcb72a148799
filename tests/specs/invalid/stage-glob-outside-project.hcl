# expect: 6:53: inside the project
schema_version = "1.0"
pipeline {
  name = "p"
  stages = [
    { name = "a", commands = ["true"], artifacts = ["/tmp/*.o"] },
  ]
}
