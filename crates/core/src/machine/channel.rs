//! One channel in the machine: restore, open, author, the policy tick and the
//! export checkpoint. The receive path is in `receive.rs`.

use super::{Durable, Effect, Fault, Peer, PeerId, Step};
use crate::book::{ChannelBook, Refusal, Reject, VerifiedEntry};
use crate::policy::{self, Action};
use crate::state::{changes_state, Phase};
use hotline_proto::checkpoint::SignedCheckpoint;
use hotline_proto::entry::BY_STATION;
use hotline_proto::{hex, Body, Checkpoint, Hash, Identity, ProtoError, Signers, Terms};
use std::collections::BTreeSet;

/// Most rounds of evaluate-and-carry-out in one policy tick. Carrying out the
/// policy's own actions must reach quiet in two or three rounds (a deadline
/// `Suspend`, then the contact check it allows); more means the policy keeps
/// asking for something it cannot have, which is reported, never looped on.
pub const POLICY_ROUNDS: usize = 8;

/// One channel's live state: the book plus what the station knows about
/// delivery and its open policy alerts.
#[derive(Debug, Clone)]
pub struct Channel {
    /// Validation and policy state, including entries applied but not yet committed.
    book: ChannelBook,
    /// The peer this channel is with.
    peer: PeerId,
    /// The peer's latest checkpoint: our proof of delivery.
    peer_ckpt: Option<SignedCheckpoint>,
    /// Hash of our own latest checkpoint, which the next one cites.
    own_ckpt: Option<Hash>,
    /// Keys of this channel's open policy alerts; the policy raises only what is not open.
    open_alerts: BTreeSet<String>,
    /// Highest own seq handed to the link (the "sent" delivery state).
    sent_upto: u64,
    /// When the peer last proved delivery, by our clock (after a restart: its checkpoint's clock).
    last_delivery_at: Option<u64>,
    /// Taking back our own chain after a restore from a backup (`recover.rs`).
    pub(super) recovery: super::Recovery,
    /// The entries of each author the newest stored snapshot covers.
    snap_lens: [u64; 2],
}

/// Why a stored channel cannot be loaded: the storage holds something this
/// station never wrote, and nothing it says can be vouched for.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RestoreError {
    /// The channel has no stored entry.
    #[error("channel {0} has no stored entries")]
    Empty(String),
    /// The stored `Open` does not verify.
    #[error("the stored Open of channel {channel} does not verify: {reject}")]
    Open {
        /// Channel id, hex.
        channel: String,
        /// The rule it fails.
        reject: Reject,
    },
    /// A stored entry does not verify.
    #[error("stored entry {author}/{seq} of channel {channel} does not verify: {reject}")]
    Entry {
        /// Channel id, hex.
        channel: String,
        /// Whose chain holds it.
        author: u8,
        /// Where in that chain.
        seq: u64,
        /// The rule it fails.
        reject: Reject,
    },
    /// A stored checkpoint does not verify.
    #[error("the stored checkpoint of author {signer} on channel {channel} does not verify")]
    Checkpoint {
        /// Channel id, hex.
        channel: String,
        /// Whose checkpoint it is.
        signer: u8,
    },
}

/// Why this station refuses to open a channel.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OpenRefusal {
    /// `reopens` names a channel with another peer.
    #[error("--reopens names a channel with another peer")]
    ReopenOtherPeer,
    /// A term lies outside the bounds a station accepts (the peer would refuse it too).
    #[error("{0}")]
    Terms(ProtoError),
    /// A notice type whose name or schema is unusable.
    #[error("{0}")]
    Notice(crate::notice::NoticeFault),
    /// This station rotated its keys and no checkpoint of the peer's shows
    /// that it stored the rotation yet: a proposal would name a key the
    /// peer does not pin.
    #[error("this station rotated its keys and the peer has not yet confirmed the new key on any channel: wait until it has (a channel that has not ended carries the rotation), or, with no such channel, send it the new token and fingerprint to re-pin (peer repin) and have it open the channel")]
    PeerKeyBehind,
    /// `reopens` names a channel that has not ended.
    #[error("channel {channel} is {state}: only an ended channel can be reopened")]
    ReopenNotEnded {
        /// The channel, hex.
        channel: String,
        /// Its state word.
        state: &'static str,
    },
}

