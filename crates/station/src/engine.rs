//! The station's engine: in-memory books over durable storage, authoring,
//! the receive path, checkpoints, alerts, events and the policy tick.
//!
//! Every operation follows one rule: decide with the pure core, commit through
//! the writer, and only then report, send or notify.

use crate::db::Db;
use crate::error::StationError;
pub use crate::metrics::{Histogram, Metrics};
use crate::views::alert_json;
use hotline_core::book::{Outcome, Refusal};
use hotline_core::policy::{self, Action, AlertKind};
use hotline_core::{ChannelBook, VerifiedEntry};
use hotline_proto::checkpoint::SignedCheckpoint;
use hotline_proto::{hex, Body, Checkpoint, Hash, Identity, SecretKeys, Terms};
use hotline_store::{AlertRow, ChannelRow, PeerRow, Store, WriteOp, WriteResult};
use serde_json::{json, Value};
use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::Ordering;
use std::sync::{Arc, RwLock};
use tokio::sync::{broadcast, Mutex, Notify};

/// Unix milliseconds from the system clock: the shell's only clock read for entries.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// Unix nanoseconds, for the handshake replay clock.
pub fn now_ns() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}

/// Alert kinds the policy engine owns (raised and cleared by `policy::evaluate`).
const POLICY_KEYS: [&str; 4] = [
    "contact-missed",
    "ack-overdue:",
    "peer-ack-overdue:",
    "deadline-missed:",
];

fn is_policy_key(k: &str) -> bool {
    POLICY_KEYS.iter().any(|p| k.starts_with(p))
}

/// One channel in memory.
pub struct ChannelRt {
    /// The book: validation and policy state.
    pub book: ChannelBook,
    /// The peer's row id.
    pub peer_id: i64,
    /// Latest checkpoint received from the peer.
    pub peer_ckpt: Option<SignedCheckpoint>,
    /// Hash of our own latest checkpoint.
    pub own_ckpt: Option<Hash>,
    /// Open policy alert keys of this channel.
    pub open_alerts: BTreeSet<String>,
    /// Highest own seq handed to the link (for the "sent" delivery state).
    pub sent_upto: u64,
    /// When the peer last acknowledged delivery (checkpoint time, our clock).
    pub last_delivery_at: Option<u64>,
}

impl ChannelRt {
    /// A channel just created here: nothing sent, nothing confirmed, no alerts.
    fn new(book: ChannelBook, peer_id: i64) -> ChannelRt {
        ChannelRt {
            book,
            peer_id,
            peer_ckpt: None,
            own_ckpt: None,
            open_alerts: BTreeSet::new(),
            sent_upto: 0,
            last_delivery_at: None,
        }
    }

    /// The channel's book: transcript metadata, state, open clocks.
    pub fn book(&self) -> &ChannelBook {
        &self.book
    }

    /// The row id of the peer this channel is with.
    pub fn peer_id(&self) -> i64 {
        self.peer_id
    }

    /// Highest own seq handed to the link (the "sent" delivery state).
    pub fn sent_upto(&self) -> u64 {
        self.sent_upto
    }

    /// When the peer last confirmed delivery (our clock), if ever.
    pub fn last_delivery_at(&self) -> Option<u64> {
        self.last_delivery_at
    }

    /// Keys of this channel's open policy alerts.
    pub fn open_alerts(&self) -> &BTreeSet<String> {
        &self.open_alerts
    }

    /// Highest own seq covered by the peer's checkpoint.
    pub fn delivered_upto(&self) -> u64 {
        self.peer_ckpt
            .as_ref()
            .map(|c| c.checkpoint().heads[self.book.me() as usize].0)
            .unwrap_or(0)
    }
}

/// The fixed facts of a channel.
#[derive(Debug, Clone, Copy)]
struct ChannelSlot {
    peer_id: i64,
    max_entry_bytes: u64,
}

/// A peer in memory.
#[derive(Clone)]
pub struct PeerRt {
    /// Stored row.
    pub row: PeerRow,
    /// Parsed identity.
    pub identity: Identity,
}

/// Live state of the link to a peer.
#[derive(Debug, Clone, Default)]
pub struct LinkHealth {
    /// Whether our outbound session is up.
    pub up: bool,
    /// Since when (Unix ms) it has been up or down.
    pub since: u64,
    /// The address in use or last tried.
    pub addr: Option<String>,
    /// Last round trip, ms.
    pub rtt_ms: Option<u64>,
}

/// Everything the station's tasks share.
pub struct Engine {
    /// Station name.
    pub name: String,
    keys: SecretKeys,
    /// Our identity.
    pub identity: Identity,
    /// Storage.
    pub db: Db,
    /// Channels by id.
    pub channels: RwLock<HashMap<Hash, Arc<Mutex<ChannelRt>>>>,
    /// Keys of open `link-down` alerts, so the once-a-second link check
    /// touches storage only when an alert opens or closes.
    link_down_open: std::sync::Mutex<std::collections::HashSet<String>>,
    /// What never changes about a channel, readable without its lock.
    slots: RwLock<HashMap<Hash, ChannelSlot>>,
    /// Peers by row id.
    pub peers: RwLock<HashMap<i64, PeerRt>>,
    /// Per-peer wake-up for the sender task.
    pub wake: RwLock<HashMap<i64, Arc<Notify>>>,
    /// Link health per peer.
    pub health: RwLock<HashMap<i64, LinkHealth>>,
    /// Live events for the API's event stream.
    pub events: broadcast::Sender<Value>,
    /// Alert hook program, if configured.
    pub alert_hook: Option<String>,
    /// When the station started (Unix ms).
    pub started_at: u64,
    /// Counters for /metrics.
    pub metrics: Metrics,
    /// Test-only: acknowledge local entries before their commit (see `UNSAFE_ACK_BEFORE_COMMIT`).
    unsafe_ack_before_commit: bool,
}

