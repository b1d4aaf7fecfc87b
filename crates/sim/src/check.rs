//! The invariants, checked after every step.
//!
//! The checker trusts nothing the stations keep in memory. Its picture of each
//! station is a *mirror* built only from rows read back from that station's
//! store, each validated by an independent [`ChannelBook`] exactly as the
//! offline verifier would; the mirror only grows, and is compared with a full
//! re-read of the store at every restart and at the end, so a store that loses
//! or rewrites a row is caught too.

use crate::station::{Station, ALL};
use crate::world::ChanSpec;
use hotline_core::book::{deadline_reason, Outcome};
use hotline_core::ChannelBook;
use hotline_proto::checkpoint::SignedCheckpoint;
use hotline_proto::{hex, Body, ContactSchedule, Hash, Kind, OnMiss};
use hotline_store::Store;
use std::collections::{BTreeMap, HashMap, HashSet};

const DAY_MS: u64 = 86_400_000;

/// An own entry a station reported accepted (after its commit, if the station is right).
#[derive(Debug, Clone)]
pub(crate) struct Accepted {
    /// Station.
    pub station: usize,
    /// The process incarnation that reported it.
    pub incarnation: u64,
    /// Channel.
    pub channel: Hash,
    /// Author index.
    pub author: u8,
    /// Seq.
    pub seq: u64,
    /// Entry hash.
    pub hash: Hash,
}

/// What the checker knows durably of one channel at one station.
pub(crate) struct Mirror {
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
    fn new() -> Mirror {
        Mirror {
            book: None,
            cursor: 0,
            acted: HashSet::new(),
            ckpts: [None, None],
        }
    }

    /// `(seq, hash)` heads of author 0 and 1.
    pub(crate) fn heads(&self) -> [(u64, Hash); 2] {
        match &self.book {
            Some(b) => [b.head(0), b.head(1)],
            None => [(0, [0; 32]); 2],
        }
    }

    fn hash_at(&self, author: u8, seq: u64) -> Option<Hash> {
        self.book
            .as_ref()
            .and_then(|b| b.meta(author, seq))
            .map(|m| m.hash)
    }
}

/// The checker's state.
pub(crate) struct Checker {
    /// Per station, per channel.
    pub mirrors: Vec<BTreeMap<Hash, Mirror>>,
    /// Accepted entries not yet seen in their station's store.
    unconfirmed: Vec<Accepted>,
    /// Accepted entries confirmed durable: (station, channel, author, seq) → hash.
    confirmed: HashMap<(usize, Hash, u8, u64), Hash>,
    /// How often each policy alert was raised: (station, channel, key).
    raised: HashMap<(usize, Option<Hash>, String), u32>,
}

/// Whether the contact schedule made a check due at `now` after an own entry at `last`
/// (SPEC §6, stated independently of `policy.rs`).
fn contact_due(s: &ContactSchedule, last: u64, now: u64) -> bool {
    match s {
        ContactSchedule::Every(ms) => now >= last.saturating_add(*ms),
        ContactSchedule::At(mins) => {
            // Some scheduled instant falls in (last, now].
            let mut day = last - last % DAY_MS;
            while day <= now {
                if mins.iter().any(|m| {
                    let t = day + *m as u64 * 60_000;
                    t > last && t <= now
                }) {
                    return true;
                }
                day += DAY_MS;
            }
            false
        }
    }
}

/// Compares two folds of what should be the same entries.
pub(crate) fn same_fold(a: &ChannelBook, b: &ChannelBook, what: &str) -> Result<(), String> {
    fn keys<V>(m: &BTreeMap<Hash, V>) -> Vec<Hash> {
        m.keys().copied().collect()
    }
    let mut diffs = vec![];
    if a.state() != b.state() {
        diffs.push(format!("state {:?} vs {:?}", a.state(), b.state()));
    }
    for x in 0..2 {
        if keys(&a.unacked[x]) != keys(&b.unacked[x]) {
            diffs.push(format!("unacknowledged messages of author {x}"));
        }
        if keys(&a.open_requests[x]) != keys(&b.open_requests[x]) {
            diffs.push(format!("open requests of author {x}"));
        }
    }
    if a.decided != b.decided {
        diffs.push("decided requests".into());
    }
    if a.deadline_acted != b.deadline_acted {
        diffs.push("deadlines acted on".into());
    }
    if diffs.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "{what}: the same entries fold differently: {}",
            diffs.join("; ")
        ))
    }
}

