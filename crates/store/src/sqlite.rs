//! The SQLite backend: WAL journal, `synchronous=FULL`, numbered migrations.

use crate::*;
use hotline_proto::AuditHead;
use rusqlite::{params, Connection, OptionalExtension, Row};
use std::path::Path;

/// Numbered migrations, applied in order; `PRAGMA user_version` is the last applied.
pub(crate) const MIGRATIONS: &[&str] = &[
    include_str!("../migrations/0001_init.sql"),
    include_str!("../migrations/0002_evidence_once.sql"),
    include_str!("../migrations/0003_audit_head.sql"),
    include_str!("../migrations/0004_alert_ack.sql"),
    include_str!("../migrations/0005_user_names_reusable.sql"),
    include_str!("../migrations/0006_user_expiry.sql"),
    include_str!("../migrations/0007_peers_retired.sql"),
    include_str!("../migrations/0008_restored_channels.sql"),
    include_str!("../migrations/0009_sharing.sql"),
    include_str!("../migrations/0010_peer_epoch.sql"),
    include_str!("../migrations/0011_peer_psk.sql"),
    include_str!("../migrations/0012_peer_keys.sql"),
    include_str!("../migrations/0013_book_snapshots.sql"),
    include_str!("../migrations/0014_entries_hash_unindexed.sql"),
    include_str!("../migrations/0015_courier.sql"),
];

/// A SQLite database in the station's data directory.
pub struct SqliteStore {
    conn: Connection,
    /// The `synchronous` level outside relaxed writes: FULL, or OFF where a
    /// test turned syncing off.
    sync: &'static str,
}

fn h32(v: Vec<u8>) -> rusqlite::Result<Hash> {
    v.try_into().map_err(|_| {
        rusqlite::Error::FromSqlConversionFailure(
            0,
            rusqlite::types::Type::Blob,
            "hash is not 32 bytes".into(),
        )
    })
}

fn chan_blob(c: &Option<Hash>) -> Vec<u8> {
    c.map(|h| h.to_vec()).unwrap_or_default()
}

fn entry_row(r: &Row) -> rusqlite::Result<EntryRow> {
    Ok(EntryRow {
        cursor: r.get::<_, i64>(0)? as u64,
        channel: h32(r.get(1)?)?,
        author: r.get::<_, i64>(2)? as u8,
        seq: r.get::<_, i64>(3)? as u64,
        hash: h32(r.get(4)?)?,
        lamport: r.get::<_, i64>(5)? as u64,
        stored_at: r.get::<_, i64>(6)? as u64,
        envelope: r.get(7)?,
    })
}

const ENTRY_COLS: &str = "cursor, channel, author, seq, hash, lamport, stored_at, envelope";

fn alert_row(r: &Row) -> rusqlite::Result<AlertRow> {
    let ch: Vec<u8> = r.get(2)?;
    Ok(AlertRow {
        id: r.get(0)?,
        kind: r.get(1)?,
        channel: if ch.is_empty() { None } else { Some(h32(ch)?) },
        key: r.get(3)?,
        cause: r.get(4)?,
        raised_at: r.get::<_, i64>(5)? as u64,
        cleared_at: r.get::<_, Option<i64>>(6)?.map(|t| t as u64),
        ack: match r.get::<_, Option<i64>>(7)? {
            Some(at) => Some(AlertAck {
                at: at as u64,
                by: r.get::<_, Option<String>>(8)?.unwrap_or_default(),
                note: r.get::<_, Option<String>>(9)?.unwrap_or_default(),
            }),
            None => None,
        },
    })
}

const ALERT_COLS: &str =
    "id, kind, channel, key, cause, raised_at, cleared_at, acked_at, acked_by, ack_note";

