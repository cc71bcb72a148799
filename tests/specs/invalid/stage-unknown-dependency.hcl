# expect: 7:59: unknown stage "biuld"
schema_version = "1.0"
pipeline {
  name = "p"
  stages = [
    { name = "build", commands = ["true"] },
    { name = "test", commands = ["true"], dependencies = ["biuld"] },
  ]
}