/// What an oversight export needs once its fresh checkpoint is durable
/// (SPEC §9): the heads it covers and the checkpoints to include.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportPlan {
    /// The channel exported.
    pub channel: Hash,
    /// The exporter's author index.
    pub me: u8,
    /// Identities of author 0 and author 1.
    pub identities: [Identity; 2],
    /// `(seq, hash)` of each author covered by the fresh checkpoint.
    pub heads: [(u64, Hash); 2],
    /// The peer's latest checkpoint (if any), then the fresh one.
    pub checkpoints: Vec<Vec<u8>>,
    /// Export time, this station's clock.
    pub at: u64,
}

impl ExportPlan {
    /// Writes the export from stored rows `(author, seq, envelope)` in any
    /// order; entries committed after the checkpoint was signed are left for
    /// the next export, so the file is exactly what its checkpoint covers.
    pub fn write(
        &self,
        rows: impl IntoIterator<Item = (u8, u64, Vec<u8>)>,
        evidence: &[crate::export::Evidence],
        log_notes: &[(u8, Vec<u8>)],
    ) -> Result<String, String> {
        // A note covers entries up to its size: those past the fresh
        // checkpoint are left for the next export, with the entries.
        let notes: Vec<(u8, Vec<u8>)> = log_notes
            .iter()
            .filter(|(a, note)| {
                crate::tlog::note_size(note).is_some_and(|s| s <= self.heads[*a as usize & 1].0)
            })
            .cloned()
            .collect();
        let envs: Vec<Vec<u8>> = rows
            .into_iter()
            .filter(|(author, seq, _)| *seq <= self.heads[*author as usize].0)
            .map(|(_, _, e)| e)
            .collect();
        crate::export::write(
            &self.channel,
            &self.identities,
            self.me,
            self.at,
            &envs,
            crate::export::Attached {
                checkpoints: &self.checkpoints,
                evidence,
                log_notes: &notes,
            },
        )
    }
}

impl Channel {
    fn new(book: ChannelBook, peer: PeerId) -> Channel {
        Channel {
            book,
            peer,
            peer_ckpt: None,
            own_ckpt: None,
            open_alerts: BTreeSet::new(),
            sent_upto: 0,
            last_delivery_at: None,
            recovery: super::Recovery::default(),
            snap_lens: [0; 2],
        }
    }

    /// Writes a start-up snapshot of the book with `step` once
    /// [`crate::book::snapshot::SNAPSHOT_EVERY`] entries were added since the
    /// last one; never while a batch is open.
    pub(super) fn snapshot_if_due(&mut self, step: &mut Step) {
        let since = self.snap_lens[0] + self.snap_lens[1];
        if self.book.in_batch() || self.book.total() < since + crate::book::snapshot::SNAPSHOT_EVERY
        {
            return;
        }
        let snap = self.book.snapshot(self.snap_lens);
        self.snap_lens = snap.lens;
        step.write(Durable::Snapshot(Box::new(snap)));
    }

    /// The entries of each author the newest stored snapshot covers.
    pub fn snapshot_lens(&self) -> [u64; 2] {
        self.snap_lens
    }

    /// Whether the peer proposed this channel and this station has not yet
    /// accepted it (or refused it by terminating).
    pub fn awaits_acceptance(&self) -> bool {
        self.book().me() == 1 && self.book().state().phase == crate::state::Phase::Proposed
    }

    /// The peer is verified now: the messages held while it was not start
    /// their acknowledgement clocks at `now`. Returns how many were held.
    pub fn peer_verified(&mut self, now: u64) -> usize {
        self.book_mut().release_held(now)
    }

