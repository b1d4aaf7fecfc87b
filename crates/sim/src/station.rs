//! One simulated station: a durable store and a volatile runtime.
//!
//! The procedures are those of `crates/station/src/engine.rs` and `net.rs`
//! without sockets or tasks: decide with the pure core, submit the writes,
//! and report, reply or send only once the writes are committed. What the
//! real station does concurrently (authoring, receiving, the writer thread)
//! the simulator interleaves step by step, so the writer's queue is explicit
//! here: [`Runtime::pending`] is work that is decided and applied in memory
//! but not yet durable, and a crash throws it away.

use crate::net::Payload;
use crate::world::Fault;
use hotline_core::book::{Outcome, Refusal, Reject};
use hotline_core::policy::{self, Action, AlertKind};
use hotline_core::{ChannelBook, VerifiedEntry};
use hotline_proto::checkpoint::SignedCheckpoint;
use hotline_proto::{Body, Checkpoint, Hash, Identity, SecretKeys, Terms};
use hotline_store::{ChannelRow, SqliteStore, Store, WriteOp, WriteResult};
use std::collections::{BTreeMap, BTreeSet, VecDeque};

/// Alert keys the policy engine owns (the station's `POLICY_KEYS`).
const POLICY_KEYS: [&str; 4] = [
    "contact-missed",
    "ack-overdue:",
    "peer-ack-overdue:",
    "deadline-missed:",
];

/// Whether the policy engine raises and clears this alert key.
pub(crate) fn is_policy_key(k: &str) -> bool {
    POLICY_KEYS.iter().any(|p| k.starts_with(p))
}

/// Most rounds of evaluate-and-carry-out per channel per tick before the
/// simulator calls the policy non-convergent (the station stops at 4 and
/// continues on the next tick; carrying out actions must reach quiet).
const POLICY_ROUNDS: usize = 8;

/// Rows read at once when rebuilding; far above any simulated transcript.
pub(crate) const ALL: usize = 1_000_000;

/// One channel in memory.
pub(crate) struct ChannelRt {
    /// Validation and policy state, including applied-but-uncommitted entries.
    pub book: ChannelBook,
    /// The counterpart's station index.
    pub peer: usize,
    /// Latest checkpoint from the peer (set before its commit, as the station does).
    pub peer_ckpt: Option<SignedCheckpoint>,
    /// Open policy alert keys of this channel.
    pub open_alerts: BTreeSet<String>,
}

impl ChannelRt {
    /// Highest own seq covered by the peer's checkpoint.
    pub(crate) fn delivered_upto(&self) -> u64 {
        self.peer_ckpt
            .as_ref()
            .map(|c| c.checkpoint().heads[self.book.me() as usize].0)
            .unwrap_or(0)
    }
}

/// An outbound link session (one TCP connection and Noise session).
pub(crate) struct Session {
    /// Distinguishes this session from earlier ones to the same peer.
    pub epoch: u64,
    /// Per channel, the highest own seq sent on this session.
    pub cursor: BTreeMap<Hash, u64>,
    /// Channels whose checkpoint to ask for with an empty batch (as `net::outbound`
    /// does when the peer holds more of ours than it has confirmed).
    pub ask_checkpoint: Vec<Hash>,
}

/// Something the station does only once a batch is durable.
#[derive(Debug, Clone)]
pub(crate) enum Effect {
    /// Report an own entry accepted (to the local user, or as the station's own act).
    Accepted {
        /// Channel.
        channel: Hash,
        /// Author index (this station's).
        author: u8,
        /// Seq.
        seq: u64,
        /// Entry hash.
        hash: Hash,
        /// The incarnation that accepted it.
        incarnation: u64,
    },
    /// Send a link message.
    Send {
        /// Receiving station.
        to: usize,
        /// The message.
        payload: Payload,
    },
    /// Finish an oversight export whose fresh checkpoint is now committed.
    Export {
        /// Channel.
        channel: Hash,
        /// Exporter's author index.
        me: u8,
        /// Identities of author 0 and 1.
        identities: [Identity; 2],
        /// Heads the fresh checkpoint covers.
        heads: [(u64, Hash); 2],
        /// The peer's checkpoint (if any) and the fresh one.
        checkpoints: Vec<Vec<u8>>,
        /// Export time.
        at: u64,
    },
}