impl Checker {
    pub(crate) fn new(stations: usize) -> Checker {
        Checker {
            mirrors: (0..stations).map(|_| BTreeMap::new()).collect(),
            unconfirmed: vec![],
            confirmed: HashMap::new(),
            raised: HashMap::new(),
        }
    }

    /// Records an entry reported accepted.
    pub(crate) fn accepted(&mut self, a: Accepted) {
        self.unconfirmed.push(a);
    }

    /// Counts committed policy alert raises; each cause (other than a silence
    /// that can recur) is raised at most once.
    pub(crate) fn raised(
        &mut self,
        st: &Station,
        channel: Option<Hash>,
        key: &str,
    ) -> Result<(), String> {
        if !hotline_core::machine::is_policy_key(key) || key == "contact-missed" {
            return Ok(());
        }
        let n = self
            .raised
            .entry((st.idx, channel, key.to_owned()))
            .or_insert(0);
        *n += 1;
        if *n > 1 {
            return Err(format!(
                "{} raised the alert {key} a second time: a policy action happened twice",
                st.name
            ));
        }
        Ok(())
    }

    /// Reads what a station committed since the last call, validating every row.
    pub(crate) fn ingest(&mut self, st: &Station, chans: &[ChanSpec]) -> Result<usize, String> {
        let mut new_rows = 0;
        for spec in chans {
            let Some(me) = spec.author_of(st.idx) else {
                continue;
            };
            let m = self.mirrors[st.idx]
                .entry(spec.id)
                .or_insert_with(Mirror::new);
            let rows = st
                .store
                .entries_after(&spec.id, m.cursor, ALL)
                .map_err(|e| e.to_string())?;
            let mut fresh: Vec<(u8, u64, Hash)> = Vec::with_capacity(rows.len());
            for r in rows {
                m.cursor = r.cursor;
                let at = format!(
                    "{}: stored entry {}/{} of channel {}",
                    st.name,
                    r.author,
                    r.seq,
                    crate::short(&spec.id)
                );
                let v = match m.book.as_mut() {
                    None => {
                        let (b, v) = ChannelBook::genesis(&r.envelope, me)
                            .map_err(|e| format!("{at} is not a valid Open: {e}"))?;
                        if b.id() != spec.id {
                            return Err(format!("{at}: the Open is of another channel"));
                        }
                        m.book = Some(b);
                        v
                    }
                    Some(b) => match b.check(r.author, &r.envelope, true) {
                        Ok(Outcome::New(v)) => {
                            if v.entry().author == me {
                                own_entry_rules(b, &mut m.acted, &v, r.stored_at, &at)?;
                            }
                            b.apply(&v, r.stored_at);
                            v
                        }
                        Ok(Outcome::Duplicate) => {
                            return Err(format!("{at} is stored twice"));
                        }
                        Ok(Outcome::Equivocation { .. }) => {
                            return Err(format!("{at}: two different entries share this seq"));
                        }
                        Err(e) => return Err(format!("{at} does not verify: {e}")),
                    },
                };
                if v.hash() != r.hash || v.entry().seq != r.seq || v.entry().author != r.author {
                    return Err(format!(
                        "{at}: the row's columns disagree with its envelope"
                    ));
                }
                fresh.push((r.author, r.seq, r.hash));
            }
            new_rows += fresh.len();
            // Both ends hold one transcript: any (author, seq) held by both has one hash.
            let other = spec.parties[1 - me as usize];
            if let Some(o) = self.mirrors[other].get(&spec.id) {
                for (a, s, h) in fresh {
                    if let Some(oh) = o.hash_at(a, s) {
                        if oh != h {
                            return Err(format!(
                                "the transcripts fork: entry {a}/{s} of channel {} is {} at {} and {} at station {other}",
                                crate::short(&spec.id),
                                &hex(&h)[..12],
                                st.name,
                                &hex(&oh)[..12]
                            ));
                        }
                    }
                }
            }
            let m = self.mirrors[st.idx].get_mut(&spec.id).expect("inserted");
            for signer in 0..2u8 {
                let bytes = st
                    .store
                    .checkpoint(&spec.id, signer)
                    .map_err(|e| e.to_string())?;
                let Some(bytes) = bytes else { continue };
                if m.ckpts[signer as usize]
                    .as_ref()
                    .is_some_and(|c| c.bytes() == bytes.as_slice())
                {
                    continue;
                }
                let key = spec.identities[signer as usize]
                    .verifying_key()
                    .map_err(|e| e.to_string())?;
                let c = SignedCheckpoint::open(&bytes, &key).map_err(|e| {
                    format!(
                        "{}: a stored checkpoint of author {signer} does not verify: {e}",
                        st.name
                    )
                })?;
                if c.checkpoint().channel != spec.id || c.checkpoint().signer != signer {
                    return Err(format!(
                        "{}: a stored checkpoint is filed under the wrong channel or signer",
                        st.name
                    ));
                }
                m.ckpts[signer as usize] = Some(c);
            }
        }
        Ok(new_rows)
    }

