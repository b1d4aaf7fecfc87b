//! The PostgreSQL backend: a database two station processes may share, one
//! leading by a lease (see [`Store::lease_take`]), through the blocking
//! client (the station calls the store from its writer thread and from
//! blocking readers, never from async code).
//!
//! It behaves as the SQLite backend does for every trait method: the same
//! rows, the same order, the same errors (only the text of
//! [`StoreError::Db`] is the database's own). Commits are durable on
//! return: a server with `synchronous_commit` or `fsync` off is refused.

use crate::*;
use ::postgres::types::{FromSql, ToSql};
use ::postgres::{Client, GenericClient, IsolationLevel, NoTls, Row, Statement};
use hotline_proto::AuditHead;
use std::cell::RefCell;
use std::collections::HashMap;

mod apply;
mod lease;
mod migrate;
mod rows;
mod sharing;
mod snapshots;
#[cfg(test)]
mod tests;
mod users;

use rows::*;

pub use migrate::{schema_of as pg_schema_of, schema_version as pg_schema_version};

/// A PostgreSQL database, reached by a libpq-style URL.
pub struct PgStore {
    config: ::postgres::Config,
    conn: RefCell<Conn>,
    fence: Option<Fence>,
}

/// How long a connection attempt to one host may take, unless the URL
/// says (`connect_timeout`): then the next host is tried.
pub(crate) const CONNECT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// How long a transaction of this store may sit idle between statements
/// before the server ends it; the store never waits on anything else
/// inside one.
const IDLE_IN_TRANSACTION: std::time::Duration = std::time::Duration::from_secs(10);

/// One connection and the statements prepared on it.
struct Conn {
    client: Client,
    cache: HashMap<String, Statement>,
    /// The last call failed in the database: the connection may be gone
    /// without the client knowing yet.
    suspect: bool,
}

impl From<::postgres::Error> for StoreError {
    /// The error and its causes, which its own text leaves out ("db error",
    /// "error connecting to server"): the server's message is among them.
    fn from(e: ::postgres::Error) -> StoreError {
        let mut text = e.to_string();
        let mut cause = std::error::Error::source(&e);
        while let Some(c) = cause {
            text.push_str(": ");
            text.push_str(&c.to_string());
            cause = c.source();
        }
        StoreError::Db(text)
    }
}

/// Whether the database refused a row for a constraint (SQLSTATE class 23),
/// as SQLite's `SQLITE_CONSTRAINT` does.
fn is_constraint(e: &::postgres::Error) -> bool {
    e.code().is_some_and(|c| c.code().starts_with("23"))
}

/// Maps a constraint violation to [`StoreError::Exists`], anything else to
/// [`StoreError::Db`].
fn exists(what: &'static str) -> impl FnOnce(::postgres::Error) -> StoreError {
    move |e| {
        if is_constraint(&e) {
            StoreError::Exists(what)
        } else {
            e.into()
        }
    }
}

/// Statement parameters.
type Params<'a> = &'a [&'a (dyn ToSql + Sync)];

/// Queries through a client or a transaction, each statement prepared once
/// per connection (as SQLite's `prepare_cached`).
pub(crate) struct Q<'a, G: GenericClient> {
    g: &'a mut G,
    cache: &'a mut HashMap<String, Statement>,
}

impl<G: GenericClient> Q<'_, G> {
    fn stmt(&mut self, sql: &str) -> std::result::Result<Statement, ::postgres::Error> {
        if let Some(st) = self.cache.get(sql) {
            return Ok(st.clone());
        }
        let st = self.g.prepare(sql)?;
        self.cache.insert(sql.to_owned(), st.clone());
        Ok(st)
    }

    /// Runs a statement; returns how many rows it changed.
    fn exec(&mut self, sql: &str, p: Params) -> std::result::Result<u64, ::postgres::Error> {
        let st = self.stmt(sql)?;
        self.g.execute(&st, p)
    }

    /// All rows of a query.
    fn rows(&mut self, sql: &str, p: Params) -> std::result::Result<Vec<Row>, ::postgres::Error> {
        let st = self.stmt(sql)?;
        self.g.query(&st, p)
    }

    /// The one row of a query, if any.
    fn opt(&mut self, sql: &str, p: Params) -> std::result::Result<Option<Row>, ::postgres::Error> {
        let st = self.stmt(sql)?;
        self.g.query_opt(&st, p)
    }

    /// The one row of a query.
    fn one(&mut self, sql: &str, p: Params) -> std::result::Result<Row, ::postgres::Error> {
        let st = self.stmt(sql)?;
        self.g.query_one(&st, p)
    }
}