fn peer_row(r: &Row) -> rusqlite::Result<PeerRow> {
    let addrs: String = r.get(3)?;
    Ok(PeerRow {
        id: r.get(0)?,
        name: r.get(1)?,
        token: r.get(2)?,
        addrs: serde_json::from_str(&addrs).unwrap_or_default(),
        rel: r.get(4)?,
        verified: r.get(5)?,
        handshake_ts: r.get::<_, i64>(6)? as u64,
        removed_at: r.get::<_, Option<i64>>(7)?.map(|t| t as u64),
        replaced_by: r.get(8)?,
        epoch: r.get::<_, i64>(9)? as u64,
    })
}

fn user_row(r: &Row) -> rusqlite::Result<UserRow> {
    Ok(UserRow {
        id: r.get(0)?,
        name: r.get(1)?,
        role: r.get(2)?,
        created_at: r.get::<_, i64>(3)? as u64,
        revoked_at: r.get::<_, Option<i64>>(4)?.map(|t| t as u64),
        expires_at: r.get::<_, Option<i64>>(5)?.map(|t| t as u64),
    })
}

fn audit_row(r: &Row) -> rusqlite::Result<AuditRow> {
    Ok(AuditRow {
        id: r.get(0)?,
        at: r.get::<_, i64>(1)? as u64,
        user: r.get(2)?,
        action: r.get(3)?,
        target: r.get(4)?,
        result: r.get(5)?,
        prev: h32(r.get(6)?)?,
        hash: h32(r.get(7)?)?,
    })
}

fn is_unique_violation(e: &rusqlite::Error) -> bool {
    matches!(e, rusqlite::Error::SqliteFailure(f, _) if f.code == rusqlite::ErrorCode::ConstraintViolation)
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `path` and applies pending
    /// migrations. The database and its `-wal` and `-shm` files are left with
    /// mode 0600: they hold every message of the line.
    pub fn open(path: &Path) -> Result<SqliteStore> {
        Self::backup_before_upgrade(path)?;
        crate::files::create_private(path)?;
        let conn = Connection::open(path)?;
        let store = Self::setup(conn)?;
        // After setup, so that the WAL files it opened are covered too.
        crate::files::restrict(path)?;
        Ok(store)
    }

    /// An in-memory database, for tests.
    pub fn memory() -> Result<SqliteStore> {
        Self::setup(Connection::open_in_memory()?)
    }

    fn setup(conn: Connection) -> Result<SqliteStore> {
        // WAL lets API readers run beside the writer; FULL makes every commit durable
        // before we report it (SPEC §1, principle 3). The busy timeout covers the
        // brief moments another connection of this station holds the write lock.
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        // A statement whose plan SQLite may tune to a bound value (`LIMIT
        // ?`, say) is otherwise parsed again each time it is bound: the
        // query planner stability guarantee keeps each cached statement's
        // plan, so the hot path parses nothing.
        conn.set_db_config(
            rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG,
            true,
        )?;
        let mut s = SqliteStore { conn, sync: "FULL" };
        s.migrate()?;
        Ok(s)
    }

    fn migrate(&mut self) -> Result<()> {
        let known = MIGRATIONS.len() as i64;
        let found: i64 = self
            .conn
            .pragma_query_value(None, "user_version", |r| r.get(0))?;
        if found > known {
            return Err(StoreError::TooNew { found, known });
        }
        if found == known {
            return Ok(());
        }
        // A migration may rebuild a table others refer to (SQLite's documented
        // way to change a constraint): foreign keys are off while it runs
        // (the pragma is a no-op inside a transaction) and checked whole
        // before the commit, so a migration that breaks one is rolled back.
        self.conn.pragma_update(None, "foreign_keys", "OFF")?;
        // All pending migrations in one transaction: an upgrade lands whole
        // or leaves the database as it was.
        let run = (|| {
            let tx = self.conn.transaction()?;
            for sql in MIGRATIONS.iter().skip(found as usize) {
                tx.execute_batch(sql)?;
            }
            let broken: i64 =
                tx.query_row("SELECT count(*) FROM pragma_foreign_key_check", [], |r| {
                    r.get(0)
                })?;
            if broken > 0 {
                return Err(StoreError::Refused("a migration that breaks a reference"));
            }
            tx.pragma_update(None, "user_version", known)?;
            tx.commit()?;
            Ok(())
        })();
        self.conn.pragma_update(None, "foreign_keys", "ON")?;
        run
    }

    /// The journal mode and synchronous setting in force, for tests and diagnostics.
    pub fn durability(&self) -> Result<(String, i64)> {
        let mode: String = self
            .conn
            .pragma_query_value(None, "journal_mode", |r| r.get(0))?;
        let sync: i64 = self
            .conn
            .pragma_query_value(None, "synchronous", |r| r.get(0))?;
        Ok((mode, sync))
    }

    /// Runs a statement that takes no parameters and returns no rows,
    /// prepared once per connection.
    fn run_cached(&self, sql: &str) -> Result<()> {
        self.conn.prepare_cached(sql)?.execute([])?;
        Ok(())
    }

    /// Test-only switch: turns off fsync so a durability checker can be shown to catch the loss.
    pub fn set_unsafe_no_sync(&mut self) -> Result<()> {
        self.conn.pragma_update(None, "synchronous", "OFF")?;
        self.sync = "OFF";
        Ok(())
    }
}

