//! The invariants, checked after every step.
//!
//! The checker trusts nothing the stations keep in memory. Its picture of each
//! station is a *mirror* built only from rows read back from that station's
//! store, each validated by an independent [`ChannelBook`] exactly as the
//! offline verifier would; the mirror only grows, and is compared with a full
//! re-read of the store at every restart and at the end, so a store that loses
//! or rewrites a row is caught too.

use crate::station::{Group, Station, ALL};
use crate::world::ChanSpec;
use crate::{db, short, Res};
use hotline_core::book::{deadline_reason, Outcome};
use hotline_core::machine::{is_policy_key, Effect};
use hotline_core::{ChannelBook, Phase, VerifiedEntry};
use hotline_proto::checkpoint::SignedCheckpoint;
use hotline_proto::{hex, Body, ContactSchedule, Hash, Kind, OnMiss};
use hotline_store::{AlertRow, Store, WriteOp, WriteResult};
use std::collections::{BTreeMap, BTreeSet, HashSet};

const DAY_MS: u64 = 86_400_000;

/// An own entry a station's process `incarnation` reported accepted (after its
/// commit, if the station is right).
struct Accepted {
    station: usize,
    incarnation: u64,
    channel: Hash,
    author: u8,
    seq: u64,
    hash: Hash,
}

/// What the checker knows durably of one channel at one station.
#[derive(Default)]
pub struct Mirror {
    /// The committed transcript, validated row by row (`None` before the first row).
    pub book: Option<ChannelBook>,
    /// Commit cursor of the last row read.
    cursor: u64,
    /// Requests whose deadline this station already acted on (from its own entries).
    acted: HashSet<Hash>,
    /// The latest committed checkpoint of each signer, verified.
    pub ckpts: [Option<SignedCheckpoint>; 2],
}

impl Mirror {
    /// `(seq, hash)` heads of author 0 and 1.
    pub fn heads(&self) -> [(u64, Hash); 2] {
        let b = self.book.as_ref();
        b.map_or([(0, [0; 32]); 2], |b| [b.head(0), b.head(1)])
    }

    /// The channel state word ("none" before the first row).
    pub fn word(&self) -> &'static str {
        self.book.as_ref().map_or("none", |b| b.state().word())
    }

    fn hash_at(&self, author: u8, seq: u64) -> Option<Hash> {
        self.book.as_ref()?.meta(author, seq).map(|m| m.hash)
    }
}

/// The checker's state.
#[derive(Default)]
pub struct Checker {
    /// Per station, per channel.
    pub mirrors: Vec<BTreeMap<Hash, Mirror>>,
    /// Accepted entries not yet seen in their station's store.
    unconfirmed: Vec<Accepted>,
    /// Accepted entries confirmed durable.
    pub confirmed: u64,
    /// Policy alerts raised once already: (station, channel, key).
    raised: HashSet<(usize, Option<Hash>, String)>,
}

/// Whether the contact schedule made a check due at `now` after an own entry at `last`
/// (SPEC §6, stated independently of `policy.rs`).
fn contact_due(s: &ContactSchedule, last: u64, now: u64) -> bool {
    match s {
        ContactSchedule::Every(ms) => now >= last.saturating_add(*ms),
        // Some scheduled instant falls in (last, now].
        ContactSchedule::At(mins) => (last / DAY_MS..=now / DAY_MS).any(|day| {
            let at = |m: &u32| day * DAY_MS + *m as u64 * 60_000;
            mins.iter().any(|m| at(m) > last && at(m) <= now)
        }),
    }
}

/// The entry a missed deadline calls for (SPEC §6), if any.
fn on_miss_kind(m: OnMiss) -> Option<Kind> {
    match m {
        OnMiss::Alert => None,
        OnMiss::Suspend => Some(Kind::Suspend),
        OnMiss::Terminate => Some(Kind::Terminate),
    }
}

