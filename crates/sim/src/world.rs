//! The simulated world: stations, the network between them, the clock, the
//! random actions of one run, and the drain and final checks at its end.

use crate::check::{after_tick, Checker};
use crate::report::{ChannelEnd, Failure, Options, Report, Stats};
use crate::station::{Origin, Station};
use crate::traffic::{random_terms, user_body};
use crate::{db, rng::Rng, short, Res};
use hotline_core::book::Refusal;
use hotline_core::book::Reject::{self, BadOpen, SeqGap};
use hotline_core::machine::Fault::{Entry, Proposal};
use hotline_core::machine::{self, Effect, ExportPlan};
use hotline_proto::{Envelope, Hash, Identity, Kind, LinkMsg};
use hotline_proto::{SecretKeys, MAX_ENTRY_BYTES_CAP};
use hotline_store::Store;
use std::collections::{BTreeMap, BTreeSet, VecDeque};

/// One channel of the world: its id, and the station and identity of author 0 and author 1.
#[derive(Debug, Clone)]
pub struct ChanSpec {
    pub id: Hash,
    pub parties: [usize; 2],
    pub keys: [Identity; 2],
}

impl ChanSpec {
    /// This station's author index in the channel, if it is a party.
    pub fn author_of(&self, st: usize) -> Option<u8> {
        self.parties.iter().position(|p| *p == st).map(|i| i as u8)
    }

    /// The other party, if `st` is one.
    fn other(&self, st: usize) -> Option<usize> {
        self.author_of(st).map(|a| self.parties[1 - a as usize])
    }
}

#[derive(Debug, Clone)]
struct Packet {
    from: usize,
    to: usize,
    /// The receiver's incarnation when sent: a restarted process never reads its predecessor's.
    to_incarnation: u64,
    msg: LinkMsg,
    /// The outbound session carrying `Entries`, or that an `Error` answers (and only it closes).
    epoch: u64,
    /// Misrouted on purpose (isolation faults): the receiver must reject it and store nothing.
    foreign: bool,
}

impl Packet {
    fn describe(&self) -> String {
        let epoch = self.epoch;
        match &self.msg {
            LinkMsg::Entries { channel, envelopes } => {
                let (n, ch) = (envelopes.len(), short(channel));
                format!("entries[{n}] ch {ch} s{epoch}")
            }
            LinkMsg::Checkpoint { .. } => "checkpoint".into(),
            LinkMsg::Error { text, .. } => format!("error s{epoch}: {text}"),
            other => format!("{other:?}"),
        }
    }
}

/// Declares the random actions, each with the range its weight is drawn from per seed.
macro_rules! acts {
    ($($act:ident $lo:literal..=$hi:literal,)*) => {
        #[derive(Debug, Clone, Copy)]
        enum Act {
            $($act,)*
        }
        const ACTS: &[(Act, u64, u64)] = &[$((Act::$act, $lo, $hi),)*];
    };
}

acts! {
    User 10..=30,
    Flush 5..=25,
    Pump 5..=20,
    Deliver 10..=35,
    Duplicate 0..=5,
    Drop 0..=5,
    Tick 3..=15,
    Clock 3..=15,
    Crash 0..=5,
    Restart 8..=8,
    Partition 0..=3,
    Reconnect 0..=5,
    Verify 1..=1,
    Export 0..=2,
    Foreign 0..=4,
    FlushAll 2..=10,
    Open 0..=2,
    Rotate 0..=1,
}

/// Most channels between one pair of stations (the first and a later one, often a reopening).
const CHANNELS_PER_PAIR: usize = 2;
/// Lines of trace kept for a failure report.
const TRACE: usize = 60;
/// Rounds the drain may take before the line counts as stuck.
const DRAIN_ROUNDS: usize = 60;
pub const HOUR: u64 = 3_600_000;
pub const MINUTE: u64 = 60_000;

