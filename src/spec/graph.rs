//! Dependency graphs: cycles (for errors) and a stable topological order (for the plan).
//!
//! `deps[i]` lists the nodes node `i` depends on. Both walks are iterative, so a long chain of
//! stages cannot overflow the stack.

/// A dependency cycle, as node indices `a, b, c` meaning `a -> b -> c -> a`, if there is one.
/// Cycles are searched from each node in order, so the one reported is stable.
pub fn find_cycle(deps: &[Vec<usize>]) -> Option<Vec<usize>> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        Active,
        Done,
    }
    let n = deps.len();
    let mut mark = vec![Mark::New; n];
    for root in 0..n {
        if mark[root] != Mark::New {
            continue;
        }
        // (node, next dependency to visit); the stack is the current path.
        let mut stack: Vec<(usize, usize)> = vec![(root, 0)];
        mark[root] = Mark::Active;
        while let Some(top) = stack.last_mut() {
            let node = top.0;
            if let Some(&dep) = deps[node].get(top.1) {
                top.1 += 1;
                if dep >= n {
                    continue;
                }
                match mark[dep] {
                    Mark::New => {
                        mark[dep] = Mark::Active;
                        stack.push((dep, 0));
                    }
                    Mark::Active => {
                        let start = stack.iter().position(|(x, _)| *x == dep).unwrap_or(0);
                        return Some(stack[start..].iter().map(|(x, _)| *x).collect());
                    }
                    Mark::Done => {}
                }
            } else {
                mark[node] = Mark::Done;
                stack.pop();
            }
        }
    }
    None
}

/// A topological order (dependencies first), ties broken by index; `None` if there is a cycle.
pub fn topo_order(deps: &[Vec<usize>]) -> Option<Vec<usize>> {
    let n = deps.len();
    let mut waiting: Vec<usize> = deps.iter().map(|d| d.iter().filter(|x| **x < n).count()).collect();
    let mut dependants: Vec<Vec<usize>> = vec![Vec::new(); n];
    for (i, d) in deps.iter().enumerate() {
        for &x in d.iter().filter(|x| **x < n) {
            dependants[x].push(i);
        }
    }
    let mut ready: std::collections::BTreeSet<usize> = (0..n).filter(|i| waiting[*i] == 0).collect();
    let mut order = Vec::with_capacity(n);
    while let Some(i) = ready.pop_first() {
        order.push(i);
        for &j in &dependants[i] {
            waiting[j] -= 1;
            if waiting[j] == 0 {
                ready.insert(j);
            }
        }
    }
    (order.len() == n).then_some(order)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_and_names_cycles() {
        // 0 -> 1 -> 2 -> 0, 3 alone
        let deps = vec![vec![1], vec![2], vec![0], vec![]];
        assert_eq!(find_cycle(&deps), Some(vec![0, 1, 2]));
        assert_eq!(find_cycle(&[vec![0]]), Some(vec![0]));
        assert_eq!(find_cycle(&[vec![], vec![0], vec![0, 1]]), None);
        // A cycle not reachable from node 0.
        assert_eq!(find_cycle(&[vec![], vec![2], vec![1]]), Some(vec![1, 2]));
    }

    #[test]
    fn orders_dependencies_first_ties_by_declaration() {
        // build(0) <- unit(1); build <- integration(2) <- performance(3)
        let deps = vec![vec![], vec![0], vec![0, 1], vec![2]];
        assert_eq!(topo_order(&deps), Some(vec![0, 1, 2, 3]));
        assert_eq!(topo_order(&[vec![1], vec![]]), Some(vec![1, 0]));
        assert_eq!(topo_order(&[vec![1], vec![0]]), None);
    }

    #[test]
    fn long_chains_do_not_overflow() {
        let n = 200_000;
        let mut deps: Vec<Vec<usize>> = (0..n).map(|i| if i + 1 < n { vec![i + 1] } else { vec![] }).collect();
        assert_eq!(find_cycle(&deps), None);
        assert_eq!(topo_order(&deps).unwrap()[0], n - 1);
        deps[n - 1] = vec![0];
        assert_eq!(find_cycle(&deps).unwrap().len(), n);
    }
}
