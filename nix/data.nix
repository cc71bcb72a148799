# nix/generated/*.json, read at evaluation time (no import-from-derivation). `orca gen` writes them
# from configs/*.hcl; `orca gen --check` (the gen-in-sync check) keeps them in sync.
{ root }:
let
  read = name: builtins.fromJSON (builtins.readFile (root + "/nix/generated/${name}.json"));
in
{
  toolchain = read "toolchain";
  programs = read "programs";
  kernels = read "kernels";
  matrix = read "matrix";
  images = read "images";
}
