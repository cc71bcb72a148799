//! The whole flake, evaluated against the stand-in nixpkgs of tests/nix/stand-in (real
//! derivations that are never built): `nix flake check --no-build` over every output of every
//! system, the outputs it lists, what the dev shell tells orca, and a check that this catches a
//! store path used as an attribute name (the first form of nix/ebpf.nix's prefix maps).
//! See README.md "What the Nix checks prove" for what this does and does not show.

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

mod nix_support;
use nix_support::{copy_project, nix_with_stand_in, root};

/// `nix <args…> path:<project>` with nixpkgs replaced by the stand-in; None (after saying why)
/// when nix is missing and CI is off.
fn nix(project: &Path, args: &[&str], attr: Option<&str>) -> Option<Output> {
    nix_with_stand_in(project, project, "nixpkgs", args, attr)
}

fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn json(project: &Path, attr: &str) -> Option<Value> {
    let out = nix(project, &["eval", "--json"], Some(attr))?;
    Some(serde_json::from_str(&ok(&out)).unwrap())
}

/// `nix show-derivation --recursive` of `attr`.
fn nix_show(project: &Path, attr: &str) -> Option<Output> {
    nix(project, &["show-derivation", "--recursive"], Some(attr))
}

/// The environment of the derivation behind `attr` (`nix show-derivation`).
fn drv_env(project: &Path, attr: &str) -> Option<serde_json::Map<String, Value>> {
    let out = nix(project, &["show-derivation"], Some(attr))?;
    let v: Value = serde_json::from_str(&ok(&out)).unwrap();
    let (_, drv) = v.as_object().unwrap().iter().next().unwrap();
    Some(drv["env"].as_object().unwrap().clone())
}

