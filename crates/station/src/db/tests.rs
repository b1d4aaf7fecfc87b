//! The storage handle's writer: failed commits, group retries, audit heads.

use super::*;

/// After a failed commit the writer runs no more calls: a change queued
/// behind a line that did not commit never lands without it.
#[tokio::test]
async fn after_a_failed_commit_no_write_and_no_call_goes_through() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(&dir.path().join("db.sqlite"), 1).unwrap();
    // A channel of a peer that is not pinned: the foreign key fails the commit.
    let orphan = WriteOp::Channel(hotline_store::ChannelRow {
        id: [1; 32],
        peer_id: 404,
        me: 0,
        created_at: 1,
    });
    assert!(db.write(vec![orphan]).await.is_err());
    let ran = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let r = ran.clone();
    let called = db
        .call(move |s| {
            r.store(true, std::sync::atomic::Ordering::SeqCst);
            s.add_user("late", "admin", &[2; 32], 1)
        })
        .await;
    assert!(called.is_err());
    assert!(!ran.load(std::sync::atomic::Ordering::SeqCst));
    assert!(db.read(|s| s.users()).await.unwrap().is_empty());
}

/// Batches committed as one group that fails are retried one by one,
/// each with its own writes: the good batch ahead of the bad one
/// commits, the bad one fails alone.
#[tokio::test]
async fn a_failed_group_is_retried_batch_by_batch() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(&dir.path().join("db.sqlite"), 1).unwrap();
    let alert = |key: &str| WriteOp::RaiseAlert {
        kind: "link-down".into(),
        channel: None,
        key: key.into(),
        cause: format!("test {key}"),
        at: 1,
    };
    // The writer is held inside a call until both batches are queued,
    // so it takes them as one group.
    let (entered, inside) = std::sync::mpsc::channel::<()>();
    let (release, held) = std::sync::mpsc::channel::<()>();
    let blocker = {
        let db = db.clone();
        tokio::spawn(async move {
            db.call(move |_| {
                entered.send(()).unwrap();
                held.recv().unwrap();
                Ok(())
            })
            .await
        })
    };
    tokio::task::spawn_blocking(move || inside.recv().unwrap())
        .await
        .unwrap();
    let good = db.submit(vec![alert("a"), alert("b")]);
    let orphan = WriteOp::Channel(hotline_store::ChannelRow {
        id: [1; 32],
        peer_id: 404,
        me: 0,
        created_at: 1,
    });
    let bad = db.submit(vec![alert("c"), orphan]);
    release.send(()).unwrap();
    blocker.await.unwrap().unwrap();
    let good = good.wait().await.unwrap();
    assert_eq!(good.len(), 2, "each write of the good batch has its result");
    assert!(bad.wait().await.is_err());
    let keys: Vec<String> = db
        .read(|s| s.alerts(false, 10))
        .await
        .unwrap()
        .into_iter()
        .map(|a| a.key)
        .collect();
    assert_eq!(keys.len(), 2, "{keys:?}");
    assert!(keys.contains(&"a".to_string()) && keys.contains(&"b".to_string()));
}

/// Lines queued together are sealed by one head, signed once, over the
/// newest of them; without a key, audit lines are not written at all.
#[tokio::test]
async fn audit_lines_commit_with_the_signed_head_over_them() {
    let dir = tempfile::tempdir().unwrap();
    let keys = Arc::new(SecretKeys::generate([5; 32], [9; 32]));
    let l1 = crate::audit::line([0; 32], 1, "admin", "POST users", "", "attempt");
    let l2 = crate::audit::line(l1.hash, 2, "admin", "POST users", "", "201");
    let h = |count, hash| AuditHead { count, hash };

    let unkeyed = Db::open(&dir.path().join("a.sqlite"), 1).unwrap();
    let r = unkeyed
        .submit_audit(vec![WriteOp::Audit(l1.clone())], h(1, l1.hash), false)
        .wait()
        .await;
    assert!(r.is_err());
    assert_eq!(unkeyed.read(|s| s.audit_count()).await.unwrap(), 0);

    let db = Db::open(&dir.path().join("b.sqlite"), 1).unwrap();
    db.sign_audit_heads(keys.clone());
    let first = db.submit_audit(vec![WriteOp::Audit(l1.clone())], h(1, l1.hash), false);
    let second = db.submit_audit(vec![WriteOp::Audit(l2.clone())], h(2, l2.hash), false);
    first.wait().await.unwrap();
    second.wait().await.unwrap();
    let head = db.read(|s| s.audit_head()).await.unwrap().unwrap();
    assert_eq!(head.head(), h(2, l2.hash));
    assert_eq!(head.verify(&keys.identity()), Ok(()));
    assert_eq!(db.read(|s| s.audit_count()).await.unwrap(), 2);
}

