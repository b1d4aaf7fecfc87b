//! One link session with a peer, whichever side dialled it: both stations
//! send their own entries and pings on it, and each validates, commits and
//! answers the other's with checkpoints and pongs (SPEC §3, v2: one
//! connection either side dials).
//!
//! A reader task takes everything that arrives; the writer (this task)
//! sends our entries, our pings and the reader's answers, in that one
//! stream of frames.

use super::{answer, hello_for, link_limit, locked_channels, RateLimit, MISSED_PONGS};
use crate::engine::{Answer, CheckpointTaken, Engine, PeerRt, Riding};
use hotline_core::machine::{Outbound, BATCH_ENTRIES};
use hotline_link::{LinkError, PskChain};
use hotline_proto::link::{codes, LINK_VERSION};
use hotline_proto::LinkMsg;
use hotline_store::PskDir;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use tokio::net::TcpStream;
use tokio::sync::{mpsc, watch, Notify};

/// Log notes are sent at this fraction of the inbound rate this station
/// allows (`tuning.inbound_rate_per_sec`, the same at both ends by
/// default): a fifth, so a log round over a thousand channels, or a new
/// session's first notes, never reads as a flood at the peer, and entries
/// keep the rest.
const NOTE_SHARE: f64 = 5.0;
/// And at most this many a second, whatever rate this station allows: a
/// fifth of the default, so a station that allows more does not flood a
/// peer that kept the default.
const NOTES_PER_SEC_MAX: f64 = 100.0;

/// What the reader tells the writer.
enum FromReader {
    /// The peer's first `Hello`: the heads it holds.
    Hello(Vec<hotline_proto::link::ChannelHeads>),
    /// The peer answered our ping `n`.
    Pong(u64),
    /// Frames to send back (checkpoints, pongs, errors); `close` after them.
    Reply(Answer),
    /// The session is over, and why.
    Closed(String),
}

/// A session about to run: its peer and how it ends.
pub(super) struct Run<'a> {
    pub engine: &'a Arc<Engine>,
    pub peer: &'a PeerRt,
    /// The responder's chain of stored keys as the handshake moved it on:
    /// kept once the initiator's first frame decrypts (key confirmation),
    /// so a handshake the initiator never finished does not move it on.
    pub confirm: Option<PskChain>,
    /// Told when a newer session of the peer takes over.
    pub superseded: &'a Notify,
    /// How long before this session closes for a fresh handshake (the
    /// dialling side only).
    pub rekey: Option<std::time::Duration>,
}