impl Store for SqliteStore {
    fn write(&mut self, ops: &[WriteOp]) -> Result<Vec<WriteResult>> {
        // BEGIN and COMMIT are prepared once, like every statement of the
        // hot path (a rusqlite `Transaction` parses both each time).
        self.run_cached("BEGIN IMMEDIATE")?;
        let out = ops
            .iter()
            .map(|op| apply::apply(&self.conn, op))
            .collect::<Result<Vec<_>>>()
            .and_then(|out| self.run_cached("COMMIT").map(|()| out));
        if out.is_err() && !self.conn.is_autocommit() {
            // Nothing of a failed batch stays: the error is the caller's answer.
            let _ = self.run_cached("ROLLBACK");
        }
        out
    }

    fn write_relaxed(&mut self, ops: &[WriteOp]) -> Result<Vec<WriteResult>> {
        // In WAL mode, NORMAL commits without syncing the log; the next FULL
        // commit syncs the log up to and including this one.
        // (A pragma takes effect when it is parsed, so these two are not
        // prepared once.)
        self.conn.pragma_update(None, "synchronous", "NORMAL")?;
        let out = self.write(ops);
        self.conn.pragma_update(None, "synchronous", self.sync)?;
        out
    }

    fn meta(&self, key: &str) -> Result<Option<String>> {
        Ok(self
            .conn
            .query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
            .optional()?)
    }

    fn set_meta(&mut self, key: &str, value: &str) -> Result<()> {
        self.conn.execute(
            "INSERT INTO meta (key, value) VALUES (?1, ?2) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            [key, value],
        )?;
        Ok(())
    }

    fn add_peer(
        &mut self,
        name: &str,
        token: &str,
        addrs: &[String],
        rel: Option<&str>,
        at: u64,
    ) -> Result<PeerRow> {
        let addrs_json = serde_json::to_string(addrs).expect("strings serialize");
        match self.conn.execute(
            "INSERT INTO peers (name, token, addrs, rel, added_at) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![name, token, addrs_json, rel, at as i64],
        ) {
            Err(e) if is_unique_violation(&e) => {
                return Err(StoreError::Exists("a peer with this name or key"))
            }
            r => r?,
        };
        let id = self.conn.last_insert_rowid();
        Ok(PeerRow {
            id,
            name: name.into(),
            token: token.into(),
            addrs: addrs.to_vec(),
            rel: rel.map(Into::into),
            verified: false,
            handshake_ts: 0,
            removed_at: None,
            replaced_by: None,
            epoch: 0,
        })
    }

    fn peers(&self) -> Result<Vec<PeerRow>> {
        let mut st = self.conn.prepare_cached(
            "SELECT id, name, token, addrs, rel, verified, handshake_ts, removed_at, replaced_by, epoch
             FROM peers ORDER BY id",
        )?;
        let rows = st
            .query_map([], peer_row)?
            .collect::<rusqlite::Result<_>>()?;
        Ok(rows)
    }