    /// After a restart: the whole store, read afresh, is exactly the mirror,
    /// and the books the station rebuilt fold like the checker's.
    pub(crate) fn after_restart(&self, st: &Station, chans: &[ChanSpec]) -> Result<(), String> {
        self.store_matches_mirror(st, chans)?;
        let rt = st.rt.as_ref().expect("restarted");
        for spec in chans {
            let Some(m) = self.mirrors[st.idx].get(&spec.id) else {
                continue;
            };
            let (Some(b), Some(ch)) = (&m.book, rt.channels.get(&spec.id)) else {
                if m.book.is_some() {
                    return Err(format!(
                        "{} lost channel {} on restart",
                        st.name,
                        crate::short(&spec.id)
                    ));
                }
                continue;
            };
            if ch.heads() != m.heads() {
                return Err(format!(
                    "{}: the book rebuilt on restart is not the stored transcript",
                    st.name
                ));
            }
            same_fold(b, ch.book(), &format!("{} after restart", st.name))?;
        }
        Ok(())
    }

    /// The store, re-read in full, holds exactly what the mirror saw, and no
    /// channel the station is not party to.
    pub(crate) fn store_matches_mirror(
        &self,
        st: &Station,
        chans: &[ChanSpec],
    ) -> Result<(), String> {
        for row in st.store.channels().map_err(|e| e.to_string())? {
            let ok = chans.iter().any(|c| {
                c.id == row.id
                    && c.author_of(st.idx) == Some(row.me)
                    && st.peer_rows[c.parties[1 - row.me as usize]] == Some(row.peer_id)
            });
            if !ok {
                return Err(format!(
                    "{} stores channel {} that is not its own with that peer: isolation broken",
                    st.name,
                    crate::short(&row.id)
                ));
            }
        }
        for spec in chans {
            let Some(m) = self.mirrors[st.idx].get(&spec.id) else {
                continue;
            };
            let rows = st
                .store
                .entries_after(&spec.id, 0, ALL)
                .map_err(|e| e.to_string())?;
            let heads = m.heads();
            if rows.len() as u64 != heads[0].0 + heads[1].0 {
                return Err(format!(
                    "{}: the store now holds {} entries of channel {}, {} were committed: committed entries were lost or added",
                    st.name,
                    rows.len(),
                    crate::short(&spec.id),
                    heads[0].0 + heads[1].0
                ));
            }
            for r in rows {
                if m.hash_at(r.author, r.seq) != Some(r.hash) {
                    return Err(format!(
                        "{}: stored entry {}/{} changed after its commit",
                        st.name, r.author, r.seq
                    ));
                }
            }
        }
        Ok(())
    }

