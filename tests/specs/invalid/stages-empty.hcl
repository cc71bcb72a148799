# expect: 5:12: `stages` is empty
schema_version = "1.0"
pipeline {
  name = "p"
  stages = []
}
