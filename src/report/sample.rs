//! A small report covering every outcome, for the renderings' tests.

use super::model::{CellResult, Outcome, Report, TestResult};

fn test(name: &str, outcome: Outcome) -> TestResult {
    TestResult {
        name: name.into(),
        outcome,
        duration_ms: 7,
        message: None,
        log: None,
        expectation: None,
    }
}

fn cell(kernel: &str, outcome: Outcome, tests: Vec<TestResult>) -> CellResult {
    CellResult {
        id: format!("{kernel}/0"),
        kernel: Some(kernel.into()),
        release: Some(format!("{kernel}.0-1-amd64")),
        command: "make test".into(),
        outcome,
        duration_ms: 41_200,
        cached: false,
        tests,
        message: None,
        output: None,
        steps: Vec::new(),
        flaky: None,
    }
}

/// 5.10 passes with an expected failure (from the cache), 6.1 fails the same test, 6.12 has no
/// source here, 7.2's guest crashed.
pub fn report() -> Report {
    let xfail = TestResult {
        message: Some("loading failed".into()),
        log: Some("0: (85) call bpf_loop#181\nunknown func bpf_loop#181".into()),
        expectation: Some("needs kernel >= 5.17: uses bpf_loop".into()),
        ..test("cgroup_count/loop", Outcome::ExpectedFail)
    };
    let fail = TestResult {
        outcome: Outcome::Fail,
        expectation: None,
        ..xfail.clone()
    };
    let mut old = cell(
        "5.10",
        Outcome::Pass,
        vec![test("xdp_drop/ipv4_blocked", Outcome::Pass), xfail],
    );
    old.cached = true;
    let new = cell(
        "6.1",
        Outcome::Fail,
        vec![test("xdp_drop/ipv4_blocked", Outcome::Pass), fail],
    );
    let mut missing = cell("6.12", Outcome::Unavailable, vec![]);
    missing.duration_ms = 0;
    missing.release = None;
    missing.message = Some("no source for kernel 6.12 on this host".into());
    let mut crashed = cell("7.2", Outcome::Error, vec![]);
    crashed.message = Some("the guest kernel panicked".into());
    crashed.output = Some("Kernel panic - not syncing: VFS: Unable to mount root fs".into());
    Report {
        kind: "matrix".into(),
        backend: "native".into(),
        accel: Some("tcg".into()),
        wall_ms: 90_000,
        cells: vec![old, new, missing, crashed],
    }
}

/// The model's own rules, checked on reports made from the sample.
mod model_tests {
    use super::super::model::*;

    /// A report whose cells have the given outcomes, the first holding tests with `tests`.
    fn report(cells: &[Outcome], tests: &[Outcome]) -> Report {
        let sample = super::report();
        let cell = sample.cells[0].clone();
        let test = cell.tests[0].clone();
        let mut cells: Vec<CellResult> = cells
            .iter()
            .map(|o| CellResult {
                outcome: *o,
                tests: vec![],
                ..cell.clone()
            })
            .collect();
        cells[0].tests = tests
            .iter()
            .map(|o| TestResult {
                outcome: *o,
                ..test.clone()
            })
            .collect();
        Report { cells, ..sample }
    }

    #[test]
    fn unavailable_cells_fail_the_run_unless_allowed() {
        use Outcome::*;
        let r = report(&[Pass, Unavailable], &[Pass]);
        assert_eq!(r.exit_code_with(false), 4);
        assert_eq!(r.exit_code_with(true), 0);
        let r = report(&[Unavailable, Unavailable], &[]);
        assert_eq!(r.exit_code_with(false), 4, "nothing ran: never green");
        assert_eq!(report(&[Fail, Unavailable], &[Fail]).exit_code_with(false), 1);
        assert_eq!(report(&[Pass], &[Pass]).exit_code_with(false), 0);
    }

    #[test]
    fn exit_codes_follow_the_worst_outcome() {
        use Outcome::*;
        assert_eq!(
            report(&[Pass], &[Pass, ExpectedFail, Skip]).exit_code(),
            0,
            "expectations met"
        );
        assert_eq!(
            report(&[Pass, Unavailable], &[Pass]).exit_code(),
            0,
            "n/a cells are reported, not failed"
        );
        assert_eq!(report(&[Pass, Error], &[Pass]).exit_code(), 3, "infrastructure");
        assert_eq!(report(&[Fail], &[Fail]).exit_code(), 1);
        assert_eq!(
            report(&[Pass], &[UnexpectedPass]).exit_code(),
            1,
            "a wrong expectation fails the run"
        );
        assert_eq!(
            report(&[Fail, Error], &[Fail]).exit_code(),
            1,
            "a test failure outranks an infrastructure one"
        );
    }

    #[test]
    fn a_cell_is_as_bad_as_its_worst_test() {
        use Outcome::*;
        assert_eq!(Outcome::of_tests([Pass, ExpectedFail, Skip]), Pass);
        assert_eq!(Outcome::of_tests([Skip, Skip]), Skip);
        assert_eq!(Outcome::of_tests([]), Skip);
        assert_eq!(Outcome::of_tests([Pass, UnexpectedPass, Fail]), Fail);
        assert_eq!(Outcome::of_tests([Pass, UnexpectedPass]), UnexpectedPass);
        assert_eq!(Outcome::of_tests([ExpectedFail, Error]), Error);
    }
}
