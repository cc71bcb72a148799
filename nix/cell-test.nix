# One matrix cell as a NixOS test: boot the cell's kernel, run the behaviour suite (or the cell's
# command) in the guest, and write junit.xml, verdict and suite.json into $out with
# nix/cell_report.py. The test itself succeeds whenever the guest ran, so that its report is kept
# and cached; `check` below fails when a test failed against the expectations.
{ pkgs, orcaLib, orca, ebpf, src, cell }:
let
  spec = cell.spec;
  specFile = pkgs.writeText "orca-${spec.check}.json" (builtins.toJSON spec);
  results = pkgs.testers.runNixOSTest {
    name = "orca-${spec.check}";
    # The boot, the command and the report each have their own allowance (lib/matrix.nix); the
    # command's timeout alone would let a slow boot kill a passing cell before it reports.
    globalTimeout = orcaLib.globalTimeoutFor spec;
    nodes.machine = {
      boot.kernelPackages = cell.kernelPackages;
      environment.systemPackages = [ orca pkgs.iproute2 pkgs.bpftools ];
      environment.etc."orca/objects".source = ebpf;
      environment.etc."orca/project".source = src;
      virtualisation.memorySize = 1024;
      virtualisation.cores = 2;
    };
    testScript = ''
      ${builtins.readFile ./cell_report.py}

      with open("${specFile}") as spec_file:
          spec = json.load(spec_file)
      machine.start()
      machine.wait_for_unit("multi-user.target", timeout=spec["boot_timeout_secs"])
      status, output = machine.execute(spec["run"], timeout=spec["timeout_secs"])
      write_cell_report(spec, status, output, os.environ.get("out", "."))
    '';
  };
in
pkgs.runCommand "orca-${spec.check}" { passthru = { inherit results spec; }; } ''
  mkdir -p $out
  cp ${results}/junit.xml $out/junit.xml
  if [ "$(head -n 1 ${results}/verdict)" != pass ]; then
    echo "orca: cell ${spec.id} (kernel ${spec.kernel}) failed:" >&2
    tail -n +2 ${results}/verdict >&2
    exit 1
  fi
''
