//! Key rotation (SPEC §4 v2): the `KeyRotation` entry and the keyring that
//! holds a station's current and retired keys.
//!
//! A `KeyRotation` entry is signed twice. Its envelope is signed, as every
//! entry, by the key the author's chain held until then (the old key). Its
//! body carries the new identity token and `new_sig`: the new Ed25519 key's
//! signature over `"hotline/key-rotation/v1" || the entry's bytes up to the
//! 64 bytes of new_sig itself`. `new_sig` is the last field of the body and
//! the body the last field of the entry, so those bytes are a prefix of the
//! signed entry bytes: nothing is re-encoded to check it. The old key thus
//! vouches for the new one, the new one proves it is held by the author and
//! binds itself to this channel, author, seq and chain position, and neither
//! signature can be lifted onto another entry.

use crate::entry::{Body, Entry};
use crate::envelope::Envelope;
use crate::error::ProtoError;
use crate::identity::{Identity, SecretKeys};
use ed25519_dalek::{Signature, Signer};
use std::sync::Arc;
use zeroize::Zeroizing;

/// Domain of the new key's signature in a `KeyRotation` entry.
pub const ROTATION_DOMAIN: &[u8] = b"hotline/key-rotation/v1";

/// CBOR header of a 64-byte byte string: how the entry's bytes end before `new_sig`.
const SIG_HEADER: [u8; 2] = [0x58, 0x40];

/// The message the new key signs: the domain, then the entry's bytes up to
/// `new_sig`'s 64 bytes (its CBOR header included).
fn message(entry_bytes: &[u8]) -> Result<Vec<u8>, ProtoError> {
    let cut = entry_bytes
        .len()
        .checked_sub(64)
        .filter(|&c| c >= 2 && entry_bytes[c - 2..c] == SIG_HEADER)
        .ok_or(ProtoError::Shape(
            "a KeyRotation entry must end with new_sig",
        ))?;
    let mut m = Vec::with_capacity(ROTATION_DOMAIN.len() + cut);
    m.extend_from_slice(ROTATION_DOMAIN);
    m.extend_from_slice(&entry_bytes[..cut]);
    Ok(m)
}

impl Envelope {
    /// Signs a `KeyRotation` entry: `new_sig` by `new`, the envelope by `old`.
    /// Whatever `new_sig` the template holds is replaced; its body must be a
    /// `KeyRotation` naming `new`'s identity.
    pub fn sign_rotation(template: &Entry, old: &SecretKeys, new: &SecretKeys) -> Envelope {
        let Body::KeyRotation { new_token, .. } = &template.body else {
            panic!("sign_rotation takes a KeyRotation entry");
        };
        assert_eq!(
            *new_token,
            new.identity().token(),
            "the body names the new keys"
        );
        // The signature has a fixed length, so the bytes before it do not
        // depend on its value: sign them, then put it in.
        let m = message(&template.to_bytes()).expect("a KeyRotation ends with new_sig");
        let mut entry = template.clone();
        entry.body = Body::KeyRotation {
            new_token: new_token.clone(),
            new_sig: new.signing().sign(&m).to_bytes(),
        };
        Envelope::sign(&entry, old)
    }
}

/// Checks the new key's signature in a `KeyRotation` entry whose envelope
/// the caller has already verified under the old key, and returns the new
/// identity. `Err` for any other body, a bad token, or a bad `new_sig`.
pub fn verify_rotation(envelope: &Envelope, entry: &Entry) -> Result<Identity, ProtoError> {
    let Body::KeyRotation { new_token, new_sig } = &entry.body else {
        return Err(ProtoError::Shape("not a KeyRotation"));
    };
    let new = Identity::parse(new_token)?;
    let bytes = envelope.entry_bytes();
    if !bytes.ends_with(new_sig) {
        return Err(ProtoError::Shape(
            "a KeyRotation entry must end with new_sig",
        ));
    }
    let m = message(bytes)?;
    new.verifying_key()?
        .verify_strict(&m, &Signature::from_bytes(new_sig))
        .map_err(|_| ProtoError::BadSignature)?;
    Ok(new)
}

/// The keys a machine signs with: the current ones for new channels and
/// checkpoints, and, for a channel, whichever keys its chain is at.
pub trait Signers {
    /// The station's current keys.
    fn current(&self) -> &SecretKeys;
    /// The secret keys of `id`, if held.
    fn signer(&self, id: &Identity) -> Option<&SecretKeys>;
}

impl Signers for SecretKeys {
    fn current(&self) -> &SecretKeys {
        self
    }
    fn signer(&self, id: &Identity) -> Option<&SecretKeys> {
        (self.identity() == *id).then_some(self)
    }
}

/// A station's keys, oldest first; the last are the current ones. Retired
/// keys stay: a channel that ended before a rotation keeps signing its
/// checkpoints with the keys its chain holds, and a counterpart that has not
/// yet stored the rotation still dials the old X25519 key.
///
/// The key file holds the 96-byte form of each, one after the other (a
/// station that never rotated has a file of one).
#[derive(Clone)]
pub struct Keyring {
    keys: Vec<Arc<SecretKeys>>,
    ids: Vec<Identity>,
}

impl Keyring {
    /// A keyring of one.
    pub fn new(first: SecretKeys) -> Keyring {
        Keyring {
            ids: vec![first.identity()],
            keys: vec![Arc::new(first)],
        }
    }