/// Test-only switch: report a local entry accepted before it is committed. A
/// deliberately broken variant that the crash test's checker must catch; never
/// set it in production.
pub const UNSAFE_ACK_BEFORE_COMMIT: &str = "HOTLINE_UNSAFE_ACK_BEFORE_COMMIT";

/// Set when a commit failed: the in-memory state can no longer be trusted.
static STORAGE_FAILED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Whether a commit has failed since the flag was last reset. `hotline serve`
/// watches this and restarts the station from what is durable.
pub fn storage_failed() -> bool {
    STORAGE_FAILED.load(Ordering::SeqCst)
}

/// Clears the failure flag before a restart.
pub fn reset_storage_failed() {
    STORAGE_FAILED.store(false, Ordering::SeqCst);
}

/// A commit failed (I/O error, full disk): nothing more may be reported from
/// this state. The task stops here (the request in hand gets no success), the
/// flag tells the supervisor to drop every in-memory structure and restart
/// from storage — the only state the station can vouch for (SPEC §1, principle 3).
fn fatal(e: StationError) -> ! {
    storage_failure(&e);
    panic!("storage failure: {e}")
}

/// Records a failed commit: the supervisor restarts the station from disk.
pub fn storage_failure(e: &StationError) {
    STORAGE_FAILED.store(true, Ordering::SeqCst);
    tracing::error!(
        "storage failure: {e}; nothing more is acknowledged until the station restarts from disk"
    );
}

impl Engine {
    /// Loads everything from storage into memory.
    pub fn load(
        name: String,
        keys: SecretKeys,
        db: Db,
        alert_hook: Option<String>,
    ) -> Result<Engine, StationError> {
        let identity = keys.identity();
        let (events, _) = broadcast::channel(4096);
        let engine = Engine {
            name,
            keys,
            identity,
            db,
            channels: RwLock::new(HashMap::new()),
            link_down_open: Default::default(),
            slots: RwLock::new(HashMap::new()),
            peers: RwLock::new(HashMap::new()),
            wake: RwLock::new(HashMap::new()),
            health: RwLock::new(HashMap::new()),
            events,
            alert_hook,
            started_at: now_ms(),
            metrics: Metrics::default(),
            unsafe_ack_before_commit: std::env::var_os(UNSAFE_ACK_BEFORE_COMMIT).is_some(),
        };
        if engine.unsafe_ack_before_commit {
            tracing::warn!(
                "{UNSAFE_ACK_BEFORE_COMMIT} is set: entries are reported before they are durable"
            );
        }
        let peers = engine.db.read_now(|s| s.peers())?;
        for p in peers {
            engine.insert_peer(p)?;
        }
        let rows = engine.db.read_now(|s| s.channels())?;
        let open_alerts = engine.db.read_now(|s| s.alerts(true, 1_000_000))?;
        *engine.link_down_open.lock().unwrap() = open_alerts
            .iter()
            .filter(|a| a.key.starts_with("link-down:"))
            .map(|a| a.key.clone())
            .collect();
        for row in rows {
            let rt = engine.load_channel(&row, &open_alerts)?;
            engine.insert_channel(row.id, rt);
        }
        Ok(engine)
    }

    fn insert_peer(&self, row: PeerRow) -> Result<(), StationError> {
        let identity = Identity::parse(&row.token).map_err(|_| {
            StationError::Setup(format!("stored key of peer {} is damaged", row.name))
        })?;
        self.wake.write().unwrap().entry(row.id).or_default();
        self.peers
            .write()
            .unwrap()
            .insert(row.id, PeerRt { row, identity });
        Ok(())
    }

