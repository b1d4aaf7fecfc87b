//! A channel's transcript book: what validation and policy need to know about
//! every stored entry, kept in memory, and the receive-path validity rules.
//!
//! The book is pure: the station feeds it envelope bytes and times and
//! persists what it returns. The offline verifier uses the same book, so a
//! station and an oversight body judge entries by one set of rules.

mod clocks;
mod held;
mod keys;
mod reject;
pub mod snapshot;
mod undo;

pub use reject::{Refusal, Reject};
pub use snapshot::{BookSnapshot, SnapshotError};
pub use undo::Savepoint;
use undo::Undo;

use crate::state::{changes_state, ChannelState, StateLog};
use hotline_proto::entry::BY_STATION;
use hotline_proto::{
    verify_rotation, Body, Entry, Envelope, Hash, Identity, Kind, OnMiss, Precedence, ProtoError,
    Signers, Terms, ZERO_HASH,
};
use std::collections::{BTreeMap, HashMap, HashSet};

/// An entry whose signature, chain position, causal links and state validity
/// have been checked. Only this module builds one; storage accepts nothing else.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedEntry {
    envelope: Envelope,
    entry: Entry,
    hash: Hash,
}

impl VerifiedEntry {
    /// The envelope, as exact bytes.
    pub fn envelope(&self) -> &Envelope {
        &self.envelope
    }
    /// The decoded entry.
    pub fn entry(&self) -> &Entry {
        &self.entry
    }
    /// The entry's identity: SHA-256 of the envelope bytes.
    pub fn hash(&self) -> Hash {
        self.hash
    }
    /// Re-admits an entry read back from this station's own storage.
    ///
    /// Storage only ever held verified entries; the signature is still checked
    /// so that a tampered database is noticed at start-up rather than trusted.
    pub fn from_storage(bytes: &[u8], key: &Identity) -> Result<VerifiedEntry, Reject> {
        let envelope = Envelope::decode(bytes, hotline_proto::MAX_ENTRY_BYTES_CAP as usize)
            .map_err(Reject::Envelope)?;
        let vk = key.verifying_key().map_err(|_| Reject::BadSignature)?;
        let entry = envelope.open(&vk).map_err(|e| match e {
            ProtoError::BadSignature => Reject::BadSignature,
            e => Reject::Entry(e),
        })?;
        if matches!(entry.body, Body::KeyRotation { .. }) {
            verify_rotation(&envelope, &entry)
                .map_err(|_| Reject::BadRotation("new_sig does not verify under the new key"))?;
        }
        let hash = envelope.hash();
        Ok(VerifiedEntry {
            envelope,
            entry,
            hash,
        })
    }
}

/// What checking an incoming envelope found.
// Consumed immediately by the caller, never stored: boxing would only add an allocation per entry.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// A new valid entry, to be committed and then applied.
    New(VerifiedEntry),
    /// Already stored: same author, seq and hash. Ignore.
    Duplicate,
    /// Same author and seq as a stored entry, different hash: keep both as evidence.
    Equivocation {
        /// The author.
        author: u8,
        /// The seq both claim.
        seq: u64,
        /// The conflicting (correctly signed) envelope.
        envelope: Envelope,
    },
}

/// What the book remembers of each entry.
#[derive(Debug, Clone)]
pub struct Meta {
    /// Entry hash.
    pub hash: Hash,
    /// Its lamport value.
    pub lamport: u64,
    /// Its kind.
    pub kind: Kind,
    /// When this station stored it, by this station's clock (Unix ms).
    pub stored_at: u64,
    /// The author's `seen.seq`.
    pub seen_seq: u64,
}

/// An open decision request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpenRequest {
    /// Deadline, Unix ms, by the requester's clock.
    pub deadline: u64,
    /// What happens at the deadline.
    pub on_miss: OnMiss,
}