/// Writes submitted together, and what to do once they are committed.
pub(crate) struct Batch {
    /// The writes, committed in one transaction with whatever else is queued.
    pub ops: Vec<WriteOp>,
    /// Carried out after the commit, in order.
    pub effects: Vec<Effect>,
}

/// Everything a station holds only in memory: lost on a crash.
pub(crate) struct Runtime {
    /// Channels by id.
    pub channels: BTreeMap<Hash, ChannelRt>,
    /// Whether each station's fingerprint is confirmed here (copied from the store).
    pub verified: Vec<bool>,
    /// The writer's queue: submitted, not yet committed.
    pub pending: VecDeque<Batch>,
    /// Outbound sessions by peer station.
    pub sessions: BTreeMap<usize, Session>,
    /// Effects a broken variant carries out before the commit.
    pub outbox: Vec<Effect>,
}

/// What one group commit produced.
#[derive(Default)]
pub(crate) struct Flushed {
    /// Effects of the committed batches, in order.
    pub effects: Vec<Effect>,
    /// Policy alerts newly raised: (channel, key).
    pub raised: Vec<(Option<Hash>, String)>,
    /// Whether a channel row was created.
    pub new_channel: bool,
    /// Whether the queue is now empty.
    pub drained: bool,
    /// `bad-input` alert writes committed, in order: (is a raise that opened one, key).
    pub bad_input: Vec<(bool, String)>,
}

/// Why a received batch was not taken whole.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum RecvFault {
    /// The first envelope of an unknown channel is not an acceptable `Open`.
    Genesis(Reject),
    /// The batch names stations or a channel this link does not carry.
    Foreign(&'static str),
    /// An entry failed validation.
    Reject(Reject),
    /// The peer signed two different entries with this seq.
    Equivocation(u64),
}

/// What the receive path did with a batch.
pub(crate) struct Received {
    /// Entries applied (and submitted for commit).
    pub applied: usize,
    /// Why it stopped early, if it did.
    pub fault: Option<RecvFault>,
    /// Whether the first envelope was an `Open` (to judge genesis faults).
    pub first_is_open: bool,
}

/// One station.
pub(crate) struct Station {
    /// Index in the world.
    pub idx: usize,
    /// Name, as peers know it.
    pub name: String,
    /// Signing keys (derived from the seed).
    pub keys: SecretKeys,
    /// Public identity.
    pub identity: Identity,
    /// Durable storage: survives crashes.
    pub store: SqliteStore,
    /// The peer row id here of each other station.
    pub peer_rows: Vec<Option<i64>>,
    /// Offset of this station's clock from the world's.
    pub skew: u64,
    /// Counts starts: packets to an earlier incarnation are never read.
    pub incarnation: u64,
    /// The running process; `None` while crashed.
    pub rt: Option<Runtime>,
    /// The deliberately broken behaviour, if any.
    pub fault: Fault,
}

fn db(e: hotline_store::StoreError) -> String {
    format!("storage failed: {e}")
}

impl Station {
    /// A fresh station with an empty in-memory database; not started.
    pub(crate) fn new(
        idx: usize,
        keys: SecretKeys,
        skew: u64,
        stations: usize,
        fault: Fault,
    ) -> Result<Station, String> {
        Ok(Station {
            idx,
            name: ["A", "B", "C", "D"][idx].to_string(),
            identity: keys.identity(),
            keys,
            store: SqliteStore::memory().map_err(db)?,
            peer_rows: vec![None; stations],
            skew,
            incarnation: 0,
            rt: None,
            fault,
        })
    }

    /// Pins another station (administrative setup, committed at once).
    pub(crate) fn pin(
        &mut self,
        other: usize,
        name: &str,
        id: &Identity,
        verified: bool,
        now: u64,
    ) -> Result<(), String> {
        let row = self
            .store
            .add_peer(name, &id.token(), &["sim:1".into()], None, now)
            .map_err(db)?;
        if verified {
            self.store.set_verified(row.id, true).map_err(db)?;
        }
        self.peer_rows[other] = Some(row.id);
        Ok(())
    }

