//! `pipeline { name stages = [ { name vm kernel commands artifacts dependencies inputs timeout results } ] }`.

use std::collections::HashMap;

use super::fields::{At, Cx, Fields};
use super::named::{self, Words};
use crate::spec::graph::find_cycle;
use crate::spec::model::{PipelineSpec, StageSpec};
use crate::spec::syntax::{Block, Expr};

pub fn read(cx: &mut Cx, b: &Block) -> Option<PipelineSpec> {
    cx.labels(b, 0, "pipeline { ... } with name = \"...\" and stages = [ ... ] on lines of their own");
    let f = Fields::body("pipeline", b.ident.span.clone(), &b.body);
    f.check(cx, &[], &[]);
    let name = f.require(cx, "name", "name = \"ci\"").and_then(|e| cx.name(e, "name"));
    let stages_expr = f.require(
        cx,
        "stages",
        "stages = [ { name = \"build\", commands = [\"orca build\"] } ]",
    )?;
    let words = Words {
        attr: "stages",
        kind: "stage",
        one: "stage",
        each: "stage",
        many: "stages",
        example: "{ name = \"build\", commands = [\"orca build\"] }",
    };
    let stages = named::read(cx, stages_expr, &words, read_stage, |s| &s.name)?;
    check_dependencies(cx, &stages);
    Some(PipelineSpec { name: name?, stages })
}

fn read_stage(cx: &mut Cx, f: &Fields) -> Option<StageSpec> {
    f.check(cx, &[], &[]);
    let name = f
        .require(cx, "name", "name = \"build\"")
        .and_then(|e| cx.name(e, "name"));
    let vm = f.get("vm").and_then(|e| cx.name(e, "vm")).filter(|v| v.value != "host");
    let kernel_expr = f.get("kernel");
    let kernel = kernel_expr.and_then(|e| {
        Some(At {
            value: cx.version(e, "kernel")?,
            loc: cx.loc(e.span.clone()),
        })
    });
    if let (Some(k), None) = (&kernel, &vm) {
        cx.error(
            k.loc.span.clone(),
            "`kernel` is set but the stage runs on the host",
            "add vm = \"NAME\" to run the stage in a VM, or remove `kernel`",
        );
    }
    let commands_expr = f.require(cx, "commands", "commands = [\"...\"]");
    let commands = commands_expr.and_then(|e| {
        let c = cx.strings(e, "commands")?;
        if c.is_empty() {
            cx.error(
                e.span.clone(),
                "`commands` is empty",
                "list the commands the stage runs",
            );
        }
        Some(c)
    });
    let artifacts = f
        .get("artifacts")
        .map(|e| globs(cx, e, "artifacts"))
        .unwrap_or(Some(Vec::new()));
    let inputs = f
        .get("inputs")
        .map(|e| globs(cx, e, "inputs"))
        .unwrap_or(Some(Vec::new()));
    let mut dependencies = Vec::new();
    if let Some(e) = f.get("dependencies") {
        for item in cx.list(e, "dependencies").unwrap_or_default() {
            if let Some(d) = cx.name(&item, "dependencies element") {
                dependencies.push(d);
            }
        }
    }
    let timeout_secs = f.get("timeout").and_then(|e| cx.duration(e, "timeout"));
    let results = f
        .get("results")
        .map(|e| super::matrix::results(cx, e))
        .unwrap_or_default();
    Some(StageSpec {
        name: name?,
        vm,
        kernel,
        commands: commands?,
        artifacts: artifacts?,
        dependencies,
        inputs: inputs?,
        timeout_secs,
        results,
    })
}

/// A list of project-relative globs.
fn globs(cx: &mut Cx, e: &Expr, what: &str) -> Option<Vec<String>> {
    let items = cx.list(e, what)?;
    let mut out = Vec::new();
    for item in &items {
        let Some(g) = cx.string(item, &format!("{what} element")) else {
            continue;
        };
        if g.starts_with('/') || g.split('/').any(|c| c == "..") {
            cx.error(
                item.span.clone(),
                format!("\"{g}\" must be a path inside the project"),
                "write a project-relative glob such as \"build/ebpf/*.o\"",
            );
        } else if let Err(err) = glob::Pattern::new(&g) {
            cx.error(
                item.span.clone(),
                format!("\"{g}\" is not a valid glob: {}", err.msg),
                "write a glob such as \"build/ebpf/*.o\"",
            );
        } else {
            out.push(g);
        }
    }
    Some(out)
}

