//! `--shard I/N`: a deterministic split of a matrix's cells across CI jobs.
//!
//! Cells are sorted by id and dealt round-robin: the k-th id (0-based) goes to shard `k mod N + 1`.
//! Sorting by id, not by declaration order, keeps every job's share stable when a spec reorders its
//! entries, and round-robin spreads one kernel's cells over the jobs instead of giving one job all
//! of the slow ones. Unavailable cells are dealt like any other, so each is reported by exactly one
//! job and merged JUnit files still list it once.

use std::fmt;
use std::str::FromStr;

use anyhow::Result;

/// Shard `index` of `count`, 1-based: `2/4` is the second of four.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    pub index: usize,
    pub count: usize,
}

impl FromStr for Shard {
    type Err = anyhow::Error;

    fn from_str(s: &str) -> Result<Shard> {
        let bad = |why: &str| {
            crate::error::usage(
                format!("--shard {s:?}: {why}"),
                "write --shard I/N with 1 <= I <= N, e.g. --shard 1/4 for the first of four CI jobs",
            )
        };
        let (i, n) = s.split_once('/').ok_or_else(|| bad("expected I/N"))?;
        let index: usize = i.trim().parse().map_err(|_| bad("I is not a whole number"))?;
        let count: usize = n.trim().parse().map_err(|_| bad("N is not a whole number"))?;
        if count == 0 {
            return Err(bad("N must be at least 1"));
        }
        if index == 0 || index > count {
            return Err(bad("I must be between 1 and N (shards are numbered from 1)"));
        }
        Ok(Shard { index, count })
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl Shard {
    /// The items whose ids fall in this shard, in their original order.
    pub fn select<T>(&self, items: Vec<T>, id: impl Fn(&T) -> &str) -> Vec<T> {
        let mut sorted: Vec<String> = items.iter().map(|t| id(t).to_string()).collect();
        sorted.sort_unstable();
        sorted.dedup();
        let mine = |t: &T| {
            sorted
                .binary_search_by(|s| s.as_str().cmp(id(t)))
                .is_ok_and(|k| k % self.count + 1 == self.index)
        };
        items.into_iter().filter(|t| mine(t)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::{Exit, exit_of};

    #[test]
    fn parses_one_based_shards() {
        assert_eq!("2/4".parse::<Shard>().unwrap(), Shard { index: 2, count: 4 });
        assert_eq!("1/1".parse::<Shard>().unwrap(), Shard { index: 1, count: 1 });
        assert_eq!(Shard { index: 3, count: 5 }.to_string(), "3/5");
    }

    #[test]
    fn bad_shards_are_usage_errors() {
        for s in ["0/2", "3/2", "a/b", "1/0", "2", "", "1/2/3", "-1/2"] {
            let err = s.parse::<Shard>().unwrap_err();
            assert_eq!(exit_of(&err), Exit::Usage, "{s}: {err}");
            assert!(err.to_string().contains("--shard"), "{s}: {err}");
        }
    }

    #[test]
    fn shards_partition_the_cells_and_are_stable() {
        let ids = ["7.2/0", "5.10/0", "6.1/0", "6.12/0", "5.10/1", "6.1/1", "6.12/1"];
        for n in 1..=8 {
            let mut seen: Vec<&str> = Vec::new();
            for i in 1..=n {
                let shard = Shard { index: i, count: n };
                let picked = shard.select(ids.to_vec(), |s| s);
                // Each shard gets either floor or ceil of its fair share.
                assert!(
                    picked.len() == ids.len() / n || picked.len() == ids.len().div_ceil(n),
                    "{shard}: {picked:?}"
                );
                seen.extend(picked);
            }
            seen.sort_unstable();
            let mut all = ids.to_vec();
            all.sort_unstable();
            assert_eq!(seen, all, "with {n} shards every cell runs exactly once");
        }
        // Reordering the input does not move cells between shards.
        let mut reversed = ids.to_vec();
        reversed.reverse();
        let a = Shard { index: 1, count: 3 }.select(ids.to_vec(), |s| s);
        let mut b = Shard { index: 1, count: 3 }.select(reversed, |s| s);
        b.reverse();
        assert_eq!(a, b);
        // Sorted ids: 5.10/0 5.10/1 6.1/0 6.1/1 6.12/0 6.12/1 7.2/0 → shard 1 of 3 takes 0, 3, 6.
        assert_eq!(a, vec!["7.2/0", "5.10/0", "6.1/1"]);
    }
}