    fn load_channel(&self, row: &ChannelRow, open: &[AlertRow]) -> Result<ChannelRt, StationError> {
        let id = row.id;
        // The peer must still be pinned: a channel whose peer row is gone is damage.
        self.peer(row.peer_id)?;
        let mut after = 0;
        let mut book: Option<ChannelBook> = None;
        loop {
            let batch = self.db.read_now(|s| s.entries_after(&id, after, 10_000))?;
            if batch.is_empty() {
                break;
            }
            for r in &batch {
                after = r.cursor;
                match book.as_mut() {
                    None => {
                        let (b, _) = ChannelBook::genesis(&r.envelope, row.me).map_err(|e| {
                            StationError::Storage(format!(
                                "stored Open of {} does not verify: {e}",
                                hex(&id)
                            ))
                        })?;
                        book = Some(b);
                    }
                    Some(b) => {
                        let key = &b.identities()[r.author as usize];
                        let v = VerifiedEntry::from_storage(&r.envelope, key).map_err(|e| {
                            StationError::Storage(format!(
                                "stored entry {} does not verify: {e}",
                                hex(&r.hash)
                            ))
                        })?;
                        b.apply(&v, r.stored_at);
                    }
                }
            }
        }
        let book = book
            .ok_or_else(|| StationError::Storage(format!("channel {} has no entries", hex(&id))))?;
        let peer_key = book.identities()[book.peer() as usize]
            .verifying_key()
            .expect("validated");
        let peer_ckpt = self
            .db
            .read_now(|s| s.checkpoint(&id, book.peer()))?
            .and_then(|b| SignedCheckpoint::open(&b, &peer_key).ok());
        let own_ckpt = self
            .db
            .read_now(|s| s.checkpoint(&id, book.me()))?
            .map(|b| hotline_proto::sha256(&b));
        let open_alerts = open
            .iter()
            .filter(|a| a.channel == Some(id) && is_policy_key(&a.key))
            .map(|a| a.key.clone())
            .collect();
        let delivered = peer_ckpt
            .as_ref()
            .map(|c| c.checkpoint().heads[book.me() as usize].0)
            .unwrap_or(0);
        // The peer's own clock on its last checkpoint: the best we know after a restart.
        let last_delivery_at = peer_ckpt.as_ref().map(|c| c.checkpoint().time);
        Ok(ChannelRt {
            book,
            peer_id: row.peer_id,
            peer_ckpt,
            own_ckpt,
            open_alerts,
            sent_upto: delivered,
            last_delivery_at,
        })
    }

    /// Whether the deliberately broken test variant is on (see `UNSAFE_ACK_BEFORE_COMMIT`).
    pub fn unsafe_ack_before_commit(&self) -> bool {
        self.unsafe_ack_before_commit
    }

    /// The station's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The station's public identity.
    pub fn identity(&self) -> Identity {
        self.identity
    }

    /// The storage handle, for reads.
    pub fn db(&self) -> &Db {
        &self.db
    }

    /// The counters exported at /metrics.
    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// A receiver of the live event stream.
    pub fn subscribe(&self) -> broadcast::Receiver<Value> {
        self.events.subscribe()
    }

    /// Every pinned peer.
    pub fn peers(&self) -> Vec<PeerRt> {
        self.peers.read().unwrap().values().cloned().collect()
    }

    /// The live state of the link to a peer.
    pub fn link_health(&self, peer_id: i64) -> LinkHealth {
        self.health
            .read()
            .unwrap()
            .get(&peer_id)
            .cloned()
            .unwrap_or_default()
    }

    /// How many outbound links are up.
    pub fn links_up(&self) -> usize {
        self.health
            .read()
            .unwrap()
            .values()
            .filter(|h| h.up)
            .count()
    }

    /// Every channel, with its id.
    pub fn all_channels(&self) -> Vec<(Hash, Arc<Mutex<ChannelRt>>)> {
        self.channels
            .read()
            .unwrap()
            .iter()
            .map(|(k, v)| (*k, v.clone()))
            .collect()
    }

    /// A peer by id.
    pub fn peer(&self, id: i64) -> Result<PeerRt, StationError> {
        self.peers
            .read()
            .unwrap()
            .get(&id)
            .cloned()
            .ok_or_else(|| StationError::NotFound("no such peer".into()))
    }

    /// A peer by name.
    pub fn peer_by_name(&self, name: &str) -> Result<PeerRt, StationError> {
        self.peers
            .read()
            .unwrap()
            .values()
            .find(|p| p.row.name == name)
            .cloned()
            .ok_or_else(|| {
                StationError::NotFound(format!("no peer named {name:?} (see `hotline peer list`)"))
            })
    }

    /// The peer holding an X25519 static key, for the handshake.
    pub fn peer_by_dh(&self, dh: &[u8; 32]) -> Option<PeerRt> {
        self.peers
            .read()
            .unwrap()
            .values()
            .find(|p| &p.identity.dh_pk == dh)
            .cloned()
    }

    /// A channel by id.
    pub fn channel(&self, id: &Hash) -> Result<Arc<Mutex<ChannelRt>>, StationError> {
        self.channels.read().unwrap().get(id).cloned().ok_or_else(|| {
            StationError::NotFound(format!(
                "no channel {} here (a proposal may not have arrived yet; see `hotline channel list`)",
                hex(id)
            ))
        })
    }

    /// Registers a channel in memory.
    fn insert_channel(&self, id: Hash, rt: ChannelRt) -> Arc<Mutex<ChannelRt>> {
        let slot = ChannelSlot {
            peer_id: rt.peer_id,
            max_entry_bytes: rt.book.terms().max_entry_bytes,
        };
        let arc = Arc::new(Mutex::new(rt));
        // Index first: a reader that finds the channel also finds its peer.
        self.slots.write().unwrap().insert(id, slot);
        self.channels.write().unwrap().insert(id, arc.clone());
        arc
    }

    /// All channels with a peer.
    pub fn channels_of(&self, peer_id: i64) -> Vec<(Hash, Arc<Mutex<ChannelRt>>)> {
        let slots = self.slots.read().unwrap();
        self.channels
            .read()
            .unwrap()
            .iter()
            .filter(|(k, _)| slots.get(*k).is_some_and(|s| s.peer_id == peer_id))
            .map(|(k, v)| (*k, v.clone()))
            .collect()
    }

