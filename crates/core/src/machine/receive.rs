//! The receive path: a batch of the peer's entries, and the peer's checkpoints
//! (SPEC §4 validity, §5 delivery and equivocation). Input is taken whole or
//! not at all (SPEC §1): the first invalid entry stops the batch, raises an
//! alert, and nothing of the batch is stored, not even the valid entries
//! before it (the book is rolled back to where the batch began).

use super::{bad_input, Channel, Durable, Effect, Peer, Step};
use crate::book::{ChannelBook, Outcome, Refusal, Reject};
use crate::policy::AlertKind;
use hotline_proto::checkpoint::SignedCheckpoint;
use hotline_proto::link::codes;
use hotline_proto::{hex, Hash, Identity, LinkMsg, ProtoError, Signers};

/// Why the machine stopped short. Peer faults name the rule and the entry;
/// the rest are the station's own policy that could not be carried out.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Fault {
    /// The first entry of an unknown channel is not an acceptable `Open`.
    #[error("proposal rejected: {0}")]
    Proposal(Reject),
    /// The proposal names other stations, or another channel than the batch.
    #[error("proposal rejected: it names other stations or another channel")]
    ForeignProposal,
    /// The peer has this many proposals waiting for our acceptance already.
    #[error("proposal refused: {limit} proposals from this peer already wait for acceptance here")]
    TooManyProposals {
        /// [`PENDING_PROPOSALS`].
        limit: usize,
    },
    /// The batch names a channel this station holds with another peer.
    #[error("entries for a channel with another peer")]
    OtherPeersChannel,
    /// An entry failed a validity rule.
    #[error("{reject} (entry {index} of the batch)")]
    Entry {
        /// Its position in the batch, from 0.
        index: usize,
        /// The rule it broke.
        reject: Reject,
    },
    /// The peer signed two different entries with the same seq.
    #[error("equivocation at seq {seq}")]
    Equivocation {
        /// The seq both entries claim.
        seq: u64,
    },
    /// A checkpoint from the peer is not acceptable.
    #[error("{0}")]
    Checkpoint(CheckpointFault),
    /// The policy asked for an entry the channel refuses (a bug, reported not looped on).
    #[error("the station refused its own policy action: {0}")]
    PolicyRefused(Refusal),
    /// The policy did not reach quiet within its rounds.
    #[error("the policy engine is not quiet after carrying out its own actions")]
    PolicyNotQuiet,
}

impl Fault {
    /// Whether the fault is the peer's (rejected input), not the station's own.
    pub fn is_peer_fault(&self) -> bool {
        !matches!(self, Fault::PolicyRefused(_) | Fault::PolicyNotQuiet)
    }
}

/// Why a checkpoint from the peer was refused.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CheckpointFault {
    /// The bytes are not a checkpoint.
    #[error("checkpoint does not decode: {0}")]
    Undecodable(ProtoError),
    /// No channel here has that id.
    #[error("checkpoint for an unknown channel")]
    UnknownChannel,
    /// Signed by the wrong author, or for a channel with another peer.
    #[error("checkpoint signed for the wrong side")]
    WrongSide,
    /// The signature does not verify under the peer's pinned key.
    #[error("checkpoint rejected: {0}")]
    Signature(ProtoError),
    /// Signed by a key of the peer's that its chain in this channel never had.
    #[error("checkpoint signed with a key of the peer's that its chain in this channel never had")]
    RetiredKey,
    /// Its heads contradict the transcript held here.
    #[error("checkpoint disagrees with the transcript held here (covers our {ours}, their {theirs}; we hold our {held_ours}, their {held_theirs})")]
    Disagrees {
        /// Own seq it covers.
        ours: u64,
        /// Peer seq it covers.
        theirs: u64,
        /// Own entries held.
        held_ours: u64,
        /// Peer entries held.
        held_theirs: u64,
    },
}

