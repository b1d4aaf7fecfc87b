//! The seal on a stored snapshot of a channel's book (docs/DECISIONS.md,
//! "Start-up snapshots").
//!
//! A station keeps, beside its entries, a snapshot of what it knows about a
//! channel's transcript, so that start-up need not check every entry again.
//! The station signs each snapshot with its Ed25519 identity key; one that
//! does not verify under a key of the station's own is ignored and the
//! channel is rebuilt from its entries, every signature checked.
//!
//! Signed message: `"hotline/book-snapshot/v1" || channel || len0 (u64,
//! big-endian) || len1 (u64, big-endian) || SHA-256(body)`.

use crate::error::ProtoError;
use crate::identity::{Identity, SecretKeys};
use crate::Hash;
use ed25519_dalek::{Signature, Signer};

/// Domain separation prefix for snapshot seals; changing it breaks every seal.
pub const SNAPSHOT_DOMAIN: &[u8] = b"hotline/book-snapshot/v1";

/// What a seal states: the channel, how many entries of each author the
/// snapshot covers, and the digest of its body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SnapshotHead {
    /// The channel.
    pub channel: Hash,
    /// Entries of author 0 and author 1 covered.
    pub lens: [u64; 2],
    /// SHA-256 of the snapshot's body.
    pub digest: Hash,
}

impl SnapshotHead {
    /// The exact bytes signed.
    pub fn message(&self) -> Vec<u8> {
        let mut m = SNAPSHOT_DOMAIN.to_vec();
        m.extend_from_slice(&self.channel);
        m.extend_from_slice(&self.lens[0].to_be_bytes());
        m.extend_from_slice(&self.lens[1].to_be_bytes());
        m.extend_from_slice(&self.digest);
        m
    }

    /// Signs with the station's identity key.
    pub fn sign(&self, keys: &SecretKeys) -> [u8; 64] {
        keys.signing().sign(&self.message()).to_bytes()
    }

    /// Checks that `signer`'s identity key made `sig`.
    pub fn verify(&self, sig: &[u8], signer: &Identity) -> Result<(), ProtoError> {
        let sig: [u8; 64] = sig.try_into().map_err(|_| ProtoError::BadSignature)?;
        signer
            .verifying_key()?
            .verify_strict(&self.message(), &Signature::from_bytes(&sig))
            .map_err(|_| ProtoError::BadSignature)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_seal_verifies_only_for_its_signer_and_its_contents() {
        let keys = SecretKeys::generate([1; 32], [9; 32]);
        let other = SecretKeys::generate([2; 32], [8; 32]);
        let head = SnapshotHead {
            channel: [3; 32],
            lens: [10, 7],
            digest: [4; 32],
        };
        let sig = head.sign(&keys);
        assert!(head.verify(&sig, &keys.identity()).is_ok());
        assert!(head.verify(&sig, &other.identity()).is_err());
        let moved = SnapshotHead {
            lens: [10, 8],
            ..head
        };
        assert!(moved.verify(&sig, &keys.identity()).is_err());
        assert!(head.verify(&sig[..63], &keys.identity()).is_err());
    }
}
