//! Partner sharing's rows (SPEC §7): reports in publication order, their
//! dispositions per partner, and whether sharing with a partner is paused.

use super::*;

const REPORT_COLS: &str = "id, title, marking, rel_to, content_type, content, published_at, by";

fn report_row(r: &Row) -> rusqlite::Result<hotline_core::machine::Report> {
    let marking: String = r.get(2)?;
    let rel_to: String = r.get(3)?;
    Ok(hotline_core::machine::Report {
        id: h32(r.get(0)?)?,
        title: r.get(1)?,
        marking: hotline_proto::Marking::parse(&marking).map_err(|_| {
            rusqlite::Error::FromSqlConversionFailure(
                2,
                rusqlite::types::Type::Text,
                "marking".into(),
            )
        })?,
        rel_to: serde_json::from_str(&rel_to).unwrap_or_default(),
        content_type: r.get(4)?,
        content: r.get(5)?,
        published_at: r.get::<_, i64>(6)? as u64,
        by: r.get(7)?,
    })
}

pub(super) fn reports(conn: &Connection) -> Result<Vec<hotline_core::machine::Report>> {
    let mut st = conn.prepare_cached(&format!("SELECT {REPORT_COLS} FROM reports ORDER BY n"))?;
    let rows = st
        .query_map([], report_row)?
        .collect::<rusqlite::Result<_>>()?;
    Ok(rows)
}

pub(super) fn report(
    conn: &Connection,
    id: &Hash,
) -> Result<Option<hotline_core::machine::Report>> {
    Ok(conn
        .prepare_cached(&format!("SELECT {REPORT_COLS} FROM reports WHERE id = ?1"))?
        .query_row([&id[..]], report_row)
        .optional()?)
}

pub(super) fn dispositions(
    conn: &Connection,
    report: Option<&Hash>,
) -> Result<Vec<DispositionRow>> {
    let mut st = conn.prepare_cached(
        "SELECT d.report, d.peer_id, d.disposition, d.entry, d.at
         FROM dispositions d JOIN reports r ON r.id = d.report
         WHERE ?1 IS NULL OR d.report = ?1 ORDER BY r.n, d.peer_id",
    )?;
    let rows = st
        .query_map(params![report.map(|h| &h[..])], |r| {
            Ok(DispositionRow {
                report: h32(r.get(0)?)?,
                peer_id: r.get(1)?,
                disposition: r.get(2)?,
                entry: r.get::<_, Option<Vec<u8>>>(3)?.map(h32).transpose()?,
                at: r.get::<_, i64>(4)? as u64,
            })
        })?
        .collect::<rusqlite::Result<_>>()?;
    Ok(rows)
}

pub(super) fn peer_keys(conn: &Connection) -> Result<Vec<RetiredKeyRow>> {
    let mut st = conn.prepare_cached(
        "SELECT peer_id, token, next, at, channel, entry FROM peer_keys ORDER BY peer_id, at, rowid",
    )?;
    let rows = st
        .query_map([], |r| {
            Ok(RetiredKeyRow {
                peer_id: r.get(0)?,
                token: r.get(1)?,
                next: r.get(2)?,
                at: r.get::<_, i64>(3)? as u64,
                channel: h32(r.get(4)?)?,
                entry: h32(r.get(5)?)?,
            })
        })?
        .collect::<rusqlite::Result<_>>()?;
    Ok(rows)
}

pub(super) fn psks(conn: &Connection) -> Result<Vec<PskRow>> {
    let mut st = conn.prepare_cached(
        "SELECT peer_id, dir, gen, key, prev FROM peer_psk ORDER BY peer_id, dir",
    )?;
    let rows = st
        .query_map([], |r| {
            let dir: String = r.get(1)?;
            let key32 = |v: Vec<u8>| {
                <[u8; 32]>::try_from(v).map_err(|_| {
                    rusqlite::Error::FromSqlConversionFailure(
                        3,
                        rusqlite::types::Type::Blob,
                        "a stored key is not 32 bytes".into(),
                    )
                })
            };
            Ok(PskRow {
                peer_id: r.get(0)?,
                dir: PskDir::parse(&dir).ok_or_else(|| {
                    rusqlite::Error::FromSqlConversionFailure(
                        1,
                        rusqlite::types::Type::Text,
                        "an unknown key direction".into(),
                    )
                })?,
                gen: r.get::<_, i64>(2)? as u64,
                key: key32(r.get(3)?)?,
                prev: r.get::<_, Option<Vec<u8>>>(4)?.map(key32).transpose()?,
            })
        })?
        .collect::<rusqlite::Result<_>>()?;
    Ok(rows)
}

pub(super) fn sharing(conn: &Connection) -> Result<Vec<SharingRow>> {
    let mut st = conn.prepare_cached(
        "SELECT peer_id, paused, since, by, reason FROM sharing ORDER BY peer_id",
    )?;
    let rows = st
        .query_map([], |r| {
            Ok(SharingRow {
                peer_id: r.get(0)?,
                paused: r.get(1)?,
                since: r.get::<_, i64>(2)? as u64,
                by: r.get(3)?,
                reason: r.get(4)?,
            })
        })?
        .collect::<rusqlite::Result<_>>()?;
    Ok(rows)
}
