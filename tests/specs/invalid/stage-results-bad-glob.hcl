# expect: 6:50: is not a valid glob
schema_version = "1.0"
pipeline {
  name = "p"
  stages = [
    { name = "t", commands = ["true"], results = ["a/[x.xml"] },
  ]
}
