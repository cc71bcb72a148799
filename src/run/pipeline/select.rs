//! Which stages a run executes: all of them, `--only STAGE`, or `--from STAGE` (it and every
//! stage that depends on it, directly or not).

use std::collections::BTreeSet;

use anyhow::Result;

use crate::plan::Pipeline;

/// A narrowed run. Stages in `run` execute even when the cache has them; their ancestors outside
/// `run` are taken from the cache or their last stored result; everything else is not selected.
#[derive(Debug, Clone, PartialEq)]
pub struct Selection {
    pub run: BTreeSet<String>,
    /// The ancestors of `run` that are not in it: their artifacts are needed.
    pub needed: BTreeSet<String>,
    /// How the selection was asked for, for messages: `--only build`.
    pub label: String,
}

pub fn select(p: &Pipeline, from: Option<&str>, only: Option<&str>) -> Result<Option<Selection>> {
    let (flag, name) = match (from, only) {
        (Some(f), _) => ("--from", f),
        (None, Some(o)) => ("--only", o),
        (None, None) => return Ok(None),
    };
    if !p.stages.iter().any(|s| s.name == name) {
        let names: Vec<&str> = p.stages.iter().map(|s| s.name.as_str()).collect();
        let near = names
            .iter()
            .copied()
            .max_by(|a, b| strsim::jaro(name, a).total_cmp(&strsim::jaro(name, b)));
        let hint = match near {
            Some(n) if strsim::jaro(name, n) > 0.7 => format!("did you mean `{n}`? stages: {}", names.join(", ")),
            _ => format!("stages of pipeline `{}`: {}", p.name, names.join(", ")),
        };
        return Err(crate::error::usage(
            format!("{flag} {name}: pipeline `{}` has no such stage", p.name),
            hint,
        ));
    }
    let mut run = BTreeSet::from([name.to_string()]);
    if flag == "--from" {
        // The order is topological, so one pass in it reaches every descendant.
        for s in p.order.iter().filter_map(|n| p.stages.iter().find(|s| &s.name == n)) {
            if s.dependencies.iter().any(|d| run.contains(d)) {
                run.insert(s.name.clone());
            }
        }
    }
    let mut needed = BTreeSet::new();
    let mut todo: Vec<String> = run.iter().cloned().collect();
    while let Some(n) = todo.pop() {
        for d in p.stages.iter().filter(|s| s.name == n).flat_map(|s| &s.dependencies) {
            if !run.contains(d) && needed.insert(d.clone()) {
                todo.push(d.clone());
            }
        }
    }
    Ok(Some(Selection {
        run,
        needed,
        label: format!("{flag} {name}"),
    }))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::plan::Stage;

    pub fn stage(name: &str, deps: &[&str], commands: &[&str]) -> Stage {
        Stage {
            name: name.into(),
            vm: None,
            kernel: None,
            commands: commands.iter().map(|c| c.to_string()).collect(),
            artifacts: vec![],
            dependencies: deps.iter().map(|d| d.to_string()).collect(),
            inputs: vec![],
            timeout_secs: 60,
            results: vec![],
        }
    }

    pub fn pipeline(stages: Vec<Stage>) -> Pipeline {
        let order = stages.iter().map(|s| s.name.clone()).collect();
        Pipeline {
            name: "p".into(),
            file: "p.hcl".into(),
            stages,
            order,
        }
    }

    fn set(v: &[&str]) -> BTreeSet<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn from_takes_the_stage_and_its_descendants() {
        let p = pipeline(vec![
            stage("build", &[], &[]),
            stage("lint", &[], &[]),
            stage("unit", &["build"], &[]),
            stage("integration", &["unit", "lint"], &[]),
            stage("docs", &["lint"], &[]),
        ]);
        let s = select(&p, Some("unit"), None).unwrap().unwrap();
        assert_eq!(s.run, set(&["unit", "integration"]));
        assert_eq!(s.needed, set(&["build", "lint"]));
        let s = select(&p, None, Some("integration")).unwrap().unwrap();
        assert_eq!(s.run, set(&["integration"]));
        assert_eq!(s.needed, set(&["build", "lint", "unit"]));
        assert_eq!(select(&p, None, None).unwrap(), None);
    }

    #[test]
    fn an_unknown_stage_is_a_usage_error_with_a_suggestion() {
        let p = pipeline(vec![stage("build", &[], &[]), stage("integration", &["build"], &[])]);
        let err = select(&p, Some("integraton"), None).unwrap_err();
        assert_eq!(crate::error::exit_of(&err), crate::error::Exit::Usage);
        let hint = crate::error::find_fail(&err).unwrap().hint.clone().unwrap();
        assert!(hint.contains("did you mean `integration`"), "{hint}");
    }
}
