# Matrix cells: from nix/generated/matrix.json to what each NixOS test needs.
{ lib }:
rec {
  # "6.1" -> "6_1": kernel versions in attribute names that need no quoting (`vmlinux-h-6_1`).
  versionAttr = version: builtins.replaceStrings [ "." ] [ "_" ] version;

  # The expectations that apply on `kernel`: those whose min_kernel is newer. A test they match is
  # expected to fail there (nix/cell_report.py matches the globs). min_kernel itself is supported.
  expectationsFor = kernel: expectations:
    builtins.filter (e: builtins.compareVersions kernel e.min_kernel < 0) expectations;

  # Whether a cell's command is the behaviour suite. Such cells run
  # `orca suite --json` against the flake's own objects; others run as a shell command in a
  # read-only copy of the project.
  isSuite = command: lib.hasPrefix "orca suite" command;

  # Where the guest finds things (nix/cell-test.nix puts them there with environment.etc).
  guestObjects = "/etc/orca/objects";
  guestProject = "/etc/orca/project";

  # The guest command for a cell. CI=true, as the native backend sets it in its cells: the suite
  # then fails a test whose prerequisite is missing instead of skipping it, so a cell cannot pass
  # without running every test on its kernel.
  runFor = cell:
    if isSuite cell.command then
      "CI=true orca suite --json --objects ${guestObjects}"
    else
      "cd ${guestProject} && CI=true ${cell.command}";

  # How long the guest may take to boot (to multi-user.target), on top of the cell's own timeout,
  # which is the command's alone as in the native backend; and what writing the report and
  # stopping the VM may take. A NixOS test's globalTimeout kills it whatever it is doing, so it
  # must cover all three: equal to the command's timeout, a slow boot would kill a passing cell
  # before it reports.
  bootTimeoutSecs = 600;
  reportTimeoutSecs = 120;
  globalTimeoutFor = spec: spec.boot_timeout_secs + spec.timeout_secs + reportTimeoutSecs;

  # What nix/cell_report.py reads for one cell.
  cellSpec = matrix: cell: {
    inherit (cell) id check kernel command timeout_secs;
    boot_timeout_secs = bootTimeoutSecs;
    kind = if isSuite cell.command then "suite" else "command";
    run = runFor cell;
    expectations = expectationsFor cell.kernel matrix.expectations;
  };

  # Splits the cells into those the pinned nixpkgs can boot and those it cannot.
  # resolveKernel: version -> { available = true; kernelPackages; attr; } or
  # { available = false; reason; } (see resolve.nix). Returns
  # { available = { <check> = { spec; kernelPackages; }; }; unavailable = { <check> = reason; }; }.
  partitionCells = { matrix, resolveKernel }:
    let
      resolved = map (cell: { inherit cell; kernel = resolveKernel cell.kernel; }) matrix.cells;
      ok = builtins.filter (r: r.kernel.available) resolved;
      missing = builtins.filter (r: !r.kernel.available) resolved;
    in
    {
      available = builtins.listToAttrs (map (r: {
        name = r.cell.check;
        value = { spec = cellSpec matrix r.cell; inherit (r.kernel) kernelPackages attr; };
      }) ok);
      unavailable = builtins.listToAttrs (map (r: {
        name = r.cell.check;
        value = "cell ${r.cell.id}: ${r.kernel.reason}";
      }) missing);
    };
}
