# A stand-in for the pinned nixpkgs (nixos-25.11), with only the attributes nix/lib looks up and
# the same availability as the pin (see nix/README.md): kernels 5.10 to 6.18, LLVM 18 to 21, and
# removed versions kept as throwing aliases, as nixpkgs' aliases.nix keeps them.
let
  kernel = version: btf: {
    kernel = {
      inherit version;
      dev = "/nix/store/00000000000000000000000000000000-linux-${version}-dev";
      config.isYes = option: btf && option == "DEBUG_INFO_BTF";
    };
  };
  llvm = major: { clang-unwrapped = "clang-unwrapped-${toString major}"; llvm = "llvm-${toString major}"; };
in
{
  linuxPackages_5_10 = kernel "5.10.247" true;
  linuxPackages_5_15 = kernel "5.15.197" true;
  linuxPackages_6_1 = kernel "6.1.159" true;
  linuxPackages_6_6 = kernel "6.6.119" true;
  linuxPackages_6_12 = kernel "6.12.64" true;
  linuxPackages_6_18 = kernel "6.18.5" true;
  linuxPackages_5_4 = throw "linux 5.4 was removed because it will reach its end of life within 25.11";
  linuxPackages_6_16 = throw "linux 6.16 was removed because it has reached its end of life upstream";
  llvmPackages_14 = throw "llvmPackages_14 has been removed, as it is unmaintained and obsolete";
  llvmPackages_17 = throw "llvmPackages_17 has been removed, as it is unmaintained and obsolete";
  llvmPackages_18 = llvm 18;
  llvmPackages_19 = llvm 19;
  llvmPackages_20 = llvm 20;
  llvmPackages_21 = llvm 21;
  # A kernel built without BTF (the resolve tests' "7.1").
  linuxPackages_7_1 = kernel "7.1.0" false;
  hello = "not a package set";
}
