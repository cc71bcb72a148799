# Variables: interpolated into strings, used bare for any value, and `$${` for a literal `${`.
schema_version = "1.0"

variable "name" {
  default     = "vars"
  description = "The VM's name"
}
variable "memory" { default = "768MB" }
variable "cpus" { default = 3 }
variable "modules" { default = ["veth", "bridge"] }
variable "fast" { default = true }

vm {
  name = "${var.name}-vm"
  resources {
    cpu    = var.cpus
    memory = var.memory
  }
  modules   = var.modules
  network   = var.fast
  provision = ["echo ${var.name} has ${var.cpus} cpus", "echo literal $${HOME} and 100%%{x}"]
}
