//! Each program loaded once for the whole suite, with its maps taken out as typed handles, plus
//! what every test needs: a reset to a known state, a test run, counters to compare.

use std::path::Path;

use anyhow::{Context, Result, anyhow, bail};
use aya::maps::{Array, HashMap, LpmTrie, MapData, PerCpuArray, PerCpuValues, RingBuf};
use aya::programs::{CgroupSkb, SchedClassifier, Xdp};
use aya::{Ebpf, TestRun, TestRunOptions};

use crate::programs::cgroup_events::{self as cg, CgConfig, CgroupStats};
use crate::programs::common::{Counter, PortKey, PortRule, counter_totals};
use crate::programs::tc_egress_policy::{self as tc, TcConfig};
use crate::programs::xdp_blocklist::{self as xdp, BlocklistRule};
use crate::programs::{LoadError, LoadStage, Program, load_from_dir};

use super::{Body, Fixture};

macro_rules! fixture {
    ($t:ty, $program:expr, $cases:path) => {
        impl Fixture for $t {
            const PROGRAM: Program = $program;
            fn load(dir: &Path) -> Result<Self, LoadError> {
                <$t>::open(dir)
            }
            fn reset(&mut self) -> Result<()> {
                self.clear()
            }
            fn summary(&self) -> String {
                summary(
                    self.program()
                        .map_err(|e| e.to_string())
                        .and_then(|p| p.info().map_err(|e| e.to_string())),
                )
            }
            fn cases() -> Vec<(&'static str, Body<Self>)> {
                $cases()
            }
        }
    };
}

fixture!(XdpFixture, Program::XdpBlocklist, super::xdp::cases);
fixture!(TcFixture, Program::TcEgressPolicy, super::tc::cases);
fixture!(CgFixture, Program::CgroupEvents, super::cgroup::cases);

fn summary(info: Result<aya::programs::ProgramInfo, String>) -> String {
    match info {
        Ok(i) => {
            let mut s = format!("loaded as program id {}", i.id());
            if let Some(n) = i.verified_instruction_count() {
                s.push_str(&format!(", {n} instructions verified"));
            }
            if let Some(b) = i.size_translated() {
                s.push_str(&format!(", {b} B translated"));
            }
            s
        }
        Err(e) => format!("loaded (no program info: {e})"),
    }
}

pub struct XdpFixture {
    pub ebpf: Ebpf,
    pub v4: LpmTrie<MapData, [u8; 4], BlocklistRule>,
    pub v6: LpmTrie<MapData, [u8; 16], BlocklistRule>,
    pub counters: PerCpuArray<MapData, Counter>,
}

pub struct TcFixture {
    pub ebpf: Ebpf,
    pub rules: HashMap<MapData, PortKey, PortRule>,
    pub config: Array<MapData, TcConfig>,
    pub counters: PerCpuArray<MapData, Counter>,
}

pub struct CgFixture {
    pub ebpf: Ebpf,
    pub watch: HashMap<MapData, PortKey, PortRule>,
    pub stats: HashMap<MapData, u64, CgroupStats>,
    pub config: Array<MapData, CgConfig>,
    pub counters: PerCpuArray<MapData, Counter>,
    pub events: RingBuf<MapData>,
}

/// Takes a map out of the object as the typed handle the tests use.
fn take<T: TryFrom<aya::maps::Map, Error = aya::maps::MapError>>(
    ebpf: &mut Ebpf,
    program: Program,
    name: &str,
) -> Result<T, LoadError> {
    let err = |message: String| LoadError {
        program,
        stage: LoadStage::Object,
        message,
        verifier_log: None,
    };
    let map = ebpf
        .take_map(name)
        .ok_or_else(|| err(format!("the object has no map `{name}`")))?;
    T::try_from(map).map_err(|e| err(format!("map `{name}`: {e}")))
}

impl XdpFixture {
    fn open(dir: &Path) -> Result<XdpFixture, LoadError> {
        let p = Program::XdpBlocklist;
        let mut ebpf = load_from_dir(dir, p)?;
        Ok(XdpFixture {
            v4: take(&mut ebpf, p, xdp::BLOCKLIST_V4)?,
            v6: take(&mut ebpf, p, xdp::BLOCKLIST_V6)?,
            counters: take(&mut ebpf, p, xdp::COUNTERS)?,
            ebpf,
        })
    }