    fn station_of_row(&self, row: i64) -> Option<usize> {
        self.peer_rows.iter().position(|r| *r == Some(row))
    }

    /// Whether the process is running.
    pub(crate) fn up(&self) -> bool {
        self.rt.is_some()
    }

    fn rt(&mut self) -> &mut Runtime {
        self.rt.as_mut().expect("station is up")
    }

    /// Starts (or restarts) the process: everything in memory is rebuilt from
    /// the store, as `Engine::load` does.
    pub(crate) fn start(&mut self) -> Result<(), String> {
        self.incarnation += 1;
        let mut verified = vec![false; self.peer_rows.len()];
        for p in self.store.peers().map_err(db)? {
            if let Some(i) = self.station_of_row(p.id) {
                verified[i] = p.verified;
            }
        }
        let open = self.store.alerts(true, ALL).map_err(db)?;
        let mut channels = BTreeMap::new();
        for row in self.store.channels().map_err(db)? {
            let peer = self
                .station_of_row(row.peer_id)
                .ok_or("a stored channel names an unknown peer")?;
            let mut book: Option<ChannelBook> = None;
            for r in self.store.entries_after(&row.id, 0, ALL).map_err(db)? {
                match book.as_mut() {
                    None => {
                        let (b, _) = ChannelBook::genesis(&r.envelope, row.me)
                            .map_err(|e| format!("stored Open does not verify: {e}"))?;
                        book = Some(b);
                    }
                    Some(b) => {
                        let key = b.identities()[r.author as usize];
                        let v = VerifiedEntry::from_storage(&r.envelope, &key)
                            .map_err(|e| format!("stored entry does not verify: {e}"))?;
                        b.apply(&v, r.stored_at);
                    }
                }
            }
            let book = book.ok_or("a stored channel has no entries")?;
            let peer_key = book.identities()[book.peer() as usize]
                .verifying_key()
                .map_err(|e| e.to_string())?;
            let peer_ckpt = match self.store.checkpoint(&row.id, book.peer()).map_err(db)? {
                Some(b) => Some(
                    SignedCheckpoint::open(&b, &peer_key)
                        .map_err(|e| format!("stored peer checkpoint does not verify: {e}"))?,
                ),
                None => None,
            };
            let open_alerts = open
                .iter()
                .filter(|a| a.channel == Some(row.id) && is_policy_key(&a.key))
                .map(|a| a.key.clone())
                .collect();
            channels.insert(
                row.id,
                ChannelRt {
                    book,
                    peer,
                    peer_ckpt,
                    open_alerts,
                },
            );
        }
        self.rt = Some(Runtime {
            channels,
            verified,
            pending: VecDeque::new(),
            sessions: BTreeMap::new(),
            outbox: Vec::new(),
        });
        Ok(())
    }

    /// Kills the process: memory, queued writes and sessions are gone.
    /// Returns how many batches were waiting for their commit.
    pub(crate) fn crash(&mut self) -> usize {
        self.rt.take().map(|rt| rt.pending.len()).unwrap_or(0)
    }

    /// Whether an entry with this hash waits in the writer's queue.
    pub(crate) fn pending_has(&self, hash: &Hash) -> bool {
        self.rt.as_ref().is_some_and(|rt| {
            rt.pending.iter().any(|b| {
                b.ops
                    .iter()
                    .any(|op| matches!(op, WriteOp::Entry { entry, .. } if entry.hash() == *hash))
            })
        })
    }

    /// Queues a batch for the writer; a broken variant acts on it early.
    fn submit(&mut self, mut batch: Batch) {
        let fault = self.fault;
        let rt = self.rt();
        let early = |e: &Effect| match fault {
            Fault::None => false,
            Fault::AckBeforeCommit => matches!(e, Effect::Accepted { .. }),
            Fault::CheckpointBeforeCommit => matches!(
                e,
                Effect::Send {
                    payload: Payload::Checkpoint { .. },
                    ..
                }
            ),
        };
        let (now, later): (Vec<Effect>, Vec<Effect>) = batch.effects.drain(..).partition(early);
        rt.outbox.extend(now);
        batch.effects = later;
        rt.pending.push_back(batch);
    }

