# Empty lists are the same as leaving the keys out.
schema_version = "1.0"

vm {
  name      = "empty"
  mounts    = []
  provision = []
  artifacts = []
  modules   = []
}

pipeline {
  name = "one"
  stages = [
    { name = "only", commands = ["true"], dependencies = [], inputs = [], artifacts = [] },
  ]
}
