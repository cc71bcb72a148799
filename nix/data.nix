# A project's nix/generated/*.json, read at evaluation time (no import-from-derivation). `orca gen`
# writes them from its configs/*.hcl; `orca gen --check` (the gen-in-sync check) keeps them in sync.
# `dir` is the project's nix/generated; a missing file stops the evaluation with what to run.
{ dir }:
let
  read = name:
    let file = dir + "/${name}.json"; in
    if builtins.pathExists file then builtins.fromJSON (builtins.readFile file)
    else throw "orca: ${toString file} is missing: run `orca gen` in the project and commit nix/generated/ (a flake sees only files git tracks)";
in
{
  toolchain = read "toolchain";
  programs = read "programs";
  kernels = read "kernels";
  matrix = read "matrix";
  images = read "images";
}