    /// Commits the first `k` queued batches in one transaction (group commit)
    /// and hands back their effects.
    pub(crate) fn flush(&mut self, k: usize) -> Result<Flushed, String> {
        let Some(rt) = self.rt.as_mut() else {
            return Ok(Flushed::default());
        };
        let n = k.min(rt.pending.len());
        if n == 0 {
            return Ok(Flushed {
                drained: true,
                ..Flushed::default()
            });
        }
        let batches: Vec<Batch> = rt.pending.drain(..n).collect();
        let drained = rt.pending.is_empty();
        let ops: Vec<WriteOp> = batches.iter().flat_map(|b| b.ops.iter().cloned()).collect();
        let results = self
            .store
            .write(&ops)
            .map_err(|e| format!("{}: a group commit failed: {e}", self.name))?;
        let mut out = Flushed {
            drained,
            ..Flushed::default()
        };
        for (op, r) in ops.iter().zip(&results) {
            match (op, r) {
                (WriteOp::RaiseAlert { channel, key, .. }, WriteResult::Alert(Some(_))) => {
                    out.raised.push((*channel, key.clone()))
                }
                (WriteOp::Channel(_), _) => out.new_channel = true,
                _ => {}
            }
            match (op, r) {
                (WriteOp::RaiseAlert { key, .. }, WriteResult::Alert(Some(_)))
                    if key.starts_with("bad-input:") =>
                {
                    out.bad_input.push((true, key.clone()))
                }
                (WriteOp::ClearAlert { key, .. }, _) if key.starts_with("bad-input:") => {
                    out.bad_input.push((false, key.clone()))
                }
                _ => {}
            }
        }
        for b in batches {
            out.effects.extend(b.effects);
        }
        Ok(out)
    }

    /// Opens a channel to `peer` (this station is author 0). The station
    /// waits for this commit before the channel exists; the world flushes.
    pub(crate) fn open_channel(
        &mut self,
        peer: usize,
        peer_id: Identity,
        terms: Terms,
        reopens: Option<Hash>,
        now: u64,
    ) -> Hash {
        let (book, v) = ChannelBook::open(&self.keys, peer_id, terms, reopens, "opener", now);
        let id = book.id();
        let batch = Batch {
            ops: vec![
                WriteOp::Channel(ChannelRow {
                    id,
                    peer_id: self.peer_rows[peer].expect("pinned"),
                    me: 0,
                    created_at: now,
                }),
                WriteOp::Entry {
                    entry: v.clone(),
                    stored_at: now,
                },
            ],
            effects: vec![self.accepted(id, &v)],
        };
        self.submit(batch);
        self.rt().channels.insert(
            id,
            ChannelRt {
                book,
                peer,
                peer_ckpt: None,
                open_alerts: BTreeSet::new(),
            },
        );
        id
    }

    fn accepted(&self, channel: Hash, v: &VerifiedEntry) -> Effect {
        Effect::Accepted {
            channel,
            author: v.entry().author,
            seq: v.entry().seq,
            hash: v.hash(),
            incarnation: self.incarnation,
        }
    }

    /// A local user's entry (`Engine::author`): sign and validate, submit, apply;
    /// reported accepted once committed.
    pub(crate) fn author(
        &mut self,
        channel: &Hash,
        body: Body,
        by: &str,
        now: u64,
    ) -> Result<VerifiedEntry, Refusal> {
        let inc = self.incarnation;
        let rt = self.rt.as_mut().expect("station is up");
        let ch = rt.channels.get_mut(channel).expect("channel exists");
        let verified = rt.verified[ch.peer];
        let v = ch.book.author(&self.keys, body, by, now, verified)?;
        ch.book.apply(&v, now);
        let batch = Batch {
            ops: vec![WriteOp::Entry {
                entry: v.clone(),
                stored_at: now,
            }],
            effects: vec![Effect::Accepted {
                channel: *channel,
                author: v.entry().author,
                seq: v.entry().seq,
                hash: v.hash(),
                incarnation: inc,
            }],
        };
        self.submit(batch);
        Ok(v)
    }