/// Compares two folds of what should be the same entries.
pub fn same_fold(a: &ChannelBook, b: &ChannelBook, what: &str) -> Res {
    fn keys<V>(m: &[BTreeMap<Hash, V>; 2]) -> [Vec<&Hash>; 2] {
        m.each_ref().map(|m| m.keys().collect())
    }
    let unacked = keys(&a.unacked) != keys(&b.unacked);
    let requests = keys(&a.open_requests) != keys(&b.open_requests);
    let diffs = [
        (a.state() != b.state(), "state"),
        (unacked, "unacknowledged messages"),
        (requests, "open requests"),
        (a.decided != b.decided, "decided requests"),
        (a.deadline_acted != b.deadline_acted, "deadlines acted on"),
    ];
    let diffs: Vec<&str> = diffs.iter().filter(|d| d.0).map(|d| d.1).collect();
    if !diffs.is_empty() {
        let (diffs, x, y) = (diffs.join(", "), a.state(), b.state());
        bail!("{what}: the same entries fold differently ({diffs}; state {x:?} vs {y:?})");
    }
    Ok(())
}

impl Checker {
    /// Records an own entry that station `st`'s process `incarnation` reported accepted.
    pub fn accepted(&mut self, station: usize, incarnation: u64, e: Effect) {
        if let Effect::Committed {
            channel,
            author,
            seq,
            hash,
            ..
        } = e
        {
            self.unconfirmed.push(Accepted {
                station,
                incarnation,
                channel,
                author,
                seq,
                hash,
            });
        }
    }

    /// Checks a group commit: its rows (see [`Checker::ingest`]); each policy
    /// alert raised at most once (other than a silence, which can recur); a
    /// channel row only for a channel of the station's own (isolation); an
    /// alert whose last write was a clear is closed, whatever channel it was
    /// raised with (SPEC §6); and with nothing left queued, the open policy
    /// alerts in memory are the store's. Returns how many policy alerts opened.
    pub fn committed(&mut self, st: &Station, chans: &[ChanSpec], group: &Group) -> Res<u64> {
        self.ingest(st, chans)?;
        let (name, mut opened, mut last_is_clear) = (st.name, 0, BTreeMap::new());
        for (op, r) in group.iter().flat_map(|(b, rs)| b.ops.iter().zip(rs)) {
            match op {
                WriteOp::RaiseAlert { channel, key, .. } => {
                    last_is_clear.insert((*channel, key.clone()), false);
                    last_is_clear.insert((None, key.clone()), false);
                    if matches!(r, WriteResult::Alert(Some(_))) && is_policy_key(key) {
                        opened += 1;
                        let again = !self.raised.insert((st.idx, *channel, key.clone()));
                        if again && key != "contact-missed" {
                            bail!("{name} raised {key} twice: a policy action happened twice");
                        }
                    }
                }
                WriteOp::ClearAlert { channel, key, .. } => {
                    last_is_clear.insert((*channel, key.clone()), true);
                }
                WriteOp::Channel(_) => self.store_matches_mirror(st, chans)?,
                _ => {}
            }
        }
        let open = st.store.alerts(true, ALL).map_err(db)?;
        for a in &open {
            // A clear without a channel closes the key on any channel.
            let cleared = |c: Option<Hash>| last_is_clear.get(&(c, a.key.clone())) == Some(&true);
            if cleared(a.channel) || cleared(None) {
                let (key, ch) = (&a.key, a.channel.map_or("none".into(), |c| short(&c)));
                bail!("{name}: alert {key} (channel {ch}) is still open after it was cleared");
            }
        }
        let idle = st.rt.as_ref().filter(|rt| rt.pending.is_empty());
        for (id, ch) in idle.iter().flat_map(|rt| &rt.channels) {
            let ours = |a: &&AlertRow| a.channel == Some(*id) && is_policy_key(&a.key);
            let stored: BTreeSet<String> =
                open.iter().filter(ours).map(|a| a.key.clone()).collect();
            if &stored != ch.open_alerts() {
                let held = ch.open_alerts();
                bail!("{name}: open policy alerts {held:?} in memory, {stored:?} stored");
            }
        }
        Ok(opened)
    }

