//! Results from the user's own tests: a matrix `test` block's `results = ["build/*.xml"]` names
//! JUnit files the script writes (relative to where it runs). After the script, orca lists what
//! the globs match in the guest, reads each file, and merges its test cases into the cell's
//! results, with the kernel expectations applied, for any runner that writes JUnit (`go test` via
//! go-junit-report, `cargo nextest`, pytest, a shell script).
//!
//! A glob that matches nothing, or a file that is not JUnit, is an error of the cell, never a
//! silent pass.

use super::expect::{self, Expectations, Verdict};
use crate::plan::KernelVersion;
use crate::report::{Outcome, TestResult};

/// What the guest held for the result globs.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Collected {
    /// Each file found: its guest path and text.
    pub files: Vec<(String, String)>,
    /// The globs that matched no file.
    pub unmatched: Vec<String>,
}

/// The shell program that prints, for each glob, `F <path>` per file it matches, else `N <glob>`.
/// Globs are expanded by the guest's shell, where the script ran.
pub fn list_program(globs: &[String]) -> String {
    let mut s = String::new();
    for g in globs {
        // The glob is left unquoted so the shell expands it; anything else in it is quoted away.
        let pattern = shell_glob(g);
        s.push_str(&format!(
            "n=0; for f in {pattern}; do if [ -f \"$f\" ]; then printf 'F %s\\n' \"$f\"; n=1; fi; done; [ $n = 1 ] || printf 'N %s\\n' {q}\n",
            q = super::script::quote(g)
        ));
    }
    s
}

/// A glob with every character but `*`, `?`, `[`, `]` and `/` escaped for the shell.
fn shell_glob(g: &str) -> String {
    let mut out = String::new();
    for c in g.chars() {
        if c.is_ascii_alphanumeric() || "*?[]/._-".contains(c) {
            out.push(c);
        } else {
            out.push('\\');
            out.push(c);
        }
    }
    out
}

/// Parses what [`list_program`] printed: the files to read, and the globs without a match.
pub fn parse_listing(text: &str) -> (Vec<String>, Vec<String>) {
    let (mut files, mut unmatched) = (Vec::new(), Vec::new());
    for l in text.lines() {
        if let Some(f) = l.strip_prefix("F ") {
            if !files.iter().any(|x| x == f) {
                files.push(f.to_string());
            }
        } else if let Some(g) = l.strip_prefix("N ") {
            unmatched.push(g.to_string());
        }
    }
    (files, unmatched)
}

/// The test cases of the collected JUnit files, as the cell's tests on `kernel` with the
/// expectations applied; `Err` names the file that is not JUnit, or the glob without a match.
pub fn tests(
    c: &Collected,
    kernel: Option<KernelVersion>,
    expectations: &Expectations,
) -> Result<Vec<TestResult>, String> {
    if let Some(g) = c.unmatched.first() {
        return Err(format!(
            "the result file glob \"{g}\" matched no file where the script ran (did it write its JUnit there?)"
        ));
    }
    let mut out = Vec::new();
    for (path, text) in &c.files {
        let report = parse(text).map_err(|e| format!("the result file {path} is not JUnit XML: {e}"))?;
        for suite in &report.test_suites {
            for case in &suite.test_cases {
                let (verdict, message, log) = match &case.status {
                    quick_junit::TestCaseStatus::Success { .. } => (Verdict::Pass, None, None),
                    quick_junit::TestCaseStatus::NonSuccess {
                        message, description, ..
                    } => (
                        Verdict::Fail,
                        message.as_ref().map(|m| m.to_string()),
                        description.as_ref().map(|d| d.to_string()),
                    ),
                    quick_junit::TestCaseStatus::Skipped { message, .. } => {
                        (Verdict::Skip, message.as_ref().map(|m| m.to_string()), None)
                    }
                };
                let name = case.name.to_string();
                let expected = kernel.and_then(|v| expectations.failing_on(&name, v));
                let outcome = expect::outcome(verdict, expected.is_some());
                let message = match outcome {
                    Outcome::UnexpectedPass => {
                        Some("passed although expected to fail: the expectation is out of date".to_string())
                    }
                    Outcome::Pass => None,
                    _ => message.filter(|m| !m.is_empty()),
                };
                out.push(TestResult {
                    name,
                    outcome,
                    duration_ms: case.time.map(|t| t.as_millis() as u64).unwrap_or(0),
                    message,
                    log: log.filter(|l| !l.is_empty()),
                    expectation: expected.map(expect::describe),
                });
            }
        }
    }
    Ok(out)
}

