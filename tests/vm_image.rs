//! VMs on distro images, for real (TCG, the real debian-12-minimal built with mmdebstrap through
//! the host's apt sources, real kernels), in one test so the image is built once:
//! - `orca run` on a spec with `image = "debian-12-minimal"` and a provision of `apt-get update`
//!   and `apt-get install make` boots the image (`/etc/debian_version` 12.x), provisions it and
//!   runs the command there (`make --version`);
//! - a second run boots the kept provisioned root and does not provision again (timed);
//! - a failing provision line is named and nothing is kept: the next run provisions again;
//! - an Ubuntu image, whose archive this machine cannot reach, is one line naming the archive,
//!   exit 4;
//! - a matrix whose entry is debian-12-minimal on a kernel other than its default (6.12) passes,
//!   on the kept provisioned root; its Ubuntu entry is unavailable with the archive named (exit 4,
//!   0 with `--allow-unavailable`).
//!
//! The image and the kernels are in the user's cache, as for every VM test; the first run uses
//! `--reprovision` so it provisions whatever that cache holds.

mod vm_support;

use std::path::Path;
use std::process::Output;
use std::time::Instant;

use vm_support::{Vm, project, stderr, stdout, timed};

const SPEC: &str = r#"schema_version = "1.0"
vm {
  name = "deb"
  image = "debian-12-minimal"
  resources {
    cpu = 1
    memory = "1GB"
    disk = "2GB"
  }
  provision = [
    "apt-get update",
    "apt-get install -y --no-install-recommends make",
  ]
}
"#;

const FAILING: &str = r#"schema_version = "1.0"
vm {
  name = "bad"
  image = "debian-12-minimal"
  provision = [
    "echo first line runs",
    "ls /no/such/dir-NONCE",
    "echo never",
  ]
}
"#;

const UBUNTU: &str = r#"schema_version = "1.0"
vm {
  name = "ubu"
  image = "ubuntu-22.04-minimal"
}
"#;

const MATRIX: &str = r#"schema_version = "1.0"
test_matrix = [
  { name = "deb12-on-6.12", image = "debian-12-minimal", kernel_version = "6.12" },
  { name = "ubuntu", image = "ubuntu-22.04-minimal", kernel_version = "6.1" },
]
test {
  timeout = "20m"
  vm = "deb"
  commands = [
    "grep -q '^12' /etc/debian_version",
    "make --version",
    "uname -r | grep -q '^6.12'",
  ]
}
"#;

fn run_in(vm: &Vm, dir: &Path, args: &[&str]) -> (Output, f64) {
    timed(vm.orca(), dir, args)
}

#[test]
fn debian_12_image_runs_provisions_once_names_failures_and_matrix_cells() {
    let Some(vm) = Vm::new() else { return };
    let nonce = format!("{}-{}", std::process::id(), Instant::now().elapsed().as_nanos());
    let failing = FAILING.replace("NONCE", &nonce);
    let proj = project(&[
        ("configs/deb.hcl", SPEC),
        ("configs/bad.hcl", &failing),
        ("configs/ubu.hcl", UBUNTU),
        ("matrix/deb.hcl", MATRIX),
    ]);
    let p = proj.path();
    let cmd = "cat /etc/debian_version; make --version | head -1";

    // First run: the image is built if the cache lacks it, provision runs and is kept.
    let (first, t_first) = run_in(&vm, p, &["run", "configs/deb.hcl", "--reprovision", "--command", cmd]);
    assert!(first.status.success(), "the first run failed");
    let out = stdout(&first);
    assert!(out.starts_with("12."), "not a Debian 12 root: {out}");
    assert!(out.contains("GNU Make"), "make is not there: {out}");
    let err = stderr(&first);
    assert!(
        err.contains("provision: first boot of image debian-12-minimal"),
        "{err}"
    );
    assert!(err.contains("provision: kept the provisioned root"), "{err}");

    // Second run: the provisioned root, no provision.
    let (second, t_second) = run_in(&vm, p, &["run", "configs/deb.hcl", "--command", cmd]);
    assert!(second.status.success(), "the second run failed");
    assert_eq!(stdout(&second), out, "the second run saw another root");
    let err2 = stderr(&second);
    assert!(err2.contains("provision: reusing the provisioned root"), "{err2}");
    assert!(
        !err2.contains("Reading package lists") && !err2.contains("first boot of image"),
        "the second run provisioned again:\n{err2}"
    );
    eprintln!("provisioning run {t_first:.1}s, run on the kept root {t_second:.1}s");

    // A failing line is named; nothing is kept, so the next run provisions again.
    for round in 0..2 {
        let (bad, _) = run_in(&vm, p, &["run", "configs/bad.hcl", "--command", "true"]);
        assert_eq!(bad.status.code(), Some(1), "round {round}");
        let e = stderr(&bad);
        assert!(
            e.contains(&format!("line 2 of 3 `ls /no/such/dir-{nonce}`")),
            "the failing line is not named:\n{e}"
        );
        assert!(e.contains("nothing was kept"), "{e}");
        assert!(
            e.contains("first boot of image"),
            "round {round}: a failed provision was kept:\n{e}"
        );
        assert!(!e.contains("never"), "the script went on after the failing line:\n{e}");
    }

    // Ubuntu: its archive is out of reach here. One line naming it, exit 4, nothing booted.
    let (ubu, _) = run_in(&vm, p, &["run", "configs/ubu.hcl", "--command", "true"]);
    assert_eq!(ubu.status.code(), Some(4));
    let e = stderr(&ubu);
    let errors: Vec<&str> = e.lines().filter(|l| l.starts_with("orca: error:")).collect();
    assert_eq!(errors.len(), 1, "{e}");
    assert!(errors[0].contains("Ubuntu archive"), "{e}");
    assert!(
        !e.contains("booting"),
        "something booted for an image that cannot be had:\n{e}"
    );

    // A matrix cell on the image, on a kernel other than its default: on the kept root.
    let report = p.join("report.json");
    let (m, _) = run_in(
        &vm,
        p,
        &[
            "matrix",
            "run",
            "matrix/deb.hcl",
            "--no-cache",
            "--json",
            report.to_str().unwrap(),
        ],
    );
    let e = stderr(&m);
    // The Ubuntu cell cannot run here: n/a with the archive named, and the run is not green.
    assert_eq!(m.status.code(), Some(4), "{e}");
    assert!(
        e.contains("cell deb12-on-6.12 pass"),
        "the Debian cell did not pass:\n{e}"
    );
    assert!(
        e.contains("reusing the provisioned root"),
        "the cell provisioned again:\n{e}"
    );
    assert!(
        e.contains("cell ubuntu n/a: image ubuntu-22.04-minimal: the Ubuntu archive"),
        "{e}"
    );
    let r: serde_json::Value = serde_json::from_slice(&std::fs::read(&report).unwrap()).unwrap();
    let outcomes: Vec<&str> = r["cells"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["outcome"].as_str().unwrap())
        .collect();
    assert_eq!(outcomes, ["pass", "unavailable"]);
    let (m, _) = run_in(&vm, p, &["matrix", "run", "matrix/deb.hcl", "--allow-unavailable"]);
    assert_eq!(m.status.code(), Some(0), "--allow-unavailable accepts the partial run");
    vm.assert_clean();
}
