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

/// A database as version `version` of the schema left it, holding `rows`
/// (SQL run after its migrations): what an upgrade starts from.
fn at_version(path: &std::path::Path, version: usize, rows: &str) {
    let c = Connection::open(path).unwrap();
    for sql in &MIGRATIONS[..version] {
        c.execute_batch(sql).unwrap();
    }
    c.pragma_update(None, "user_version", version as i64)
        .unwrap();
    c.execute_batch(rows).unwrap();
}

#[test]
fn the_peers_rebuild_keeps_rows_and_references_and_leaves_foreign_keys_on() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db.sqlite");
    // A database as version 6 left it: a peer and a channel that names it.
    at_version(
        &path,
        6,
        "INSERT INTO peers (id, name, token, addrs, rel, verified, handshake_ts, added_at)
             VALUES (7, 'b', 'tok', '[\"127.0.0.1:1\"]', 'NATO', 1, 99, 5);
         INSERT INTO channels (id, peer_id, me, created_at) VALUES (zeroblob(32), 7, 0, 6);",
    );
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

/// Version 14 rebuilds the entries without an index on their hashes: the
/// rows and their cursors are kept, the cursor counter goes on from where
/// it was (never back, even past a row no longer there), and (channel,
/// author, seq) stays unique and indexed. (Finding entries by position and
/// by hash on this schema: the store conformance suite.)
#[test]
fn the_entries_rebuild_drops_the_hash_index_and_keeps_rows_and_the_cursor_counter() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db.sqlite");
    at_version(
        &path,
        13,
        "INSERT INTO peers (id, name, token, addrs, added_at) VALUES (1, 'b', 'tok', '[]', 5);
         INSERT INTO channels (id, peer_id, me, created_at) VALUES (x'11', 1, 0, 6);
         INSERT INTO entries (channel, author, seq, hash, lamport, kind, stored_at, envelope)
             VALUES (x'11', 0, 1, x'a1', 1, 'open', 7, x'e1'),
                    (x'11', 1, 1, x'b1', 2, 'accept', 8, x'e2'),
                    (x'11', 0, 2, x'a2', 3, 'message', 9, x'e3');
         DELETE FROM entries WHERE seq = 2;",
    );
    let s = SqliteStore::open(&path).unwrap();
    let indexed: Vec<String> = s
        .conn
        .prepare(
            "SELECT ii.name FROM pragma_index_list('entries') il, pragma_index_info(il.name) ii",
        )
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap();
    assert!(!indexed.iter().any(|c| c == "hash"), "{indexed:?}");
    assert!(indexed.iter().any(|c| c == "seq"), "{indexed:?}");
    let rows: Vec<(i64, Vec<u8>)> = s
        .conn
        .prepare("SELECT cursor, hash FROM entries ORDER BY cursor")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap();
    assert_eq!(rows, [(1, vec![0xa1]), (2, vec![0xb1])]);
    let insert = |seq: i64, hash: u8| {
        s.conn.execute(
            "INSERT INTO entries (channel, author, seq, hash, lamport, kind, stored_at, envelope)
             VALUES (x'11', 0, ?1, ?2, 4, 'message', 10, x'e4')",
            rusqlite::params![seq, vec![hash]],
        )
    };
    insert(2, 0xa3).unwrap();
    assert_eq!(s.conn.last_insert_rowid(), 4, "cursor 3 was used once");
    assert!(insert(2, 0xa4).is_err(), "(channel, author, seq) is unique");
}
