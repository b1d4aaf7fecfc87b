//! The one error type of the crate.

use std::fmt::Write as _;

/// Everything that can go wrong on a link; crypto failures stay coarse so a
/// peer learns nothing from which check failed.
#[non_exhaustive]
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum LinkError {
    /// The stream failed or closed in the middle of a message; the kind and
    /// text are kept instead of `io::Error` because that is not `PartialEq`.
    #[error("the link's connection failed ({0:?}): {1}; the station will reconnect")]
    Io(std::io::ErrorKind, String),

    /// The stream closed cleanly between messages (including, during the
    /// handshake, a responder that hung up instead of answering).
    #[error("the peer closed the link")]
    Closed,

    /// A length prefix of zero, or a malformed frame, flag or handshake payload.
    #[error("the peer sent a malformed link frame ({0}); check that both stations run compatible versions")]
    Malformed(&'static str),

    /// The reassembled message would exceed the limit the caller gave.
    #[error("the peer sent a link message larger than the {limit}-byte limit")]
    TooLarge {
        /// The `max_message` the receiver was called with.
        limit: usize,
    },

    /// The Noise handshake or a decryption failed (kept coarse on purpose).
    #[error("the link's handshake or decryption failed; check that each station has pinned the other's current key")]
    Crypto,

    /// The initiator's static key is not pinned here.
    #[error("a station with unpinned key {} tried to connect; pin its key if it is expected", hex(.0))]
    UnpinnedKey([u8; 32]),

    /// The initiator's clock did not increase since the last accepted
    /// handshake from that key, so this may be a replayed first message.
    #[error("the peer's handshake clock did not advance (last accepted {last}, got {got}); this is a replay or the peer's clock went backwards")]
    Replay {
        /// The timestamp of the last handshake accepted from this key.
        last: u64,
        /// The timestamp this handshake carried.
        got: u64,
    },

    /// The peer's leader epoch is lower than one already accepted from its
    /// key: a station process that lost the lease on its shared database
    /// (or a replay of its old handshake) is speaking.
    #[error("the peer's leader epoch {got} is lower than {seen}, already accepted from its key: a former leader is speaking")]
    StaleEpoch {
        /// The highest epoch accepted from this key.
        seen: u64,
        /// The epoch this handshake carried.
        got: u64,
    },

    /// The two ends speak different link versions.
    #[error("the peer speaks link version {theirs} and this station version {ours}: upgrade the older station so both run the same release")]
    Version {
        /// This station's version.
        ours: u8,
        /// The peer's.
        theirs: u8,
    },

    /// The initiator offered a generation of the stored pre-shared key that
    /// this side no longer (or never) held.
    #[error("the peer offered pre-shared key generation {got}, and this station holds {held} and the one before; it will offer the older one next (if this repeats, the pair's stored keys differ: re-pair with the same out-of-band key)")]
    PskGeneration {
        /// The newest generation held here.
        held: u64,
        /// The generation offered.
        got: u64,
    },
}

impl From<std::io::Error> for LinkError {
    fn from(err: std::io::Error) -> Self {
        LinkError::Io(err.kind(), err.to_string())
    }
}

/// Lower-case hex of a key, so an operator can compare it with a pinned one.
fn hex(bytes: &[u8; 32]) -> String {
    bytes.iter().fold(String::with_capacity(64), |mut out, b| {
        // Writing to a String cannot fail.
        let _ = write!(out, "{b:02x}");
        out
    })
}
