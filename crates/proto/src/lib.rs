//! hotline's wire types and their exact byte encoding.
//!
//! Everything that is signed or hashed is defined here: entries and their
//! envelopes, checkpoints, link messages, identity tokens and fingerprints.
//! The rule throughout is *sign bytes, hash bytes, never re-encode*: a decoded
//! value always keeps the bytes it came from, and decoding rejects any input
//! that is not the one canonical encoding of its value (SPEC §1).
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod audit;
mod cbor;
pub mod checkpoint;
pub mod entry;
pub mod envelope;
pub mod error;
pub mod identity;
pub mod link;
pub mod rotation;
pub mod snapshot;
pub mod view;

pub use audit::{AuditHead, SignedAuditHead};
pub use checkpoint::{Checkpoint, SignedCheckpoint, CHECKPOINT_VERSION};
/// The Ed25519 public key type entries verify under.
pub use ed25519_dalek::VerifyingKey;
pub use entry::{
    Body, ContactSchedule, Entry, Kind, Marking, NoticeType, OnMiss, Precedence, Terms,
};
pub use envelope::{verify_batch, Envelope, Signed};
pub use error::ProtoError;
pub use identity::{Fingerprint, Identity, SecretKeys};
pub use link::LinkMsg;
pub use rotation::{verify_rotation, Keyring, Signers};

use sha2::{Digest, Sha256};

/// A SHA-256 digest: the identity of an entry, a checkpoint or a channel.
pub type Hash = [u8; 32];

/// The all-zero hash, used where the spec says "zeros" (no previous entry, no channel yet).
pub const ZERO_HASH: Hash = [0u8; 32];

/// Domain separation prefix for entry signatures (SPEC §4); changing it breaks every signature.
pub const ENTRY_DOMAIN: &[u8] = b"hotline/entry/v1";

/// Domain separation prefix for checkpoint signatures (SPEC §5); changing it breaks every signature.
pub const CHECKPOINT_DOMAIN: &[u8] = b"hotline/checkpoint/v1";

/// Hard upper bound on one entry's envelope, whatever a channel's terms say:
/// the link refuses larger messages before allocating for them.
pub const MAX_ENTRY_BYTES_CAP: u64 = 16 * 1024 * 1024;

/// SHA-256 of some bytes.
pub fn sha256(bytes: &[u8]) -> Hash {
    Sha256::digest(bytes).into()
}

/// Lowercase hex of a hash, the form used in the CLI, the API and exports.
pub fn hex(h: &[u8]) -> String {
    data_encoding::HEXLOWER.encode(h)
}

/// Parses a 64-character lowercase or uppercase hex string into a hash.
pub fn parse_hash(s: &str) -> Result<Hash, ProtoError> {
    let bytes = data_encoding::HEXLOWER_PERMISSIVE
        .decode(s.trim().as_bytes())
        .map_err(|_| ProtoError::BadHex)?;
    bytes.try_into().map_err(|_| ProtoError::BadHex)
}
