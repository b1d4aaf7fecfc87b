//! Why the book refuses: an entry from the counterpart (`Reject`, one
//! variant per validity rule of SPEC §4), or one of this station's own
//! (`Refusal`).

use crate::state::Forbidden;
use hotline_proto::ProtoError;

/// Why an entry from the counterpart was rejected. Each variant is one validity rule of SPEC §4.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Reject {
    /// The envelope is larger than the channel's `max_entry_bytes`.
    #[error("entry of {size} bytes exceeds the channel's limit of {limit}")]
    TooLarge {
        /// Envelope size.
        size: usize,
        /// The limit.
        limit: u64,
    },
    /// The envelope does not decode.
    #[error("envelope does not decode: {0}")]
    Envelope(ProtoError),
    /// The signature does not verify under the author's pinned key.
    #[error("signature does not verify under the author's pinned key")]
    BadSignature,
    /// The signed entry does not decode.
    #[error("entry does not decode: {0}")]
    Entry(ProtoError),
    /// The entry names another channel.
    #[error("entry belongs to another channel")]
    WrongChannel,
    /// The entry claims an author other than the sender.
    #[error("entry claims the wrong author")]
    WrongAuthor,
    /// The author's chain is refused after equivocation.
    #[error("the author's chain is refused after equivocation")]
    ChainRefused,
    /// The sequence number is not the next one.
    #[error("sequence gap: expected {expected}, got {got}")]
    SeqGap {
        /// The next expected seq.
        expected: u64,
        /// What came.
        got: u64,
    },
    /// `prev` is not the hash of the author's previous entry.
    #[error("prev does not match the author's previous entry")]
    WrongPrev,
    /// `seen` names no stored entry of the other author.
    #[error("seen refers to an entry that is not stored")]
    SeenUnknown,
    /// `seen` goes backwards from the author's previous entry.
    #[error("seen goes backwards")]
    SeenBackwards,
    /// `lamport` is not `max(lamport(prev), lamport(seen)) + 1`.
    #[error("lamport is {got}, expected {expected}")]
    WrongLamport {
        /// The correct value.
        expected: u64,
        /// What came.
        got: u64,
    },
    /// The body is not allowed in the channel state as the author knew it.
    #[error("{0}")]
    Forbidden(Forbidden),
    /// A hash the body refers to is not in the author's causal past, or is of the wrong kind.
    #[error("bad reference: {0}")]
    Reference(&'static str),
    /// `Accept` names terms other than those proposed.
    #[error("accepted terms differ from the proposed terms")]
    TermsMismatch,
    /// Not a valid genesis entry.
    #[error("not a valid Open: {0}")]
    BadOpen(&'static str),
    /// A proposal whose terms lie outside the bounds a station accepts.
    #[error("the proposed terms are refused: {0}")]
    Terms(ProtoError),
    /// Signed by a key the author's chain retired at `rotated_at`: the
    /// entry comes after that rotation, so only the new key may sign it.
    #[error("signed with the author's key retired by its KeyRotation at seq {rotated_at}: after a rotation only the new key signs")]
    RetiredKey {
        /// The seq of the author's `KeyRotation` that retired the key.
        rotated_at: u64,
    },
    /// A `KeyRotation` whose new key does not prove itself, or repeats a key.
    #[error("bad KeyRotation: {0}")]
    BadRotation(&'static str),
    /// A notice whose type was not agreed or whose JSON breaks its schema,
    /// or a proposal whose notice types are unusable.
    #[error("{0}")]
    Notice(crate::notice::NoticeFault),
}

/// Why this station refuses to author an entry a local user asked for.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// The channel state does not allow it.
    #[error("{0}")]
    Forbidden(Forbidden),
    /// The entry it refers to is unknown or not of the right kind.
    #[error("{0}")]
    Reference(&'static str),
    /// The peer is not verified and the message is not ROUTINE.
    #[error(
        "only ROUTINE messages may be sent until the peer's fingerprint is verified (peer verify)"
    )]
    Unverified,
    /// The entry would exceed the channel's size limit.
    #[error("the entry would be {size} bytes, over the channel's limit of {limit}")]
    TooLarge {
        /// Envelope size.
        size: usize,
        /// The limit.
        limit: u64,
    },
    /// This station was restored from a backup and has not yet heard from
    /// the peer what it holds of this station's own chain: writing now could
    /// reuse a sequence number already sent.
    #[error("this station was restored from a backup: nothing is written on this channel until the peer's station says what it holds of ours (is the link up?)")]
    Unconfirmed,
    /// The proposal was signed by a key the peer has since rotated away from.
    #[error("this proposal was signed by a key the peer has rotated away from: it can be accepted once the peer's KeyRotation on it arrives (the link carries it)")]
    PeerKeyRetired,
    /// None of this station's keys is the one this channel's chain signs
    /// with (the key file lacks a rotated key: copy it from the station
    /// that rotated).
    #[error("this station does not hold the key this channel's chain is at ({fingerprint}): copy identity.key from the station process that rotated it")]
    KeyMissing {
        /// The fingerprint of the key the chain needs.
        fingerprint: String,
    },
    /// The peer holds more of this station's own chain than this station
    /// does (restored from an older backup): it sends the rest back first.
    #[error("this station holds its own entries of this channel to {held}, the peer to {peer_holds}: nothing is written until the peer has sent the rest back (restored from an older backup)")]
    Behind {
        /// Own entries held here.
        held: u64,
        /// Own entries the peer holds.
        peer_holds: u64,
    },
    /// A notice whose type was not agreed or whose JSON breaks its schema.
    #[error("{0}")]
    Notice(crate::notice::NoticeFault),
}
