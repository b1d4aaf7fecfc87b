//! Deliberately broken variants of the station, for the durability checkers
//! to prove that they catch what they claim to catch (docs/RELIABILITY.md).
//!
//! They are read from the environment only in a build with the
//! `broken-variants` feature, which the test suites turn on (as a
//! dev-dependency feature, so `cargo test` builds have it) and a release
//! build never has: no environment variable can turn a production station
//! into one that loses acknowledged messages. A release build that finds one
//! set says that it ignores it.

use std::time::Duration;

/// Acknowledge an entry before its commit.
pub const ACK_BEFORE_COMMIT: &str = "HOTLINE_UNSAFE_ACK_BEFORE_COMMIT";
/// Commit with `synchronous=OFF`.
pub const NO_SYNC: &str = "HOTLINE_UNSAFE_NO_SYNC";
/// Hold every group commit back this many milliseconds, to widen the window
/// in which a crash finds work accepted but not committed.
pub const COMMIT_DELAY_MS: &str = "HOTLINE_TEST_COMMIT_DELAY_MS";

/// Abort the process in the middle of `keys rotate`, after the new keys
/// are in the key file and this many channels have their `KeyRotation`
/// committed: the crash a rotation must survive.
pub const CRASH_IN_ROTATION: &str = "HOTLINE_TEST_CRASH_IN_ROTATION";

/// Fork this station's own logs: after each checkpoint a witness
/// cosigns, submit another of the same size with a different root, as a
/// station showing two histories would (the witness must refuse it).
pub const FORK_LOG: &str = "HOTLINE_TEST_FORK_LOG";

/// Which broken variants are on.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Variants {
    /// See [`ACK_BEFORE_COMMIT`].
    pub ack_before_commit: bool,
    /// See [`NO_SYNC`].
    pub no_sync: bool,
    /// See [`COMMIT_DELAY_MS`].
    pub commit_delay: Option<Duration>,
    /// See [`CRASH_IN_ROTATION`].
    pub crash_in_rotation: Option<usize>,
    /// See [`FORK_LOG`].
    pub fork_log: bool,
}

/// Whether this build honours the variables at all.
pub const BUILT_IN: bool = cfg!(feature = "broken-variants");

impl Variants {
    /// The variants the environment asks for, if this build has them.
    pub fn from_env() -> Variants {
        let set = |k: &str| std::env::var_os(k).is_some();
        let asked = [
            ACK_BEFORE_COMMIT,
            NO_SYNC,
            COMMIT_DELAY_MS,
            CRASH_IN_ROTATION,
            FORK_LOG,
        ]
        .into_iter()
        .filter(|k| set(k))
        .collect::<Vec<_>>();
        if !BUILT_IN {
            if !asked.is_empty() {
                tracing::warn!(
                    "{} ignored: this build has no broken variants",
                    asked.join(", ")
                );
            }
            return Variants::default();
        }
        let v = Variants {
            ack_before_commit: set(ACK_BEFORE_COMMIT),
            no_sync: set(NO_SYNC),
            commit_delay: std::env::var(COMMIT_DELAY_MS)
                .ok()
                .and_then(|v| v.parse::<u64>().ok())
                .map(Duration::from_millis),
            crash_in_rotation: std::env::var(CRASH_IN_ROTATION)
                .ok()
                .and_then(|v| v.parse::<usize>().ok()),
            fork_log: set(FORK_LOG),
        };
        if v.ack_before_commit {
            tracing::warn!(
                "{ACK_BEFORE_COMMIT} is set: entries are reported before they are durable"
            );
        }
        if v.no_sync {
            tracing::warn!("{NO_SYNC} is set: commits are NOT durable");
        }
        v
    }
}

/// In a test build: the PostgreSQL server on which `init` without a store
/// creates a fresh database for each station, so the station tests run
/// against PostgreSQL as well as SQLite (`.ci/run` sets it; tests about the
/// SQLite file itself ask for `sqlite` explicitly).
pub const TEST_PG: &str = "HOTLINE_TEST_PG";

/// The store a station made by `init` without one uses in this build: a
/// fresh database on [`TEST_PG`]'s server in a test build where it is set,
/// else none (SQLite in the data directory).
pub fn test_store() -> Result<Option<String>, String> {
    if !BUILT_IN {
        return Ok(None);
    }
    match std::env::var(TEST_PG) {
        Ok(base) if !base.trim().is_empty() => hotline_store::pg_test::fresh_database(base.trim())
            .map(Some)
            .map_err(|e| format!("{TEST_PG}: cannot create a database: {e}")),
        _ => Ok(None),
    }
}
