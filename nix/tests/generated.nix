# Every cell of the committed nix/generated/ files, and of the fixture (what `orca gen` writes for the
# project's configs: cells on 5.10, 6.1, 6.12 and 7.2), mapped against a stand-in of the pin.
{ lib }:
let
  orcaLib = import ../lib { inherit lib; };
  pkgs = import ./stub-pkgs.nix;
  rev = "8fd9daa";
  load = dir: {
    kernels = builtins.fromJSON (builtins.readFile (dir + "/kernels.json"));
    matrix = builtins.fromJSON (builtins.readFile (dir + "/matrix.json"));
    toolchain = builtins.fromJSON (builtins.readFile (dir + "/toolchain.json"));
    programs = builtins.fromJSON (builtins.readFile (dir + "/programs.json"));
  };
  partition = d: orcaLib.partitionCells {
    inherit (d) matrix;
    resolveKernel = orcaLib.kernelFor { inherit (d) kernels; inherit pkgs rev; };
  };
  # What each cell should become, computed independently of partitionCells.
  expectedFor = d: cell:
    let attr = (d.kernels.${cell.kernel} or { nixpkgs = null; }).nixpkgs; in
    if attr != null && builtins.hasAttr attr pkgs && (builtins.tryEval pkgs.${attr}).success
      && pkgs.${attr}.kernel.config.isYes "DEBUG_INFO_BTF"
    then { available = attr; } else { unavailable = cell.check; };
  actualFor = p: cell:
    if builtins.hasAttr cell.check p.available then { available = p.available.${cell.check}.attr; }
    else if builtins.hasAttr cell.check p.unavailable then { unavailable = cell.check; }
    else { lost = cell.check; };
  everyCell = d: let p = partition d; in {
    expr = map (actualFor p) d.matrix.cells;
    expected = map (expectedFor d) d.matrix.cells;
  };
  checksAreUnique = d: {
    expr = builtins.length (lib.unique (map (c: c.check) d.matrix.cells));
    expected = builtins.length d.matrix.cells;
  };
  committed = load ../generated;
  fixture = load ./fixtures;
  fixtureParts = partition fixture;
  specsOf = p: lib.mapAttrs (_: c: c.spec.expectations) p.available;
in
{
  committedCellsMapAsTheCatalogSays = everyCell committed;
  committedCheckNamesAreUnique = checksAreUnique committed;
  committedProgramsHaveObjects = { expr = builtins.all (p: lib.hasSuffix ".o" p.object) committed.programs; expected = true; };
  fixtureCellsMapAsTheCatalogSays = everyCell fixture;
  fixtureCheckNamesAreUnique = checksAreUnique fixture;
  fixtureBootsThreeKernels = {
    expr = lib.mapAttrs (_: c: c.attr) fixtureParts.available;
    expected = { "matrix-kernel-5_10-0" = "linuxPackages_5_10"; "matrix-kernel-6_1-0" = "linuxPackages_6_1"; "matrix-kernel-6_12-0" = "linuxPackages_6_12"; };
  };
  fixtureLists72AsUnavailable = {
    expr = fixtureParts.unavailable;
    expected = { "matrix-kernel-7_2-0" = "cell kernel-7.2/0: kernel 7.2 has no nixpkgs attribute in configs/kernels.hcl"; };
  };
  fixtureExpectsCgroupEventsToFailBefore517 = {
    expr = lib.mapAttrs (_: es: map (e: e.test) es) (specsOf fixtureParts);
    expected = { "matrix-kernel-5_10-0" = [ "cgroup_events/*" ]; "matrix-kernel-6_1-0" = [ ]; "matrix-kernel-6_12-0" = [ ]; };
  };
  fixtureToolchainDropsHostIncludes = { expr = fixture.toolchain.include_dirs; expected = [ "ebpf/include" ]; };
}