/// Everything one run owns; the only source of randomness is `rng`.
#[derive(Default)]
struct World {
    rng: Rng,
    /// The world's clock (Unix ms); each station reads it plus its own skew.
    now: u64,
    /// The stations, by index (A = 0, B = 1, C = 2).
    stations: Vec<Station>,
    chans: Vec<ChanSpec>,
    /// Packets in flight, oldest first; delivery may pick any of them.
    net: VecDeque<Packet>,
    /// Station pairs that cannot reach each other now.
    partitioned: BTreeSet<(usize, usize)>,
    /// A pair kept apart for the whole run (`Options::severed`).
    severed: Option<(usize, usize)>,
    /// The invariants and the durable picture they are checked against.
    checker: Checker,
    weights: Vec<(Act, u64)>,
    stats: Stats,
    /// The last actions, for a failure report.
    trace: VecDeque<String>,
    /// The current step (random steps, then drain rounds).
    step: usize,
    /// Numbers outbound sessions across all stations, so an `Error` closes only its own.
    epoch: u64,
    /// Per-seed chance (‰) that a user action is a Terminate.
    p_terminate: u64,
    /// Set once the drain is over: exports must then be complete.
    final_phase: bool,
    /// Channels seen suspended at some step (coverage).
    suspended_seen: BTreeSet<Hash>,
}

fn pair(a: usize, b: usize) -> (usize, usize) {
    (a.min(b), a.max(b))
}

/// Runs one seed: random steps, every invariant checked after each, then drain and final checks.
pub fn run(seed: u64, opts: &Options) -> Result<Report, Box<Failure>> {
    let mut w = World::default();
    match w.go(seed, opts) {
        Ok(digest) => Ok(Report {
            stats: w.stats.clone(),
            digest,
            channels: w.channel_ends(),
        }),
        Err(what) => Err(Box::new(Failure {
            seed,
            step: w.step,
            what,
            trace: w.trace.into(),
            options: *opts,
        })),
    }
}

impl World {
    /// Sets up the stations and the first channels, takes the random steps, drains, checks the end.
    fn go(&mut self, seed: u64, opts: &Options) -> Res<Hash> {
        self.rng = Rng::new(seed);
        let rng = &mut self.rng;
        let n = opts.stations.unwrap_or(if rng.chance(250) { 3 } else { 2 });
        if !(2..=3).contains(&n) {
            bail!("the simulator runs 2 or 3 stations");
        }
        self.now = 1_700_000_000_000 + rng.below(24 * HOUR);
        for i in 0..n {
            let mut raw = rng.bytes::<96>();
            // The X25519 public key, the last 32 bytes, must be below the field
            // prime as every generated key is: identity tokens holding any other
            // are refused. Clearing its top bit leaves 19 of 2^255 values (and 5
            // low-order ones) that a seed would still refuse, never met.
            raw[95] &= 0x7f;
            let keys = SecretKeys::from_bytes(&raw).map_err(|e| e.to_string())?;
            let skew = rng.below(2 * MINUTE);
            self.stations.push(Station::new(i, keys, skew, opts.fault)?);
        }
        for i in 0..n {
            for j in (0..n).filter(|j| *j != i) {
                let (name, id) = (self.stations[j].name, self.stations[j].keys.identity());
                self.stations[i].pin(j, name, id, self.rng.chance(800))?;
            }
            self.stations[i].start()?;
        }
        for &(act, lo, hi) in ACTS {
            self.weights.push((act, self.rng.range(lo, hi)));
        }
        self.p_terminate = if self.rng.chance(300) { 15 } else { 3 };
        self.severed = opts.severed.map(|(a, b)| pair(a, b));
        self.partitioned.extend(self.severed);
        self.checker.mirrors.resize_with(n, BTreeMap::new);
        (self.stats.runs, self.stats.three_station_runs) = (1, (n == 3) as u64);
        // Channels A–B, and with three stations A–C; either side opens.
        for y in 1..n {
            let (opener, other) = if self.rng.chance(500) { (0, y) } else { (y, 0) };
            self.open_channel(opener, other, None)?;
        }
        self.checker.step(&self.stations, &self.chans)?;
        let steps = opts.steps.unwrap_or(100 + self.rng.below(200) as usize);
        for step in 1..=steps {
            self.step = step;
            self.stats.steps += 1;
            self.random_action()?;
            self.settle()?;
        }
        self.drain()?;
        self.final_checks()
    }