/// What the result globs match on the host, relative to `root` (a host pipeline stage's project
/// root; an absolute glob is taken as it is), each file read.
pub fn collect_host(root: &std::path::Path, globs: &[String]) -> Result<Collected, String> {
    let mut c = Collected::default();
    for g in globs {
        let full = if g.starts_with('/') {
            g.clone()
        } else {
            format!("{}/{g}", glob::Pattern::escape(&root.to_string_lossy()))
        };
        let paths = glob::glob(&full).map_err(|e| format!("the result glob \"{g}\" is not valid: {e}"))?;
        let mut found = false;
        for p in paths.flatten().filter(|p| p.is_file()) {
            found = true;
            let shown = p.strip_prefix(root).unwrap_or(&p).display().to_string();
            if c.files.iter().any(|(f, _)| *f == shown) {
                continue;
            }
            let bytes = std::fs::read(&p).map_err(|e| format!("cannot read the result file {shown}: {e}"))?;
            c.files.push((shown, String::from_utf8_lossy(&bytes).into_owned()));
        }
        if !found {
            c.unmatched.push(g.clone());
        }
    }
    Ok(c)
}

/// A pipeline stage's outcome, message and tests once its result files are read: the test cases
/// of `collected` (no kernel expectations apply to stages), the outcome the worst of the tests
/// and the script's. Result files that could not be collected, that are missing or are not JUnit
/// make the stage an error (a failed script stays failed), never a pass.
pub fn stage(
    script: Outcome,
    message: Option<String>,
    collected: Result<Collected, String>,
) -> (Outcome, Option<String>, Vec<TestResult>) {
    let failed = |why: String| {
        let outcome = if script.is_failure() { script } else { Outcome::Error };
        let message = match message.clone() {
            Some(m) => format!("{m}; and {why}"),
            None => why,
        };
        (outcome, Some(message), Vec::new())
    };
    let empty = Vec::new();
    let expectations = Expectations::new(&empty).expect("no expectations are always valid");
    let tests = match collected.and_then(|c| tests(&c, None, &expectations)) {
        Ok(t) => t,
        Err(why) => return failed(why),
    };
    let outcome = Outcome::of_tests(std::iter::once(script).chain(tests.iter().map(|t| t.outcome)));
    let bad: Vec<&str> = tests
        .iter()
        .filter(|t| t.outcome.is_failure() || t.outcome.is_infra())
        .map(|t| t.name.as_str())
        .collect();
    let message = match (message, bad.is_empty()) {
        (m, true) => m,
        (m, false) => {
            let names = if bad.len() > 3 {
                format!("{}, ...", bad[..3].join(", "))
            } else {
                bad.join(", ")
            };
            let said = format!("{} of {} test cases failed: {names}", bad.len(), tests.len());
            Some(match m {
                Some(m) => format!("{m}; {said}"),
                None => said,
            })
        }
    };
    (outcome, message, tests)
}

