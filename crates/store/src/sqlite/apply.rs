//! One write of a batch, inside the batch's transaction.

use super::*;

pub(super) fn apply(tx: &rusqlite::Connection, op: &WriteOp) -> Result<WriteResult> {
    Ok(match op {
        WriteOp::Channel(c) => {
            tx.prepare_cached(
                "INSERT INTO channels (id, peer_id, me, created_at) VALUES (?1, ?2, ?3, ?4)",
            )?
            .execute(params![&c.id[..], c.peer_id, c.me, c.created_at as i64])?;
            WriteResult::Done
        }
        WriteOp::Entry { entry, stored_at } => {
            let e = entry.entry();
            let channel = if e.is_open() { entry.hash() } else { e.channel };
            tx.prepare_cached(
                "INSERT INTO entries (channel, author, seq, hash, lamport, kind, stored_at, envelope)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            )?
            .execute(params![
                &channel[..],
                e.author,
                e.seq as i64,
                &entry.hash()[..],
                e.lamport as i64,
                e.body.kind().name(),
                *stored_at as i64,
                entry.envelope().bytes(),
            ])?;
            WriteResult::Cursor(tx.last_insert_rowid() as u64)
        }
        WriteOp::Checkpoint {
            channel,
            signer,
            envelope,
            stored_at,
        } => {
            tx.prepare_cached(
                "INSERT INTO checkpoints (channel, signer, envelope, stored_at) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (channel, signer) DO UPDATE SET envelope = excluded.envelope, stored_at = excluded.stored_at",
            )?
            .execute(params![&channel[..], signer, envelope, *stored_at as i64])?;
            WriteResult::Done
        }
        WriteOp::Evidence {
            channel,
            author,
            seq,
            conflicting,
            at,
        } => {
            tx.prepare_cached(
                "INSERT INTO evidence (channel, author, seq, stored, conflicting, at) VALUES (?1, ?2, ?3,
                   COALESCE((SELECT envelope FROM entries WHERE channel = ?1 AND author = ?2 AND seq = ?3), x''),
                   ?4, ?5)
                 ON CONFLICT (channel, author, seq) DO NOTHING",
            )?
            .execute(params![&channel[..], author, *seq as i64, conflicting, *at as i64])?;
            WriteResult::Done
        }
        WriteOp::RaiseAlert {
            kind,
            channel,
            key,
            cause,
            at,
        } => {
            let n = tx
                .prepare_cached(
                    "INSERT INTO alerts (kind, channel, key, cause, raised_at) VALUES (?1, ?2, ?3, ?4, ?5)
                     ON CONFLICT DO NOTHING",
                )?
                .execute(params![kind, chan_blob(channel), key, cause, *at as i64])?;
            if n == 0 {
                WriteResult::Alert(None)
            } else {
                let id = tx.last_insert_rowid();
                let row = tx
                    .prepare_cached(&format!("SELECT {ALERT_COLS} FROM alerts WHERE id = ?1"))?
                    .query_row([id], alert_row)?;
                WriteResult::Alert(Some(row))
            }
        }
        WriteOp::NoteAlert {
            channel,
            key,
            cause,
        } => {
            tx.prepare_cached(
                "UPDATE alerts SET cause = ?3 WHERE channel = ?1 AND key = ?2 AND cleared_at IS NULL",
            )?
            .execute(params![chan_blob(channel), key, cause])?;
            WriteResult::Done
        }
        WriteOp::ClearAlert { channel, key, at } => {
            let row = tx
                .prepare_cached(&format!(
                    "UPDATE alerts SET cleared_at = ?3 WHERE channel = ?1 AND key = ?2 AND cleared_at IS NULL
                     RETURNING {ALERT_COLS}"
                ))?
                .query_row(params![chan_blob(channel), key, *at as i64], alert_row)
                .optional()?;
            WriteResult::Alert(row)
        }
        WriteOp::Report(r) => {
            tx.prepare_cached(
                "INSERT INTO reports (id, title, marking, rel_to, content_type, content, published_at, by)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            )?
            .execute(params![
                &r.id[..],
                r.title,
                r.marking.name(),
                serde_json::to_string(&r.rel_to).expect("strings serialize"),
                r.content_type,
                r.content,
                r.published_at as i64,
                r.by
            ])?;
            WriteResult::Done
        }
        WriteOp::Disposition {
            report,
            peer_id,
            disposition,
            entry,
            at,
        } => {
            tx.prepare_cached(
                "INSERT OR REPLACE INTO dispositions (report, peer_id, disposition, entry, at)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )?
            .execute(params![
                &report[..],
                peer_id,
                disposition,
                entry.as_ref().map(|h| &h[..]),
                *at as i64
            ])?;
            WriteResult::Done
        }
        WriteOp::Sharing(s) => {
            tx.prepare_cached(
                "INSERT OR REPLACE INTO sharing (peer_id, paused, since, by, reason)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )?
            .execute(params![s.peer_id, s.paused, s.since as i64, s.by, s.reason])?;
            WriteResult::Done
        }
        WriteOp::Meta { key, value } => {
            tx.prepare_cached(
                "INSERT INTO meta (key, value) VALUES (?1, ?2)
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            )?
            .execute(params![key, value])?;
            WriteResult::Done
        }
        WriteOp::Confirmed { channel } => {
            tx.prepare_cached("DELETE FROM restored WHERE channel = ?1")?
                .execute(params![&channel[..]])?;
            WriteResult::Done
        }
        WriteOp::HandshakeTs { peer_id, ts } => {
            tx.prepare_cached(
                "UPDATE peers SET handshake_ts = MAX(handshake_ts, ?2) WHERE id = ?1",
            )?
            .execute(params![peer_id, *ts as i64])?;
            WriteResult::Done
        }
        WriteOp::PeerPsk(p) => {
            tx.prepare_cached(
                "INSERT INTO peer_psk (peer_id, dir, gen, key, prev) VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (peer_id, dir) DO UPDATE SET gen = ?3, key = ?4, prev = ?5",
            )?
            .execute(params![
                p.peer_id,
                p.dir.name(),
                p.gen as i64,
                &p.key[..],
                p.prev.as_ref().map(|k| &k[..])
            ])?;
            WriteResult::Done
        }
        WriteOp::PeerRotated(k) => {
            // Twice (the same rotation on two channels) changes nothing more.
            let moved = tx
                .prepare_cached("UPDATE peers SET token = ?3 WHERE id = ?1 AND token = ?2")?
                .execute(params![k.peer_id, k.token, k.next])?;
            if moved > 0 {
                tx.prepare_cached(
                    "INSERT INTO peer_keys (peer_id, token, next, at, channel, entry)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (peer_id, token) DO NOTHING",
                )?
                .execute(params![
                    k.peer_id,
                    k.token,
                    k.next,
                    k.at as i64,
                    &k.channel[..],
                    &k.entry[..]
                ])?;
            }
            WriteResult::Done
        }
        WriteOp::Snapshot(s) => {
            for (author, idx, bytes) in &s.segments {
                // Written again after a crash cut a snapshot short: the same bytes.
                tx.prepare_cached(
                    "INSERT INTO book_segments (channel, author, idx, bytes) VALUES (?1, ?2, ?3, ?4)
                     ON CONFLICT (channel, author, idx) DO UPDATE SET bytes = excluded.bytes",
                )?
                .execute(params![&s.channel[..], author, *idx as i64, bytes])?;
            }
            tx.prepare_cached(
                "INSERT INTO book_snapshots (channel, len0, len1, body, sig) VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (channel) DO UPDATE SET len0 = excluded.len0, len1 = excluded.len1,
                   body = excluded.body, sig = excluded.sig",
            )?
            .execute(params![
                &s.channel[..],
                s.lens[0] as i64,
                s.lens[1] as i64,
                &s.body,
                &s.sig
            ])?;
            WriteResult::Done
        }
        WriteOp::Courier {
            channel,
            author,
            first,
            last,
            bundle,
            at,
        } => {
            tx.prepare_cached(
                "INSERT INTO courier (channel, author, first, last, bundle, at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT DO NOTHING",
            )?
            .execute(params![
                &channel[..],
                *author as i64,
                *first as i64,
                *last as i64,
                &bundle[..],
                *at as i64
            ])?;
            WriteResult::Done
        }
        WriteOp::PeerEpoch { peer_id, epoch } => {
            tx.prepare_cached("UPDATE peers SET epoch = MAX(epoch, ?2) WHERE id = ?1")?
                .execute(params![peer_id, *epoch as i64])?;
            WriteResult::Done
        }
        WriteOp::Audit(a) => {
            tx.prepare_cached(
                "INSERT INTO audit (at, user, action, target, result, prev, hash) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )?
            .execute(params![
                a.at as i64,
                a.user,
                a.action,
                a.target,
                a.result,
                &a.prev[..],
                &a.hash[..]
            ])?;
            WriteResult::Done
        }
        WriteOp::AuditHead(head) => {
            let h = head.head();
            tx.prepare_cached(
                "INSERT INTO audit_head (id, count, hash, sig) VALUES (1, ?1, ?2, ?3)
                 ON CONFLICT (id) DO UPDATE SET count = excluded.count, hash = excluded.hash, sig = excluded.sig",
            )?
            .execute(params![h.count as i64, &h.hash[..], &head.sig()[..]])?;
            WriteResult::Done
        }
    })
}
