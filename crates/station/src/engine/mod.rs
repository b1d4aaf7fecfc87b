//! The station's engine: the shell around the station machine
//! (`hotline_core::machine`).
//!
//! Every procedure has one shape: take the channel's lock, ask the machine,
//! hand its writes to the group-commit writer while still holding the lock
//! (so commit order is decision order), release the lock, wait for the
//! commit, and only then perform the step's effects (`commit.rs`). The
//! machine decides; this shell only locks, commits and performs.

pub mod bundle;
mod commit;
pub mod keys;
mod logs;
mod notice;
mod outbox;
mod peers;
mod procedures;
mod psk;
pub mod share;

pub use commit::{Answer, CheckpointTaken, Riding};
pub use logs::{WitnessRow, WitnessStatus, LOG_CHECKPOINT_EVERY};
pub use peers::{valid_addr, PeerRt};

use crate::db::{Db, Pending};
use crate::error::StationError;
use crate::metrics::Metrics;
use hotline_core::machine::Channel;
use hotline_proto::{hex, Hash, Identity, Keyring};
use serde_json::Value;
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use tokio::sync::{broadcast, Mutex, Notify, OwnedMutexGuard};

/// The per-channel runtime the API's views lock and read.
pub type ChannelRt = Channel;

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

/// What the link needs of a channel without taking its lock (it routes and
/// bounds by it while the channel is busy).
#[derive(Debug, Clone, Copy)]
struct ChannelSlot {
    /// The peer the channel is with; never changes.
    peer_id: i64,
    /// `Channel::entry_bound`, which bounds link reassembly: kept up to date
    /// under the channel's lock when this station accepts the peer's proposal
    /// (the only step that changes it).
    entry_bound: u64,
}

/// When each channel's policy is next due (Unix ms), in time order.
#[derive(Debug, Default)]
struct Due {
    at: HashMap<Hash, u64>,
    order: std::collections::BTreeSet<(u64, Hash)>,
}

impl Due {
    /// Schedules a channel (`None`: no clock runs on it).
    fn set(&mut self, id: Hash, t: Option<u64>) {
        if let Some(old) = self.at.remove(&id) {
            self.order.remove(&(old, id));
        }
        if let Some(t) = t {
            self.at.insert(id, t);
            self.order.insert((t, id));
        }
    }

    /// The channels due by `now`, taken off the schedule.
    fn take(&mut self, now: u64) -> Vec<Hash> {
        let mut out = Vec::new();
        while let Some(&(t, id)) = self.order.first() {
            if t > now {
                break;
            }
            self.order.pop_first();
            self.at.remove(&id);
            out.push(id);
        }
        out
    }
}

/// Live state of the link to a peer.
#[derive(Debug, Clone, Default)]
pub struct LinkHealth {
    /// Whether our outbound session is up.
    pub up: bool,
    /// Since when (Unix ms) it has been up or down; 0 before the first attempt.
    pub since: u64,
    /// The address in use or last tried.
    pub addr: Option<String>,
    /// Last round trip, ms.
    pub rtt_ms: Option<u64>,
    /// The peer's clock minus ours, in ms, as the last handshake showed:
    /// its clock in it against ours when it arrived (so lower than the
    /// truth by the one-way delay).
    pub clock_skew_ms: Option<i64>,
    /// Each of the peer's addresses as this station last found it: the
    /// session's path from its pings, the others from probes.
    pub paths: Vec<PathHealth>,
}

/// One path to a peer: an address of it and how it answered.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PathHealth {
    /// The peer's address (HOST:PORT).
    pub addr: String,
    /// Whether it answered the last probe (or carries the live session).
    pub up: bool,
    /// Round trip of the last probe (a TCP connect) or ping, ms.
    pub rtt_ms: Option<u64>,
    /// When it was last probed or pinged, Unix ms; None before the first.
    pub last_probe: Option<u64>,
}