    /// The `bad-input` alert the station raises about a peer, then the link's `Error` reply.
    fn bad_input(
        &mut self,
        from: usize,
        // The engine names the channel in the alert's text only; the key is per peer.
        _channel: Option<Hash>,
        what: String,
        reply: Option<Effect>,
        now: u64,
    ) {
        self.submit(Batch {
            ops: vec![WriteOp::RaiseAlert {
                kind: AlertKind::BadInput.name().into(),
                // As `Engine::bad_input`: one station-wide alert per peer.
                channel: None,
                key: format!("bad-input:{from}"),
                cause: what,
                at: now,
            }],
            effects: reply.into_iter().collect(),
        });
    }

    /// The receive path (`Engine::receive`): validate each envelope, submit the
    /// valid ones with our signed checkpoint, reply once committed.
    pub(crate) fn receive(
        &mut self,
        from: usize,
        from_id: Identity,
        channel: Hash,
        envelopes: Vec<Vec<u8>>,
        epoch: u64,
        now: u64,
    ) -> Received {
        let me_id = self.identity;
        let peer_row = self.peer_rows[from].expect("pinned");
        let error = |text: String| Effect::Send {
            to: from,
            payload: Payload::Error { epoch, text },
        };
        let first_is_open = envelopes.first().is_some_and(|b| {
            hotline_proto::Envelope::decode(b, hotline_proto::MAX_ENTRY_BYTES_CAP as usize)
                .ok()
                .and_then(|e| e.peek().ok())
                .is_some_and(|e| e.is_open())
        });
        let mut out = Received {
            applied: 0,
            fault: None,
            first_is_open,
        };
        let mut envs = envelopes.into_iter();
        let mut ops = Vec::new();
        let rt = self.rt.as_mut().expect("station is up");
        let verified = rt.verified[from];
        // As `Engine::receive`: an unknown channel's first envelope must be its Open.
        let is_new = !rt.channels.contains_key(&channel);
        if is_new {
            let Some(first) = envs.next() else {
                return out;
            };
            let (book, v) = match ChannelBook::genesis(&first, 1) {
                Ok(x) => x,
                Err(e) => {
                    let text = format!("proposal rejected: {e}");
                    out.fault = Some(RecvFault::Genesis(e));
                    self.bad_input(from, None, text.clone(), Some(error(text)), now);
                    return out;
                }
            };
            let ids = book.identities();
            if ids[0] != from_id || ids[1] != me_id || book.id() != channel {
                let text = "proposal rejected: it names other stations or another channel";
                out.fault = Some(RecvFault::Foreign(text));
                self.bad_input(from, None, text.into(), Some(error(text.into())), now);
                return out;
            }
            ops.push(WriteOp::Channel(ChannelRow {
                id: channel,
                peer_id: peer_row,
                me: 1,
                created_at: now,
            }));
            ops.push(WriteOp::Entry {
                entry: v,
                stored_at: now,
            });
            out.applied += 1;
            rt.channels.insert(
                channel,
                ChannelRt {
                    book,
                    peer: from,
                    peer_ckpt: None,
                    open_alerts: BTreeSet::new(),
                },
            );
        }
        let ch = rt.channels.get_mut(&channel).expect("just ensured");
        if ch.peer != from {
            let text = "entries for a channel with another peer";
            out.fault = Some(RecvFault::Foreign(text));
            self.bad_input(
                from,
                Some(channel),
                text.into(),
                Some(error(text.into())),
                now,
            );
            return out;
        }
        let author = ch.book.peer();
        for bytes in envs {
            match ch.book.check(author, &bytes, verified) {
                Ok(Outcome::New(v)) => {
                    ch.book.apply(&v, now);
                    ops.push(WriteOp::Entry {
                        entry: v,
                        stored_at: now,
                    });
                    out.applied += 1;
                }
                Ok(Outcome::Duplicate) => {}
                Ok(Outcome::Equivocation {
                    author,
                    seq,
                    envelope,
                }) => {
                    let stored = self
                        .store
                        .entry_at(&channel, author, seq)
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
                        cause: "two different entries with one seq".into(),
                        at: now,
                    });
                    ch.book.refuse(author);
                    out.fault = Some(RecvFault::Equivocation(seq));
                    break;
                }
                Err(e) => {
                    out.fault = Some(RecvFault::Reject(e));
                    break;
                }
            }
        }
        let ckpt = if out.applied == 0 && out.fault.is_some() {
            None
        } else {
            let c = Checkpoint {
                channel,
                signer: ch.book.me(),
                heads: [ch.book.head(0), ch.book.head(1)],
                time: now,
                peer_checkpoint: ch.peer_ckpt.as_ref().map(|c| c.hash()),
            };
            let signed = c.sign(&self.keys);
            ops.push(WriteOp::Checkpoint {
                channel,
                signer: ch.book.me(),
                envelope: signed.bytes().to_vec(),
                stored_at: now,
            });
            Some(signed.bytes().to_vec())
        };
        match &out.fault {
            Some(f) => {
                if !ops.is_empty() {
                    self.submit(Batch {
                        ops,
                        effects: vec![],
                    });
                }
                let text = format!("{f:?}");
                self.bad_input(from, Some(channel), text.clone(), Some(error(text)), now);
            }
            None => {
                let reply = ckpt.map(|bytes| Effect::Send {
                    to: from,
                    payload: Payload::Checkpoint { bytes },
                });
                if out.applied > 0 {
                    // Committed, then `clear_alert` is awaited, then the reply goes.
                    self.submit(Batch {
                        ops,
                        effects: vec![],
                    });
                    self.submit(Batch {
                        ops: vec![WriteOp::ClearAlert {
                            channel: None,
                            key: format!("bad-input:{from}"),
                            at: now,
                        }],
                        effects: reply.into_iter().collect(),
                    });
                } else {
                    self.submit(Batch {
                        ops,
                        effects: reply.into_iter().collect(),
                    });
                }
            }
        }
        out
    }

    /// A checkpoint from a peer (`Engine::receive_checkpoint`). On a fault the
    /// station raises `bad-input` and its outbound session to that peer closes.
    pub(crate) fn receive_checkpoint(
        &mut self,
        from: usize,
        from_id: Identity,
        bytes: &[u8],
        now: u64,
    ) -> Result<bool, String> {
        let fault = match self.check_checkpoint(from, from_id, bytes, now) {
            Ok(stored) => return Ok(stored),
            Err(f) => f,
        };
        let channel = SignedCheckpoint::peek(bytes).ok().map(|c| c.channel);
        self.bad_input(from, channel, fault.clone(), None, now);
        self.rt().sessions.remove(&from);
        Err(fault)
    }

    fn check_checkpoint(
        &mut self,
        from: usize,
        from_id: Identity,
        bytes: &[u8],
        now: u64,
    ) -> Result<bool, String> {
        let claimed = SignedCheckpoint::peek(bytes)
            .map_err(|e| format!("checkpoint does not decode: {e}"))?;
        let rt = self.rt();
        let ch = rt
            .channels
            .get_mut(&claimed.channel)
            .ok_or("checkpoint for an unknown channel")?;
        if ch.peer != from || claimed.signer != ch.book.peer() {
            return Err("checkpoint signed for the wrong side".into());
        }
        let key = from_id.verifying_key().map_err(|e| e.to_string())?;
        let c =
            SignedCheckpoint::open(bytes, &key).map_err(|e| format!("checkpoint rejected: {e}"))?;
        let (me, peer) = (ch.book.me(), ch.book.peer());
        let (seq, h) = c.checkpoint().heads[me as usize];
        let ours_ok = seq == 0 || ch.book.meta(me, seq).map(|m| m.hash) == Some(h);
        let (pseq, ph) = c.checkpoint().heads[peer as usize];
        let theirs_ok = pseq == 0
            || pseq > ch.book.len(peer)
            || ch.book.meta(peer, pseq).map(|m| m.hash) == Some(ph);
        if !ours_ok || !theirs_ok {
            return Err(format!(
                "checkpoint disagrees with the transcript held here (covers our {seq}, their {pseq}; we hold our {}, their {})",
                ch.book.len(me),
                ch.book.len(peer)
            ));
        }
        let newer = ch.peer_ckpt.as_ref().is_none_or(|old| {
            let o = old.checkpoint().heads;
            c.checkpoint().heads[0].0 >= o[0].0 && c.checkpoint().heads[1].0 >= o[1].0
        });
        if !newer {
            return Ok(false);
        }
        ch.peer_ckpt = Some(c);
        self.submit(Batch {
            ops: vec![WriteOp::Checkpoint {
                channel: claimed.channel,
                signer: claimed.signer,
                envelope: bytes.to_vec(),
                stored_at: now,
            }],
            effects: vec![],
        });
        Ok(true)
    }

    /// One policy tick over every channel (`Engine::tick_channel`), carrying
    /// out each action as the station does; evaluates until quiet.
    /// Returns the bodies the station authored.
    pub(crate) fn tick(&mut self, now: u64) -> Result<Vec<Body>, String> {
        let ids: Vec<Hash> = self.rt().channels.keys().copied().collect();
        let mut authored = Vec::new();
        for id in ids {
            let mut quiet = false;
            for _ in 0..POLICY_ROUNDS {
                let inc = self.incarnation;
                let rt = self.rt.as_mut().expect("station is up");
                let ch = rt.channels.get_mut(&id).expect("listed");
                let actions = policy::evaluate(&ch.book, &ch.open_alerts, now);
                if actions.is_empty() {
                    quiet = true;
                    break;
                }
                let verified = rt.verified[ch.peer];
                let mut batch = Batch {
                    ops: vec![],
                    effects: vec![],
                };
                for a in actions {
                    match a {
                        Action::Author(body) => {
                            let v = ch
                                .book
                                .author(
                                    &self.keys,
                                    body.clone(),
                                    hotline_proto::entry::BY_STATION,
                                    now,
                                    verified,
                                )
                                .map_err(|e| {
                                    format!(
                                        "the station refuses the policy's own action {body:?}: {e}"
                                    )
                                })?;
                            ch.book.apply(&v, now);
                            batch.effects.push(Effect::Accepted {
                                channel: id,
                                author: v.entry().author,
                                seq: v.entry().seq,
                                hash: v.hash(),
                                incarnation: inc,
                            });
                            batch.ops.push(WriteOp::Entry {
                                entry: v,
                                stored_at: now,
                            });
                            authored.push(body);
                        }
                        Action::Raise { kind, key, cause } => {
                            ch.open_alerts.insert(key.clone());
                            batch.ops.push(WriteOp::RaiseAlert {
                                kind: kind.name().into(),
                                channel: Some(id),
                                key,
                                cause,
                                at: now,
                            });
                        }
                        Action::Clear { key } => {
                            ch.open_alerts.remove(&key);
                            batch.ops.push(WriteOp::ClearAlert {
                                channel: Some(id),
                                key,
                                at: now,
                            });
                        }
                    }
                }
                self.submit(batch);
            }
            if !quiet {
                return Err(format!(
                    "the policy engine is not quiet after carrying out {POLICY_ROUNDS} rounds of its own actions"
                ));
            }
        }
        Ok(authored)
    }

    /// An oversight export (`Engine::fresh_checkpoint` + `export`): sign a
    /// checkpoint over what we hold, and once it is committed write the file.
    pub(crate) fn export(&mut self, channel: &Hash, now: u64) {
        let keys = &self.keys;
        let rt = self.rt.as_mut().expect("station is up");
        let Some(ch) = rt.channels.get(channel) else {
            return;
        };
        let me = ch.book.me();
        let heads = [ch.book.head(0), ch.book.head(1)];
        let c = Checkpoint {
            channel: *channel,
            signer: me,
            heads,
            time: now,
            peer_checkpoint: ch.peer_ckpt.as_ref().map(|c| c.hash()),
        };
        let signed = c.sign(keys);
        let mut checkpoints = vec![];
        if let Some(p) = &ch.peer_ckpt {
            checkpoints.push(p.bytes().to_vec());
        }
        checkpoints.push(signed.bytes().to_vec());
        let identities = *ch.book.identities();
        self.submit(Batch {
            ops: vec![WriteOp::Checkpoint {
                channel: *channel,
                signer: me,
                envelope: signed.bytes().to_vec(),
                stored_at: now,
            }],
            effects: vec![Effect::Export {
                channel: *channel,
                me,
                identities,
                heads,
                checkpoints,
                at: now,
            }],
        });
    }

    /// Opens an outbound session: the peer's `Hello` says which of our entries it
    /// holds per channel (`their`), and sending resumes above that.
    pub(crate) fn connect(
        &mut self,
        to: usize,
        epoch: u64,
        their: &BTreeMap<Hash, [(u64, Hash); 2]>,
    ) {
        let rt = self.rt();
        let mut cursor = BTreeMap::new();
        let mut ask_checkpoint = Vec::new();
        for (id, ch) in rt.channels.iter().filter(|(_, c)| c.peer == to) {
            let me = ch.book.me() as usize;
            let held = their.get(id).map(|h| h[me].0).unwrap_or(0);
            cursor.insert(*id, held);
            if held > ch.delivered_upto() {
                ask_checkpoint.push(*id);
            }
        }
        rt.sessions.insert(
            to,
            Session {
                epoch,
                cursor,
                ask_checkpoint,
            },
        );
    }

    /// What a `Hello` to `to` announces: the heads held of each shared channel
    /// (from memory, as `heads_for` does).
    pub(crate) fn hello(&self, to: usize) -> BTreeMap<Hash, [(u64, Hash); 2]> {
        let rt = self.rt.as_ref().expect("station is up");
        rt.channels
            .iter()
            .filter(|(_, c)| c.peer == to)
            .map(|(id, c)| (*id, [c.book.head(0), c.book.head(1)]))
            .collect()
    }

    /// The outbound sender's loop body: per channel, the next committed own
    /// entries above the session's cursor (at most `max` per message).
    pub(crate) fn pump(&mut self, to: usize, max: usize) -> Result<Vec<Payload>, String> {
        let Station { rt, store, .. } = self;
        let rt = rt.as_mut().expect("station is up");
        let Some(sess) = rt.sessions.get_mut(&to) else {
            return Ok(vec![]);
        };
        let mut out: Vec<Payload> = std::mem::take(&mut sess.ask_checkpoint)
            .into_iter()
            .map(|channel| Payload::Entries {
                channel,
                envelopes: vec![],
                epoch: sess.epoch,
            })
            .collect();
        for (id, ch) in rt.channels.iter().filter(|(_, c)| c.peer == to) {
            let me = ch.book.me();
            let own = ch.book.len(me);
            let delivered = ch.delivered_upto();
            let cur = sess.cursor.entry(*id).or_insert(delivered);
            *cur = (*cur).max(delivered);
            if *cur >= own {
                continue;
            }
            let rows = store.chain_from(id, me, *cur + 1, max).map_err(db)?;
            let Some(last) = rows.last() else {
                continue;
            };
            *cur = last.seq;
            out.push(Payload::Entries {
                channel: *id,
                envelopes: rows.into_iter().map(|r| r.envelope).collect(),
                epoch: sess.epoch,
            });
        }
        Ok(out)
    }

    /// Whether the outbound session to `to` has nothing left to send.
    pub(crate) fn caught_up(&self, to: usize) -> bool {
        let Some(rt) = self.rt.as_ref() else {
            return true;
        };
        let Some(sess) = rt.sessions.get(&to) else {
            return rt.channels.values().all(|c| c.peer != to);
        };
        rt.channels
            .iter()
            .filter(|(_, c)| c.peer == to)
            .all(|(id, c)| {
                let cur = sess
                    .cursor
                    .get(id)
                    .copied()
                    .unwrap_or(0)
                    .max(c.delivered_upto());
                cur >= c.book.len(c.book.me())
            })
    }

    /// Takes the effects a broken variant carries out early.
    pub(crate) fn take_outbox(&mut self) -> Vec<Effect> {
        self.rt
            .as_mut()
            .map(|rt| std::mem::take(&mut rt.outbox))
            .unwrap_or_default()
    }

    /// Confirms a peer's fingerprint (`Engine::verify_peer`).
    pub(crate) fn verify_peer(&mut self, other: usize) -> Result<(), String> {
        let row = self.peer_rows[other].expect("pinned");
        self.store.set_verified(row, true).map_err(db)?;
        if let Some(rt) = self.rt.as_mut() {
            rt.verified[other] = true;
        }
        Ok(())
    }
}