/// A checkpoint whose signature verified under one of its peer's keys, with
/// that key: opened once to route it ([`OpenedCheckpoint::channel`]; the
/// signature is verified before the body is decoded, so nothing the peer
/// did not sign is read), then checked by its channel
/// ([`Channel::receive_opened_checkpoint`]) without verifying it again.
#[derive(Debug, Clone)]
pub struct OpenedCheckpoint {
    checkpoint: SignedCheckpoint,
    signer: Identity,
}

impl OpenedCheckpoint {
    /// The channel it names.
    pub fn channel(&self) -> Hash {
        self.checkpoint.checkpoint().channel
    }
}

/// A checkpoint verified under one of the peer's keys (the pin first, then
/// the keys it rotated away from, newest first), then decoded; with the key
/// that signed it, which the channel then checks against its chain.
pub fn open_checkpoint(peer: &Peer, bytes: &[u8]) -> Result<OpenedCheckpoint, CheckpointFault> {
    let mut fault = CheckpointFault::Signature(ProtoError::BadSignature);
    for id in peer.keys().rev() {
        let key = id.verifying_key().map_err(CheckpointFault::Signature)?;
        match SignedCheckpoint::open(bytes, &key) {
            Ok(checkpoint) => {
                return Ok(OpenedCheckpoint {
                    checkpoint,
                    signer: *id,
                })
            }
            Err(ProtoError::BadSignature) => {}
            Err(e) => fault = CheckpointFault::Undecodable(e),
        }
    }
    Err(fault)
}

/// The step for rejected input: the `bad-input` alert, the `Error` reply
/// when the input came as entries, and the link closes.
pub fn reject(peer: &Peer, channel: Option<Hash>, fault: Fault, now: u64) -> Step {
    let reply = match fault {
        Fault::Checkpoint(_) => None,
        _ => Some(codes::REJECTED),
    };
    let mut step = bad_input(peer, channel, &fault.to_string(), reply, now);
    step.fault = Some(fault);
    step
}

/// Proposals from one peer waiting for this station's acceptance, at most:
/// each is a stored channel and a book in memory, so a peer cannot make more
/// until an operator accepts one (or the peer withdraws it).
pub const PENDING_PROPOSALS: usize = 16;

/// Takes a batch for a channel not held here: its first envelope must be the
/// peer's `Open` proposing a channel to this station, and fewer than
/// [`PENDING_PROPOSALS`] of the peer's may be `pending` here. Returns the new
/// channel (if the proposal is acceptable) and the step for the whole batch.
pub fn receive_proposal(
    keys: &impl Signers,
    peer: &Peer,
    channel: Hash,
    envelopes: Vec<Vec<u8>>,
    pending: usize,
    now: u64,
) -> (Option<Channel>, Step) {
    let mut envs = envelopes.into_iter();
    let Some(first) = envs.next() else {
        return (None, Step::default());
    };
    // Stored now, by our clock: the peer's contact clock starts here, whatever
    // time its Open claims.
    let (book, v) = match ChannelBook::genesis_at(&first, 1, now) {
        Ok(x) => x,
        Err(e) => return (None, reject(peer, None, Fault::Proposal(e), now)),
    };
    // Terms out of range are refused whole, before anything is stored: no
    // window may overflow the clocks (SPEC §1 principle 4).
    if let Err(e) = book.terms().check() {
        return (
            None,
            reject(peer, None, Fault::Proposal(Reject::Terms(e)), now),
        );
    }
    // So are notice types whose schema does not compile: no notice of
    // theirs could ever be judged.
    if let Err(e) = crate::notice::check_terms(book.terms()) {
        return (
            None,
            reject(peer, None, Fault::Proposal(Reject::Notice(e)), now),
        );
    }
    let ids = book.identities();
    // A proposal to a key of ours we rotated away from is taken: we hold it,
    // and our chain in the channel rotates before anything else is signed.
    let to_us = keys.signer(&ids[1]).is_some();
    // One from a key the peer rotated away from is taken too: it was
    // written before the rotation and sent again. Until the peer's
    // `KeyRotation` in it arrives, nothing but that (or its `Terminate`)
    // can follow in a proposed channel, and it cannot be accepted here.
    let from_peer = peer.keys().any(|k| *k == ids[0]);
    if !from_peer || !to_us || book.id() != channel {
        return (None, reject(peer, None, Fault::ForeignProposal, now));
    }
    if pending >= PENDING_PROPOSALS {
        let limit = PENDING_PROPOSALS;
        return (
            None,
            reject(peer, None, Fault::TooManyProposals { limit }, now),
        );
    }
    let mut ch = Channel::proposed(book, peer.id);
    let mut step = Step::default();
    step.writes.push(Durable::Channel {
        id: channel,
        peer: peer.id,
        me: 1,
        created_at: now,
    });
    step.after.push(Effect::ChannelCreated { channel });
    ch.committed(&mut step, v, now, false);
    // The Open was envelope 0: the rest are numbered from 1, as in the batch.
    let step = ch.take(keys, peer, envs, 1, 1, step, now);
    // A batch is taken whole or not at all: a fault after the Open refuses
    // the proposal too, and no channel is made.
    let ch = step.fault.is_none().then_some(ch);
    (ch, step)
}

