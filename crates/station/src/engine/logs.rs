//! Each author's chain in a channel as a transparency log, at the station
//! (SPEC §5 v2, docs/WITNESS.md).
//!
//! On each log round (every `tuning.log_checkpoint_every`) a channel whose
//! own chain grew gets a fresh checkpoint note of its log, signed with the
//! station's key. The note goes to the counterpart over the link, which
//! checks its root against the entries it holds, adds its cosignature and
//! sends it back; and to each witness configured (`witness add`), with a
//! consistency proof from the size that witness last cosigned. The notes
//! are kept in storage (`meta`, [`hotline_store::log_notes_key`]) with every
//! signature that verifies, and go into the oversight export.
//!
//! A note from the counterpart is untrusted input: it is read bounded
//! (`LinkMsg::LogNote`), and kept only when its author's signature and
//! every known cosignature verify and its root is the tree of the entries
//! held here; else an alert, and nothing kept. A root that differs from the
//! counterpart's own entries held here is a split view: `equivocation`.

use super::{now_ms, Engine};
use crate::db::Pending;
use crate::error::StationError;
use changed::Changed;
use hotline_core::policy::AlertKind;
use hotline_core::tlog::{self, Log, WitnessVerifier};
use hotline_proto::{hex, Hash, Identity};
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

mod changed;
mod witness;

/// How often a grown log gets a checkpoint, by default.
pub const LOG_CHECKPOINT_EVERY: Duration = Duration::from_secs(10);
/// The `meta` key of the witnesses configured.
const WITNESSES_KEY: &str = "witnesses";
/// One `add-checkpoint` request may take this long.
const WITNESS_TIMEOUT: Duration = Duration::from_secs(5);
/// The longest answer read from a witness: a few cosignature lines.
const MAX_ANSWER: usize = 64 * 1024;
/// Entries read from storage at a time to grow a tree.
const PAGE: usize = 1024;
/// The most kept notes whose commits are not yet waited for.
const NOTES_IN_FLIGHT: usize = 32;

/// A witness this station submits its logs' checkpoints to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WitnessRow {
    /// Its name (the key name of its vkey).
    pub name: String,
    /// Its base URL: `add-checkpoint` is posted under it.
    pub url: String,
    /// Its verifier key (C2SP note vkey).
    pub key: String,
}

/// How a witness last answered.
#[derive(Debug, Clone, Default)]
pub struct WitnessStatus {
    /// When it last cosigned (Unix ms).
    pub last_cosigned_at: Option<u64>,
    /// The last failure, if the last request failed.
    pub last_error: Option<String>,
}

/// What one channel's logs hold in memory.
#[derive(Default)]
pub(crate) struct ChannelLogs {
    /// The trees of author 0 and author 1, grown on demand.
    trees: [Log; 2],
    /// The notes kept (see [`tlog::keep`]).
    notes: Vec<(u8, Note)>,
}

/// A signed note kept: shared, not copied, between a channel's notes and
/// the newest of each log published for the sessions ([`Logs::latest`]),
/// which at 1,000 idle channels was some 0.7 KiB a channel held twice.
type Note = Arc<[u8]>;

/// The station's log state.
#[derive(Default)]
pub(crate) struct Logs {
    /// Per channel, loaded at first use.
    chans: std::sync::Mutex<HashMap<Hash, Arc<tokio::sync::Mutex<ChannelLogs>>>>,
    /// The newest note of each log, for the sessions to send.
    latest: std::sync::Mutex<HashMap<Hash, [Option<Note>; 2]>>,
    /// Which logs' newest notes changed, in order, per peer.
    changed: std::sync::Mutex<Changed>,
    /// Station keys as cosignature verifiers, decoded once.
    station_verifiers: std::sync::Mutex<HashMap<[u8; 32], Option<WitnessVerifier>>>,
    /// The witnesses, once loaded.
    witnesses: std::sync::RwLock<Option<Vec<WitnessRow>>>,
    /// How each witness last answered, by name.
    status: std::sync::Mutex<HashMap<String, WitnessStatus>>,
    /// When the last round ran (Unix ms).
    last_round: AtomicU64,
    /// One round at a time.
    round: tokio::sync::Mutex<()>,
    /// The witness client, made at first use.
    http: std::sync::OnceLock<reqwest::Client>,
    /// Commits of kept notes not waited for yet, oldest first (see
    /// [`Engine::hold_note_commit`]).
    unwaited: std::sync::Mutex<VecDeque<Pending>>,
}