/// A JUnit document: `<testsuites>` at the root, or a lone `<testsuite>` (as many runners write),
/// with or without an XML declaration (quick-junit's reader wants the root element first).
fn parse(text: &str) -> Result<quick_junit::Report, quick_junit::DeserializeError> {
    let body = match (text.trim_start().starts_with("<?xml"), text.find("?>")) {
        (true, Some(b)) => &text[b + 2..],
        _ => text,
    };
    let whole = quick_junit::Report::deserialize_from_str(body);
    if whole.is_ok() || body.contains("<testsuites") || !body.contains("<testsuite") {
        return whole;
    }
    quick_junit::Report::deserialize_from_str(&format!("<testsuites>{body}</testsuites>")).or(whole)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::Expectation;
    use crate::report::Outcome;

    const XML: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<testsuites>
  <testsuite name="integration" tests="3" failures="1">
    <testcase name="attach_xdp" time="0.5"/>
    <testcase name="ringbuf_events"><failure message="no ring buffer">map create: EINVAL</failure></testcase>
    <testcase name="ipv6"><skipped message="no ipv6"/></testcase>
  </testsuite>
</testsuites>"#;

    fn collected(text: &str) -> Collected {
        Collected {
            files: vec![("build/test-results/a.xml".into(), text.into())],
            unmatched: vec![],
        }
    }

    #[test]
    fn cases_become_tests_with_expectations_applied() {
        let list = vec![Expectation {
            test: "ringbuf_*".into(),
            min_kernel: "5.8".into(),
            reason: Some("ring buffers came in 5.8".into()),
        }];
        let e = Expectations::new(&list).unwrap();
        let t = tests(&collected(XML), KernelVersion::parse("6.1"), &e).unwrap();
        let got: Vec<(&str, Outcome)> = t.iter().map(|t| (t.name.as_str(), t.outcome)).collect();
        assert_eq!(
            got,
            [
                ("attach_xdp", Outcome::Pass),
                ("ringbuf_events", Outcome::Fail),
                ("ipv6", Outcome::Skip)
            ]
        );
        assert_eq!(t[0].duration_ms, 500);
        assert_eq!(t[1].message.as_deref(), Some("no ring buffer"));
        assert_eq!(t[1].log.as_deref(), Some("map create: EINVAL"));
        let old = tests(&collected(XML), KernelVersion::parse("5.4"), &e).unwrap();
        assert_eq!(old[1].outcome, Outcome::ExpectedFail);
    }

    #[test]
    fn a_declaration_before_the_root_is_read() {
        let e = Expectations::new(&[]).unwrap();
        let doc = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"l\" tests=\"1\" failures=\"0\">\n  <testsuite name=\"l\" tests=\"1\" failures=\"0\" errors=\"0\" skipped=\"0\" time=\"0\">\n    <properties><property name=\"kernel\" value=\"6.1\"/></properties>\n    <testcase name=\"hello/attach_lo\" classname=\"load.sh\"/>\n  </testsuite>\n</testsuites>\n";
        let t = tests(&collected(doc), None, &e).unwrap();
        assert_eq!(t.len(), 1);
        assert_eq!(t[0].name, "hello/attach_lo");
    }

    #[test]
    fn a_lone_testsuite_root_is_read_too() {
        let e = Expectations::new(&[]).unwrap();
        let lone = "<?xml version=\"1.0\"?>\n<testsuite name=\"s\"><testcase name=\"a\"/></testsuite>\n";
        let t = tests(&collected(lone), None, &e).unwrap();
        assert_eq!(t.len(), 1);
        assert_eq!(t[0].outcome, Outcome::Pass);
    }

    #[test]
    fn missing_or_malformed_results_are_errors_not_passes() {
        let e = Expectations::new(&[]).unwrap();
        let err = tests(&collected("<testsuites><oops"), None, &e).unwrap_err();
        assert!(err.contains("build/test-results/a.xml is not JUnit XML"), "{err}");
        let none = Collected {
            files: vec![],
            unmatched: vec!["out/*.xml".into()],
        };
        let err = tests(&none, None, &e).unwrap_err();
        assert!(err.contains("\"out/*.xml\" matched no file"), "{err}");
    }

    #[test]
    fn the_listing_program_expands_globs_in_the_shell() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(d.path().join("r")).unwrap();
        std::fs::write(d.path().join("r/a.xml"), "x").unwrap();
        std::fs::write(d.path().join("r/b.xml"), "x").unwrap();
        let prog = list_program(&["r/*.xml".into(), "none/*.xml".into(), "r/a.xml".into()]);
        let out = std::process::Command::new("/bin/sh")
            .arg("-c")
            .arg(prog)
            .current_dir(d.path())
            .output()
            .unwrap();
        let (files, unmatched) = parse_listing(&String::from_utf8_lossy(&out.stdout));
        assert_eq!(files, ["r/a.xml", "r/b.xml"]);
        assert_eq!(unmatched, ["none/*.xml"]);
    }
}