/// Everything one station's tasks share. Two stations in one process share
/// nothing: every flag and map lives here.
pub struct Engine {
    /// Shown to people and in alerts.
    name: String,
    /// Our keys, current and retired: they sign our entries and
    /// checkpoints; the current ones are shared with the storage writer,
    /// which signs the audit log's head. Replaced whole by a rotation.
    keys: RwLock<Arc<Keyring>>,
    /// Where the keyring is kept (`identity.key`); a rotation writes it
    /// before any entry names the new keys.
    key_file: std::sync::Mutex<Option<std::path::PathBuf>>,
    /// One rotation at a time.
    rotating: tokio::sync::Mutex<()>,
    /// Channels whose chains are not yet at the current keys and could not
    /// be rotated when tried (restored, not yet confirmed): tried again by
    /// the tick.
    rotation_pending: AtomicBool,
    /// The group-commit writer and reader pool.
    db: Db,
    /// Own entries just committed, for the link to send without reading them back.
    outbox: outbox::Outbox,
    /// Each channel behind its own lock: one decision at a time per channel.
    channels: RwLock<HashMap<Hash, Arc<Mutex<Channel>>>>,
    /// Keys of open `link-down` alerts, so the once-a-second link check
    /// touches storage only when an alert opens or closes.
    link_down_open: std::sync::Mutex<HashSet<String>>,
    /// Handshakes from keys not pinned here: one alert for all, counted in memory.
    strangers: std::sync::Mutex<hotline_core::machine::Strangers>,
    /// What never changes about a channel, readable without its lock.
    slots: RwLock<HashMap<Hash, ChannelSlot>>,
    /// Each peer's largest `entry_bound` over its slots, kept as they
    /// change (under `slots`' write lock): the link asks for it on every
    /// message it reads, which must not cost a walk of every channel.
    peer_bounds: RwLock<HashMap<i64, u64>>,
    /// Pinned peers by row id.
    peers: RwLock<HashMap<i64, PeerRt>>,
    /// The hybrid handshake's stored keys, per peer and direction.
    psks: std::sync::Mutex<psk::Chains>,
    /// Peers removed, or whose key was replaced, by row id: kept for the
    /// record of their channels; nothing more is taken from them.
    retired: RwLock<HashMap<i64, PeerRt>>,
    /// Per peer: told when the peer is removed, so its live sessions end.
    cuts: std::sync::Mutex<HashMap<i64, Arc<Notify>>>,
    /// When each channel's policy is next due; the tick evaluates only those.
    due: std::sync::Mutex<Due>,
    /// Per-peer wake-up for the sender task.
    wake: RwLock<HashMap<i64, Arc<Notify>>>,
    /// Per peer, the channels with something new to send (an own entry
    /// committed, or a delivery that opened the window): the sender task
    /// visits these, not every channel of the peer, on each wake-up.
    outbound_dirty: std::sync::Mutex<HashMap<i64, HashSet<Hash>>>,
    /// Link health per peer, for views and the link-down check.
    health: RwLock<HashMap<i64, LinkHealth>>,
    /// Live events for the API's event stream.
    events: broadcast::Sender<Value>,
    /// Program run with each new alert as JSON on stdin, if configured;
    /// replaced whole when the configuration is reloaded.
    alert_hook: RwLock<Option<Arc<crate::hook::Hook>>>,
    /// Timings and caps from the config's `[tuning]` table, read at each
    /// use, so a reload takes effect at the next connection, ping or run.
    tuning: RwLock<crate::tuning::Tuning>,
    /// When the station started (Unix ms): a link never up counts as down since then.
    started_at: u64,
    /// Counters for /metrics.
    metrics: Metrics,
    /// Test-only broken variant (see [`crate::variants`]).
    unsafe_ack_before_commit: bool,
    /// Test-only: abort in the middle of a rotation (see [`crate::variants`]).
    crash_in_rotation: Option<usize>,
    /// Test-only: fork this station's logs at the witnesses (see [`crate::variants`]).
    fork_log: bool,
    /// Each author's chain as a transparency log: notes, trees, witnesses.
    logs: logs::Logs,
    /// The audit log's head, signed again with every line (SPEC §8).
    audit: crate::audit::AuditLog,
    /// The line the start-up check of the audit log wrote, until it is waited for.
    audit_note: std::sync::Mutex<Option<crate::db::Pending>>,
    /// Set when a commit failed: this station's memory can no longer be trusted.
    failed: AtomicBool,
    /// See [`Engine::epoch`].
    epoch: AtomicU64,
    /// Wakes whoever waits for `failed`.
    failed_notify: Notify,
}