    /// Reads what a station committed since the last call, validating every row.
    fn ingest(&mut self, st: &Station, chans: &[ChanSpec]) -> Res {
        let name = st.name;
        for spec in chans {
            let (Some(me), id) = (spec.author_of(st.idx), &spec.id) else {
                continue;
            };
            let m = self.mirrors[st.idx].entry(*id).or_default();
            let rows = st.store.entries_after(id, m.cursor, ALL).map_err(db)?;
            let mut fresh = Vec::with_capacity(rows.len());
            for r in rows {
                let (a, s, h) = (r.author, r.seq, r.hash);
                let at = format!("{name}: stored entry {a}/{s} of channel {}", short(id));
                m.cursor = r.cursor;
                let v = match m.book.as_mut() {
                    None => {
                        let (b, v) = ChannelBook::genesis(&r.envelope, me)
                            .map_err(|e| format!("{at} is not a valid Open: {e}"))?;
                        if b.id() != *id {
                            bail!("{at}: the Open is of another channel");
                        }
                        m.book = Some(b);
                        v
                    }
                    Some(b) => match b.check(a, &r.envelope, true) {
                        Ok(Outcome::New(v)) => {
                            if v.entry().author == me {
                                own_entry_rules(b, &mut m.acted, &v, r.stored_at, &at)?;
                            }
                            b.apply(&v, r.stored_at);
                            v
                        }
                        Ok(Outcome::Duplicate) => bail!("{at} is stored twice"),
                        Ok(Outcome::Equivocation { .. }) => {
                            bail!("{at}: another entry has this seq")
                        }
                        Err(e) => bail!("{at} does not verify: {e}"),
                    },
                };
                if v.hash() != h || v.entry().seq != s || v.entry().author != a {
                    bail!("{at}: the row's columns disagree with its envelope");
                }
                fresh.push((a, s, h));
            }
            // Both ends hold one transcript: any (author, seq) held by both has one hash.
            let other = spec.parties[1 - me as usize];
            for (a, s, h) in fresh {
                let theirs = self.mirrors[other].get(id).and_then(|o| o.hash_at(a, s));
                if let Some(oh) = theirs.filter(|oh| *oh != h) {
                    let [h, oh, id] = [h, oh, *id].map(|h| short(&h));
                    bail!(
                        "the transcripts fork: {a}/{s} of {id} is {h} at {name}, {oh} at {other}"
                    );
                }
            }
            let m = self.mirrors[st.idx].get_mut(id).expect("inserted");
            for signer in 0..2u8 {
                let Some(bytes) = st.store.checkpoint(id, signer).map_err(db)? else {
                    continue;
                };
                let held = &mut m.ckpts[signer as usize];
                if held.as_ref().is_some_and(|c| c.bytes() == bytes.as_slice()) {
                    continue;
                }
                let key = spec.keys[signer as usize].verifying_key();
                let c = SignedCheckpoint::open(&bytes, &key.map_err(|e| e.to_string())?)
                    .map_err(|e| format!("{name}: stored checkpoint of {signer} is bad: {e}"))?;
                if c.checkpoint().channel != *id || c.checkpoint().signer != signer {
                    bail!("{name}: a stored checkpoint is filed under the wrong channel or signer");
                }
                *held = Some(c);
            }
        }
        Ok(())
    }

    /// After a restart: the whole store, read afresh, is exactly the mirror,
    /// and the books the station rebuilt fold like the checker's.
    pub fn after_restart(&self, st: &Station, chans: &[ChanSpec]) -> Res {
        self.store_matches_mirror(st, chans)?;
        for (id, m) in &self.mirrors[st.idx] {
            let (Some(b), name) = (&m.book, st.name) else {
                continue;
            };
            let Some(ch) = st.channel(id) else {
                bail!("{name} lost channel {} on restart", short(id));
            };
            if ch.heads() != m.heads() {
                bail!("{name}: the book rebuilt on restart is not the stored transcript");
            }
            same_fold(b, ch.book(), &format!("{name} after restart"))?;
        }
        Ok(())
    }

