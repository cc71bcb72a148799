//! The Flywall-shaped image matrix (tests/fixtures/flywall-images), for real: copied to a folder
//! named `flywall` outside this repository and driven from its own root with the real orca, real
//! QEMU (TCG here), real mmdebstrap images and the built-in kernel catalog.
//!
//! - `make ebpf-native` builds the XDP object on the host (clang-19);
//! - `orca image build` makes the three images (Debian 11, 12 and 13 plus bpftool and make,
//!   declared as `image` blocks over the catalog's debian-N): built once into the user's cache,
//!   as every image test shares it, then cache hits;
//! - `orca matrix run matrix/debian.hcl`: three cells, in parallel, one of them on a
//!   kernel other than its image's default (debian-11 on 6.1); each runs `make
//!   test-ebpf-compatibility` (the object loaded with the image's OWN bpftool, whose version says
//!   which distro's it is) and `make test-integration` (XDP attached to a veth pair with the
//!   image's `ip`); exit 0, every step in the JSON;
//! - `orca pipeline run configs/go-test.hcl`: a stage whose VM provisions `golang-go` on the
//!   debian-12 image over the guest's user-mode NIC, then runs `go test` there; a second run
//!   reuses the kept provisioned root (timed, both printed);
//!
//! and, with no boot, the same matrix on the Ubuntu images: every cell unavailable with the Ubuntu
//! archive named (exit 4), exit 0 with `--allow-unavailable` and said so; `orca run --kernel 5.15`
//! exit 4 naming the archive; `orca kernel list` showing the Ubuntu kernels as n/a.
//!
//! With `CI=true` nothing here is skipped.

mod vm_support;

use std::path::{Path, PathBuf};
use std::process::Command;

use vm_support::{Vm, stderr, stdout, timed};

/// The fixture copied into a fresh folder named `flywall` under the system's temp folder.
fn scratch_project() -> (tempfile::TempDir, PathBuf) {
    let t = tempfile::Builder::new().prefix("orca-flyimg-").tempdir().unwrap();
    let dest = t.path().join("flywall");
    let src = Path::new(vm_support::ROOT).join("tests/fixtures/flywall-images");
    let ok = Command::new("cp").arg("-a").arg(&src).arg(&dest).status().unwrap().success();
    assert!(ok, "copying the fixture");
    assert!(!dest.starts_with(vm_support::ROOT), "the project must lie outside the repository");
    (t, dest)
}


fn json(p: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
}