/// A column of a row, or [`StoreError::Db`] if it is not of that type.
fn get<'a, T: FromSql<'a>>(r: &'a Row, i: usize) -> Result<T> {
    Ok(r.try_get(i)?)
}

/// A count or limit as the database's BIGINT: `usize::MAX` means no limit,
/// as SQLite reads the `-1` it becomes there.
fn limit(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

impl Conn {
    fn open(config: &::postgres::Config) -> Result<Conn> {
        let mut client = config.connect(NoTls)?;
        check_durability(&mut client)?;
        // A station process frozen inside a transaction would hold the
        // lease row shared and keep the standby from taking over: the
        // server ends such a transaction (never one that is running).
        client.batch_execute(&format!(
            "SET idle_in_transaction_session_timeout = '{}ms'",
            IDLE_IN_TRANSACTION.as_millis()
        ))?;
        Ok(Conn {
            client,
            cache: HashMap::new(),
            suspect: false,
        })
    }
}

/// Refuses a server that could lose a commit it acknowledged. Nothing is
/// changed: this store never sets either.
fn check_durability(client: &mut Client) -> Result<()> {
    let show = |client: &mut Client, what: &str| -> Result<String> {
        let row = client.query_one(&format!("SHOW {what}"), &[])?;
        get(&row, 0)
    };
    if show(client, "synchronous_commit")? == "off" {
        return Err(StoreError::Refused(
            "PostgreSQL with synchronous_commit = off: a commit could be lost after it was \
             reported durable; set it to on (the default) for hotline's database and role",
        ));
    }
    if show(client, "fsync")? == "off" {
        return Err(StoreError::Refused(
            "PostgreSQL with fsync = off: a crash could lose or corrupt committed data; \
             set fsync = on (the default)",
        ));
    }
    Ok(())
}

impl PgStore {
    /// Connects to the database at `url` (libpq style: `postgresql://…`,
    /// several `host:port` pairs with `target_session_attrs=read-write`,
    /// a unix socket directory as `?host=/dir`, or `key=value` pairs),
    /// refuses a server whose commits are not durable, and applies pending
    /// migrations (in one transaction, one connecting station at a time).
    pub fn connect(url: &str) -> Result<PgStore> {
        let mut config = parse_url(url)?;
        if config.get_application_name().is_none() {
            config.application_name("hotline");
        }
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(CONNECT_TIMEOUT);
        }
        let mut conn = Conn::open(&config)?;
        migrate::migrate(&mut conn.client)?;
        Ok(PgStore {
            config,
            conn: RefCell::new(conn),
            fence: None,
        })
    }

    /// The server's `synchronous_commit` and `fsync` settings as this
    /// connection sees them, for tests and diagnostics.
    pub fn durability(&self) -> Result<(String, String)> {
        self.read(|q| {
            let s = q.one("SELECT current_setting('synchronous_commit')", &[])?;
            let f = q.one("SELECT current_setting('fsync')", &[])?;
            Ok((get(&s, 0)?, get(&f, 0)?))
        })
    }

    /// Runs `f` on the connection, connecting again first if it was lost
    /// (a server restart, a failover): the call that found it lost failed,
    /// and is not repeated here, since a commit's outcome is then unknown.
    fn with_conn<T>(&self, f: impl FnOnce(&mut Conn) -> Result<T>) -> Result<T> {
        let mut c = self
            .conn
            .try_borrow_mut()
            .map_err(|_| StoreError::Db("the connection is in use".into()))?;
        let lost = c.client.is_closed()
            || (c.suspect
                && c.client
                    .is_valid(std::time::Duration::from_secs(5))
                    .is_err());
        if lost {
            *c = Conn::open(&self.config)?;
        }
        c.suspect = false;
        let out = f(&mut c);
        if let Err(StoreError::Db(_)) = out {
            c.suspect = true;
        }
        out
    }

    /// Reads outside a transaction, as SQLite's single statements do.
    fn read<T>(&self, f: impl FnOnce(&mut Q<Client>) -> Result<T>) -> Result<T> {
        self.with_conn(|c| {
            f(&mut Q {
                g: &mut c.client,
                cache: &mut c.cache,
            })
        })
    }

    /// Runs `f` in one transaction, committed before return. With a fence
    /// set, the transaction first finds the fence's lease still held, and
    /// keeps it from being taken over until the commit.
    fn tx<T>(&self, f: impl FnOnce(&mut Q<::postgres::Transaction>) -> Result<T>) -> Result<T> {
        self.with_conn(|c| {
            let mut tx = c
                .client
                .build_transaction()
                .isolation_level(IsolationLevel::ReadCommitted)
                .start()?;
            let mut q = Q {
                g: &mut tx,
                cache: &mut c.cache,
            };
            if let Some(fence) = &self.fence {
                lease::check_fence(&mut q, fence)?;
            }
            let out = f(&mut q)?;
            tx.commit()?;
            Ok(out)
        })
    }
}

