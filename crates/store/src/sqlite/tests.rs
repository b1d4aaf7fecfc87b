//! The SQLite backend's own tests: durability settings, file modes, its
//! migrations. What every backend must do is in `tests/conformance.rs`.

use super::*;

#[test]
fn durable_settings_are_in_force_on_a_file_database() {
    let dir = tempfile::tempdir().unwrap();
    let s = SqliteStore::open(&dir.path().join("db.sqlite")).unwrap();
    assert_eq!(s.durability().unwrap(), ("wal".to_string(), 2));
}

/// A relaxed write commits (it reads back at once) and leaves the
/// connection as durable as before, so the next ordinary write syncs the
/// log over both.
#[test]
fn a_relaxed_write_commits_and_puts_full_sync_back() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = SqliteStore::open(&dir.path().join("db.sqlite")).unwrap();
    let raise = |key: &str| WriteOp::RaiseAlert {
        kind: "link-down".into(),
        channel: None,
        key: key.into(),
        cause: "test".into(),
        at: 1,
    };
    s.write_relaxed(&[raise("a")]).unwrap();
    assert_eq!(s.alerts(true, 10).unwrap().len(), 1, "committed at once");
    assert_eq!(s.durability().unwrap(), ("wal".to_string(), 2));
    s.write(&[raise("b")]).unwrap();
    assert_eq!(s.alerts(true, 10).unwrap().len(), 2);
}

/// A batch is one transaction: when one of its writes fails, the writes
/// before it are undone, and the next batch commits as usual.
#[test]
fn a_batch_that_fails_part_way_leaves_nothing_and_the_next_commits() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = SqliteStore::open(&dir.path().join("db.sqlite")).unwrap();
    let raise = |key: &str| WriteOp::RaiseAlert {
        kind: "link-down".into(),
        channel: None,
        key: key.into(),
        cause: "test".into(),
        at: 1,
    };
    // A channel of a peer that does not exist breaks a foreign key.
    let orphan = WriteOp::Channel(crate::ChannelRow {
        id: [7; 32],
        peer_id: 999,
        me: 0,
        created_at: 1,
    });
    assert!(s.write(&[raise("a"), orphan]).is_err());
    assert!(
        s.alerts(true, 10).unwrap().is_empty(),
        "the first write undone"
    );
    s.write(&[raise("b")]).unwrap();
    assert_eq!(s.alerts(true, 10).unwrap().len(), 1);
    assert!(s.conn.is_autocommit(), "no transaction left open");
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