#[test]
fn every_flake_output_evaluates_against_the_stand_in() {
    let p = copy_project();
    let Some(out) = nix(p.path(), &["flake", "check", "--no-build"], None) else { return };
    ok(&out);

    // What it checked: every cell of matrix.json is a check or listed as unavailable with a
    // reason, and each system has its packages and dev shell.
    let show: Value = serde_json::from_str(&ok(&nix(p.path(), &["flake", "show", "--json"], None).unwrap())).unwrap();
    let unavailable = json(p.path(), "legacyPackages.x86_64-linux.orca.unavailable").unwrap();
    let matrix: Value =
        serde_json::from_str(&std::fs::read_to_string(root().join("nix/generated/matrix.json")).unwrap()).unwrap();
    let checks = show["checks"]["x86_64-linux"].as_object().unwrap();
    for cell in matrix["cells"].as_array().unwrap() {
        let check = cell["check"].as_str().unwrap();
        assert!(
            checks.contains_key(check) != unavailable.get(check).is_some(),
            "cell {check} must be exactly one of a check ({:?}) or unavailable ({unavailable})",
            checks.keys().collect::<Vec<_>>()
        );
        if let Some(why) = unavailable.get(check) {
            assert!(why.as_str().unwrap().starts_with(&format!("cell {}: ", cell["id"].as_str().unwrap())), "{why}");
        }
    }
    // The stand-in builds 5.10 without BTF (as nixpkgs may): unavailable with that reason, not a
    // failed evaluation; 7.2 has no attribute; 6.1 and 6.12 are checks.
    assert!(unavailable["matrix-5_10"].as_str().unwrap().contains("without CONFIG_DEBUG_INFO_BTF"), "{unavailable}");
    assert!(checks.contains_key("matrix-6_1") && checks.contains_key("matrix-6_12"), "{checks:?}");
    for system in ["x86_64-linux", "aarch64-linux", "aarch64-darwin", "x86_64-darwin"] {
        let packages = show["packages"][system].as_object().unwrap();
        assert!(packages.contains_key("orca") && packages.contains_key("default"), "{system}: {packages:?}");
        assert_eq!(packages.contains_key("ebpf"), system.ends_with("-linux"), "{system}: {packages:?}");
        assert!(show["devShells"][system]["default"].is_object(), "{system}");
        assert!(checks.contains_key("gen-in-sync") && checks.contains_key("nix-unit"));
    }
    let linux = show["packages"]["x86_64-linux"].as_object().unwrap();
    assert!(linux.contains_key("vmlinux-h-6_1") && !linux.contains_key("vmlinux-h-5_10"), "{linux:?}");

    // The NixOS test inside a cell check: the boot has its own allowance beyond the command's.
    let results = drv_env(p.path(), "checks.x86_64-linux.matrix-6_1.results").unwrap();
    let global: u64 = results["globalTimeout"].as_str().unwrap().parse().unwrap();
    let command = matrix["cells"][1]["timeout_secs"].as_u64().unwrap();
    assert!(global > command, "globalTimeout {global} leaves the boot nothing beyond the command's {command} s");
    assert!(results["testScript"].as_str().unwrap().contains("timeout=spec[\"boot_timeout_secs\"]"));
    assert!(results["testScript"].as_str().unwrap().contains("run_cell(machine, spec,"));
    // The matrix VM spec's modules are loaded in the guest.
    assert_eq!(results["kernelModules"].as_str(), Some("veth sch_ingress cls_bpf"), "{results:?}");

    // The cell runs the project's own script and collects its JUnit: no `orca suite` anywhere.
    let spec = json(p.path(), "checks.x86_64-linux.matrix-6_1.spec").unwrap();
    assert_eq!(spec["commands"], matrix["commands"]);
    assert_eq!(spec["results"], serde_json::json!(["build/test-results/*.xml"]));
    assert_eq!((spec["project_dir"].as_str(), spec["workdir"].as_str()), (Some("/firewall"), Some("/firewall")));
    // The copy of the project it runs in has the objects where `orca build` puts them and the
    // firewall's suite (packages.firewall) where `cargo build --release -p firewall` leaves it.
    let etc = results["etc"].as_str().unwrap();
    let project = etc.strip_prefix("orca/project=").expect(etc);
    let drvs: Value = serde_json::from_str(&ok(&nix_show(p.path(), "checks.x86_64-linux.matrix-6_1.results").unwrap())).unwrap();
    let cell_project = drvs
        .as_object()
        .unwrap()
        .values()
        .find_map(|d| d["env"]["buildCommand"].as_str().filter(|_| d["env"]["out"] == project))
        .expect("the cell's project derivation")
        .to_string();
    let firewall = drv_env(p.path(), "packages.x86_64-linux.firewall").unwrap();
    assert!(cell_project.contains(&format!("ln -s {}/bin/firewall-suite $out/target/release/firewall-suite", firewall["out"].as_str().unwrap())), "{cell_project}");
    for program in ["xdp_blocklist", "tc_egress_policy", "cgroup_events"] {
        assert!(cell_project.contains(&format!("$out/build/ebpf/{program}.o")), "{cell_project}");
    }
}

#[test]
fn the_dev_shell_gives_orca_the_headers_packages_ebpf_compiles_against() {
    let p = copy_project();
    let Some(shell) = drv_env(p.path(), "devShells.x86_64-linux.default") else { return };
    let ebpf = drv_env(p.path(), "packages.x86_64-linux.ebpf").unwrap();
    let build = ebpf["buildPhase"].as_str().unwrap();
    let includes = shell["ORCA_SYSTEM_INCLUDES"].as_str().expect("the shell sets ORCA_SYSTEM_INCLUDES");
    let dirs: Vec<&str> = includes.split(':').collect();
    assert_eq!(dirs.len(), 2, "{includes}");
    for d in &dirs {
        assert!(d.starts_with("/nix/store/") && d.ends_with("/include"), "{d}");
        assert!(build.contains(&format!("'-isystem' '{d}'")), "packages.ebpf does not use {d}:\n{build}");
    }
    let resource = shell["ORCA_CLANG_RESOURCE_DIR"].as_str().unwrap();
    assert!(resource.ends_with("/lib/clang/19") && resource.contains("-clang-19.1.7-lib/"), "{resource}");
    assert!(build.contains(&format!("'-resource-dir' '{resource}'")), "{build}");
    assert!(build.contains(&format!("'-ffile-prefix-map={resource}=/clang'")), "{build}");
    // macOS: no libbpf or kernel headers there, and no variable naming them.
    let mac = drv_env(p.path(), "devShells.aarch64-darwin.default").unwrap();
    assert!(!mac.contains_key("ORCA_SYSTEM_INCLUDES") && mac.contains_key("ORCA_CLANG_RESOURCE_DIR"));
}

