//! The simulated world: stations, the network between them, the clock, the
//! random actions of one run, and the drain and final checks at its end.

use crate::check::{Accepted, Checker};
use crate::net::{describe, Msg, Packet};
use crate::rng::Rng;
use crate::station::{Batch, Origin, Station, ALL};
use hotline_core::book::{Refusal, Reject};
use hotline_core::export;
use hotline_core::machine::{is_policy_key, Effect, ExportPlan, Fault as MachineFault};
use hotline_core::Phase;
use hotline_proto::{
    Body, ContactSchedule, Hash, Identity, Kind, OnMiss, Precedence, SecretKeys, Terms,
};
use hotline_store::{Store, WriteOp, WriteResult};
use std::collections::{BTreeSet, VecDeque};
use std::fmt;

/// A deliberately broken station, to show that the checkers see what they claim to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// The station as designed: report, reply and send only after the commit.
    None,
    /// Reports an own entry accepted when it is submitted, before it is committed.
    AckBeforeCommit,
    /// Answers the peer's entries with a checkpoint before they are committed.
    CheckpointBeforeCommit,
}

/// How one run is set up; anything left `None` is drawn from the seed.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// Broken variant, if any.
    pub fault: Fault,
    /// 2 stations (one channel) or 3 (channels A–B and A–C).
    pub stations: Option<usize>,
    /// Random steps before the drain.
    pub steps: Option<usize>,
    /// Two stations that never reach each other, draining included: the other
    /// channel must still work to the end (isolation).
    pub severed: Option<(usize, usize)>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            fault: Fault::None,
            stations: None,
            steps: None,
            severed: None,
        }
    }
}

/// What happened in a run (or, added up, in many): tests assert that the
/// simulation reached the situations it claims to test.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    /// Runs added up here.
    pub runs: u64,
    /// Runs with three stations.
    pub three_station_runs: u64,
    /// Random steps taken.
    pub steps: u64,
    /// Own entries reported accepted and confirmed durable.
    pub accepted: u64,
    /// Local user entries authored.
    pub user_entries: u64,
    /// Local user requests the station refused (state, verification).
    pub refusals: u64,
    /// Entries the policy engine authored.
    pub policy_entries: u64,
    /// Of those, contact checks.
    pub contact_checks: u64,
    /// Of those, deadline `Suspend`s and `Terminate`s.
    pub deadline_actions: u64,
    /// Policy alerts raised (committed).
    pub alerts_raised: u64,
    /// Counterpart entries taken in by a receive path.
    pub received: u64,
    /// Group commits.
    pub commits: u64,
    /// Crashes.
    pub crashes: u64,
    /// Crashes that threw away queued, uncommitted writes.
    pub crashes_losing_work: u64,
    /// Packets sent.
    pub sent: u64,
    /// Packets delivered to a live receiver.
    pub delivered: u64,
    /// Packets dropped by the network, or addressed to a dead process.
    pub dropped: u64,
    /// Packets duplicated.
    pub duplicated: u64,
    /// Batches rejected because they arrived out of order (reordering).
    pub out_of_order: u64,
    /// Batches rejected because the receiver has not verified the sender yet.
    pub unverified: u64,
    /// Foreign packets (another channel's traffic) rejected with nothing stored.
    pub foreign_rejected: u64,
    /// Exports written and verified offline.
    pub exports_verified: u64,
    /// Channels that ended terminated.
    pub terminated: u64,
    /// Channels that were seen suspended at some step.
    pub suspended: u64,
    /// Partitions begun.
    pub partitions: u64,
}

impl Stats {
    /// Adds another run's numbers.
    pub fn add(&mut self, o: &Stats) {
        macro_rules! sum {
            ($($f:ident),*) => { $(self.$f += o.$f;)* };
        }
        sum!(
            runs,
            three_station_runs,
            steps,
            accepted,
            user_entries,
            refusals,
            policy_entries,
            contact_checks,
            deadline_actions,
            alerts_raised,
            received,
            commits,
            crashes,
            crashes_losing_work,
            sent,
            delivered,
            dropped,
            duplicated,
            out_of_order,
            unverified,
            foreign_rejected,
            exports_verified,
            terminated,
            suspended,
            partitions
        );
    }
}

/// The result of a run that kept every invariant.
#[derive(Debug, Clone)]
pub struct Report {
    /// What happened.
    pub stats: Stats,
    /// SHA-256 over every station's final transcripts: equal digests, equal runs.
    pub digest: Hash,
    /// Every channel as it ended.
    pub channels: Vec<ChannelEnd>,
}

/// How one channel ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelEnd {
    /// Station index of author 0 and of author 1.
    pub parties: [usize; 2],
    /// Entries of author 0 and author 1 held in each party's store (author-0 station first).
    pub held: [[u64; 2]; 2],
    /// The channel state word at each party ("none" if it never stored the channel).
    pub state: [&'static str; 2],
}

/// A broken invariant, with what is needed to replay it.
#[derive(Debug, Clone)]
pub struct Failure {
    /// The run's seed: `HOTLINE_SIM_SEED=<seed>` replays it.
    pub seed: u64,
    /// The step at which it broke (steps past the random ones are the drain).
    pub step: usize,
    /// What broke.
    pub what: String,
    /// The last actions before it.
    pub trace: Vec<String>,
    /// The options of the run, needed with the seed to replay it.
    pub options: Options,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "simulation seed {} failed at step {}:",
            self.seed, self.step
        )?;
        writeln!(f, "  {}", self.what)?;
        writeln!(f, "last actions:")?;
        for t in &self.trace {
            writeln!(f, "  {t}")?;
        }
        let o = &self.options;
        if o.fault == Fault::None
            && o.stations.is_none()
            && o.steps.is_none()
            && o.severed.is_none()
        {
            write!(
                f,
                "replay: HOTLINE_SIM_SEED={} cargo test -p hotline-sim sim_ci -- --nocapture",
                self.seed
            )
        } else {
            write!(f, "replay: hotline_sim::run({}, &{o:?})", self.seed)
        }
    }
}