    /// The peer is not verified (a restart): its messages above ROUTINE that
    /// are not acknowledged are held, with no acknowledgement clock.
    pub fn peer_unverified(&mut self) {
        self.book_mut().hold_above_routine();
    }

    /// The largest envelope the peer may send on this channel, which bounds
    /// what the link reassembles from that peer: the channel's
    /// `max_entry_bytes` once its terms are in force (this station proposed
    /// them, or accepted the peer's), else at most the default entry size. A
    /// proposal's terms bind nothing until this station accepts them, so one
    /// waiting for acceptance (or refused by terminating) cannot raise what
    /// the peer makes this station buffer: before acceptance the peer may
    /// write nothing but a `Terminate` (SPEC §4).
    pub fn entry_bound(&self) -> u64 {
        let book = self.book();
        let terms = book.terms().max_entry_bytes;
        let in_force = book.me() == 0
            || book
                .meta(book.me(), 1)
                .is_some_and(|m| m.kind == hotline_proto::Kind::Accept);
        if in_force {
            terms
        } else {
            terms.min(hotline_proto::entry::DEFAULT_MAX_ENTRY_BYTES)
        }
    }

    /// Refuses the rest of an author's chain: it was caught equivocating
    /// (restored from the evidence held in storage).
    pub fn refuse(&mut self, author: u8) {
        self.book_mut().refuse(author);
    }

    /// Rebuilds a channel from what storage holds: entries `(author, seq,
    /// envelope, stored_at)` in commit order, the latest checkpoint of each
    /// side, and the keys of the station's open alerts (those of this
    /// channel's policy are kept). Every signature is checked again, so a
    /// tampered database is noticed at start-up rather than trusted.
    pub fn restore(
        me: u8,
        peer: PeerId,
        entries: impl IntoIterator<Item = (u8, u64, Vec<u8>, u64)>,
        checkpoints: [Option<Vec<u8>>; 2],
        open_alerts: impl IntoIterator<Item = String>,
    ) -> Result<Channel, RestoreError> {
        Channel::restore_from(None, me, peer, entries, checkpoints, open_alerts)
    }

    /// [`Channel::restore`] from a book rebuilt from a start-up snapshot
    /// ([`ChannelBook::from_snapshot`]): `entries` are then only those
    /// stored after it, each checked and applied in turn.
    pub fn restore_from(
        base: Option<ChannelBook>,
        me: u8,
        peer: PeerId,
        entries: impl IntoIterator<Item = (u8, u64, Vec<u8>, u64)>,
        checkpoints: [Option<Vec<u8>>; 2],
        open_alerts: impl IntoIterator<Item = String>,
    ) -> Result<Channel, RestoreError> {
        let snap_lens = base.as_ref().map(|b| [b.len(0), b.len(1)]);
        let mut channel = base.as_ref().map(|b| hex(&b.id())).unwrap_or_default();
        let mut book = base;
        for (author, seq, envelope, stored_at) in entries {
            match book.as_mut() {
                None => {
                    let (b, _) =
                        ChannelBook::genesis_at(&envelope, me, stored_at).map_err(|reject| {
                            RestoreError::Open {
                                channel: hex(&hotline_proto::sha256(&envelope)),
                                reject,
                            }
                        })?;
                    channel = hex(&b.id());
                    book = Some(b);
                }
                Some(b) => {
                    let bad = |reject| RestoreError::Entry {
                        channel: channel.clone(),
                        author,
                        seq,
                        reject,
                    };
                    if author > 1 || seq != b.len(author) + 1 {
                        let expected = b.len(author.min(1)) + 1;
                        return Err(bad(Reject::SeqGap { expected, got: seq }));
                    }
                    let v =
                        VerifiedEntry::from_storage(&envelope, &b.signer(author)).map_err(bad)?;
                    b.apply(&v, stored_at);
                }
            }
        }
        let book = book.ok_or(RestoreError::Empty(channel.clone()))?;
        let mut ch = Channel::new(book, peer);
        ch.snap_lens = snap_lens.unwrap_or_default();
        let [c0, c1] = checkpoints;
        for (signer, bytes) in [(0u8, c0), (1u8, c1)] {
            let Some(bytes) = bytes else { continue };
            let bad = || RestoreError::Checkpoint {
                channel: channel.clone(),
                signer,
            };
            // Our own storage: whichever of the signer's keys in this
            // channel signed it.
            let c = ch
                .book
                .key_history(signer)
                .iter()
                .rev()
                .filter_map(|(_, id)| id.verifying_key().ok())
                .find_map(|key| SignedCheckpoint::open(&bytes, &key).ok())
                .ok_or_else(bad)?;
            if signer == ch.book.me() {
                ch.own_ckpt = Some(c.hash());
            } else {
                // The peer's own clock on its last checkpoint: the best we know after a restart.
                ch.last_delivery_at = Some(c.checkpoint().time);
                ch.peer_ckpt = Some(c);
            }
        }
        ch.sent_upto = ch.delivered_upto();
        // When the stored checkpoint proved delivery is not stored: the
        // acknowledgement clocks of what it covers start when each message was
        // stored, the earliest they can, so a restart never silences them.
        let upto = ch.delivered_upto();
        ch.book.mark_delivered(upto, 0);
        ch.open_alerts = open_alerts
            .into_iter()
            .filter(|k| super::is_policy_key(k))
            .collect();
        Ok(ch)
    }

