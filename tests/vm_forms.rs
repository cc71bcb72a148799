//! What users type, on real kernels under TCG: the booted kernel's modules in every guest
//! (modprobe and the kernel's own autoload), `orca exec NAME -- "one shell line"`, `orca cp` with a
//! guest glob, `orca status NAME`, and `--interactive` on a real pseudo-terminal (and its refusal
//! without one).

mod vm_support;

use std::io::{Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::Path;
use std::process::{Child, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use vm_support::{Vm, project, releases, stderr, stdout};

/// Each catalog kernel boots once; in it, `ip link add … type veth` and `tc qdisc add … clsact`
/// load their modules through the kernel's autoload, and `modprobe` finds one by name.
#[test]
fn every_catalog_kernel_has_its_modules_for_modprobe_and_autoload() {
    let Some(vm) = Vm::new() else { return };
    let rel = releases();
    for v in ["5.10", "6.1", "6.12", "7.2"] {
        assert!(rel.iter().any(|(k, _)| k == v), "the catalog should pin {v}: {rel:?}");
    }
    let script = r#"set -e
d=/lib/modules/$(uname -r)
test -f $d/modules.dep && test -f $d/modules.alias
! lsmod | grep -q '^veth '
ip link add veth0 type veth peer name veth1
ip link set veth0 up
tc qdisc add dev veth0 clsact
tc qdisc show dev veth0 | grep -q clsact
modprobe dummy
lsmod | grep -q '^veth '
lsmod | grep -q '^sch_ingress '
lsmod | grep -q '^dummy '
echo modules-ok $(uname -r)"#;
    for (version, release) in rel {
        let out = vm.run(&["run", "--kernel", &version, "--command", script]);
        assert_eq!(out.status.code(), Some(0), "kernel {version}: {}", stderr(&out));
        assert_eq!(stdout(&out), format!("modules-ok {release}\n"), "kernel {version}");
        vm.assert_clean();
    }
}

const SPEC: &str = r#"
schema_version = "1.0"
vm {
  name = "t-forms"
  resources {
    cpu = 1
    memory = "512MB"
  }
  mounts = [
    { source = "..", destination = "/proj", readonly = false },
  ]
}
"#;

#[test]
fn exec_line_cp_glob_status_and_the_start_hint() {
    let Some(vm) = Vm::new() else { return };
    let p = project(&[("configs/forms.hcl", SPEC)]);
    let cwd = p.path();
    let orca = |args: &[&str]| {
        let out = vm
            .orca()
            .current_dir(cwd)
            .args(args)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        eprintln!("orca {args:?} → {:?}\n{}{}", out.status.code(), stdout(&out), stderr(&out));
        out
    };

    // Nothing running: the hint names the spec that declares the VM.
    let out = orca(&["exec", "t-forms", "--", "true"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("orca start configs/forms.hcl"),
        "{}",
        stderr(&out)
    );
    let out = orca(&["status", "t-forms"]);
    assert!(stdout(&out).contains("orca start configs/forms.hcl"), "{}", stdout(&out));

    let out = orca(&["start", "configs/forms.hcl", "--kernel", "6.1", "--ttl", "10m"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));

    // One argument is a shell line: `cd` and `&&` work, state carries within it.
    let out = orca(&[
        "exec",
        "t-forms",
        "--",
        "cd /proj && mkdir -p build/ebpf && echo a > build/ebpf/x.o && echo b > build/ebpf/y.o && echo c > build/ebpf/z.txt && pwd",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stdout(&out), "/proj\n");
    // Several arguments stay a program and its arguments.
    let out = orca(&["exec", "t-forms", "--", "sh", "-c", "echo \"$0 $1\"; exit 4", "x y", "z"]);
    assert_eq!(out.status.code(), Some(4));
    assert_eq!(stdout(&out), "x y z\n");

    // cp with a glob expanded in the guest, into a folder made for it.
    let out = orca(&["cp", "t-forms:/proj/build/ebpf/*.o", "got/"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(std::fs::read_to_string(cwd.join("got/x.o")).unwrap(), "a\n");
    assert_eq!(std::fs::read_to_string(cwd.join("got/y.o")).unwrap(), "b\n");
    assert!(!cwd.join("got/z.txt").exists());
    // No match is an error; several matches need a folder; escaping paths are refused.
    let out = orca(&["cp", "t-forms:/proj/build/ebpf/*.none", "got/"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("nothing in VM t-forms matches"), "{}", stderr(&out));
    let out = orca(&["cp", "t-forms:/proj/build/ebpf/*.o", "one.o"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("matches 2 files"), "{}", stderr(&out));
    assert!(!cwd.join("one.o").exists());
    let out = orca(&["cp", "t-forms:/proj/../etc/*", "got/"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("`..`"), "{}", stderr(&out));
    let out = orca(&["cp", "t-forms:/proj/build/ebpf/x.o", "../outside.o"]);
    assert_eq!(out.status.code(), Some(2));

    // status NAME: that VM only.
    let out = orca(&["status", "t-forms", "--json"]);
    assert_eq!(out.status.code(), Some(0));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["running"][0]["name"], "t-forms", "{v:#}");
    assert_eq!(v["running"][0]["status"], "running", "{v:#}");

    // --interactive without a terminal on stdin: one clear line, exit 2.
    let out = orca(&["exec", "t-forms", "--interactive"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("needs a terminal on stdin"), "{}", stderr(&out));

    // --interactive on a real pty: window size, Ctrl-C inside the guest, the exit code.
    let mut t = Pty::spawn(&vm, cwd, &["exec", "t-forms", "--interactive"], (33, 101));
    t.send("stty size; echo SIZE$((40+2))\r");
    t.expect("33 101", Duration::from_secs(300));
    t.expect("SIZE42", Duration::from_secs(60));
    t.send("sleep 300\r");
    std::thread::sleep(Duration::from_secs(3));
    t.send("\x03");
    t.send("echo INTR$((1+1)) $?\r");
    t.expect("INTR2 130", Duration::from_secs(120));
    t.send("cd /proj && ls build/ebpf; exit 7\r");
    t.expect("z.txt", Duration::from_secs(60));
    assert_eq!(t.wait(Duration::from_secs(120)), Some(7), "{}", t.text());

    let out = orca(&["stop", "t-forms"]);
    assert_eq!(out.status.code(), Some(0));
    vm.assert_clean();
}

#[test]
fn run_interactive_boots_provisions_and_stops() {
    let Some(vm) = Vm::new() else { return };
    let spec = SPEC.replace(
        "mounts = [",
        "provision = [\"echo provisioned > /tmp/mark\"]\n  mounts = [",
    );
    let p = project(&[("configs/forms.hcl", &spec)]);
    std::fs::write(p.path().join("hello.txt"), "from the host\n").unwrap();

    // Without a terminal: refused before anything boots.
    let t0 = Instant::now();
    let out = vm
        .orca()
        .current_dir(p.path())
        .args(["run", "configs/forms.hcl", "--interactive"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("needs a terminal on stdin"), "{}", stderr(&out));
    assert!(!stderr(&out).contains("booting"), "{}", stderr(&out));
    eprintln!("refused in {:?}", t0.elapsed());

    let mut t = Pty::spawn(
        &vm,
        p.path(),
        &["run", "configs/forms.hcl", "--kernel", "6.1", "--interactive"],
        (40, 120),
    );
    t.send("cat /tmp/mark /proj/hello.txt; stty size\r");
    t.expect("provisioned", Duration::from_secs(400));
    t.expect("from the host", Duration::from_secs(60));
    t.expect("40 120", Duration::from_secs(60));
    t.send("exit 3\r");
    assert_eq!(t.wait(Duration::from_secs(120)), Some(3), "{}", t.text());
    vm.assert_clean();
}

/// orca on a pseudo-terminal of its own, as a user's terminal would run it.
struct Pty {
    master: std::fs::File,
    child: Child,
    seen: Arc<Mutex<Vec<u8>>>,
}

impl Pty {
    fn spawn(vm: &Vm, cwd: &Path, args: &[&str], (rows, cols): (u16, u16)) -> Pty {
        let (mut m, mut s) = (0, 0);
        let ws = libc::winsize {
            ws_row: rows,
            ws_col: cols,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        // SAFETY: openpty fills two descriptors that we then own.
        let rc = unsafe { libc::openpty(&mut m, &mut s, std::ptr::null_mut(), std::ptr::null(), &ws) };
        assert_eq!(rc, 0, "openpty: {}", std::io::Error::last_os_error());
        // SAFETY: both were just opened and are owned by nobody else.
        let (master, slave) = unsafe { (std::fs::File::from_raw_fd(m), OwnedFd::from_raw_fd(s)) };
        let mut cmd = vm.orca();
        cmd.current_dir(cwd)
            .args(args)
            .env("TERM", "xterm")
            .stdin(Stdio::from(slave.try_clone().unwrap()))
            .stdout(Stdio::from(slave.try_clone().unwrap()))
            .stderr(Stdio::from(slave));
        // SAFETY: setsid and TIOCSCTTY between fork and exec: the pty becomes the controlling
        // terminal of orca's own session, as a login shell's would.
        unsafe {
            use std::os::unix::process::CommandExt;
            cmd.pre_exec(|| {
                libc::setsid();
                libc::ioctl(0, libc::TIOCSCTTY, 0);
                Ok(())
            });
        }
        let child = cmd.spawn().unwrap();
        drop(cmd); // closes our copies of the slave, so reads end when orca exits
        let seen = Arc::new(Mutex::new(Vec::new()));
        let (mut r, sink) = (master.try_clone().unwrap(), seen.clone());
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = r.read(&mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock().unwrap().extend_from_slice(&buf[..n]);
            }
        });
        Pty { master, child, seen }
    }

    fn send(&mut self, s: &str) {
        self.master.write_all(s.as_bytes()).unwrap();
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.seen.lock().unwrap()).into_owned()
    }

    /// Waits (generously: TCG on a busy host) until `needle` has appeared.
    fn expect(&self, needle: &str, within: Duration) {
        let by = Instant::now() + within;
        while Instant::now() < by {
            if self.text().contains(needle) {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("`{needle}` did not appear on the terminal within {within:?}:\n{}", self.text());
    }

    /// orca's exit code; kills it if it has not exited by then.
    fn wait(&mut self, within: Duration) -> Option<i32> {
        let by = Instant::now() + within;
        while Instant::now() < by {
            if let Some(st) = self.child.try_wait().unwrap() {
                return st.code();
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        eprintln!("fd {} still open", self.master.as_raw_fd());
        None
    }
}
