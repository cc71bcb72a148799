{ lib }:
let
  m = import ../lib/matrix.nix { inherit lib; };
  exp = test: min: { inherit test; min_kernel = min; reason = "uses bpf_loop"; };
  expectations = [ (exp "cgroup_events/*" "5.17") (exp "tc_*" "6.6") ];
  cell = kernel: command: { id = "k${kernel}/0"; check = "matrix-k${m.versionAttr kernel}-0"; inherit kernel command; timeout_secs = 600; };
  matrix = {
    inherit expectations;
    commands = [ "make build" "make test" ];
    results = [ "build/test-results/*.xml" ];
    vm = { cpus = 1; memory_mib = 512; modules = [ "veth" ]; project_dir = "/firewall"; workdir = null; };
    cells = [ (cell "5.10" "make build\nmake test") (cell "6.12" "make build\nmake test") ];
  };
  resolveKernel = v: if v == "5.10" then { available = true; attr = "linuxPackages_5_10"; kernelPackages = "kp"; }
    else { available = false; reason = "no attribute"; };
in
{
  versionAttrDotsBecomeUnderscores = { expr = m.versionAttr "6.12"; expected = "6_12"; };
  expectationsApplyBelowMinKernel = { expr = map (e: e.test) (m.expectationsFor "5.10" expectations); expected = [ "cgroup_events/*" "tc_*" ]; };
  expectationsStopAtMinKernel = { expr = m.expectationsFor "5.17" [ (exp "x" "5.17") ]; expected = [ ]; };
  expectationsCompareNumerically = { expr = map (e: e.test) (m.expectationsFor "6.1" expectations); expected = [ "tc_*" ]; };
  expectationsNoneOnNewKernels = { expr = m.expectationsFor "6.12" expectations; expected = [ ]; };
  cellSpecCarriesWhatTheGuestNeeds = {
    expr = m.cellSpec matrix (builtins.head matrix.cells);
    expected = {
      id = "k5.10/0"; check = "matrix-k5_10-0"; kernel = "5.10"; command = "make build\nmake test"; timeout_secs = 600; boot_timeout_secs = 600;
      commands = [ "make build" "make test" ]; results = [ "build/test-results/*.xml" ]; expectations = expectations;
      source = "/etc/orca/project"; project_dir = "/firewall"; workdir = "/firewall";
      cpus = 1; memory_mib = 1024; modules = [ "veth" ];
    };
  };
  guestDefaultsWithoutAVmSpec = {
    expr = m.guestFor { vm = null; };
    expected = { cpus = 2; memory_mib = 1024; modules = [ ]; project_dir = "/project"; workdir = "/project"; };
  };
  guestKeepsAnExplicitWorkdirAndMemory = {
    expr = m.guestFor { vm = { cpus = 4; memory_mib = 4096; modules = [ ]; project_dir = null; workdir = "/src"; }; };
    expected = { cpus = 4; memory_mib = 4096; modules = [ ]; project_dir = "/project"; workdir = "/src"; };
  };
  aMatrixWithoutCommandsRunsTheCellsCommand = {
    expr = let spec = m.cellSpec { expectations = [ ]; } (cell "6.1" "uname -r"); in { inherit (spec) commands results; };
    expected = { commands = [ "uname -r" ]; results = [ ]; };
  };
  globalTimeoutCoversBootCommandAndReport = {
    expr = let spec = m.cellSpec matrix (builtins.head matrix.cells); in m.globalTimeoutFor spec - spec.timeout_secs;
    expected = m.bootTimeoutSecs + m.reportTimeoutSecs;
  };
  partitionSplitsBootableFromUnavailable = {
    expr = let p = m.partitionCells { inherit matrix resolveKernel; }; in {
      available = builtins.attrNames p.available;
      attr = p.available."matrix-k5_10-0".attr;
      unavailable = p.unavailable;
    };
    expected = { available = [ "matrix-k5_10-0" ]; attr = "linuxPackages_5_10"; unavailable = { "matrix-k6_12-0" = "cell k6.12/0: no attribute"; }; };
  };
}