#[test]
fn a_store_path_as_an_attribute_name_fails_the_check() {
    // nix/ebpf.nix as it first was: prefix maps keyed by store paths, which Nix refuses.
    let p = copy_project();
    let file = p.path().join("nix/clang-system.nix");
    let text = std::fs::read_to_string(&file).unwrap();
    let fixed = r#"{ from = "${pkgs.libbpf}"; to = "/libbpf"; }"#;
    assert!(text.contains(fixed), "nix/clang-system.nix changed shape; update this test");
    let reverted = r#"({ "${pkgs.libbpf}" = "/libbpf"; } // { from = "${pkgs.libbpf}"; to = "/libbpf"; })"#;
    std::fs::write(&file, text.replacen(fixed, reverted, 1)).unwrap();
    let Some(out) = nix(p.path(), &["flake", "check", "--no-build"], None) else { return };
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "the check passed a store path as an attribute name:\n{stderr}");
    assert!(stderr.contains("is not allowed to refer to a store path"), "{stderr}");
}

/// `orca init` in a temporary folder outside the repository, its flake pointed at a copy of this
/// repository (`inputs.orca.url = "path:…"`, the one edit the starter asks for) and nixpkgs (which
/// the starter takes from orca: `nixpkgs.follows = "orca/nixpkgs"`) redirected to the stand-in.
fn outside_project(orca_copy: &Path) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    assert!(!dir.path().starts_with(root()), "the outside project must not sit inside orca's tree");
    let out = Command::new(env!("CARGO_BIN_EXE_orca")).arg("init").current_dir(dir.path()).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let flake = dir.path().join("flake.nix");
    let text = std::fs::read_to_string(&flake).unwrap();
    let placeholder = "orca.url = \"path:/path/to/orca\";";
    assert!(text.contains(placeholder), "the starter's flake changed shape; update this test");
    std::fs::write(&flake, text.replace(placeholder, &format!("orca.url = \"path:{}\";", orca_copy.display()))).unwrap();
    dir
}

/// `nix <args…> path:<outside project>#<attr>` with orca's nixpkgs replaced by the stand-in.
fn outside(project: &Path, orca_copy: &Path, args: &[&str], attr: Option<&str>) -> Option<Output> {
    nix_with_stand_in(project, orca_copy, "orca/nixpkgs", args, attr)
}

