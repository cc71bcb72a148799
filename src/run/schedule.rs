//! Runs jobs on threads, as many at once as the [`Budget`] allows, starting them in order.
//!
//! Jobs start first-come first-served: a job that does not fit waits for running ones to finish,
//! and later jobs wait behind it, so the order cells start in is the order they were given. After
//! Ctrl-C no new job starts; the running ones see the signal through their subprocesses.

use std::collections::VecDeque;
use std::sync::mpsc;

use super::budget::{Budget, Cost};

/// Runs `work` on every job, within `budget`. The results come back in the jobs' order; `None`
/// for a job that never started (interrupted first).
pub fn run_all<T, R>(
    jobs: Vec<T>,
    budget: Budget,
    cost: impl Fn(&T) -> Cost,
    work: impl Fn(T) -> R + Sync,
) -> Vec<Option<R>>
where
    T: Send,
    R: Send,
{
    let mut results: Vec<Option<R>> = jobs.iter().map(|_| None).collect();
    let mut pending: VecDeque<(usize, Cost, T)> = jobs.into_iter().enumerate().map(|(i, j)| (i, cost(&j), j)).collect();
    let (tx, rx) = mpsc::channel::<(usize, Cost, R)>();
    let work = &work;
    std::thread::scope(|scope| {
        let mut running = 0usize;
        let mut used = Cost::default();
        loop {
            while !crate::process::interrupted() {
                let Some((_, c, _)) = pending.front() else { break };
                if !budget.fits(running, used, *c) {
                    break;
                }
                let (i, c, job) = pending.pop_front().expect("front exists");
                running += 1;
                used = Cost {
                    cpus: used.cpus + c.cpus,
                    memory_mib: used.memory_mib + c.memory_mib,
                };
                let tx = tx.clone();
                scope.spawn(move || {
                    let r = work(job);
                    let _ = tx.send((i, c, r));
                });
            }
            if running == 0 {
                break;
            }
            let Ok((i, c, r)) = rx.recv() else { break };
            running -= 1;
            used = Cost {
                cpus: used.cpus - c.cpus,
                memory_mib: used.memory_mib - c.memory_mib,
            };
            results[i] = Some(r);
        }
    });
    results
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    #[test]
    fn never_exceeds_the_budget_and_keeps_order() {
        let budget = Budget::new(2, 64 * 1024);
        let now = AtomicUsize::new(0);
        let peak = AtomicUsize::new(0);
        let started = Mutex::new(Vec::new());
        let out = run_all(
            (0..7).collect(),
            budget,
            |_| Cost::guest(2, 1024),
            |i: usize| {
                started.lock().unwrap().push(i);
                let n = now.fetch_add(1, Ordering::SeqCst) + 1;
                peak.fetch_max(n, Ordering::SeqCst);
                std::thread::sleep(Duration::from_millis(30));
                now.fetch_sub(1, Ordering::SeqCst);
                i * 10
            },
        );
        assert_eq!(peak.load(Ordering::SeqCst), 2);
        assert_eq!(out, (0..7).map(|i| Some(i * 10)).collect::<Vec<_>>());
        let started = started.into_inner().unwrap();
        // Jobs start in order (two at a time, so neighbours may swap their first lines).
        for (k, i) in started.iter().enumerate() {
            assert!(i.abs_diff(k) <= 1, "{started:?}");
        }
    }

    fn peak(budget: Budget, jobs: usize, each: Cost) -> usize {
        let now = AtomicUsize::new(0);
        let peak = AtomicUsize::new(0);
        run_all(
            vec![(); jobs],
            budget,
            |_| each,
            |_| {
                let n = now.fetch_add(1, Ordering::SeqCst) + 1;
                peak.fetch_max(n, Ordering::SeqCst);
                std::thread::sleep(Duration::from_millis(50));
                now.fetch_sub(1, Ordering::SeqCst);
            },
        );
        peak.into_inner()
    }

    #[test]
    fn runs_in_parallel_when_the_budget_allows() {
        assert_eq!(peak(Budget::new(4, 64 * 1024), 6, Cost::guest(1, 256)), 4);
    }

    #[test]
    fn one_at_a_time_when_limited() {
        assert_eq!(peak(Budget::new(4, 64 * 1024).limit_jobs(1), 3, Cost::guest(1, 256)), 1);
    }
}
