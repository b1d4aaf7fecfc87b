//! Sockets for the link: one dialer per peer carrying our entries out, and a
//! listener taking the peer's connections carrying theirs in.
//!
//! Each direction has its own TCP connection and Noise session: the station
//! that dials sends its entries and pings; the station that accepts validates,
//! commits and answers with checkpoints and pongs. So there is never a question
//! of which of two simultaneous connections to keep, and a restarted station
//! resumes from the heads the other side announces in its `Hello`.

use crate::engine::{now_ns, Answer, Engine, PeerRt};
use crate::gate::{Admitted, Gate};
use hotline_core::machine::{self, Outbound, BATCH_BYTES, BATCH_ENTRIES};
use hotline_link::{LinkError, Offer, PeerDecision, StaticSecret};
use hotline_proto::link::{codes, LINK_VERSION};
use hotline_proto::LinkMsg;
use hotline_store::PskDir;
use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};

// The timings and the rate below are defaults: the config's `[tuning]`
// table may change them within bounds (`crate::tuning`), and each is read
// from the engine at its use.

/// Ping interval (SPEC §3: every 500 ms by default; `tuning.ping_every`).
pub const PING_EVERY: Duration = Duration::from_millis(500);
/// A path is down after this many unanswered pings (SPEC §3).
pub const MISSED_PONGS: u64 = 3;
/// Time allowed for TCP connect plus handshake. Short, with a short backoff
/// cap, so that a healed partition is noticed within a few seconds
/// (`tuning.handshake_timeout`).
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(3);
/// An inbound session with no frame for this long is dropped (pings come
/// every 500 ms; `tuning.idle_timeout`).
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(10);
/// An outbound session this old is closed and dialled again, for a fresh
/// hybrid handshake (SPEC §3: every 10 minutes; `tuning.rekey_every`).
pub const REKEY_EVERY: Duration = Duration::from_secs(600);
/// Reconnect backoff bounds.
const BACKOFF_MIN: Duration = Duration::from_millis(200);
const BACKOFF_MAX: Duration = Duration::from_secs(2);

/// Sustained link messages per second accepted from one peer connection. A
/// healthy sender needs a few per second (pings, and `Entries` of up to 1,024
/// entries each); a flood beyond this is cut off so the station stays
/// responsive to its other peers and its API (`tuning.inbound_rate_per_sec`).
pub const RATE_PER_SEC: u64 = 500;
/// Burst allowance above the sustained rate, in seconds of it.
const RATE_BURST_SECS: f64 = 2.0;

/// A token bucket over link messages.
struct RateLimit {
    per_sec: f64,
    tokens: f64,
    at: std::time::Instant,
}

