//! The lease and the fence: one station process leads a shared database.
//! SQLite, which one process opens, leads alone; PostgreSQL keeps the lease
//! in the database, on its clock, and refuses a deposed leader's writes.

use crate::common::*;
use hotline_store::{Backend, Fence, Lease, Store, StoreError, WriteOp, WriteResult};
use std::time::{Duration, Instant};

#[test]
fn sqlite_leads_alone_at_epoch_zero_and_needs_no_fence() {
    let db = Db::sqlite();
    let mut s = db.open();
    assert_eq!(s.backend(), Backend::Sqlite);
    assert_eq!(s.backend().name(), "sqlite");
    assert_eq!(s.lease().unwrap(), None);
    let l = s.lease_take("a", "http://a", 10).unwrap();
    assert_eq!(
        (l.holder.as_str(), l.api.as_str(), l.epoch),
        ("a", "http://a", 0)
    );
    assert_eq!(l.expires_in_ms, i64::MAX);
    s.set_fence(Some(Fence {
        holder: "b".into(),
        epoch: 7,
    }));
    s.set_meta("k", "v").unwrap();
    s.lease_release("a", 0).unwrap();
}

fn fence(holder: &str, epoch: u64) -> Option<Fence> {
    Some(Fence {
        holder: holder.into(),
        epoch,
    })
}

