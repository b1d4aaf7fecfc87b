//! One simulated station: the shell around the station machine, the daemon
//! engine's twin. The writer's queue is explicit ([`Runtime::pending`]: decided
//! and applied in memory, not yet durable), and a crash throws it away.

use crate::report::Fault::{self as Broken, AckBeforeCommit, CheckpointBeforeCommit};
use crate::{db, Res};
use hotline_core::book::Refusal;
use hotline_core::machine::PinMove;
use hotline_core::machine::{self, Channel, CheckpointFault::UnknownChannel, Effect, Fault};
use hotline_core::machine::{Durable, Outbound, Peer, Step};
use hotline_core::policy::AlertKind;
use hotline_proto::{Body, Hash, Identity, Keyring, Kind, LinkMsg, SecretKeys, Terms};
use hotline_store::{SqliteStore, Store, WriteOp, WriteResult};
use std::collections::{BTreeMap, VecDeque};

/// Rows read at once when rebuilding; far above any simulated transcript.
pub const ALL: usize = 1_000_000;

/// Where the input that caused a step came from: replies go back there.
#[derive(Debug, Clone, Copy)]
pub enum Origin {
    /// A local user, the policy timer, or an export.
    Local,
    /// An `Entries` batch from this station on its session `epoch`.
    Entries(usize, u64),
    /// A checkpoint from this station, on our own session to it.
    Checkpoint(usize),
}

/// A queued step: its writes, and what to do once they are committed.
pub struct Batch {
    pub ops: Vec<WriteOp>,
    pub after: Vec<Effect>,
    pub origin: Origin,
}

/// How many of the peer's entries a message brought in, and why the machine stopped short.
/// What a delivery did: the peer's entries applied, how many of them are
/// held (sent above ROUTINE before the sender was verified here), the fault.
pub type Received = (usize, usize, Option<Fault>);

/// Batches committed together, each with its write results.
pub type Group = Vec<(Batch, Vec<WriteResult>)>;

/// Everything a station holds only in memory: lost on a crash.
#[derive(Default)]
pub struct Runtime {
    pub channels: BTreeMap<Hash, Channel>,
    /// Each other station as pinned here (read from the store at start).
    peers: [Option<Peer>; 3],
    /// The writer's queue: submitted, not yet committed.
    pub pending: VecDeque<Batch>,
    /// Outbound sessions by peer station: the session's epoch and cursors.
    sessions: BTreeMap<usize, (u64, Outbound)>,
    /// Effects a broken variant performs before the commit.
    outbox: Vec<(Effect, Origin)>,
}

/// One station: a durable store, and the process (`rt`) that a crash throws away.
pub struct Station {
    /// Index in the world; the name is "A", "B" or "C".
    pub idx: usize,
    pub name: &'static str,
    /// The key file: durable, every key this station had, the newest current.
    pub keys: Keyring,
    /// Durable storage: survives crashes.
    pub store: SqliteStore,
    /// The peer row id here of each other station.
    pub peer_rows: [Option<i64>; 3],
    /// Offset of this station's clock from the world's.
    pub skew: u64,
    /// Counts starts: packets to an earlier incarnation are never read.
    pub incarnation: u64,
    /// The running process; `None` while crashed.
    pub rt: Option<Runtime>,
    fault: Broken,
}

impl Station {
    /// A fresh station with an empty in-memory database; not started.
    pub fn new(idx: usize, keys: SecretKeys, skew: u64, fault: Broken) -> Res<Station> {
        Ok(Station {
            idx,
            name: ["A", "B", "C"][idx],
            keys: Keyring::new(keys),
            store: SqliteStore::memory().map_err(db)?,
            peer_rows: [None; 3],
            skew,
            incarnation: 0,
            rt: None,
            fault,
        })
    }

    /// Pins another station (administrative setup, committed at once).
    pub fn pin(&mut self, other: usize, name: &str, id: Identity, verified: bool) -> Res {
        let addrs = ["sim:1".into()];
        let row = self.store.add_peer(name, &id.token(), &addrs, None, 0);
        let row = row.map_err(db)?.id;
        self.store.set_verified(row, verified).map_err(db)?;
        self.peer_rows[other] = Some(row);
        Ok(())
    }

    pub fn up(&self) -> bool {
        self.rt.is_some()
    }