    fn set_peer(&mut self, peer_id: i64, addrs: &[String], rel: Option<&str>) -> Result<()> {
        let addrs = serde_json::to_string(addrs).map_err(|_| StoreError::Refused("addresses"))?;
        let n = self.conn.execute(
            "UPDATE peers SET addrs = ?2, rel = ?3 WHERE id = ?1",
            params![peer_id, addrs, rel],
        )?;
        if n == 0 {
            return Err(StoreError::NotFound("peer"));
        }
        Ok(())
    }

    fn set_verified(&mut self, peer_id: i64, verified: bool) -> Result<()> {
        let n = self.conn.execute(
            "UPDATE peers SET verified = ?2 WHERE id = ?1",
            params![peer_id, verified],
        )?;
        if n == 0 {
            return Err(StoreError::NotFound("peer"));
        }
        Ok(())
    }

    fn restored(&self) -> Result<Vec<Hash>> {
        let mut st = self
            .conn
            .prepare_cached("SELECT channel FROM restored ORDER BY channel")?;
        let rows = st
            .query_map([], |r| h32(r.get(0)?))?
            .collect::<rusqlite::Result<_>>()?;
        Ok(rows)
    }

    fn mark_all_restored(&mut self) -> Result<usize> {
        Ok(self.conn.execute(
            "INSERT OR IGNORE INTO restored (channel) SELECT id FROM channels",
            [],
        )?)
    }

    fn reports(&self) -> Result<Vec<hotline_core::machine::Report>> {
        sharing::reports(&self.conn)
    }

    fn report(&self, id: &Hash) -> Result<Option<hotline_core::machine::Report>> {
        sharing::report(&self.conn, id)
    }

    fn dispositions(&self, report: Option<&Hash>) -> Result<Vec<DispositionRow>> {
        sharing::dispositions(&self.conn, report)
    }

    fn sharing(&self) -> Result<Vec<SharingRow>> {
        sharing::sharing(&self.conn)
    }

    fn psks(&self) -> Result<Vec<PskRow>> {
        sharing::psks(&self.conn)
    }

    fn peer_keys(&self) -> Result<Vec<RetiredKeyRow>> {
        sharing::peer_keys(&self.conn)
    }

    fn courier_ranges(&self, channel: &Hash) -> Result<Vec<(u8, u64, u64)>> {
        let mut st = self.conn.prepare_cached(
            "SELECT author, first, last FROM courier WHERE channel = ?1 ORDER BY author, first",
        )?;
        let rows = st
            .query_map(params![&channel[..]], |r| {
                Ok((
                    r.get::<_, i64>(0)? as u8,
                    r.get::<_, i64>(1)? as u64,
                    r.get::<_, i64>(2)? as u64,
                ))
            })?
            .collect::<rusqlite::Result<_>>()?;
        Ok(rows)
    }

    fn remove_peer(&mut self, peer_id: i64, at: u64) -> Result<()> {
        let n = self.conn.execute(
            "UPDATE peers SET removed_at = ?2 WHERE id = ?1 AND removed_at IS NULL",
            params![peer_id, at as i64],
        )?;
        if n == 0 {
            return Err(StoreError::NotFound("peer"));
        }
        Ok(())
    }