    /// Opens a channel to `peer` (this station is author 0). `reopens` is the
    /// ended channel this one continues, if any.
    pub fn open(
        keys: &impl Signers,
        peer: &Peer,
        terms: Terms,
        reopens: Option<(Hash, &Channel)>,
        by: &str,
        now: u64,
    ) -> Result<(Channel, Step), OpenRefusal> {
        terms.check().map_err(OpenRefusal::Terms)?;
        crate::notice::check_terms(&terms).map_err(OpenRefusal::Notice)?;
        if let Some((old, ch)) = reopens {
            if ch.peer != peer.id && !peer.earlier.contains(&ch.peer) {
                return Err(OpenRefusal::ReopenOtherPeer);
            }
            if ch.book.state().phase != Phase::Terminated {
                return Err(OpenRefusal::ReopenNotEnded {
                    channel: hex(&old),
                    state: ch.book.state().word(),
                });
            }
        }
        let (book, v) =
            ChannelBook::open(keys, peer.identity, terms, reopens.map(|r| r.0), by, now);
        let id = book.id();
        let mut step = Step::default();
        step.write(Durable::Channel {
            id,
            peer: peer.id,
            me: 0,
            created_at: now,
        });
        step.after.push(Effect::ChannelCreated { channel: id });
        // `ChannelBook::open` has applied the Open already.
        let ch = Channel::new(book, peer.id);
        ch.committed(&mut step, v, now, true);
        step.after.push(Effect::Wake { peer: peer.id });
        Ok((ch, step))
    }

    /// A channel proposed by the peer, from its verified `Open` (see `receive.rs`).
    pub(super) fn proposed(book: ChannelBook, peer: PeerId) -> Channel {
        Channel::new(book, peer)
    }

    /// Writes an entry for a local user (`by`). Refused entries change nothing.
    pub fn author(
        &mut self,
        keys: &impl Signers,
        peer: &Peer,
        body: Body,
        by: &str,
        now: u64,
    ) -> Result<(VerifiedEntry, Step), Refusal> {
        self.writable()?;
        if matches!(body, Body::Accept { .. }) {
            let theirs = self.book.signer(self.book.peer());
            if peer.retired.contains(&theirs) {
                return Err(Refusal::PeerKeyRetired);
            }
        }
        let v = self.book.author(keys, body, by, now, peer.verified)?;
        let mut step = Step::default();
        self.commit_own(&mut step, v.clone(), now);
        step.after.push(Effect::Wake { peer: self.peer });
        Ok((v, step))
    }