/// A message awaiting acknowledgement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unacked {
    /// Its precedence.
    pub precedence: Precedence,
    /// When it was stored here (this station's clock): a counterpart message's
    /// acknowledgement clock starts then.
    pub stored_at: u64,
    /// When this station learned that the counterpart's station holds it
    /// (this station's clock): our own message's acknowledgement clock starts
    /// then, since no one can acknowledge what has not arrived. `None` while
    /// nothing proves delivery; a counterpart message is delivered when stored.
    pub delivered_at: Option<u64>,
    /// A counterpart message above ROUTINE that arrived while the counterpart
    /// was not verified here: stored and held, with no acknowledgement clock,
    /// until an operator verifies its fingerprint (its clock starts then).
    pub held: bool,
}

/// Reason text of an entry the station writes when a deadline passes (SPEC §6).
pub fn deadline_reason(request: &Hash) -> String {
    format!("deadline missed: {}", hotline_proto::hex(request))
}

/// One channel's transcript, as validation and policy see it.
#[derive(Debug, Clone)]
pub struct ChannelBook {
    id: Hash,
    me: u8,
    identities: [Identity; 2],
    /// Each author's keys, oldest first: `(seq of the KeyRotation that
    /// brought it in, identity)`, 0 for the key the `Open` names. Entries
    /// after a rotation are signed by the key it brought in only.
    keys: [Vec<(u64, Identity)>; 2],
    /// The verifying key of each author's newest key, decoded once: every
    /// entry checked would otherwise decompress the same point again.
    signer_vk: [Option<hotline_proto::VerifyingKey>; 2],
    terms: Terms,
    chains: [Vec<Meta>; 2],
    index: HashMap<Hash, (u8, u64)>,
    /// Where the state-changing entries sit, without their bodies: folds any causal cut in O(log n).
    log: StateLog,
    /// The fold over everything held, refreshed when a state-changing entry is applied.
    state: ChannelState,
    refused: [bool; 2],
    /// Messages of each author not yet acknowledged by the other; changed
    /// only through [`ChannelBook::put_unacked`], which keeps `clocks`.
    unacked: [BTreeMap<Hash, Unacked>; 2],
    /// Their acknowledgement clocks by start (`clocks.rs`).
    clocks: [clocks::Clocks; 2],
    /// Own messages by seq that nothing has yet proven delivered: the next
    /// proof marks a range of them without looking at the rest.
    undelivered: BTreeMap<u64, Hash>,
    /// Requests of each author with no decision from the other yet.
    pub open_requests: [BTreeMap<Hash, OpenRequest>; 2],
    /// Requests whose missed deadline an author already acted on (its Suspend/Terminate cites them).
    pub deadline_acted: HashSet<Hash>,
    /// Requests of each author that the other answered.
    pub decided: HashSet<Hash>,
    /// While a batch is open ([`ChannelBook::savepoint`]): how to undo it.
    journal: Option<Vec<Undo>>,
}

impl ChannelBook {
    fn new(id: Hash, me: u8, identities: [Identity; 2], terms: Terms) -> ChannelBook {
        ChannelBook {
            id,
            me,
            identities,
            keys: [vec![(0, identities[0])], vec![(0, identities[1])]],
            signer_vk: identities.map(|id| id.verifying_key().ok()),
            terms,
            chains: [Vec::new(), Vec::new()],
            index: HashMap::new(),
            log: StateLog::default(),
            state: ChannelState::default(),
            refused: [false; 2],
            unacked: [BTreeMap::new(), BTreeMap::new()],
            clocks: Default::default(),
            undelivered: BTreeMap::new(),
            open_requests: [BTreeMap::new(), BTreeMap::new()],
            deadline_acted: HashSet::new(),
            journal: None,
            decided: HashSet::new(),
        }
    }

