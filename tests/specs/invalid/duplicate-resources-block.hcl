# expect: 6:3: given twice
schema_version = "1.0"
vm {
  name = "t"
  resources { cpu = 2 }
  resources { cpu = 4 }
}