    /// Starts (or restarts) the process: memory is rebuilt from the store as the daemon does.
    pub fn start(&mut self) -> Res {
        self.incarnation += 1;
        let mut rt = Runtime::default();
        let rotated = hotline_store::in_rotation_order(self.store.peer_keys().map_err(db)?);
        for p in self.store.peers().map_err(db)? {
            let i = self.peer_rows.iter().position(|r| *r == Some(p.id));
            let mut peer = p.machine_peer().map_err(db)?;
            peer.retired = rotated
                .iter()
                .filter(|k| k.peer_id == p.id)
                .map(|k| Identity::parse(&k.token).map_err(|e| e.to_string()))
                .collect::<Res<_>>()?;
            rt.peers[i.expect("pinned")] = Some(peer);
        }
        let open = self.store.alerts(true, ALL).map_err(db)?;
        for row in self.store.channels().map_err(db)? {
            let mine = self.keys.identities().to_vec();
            let ch = hotline_store::restore_channel(&self.store, &row, &open, &mine).map_err(db)?;
            rt.channels.insert(row.id, ch);
        }
        self.rt = Some(rt);
        Ok(())
    }

    /// Kills the process (memory, queued writes, sessions): how many batches were queued, if up.
    pub fn crash(&mut self) -> Option<usize> {
        self.rt.take().map(|rt| rt.pending.len())
    }

    pub fn pending(&self) -> usize {
        self.rt.as_ref().map_or(0, |rt| rt.pending.len())
    }

    /// Whether an entry with this hash waits in the writer's queue.
    pub fn pending_has(&self, hash: &Hash) -> bool {
        let same = |w: &WriteOp| matches!(w, WriteOp::Entry { entry, .. } if entry.hash() == *hash);
        let mut batches = self.rt.iter().flat_map(|rt| &rt.pending);
        batches.any(|b| b.ops.iter().any(same))
    }

    pub fn channel(&self, id: &Hash) -> Option<&Channel> {
        self.rt.as_ref()?.channels.get(id)
    }

    /// The channels held in memory (none while down).
    pub fn channel_ids(&self) -> Vec<Hash> {
        let rt = self.rt.iter();
        rt.flat_map(|rt| rt.channels.keys().copied()).collect()
    }

    /// What a machine call takes: the keys, station `other` as pinned here, the channels.
    fn parts(&mut self, other: usize) -> (&Keyring, Peer, &mut BTreeMap<Hash, Channel>) {
        let rt = self.rt.as_mut().expect("station is up");
        let peer = rt.peers[other].clone().expect("pinned");
        (&self.keys, peer, &mut rt.channels)
    }

    /// What a machine call on channel `id` takes: the keys, its peer as pinned here, the channel.
    fn on(&mut self, id: &Hash) -> (&Keyring, Peer, &mut Channel) {
        let row = Some(self.channel(id).expect("held").peer_id());
        let other = self.peer_rows.iter().position(|r| *r == row);
        let (keys, p, chans) = self.parts(other.expect("pinned"));
        (keys, p, chans.get_mut(id).expect("held"))
    }

    /// Queues a step (a broken variant performs some effects at once); returns its fault.
    pub fn submit(&mut self, mut step: Step, origin: Origin) -> Option<Fault> {
        let early = |e: &Effect| match e {
            Effect::Committed { own: true, .. } => self.fault == AckBeforeCommit,
            Effect::Reply(LinkMsg::Checkpoint { .. }) => self.fault == CheckpointBeforeCommit,
            _ => false,
        };
        let (now, after): (Vec<Effect>, Vec<Effect>) = step.after.into_iter().partition(early);
        // A counterpart's pin moves in memory as the machine decides (the
        // daemon's `Engine::submit` does the same).
        for w in &mut step.writes {
            match w {
                Durable::PeerRotated(m) => self.peer_rotated(m),
                Durable::Snapshot(s) => s.seal(hotline_proto::Signers::current(&self.keys)),
                _ => {}
            }
        }
        let rt = self.rt.as_mut().expect("station is up");
        rt.outbox.extend(now.into_iter().map(|e| (e, origin)));
        let ops = step.writes.into_iter().map(WriteOp::from).collect();
        rt.pending.push_back(Batch { ops, after, origin });
        step.fault
    }

    /// Commits the first `k` queued batches in one transaction (group commit).
    pub fn flush(&mut self, k: usize) -> Res<Group> {
        let rt = self.rt.as_mut().expect("station is up");
        let batches: Vec<Batch> = rt.pending.drain(..k.min(rt.pending.len())).collect();
        let ops: Vec<WriteOp> = batches.iter().flat_map(|b| b.ops.iter().cloned()).collect();
        let failed = |e| format!("{}: a group commit failed: {e}", self.name);
        let mut results = self.store.write(&ops).map_err(failed)?;
        let mut out = Vec::new();
        for b in batches {
            let rest = results.split_off(b.ops.len());
            out.push((b, std::mem::replace(&mut results, rest)));
        }
        Ok(out)
    }