    /// Writes a new channel's `Open` (this station is author 0).
    #[allow(clippy::too_many_arguments)]
    pub fn open(
        keys: &impl Signers,
        peer: Identity,
        terms: Terms,
        reopens: Option<Hash>,
        by: &str,
        now: u64,
    ) -> (ChannelBook, VerifiedEntry) {
        let keys = keys.current();
        let me = keys.identity();
        let entry = Entry {
            channel: ZERO_HASH,
            author: 0,
            seq: 1,
            prev: ZERO_HASH,
            seen: (0, ZERO_HASH),
            lamport: 1,
            time: now,
            by: by.to_owned(),
            body: Body::Open {
                terms: terms.clone(),
                initiator: me.token(),
                responder: peer.token(),
                reopens,
            },
        };
        let envelope = Envelope::sign(&entry, keys);
        let hash = envelope.hash();
        let v = VerifiedEntry {
            envelope,
            entry,
            hash,
        };
        let mut book = ChannelBook::new(hash, 0, [me, peer], terms);
        book.apply(&v, now);
        (book, v)
    }

    /// Checks a genesis envelope: self-signed by the initiator named inside it.
    ///
    /// `me` is this station's index in the channel (1 for a station receiving a
    /// proposal; the verifier passes 0 or 1 as it likes). The caller checks that
    /// the initiator and responder are who it expects.
    ///
    /// The `Open` is recorded as stored at the time its author claims: right
    /// for a verifier, which has no receive time. A station records its own
    /// receive time with [`ChannelBook::genesis_at`].
    pub fn genesis(bytes: &[u8], me: u8) -> Result<(ChannelBook, VerifiedEntry), Reject> {
        let (mut book, v) = ChannelBook::verify_genesis(bytes, me)?;
        book.apply(&v, v.entry.time);
        Ok((book, v))
    }

    /// [`ChannelBook::genesis`], recording the `Open` as stored at `stored_at`
    /// by this station's clock. The peer's contact clock starts there: the
    /// time the peer wrote in its `Open` is its claim, and one dated in the
    /// future would otherwise silence `contact-missed` until then (SPEC §6).
    pub fn genesis_at(
        bytes: &[u8],
        me: u8,
        stored_at: u64,
    ) -> Result<(ChannelBook, VerifiedEntry), Reject> {
        let (mut book, v) = ChannelBook::verify_genesis(bytes, me)?;
        book.apply(&v, stored_at);
        Ok((book, v))
    }

    /// The checks of [`ChannelBook::genesis`]; the `Open` is not applied yet.
    fn verify_genesis(bytes: &[u8], me: u8) -> Result<(ChannelBook, VerifiedEntry), Reject> {
        let limit = hotline_proto::MAX_ENTRY_BYTES_CAP;
        if bytes.len() as u64 > limit {
            return Err(Reject::TooLarge {
                size: bytes.len(),
                limit,
            });
        }
        let envelope = Envelope::decode(bytes, limit as usize).map_err(Reject::Envelope)?;
        let claimed = envelope.peek().map_err(Reject::Entry)?;
        let Body::Open {
            terms,
            initiator,
            responder,
            ..
        } = &claimed.body
        else {
            return Err(Reject::BadOpen("the first entry must be an Open"));
        };
        let a = Identity::parse(initiator).map_err(|_| Reject::BadOpen("bad initiator token"))?;
        let b = Identity::parse(responder).map_err(|_| Reject::BadOpen("bad responder token"))?;
        if a == b {
            return Err(Reject::BadOpen("a station cannot open a channel to itself"));
        }
        let vk = a.verifying_key().map_err(|_| Reject::BadSignature)?;
        let entry = envelope.open(&vk).map_err(|e| match e {
            ProtoError::BadSignature => Reject::BadSignature,
            e => Reject::Entry(e),
        })?;
        if bytes.len() as u64 > terms.max_entry_bytes {
            return Err(Reject::TooLarge {
                size: bytes.len(),
                limit: terms.max_entry_bytes,
            });
        }
        if !entry.is_open() || entry.prev != ZERO_HASH || entry.seen != (0, ZERO_HASH) {
            return Err(Reject::BadOpen(
                "an Open is author 0, seq 1, with no prev and no seen",
            ));
        }
        if entry.lamport != 1 {
            return Err(Reject::WrongLamport {
                expected: 1,
                got: entry.lamport,
            });
        }
        let hash = envelope.hash();
        let terms = terms.clone();
        let v = VerifiedEntry {
            envelope,
            entry,
            hash,
        };
        Ok((ChannelBook::new(hash, me, [a, b], terms), v))
    }