    fn repin_peer(&mut self, peer_id: i64, token: &str, at: u64) -> Result<PeerRow> {
        let tx = self.conn.transaction()?;
        let old = tx
            .query_row(
                "SELECT id, name, token, addrs, rel, verified, handshake_ts, removed_at, replaced_by, epoch
                 FROM peers WHERE id = ?1 AND removed_at IS NULL",
                params![peer_id],
                peer_row,
            )
            .optional()?
            .ok_or(StoreError::NotFound("peer"))?;
        tx.execute(
            "UPDATE peers SET removed_at = ?2 WHERE id = ?1",
            params![peer_id, at as i64],
        )?;
        let addrs = serde_json::to_string(&old.addrs).expect("strings serialize");
        match tx.execute(
            "INSERT INTO peers (name, token, addrs, rel, added_at) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![old.name, token, addrs, old.rel, at as i64],
        ) {
            Err(e) if is_unique_violation(&e) => {
                return Err(StoreError::Exists("a peer with this key"))
            }
            r => r?,
        };
        let id = tx.last_insert_rowid();
        tx.execute(
            "UPDATE peers SET replaced_by = ?2 WHERE id = ?1",
            params![peer_id, id],
        )?;
        tx.commit()?;
        Ok(PeerRow {
            id,
            token: token.into(),
            verified: false,
            handshake_ts: 0,
            removed_at: None,
            replaced_by: None,
            epoch: 0,
            ..old
        })
    }

    fn channels(&self) -> Result<Vec<ChannelRow>> {
        let mut st = self.conn.prepare_cached(
            "SELECT id, peer_id, me, created_at FROM channels ORDER BY created_at, id",
        )?;
        let rows = st
            .query_map([], |r| {
                Ok(ChannelRow {
                    id: h32(r.get(0)?)?,
                    peer_id: r.get(1)?,
                    me: r.get::<_, i64>(2)? as u8,
                    created_at: r.get::<_, i64>(3)? as u64,
                })
            })?
            .collect::<rusqlite::Result<_>>()?;
        Ok(rows)
    }

    fn entries_after(&self, channel: &Hash, after: u64, limit: usize) -> Result<Vec<EntryRow>> {
        let mut st = self.conn.prepare_cached(&format!(
            "SELECT {ENTRY_COLS} FROM entries WHERE channel = ?1 AND cursor > ?2 ORDER BY cursor LIMIT ?3"
        ))?;
        let rows = st
            .query_map(
                params![channel.to_vec(), after as i64, limit as i64],
                entry_row,
            )?
            .collect::<rusqlite::Result<_>>()?;
        Ok(rows)
    }

    fn chain_from(
        &self,
        channel: &Hash,
        author: u8,
        from_seq: u64,
        limit: usize,
    ) -> Result<Vec<EntryRow>> {
        let mut st = self.conn.prepare_cached(&format!(
            "SELECT {ENTRY_COLS} FROM entries WHERE channel = ?1 AND author = ?2 AND seq >= ?3 ORDER BY seq LIMIT ?4"
        ))?;
        let rows = st
            .query_map(
                params![channel.to_vec(), author, from_seq as i64, limit as i64],
                entry_row,
            )?
            .collect::<rusqlite::Result<_>>()?;
        Ok(rows)
    }

    fn entry_by_hash(&self, hash: &Hash) -> Result<Option<EntryRow>> {
        Ok(self
            .conn
            .prepare_cached(&format!("SELECT {ENTRY_COLS} FROM entries WHERE hash = ?1"))?
            .query_row([hash.to_vec()], entry_row)
            .optional()?)
    }

    fn entry_at(&self, channel: &Hash, author: u8, seq: u64) -> Result<Option<EntryRow>> {
        Ok(self
            .conn
            .prepare_cached(&format!(
                "SELECT {ENTRY_COLS} FROM entries WHERE channel = ?1 AND author = ?2 AND seq = ?3"
            ))?
            .query_row(params![channel.to_vec(), author, seq as i64], entry_row)
            .optional()?)
    }

    fn book_snapshot(&self, channel: &Hash) -> Result<Option<SnapshotRow>> {
        snapshots::snapshot(&self.conn, channel)
    }

    fn book_segments(&self, channel: &Hash, author: u8, count: u64) -> Result<Vec<Vec<u8>>> {
        snapshots::segments(&self.conn, channel, author, count)
    }

    fn checkpoint(&self, channel: &Hash, signer: u8) -> Result<Option<Vec<u8>>> {
        Ok(self
            .conn
            .prepare_cached("SELECT envelope FROM checkpoints WHERE channel = ?1 AND signer = ?2")?
            .query_row(params![channel.to_vec(), signer], |r| r.get(0))
            .optional()?)
    }