    /// Station `a` opens a channel to `b` (continuing `old`, if given), and commits it.
    fn open_channel(&mut self, a: usize, b: usize, old: Option<Hash>) -> Res {
        let (terms, now) = (random_terms(&mut self.rng), self.clock(a));
        let Some(id) = self.stations[a].open(b, terms, old, now)? else {
            let [x, y] = [a, b].map(|s| self.stations[s].name);
            self.note(format!(
                "{x} may not open a channel to {y}: its rotation is not confirmed"
            ));
            return Ok(());
        };
        let (parties, keys) = ([a, b], [a, b].map(|s| self.stations[s].keys.identity()));
        self.chans.push(ChanSpec { id, parties, keys });
        let [x, y] = parties.map(|s| self.stations[s].name);
        let again = old.map_or(String::new(), |r| format!(", reopening {}", short(&r)));
        self.note(format!("{x} opens channel {} to {y}{again}", short(&id)));
        self.flush(a, usize::MAX)
    }

    /// A later channel between two stations that share one (often a reopening), sessions up.
    fn open_another(&mut self, st: usize) -> Res {
        let Some(other) = self.other_party(st) else {
            return Ok(());
        };
        let between = self.chans.iter().filter(|c| c.other(st) == Some(other));
        let first = between.clone().next().map(|c| c.id);
        if between.count() >= CHANNELS_PER_PAIR || !self.stations[st].up() {
            return Ok(());
        }
        // The user reopens only an ended channel (the machine refuses any other).
        let ended = |id: &Hash| self.stations[st].channel(id).is_some_and(|c| !c.is_live());
        let reopen = self.rng.chance(600);
        self.open_channel(st, other, first.filter(|id| reopen && ended(id)))
    }

    fn channel_ends(&self) -> Vec<ChannelEnd> {
        let end = |c: &ChanSpec| {
            let m = c.parties.map(|st| self.checker.mirrors[st].get(&c.id));
            ChannelEnd {
                parties: c.parties,
                held: m.map(|m| m.map_or([0; 2], |m| m.heads().map(|h| h.0))),
                state: m.map(|m| m.map_or("none", |m| m.word())),
            }
        };
        self.chans.iter().map(end).collect()
    }

    fn clock(&self, st: usize) -> u64 {
        self.now + self.stations[st].skew
    }

    fn note(&mut self, s: String) {
        if self.trace.len() == TRACE {
            self.trace.pop_front();
        }
        self.trace.push_back(format!("[{}] {s}", self.step));
    }

    fn linked(&self, a: usize, b: usize) -> bool {
        !self.partitioned.contains(&pair(a, b))
    }

    /// Packets the network can deliver now (not held back by a partition).
    fn deliverable(&self) -> Vec<usize> {
        let ok = |p: &Packet| self.linked(p.from, p.to);
        (0..self.net.len()).filter(|i| ok(&self.net[*i])).collect()
    }

    /// After an action: carry out early effects (broken variants) and check.
    fn settle(&mut self) -> Res {
        for st in 0..self.stations.len() {
            for (e, origin) in self.stations[st].take_outbox() {
                self.effect(st, e, origin)?;
            }
        }
        for spec in &self.chans {
            let ch = |p: &usize| self.stations[*p].channel(&spec.id);
            let suspended = |p: &usize| ch(p).is_some_and(|c| c.book().state().is_suspended());
            if spec.parties.iter().any(suspended) {
                self.suspended_seen.insert(spec.id);
            }
        }
        self.checker.step(&self.stations, &self.chans)
    }