const PEER_COLS: &str =
    "id, name, token, addrs, rel, verified, handshake_ts, removed_at, replaced_by, epoch";

impl Store for PgStore {
    fn write(&mut self, ops: &[WriteOp]) -> Result<Vec<WriteResult>> {
        self.tx(|q| ops.iter().map(|op| apply::apply(q, op)).collect())
    }

    fn write_relaxed(&mut self, ops: &[WriteOp]) -> Result<Vec<WriteResult>> {
        // This transaction's commit does not wait for the WAL flush (nor a
        // synchronous replica); the next one that does covers it.
        self.tx(|q| {
            q.exec("SET LOCAL synchronous_commit TO off", &[])?;
            ops.iter().map(|op| apply::apply(q, op)).collect()
        })
    }

    fn meta(&self, key: &str) -> Result<Option<String>> {
        self.read(|q| {
            q.opt("SELECT value FROM meta WHERE key = $1", &[&key])?
                .map(|r| get(&r, 0))
                .transpose()
        })
    }

    fn set_meta(&mut self, key: &str, value: &str) -> Result<()> {
        self.tx(|q| {
            q.exec(
                "INSERT INTO meta (key, value) VALUES ($1, $2)
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                &[&key, &value],
            )?;
            Ok(())
        })
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
        let id: i64 = self.tx(|q| {
            let row = q
                .one(
                    "INSERT INTO peers (name, token, addrs, rel, added_at)
                     VALUES ($1, $2, $3, $4, $5) RETURNING id",
                    &[&name, &token, &addrs_json, &rel, &(at as i64)],
                )
                .map_err(exists("a peer with this name or key"))?;
            get(&row, 0)
        })?;
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
        self.read(|q| {
            q.rows(&format!("SELECT {PEER_COLS} FROM peers ORDER BY id"), &[])?
                .iter()
                .map(peer_row)
                .collect()
        })
    }

    fn set_peer(&mut self, peer_id: i64, addrs: &[String], rel: Option<&str>) -> Result<()> {
        let addrs = serde_json::to_string(addrs).map_err(|_| StoreError::Refused("addresses"))?;
        self.tx(|q| {
            let n = q.exec(
                "UPDATE peers SET addrs = $2, rel = $3 WHERE id = $1",
                &[&peer_id, &addrs, &rel],
            )?;
            if n == 0 {
                return Err(StoreError::NotFound("peer"));
            }
            Ok(())
        })
    }

    fn set_verified(&mut self, peer_id: i64, verified: bool) -> Result<()> {
        self.tx(|q| {
            let n = q.exec(
                "UPDATE peers SET verified = $2 WHERE id = $1",
                &[&peer_id, &verified],
            )?;
            if n == 0 {
                return Err(StoreError::NotFound("peer"));
            }
            Ok(())
        })
    }

    fn restored(&self) -> Result<Vec<Hash>> {
        self.read(|q| {
            q.rows("SELECT channel FROM restored ORDER BY channel", &[])?
                .iter()
                .map(|r| h32(get(r, 0)?))
                .collect()
        })
    }

    fn mark_all_restored(&mut self) -> Result<usize> {
        self.tx(|q| {
            Ok(q.exec(
                "INSERT INTO restored (channel) SELECT id FROM channels ON CONFLICT DO NOTHING",
                &[],
            )? as usize)
        })
    }

