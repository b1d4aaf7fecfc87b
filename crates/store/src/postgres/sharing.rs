//! Partner sharing's rows (SPEC §7): reports in publication order, their
//! dispositions per partner, and whether sharing with a partner is paused.

use super::*;

const REPORT_COLS: &str = "id, title, marking, rel_to, content_type, content, published_at, \"by\"";

fn report_row(r: &Row) -> Result<hotline_core::machine::Report> {
    let marking: String = get(r, 2)?;
    let rel_to: String = get(r, 3)?;
    Ok(hotline_core::machine::Report {
        id: h32(get(r, 0)?)?,
        title: get(r, 1)?,
        marking: hotline_proto::Marking::parse(&marking)
            .map_err(|_| StoreError::Db(format!("a report's marking {marking:?}")))?,
        rel_to: serde_json::from_str(&rel_to).unwrap_or_default(),
        content_type: get(r, 4)?,
        content: get(r, 5)?,
        published_at: get::<i64>(r, 6)? as u64,
        by: get(r, 7)?,
    })
}

pub(super) fn reports(q: &mut Q<Client>) -> Result<Vec<hotline_core::machine::Report>> {
    q.rows(
        &format!("SELECT {REPORT_COLS} FROM reports ORDER BY n"),
        &[],
    )?
    .iter()
    .map(report_row)
    .collect()
}

pub(super) fn report(
    q: &mut Q<Client>,
    id: &Hash,
) -> Result<Option<hotline_core::machine::Report>> {
    q.opt(
        &format!("SELECT {REPORT_COLS} FROM reports WHERE id = $1"),
        &[&&id[..]],
    )?
    .as_ref()
    .map(report_row)
    .transpose()
}

pub(super) fn dispositions(
    q: &mut Q<Client>,
    report: Option<&Hash>,
) -> Result<Vec<DispositionRow>> {
    q.rows(
        "SELECT d.report, d.peer_id, d.disposition, d.entry, d.at
         FROM dispositions d JOIN reports r ON r.id = d.report
         WHERE $1::bytea IS NULL OR d.report = $1 ORDER BY r.n, d.peer_id",
        &[&report.map(|h| &h[..])],
    )?
    .iter()
    .map(|r| {
        Ok(DispositionRow {
            report: h32(get(r, 0)?)?,
            peer_id: get(r, 1)?,
            disposition: get(r, 2)?,
            entry: get::<Option<Vec<u8>>>(r, 3)?.map(h32).transpose()?,
            at: get::<i64>(r, 4)? as u64,
        })
    })
    .collect()
}

pub(super) fn peer_keys(q: &mut Q<Client>) -> Result<Vec<RetiredKeyRow>> {
    q.rows(
        "SELECT peer_id, token, next, at, channel, entry FROM peer_keys ORDER BY peer_id, at, ctid",
        &[],
    )?
    .iter()
    .map(|r| {
        Ok(RetiredKeyRow {
            peer_id: get(r, 0)?,
            token: get(r, 1)?,
            next: get(r, 2)?,
            at: get::<i64>(r, 3)? as u64,
            channel: h32(get(r, 4)?)?,
            entry: h32(get(r, 5)?)?,
        })
    })
    .collect()
}

pub(super) fn psks(q: &mut Q<Client>) -> Result<Vec<PskRow>> {
    let key32 = |v: Vec<u8>| {
        <[u8; 32]>::try_from(v).map_err(|_| StoreError::Db("a stored key is not 32 bytes".into()))
    };
    q.rows(
        "SELECT peer_id, dir, gen, key, prev FROM peer_psk ORDER BY peer_id, dir",
        &[],
    )?
    .iter()
    .map(|r| {
        let dir: String = get(r, 1)?;
        Ok(PskRow {
            peer_id: get(r, 0)?,
            dir: PskDir::parse(&dir)
                .ok_or_else(|| StoreError::Db("an unknown key direction".into()))?,
            gen: get::<i64>(r, 2)? as u64,
            key: key32(get(r, 3)?)?,
            prev: get::<Option<Vec<u8>>>(r, 4)?.map(key32).transpose()?,
        })
    })
    .collect()
}

pub(super) fn sharing(q: &mut Q<Client>) -> Result<Vec<SharingRow>> {
    q.rows(
        "SELECT peer_id, paused, since, \"by\", reason FROM sharing ORDER BY peer_id",
        &[],
    )?
    .iter()
    .map(|r| {
        Ok(SharingRow {
            peer_id: get(r, 0)?,
            paused: get(r, 1)?,
            since: get::<i64>(r, 2)? as u64,
            by: get(r, 3)?,
            reason: get(r, 4)?,
        })
    })
    .collect()
}