    /// The largest entry any channel with this peer allows (bounds link reassembly).
    pub fn max_entry_bytes_with(&self, peer_id: i64) -> u64 {
        self.slots
            .read()
            .unwrap()
            .values()
            .filter(|s| s.peer_id == peer_id)
            .map(|s| s.max_entry_bytes)
            .max()
            .unwrap_or(hotline_proto::entry::DEFAULT_MAX_ENTRY_BYTES)
    }

    /// Wakes the sender task of a peer.
    pub fn wake_peer(&self, peer_id: i64) {
        if let Some(n) = self.wake.read().unwrap().get(&peer_id) {
            n.notify_one();
        }
    }

    /// The notifier of a peer's sender.
    pub fn notifier(&self, peer_id: i64) -> Arc<Notify> {
        self.wake
            .write()
            .unwrap()
            .entry(peer_id)
            .or_default()
            .clone()
    }

    /// Publishes a live event.
    pub fn emit(&self, event: Value) {
        let _ = self.events.send(event);
    }

    // ---- peers ----------------------------------------------------------

    /// Pins a new peer.
    pub async fn add_peer(
        &self,
        name: &str,
        token: &str,
        addrs: Vec<String>,
        rel: Option<String>,
    ) -> Result<PeerRow, StationError> {
        let name = name.trim().to_owned();
        if name.is_empty() || name.len() > 64 || name.chars().any(|c| c.is_control() || c == '/') {
            return Err(StationError::BadRequest(
                "a peer name is 1–64 printable characters without '/'".into(),
            ));
        }
        let id =
            Identity::parse(token).map_err(|e| StationError::BadRequest(format!("--key: {e}")))?;
        if id == self.identity {
            return Err(StationError::BadRequest(
                "that is this station's own identity".into(),
            ));
        }
        if addrs.is_empty() {
            return Err(StationError::BadRequest(
                "give at least one address (--addr HOST:PORT)".into(),
            ));
        }
        for a in &addrs {
            if !valid_addr(a) {
                return Err(StationError::BadRequest(format!(
                    "address {a:?} is not HOST:PORT"
                )));
            }
        }
        let t = id.token();
        let row = self
            .db
            .call(move |s| s.add_peer(&name, &t, &addrs, rel.as_deref(), now_ms()))
            .await?;
        self.insert_peer(row.clone())?;
        let key = format!("unpinned-key:{}", hex(&id.dh_pk));
        self.clear_alert(None, &key).await;
        self.emit(json!({"type": "peer", "peer": row.name}));
        Ok(row)
    }

    /// Confirms a peer's fingerprint; `Ok(false)` when it does not match.
    pub async fn verify_peer(&self, name: &str, fingerprint: &str) -> Result<bool, StationError> {
        let p = self.peer_by_name(name)?;
        if !p.identity.fingerprint().matches(fingerprint) {
            return Ok(false);
        }
        let id = p.row.id;
        self.db.call(move |s| s.set_verified(id, true)).await?;
        if let Some(p) = self.peers.write().unwrap().get_mut(&id) {
            p.row.verified = true;
        }
        self.emit(json!({"type": "peer", "peer": name, "verified": true}));
        Ok(true)
    }

    // ---- authoring ------------------------------------------------------

    /// Opens a channel to a peer; returns its id after the `Open` is committed.
    pub async fn open_channel(
        &self,
        peer: &str,
        terms: Terms,
        reopens: Option<Hash>,
        by: &str,
    ) -> Result<Hash, StationError> {
        let p = self.peer_by_name(peer)?;
        if let Some(old) = reopens {
            let rt = self.channel(&old)?;
            let rt = rt.lock().await;
            if rt.peer_id != p.row.id {
                return Err(StationError::BadRequest(
                    "--reopens names a channel with another peer".into(),
                ));
            }
            if rt.book.state().phase != hotline_core::Phase::Terminated {
                return Err(StationError::Conflict(format!(
                    "channel {} is {}: only an ended channel can be reopened",
                    hex(&old),
                    rt.book.state().word()
                )));
            }
        }
        let now = now_ms();
        let (book, v) = ChannelBook::open(&self.keys, p.identity, terms, reopens, by, now);
        let id = book.id();
        let rt = ChannelRt::new(book, p.row.id);
        let ops = vec![
            WriteOp::Channel(ChannelRow {
                id,
                peer_id: p.row.id,
                me: 0,
                created_at: now,
            }),
            WriteOp::Entry {
                entry: v.clone(),
                stored_at: now,
            },
        ];
        self.db.write(ops).await.unwrap_or_else(|e| fatal(e));
        self.insert_channel(id, rt);
        self.emit(json!({"type": "channel", "channel": hex(&id), "state": "proposed"}));
        self.after_commit(&id, &v, 0, true);
        self.wake_peer(p.row.id);
        Ok(id)
    }

