# expect: 8:10: declared twice
schema_version = "1.0"
pipeline {
  name = "p"
  stages = [{ name = "a", commands = ["true"] }]
}
pipeline {
  name = "p"
  stages = [{ name = "a", commands = ["true"] }]
}
