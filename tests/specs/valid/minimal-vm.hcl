# The smallest VM spec: every other field takes its default.
schema_version = "1.0"

vm {
  name = "minimal"
}
