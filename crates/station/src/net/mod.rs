//! Sockets for the link (SPEC §3, v2): one connection per peer carries both
//! directions, and either station may open it. A dialler per peer dials when
//! no session with it is live; the listener takes the peer's connections
//! (a `dial_only` station has none). When both dial at once, [`Live`] keeps
//! exactly one session, the same at both ends; a restarted station resumes
//! from the heads the other side announces in its `Hello`.

use crate::engine::{now_ns, Answer, Engine, PeerRt};
use crate::gate::{Admitted, Gate};
use hotline_core::machine::{self, BATCH_BYTES};
use hotline_link::{LinkError, Offer, PeerDecision, StaticSecret};

use hotline_proto::LinkMsg;
use hotline_store::PskDir;

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

mod live;
mod pace;
mod paths;
mod session;

pub use live::Live;

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

/// Sustained link messages per second accepted from one peer connection,
/// not counting those that move the line on (new entries of the peer's, and
/// checkpoints answering our batches: see `session::read`). A healthy
/// sender needs a few per second beyond those (pings, hellos, log notes); a
/// flood beyond this is cut off so the station stays responsive to its
/// other peers and its API (`tuning.inbound_rate_per_sec`).
pub const RATE_PER_SEC: u64 = 500;
/// Burst allowance above the sustained rate, in seconds of it.
const RATE_BURST_SECS: f64 = 2.0;

/// A token bucket over link messages: the peer's inbound flood guard, and
/// the pace of this station's own log notes.
struct RateLimit {
    per_sec: f64,
    burst: f64,
    tokens: f64,
    at: std::time::Instant,
}

