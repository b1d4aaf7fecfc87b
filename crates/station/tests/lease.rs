//! The lease keeper against a real PostgreSQL database when the call that
//! takes or renews the lease waits on the database past the time it may be
//! counted on (here: another connection holds the lease row).
//!
//! Needs `HOTLINE_TEST_PG` (a server whose role may create databases);
//! without it each test says so and passes.

use hotline_station::db::StoreSpec;
use hotline_station::ha::{Keeper, Role, LEASE_TTL, MARGIN};
use std::time::{Duration, Instant};

struct Db {
    base: String,
    url: String,
}

impl Db {
    fn fresh() -> Option<Db> {
        let base = std::env::var("HOTLINE_TEST_PG").ok()?;
        let base = base.trim().to_owned();
        if base.is_empty() {
            return None;
        }
        let url = hotline_store::pg_test::fresh_database(&base).unwrap();
        // The schema, the lease row among it.
        StoreSpec::Postgres(url.clone()).open().unwrap();
        Some(Db { base, url })
    }

    fn client(&self) -> postgres::Client {
        self.url
            .parse::<postgres::Config>()
            .unwrap()
            .connect(postgres::NoTls)
            .unwrap()
    }

    /// Holds the lease row locked for `hold`, on another thread; returns
    /// once the lock is taken.
    fn hold_lease_row(&self, hold: Duration) -> std::thread::JoinHandle<()> {
        let mut c = self.client();
        let (tx, rx) = std::sync::mpsc::channel();
        let h = std::thread::spawn(move || {
            let mut t = c.transaction().unwrap();
            t.execute("SELECT 1 FROM lease WHERE id = 1 FOR UPDATE", &[])
                .unwrap();
            tx.send(()).unwrap();
            std::thread::sleep(hold);
            t.commit().unwrap();
        });
        rx.recv().unwrap();
        h
    }
}

impl Drop for Db {
    fn drop(&mut self) {
        let _ = hotline_store::pg_test::drop_database(&self.base, &self.url);
    }
}

fn wait_for(
    k: &Keeper,
    within: Duration,
    what: &str,
    ok: impl Fn(&hotline_station::ha::View) -> bool,
) {
    let t = Instant::now();
    loop {
        let v = k.view();
        if ok(&v) {
            return;
        }
        assert!(t.elapsed() < within, "{what}: {v:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Longer than a renewal may take and still count, shorter than the lock
/// wait the take allows.
const STALL: Duration =
    Duration::from_millis((LEASE_TTL.as_millis() - MARGIN.as_millis() + 1_000) as u64);

#[test]
fn a_standby_whose_takeover_came_back_late_keeps_the_lease_and_leads_from_a_fresh_renewal() {
    let Some(db) = Db::fresh() else {
        eprintln!("HOTLINE_TEST_PG is not set: skipped");
        return;
    };
    let holder = db.hold_lease_row(STALL);
    let k = Keeper::start(StoreSpec::Postgres(db.url.clone()), "a:1".into()).unwrap();
    holder.join().unwrap();
    wait_for(&k, Duration::from_secs(20), "the keeper leads", |v| {
        v.role == Role::Leader
    });
    // The first takeover (epoch 1) was kept and renewed, not given up and
    // taken again at epoch 2.
    let v = k.view();
    assert_eq!(v.lease.as_ref().map(|l| l.epoch), Some(1), "{v:?}");
    assert!(v.valid_until.is_some_and(|t| t > Instant::now()));
    k.stop();
}

#[test]
fn a_leader_whose_renewal_came_back_late_gives_the_lease_up_for_the_standby() {
    let Some(db) = Db::fresh() else {
        eprintln!("HOTLINE_TEST_PG is not set: skipped");
        return;
    };
    let leader = Keeper::start(StoreSpec::Postgres(db.url.clone()), "a:1".into()).unwrap();
    wait_for(
        &leader,
        Duration::from_secs(20),
        "the first keeper leads",
        |v| v.role == Role::Leader,
    );
    let standby = Keeper::start(StoreSpec::Postgres(db.url.clone()), "a:2".into()).unwrap();
    wait_for(
        &standby,
        Duration::from_secs(20),
        "the second keeper is the standby",
        |v| v.role == Role::Standby && v.lease.is_some(),
    );
    // Both keepers' calls wait on the row; the leader's renewal returns
    // after the time it may be counted on.
    let holder = db.hold_lease_row(STALL);
    holder.join().unwrap();
    wait_for(
        &standby,
        Duration::from_secs(20),
        "the standby takes over",
        |v| v.role == Role::Leader,
    );
    let (l, s) = (leader.view(), standby.view());
    assert_eq!(l.role, Role::Standby, "{l:?}");
    assert!(
        !l.leads(l.lease.as_ref().map_or(0, |x| x.epoch), Instant::now()),
        "{l:?}"
    );
    assert!(s.lease.as_ref().is_some_and(|x| x.epoch >= 2), "{s:?}");
    leader.stop();
    standby.stop();
}