    /// Applies one of our own entries and schedules its write and report.
    pub(super) fn commit_own(&mut self, step: &mut Step, v: VerifiedEntry, now: u64) {
        self.book.apply(&v, now);
        self.committed(step, v, now, true);
        self.snapshot_if_due(step);
    }

    /// The write of an applied entry and the effects that follow its commit.
    pub(super) fn committed(&self, step: &mut Step, v: VerifiedEntry, now: u64, own: bool) {
        let channel = self.book.id();
        let e = v.entry();
        let (hash, author, seq, kind) = (v.hash(), e.author, e.seq, e.body.kind());
        let write = step.write(Durable::Entry {
            entry: v,
            stored_at: now,
        });
        step.after.push(Effect::Committed {
            channel,
            write,
            hash,
            author,
            seq,
            kind,
            own,
        });
        if changes_state(kind) {
            step.after.push(Effect::StateChanged { channel });
        }
    }

    /// The policy tick (SPEC §6): contact checks, acknowledgement clocks and
    /// decision deadlines, carried out and evaluated again until quiet.
    pub fn tick(&mut self, keys: &impl Signers, peer: &Peer, now: u64) -> Step {
        let id = self.book.id();
        let mut step = Step::default();
        let mut authored = false;
        // While this station may be behind its own chain, the policy raises
        // and clears alerts but writes nothing (`recover.rs`).
        let writable = self.writable().is_ok();
        for _ in 0..POLICY_ROUNDS {
            let mut actions = policy::evaluate(&self.book, &self.open_alerts, now);
            if !writable {
                actions.retain(|a| !matches!(a, Action::Author(_)));
            }
            // A refused action of the policy's own is reported, never retried
            // in a loop; the rest of its round (alerts) is still carried out.
            if actions.is_empty() || step.fault.is_some() {
                if authored {
                    step.after.push(Effect::Wake { peer: self.peer });
                }
                return step;
            }
            for a in actions {
                match a {
                    Action::Author(body) => {
                        match self.book.author(keys, body, BY_STATION, now, peer.verified) {
                            Ok(v) => {
                                self.commit_own(&mut step, v, now);
                                authored = true;
                            }
                            Err(r) => step.fault = Some(Fault::PolicyRefused(r)),
                        }
                    }
                    Action::Raise { kind, key, cause } => {
                        self.open_alerts.insert(key.clone());
                        step.alert(Durable::RaiseAlert {
                            kind,
                            channel: Some(id),
                            key,
                            cause,
                            at: now,
                        });
                    }
                    Action::Clear { key } => {
                        self.open_alerts.remove(&key);
                        step.alert(Durable::ClearAlert {
                            channel: Some(id),
                            key,
                            at: now,
                        });
                    }
                }
            }
        }
        step.fault = Some(Fault::PolicyNotQuiet);
        if authored {
            step.after.push(Effect::Wake { peer: self.peer });
        }
        step
    }

    /// Signs a checkpoint over everything held now, citing our previous one.
    pub(super) fn sign_checkpoint(&mut self, keys: &impl Signers, now: u64) -> (Durable, Vec<u8>) {
        let c = Checkpoint {
            channel: self.book.id(),
            signer: self.book.me(),
            heads: self.heads(),
            time: now,
            peer_checkpoint: self.peer_ckpt.as_ref().map(|c| c.hash()),
        };
        // Signed with the newest key of our chain that the peer is known to
        // hold: after a rotation, once its checkpoint covers our
        // `KeyRotation` here. A checkpoint under a key still on its way to
        // the peer would be one it cannot check.
        let own = self
            .book
            .signer_after(self.book.me(), self.delivered_upto());
        let signed = c.sign(keys.signer(&own).unwrap_or(keys.current()));
        self.own_ckpt = Some(signed.hash());
        let bytes = signed.bytes().to_vec();
        (
            Durable::Checkpoint {
                channel: c.channel,
                signer: c.signer,
                envelope: bytes.clone(),
                stored_at: now,
            },
            bytes,
        )
    }

