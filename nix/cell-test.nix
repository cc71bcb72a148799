# One matrix cell as a NixOS test: boot the cell's kernel, run the test block's script in a writable
# copy of the project in the guest, collect the JUnit files its `results` name, and write junit.xml
# and verdict into $out with nix/cell_report.py. The test itself succeeds whenever the guest ran, so
# that its report is kept and cached; `check` below fails when the cell failed.
#
# project: the project's files as the cell sees them (nix/project.nix puts the flake's objects and
# the guest files in place); guestPackages: what the script finds on PATH besides NixOS' own.
{ pkgs, orcaLib, project, guestPackages, cell }:
let
  spec = cell.spec;
  specFile = pkgs.writeText "orca-${spec.check}.json" (builtins.toJSON spec);
  results = pkgs.testers.runNixOSTest {
    name = "orca-${spec.check}";
    # The boot, the script and the report each have their own allowance (lib/matrix.nix); the
    # script's timeout alone would let a slow boot kill a passing cell before it reports.
    globalTimeout = orcaLib.globalTimeoutFor spec;
    nodes.machine = {
      boot.kernelPackages = cell.kernelPackages;
      # The matrix VM spec's `modules` (orca's own guests load them from its initramfs).
      boot.kernelModules = spec.modules;
      environment.systemPackages = guestPackages;
      environment.etc."orca/project".source = project;
      virtualisation.memorySize = spec.memory_mib;
      virtualisation.cores = spec.cpus;
    };
    testScript = ''
      ${builtins.readFile ./cell_report.py}

      with open("${specFile}") as spec_file:
          spec = json.load(spec_file)
      machine.start()
      machine.wait_for_unit("multi-user.target", timeout=spec["boot_timeout_secs"])
      run_cell(machine, spec, os.environ.get("out", "."))
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
