//! `--json`: the report model serialized as it is, so the JSON and the table cannot disagree.

use super::model::Report;

/// The report as pretty JSON, ending in a newline.
pub fn render(report: &Report) -> String {
    let mut s = serde_json::to_string_pretty(report).expect("the report model serializes");
    s.push('\n');
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::sample;

    #[test]
    fn round_trips_through_the_model() {
        let r = sample::report();
        let back: Report = serde_json::from_str(&render(&r)).unwrap();
        assert_eq!(back, r);
        let v: serde_json::Value = serde_json::from_str(&render(&r)).unwrap();
        assert_eq!(v["cells"][0]["tests"][1]["outcome"], "expected-fail");
        assert_eq!(v["cells"][2]["outcome"], "unavailable");
    }
}
