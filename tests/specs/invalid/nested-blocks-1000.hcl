# expect: 67:4: nesting is deeper than 64 levels
schema_version = "1.0"
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
vm {
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
