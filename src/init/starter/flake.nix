# A development shell with orca and the pinned clang, from orca's own flake.
#
# Edit `inputs.orca.url` first: point it at your copy of orca, e.g. "path:/home/me/src/orca" or
# the git URL you fetch orca from. `nix develop` then gives a shell with orca, clang 19, make and
# iproute2; `nix flake lock --update-input orca` moves to a newer orca.
{
  description = "An eBPF project, built and tested on every kernel with orca";

  inputs = {
    orca.url = "path:/path/to/orca"; # EDIT ME: where orca's flake lives
    nixpkgs.follows = "orca/nixpkgs";
  };

  outputs =
    { nixpkgs, orca, ... }:
    let
      systems = [ "x86_64-linux" "aarch64-linux" ];
      forAll = f: nixpkgs.lib.genAttrs systems (system: f system nixpkgs.legacyPackages.${system});
    in
    {
      devShells = forAll (
        system: pkgs: {
          default = pkgs.mkShell {
            packages = [
              orca.packages.${system}.orca
              pkgs.llvmPackages_19.clang-unwrapped
              pkgs.gnumake
              pkgs.iproute2
            ];
          };
        }
      );
    };
}
