# orca's images on the Nix backend: each image of nix/generated/images.json maps to one of nixpkgs'
# own Debian/Ubuntu image builders (`vmTools.diskImageFuns.<distro> { extraPackages; size; }`,
# i.e. `makeImageFromDebDist` over `vmTools.debDistros.<distro>`), with the image's packages plus
# those of the `apt-get install` lines of the matrix VM's `provision`; the other provision lines
# run in the VM before the cell's command. No nixpkgs here: `vmTools` is an argument, so
# nix/tests/images.nix runs all of it with a stand-in. nix/README.md says where each name was read.
{ lib }:
rec {
  # archive -> suite -> the stem of nixpkgs' distro attribute; the attribute is the stem and the
  # architecture (`debian12` + `x86_64`). Naming an attribute is not having it: `vmTools` at the pin
  # decides (`imageFor`), as `kernelFor` does for kernels. nixos-25.11 has no `ubuntu2004*` (older
  # nixpkgs had `ubuntu2004x86_64`), so focal's cells are unavailable there, with that reason.
  distroStems = {
    debian = { bullseye = "debian11"; bookworm = "debian12"; trixie = "debian13"; };
    ubuntu = { focal = "ubuntu2004"; jammy = "ubuntu2204"; noble = "ubuntu2404"; };
  };

  # Nix system -> the architecture suffix of vmTools' distro attributes. nixpkgs builds Debian and
  # Ubuntu images for these two only (its debDistros have no aarch64 entries).
  archSuffix = { "x86_64-linux" = "x86_64"; "i686-linux" = "i386"; };

  # nixpkgs' default disk size for diskImageFuns (MiB); a VM's larger `disk` raises it.
  defaultSizeMib = 4096;

  trim = s:
    let m = builtins.match "[ \t]*(.*[^ \t])[ \t]*" s; in
    if m == null then "" else builtins.head m;

  words = s: builtins.filter (w: builtins.isString w && w != "") (builtins.split "[ \t]+" s);

  # A word without the quotes around all of it ('clang' or "clang").
  unquote = w:
    let m = builtins.match "'([^']*)'|\"([^\"]*)\"" w; in
    if m == null then w
    else if builtins.elemAt m 0 != null then builtins.elemAt m 0
    else builtins.elemAt m 1;

  # One provision line as its commands and the separator before each:
  # "a && b; c" -> [ { cmd = "a"; sep = null; } { cmd = "b"; sep = "&&"; } { cmd = "c"; sep = ";"; } ].
  commands = line:
    let
      parts = builtins.split "[ \t]*(&&|;)[ \t]*" line;
      n = (builtins.length parts + 1) / 2;
    in
    builtins.genList (i: {
      cmd = trim (builtins.elemAt parts (2 * i));
      sep = if i == 0 then null else builtins.head (builtins.elemAt parts (2 * i - 1));
    }) n;

  # The words of a command without what runs it as another user or with other variables
  # (`sudo`, `sudo -E`, `env`, `DEBIAN_FRONTEND=noninteractive`): the VM runs provision as root.
  commandWords = cmd:
    let
      strip = ws:
        if ws == [ ] then ws
        else
          let w = builtins.head ws; rest = builtins.tail ws; in
          if w == "sudo" || w == "env" then stripFlags rest
          else if builtins.match "[A-Za-z_][A-Za-z0-9_]*=.*" w != null then strip rest
          else ws;
      stripFlags = ws:
        if ws != [ ] && lib.hasPrefix "-" (builtins.head ws) then stripFlags (builtins.tail ws) else strip ws;
    in
    map unquote (strip (words cmd));

  # apt-get's options that take the next word as their value (apt-get(8)).
  aptValueOptions = [ "-o" "-c" "-t" "-a" "--option" "--config-file" "--target-release" "--default-release" "--host-architecture" ];
  # Of those, the ones the image builder cannot follow: it installs the suite's own version for the
  # image's architecture, from nixpkgs' pinned package lists.
  aptRefusedOptions = [ "-t" "-a" "--target-release" "--default-release" "--host-architecture" ];

  # apt-get's (or apt's) arguments -> { sub; operands; refused; }: the subcommand (`install`), the
  # words after it, and the options the image builder cannot follow. Flags (-y, -q,
  # --no-install-recommends, -o KEY=VALUE …) do not change which packages are named.
  aptArgs = args:
    let
      n = builtins.length args;
      go = i: acc:
        if i >= n then acc
        else
          let
            a = builtins.elemAt args i;
            next = if i + 1 < n then builtins.elemAt args (i + 1) else "";
            key = builtins.head (builtins.match "([^=]*).*" a);
          in
          if builtins.elem a aptValueOptions then
            go (i + 2) (acc // { refused = acc.refused ++ (if builtins.elem a aptRefusedOptions then [ "${a} ${next}" ] else [ ]); })
          else if lib.hasPrefix "-" a then
            go (i + 1) (acc // { refused = acc.refused ++ (if builtins.elem key aptRefusedOptions then [ a ] else [ ]); })
          else if acc.sub == null then
            go (i + 1) (acc // { sub = a; })
          else
            go (i + 1) (acc // { operands = acc.operands ++ [ a ]; });
    in
    go 0 { sub = null; operands = [ ]; refused = [ ]; };

  # Debian policy's package names: lower case letters, digits, + - ., two characters at least,
  # starting with a letter or digit. A trailing `-` asks apt to remove the package.
  isPackageName = w: builtins.match "[a-z0-9][a-z0-9+.-]+" w != null && builtins.match ".*-" w == null;

  # One command -> what it becomes: { kind = "install"; packages; problems; } for `apt-get install`,
  # { kind = "drop"; } for `apt-get update` (nixpkgs' package lists are the pinned archive state it
  # would fetch, and the VM has no network), { kind = "run"; } for anything else.
  classify = cmd:
    let
      ws = commandWords cmd;
      prog = if ws == [ ] then "" else builtins.head ws;
      apt = aptArgs (builtins.tail ws);
      bad = builtins.filter (p: !(isPackageName p)) apt.operands;
    in
    if prog != "apt-get" && prog != "apt" then { kind = "run"; }
    else if apt.sub == "update" then { kind = "drop"; }
    else if apt.sub != "install" then { kind = "run"; }
    else {
      kind = "install";
      packages = apt.operands;
      problems =
        map (o: "`${prog} install ${o}` picks a release or architecture; nixpkgs' image builder installs the suite's own version") apt.refused
        ++ map (p: "`${p}` is not a plain package name (nixpkgs' image builder takes names only: no =version, /release, :arch, globs, paths, shell expansion or removal)") bad
        ++ (if apt.operands == [ ] then [ "`${prog} install` names no package" ] else [ ]);
    };

  # One provision line -> { packages; run; problems; }: the packages its apt-get install commands
  # name, the line without its apt-get install/update commands (null when nothing is left), and
  # what cannot be mapped. A line with no apt-get in it is kept exactly as written.
  provisionLine = line:
    let
      cs = map (c: c // classify c.cmd) (commands line);
      installs = builtins.filter (c: c.kind == "install") cs;
      kept = builtins.filter (c: c.kind == "run" && c.cmd != "") cs;
      rebuilt = builtins.foldl' (acc: c: if acc == "" then c.cmd else "${acc} ${c.sep} ${c.cmd}") "" kept;
      touched = builtins.any (c: c.kind != "run") cs;
    in
    {
      packages = builtins.concatLists (map (c: c.packages) installs);
      problems = builtins.concatLists (map (c: c.problems) installs);
      run = if !touched then line else if kept == [ ] then null else rebuilt;
    };

  sortUnique = xs: builtins.sort builtins.lessThan (lib.unique xs);

  # The whole provision -> { packages (sorted, each once); run (the lines left, in order);
  # problems ("provision line N (`…`): why", for every line that cannot be mapped) }.
  parseProvision = lines:
    let
      parsed = builtins.genList (i: { n = i + 1; line = builtins.elemAt lines i; } // provisionLine (builtins.elemAt lines i))
        (builtins.length lines);
    in
    {
      packages = sortUnique (builtins.concatLists (map (p: p.packages) parsed));
      run = builtins.filter (r: r != null) (map (p: p.run) parsed);
      problems = builtins.concatLists (map (p: map (why: "provision line ${toString p.n} (`${p.line}`): ${why}") p.problems) parsed);
    };

  # An image name -> how the Nix backend boots it:
  #   { available = true; host = true; name; } for the host root (the cell's NixOS test VM), or
  #   { available = true; host = false; name; attr; args; run; } where
  #     `vmTools.diskImageFuns.${attr} args` builds the image and `run` are the provision lines
  #     left to run in the VM (its memory and CPUs are the cell's, matrix.nix `guestFor`), or
  #   { available = false; name; reason; }: no nixpkgs counterpart at this pin, or a provision line
  #     that cannot become a package list. Never another image in its place.
  # images: images.json's `images`; matrixVm: its `matrix_vm` (or null); vmTools: the pin's.
  imageFor = { images, matrixVm ? null, vmTools, rev, system }: name:
    let
      image = images.${name} or null;
      unavailable = why: { available = false; inherit name; reason = "image ${name}: ${why}"; };
      stem = distroStems.${image.archive}.${image.suite} or null;
      arch = archSuffix.${system} or null;
      attr = "${stem}${arch}";
      vm = if matrixVm == null then { provision = [ ]; disk_mib = null; } else matrixVm;
      provision = parseProvision vm.provision;
      size = if vm.disk_mib != null && vm.disk_mib > defaultSizeMib then { size = vm.disk_mib; } else { };
    in
    if image == null then
      unavailable "not in the image catalog (nix/generated/images.json); run `orca gen` and commit nix/generated/"
    else if image.type == "host" then
      { available = true; host = true; inherit name; }
    else if stem == null then
      unavailable ("nixpkgs' vmTools has no image builder for ${image.archive} ${image.suite}"
        + " (orca maps Debian bullseye, bookworm, trixie and Ubuntu focal, jammy, noble to it)")
    else if arch == null then
      unavailable "nixpkgs' vmTools builds Debian and Ubuntu images for x86_64 and i386 only, not ${system}"
    else if !(builtins.hasAttr attr vmTools.diskImageFuns) then
      unavailable ("nixpkgs ${rev} has no vmTools.diskImageFuns.${attr} (${image.archive} ${image.suite});"
        + " run this cell with orca's native backend, or pin a nixpkgs whose vmTools has it")
    else if provision.problems != [ ] then
      unavailable (lib.concatStringsSep "; " provision.problems)
    else
      {
        available = true;
        host = false;
        inherit name attr;
        args = { extraPackages = sortUnique (image.packages ++ provision.packages); } // size;
        run = provision.run;
      };

  # partitionCells' result (matrix.nix) split once more by image: a cell whose image the pin
  # cannot give joins the unavailable ones with the reason; the others carry `image` (imageFor's
  # answer). resolveImage: imageFor with its first argument given.
  partitionImages = { matrix, cells, resolveImage }:
    let
      imageOf = builtins.listToAttrs (map (c: { name = c.check; value = c.image or "host"; }) matrix.cells);
      withImage = builtins.mapAttrs (check: cell: cell // { image = resolveImage imageOf.${check}; }) cells.available;
      pick = ok: builtins.listToAttrs (builtins.concatMap
        (check: if withImage.${check}.image.available == ok then [ { name = check; value = withImage.${check}; } ] else [ ])
        (builtins.attrNames withImage));
    in
    {
      available = pick true;
      unavailable = cells.unavailable // builtins.mapAttrs (_: c: "cell ${c.spec.id}: ${c.image.reason}") (pick false);
    };

  # Quotes one word for sh.
  shellQuote = s: "'" + builtins.replaceStrings [ "'" ] [ "'\\''" ] s + "'";

  # The provision lines left, as ONE script as orca runs provision natively (docs/specs.md): one
  # shell, line after line (`cd`, `export` and functions carry over), stopping at the first failing
  # line, which it names with its exit status.
  provisionScript = { id, run }:
    lib.concatStringsSep "" (builtins.genList (i:
      let l = builtins.elemAt run i; n = toString (i + 1); in
      "{ ${l}\n} || { s=$?; echo ${shellQuote "orca: cell ${id}: provision line ${n} failed (exit "}\"$s\"${shellQuote "): ${l}"} >&2; exit 1; }\n")
      (builtins.length run));

  # The script the cell runs in the image's VM (nix/image-cell-test.nix), as root, with the image's
  # own /bin/bash and PATH (path: directories added AFTER it, the project's guest packages, so no
  # image tool is shadowed). It puts the project (the flake's objects and guest files in place) at
  # spec.source, where NixOS cells have it, and the kernel's modules where the image looks for
  # them; loads the VM's modules with the image's modprobe; runs the provision lines left once
  # (provisionScript, in /root, within the cell's timeout; a failing line fails the build, naming
  # it, so nothing is cached); then runs `report "$out"`: nix/cell_report.py, which runs the test
  # block's script as in a NixOS cell (a writable copy of the project at project_dir, one shell in
  # workdir with CI=true, stopping at the first failing line), collects the result files and
  # writes junit.xml and verdict into $out. The same code as NixOS cells, its `machine` a shell in
  # this guest. timeout: coreutils' timeout.
  guestScript = { spec, run, project, report, timeout, path ? [ ] }:
    ''
      set -u
      out="$1"
    ''
    + lib.concatStringsSep "" (map (d: "export PATH=\"$PATH:${d}\"\n") path)
    + ''
      mkdir -p "$(dirname ${spec.source})" /root "$out"
      ln -sfn ${project} ${spec.source}
      # The booted kernel is nixpkgs', its modules in the store (vmTools exports MODULE_DIR): put
      # them at /lib/modules/<release>, so the image's own modprobe (and tc) find them.
      release="$(uname -r)"
      if [ -n "''${MODULE_DIR:-}" ] && [ ! -e "/lib/modules/$release" ]; then
        mkdir -p /lib/modules
        ln -s "$MODULE_DIR$release" "/lib/modules/$release"
      fi
    ''
    + lib.concatStringsSep "" (map (m: ''
      modprobe ${shellQuote m} || {
        s=$?
        echo ${shellQuote "orca: cell ${spec.id}: loading the kernel module ${m} of the VM spec failed (modprobe exit "}"$s"${shellQuote "; the image needs kmod)"} >&2
        exit 1
      }
    '') (spec.modules or [ ]))
    + ''
      cd /root
    ''
    + (if run == [ ] then "" else ''
      ${timeout} ${toString spec.timeout_secs} /bin/bash -c ${shellQuote (provisionScript { inherit (spec) id; inherit run; })} >&2 || {
        s=$?
        echo ${shellQuote "orca: cell ${spec.id}: provision failed (exit "}"$s"${shellQuote "; 124: it passed the cell's timeout of ${toString spec.timeout_secs} s)"} >&2
        exit 1
      }
    '')
    + ''
      exec ${report} "$out"
    '';
}
