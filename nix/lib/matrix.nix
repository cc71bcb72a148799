# Matrix cells: from nix/generated/matrix.json to what each NixOS test needs.
{ lib }:
rec {
  # "6.1" -> "6_1": kernel versions in attribute names that need no quoting (`vmlinux-h-6_1`).
  versionAttr = version: builtins.replaceStrings [ "." ] [ "_" ] version;

  # The expectations that apply on `kernel`: those whose min_kernel is newer. A test they match is
  # expected to fail there (nix/cell_report.py matches the globs). min_kernel itself is supported.
  expectationsFor = kernel: expectations:
    builtins.filter (e: builtins.compareVersions kernel e.min_kernel < 0) expectations;

  # Where the guest finds the project (nix/cell-test.nix puts it there with environment.etc): the
  # project's files with the flake's objects in the toolchain's out_dir and the guest files in place.
  # It is read-only; nix/cell_report.py copies it to the cell's project_dir before the script.
  guestProject = "/etc/orca/project";

  # The guest as the matrix's VM spec describes it (matrix.json `vm`, null without `vm = ...`): its
  # CPUs, memory (at least 1024 MiB: a NixOS guest needs more than orca's host-root guests), the
  # kernel modules it loads, where the project is (the destination of its share of the project
  # root, natively writable there) and where the script starts (its workdir).
  guestFor = matrix:
    let
      vm = if matrix ? vm && matrix.vm != null then matrix.vm else { };
      get = name: default: if vm ? ${name} && vm.${name} != null then vm.${name} else default;
      projectDir = get "project_dir" "/project";
      memory = get "memory_mib" 1024;
    in
    {
      cpus = get "cpus" 2;
      memory_mib = if memory < 1024 then 1024 else memory;
      modules = get "modules" [ ];
      project_dir = projectDir;
      workdir = get "workdir" projectDir;
    };

  # How long the guest may take to boot (to multi-user.target), on top of the cell's own timeout,
  # which is the script's alone as in the native backend; and what copying the project, collecting
  # the result files, writing the report and stopping the VM may take. A NixOS test's globalTimeout kills it whatever it is doing, so it
  # must cover all three: equal to the command's timeout, a slow boot would kill a passing cell
  # before it reports.
  bootTimeoutSecs = 600;
  reportTimeoutSecs = 300;
  globalTimeoutFor = spec: spec.boot_timeout_secs + spec.timeout_secs + reportTimeoutSecs;

  # What nix/cell_report.py reads for one cell: the script's lines (one shell, stopping at the
  # first line that fails), the JUnit globs to collect where it ran, and where it runs.
  cellSpec = matrix: cell: (guestFor matrix) // {
    inherit (cell) id check kernel command timeout_secs;
    commands = if matrix ? commands then matrix.commands else [ cell.command ];
    results = if matrix ? results then matrix.results else [ ];
    source = guestProject;
    boot_timeout_secs = bootTimeoutSecs;
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
