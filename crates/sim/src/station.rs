//! One simulated station: a durable store and a volatile runtime around the
//! station machine — `hotline_core::machine`, the very code the daemon runs.
//!
//! This is the simulator's shell, the twin of the daemon's engine: it calls
//! the machine, queues the step's writes, and performs the step's effects
//! once a group commit has taken them. What the daemon does concurrently
//! (authoring, receiving, the writer thread) the world interleaves step by
//! step, so the writer's queue is explicit: [`Runtime::pending`] is decided
//! and applied in memory but not yet durable, and a crash throws it away.

use crate::net::Msg;
use crate::world::Fault;
use hotline_core::book::Refusal;
use hotline_core::machine::{self, Channel, Effect, Outbound, Peer, Step};
use hotline_proto::{Body, Hash, Identity, LinkMsg, SecretKeys, Terms};
use hotline_store::{SqliteStore, Store, WriteOp, WriteResult};
use std::collections::{BTreeMap, VecDeque};

/// Rows read at once when rebuilding; far above any simulated transcript.
pub(crate) const ALL: usize = 1_000_000;

/// Where the input that caused a step came from: replies go back there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Origin {
    /// A local user, the policy timer, or an export.
    Local,
    /// An `Entries` batch from this station on its session `epoch`.
    Entries(usize, u64),
    /// A checkpoint from this station, on our own session to it.
    Checkpoint(usize),
}

/// A queued step: its writes, and what to do once they are committed.
pub(crate) struct Batch {
    /// The writes, committed in one transaction with whatever else is queued.
    pub ops: Vec<WriteOp>,
    /// Performed after the commit, in order.
    pub after: Vec<Effect>,
    /// Where replies go.
    pub origin: Origin,
}

/// An outbound link session: one connection's cursors.
pub(crate) struct Session {
    /// Distinguishes this session from earlier ones to the same peer.
    pub epoch: u64,
    /// The machine's sending side.
    pub out: Outbound,
}

