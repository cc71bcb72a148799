# A stand-in for the pinned nixpkgs, for evaluating orca's whole flake without nixpkgs:
#   nix flake check --no-build --override-input nixpkgs path:tests/nix/stand-in
# (tests/nix_flake.rs runs it). Every package is a real `derivation { … }` that is never built
# (builder /bin/sh, exits 1), so store paths carry string context exactly as nixpkgs' do. See
# README.md here for what evaluating against it proves and what it does not.
{
  description = "stand-in for nixpkgs (orca's flake evaluation tests; builds nothing)";
  outputs = { self }:
    let
      lib = import ./lib.nix;
      systems = [ "x86_64-linux" "aarch64-linux" "aarch64-darwin" "x86_64-darwin" ];
    in
    {
      inherit lib;
      legacyPackages = lib.genAttrs systems (system: import ./pkgs.nix { inherit lib system; });
    };
}
