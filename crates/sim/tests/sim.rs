//! The simulation suite: many short seeded runs in CI, a long soak on demand.
//!
//! `HOTLINE_SIM_SEED=<seed> cargo test -p hotline-sim sim_ci -- --nocapture`
//! replays one run; `HOTLINE_SIM_SEEDS=1000000 cargo test -p hotline-sim
//! --release sim_soak -- --nocapture` soaks.

use hotline_sim::{Options, Stats};
use std::time::Instant;

/// Seeds `sim_ci` runs: enough to meet rare interleavings, short enough for CI.
const CI_SEEDS: u64 = 10_000;
/// Seeds `sim_soak` runs when `HOTLINE_SIM_SEEDS` is not set.
const SOAK_DEFAULT: u64 = 200;
/// The base of `sim_ci`'s series: fixed, so that every CI run checks the same
/// 10,000 seeds and a failure there is a change in the code, never luck. New
/// seeds are the soak's job (a random base each run).
const CI_BASE: u64 = 0x484f_544c_494e_4531;

fn options() -> Options {
    Options::default()
}

/// Runs a series from `base` (or the one seed in `HOTLINE_SIM_SEED`),
/// printing what a failure needs for its replay.
fn series(name: &str, count: u64, base: u64) -> Option<Stats> {
    let opts = options();
    if let Some(seed) = hotline_sim::seed_from_env() {
        match hotline_sim::run(seed, &opts) {
            Ok(r) => {
                println!("{name}: seed {seed} passes: {:?}", r.stats);
                return None;
            }
            Err(f) => panic!("{f}"),
        }
    }
    let threads = hotline_sim::threads_from_env();
    let t = Instant::now();
    match hotline_sim::run_series(base, count, &opts, threads) {
        Ok(stats) => {
            let secs = t.elapsed().as_secs_f64();
            println!(
                "{name}: {count} seeds (base {base}) on {threads} threads in {secs:.1} s: {:.0} seeds/s",
                count as f64 / secs
            );
            println!("{stats:#?}");
            Some(stats)
        }
        Err(f) => panic!("{name}: {f}"),
    }
}

/// The things a simulation claims to test did happen, many times over.
fn assert_coverage(s: &Stats) {
    let seen = [
        ("runs with three stations", s.three_station_runs),
        ("entries accepted and found durable", s.accepted),
        ("entries received by the counterpart", s.received),
        (
            "crashes that threw away uncommitted work",
            s.crashes_losing_work,
        ),
        ("packets dropped", s.dropped),
        ("packets duplicated", s.duplicated),
        ("batches that arrived out of order", s.out_of_order),
        ("entries held until the sender is verified", s.unverified),
        ("partitions", s.partitions),
        ("foreign or reflected traffic rejected", s.foreign_rejected),
        ("contact checks written by the policy", s.contact_checks),
        ("deadline suspends and terminates", s.deadline_actions),
        ("policy alerts raised", s.alerts_raised),
        ("channels seen suspended", s.suspended),
        ("channels ended terminated", s.terminated),
        ("exports verified offline", s.exports_verified),
        ("key rotations", s.rotations),
    ];
    for (what, n) in seen {
        assert!(n > 0, "the simulation never produced: {what}");
    }
    // Each run ends with an export per station and channel, all verified.
    assert!(s.exports_verified >= 2 * s.runs);
}

#[test]
fn sim_ci() {
    if let Some(stats) = series("sim_ci", CI_SEEDS, CI_BASE) {
        assert_eq!(stats.runs, CI_SEEDS);
        assert_coverage(&stats);
    }
}

#[test]
fn sim_soak() {
    let count = std::env::var(hotline_sim::SEEDS_VAR)
        .ok()
        .map(|v| {
            v.trim()
                .parse()
                .unwrap_or_else(|_| panic!("HOTLINE_SIM_SEEDS={v:?} is not a number"))
        })
        .unwrap_or(SOAK_DEFAULT);
    if let Some(stats) = series("sim_soak", count, hotline_sim::random_seed()) {
        assert_eq!(stats.runs, count);
    }
}

#[test]
fn a_seed_replays_the_same_run() {
    for seed in [0, 1, 0xdead_beef] {
        let a = hotline_sim::run(seed, &Options::default()).unwrap_or_else(|f| panic!("{f}"));
        let b = hotline_sim::run(seed, &Options::default()).unwrap_or_else(|f| panic!("{f}"));
        assert_eq!(a.digest, b.digest, "seed {seed} gave two different runs");
        assert_eq!(a.stats, b.stats);
        assert_eq!(a.channels, b.channels);
    }
    let a = hotline_sim::run(2, &Options::default()).unwrap_or_else(|f| panic!("{f}"));
    let b = hotline_sim::run(3, &Options::default()).unwrap_or_else(|f| panic!("{f}"));
    assert_ne!(
        a.digest, b.digest,
        "different seeds should give different runs"
    );
}

#[test]
fn every_run_ends_with_both_ends_holding_one_transcript() {
    for i in 0..40 {
        let seed = hotline_sim::nth_seed(77, i);
        let r = hotline_sim::run(seed, &Options::default()).unwrap_or_else(|f| panic!("{f}"));
        for c in &r.channels {
            assert_eq!(c.held[0], c.held[1], "seed {seed}: {c:?}");
            assert_eq!(c.state[0], c.state[1], "seed {seed}: {c:?}");
            assert!(c.held[0][0] >= 1, "seed {seed}: the Open is held: {c:?}");
        }
    }
}