/// What a channel's lock holds that the logs need.
struct Facts {
    peer_id: i64,
    me: u8,
    lens: [u64; 2],
    keys: [Vec<Identity>; 2],
}

impl Engine {
    /// Up to `max` newest notes of the peer's logs that changed after the
    /// change numbered `after` (0: every log's), in the order they changed:
    /// what a session sends to the peer. Returns them, the cursor to pass
    /// next time, and whether more are waiting.
    pub fn log_notes_since(
        &self,
        peer_id: i64,
        after: u64,
        max: usize,
    ) -> (Vec<(Hash, Vec<u8>)>, u64, bool) {
        let changed = self.logs.changed.lock().unwrap();
        let latest = self.logs.latest.lock().unwrap();
        let mut out = Vec::new();
        let mut cursor = after;
        for (n, (id, author)) in changed.since(peer_id, after) {
            if out.len() == max {
                return (out, cursor, true);
            }
            cursor = n;
            if let Some(note) = latest.get(&id).and_then(|l| l[author as usize].as_deref()) {
                out.push((id, note.to_vec()));
            }
        }
        (out, cursor, false)
    }

    /// The newest note of each log of a channel, for a bundle.
    pub(crate) async fn newest_log_notes(&self, id: &Hash) -> Result<Vec<Vec<u8>>, StationError> {
        let arc = self.channel_logs(id).await?;
        let cl = arc.lock().await;
        Ok([newest(&cl.notes, 0), newest(&cl.notes, 1)]
            .into_iter()
            .flatten()
            .map(|n| n.to_vec())
            .collect())
    }

    /// The witnesses configured, with how each last answered.
    pub async fn witnesses(&self) -> Result<Vec<(WitnessRow, WitnessStatus)>, StationError> {
        let rows = self.witness_rows().await?;
        let status = self.logs.status.lock().unwrap();
        Ok(rows
            .into_iter()
            .map(|w| {
                let s = status.get(&w.name).cloned().unwrap_or_default();
                (w, s)
            })
            .collect())
    }

    /// Adds a witness (or gives a known one a new URL): from the next round
    /// on, each log's checkpoints go to it too.
    pub async fn add_witness(&self, url: &str, key: &str) -> Result<WitnessRow, StationError> {
        let key = key.trim();
        let v = WitnessVerifier::parse(key).ok_or_else(|| {
            StationError::BadRequest(
                "not a witness verifier key: give the last line `hotline witness init` printed (NAME+ID+KEY, a cosignature/v1 Ed25519 key)".into(),
            )
        })?;
        let url = url.trim().trim_end_matches('/').to_owned();
        let parsed = reqwest::Url::parse(&url)
            .map_err(|e| StationError::BadRequest(format!("not a URL: {url}: {e}")))?;
        if parsed.scheme() != "http" || parsed.host_str().is_none() {
            return Err(StationError::BadRequest(format!(
                "{url}: give an http:// URL of the witness (cosignatures are signed, so they need no TLS; see docs/WITNESS.md)"
            )));
        }
        let row = WitnessRow {
            name: v.name().to_owned(),
            url,
            key: key.to_owned(),
        };
        let mut rows = self.witness_rows().await?;
        rows.retain(|w| w.name != row.name);
        rows.push(row.clone());
        let text =
            serde_json::to_string(&rows).map_err(|e| StationError::Storage(e.to_string()))?;
        self.db()
            .call(move |s| s.set_meta(WITNESSES_KEY, &text))
            .await?;
        *self.logs.witnesses.write().unwrap() = Some(rows);
        // At the next tick, not at the next period.
        self.logs.last_round.store(0, Ordering::Release);
        Ok(row)
    }