    /// Authors an entry on a channel for a local user; returns it once committed.
    pub async fn author(
        &self,
        channel: &Hash,
        body: Body,
        by: &str,
    ) -> Result<VerifiedEntry, StationError> {
        let rt = self.channel(channel)?;
        let (v, pending, peer_id) = {
            let mut rt = rt.lock().await;
            let peer = self.peer(rt.peer_id)?;
            let now = now_ms();
            let v = rt
                .book
                .author(&self.keys, body, by, now, peer.row.verified)
                .map_err(|r| self.explain(&rt, r, &peer))?;
            let pending = self.db.submit(vec![WriteOp::Entry {
                entry: v.clone(),
                stored_at: now,
            }]);
            rt.book.apply(&v, now);
            (v, pending, rt.peer_id)
        };
        if self.unsafe_ack_before_commit {
            // Deliberately broken variant (tests only): report before the commit.
            tokio::spawn(async move {
                let _ = pending.wait().await;
            });
            self.wake_peer(peer_id);
            return Ok(v);
        }
        let res = match pending.wait().await {
            Ok(r) => r,
            Err(e) => {
                // Not committed: say so; the supervisor restarts the station from disk.
                storage_failure(&e);
                return Err(StationError::Storage(format!(
                    "not accepted: {e}; the station is restarting from what is on disk, retry shortly"
                )));
            }
        };
        let cursor = match res.first() {
            Some(WriteResult::Cursor(c)) => *c,
            _ => 0,
        };
        self.after_commit(channel, &v, cursor, true);
        self.wake_peer(peer_id);
        Ok(v)
    }

    fn after_commit(&self, channel: &Hash, v: &VerifiedEntry, cursor: u64, own: bool) {
        let dir = if own { "sent" } else { "received" };
        *self
            .metrics
            .entries
            .lock()
            .unwrap()
            .entry((dir, v.entry().body.kind().name()))
            .or_default() += 1;
        self.emit_entry(channel, v, cursor, own);
        if hotline_core::state::changes_state(v.entry().body.kind()) {
            self.emit(json!({"type": "state", "channel": hex(channel)}));
        }
    }

    fn emit_entry(&self, channel: &Hash, v: &VerifiedEntry, cursor: u64, own: bool) {
        self.emit(json!({
            "type": "entry",
            "channel": hex(channel),
            "cursor": cursor,
            "hash": hex(&v.hash()),
            "author": v.entry().author,
            "own": own,
            "kind": v.entry().body.kind().name(),
        }));
    }

    /// Turns a refusal into a sentence naming the state and who caused it.
    fn explain(&self, rt: &ChannelRt, r: Refusal, peer: &PeerRt) -> StationError {
        match r {
            Refusal::Forbidden(f) => {
                let st = f.state;
                let me = rt.book.me() as usize;
                let who = |a: usize| {
                    if a == me {
                        format!("this station ({})", self.name)
                    } else {
                        format!("{} (the counterpart)", peer.row.name)
                    }
                };
                let why = if st.is_suspended() {
                    let by: Vec<String> = (0..2).filter(|a| st.suspended[*a]).map(who).collect();
                    format!("the channel is suspended by {}", by.join(" and "))
                } else if let Some(t) = st.terminated_by {
                    format!("the channel was terminated by {}", who(t as usize))
                } else {
                    format!("the channel is {}", st.word())
                };
                StationError::Conflict(format!("{} is not allowed: {why}", f.kind.name()))
            }
            Refusal::Reference(what) => StationError::BadRequest(what.to_string()),
            other => StationError::Conflict(other.to_string()),
        }
    }

    // ---- receive path ---------------------------------------------------

