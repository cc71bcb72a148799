# expect: 7:40: unknown key `depends_on`
schema_version = "1.0"
pipeline {
  name = "p"
  stages = [
    { name = "a", commands = ["true"] },
    { name = "b", commands = ["true"], depends_on = ["a"] },
  ]
}