/// Waits until the lease has expired by the database's clock.
fn until_expired(s: &dyn Store) {
    let end = Instant::now() + Duration::from_secs(10);
    while s.lease().unwrap().is_some_and(|l| l.expires_in_ms >= 0) {
        assert!(Instant::now() < end, "the lease never expired");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn the_lease_is_taken_renewed_and_taken_over_after_it_expires(db: &Db) {
    let (mut a, mut b) = (db.pg(), db.pg());
    assert_eq!(a.backend(), Backend::Postgres);
    assert_eq!(a.lease().unwrap(), None, "never taken");
    let l = a.lease_take("a", "http://a", 2_000).unwrap();
    assert_eq!(
        (l.holder.as_str(), l.api.as_str(), l.epoch),
        ("a", "http://a", 1)
    );
    assert!((0..=2_000).contains(&l.expires_in_ms), "{l:?}");
    // Renewed by its holder: same epoch, expiry pushed out.
    std::thread::sleep(Duration::from_millis(50));
    let r = a.lease_take("a", "http://a2", 5_000).unwrap();
    assert_eq!(
        (r.holder.as_str(), r.api.as_str(), r.epoch),
        ("a", "http://a2", 1)
    );
    assert!(r.expires_in_ms > 4_000, "{r:?}");
    // Another holder cannot take it while it is held.
    let held = b.lease_take("b", "http://b", 300).unwrap();
    assert_eq!(
        (held.holder.as_str(), held.api.as_str(), held.epoch),
        ("a", "http://a2", 1)
    );
    assert_eq!(b.lease().unwrap().unwrap().holder, "a");
    // Short again, then expired: the other takes it at the next epoch.
    a.lease_take("a", "http://a", 100).unwrap();
    until_expired(&b);
    assert!(b.lease().unwrap().unwrap().expires_in_ms < 0);
    // Long enough that no stall of a loaded machine lets it lapse before
    // the old holder's try below.
    let taken = b.lease_take("b", "http://b", 5_000).unwrap();
    assert_eq!(
        (taken.holder.as_str(), taken.api.as_str(), taken.epoch),
        ("b", "http://b", 2)
    );
    // The old holder renewing finds it taken, and changes nothing.
    let lost = a.lease_take("a", "http://a", 300).unwrap();
    assert_eq!((lost.holder.as_str(), lost.epoch), ("b", 2));
}

fn a_released_lease_is_taken_at_once_at_the_next_epoch(db: &Db) {
    let (mut a, mut b) = (db.pg(), db.pg());
    let l = a.lease_take("a", "http://a", 60_000).unwrap();
    // Only its holder at its epoch can release it.
    b.lease_release("b", l.epoch).unwrap();
    a.lease_release("a", l.epoch + 1).unwrap();
    assert_eq!(b.lease_take("b", "http://b", 1_000).unwrap().holder, "a");
    a.lease_release("a", l.epoch).unwrap();
    assert!(a.lease().unwrap().unwrap().expires_in_ms <= 0);
    let t = b.lease_take("b", "http://b", 1_000).unwrap();
    assert_eq!((t.holder.as_str(), t.epoch), ("b", 2));
    // Releasing what another holds changes nothing.
    a.lease_release("a", l.epoch).unwrap();
    let now: Lease = a.lease().unwrap().unwrap();
    assert_eq!((now.holder.as_str(), now.epoch), ("b", 2));
    assert!(now.expires_in_ms > 0);
}

fn a_fenced_store_writes_only_while_its_lease_holds(db: &Db) {
    let mut a = db.pg();
    // Never taken: refused.
    a.set_fence(fence("a", 1));
    let e = a.set_meta("k", "v").unwrap_err();
    assert!(matches!(e, StoreError::Fenced(_)), "{e:?}");
    let l = a.lease_take("a", "http://a", 1_000).unwrap();
    a.set_meta("k", "v").unwrap();
    // Expired, though nobody took it over: refused, nothing written.
    until_expired(&a);
    let e = a.set_meta("k", "w").unwrap_err();
    assert_eq!(
        e.to_string(),
        "this station is not the leader: the lease of a at epoch 1 expired"
    );
    // Taken again once expired, even by its last holder, it is a new
    // epoch: the fence of the old one still refuses.
    let again = a.lease_take("a", "http://a", 60_000).unwrap();
    assert_eq!(again.epoch, l.epoch + 1);
    let e = a.set_meta("k", "w").unwrap_err();
    assert_eq!(
        e.to_string(),
        "this station is not the leader: the lease of a at epoch 1 was taken over: \
         held by a at epoch 2"
    );
    a.set_fence(fence("a", again.epoch));
    a.set_meta("k", "x").unwrap();
    assert_eq!(a.meta("k").unwrap().as_deref(), Some("x"));
    // Renewed in time, the epoch stays.
    assert_eq!(
        a.lease_take("a", "http://a", 60_000).unwrap().epoch,
        again.epoch
    );
    a.set_meta("k", "y").unwrap();
    // Released: refused again. Without a fence nothing is checked.
    a.lease_release("a", again.epoch).unwrap();
    assert!(matches!(a.set_meta("k", "z"), Err(StoreError::Fenced(_))));
    a.set_fence(None);
    a.set_meta("k", "z").unwrap();
    assert_eq!(a.meta("k").unwrap().as_deref(), Some("z"));
}

fn after_a_takeover_every_write_of_the_deposed_leader_is_refused_and_nothing_lands(db: &Db) {
    // The database as the old leader left it: a peer, a channel, two
    // admins, an open alert.
    let mut setup = db.open();
    let (line, peer) = stored_line(&mut *setup, 1);
    setup.add_user("a1", "admin", &[1; 32], 1).unwrap();
    setup.add_user("a2", "admin", &[2; 32], 1).unwrap();
    let WriteResult::Alert(Some(alert)) = setup
        .write(&[WriteOp::RaiseAlert {
            kind: "k".into(),
            channel: None,
            key: "k".into(),
            cause: "c".into(),
            at: 1,
        }])
        .unwrap()
        .remove(0)
    else {
        panic!("raised")
    };
    let (mut old, mut new) = (db.pg(), db.pg());
    let e1 = old.lease_take("old", "http://old", 1_000).unwrap().epoch;
    old.set_fence(fence("old", e1));
    old.set_meta("k", "before").unwrap();
    until_expired(&new);
    let e2 = new.lease_take("new", "http://new", 60_000).unwrap().epoch;
    assert_eq!(e2, e1 + 1);
    let before = snapshot(&*setup, &line.id);
    let token = keys(9).identity().token();
    let [x, _] = line.fork.clone();
    type Mutation<'a> = Box<dyn Fn(&mut dyn Store) -> Result<(), StoreError> + 'a>;
    let mutations: Vec<(&str, Mutation)> = vec![
        (
            "write",
            Box::new(|s| {
                s.write(&[WriteOp::Entry {
                    entry: x.clone(),
                    stored_at: 9,
                }])
                .map(drop)
            }),
        ),
        (
            "write alert",
            Box::new(|s| {
                s.write(&[WriteOp::ClearAlert {
                    channel: None,
                    key: "k".into(),
                    at: 9,
                }])
                .map(drop)
            }),
        ),
        ("set_meta", Box::new(|s| s.set_meta("k", "after"))),
        (
            "add_peer",
            Box::new(|s| s.add_peer("c", &token, &[], None, 9).map(drop)),
        ),
        ("set_peer", Box::new(|s| s.set_peer(peer, &[], None))),
        ("set_verified", Box::new(|s| s.set_verified(peer, true))),
        ("remove_peer", Box::new(|s| s.remove_peer(peer, 9))),
        (
            "repin_peer",
            Box::new(|s| s.repin_peer(peer, &token, 9).map(drop)),
        ),
        (
            "mark_all_restored",
            Box::new(|s| s.mark_all_restored().map(drop)),
        ),
        (
            "add_user",
            Box::new(|s| s.add_user("u", "operator", &[3; 32], 9).map(drop)),
        ),
        (
            "add_user_until",
            Box::new(|s| {
                s.add_user_until("v", "operator", &[4; 32], 9, Some(10))
                    .map(drop)
            }),
        ),
        (
            "rotate_user",
            Box::new(|s| s.rotate_user("a1", &[5; 32], 9).map(drop)),
        ),
        ("revoke_user", Box::new(|s| s.revoke_user("a1", 9))),
        (
            "ack_alert",
            Box::new(|s| s.ack_alert(alert.id, "op", "n", 9).map(drop)),
        ),
    ];
    for (what, m) in &mutations {
        let e = m(&mut old).unwrap_err();
        assert!(matches!(e, StoreError::Fenced(_)), "{what}: {e:?}");
        assert_eq!(
            e.to_string(),
            "this station is not the leader: the lease of old at epoch 1 was taken over: \
             held by new at epoch 2",
            "{what}"
        );
    }
    assert_eq!(snapshot(&*setup, &line.id), before, "nothing was written");
    assert_eq!(setup.meta("k").unwrap().as_deref(), Some("before"));
    // The new leader, fenced at its own epoch, writes each of them.
    new.set_fence(fence("new", e2));
    for (what, m) in &mutations[..4] {
        m(&mut new).unwrap_or_else(|e| panic!("{what}: {e}"));
    }
    assert_eq!(new.meta("k").unwrap().as_deref(), Some("after"));
}

fn a_takeover_waits_for_the_write_in_flight_under_the_old_lease(db: &Db) {
    let mut old = db.pg();
    old.lease_take("old", "http://old", 100).unwrap();
    until_expired(&old);
    // A writing transaction of the old leader that found its lease held
    // still holds the row shared: stand in for one with a plain client.
    let mut inflight = db.client();
    let mut tx = inflight.transaction().unwrap();
    tx.query("SELECT 1 FROM lease WHERE id = 1 FOR SHARE", &[])
        .unwrap();
    let url = db.url().to_owned();
    let taker = std::thread::spawn(move || {
        let mut new = hotline_store::PgStore::connect(&url).unwrap();
        new.lease_take("new", "http://new", 60_000).unwrap()
    });
    // The takeover is seen waiting for the row lock, and does not finish.
    let mut watch = db.client();
    let end = Instant::now() + Duration::from_secs(20);
    loop {
        let waiting: i64 = watch
            .query_one(
                "SELECT count(*) FROM pg_stat_activity
                 WHERE datname = current_database() AND wait_event_type = 'Lock'",
                &[],
            )
            .unwrap()
            .get(0);
        if waiting == 1 {
            break;
        }
        assert!(Instant::now() < end, "the takeover never waited");
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(100));
    assert!(
        !taker.is_finished(),
        "the takeover waits for the write to commit"
    );
    tx.execute(
        "INSERT INTO meta (key, value) VALUES ('k', 'in flight')",
        &[],
    )
    .unwrap();
    tx.commit().unwrap();
    let l = taker.join().unwrap();
    assert_eq!((l.holder.as_str(), l.epoch), ("new", 2));
    assert_eq!(old.meta("k").unwrap().as_deref(), Some("in flight"));
}

fn a_takeover_blocked_longer_than_its_lease_gives_up(db: &Db) {
    let mut new = db.pg();
    let mut inflight = db.client();
    let mut tx = inflight.transaction().unwrap();
    tx.query("SELECT 1 FROM lease WHERE id = 1 FOR SHARE", &[])
        .unwrap();
    let started = Instant::now();
    let e = new.lease_take("new", "http://new", 300).unwrap_err();
    assert!(matches!(e, StoreError::Db(_)), "{e:?}");
    assert!(started.elapsed() < Duration::from_secs(5));
    tx.rollback().unwrap();
    assert_eq!(new.lease().unwrap(), None, "nothing taken");
    assert_eq!(new.lease_take("new", "http://new", 300).unwrap().epoch, 1);
}

postgres_only!(
    a_takeover_blocked_longer_than_its_lease_gives_up,
    the_lease_is_taken_renewed_and_taken_over_after_it_expires,
    a_released_lease_is_taken_at_once_at_the_next_epoch,
    a_fenced_store_writes_only_while_its_lease_holds,
    after_a_takeover_every_write_of_the_deposed_leader_is_refused_and_nothing_lands,
    a_takeover_waits_for_the_write_in_flight_under_the_old_lease,
);
