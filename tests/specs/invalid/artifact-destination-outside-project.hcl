# expect: 5:49: leaves the project
schema_version = "1.0"
vm {
  name = "t"
  artifacts = [{ source = "/out", destination = "../elsewhere" }]
}