/// Everything a station holds only in memory: lost on a crash.
pub(crate) struct Runtime {
    /// Channels by id.
    pub channels: BTreeMap<Hash, Channel>,
    /// Each other station as pinned here (copied from the store at start).
    pub peers: Vec<Option<Peer>>,
    /// The writer's queue: submitted, not yet committed.
    pub pending: VecDeque<Batch>,
    /// Outbound sessions by peer station.
    pub sessions: BTreeMap<usize, Session>,
    /// Effects a broken variant performs before the commit.
    pub outbox: Vec<(Effect, Origin)>,
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

fn db(e: impl std::fmt::Display) -> String {
    format!("storage failed: {e}")
}

impl Station {
    /// A fresh station with an empty in-memory database; not started.
    pub(crate) fn new(
        idx: usize,
        keys: SecretKeys,
        skew: u64,
        n: usize,
        fault: Fault,
    ) -> Result<Station, String> {
        Ok(Station {
            idx,
            name: ["A", "B", "C"][idx].to_string(),
            identity: keys.identity(),
            keys,
            store: SqliteStore::memory().map_err(db)?,
            peer_rows: vec![None; n],
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
    ) -> Result<(), String> {
        let row = (self.store)
            .add_peer(name, &id.token(), &["sim:1".into()], None, 0)
            .map_err(db)?;
        if verified {
            self.store.set_verified(row.id, true).map_err(db)?;
        }
        self.peer_rows[other] = Some(row.id);
        Ok(())
    }

    /// Whether the process is running.
    pub(crate) fn up(&self) -> bool {
        self.rt.is_some()
    }

    pub(crate) fn rt(&mut self) -> &mut Runtime {
        self.rt.as_mut().expect("station is up")
    }

    /// Starts (or restarts) the process: everything in memory is rebuilt from
    /// the store by the same restore the daemon uses.
    pub(crate) fn start(&mut self) -> Result<(), String> {
        self.incarnation += 1;
        let mut peers = vec![None; self.peer_rows.len()];
        for p in self.store.peers().map_err(db)? {
            if let Some(i) = self.peer_rows.iter().position(|r| *r == Some(p.id)) {
                peers[i] = Some(Peer {
                    id: p.id,
                    name: p.name,
                    identity: Identity::parse(&p.token).map_err(db)?,
                    verified: p.verified,
                });
            }
        }
        let open = self.store.alerts(true, ALL).map_err(db)?;
        let mut channels = BTreeMap::new();
        for row in self.store.channels().map_err(db)? {
            let ch = hotline_store::restore_channel(&self.store, &row, &open).map_err(db)?;
            channels.insert(row.id, ch);
        }
        self.rt = Some(Runtime {
            channels,
            peers,
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

    /// Another station as pinned here.
    pub(crate) fn peer(&self, other: usize) -> Peer {
        let rt = self.rt.as_ref().expect("station is up");
        rt.peers[other].clone().expect("pinned")
    }

    /// The station that a channel here is with.
    pub(crate) fn party(&self, ch: &Channel) -> Option<usize> {
        self.peer_rows.iter().position(|r| *r == Some(ch.peer_id()))
    }

    /// Queues a step; a broken variant performs some effects at once.
    pub(crate) fn submit(&mut self, step: Step, origin: Origin) {
        let fault = self.fault;
        let early = |e: &Effect| match fault {
            Fault::None => false,
            Fault::AckBeforeCommit => matches!(e, Effect::Committed { own: true, .. }),
            Fault::CheckpointBeforeCommit => {
                matches!(e, Effect::Reply(LinkMsg::Checkpoint { .. }))
            }
        };
        let rt = self.rt();
        let (now, later): (Vec<Effect>, Vec<Effect>) = step.after.into_iter().partition(early);
        rt.outbox.extend(now.into_iter().map(|e| (e, origin)));
        rt.pending.push_back(Batch {
            ops: step.writes.into_iter().map(WriteOp::from).collect(),
            after: later,
            origin,
        });
    }

    /// Commits the first `k` queued batches in one transaction (group commit).
    /// Returns each committed batch with its results.
    pub(crate) fn flush(&mut self, k: usize) -> Result<Vec<(Batch, Vec<WriteResult>)>, String> {
        let Some(rt) = self.rt.as_mut() else {
            return Ok(vec![]);
        };
        let batches: Vec<Batch> = rt.pending.drain(..k.min(rt.pending.len())).collect();
        let ops: Vec<WriteOp> = batches.iter().flat_map(|b| b.ops.iter().cloned()).collect();
        let mut results = self
            .store
            .write(&ops)
            .map_err(|e| format!("{}: a group commit failed: {e}", self.name))?;
        let mut out = Vec::new();
        for b in batches {
            let rest = results.split_off(b.ops.len());
            out.push((b, std::mem::replace(&mut results, rest)));
        }
        Ok(out)
    }

    /// Opens a channel to `peer` (this station is author 0), continuing
    /// `reopens` if that channel has ended here.
    pub(crate) fn open_channel(
        &mut self,
        peer: usize,
        terms: Terms,
        reopens: Option<Hash>,
        now: u64,
    ) -> Result<Hash, String> {
        let p = self.peer(peer);
        let rt = self.rt.as_ref().expect("station is up");
        let old = reopens.and_then(|id| rt.channels.get(&id).map(|c| (id, c)));
        let (ch, step) =
            Channel::open(&self.keys, &p, terms, old, "opener", now).map_err(|e| e.to_string())?;
        let id = ch.id();
        self.submit(step, Origin::Local);
        self.rt().channels.insert(id, ch);
        Ok(id)
    }

    /// A local user's entry.
    pub(crate) fn author(
        &mut self,
        channel: &Hash,
        body: Body,
        by: &str,
        now: u64,
    ) -> Result<hotline_core::VerifiedEntry, Refusal> {
        let ch = &self.rt.as_ref().expect("up").channels[channel];
        let p = self.peer(self.party(ch).expect("a party"));
        let rt = self.rt.as_mut().expect("up");
        let ch = rt.channels.get_mut(channel).expect("held");
        let (v, step) = ch.author(&self.keys, &p, body, by, now)?;
        self.submit(step, Origin::Local);
        Ok(v)
    }

    /// An `Entries` batch from `from` on its session `epoch`. Returns the step
    /// it queued (writes taken, effects left for inspection).
    pub(crate) fn receive(
        &mut self,
        from: usize,
        channel: Hash,
        envelopes: Vec<Vec<u8>>,
        epoch: u64,
        now: u64,
    ) -> (usize, Option<machine::Fault>) {
        let p = self.peer(from);
        let rt = self.rt.as_mut().expect("up");
        let step = match rt.channels.get_mut(&channel) {
            Some(ch) => ch.receive(&self.keys, &p, envelopes, now),
            None => {
                let (new, step) =
                    machine::receive_proposal(&self.keys, &p, channel, envelopes, now);
                if let Some(ch) = new {
                    rt.channels.insert(channel, ch);
                }
                step
            }
        };
        let applied = step
            .after
            .iter()
            .filter(|e| matches!(e, Effect::Committed { own: false, .. }))
            .count();
        let fault = step.fault.clone();
        self.submit(step, Origin::Entries(from, epoch));
        (applied, fault)
    }

    /// A checkpoint from `from`, on our own session to it.
    pub(crate) fn receive_checkpoint(
        &mut self,
        from: usize,
        bytes: &[u8],
        now: u64,
    ) -> Option<machine::Fault> {
        let p = self.peer(from);
        let step = match machine::checkpoint_channel(bytes) {
            Err(f) => machine::reject(&p, None, machine::Fault::Checkpoint(f), now),
            Ok(id) => match self.rt().channels.get_mut(&id) {
                Some(ch) => ch.receive_checkpoint(&p, bytes, now),
                None => machine::reject(
                    &p,
                    None,
                    machine::Fault::Checkpoint(machine::CheckpointFault::UnknownChannel),
                    now,
                ),
            },
        };
        let fault = step.fault.clone();
        self.submit(step, Origin::Checkpoint(from));
        fault
    }

    /// One policy tick over every channel; the station's own policy failing
    /// to reach quiet, or refusing its own action, fails the run.
    pub(crate) fn tick(&mut self, now: u64) -> Result<Vec<Body>, String> {
        let ids: Vec<Hash> = self.rt().channels.keys().copied().collect();
        let mut authored = Vec::new();
        for id in ids {
            let party = self.party(&self.rt.as_ref().expect("up").channels[&id]);
            let p = self.peer(party.expect("a party"));
            let rt = self.rt.as_mut().expect("up");
            let step = rt
                .channels
                .get_mut(&id)
                .expect("listed")
                .tick(&self.keys, &p, now);
            if let Some(f) = &step.fault {
                return Err(format!("{}: {f}", self.name));
            }
            authored.extend(step.entries().map(|v| v.entry().body.clone()));
            self.submit(step, Origin::Local);
        }
        Ok(authored)
    }

    /// An oversight export: a fresh checkpoint, then the file once committed.
    pub(crate) fn export(&mut self, channel: &Hash, now: u64) {
        let keys = &self.keys;
        if let Some(ch) = self.rt.as_mut().and_then(|rt| rt.channels.get_mut(channel)) {
            let step = ch.export_checkpoint(keys, now);
            self.submit(step, Origin::Local);
        }
    }

    /// The channels shared with station `to`.
    fn with(&self, to: usize) -> impl Iterator<Item = &Channel> {
        let rt = self.rt.as_ref().expect("station is up");
        let row = self.peer_rows[to];
        rt.channels
            .values()
            .filter(move |c| Some(c.peer_id()) == row)
    }

    /// The `Hello` this station sends to `to`.
    pub(crate) fn hello(&self, to: usize) -> Msg {
        machine::hello(self.with(to))
    }

    /// Opens an outbound session to `to` after its `Hello`.
    pub(crate) fn connect(&mut self, to: usize, epoch: u64, hello: &Msg) {
        let LinkMsg::Hello { heads, .. } = hello else {
            return;
        };
        let out = Outbound::new(heads, self.with(to));
        self.rt().sessions.insert(to, Session { epoch, out });
    }

    /// The sender's loop body: owed checkpoint requests, then per channel the
    /// next committed own entries above the cursor (at most `max`).
    pub(crate) fn pump(&mut self, to: usize, max: usize) -> Result<Vec<Msg>, String> {
        let row = self.peer_rows[to];
        let Station { rt, store, .. } = self;
        let rt = rt.as_mut().expect("station is up");
        let Some(sess) = rt.sessions.get_mut(&to) else {
            return Ok(vec![]);
        };
        let mut msgs = sess.out.checkpoint_requests();
        for (id, ch) in rt.channels.iter_mut() {
            if Some(ch.peer_id()) != row {
                continue;
            }
            let Some((from, n)) = sess.out.next(ch, max) else {
                continue;
            };
            let rows = store.chain_from(id, ch.book().me(), from, n).map_err(db)?;
            let rows = rows.into_iter().map(|r| (r.seq, r.envelope)).collect();
            msgs.extend(sess.out.pack(ch, rows));
        }
        Ok(msgs)
    }

    /// Whether the outbound session to `to` has nothing left to send.
    pub(crate) fn caught_up(&self, to: usize) -> bool {
        let Some(rt) = self.rt.as_ref() else {
            return true;
        };
        let sess = rt.sessions.get(&to);
        self.with(to)
            .all(|c| sess.is_some_and(|s| s.out.caught_up(c)))
    }

    /// Takes the effects a broken variant performs early.
    pub(crate) fn take_outbox(&mut self) -> Vec<(Effect, Origin)> {
        self.rt
            .as_mut()
            .map(|rt| std::mem::take(&mut rt.outbox))
            .unwrap_or_default()
    }

    /// Confirms a peer's fingerprint.
    pub(crate) fn verify_peer(&mut self, other: usize) -> Result<(), String> {
        let row = self.peer_rows[other].expect("pinned");
        self.store.set_verified(row, true).map_err(db)?;
        if let Some(p) = self.rt.as_mut().and_then(|rt| rt.peers[other].as_mut()) {
            p.verified = true;
        }
        Ok(())
    }
}