    /// Handles an `Entries` batch from a peer. Returns the checkpoint to send back, if any.
    ///
    /// Valid entries are committed in one batch together with our signed
    /// checkpoint over them; the first invalid entry stops the batch, raises an
    /// alert and is not stored.
    pub async fn receive(
        &self,
        peer: &PeerRt,
        channel: Hash,
        envelopes: Vec<Vec<u8>>,
    ) -> Result<Option<Vec<u8>>, String> {
        let now = now_ms();
        let mut envs = envelopes.into_iter();
        let mut ops = Vec::new();
        let mut applied = Vec::new();
        let existing = self.channels.read().unwrap().get(&channel).cloned();
        let is_new = existing.is_none();
        let arc = match existing {
            Some(a) => a,
            None => {
                let Some(first) = envs.next() else {
                    return Ok(None);
                };
                let (book, v) = match ChannelBook::genesis(&first, 1) {
                    Ok(x) => x,
                    Err(e) => {
                        return Err(self
                            .bad_input(peer, None, format!("proposal rejected: {e}"))
                            .await)
                    }
                };
                let ids = book.identities();
                if ids[0] != peer.identity || ids[1] != self.identity || book.id() != channel {
                    return Err(self
                        .bad_input(
                            peer,
                            None,
                            "proposal rejected: it names other stations or another channel".into(),
                        )
                        .await);
                }
                ops.push(WriteOp::Channel(ChannelRow {
                    id: channel,
                    peer_id: peer.row.id,
                    me: 1,
                    created_at: now,
                }));
                ops.push(WriteOp::Entry {
                    entry: v.clone(),
                    stored_at: now,
                });
                applied.push(v);
                self.insert_channel(channel, ChannelRt::new(book, peer.row.id))
            }
        };
        let mut rt = arc.lock().await;
        if rt.peer_id != peer.row.id {
            drop(rt);
            return Err(self
                .bad_input(
                    peer,
                    Some(channel),
                    "entries for a channel with another peer".into(),
                )
                .await);
        }
        let mut fault = None;
        let author = rt.book.peer();
        for bytes in envs {
            match rt.book.check(author, &bytes, peer.row.verified) {
                Ok(Outcome::New(v)) => {
                    ops.push(WriteOp::Entry {
                        entry: v.clone(),
                        stored_at: now,
                    });
                    rt.book.apply(&v, now);
                    applied.push(v);
                }
                Ok(Outcome::Duplicate) => {}
                Ok(Outcome::Equivocation {
                    author,
                    seq,
                    envelope,
                }) => {
                    let stored = self
                        .db
                        .read(move |s| s.entry_at(&channel, author, seq))
                        .await
                        .ok()
                        .flatten()
                        .map(|r| r.envelope)
                        .unwrap_or_default();
                    ops.push(WriteOp::Evidence {
                        channel,
                        author,
                        seq,
                        stored,
                        conflicting: envelope.bytes().to_vec(),
                        at: now,
                    });
                    ops.push(WriteOp::RaiseAlert {
                        kind: AlertKind::Equivocation.name().into(),
                        channel: Some(channel),
                        key: format!("equivocation:{author}:{seq}"),
                        cause: format!(
                            "{} signed two different entries with seq {seq}; both are kept as evidence and the rest of its chain is refused",
                            peer.row.name
                        ),
                        at: now,
                    });
                    rt.book.refuse(author);
                    fault = Some(format!("equivocation at seq {seq}"));
                    break;
                }
                Err(e) => {
                    fault = Some(e.to_string());
                    break;
                }
            }
        }
        let ckpt = if applied.is_empty() && fault.is_some() {
            None
        } else {
            let c = Checkpoint {
                channel,
                signer: rt.book.me(),
                heads: [rt.book.head(0), rt.book.head(1)],
                time: now,
                peer_checkpoint: rt.peer_ckpt.as_ref().map(|c| c.hash()),
            };
            let signed = c.sign(&self.keys);
            ops.push(WriteOp::Checkpoint {
                channel,
                signer: rt.book.me(),
                envelope: signed.bytes().to_vec(),
                stored_at: now,
            });
            rt.own_ckpt = Some(signed.hash());
            Some(signed.bytes().to_vec())
        };
        let pending = if ops.is_empty() {
            None
        } else {
            Some(self.db.submit(ops))
        };
        drop(rt);
        let results = match pending {
            Some(p) => p.wait().await.unwrap_or_else(|e| fatal(e)),
            None => vec![],
        };
        let mut cursors = results.iter().filter_map(|r| match r {
            WriteResult::Cursor(c) => Some(*c),
            _ => None,
        });
        if is_new {
            self.emit(json!({"type": "channel", "channel": hex(&channel), "state": "proposed"}));
        }
        for v in &applied {
            let c = cursors.next().unwrap_or(0);
            self.after_commit(&channel, v, c, false);
        }
        for r in &results {
            if let WriteResult::Alert(Some(a)) = r {
                self.announce_alert(a, false);
            }
        }
        match fault {
            Some(f) => {
                self.metrics
                    .entries_rejected
                    .fetch_add(1, Ordering::Relaxed);
                Err(self.bad_input(peer, Some(channel), f).await)
            }
            None => {
                if !applied.is_empty() {
                    self.clear_alert(None, &format!("bad-input:{}", peer.row.name))
                        .await;
                }
                Ok(ckpt)
            }
        }
    }

    /// Handles a checkpoint from a peer: verify, check against our chain, store if newer.
    pub async fn receive_checkpoint(&self, peer: &PeerRt, bytes: &[u8]) -> Result<(), String> {
        let claimed = match SignedCheckpoint::peek(bytes) {
            Ok(c) => c,
            Err(e) => {
                return Err(self
                    .bad_input(peer, None, format!("checkpoint does not decode: {e}"))
                    .await)
            }
        };
        let arc = match self.channel(&claimed.channel) {
            Ok(a) => a,
            Err(_) => {
                return Err(self
                    .bad_input(peer, None, "checkpoint for an unknown channel".into())
                    .await)
            }
        };
        let mut rt = arc.lock().await;
        let me = rt.book.me();
        let fault = if rt.peer_id != peer.row.id || claimed.signer != rt.book.peer() {
            Some("checkpoint signed for the wrong side".to_string())
        } else {
            match SignedCheckpoint::open(bytes, &peer.identity.verifying_key().expect("parsed")) {
                Err(e) => Some(format!("checkpoint rejected: {e}")),
                Ok(c) => {
                    let (seq, h) = c.checkpoint().heads[me as usize];
                    let ours_ok = seq == 0 || rt.book.meta(me, seq).map(|m| m.hash) == Some(h);
                    let (pseq, ph) = c.checkpoint().heads[rt.book.peer() as usize];
                    let theirs_ok = pseq == 0
                        || pseq > rt.book.len(rt.book.peer())
                        || rt.book.meta(rt.book.peer(), pseq).map(|m| m.hash) == Some(ph);
                    if !ours_ok || !theirs_ok {
                        Some("checkpoint disagrees with the transcript held here".to_string())
                    } else {
                        let newer = rt.peer_ckpt.as_ref().is_none_or(|old| {
                            let o = old.checkpoint().heads;
                            c.checkpoint().heads[0].0 >= o[0].0
                                && c.checkpoint().heads[1].0 >= o[1].0
                        });
                        if newer {
                            let now = now_ms();
                            let pending = self.db.submit(vec![WriteOp::Checkpoint {
                                channel: claimed.channel,
                                signer: claimed.signer,
                                envelope: bytes.to_vec(),
                                stored_at: now,
                            }]);
                            let (from, to) =
                                (rt.delivered_upto() + 1, c.checkpoint().heads[me as usize].0);
                            for seq in from..=to {
                                if let Some(m) = rt.book.meta(me, seq) {
                                    self.metrics
                                        .delivery_ms
                                        .observe(now.saturating_sub(m.stored_at));
                                }
                            }
                            rt.peer_ckpt = Some(c);
                            rt.last_delivery_at = Some(now);
                            let upto = rt.delivered_upto();
                            drop(rt);
                            pending.wait().await.unwrap_or_else(|e| fatal(e));
                            self.metrics
                                .checkpoints_received
                                .fetch_add(1, Ordering::Relaxed);
                            self.emit(json!({"type": "delivery", "channel": hex(&claimed.channel), "delivered_upto": upto}));
                            return Ok(());
                        }
                        None
                    }
                }
            }
        };
        match fault {
            Some(f) => {
                drop(rt);
                Err(self.bad_input(peer, Some(claimed.channel), f).await)
            }
            None => Ok(()),
        }
    }