    pub fn program(&self) -> Result<&Xdp> {
        Ok(self.ebpf.program(xdp::PROGRAM).context("program missing")?.try_into()?)
    }

    pub fn program_mut(&mut self) -> Result<&mut Xdp> {
        Ok(self
            .ebpf
            .program_mut(xdp::PROGRAM)
            .context("program missing")?
            .try_into()?)
    }

    /// Runs one frame through BPF_PROG_TEST_RUN; the XDP action.
    pub fn run(&self, frame: &[u8]) -> Result<u32> {
        test_run(self.program()?, frame)
    }

    fn clear(&mut self) -> Result<()> {
        let keys: Vec<_> = self.v4.keys().collect::<Result<_, _>>()?;
        for k in keys {
            self.v4.remove(&k)?;
        }
        let keys: Vec<_> = self.v6.keys().collect::<Result<_, _>>()?;
        for k in keys {
            self.v6.remove(&k)?;
        }
        zero_counters(&mut self.counters)
    }

    pub fn counters(&self) -> Result<Vec<Counter>> {
        Ok(counter_totals(&self.counters)?)
    }
}

impl TcFixture {
    fn open(dir: &Path) -> Result<TcFixture, LoadError> {
        let p = Program::TcEgressPolicy;
        let mut ebpf = load_from_dir(dir, p)?;
        Ok(TcFixture {
            rules: take(&mut ebpf, p, tc::RULES)?,
            config: take(&mut ebpf, p, tc::CONFIG)?,
            counters: take(&mut ebpf, p, tc::COUNTERS)?,
            ebpf,
        })
    }

    pub fn program(&self) -> Result<&SchedClassifier> {
        Ok(self.ebpf.program(tc::PROGRAM).context("program missing")?.try_into()?)
    }

    pub fn program_mut(&mut self) -> Result<&mut SchedClassifier> {
        Ok(self
            .ebpf
            .program_mut(tc::PROGRAM)
            .context("program missing")?
            .try_into()?)
    }

    /// Runs one frame (from its Ethernet header) through BPF_PROG_TEST_RUN; the tc verdict.
    pub fn run(&self, frame: &[u8]) -> Result<u32> {
        test_run(self.program()?, frame)
    }

    fn clear(&mut self) -> Result<()> {
        let keys: Vec<PortKey> = self.rules.keys().collect::<Result<_, _>>()?;
        for k in keys {
            self.rules.remove(&k)?;
        }
        self.config.set(0, TcConfig::default(), 0)?;
        zero_counters(&mut self.counters)
    }

    pub fn counters(&self) -> Result<Vec<Counter>> {
        Ok(counter_totals(&self.counters)?)
    }

    pub fn hits(&self, key: PortKey) -> Result<u64> {
        Ok(self.rules.get(&key, 0)?.hits)
    }
}

impl CgFixture {
    fn open(dir: &Path) -> Result<CgFixture, LoadError> {
        let p = Program::CgroupEvents;
        let mut ebpf = load_from_dir(dir, p)?;
        Ok(CgFixture {
            watch: take(&mut ebpf, p, cg::WATCH)?,
            stats: take(&mut ebpf, p, cg::STATS)?,
            config: take(&mut ebpf, p, cg::CONFIG)?,
            counters: take(&mut ebpf, p, cg::COUNTERS)?,
            events: take(&mut ebpf, p, cg::EVENTS)?,
            ebpf,
        })
    }

    pub fn program(&self) -> Result<&CgroupSkb> {
        Ok(self.ebpf.program(cg::PROGRAM).context("program missing")?.try_into()?)
    }

    pub fn program_mut(&mut self) -> Result<&mut CgroupSkb> {
        Ok(self
            .ebpf
            .program_mut(cg::PROGRAM)
            .context("program missing")?
            .try_into()?)
    }

