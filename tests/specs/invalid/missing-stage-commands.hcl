# expect: 6:5: missing `commands`
schema_version = "1.0"
pipeline {
  name = "p"
  stages = [
    { name = "a" },
  ]
}
