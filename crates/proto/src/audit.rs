//! The signed head of a station's local audit log (SPEC §8).
//!
//! The head is the number of lines in the log and the hash of the newest one
//! (the chain rule is the core's, `hotline_core::audit`). The station signs
//! it with its Ed25519 identity key each time a line is added, so that an
//! export cut short, or one whose last lines were replaced, no longer ends
//! in a head the station signed.
//!
//! Signed message: `"hotline/audit-head/v1" || count (u64, big-endian) || hash`.
//! Changing it breaks every signed head.

use crate::error::ProtoError;
use crate::identity::{Identity, SecretKeys};
use crate::Hash;
use ed25519_dalek::{Signature, Signer};

/// Domain separation prefix for audit-head signatures; changing it breaks every signature.
pub const AUDIT_HEAD_DOMAIN: &[u8] = b"hotline/audit-head/v1";

/// What a signed head states about the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuditHead {
    /// How many lines the log holds: a log cut short holds fewer.
    pub count: u64,
    /// The hash of the newest line (zeros for an empty log): lines replaced at the end change it.
    pub hash: Hash,
}

impl AuditHead {
    /// The exact bytes signed.
    pub fn message(&self) -> Vec<u8> {
        let mut m = AUDIT_HEAD_DOMAIN.to_vec();
        m.extend_from_slice(&self.count.to_be_bytes());
        m.extend_from_slice(&self.hash);
        m
    }

    /// Signs the head with the station's identity key.
    pub fn sign(self, keys: &SecretKeys) -> SignedAuditHead {
        let sig = keys.signing().sign(&self.message()).to_bytes();
        SignedAuditHead { head: self, sig }
    }
}

/// A head with the signature that came with it. Built by [`AuditHead::sign`],
/// or from stored or exported parts, which [`SignedAuditHead::verify`] checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SignedAuditHead {
    /// What is signed.
    head: AuditHead,
    /// Ed25519 over [`AuditHead::message`].
    sig: [u8; 64],
}

impl SignedAuditHead {
    /// A head and a signature as read back from storage or an export, not yet checked.
    pub fn from_parts(head: AuditHead, sig: [u8; 64]) -> SignedAuditHead {
        SignedAuditHead { head, sig }
    }

    /// The head.
    pub fn head(&self) -> AuditHead {
        self.head
    }

    /// The signature.
    pub fn sig(&self) -> &[u8; 64] {
        &self.sig
    }

    /// Checks that `signer`'s identity key signed this head.
    pub fn verify(&self, signer: &Identity) -> Result<(), ProtoError> {
        signer
            .verifying_key()?
            .verify_strict(&self.head.message(), &Signature::from_bytes(&self.sig))
            .map_err(|_| ProtoError::BadSignature)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> SecretKeys {
        SecretKeys::generate([1; 32], [9; 32])
    }

    #[test]
    fn the_signed_bytes_are_pinned() {
        let h = AuditHead {
            count: 0x0102,
            hash: [0xab; 32],
        };
        let mut want = b"hotline/audit-head/v1".to_vec();
        want.extend_from_slice(&[0, 0, 0, 0, 0, 0, 1, 2]);
        want.extend_from_slice(&[0xab; 32]);
        assert_eq!(h.message(), want);
    }

    #[test]
    fn a_head_verifies_under_its_signer_only_and_unchanged() {
        let k = keys();
        let h = AuditHead {
            count: 3,
            hash: [7; 32],
        };
        let s = h.sign(&k);
        assert_eq!(s.verify(&k.identity()), Ok(()));
        assert_eq!(
            s.verify(&keys().identity()),
            Err(ProtoError::BadSignature),
            "another station's key"
        );
        for other in [
            AuditHead { count: 2, ..h },
            AuditHead { hash: [8; 32], ..h },
        ] {
            let forged = SignedAuditHead::from_parts(other, *s.sig());
            assert_eq!(forged.verify(&k.identity()), Err(ProtoError::BadSignature));
        }
    }
}