impl Channel {
    /// Takes a batch of the peer's entries for this channel: validates each,
    /// applies the valid ones, signs a checkpoint over what is then held,
    /// and replies with it once committed (or with an `Error` on a fault).
    pub fn receive(
        &mut self,
        keys: &impl Signers,
        peer: &Peer,
        envelopes: Vec<Vec<u8>>,
        now: u64,
    ) -> Step {
        if self.peer_id() != peer.id {
            return reject(peer, Some(self.id()), Fault::OtherPeersChannel, now);
        }
        self.take(
            keys,
            peer,
            envelopes.into_iter(),
            0,
            0,
            Step::default(),
            now,
        )
    }

    #[allow(clippy::too_many_arguments)]
    fn take(
        &mut self,
        keys: &impl Signers,
        peer: &Peer,
        envs: impl Iterator<Item = Vec<u8>>,
        first_index: usize,
        mut applied: usize,
        mut step: Step,
        now: u64,
    ) -> Step {
        let id = self.id();
        let author = self.book().peer();
        let mut fault = None;
        // Evidence and the refusal it causes outlive a refused batch.
        let mut evidence = Step::default();
        let mut equivocator = None;
        let savepoint = self.book_mut().savepoint();
        // The peer as pinned, moved along by any rotation in this batch.
        let mut pin = peer.clone();
        for (index, bytes) in (first_index..).zip(envs) {
            // Taking back our own chain after a restore, the peer sends our
            // entries and its own in merged order (`recover.rs`).
            let author = if self.taking_back() {
                claimed_author(&bytes).unwrap_or(author)
            } else {
                author
            };
            match self.book().check(author, &bytes) {
                Ok(Outcome::New(v)) => {
                    if let Err(reject) = self.peer_rotation(&mut step, &mut pin, &v, now) {
                        fault = Some(Fault::Entry { index, reject });
                        break;
                    }
                    self.book_mut().apply(&v, now);
                    let own = v.entry().author == self.book().me();
                    if !own && !peer.verified && above_routine(&v) {
                        self.book_mut().hold(&v.hash());
                        step.alert(super::alerts::unverified_traffic(peer, id, now));
                    }
                    self.committed(&mut step, v, now, own);
                    applied += 1;
                }
                Ok(Outcome::Duplicate) => {}
                Ok(Outcome::Equivocation {
                    author,
                    seq,
                    envelope,
                }) => {
                    equivocator = Some(author);
                    evidence.writes.push(Durable::Evidence {
                        channel: id,
                        author,
                        seq,
                        conflicting: envelope.bytes().to_vec(),
                        at: now,
                    });
                    evidence.alert(Durable::RaiseAlert {
                        kind: AlertKind::Equivocation,
                        channel: Some(id),
                        key: format!("equivocation:{author}:{seq}"),
                        cause: format!(
                            "{} signed two different entries with seq {seq}; both are kept as evidence and the rest of its chain is refused",
                            peer.name
                        ),
                        at: now,
                    });
                    fault = Some(Fault::Equivocation { seq });
                    break;
                }
                Err(reject) => {
                    fault = Some(Fault::Entry { index, reject });
                    break;
                }
            }
        }
        if let Some(f) = fault {
            // Refused whole: nothing of the batch is stored or taken, not even
            // the entries before the fault (SPEC §1); only the evidence of an
            // equivocation, and the refusal of the rest of that chain, stay.
            self.book_mut().rollback(savepoint);
            // Only the peer's chain is refused: a fork of our own (an entry
            // of ours it holds differs from ours) is kept as evidence and
            // alerted on, and stops this batch.
            if matches!(f, Fault::Equivocation { .. }) && equivocator == Some(author) {
                self.book_mut().refuse(author);
            }
            evidence.extend(reject(peer, Some(id), f, now));
            return evidence;
        }
        self.book_mut().release(savepoint);
        self.took_back(&mut step, now);
        self.snapshot_if_due(&mut step);
        // A checkpoint over what was taken, even an empty batch (which is how
        // a sender asks for a checkpoint it lost).
        let (write, envelope) = self.sign_checkpoint(keys, now);
        step.writes.push(write);
        if applied > 0 {
            // Valid input again: the peer's bad-input alert has lost its cause.
            step.alert(Durable::ClearAlert {
                channel: None,
                key: super::alerts::bad_input_key(&peer.name),
                at: now,
            });
        }
        step.after
            .push(Effect::Reply(LinkMsg::Checkpoint { envelope }));
        step
    }