impl Engine {
    /// Loads everything from storage into memory.
    pub fn load(
        name: String,
        keys: impl Into<Keyring>,
        db: Db,
        alert_hook: Option<String>,
    ) -> Result<Engine, StationError> {
        let keys: Keyring = keys.into();
        db.sign_audit_heads(keys.current_shared());
        let mine = keys.identities().to_vec();
        let (audit, note) = db.read_now(|s| crate::audit::AuditLog::load(s, &mine))?;
        let (events, _) = broadcast::channel(4096);
        let engine = Engine {
            name,
            keys: RwLock::new(Arc::new(keys)),
            key_file: Default::default(),
            rotating: Default::default(),
            // Checked at start: a rotation a crash interrupted is finished.
            rotation_pending: AtomicBool::new(true),
            db,
            outbox: Default::default(),
            channels: RwLock::new(HashMap::new()),
            link_down_open: Default::default(),
            strangers: Default::default(),
            slots: RwLock::new(HashMap::new()),
            peer_bounds: RwLock::new(HashMap::new()),
            peers: RwLock::new(HashMap::new()),
            psks: Default::default(),
            retired: RwLock::new(HashMap::new()),
            due: Default::default(),
            cuts: Default::default(),
            wake: RwLock::new(HashMap::new()),
            outbound_dirty: Default::default(),
            health: RwLock::new(HashMap::new()),
            events,
            alert_hook: RwLock::new(
                alert_hook.map(|p| Arc::new(crate::hook::Hook::new(p, crate::hook::TIMEOUT))),
            ),
            tuning: Default::default(),
            started_at: now_ms(),
            metrics: Metrics::default(),
            unsafe_ack_before_commit: crate::variants::Variants::from_env().ack_before_commit,
            crash_in_rotation: crate::variants::Variants::from_env().crash_in_rotation,
            fork_log: crate::variants::Variants::from_env().fork_log,
            logs: Default::default(),
            audit,
            audit_note: Default::default(),
            failed: AtomicBool::new(false),
            epoch: AtomicU64::new(0),
            failed_notify: Notify::new(),
        };
        if let Some(n) = note {
            if n.damaged {
                tracing::error!("audit log: {}: {}", n.action, n.result);
            } else {
                tracing::warn!("audit log: {}: {}", n.action, n.result);
            }
            let pending = engine.audit(crate::audit::BY_STATION, n.action, "", &n.result);
            *engine.audit_note.lock().unwrap() = Some(pending);
        }
        let mut rotated = hotline_store::in_rotation_order(engine.db.read_now(|s| s.peer_keys())?);
        for p in engine.db.read_now(|s| s.peers())? {
            let (mine, rest) = rotated.into_iter().partition(|k| k.peer_id == p.id);
            rotated = rest;
            engine.insert_peer_keys(p, mine)?;
        }
        *engine.psks.lock().unwrap() = psk::load(engine.db.read_now(|s| s.psks())?);
        let rows = engine.db.read_now(|s| s.channels())?;
        let open = engine.db.read_now(|s| s.alerts(true, 1_000_000))?;
        *engine.link_down_open.lock().unwrap() = open
            .iter()
            .filter(|a| a.key.starts_with("link-down:"))
            .map(|a| a.key.clone())
            .collect();
        engine.strangers.lock().unwrap().open = open
            .iter()
            .any(|a| a.key == hotline_core::machine::UNPINNED_KEY);
        let mine = engine.keyring().identities().to_vec();
        for row in rows {
            // The peer row must be there (pinned or retired): a channel whose
            // peer row is gone is damage.
            engine.peer_on_record(row.peer_id)?;
            let ch = engine
                .db
                .read_now(|s| Ok(hotline_store::restore_channel(s, &row, &open, &mine)))?
                .map_err(|e| StationError::Storage(e.to_string()))?;
            let _ = engine.insert_channel(ch);
        }
        Ok(engine)
    }