    async fn witness_rows(&self) -> Result<Vec<WitnessRow>, StationError> {
        if let Some(w) = self.logs.witnesses.read().unwrap().clone() {
            return Ok(w);
        }
        let text = self.db().read(|s| s.meta(WITNESSES_KEY)).await?;
        let rows: Vec<WitnessRow> = match text {
            Some(t) => serde_json::from_str(&t)
                .map_err(|e| StationError::Storage(format!("{WITNESSES_KEY}: {e}")))?,
            None => Vec::new(),
        };
        *self.logs.witnesses.write().unwrap() = Some(rows.clone());
        Ok(rows)
    }

    /// Runs a log round if one is due: called on every tick.
    pub async fn log_tick(&self) {
        let every = self.tuning().log_checkpoint_every().as_millis() as u64;
        let now = now_ms();
        if now.saturating_sub(self.logs.last_round.load(Ordering::Acquire)) < every {
            return;
        }
        let Ok(_one) = self.logs.round.try_lock() else {
            return;
        };
        self.logs.last_round.store(now, Ordering::Release);
        if let Err(e) = self.log_round().await {
            tracing::warn!("log round: {e}");
        }
    }

    /// A fresh checkpoint of each grown log, and the witnesses brought up to it.
    async fn log_round(&self) -> Result<(), StationError> {
        let witnesses = self.witness_rows().await?;
        for (id, _) in self.all_channels() {
            if let Err(e) = self.log_channel(&id, &witnesses).await {
                tracing::warn!(channel = %hex(&id), "log round: {e}");
            }
        }
        self.settle_notes().await;
        Ok(())
    }

    /// One channel's part of a log round.
    async fn log_channel(&self, id: &Hash, witnesses: &[WitnessRow]) -> Result<(), StationError> {
        let Some(f) = self.facts(id).await else {
            return Ok(());
        };
        let arc = self.channel_logs(id).await?;
        {
            let mut cl = arc.lock().await;
            let me = f.me;
            let latest = latest_size(&cl.notes, me);
            // Up to what is committed: the book may hold a few entries more.
            let n = match f.lens[me as usize] {
                n if n > latest => n.min(self.grow(id, &mut cl, me, n).await?),
                n => n,
            };
            if n > latest {
                let keys = self.keyring().current_shared();
                let origin = tlog::origin(id, &keys.identity());
                let root = cl.trees[me as usize].root(n).expect("grown to n");
                let note = tlog::sign_checkpoint(&origin, n, root, &keys);
                self.keep_note(id, &mut cl, f.peer_id, me, note, true)
                    .await?;
            }
        }
        // The logs' lock is not held while a witness answers: the
        // counterpart's notes are taken meanwhile.
        for w in witnesses {
            self.submit_to_witness(id, &arc, &f, w).await;
        }
        Ok(())
    }

    /// A log note from the peer: of its log, checked against its entries
    /// held here and cosigned; of ours, coming back with its cosignature.
    /// Returns once what it kept is committed.
    pub async fn receive_log_note(&self, peer_id: i64, channel: Hash, note: Vec<u8>) {
        self.take_peer_note(peer_id, channel, note).await;
        self.settle_notes().await;
    }

    /// [`Engine::receive_log_note`] without waiting for the commit of
    /// what it kept: for a session reading the peer's notes one after
    /// another, whose commits then meet in the writer's queue.
    pub async fn take_peer_note(&self, peer_id: i64, channel: Hash, note: Vec<u8>) {
        let key = format!("log-note:{peer_id}");
        match self.take_log_note(peer_id, &channel, &note).await {
            Ok(()) => {}
            Err(Taken::Later) => {}
            Err(Taken::Bad(cause)) => {
                self.raise_alert(
                    AlertKind::BadInput,
                    key,
                    format!("a log checkpoint from the peer was refused: {cause}"),
                )
                .await
            }
            Err(Taken::Split(cause)) => self.raise_alert(AlertKind::Equivocation, key, cause).await,
            Err(Taken::Failed(e)) => tracing::warn!("log note: {e}"),
        }
    }

