# expect: 4:10: declared twice
schema_version = "1.0"
variable "x" { default = "a" }
variable "x" { default = "b" }