    fn reports(&self) -> Result<Vec<hotline_core::machine::Report>> {
        self.read(sharing::reports)
    }

    fn report(&self, id: &Hash) -> Result<Option<hotline_core::machine::Report>> {
        self.read(|q| sharing::report(q, id))
    }

    fn dispositions(&self, report: Option<&Hash>) -> Result<Vec<DispositionRow>> {
        self.read(|q| sharing::dispositions(q, report))
    }

    fn sharing(&self) -> Result<Vec<SharingRow>> {
        self.read(sharing::sharing)
    }

    fn psks(&self) -> Result<Vec<PskRow>> {
        self.read(sharing::psks)
    }

    fn peer_keys(&self) -> Result<Vec<RetiredKeyRow>> {
        self.read(sharing::peer_keys)
    }

    fn courier_ranges(&self, channel: &Hash) -> Result<Vec<(u8, u64, u64)>> {
        let channel = channel.to_vec();
        self.read(|q| {
            q.rows(
                "SELECT author, first, last FROM courier WHERE channel = $1 ORDER BY author, first",
                &[&channel],
            )?
            .iter()
            .map(|r| {
                Ok((
                    get::<i64>(r, 0)? as u8,
                    get::<i64>(r, 1)? as u64,
                    get::<i64>(r, 2)? as u64,
                ))
            })
            .collect()
        })
    }

    fn remove_peer(&mut self, peer_id: i64, at: u64) -> Result<()> {
        self.tx(|q| {
            let n = q.exec(
                "UPDATE peers SET removed_at = $2 WHERE id = $1 AND removed_at IS NULL",
                &[&peer_id, &(at as i64)],
            )?;
            if n == 0 {
                return Err(StoreError::NotFound("peer"));
            }
            Ok(())
        })
    }

    fn repin_peer(&mut self, peer_id: i64, token: &str, at: u64) -> Result<PeerRow> {
        self.tx(|q| {
            // Locked: a concurrent repin or removal of the same row waits.
            let old = q
                .opt(
                    &format!(
                        "SELECT {PEER_COLS} FROM peers WHERE id = $1 AND removed_at IS NULL
                         FOR UPDATE"
                    ),
                    &[&peer_id],
                )?
                .as_ref()
                .map(peer_row)
                .transpose()?
                .ok_or(StoreError::NotFound("peer"))?;
            q.exec(
                "UPDATE peers SET removed_at = $2 WHERE id = $1",
                &[&peer_id, &(at as i64)],
            )?;
            let addrs = serde_json::to_string(&old.addrs).expect("strings serialize");
            let row = q
                .one(
                    "INSERT INTO peers (name, token, addrs, rel, added_at)
                     VALUES ($1, $2, $3, $4, $5) RETURNING id",
                    &[&old.name, &token, &addrs, &old.rel, &(at as i64)],
                )
                .map_err(exists("a peer with this key"))?;
            let id: i64 = get(&row, 0)?;
            q.exec(
                "UPDATE peers SET replaced_by = $2 WHERE id = $1",
                &[&peer_id, &id],
            )?;
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
        })
    }

    fn channels(&self) -> Result<Vec<ChannelRow>> {
        self.read(|q| {
            q.rows(
                "SELECT id, peer_id, me, created_at FROM channels ORDER BY created_at, id",
                &[],
            )?
            .iter()
            .map(|r| {
                Ok(ChannelRow {
                    id: h32(get(r, 0)?)?,
                    peer_id: get(r, 1)?,
                    me: get::<i64>(r, 2)? as u8,
                    created_at: get::<i64>(r, 3)? as u64,
                })
            })
            .collect()
        })
    }

    fn entries_after(&self, channel: &Hash, after: u64, limit: usize) -> Result<Vec<EntryRow>> {
        self.read(|q| {
            q.rows(
                &format!(
                    "SELECT {ENTRY_COLS} FROM entries WHERE channel = $1 AND cursor > $2
                     ORDER BY cursor LIMIT $3"
                ),
                &[&&channel[..], &(after as i64), &self::limit(limit)],
            )?
            .iter()
            .map(entry_row)
            .collect()
        })
    }