    // ---- alerts -----------------------------------------------------------

    /// Raises a `bad-input` alert about a peer and returns the sentence (for the link's Error).
    pub async fn bad_input(&self, peer: &PeerRt, channel: Option<Hash>, what: String) -> String {
        tracing::warn!(peer = %peer.row.name, "rejected input: {what}");
        // One open bad-input alert per peer, whatever the channel: it clears when
        // that peer's input is valid again.
        let on = channel
            .map(|c| format!(" on channel {}", hex(&c)))
            .unwrap_or_default();
        self.raise_alert(
            AlertKind::BadInput,
            None,
            format!("bad-input:{}", peer.row.name),
            format!(
                "{} sent invalid input{on}, rejected and not stored: {what}",
                peer.row.name
            ),
        )
        .await;
        what
    }

    /// Raises an alert unless the same key is open.
    pub async fn raise_alert(
        &self,
        kind: AlertKind,
        channel: Option<Hash>,
        key: String,
        cause: String,
    ) {
        let op = WriteOp::RaiseAlert {
            kind: kind.name().into(),
            channel,
            key,
            cause,
            at: now_ms(),
        };
        match self.db.write(vec![op]).await {
            Ok(r) => {
                if let Some(WriteResult::Alert(Some(a))) = r.first() {
                    self.announce_alert(a, false);
                }
            }
            Err(e) => fatal(e),
        }
    }

    /// Clears the open alert with this key, if any.
    pub async fn clear_alert(&self, channel: Option<Hash>, key: &str) {
        let op = WriteOp::ClearAlert {
            channel,
            key: key.to_owned(),
            at: now_ms(),
        };
        match self.db.write(vec![op]).await {
            Ok(r) => {
                if let Some(WriteResult::Alert(Some(a))) = r.first() {
                    self.announce_alert(a, true);
                }
            }
            Err(e) => fatal(e),
        }
    }

    /// Streams an alert and hands a new one to the hook.
    fn announce_alert(&self, a: &AlertRow, cleared: bool) {
        let v = alert_json(a);
        self.emit(json!({"type": "alert", "cleared": cleared, "alert": v}));
        if !cleared {
            tracing::warn!(kind = %a.kind, "alert: {}", a.cause);
            if let Some(hook) = &self.alert_hook {
                crate::hook::run(hook.clone(), v);
            }
        }
    }

    // ---- policy -------------------------------------------------------------

    /// One policy tick over every channel.
    pub async fn tick(&self) {
        let all: Vec<(Hash, Arc<Mutex<ChannelRt>>)> = self
            .channels
            .read()
            .unwrap()
            .iter()
            .map(|(k, v)| (*k, v.clone()))
            .collect();
        for (id, arc) in all {
            self.tick_channel(id, &arc).await;
        }
    }

    async fn tick_channel(&self, id: Hash, arc: &Arc<Mutex<ChannelRt>>) {
        // Evaluate until quiet: an authored entry changes the book, and the next
        // evaluation sees it (at most a few rounds).
        for _ in 0..4 {
            let mut rt = arc.lock().await;
            let now = now_ms();
            let actions = policy::evaluate(&rt.book, &rt.open_alerts, now);
            if actions.is_empty() {
                return;
            }
            let peer = match self.peer(rt.peer_id) {
                Ok(p) => p,
                Err(_) => return,
            };
            let mut ops = Vec::new();
            let mut authored = Vec::new();
            for a in actions {
                match a {
                    Action::Author(body) => match rt.book.author(
                        &self.keys,
                        body,
                        hotline_proto::entry::BY_STATION,
                        now,
                        peer.row.verified,
                    ) {
                        Ok(v) => {
                            ops.push(WriteOp::Entry {
                                entry: v.clone(),
                                stored_at: now,
                            });
                            rt.book.apply(&v, now);
                            authored.push(v);
                        }
                        Err(e) => tracing::warn!("policy action refused: {e}"),
                    },
                    Action::Raise { kind, key, cause } => {
                        rt.open_alerts.insert(key.clone());
                        ops.push(WriteOp::RaiseAlert {
                            kind: kind.name().into(),
                            channel: Some(id),
                            key,
                            cause,
                            at: now,
                        });
                    }
                    Action::Clear { key } => {
                        rt.open_alerts.remove(&key);
                        ops.push(WriteOp::ClearAlert {
                            channel: Some(id),
                            key,
                            at: now,
                        });
                    }
                }
            }
            let pending = self.db.submit(ops);
            let peer_id = rt.peer_id;
            drop(rt);
            let results = pending.wait().await.unwrap_or_else(|e| fatal(e));
            let mut cursors = results.iter().filter_map(|r| match r {
                WriteResult::Cursor(c) => Some(*c),
                _ => None,
            });
            for v in &authored {
                self.after_commit(&id, v, cursors.next().unwrap_or(0), true);
            }
            for r in &results {
                if let WriteResult::Alert(Some(a)) = r {
                    self.announce_alert(a, a.cleared_at.is_some());
                }
            }
            if !authored.is_empty() {
                self.wake_peer(peer_id);
            }
        }
    }