    /// Reads the key-file form: one or more 96-byte keys, no identity twice.
    pub fn from_bytes(b: &[u8]) -> Result<Keyring, ProtoError> {
        if b.is_empty() || !b.len().is_multiple_of(96) {
            return Err(ProtoError::BadKey);
        }
        let mut ring: Option<Keyring> = None;
        for chunk in b.chunks(96) {
            let k = SecretKeys::from_bytes(chunk)?;
            ring = Some(match ring {
                None => Keyring::new(k),
                Some(r) => r.with(k)?,
            });
        }
        ring.ok_or(ProtoError::BadKey)
    }

    /// The key-file form.
    pub fn to_bytes(&self) -> Zeroizing<Vec<u8>> {
        let mut v = Zeroizing::new(Vec::with_capacity(96 * self.keys.len()));
        for k in &self.keys {
            v.extend_from_slice(&k.to_bytes());
        }
        v
    }

    /// This keyring with `next` as the current keys.
    pub fn with(&self, next: SecretKeys) -> Result<Keyring, ProtoError> {
        let id = next.identity();
        if self.ids.contains(&id) {
            return Err(ProtoError::BadKey);
        }
        let mut r = self.clone();
        r.ids.push(id);
        r.keys.push(Arc::new(next));
        Ok(r)
    }

    /// Every identity, oldest first; the last is the current one.
    pub fn identities(&self) -> &[Identity] {
        &self.ids
    }

    /// Where `id` sits, oldest first.
    pub fn position(&self, id: &Identity) -> Option<usize> {
        self.ids.iter().position(|i| i == id)
    }

    /// The current identity.
    pub fn identity(&self) -> Identity {
        *self.ids.last().expect("a keyring is never empty")
    }
}

impl From<SecretKeys> for Keyring {
    fn from(k: SecretKeys) -> Keyring {
        Keyring::new(k)
    }
}

impl Keyring {
    /// The current keys, shared (the storage writer signs audit heads with them).
    pub fn current_shared(&self) -> Arc<SecretKeys> {
        self.keys.last().expect("a keyring is never empty").clone()
    }
}

impl Signers for Keyring {
    fn current(&self) -> &SecretKeys {
        self.keys.last().expect("a keyring is never empty")
    }
    fn signer(&self, id: &Identity) -> Option<&SecretKeys> {
        self.position(id).map(|i| &*self.keys[i])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ZERO_HASH;

    /// Fixed keys; the X25519 public half is any valid key (nothing here
    /// runs a handshake).
    fn keys(n: u8) -> SecretKeys {
        let mut b = [n; 96];
        b[64..].copy_from_slice(&[9u8; 32]);
        b[64] = n;
        SecretKeys::from_bytes(&b).unwrap()
    }

    fn rotation(new: &SecretKeys) -> Entry {
        Entry {
            channel: [7; 32],
            author: 1,
            seq: 5,
            prev: [3; 32],
            seen: (2, [4; 32]),
            lamport: 9,
            time: 1_700_000_000_000,
            by: "admin".into(),
            body: Body::KeyRotation {
                new_token: new.identity().token(),
                new_sig: [0; 64],
            },
        }
    }

    #[test]
    fn both_signatures_verify_and_neither_moves() {
        let (old, new) = (keys(1), keys(2));
        let env = Envelope::sign_rotation(&rotation(&new), &old, &new);
        let e = env.open(&old.identity().verifying_key().unwrap()).unwrap();
        assert_eq!(verify_rotation(&env, &e), Ok(new.identity()));
        // The same body at another seq: the envelope re-signed by the old key,
        // but the new key's signature was over seq 5.
        let mut moved = e.clone();
        moved.seq = 6;
        let env2 = Envelope::sign(&moved, &old);
        assert_eq!(
            verify_rotation(&env2, &moved),
            Err(ProtoError::BadSignature)
        );
        // A rotation to a key whose secret the author does not hold.
        let third = keys(3);
        let mut claimed = e;
        claimed.body = Body::KeyRotation {
            new_token: third.identity().token(),
            new_sig: match env.peek().unwrap().body {
                Body::KeyRotation { new_sig, .. } => new_sig,
                _ => unreachable!(),
            },
        };
        let env3 = Envelope::sign(&claimed, &old);
        assert_eq!(
            verify_rotation(&env3, &claimed),
            Err(ProtoError::BadSignature)
        );
    }

    #[test]
    fn other_bodies_are_not_rotations() {
        let old = keys(1);
        let mut e = rotation(&keys(2));
        e.body = Body::ContactCheck;
        e.prev = ZERO_HASH;
        let env = Envelope::sign(&e, &old);
        assert!(verify_rotation(&env, &e).is_err());
    }

    #[test]
    fn a_keyring_round_trips_and_refuses_a_key_twice() {
        let ring = Keyring::new(keys(1)).with(keys(2)).unwrap();
        let back = Keyring::from_bytes(&ring.to_bytes()).unwrap();
        assert_eq!(back.identities(), ring.identities());
        assert_eq!(back.current().identity(), keys_identity(2));
        assert!(back.signer(&keys_identity(1)).is_some());
        assert!(back.signer(&keys_identity(3)).is_none());
        let mut twice = ring.to_bytes().to_vec();
        twice.extend_from_slice(&keys(2).to_bytes());
        assert!(Keyring::from_bytes(&twice).is_err());
        assert!(Keyring::from_bytes(&twice[..100]).is_err());
        assert!(Keyring::from_bytes(&[]).is_err());
    }

    fn keys_identity(n: u8) -> Identity {
        keys(n).identity()
    }
}
