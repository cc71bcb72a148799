//! Kernel expectations: `expect "GLOB" { min_kernel = "5.17" }` marks a test as expected to fail on
//! kernels older than `min_kernel`.
//!
//! On such a kernel a failure is an [`Outcome::ExpectedFail`], and a pass is an
//! [`Outcome::UnexpectedPass`]: a failure of the run, because the expectation no longer describes
//! the program (it was backported, or the program stopped using the newer feature). Everywhere else
//! the suite's own verdict stands.

use anyhow::Result;

use crate::plan::{Expectation, KernelVersion};
use crate::report::Outcome;

/// A test's verdict as the in-guest suite reported it, before expectations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Pass,
    Fail,
    Skip,
}

/// The expectations of a test spec, with their globs compiled once.
pub struct Expectations<'a> {
    rules: Vec<(glob::Pattern, &'a Expectation, KernelVersion)>,
}

impl<'a> Expectations<'a> {
    /// Compiles the globs and versions; a bad one is a usage error naming the expectation.
    pub fn new(list: &'a [Expectation]) -> Result<Expectations<'a>> {
        let mut rules = Vec::new();
        for e in list {
            let pattern = glob::Pattern::new(&e.test).map_err(|err| {
                crate::error::usage(
                    format!("expect {:?}: not a valid glob: {err}", e.test),
                    "use * and ? as wildcards, e.g. expect \"events_*\" { min_kernel = \"5.17\" }",
                )
            })?;
            let min = KernelVersion::parse(&e.min_kernel).ok_or_else(|| {
                crate::error::usage(
                    format!(
                        "expect {:?}: min_kernel {:?} is not a kernel version",
                        e.test, e.min_kernel
                    ),
                    "write MAJOR.MINOR, e.g. min_kernel = \"5.17\"",
                )
            })?;
            rules.push((pattern, e, min));
        }
        Ok(Expectations { rules })
    }

    /// The first expectation that marks `test` as expected to fail on `kernel`, if any.
    pub fn failing_on(&self, test: &str, kernel: KernelVersion) -> Option<&'a Expectation> {
        self.rules
            .iter()
            .find(|(p, _, min)| kernel < *min && p.matches(test))
            .map(|(_, e, _)| *e)
    }
}

/// The outcome of one test on one kernel: the suite's verdict with the expectation applied.
pub fn outcome(verdict: Verdict, expected_to_fail: bool) -> Outcome {
    match (verdict, expected_to_fail) {
        (Verdict::Skip, _) => Outcome::Skip,
        (Verdict::Pass, false) => Outcome::Pass,
        (Verdict::Fail, false) => Outcome::Fail,
        (Verdict::Fail, true) => Outcome::ExpectedFail,
        (Verdict::Pass, true) => Outcome::UnexpectedPass,
    }
}

/// How an expectation reads beside a result: `needs kernel >= 5.17: uses bpf_loop`.
pub fn describe(e: &Expectation) -> String {
    match &e.reason {
        Some(r) if !r.is_empty() => format!("needs kernel >= {}: {r}", e.min_kernel),
        _ => format!("needs kernel >= {}", e.min_kernel),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exp(test: &str, min: &str) -> Expectation {
        Expectation {
            test: test.into(),
            min_kernel: min.into(),
            reason: Some("uses bpf_loop".into()),
        }
    }

    #[test]
    fn expectations_apply_only_below_min_kernel() {
        let list = [exp("cgroup_count/*", "5.17"), exp("tc_*", "6.6")];
        let e = Expectations::new(&list).unwrap();
        let v = |s| KernelVersion::parse(s).unwrap();
        assert!(e.failing_on("cgroup_count/loop", v("5.10")).is_some());
        assert!(
            e.failing_on("cgroup_count/loop", v("5.17")).is_none(),
            "min_kernel itself is supported"
        );
        assert!(e.failing_on("cgroup_count/loop", v("6.1")).is_none());
        assert!(
            e.failing_on("xdp_drop/ipv4", v("5.10")).is_none(),
            "the glob must match"
        );
        assert_eq!(e.failing_on("tc_egress/x", v("6.1")).unwrap().min_kernel, "6.6");
    }

    #[test]
    fn outcomes_follow_the_expectation() {
        assert_eq!(outcome(Verdict::Pass, false), Outcome::Pass);
        assert_eq!(outcome(Verdict::Fail, false), Outcome::Fail);
        assert_eq!(outcome(Verdict::Fail, true), Outcome::ExpectedFail);
        assert_eq!(outcome(Verdict::Pass, true), Outcome::UnexpectedPass);
        assert_eq!(outcome(Verdict::Skip, true), Outcome::Skip);
        assert!(
            Outcome::UnexpectedPass.is_failure(),
            "a wrong expectation fails the run"
        );
        assert!(!Outcome::ExpectedFail.is_failure());
    }

    #[test]
    fn bad_expectations_are_usage_errors() {
        let bad_glob = [exp("[", "5.17")];
        let err = Expectations::new(&bad_glob).err().unwrap();
        assert_eq!(crate::error::exit_of(&err), crate::error::Exit::Usage);
        let bad_version = [exp("x", "latest")];
        let err = Expectations::new(&bad_version).err().unwrap();
        assert!(err.to_string().contains("latest"), "{err}");
    }

    #[test]
    fn describes_the_expectation() {
        assert_eq!(describe(&exp("x", "5.17")), "needs kernel >= 5.17: uses bpf_loop");
        let bare = Expectation {
            test: "x".into(),
            min_kernel: "6.1".into(),
            reason: None,
        };
        assert_eq!(describe(&bare), "needs kernel >= 6.1");
    }
}
