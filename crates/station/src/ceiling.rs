//! Ceilings the benchmarks measure the station against, on the same machine
//! and in the same run: what the hardware allows before any hotline logic.

use crate::error::StationError;
use hotline_store::{SqliteStore, Store, WriteOp};
use std::path::Path;

fn storage(e: hotline_store::StoreError) -> StationError {
    StationError::Storage(e.to_string())
}

/// Durable commits per second on this machine: the ceiling for group commit.
///
/// Commits `n` single-row transactions (an alert raised and cleared) to a fresh
/// database at `path`, with the same settings as a station's.
pub fn commit_rate(path: &Path, n: usize) -> Result<f64, StationError> {
    let mut s = SqliteStore::open(path).map_err(storage)?;
    let t = std::time::Instant::now();
    for i in 0..n {
        s.write(&[WriteOp::RaiseAlert {
            kind: "bench".into(),
            channel: None,
            key: format!("bench:{i}"),
            cause: String::new(),
            at: i as u64,
        }])
        .map_err(storage)?;
    }
    Ok(n as f64 / t.elapsed().as_secs_f64())
}