    fn alerts(&self, open_only: bool, limit: usize) -> Result<Vec<AlertRow>> {
        let sql = format!(
            "SELECT {ALERT_COLS} FROM alerts {} ORDER BY id DESC LIMIT ?1",
            if open_only {
                "WHERE cleared_at IS NULL"
            } else {
                ""
            }
        );
        let mut st = self.conn.prepare_cached(&sql)?;
        let rows = st
            .query_map([limit as i64], alert_row)?
            .collect::<rusqlite::Result<_>>()?;
        Ok(rows)
    }

    fn add_user_until(
        &mut self,
        name: &str,
        role: &str,
        token_hash: &Hash,
        at: u64,
        expires_at: Option<u64>,
    ) -> Result<UserRow> {
        match self.conn.execute(
            "INSERT INTO users (name, role, token_hash, created_at, expires_at) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![name, role, token_hash.to_vec(), at as i64, expires_at.map(|e| e as i64)],
        ) {
            Err(e) if is_unique_violation(&e) => {
                return Err(StoreError::Exists("a user with this name"))
            }
            r => r?,
        };
        Ok(UserRow {
            id: self.conn.last_insert_rowid(),
            name: name.into(),
            role: role.into(),
            created_at: at,
            revoked_at: None,
            expires_at,
        })
    }

    fn user_by_token(&self, token_hash: &Hash) -> Result<Option<UserRow>> {
        Ok(self
            .conn
            .prepare_cached(
                "SELECT id, name, role, created_at, revoked_at, expires_at FROM users WHERE token_hash = ?1 AND revoked_at IS NULL",
            )?
            .query_row([token_hash.to_vec()], user_row)
            .optional()?)
    }

    fn users(&self) -> Result<Vec<UserRow>> {
        let mut st = self.conn.prepare_cached(
            "SELECT id, name, role, created_at, revoked_at, expires_at FROM users ORDER BY id",
        )?;
        let rows = st
            .query_map([], user_row)?
            .collect::<rusqlite::Result<_>>()?;
        Ok(rows)
    }

    fn user_tokens(&self) -> Result<Vec<UserToken>> {
        let mut st = self.conn.prepare_cached(
            "SELECT token_hash, name, role, expires_at FROM users WHERE revoked_at IS NULL ORDER BY id",
        )?;
        let rows = st
            .query_map([], |r| {
                let expires: Option<i64> = r.get(3)?;
                Ok((
                    h32(r.get(0)?)?,
                    r.get(1)?,
                    r.get(2)?,
                    expires.map(|e| e as u64),
                ))
            })?
            .collect::<rusqlite::Result<_>>()?;
        Ok(rows)
    }

    fn revoke_user(&mut self, name: &str, at: u64) -> Result<()> {
        let tx = self.conn.transaction()?;
        let role: Option<String> = tx
            .query_row(
                "SELECT role FROM users WHERE name = ?1 AND revoked_at IS NULL",
                [name],
                |r| r.get(0),
            )
            .optional()?;
        let Some(role) = role else {
            return Err(StoreError::NotFound("active user"));
        };
        let admins: i64 = tx.query_row(
            "SELECT COUNT(*) FROM users WHERE role = 'admin' AND revoked_at IS NULL",
            [],
            |r| r.get(0),
        )?;
        if role == "admin" && admins <= 1 {
            return Err(StoreError::Refused(
                "the last admin cannot be revoked: add another admin first",
            ));
        }
        tx.execute(
            "UPDATE users SET revoked_at = ?2 WHERE name = ?1 AND revoked_at IS NULL",
            params![name, at as i64],
        )?;
        tx.commit()?;
        Ok(())
    }