    /// The channel id.
    pub fn id(&self) -> Hash {
        self.id
    }
    /// This station's author index.
    pub fn me(&self) -> u8 {
        self.me
    }
    /// The counterpart's author index.
    pub fn peer(&self) -> u8 {
        1 - self.me
    }
    /// Identities of author 0 and author 1.
    pub fn identities(&self) -> &[Identity; 2] {
        &self.identities
    }
    /// The agreed (or proposed) terms.
    pub fn terms(&self) -> &Terms {
        &self.terms
    }
    /// The current channel state: the fold over everything stored.
    pub fn state(&self) -> ChannelState {
        self.state
    }
    /// Number of entries of an author.
    pub fn len(&self, author: u8) -> u64 {
        self.chains[author as usize].len() as u64
    }
    /// Whether the book holds no entry at all (never true after genesis).
    pub fn is_empty(&self) -> bool {
        self.chains.iter().all(|c| c.is_empty())
    }
    /// `(seq, hash)` of an author's newest entry; `(0, zeros)` if none.
    pub fn head(&self, author: u8) -> (u64, Hash) {
        let c = &self.chains[author as usize];
        c.last()
            .map(|m| (c.len() as u64, m.hash))
            .unwrap_or((0, ZERO_HASH))
    }
    /// Metadata of one entry.
    pub fn meta(&self, author: u8, seq: u64) -> Option<&Meta> {
        seq.checked_sub(1)
            .and_then(|i| self.chains[author as usize].get(i as usize))
    }
    /// Where an entry sits: `(author, seq)`.
    pub fn locate(&self, hash: &Hash) -> Option<(u8, u64)> {
        self.index.get(hash).copied()
    }
    /// Whether an author's chain is refused after equivocation.
    pub fn refused(&self, author: u8) -> bool {
        self.refused[author as usize]
    }
    /// Refuses the rest of an author's chain (after equivocation).
    pub fn refuse(&mut self, author: u8) {
        self.refused[author as usize] = true;
    }

    fn lamport_of(&self, author: u8, seq: u64) -> u64 {
        self.meta(author, seq).map(|m| m.lamport).unwrap_or(0)
    }

    /// The state as an author knew it when writing entry `seq` having seen `seen` of the other.
    fn state_known(&self, author: u8, seq: u64, seen: u64) -> ChannelState {
        let mut upto = [0; 2];
        upto[author as usize] = seq.saturating_sub(1);
        upto[1 - author as usize] = seen;
        self.log.fold(upto)
    }

