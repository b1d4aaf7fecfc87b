//! Start-up snapshots' rows (SQLite's `sqlite/snapshots.rs`, translated).

use super::*;

pub(super) fn snapshot(q: &mut Q<Client>, channel: &Hash) -> Result<Option<SnapshotRow>> {
    q.opt(
        "SELECT len0, len1, body, sig FROM book_snapshots WHERE channel = $1",
        &[&&channel[..]],
    )?
    .map(|r| {
        Ok(SnapshotRow {
            lens: [get::<i64>(&r, 0)? as u64, get::<i64>(&r, 1)? as u64],
            body: get(&r, 2)?,
            sig: get(&r, 3)?,
        })
    })
    .transpose()
}

pub(super) fn segments(
    q: &mut Q<Client>,
    channel: &Hash,
    author: u8,
    count: u64,
) -> Result<Vec<Vec<u8>>> {
    q.rows(
        "SELECT bytes FROM book_segments WHERE channel = $1 AND author = $2 AND idx < $3 ORDER BY idx",
        &[&&channel[..], &i64::from(author), &(count as i64)],
    )?
    .iter()
    .map(|r| get(r, 0))
    .collect()
}