    fn random_action(&mut self) -> Res {
        let (mut roll, mut i) = (self.rng.below(self.weights.iter().map(|w| w.1).sum()), 0);
        while roll >= self.weights[i].1 {
            roll -= self.weights[i].1;
            i += 1;
        }
        let n = self.stations.len();
        let st = self.rng.below(n as u64) as usize;
        match self.weights[i].0 {
            Act::User => self.user_action(st)?,
            Act::Flush => {
                let k = self.rng.range(1, 3) as usize;
                self.flush(st, k)?;
            }
            Act::FlushAll => (0..n).try_for_each(|i| self.flush(i, usize::MAX))?,
            Act::Pump => {
                let (to, max) = (self.other_party(st), self.rng.range(1, 6) as usize);
                if let Some(to) = to {
                    self.pump(st, to, max)?;
                }
            }
            Act::Deliver => {
                // The oldest packet that can go, or any.
                let (ready, oldest) = (self.deliverable(), self.rng.chance(500));
                let i = ready.first().filter(|_| oldest).copied();
                let i = i.or_else(|| self.rng.pick(&ready));
                if let Some(p) = i.and_then(|i| self.net.remove(i)) {
                    self.deliver(p)?;
                }
            }
            Act::Duplicate => {
                if let Some(p) = self.rng.pick(self.net.make_contiguous()) {
                    self.note(format!("network duplicates {}", p.describe()));
                    self.stats.duplicated += 1;
                    self.net.push_back(p);
                }
            }
            Act::Drop => {
                let i = self.rng.index(self.net.len());
                if let Some(p) = i.and_then(|i| self.net.remove(i)) {
                    self.note(format!("network drops {}", p.describe()));
                    self.stats.dropped += 1;
                }
            }
            Act::Tick => self.tick(st)?,
            Act::Clock => {
                let dt = match self.rng.below(100) {
                    0..=69 => self.rng.range(1, 5_000),
                    70..=94 => self.rng.range(MINUTE, 30 * MINUTE),
                    _ => self.rng.range(HOUR, 6 * HOUR),
                };
                self.now += dt;
                self.note(format!("clock +{dt} ms"));
            }
            Act::Crash => {
                let Some(lost) = self.stations[st].crash() else {
                    return Ok(());
                };
                self.stats.crashes += 1;
                self.stats.crashes_losing_work += (lost > 0) as u64;
                for s in &mut self.stations {
                    s.disconnect(st);
                }
                let name = self.stations[st].name;
                self.note(format!("{name} CRASHES with {lost} batches uncommitted"));
            }
            Act::Restart => {
                let down: Vec<usize> = (0..n).filter(|i| !self.stations[*i].up()).collect();
                if let Some(d) = self.rng.pick(&down) {
                    self.restart(d)?;
                }
            }
            Act::Partition => {
                let other = self.rng.below(n as u64 - 1) as usize;
                let (a, b) = pair(st, if other >= st { other + 1 } else { other });
                if Some((a, b)) == self.severed {
                    return Ok(());
                }
                if self.partitioned.remove(&(a, b)) {
                    self.note(format!("heal {a}–{b}"));
                } else {
                    self.partitioned.insert((a, b));
                    self.stats.partitions += 1;
                    self.note(format!("partition {a}–{b}"));
                    self.stations[a].disconnect(b);
                    self.stations[b].disconnect(a);
                }
            }
            Act::Reconnect => {
                let to = self.other_party(st);
                if let Some(to) = to.filter(|to| self.stations[st].session(*to).is_some()) {
                    self.stations[st].disconnect(to);
                    self.note(format!("{st}→{to} connection resets"));
                }
            }
            Act::Verify => {
                if let Some(to) = self.other_party(st).filter(|_| self.stations[st].up()) {
                    let now = self.clock(st);
                    self.stations[st].verify_peer(to, now)?;
                    self.note(format!("{st} verifies {to}'s fingerprint"));
                }
            }
            Act::Export => {
                if let Some(id) = self.chan_of(st) {
                    let now = self.clock(st);
                    self.stations[st].export(&id, now);
                    self.note(format!("{st} exports {}", short(&id)));
                }
            }
            Act::Foreign => self.foreign(st)?,
            Act::Open => self.open_another(st)?,
            Act::Rotate => {
                if self.stations[st].up() {
                    let mut raw = self.rng.bytes::<96>();
                    raw[95] &= 0x7f;
                    let next = SecretKeys::from_bytes(&raw).map_err(|e| e.to_string())?;
                    let now = self.clock(st);
                    let n = self.stations[st].rotate_to(next, now)?;
                    self.stats.rotations += 1;
                    let name = self.stations[st].name;
                    self.note(format!("{name} rotates its keys: {n} KeyRotation entries"));
                }
            }
        }
        Ok(())
    }

    /// A random counterpart of `st` in some channel.
    fn other_party(&mut self, st: usize) -> Option<usize> {
        let peers: Vec<usize> = self.chans.iter().filter_map(|c| c.other(st)).collect();
        self.rng.pick(&peers)
    }

