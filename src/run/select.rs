//! Which cells a run takes: `--kernel` filters them (then `--shard`, see [`super::shard`]).
//! `--test` globs are checked here and handed to the suite, which runs only the tests they match.

use anyhow::Result;

use crate::error::usage;
use crate::plan::Cell;

/// The cells of `cells` on the kernels named (all when none is named). Unavailable cells are
/// kept: they are reported, never dropped.
pub fn cells(cells: &[Cell], kernels: &[String]) -> Result<Vec<Cell>> {
    let mut known: Vec<&str> = Vec::new();
    for c in cells {
        if !known.contains(&c.kernel.as_str()) {
            known.push(&c.kernel);
        }
    }
    for k in kernels {
        if !known.contains(&k.as_str()) {
            return Err(unknown_kernel(
                k,
                &known,
                &format!("--kernel {k}: no cell runs kernel {k}"),
            ));
        }
    }
    Ok(cells
        .iter()
        .filter(|c| kernels.is_empty() || kernels.contains(&c.kernel))
        .cloned()
        .collect())
}

/// Checks `--test` globs so that a typo is a usage error here, not a failure in every guest.
pub fn test_globs(globs: &[String]) -> Result<()> {
    for g in globs {
        glob::Pattern::new(g).map_err(|e| {
            usage(
                format!("--test {g:?} is not a valid glob: {e}"),
                "use * and ? as wildcards, e.g. --test 'xdp_*'",
            )
        })?;
    }
    Ok(())
}

/// A usage error saying `problem` about kernel `k`, with the nearest of the `known` kernels.
pub fn unknown_kernel(k: &str, known: &[&str], problem: &str) -> anyhow::Error {
    let near = known
        .iter()
        .copied()
        .max_by(|a, b| strsim::jaro_winkler(k, a).total_cmp(&strsim::jaro_winkler(k, b)));
    let list = known.join(", ");
    let hint = match near.filter(|n| strsim::jaro_winkler(k, n) > 0.8) {
        Some(n) => format!("did you mean {n}? the kernels are: {list}"),
        None => format!("the kernels are: {list}"),
    };
    usage(problem, hint)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::{Exit, exit_of};

    fn cell(kernel: &str, n: usize) -> Cell {
        Cell {
            id: format!("{kernel}/{n}"),
            name: kernel.into(),
            image: "host".into(),
            kernel: kernel.into(),
            command: "make test".into(),
            unavailable: (kernel == "5.4").then(|| "no source".to_string()),
        }
    }

    fn ids(cells: &[Cell]) -> Vec<&str> {
        cells.iter().map(|c| c.id.as_str()).collect()
    }

    #[test]
    fn filters_by_kernel_keeping_unavailable_cells() {
        let all = vec![
            cell("5.4", 0),
            cell("5.10", 0),
            cell("6.1", 0),
            cell("6.12", 0),
            cell("7.2", 0),
        ];
        assert_eq!(ids(&cells(&all, &[]).unwrap()).len(), 5, "unavailable cells are kept");
        let k = vec!["6.1".to_string(), "5.10".to_string()];
        assert_eq!(ids(&cells(&all, &k).unwrap()), ["5.10/0", "6.1/0"]);
        // Unavailable cells are dealt to shards like the others. Sorted: 5.10/0 5.4/0 6.1/0 6.12/0
        // 7.2/0 → shard 2 of 2 takes 5.4/0 and 6.12/0.
        let shard: crate::run::shard::Shard = "2/2".parse().unwrap();
        assert_eq!(
            ids(&shard.select(cells(&all, &[]).unwrap(), |c| c.id.as_str())),
            ["5.4/0", "6.12/0"]
        );
    }

    #[test]
    fn an_unknown_kernel_is_a_usage_error_with_a_suggestion() {
        let all = vec![cell("5.10", 0), cell("6.12", 0)];
        let err = cells(&all, &["6.13".to_string()]).unwrap_err();
        assert_eq!(exit_of(&err), Exit::Usage);
        let hint = crate::error::find_fail(&err).unwrap().hint.clone().unwrap();
        assert!(hint.contains("did you mean 6.12?"), "{hint}");
    }

    #[test]
    fn bad_test_globs_are_usage_errors() {
        assert!(test_globs(&["xdp_*".into(), "tc_egress/ipv?".into()]).is_ok());
        let err = test_globs(&["xdp_[".into()]).unwrap_err();
        assert_eq!(exit_of(&err), Exit::Usage);
    }
}
