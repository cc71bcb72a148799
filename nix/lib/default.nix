# orca's pure Nix logic: functions of nix/generated/*.json and their arguments, no nixpkgs.
# `lib` is nixpkgs' lib in the flake and a stand-in of builtins in nix/tests, so every function
# here uses only the few lib functions the stand-in has (nix/tests/stub-lib.nix).
{ lib }:
(import ./matrix.nix { inherit lib; }) // (import ./resolve.nix { inherit lib; }) // (import ./clang.nix { inherit lib; })
  // (import ./images.nix { inherit lib; })