/// All the output of a cell's steps, joined.
fn output_of(cell: &serde_json::Value) -> String {
    cell["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["output"].as_str().unwrap_or_default().to_string())
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn three_debian_images_run_the_flywall_tests_with_their_own_tools_and_go_test_runs_on_a_provisioned_vm() {
    let Some(vm) = Vm::new() else { return };
    let (_t, root) = scratch_project();

    // The object, on the host.
    let make = Command::new("make").arg("-C").arg(&root).arg("ebpf-native").output().unwrap();
    assert!(make.status.success(), "make ebpf-native: {}", stderr(&make));
    assert!(root.join("build/ebpf/hello.bpf.o").is_file());

    // The images: built once into the shared cache, then cache hits (timed).
    let images = ["flywall-debian-11", "flywall-debian-12", "flywall-debian-13"];
    let mut args = vec!["image", "build"];
    args.extend(images);
    let (o, t_build) = timed(vm.orca(), &root, &args);
    assert_eq!(o.status.code(), Some(0), "building the images");
    let lock = json(&root.join("configs/images.lock"));
    for i in images {
        let pin = &lock["images"][i];
        assert_eq!(pin["content_sha256"].as_str().unwrap().len(), 64, "{i} is pinned: {lock}");
        let pkgs: Vec<&str> = pin["packages"].as_array().unwrap().iter().map(|p| p.as_str().unwrap()).collect();
        assert!(pkgs.contains(&"bpftool") && pkgs.contains(&"make") && pkgs.contains(&"iproute2"), "{i}: {pkgs:?}");
    }
    let (o, t_hit) = timed(vm.orca(), &root, &args);
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(stderr(&o).matches("cached").count(), 3, "{}", stderr(&o));
    eprintln!("image build (cold or from the shared cache) {t_build:.1}s, then a cache hit {t_hit:.1}s");

    // The matrix: three cells in parallel, each with its image's own tools.
    let (o, t_matrix) = timed(
        vm.orca(),
        &root,
        &["matrix", "run", "matrix/debian.hcl", "--no-cache", "--json", "m.json"],
    );
    assert_eq!(o.status.code(), Some(0), "the matrix failed");
    let m = json(&root.join("m.json"));
    let cells = m["cells"].as_array().unwrap();
    let ids: Vec<&str> = cells.iter().map(|c| c["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["debian-11-on-6.1", "debian-12", "debian-13"], "{m}");
    // (cell, distro version, bpftool version, kernel release)
    let want = [
        ("debian-11-on-6.1", "distro 11.", "v5.10", "6.1."),
        ("debian-12", "distro 12.", "v7.1", "6.1."),
        ("debian-13", "distro 13.", "v7.5", "6.12."),
    ];
    for (c, (id, distro, bpftool, release)) in cells.iter().zip(want) {
        assert_eq!(c["id"], id);
        assert_eq!(c["outcome"], "pass", "{c}");
        let steps = c["steps"].as_array().unwrap();
        let lines: Vec<&str> = steps.iter().map(|s| s["command"].as_str().unwrap()).collect();
        assert_eq!(lines, ["cd /flywall", "make test-ebpf-compatibility", "make test-integration"], "{c}");
        assert!(steps.iter().all(|s| s["exit_code"] == 0), "{c}");
        assert!(c["release"].as_str().unwrap().starts_with(release), "{id} ran on {}", c["release"]);
        let out = output_of(c);
        assert!(out.contains(distro), "{id}: not its distro's root:\n{out}");
        assert!(out.contains(&format!("bpftool {bpftool}")), "{id}: not its image's bpftool ({bpftool}):\n{out}");
        assert!(out.contains("ip utility, iproute2"), "{id}: the image's ip did not run:\n{out}");
    }
    // In parallel: the run took less than its cells one after another.
    let sum: u64 = cells.iter().map(|c| c["duration_ms"].as_u64().unwrap()).sum();
    let wall = m["wall_ms"].as_u64().unwrap();
    assert!(wall < sum, "the cells ran one after another: wall {wall} ms, cells {sum} ms in all");
    eprintln!("three-image matrix: {t_matrix:.1}s (wall {wall} ms, cells {sum} ms in all)");

    // Go: the first run provisions golang-go (unless the shared cache has it), the second reuses
    // the kept root. When the first already reused it (a warm cache), once is enough.
    let mut times = Vec::new();
    for round in 0..2 {
        if round == 1 && times.first().is_some_and(|(_, provisioned)| !provisioned) {
            break;
        }
        let (o, secs) = timed(
            vm.orca(),
            &root,
            &["pipeline", "run", "configs/go-test.hcl", "--no-cache", "--json", "go.json"],
        );
        assert_eq!(o.status.code(), Some(0), "round {round}: the go pipeline failed");
        let err = stderr(&o);
        if round == 1 {
            assert!(err.contains("provision: reusing the provisioned root"), "{err}");
            assert!(!err.contains("first boot of image"), "the second run provisioned again:\n{err}");
        }
        let p = json(&root.join("go.json"));
        let stage = &p["cells"][0];
        assert_eq!(stage["id"], "go-test");
        assert_eq!(stage["outcome"], "pass", "{stage}");
        let steps = stage["steps"].as_array().unwrap();
        assert_eq!(steps.last().unwrap()["command"], "go test -v ./...");
        assert!(steps.iter().all(|s| s["exit_code"] == 0), "{stage}");
        let out = output_of(stage);
        assert!(out.contains("go version go1.19"), "not Debian 12's Go:\n{out}");
        assert!(out.contains("--- PASS: TestGreeting"), "{out}");
        times.push((secs, err.contains("first boot of image")));
    }
    eprintln!("go pipeline: {times:?} (seconds, provisioned on that run)");
    vm.assert_clean();
}

#[test]
fn the_ubuntu_matrix_is_unavailable_with_the_archive_named_and_so_are_ubuntu_kernels() {
    let (_t, root) = scratch_project();
    let orca = || Command::new(vm_support::ORCA);

    let (o, _) = timed(orca(), &root, &["matrix", "run", "matrix/ubuntu.hcl", "--json", "u.json"]);
    assert_eq!(o.status.code(), Some(4), "a run that tested nothing is not green");
    let err = stderr(&o);
    assert!(!err.contains("booting"), "something booted:\n{err}");
    let m = json(&root.join("u.json"));
    let cells = m["cells"].as_array().unwrap();
    assert_eq!(cells.len(), 3);
    for (c, suite) in cells.iter().zip(["focal", "jammy", "noble"]) {
        assert_eq!(c["outcome"], "unavailable", "{c}");
        let msg = c["message"].as_str().unwrap();
        assert!(msg.contains("the Ubuntu archive") && msg.contains(suite), "{msg}");
        assert!(msg.contains("ORCA_UBUNTU_MIRROR"), "how to fix it: {msg}");
        assert!(!msg.contains("not declared") && !msg.contains("image = \"host\""), "never a substitute: {msg}");
    }
    assert!(err.contains("3 of 3 cells could not run"), "{err}");

    let (o, _) = timed(orca(), &root, &["matrix", "run", "matrix/ubuntu.hcl", "--allow-unavailable"]);
    assert_eq!(o.status.code(), Some(0), "--allow-unavailable accepts the partial run");
    let all = stdout(&o) + &stderr(&o);
    assert!(all.contains("n/a"), "{all}");
    assert!(all.contains("no cell could run on this host"), "it says so: {all}");

    // The Ubuntu kernels: in the catalog, unavailable with the reason, never another kernel.
    let (o, _) = timed(orca(), &root, &["run", "--kernel", "5.15", "--command", "true"]);
    assert_eq!(o.status.code(), Some(4));
    let err = stderr(&o);
    let errors: Vec<&str> = err.lines().filter(|l| l.starts_with("orca: error:")).collect();
    assert_eq!(errors.len(), 1, "{err}");
    assert!(errors[0].contains("kernel 5.15") && errors[0].contains("the Ubuntu archive"), "{err}");
    assert!(errors[0].contains("linux-image-unsigned-5.15.0-70-generic"), "{err}");
    assert!(!err.contains("booting"), "{err}");

    let (o, _) = timed(orca(), &root, &["kernel", "list", "--json"]);
    assert_eq!(o.status.code(), Some(0));
    let list: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    for v in ["5.4", "5.15", "6.8"] {
        let k = list.as_array().unwrap().iter().find(|k| k["version"] == v).unwrap_or_else(|| panic!("{v}: {list}"));
        assert_eq!(k["from"], "built-in");
        assert_eq!(k["pinned"], false, "{k}");
        assert_eq!(k["sources"][0]["type"], "ubuntu", "{k}");
        assert!(k["unavailable"].as_str().unwrap().contains("the Ubuntu archive"), "{k}");
    }
    let (o, _) = timed(orca(), &root, &["kernel", "list"]);
    assert_eq!(o.status.code(), Some(0));
    let table = stdout(&o);
    let row = table.lines().find(|l| l.starts_with("5.15 ")).unwrap_or_else(|| panic!("{table}"));
    assert!(row.contains("n/a: no archive") && row.contains("5.15.0-70-generic"), "{row}");
    // The Debian kernels are unaffected.
    assert!(table.lines().any(|l| l.starts_with("6.1 ") && !l.contains("n/a")), "{table}");
}