    /// Checks a body's references against the author's causal past.
    fn check_refs(&self, author: u8, seq: u64, seen: u64, body: &Body) -> Result<(), &'static str> {
        let Some(target) = body.reference() else {
            return Ok(());
        };
        let (a, s) = self
            .locate(&target)
            .ok_or("the referenced entry is not in this channel")?;
        let known = if a == author { s < seq } else { s <= seen };
        if !known {
            return Err("the referenced entry was not known to the author");
        }
        match body {
            Body::Ack { .. } if a == author => Err("an Ack must acknowledge a counterpart entry"),
            Body::Decision { .. } if a == author => {
                Err("a Decision must answer a counterpart Request")
            }
            Body::Decision { .. } if self.meta(a, s).map(|m| m.kind) != Some(Kind::Request) => {
                Err("a Decision must answer a Request")
            }
            _ => Ok(()),
        }
    }

    /// Validates an envelope from `author` (SPEC §4 validity, in the spec's order, all or nothing).
    ///
    /// Whether the author is verified here does not make an entry valid or
    /// invalid: traffic above ROUTINE from an unverified author is taken and
    /// held by the caller (no acknowledgement clock) rather than stall the
    /// author's chain behind it.
    pub fn check(&self, author: u8, bytes: &[u8]) -> Result<Outcome, Reject> {
        let limit = self.terms.max_entry_bytes;
        if bytes.len() as u64 > limit {
            return Err(Reject::TooLarge {
                size: bytes.len(),
                limit,
            });
        }
        // An author caught equivocating is refused before anything else is
        // looked at: resending the forked entry finds no new equivocation
        // (and stores no new evidence), however often it comes.
        if self.refused[author as usize] {
            return Err(Reject::ChainRefused);
        }
        let envelope = Envelope::decode(bytes, limit as usize).map_err(Reject::Envelope)?;
        // The very bytes of an entry stored here: a duplicate, whichever key
        // signed it (one from before its author's latest rotation, sent
        // again, verifies under the old key only).
        if self
            .locate(&envelope.hash())
            .is_some_and(|(a, _)| a == author)
        {
            return Ok(Outcome::Duplicate);
        }
        let vk = self.signer_vk[author as usize].ok_or(Reject::BadSignature)?;
        let entry = match envelope.open(&vk) {
            Ok(e) => e,
            Err(ProtoError::BadSignature) => match self.earlier_place(author, &envelope) {
                // Signed by the key its place in the chain had: a second
                // entry there, which `check_opened` finds to be equivocation.
                Some(e) => e,
                None => return Err(self.retired_signer(author, &envelope)),
            },
            Err(e) => return Err(Reject::Entry(e)),
        };
        self.check_opened(author, envelope, entry)
    }

    /// [`ChannelBook::check`] for an envelope already decoded, whose
    /// signature the caller has verified under `author`'s key (an offline
    /// verifier checks a whole export's signatures in parallel batches
    /// first): every other rule, in the same order.
    pub fn check_opened(
        &self,
        author: u8,
        envelope: Envelope,
        entry: Entry,
    ) -> Result<Outcome, Reject> {
        let limit = self.terms.max_entry_bytes;
        if envelope.bytes().len() as u64 > limit {
            return Err(Reject::TooLarge {
                size: envelope.bytes().len(),
                limit,
            });
        }
        if self.refused[author as usize] {
            return Err(Reject::ChainRefused);
        }
        let hash = envelope.hash();
        // An entry already stored (the same signed bytes) is a duplicate, whatever
        // else holds: the genesis `Open` carries channel zero and would otherwise
        // fail the channel test when it is delivered twice.
        if self
            .locate(&hash)
            .is_some_and(|(a, s)| a == author && s == entry.seq)
        {
            return Ok(Outcome::Duplicate);
        }
        if entry.channel != self.id {
            return Err(Reject::WrongChannel);
        }
        if entry.author != author {
            return Err(Reject::WrongAuthor);
        }
        let last = self.len(author);
        if entry.seq >= 1 && entry.seq <= last {
            let stored = self.meta(author, entry.seq).expect("seq within chain");
            return Ok(if stored.hash == hash {
                Outcome::Duplicate
            } else {
                Outcome::Equivocation {
                    author,
                    seq: entry.seq,
                    envelope,
                }
            });
        }
        if entry.seq != last + 1 {
            return Err(Reject::SeqGap {
                expected: last + 1,
                got: entry.seq,
            });
        }
        if entry.prev != self.head(author).1 {
            return Err(Reject::WrongPrev);
        }
        let other = 1 - author;
        let (seen_seq, seen_hash) = entry.seen;
        let seen_ok = if seen_seq == 0 {
            seen_hash == ZERO_HASH
        } else {
            self.meta(other, seen_seq).map(|m| m.hash) == Some(seen_hash)
        };
        if !seen_ok {
            return Err(Reject::SeenUnknown);
        }
        let prev_seen = self.meta(author, last).map(|m| m.seen_seq).unwrap_or(0);
        if seen_seq < prev_seen {
            return Err(Reject::SeenBackwards);
        }
        let expected = self
            .lamport_of(author, last)
            .max(self.lamport_of(other, seen_seq))
            + 1;
        if entry.lamport != expected {
            return Err(Reject::WrongLamport {
                expected,
                got: entry.lamport,
            });
        }
        let known = self.state_known(author, entry.seq, seen_seq);
        known
            .check(author, entry.body.kind())
            .map_err(Reject::Forbidden)?;
        if let Body::Accept { terms_hash } = &entry.body {
            if *terms_hash != self.terms.hash() {
                return Err(Reject::TermsMismatch);
            }
        }
        if matches!(entry.body, Body::KeyRotation { .. }) {
            let new = verify_rotation(&envelope, &entry)
                .map_err(|_| Reject::BadRotation("new_sig does not verify under the new key"))?;
            let used = self.keys.iter().flatten().any(|(_, id)| *id == new)
                || self.identities.contains(&new);
            if used {
                return Err(Reject::BadRotation(
                    "the new key is not new to this channel",
                ));
            }
        }
        self.check_refs(author, entry.seq, seen_seq, &entry.body)
            .map_err(Reject::Reference)?;
        if let Body::Notice {
            notice_type,
            notice,
        } = &entry.body
        {
            crate::notice::check(&self.terms, notice_type, notice).map_err(Reject::Notice)?;
        }
        Ok(Outcome::New(VerifiedEntry {
            envelope,
            entry,
            hash,
        }))
    }

    /// Writes, signs and validates a new entry of this station's own.
    ///
    /// The caller commits it, then calls [`ChannelBook::apply`]. `peer_verified`
    /// is whether the counterpart's fingerprint has been confirmed.
    pub fn author(
        &self,
        keys: &impl Signers,
        body: Body,
        by: &str,
        now: u64,
        peer_verified: bool,
    ) -> Result<VerifiedEntry, Refusal> {
        let signer = self.own_signer(keys)?;
        let entry = self.next_entry(body, by, now, peer_verified)?;
        self.seal(Envelope::sign(&entry, signer), entry)
    }

    /// The size check, then the verified entry.
    fn seal(&self, envelope: Envelope, entry: Entry) -> Result<VerifiedEntry, Refusal> {
        if envelope.bytes().len() as u64 > self.terms.max_entry_bytes {
            return Err(Refusal::TooLarge {
                size: envelope.bytes().len(),
                limit: self.terms.max_entry_bytes,
            });
        }
        let hash = envelope.hash();
        let entry = match entry.body {
            // The body as signed, with the new key's signature in it.
            Body::KeyRotation { .. } => envelope
                .peek()
                .map_err(|_| Refusal::Reference("unreadable rotation"))?,
            _ => entry,
        };
        Ok(VerifiedEntry {
            envelope,
            entry,
            hash,
        })
    }

    /// The next own entry with `body`, checked against the channel's state.
    fn next_entry(
        &self,
        body: Body,
        by: &str,
        now: u64,
        peer_verified: bool,
    ) -> Result<Entry, Refusal> {
        let me = self.me;
        let peer = self.peer();
        self.state
            .check(me, body.kind())
            .map_err(Refusal::Forbidden)?;
        let (seq, prev) = {
            let (s, h) = self.head(me);
            (s + 1, h)
        };
        let seen = self.head(peer);
        self.check_refs(me, seq, seen.0, &body)
            .map_err(Refusal::Reference)?;
        if let Body::Notice {
            notice_type,
            notice,
        } = &body
        {
            crate::notice::check(&self.terms, notice_type, notice).map_err(Refusal::Notice)?;
        }
        if let Body::Message { precedence, .. } = &body {
            if !peer_verified && *precedence != Precedence::Routine {
                return Err(Refusal::Unverified);
            }
        }
        let lamport = self
            .lamport_of(me, seq - 1)
            .max(self.lamport_of(peer, seen.0))
            + 1;
        let entry = Entry {
            channel: self.id,
            author: me,
            seq,
            prev,
            seen,
            lamport,
            time: now,
            by: if by.is_empty() {
                BY_STATION.into()
            } else {
                by.to_owned()
            },
            body,
        };
        Ok(entry)
    }

    /// Records a verified entry that has been committed; `stored_at` is this station's clock.
    ///
    /// Entries must be applied in each author's seq order (the validity rules guarantee it).
    pub fn apply(&mut self, v: &VerifiedEntry, stored_at: u64) {
        let e = &v.entry;
        let author = e.author;
        let other = 1 - author;
        debug_assert_eq!(e.seq, self.len(author) + 1);
        let chain = &mut self.chains[author as usize];
        if chain.capacity() == 0 {
            // Often the author's only entry for long (`Open`, `Accept`):
            // room for one, not the four a first push takes (256 bytes).
            chain.reserve_exact(1);
        }
        chain.push(Meta {
            hash: v.hash,
            lamport: e.lamport,
            kind: e.body.kind(),
            stored_at,
            seen_seq: e.seen.0,
        });
        self.index.insert(v.hash, (author, e.seq));
        if author != self.me {
            // The counterpart wrote this having stored our entries up to `seen`.
            self.mark_delivered(e.seen.0, stored_at);
        }
        match &e.body {
            Body::Message { precedence, .. } => {
                let own = author == self.me;
                if own {
                    self.undelivered.insert(e.seq, v.hash);
                    self.note(Undo::UndeliveredAdded(e.seq));
                }
                let was = self.put_unacked(
                    author,
                    v.hash,
                    Some(Unacked {
                        precedence: *precedence,
                        stored_at,
                        delivered_at: (!own).then_some(stored_at),
                        held: false,
                    }),
                );
                self.note(Undo::Unacked {
                    author,
                    hash: v.hash,
                    was,
                });
            }
            Body::Ack { of } => {
                let was = self.put_unacked(other, *of, None);
                self.note(Undo::Unacked {
                    author: other,
                    hash: *of,
                    was,
                });
            }
            Body::Request {
                deadline, on_miss, ..
            } => {
                let was = self.open_requests[author as usize].insert(
                    v.hash,
                    OpenRequest {
                        deadline: *deadline,
                        on_miss: *on_miss,
                    },
                );
                self.note(Undo::Request {
                    author,
                    hash: v.hash,
                    was,
                });
            }
            Body::Decision { request, .. } => {
                let was = self.open_requests[other as usize].remove(request);
                self.note(Undo::Request {
                    author: other,
                    hash: *request,
                    was,
                });
                if self.decided.insert(*request) {
                    self.note(Undo::Decided(*request));
                }
            }
            Body::Suspend { reason } | Body::Terminate { reason } => {
                // Only the requester's own action counts: the counterpart must not be
                // able to cancel our deadline by writing such a reason itself.
                if let Some(h) = reason
                    .strip_prefix("deadline missed: ")
                    .and_then(|h| hotline_proto::parse_hash(h).ok())
                    .filter(|h| self.locate(h).is_some_and(|(a, _)| a == author))
                {
                    if self.deadline_acted.insert(h) {
                        self.note(Undo::DeadlineActed(h));
                    }
                }
            }
            Body::KeyRotation { new_token, .. } => {
                // Checked before it was committed (or read back from storage).
                if let Ok(new) = Identity::parse(new_token) {
                    self.keys[author as usize].push((e.seq, new));
                    self.refresh_signer(author);
                    self.note(Undo::Rotated(author));
                }
            }
            _ => {}
        }
        if changes_state(e.body.kind()) {
            // The entry may merge before entries already held (a concurrent
            // peer entry arriving late): the log folds in merged order anyway.
            self.log.push(author, e.seq, e.lamport, e.body.kind());
            self.state = self.log.fold([u64::MAX; 2]);
        }
    }

    /// When the newest entry of an author was stored here (this station's clock).
    pub fn last_stored_at(&self, author: u8) -> Option<u64> {
        self.chains[author as usize].last().map(|m| m.stored_at)
    }
}