    /// The leader epoch this station speaks with in handshakes: 0 for a
    /// station alone, the lease's epoch for the leader of a shared database.
    pub fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::Relaxed)
    }

    /// Sets the leader epoch (before the link starts).
    pub fn set_epoch(&self, epoch: u64) {
        self.epoch.store(epoch, Ordering::Relaxed);
    }

    /// The station's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The station's public identity.
    pub fn identity(&self) -> Identity {
        self.keyring().identity()
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

    /// Publishes a live event.
    pub fn emit(&self, event: Value) {
        let _ = self.events.send(event);
    }

    /// Streams the event `make` builds, if anyone is listening: an entry's
    /// and a delivery's events come with every message, and with no
    /// stream open their JSON (a dozen allocations) was built for nothing.
    /// A stream opened as this looks misses the event, as one opened a
    /// moment later would.
    pub fn emit_watched(&self, make: impl FnOnce() -> Value) {
        if self.events.receiver_count() > 0 {
            self.emit(make());
        }
    }

    /// Queues a line of the audit log with the signed head that covers it;
    /// the commit is the caller's to wait for.
    pub fn audit(&self, user: &str, action: &str, target: &str, result: &str) -> Pending {
        self.audit_as(crate::audit::Commit::Flushed, user, action, target, result)
    }

    /// [`Engine::audit`], committed as `how` says (a request's attempt and
    /// outcome lines: see [`crate::audit::Commit`]).
    pub fn audit_as(
        &self,
        how: crate::audit::Commit,
        user: &str,
        action: &str,
        target: &str,
        result: &str,
    ) -> Pending {
        self.audit
            .append(&self.db, how, now_ms(), user, action, target, result)
    }

    /// Waits until the line the start-up check of the audit log wrote (a head
    /// missing or not matching the lines) is durable, if it wrote one.
    pub async fn audit_checked(&self) -> Result<(), StationError> {
        let pending = self.audit_note.lock().unwrap().take();
        match pending {
            Some(p) => p.wait().await.map(|_| ()),
            None => Ok(()),
        }
    }

    /// Whether the deliberately broken test variant is on (see [`crate::variants`]).
    pub fn unsafe_ack_before_commit(&self) -> bool {
        self.unsafe_ack_before_commit
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

    /// Records the state of the link to a peer.
    pub fn set_link(&self, peer_id: i64, up: bool, addr: Option<String>) {
        let mut h = self.health.write().unwrap();
        let e = h.entry(peer_id).or_default();
        if addr.is_some() {
            e.addr = addr;
        }
        if e.up != up || e.since == 0 {
            e.up = up;
            e.since = now_ms();
            drop(h);
            self.emit(serde_json::json!({"type": "link", "peer_id": peer_id, "up": up}));
        }
    }

    /// Records what a probe (or the session's pings) found of one path.
    pub fn set_path(&self, peer_id: i64, addr: &str, up: bool, rtt_ms: Option<u64>) {
        let mut h = self.health.write().unwrap();
        let e = h.entry(peer_id).or_default();
        let p = match e.paths.iter_mut().position(|p| p.addr == addr) {
            Some(i) => &mut e.paths[i],
            None => {
                e.paths.push(PathHealth {
                    addr: addr.to_owned(),
                    ..PathHealth::default()
                });
                e.paths.last_mut().expect("just pushed")
            }
        };
        p.up = up;
        if rtt_ms.is_some() || !up {
            p.rtt_ms = rtt_ms;
        }
        p.last_probe = Some(now_ms());
    }

    /// Whether a probe found another path to the peer up than the one the
    /// link session runs on (compared by host: a session the peer dialled
    /// comes from another port).
    pub fn other_path_up(&self, peer_id: i64) -> bool {
        let h = self.link_health(peer_id);
        let host = |x: &str| x.rsplit_once(':').map_or(x, |(h, _)| h).to_owned();
        let current = h.addr.as_deref().map(host);
        h.paths
            .iter()
            .any(|p| p.up && Some(host(&p.addr)) != current)
    }

    /// Records the peer's clock minus ours, from a handshake.
    pub fn set_clock_skew(&self, peer_id: i64, skew_ms: i64) {
        let mut h = self.health.write().unwrap();
        h.entry(peer_id).or_default().clock_skew_ms = Some(skew_ms);
    }

    /// The timings and caps in force.
    pub fn tuning(&self) -> crate::tuning::Tuning {
        *self.tuning.read().unwrap()
    }

    /// Puts new timings and caps in force; each is read at its next use.
    pub fn set_tuning(&self, t: crate::tuning::Tuning) {
        *self.tuning.write().unwrap() = t;
    }

    /// Sets the alert hook (none: alerts are stored and streamed only),
    /// with the hook timeout in force. The same program with the same
    /// timeout keeps its hook (and its bounds); a new one lets runs under
    /// way finish under the old.
    pub fn set_alert_hook(&self, program: Option<String>) {
        let timeout = self.tuning().hook_timeout();
        let mut slot = self.alert_hook.write().unwrap();
        let now = slot.as_ref().map(|h| (h.program(), h.timeout()));
        if now == program.as_deref().map(|p| (p, timeout)) {
            return;
        }
        *slot = program.map(|p| Arc::new(crate::hook::Hook::new(p, timeout)));
    }

    /// The alert hook in force.
    pub(crate) fn alert_hook(&self) -> Option<Arc<crate::hook::Hook>> {
        self.alert_hook.read().unwrap().clone()
    }

    /// Records the last round trip to a peer.
    pub fn set_rtt(&self, peer_id: i64, rtt_ms: u64) {
        let addr = {
            let mut h = self.health.write().unwrap();
            let Some(h) = h.get_mut(&peer_id) else {
                return;
            };
            h.rtt_ms = Some(rtt_ms);
            h.addr.clone()
        };
        // The session's path answered.
        if let Some(a) = addr {
            if self.peer(peer_id).is_ok_and(|p| p.row.addrs.contains(&a)) {
                self.set_path(peer_id, &a, true, Some(rtt_ms));
            }
        }
    }

    /// Every channel, with its id.
    pub fn all_channels(&self) -> Vec<(Hash, Arc<Mutex<Channel>>)> {
        self.channels
            .read()
            .unwrap()
            .iter()
            .map(|(k, v)| (*k, v.clone()))
            .collect()
    }

    /// An entry by hash. Found through the channels' books, each of which
    /// maps its entries' hashes to author and seq, then read by position:
    /// SQLite keeps no index on hashes (storage migration 14). Where the
    /// books cannot know every entry (a standby reading the database its
    /// leader writes, PostgreSQL only), the store is asked by hash.
    pub async fn entry_by_hash(
        &self,
        hash: &Hash,
    ) -> Result<Option<hotline_store::EntryRow>, StationError> {
        for (id, ch) in self.all_channels() {
            let at = ch.lock().await.book().locate(hash);
            if let Some((author, seq)) = at {
                return self.db.read(move |s| s.entry_at(&id, author, seq)).await;
            }
        }
        match self.db.backend() {
            hotline_store::Backend::Postgres => {
                let h = *hash;
                self.db.read(move |s| s.entry_by_hash(&h)).await
            }
            hotline_store::Backend::Sqlite => Ok(None),
        }
    }

    /// Own entries of a channel from `from` on (at most `limit`), if they
    /// were committed lately and no session has taken them yet; `None`
    /// sends the caller to storage.
    pub fn outbox_take(
        &self,
        channel: &Hash,
        from: u64,
        limit: usize,
    ) -> Option<Vec<(u64, Vec<u8>)>> {
        self.outbox.take(channel, from, limit)
    }

    /// Whether own entry `from` of a channel is known not to be committed
    /// yet: authored (the book holds it) but its commit has not returned,
    /// which then wakes the sessions. `false` when not known (nothing
    /// committed on the channel since start): storage answers.
    pub fn outbox_ahead(&self, channel: &Hash, from: u64) -> bool {
        self.outbox.ahead(channel, from)
    }

    /// Ids of every channel held here.
    pub fn channel_ids(&self) -> Vec<Hash> {
        self.channels.read().unwrap().keys().copied().collect()
    }

    /// How many entries of the peer's chain a channel holds; `None` when
    /// there is no such channel here.
    pub async fn peer_chain_len(&self, id: &Hash) -> Option<u64> {
        let c = self.channel(id).ok()?;
        let c = c.lock().await;
        let b = c.book();
        Some(b.len(1 - b.me()))
    }

    /// A channel by id.
    pub fn channel(&self, id: &Hash) -> Result<Arc<Mutex<Channel>>, StationError> {
        self.channels.read().unwrap().get(id).cloned().ok_or_else(|| {
            StationError::NotFound(format!(
                "no channel {} here (a proposal may not have arrived yet; see `hotline channel list`)",
                hex(id)
            ))
        })
    }

    /// Registers a channel in memory and returns it locked, so that no other
    /// task decides on it before the caller's writes are queued; if a channel
    /// with its id is already there (a proposal that raced with itself),
    /// returns that one instead.
    fn insert_channel(&self, ch: Channel) -> Result<OwnedMutexGuard<Channel>, Arc<Mutex<Channel>>> {
        let id = ch.id();
        let slot = ChannelSlot {
            peer_id: ch.peer_id(),
            entry_bound: ch.entry_bound(),
        };
        // Lock order, everywhere both maps are held: `slots`, then `channels`
        // (as in `channels_of`); the other order could deadlock two threads.
        let mut slots = self.slots.write().unwrap();
        let mut map = self.channels.write().unwrap();
        if let Some(existing) = map.get(&id) {
            return Err(existing.clone());
        }
        let arc = Arc::new(Mutex::new(ch));
        let guard = arc.clone().try_lock_owned().expect("a new lock is free");
        self.touch(&id);
        {
            let mut bounds = self.peer_bounds.write().unwrap();
            let b = bounds.entry(slot.peer_id).or_insert(slot.entry_bound);
            *b = (*b).max(slot.entry_bound);
        }
        slots.insert(id, slot);
        map.insert(id, arc);
        Ok(guard)
    }

    /// Makes a channel's policy due at the next tick: something happened on
    /// it (an entry either way, a checkpoint, a verification). Called under
    /// the channel's lock, so that a tick that evaluated it before cannot
    /// schedule it past this.
    pub fn touch(&self, id: &Hash) {
        self.due.lock().unwrap().set(*id, Some(0));
    }

    /// All channels with a peer (takes `slots`, then `channels`: see `insert_channel`).
    pub fn channels_of(&self, peer_id: i64) -> Vec<(Hash, Arc<Mutex<Channel>>)> {
        let slots = self.slots.read().unwrap();
        self.channels
            .read()
            .unwrap()
            .iter()
            .filter(|(k, _)| slots.get(*k).is_some_and(|s| s.peer_id == peer_id))
            .map(|(k, v)| (*k, v.clone()))
            .collect()
    }

    /// The largest entry this peer may send on any of its channels (bounds
    /// link reassembly): each channel's `max_entry_bytes` once its terms are
    /// in force, the default entry size for a proposal not accepted here
    /// (`Channel::entry_bound`).
    pub fn max_entry_bytes_with(&self, peer_id: i64) -> u64 {
        self.peer_bounds
            .read()
            .unwrap()
            .get(&peer_id)
            .copied()
            .unwrap_or(hotline_proto::entry::DEFAULT_MAX_ENTRY_BYTES)
    }

    /// Records a channel's entry bound after a step that may have changed it;
    /// called under the channel's lock, so the slot follows decision order.
    /// The peer's largest is found again over its channels: a bound may
    /// shrink, and this runs once a channel's terms come into force, not
    /// per message.
    fn refresh_slot(&self, ch: &Channel) {
        let mut slots = self.slots.write().unwrap();
        let Some(s) = slots.get_mut(&ch.id()) else {
            return;
        };
        s.entry_bound = ch.entry_bound();
        let peer = s.peer_id;
        let max = slots
            .values()
            .filter(|s| s.peer_id == peer)
            .map(|s| s.entry_bound)
            .max();
        if let Some(max) = max {
            self.peer_bounds.write().unwrap().insert(peer, max);
        }
    }

    /// Wakes the sender task of a peer.
    pub fn wake_peer(&self, peer_id: i64) {
        if let Some(n) = self.wake.read().unwrap().get(&peer_id) {
            n.notify_one();
        }
    }

    /// Notes that a channel has something new to send to its peer (call
    /// before waking the peer's sender).
    pub(crate) fn mark_outbound(&self, channel: &Hash) {
        let peer = self.slots.read().unwrap().get(channel).map(|s| s.peer_id);
        if let Some(peer) = peer {
            self.outbound_dirty
                .lock()
                .unwrap()
                .entry(peer)
                .or_default()
                .insert(*channel);
        }
    }

    /// The channels of a peer with something new to send since the last
    /// call, forgetting them.
    pub fn take_outbound(&self, peer_id: i64) -> Vec<(Hash, Arc<Mutex<Channel>>)> {
        let ids = self
            .outbound_dirty
            .lock()
            .unwrap()
            .remove(&peer_id)
            .unwrap_or_default();
        let channels = self.channels.read().unwrap();
        ids.into_iter()
            .filter_map(|id| channels.get(&id).map(|c| (id, c.clone())))
            .collect()
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
}

#[cfg(test)]
mod tests {
    use super::Due;

    #[test]
    fn the_schedule_gives_what_is_due_in_time_order_once_and_keeps_one_time_per_channel() {
        let mut d = Due::default();
        d.set([1; 32], Some(30));
        d.set([2; 32], Some(10));
        d.set([3; 32], Some(20));
        d.set([3; 32], Some(50)); // rescheduled: the earlier time is gone
        d.set([4; 32], Some(5));
        d.set([4; 32], None); // no clock runs on it
        assert_eq!(d.take(4), Vec::<[u8; 32]>::new());
        assert_eq!(d.take(30), vec![[2; 32], [1; 32]]);
        assert_eq!(d.take(30), Vec::<[u8; 32]>::new(), "taken once");
        d.set([1; 32], Some(0)); // touched
        assert_eq!(d.take(31), vec![[1; 32]]);
        assert_eq!(d.take(u64::MAX), vec![[3; 32]]);
    }
}