    /// The store, re-read in full, holds exactly what the mirror saw, and no
    /// channel the station is not party to.
    pub fn store_matches_mirror(&self, st: &Station, chans: &[ChanSpec]) -> Res {
        let name = st.name;
        for row in st.store.channels().map_err(db)? {
            let ok = chans.iter().any(|c| {
                c.id == row.id
                    && c.author_of(st.idx) == Some(row.me)
                    && st.peer_rows[c.parties[1 - row.me as usize]] == Some(row.peer_id)
            });
            if !ok {
                let id = short(&row.id);
                bail!("{name} stores channel {id}, not its own with that peer: isolation broken");
            }
        }
        for (id, m) in &self.mirrors[st.idx] {
            let rows = st.store.entries_after(id, 0, ALL).map_err(db)?;
            let (n, [(a, _), (b, _)], id) = (rows.len() as u64, m.heads(), short(id));
            if n != a + b {
                bail!("{name} now holds {n} entries of {id}, but {a} + {b} were committed");
            }
            for r in rows {
                let (a, s) = (r.author, r.seq);
                if m.hash_at(a, s) != Some(r.hash) {
                    bail!("{name}: stored entry {a}/{s} of {id} changed after its commit");
                }
            }
        }
        Ok(())
    }

    /// The invariants checked after every step.
    pub fn step(&mut self, stations: &[Station], chans: &[ChanSpec]) -> Res {
        // No accepted entry is ever lost: it is in its station's store, or (only
        // possible in a broken variant) still queued in the process that reported it.
        for a in std::mem::take(&mut self.unconfirmed) {
            let (st, e, s, id) = (&stations[a.station], a.author, a.seq, short(&a.channel));
            let (name, m) = (st.name, self.mirrors[a.station].get(&a.channel));
            match m.and_then(|m| m.hash_at(e, s)) {
                Some(h) if h == a.hash => self.confirmed += 1,
                Some(_) => bail!("{name} reported {e}/{s} of {id} accepted; another entry has it"),
                None if st.incarnation == a.incarnation && st.pending_has(&a.hash) => {
                    self.unconfirmed.push(a)
                }
                None => bail!("LOST: {name} reported {e}/{s} of {id} accepted, not in its store"),
            }
        }
        for spec in chans {
            let mirror = |st: usize| self.mirrors[st].get(&spec.id);
            // Checkpoints: whoever holds one, its signer holds durably every entry
            // it covers, and the holder agrees on whatever of it the holder has.
            for (ha, &holder) in spec.parties.iter().enumerate() {
                let Some(m) = mirror(holder) else {
                    continue;
                };
                let heads = |c: &SignedCheckpoint| {
                    let c = c.checkpoint();
                    [0, 1].map(|a| (c.signer, a, c.heads[a as usize]))
                };
                for (signer, a, (seq, h)) in m.ckpts.iter().flatten().flat_map(heads) {
                    if seq == 0 {
                        continue;
                    }
                    let (ours, signer_st) = (m.hash_at(a, seq), spec.parties[signer as usize]);
                    let (holder, signer) = (stations[holder].name, stations[signer_st].name);
                    if ours.is_some_and(|x| x != h) {
                        bail!("{signer}'s checkpoint disagrees with {a}/{seq} held by {holder}");
                    }
                    if ours.is_none() && a as usize == ha {
                        bail!("{holder} lacks its own {a}/{seq}, covered by {signer}'s checkpoint");
                    }
                    match mirror(signer_st).and_then(|sm| sm.hash_at(a, seq)) {
                        Some(x) if x != h => {
                            bail!("{signer} signed a checkpoint over {a}/{seq} unlike its own")
                        }
                        None if !stations[signer_st].pending_has(&h) => {
                            let id = short(&spec.id);
                            bail!("LOST: {signer} signed a checkpoint covering {a}/{seq} of {id} (held by {holder}), not holding it");
                        }
                        _ => {}
                    }
                }
            }
            // Same entries, same state: committed transcripts and in-memory books alike.
            let [x, y] = spec.parties;
            if let (Some(mx), Some(my)) = (mirror(x), mirror(y)) {
                if let (Some(bx), Some(by)) = (&mx.book, &my.book) {
                    if mx.heads() == my.heads() {
                        same_fold(bx, by, "committed transcripts of both ends")?;
                    }
                }
            }
            let live = |i: usize| stations[i].channel(&spec.id);
            if let (Some(cx), Some(cy)) = (live(x), live(y)) {
                if cx.heads() == cy.heads() {
                    same_fold(cx.book(), cy.book(), "the two stations' books")?;
                }
            }
            // With nothing queued, memory is exactly the store.
            for i in [x, y].into_iter().filter(|i| stations[*i].pending() == 0) {
                let (Some(ch), Some(m), name) = (live(i), mirror(i), stations[i].name) else {
                    continue;
                };
                if ch.heads() != m.heads() {
                    let [held, stored] = [ch.heads(), m.heads()].map(|h| h.map(|h| h.0));
                    bail!("{name}, nothing queued: memory holds {held:?}, the store {stored:?}");
                }
                if let Some(b) = &m.book {
                    same_fold(b, ch.book(), &format!("{name}'s memory and store"))?;
                }
            }
        }
        Ok(())
    }

