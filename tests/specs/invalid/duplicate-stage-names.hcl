# expect: 7:14: two stages are named
schema_version = "1.0"
pipeline {
  name = "p"
  stages = [
    { name = "a", commands = ["true"] },
    { name = "a", commands = ["false"] },
  ]
}