impl RateLimit {
    fn new(per_sec: u64) -> Self {
        let per_sec = per_sec as f64;
        RateLimit {
            per_sec,
            tokens: per_sec * RATE_BURST_SECS,
            at: std::time::Instant::now(),
        }
    }
    fn take(&mut self) -> bool {
        let now = std::time::Instant::now();
        self.tokens = (self.tokens + now.duration_since(self.at).as_secs_f64() * self.per_sec)
            .min(self.per_sec * RATE_BURST_SECS);
        self.at = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// The peer's clock minus ours, in ms: its handshake timestamp `ts` against
/// our clock `at` when the handshake arrived (both Unix ns).
fn skew_ms(ts: u64, at: u64) -> i64 {
    ((i128::from(ts) - i128::from(at)) / 1_000_000) as i64
}

/// The reassembly bound for a peer's link messages: a batch, or the largest
/// entry its channels allow, plus framing overhead. Only terms in force
/// count: a proposal arriving for a new channel, or stored and waiting for
/// acceptance, is bounded by the default entry size, whatever entry size it
/// proposes (`Engine::max_entry_bytes_with`). The peer holds one inbound
/// session at a time (`Live`), so parallel connections do not multiply it;
/// within the message, the decoder bounds every count before allocating
/// (`LinkMsg::from_bytes`).
pub fn link_limit(engine: &Engine, peer_id: i64) -> usize {
    let max = engine
        .max_entry_bytes_with(peer_id)
        .max(hotline_proto::entry::DEFAULT_MAX_ENTRY_BYTES);
    (max as usize).max(BATCH_BYTES) + 64 * 1024
}

/// The channels shared with a peer, locked in id order (so that two tasks
/// locking several never wait on each other).
async fn locked_channels(
    engine: &Engine,
    peer_id: i64,
) -> Vec<tokio::sync::OwnedMutexGuard<machine::Channel>> {
    let mut chans = engine.channels_of(peer_id);
    chans.sort_by_key(|(id, _)| *id);
    let mut out = Vec::with_capacity(chans.len());
    for (_, c) in chans {
        out.push(c.lock_owned().await);
    }
    out
}

/// Our `Hello` to a peer: the heads we hold of each shared channel.
async fn hello_for(engine: &Engine, peer_id: i64) -> LinkMsg {
    let chans = locked_channels(engine, peer_id).await;
    machine::hello(chans.iter().map(|c| &**c))
}

/// Sends an answer's replies; false when the link must close.
async fn answer<W>(tx: &mut hotline_link::Sender<W>, a: Answer) -> bool
where
    W: tokio::io::AsyncWrite + Unpin,
{
    for r in &a.replies {
        if tx.send(&r.to_bytes()).await.is_err() {
            return false;
        }
    }
    !a.close
}

/// The live inbound connection of each peer: a newer one takes over and the
/// older is told to close, so a peer holds one inbound session at a time.
#[derive(Default)]
struct Live(std::sync::Mutex<HashMap<i64, (u64, Arc<tokio::sync::Notify>)>>);

impl Live {
    /// Registers a new connection of `peer`, telling the older one to close;
    /// returns its generation and what tells it to close in turn.
    fn take_over(&self, peer: i64) -> (u64, Arc<tokio::sync::Notify>) {
        let mut m = self.0.lock().unwrap();
        let gen = m.get(&peer).map_or(1, |(g, old)| {
            old.notify_one();
            g + 1
        });
        let closed = Arc::new(tokio::sync::Notify::new());
        m.insert(peer, (gen, closed.clone()));
        (gen, closed)
    }

    /// Forgets a connection that ended, unless a newer one took over.
    fn leave(&self, peer: i64, gen: u64) {
        let mut m = self.0.lock().unwrap();
        if m.get(&peer).is_some_and(|(g, _)| *g == gen) {
            m.remove(&peer);
        }
    }
}

/// Accepts peers' connections until shutdown; a connection over one of the
/// gate's caps is closed at once.
pub async fn accept_loop(
    engine: Arc<Engine>,
    listener: TcpListener,
    secret: Arc<StaticSecret>,
    mut shutdown: watch::Receiver<bool>,
) {
    let live: Arc<Live> = Default::default();
    let gate = Gate::default();
    let mut warned = None::<std::time::Instant>;
    loop {
        tokio::select! {
            r = listener.accept() => match r {
                Ok((stream, addr)) => {
                    let place = match gate.admit(addr.ip(), engine.tuning().caps()) {
                        Ok(p) => p,
                        Err(full) => {
                            drop(stream);
                            engine.metrics().link_refused.fetch_add(1, Ordering::Relaxed);
                            if warned.is_none_or(|t| t.elapsed() > Duration::from_secs(60)) {
                                warned = Some(std::time::Instant::now());
                                tracing::warn!("link connections closed at once ({full:?} cap reached, last from {addr}); see hotline_link_refused_total");
                            }
                            continue;
                        }
                    };
                    let _ = stream.set_nodelay(true);
                    let (e, s, l, sd) = (engine.clone(), secret.clone(), live.clone(), shutdown.clone());
                    tokio::spawn(async move { inbound(e, stream, addr.to_string(), place, s, l, sd).await });
                }
                Err(e) => {
                    // Out of descriptors, most likely: let connections close.
                    tracing::warn!("accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            },
            _ = shutdown.changed() => return,
        }
    }
}

async fn inbound(
    engine: Arc<Engine>,
    stream: TcpStream,
    from: String,
    mut place: Admitted,
    secret: Arc<StaticSecret>,
    live: Arc<Live>,
    mut shutdown: watch::Receiver<bool>,
) {
    let e2 = engine.clone();
    let hs = hotline_link::respond_with(stream, &secret, engine.epoch(), move |pk| {
        match e2.peer_by_dh(pk) {
            Some(p) => PeerDecision::Pinned {
                last_timestamp: p.row.handshake_ts,
                min_epoch: p.row.epoch,
                psk: e2.psk(p.row.id, PskDir::In),
            },
            None => PeerDecision::Unknown,
        }
    });
    let (session, pk, ts, epoch, at) = match tokio::time::timeout(
        engine.tuning().handshake_timeout(),
        hs,
    )
    .await
    {
        // Our clock as the handshake arrived, against the peer's in it.
        Ok(Ok(r)) => (
            r.session,
            (r.initiator, r.psk),
            r.timestamp,
            r.epoch,
            now_ns(),
        ),
        Ok(Err(LinkError::StaleEpoch { seen, got })) => {
            tracing::warn!(
                    "handshake from {from} refused: leader epoch {got} below {seen}, already accepted from that key (a former leader of the peer is speaking)"
                );
            return;
        }
        Ok(Err(LinkError::UnpinnedKey(pk))) => {
            engine.unpinned(&pk, &from).await;
            return;
        }
        Ok(Err(LinkError::Replay { last, got })) => {
            tracing::warn!("replayed handshake from {from}: clock {got} <= {last}");
            return;
        }
        Ok(Err(e @ (LinkError::Version { .. } | LinkError::PskGeneration { .. }))) => {
            tracing::warn!("handshake from {from} refused: {e}");
            return;
        }
        Ok(Err(e)) => {
            tracing::info!("handshake from {from} failed: {e}");
            return;
        }
        Err(_) => {
            tracing::info!("handshake from {from} timed out");
            return;
        }
    };
    place.handshaken();
    let (pk, psk) = pk;
    let Some(peer) = engine.peer_by_dh(&pk) else {
        return;
    };
    // Durably advance the replay clock and the epoch before trusting the session.
    match engine.advance_handshake(peer.row.id, ts).await {
        Ok(true) => engine.set_clock_skew(peer.row.id, skew_ms(ts, at)),
        Ok(false) => {
            tracing::warn!("replayed handshake from {from}: its clock {ts} was already used");
            return;
        }
        Err(_) => return,
    }
    if !matches!(engine.advance_epoch(peer.row.id, epoch).await, Ok(true)) {
        tracing::warn!("handshake from {from} refused: its leader epoch {epoch} fell meanwhile");
        return;
    }
    let (gen, superseded) = live.take_over(peer.row.id);
    let link = Inbound {
        peer: &peer,
        from: &from,
        psk: Some(psk),
    };
    session_loop(&engine, link, session, &superseded, &mut shutdown).await;
    live.leave(peer.row.id, gen);
}

/// An inbound session's peer, where it came from, and its chain of stored
/// keys as the handshake moved it on: kept once the initiator's first frame
/// shows it finished the handshake too (key confirmation), so a handshake
/// the initiator never completed does not move the responder on.
struct Inbound<'a> {
    peer: &'a PeerRt,
    from: &'a str,
    psk: Option<hotline_link::PskChain>,
}

/// Serves one peer's inbound session until it closes, faults, is
/// superseded by a newer connection of the same peer, or the station stops.
async fn session_loop(
    engine: &Engine,
    link: Inbound<'_>,
    session: hotline_link::Session<TcpStream>,
    superseded: &tokio::sync::Notify,
    shutdown: &mut watch::Receiver<bool>,
) {
    let Inbound {
        peer,
        from,
        mut psk,
    } = link;
    let (mut rx, mut tx) = session.split();
    let hello = hello_for(engine, peer.row.id).await;
    if tx.send(&hello.to_bytes()).await.is_err() {
        return;
    }
    tracing::info!(peer = %peer.row.name, "inbound link from {from} up");
    let rate = engine.tuning().inbound_rate_per_sec();
    let mut bucket = RateLimit::new(rate);
    let cut = engine.cut(peer.row.id);
    loop {
        let limit = link_limit(engine, peer.row.id);
        let removed = cut.notified();
        if engine.peer(peer.row.id).is_err() {
            return; // the peer was removed, or its key replaced
        }
        let msg = tokio::select! {
            r = tokio::time::timeout(engine.tuning().idle_timeout(), rx.recv(limit)) => r,
            _ = superseded.notified() => return, // a newer connection of the peer took over
            _ = removed => return,
            _ = shutdown.changed() => return,
        };
        let bytes = match msg {
            Ok(Ok(b)) => b,
            Ok(Err(LinkError::Closed)) | Err(_) => return,
            Ok(Err(e)) => {
                if !matches!(e, LinkError::Io(..)) {
                    engine
                        .bad_input(peer, &format!("link fault: {e}"), None)
                        .await;
                }
                return;
            }
        };
        if let Some(chain) = psk.take() {
            // The frame decrypted: the initiator holds the same keys.
            if engine
                .store_psk(peer.row.id, PskDir::In, chain)
                .await
                .is_err()
            {
                return;
            }
        }
        let a = if !bucket.take() {
            engine
                .bad_input(
                    peer,
                    &format!("more than {rate} link messages per second; connection closed"),
                    Some(codes::RATE),
                )
                .await
        } else {
            match LinkMsg::from_bytes(&bytes) {
                Err(e) => {
                    engine
                        .bad_input(
                            peer,
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
                    engine.hello(peer, &heads).await;
                    Answer::default()
                }
                Ok(LinkMsg::Pong { .. }) | Ok(LinkMsg::Checkpoint { .. }) => Answer::default(),
                Ok(LinkMsg::Ping { n }) => Answer {
                    replies: vec![LinkMsg::Pong { n }],
                    ..Answer::default()
                },
                Ok(LinkMsg::Error { code, text }) => {
                    tracing::warn!(peer = %peer.row.name, "peer reports error {code}: {text}");
                    Answer::default()
                }
                // More than `BATCH_ENTRIES` envelopes never decode: refused above by count.
                Ok(LinkMsg::Entries { channel, envelopes }) => {
                    match engine.receive(peer, channel, envelopes).await {
                        Ok(a) => a,
                        // Storage failed: this station stops answering until it restarts from disk.
                        Err(_) => return,
                    }
                }
            }
        };
        if !answer(&mut tx, a).await {
            return;
        }
    }
}

/// Keeps an outbound session to one peer, sending our entries, until shutdown.
pub async fn dial_loop(
    engine: Arc<Engine>,
    peer_id: i64,
    secret: Arc<StaticSecret>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut backoff = BACKOFF_MIN;
    let mut last_good: Option<String> = None;
    // After a handshake that failed once its first message was out, the
    // generation before the newest is offered next (the peer may not have
    // kept the newest), then the newest again, and so on.
    let mut use_prev = false;
    loop {
        if *shutdown.borrow() {
            return;
        }
        let Ok(peer) = engine.peer(peer_id) else {
            return;
        };
        if engine.channels_of(peer_id).is_empty() {
            // Nothing to carry yet: wait for a channel (or shutdown).
            let n = engine.notifier(peer_id);
            tokio::select! {
                _ = n.notified() => continue,
                _ = tokio::time::sleep(Duration::from_secs(1)) => continue,
                _ = shutdown.changed() => return,
            }
        }
        // The address that last answered first: a peer running a leader and
        // a standby is found where its leader was, and one whose primary
        // address is down is not waited for on every reconnect.
        let mut order: Vec<&String> = peer.row.addrs.iter().collect();
        if let Some(i) = last_good
            .as_ref()
            .and_then(|g| order.iter().position(|a| *a == g))
        {
            let a = order.remove(i);
            order.insert(0, a);
        }
        for addr in order {
            let attempt = async {
                let stream = TcpStream::connect(addr)
                    .await
                    .map_err(|e| (false, e.to_string()))?;
                let _ = stream.set_nodelay(true);
                let chain = engine.psk(peer_id, PskDir::Out);
                let offer = Offer {
                    timestamp_ns: now_ns(),
                    epoch: engine.epoch(),
                    psk: &chain,
                    use_prev,
                };
                let done =
                    hotline_link::initiate_with(stream, &secret, &peer.identity.dh_pk, offer)
                        .await
                        .map_err(|e| (true, e.to_string()))?;
                // Durable before the session is used: the peer moved on too.
                engine
                    .store_psk(peer_id, PskDir::Out, done.psk)
                    .await
                    .map_err(|e| (false, e.to_string()))?;
                let (session, epoch) = (done.session, done.epoch);
                match engine.advance_epoch(peer_id, epoch).await {
                    Ok(true) => Ok(session),
                    Ok(false) => Err((false, format!(
                        "refused: leader epoch {epoch} is below one already accepted from this peer (a former leader answered)"
                    ))),
                    Err(e) => Err((false, e.to_string())),
                }
            };
            match tokio::time::timeout(engine.tuning().handshake_timeout(), attempt).await {
                Ok(Ok(session)) => {
                    backoff = BACKOFF_MIN;
                    use_prev = false;
                    last_good = Some(addr.clone());
                    engine.set_link(peer_id, true, Some(addr.clone()));
                    tracing::info!(peer = %peer.row.name, "outbound link to {addr} up");
                    let r = outbound(&engine, &peer, session, &mut shutdown).await;
                    engine.set_link(peer_id, false, Some(addr.clone()));
                    if let Err(e) = r {
                        tracing::info!(peer = %peer.row.name, "outbound link to {addr} down: {e}");
                    }
                    break;
                }
                Ok(Err((handshook, e))) => {
                    use_prev ^= handshook;
                    tracing::debug!(peer = %peer.row.name, "dial {addr}: {e}")
                }
                Err(_) => {
                    use_prev = !use_prev;
                    tracing::debug!(peer = %peer.row.name, "dial {addr}: timed out")
                }
            }
            if *shutdown.borrow() {
                return;
            }
        }
        let jitter = Duration::from_millis(rand::random::<u64>() % 100);
        tokio::select! {
            _ = tokio::time::sleep(backoff + jitter) => {},
            _ = shutdown.changed() => return,
        }
        backoff = (backoff * 2).min(BACKOFF_MAX);
    }
}

enum FromReader {
    Pong(u64),
    Closed(String),
}

async fn outbound(
    engine: &Arc<Engine>,
    peer: &PeerRt,
    session: hotline_link::Session<TcpStream>,
    shutdown: &mut watch::Receiver<bool>,
) -> Result<(), String> {
    let peer_id = peer.row.id;
    let (mut rx, mut tx) = session.split();
    let hello = hello_for(engine, peer_id).await;
    tx.send(&hello.to_bytes())
        .await
        .map_err(|e| e.to_string())?;
    let wait = engine.tuning().handshake_timeout();
    let first = tokio::time::timeout(wait, rx.recv(link_limit(engine, peer_id)))
        .await
        .map_err(|_| "no Hello from the peer".to_string())?
        .map_err(|e| e.to_string())?;
    let their = match LinkMsg::from_bytes(&first) {
        Ok(LinkMsg::Hello { version, heads }) if version == LINK_VERSION => heads,
        Ok(LinkMsg::Error { text, .. }) => return Err(format!("peer refused: {text}")),
        _ => return Err("the peer's first message is not a Hello".into()),
    };
    engine.hello(peer, &their).await;
    let mut out = {
        let chans = locked_channels(engine, peer_id).await;
        Outbound::new(&their, chans.iter().map(|c| &**c))
    };
    for m in out.checkpoint_requests() {
        tx.send(&m.to_bytes()).await.map_err(|e| e.to_string())?;
    }
    let (ev_tx, mut ev_rx) = mpsc::channel(64);
    let reader_engine = engine.clone();
    let reader_peer = peer.clone();
    let notify = engine.notifier(peer_id);
    let cut = engine.cut(peer_id);
    let reader_notify = notify.clone();
    let reader = tokio::spawn(async move {
        loop {
            let limit = link_limit(&reader_engine, reader_peer.row.id);
            let bytes = match rx.recv(limit).await {
                Ok(b) => b,
                Err(e) => {
                    let _ = ev_tx.send(FromReader::Closed(e.to_string())).await;
                    return;
                }
            };
            match LinkMsg::from_bytes(&bytes) {
                Ok(LinkMsg::Pong { n }) => {
                    let _ = ev_tx.send(FromReader::Pong(n)).await;
                }
                Ok(LinkMsg::Checkpoint { envelope }) => {
                    match reader_engine
                        .receive_checkpoint(&reader_peer, &envelope)
                        .await
                    {
                        Ok(a) if !a.close => reader_notify.notify_one(),
                        Ok(a) => {
                            let why = a.fault.map(|f| f.to_string()).unwrap_or_default();
                            let _ = ev_tx.send(FromReader::Closed(why)).await;
                            return;
                        }
                        Err(e) => {
                            let _ = ev_tx.send(FromReader::Closed(e.to_string())).await;
                            return;
                        }
                    }
                }
                Ok(LinkMsg::Error { code, text }) => {
                    let _ = ev_tx
                        .send(FromReader::Closed(format!(
                            "peer rejected our input ({code}): {text}"
                        )))
                        .await;
                    return;
                }
                Ok(_) => {}
                Err(e) => {
                    let t = format!("undecodable link message: {e}");
                    reader_engine.bad_input(&reader_peer, &t, None).await;
                    let _ = ev_tx.send(FromReader::Closed(t)).await;
                    return;
                }
            }
        }
    });
    let result = async {
        let mut ping = tokio::time::interval(engine.tuning().ping_every());
        let rekey = tokio::time::sleep(engine.tuning().rekey_every());
        tokio::pin!(rekey);
        let (mut pinged, mut ponged) = (0u64, 0u64);
        let mut ping_sent_at = std::time::Instant::now();
        // Every channel at the start and on each ping; in between, only
        // those with something new (see `Engine::take_outbound`).
        let mut sweep = true;
        loop {
            let todo = if std::mem::take(&mut sweep) {
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
                }
                // Decide under the lock, read storage without it, pack under it again.
                loop {
                    let Some((from, limit)) = out.next(&*c.lock().await, BATCH_ENTRIES) else {
                        break;
                    };
                    let me = c.lock().await.book().me();
                    let rows = engine
                        .db()
                        .read(move |s| s.chain_from(&id, me, from, limit))
                        .await
                        .map_err(|e| e.to_string())?;
                    let rows = rows.into_iter().map(|r| (r.seq, r.envelope)).collect();
                    let Some((msg, last)) = out.pack(&*c.lock().await, rows) else {
                        break;
                    };
                    tx.send(&msg.to_bytes()).await.map_err(|e| e.to_string())?;
                    c.lock().await.mark_sent(last);
                }
            }
            if engine.peer(peer_id).is_err() {
                return Ok(()); // the peer was removed, or its key replaced
            }
            tokio::select! {
                _ = notify.notified() => {}
                _ = cut.notified() => sweep = true,
                _ = ping.tick() => {
                    sweep = true;
                    if pinged.saturating_sub(ponged) >= MISSED_PONGS {
                        return Err(format!("{MISSED_PONGS} pings unanswered"));
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
                    Some(FromReader::Closed(e)) => return Err(e),
                    None => return Err("reader stopped".into()),
                },
                _ = &mut rekey => {
                    tracing::debug!(peer = %peer.row.name, "outbound session closed for a fresh handshake");
                    return Ok(());
                }
                _ = shutdown.changed() => return Ok(()),
            }
        }
    }
    .await;
    reader.abort();
    result
}
