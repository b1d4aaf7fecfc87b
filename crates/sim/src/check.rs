//! The invariants (README, "Invariants"), checked after every step against a
//! *mirror* of each station's store: its rows read back and validated by an
//! independent [`ChannelBook`], never what the station keeps in memory.

use crate::station::{Group, Station, ALL};
use crate::{db, short, world::ChanSpec, Res};
use hotline_core::book::{deadline_reason, Outcome};
use hotline_core::machine::{is_policy_key, Channel, Effect};
use hotline_core::{ChannelBook, Phase};
use hotline_proto::{checkpoint::SignedCheckpoint, ProtoError};
use hotline_proto::{hex, parse_hash, Body, ContactSchedule, Entry, Hash, Kind, OnMiss};
use hotline_store::{AlertRow, EntryRow, Store, WriteOp, WriteResult};
use std::collections::{BTreeMap, BTreeSet, HashSet};

const DAY_MS: u64 = 86_400_000;

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

/// The checker: a mirror per station and channel, and what stations reported accepted.
#[derive(Default)]
pub struct Checker {
    /// Per station, per channel.
    pub mirrors: Vec<BTreeMap<Hash, Mirror>>,
    /// Own entries reported accepted (`Effect::Committed`), with the station and the
    /// process incarnation that reported them, not yet seen in its store.
    pub unconfirmed: Vec<(usize, u64, Effect)>,
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

/// A station's memory of a channel is what its store holds (after a restart,
/// or with nothing queued): the same heads, folded alike.
fn memory_is_store(name: &str, ch: &Channel, m: &Mirror) -> Res {
    if ch.heads() != m.heads() {
        let [held, stored] = [ch.heads(), m.heads()].map(|h| h.map(|h| h.0));
        bail!("{name}: memory holds heads {held:?}, the store {stored:?}");
    }
    let fold = |b| same_fold(b, ch.book(), &format!("{name}'s memory and store"));
    m.book.as_ref().map_or(Ok(()), fold)
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
    let unacked = keys(a.unacked()) != keys(b.unacked());
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
    /// Checks a group commit: its rows ([`Checker::ingest`]); each policy alert raised at most once
    /// (but a silence, which recurs); a new channel only of the station's own (isolation); an alert
    /// whose last write was a clear is closed, on any channel (SPEC §6); with nothing left queued,
    /// the open policy alerts in memory are the store's. Returns how many policy alerts opened.
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
                        let (b, v) = ChannelBook::genesis_at(&r.envelope, me, r.stored_at)
                            .map_err(|e| format!("{at} is not a valid Open: {e}"))?;
                        if b.id() != *id {
                            bail!("{at}: the Open is of another channel");
                        }
                        m.book = Some(b);
                        v
                    }
                    Some(b) => match b.check(a, &r.envelope) {
                        Ok(Outcome::New(v)) => {
                            if v.entry().author == me {
                                own_rules(b, &mut m.acted, v.entry(), r.stored_at, &at)?;
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
                    bail!("transcripts fork: {a}/{s} of {id} is {h} at {name}, {oh} at {other}");
                }
            }
            let m = self.mirrors[st.idx].get_mut(id).expect("inserted");
            for signer in 0..2u8 {
                let held = &mut m.ckpts[signer as usize];
                let new = |b: &Vec<u8>| held.as_ref().is_none_or(|c| c.bytes() != b.as_slice());
                let Some(bytes) = st.store.checkpoint(id, signer).map_err(db)?.filter(new) else {
                    continue;
                };
                let bad =
                    |e: ProtoError| format!("{name}: stored checkpoint of {signer} is bad: {e}");
                // Signed by one of the signer's keys in this channel (it may
                // have rotated): the station checked which one on receipt.
                let mut keys = vec![spec.keys[signer as usize]];
                if let Some(b) = &m.book {
                    keys.extend(b.key_history(signer).iter().map(|(_, id)| *id));
                }
                let c = keys
                    .iter()
                    .rev()
                    .filter_map(|k| k.verifying_key().ok())
                    .find_map(|k| SignedCheckpoint::open(&bytes, &k).ok())
                    .ok_or_else(|| bad(ProtoError::BadSignature))?;
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
        for (id, m) in self.mirrors[st.idx]
            .iter()
            .filter(|(_, m)| m.book.is_some())
        {
            let Some(ch) = st.channel(id) else {
                bail!("{} lost channel {} on restart", st.name, short(id));
            };
            memory_is_store(st.name, ch, m)?;
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
            let changed = |r: &&EntryRow| m.hash_at(r.author, r.seq) != Some(r.hash);
            if let Some(r) = rows.iter().find(changed) {
                let (a, s) = (r.author, r.seq);
                bail!("{name}: stored entry {a}/{s} of {id} changed after its commit");
            }
        }
        Ok(())
    }

    /// The invariants checked after every step.
    pub fn step(&mut self, stations: &[Station], chans: &[ChanSpec]) -> Res {
        // No accepted entry is ever lost: it is in its station's store, or (only
        // possible in a broken variant) still queued in the process that reported it.
        for (station, incarnation, e) in std::mem::take(&mut self.unconfirmed) {
            let Effect::Committed {
                channel,
                author: a,
                seq: s,
                hash,
                ..
            } = e
            else {
                continue;
            };
            let (st, id) = (&stations[station], short(&channel));
            let (name, m) = (st.name, self.mirrors[station].get(&channel));
            match m.and_then(|m| m.hash_at(a, s)) {
                Some(h) if h == hash => self.confirmed += 1,
                Some(_) => bail!("{name} reported {a}/{s} of {id} accepted; another entry has it"),
                None if st.incarnation == incarnation && st.pending_has(&hash) => {
                    self.unconfirmed.push((station, incarnation, e))
                }
                None => bail!("LOST: {name} reported {a}/{s} of {id} accepted, not in its store"),
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
                            let at = format!("{a}/{seq} of {} (held by {holder})", short(&spec.id));
                            bail!(
                                "LOST: {signer} signed a checkpoint covering {at}, not holding it"
                            );
                        }
                        _ => {}
                    }
                }
            }
            // Same entries, same state: committed transcripts and in-memory books alike.
            let ([x, y], book) = (spec.parties, |i| mirror(i).and_then(|m| m.book.as_ref()));
            if let (Some(bx), Some(by)) = (book(x), book(y)) {
                if [bx.head(0), bx.head(1)] == [by.head(0), by.head(1)] {
                    same_fold(bx, by, "committed transcripts of both ends")?;
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
                if let (Some(ch), Some(m)) = (live(i), mirror(i)) {
                    memory_is_store(stations[i].name, ch, m)?;
                }
            }
        }
        Ok(())
    }
}