#[test]
fn an_outside_flake_gets_its_package_checks_and_shell_from_its_own_specs() {
    let orca_copy = copy_project();
    let p = outside_project(orca_copy.path());
    let eval = |attr: &str| -> Option<Value> {
        let out = outside(p.path(), orca_copy.path(), &["eval", "--json"], Some(attr))?;
        Some(serde_json::from_str(&ok(&out)).unwrap())
    };
    let names = ["eval", "--json", "--apply", "builtins.attrNames"];
    let Some(out) = outside(p.path(), orca_copy.path(), &names, Some("checks.x86_64-linux")) else { return };
    let checks: Vec<String> = serde_json::from_str(&ok(&out)).unwrap();
    // The project's own cells (its nix/generated/matrix.json, what `orca gen` writes for the
    // starter's configs/): each a check, or unavailable with a reason, never both or neither.
    let matrix: Value = serde_json::from_str(&std::fs::read_to_string(p.path().join("nix/generated/matrix.json")).unwrap()).unwrap();
    let cells: Vec<&str> = matrix["cells"].as_array().unwrap().iter().map(|c| c["check"].as_str().unwrap()).collect();
    assert_eq!(cells, ["matrix-5_10", "matrix-6_1", "matrix-6_12"], "the starter's three kernels");
    let unavailable = eval("legacyPackages.x86_64-linux.orca.unavailable").unwrap();
    for c in &cells {
        assert!(checks.iter().any(|k| k == c) != unavailable.get(*c).is_some(), "{c}: {checks:?} {unavailable}");
    }
    let mut want: Vec<String> = cells.iter().filter(|c| unavailable.get(**c).is_none()).map(|c| c.to_string()).collect();
    want.push("gen-in-sync".into());
    want.sort();
    assert_eq!(checks, want, "exactly its cells the stand-in boots, and gen-in-sync");
    // Its cells run its script (`make test`) and collect its JUnit, in /project as its VM spec says.
    let spec = eval("checks.x86_64-linux.matrix-6_1.spec").unwrap();
    assert_eq!(spec["commands"], serde_json::json!(["make test"]));
    assert_eq!(spec["results"], serde_json::json!(["build/test-results/*.xml"]));
    assert_eq!(spec["project_dir"], "/project");

    // Its eBPF package compiles its own program, and the dev shell has its clang pin.
    let ebpf = {
        let out = outside(p.path(), orca_copy.path(), &["show-derivation"], Some("packages.x86_64-linux.ebpf")).unwrap();
        let v: Value = serde_json::from_str(&ok(&out)).unwrap();
        v.as_object().unwrap().values().next().unwrap()["env"].clone()
    };
    let build = ebpf["buildPhase"].as_str().unwrap();
    assert!(build.contains("'bpf/hello.bpf.c'") && build.contains("clang-19.1.7"), "{build}");
    assert!(!build.contains("xdp_blocklist"), "orca's own programs leaked into the project's package");
    let shell = outside(p.path(), orca_copy.path(), &["show-derivation"], Some("devShells.x86_64-linux.default")).unwrap();
    assert!(ok(&shell).contains("ORCA_CLANG_RESOURCE_DIR"));

    // And the whole flake passes `nix flake check` without building.
    ok(&outside(p.path(), orca_copy.path(), &["flake", "check", "--no-build"], None).unwrap());
}

#[test]
fn the_template_is_the_starter_orca_init_writes() {
    let orca_copy = copy_project();
    let from_template = tempfile::tempdir().unwrap();
    if !Command::new("nix").arg("--version").output().is_ok_and(|o| o.status.success()) {
        orca::ci::skip_or_fail("nix is not installed (bash .ci/setup installs nix-bin)");
        return;
    }
    let out = Command::new("nix")
        .args(["--extra-experimental-features", "nix-command flakes", "flake", "init", "-t"])
        .arg(format!("path:{}", orca_copy.path().display()))
        .current_dir(from_template.path())
        .output()
        .unwrap();
    ok(&out);
    let from_init = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_orca")).arg("init").current_dir(from_init.path()).output().unwrap();
    assert!(out.status.success());
    let files = |d: &Path| {
        let mut v = Vec::new();
        fn walk(base: &Path, d: &Path, v: &mut Vec<(String, Vec<u8>)>) {
            for e in std::fs::read_dir(d).unwrap().flatten() {
                if e.file_type().unwrap().is_dir() {
                    walk(base, &e.path(), v);
                } else {
                    let rel = e.path().strip_prefix(base).unwrap().display().to_string();
                    v.push((rel, std::fs::read(e.path()).unwrap()));
                }
            }
        }
        walk(d, d, &mut v);
        v.sort();
        v
    };
    let (a, b) = (files(from_template.path()), files(from_init.path()));
    assert_eq!(
        a.iter().map(|f| &f.0).collect::<Vec<_>>(),
        b.iter().map(|f| &f.0).collect::<Vec<_>>()
    );
    assert!(a == b, "a file differs between the template and orca init");
}
