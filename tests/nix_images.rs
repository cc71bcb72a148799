//! Images on the Nix backend (nix/lib/images.nix): the pure-Nix unit tests of the mapping to
//! nixpkgs' vmTools image builders, a deliberately wrong mapping failing them, and a matrix over
//! distro images evaluated as a whole flake against the stand-in nixpkgs (tests/nix/stand-in):
//! a cell on an image nixpkgs builds is a check that boots that image with the cell's kernel and
//! the provision's packages; one on Ubuntu 20.04 is unavailable, saying why. Nothing is built:
//! building the images needs nixpkgs and the archives (nix/README.md, "Images").

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

mod nix_support;
use nix_support::{copy_project, nix_with_stand_in, root};

/// `nix-instantiate --eval --strict -E EXPR` in `dir`; None (after saying why) when nix is missing
/// and CI is off.
fn eval(dir: &Path, expr: &str) -> Option<Output> {
    match Command::new("nix-instantiate")
        .args(["--eval", "--strict", "-E", expr])
        .current_dir(dir)
        .output()
    {
        Ok(o) => Some(o),
        Err(_) => {
            orca::ci::skip_or_fail("nix-instantiate is not installed (bash .ci/setup installs nix-bin)");
            None
        }
    }
}

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

#[test]
fn nix_image_unit_tests_pass() {
    let Some(out) = eval(&root(), "import ./nix/tests/images.nix { run = true; }") else {
        return;
    };
    assert!(out.status.success(), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let n: usize = stdout
        .trim()
        .trim_matches('"')
        .strip_suffix(" Nix image tests passed")
        .unwrap_or_else(|| panic!("{stdout}"))
        .parse()
        .unwrap();
    assert!(n >= 25, "{stdout}");
}

/// Copies `nix/` into a temporary directory, so a test may change it.
fn copy_nix() -> tempfile::TempDir {
    fn walk(from: &Path, to: &Path) {
        std::fs::create_dir_all(to).unwrap();
        for e in std::fs::read_dir(from).unwrap().flatten() {
            if e.file_type().unwrap().is_dir() {
                walk(&e.path(), &to.join(e.file_name()));
            } else {
                std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
            }
        }
    }
    let dir = tempfile::tempdir().unwrap();
    walk(&root().join("nix"), &dir.path().join("nix"));
    dir
}

#[test]
fn a_wrong_mapping_fails_the_image_tests_and_names_them() {
    // Bookworm mapped to Debian 11's builder: the catalog test of debian-12 must catch it.
    let dir = copy_nix();
    let file = dir.path().join("nix/lib/images.nix");
    let good = std::fs::read_to_string(&file).unwrap();
    let right = r#"bookworm = "debian12";"#;
    assert!(good.contains(right), "nix/lib/images.nix changed shape; update this test");
    std::fs::write(&file, good.replace(right, r#"bookworm = "debian11";"#)).unwrap();
    let Some(out) = eval(dir.path(), "import ./nix/tests/images.nix { run = true; }") else {
        return;
    };
    assert!(!out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("FAIL catalogDebian12"), "{}", text(&out));
}

#[test]
fn the_image_tests_run_with_the_other_nix_unit_tests() {
    let suites = std::fs::read_to_string(root().join("nix/tests/default.nix")).unwrap();
    assert!(suites.contains("(import ./images.nix { inherit lib; })"), "{suites}");
}

/// `nix <args…> path:<project>#<attr>` (the flake itself for "") with nixpkgs replaced by the
/// stand-in; fails the test when nix does.
fn nix(project: &Path, args: &[&str], attr: &str) -> Option<Output> {
    let out = nix_with_stand_in(project, project, "nixpkgs", args, (!attr.is_empty()).then_some(attr))?;
    assert!(out.status.success(), "nix {args:?} {attr}: {}", text(&out));
    Some(out)
}

const IMAGE_MATRIX: &str = r#"# A matrix over distro images (tests/nix_images.rs).
schema_version = "1.0"

image "flywall-builder" {
  base     = "debian-12"
  packages = ["make"]
}

vm {
  name      = "image-cells"
  image     = "debian-12"
  provision = ["apt-get update", "apt-get install -y --no-install-recommends clang llvm libbpf-dev", "go version"]

  resources {
    cpu    = 2
    memory = "2GB"
  }
}

test_matrix = [
  { name = "d12", image = "flywall-builder", kernel_version = "6.1" },
  { name = "d13", image = "debian-13-minimal", kernel_version = "6.12" },
  { name = "u20", image = "ubuntu-20.04", kernel_version = "6.1" },
  { name = "host", image = "host", kernel_version = "6.1" },
]

test {
  vm       = "image-cells"
  timeout  = "10m"
  commands = ["make test"]
}
"#;

/// The guest script of an image cell: valid bash, the project linked where the spec's `source`
/// says, and nixpkgs' python3 running nix/cell_report.py on the cell's spec file last.
fn check_guest_script(script: &str, check: &str) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("guest.sh");
    std::fs::write(&file, script).unwrap();
    let syntax = Command::new("bash").arg("-n").arg(&file).output().unwrap();
    assert!(syntax.status.success(), "bash -n: {}\n{script}", text(&syntax));
    assert!(script.contains(" /etc/orca/project\n"), "{script}");
    let last = script.trim_end().lines().last().unwrap_or_default();
    assert!(
        last.starts_with("exec /nix/store/")
            && last.contains("-python3-")
            && last.contains("-cell_report.py /nix/store/")
            && last.ends_with(&format!("-orca-{check}.json \"$out\"")),
        "{last}"
    );
}

#[test]
fn a_matrix_over_images_evaluates_to_image_checks_and_unavailable_cells() {
    let p = copy_project();
    std::fs::write(p.path().join("configs/ebpf-test-matrix.hcl"), IMAGE_MATRIX).unwrap();
    let generated = Command::new(env!("CARGO_BIN_EXE_orca")).arg("gen").current_dir(p.path()).output().unwrap();
    assert!(generated.status.success(), "orca gen: {}", text(&generated));
    let images: Value =
        serde_json::from_str(&std::fs::read_to_string(p.path().join("nix/generated/images.json")).unwrap()).unwrap();
    assert_eq!(images["matrix_vm"]["provision"][2], "go version", "{images}");
    assert_eq!(images["images"]["flywall-builder"]["suite"], "bookworm", "{images}");

    // Ubuntu 20.04 is unavailable with the reason; the others are checks.
    let Some(out) = nix(p.path(), &["eval", "--json"], "legacyPackages.x86_64-linux.orca.unavailable") else {
        return;
    };
    let unavailable: Value = serde_json::from_slice(&out.stdout).unwrap();
    // (The stand-in, a path input, has no revision: the flake says "(unknown revision)" there.)
    let why = unavailable["matrix-u20"].as_str().unwrap_or_default();
    assert!(why.starts_with("cell u20: image ubuntu-20.04: nixpkgs "), "{unavailable}");
    assert!(
        why.ends_with(
            " has no vmTools.diskImageFuns.ubuntu2004x86_64 (ubuntu focal); run this cell with orca's native \
             backend, or pin a nixpkgs whose vmTools has it"
        ),
        "{unavailable}"
    );
    assert_eq!(unavailable.as_object().unwrap().len(), 1, "only u20: {unavailable}");
    // One evaluation for what the checks are made of (a derivation's attributes as JSON: its
    // inputs become their store paths).
    let apply = r#"checks: {
      names = builtins.attrNames checks;
      d12 = {
        disk = checks.matrix-d12.diskImage.drvAttrs;
        guest = checks.matrix-d12.results.drvAttrs;
        script = checks.matrix-d12.script.drvAttrs.text;
        inherit (checks.matrix-d12) spec;
      };
      d13 = { disk = checks.matrix-d13.diskImage.drvAttrs; guest = checks.matrix-d13.results.drvAttrs; };
      host = checks.matrix-host.results.drvAttrs.name;
    }"#;
    let out = nix(p.path(), &["eval", "--json", "--apply", apply], "checks.x86_64-linux").unwrap();
    let c: Value = serde_json::from_slice(&out.stdout).unwrap();
    let names: Vec<&str> = c["names"].as_array().unwrap().iter().map(|n| n.as_str().unwrap()).collect();
    for want in ["matrix-d12", "matrix-d13", "matrix-host"] {
        assert!(names.contains(&want), "{want} missing from {names:?}");
    }
    assert!(!names.contains(&"matrix-u20"), "{names:?}");

    // d12: Debian 12's builder with the user image's packages and the provision's apt-get install
    // packages; the image booted with the cell's kernel (6.1), with the VM's memory.
    let disk = &c["d12"]["disk"];
    assert_eq!(disk["name"], "debian12x86_64-disk-image");
    let packages: Vec<&str> = disk["extraPackages"].as_array().unwrap().iter().map(|p| p.as_str().unwrap()).collect();
    for want in ["clang", "llvm", "libbpf-dev", "make", "iproute2", "kmod"] {
        assert!(packages.contains(&want), "{want} not in {packages:?}");
    }
    assert!(!packages.iter().any(|p| *p == "update" || p.starts_with('-')), "{packages:?}");
    let guest = &c["d12"]["guest"];
    assert!(guest["vmKernel"].as_str().unwrap().ends_with("-linux-6.1.159"), "{}", guest["vmKernel"]);
    assert_eq!(guest["diskImageFormat"], "qcow2");
    assert_eq!(guest["memSize"], 2048);
    assert!(guest["diskImage"].as_str().unwrap().ends_with("-debian12x86_64-disk-image"), "{}", guest["diskImage"]);
    let command = guest["buildCommand"].as_str().unwrap();
    assert!(command.contains("-orca-matrix-d12-guest.sh"), "{command}");
    assert_eq!(guest["name"], "orca-matrix-d12-results");
    // The provision line that is not apt-get runs in the VM; the apt-get ones do not. Then the
    // guest hands over to cell_report.py (nixpkgs' python3) on the cell's spec: the test block's
    // script, its results and the report, as in a NixOS cell.
    let script = c["d12"]["script"].as_str().unwrap();
    check_guest_script(script, "matrix-d12");
    assert!(script.contains("{ go version\n}"), "{script}");
    assert!(!script.contains("apt-get"), "{script}");
    let spec = &c["d12"]["spec"];
    assert_eq!(spec["commands"], serde_json::json!(["make test"]), "{spec}");
    assert_eq!(spec["image"], "flywall-builder", "{spec}");
    assert_eq!(spec["source"], "/etc/orca/project", "{spec}");

    // d13-minimal: Debian 13's builder, nothing added but the provision's packages, kernel 6.12.
    assert_eq!(c["d13"]["disk"]["name"], "debian13x86_64-disk-image");
    assert_eq!(c["d13"]["disk"]["extraPackages"], serde_json::json!(["clang", "libbpf-dev", "llvm"]));
    let kernel = c["d13"]["guest"]["vmKernel"].as_str().unwrap();
    assert!(kernel.ends_with("-linux-6.12.64"), "{kernel}");

    // The host cell stays a NixOS test.
    assert!(c["host"].as_str().unwrap().starts_with("vm-test-run-"), "{}", c["host"]);

    // The whole flake still checks.
    nix(p.path(), &["flake", "check", "--no-build"], "").unwrap();
}

/// `orca init` in a temporary folder outside the repository, its flake pointed at `orca_copy`
/// (the one edit the starter asks for), its matrix moved onto distro images: 6.1 on debian-12, a
/// cell `u20` on ubuntu-20.04 added, 5.10 and 6.12 left on the host.
fn outside_project_on_images(orca_copy: &Path) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    assert!(!dir.path().starts_with(root()), "the outside project must not sit inside orca's tree");
    let orca = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_orca")).args(args).current_dir(dir.path()).output().unwrap();
        assert!(out.status.success(), "orca {args:?}: {}", text(&out));
    };
    orca(&["init"]);
    let edit = |file: &str, from: &str, to: &str| {
        let path = dir.path().join(file);
        let t = std::fs::read_to_string(&path).unwrap();
        assert!(t.contains(from), "the starter's {file} changed shape; update this test");
        std::fs::write(&path, t.replacen(from, to, 1)).unwrap();
    };
    edit("flake.nix", "orca.url = \"path:/path/to/orca\";", &format!("orca.url = \"path:{}\";", orca_copy.display()));
    edit(
        "configs/ebpf-test-matrix.hcl",
        "name           = \"6.1\"\n    image          = \"host\"",
        "name           = \"6.1\"\n    image          = \"debian-12\"",
    );
    edit(
        "configs/ebpf-test-matrix.hcl",
        "test_matrix = [\n",
        "test_matrix = [\n  { name = \"u20\", image = \"ubuntu-20.04\", kernel_version = \"6.1\" },\n",
    );
    orca(&["gen"]);
    dir
}

