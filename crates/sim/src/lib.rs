#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

/// What a step of a run returns: `Err` says, in words, what broke.
type Res<T = ()> = Result<T, String>;

/// Returns early with an error message, formatted.
macro_rules! bail {
    ($($t:tt)*) => {
        return Err(format!($($t)*))
    };
}

mod check;
mod report;
mod rng;
mod station;
mod traffic;
mod world;

pub use report::{ChannelEnd, Failure, Fault, Options, Report, Stats};
pub use rng::Rng;
pub use world::run;

/// The environment variable holding one seed to replay.
pub const SEED_VAR: &str = "HOTLINE_SIM_SEED";
/// The environment variable holding how many seeds `sim_soak` runs.
pub const SEEDS_VAR: &str = "HOTLINE_SIM_SEEDS";
/// Worker threads for a series (default: the machine's parallelism).
pub const THREADS_VAR: &str = "HOTLINE_SIM_THREADS";

/// The seed named by `HOTLINE_SIM_SEED` (decimal, or hex with `0x`), if set.
///
/// # Panics
/// If it is set but not a number: a mistyped replay must not run something else.
pub fn seed_from_env() -> Option<u64> {
    let v = std::env::var(SEED_VAR).ok()?;
    let v = v.trim();
    let parsed = v
        .strip_prefix("0x")
        .map_or_else(|| v.parse(), |h| u64::from_str_radix(h, 16));
    Some(parsed.unwrap_or_else(|_| panic!("{SEED_VAR}={v:?} is not a number")))
}

/// A fresh seed from the process's randomly keyed hasher and the time.
pub fn random_seed() -> u64 {
    use std::hash::BuildHasher;
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH);
    std::collections::hash_map::RandomState::new().hash_one(now.map_or(0, |d| d.as_nanos()))
}

/// The seed of run `i` of a series from `base`, spread so that neighbouring runs share nothing.
pub fn nth_seed(base: u64, i: u64) -> u64 {
    Rng::new(base ^ i.wrapping_mul(0x9e37_79b9_7f4a_7c15)).next_u64()
}

/// The first 8 hex digits of a hash, for traces.
pub(crate) fn short(h: &hotline_proto::Hash) -> String {
    hotline_proto::hex(&h[..4])
}

/// A storage error, as a failure of the run.
pub(crate) fn db(e: impl std::fmt::Display) -> String {
    format!("storage failed: {e}")
}

/// Runs seeds `nth_seed(base, 0..n)` on `threads` workers and adds up their
/// statistics; stops at the first failure and returns it.
pub fn run_series(
    base: u64,
    n: u64,
    opts: &Options,
    threads: usize,
) -> Result<Stats, Box<Failure>> {
    use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
    let next = AtomicU64::new(0);
    let out = std::sync::Mutex::new((Stats::default(), None));
    let lock = || out.lock().unwrap_or_else(|p| p.into_inner());
    std::thread::scope(|s| {
        for _ in 0..threads.max(1) {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Relaxed);
                match (i < n).then(|| run(nth_seed(base, i), opts)) {
                    None => break,
                    Some(Ok(r)) => lock().0.add(&r.stats),
                    Some(Err(f)) => {
                        next.store(n, Relaxed);
                        lock().1.get_or_insert(f);
                    }
                }
            });
        }
    });
    let (stats, failure) = out.into_inner().unwrap_or_else(|p| p.into_inner());
    failure.map_or(Ok(stats), Err)
}

/// Worker threads for a series: `HOTLINE_SIM_THREADS`, else the machine's parallelism.
pub fn threads_from_env() -> usize {
    let set = std::env::var(THREADS_VAR)
        .ok()
        .and_then(|v| v.trim().parse().ok());
    let cores = || std::thread::available_parallelism().map_or(1, |n| n.get());
    set.unwrap_or_else(cores)
}