    /// A random channel `st` holds in memory (none while it is down).
    fn chan_of(&mut self, st: usize) -> Option<Hash> {
        let ids = self.stations[st].channel_ids();
        self.rng.pick(&ids)
    }

    fn restart(&mut self, st: usize) -> Res {
        self.stations[st].start()?;
        self.note(format!("{} restarts", self.stations[st].name));
        self.checker.after_restart(&self.stations[st], &self.chans)
    }

    /// Commits up to `k` queued batches of a station, then performs their effects.
    fn flush(&mut self, st: usize, k: usize) -> Res {
        let (pending, name) = (self.stations[st].pending(), self.stations[st].name);
        if pending == 0 {
            return Ok(());
        }
        let (committed, k) = (self.stations[st].flush(k)?, k.min(pending));
        self.stats.commits += 1;
        self.note(format!("{name} commits {k} of {pending} batches"));
        let s = &self.stations[st];
        self.stats.alerts_raised += self.checker.committed(s, &self.chans, &committed)?;
        for (b, _) in committed {
            for e in b.after {
                self.effect(st, e, b.origin)?;
            }
        }
        Ok(())
    }

    /// Performs an effect of a committed step (or, in a broken variant, of one not yet committed).
    fn effect(&mut self, st: usize, e: Effect, origin: Origin) -> Res {
        let incarnation = self.stations[st].incarnation;
        match (e, origin) {
            (e @ Effect::Committed { own: true, .. }, _) => {
                self.checker.unconfirmed.push((st, incarnation, e))
            }
            (Effect::Reply(m), Origin::Entries(to, epoch)) => self.send(st, to, m, epoch, false),
            (Effect::Reply(m), Origin::Checkpoint(to)) => self.send(st, to, m, 0, false),
            (Effect::Close, Origin::Checkpoint(from)) => self.stations[st].disconnect(from),
            (Effect::Export(plan), _) => self.export(st, plan)?,
            _ => {}
        }
        Ok(())
    }

    fn send(&mut self, from: usize, to: usize, msg: LinkMsg, epoch: u64, foreign: bool) {
        let to_incarnation = self.stations[to].incarnation;
        let p = Packet {
            from,
            to,
            to_incarnation,
            msg,
            epoch,
            foreign,
        };
        self.stats.sent += 1;
        self.note(format!("{from}→{to} sends {}", p.describe()));
        self.net.push_back(p);
    }

    /// Writes an export of what its fresh checkpoint covers and verifies it as oversight would.
    fn export(&mut self, st: usize, plan: ExportPlan) -> Res {
        let (s, id, covers) = (&self.stations[st], plan.channel, plan.heads.map(|h| h.0));
        let (name, ch) = (s.name, short(&id));
        let text = hotline_store::export_text(&s.store, &plan)
            .map_err(|e| format!("{name}: export cannot be written: {e}"))?;
        // SPEC §9 (v2): an export must carry the peer's checkpoint whenever the
        // peer has entries in it. A station holding none yet (a proposal not
        // answered, an Accept not yet checkpointed, a severed line) still writes
        // what it holds, and verification must refuse it for exactly that.
        let unvouched = covers[1 - plan.me as usize] > 0 && plan.checkpoints.len() < 2;
        if unvouched {
            let severed = self
                .chans
                .iter()
                .any(|c| c.id == id && Some(pair(c.parties[0], c.parties[1])) == self.severed);
            // Once everything is delivered, a peer that received our entries has
            // answered with a checkpoint; only a proposal never answered has none.
            if self.final_phase && !severed && covers[plan.me as usize] > 0 {
                bail!("{name}'s final export of {ch} has no checkpoint of the peer's");
            }
            return match hotline_core::export::verify(&text) {
                Err(f) if f.what.contains("none of its checkpoints") => Ok(()),
                Err(f) => bail!("{name}'s export of {ch} without the peer's checkpoint fails otherwise: {f}"),
                Ok(_) => bail!("{name}'s export of {ch} verifies without a checkpoint of the peer's, which has entries in it"),
            };
        }
        let sum = hotline_core::export::verify(&text)
            .map_err(|e| format!("{name}'s export of {ch} fails verification: {e}"))?;
        let (counts, state, lacks) = (sum.counts, sum.state, sum.undelivered_from_peer);
        if counts != covers {
            bail!("{name}'s export of {ch} holds {counts:?} entries, its checkpoint {covers:?}");
        }
        if self.final_phase {
            let severed = |c: &ChanSpec| Some(pair(c.parties[0], c.parties[1])) == self.severed;
            if lacks != 0 && !self.chans.iter().any(|c| c.id == id && severed(c)) {
                bail!("{name}'s final export of {ch} lacks {lacks} entries the peer certified");
            }
            let m = self.checker.mirrors[st].get(&id);
            let word = m.map_or("none", |m| m.word());
            if word != state {
                bail!("{name}'s export of {ch} verifies to state {state}, the store {word}");
            }
        }
        self.stats.exports_verified += 1;
        Ok(())
    }