impl RateLimit {
    fn new(per_sec: u64) -> Self {
        Self::with_burst(per_sec as f64, per_sec as f64 * RATE_BURST_SECS)
    }
    fn with_burst(per_sec: f64, burst: f64) -> Self {
        RateLimit {
            per_sec,
            burst,
            tokens: burst,
            at: std::time::Instant::now(),
        }
    }
    fn refill(&mut self) {
        let now = std::time::Instant::now();
        self.tokens = (self.tokens + now.duration_since(self.at).as_secs_f64() * self.per_sec)
            .min(self.burst);
        self.at = now;
    }
    fn take(&mut self) -> bool {
        self.refill();
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
    /// Whole tokens available now.
    fn available(&mut self) -> usize {
        self.refill();
        self.tokens as usize
    }
    fn spend(&mut self, n: usize) {
        self.tokens -= n as f64;
    }
    /// Returns a token taken for a message that turned out to move the line on.
    fn give_back(&mut self) {
        self.tokens = (self.tokens + 1.0).min(self.burst);
    }
    /// How long until a token is available.
    fn wait(&self) -> Duration {
        Duration::from_secs_f64(((1.0 - self.tokens).max(0.0) / self.per_sec).max(0.001))
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

/// Accepts peers' connections until shutdown; a connection over one of the
/// gate's caps is closed at once.
pub async fn accept_loop(
    engine: Arc<Engine>,
    listener: TcpListener,
    live: Arc<Live>,
    mut shutdown: watch::Receiver<bool>,
) {
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
                    let (e, l, sd) = (engine.clone(), live.clone(), shutdown.clone());
                    tokio::spawn(async move { inbound(e, stream, addr.to_string(), place, l, sd).await });
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
    live: Arc<Live>,
    mut shutdown: watch::Receiver<bool>,
) {
    let e2 = engine.clone();
    // Our current X25519 key, then the ones we rotated away from: a peer
    // that has not yet stored our rotation still dials an old one.
    let secrets = engine.link_secrets();
    let locals: Vec<&StaticSecret> = secrets.iter().collect();
    let hs =
        hotline_link::respond_keys(
            stream,
            &locals,
            engine.epoch(),
            now_ns(),
            move |pk, _| match e2.peer_by_dh(pk) {
                Some(p) => PeerDecision::Pinned {
                    last_timestamp: p.row.handshake_ts,
                    min_epoch: p.row.epoch,
                    psk: e2.psk(p.row.id, PskDir::In),
                },
                None => PeerDecision::Unknown,
            },
        );
    // A station stopping answers no handshake: the dialler would store a
    // key this side never confirms (healed by the next handshake, at the
    // cost of a refused one).
    let hs = tokio::time::timeout(engine.tuning().handshake_timeout(), hs);
    let (session, pk, ts, epoch, at) = match tokio::select! {
        r = hs => r,
        _ = shutdown.changed() => return,
    } {
        // Our clock as the handshake arrived, against the peer's in it.
        Ok(Ok(r)) => (
            r.session,
            (r.initiator, r.psk, r.local),
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
        Ok(Err(LinkError::Closed)) => {
            // Closed before a word: a path probe, or a port scan.
            tracing::debug!("connection from {from} closed before a handshake");
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
    let (pk, psk, local) = pk;
    let Some(peer) = engine.peer_by_dh(&pk) else {
        return;
    };
    if local > 0 {
        // Its pin of us is older than our rotation (or the rotation is on
        // its way): the session carries the rotation to it.
        tracing::debug!(peer = %peer.row.name, "handshake from {from} to a key this station rotated away from");
    }
    if pk == peer.identity.dh_pk {
        engine.saw_current_link_key(peer.row.id);
    }
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
    if *shutdown.borrow() {
        return;
    }
    let Some(entered) = live.enter(peer.row.id, false, our_dials_win(&engine, &peer)) else {
        tracing::debug!(peer = %peer.row.name, "connection from {from} closed: both stations dialled, and ours is kept");
        return;
    };
    engine.set_link(peer.row.id, true, Some(from.clone()));
    tracing::info!(peer = %peer.row.name, "link from {from} up");
    let run = session::Run {
        engine: &engine,
        peer: &peer,
        confirm: Some(psk),
        superseded: &entered.close,
        rekey: None,
    };
    let r = session::run(run, session, &mut shutdown).await;
    live.leave(peer.row.id, entered.gen);
    if !live.is_live(peer.row.id) {
        engine.set_link(peer.row.id, false, Some(from.clone()));
    }
    if let Err(e) = r {
        tracing::info!(peer = %peer.row.name, "link from {from} down: {e}");
    }
}

/// Whether a session this station dials wins over one the peer dialled at
/// the same moment: the station with the smaller Ed25519 key's does.
fn our_dials_win(engine: &Engine, peer: &PeerRt) -> bool {
    engine.identity().sig_pk < peer.identity.sig_pk
}

/// Dials one peer whenever no session with it is live, until shutdown. A
/// station that listens dials only once it shares a channel with the peer
/// (until then the peer has nothing to hear from it); a `dial_only`
/// station dials every peer, since no one can reach it otherwise. A peer
/// with no address (one that only dials) is waited for.
pub async fn dial_loop(
    engine: Arc<Engine>,
    peer_id: i64,
    live: Arc<Live>,
    dial_only: bool,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut backoff = BACKOFF_MIN;
    let mut last_good: Option<String> = None;
    // After a handshake that failed once its first message was out, the
    // generation before the newest is offered next (the peer may not have
    // kept the newest), then the newest again, and so on.
    let mut use_prev = false;
    // The address whose session or dial just failed: tried last next time.
    let mut failed: Option<String> = None;
    let prober = tokio::spawn(paths::probe_loop(engine.clone(), peer_id, shutdown.clone()));
    let _prober = AbortOnDrop(prober);
    'dial: loop {
        if *shutdown.borrow() {
            return;
        }
        let Ok(peer) = engine.peer(peer_id) else {
            return;
        };
        if live.is_live(peer_id) {
            tokio::select! {
                _ = live.until_free(peer_id) => continue,
                _ = shutdown.changed() => return,
            }
        }
        if peer.row.addrs.is_empty() || (!dial_only && engine.channels_of(peer_id).is_empty()) {
            // Nothing to carry yet: wait for a channel (or shutdown).
            let n = engine.notifier(peer_id);
            tokio::select! {
                _ = n.notified() => continue,
                _ = tokio::time::sleep(Duration::from_secs(1)) => continue,
                _ = shutdown.changed() => return,
            }
        }
        // A path that answers first, the one that just failed last: a peer
        // running a leader and a standby is found where its leader was, and
        // a black-holed path costs no handshake timeout when another answers.
        let order = paths::dial_order(
            &peer.row.addrs,
            &engine.link_health(peer_id).paths,
            last_good.as_deref(),
            failed.as_deref(),
        );
        for addr in &order {
            let attempt = async {
                let stream = TcpStream::connect(addr)
                    .await
                    .map_err(|e| (false, e.to_string()))?;
                let _ = stream.set_nodelay(true);
                let chain = engine.psk(peer_id, PskDir::Out);
                // Our key the peer pins: the old one until it has stored
                // our rotation.
                let secret = engine.dial_secret(peer_id).await;
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
                // The peer's clock in its reply, against ours as it arrived.
                engine.set_clock_skew(peer_id, skew_ms(done.peer_clock_ns, now_ns()));
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
                    failed = None;
                    last_good = Some(addr.clone());
                    let Some(entered) = live.enter(peer_id, true, our_dials_win(&engine, &peer))
                    else {
                        tracing::debug!(peer = %peer.row.name, "connection to {addr} closed: both stations dialled, and the peer's is kept");
                        continue 'dial;
                    };
                    engine.set_link(peer_id, true, Some(addr.clone()));
                    tracing::info!(peer = %peer.row.name, "link to {addr} up");
                    let run = session::Run {
                        engine: &engine,
                        peer: &peer,
                        confirm: None,
                        superseded: &entered.close,
                        rekey: Some(engine.tuning().rekey_every()),
                    };
                    let began = std::time::Instant::now();
                    let r = session::run(run, session, &mut shutdown).await;
                    live.leave(peer_id, entered.gen);
                    if !live.is_live(peer_id) {
                        engine.set_link(peer_id, false, Some(addr.clone()));
                    }
                    if let Err(e) = r {
                        tracing::info!(peer = %peer.row.name, "link to {addr} down: {e}");
                        engine.set_path(peer_id, addr, false, None);
                        failed = Some(addr.clone());
                        if began.elapsed() < Duration::from_secs(2) {
                            // A session that ends as soon as it starts (the
                            // peer refuses something): back off.
                            break;
                        }
                    }
                    // Re-keying, superseded, stopping, or failing over to
                    // the other paths (the failed one last): on at once.
                    continue 'dial;
                }
                Ok(Err((handshook, e))) => {
                    use_prev ^= handshook;
                    failed = Some(addr.clone());
                    tracing::debug!(peer = %peer.row.name, "dial {addr}: {e}")
                }
                Err(_) => {
                    use_prev = !use_prev;
                    failed = Some(addr.clone());
                    engine.set_path(peer_id, addr, false, None);
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

/// Aborts a task when dropped: the prober ends with its dialler.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

#[cfg(test)]
mod tests {
    use super::RateLimit;
    use std::time::Duration;

    #[test]
    fn a_pace_gives_its_burst_then_waits_for_the_next_token() {
        // One token a hundred seconds: none comes back during the test.
        let mut pace = RateLimit::with_burst(0.01, 3.0);
        assert_eq!(pace.available(), 3);
        pace.spend(2);
        assert!(pace.take());
        assert_eq!(pace.available(), 0);
        assert!(!pace.take());
        assert!(pace.wait() > Duration::from_secs(90));
    }
}