    fn chain_from(
        &self,
        channel: &Hash,
        author: u8,
        from_seq: u64,
        limit: usize,
    ) -> Result<Vec<EntryRow>> {
        self.read(|q| {
            q.rows(
                &format!(
                    "SELECT {ENTRY_COLS} FROM entries WHERE channel = $1 AND author = $2
                     AND seq >= $3 ORDER BY seq LIMIT $4"
                ),
                &[
                    &&channel[..],
                    &i64::from(author),
                    &(from_seq as i64),
                    &self::limit(limit),
                ],
            )?
            .iter()
            .map(entry_row)
            .collect()
        })
    }

    fn entry_by_hash(&self, hash: &Hash) -> Result<Option<EntryRow>> {
        self.read(|q| {
            q.opt(
                &format!("SELECT {ENTRY_COLS} FROM entries WHERE hash = $1"),
                &[&&hash[..]],
            )?
            .as_ref()
            .map(entry_row)
            .transpose()
        })
    }

    fn entry_at(&self, channel: &Hash, author: u8, seq: u64) -> Result<Option<EntryRow>> {
        self.read(|q| {
            q.opt(
                &format!(
                    "SELECT {ENTRY_COLS} FROM entries WHERE channel = $1 AND author = $2 AND seq = $3"
                ),
                &[&&channel[..], &i64::from(author), &(seq as i64)],
            )?
            .as_ref()
            .map(entry_row)
            .transpose()
        })
    }

    fn book_snapshot(&self, channel: &Hash) -> Result<Option<SnapshotRow>> {
        self.read(|q| snapshots::snapshot(q, channel))
    }

    fn book_segments(&self, channel: &Hash, author: u8, count: u64) -> Result<Vec<Vec<u8>>> {
        self.read(|q| snapshots::segments(q, channel, author, count))
    }

    fn checkpoint(&self, channel: &Hash, signer: u8) -> Result<Option<Vec<u8>>> {
        self.read(|q| {
            q.opt(
                "SELECT envelope FROM checkpoints WHERE channel = $1 AND signer = $2",
                &[&&channel[..], &i64::from(signer)],
            )?
            .map(|r| get(&r, 0))
            .transpose()
        })
    }

    fn alerts(&self, open_only: bool, limit: usize) -> Result<Vec<AlertRow>> {
        let sql = format!(
            "SELECT {ALERT_COLS} FROM alerts {} ORDER BY id DESC LIMIT $1",
            if open_only {
                "WHERE cleared_at IS NULL"
            } else {
                ""
            }
        );
        self.read(|q| {
            q.rows(&sql, &[&self::limit(limit)])?
                .iter()
                .map(alert_row)
                .collect()
        })
    }

    fn add_user_until(
        &mut self,
        name: &str,
        role: &str,
        token_hash: &Hash,
        at: u64,
        expires_at: Option<u64>,
    ) -> Result<UserRow> {
        self.tx(|q| users::add(q, name, role, token_hash, at, expires_at))
    }

    fn user_by_token(&self, token_hash: &Hash) -> Result<Option<UserRow>> {
        self.read(|q| users::by_token(q, token_hash))
    }

    fn users(&self) -> Result<Vec<UserRow>> {
        self.read(users::all)
    }

    fn user_tokens(&self) -> Result<Vec<UserToken>> {
        self.read(users::tokens)
    }

    fn rotate_user(&mut self, name: &str, token_hash: &Hash, at: u64) -> Result<UserRow> {
        self.tx(|q| users::rotate(q, name, token_hash, at))
    }

    fn revoke_user(&mut self, name: &str, at: u64) -> Result<()> {
        self.tx(|q| users::revoke(q, name, at))
    }

    fn audit(&self, after_id: i64, limit: usize) -> Result<Vec<AuditRow>> {
        self.read(|q| {
            q.rows(
                &format!("SELECT {AUDIT_COLS} FROM audit WHERE id > $1 ORDER BY id LIMIT $2"),
                &[&after_id, &self::limit(limit)],
            )?
            .iter()
            .map(audit_row)
            .collect()
        })
    }

    fn ack_alert(&mut self, id: i64, by: &str, note: &str, at: u64) -> Result<AlertRow> {
        self.tx(|q| {
            q.opt(
                &format!(
                    "UPDATE alerts SET acked_at = $2, acked_by = $3, ack_note = $4 WHERE id = $1
                     RETURNING {ALERT_COLS}"
                ),
                &[&id, &(at as i64), &by, &note],
            )?
            .as_ref()
            .map(alert_row)
            .transpose()?
            .ok_or(StoreError::NotFound("alert"))
        })
    }

