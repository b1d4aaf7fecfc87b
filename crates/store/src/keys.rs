//! The keys peers rotated away from (SPEC §4 v2): a peer's pin moves when
//! its signed `KeyRotation` arrives, and each key it leaves is kept with
//! the entry that retired it, for the record, for checkpoints still signed
//! by it, and for `peer show`.

use hotline_proto::Hash;

/// A key a peer rotated away from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetiredKeyRow {
    /// The peer.
    pub peer_id: i64,
    /// The retired key's identity token.
    pub token: String,
    /// The token of the key that replaced it.
    pub next: String,
    /// When this station stored the rotation (its clock, Unix ms).
    pub at: u64,
    /// The channel whose `KeyRotation` carried it first.
    pub channel: Hash,
    /// That entry.
    pub entry: Hash,
}
