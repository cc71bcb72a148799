# expect: 6:56: a -> b -> c -> a
schema_version = "1.0"
pipeline {
  name = "p"
  stages = [
    { name = "a", commands = ["true"], dependencies = ["b"] },
    { name = "b", commands = ["true"], dependencies = ["c"] },
    { name = "c", commands = ["true"], dependencies = ["a"] },
  ]
}