    async fn take_log_note(&self, peer_id: i64, id: &Hash, note: &[u8]) -> Result<(), Taken> {
        let f = self
            .facts(id)
            .await
            .filter(|f| f.peer_id == peer_id)
            .ok_or_else(|| Taken::Bad(format!("channel {} is not one with this peer", hex(id))))?;
        let origin =
            tlog::note_origin(note).ok_or_else(|| Taken::Bad("not a checkpoint note".into()))?;
        let (author, key) = (0..2u8)
            .flat_map(|a| f.keys[a as usize].iter().map(move |k| (a, *k)))
            .find(|(_, k)| tlog::origin(id, k) == origin)
            .ok_or_else(|| Taken::Bad(format!("{origin} is not a log of this channel")))?;
        let (cp, sigs) = tlog::verified_signatures(note, &key, &self.cosigners(&f, author).await)
            .map_err(|e| Taken::Bad(e.to_string()))?;
        if cp.size > f.lens[author as usize] {
            if author == f.me {
                return Err(Taken::Bad(format!(
                    "it claims size {} of this station's log, which holds {}",
                    cp.size, f.lens[author as usize]
                )));
            }
            return Err(Taken::Later); // its entries are on their way
        }
        let cl = self.channel_logs(id).await.map_err(Taken::Failed)?;
        let mut cl = cl.lock().await;
        let held = self
            .grow(id, &mut cl, author, cp.size)
            .await
            .map_err(Taken::Failed)?;
        if held < cp.size {
            return Err(Taken::Later); // not committed yet
        }
        if cl.trees[author as usize].root(cp.size) != Some(cp.root) {
            return Err(if author == f.me {
                Taken::Bad(format!(
                    "its root at size {} is not this station's log",
                    cp.size
                ))
            } else {
                Taken::Split(format!(
                    "split view: the counterpart's checkpoint of its log {origin} at size {} has another root than its entries held here",
                    cp.size
                ))
            });
        }
        self.merge_note(id, &mut cl, &f, author, (cp, sigs), Some(note))
            .await
            .map_err(Taken::Failed)
    }

    /// Who may cosign `author`'s log: the other side's station keys and
    /// the witnesses configured.
    async fn cosigners(&self, f: &Facts, author: u8) -> Vec<WitnessVerifier> {
        let mut out: Vec<WitnessVerifier> = {
            let mut cache = self.logs.station_verifiers.lock().unwrap();
            f.keys[1 - author as usize]
                .iter()
                .filter_map(|k| {
                    cache
                        .entry(k.sig_pk)
                        .or_insert_with(|| WitnessVerifier::of_station(k))
                        .clone()
                })
                .collect()
        };
        let rows = self.witness_rows().await.unwrap_or_default();
        out.extend(rows.iter().filter_map(|w| WitnessVerifier::parse(&w.key)));
        out
    }

    /// Merges a checked note of `author`'s log (its checkpoint and the
    /// signatures that verified) into the one kept at its size, adding
    /// this station's cosignature to the counterpart's; kept when that
    /// changed anything, and sent on unless it is what the peer sent
    /// (`from_peer`).
    async fn merge_note(
        &self,
        id: &Hash,
        cl: &mut ChannelLogs,
        f: &Facts,
        author: u8,
        (cp, mut sigs): (tlog::LogCheckpoint, Vec<signed_note::Signature>),
        from_peer: Option<&[u8]>,
    ) -> Result<(), StationError> {
        let held = cl
            .notes
            .iter()
            .find(|(a, n)| *a == author && tlog::note_size(n) == Some(cp.size))
            .map(|(_, n)| n.clone());
        if let Some(held) = held.as_deref() {
            // Each was verified when kept; of them, those of keys still known.
            let known = self.cosigners(f, author).await;
            let old = tlog::kept_signatures(held, &cp.text)
                .into_iter()
                .filter(|s| s.name() == cp.origin || known.iter().any(|k| k.name() == s.name()));
            sigs.splice(0..0, old);
        }
        if author != f.me {
            let keys = self.keyring().current_shared();
            if let Some(s) = tlog::station_cosign(&cp.text, now_ms() / 1000, &keys) {
                if !sigs.iter().any(|x| x.name() == s.name()) {
                    sigs.push(s);
                }
            }
        }
        let merged = tlog::combine(&cp.text, &sigs);
        if held.as_deref() == Some(&merged[..]) {
            return Ok(());
        }
        let send = from_peer != Some(&merged[..]);
        self.keep_note(id, cl, f.peer_id, author, merged, send)
            .await
    }