    /// A counterpart's `KeyRotation` in a batch being taken: checked against
    /// the keys it rotated through elsewhere, and its pin moved if this is
    /// the first of its channels to carry it.
    fn peer_rotation(
        &self,
        step: &mut Step,
        peer: &mut Peer,
        v: &crate::book::VerifiedEntry,
        now: u64,
    ) -> Result<(), Reject> {
        let e = v.entry();
        let hotline_proto::Body::KeyRotation { new_token, .. } = &e.body else {
            return Ok(());
        };
        if e.author == self.book().me() {
            return Ok(());
        }
        let new = hotline_proto::Identity::parse(new_token)
            .map_err(|_| Reject::BadRotation("bad token"))?;
        let old = self.book().signer(e.author);
        if let Some((old, new)) = super::pin_change(peer, old, new)? {
            super::rotate::pin_moved(
                step,
                super::PinMove {
                    peer: peer.id,
                    old,
                    new,
                    channel: self.id(),
                    entry: v.hash(),
                    at: now,
                },
            );
            // A second rotation in the same batch is checked against this one.
            peer.retired.push(old);
            peer.identity = new;
        }
        Ok(())
    }

    /// Takes a checkpoint from the peer: verified under its pinned key,
    /// checked against the transcript held here, stored if newer.
    pub fn receive_checkpoint(&mut self, peer: &Peer, bytes: &[u8], now: u64) -> Step {
        // Another peer's channel is refused as such, before any signature.
        let opened = if self.peer_id() == peer.id {
            open_checkpoint(peer, bytes)
        } else {
            Err(CheckpointFault::WrongSide)
        };
        match opened {
            Err(f) => reject(peer, Some(self.id()), Fault::Checkpoint(f), now),
            Ok(opened) => self.receive_opened_checkpoint(peer, opened, now),
        }
    }

