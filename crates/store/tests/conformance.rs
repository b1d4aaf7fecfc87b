//! One suite for every backend of the `Store` trait: each behaviour test
//! runs once on SQLite and once on PostgreSQL, through the same trait
//! calls, so that both give the same rows, order and errors.
//!
//! SQLite always runs (a database file in a temporary directory). PostgreSQL
//! runs when `HOTLINE_TEST_PG` holds a server URL whose role may create
//! databases (`bash tests/pg/cluster.sh start DIR` prints one): each test
//! gets a fresh database and drops it at the end. Without it, every
//! PostgreSQL test prints that it was skipped, and passes.
#![forbid(unsafe_code)]

/// One `#[test]` per backend for each named function `fn(&Db)`:
/// `<module>::sqlite::<name>` and `<module>::postgres::<name>`.
macro_rules! conformance {
    ($($name:ident),+ $(,)?) => {
        mod sqlite {
            $(
                #[test]
                fn $name() {
                    super::$name(&crate::common::Db::sqlite());
                }
            )+
        }
        mod postgres {
            $(
                #[test]
                fn $name() {
                    if let Some(db) = crate::common::Db::postgres() {
                        super::$name(&db);
                    }
                }
            )+
        }
    };
}

/// A `#[test]` on PostgreSQL only (`<module>::postgres::<name>`), for what
/// only a shared database has: the lease, the fence, the server's settings.
macro_rules! postgres_only {
    ($($name:ident),+ $(,)?) => {
        mod postgres {
            $(
                #[test]
                fn $name() {
                    if let Some(db) = crate::common::Db::postgres() {
                        super::$name(&db);
                    }
                }
            )+
        }
    };
}

#[path = "conformance/alerts.rs"]
mod alerts;
#[path = "conformance/audit.rs"]
mod audit;
#[path = "conformance/common.rs"]
mod common;
#[path = "conformance/entries.rs"]
mod entries;
#[path = "conformance/lease.rs"]
mod lease;
#[path = "conformance/peers.rs"]
mod peers;
#[path = "conformance/pg.rs"]
mod pg;
#[path = "conformance/sharing.rs"]
mod sharing;
#[path = "conformance/snapshots.rs"]
mod snapshots;
#[path = "conformance/users.rs"]
mod users;