/// One channel of the world.
#[derive(Debug, Clone)]
pub(crate) struct ChanSpec {
    /// Channel id.
    pub id: Hash,
    /// Station index of author 0 and author 1.
    pub parties: [usize; 2],
    /// Identities of author 0 and author 1.
    pub identities: [Identity; 2],
}

impl ChanSpec {
    /// This station's author index in the channel, if it is a party.
    pub(crate) fn author_of(&self, st: usize) -> Option<u8> {
        self.parties.iter().position(|p| *p == st).map(|i| i as u8)
    }
}

/// Relative weights of the random actions, indexed by the constants below;
/// drawn per seed so that runs differ in kind, not only in detail.
struct Weights([u64; 17]);

const USER: usize = 0;
const FLUSH: usize = 1;
const PUMP: usize = 2;
const DELIVER: usize = 3;
const DUPLICATE: usize = 4;
const DROP: usize = 5;
const TICK: usize = 6;
const CLOCK: usize = 7;
const CRASH: usize = 8;
const RESTART: usize = 9;
const PARTITION: usize = 10;
const RECONNECT: usize = 11;
const VERIFY: usize = 12;
const EXPORT: usize = 13;
const FOREIGN: usize = 14;
const FLUSH_ALL: usize = 15;
const OPEN: usize = 16;
/// Most channels between one pair of stations (the first and a later one, often a reopening).
const CHANNELS_PER_PAIR: usize = 2;

/// Lines of trace kept for a failure report.
const TRACE: usize = 60;
/// Rounds the drain may take before the line counts as stuck.
const DRAIN_ROUNDS: usize = 60;
const HOUR: u64 = 3_600_000;
const MINUTE: u64 = 60_000;

/// Everything one run owns; the only source of randomness is `rng`.
struct World {
    /// Every choice of the run comes from here, so the seed replays it.
    rng: Rng,
    /// The world's clock (Unix ms); each station reads it plus its own skew.
    now: u64,
    /// The stations, by index (A = 0, B = 1, C = 2).
    stations: Vec<Station>,
    /// Every channel opened so far, with its parties.
    chans: Vec<ChanSpec>,
    /// Packets in flight, oldest first; delivery may pick any of them.
    net: VecDeque<Packet>,
    /// Station pairs that cannot reach each other now.
    partitioned: BTreeSet<(usize, usize)>,
    /// A pair kept apart for the whole run (`Options::severed`).
    severed: Option<(usize, usize)>,
    /// The invariants and the durable picture they are checked against.
    checker: Checker,
    /// How often each kind of action is drawn in this run.
    weights: Weights,
    /// What happened, for the tests' coverage assertions.
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

/// Runs one seed: random steps with every invariant checked after each, then
/// heal, drain, and check that both ends converged and export cleanly.
pub fn run(seed: u64, opts: &Options) -> Result<Report, Box<Failure>> {
    let mut w = match World::new(seed, opts) {
        Ok(w) => w,
        Err(what) => {
            return Err(Box::new(Failure {
                seed,
                step: 0,
                what,
                trace: vec![],
                options: *opts,
            }))
        }
    };
    let steps = opts.steps.unwrap_or(100 + w.rng.below(200) as usize);
    match w.go(steps) {
        Ok(digest) => Ok(Report {
            stats: w.stats.clone(),
            digest,
            channels: w.channel_ends(),
        }),
        Err(what) => Err(Box::new(Failure {
            seed,
            step: w.step,
            what,
            trace: w.trace.iter().cloned().collect(),
            options: *opts,
        })),
    }
}

fn random_terms(rng: &mut Rng) -> Terms {
    let contact = if rng.chance(750) {
        ContactSchedule::Every(rng.range(5, 60) * MINUTE)
    } else {
        let mut mins: Vec<u32> = (0..rng.range(1, 3))
            .map(|_| rng.below(24 * 60) as u32)
            .collect();
        mins.sort_unstable();
        mins.dedup();
        ContactSchedule::At(mins)
    };
    Terms {
        contact,
        contact_grace_permille: rng.range(1000, 3000) as u32,
        ack_windows_ms: [
            rng.range(1, 10) * MINUTE,
            rng.range(5, 30) * MINUTE,
            rng.range(30, 180) * MINUTE,
            rng.range(60, 360) * MINUTE,
        ],
        ..Terms::default()
    }
}

impl World {
    fn new(seed: u64, opts: &Options) -> Result<World, String> {
        let mut rng = Rng::new(seed);
        let n = opts.stations.unwrap_or(if rng.chance(250) { 3 } else { 2 });
        if !(2..=3).contains(&n) {
            return Err("the simulator runs 2 or 3 stations".into());
        }
        let now = 1_700_000_000_000 + rng.below(24 * HOUR);
        let mut stations = Vec::new();
        for i in 0..n {
            let keys = SecretKeys::from_bytes(&rng.bytes::<96>()).map_err(|e| e.to_string())?;
            stations.push(Station::new(i, keys, rng.below(2 * MINUTE), n, opts.fault)?);
        }
        for i in 0..n {
            for j in 0..n {
                if i != j {
                    let (name, id) = (stations[j].name.clone(), stations[j].identity);
                    let verified = rng.chance(800);
                    stations[i].pin(j, &name, &id, verified)?;
                }
            }
            stations[i].start()?;
        }
        let mut weights = [0u64; 17];
        let base: [(usize, u64, u64); 17] = [
            (USER, 10, 30),
            (FLUSH, 5, 25),
            (PUMP, 5, 20),
            (DELIVER, 10, 35),
            (DUPLICATE, 0, 5),
            (DROP, 0, 5),
            (TICK, 3, 15),
            (CLOCK, 3, 15),
            (CRASH, 0, 5),
            (RESTART, 8, 8),
            (PARTITION, 0, 3),
            (RECONNECT, 0, 5),
            (VERIFY, 1, 1),
            (EXPORT, 0, 2),
            (FOREIGN, 0, 4),
            (FLUSH_ALL, 2, 10),
            (OPEN, 0, 2),
        ];
        for (k, lo, hi) in base {
            weights[k] = rng.range(lo, hi);
        }
        let mut w = World {
            p_terminate: if rng.chance(300) { 15 } else { 3 },
            rng,
            now,
            stations,
            chans: vec![],
            net: VecDeque::new(),
            partitioned: BTreeSet::new(),
            severed: opts.severed.map(|(a, b)| pair(a, b)),
            checker: Checker::new(n),
            weights: Weights(weights),
            stats: Stats {
                runs: 1,
                three_station_runs: (n == 3) as u64,
                ..Stats::default()
            },
            trace: VecDeque::new(),
            step: 0,
            epoch: 0,
            final_phase: false,
            suspended_seen: BTreeSet::new(),
        };
        if let Some(p) = w.severed {
            w.partitioned.insert(p);
        }
        let pairs: Vec<(usize, usize)> = if n == 2 {
            vec![(0, 1)]
        } else {
            vec![(0, 1), (0, 2)]
        };
        for (x, y) in pairs {
            let (opener, other) = if w.rng.chance(500) { (x, y) } else { (y, x) };
            w.open_channel(opener, other, None)?;
        }
        w.checker.step(&w.stations, &w.chans)?;
        Ok(w)
    }

