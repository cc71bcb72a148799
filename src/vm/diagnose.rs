//! Why a VM ended, as a failure with the right exit code and the evidence: QEMU's exit status,
//! the QMP events seen (`GUEST_PANICKED`, `SHUTDOWN` and its reason) and the serial console.

use std::path::Path;

use crate::error::Exit;
use crate::fail;

/// The cause of a VM's end, from QEMU's exit status, QMP's events and the console.
pub(crate) fn diagnose(
    name: &str,
    status: Option<std::process::ExitStatus>,
    seen: &super::qmp::Seen,
    console: &Path,
    qemu_log: &Path,
) -> anyhow::Error {
    use std::os::unix::process::ExitStatusExt;
    let text = std::fs::read_to_string(console).unwrap_or_default();
    let vm = if name.is_empty() {
        String::from("the VM")
    } else {
        format!("VM {name}")
    };
    let reason = seen.shutdown.as_ref().map(|(_, r)| r.as_str()).unwrap_or("");
    if seen.panicked || reason == "guest-panic" || text.contains("Kernel panic") {
        return fail!(
            Exit::GuestPanic,
            "the guest kernel of {vm} panicked{}",
            panic_excerpt(&text)
        );
    }
    if let Some(st) = status {
        if let Some(sig) = st.signal() {
            return fail!(
                Exit::Infra,
                "QEMU exited unexpectedly (killed by signal {sig}){}",
                log_tail(qemu_log)
            );
        }
        if !st.success() {
            return fail!(Exit::Infra, "QEMU exited unexpectedly ({st}){}", log_tail(qemu_log));
        }
    }
    match reason {
        "guest-shutdown" => fail!(
            Exit::Infra,
            "the guest of {vm} powered off unexpectedly{}",
            console_tail(console, 15)
        ),
        "guest-reset" => fail!(
            Exit::Infra,
            "the guest of {vm} rebooted unexpectedly{}",
            console_tail(console, 15)
        ),
        "" if status.is_none() => fail!(Exit::Infra, "the agent of {vm} went away{}", console_tail(console, 15)),
        r => fail!(
            Exit::Infra,
            "{vm} stopped ({}){}",
            if r.is_empty() { "QEMU exited" } else { r },
            console_tail(console, 15)
        ),
    }
}

/// The panic message and what follows it, from the console log.
fn panic_excerpt(text: &str) -> String {
    let clean = text.replace('\r', "");
    let lines: Vec<&str> = clean.lines().collect();
    let at = lines
        .iter()
        .position(|l| l.contains("Kernel panic"))
        .unwrap_or(lines.len().saturating_sub(10));
    let from = at.saturating_sub(10);
    let excerpt: Vec<&str> = lines[from..lines.len().min(at + 3)].to_vec();
    if excerpt.is_empty() {
        String::new()
    } else {
        format!(":\n  {}", excerpt.join("\n  "))
    }
}

/// The last lines of the serial console, indented, for failure messages.
pub fn console_tail(path: &Path, n: usize) -> String {
    tail(path, n)
        .map(|t| format!("\n  console:\n  {}", t.join("\n  ")))
        .unwrap_or_default()
}

fn log_tail(path: &Path) -> String {
    tail(path, 10)
        .map(|t| format!("\n  QEMU said:\n  {}", t.join("\n  ")))
        .unwrap_or_default()
}

fn tail(path: &Path, n: usize) -> Option<Vec<String>> {
    let text = std::fs::read_to_string(path).ok()?.replace('\r', "");
    let lines: Vec<String> = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(String::from)
        .collect();
    if lines.is_empty() {
        return None;
    }
    Some(lines[lines.len().saturating_sub(n)..].to_vec())
}