    /// Whether every accepted entry has been seen durable.
    pub fn all_confirmed(&self) -> Res {
        if let Some(a) = self.unconfirmed.first() {
            let (e, s, st) = (a.author, a.seq, a.station);
            bail!("entry {e}/{s} reported accepted by station {st} never reached its store");
        }
        Ok(())
    }
}

/// After a policy tick (SPEC §6): every own request past its deadline with no
/// decision has its alert open and, where the state allows it, its on_miss done.
pub fn after_tick(st: &Station, now: u64) -> Res {
    for (id, ch) in &st.rt.as_ref().expect("up").channels {
        let b = ch.book();
        let due = b.open_requests[b.me() as usize]
            .iter()
            .filter(|(_, r)| r.deadline <= now);
        for (h, r) in due.filter(|_| b.state().phase == Phase::Active) {
            let key = format!("deadline-missed:{}", hex(h));
            let (name, req, id) = (st.name, &key[16..28], short(id));
            if !ch.open_alerts().contains(&key) {
                bail!("{name}: request {req} on {id} is past its deadline, undecided, no alert");
            }
            let kind = on_miss_kind(r.on_miss).filter(|k| b.state().check(b.me(), *k).is_ok());
            if let Some(kind) = kind.filter(|_| !b.deadline_acted.contains(h)) {
                bail!("{name}: request {req} missed its deadline and its {kind:?} was not done");
            }
        }
    }
    Ok(())
}

/// Rules for a station's own entries that only the policy engine writes:
/// a `ContactCheck` only when one is due, and a deadline's `Suspend` or
/// `Terminate` once per request, only after the deadline, only for an
/// undecided own request. `b` is the transcript just before this entry.
fn own_entry_rules(
    b: &ChannelBook,
    acted: &mut HashSet<Hash>,
    v: &VerifiedEntry,
    now: u64,
    at: &str,
) -> Res {
    let e = v.entry();
    match &e.body {
        Body::ContactCheck => {
            let Some(prev) = b.meta(e.author, e.seq - 1).map(|m| m.stored_at) else {
                bail!("{at}: a ContactCheck with no earlier own entry");
            };
            let schedule = &b.terms().contact;
            if !contact_due(schedule, prev, now) {
                bail!("{at}: ContactCheck at {now} not due (last at {prev}, {schedule:?})");
            }
        }
        Body::Suspend { reason } | Body::Terminate { reason } => {
            let h = reason.strip_prefix("deadline missed: ");
            let Some(h) = h.and_then(|h| hotline_proto::parse_hash(h).ok()) else {
                return Ok(());
            };
            if *reason != deadline_reason(&h) {
                return Ok(());
            }
            if !acted.insert(h) || b.deadline_acted.contains(&h) {
                bail!("{at}: a second deadline action for request {}", short(&h));
            }
            let Some(r) = b.open_requests[e.author as usize].get(&h) else {
                bail!("{at}: a deadline action for no open own request");
            };
            if on_miss_kind(r.on_miss) != Some(e.body.kind()) {
                bail!("{at}: the deadline action is not the request's on_miss");
            }
            if now < r.deadline {
                bail!(
                    "{at}: the deadline action came before the deadline {}",
                    r.deadline
                );
            }
        }
        _ => {}
    }
    Ok(())
}