/// Runs the session until it closes, faults, is superseded, the peer is
/// removed, or the station stops. `Ok` for an orderly end.
pub(super) async fn run(
    r: Run<'_>,
    session: hotline_link::Session<TcpStream>,
    shutdown: &mut watch::Receiver<bool>,
) -> Result<(), String> {
    let Run {
        engine,
        peer,
        confirm,
        superseded,
        rekey,
    } = r;
    let peer_id = peer.row.id;
    let (rx, mut tx) = session.split();
    tx.send(&hello_for(engine, peer_id).await.to_bytes())
        .await
        .map_err(|e| e.to_string())?;
    let (ev_tx, mut ev_rx) = mpsc::channel(64);
    let notify = engine.notifier(peer_id);
    // Batches of entries sent on this session: the peer answers each with
    // a checkpoint, which its reader then does not count against the rate.
    let batches = Arc::new(AtomicU64::new(0));
    let reader = tokio::spawn(read(
        engine.clone(),
        peer.clone(),
        rx,
        confirm,
        ev_tx,
        notify.clone(),
        batches.clone(),
    ));
    let cut = engine.cut(peer_id);
    // Our checkpoints of the peer's entries, paced under load.
    let mut pace = super::pace::Pace::default();
    let result = async {
        // What the peer holds, from its Hello, before anything of ours is
        // sent; what it sends meanwhile is answered.
        let wait = tokio::time::sleep(engine.tuning().handshake_timeout());
        tokio::pin!(wait);
        let their = loop {
            tokio::select! {
                ev = ev_rx.recv() => match ev {
                    Some(FromReader::Hello(heads)) => break heads,
                    Some(FromReader::Reply(a)) => {
                        let why = a.fault.as_ref().map(|f| f.to_string());
                        if !answer(&mut tx, a).await {
                            return Err(why.unwrap_or_else(|| "closed after answering the peer".into()));
                        }
                    }
                    Some(FromReader::Pong(_)) => {}
                    Some(FromReader::Closed(e)) => return Err(e),
                    None => return Err("reader stopped".into()),
                },
                _ = &mut wait => return Err("no Hello from the peer".into()),
                _ = superseded.notified() => return Ok(()),
                _ = shutdown.changed() => return Ok(()),
            }
        };
        let mut out = {
            let chans = locked_channels(engine, peer_id).await;
            Outbound::new(&their, chans.iter().map(|c| &**c))
        };
        for m in out.checkpoint_requests() {
            tx.send(&m.to_bytes()).await.map_err(|e| e.to_string())?;
        }
        let mut ping = tokio::time::interval(engine.tuning().ping_every());
        let (mut pinged, mut ponged) = (0u64, 0u64);
        let mut ping_sent_at = std::time::Instant::now();
        let rekey = tokio::time::sleep(rekey.unwrap_or(std::time::Duration::MAX / 4));
        tokio::pin!(rekey);
        // Every channel at the start and on each ping; in between, only
        // those with something new (see `Engine::take_outbound`).
        let mut sweep = true;
        // Log notes: every log's newest at the start, then each that
        // changes (the peer checks and cosigns ours, and sends its own and
        // ours back), paced well under the peer's inbound rate.
        let mut notes_after = 0;
        let mut notes_more;
        let mut note_pace = {
            let rate = (engine.tuning().inbound_rate_per_sec() as f64 / NOTE_SHARE)
                .min(NOTES_PER_SEC_MAX);
            RateLimit::with_burst(rate, rate)
        };
        loop {
            let swept = std::mem::take(&mut sweep);
            let todo = if swept {
                let _ = engine.take_outbound(peer_id);
                engine.channels_of(peer_id)
            } else {
                engine.take_outbound(peer_id)
            };
            for (id, c) in todo {
                // A peer taking back its own chain gets both chains in merged order first.
                loop {
                    let Some(items) = out.resend_next(&*c.lock().await, BATCH_ENTRIES) else {
                        break;
                    };
                    let rows = engine
                        .db()
                        .read(move |s| {
                            let mut rows = Vec::with_capacity(items.len());
                            for (author, seq) in items {
                                match s.entry_at(&id, author, seq)? {
                                    Some(r) => rows.push((author, seq, r.envelope)),
                                    None => break,
                                }
                            }
                            Ok(rows)
                        })
                        .await
                        .map_err(|e| e.to_string())?;
                    let Some(msg) = out.resend_pack(&*c.lock().await, rows) else {
                        break;
                    };
                    tx.send(&msg.to_bytes()).await.map_err(|e| e.to_string())?;
                    batches.fetch_add(1, Ordering::Relaxed);
                }
                // Decide under the lock, read storage without it, pack under it again.
                loop {
                    let Some((from, limit)) = out.next(&*c.lock().await, BATCH_ENTRIES) else {
                        break;
                    };
                    let rows = match engine.outbox_take(&id, from, limit) {
                        Some(rows) => rows,
                        // Authored, its commit not returned: storage does
                        // not hold it yet, and the commit wakes this loop.
                        // A sweep reads storage all the same.
                        None if !swept && engine.outbox_ahead(&id, from) => break,
                        None => {
                            let me = c.lock().await.book().me();
                            engine
                                .db()
                                .read(move |s| s.chain_from(&id, me, from, limit))
                                .await
                                .map_err(|e| e.to_string())?
                                .into_iter()
                                .map(|r| (r.seq, r.envelope))
                                .collect()
                        }
                    };
                    let Some((msg, last)) = out.pack(&*c.lock().await, rows) else {
                        break;
                    };
                    tx.send(&msg.to_bytes()).await.map_err(|e| e.to_string())?;
                    batches.fetch_add(1, Ordering::Relaxed);
                    c.lock().await.mark_sent(last);
                }
            }
            let room = note_pace.available();
            let (notes, cursor, more) = engine.log_notes_since(peer_id, notes_after, room);
            (notes_after, notes_more) = (cursor, more);
            note_pace.spend(notes.len());
            for (channel, note) in notes {
                tx.send(&LinkMsg::LogNote { channel, note }.to_bytes())
                    .await
                    .map_err(|e| e.to_string())?;
            }
            if engine.peer(peer_id).is_err() {
                return Ok(()); // the peer was removed, or its key replaced
            }
            let due = pace.due().map(tokio::time::Instant::from_std);
            tokio::select! {
                _ = notify.notified() => {}
                _ = tokio::time::sleep_until(due.unwrap_or_else(tokio::time::Instant::now)), if due.is_some() => {
                    if !answer(&mut tx, pace.release_answer(std::time::Instant::now())).await {
                        return Err("the link failed".into());
                    }
                }
                _ = tokio::time::sleep(note_pace.wait()), if notes_more => {}
                _ = cut.notified() => sweep = true,
                _ = ping.tick() => {
                    sweep = true;
                    // With another path found up, one ping fewer: switching
                    // costs a reconnect, staying costs the line (SPEC §3:
                    // failover within 2 s).
                    let limit = if engine.other_path_up(peer_id) {
                        MISSED_PONGS - 1
                    } else {
                        MISSED_PONGS
                    };
                    if pinged.saturating_sub(ponged) >= limit {
                        return Err(format!("{limit} pings unanswered"));
                    }
                    pinged += 1;
                    ping_sent_at = std::time::Instant::now();
                    tx.send(&LinkMsg::Ping { n: pinged }.to_bytes()).await.map_err(|e| e.to_string())?;
                }
                ev = ev_rx.recv() => match ev {
                    Some(FromReader::Pong(n)) => {
                        ponged = ponged.max(n);
                        if n == pinged {
                            let rtt = ping_sent_at.elapsed().as_millis() as u64;
                            engine.set_rtt(peer_id, rtt);
                        }
                    }
                    Some(FromReader::Reply(a)) => {
                        let why = a.fault.as_ref().map(|f| f.to_string());
                        let a = pace.offer(a, std::time::Instant::now());
                        if !answer(&mut tx, a).await {
                            return Err(why.unwrap_or_else(|| "closed after answering the peer".into()));
                        }
                    }
                    Some(FromReader::Hello(_)) => {}
                    Some(FromReader::Closed(e)) => return Err(e),
                    None => return Err("reader stopped".into()),
                },
                _ = superseded.notified() => return Ok(()),
                _ = &mut rekey => {
                    tracing::debug!(peer = %peer.row.name, "session closed for a fresh handshake");
                    return Ok(());
                }
                _ = shutdown.changed() => return Ok(()),
            }
        }
    }
    .await;
    reader.abort();
    if result.is_ok() {
        // An orderly end: what is held goes now, briefly. Otherwise the
        // peer asks for it again on its next session (`checkpoint_requests`).
        let held = pace.release_answer(std::time::Instant::now());
        let _ = tokio::time::timeout(FLUSH_AT_END, answer(&mut tx, held)).await;
    }
    result
}

