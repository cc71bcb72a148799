# No schema_version: read as the current version, with one warning naming the file.
vm {
  name = "t"
}
