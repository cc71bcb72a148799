//! The host's budget for guests: how many VMs may run at once.
//!
//! - At most one guest per host core. Under TCG a guest keeps a core busy for its whole life, and
//!   more guests than cores only makes each one slower (and its deadline likelier to pass).
//! - vCPUs may be overcommitted twice over: a guest's vCPUs are mostly idle outside the test
//!   itself, so two 2-vCPU guests on a 2-core host finish sooner together than one after the other.
//! - Memory is not overcommitted: the guests' memory plus QEMU's own must fit in what the host
//!   reports as available (`MemAvailable`), less a reserve for the host.
//!
//! A cell larger than the whole budget still runs, alone, rather than never.

/// What one running guest takes from the host.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Cost {
    pub cpus: u32,
    pub memory_mib: u64,
}

/// vCPUs allowed per host core.
const VCPU_OVERCOMMIT: u32 = 2;
/// QEMU's own memory beside the guest's (device model, TCG translation cache).
pub const QEMU_OVERHEAD_MIB: u64 = 160;
/// Memory left to the host and to orca itself.
const HOST_RESERVE_MIB: u64 = 512;

/// The host's capacity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    /// Guests at once.
    pub jobs: usize,
    /// vCPUs at once.
    pub cpus: u32,
    /// MiB of guest memory (QEMU's overhead included) at once.
    pub memory_mib: u64,
}

impl Budget {
    /// The budget of this host: its cores and its available memory.
    pub fn from_host() -> Budget {
        let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
        let available = std::fs::read_to_string("/proc/meminfo")
            .ok()
            .and_then(|m| mem_available_mib(&m))
            .unwrap_or(2048);
        Budget::new(cores, available)
    }

    /// The budget of a host with `cores` cores and `available_mib` of available memory.
    pub fn new(cores: usize, available_mib: u64) -> Budget {
        let cores = cores.max(1);
        Budget {
            jobs: cores,
            cpus: cores as u32 * VCPU_OVERCOMMIT,
            memory_mib: available_mib.saturating_sub(HOST_RESERVE_MIB).max(QEMU_OVERHEAD_MIB),
        }
    }

    /// Whether `cells` guests of `cost`, as many at once as this budget lets run, have more vCPUs
    /// together than the host has cores. Under TCG a vCPU thread keeps a core busy, so the guests'
    /// threads would then only contend.
    pub fn crowded(&self, cost: Cost, cells: usize) -> bool {
        let at_once = self.jobs.min(cells).max(1) as u32;
        let by_cpus = (self.cpus / cost.cpus.max(1)).max(1);
        let by_memory = (self.memory_mib / cost.memory_mib.max(1)).clamp(1, u32::MAX as u64) as u32;
        at_once.min(by_cpus).min(by_memory) * cost.cpus > self.cores()
    }

    /// The host cores this budget was made for.
    pub fn cores(&self) -> u32 {
        self.cpus / VCPU_OVERCOMMIT
    }

    /// The same budget with at most `jobs` guests at once (`--jobs`, `parallel = false`).
    pub fn limit_jobs(self, jobs: usize) -> Budget {
        Budget {
            jobs: jobs.max(1),
            ..self
        }
    }

    /// Whether one more guest costing `next` fits beside `running` guests costing `used` in total.
    pub fn fits(&self, running: usize, used: Cost, next: Cost) -> bool {
        running == 0
            || (running < self.jobs
                && used.cpus + next.cpus <= self.cpus
                && used.memory_mib + next.memory_mib <= self.memory_mib)
    }

    /// How many guests costing `each` can run at once.
    pub fn parallelism(&self, each: Cost) -> usize {
        let mut n = 0;
        let mut used = Cost::default();
        while n < self.jobs && self.fits(n, used, each) {
            n += 1;
            used = Cost {
                cpus: used.cpus + each.cpus,
                memory_mib: used.memory_mib + each.memory_mib,
            };
        }
        n.max(1)
    }
}

impl Cost {
    /// The cost of a guest with `cpus` vCPUs and `memory_mib` of memory.
    pub fn guest(cpus: u32, memory_mib: u64) -> Cost {
        Cost {
            cpus: cpus.max(1),
            memory_mib: memory_mib + QEMU_OVERHEAD_MIB,
        }
    }
}

/// `MemAvailable` from `/proc/meminfo`, in MiB.
fn mem_available_mib(meminfo: &str) -> Option<u64> {
    let line = meminfo.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_cores_run_two_tcg_guests() {
        let b = Budget::new(2, 24 * 1024);
        assert_eq!(b.parallelism(Cost::guest(2, 1024)), 2);
        assert_eq!(b.parallelism(Cost::guest(1, 512)), 2, "never more guests than cores");
        assert_eq!(
            b.parallelism(Cost::guest(4, 1024)),
            1,
            "4 vCPUs fill a 2-core host's overcommit"
        );
    }

    #[test]
    fn memory_limits_the_guests() {
        let b = Budget::new(16, 4096);
        // 4096 - 512 reserve = 3584; each guest takes 1024 + 160.
        assert_eq!(b.parallelism(Cost::guest(2, 1024)), 3);
        assert!(
            b.fits(0, Cost::default(), Cost::guest(2, 64 * 1024)),
            "an oversized guest still runs alone"
        );
        assert!(!b.fits(1, Cost::guest(2, 1024), Cost::guest(2, 64 * 1024)));
    }

    #[test]
    fn jobs_limit_overrides_the_cores() {
        let b = Budget::new(8, 64 * 1024).limit_jobs(1);
        assert_eq!(b.parallelism(Cost::guest(1, 256)), 1);
        assert_eq!(Budget::new(8, 64 * 1024).limit_jobs(0).jobs, 1);
    }

    #[test]
    fn reads_mem_available() {
        let m = "MemTotal:       24576000 kB\nMemFree:  1000 kB\nMemAvailable:   24053288 kB\n";
        assert_eq!(mem_available_mib(m), Some(23489));
        assert_eq!(mem_available_mib("MemTotal: 1 kB\n"), None);
    }

    #[test]
    fn crowded_when_the_guests_at_once_have_more_vcpus_than_cores() {
        let two_cores = Budget::new(2, 24_000);
        let guest = |cpus| Cost::guest(cpus, 1024);
        assert!(two_cores.crowded(guest(2), 4), "two 2-vCPU guests on 2 cores");
        assert!(!two_cores.crowded(guest(2), 1), "one 2-vCPU guest on 2 cores");
        assert!(!two_cores.limit_jobs(1).crowded(guest(2), 4), "--jobs 1");
        assert!(!two_cores.crowded(guest(1), 4), "two 1-vCPU guests on 2 cores");
        assert!(Budget::new(1, 24_000).crowded(guest(2), 1), "a 2-vCPU guest on 1 core");
        assert!(
            !Budget::new(16, 24_000).crowded(guest(2), 4),
            "four 2-vCPU guests on 16 cores"
        );
        assert!(
            !Budget::new(2, 1700).crowded(guest(2), 4),
            "memory lets one guest run at a time"
        );
    }
}
