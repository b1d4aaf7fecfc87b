//! Start-up snapshots' rows (docs/DECISIONS.md, "Start-up snapshots"):
//! the newest sealed snapshot of a channel and its segments.

use super::*;

pub(super) fn snapshot(conn: &Connection, channel: &Hash) -> Result<Option<SnapshotRow>> {
    Ok(conn
        .prepare_cached("SELECT len0, len1, body, sig FROM book_snapshots WHERE channel = ?1")?
        .query_row([&channel[..]], |r| {
            Ok(SnapshotRow {
                lens: [r.get::<_, i64>(0)? as u64, r.get::<_, i64>(1)? as u64],
                body: r.get(2)?,
                sig: r.get(3)?,
            })
        })
        .optional()?)
}

pub(super) fn segments(
    conn: &Connection,
    channel: &Hash,
    author: u8,
    count: u64,
) -> Result<Vec<Vec<u8>>> {
    let mut st = conn.prepare_cached(
        "SELECT bytes FROM book_segments WHERE channel = ?1 AND author = ?2 AND idx < ?3 ORDER BY idx",
    )?;
    let rows = st
        .query_map(params![&channel[..], author, count as i64], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    Ok(rows)
}