/// After a policy tick (SPEC §6): every own request past its deadline with no
/// decision has its alert open and, where the state allows it, its on_miss done.
pub fn after_tick(st: &Station, now: u64) -> Res {
    for (id, ch) in st.rt.iter().flat_map(|rt| &rt.channels) {
        let (b, active) = (ch.book(), ch.book().state().phase == Phase::Active);
        for (h, r) in &b.open_requests[b.me() as usize] {
            if !active || r.deadline > now {
                continue;
            }
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

/// Rules for a station's own entries that only the policy engine writes: a `ContactCheck` only
/// when due; a deadline's `Suspend` or `Terminate` once per request, after the deadline, only
/// for an undecided own request. `b` is the transcript just before this entry.
fn own_rules(b: &ChannelBook, done: &mut HashSet<Hash>, e: &Entry, now: u64, at: &str) -> Res {
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
            let h = h.and_then(|h| parse_hash(h).ok());
            let Some(h) = h.filter(|h| *reason == deadline_reason(h)) else {
                return Ok(());
            };
            if !done.insert(h) || b.deadline_acted.contains(&h) {
                bail!("{at}: a second deadline action for request {}", short(&h));
            }
            let Some(r) = b.open_requests[e.author as usize].get(&h) else {
                bail!("{at}: a deadline action for no open own request");
            };
            if on_miss_kind(r.on_miss) != Some(e.body.kind()) {
                bail!("{at}: the deadline action is not the request's on_miss");
            }
            let deadline = r.deadline;
            if now < deadline {
                bail!("{at}: the deadline action came before the deadline {deadline}");
            }
        }
        _ => {}
    }
    Ok(())
}