    fn evidence(&self, channel: Option<&Hash>) -> Result<Vec<EvidenceRow>> {
        self.read(|q| {
            q.rows(
                "SELECT channel, author, seq, stored, conflicting, at FROM evidence
                 WHERE $1::bytea IS NULL OR channel = $1 ORDER BY id",
                &[&channel.map(|c| &c[..])],
            )?
            .iter()
            .map(|r| {
                Ok(EvidenceRow {
                    channel: h32(get(r, 0)?)?,
                    author: u8::try_from(get::<i64>(r, 1)?)
                        .map_err(|_| StoreError::Db("evidence author out of range".into()))?,
                    seq: get::<i64>(r, 2)? as u64,
                    stored: get(r, 3)?,
                    conflicting: get(r, 4)?,
                    at: get::<i64>(r, 5)? as u64,
                })
            })
            .collect()
        })
    }

    fn last_audit(&self) -> Result<Option<AuditRow>> {
        self.read(|q| {
            q.opt(
                &format!("SELECT {AUDIT_COLS} FROM audit ORDER BY id DESC LIMIT 1"),
                &[],
            )?
            .as_ref()
            .map(audit_row)
            .transpose()
        })
    }

    fn audit_head(&self) -> Result<Option<SignedAuditHead>> {
        self.read(|q| {
            let Some(r) = q.opt("SELECT count, hash, sig FROM audit_head WHERE id = 1", &[])?
            else {
                return Ok(None);
            };
            let sig: Vec<u8> = get(&r, 2)?;
            let sig: [u8; 64] = sig
                .try_into()
                .map_err(|_| StoreError::Db("signature is not 64 bytes".into()))?;
            let head = AuditHead {
                count: get::<i64>(&r, 0)? as u64,
                hash: h32(get(&r, 1)?)?,
            };
            Ok(Some(SignedAuditHead::from_parts(head, sig)))
        })
    }

    fn audit_count(&self) -> Result<u64> {
        self.read(|q| Ok(get::<i64>(&q.one("SELECT COUNT(*) FROM audit", &[])?, 0)? as u64))
    }

    fn backend(&self) -> Backend {
        Backend::Postgres
    }

    fn lease_take(&mut self, holder: &str, api: &str, ttl_ms: u64) -> Result<Lease> {
        self.with_conn(|c| lease::take(c, holder, api, ttl_ms))
    }

    fn lease_release(&mut self, holder: &str, epoch: u64) -> Result<()> {
        self.with_conn(|c| lease::release(c, holder, epoch))
    }

    fn lease(&self) -> Result<Option<Lease>> {
        self.read(lease::read)
    }

    fn set_fence(&mut self, fence: Option<Fence>) {
        self.fence = fence;
    }
}

/// Parses a libpq-style URL. libpq lets the `host` query parameter list
/// several hosts or socket directories, comma-separated
/// (`postgresql:///db?host=/run/a,/run/b`); the client library's URL
/// parser takes that parameter whole, so such a list is split here.
pub(crate) fn parse_url(url: &str) -> Result<::postgres::Config> {
    let bad = |e: ::postgres::Error| StoreError::Db(format!("database URL: {e}"));
    let Some((head, query)) = url.split_once('?') else {
        return url.parse().map_err(bad);
    };
    let (mut hosts, mut rest) = (Vec::new(), Vec::new());
    for pair in query.split('&') {
        match pair.strip_prefix("host=") {
            Some(list) if list.contains(',') => hosts.extend(list.split(',').map(str::to_owned)),
            _ => rest.push(pair),
        }
    }
    if hosts.is_empty() {
        return url.parse().map_err(bad);
    }
    let url = if rest.is_empty() {
        head.to_owned()
    } else {
        format!("{head}?{}", rest.join("&"))
    };
    let mut config: ::postgres::Config = url.parse().map_err(bad)?;
    for h in hosts {
        let h = percent_encoding::percent_decode_str(&h).decode_utf8_lossy();
        if h.is_empty() {
            return Err(StoreError::Db(
                "database URL: an empty host in the host list".into(),
            ));
        }
        config.host(h.as_ref());
    }
    Ok(config)
}

#[cfg(test)]
mod url_tests;
