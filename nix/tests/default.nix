# orca's Nix unit tests: nix/lib evaluated without nixpkgs.
#   nix-instantiate --eval --strict -E 'import ./nix/tests { }'
# prints how many passed, or fails listing every failed test with what it got.
{ lib ? import ./stub-lib.nix }:
let
  suites = [
    (import ./matrix.nix { inherit lib; })
    (import ./resolve.nix { inherit lib; })
    (import ./clang.nix { inherit lib; })
    (import ./generated.nix { inherit lib; })
    (import ./images.nix { inherit lib; })
  ];
  tests = builtins.foldl' (a: b: a // b) { } suites;
  failed = builtins.filter (name: tests.${name}.expr != tests.${name}.expected) (builtins.attrNames tests);
  show = name: "FAIL ${name}: expected ${builtins.toJSON tests.${name}.expected}, got ${builtins.toJSON tests.${name}.expr}";
in
if failed == [ ] then
  "${toString (builtins.length (builtins.attrNames tests))} Nix unit tests passed"
else
  throw ("\n" + builtins.concatStringsSep "\n" (map show failed))