    /// A local user does something on a channel, as the API would ask.
    fn user_action(&mut self, st: usize) -> Res {
        let Some(id) = self.chan_of(st) else {
            return Ok(());
        };
        let (now, p, name) = (self.clock(st), self.p_terminate, self.stations[st].name);
        let book = self.stations[st].channel(&id).expect("held").book();
        let Some(body) = user_body(&mut self.rng, book, now, p) else {
            return Ok(());
        };
        let (kind, by) = (body.kind(), format!("user-{}", name.to_lowercase()));
        match self.stations[st].author(&id, body, &by, now) {
            Ok((a, s)) => {
                self.stats.user_entries += 1;
                self.note(format!("{name} authors {kind:?} {a}/{s} on {}", short(&id)));
            }
            // A proposal from a key its author rotated away from waits for
            // that rotation to arrive before it can be accepted.
            Err(r @ (Refusal::Forbidden(_) | Refusal::Unverified | Refusal::PeerKeyRetired)) => {
                self.stats.refusals += 1;
                self.note(format!("{name} refused {kind:?}: {r}"));
            }
            Err(r) => bail!("{name} refused a well-formed {kind:?}: {r}"),
        }
        Ok(())
    }

    fn tick(&mut self, st: usize) -> Res {
        let (now, name) = (self.clock(st), self.stations[st].name);
        // A rotation a crash cut short is finished first.
        let rotated = self.stations[st].rotate(now)?;
        if rotated > 0 {
            self.note(format!(
                "{name} finishes a rotation: {rotated} KeyRotation entries"
            ));
        }
        for kind in self.stations[st].tick(now)? {
            self.stats.policy_entries += 1;
            self.stats.contact_checks += (kind == Kind::ContactCheck) as u64;
            self.stats.deadline_actions += matches!(kind, Kind::Suspend | Kind::Terminate) as u64;
            self.note(format!("{name} policy authors {kind:?}"));
        }
        after_tick(&self.stations[st], now)
    }

    /// Sends what the outbound session to `to` has (connecting first if it can).
    fn pump(&mut self, from: usize, to: usize, max: usize) -> Res {
        if !self.stations[from].up() {
            return Ok(());
        }
        if self.stations[from].session(to).is_none() {
            if !self.stations[to].up() || !self.linked(from, to) {
                return Ok(());
            }
            self.epoch += 1;
            let hello = machine::hello(self.stations[to].with(from));
            self.stations[from].connect(to, self.epoch, &hello);
            self.note(format!("{from}→{to} connects (session {})", self.epoch));
        }
        let epoch = self.stations[from].session(to).unwrap_or(0);
        for msg in self.stations[from].pump(to, max)? {
            self.send(from, to, msg, epoch, false);
        }
        Ok(())
    }