    /// The invariants checked after every step.
    pub(crate) fn step(&mut self, stations: &[Station], chans: &[ChanSpec]) -> Result<(), String> {
        // No accepted entry is ever lost: it is in its station's store, or (only
        // possible in a broken variant) still queued in the process that reported it.
        let mut still = Vec::new();
        for a in self.unconfirmed.drain(..) {
            let st = &stations[a.station];
            let held = self.mirrors[a.station]
                .get(&a.channel)
                .and_then(|m| m.hash_at(a.author, a.seq));
            match held {
                Some(h) if h == a.hash => {
                    self.confirmed
                        .insert((a.station, a.channel, a.author, a.seq), a.hash);
                }
                Some(_) => {
                    return Err(format!(
                        "{} reported entry {}/{} accepted, but a different entry holds that seq",
                        st.name, a.author, a.seq
                    ))
                }
                None if st.incarnation == a.incarnation && st.pending_has(&a.hash) => {
                    still.push(a)
                }
                None => {
                    return Err(format!(
                        "LOST: {} reported entry {}/{} of channel {} accepted, and it is not in its store",
                        st.name,
                        a.author,
                        a.seq,
                        crate::short(&a.channel)
                    ))
                }
            }
        }
        self.unconfirmed = still;

        for spec in chans {
            // Checkpoints: whoever holds one, its signer holds durably every entry
            // it covers, and the holder agrees on whatever of it the holder has.
            for (holder_author, &holder) in spec.parties.iter().enumerate() {
                let Some(m) = self.mirrors[holder].get(&spec.id) else {
                    continue;
                };
                for c in m.ckpts.iter().flatten() {
                    let signer = c.checkpoint().signer;
                    let signer_st = spec.parties[signer as usize];
                    for a in 0..2u8 {
                        let (seq, h) = c.checkpoint().heads[a as usize];
                        if seq == 0 {
                            continue;
                        }
                        match m.hash_at(a, seq) {
                            Some(x) if x != h => {
                                return Err(format!(
                                    "{}'s checkpoint disagrees with entry {a}/{seq} held by {}",
                                    stations[signer_st].name, stations[holder].name
                                ))
                            }
                            None if a as usize == holder_author => {
                                return Err(format!(
                                    "{} holds a checkpoint by {} covering its own entry {a}/{seq}, which it does not hold",
                                    stations[holder].name, stations[signer_st].name
                                ))
                            }
                            _ => {}
                        }
                        let signer_has = self.mirrors[signer_st]
                            .get(&spec.id)
                            .and_then(|sm| sm.hash_at(a, seq));
                        match signer_has {
                            Some(x) if x == h => {}
                            Some(_) => {
                                return Err(format!(
                                    "{} signed a checkpoint over entry {a}/{seq} that differs from what it stores",
                                    stations[signer_st].name
                                ))
                            }
                            None if stations[signer_st].pending_has(&h) => {}
                            None => {
                                return Err(format!(
                                    "LOST: {} signed a checkpoint covering entry {a}/{seq} of channel {} (held by {}), and does not hold it",
                                    stations[signer_st].name,
                                    crate::short(&spec.id),
                                    stations[holder].name
                                ))
                            }
                        }
                    }
                }
            }
            // Same entries, same state: committed transcripts and in-memory books alike.
            let [x, y] = spec.parties;
            if let (Some(mx), Some(my)) =
                (self.mirrors[x].get(&spec.id), self.mirrors[y].get(&spec.id))
            {
                if let (Some(bx), Some(by)) = (&mx.book, &my.book) {
                    if mx.heads() == my.heads() {
                        same_fold(bx, by, "committed transcripts of both ends")?;
                    }
                }
            }
            let live = |i: usize| {
                stations[i]
                    .rt
                    .as_ref()
                    .and_then(|rt| rt.channels.get(&spec.id))
            };
            if let (Some(cx), Some(cy)) = (live(x), live(y)) {
                if cx.heads() == cy.heads() {
                    same_fold(cx.book(), cy.book(), "the two stations' books")?;
                }
            }
            // With nothing queued, memory is exactly the store.
            for &i in &spec.parties {
                let Some(rt) = stations[i].rt.as_ref() else {
                    continue;
                };
                if !rt.pending.is_empty() {
                    continue;
                }
                let (Some(ch), Some(m)) =
                    (rt.channels.get(&spec.id), self.mirrors[i].get(&spec.id))
                else {
                    continue;
                };
                if ch.heads() != m.heads() {
                    return Err(format!(
                        "{}: with nothing waiting for commit, memory holds heads {:?} but the store {:?}",
                        stations[i].name,
                        [ch.book().head(0).0, ch.book().head(1).0],
                        [m.heads()[0].0, m.heads()[1].0]
                    ));
                }
                if let Some(b) = &m.book {
                    same_fold(
                        b,
                        ch.book(),
                        &format!("{}'s memory and store", stations[i].name),
                    )?;
                }
            }
        }
        Ok(())
    }