    /// Opens a channel to station `to` (this station is author 0), continuing `old` if given.
    /// `None` when the machine says the peer may not hold our key yet.
    pub fn open(
        &mut self,
        to: usize,
        terms: Terms,
        old: Option<Hash>,
        now: u64,
    ) -> Res<Option<Hash>> {
        let own: Vec<_> = self.with(to).map(|c| c.own_keys()).collect();
        if machine::may_propose(&self.keys, own).is_err() {
            return Ok(None);
        }
        let (keys, p, chans) = self.parts(to);
        let old = old.and_then(|id| Some((id, chans.get(&id)?)));
        let (ch, step) =
            Channel::open(keys, &p, terms, old, "opener", now).map_err(|e| e.to_string())?;
        let id = ch.id();
        chans.insert(id, ch);
        self.submit(step, Origin::Local);
        Ok(Some(id))
    }

    /// A local user's entry: its author index and seq.
    pub fn author(&mut self, id: &Hash, b: Body, by: &str, now: u64) -> Result<(u8, u64), Refusal> {
        let (keys, p, ch) = self.on(id);
        let (v, step) = ch.author(keys, &p, b, by, now)?;
        self.submit(step, Origin::Local);
        Ok((v.entry().author, v.entry().seq))
    }

    /// A message from station `from`: entries on its session `epoch`, or a
    /// checkpoint on our own session to it.
    pub fn receive(&mut self, from: usize, msg: LinkMsg, epoch: u64, now: u64) -> Received {
        let (keys, p, chans) = self.parts(from);
        let (step, origin) = match msg {
            LinkMsg::Entries { channel, envelopes } => {
                let step = match chans.get_mut(&channel) {
                    Some(ch) => ch.receive(keys, &p, envelopes, now),
                    None => {
                        let pending = chans.values().filter(|c| c.awaits_acceptance()).count();
                        let (new, step) =
                            machine::receive_proposal(keys, &p, channel, envelopes, pending, now);
                        chans.extend(new.map(|ch| (channel, ch)));
                        step
                    }
                };
                (step, Origin::Entries(from, epoch))
            }
            LinkMsg::Checkpoint { envelope } => {
                let opened = machine::open_checkpoint(&p, &envelope).and_then(|o| {
                    let ch = chans.get_mut(&o.channel()).ok_or(UnknownChannel)?;
                    Ok((ch, o))
                });
                let step = match opened {
                    Ok((ch, o)) => ch.receive_opened_checkpoint(&p, o, now),
                    Err(f) => machine::reject(&p, None, Fault::Checkpoint(f), now),
                };
                (step, Origin::Checkpoint(from))
            }
            _ => return (0, 0, None),
        };
        let theirs = |e: &&Effect| matches!(e, Effect::Committed { own: false, .. });
        let applied = step.after.iter().filter(theirs).count();
        let held = step
            .writes
            .iter()
            .filter(|w| {
                matches!(w, Durable::RaiseAlert { kind, .. } if *kind == AlertKind::UnverifiedPeerTraffic)
            })
            .count();
        (applied, held, self.submit(step, origin))
    }

    /// A policy tick on every channel; the policy failing to reach quiet fails the run.
    pub fn tick(&mut self, now: u64) -> Res<Vec<Kind>> {
        let mut authored = Vec::new();
        for id in self.channel_ids() {
            let (keys, p, ch) = self.on(&id);
            let step = ch.tick(keys, &p, now);
            authored.extend(step.entries().map(|v| v.entry().body.kind()));
            if let Some(f) = self.submit(step, Origin::Local) {
                bail!("{}: {f}", self.name);
            }
        }
        Ok(authored)
    }

    /// `hotline keys rotate`: the new keys go into the key file (which a
    /// crash keeps), then each channel gets its `KeyRotation`.
    pub fn rotate_to(&mut self, next: SecretKeys, now: u64) -> Res<usize> {
        self.keys = self.keys.with(next).map_err(|e| e.to_string())?;
        self.rotate(now)
    }

