# expect: 5:17: template directives
schema_version = "1.0"
vm {
  name = "t"
  provision = ["%{ if true }x%{ endif }"]
}