    /// Accepted entries confirmed durable so far.
    pub(crate) fn confirmed(&self) -> usize {
        self.confirmed.len()
    }

    /// Whether every accepted entry has been seen durable.
    pub(crate) fn all_confirmed(&self) -> Result<(), String> {
        match self.unconfirmed.first() {
            None => Ok(()),
            Some(a) => Err(format!(
                "entry {}/{} reported accepted by station {} never reached its store",
                a.author, a.seq, a.station
            )),
        }
    }
}

/// Rules for a station's own entries that only the policy engine writes:
/// a `ContactCheck` only when one is due, and a deadline's `Suspend` or
/// `Terminate` once per request, only after the deadline, only for an
/// undecided own request. `b` is the transcript just before this entry.
fn own_entry_rules(
    b: &ChannelBook,
    acted: &mut HashSet<Hash>,
    v: &hotline_core::VerifiedEntry,
    stored_at: u64,
    at: &str,
) -> Result<(), String> {
    let e = v.entry();
    match &e.body {
        Body::ContactCheck => {
            let prev = b
                .meta(e.author, e.seq - 1)
                .ok_or_else(|| format!("{at}: a ContactCheck with no earlier own entry"))?;
            if !contact_due(&b.terms().contact, prev.stored_at, stored_at) {
                return Err(format!(
                    "{at}: ContactCheck at {stored_at} was not due (previous own entry at {}, schedule {:?})",
                    prev.stored_at,
                    b.terms().contact
                ));
            }
        }
        Body::Suspend { reason } | Body::Terminate { reason } => {
            let Some(h) = reason
                .strip_prefix("deadline missed: ")
                .and_then(|h| hotline_proto::parse_hash(h).ok())
            else {
                return Ok(());
            };
            if *reason != deadline_reason(&h) {
                return Ok(());
            }
            if !acted.insert(h) || b.deadline_acted.contains(&h) {
                return Err(format!(
                    "{at}: a second deadline action for request {}",
                    &hex(&h)[..12]
                ));
            }
            let r = b.open_requests[e.author as usize].get(&h).ok_or_else(|| {
                format!("{at}: a deadline action for a request that is not an open own request")
            })?;
            let want = match r.on_miss {
                OnMiss::Alert => None,
                OnMiss::Suspend => Some(Kind::Suspend),
                OnMiss::Terminate => Some(Kind::Terminate),
            };
            if want != Some(e.body.kind()) {
                return Err(format!(
                    "{at}: the deadline action is not the request's on_miss"
                ));
            }
            if stored_at < r.deadline {
                return Err(format!(
                    "{at}: the deadline action came at {stored_at}, before the deadline {}",
                    r.deadline
                ));
            }
        }
        _ => {}
    }
    Ok(())
}