#[test]
fn an_outside_flake_gets_image_cells_from_orcas_library() {
    let orca_copy = copy_project();
    let p = outside_project_on_images(orca_copy.path());
    if !Command::new("nix").arg("--version").output().is_ok_and(|o| o.status.success()) {
        orca::ci::skip_or_fail("nix is not installed (bash .ci/setup installs nix-bin)");
        return;
    }
    // `nix <args…> path:<outside project>#<attr>` with orca's nixpkgs replaced by the stand-in.
    let outside = |args: &[&str], attr: &str| -> Output {
        let stand_in = format!("path:{}", orca_copy.path().join("tests/nix/stand-in").display());
        let target = match attr {
            "" => format!("path:{}", p.path().display()),
            a => format!("path:{}#{a}", p.path().display()),
        };
        let out = Command::new("nix")
            .args(["--extra-experimental-features", "nix-command flakes"])
            .args(args)
            .args(["--no-write-lock-file", "--override-input", "orca/nixpkgs", &stand_in, &target])
            .output()
            .unwrap();
        assert!(out.status.success(), "nix {args:?} {attr}: {}", text(&out));
        out
    };
    let unavailable: Value =
        serde_json::from_slice(&outside(&["eval", "--json"], "legacyPackages.x86_64-linux.orca.unavailable").stdout).unwrap();
    let why = unavailable["matrix-u20"].as_str().unwrap_or_default();
    assert!(why.starts_with("cell u20: image ubuntu-20.04: nixpkgs "), "{unavailable}");
    assert!(why.contains("has no vmTools.diskImageFuns.ubuntu2004x86_64"), "{unavailable}");
    // 5.10 is unavailable for its kernel (the stand-in builds it without BTF), as on the host.
    assert!(unavailable["matrix-5_10"].as_str().unwrap_or_default().contains("without CONFIG_DEBUG_INFO_BTF"), "{unavailable}");
    assert_eq!(unavailable.as_object().unwrap().len(), 2, "only u20 and 5.10: {unavailable}");

    let apply = r#"checks: {
      names = builtins.attrNames checks;
      disk = checks.matrix-6_1.diskImage.drvAttrs.name;
      guest = checks.matrix-6_1.results.drvAttrs;
      script = checks.matrix-6_1.script.drvAttrs.text;
      inherit (checks.matrix-6_1) spec;
      host = checks.matrix-6_12.results.drvAttrs.name;
    }"#;
    let c: Value = serde_json::from_slice(&outside(&["eval", "--json", "--apply", apply], "checks.x86_64-linux").stdout).unwrap();
    assert_eq!(c["names"], serde_json::json!(["gen-in-sync", "matrix-6_1", "matrix-6_12"]), "{c}");
    // 6.1 on Debian 12: nixpkgs' builder, the cell's kernel, the project's own script and results
    // through cell_report.py in the guest.
    assert_eq!(c["disk"], "debian12x86_64-disk-image");
    assert!(c["guest"]["vmKernel"].as_str().unwrap().ends_with("-linux-6.1.159"), "{}", c["guest"]["vmKernel"]);
    assert_eq!(c["guest"]["memSize"], 1024, "the starter's 512 MB raised to a guest's 1024");
    check_guest_script(c["script"].as_str().unwrap(), "matrix-6_1");
    assert_eq!(c["spec"]["commands"], serde_json::json!(["make test"]));
    assert_eq!(c["spec"]["results"], serde_json::json!(["build/test-results/*.xml"]));
    assert_eq!(c["spec"]["project_dir"], "/project");
    assert_eq!(c["spec"]["image"], "debian-12");
    // 6.12 stays a NixOS test.
    assert!(c["host"].as_str().unwrap().starts_with("vm-test-run-"), "{}", c["host"]);

    outside(&["flake", "check", "--no-build"], "");
}