    /// `opener` opens a channel to `other`; the station waits for the commit.
    fn open_channel(
        &mut self,
        opener: usize,
        other: usize,
        reopens: Option<Hash>,
    ) -> Result<(), String> {
        let terms = random_terms(&mut self.rng);
        let now = self.clock(opener);
        let peer_id = self.stations[other].identity;
        let id = self.stations[opener].open_channel(other, terms, reopens, now)?;
        self.chans.push(ChanSpec {
            id,
            parties: [opener, other],
            identities: [self.stations[opener].identity, peer_id],
        });
        self.note(format!(
            "{} opens channel {} to {}{}",
            self.stations[opener].name,
            crate::short(&id),
            self.stations[other].name,
            reopens
                .map(|r| format!(", reopening {}", crate::short(&r)))
                .unwrap_or_default()
        ));
        self.flush(opener, usize::MAX)
    }

    /// A later channel between two stations that already share one, often
    /// reopening it: exercises a channel that appears while sessions are up.
    fn open_another(&mut self, st: usize) -> Result<(), String> {
        let Some(other) = self.other_party(st) else {
            return Ok(());
        };
        let between: Vec<Hash> = self
            .chans
            .iter()
            .filter(|c| c.author_of(st).is_some() && c.author_of(other).is_some())
            .map(|c| c.id)
            .collect();
        if between.len() >= CHANNELS_PER_PAIR || !self.stations[st].up() {
            return Ok(());
        }
        // Only an ended channel can be reopened; the machine refuses any other.
        let ended = |id: &Hash| {
            self.stations[st]
                .rt
                .as_ref()
                .and_then(|rt| rt.channels.get(id))
                .is_some_and(|c| !c.is_live())
        };
        let reopens = if self.rng.chance(600) {
            between.first().copied().filter(ended)
        } else {
            None
        };
        self.open_channel(st, other, reopens)
    }