    /// Raises or clears `link-down` for peers whose link has been down past the threshold.
    pub async fn check_links(&self, threshold_ms: u64) {
        let now = now_ms();
        let peers: Vec<PeerRt> = self.peers.read().unwrap().values().cloned().collect();
        for p in peers {
            let h = self
                .health
                .read()
                .unwrap()
                .get(&p.row.id)
                .cloned()
                .unwrap_or_default();
            let key = format!("link-down:{}", p.row.name);
            let mut live = false;
            for (_, c) in self.channels_of(p.row.id) {
                if c.lock().await.book.state().phase != hotline_core::Phase::Terminated {
                    live = true;
                }
            }
            let since = if h.since == 0 {
                self.started_at
            } else {
                h.since
            };
            let open = self.link_down_open.lock().unwrap().contains(&key);
            if !h.up && live && now.saturating_sub(since) > threshold_ms {
                if open {
                    continue;
                }
                self.link_down_open.lock().unwrap().insert(key.clone());
                self.raise_alert(
                    AlertKind::LinkDown,
                    None,
                    key,
                    format!(
                        "the link to {} has been down for {:.1} s",
                        p.row.name,
                        (now - since) as f64 / 1000.0
                    ),
                )
                .await;
            } else if (h.up || !live) && open {
                self.link_down_open.lock().unwrap().remove(&key);
                self.clear_alert(None, &key).await;
            }
        }
    }

    /// Records the state of the link to a peer.
    pub fn set_link(&self, peer_id: i64, up: bool, addr: Option<String>) {
        let mut h = self.health.write().unwrap();
        let e = h.entry(peer_id).or_default();
        if e.up != up || e.since == 0 {
            e.up = up;
            e.since = now_ms();
            drop(h);
            self.emit(json!({"type": "link", "peer_id": peer_id, "up": up}));
        } else if addr.is_some() {
            e.addr = addr;
        }
    }

    // ---- views --------------------------------------------------------------

    /// Signs a fresh checkpoint over what we hold (for exports) and stores it.
    ///
    /// Returns the checkpoints to export, our author index, the identities and the heads covered.
    #[allow(clippy::type_complexity)]
    pub async fn fresh_checkpoint(
        &self,
        channel: &Hash,
    ) -> Result<(Vec<Vec<u8>>, u8, [Identity; 2], [(u64, Hash); 2]), StationError> {
        let arc = self.channel(channel)?;
        let mut rt = arc.lock().await;
        let now = now_ms();
        let c = Checkpoint {
            channel: *channel,
            signer: rt.book.me(),
            heads: [rt.book.head(0), rt.book.head(1)],
            time: now,
            peer_checkpoint: rt.peer_ckpt.as_ref().map(|c| c.hash()),
        };
        let signed = c.sign(&self.keys);
        let pending = self.db.submit(vec![WriteOp::Checkpoint {
            channel: *channel,
            signer: rt.book.me(),
            envelope: signed.bytes().to_vec(),
            stored_at: now,
        }]);
        rt.own_ckpt = Some(signed.hash());
        let mut cps = vec![];
        if let Some(p) = &rt.peer_ckpt {
            cps.push(p.bytes().to_vec());
        }
        cps.push(signed.bytes().to_vec());
        let me = rt.book.me();
        let ids = *rt.book.identities();
        drop(rt);
        pending.wait().await.unwrap_or_else(|e| fatal(e));
        Ok((cps, me, ids, c.heads))
    }

    /// The oversight export of a channel (SPEC §9), with a fresh checkpoint of ours.
    pub async fn export(&self, id: &Hash) -> Result<String, StationError> {
        let (cps, me, ids, heads) = self.fresh_checkpoint(id).await?;
        let mut envs = Vec::new();
        let mut after = 0;
        let id = *id;
        loop {
            let rows = self
                .db
                .read(move |s| s.entries_after(&id, after, 10_000))
                .await?;
            if rows.is_empty() {
                break;
            }
            after = rows.last().map(|r| r.cursor).unwrap_or(after);
            // Entries committed after the checkpoint was signed are left for the next export.
            envs.extend(
                rows.into_iter()
                    .filter(|r| r.seq <= heads[r.author as usize].0)
                    .map(|r| r.envelope),
            );
        }
        hotline_core::export::write(&id, &ids, me, now_ms(), &envs, &cps)
            .map_err(StationError::Storage)
    }
}

/// Whether a string looks like HOST:PORT.
pub fn valid_addr(a: &str) -> bool {
    match a.rsplit_once(':') {
        Some((host, port)) => !host.is_empty() && port.parse::<u16>().is_ok_and(|p| p > 0),
        None => false,
    }
}
