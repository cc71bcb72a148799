//! The one CI switch. `CI` (set by `.ci/test` itself, and by every CI service) makes orca and its
//! tests strict: the behaviour suite fails a test whose prerequisite is missing instead of skipping
//! it, the repository's tests fail naming the missing piece instead of skipping, and progress is
//! printed as plain lines. This is the only place that reads `CI`.

/// The variable.
pub const VAR: &str = "CI";

/// Whether `CI` is on: set to anything but empty, `0` or `false` (any case), as CI services set
/// it (`true`) and as users switch it off (`CI=0`, `CI=false`).
pub fn enabled() -> bool {
    std::env::var_os(VAR).is_some_and(|v| on(&v.to_string_lossy()))
}

fn on(v: &str) -> bool {
    !(v.is_empty() || v == "0" || v.eq_ignore_ascii_case("false"))
}

/// For tests that need something this host may lack: with `CI` on, fails naming `missing`; without,
/// says it skipped and returns, so the caller returns too.
#[track_caller]
pub fn skip_or_fail(missing: impl AsRef<str>) {
    let missing = missing.as_ref();
    assert!(!enabled(), "CI is set, so nothing may be skipped, but {missing}");
    eprintln!("skipped: {missing}");
}

#[cfg(test)]
mod tests {
    #[test]
    fn what_counts_as_on() {
        for v in ["true", "1", "yes", "TRUE"] {
            assert!(super::on(v), "{v}");
        }
        for v in ["", "0", "false", "False"] {
            assert!(!super::on(v), "{v}");
        }
    }
}