    /// Hands a packet to its receiver. Only a few rejections can happen
    /// between honest stations, and foreign traffic must be rejected whole.
    fn deliver(&mut self, p: Packet) -> Res {
        let (from, to, what) = (p.from, p.to, p.describe());
        if !self.stations[to].up() || self.stations[to].incarnation != p.to_incarnation {
            self.stats.dropped += 1;
            let why = "the receiver restarted or is down";
            self.note(format!("{from}→{to} {what} is lost: {why}"));
            return Ok(());
        }
        self.stats.delivered += 1;
        let (now, s) = (self.clock(to), &mut self.stations[to]);
        let first = match &p.msg {
            LinkMsg::Entries { envelopes, .. } => envelopes.first(),
            _ => None,
        };
        let first = first.and_then(|b| Envelope::decode(b, MAX_ENTRY_BYTES_CAP as usize).ok());
        let first_is_open = first.is_some_and(|e| e.peek().is_ok_and(|e| e.is_open()));
        if matches!(p.msg, LinkMsg::Error { .. }) && s.session(from) == Some(p.epoch) {
            s.disconnect(from);
        }
        let (applied, held, fault) = s.receive(from, p.msg, p.epoch, now);
        self.stats.received += applied as u64;
        self.stats.unverified += held as u64;
        let note = format!("{from}→{to} delivers {what}: {applied} new, {fault:?}");
        self.note(note);
        if p.foreign {
            if applied > 0 || fault.is_none() {
                bail!("station {to} took foreign {what}: {applied} applied, {fault:?}");
            }
            self.stats.foreign_rejected += 1;
            return Ok(());
        }
        let c = &mut self.stats;
        let reordered = |r: &Reject| matches!(r, SeqGap { .. });
        match &fault {
            None => {}
            // The network reordered: a later batch came before an earlier one.
            Some(Entry { reject, .. }) if reordered(reject) => c.out_of_order += 1,
            Some(Proposal(BadOpen(_))) if !first_is_open => c.out_of_order += 1,
            Some(f) => bail!("station {to} rejected honest {what} from station {from}: {f:?}"),
        }
        Ok(())
    }

    /// Misrouted traffic, which must be refused whole: a counterpart's own entries reflected back
    /// to it, or (three stations) a channel's entries or checkpoint sent to the station outside it.
    fn foreign(&mut self, st: usize) -> Res {
        let n = self.stations.len();
        let reflect = n < 3 || self.rng.chance(300);
        let mine = |c: &&ChanSpec| c.other(st).is_some();
        let mine: Vec<&ChanSpec> = self.chans.iter().filter(mine).collect();
        let Some(spec) = self.rng.pick(&mine).cloned() else {
            return Ok(());
        };
        let (id, me) = (spec.id, spec.author_of(st).expect("party"));
        let (to, channel) = if reflect {
            (spec.parties[1 - me as usize], id)
        } else {
            let outsiders: Vec<usize> = (0..n).filter(|t| spec.author_of(*t).is_none()).collect();
            let Some(to) = self.rng.pick(&outsiders) else {
                return Ok(());
            };
            // Labelled with its own channel, or with a channel `st` and `to` share.
            let shared = self.chans.iter().find(|c| c.other(st) == Some(to));
            let relabel = self.rng.chance(500);
            (to, shared.filter(|_| relabel).map_or(id, |c| c.id))
        };
        let store = &self.stations[st].store;
        let msg = if reflect || self.rng.chance(700) {
            // Reflected: the counterpart's entries from seq 1 to 3; misrouted: our own.
            let (author, from, n) = match reflect {
                true => (1 - me, self.rng.range(1, 3), self.rng.range(1, 3) as usize),
                false => (me, 1, self.rng.range(1, 4) as usize),
            };
            let rows = store.chain_from(&id, author, from, n).map_err(db)?;
            let envelopes: Vec<Vec<u8>> = rows.into_iter().map(|r| r.envelope).collect();
            (!envelopes.is_empty()).then_some(LinkMsg::Entries { channel, envelopes })
        } else {
            let envelope = store.checkpoint(&id, me).map_err(db)?;
            envelope.map(|envelope| LinkMsg::Checkpoint { envelope })
        };
        let Some(msg) = msg else {
            return Ok(());
        };
        let how = if reflect { "reflects" } else { "misroutes" };
        self.note(format!("{st} {how} traffic of {} to {to}", short(&id)));
        self.send(st, to, msg, 0, true);
        Ok(())
    }