    /// [`Channel::receive_checkpoint`] for a checkpoint already opened
    /// (verified) to route it.
    pub fn receive_opened_checkpoint(
        &mut self,
        peer: &Peer,
        opened: OpenedCheckpoint,
        now: u64,
    ) -> Step {
        match self.check_checkpoint(peer, opened) {
            Err(f) => reject(peer, Some(self.id()), Fault::Checkpoint(f), now),
            Ok(None) => Step::default(),
            Ok(Some(c)) => {
                let me = self.book().me();
                let (from, to) = (
                    self.delivered_upto() + 1,
                    c.checkpoint().heads[me as usize].0,
                );
                let latencies = (from..=to)
                    .filter_map(|seq| self.book().meta(me, seq))
                    .map(|m| now.saturating_sub(m.stored_at))
                    .collect();
                let channel = self.id();
                let signer = c.checkpoint().signer;
                let envelope = c.bytes().to_vec();
                self.set_peer_checkpoint(c, now);
                let mut step = Step::default();
                step.writes.push(Durable::Checkpoint {
                    channel,
                    signer,
                    envelope,
                    stored_at: now,
                });
                step.after.push(Effect::Delivered {
                    channel,
                    upto: self.delivered_upto(),
                    latencies,
                });
                step.after.push(Effect::Wake { peer: peer.id });
                step.relaxed = true;
                step
            }
        }
    }

    /// The verified checkpoint if it is acceptable and newer than the one held.
    fn check_checkpoint(
        &self,
        peer: &Peer,
        opened: OpenedCheckpoint,
    ) -> Result<Option<SignedCheckpoint>, CheckpointFault> {
        if self.peer_id() != peer.id {
            return Err(CheckpointFault::WrongSide);
        }
        let OpenedCheckpoint {
            checkpoint: c,
            signer: signed_by,
        } = opened;
        let book = self.book();
        let (me, them) = (book.me(), book.peer());
        let claimed = c.checkpoint();
        if claimed.signer != them || claimed.channel != self.id() {
            return Err(CheckpointFault::WrongSide);
        }
        let heads = c.checkpoint().heads;
        // Signed by a key of the peer's chain in this channel: the newest
        // one it knew we held when it signed (`sign_checkpoint`).
        if !book.key_history(them).iter().any(|(_, k)| *k == signed_by) {
            return Err(CheckpointFault::RetiredKey);
        }
        let (seq, h) = heads[me as usize];
        if seq > book.len(me) && (self.recovery.restored || self.taking_back()) {
            // It holds more of our chain than we do: restored from an older
            // backup, we learn it from its `Hello` and take the rest back
            // first (`recover.rs`). Nothing here to check it against or keep.
            return Ok(None);
        }
        let ours_ok = seq == 0 || book.meta(me, seq).map(|m| m.hash) == Some(h);
        let (pseq, ph) = heads[them as usize];
        // The peer may hold entries of its own that have not reached us yet.
        let theirs_ok =
            pseq == 0 || pseq > book.len(them) || book.meta(them, pseq).map(|m| m.hash) == Some(ph);
        if !ours_ok || !theirs_ok {
            return Err(CheckpointFault::Disagrees {
                ours: seq,
                theirs: pseq,
                held_ours: book.len(me),
                held_theirs: book.len(them),
            });
        }
        let newer = self.peer_checkpoint().is_none_or(|old| {
            let o = old.checkpoint().heads;
            heads[0].0 >= o[0].0 && heads[1].0 >= o[1].0
        });
        Ok(newer.then_some(c))
    }
}

/// The author an envelope claims, unverified: which key to check it under
/// while both authors' entries may come (the check verifies it).
fn claimed_author(bytes: &[u8]) -> Option<u8> {
    let limit = hotline_proto::MAX_ENTRY_BYTES_CAP as usize;
    let env = hotline_proto::Envelope::decode(bytes, limit).ok()?;
    env.peek().ok().map(|e| e.author)
}

/// Whether an entry is a message above ROUTINE: what a counterpart that is
/// not verified here may send, but what is held until it is.
fn above_routine(v: &crate::book::VerifiedEntry) -> bool {
    matches!(&v.entry().body, hotline_proto::Body::Message { precedence, .. }
        if *precedence != hotline_proto::Precedence::Routine)
}

/// Hex of a channel id for sentences.
pub(super) fn on_channel(channel: Option<Hash>) -> String {
    channel
        .map(|c| format!(" on channel {}", hex(&c)))
        .unwrap_or_default()
}
