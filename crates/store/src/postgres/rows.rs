//! Rows read back into the trait's types, as the SQLite backend reads them.

use super::get;
use crate::*;
use ::postgres::Row;

pub(super) const ENTRY_COLS: &str =
    "cursor, channel, author, seq, hash, lamport, stored_at, envelope";

pub(super) const ALERT_COLS: &str =
    "id, kind, channel, key, cause, raised_at, cleared_at, acked_at, acked_by, ack_note";

pub(super) const AUDIT_COLS: &str = "id, at, \"user\", action, target, result, prev, hash";

pub(super) const USER_COLS: &str = "id, name, role, created_at, revoked_at, expires_at";

/// A stored hash: 32 bytes, or the database is damaged.
pub(super) fn h32(v: Vec<u8>) -> Result<Hash> {
    v.try_into()
        .map_err(|_| StoreError::Db("hash is not 32 bytes".into()))
}

/// The `channel` column of an alert: empty for a station-wide alert.
pub(super) fn chan_blob(c: &Option<Hash>) -> Vec<u8> {
    c.map(|h| h.to_vec()).unwrap_or_default()
}

fn opt_u64(r: &Row, i: usize) -> Result<Option<u64>> {
    Ok(get::<Option<i64>>(r, i)?.map(|t| t as u64))
}

pub(super) fn entry_row(r: &Row) -> Result<EntryRow> {
    Ok(EntryRow {
        cursor: get::<i64>(r, 0)? as u64,
        channel: h32(get(r, 1)?)?,
        author: get::<i64>(r, 2)? as u8,
        seq: get::<i64>(r, 3)? as u64,
        hash: h32(get(r, 4)?)?,
        lamport: get::<i64>(r, 5)? as u64,
        stored_at: get::<i64>(r, 6)? as u64,
        envelope: get(r, 7)?,
    })
}

pub(super) fn alert_row(r: &Row) -> Result<AlertRow> {
    let ch: Vec<u8> = get(r, 2)?;
    Ok(AlertRow {
        id: get(r, 0)?,
        kind: get(r, 1)?,
        channel: if ch.is_empty() { None } else { Some(h32(ch)?) },
        key: get(r, 3)?,
        cause: get(r, 4)?,
        raised_at: get::<i64>(r, 5)? as u64,
        cleared_at: opt_u64(r, 6)?,
        ack: match opt_u64(r, 7)? {
            Some(at) => Some(AlertAck {
                at,
                by: get::<Option<String>>(r, 8)?.unwrap_or_default(),
                note: get::<Option<String>>(r, 9)?.unwrap_or_default(),
            }),
            None => None,
        },
    })
}

pub(super) fn peer_row(r: &Row) -> Result<PeerRow> {
    let addrs: String = get(r, 3)?;
    Ok(PeerRow {
        id: get(r, 0)?,
        name: get(r, 1)?,
        token: get(r, 2)?,
        addrs: serde_json::from_str(&addrs).unwrap_or_default(),
        rel: get(r, 4)?,
        verified: get(r, 5)?,
        handshake_ts: get::<i64>(r, 6)? as u64,
        removed_at: opt_u64(r, 7)?,
        replaced_by: get(r, 8)?,
        epoch: get::<i64>(r, 9)? as u64,
    })
}

pub(super) fn user_row(r: &Row) -> Result<UserRow> {
    Ok(UserRow {
        id: get(r, 0)?,
        name: get(r, 1)?,
        role: get(r, 2)?,
        created_at: get::<i64>(r, 3)? as u64,
        revoked_at: opt_u64(r, 4)?,
        expires_at: opt_u64(r, 5)?,
    })
}

pub(super) fn audit_row(r: &Row) -> Result<AuditRow> {
    Ok(AuditRow {
        id: get(r, 0)?,
        at: get::<i64>(r, 1)? as u64,
        user: get(r, 2)?,
        action: get(r, 3)?,
        target: get(r, 4)?,
        result: get(r, 5)?,
        prev: h32(get(r, 6)?)?,
        hash: h32(get(r, 7)?)?,
    })
}
