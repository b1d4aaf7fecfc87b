//! Deterministic simulation of hotline stations (SPEC §4–§6).
//!
//! Two or three simulated stations, each an in-memory SQLite [`hotline_store`]
//! and [`hotline_core`] books rebuilt from it on restart, exchange entries and
//! checkpoints over a simulated network that drops, duplicates, delays,
//! reorders and partitions, while a simulated clock drives the policy engine
//! and crashes throw away everything not yet committed. Every run is one
//! seed: the same seed replays the same run, step for step.
//!
//! After every step the checker verifies, from what the stores hold:
//! no accepted entry is lost; both ends' transcripts agree wherever both hold
//! an entry, and every checkpoint is backed by its signer's store; no entry is
//! stored twice; equal transcripts fold to equal channel state; each policy
//! action happens at most once and only when due; every stored entry verifies.
//! At the end the network heals and drains, both ends must hold the same
//! transcript, and each side's export must pass the offline verifier.
//!
//! Run `cargo test -p hotline-sim`; replay a failure with
//! `HOTLINE_SIM_SEED=<seed> cargo test -p hotline-sim sim_ci -- --nocapture`;
//! soak with `HOTLINE_SIM_SEEDS=1000000 cargo test -p hotline-sim --release sim_soak`.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod check;
mod net;
mod rng;
mod station;
mod world;

pub use rng::Rng;
pub use world::{run, ChannelEnd, Failure, Fault, Options, Report, Stats};

/// The environment variable holding one seed to replay.
pub const SEED_VAR: &str = "HOTLINE_SIM_SEED";
/// The environment variable holding how many seeds `sim_soak` runs.
pub const SEEDS_VAR: &str = "HOTLINE_SIM_SEEDS";
/// Worker threads for a series (default: the machine's parallelism).
pub const THREADS_VAR: &str = "HOTLINE_SIM_THREADS";

/// The seed named by `HOTLINE_SIM_SEED` (decimal, or hex with `0x`), if set.
///
/// # Panics
/// If the variable is set but is not a number: a mistyped replay must not
/// silently run something else.
pub fn seed_from_env() -> Option<u64> {
    let v = std::env::var(SEED_VAR).ok()?;
    let v = v.trim();
    let parsed = match v.strip_prefix("0x") {
        Some(h) => u64::from_str_radix(h, 16),
        None => v.parse(),
    };
    Some(parsed.unwrap_or_else(|_| panic!("{SEED_VAR}={v:?} is not a number")))
}

/// A fresh seed from the process's randomly keyed hasher and the time.
pub fn random_seed() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0),
    );
    h.finish()
}

/// The seed of run `i` of a series starting at `base`: spread so that
/// neighbouring runs share nothing.
pub fn nth_seed(base: u64, i: u64) -> u64 {
    Rng::new(base ^ i.wrapping_mul(0x9e37_79b9_7f4a_7c15)).next_u64()
}

/// The first 8 hex digits of a hash, for traces.
pub(crate) fn short(h: &hotline_proto::Hash) -> String {
    hotline_proto::hex(&h[..4])
}

/// Runs seeds `nth_seed(base, 0..count)` on `threads` workers and adds up
/// their statistics; stops at the first failure and returns it.
pub fn run_series(
    base: u64,
    count: u64,
    opts: &Options,
    threads: usize,
) -> Result<Stats, Box<Failure>> {
    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
    use std::sync::Mutex;
    let next = AtomicU64::new(0);
    let stop = AtomicBool::new(false);
    let total = Mutex::new(Stats::default());
    let failure: Mutex<Option<Box<Failure>>> = Mutex::new(None);
    std::thread::scope(|s| {
        for _ in 0..threads.max(1) {
            s.spawn(|| {
                let mut mine = Stats::default();
                while !stop.load(Ordering::Relaxed) {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= count {
                        break;
                    }
                    match run(nth_seed(base, i), opts) {
                        Ok(r) => mine.add(&r.stats),
                        Err(f) => {
                            stop.store(true, Ordering::Relaxed);
                            failure
                                .lock()
                                .unwrap_or_else(|p| p.into_inner())
                                .get_or_insert(f);
                        }
                    }
                }
                total.lock().unwrap_or_else(|p| p.into_inner()).add(&mine);
            });
        }
    });
    match failure.into_inner().unwrap_or_else(|p| p.into_inner()) {
        Some(f) => Err(f),
        None => Ok(total.into_inner().unwrap_or_else(|p| p.into_inner())),
    }
}

/// Worker threads for a series: `HOTLINE_SIM_THREADS`, else the machine's parallelism.
pub fn threads_from_env() -> usize {
    std::env::var(THREADS_VAR)
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| {
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1)
        })
}