/// A store in `dir` signing audit heads, with one audit line held
/// ([`Db::defer_audit`]) and its commit to wait on.
fn with_a_held_line(dir: &tempfile::TempDir) -> (Db, Pending) {
    let keys = Arc::new(SecretKeys::generate([5; 32], [9; 32]));
    let db = Db::open(&dir.path().join("db.sqlite"), 1).unwrap();
    db.sign_audit_heads(keys);
    let l1 = crate::audit::line([0; 32], 1, "admin", "POST messages", "", "201");
    let line = db.defer_audit(
        vec![WriteOp::Audit(l1.clone())],
        AuditHead {
            count: 1,
            hash: l1.hash,
        },
    );
    (db, line)
}

/// Held audit lines ride with the next change, not with a relaxed
/// write of what a peer signed: that one commits without them.
#[tokio::test]
async fn held_lines_skip_a_relaxed_write_and_ride_with_the_next_change() {
    let dir = tempfile::tempdir().unwrap();
    let (db, rider) = with_a_held_line(&dir);
    let meta = |v: &str| WriteOp::Meta {
        key: "test".into(),
        value: v.into(),
    };
    db.submit_relaxed(vec![meta("relaxed")])
        .wait()
        .await
        .unwrap();
    assert_eq!(
        db.read(|s| s.audit_count()).await.unwrap(),
        0,
        "the relaxed write took no held line"
    );
    let change = WriteOp::RaiseAlert {
        kind: "link-down".into(),
        channel: None,
        key: "k".into(),
        cause: "test".into(),
        at: 1,
    };
    db.submit(vec![change]).wait().await.unwrap();
    rider.wait().await.unwrap();
    assert_eq!(db.read(|s| s.audit_count()).await.unwrap(), 1);
    let head = db.read(|s| s.audit_head()).await.unwrap().unwrap();
    assert_eq!(head.head().count, 1);
}

fn meta(key: &str, v: &str) -> WriteOp {
    WriteOp::Meta {
        key: key.into(),
        value: v.into(),
    }
}

/// A riding write goes in front of the next batch queued, in its
/// transaction: a later write of the same key, queued at once, wins.
#[tokio::test]
async fn a_riding_write_goes_before_the_next_batch() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(&dir.path().join("db.sqlite"), 1).unwrap();
    let mut rider = db.ride(vec![meta("note", "first")]);
    let ridden = db.ride(vec![meta("other", "kept")]);
    db.submit(vec![meta("note", "second")])
        .wait()
        .await
        .unwrap();
    // Resolved with the batch that carried it, and with no results of its own.
    assert_eq!(
        rider
            .ready()
            .expect("committed with the batch")
            .unwrap()
            .len(),
        0
    );
    ridden.wait().await.unwrap();
    let (note, other) = db
        .read(|s| Ok((s.meta("note")?, s.meta("other")?)))
        .await
        .unwrap();
    assert_eq!(note.as_deref(), Some("second"));
    assert_eq!(other.as_deref(), Some("kept"));
}

/// With no batch to carry it, a riding write goes alone, soon, and takes
/// no held audit line with it (those wait for a change).
#[tokio::test]
async fn a_riding_write_goes_alone_when_nothing_carries_it() {
    let dir = tempfile::tempdir().unwrap();
    let (db, line) = with_a_held_line(&dir);
    let rider = db.ride(vec![meta("note", "alone")]);
    tokio::time::timeout(std::time::Duration::from_secs(10), rider.wait())
        .await
        .expect("committed without another batch")
        .unwrap();
    assert_eq!(
        db.read(|s| s.meta("note")).await.unwrap().as_deref(),
        Some("alone")
    );
    assert_eq!(db.read(|s| s.audit_count()).await.unwrap(), 0);
    db.flush_deferred().expect("the line still held");
    line.wait().await.unwrap();
    assert_eq!(db.read(|s| s.audit_count()).await.unwrap(), 1);
}

/// Once [`MAX_RIDING`] wait, they go as a batch of their own at once.
#[tokio::test]
async fn riding_writes_go_at_once_when_many_wait() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(&dir.path().join("db.sqlite"), 1).unwrap();
    let riders: Vec<_> = (0..MAX_RIDING)
        .map(|i| db.ride(vec![meta(&format!("n{i}"), "v")]))
        .collect();
    // This test's runtime has one thread and the wait below never yields
    // to it: the flush after a time cannot run, only the count sends them.
    for mut r in riders {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        let outcome = loop {
            if let Some(o) = r.ready() {
                break o;
            }
            assert!(std::time::Instant::now() < deadline, "not committed");
            std::thread::sleep(std::time::Duration::from_millis(1));
        };
        outcome.unwrap();
    }
}
