//! `orca completions SHELL` prints a completion script that knows orca's subcommands.

use std::process::Command;

fn completions(shell: &str) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_orca"))
        .args(["completions", shell])
        .output()
        .expect("run orca");
    assert!(
        out.status.success(),
        "orca completions {shell} exited with {}",
        out.status
    );
    String::from_utf8(out.stdout).expect("completions are UTF-8")
}

#[test]
fn bash_zsh_and_fish_completions_name_the_subcommands() {
    for shell in ["bash", "zsh", "fish"] {
        let script = completions(shell);
        for sub in ["build", "matrix", "pipeline", "install", "status", "completions"] {
            assert!(script.contains(sub), "{shell} completions do not mention `{sub}`");
        }
    }
    // Each shell's own idiom, so a script for the wrong shell would fail.
    assert!(
        completions("bash").contains("complete -F"),
        "bash script lacks `complete -F`"
    );
    assert!(
        completions("zsh").starts_with("#compdef orca"),
        "zsh script lacks `#compdef orca`"
    );
    assert!(
        completions("fish").contains("complete -c orca"),
        "fish script lacks `complete -c orca`"
    );
}

#[test]
fn an_unknown_shell_is_a_usage_error() {
    let out = Command::new(env!("CARGO_BIN_EXE_orca"))
        .args(["completions", "tcsh"])
        .output()
        .expect("run orca");
    assert_eq!(out.status.code(), Some(2));
}
