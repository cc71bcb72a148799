# expect: 5:48: leaves the project
schema_version = "1.0"
vm {
  name = "t"
  artifacts = [{ source = "/out" destination = "../elsewhere" }]
}
