# The VM the firewall's behaviour suite runs in: `firewall-suite` (the firewall crate's binary,
# `cargo build --release -p firewall`) loads the objects from build/ebpf, attaches them to veth
# pairs and checks what they let through.
#
#   orca run configs/ebpf-test.hcl --kernel 5.10 -- target/release/firewall-suite --objects build/ebpf
schema_version = "1.0"

vm {
  name  = "ebpf-test"
  image = "host"

  resources {
    cpu    = 2
    memory = "1GB"
  }

  # No NIC: the suite makes its own veth pairs, and a guest without one boots faster.
  network = false

  # The suite writes its JUnit into the project (build/test-results/), which the matrix collects:
  # the guest's view of the host root is read-only, so the project is shared writable here.
  mounts = [
    { source = "..", destination = "/firewall", readonly = false },
  ]

  # veth for the test links; sch_ingress (clsact) and cls_bpf to attach tc_egress_policy on
  # kernels that attach tc programs through a qdisc.
  modules = ["veth", "sch_ingress", "cls_bpf"]
}