/// How long an orderly end of a session waits to send the checkpoints it holds.
const FLUSH_AT_END: std::time::Duration = std::time::Duration::from_millis(100);

/// The most of the peer's checkpoints a session holds unfinished, their
/// commit to come; past it, its reader waits.
const RIDING: usize = 64;

/// Finishes the peer's checkpoints kept by a session's reader, in the
/// order they were kept, each once its commit returned: its delivery
/// reported, and the session woken to send what the peer's window now
/// allows. Ends when the reader does, after what it handed over.
async fn finish_checkpoints(
    engine: Arc<Engine>,
    mut finishing: mpsc::Receiver<Riding>,
    ev: mpsc::Sender<FromReader>,
    notify: Arc<Notify>,
) {
    while let Some(r) = finishing.recv().await {
        match engine.finish_riding(r).await {
            Ok(a) if !a.close => notify.notify_one(),
            Ok(a) => {
                let _ = ev.send(FromReader::Reply(a)).await;
                return;
            }
            // Storage failed: this station stops answering until it restarts from disk.
            Err(e) => {
                let _ = ev.send(FromReader::Closed(e.to_string())).await;
                return;
            }
        }
    }
}

/// Takes every frame the peer sends, until the session ends: the peer's
/// entries are validated and committed (answered with a checkpoint), its
/// checkpoints of ours recorded, its pings answered.
///
/// Every message takes a token of the inbound rate; two kinds give it back,
/// as they move the line on and their number is bounded by the line's own
/// work: `Entries` that bring new entries of the peer's (each signed by it,
/// and stored for good), and a `Checkpoint` answering one of the `batches`
/// this session sent. So a peer sending one message at a time, however
/// fast, is never taken for a flood; pings, hellos, repeats, log notes and
/// checkpoints beyond our batches are what the rate bounds.
async fn read(
    engine: Arc<Engine>,
    peer: PeerRt,
    mut rx: hotline_link::Receiver<tokio::io::ReadHalf<TcpStream>>,
    mut confirm: Option<PskChain>,
    ev: mpsc::Sender<FromReader>,
    notify: Arc<Notify>,
    batches: Arc<AtomicU64>,
) {
    let mut hello_seen = false;
    // The peer's checkpoints kept here ride with a later commit; they are
    // finished in order by a task of their own while this one reads on.
    let (riding, finishing) = mpsc::channel(RIDING);
    tokio::spawn(finish_checkpoints(
        engine.clone(),
        finishing,
        ev.clone(),
        notify.clone(),
    ));
    let rate = engine.tuning().inbound_rate_per_sec();
    let mut bucket = RateLimit::new(rate);
    let mut answered = 0u64;
    let closed = |why: String| FromReader::Closed(why);
    loop {
        let limit = link_limit(&engine, peer.row.id);
        let bytes = match tokio::time::timeout(engine.tuning().idle_timeout(), rx.recv(limit)).await
        {
            Ok(Ok(b)) => b,
            Ok(Err(LinkError::Closed)) => {
                let _ = ev.send(closed("the peer closed the link".into())).await;
                return;
            }
            Ok(Err(e)) => {
                if !matches!(e, LinkError::Io(..)) {
                    engine
                        .bad_input(&peer, &format!("link fault: {e}"), None)
                        .await;
                }
                let _ = ev.send(closed(e.to_string())).await;
                return;
            }
            Err(_) => {
                let _ = ev.send(closed("the peer fell silent".into())).await;
                return;
            }
        };
        if let Some(chain) = confirm.take() {
            // The frame decrypted: the initiator holds the same keys.
            if let Err(e) = engine.store_psk(peer.row.id, PskDir::In, chain).await {
                let _ = ev.send(closed(e.to_string())).await;
                return;
            }
        }
        if !bucket.take() {
            let a = engine
                .bad_input(
                    &peer,
                    &format!("more than {rate} link messages per second; connection closed"),
                    Some(codes::RATE),
                )
                .await;
            let _ = ev.send(FromReader::Reply(a)).await;
            return;
        }
        let reply = match LinkMsg::from_bytes(&bytes) {
            Err(e) => {
                engine
                    .bad_input(
                        &peer,
                        &format!("undecodable link message: {e}"),
                        Some(codes::MALFORMED),
                    )
                    .await
            }
            Ok(LinkMsg::Hello { version, .. }) if version != LINK_VERSION => Answer {
                replies: vec![LinkMsg::Error {
                    code: codes::VERSION,
                    text: format!(
                        "link version {version} is not supported; this station speaks {LINK_VERSION}"
                    ),
                }],
                close: true,
                fault: None,
            },
            Ok(LinkMsg::Hello { heads, .. }) => {
                engine.hello(&peer, &heads).await;
                if !std::mem::replace(&mut hello_seen, true)
                    && ev.send(FromReader::Hello(heads)).await.is_err()
                {
                    return;
                }
                continue;
            }
            Ok(LinkMsg::Ping { n }) => Answer {
                replies: vec![LinkMsg::Pong { n }],
                ..Answer::default()
            },
            Ok(LinkMsg::Pong { n }) => {
                if ev.send(FromReader::Pong(n)).await.is_err() {
                    return;
                }
                continue;
            }
            Ok(LinkMsg::Checkpoint { envelope }) => {
                if answered < batches.load(Ordering::Relaxed) {
                    answered += 1;
                    bucket.give_back();
                }
                match engine.take_checkpoint(&peer, &envelope).await {
                    Ok(CheckpointTaken::Riding(r)) => {
                        if riding.send(r).await.is_err() {
                            return;
                        }
                        continue;
                    }
                    Ok(CheckpointTaken::Done(a)) if !a.close => {
                        notify.notify_one();
                        continue;
                    }
                    Ok(CheckpointTaken::Done(a)) => a,
                    Err(e) => {
                        let _ = ev.send(closed(e.to_string())).await;
                        return;
                    }
                }
            }
            Ok(LinkMsg::LogNote { channel, note }) => {
                engine.take_peer_note(peer.row.id, channel, note).await;
                continue;
            }
            Ok(LinkMsg::Error { code, text }) => {
                tracing::warn!(peer = %peer.row.name, "peer reports error {code}: {text}");
                let _ = ev
                    .send(closed(format!("peer rejected our input ({code}): {text}")))
                    .await;
                return;
            }
            // More than `BATCH_ENTRIES` envelopes never decode: refused above by count.
            Ok(LinkMsg::Entries { channel, envelopes }) => {
                let before = engine.peer_chain_len(&channel).await;
                match engine.receive(&peer, channel, envelopes).await {
                    Ok(a) => {
                        if engine.peer_chain_len(&channel).await > before {
                            bucket.give_back();
                        }
                        a
                    }
                    // Storage failed: this station stops answering until it restarts from disk.
                    Err(e) => {
                        let _ = ev.send(closed(e.to_string())).await;
                        return;
                    }
                }
            }
        };
        let close = reply.close;
        if ev.send(FromReader::Reply(reply)).await.is_err() || close {
            return;
        }
    }
}
