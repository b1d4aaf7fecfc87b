//! One write of a batch, inside the batch's transaction.

use super::*;

pub(super) fn apply<G: GenericClient>(q: &mut Q<G>, op: &WriteOp) -> Result<WriteResult> {
    Ok(match op {
        WriteOp::Channel(c) => {
            q.exec(
                "INSERT INTO channels (id, peer_id, me, created_at) VALUES ($1, $2, $3, $4)",
                &[
                    &&c.id[..],
                    &c.peer_id,
                    &i64::from(c.me),
                    &(c.created_at as i64),
                ],
            )?;
            WriteResult::Done
        }
        WriteOp::Entry { entry, stored_at } => {
            let e = entry.entry();
            let channel = if e.is_open() { entry.hash() } else { e.channel };
            let row = q.one(
                "INSERT INTO entries (channel, author, seq, hash, lamport, kind, stored_at, envelope)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING cursor",
                &[
                    &&channel[..],
                    &i64::from(e.author),
                    &(e.seq as i64),
                    &&entry.hash()[..],
                    &(e.lamport as i64),
                    &e.body.kind().name(),
                    &(*stored_at as i64),
                    &entry.envelope().bytes(),
                ],
            )?;
            WriteResult::Cursor(get::<i64>(&row, 0)? as u64)
        }
        WriteOp::Checkpoint {
            channel,
            signer,
            envelope,
            stored_at,
        } => {
            q.exec(
                "INSERT INTO checkpoints (channel, signer, envelope, stored_at) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (channel, signer)
                 DO UPDATE SET envelope = excluded.envelope, stored_at = excluded.stored_at",
                &[
                    &&channel[..],
                    &i64::from(*signer),
                    envelope,
                    &(*stored_at as i64),
                ],
            )?;
            WriteResult::Done
        }
        WriteOp::Evidence {
            channel,
            author,
            seq,
            conflicting,
            at,
        } => {
            q.exec(
                "INSERT INTO evidence (channel, author, seq, stored, conflicting, at) VALUES ($1, $2, $3,
                   COALESCE((SELECT envelope FROM entries WHERE channel = $1 AND author = $2 AND seq = $3),
                            ''::bytea),
                   $4, $5)
                 ON CONFLICT (channel, author, seq) DO NOTHING",
                &[
                    &&channel[..],
                    &i64::from(*author),
                    &(*seq as i64),
                    conflicting,
                    &(*at as i64),
                ],
            )?;
            WriteResult::Done
        }
        WriteOp::RaiseAlert {
            kind,
            channel,
            key,
            cause,
            at,
        } => {
            // Looked for first, so that raising an open alert again takes
            // no id from the sequence: ids stay as SQLite numbers them.
            let row = q.opt(
                &format!(
                    "INSERT INTO alerts (kind, channel, key, cause, raised_at)
                     SELECT $1::text, $2::bytea, $3::text, $4::text, $5::bigint
                     WHERE NOT EXISTS (SELECT 1 FROM alerts
                                       WHERE channel = $2 AND key = $3 AND cleared_at IS NULL)
                     ON CONFLICT DO NOTHING RETURNING {ALERT_COLS}"
                ),
                &[
                    &text(kind),
                    &chan_blob(channel),
                    &text(key),
                    &text(cause),
                    &(*at as i64),
                ],
            )?;
            WriteResult::Alert(row.as_ref().map(alert_row).transpose()?)
        }
        WriteOp::NoteAlert {
            channel,
            key,
            cause,
        } => {
            q.exec(
                "UPDATE alerts SET cause = $3 WHERE channel = $1 AND key = $2 AND cleared_at IS NULL",
                &[&chan_blob(channel), &text(key), &text(cause)],
            )?;
            WriteResult::Done
        }
        WriteOp::ClearAlert { channel, key, at } => {
            let row = q.opt(
                &format!(
                    "UPDATE alerts SET cleared_at = $3 WHERE channel = $1 AND key = $2 AND cleared_at IS NULL
                     RETURNING {ALERT_COLS}"
                ),
                &[&chan_blob(channel), &text(key), &(*at as i64)],
            )?;
            WriteResult::Alert(row.as_ref().map(alert_row).transpose()?)
        }
        WriteOp::Report(r) => {
            q.exec(
                "INSERT INTO reports (id, title, marking, rel_to, content_type, content, published_at, \"by\")
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                &[
                    &&r.id[..],
                    &r.title,
                    &r.marking.name(),
                    &serde_json::to_string(&r.rel_to).expect("strings serialize"),
                    &r.content_type,
                    &r.content,
                    &(r.published_at as i64),
                    &r.by,
                ],
            )?;
            WriteResult::Done
        }
        WriteOp::Disposition {
            report,
            peer_id,
            disposition,
            entry,
            at,
        } => {
            q.exec(
                "INSERT INTO dispositions (report, peer_id, disposition, entry, at)
                 VALUES ($1, $2, $3, $4, $5)
                 ON CONFLICT (report, peer_id) DO UPDATE SET disposition = excluded.disposition,
                   entry = excluded.entry, at = excluded.at",
                &[
                    &&report[..],
                    peer_id,
                    disposition,
                    &entry.as_ref().map(|h| &h[..]),
                    &(*at as i64),
                ],
            )?;
            WriteResult::Done
        }
        WriteOp::Sharing(s) => {
            q.exec(
                "INSERT INTO sharing (peer_id, paused, since, \"by\", reason) VALUES ($1, $2, $3, $4, $5)
                 ON CONFLICT (peer_id) DO UPDATE SET paused = excluded.paused, since = excluded.since,
                   \"by\" = excluded.\"by\", reason = excluded.reason",
                &[&s.peer_id, &s.paused, &(s.since as i64), &s.by, &s.reason],
            )?;
            WriteResult::Done
        }
        WriteOp::Meta { key, value } => {
            q.exec(
                "INSERT INTO meta (key, value) VALUES ($1, $2)
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                &[key, value],
            )?;
            WriteResult::Done
        }
        WriteOp::Confirmed { channel } => {
            q.exec("DELETE FROM restored WHERE channel = $1", &[&&channel[..]])?;
            WriteResult::Done
        }
        WriteOp::HandshakeTs { peer_id, ts } => {
            q.exec(
                "UPDATE peers SET handshake_ts = GREATEST(handshake_ts, $2) WHERE id = $1",
                &[peer_id, &(*ts as i64)],
            )?;
            WriteResult::Done
        }
        WriteOp::PeerPsk(p) => {
            q.exec(
                "INSERT INTO peer_psk (peer_id, dir, gen, key, prev) VALUES ($1, $2, $3, $4, $5)
                 ON CONFLICT (peer_id, dir) DO UPDATE SET gen = $3, key = $4, prev = $5",
                &[
                    &p.peer_id,
                    &p.dir.name(),
                    &(p.gen as i64),
                    &&p.key[..],
                    &p.prev.as_ref().map(|k| &k[..]),
                ],
            )?;
            WriteResult::Done
        }
        WriteOp::Snapshot(s) => {
            for (author, idx, bytes) in &s.segments {
                // Written again after a crash cut a snapshot short: the same bytes.
                q.exec(
                    "INSERT INTO book_segments (channel, author, idx, bytes) VALUES ($1, $2, $3, $4)
                     ON CONFLICT (channel, author, idx) DO UPDATE SET bytes = excluded.bytes",
                    &[&&s.channel[..], &i64::from(*author), &(*idx as i64), bytes],
                )?;
            }
            q.exec(
                "INSERT INTO book_snapshots (channel, len0, len1, body, sig) VALUES ($1, $2, $3, $4, $5)
                 ON CONFLICT (channel) DO UPDATE SET len0 = excluded.len0, len1 = excluded.len1,
                   body = excluded.body, sig = excluded.sig",
                &[
                    &&s.channel[..],
                    &(s.lens[0] as i64),
                    &(s.lens[1] as i64),
                    &s.body,
                    &s.sig,
                ],
            )?;
            WriteResult::Done
        }
        WriteOp::PeerRotated(k) => {
            // Twice (the same rotation on two channels) changes nothing more.
            let moved = q.exec(
                "UPDATE peers SET token = $3 WHERE id = $1 AND token = $2",
                &[&k.peer_id, &k.token, &k.next],
            )?;
            if moved > 0 {
                q.exec(
                    "INSERT INTO peer_keys (peer_id, token, next, at, channel, entry)
                     VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (peer_id, token) DO NOTHING",
                    &[
                        &k.peer_id,
                        &k.token,
                        &k.next,
                        &(k.at as i64),
                        &&k.channel[..],
                        &&k.entry[..],
                    ],
                )?;
            }
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
            q.exec(
                "INSERT INTO courier (channel, author, first, last, bundle, at)
                 VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
                &[
                    &&channel[..],
                    &(*author as i64),
                    &(*first as i64),
                    &(*last as i64),
                    &&bundle[..],
                    &(*at as i64),
                ],
            )?;
            WriteResult::Done
        }
        WriteOp::PeerEpoch { peer_id, epoch } => {
            q.exec(
                "UPDATE peers SET epoch = GREATEST(epoch, $2) WHERE id = $1",
                &[peer_id, &(*epoch as i64)],
            )?;
            WriteResult::Done
        }
        WriteOp::Audit(a) => {
            q.exec(
                "INSERT INTO audit (at, \"user\", action, target, result, prev, hash)
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
                &[
                    &(a.at as i64),
                    &a.user,
                    &a.action,
                    &a.target,
                    &a.result,
                    &&a.prev[..],
                    &&a.hash[..],
                ],
            )?;
            WriteResult::Done
        }
        WriteOp::AuditHead(head) => {
            let h = head.head();
            q.exec(
                "INSERT INTO audit_head (id, count, hash, sig) VALUES (1, $1, $2, $3)
                 ON CONFLICT (id) DO UPDATE SET count = excluded.count, hash = excluded.hash,
                   sig = excluded.sig",
                &[&(h.count as i64), &&h.hash[..], &&head.sig()[..]],
            )?;
            WriteResult::Done
        }
    })
}

/// An alert's words as PostgreSQL can hold them: its `text` refuses U+0000,
/// which SQLite stores. A cause may quote what a counterpart sent, so a NUL
/// there must not fail the commit (and with it every write of the group);
/// it becomes U+FFFD. Alerts are not hash-chained: nothing signed changes.
fn text(s: &str) -> std::borrow::Cow<'_, str> {
    if s.contains('\0') {
        std::borrow::Cow::Owned(s.replace('\0', "\u{fffd}"))
    } else {
        std::borrow::Cow::Borrowed(s)
    }
}
