//! `firewall-suite`: the firewall's behaviour suite. See `firewall::suite`.

#[cfg(target_os = "linux")]
fn main() -> std::process::ExitCode {
    use clap::Parser;
    use firewall::sys::{EXIT_USAGE, Fail};
    use std::process::ExitCode;

    firewall::sys::install_signal_handlers();
    let args = match firewall::suite::Args::try_parse() {
        Ok(a) => a,
        Err(e) => {
            let _ = e.print();
            return match e.kind() {
                clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion => ExitCode::SUCCESS,
                _ => ExitCode::from(EXIT_USAGE),
            };
        }
    };
    match firewall::suite::main(args) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            let (code, hint) = match e.downcast_ref::<Fail>() {
                Some(f) => (f.code, f.hint.clone()),
                None => (firewall::sys::EXIT_INFRA, None),
            };
            eprintln!("firewall-suite: error: {e:#}");
            if let Some(h) = hint {
                eprintln!("  hint: {h}");
            }
            ExitCode::from(code)
        }
    }
}

#[cfg(not(target_os = "linux"))]
fn main() -> std::process::ExitCode {
    eprintln!("firewall-suite: error: the suite loads BPF programs and runs on Linux only");
    std::process::ExitCode::from(3)
}