    /// Keeps a note (committed without waiting for the disk) and, if
    /// `send`, has the sessions send it when it is the newest of its log.
    /// Its write rides with the next commit ([`crate::db::Db::ride`]) and
    /// is not waited for ([`Engine::hold_note_commit`]): a burst of notes
    /// (a log round, the peer's notes read off the link) costs a few
    /// commits, not one a note. The channel's notes in memory move at
    /// once, under its lock, so each commit of the channel's notes carries
    /// all of them, in the order they were kept; a note a crash or a
    /// failed commit loses is made (or cosigned) again, and nothing was
    /// acknowledged on it.
    async fn keep_note(
        &self,
        id: &Hash,
        cl: &mut ChannelLogs,
        peer_id: i64,
        author: u8,
        note: Vec<u8>,
        send: bool,
    ) -> Result<(), StationError> {
        let mut notes = cl.notes.clone();
        tlog::keep(&mut notes, author, Note::from(note));
        let text: Vec<(u8, String)> = notes
            .iter()
            .map(|(a, n)| (*a, String::from_utf8_lossy(n).into_owned()))
            .collect();
        let text =
            serde_json::to_string(&text).map_err(|e| StationError::Storage(e.to_string()))?;
        let key = hotline_store::log_notes_key(id);
        let commit = self
            .db()
            .ride(vec![hotline_store::WriteOp::Meta { key, value: text }]);
        cl.notes = notes;
        let changed = self.publish_notes(id, &cl.notes);
        if send && changed[author as usize] {
            self.logs
                .changed
                .lock()
                .unwrap()
                .touch(peer_id, (*id, author));
            self.wake_peer(peer_id);
        }
        self.hold_note_commit(commit).await;
        Ok(())
    }

    /// Holds a kept note's commit among those not waited for; waits for
    /// the oldest while more than [`NOTES_IN_FLIGHT`] are held. A failed
    /// commit is reported here: the note stays in memory and goes out
    /// with the channel's next commit of its notes.
    async fn hold_note_commit(&self, commit: Pending) {
        let oldest = {
            let mut held = self.logs.unwaited.lock().unwrap();
            held.push_back(commit);
            // Those already committed go without a wait.
            while let Some(r) = held.front_mut().and_then(Pending::ready) {
                held.pop_front();
                note_committed(r);
            }
            if held.len() <= NOTES_IN_FLIGHT {
                return;
            }
            held.pop_front()
        };
        if let Some(p) = oldest {
            note_committed(p.wait().await);
        }
    }

    /// Waits for every kept note's commit held.
    pub(crate) async fn settle_notes(&self) {
        loop {
            let Some(p) = self.logs.unwaited.lock().unwrap().pop_front() else {
                return;
            };
            note_committed(p.wait().await);
        }
    }

    /// Publishes a channel's newest notes; returns which of its two logs'
    /// newest note changed.
    fn publish_notes(&self, id: &Hash, notes: &[(u8, Note)]) -> [bool; 2] {
        let now = [newest(notes, 0), newest(notes, 1)];
        let mut latest = self.logs.latest.lock().unwrap();
        let before = latest.get(id).cloned().unwrap_or_default();
        let changed = [0, 1].map(|a| now[a].is_some() && now[a] != before[a]);
        latest.insert(*id, now);
        changed
    }

