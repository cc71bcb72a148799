# expect: 6:56: a -> a
schema_version = "1.0"
pipeline {
  name = "p"
  stages = [
    { name = "a", commands = ["true"], dependencies = ["a"] },
  ]
}