/// Reports dependencies on unknown stages and dependency cycles (naming the cycle).
fn check_dependencies(cx: &mut Cx, stages: &[StageSpec]) {
    let by_name: HashMap<&str, usize> = stages
        .iter()
        .enumerate()
        .map(|(i, s)| (s.name.value.as_str(), i))
        .collect();
    let index = |n: &str| by_name.get(n).copied();
    let mut deps: Vec<Vec<usize>> = Vec::with_capacity(stages.len());
    for s in stages {
        let mut d = Vec::new();
        for dep in &s.dependencies {
            match index(&dep.value) {
                Some(i) => d.push(i),
                None => {
                    let names = stages.iter().map(|s| s.name.value.as_str());
                    let hint = match crate::spec::diag::did_you_mean(&dep.value, names) {
                        Some(n) => format!("did you mean \"{n}\"?"),
                        None => format!(
                            "the stages are: {}",
                            stages
                                .iter()
                                .map(|s| s.name.value.as_str())
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                    };
                    cx.error(
                        dep.loc.span.clone(),
                        format!("stage \"{}\" depends on unknown stage \"{}\"", s.name.value, dep.value),
                        hint,
                    );
                }
            }
        }
        deps.push(d);
    }
    // Report each cycle once, then cut it so the next search finds any other.
    while let Some(cycle) = find_cycle(&deps) {
        let mut names: Vec<&str> = cycle.iter().map(|&i| stages[i].name.value.as_str()).collect();
        names.push(names[0]);
        let first = cycle[0];
        let next = cycle.get(1).copied().unwrap_or(first);
        let at = stages[first]
            .dependencies
            .iter()
            .find(|d| d.value == stages[next].name.value)
            .map(|d| d.loc.span.clone());
        let span = at.unwrap_or(stages[first].name.loc.span.clone());
        cx.error(
            span,
            format!("dependency cycle: {}", names.join(" -> ")),
            "remove one of these dependencies; stages run in dependency order, so a cycle can never start",
        );
        deps[first].retain(|d| *d != next);
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use crate::spec::{Input, diag::Diagnostic, model::Specs};

    /// Reads one spec file of `text`.
    pub fn load(text: &str) -> (Specs, Vec<Diagnostic>) {
        let d = tempfile::tempdir().unwrap();
        let path = d.path().join("spec.hcl");
        std::fs::write(&path, text).unwrap();
        crate::spec::load(&[Input {
            path,
            display: "spec.hcl".into(),
        }])
    }

    #[test]
    fn a_stage_reads_its_result_globs() {
        let (specs, diags) = load(
            "schema_version = \"1.0\"\npipeline {\n  name = \"p\"\n  stages = [\n    { name = \"t\", commands = [\"make test\"], results = [\"build/test-results/*.xml\", \"out.xml\"] },\n    { name = \"u\", commands = [\"true\"] },\n  ]\n}\n",
        );
        assert!(diags.is_empty(), "{diags:?}");
        let stages = &specs.pipelines[0].stages;
        assert_eq!(stages[0].results, ["build/test-results/*.xml", "out.xml"]);
        assert!(stages[1].results.is_empty());
    }

    #[test]
    fn a_stage_with_bad_results_is_a_located_error() {
        let (_, diags) = load(
            "schema_version = \"1.0\"\npipeline {\n  name = \"p\"\n  stages = [\n    { name = \"t\", commands = [\"true\"], results = [\"a/[x.xml\"] },\n  ]\n}\n",
        );
        assert_eq!(diags.len(), 1, "{diags:?}");
        assert_eq!((diags[0].line, diags[0].column), (5, 50), "{diags:?}");
        assert!(diags[0].message.contains("\"a/[x.xml\" is not a valid glob"), "{diags:?}");
        let (_, diags) = load(
            "schema_version = \"1.0\"\npipeline {\n  name = \"p\"\n  stages = [\n    { name = \"t\", commands = [\"true\"], results = \"out.xml\" },\n  ]\n}\n",
        );
        assert_eq!(diags.len(), 1, "{diags:?}");
        assert!(diags[0].message.contains("results"), "{diags:?}");
    }
}