    /// A channel's logs, its notes loaded from storage at first use.
    async fn channel_logs(
        &self,
        id: &Hash,
    ) -> Result<Arc<tokio::sync::Mutex<ChannelLogs>>, StationError> {
        if let Some(c) = self.logs.chans.lock().unwrap().get(id) {
            return Ok(c.clone());
        }
        let ch = *id;
        let notes = self
            .db()
            .read(move |s| hotline_store::log_notes(s, &ch))
            .await?
            .into_iter()
            .map(|(a, n)| (a, Note::from(n)))
            .collect::<Vec<_>>();
        let peer_id = self.slots.read().unwrap().get(id).map(|s| s.peer_id);
        let changed = self.publish_notes(id, &notes);
        if let Some(peer_id) = peer_id {
            let mut order = self.logs.changed.lock().unwrap();
            for author in [0u8, 1].into_iter().filter(|a| changed[*a as usize]) {
                order.touch(peer_id, (*id, author));
            }
        }
        let c = Arc::new(tokio::sync::Mutex::new(ChannelLogs {
            trees: Default::default(),
            notes,
        }));
        Ok(self
            .logs
            .chans
            .lock()
            .unwrap()
            .entry(*id)
            .or_insert(c)
            .clone())
    }

    /// Grows `author`'s tree towards `to` entries from storage; returns
    /// its size, short of `to` when the last entries the channel holds are
    /// not committed yet.
    async fn grow(
        &self,
        id: &Hash,
        cl: &mut ChannelLogs,
        author: u8,
        to: u64,
    ) -> Result<u64, StationError> {
        let tree = &mut cl.trees[author as usize];
        while tree.size() < to {
            let (ch, from) = (*id, tree.size() + 1);
            let rows = self
                .db()
                .read(move |s| s.chain_from(&ch, author, from, PAGE))
                .await?;
            if rows.is_empty() {
                break;
            }
            for r in rows {
                if r.seq != tree.size() + 1 {
                    return Err(StationError::Storage("a gap in a stored chain".into()));
                }
                tree.push(&r.envelope);
            }
        }
        Ok(tree.size())
    }

    async fn facts(&self, id: &Hash) -> Option<Facts> {
        let peer_id = self.slots.read().unwrap().get(id)?.peer_id;
        let c = self.channel(id).ok()?;
        let c = c.lock().await;
        let b = c.book();
        let keys = |a: u8| b.key_history(a).iter().map(|(_, k)| *k).collect();
        Some(Facts {
            peer_id,
            me: b.me(),
            lens: [b.len(0), b.len(1)],
            keys: [keys(0), keys(1)],
        })
    }
}

/// Why a peer's log note was not kept.
enum Taken {
    /// Beyond the entries held: it comes again with the next round.
    Later,
    /// Malformed, unsigned, or not of this channel.
    Bad(String),
    /// A root other than the peer's entries held here.
    Split(String),
    /// Storage failed.
    Failed(StationError),
}

/// Reports a kept note's commit that failed.
fn note_committed(r: Result<Vec<hotline_store::WriteResult>, StationError>) {
    if let Err(e) = r {
        tracing::warn!("a log note was not kept: {e}");
    }
}

/// The size of the newest note of `author`'s log kept, 0 if none.
fn latest_size(notes: &[(u8, Note)], author: u8) -> u64 {
    notes
        .iter()
        .filter(|(a, _)| *a == author)
        .filter_map(|(_, n)| tlog::note_size(n))
        .max()
        .unwrap_or(0)
}

/// The newest note of `author`'s log kept.
fn newest(notes: &[(u8, Note)], author: u8) -> Option<Note> {
    notes
        .iter()
        .filter(|(a, _)| *a == author)
        .max_by_key(|(_, n)| tlog::note_size(n))
        .map(|(_, n)| n.clone())
}
