//! One heavy test at a time within a test binary.
//!
//! The crash, storage and network-fault tests run real stations, kill them,
//! fill disks, attach strace and shape traffic, and some of their checks have
//! deadlines. `cargo test` runs the tests of one binary in parallel threads, so
//! each of those tests takes this lock first: they then run one after another
//! under `cargo test` as under cargo-nextest (whose `heavy` test group in
//! `.config/nextest.toml` does the same across its test processes), and none
//! measures the load of another.

#![allow(dead_code)]

use std::sync::{Mutex, MutexGuard};

static HEAVY: Mutex<()> = Mutex::new(());

/// Waits until no other heavy test of this binary runs; hold the guard for the
/// whole test. A test that failed while holding it does not block the others.
pub fn one_at_a_time() -> MutexGuard<'static, ()> {
    HEAVY.lock().unwrap_or_else(|e| e.into_inner())
}