    /// Heals, restarts, verifies every fingerprint, runs a reliable network until nothing moves.
    fn drain(&mut self) -> Res {
        self.note("— drain: heal, restart, verify, deliver in order —".into());
        self.partitioned = self.severed.into_iter().collect();
        let n = self.stations.len();
        for st in 0..n {
            if !self.stations[st].up() {
                self.restart(st)?;
            }
            for other in (0..n).filter(|o| *o != st) {
                let now = self.clock(st);
                self.stations[st].verify_peer(other, now)?;
            }
        }
        for round in 0..DRAIN_ROUNDS {
            self.step += 1;
            // Every connection is re-dialled: one that lost packets would have broken (missed
            // pongs), and the new Hello says where to resume.
            for st in 0..n {
                for other in 0..n {
                    self.stations[st].disconnect(other);
                }
                self.flush(st, usize::MAX)?;
            }
            let sent = self.stats.sent;
            for [x, y] in self.chans.iter().map(|c| c.parties).collect::<Vec<_>>() {
                self.pump(x, y, usize::MAX)?;
                self.pump(y, x, usize::MAX)?;
            }
            let mut moved = self.stats.sent > sent;
            while let Some(p) = self.deliverable().first().and_then(|&i| self.net.remove(i)) {
                moved = true;
                let to = p.to;
                self.deliver(p)?;
                self.flush(to, usize::MAX)?;
                self.settle()?;
            }
            self.settle()?;
            let queued = self.stations.iter().any(|s| s.pending() > 0);
            let behind = self.chans.iter().any(|c| {
                let ([x, y], s) = (c.parties, &self.stations);
                self.linked(x, y) && !(s[x].caught_up(y) && s[y].caught_up(x))
            });
            if !moved && !queued && !behind {
                self.note(format!("drain quiet after {round} rounds"));
                return Ok(());
            }
        }
        bail!("the line does not converge: still moving after {DRAIN_ROUNDS} drain rounds")
    }

    /// After the drain: every accepted entry durable, every store its mirror, both ends of a linked
    /// channel one transcript with every entry proven delivered, every channel exported cleanly.
    fn final_checks(&mut self) -> Res<Hash> {
        if let Some((st, _, e)) = self.checker.unconfirmed.first() {
            bail!("{e:?}, reported accepted by station {st}, never reached its store");
        }
        for s in &self.stations {
            self.checker.store_matches_mirror(s, &self.chans)?;
        }
        for spec in &self.chans {
            let ([x, y], id) = (spec.parties, short(&spec.id));
            if !self.linked(x, y) {
                continue;
            }
            let mirror = |st: usize| self.checker.mirrors[st].get(&spec.id);
            let [hx, hy] = [x, y].map(|st| mirror(st).map(|m| m.heads()));
            if hx != hy {
                let [x, y] = [x, y].map(|st| self.stations[st].name);
                let [hx, hy] = [hx, hy].map(|h| h.map(|h| h.map(|h| h.0)));
                bail!("after draining, {id} differs: {x} holds {hx:?}, {y} holds {hy:?}");
            }
            for (author, &st) in spec.parties.iter().enumerate() {
                let (m, name) = (mirror(st).expect("converged"), self.stations[st].name);
                let (own, ck) = (m.heads()[author], m.ckpts[1 - author].as_ref());
                let ck = ck.map(|c| c.checkpoint().heads[author]);
                if own.0 > 0 && ck != Some(own) {
                    let (upto, ck) = (own.0, ck.map(|h| h.0));
                    bail!("after draining, no checkpoint covers {name}'s {id} to {upto} ({ck:?})");
                }
            }
            let ended = mirror(x).is_some_and(|m| m.word() == "terminated");
            self.stats.terminated += ended as u64;
        }
        self.final_phase = true;
        for st in 0..self.stations.len() {
            let now = self.clock(st);
            for id in self.stations[st].channel_ids() {
                self.stations[st].export(&id, now);
            }
            self.flush(st, usize::MAX)?;
        }
        self.checker.step(&self.stations, &self.chans)?;
        self.stats.accepted = self.checker.confirmed;
        self.stats.suspended = self.suspended_seen.len() as u64;
        let mirrors = self.checker.mirrors.iter().flatten();
        let heads: Vec<_> = mirrors.map(|(id, m)| (id, m.heads())).collect();
        Ok(hotline_proto::sha256(format!("{heads:?}").as_bytes()))
    }
}