    /// Runs one frame through BPF_PROG_TEST_RUN. The kernel strips the Ethernet header, so the
    /// program sees the IP packet; the verdict is 1 (pass) or 0 (drop).
    pub fn run(&self, frame: &[u8]) -> Result<u32> {
        test_run(self.program()?, frame)
    }

    fn clear(&mut self) -> Result<()> {
        let keys: Vec<PortKey> = self.watch.keys().collect::<Result<_, _>>()?;
        for k in keys {
            self.watch.remove(&k)?;
        }
        let ids: Vec<u64> = self.stats.keys().collect::<Result<_, _>>()?;
        for id in ids {
            self.stats.remove(&id)?;
        }
        self.config.set(0, CgConfig::default(), 0)?;
        self.drain_events();
        zero_counters(&mut self.counters)
    }

    /// Every event waiting in the ring buffer, oldest first.
    pub fn drain_events(&mut self) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        while let Some(item) = self.events.next() {
            out.push(item.to_vec());
        }
        out
    }

    pub fn counters(&self) -> Result<Vec<Counter>> {
        Ok(counter_totals(&self.counters)?)
    }
}

fn test_run<P: TestRun<Result = aya::TestRunResult> + for<'a> TestRun<Opts<'a> = TestRunOptions<'a>>>(
    program: &P,
    data: &[u8],
) -> Result<u32> {
    let opts = TestRunOptions {
        data_in: Some(data),
        ..Default::default()
    };
    let r = program
        .test_run(opts)
        .map_err(|e| anyhow::Error::new(e).context(format!("BPF_PROG_TEST_RUN of a {}-byte frame", data.len())))?;
    Ok(r.return_value)
}

/// The kernel's mean time per run over `repeat` runs of one frame.
pub fn bench_run<P: TestRun<Result = aya::TestRunResult> + for<'a> TestRun<Opts<'a> = TestRunOptions<'a>>>(
    program: &P,
    data: &[u8],
    repeat: u32,
) -> Result<(u32, std::time::Duration)> {
    let opts = TestRunOptions {
        data_in: Some(data),
        repeat,
        ..Default::default()
    };
    let r = program
        .test_run(opts)
        .map_err(|e| anyhow::Error::new(e).context(format!("BPF_PROG_TEST_RUN of a {}-byte frame", data.len())))?;
    Ok((r.return_value, r.duration))
}

fn zero_counters(map: &mut PerCpuArray<MapData, Counter>) -> Result<()> {
    let cpus = aya::util::nr_cpus().map_err(|(what, e)| anyhow!("{what}: {e}"))?;
    for i in 0..map.len() {
        let zeros = PerCpuValues::try_from(vec![Counter::default(); cpus])?;
        map.set(i, zeros, 0)?;
    }
    Ok(())
}

/// Compares counters with what a test expects: `expected` lists (index, packets, bytes) and
/// every other counter must be zero. The error names each counter that differs.
pub fn expect_counters<N>(names: &[N], actual: &[Counter], expected: &[(N, u64, u64)]) -> Result<()>
where
    N: Copy + Into<u32> + std::fmt::Debug,
{
    let mut want = vec![Counter::default(); actual.len()];
    for (n, packets, bytes) in expected {
        want[(*n).into() as usize] = Counter {
            packets: *packets,
            bytes: *bytes,
        };
    }
    let diffs: Vec<String> = actual
        .iter()
        .zip(&want)
        .enumerate()
        .filter(|(_, (a, w))| a != w)
        .map(|(i, (a, w))| {
            let name = names.get(i).map(|n| format!("{n:?}")).unwrap_or_else(|| i.to_string());
            format!(
                "{name}: {}/{} B, expected {}/{} B",
                a.packets, a.bytes, w.packets, w.bytes
            )
        })
        .collect();
    if !diffs.is_empty() {
        bail!("counters differ: {}", diffs.join("; "));
    }
    Ok(())
}

/// Fails with `what` unless the verdict is `want`.
pub fn expect_verdict(what: &str, got: u32, want: u32, name: fn(u32) -> &'static str) -> Result<()> {
    if got != want {
        bail!("{what}: got {}, expected {}", name(got), name(want));
    }
    Ok(())
}
