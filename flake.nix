{
  description = "orca: reproducible eBPF builds, proven on every kernel you ship to";

  # Locked in flake.lock to one nixos-25.11 revision (nix/README.md names it).
  inputs.nixpkgs.url = "github:NixOS/nixpkgs/nixos-25.11";

  # The logic lives in nix/ (see nix/README.md); this file only maps it over the systems.
  outputs = { self, nixpkgs }:
    let
      lib = nixpkgs.lib;
      linux = [ "x86_64-linux" "aarch64-linux" ];
      systems = linux ++ [ "aarch64-darwin" "x86_64-darwin" ];
      per = lib.genAttrs systems (system: import ./nix { inherit nixpkgs system; root = ./.; });
      pick = name: lib.mapAttrs (_: s: s.${name}) per;
    in
    {
      packages = pick "packages";
      checks = pick "checks";
      devShells = lib.mapAttrs (_: s: { default = s.devShell; }) per;
      formatter = pick "formatter";
      apps = lib.mapAttrs (_: s: { default = s.app; }) per;
      legacyPackages = pick "legacyPackages";
    };
}
