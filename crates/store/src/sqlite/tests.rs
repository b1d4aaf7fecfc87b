//! The SQLite backend's own tests: durability settings, migrations, each write.

use super::*;
use hotline_core::ChannelBook;
use hotline_proto::{Body, SecretKeys, Terms};

fn keys(n: u8) -> SecretKeys {
    SecretKeys::generate([n; 32], [n; 32])
}

#[test]
fn durable_settings_are_in_force_on_a_file_database() {
    let dir = tempfile::tempdir().unwrap();
    let s = SqliteStore::open(&dir.path().join("db.sqlite")).unwrap();
    assert_eq!(s.durability().unwrap(), ("wal".to_string(), 2));
}

#[cfg(unix)]
#[test]
fn the_database_and_its_wal_files_are_private_even_if_left_loose() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db.sqlite");
    drop(SqliteStore::open(&path).unwrap());
    // As an older hotline left it under umask 022; SQLite gives the WAL
    // files the database file's mode when it creates them.
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    let _s = SqliteStore::open(&path).unwrap();
    for f in ["db.sqlite", "db.sqlite-wal", "db.sqlite-shm"] {
        let mode = std::fs::metadata(dir.path().join(f))
            .unwrap_or_else(|e| panic!("{f}: {e}"))
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "{f}");
    }
}

#[test]
fn entries_commit_in_one_batch_and_read_back_by_cursor_and_position() {
    let mut s = SqliteStore::memory().unwrap();
    let (a, b) = (keys(1), keys(2));
    let peer = s
        .add_peer("b", &b.identity().token(), &["127.0.0.1:1".into()], None, 1)
        .unwrap();
    let (mut book, open) = ChannelBook::open(&a, b.identity(), Terms::default(), None, "alice", 10);
    let m = book
        .author(&a, Body::ContactCheck, "", 11, true)
        .expect_err("a proposed channel allows no contact check");
    assert!(matches!(m, hotline_core::Refusal::Forbidden(_)));
    let res = s
        .write(&[
            WriteOp::Channel(ChannelRow {
                id: book.id(),
                peer_id: peer.id,
                me: 0,
                created_at: 10,
            }),
            WriteOp::Entry {
                entry: open.clone(),
                stored_at: 10,
            },
        ])
        .unwrap();
    assert!(matches!(res[1], WriteResult::Cursor(1)));
    let rows = s.entries_after(&book.id(), 0, 10).unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].envelope, open.envelope().bytes());
    assert_eq!(
        s.entry_at(&book.id(), 0, 1).unwrap().unwrap().hash,
        open.hash()
    );
    // The same (channel, author, seq) twice is refused and the batch leaves nothing behind.
    assert!(s
        .write(&[WriteOp::Entry {
            entry: open,
            stored_at: 11
        }])
        .is_err());
    assert_eq!(s.entries_after(&book.id(), 0, 10).unwrap().len(), 1);
    book.refuse(1);
}

#[test]
fn an_alert_key_is_open_once_and_can_be_raised_again_after_clearing() {
    let mut s = SqliteStore::memory().unwrap();
    let raise = |s: &mut SqliteStore, at| {
        s.write(&[WriteOp::RaiseAlert {
            kind: "link-down".into(),
            channel: None,
            key: "link-down:b".into(),
            cause: "x".into(),
            at,
        }])
        .unwrap()
    };
    assert!(matches!(&raise(&mut s, 1)[0], WriteResult::Alert(Some(_))));
    assert_eq!(raise(&mut s, 2)[0], WriteResult::Alert(None));
    let cleared = s
        .write(&[WriteOp::ClearAlert {
            channel: None,
            key: "link-down:b".into(),
            at: 3,
        }])
        .unwrap();
    assert!(matches!(&cleared[0], WriteResult::Alert(Some(a)) if a.cleared_at == Some(3)));
    assert!(matches!(&raise(&mut s, 4)[0], WriteResult::Alert(Some(_))));
    // A note brings the open alert's cause up to date, and only the open one's.
    s.write(&[WriteOp::NoteAlert {
        channel: None,
        key: "link-down:b".into(),
        cause: "brought up to date".into(),
    }])
    .unwrap();
    let open = s.alerts(true, 10).unwrap();
    assert_eq!(open[0].cause, "brought up to date");
    assert_eq!(s.alerts(false, 10).unwrap()[1].cause, "x");
    assert_eq!(s.alerts(true, 10).unwrap().len(), 1);
    assert_eq!(s.alerts(false, 10).unwrap().len(), 2);
}

#[test]
fn an_audit_line_and_its_signed_head_land_together_or_not_at_all() {
    let mut s = SqliteStore::memory().unwrap();
    assert_eq!(s.audit_head().unwrap(), None);
    let k = keys(4);
    let line = |id: i64, hash: Hash| AuditRow {
        id,
        at: 1,
        user: "admin".into(),
        action: "POST users".into(),
        target: String::new(),
        result: "201".into(),
        prev: [0; 32],
        hash,
    };
    let head = |count, hash| AuditHead { count, hash }.sign(&k);
    s.write(&[
        WriteOp::Audit(line(0, [1; 32])),
        WriteOp::AuditHead(head(1, [1; 32])),
    ])
    .unwrap();
    assert_eq!(s.audit_head().unwrap(), Some(head(1, [1; 32])));
    assert_eq!(s.audit_count().unwrap(), 1);
    // A batch that fails after the line (a channel of no pinned peer)
    // leaves the old line count and head.
    let bad = WriteOp::Channel(ChannelRow {
        id: [9; 32],
        peer_id: 404,
        me: 0,
        created_at: 1,
    });
    assert!(s
        .write(&[
            WriteOp::Audit(line(0, [2; 32])),
            WriteOp::AuditHead(head(2, [2; 32])),
            bad,
        ])
        .is_err());
    assert_eq!(s.audit_head().unwrap(), Some(head(1, [1; 32])));
    assert_eq!(s.audit_count().unwrap(), 1);
}

