{
  description = "orca: reproducible eBPF builds, proven on every kernel you ship to";

  # Locked in flake.lock to one nixos-25.11 revision (nix/README.md names it).
  inputs.nixpkgs.url = "github:NixOS/nixpkgs/nixos-25.11";

  # The logic lives in nix/ (see nix/README.md). `lib.<system>` is orca as a library for other
  # flakes (mkProject, mkEbpf, mkChecks, mkDevShell); this repository's own outputs come from the
  # same functions (nix/default.nix).
  outputs = { self, nixpkgs }:
    let
      lib = nixpkgs.lib;
      linux = [ "x86_64-linux" "aarch64-linux" ];
      systems = linux ++ [ "aarch64-darwin" "x86_64-darwin" ];
      per = lib.genAttrs systems (system: import ./nix {
        inherit nixpkgs system;
        root = ./.;
        orcaLib = self.lib.${system};
      });
      pick = name: lib.mapAttrs (_: s: s.${name}) per;
    in
    {
      lib = lib.genAttrs systems (system: import ./nix/flake-lib.nix { inherit nixpkgs system; orcaRoot = ./.; });

      # `nix flake init -t <orca>`: the starter `orca init` writes (the same files: orca embeds
      # this directory).
      templates.default = {
        path = ./src/init/starter;
        description = "An eBPF project built and tested on every kernel with orca";
      };

      packages = pick "packages";
      checks = pick "checks";
      devShells = pick "devShells";
      formatter = pick "formatter";
      apps = pick "apps";
      legacyPackages = pick "legacyPackages";
    };
}