    fn channel_ends(&self) -> Vec<ChannelEnd> {
        self.chans
            .iter()
            .map(|c| {
                let end = |st: usize| {
                    let m = self.checker.mirrors[st].get(&c.id);
                    let h = m.map(|m| m.heads()).unwrap_or([(0, [0; 32]); 2]);
                    let word = m
                        .and_then(|m| m.book.as_ref())
                        .map(|b| b.state().word())
                        .unwrap_or("none");
                    ([h[0].0, h[1].0], word)
                };
                let (a, b) = (end(c.parties[0]), end(c.parties[1]));
                ChannelEnd {
                    parties: c.parties,
                    held: [a.0, b.0],
                    state: [a.1, b.1],
                }
            })
            .collect()
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

    fn go(&mut self, steps: usize) -> Result<Hash, String> {
        for step in 1..=steps {
            self.step = step;
            self.stats.steps += 1;
            self.random_action()?;
            self.settle()?;
        }
        self.drain()?;
        self.final_checks()
    }

    /// After an action: carry out early effects (broken variants) and check.
    fn settle(&mut self) -> Result<(), String> {
        for st in 0..self.stations.len() {
            for (e, origin) in self.stations[st].take_outbox() {
                self.effect(st, e, origin)?;
            }
        }
        for spec in &self.chans {
            for &p in &spec.parties {
                if let Some(ch) = self.stations[p]
                    .rt
                    .as_ref()
                    .and_then(|rt| rt.channels.get(&spec.id))
                {
                    if ch.book().state().is_suspended() {
                        self.suspended_seen.insert(spec.id);
                    }
                }
            }
        }
        self.checker.step(&self.stations, &self.chans)
    }

    fn random_action(&mut self) -> Result<(), String> {
        let total: u64 = self.weights.0.iter().sum();
        let mut roll = self.rng.below(total);
        let mut kind = 0;
        for (k, wt) in self.weights.0.iter().enumerate() {
            if roll < *wt {
                kind = k;
                break;
            }
            roll -= wt;
        }
        let n = self.stations.len();
        let st = self.rng.below(n as u64) as usize;
        match kind {
            USER => self.user_action(st),
            FLUSH => {
                let k = self.rng.range(1, 3) as usize;
                self.flush(st, k)
            }
            FLUSH_ALL => {
                for i in 0..n {
                    self.flush(i, usize::MAX)?;
                }
                Ok(())
            }
            PUMP => {
                let to = self.other_party(st);
                let max = self.rng.range(1, 6) as usize;
                match to {
                    Some(to) => self.pump(st, to, max),
                    None => Ok(()),
                }
            }
            DELIVER => {
                let deliverable: Vec<usize> = (0..self.net.len())
                    .filter(|i| self.linked(self.net[*i].from, self.net[*i].to))
                    .collect();
                let pick = if self.rng.chance(500) {
                    deliverable.first().copied()
                } else {
                    self.rng.index(deliverable.len()).map(|i| deliverable[i])
                };
                match pick {
                    Some(i) => {
                        let p = self.net.remove(i).expect("index in range");
                        self.deliver(p)
                    }
                    None => Ok(()),
                }
            }
            DUPLICATE => {
                if let Some(i) = self.rng.index(self.net.len()) {
                    let p = self.net[i].clone();
                    self.note(format!("network duplicates {}", describe(&p.msg, p.epoch)));
                    self.stats.duplicated += 1;
                    self.net.push_back(p);
                }
                Ok(())
            }
            DROP => {
                if let Some(i) = self.rng.index(self.net.len()) {
                    let p = self.net.remove(i).expect("index in range");
                    self.note(format!("network drops {}", describe(&p.msg, p.epoch)));
                    self.stats.dropped += 1;
                }
                Ok(())
            }
            TICK => self.tick(st),
            CLOCK => {
                let dt = match self.rng.below(100) {
                    0..=69 => self.rng.range(1, 5_000),
                    70..=94 => self.rng.range(MINUTE, 30 * MINUTE),
                    _ => self.rng.range(HOUR, 6 * HOUR),
                };
                self.now += dt;
                self.note(format!("clock +{dt} ms"));
                Ok(())
            }
            CRASH => {
                if self.stations[st].up() {
                    self.crash(st);
                }
                Ok(())
            }
            RESTART => {
                let down: Vec<usize> = (0..n).filter(|i| !self.stations[*i].up()).collect();
                match self.rng.index(down.len()) {
                    Some(i) => self.restart(down[i]),
                    None => Ok(()),
                }
            }
            PARTITION => {
                let other = self.rng.below(n as u64 - 1) as usize;
                let other = if other >= st { other + 1 } else { other };
                let p = pair(st, other);
                if Some(p) == self.severed {
                    return Ok(());
                }
                if self.partitioned.remove(&p) {
                    self.note(format!("heal {}–{}", p.0, p.1));
                } else {
                    self.partitioned.insert(p);
                    self.stats.partitions += 1;
                    self.note(format!("partition {}–{}", p.0, p.1));
                    self.drop_sessions(p.0, p.1);
                }
                Ok(())
            }
            RECONNECT => {
                if let Some(to) = self.other_party(st) {
                    if let Some(rt) = self.stations[st].rt.as_mut() {
                        if rt.sessions.remove(&to).is_some() {
                            self.note(format!("{st}→{to} connection resets"));
                        }
                    }
                }
                Ok(())
            }
            VERIFY => {
                if let Some(to) = self.other_party(st) {
                    if self.stations[st].up() {
                        self.stations[st].verify_peer(to)?;
                        self.note(format!("{st} verifies {to}'s fingerprint"));
                    }
                }
                Ok(())
            }
            EXPORT => {
                if self.stations[st].up() {
                    if let Some(spec) = self.chan_of(st) {
                        let now = self.clock(st);
                        self.stations[st].export(&spec, now);
                        self.note(format!("{st} exports {}", crate::short(&spec)));
                    }
                }
                Ok(())
            }
            FOREIGN => self.foreign(st),
            OPEN => self.open_another(st),
            _ => unreachable!("weights cover every action"),
        }
    }

    fn other_party(&mut self, st: usize) -> Option<usize> {
        let peers: Vec<usize> = self
            .chans
            .iter()
            .filter_map(|c| c.author_of(st).map(|a| c.parties[1 - a as usize]))
            .collect();
        self.rng.index(peers.len()).map(|i| peers[i])
    }

    fn chan_of(&mut self, st: usize) -> Option<Hash> {
        let rt = self.stations[st].rt.as_ref()?;
        let ids: Vec<Hash> = rt.channels.keys().copied().collect();
        self.rng.index(ids.len()).map(|i| ids[i])
    }

    fn drop_sessions(&mut self, a: usize, b: usize) {
        for (x, y) in [(a, b), (b, a)] {
            if let Some(rt) = self.stations[x].rt.as_mut() {
                rt.sessions.remove(&y);
            }
        }
    }

    fn crash(&mut self, st: usize) {
        let lost = self.stations[st].crash();
        self.stats.crashes += 1;
        if lost > 0 {
            self.stats.crashes_losing_work += 1;
        }
        for other in 0..self.stations.len() {
            if let Some(rt) = self.stations[other].rt.as_mut() {
                rt.sessions.remove(&st);
            }
        }
        self.note(format!(
            "{} CRASHES with {lost} batches uncommitted",
            self.stations[st].name
        ));
    }

    fn restart(&mut self, st: usize) -> Result<(), String> {
        self.stations[st].start()?;
        self.note(format!("{} restarts", self.stations[st].name));
        self.checker.after_restart(&self.stations[st], &self.chans)
    }

    /// Commits up to `k` queued batches of a station, then performs their effects.
    fn flush(&mut self, st: usize, k: usize) -> Result<(), String> {
        let pending = self.stations[st]
            .rt
            .as_ref()
            .map(|rt| rt.pending.len())
            .unwrap_or(0);
        if pending == 0 {
            return Ok(());
        }
        let committed = self.stations[st].flush(k)?;
        self.stats.commits += 1;
        self.note(format!(
            "{} commits {} of {pending} batches",
            self.stations[st].name,
            k.min(pending)
        ));
        self.checker.ingest(&self.stations[st], &self.chans)?;
        self.committed(st, &committed)?;
        if k >= pending {
            self.alerts_match(st)?;
        }
        for (b, _) in committed {
            for e in b.after {
                self.effect(st, e, b.origin)?;
            }
        }
        Ok(())
    }

    /// What the checker learns from a group commit's writes and results:
    /// policy alerts raised (each at most once), new channels (isolation), and
    /// that an alert whose last write was a clear is closed, whatever channel
    /// it was raised with (SPEC §6: an alert clears when its cause does).
    fn committed(&mut self, st: usize, group: &[(Batch, Vec<WriteResult>)]) -> Result<(), String> {
        let mut last_is_clear = std::collections::BTreeMap::new();
        for (op, r) in group.iter().flat_map(|(b, rs)| b.ops.iter().zip(rs)) {
            match (op, r) {
                (WriteOp::RaiseAlert { channel, key, .. }, r) => {
                    last_is_clear.insert((*channel, key.clone()), false);
                    last_is_clear.insert((None, key.clone()), false);
                    if matches!(r, WriteResult::Alert(Some(_))) {
                        self.stats.alerts_raised += is_policy_key(key) as u64;
                        self.checker.raised(&self.stations[st], *channel, key)?;
                    }
                }
                (WriteOp::ClearAlert { channel, key, .. }, _) => {
                    last_is_clear.insert((*channel, key.clone()), true);
                }
                (WriteOp::Channel(_), _) => {
                    self.checker
                        .store_matches_mirror(&self.stations[st], &self.chans)?;
                }
                _ => {}
            }
        }
        let open = self.stations[st]
            .store
            .alerts(true, ALL)
            .map_err(|e| e.to_string())?;
        for a in open {
            // A clear without a channel closes the key on any channel.
            let cleared = |c: Option<Hash>| last_is_clear.get(&(c, a.key.clone())) == Some(&true);
            if cleared(a.channel) || cleared(None) {
                return Err(format!(
                    "{}: alert {} (channel {}) is still open after the station cleared it",
                    self.stations[st].name,
                    a.key,
                    a.channel
                        .map(|c| crate::short(&c))
                        .unwrap_or_else(|| "none".into())
                ));
            }
        }
        Ok(())
    }

    /// With nothing queued, the open policy alerts in memory are those in the store.
    fn alerts_match(&self, st: usize) -> Result<(), String> {
        let s = &self.stations[st];
        let Some(rt) = s.rt.as_ref() else {
            return Ok(());
        };
        let open = s.store.alerts(true, ALL).map_err(|e| e.to_string())?;
        for (id, ch) in &rt.channels {
            let stored: BTreeSet<String> = open
                .iter()
                .filter(|a| a.channel == Some(*id) && is_policy_key(&a.key))
                .map(|a| a.key.clone())
                .collect();
            if &stored != ch.open_alerts() {
                return Err(format!(
                    "{}: open policy alerts in memory {:?} differ from the store's {:?}",
                    s.name,
                    ch.open_alerts(),
                    stored
                ));
            }
        }
        Ok(())
    }

    /// Performs one effect of a station's committed step (or, in a broken
    /// variant, of a step not yet committed).
    fn effect(&mut self, st: usize, e: Effect, origin: Origin) -> Result<(), String> {
        match (e, origin) {
            (
                Effect::Committed {
                    channel,
                    author,
                    seq,
                    hash,
                    own: true,
                    ..
                },
                _,
            ) => self.checker.accepted(Accepted {
                station: st,
                incarnation: self.stations[st].incarnation,
                channel,
                author,
                seq,
                hash,
            }),
            (Effect::Reply(msg), Origin::Entries(to, epoch)) => {
                self.send(st, to, msg, epoch, false)
            }
            (Effect::Reply(msg), Origin::Checkpoint(to)) => self.send(st, to, msg, 0, false),
            (Effect::Close, Origin::Checkpoint(from)) => {
                if let Some(rt) = self.stations[st].rt.as_mut() {
                    rt.sessions.remove(&from);
                }
            }
            (Effect::Export(plan), _) => self.export(st, plan)?,
            _ => {}
        }
        Ok(())
    }

    fn send(&mut self, from: usize, to: usize, msg: Msg, epoch: u64, foreign: bool) {
        self.stats.sent += 1;
        self.note(format!("{from}→{to} sends {}", describe(&msg, epoch)));
        self.net.push_back(Packet {
            from,
            to,
            to_incarnation: self.stations[to].incarnation,
            msg,
            epoch,
            foreign,
        });
    }

    /// Writes an export from the store over the heads the fresh checkpoint
    /// covers, and verifies it as an oversight body would.
    fn export(&mut self, st: usize, plan: ExportPlan) -> Result<(), String> {
        let s = &self.stations[st];
        let text = hotline_store::export_text(&s.store, &plan)
            .map_err(|e| format!("{}: export cannot be written: {e}", s.name))?;
        let (channel, heads) = (plan.channel, plan.heads);
        let sum = export::verify(&text).map_err(|f| {
            format!(
                "{}'s export of {} fails verification: {f}",
                s.name,
                crate::short(&channel)
            )
        })?;
        if sum.counts != [heads[0].0, heads[1].0] {
            return Err(format!(
                "{}'s export holds {:?} entries, its checkpoint covers {:?}",
                s.name,
                sum.counts,
                [heads[0].0, heads[1].0]
            ));
        }
        if self.final_phase {
            let severed = self
                .chans
                .iter()
                .any(|c| c.id == channel && Some(pair(c.parties[0], c.parties[1])) == self.severed);
            if !severed && sum.undelivered_from_peer != 0 {
                return Err(format!(
                    "{}'s final export lacks {} entries its counterpart certified",
                    s.name, sum.undelivered_from_peer
                ));
            }
            let word = self.checker.mirrors[st]
                .get(&channel)
                .and_then(|m| m.book.as_ref())
                .map(|b| b.state().word());
            if word != Some(sum.state) {
                return Err(format!(
                    "{}'s export verifies to state {}, the station holds {word:?}",
                    s.name, sum.state
                ));
            }
        }
        self.stats.exports_verified += 1;
        Ok(())
    }

    /// A local user does something on a channel, as the API would ask.
    fn user_action(&mut self, st: usize) -> Result<(), String> {
        if !self.stations[st].up() {
            return Ok(());
        }
        let Some(id) = self.chan_of(st) else {
            return Ok(());
        };
        let now = self.clock(st);
        let body = {
            let book = self.stations[st].rt.as_ref().expect("up").channels[&id].book();
            user_body(&mut self.rng, book, now, self.p_terminate)
        };
        let Some(body) = body else {
            return Ok(());
        };
        let kind = body.kind();
        let by = format!("user-{}", self.stations[st].name.to_lowercase());
        match self.stations[st].author(&id, body, &by, now) {
            Ok(v) => {
                self.stats.user_entries += 1;
                self.note(format!(
                    "{} authors {:?} {}/{} on {}",
                    self.stations[st].name,
                    kind,
                    v.entry().author,
                    v.entry().seq,
                    crate::short(&id)
                ));
                Ok(())
            }
            Err(r @ (Refusal::Forbidden(_) | Refusal::Unverified)) => {
                self.stats.refusals += 1;
                self.note(format!("{} refused {kind:?}: {r}", self.stations[st].name));
                Ok(())
            }
            Err(r) => Err(format!(
                "{} refused a well-formed {kind:?}: {r}",
                self.stations[st].name
            )),
        }
    }

    fn tick(&mut self, st: usize) -> Result<(), String> {
        if !self.stations[st].up() {
            return Ok(());
        }
        let now = self.clock(st);
        let bodies = self.stations[st].tick(now)?;
        for b in &bodies {
            self.stats.policy_entries += 1;
            match b {
                Body::ContactCheck => self.stats.contact_checks += 1,
                Body::Suspend { .. } | Body::Terminate { .. } => self.stats.deadline_actions += 1,
                _ => {}
            }
            self.note(format!(
                "{} policy authors {:?}",
                self.stations[st].name,
                b.kind()
            ));
        }
        // SPEC §6: by now every own request past its deadline with no decision
        // has its alert open and, where the state allows it, its on_miss done.
        let rt = self.stations[st].rt.as_ref().expect("up");
        for (id, ch) in &rt.channels {
            let b = ch.book();
            if b.state().phase != Phase::Active {
                continue;
            }
            for (h, r) in &b.open_requests[b.me() as usize] {
                if r.deadline > now {
                    continue;
                }
                let key = format!("deadline-missed:{}", hotline_proto::hex(h));
                if !ch.open_alerts().contains(&key) {
                    return Err(format!(
                        "{}: request {} is past its deadline with no decision and no alert on {}",
                        self.stations[st].name,
                        &key[16..28],
                        crate::short(id)
                    ));
                }
                let kind = match r.on_miss {
                    OnMiss::Alert => continue,
                    OnMiss::Suspend => Kind::Suspend,
                    OnMiss::Terminate => Kind::Terminate,
                };
                if b.state().check(b.me(), kind).is_ok() && !b.deadline_acted.contains(h) {
                    return Err(format!(
                        "{}: request {} missed its deadline and its {kind:?} was not carried out",
                        self.stations[st].name,
                        &key[16..28]
                    ));
                }
            }
        }
        Ok(())
    }

    /// Sends what the outbound session to `to` has (connecting first if it can).
    fn pump(&mut self, from: usize, to: usize, max: usize) -> Result<(), String> {
        if !self.stations[from].up() {
            return Ok(());
        }
        let has_session = self.stations[from]
            .rt
            .as_ref()
            .is_some_and(|rt| rt.sessions.contains_key(&to));
        if !has_session {
            if !self.stations[to].up() || !self.linked(from, to) {
                return Ok(());
            }
            self.epoch += 1;
            let hello = self.stations[to].hello(from);
            self.stations[from].connect(to, self.epoch, &hello);
            self.note(format!("{from}→{to} connects (session {})", self.epoch));
        }
        let epoch = self.stations[from]
            .rt
            .as_ref()
            .and_then(|rt| rt.sessions.get(&to))
            .map_or(0, |s| s.epoch);
        for msg in self.stations[from].pump(to, max)? {
            self.send(from, to, msg, epoch, false);
        }
        Ok(())
    }

    fn deliver(&mut self, p: Packet) -> Result<(), String> {
        let to = p.to;
        let what = describe(&p.msg, p.epoch);
        if !self.stations[to].up() || self.stations[to].incarnation != p.to_incarnation {
            self.stats.dropped += 1;
            self.note(format!(
                "{}→{to} {what} is lost: the receiver restarted or is down",
                p.from
            ));
            return Ok(());
        }
        self.stats.delivered += 1;
        let now = self.clock(to);
        match p.msg {
            Msg::Entries { channel, envelopes } => {
                let first_is_open = envelopes.first().is_some_and(|b| {
                    hotline_proto::Envelope::decode(b, hotline_proto::MAX_ENTRY_BYTES_CAP as usize)
                        .ok()
                        .and_then(|e| e.peek().ok())
                        .is_some_and(|e| e.is_open())
                });
                let (applied, fault) =
                    self.stations[to].receive(p.from, channel, envelopes, p.epoch, now);
                self.stats.received += applied as u64;
                self.note(format!(
                    "{}→{to} delivers {what}: {applied} new, {fault:?}",
                    p.from
                ));
                self.judge_receive(p.from, to, p.foreign, applied, fault, first_is_open)
            }
            Msg::Checkpoint { envelope } => {
                let fault = self.stations[to].receive_checkpoint(p.from, &envelope, now);
                self.note(format!("{}→{to} delivers checkpoint: {fault:?}", p.from));
                match (fault, p.foreign) {
                    (None, false) => Ok(()),
                    (Some(_), true) => {
                        self.stats.foreign_rejected += 1;
                        Ok(())
                    }
                    (None, true) => Err(format!(
                        "station {to} took a checkpoint of a channel it is not party to"
                    )),
                    (Some(e), false) => Err(format!(
                        "station {to} rejected an honest checkpoint from {}: {e}",
                        p.from
                    )),
                }
            }
            Msg::Error { text, .. } => {
                self.note(format!(
                    "{}→{to} delivers error s{}: {text}",
                    p.from, p.epoch
                ));
                if let Some(rt) = self.stations[to].rt.as_mut() {
                    if rt.sessions.get(&p.from).is_some_and(|s| s.epoch == p.epoch) {
                        rt.sessions.remove(&p.from);
                    }
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }

    /// Only a few rejections can happen between honest stations, and foreign
    /// traffic must be rejected whole.
    fn judge_receive(
        &mut self,
        from: usize,
        to: usize,
        foreign: bool,
        applied: usize,
        fault: Option<MachineFault>,
        first_is_open: bool,
    ) -> Result<(), String> {
        if foreign {
            return if applied == 0 && fault.is_some() {
                self.stats.foreign_rejected += 1;
                Ok(())
            } else {
                Err(format!(
                    "station {to} took {applied} entries of a channel it is not party to ({fault:?})"
                ))
            };
        }
        let verified = self.stations[to].peer(from).verified;
        match fault {
            None => Ok(()),
            // The network reordered: a later batch came before an earlier one.
            Some(MachineFault::Entry {
                reject: Reject::SeqGap { .. },
                ..
            }) => {
                self.stats.out_of_order += 1;
                Ok(())
            }
            Some(MachineFault::Proposal(Reject::BadOpen(_))) if !first_is_open => {
                self.stats.out_of_order += 1;
                Ok(())
            }
            Some(MachineFault::Entry {
                reject: Reject::Unverified,
                ..
            }) if !verified => {
                self.stats.unverified += 1;
                Ok(())
            }
            Some(f) => Err(format!(
                "station {to} rejected honest entries from station {from}: {f:?}"
            )),
        }
    }

    /// A station sends its counterpart's own entries back to it: they are
    /// signed by the receiver, not by the link's peer, and must be refused.
    fn reflect(&mut self, st: usize) -> Result<(), String> {
        let mine: Vec<ChanSpec> = self
            .chans
            .iter()
            .filter(|c| c.author_of(st).is_some())
            .cloned()
            .collect();
        let Some(i) = self.rng.index(mine.len()) else {
            return Ok(());
        };
        let spec = &mine[i];
        let peer_author = 1 - spec.author_of(st).expect("party");
        let to = spec.parties[peer_author as usize];
        let from_seq = self.rng.range(1, 3);
        let rows = self.stations[st]
            .store
            .chain_from(
                &spec.id,
                peer_author,
                from_seq,
                self.rng.range(1, 3) as usize,
            )
            .map_err(|e| e.to_string())?;
        if rows.is_empty() {
            return Ok(());
        }
        self.note(format!(
            "{st} reflects {to}'s own entries of {} back to it",
            crate::short(&spec.id)
        ));
        let msg = Msg::Entries {
            channel: spec.id,
            envelopes: rows.into_iter().map(|r| r.envelope).collect(),
        };
        self.send(st, to, msg, 0, true);
        Ok(())
    }

    /// Isolation: a station sends another channel's traffic to a station outside it.
    fn foreign(&mut self, st: usize) -> Result<(), String> {
        if self.stations.len() < 3 || self.rng.chance(300) {
            return self.reflect(st);
        }
        let mine: Vec<ChanSpec> = self
            .chans
            .iter()
            .filter(|c| c.author_of(st).is_some())
            .cloned()
            .collect();
        let Some(i) = self.rng.index(mine.len()) else {
            return Ok(());
        };
        let spec = &mine[i];
        let outsiders: Vec<usize> = (0..self.stations.len())
            .filter(|t| spec.author_of(*t).is_none())
            .collect();
        let Some(j) = self.rng.index(outsiders.len()) else {
            return Ok(());
        };
        let to = outsiders[j];
        let me = spec.author_of(st).expect("party");
        // Label the traffic with its own channel, or with a channel `st` and `to` share.
        let shared = self
            .chans
            .iter()
            .find(|c| c.author_of(st).is_some() && c.author_of(to).is_some())
            .map(|c| c.id);
        let label = if self.rng.chance(500) {
            shared.unwrap_or(spec.id)
        } else {
            spec.id
        };
        let msg = if self.rng.chance(700) {
            let rows = self.stations[st]
                .store
                .chain_from(&spec.id, me, 1, self.rng.range(1, 4) as usize)
                .map_err(|e| e.to_string())?;
            if rows.is_empty() {
                return Ok(());
            }
            Msg::Entries {
                channel: label,
                envelopes: rows.into_iter().map(|r| r.envelope).collect(),
            }
        } else {
            let Some(bytes) = self.stations[st]
                .store
                .checkpoint(&spec.id, me)
                .map_err(|e| e.to_string())?
            else {
                return Ok(());
            };
            Msg::Checkpoint { envelope: bytes }
        };
        self.note(format!(
            "{st} misroutes channel {}'s traffic to {to}",
            crate::short(&spec.id)
        ));
        self.send(st, to, msg, 0, true);
        Ok(())
    }

    /// Heals the network, restarts every station, confirms every fingerprint,
    /// and runs a reliable network until nothing moves.
    fn drain(&mut self) -> Result<(), String> {
        self.note("— drain: heal, restart, verify, deliver in order —".into());
        self.partitioned.clear();
        if let Some(p) = self.severed {
            self.partitioned.insert(p);
        }
        let n = self.stations.len();
        for st in 0..n {
            if !self.stations[st].up() {
                self.restart(st)?;
            }
        }
        for st in 0..n {
            for other in 0..n {
                if other != st {
                    self.stations[st].verify_peer(other)?;
                }
            }
        }
        for round in 0..DRAIN_ROUNDS {
            self.step += 1;
            // Every connection is re-dialled: a session that lost packets in the
            // random phase would have broken (missed pongs), and the new Hello
            // says where to resume.
            for st in 0..n {
                for other in 0..n {
                    if let Some(rt) = self.stations[st].rt.as_mut() {
                        rt.sessions.remove(&other);
                    }
                }
                self.flush(st, usize::MAX)?;
            }
            let mut moved = false;
            for spec in self.chans.clone() {
                for (from, to) in [
                    (spec.parties[0], spec.parties[1]),
                    (spec.parties[1], spec.parties[0]),
                ] {
                    if !self.linked(from, to) {
                        continue;
                    }
                    let before = self.net.len();
                    self.pump(from, to, usize::MAX)?;
                    moved |= self.net.len() > before;
                }
            }
            while let Some(i) =
                (0..self.net.len()).find(|i| self.linked(self.net[*i].from, self.net[*i].to))
            {
                moved = true;
                let p = self.net.remove(i).expect("index in range");
                let to = p.to;
                self.deliver(p)?;
                self.flush(to, usize::MAX)?;
                self.settle()?;
            }
            self.settle()?;
            let queued = self
                .stations
                .iter()
                .any(|s| s.rt.as_ref().is_some_and(|rt| !rt.pending.is_empty()));
            let behind = self.chans.iter().any(|c| {
                let [x, y] = c.parties;
                self.linked(x, y)
                    && (!self.stations[x].caught_up(y) || !self.stations[y].caught_up(x))
            });
            if !moved && !queued && !behind {
                self.note(format!("drain quiet after {round} rounds"));
                return Ok(());
            }
        }
        Err(format!(
            "the line does not converge: still moving after {DRAIN_ROUNDS} drain rounds"
        ))
    }

    fn final_checks(&mut self) -> Result<Hash, String> {
        self.checker.all_confirmed()?;
        for s in &self.stations {
            self.checker.store_matches_mirror(s, &self.chans)?;
        }
        for spec in self.chans.clone() {
            let [x, y] = spec.parties;
            let (mx, my) = (
                self.checker.mirrors[x].get(&spec.id),
                self.checker.mirrors[y].get(&spec.id),
            );
            let hx = mx.map(|m| m.heads());
            let hy = my.map(|m| m.heads());
            if self.linked(x, y) {
                if hx != hy {
                    return Err(format!(
                        "after draining, channel {} differs: {} holds {:?}, {} holds {:?}",
                        crate::short(&spec.id),
                        self.stations[x].name,
                        hx.map(|h| [h[0].0, h[1].0]),
                        self.stations[y].name,
                        hy.map(|h| [h[0].0, h[1].0])
                    ));
                }
                // Every own entry is proven delivered by the counterpart's stored checkpoint.
                for (author, &st) in spec.parties.iter().enumerate() {
                    let m = self.checker.mirrors[st].get(&spec.id).expect("converged");
                    let own = m.heads()[author];
                    let peer_ck = m.ckpts[1 - author]
                        .as_ref()
                        .map(|c| c.checkpoint().heads[author]);
                    if own.0 > 0 && peer_ck != Some(own) {
                        return Err(format!(
                            "after draining, {}'s entries up to {} are not all covered by the counterpart's checkpoint ({:?})",
                            self.stations[st].name,
                            own.0,
                            peer_ck.map(|h| h.0)
                        ));
                    }
                }
                if let Some(b) = mx.and_then(|m| m.book.as_ref()) {
                    if b.state().phase == Phase::Terminated {
                        self.stats.terminated += 1;
                    }
                }
            }
        }
        self.final_phase = true;
        for st in 0..self.stations.len() {
            let ids: Vec<Hash> = self.stations[st]
                .rt
                .as_ref()
                .expect("up")
                .channels
                .keys()
                .copied()
                .collect();
            let now = self.clock(st);
            for id in ids {
                self.stations[st].export(&id, now);
            }
            self.flush(st, usize::MAX)?;
        }
        self.checker.step(&self.stations, &self.chans)?;
        self.stats.accepted = self.checker.confirmed() as u64;
        self.stats.suspended = self.suspended_seen.len() as u64;
        let mut all = Vec::new();
        for m in &self.checker.mirrors {
            for (id, mm) in m {
                all.extend_from_slice(id);
                for h in mm.heads() {
                    all.extend_from_slice(&h.0.to_be_bytes());
                    all.extend_from_slice(&h.1);
                }
            }
        }
        Ok(hotline_proto::sha256(&all))
    }
}

/// What a local user asks for: mostly sensible, sometimes what the state forbids.
fn user_body(
    rng: &mut Rng,
    book: &hotline_core::ChannelBook,
    now: u64,
    p_terminate: u64,
) -> Option<Body> {
    let me = book.me() as usize;
    let peer = book.peer() as usize;
    let state = book.state();
    fn pick<V>(rng: &mut Rng, m: &std::collections::BTreeMap<Hash, V>) -> Option<Hash> {
        rng.index(m.len()).and_then(|i| m.keys().nth(i).copied())
    }
    if state.phase == Phase::Proposed {
        if me == 1 && rng.chance(800) {
            return Some(Body::Accept {
                terms_hash: book.terms().hash(),
            });
        }
        if rng.chance(800) {
            // Nothing to do yet but wait for the counterpart.
            return None;
        }
    }
    if rng.below(1000) < p_terminate {
        return Some(Body::Terminate {
            reason: "ended by a person".into(),
        });
    }
    let message = |rng: &mut Rng, reply_to: Option<Hash>| Body::Message {
        precedence: Precedence::ALL[rng.below(4) as usize],
        subject: format!("subject {}", rng.below(1000)),
        text: "text".repeat(rng.range(1, 20) as usize),
        labels: vec![],
        reply_to,
    };
    Some(match rng.below(100) {
        0..=34 => {
            let reply_to = if rng.chance(300) {
                pick(rng, &book.unacked[peer])
            } else {
                None
            };
            message(rng, reply_to)
        }
        35..=54 => match pick(rng, &book.unacked[peer]) {
            Some(of) => Body::Ack { of },
            None => message(rng, None),
        },
        55..=64 => Body::Request {
            question: "proceed?".into(),
            options: vec!["yes".into(), "no".into()],
            deadline: now.saturating_sub(MINUTE) + rng.below(2 * HOUR),
            on_miss: [OnMiss::Alert, OnMiss::Suspend, OnMiss::Terminate][rng.below(3) as usize],
        },
        65..=74 => match pick(rng, &book.open_requests[peer]) {
            Some(request) => Body::Decision {
                request,
                choice: "yes".into(),
                text: String::new(),
            },
            None => message(rng, None),
        },
        75..=79 => match pick(rng, &book.unacked[peer]).or_else(|| pick(rng, &book.unacked[me])) {
            Some(of) => Body::Translation {
                of,
                lang: "fr".into(),
                text: "texte".into(),
            },
            None => message(rng, None),
        },
        80..=87 => Body::Suspend {
            reason: "a person suspends".into(),
        },
        _ => Body::Resume,
    })
}