    /// A `KeyRotation` on each channel whose chain is behind the current
    /// keys (as the daemon does at start and on its tick); how many.
    pub fn rotate(&mut self, now: u64) -> Res<usize> {
        let current = self.keys.identity();
        let mut n = 0;
        for id in self.channel_ids() {
            let (keys, _, ch) = self.on(&id);
            if !ch.rotation_due(&current) {
                continue;
            }
            // A channel that cannot take one yet is rotated on a later tick.
            if let Ok(step) = ch.rotate(keys, "station", now) {
                n += step.entries().count();
                if let Some(f) = self.submit(step, Origin::Local) {
                    bail!("{}: {f}", self.name);
                }
            }
        }
        Ok(n)
    }

    /// A counterpart's rotation is durable here: its pin moves in memory.
    pub fn peer_rotated(&mut self, m: &PinMove) {
        let Some(rt) = self.rt.as_mut() else { return };
        for p in rt.peers.iter_mut().flatten() {
            if p.id == m.peer && p.identity == m.old {
                p.retired.push(m.old);
                p.identity = m.new;
            }
        }
    }

    /// An oversight export: a fresh checkpoint, then the file once committed.
    pub fn export(&mut self, id: &Hash, now: u64) {
        let (keys, _, ch) = self.on(id);
        let step = ch.export_checkpoint(keys, now);
        self.submit(step, Origin::Local);
    }

    /// The channels shared with station `to`.
    pub fn with(&self, to: usize) -> impl Iterator<Item = &Channel> {
        let (row, rt) = (self.peer_rows[to], self.rt.as_ref().expect("station is up"));
        let theirs = move |c: &&Channel| Some(c.peer_id()) == row;
        rt.channels.values().filter(theirs)
    }

    /// Opens an outbound session to `to` after its `Hello`.
    pub fn connect(&mut self, to: usize, epoch: u64, hello: &LinkMsg) {
        if let LinkMsg::Hello { heads, .. } = hello {
            let out = Outbound::new(heads, self.with(to));
            let rt = self.rt.as_mut().expect("station is up");
            rt.sessions.insert(to, (epoch, out));
        }
    }

    /// The epoch of the outbound session to `to`, if there is one.
    pub fn session(&self, to: usize) -> Option<u64> {
        self.rt.as_ref()?.sessions.get(&to).map(|s| s.0)
    }

    /// Closes the outbound session to `to`, if any.
    pub fn disconnect(&mut self, to: usize) {
        if let Some(rt) = &mut self.rt {
            rt.sessions.remove(&to);
        }
    }

    /// The sender's loop: owed checkpoint requests, then each channel's next own entries.
    pub fn pump(&mut self, to: usize, max: usize) -> Res<Vec<LinkMsg>> {
        let (row, rt) = (self.peer_rows[to], self.rt.as_mut().expect("station is up"));
        let Some((_, out)) = rt.sessions.get_mut(&to) else {
            return Ok(vec![]);
        };
        let mut msgs = out.checkpoint_requests();
        let theirs = |(_, c): &(&Hash, &mut Channel)| Some(c.peer_id()) == row;
        for (id, ch) in rt.channels.iter_mut().filter(theirs) {
            let Some((from, n)) = out.next(ch, max) else {
                continue;
            };
            let me = ch.book().me();
            let rows = self.store.chain_from(id, me, from, n).map_err(db)?;
            let rows = rows.into_iter().map(|r| (r.seq, r.envelope)).collect();
            // The simulated network takes every message it is handed.
            if let Some((msg, last)) = out.pack(ch, rows) {
                ch.mark_sent(last);
                msgs.push(msg);
            }
        }
        Ok(msgs)
    }

    /// Whether the outbound session to `to` has nothing left to send (the station is up).
    pub fn caught_up(&self, to: usize) -> bool {
        let rt = self.rt.as_ref().expect("station is up");
        let out = rt.sessions.get(&to).map(|s| &s.1);
        self.with(to).all(|c| out.is_some_and(|o| o.caught_up(c)))
    }

    pub fn take_outbox(&mut self) -> Vec<(Effect, Origin)> {
        let rt = self.rt.as_mut();
        rt.map_or(vec![], |rt| std::mem::take(&mut rt.outbox))
    }

    /// Verifies a peer at `now` (this station's clock): held traffic starts its clocks.
    pub fn verify_peer(&mut self, other: usize, now: u64) -> Res {
        let row = self.peer_rows[other].expect("pinned");
        self.store.set_verified(row, true).map_err(db)?;
        let rt = self.rt.as_mut().expect("station is up");
        rt.peers[other].as_mut().expect("pinned").verified = true;
        for ch in rt.channels.values_mut().filter(|c| c.peer_id() == row) {
            ch.peer_verified(now);
        }
        Ok(())
    }
}