#[test]
fn duplicate_peer_is_refused() {
    let mut s = SqliteStore::memory().unwrap();
    let t = keys(3).identity().token();
    s.add_peer("p", &t, &[], None, 1).unwrap();
    assert!(matches!(
        s.add_peer("p", &t, &[], None, 1),
        Err(StoreError::Exists(_))
    ));
}

#[test]
fn the_peers_rebuild_keeps_rows_and_references_and_leaves_foreign_keys_on() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db.sqlite");
    // A database as version 6 left it: a peer and a channel that names it.
    {
        let c = Connection::open(&path).unwrap();
        for sql in &MIGRATIONS[..6] {
            c.execute_batch(sql).unwrap();
        }
        c.pragma_update(None, "user_version", 6).unwrap();
        c.execute_batch(
            "INSERT INTO peers (id, name, token, addrs, rel, verified, handshake_ts, added_at)
                 VALUES (7, 'b', 'tok', '[\"127.0.0.1:1\"]', 'NATO', 1, 99, 5);
             INSERT INTO channels (id, peer_id, me, created_at) VALUES (zeroblob(32), 7, 0, 6);",
        )
        .unwrap();
    }
    let s = SqliteStore::open(&path).unwrap();
    let peers = s.peers().unwrap();
    assert_eq!(peers.len(), 1);
    let p = &peers[0];
    assert_eq!((p.id, p.name.as_str(), p.token.as_str()), (7, "b", "tok"));
    assert_eq!(
        (p.rel.as_deref(), p.verified, p.handshake_ts),
        (Some("NATO"), true, 99)
    );
    assert_eq!((p.removed_at, p.replaced_by), (None, None));
    assert_eq!(s.channels().unwrap()[0].peer_id, 7);
    let fk: i64 = s
        .conn
        .pragma_query_value(None, "foreign_keys", |r| r.get(0))
        .unwrap();
    assert_eq!(
        fk, 1,
        "foreign keys are enforced again after the migrations"
    );
    // And enforced in fact: a channel naming no peer is refused.
    assert!(s
        .conn
        .execute(
            "INSERT INTO channels (id, peer_id, me, created_at) VALUES (randomblob(32), 8, 0, 6)",
            []
        )
        .is_err());
}

#[test]
fn a_removed_peer_stays_on_record_and_its_name_and_key_can_be_pinned_again() {
    let mut s = SqliteStore::memory().unwrap();
    let t = keys(3).identity().token();
    let old = s.add_peer("p", &t, &["h:1".into()], None, 1).unwrap();
    s.remove_peer(old.id, 5).unwrap();
    assert!(matches!(
        s.remove_peer(old.id, 6),
        Err(StoreError::NotFound(_))
    ));
    let again = s.add_peer("p", &t, &["h:2".into()], None, 7).unwrap();
    assert_ne!(again.id, old.id);
    let rows = s.peers().unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0].removed_at, Some(5));
    assert_eq!(rows[1].removed_at, None);
    // Among peers still pinned, a name is unique.
    let other = keys(4).identity().token();
    assert!(matches!(
        s.add_peer("p", &other, &[], None, 8),
        Err(StoreError::Exists(_))
    ));
}

#[test]
fn a_repin_retires_the_old_row_and_pins_the_new_key_unverified_in_one_step() {
    let mut s = SqliteStore::memory().unwrap();
    let (t1, t2) = (keys(3).identity().token(), keys(4).identity().token());
    let old = s.add_peer("p", &t1, &["h:1".into()], Some("R"), 1).unwrap();
    s.set_verified(old.id, true).unwrap();
    let new = s.repin_peer(old.id, &t2, 9).unwrap();
    assert_eq!((new.name.as_str(), new.token.as_str()), ("p", t2.as_str()));
    assert_eq!(
        (new.addrs.clone(), new.rel.as_deref()),
        (vec!["h:1".to_string()], Some("R"))
    );
    assert!(!new.verified);
    let rows = s.peers().unwrap();
    assert_eq!(rows[0].removed_at, Some(9));
    assert_eq!(rows[0].replaced_by, Some(new.id));
    assert_eq!(rows[1], new);
    // A retired row cannot be repinned again, and a key pinned elsewhere is refused whole.
    assert!(matches!(
        s.repin_peer(old.id, &t2, 10),
        Err(StoreError::NotFound(_))
    ));
    let q = s
        .add_peer("q", &keys(5).identity().token(), &["h:3".into()], None, 11)
        .unwrap();
    assert!(matches!(
        s.repin_peer(q.id, &t2, 12),
        Err(StoreError::Exists(_))
    ));
    assert_eq!(
        s.peers().unwrap().len(),
        3,
        "the refused repin left nothing behind"
    );
}