    /// A fresh checkpoint for an oversight export (SPEC §9): once it is
    /// committed, [`Effect::Export`] says what the file covers.
    pub fn export_checkpoint(&mut self, keys: &impl Signers, now: u64) -> Step {
        let heads = self.heads();
        let (write, bytes) = self.sign_checkpoint(keys, now);
        let mut checkpoints = vec![];
        if let Some(p) = &self.peer_ckpt {
            checkpoints.push(p.bytes().to_vec());
        }
        checkpoints.push(bytes);
        let mut step = Step::default();
        step.write(write);
        step.after.push(Effect::Export(ExportPlan {
            channel: self.book.id(),
            me: self.book.me(),
            identities: *self.book.identities(),
            heads,
            checkpoints,
            at: now,
        }));
        step
    }

    /// When the policy could next act on this channel if nothing happens
    /// on it meanwhile ([`crate::policy::next_due`]).
    pub fn next_due(&self, now: u64) -> Option<u64> {
        policy::next_due(&self.book, now)
    }

    /// The channel's book: transcript metadata, state, open clocks.
    pub fn book(&self) -> &ChannelBook {
        &self.book
    }

    /// The channel id.
    pub fn id(&self) -> Hash {
        self.book.id()
    }

    /// The peer this channel is with.
    pub fn peer_id(&self) -> PeerId {
        self.peer
    }

    /// `(seq, hash)` of the newest entry held of author 0 and of author 1:
    /// what a `Hello` announces and a checkpoint covers.
    pub fn heads(&self) -> [(u64, Hash); 2] {
        [self.book.head(0), self.book.head(1)]
    }

    /// Highest own seq handed to the link.
    pub fn sent_upto(&self) -> u64 {
        self.sent_upto
    }

    /// Records that own entries up to `seq` were handed to the link (call it
    /// once the send succeeded: the "sent" delivery state must be true).
    pub fn mark_sent(&mut self, seq: u64) {
        self.sent_upto = self.sent_upto.max(seq);
    }

    /// When the peer last proved delivery, if ever.
    pub fn last_delivery_at(&self) -> Option<u64> {
        self.last_delivery_at
    }

    /// Keys of this channel's open policy alerts.
    pub fn open_alerts(&self) -> &BTreeSet<String> {
        &self.open_alerts
    }

    /// The peer's latest checkpoint, if any.
    pub fn peer_checkpoint(&self) -> Option<&SignedCheckpoint> {
        self.peer_ckpt.as_ref()
    }

    /// Hash of our own latest checkpoint, if any.
    pub fn own_checkpoint(&self) -> Option<Hash> {
        self.own_ckpt
    }

    /// Highest own seq covered by the peer's checkpoint.
    pub fn delivered_upto(&self) -> u64 {
        self.peer_ckpt
            .as_ref()
            .map(|c| c.checkpoint().heads[self.book.me() as usize].0)
            .unwrap_or(0)
    }

    /// Whether the channel still carries traffic (not terminated).
    pub fn is_live(&self) -> bool {
        self.book.state().phase != Phase::Terminated
    }

    /// Records a verified peer checkpoint as the newest.
    pub(super) fn set_peer_checkpoint(&mut self, c: SignedCheckpoint, now: u64) {
        self.peer_ckpt = Some(c);
        self.last_delivery_at = Some(now);
        let upto = self.delivered_upto();
        self.book.mark_delivered(upto, now);
    }

    /// Mutable book, for the receive path in this module tree.
    pub(super) fn book_mut(&mut self) -> &mut ChannelBook {
        &mut self.book
    }
}