    fn rotate_user(&mut self, name: &str, token_hash: &Hash, at: u64) -> Result<UserRow> {
        let tx = self.conn.transaction()?;
        let held: Option<(String, Option<i64>)> = tx
            .query_row(
                "SELECT role, expires_at FROM users WHERE name = ?1 AND revoked_at IS NULL",
                [name],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        // The new token keeps the old one's expiry.
        let Some((role, expires_at)) = held else {
            return Err(StoreError::NotFound("active user"));
        };
        tx.execute(
            "UPDATE users SET revoked_at = ?2 WHERE name = ?1 AND revoked_at IS NULL",
            params![name, at as i64],
        )?;
        tx.execute(
            "INSERT INTO users (name, role, token_hash, created_at, expires_at) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![name, role, token_hash.to_vec(), at as i64, expires_at],
        )?;
        let id = tx.last_insert_rowid();
        tx.commit()?;
        Ok(UserRow {
            id,
            name: name.into(),
            role,
            created_at: at,
            revoked_at: None,
            expires_at: expires_at.map(|e| e as u64),
        })
    }

    fn audit(&self, after_id: i64, limit: usize) -> Result<Vec<AuditRow>> {
        let mut st = self.conn.prepare_cached(
            "SELECT id, at, user, action, target, result, prev, hash FROM audit WHERE id > ?1 ORDER BY id LIMIT ?2",
        )?;
        let rows = st
            .query_map(params![after_id, limit as i64], audit_row)?
            .collect::<rusqlite::Result<_>>()?;
        Ok(rows)
    }

    fn last_audit(&self) -> Result<Option<AuditRow>> {
        Ok(self
            .conn
            .query_row(
                "SELECT id, at, user, action, target, result, prev, hash FROM audit ORDER BY id DESC LIMIT 1",
                [],
                audit_row,
            )
            .optional()?)
    }

    fn audit_head(&self) -> Result<Option<SignedAuditHead>> {
        Ok(self
            .conn
            .query_row(
                "SELECT count, hash, sig FROM audit_head WHERE id = 1",
                [],
                |r| {
                    let sig: Vec<u8> = r.get(2)?;
                    let sig: [u8; 64] = sig.try_into().map_err(|_| {
                        rusqlite::Error::FromSqlConversionFailure(
                            2,
                            rusqlite::types::Type::Blob,
                            "signature is not 64 bytes".into(),
                        )
                    })?;
                    let head = AuditHead {
                        count: r.get::<_, i64>(0)? as u64,
                        hash: h32(r.get(1)?)?,
                    };
                    Ok(SignedAuditHead::from_parts(head, sig))
                },
            )
            .optional()?)
    }

    fn audit_count(&self) -> Result<u64> {
        Ok(self
            .conn
            .query_row("SELECT COUNT(*) FROM audit", [], |r| r.get::<_, i64>(0))? as u64)
    }

    fn backend(&self) -> Backend {
        Backend::Sqlite
    }

    fn ack_alert(&mut self, id: i64, by: &str, note: &str, at: u64) -> Result<AlertRow> {
        self.conn
            .prepare_cached(&format!(
                "UPDATE alerts SET acked_at = ?2, acked_by = ?3, ack_note = ?4 WHERE id = ?1
                 RETURNING {ALERT_COLS}"
            ))?
            .query_row(params![id, at as i64, by, note], alert_row)
            .optional()?
            .ok_or(StoreError::NotFound("alert"))
    }

    fn evidence(&self, channel: Option<&Hash>) -> Result<Vec<EvidenceRow>> {
        let mut st = self.conn.prepare_cached(
            "SELECT channel, author, seq, stored, conflicting, at FROM evidence
             WHERE ?1 IS NULL OR channel = ?1 ORDER BY id",
        )?;
        let rows = st
            .query_map([channel.map(|c| c.to_vec())], |r| {
                Ok(EvidenceRow {
                    channel: h32(r.get(0)?)?,
                    author: r.get(1)?,
                    seq: r.get::<_, i64>(2)? as u64,
                    stored: r.get(3)?,
                    conflicting: r.get(4)?,
                    at: r.get::<_, i64>(5)? as u64,
                })
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }
}

mod apply;
mod copy;
mod sharing;
mod snapshots;

#[cfg(test)]
mod tests;
