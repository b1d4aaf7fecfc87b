//! The signed envelope around an entry: CBOR `{"entry": bytes, "sig": bytes(64)}`.
//!
//! The signature is Ed25519 over `"hotline/entry/v1" || entry`. The identity of
//! an entry is the SHA-256 of the envelope bytes. Receivers check the size,
//! decode the envelope, verify the signature, and only then decode the entry.

use crate::cbor::reader::Reader;
use crate::entry::Entry;
use crate::error::ProtoError;
use crate::identity::SecretKeys;
use crate::{Hash, ENTRY_DOMAIN};
use ed25519_dalek::{Signature, Signer, VerifyingKey};

/// An envelope whose signature has not been checked yet: only its shape is known.
#[derive(Debug, Clone)]
pub struct Envelope {
    bytes: Vec<u8>,
    /// Where the signed entry bytes sit in `bytes`.
    entry: std::ops::Range<usize>,
    sig: [u8; 64],
    /// [`Envelope::hash`], once asked: a verifier and the book both need it.
    hash: std::sync::OnceLock<Hash>,
}

/// Two envelopes are equal when their bytes are (the rest follows from them).
impl PartialEq for Envelope {
    fn eq(&self, other: &Self) -> bool {
        self.bytes == other.bytes
    }
}

impl Eq for Envelope {}

/// The bytes after the entry in every envelope: the key `"sig"` (4 bytes)
/// and a 64-byte byte string (2 bytes of header).
const AFTER_ENTRY: usize = 4 + 2 + 64;

impl Envelope {
    /// Signs an entry with the station's key and wraps it.
    pub fn sign(entry: &Entry, keys: &SecretKeys) -> Envelope {
        let entry_bytes = entry.to_bytes();
        let mut msg = Vec::with_capacity(ENTRY_DOMAIN.len() + entry_bytes.len());
        msg.extend_from_slice(ENTRY_DOMAIN);
        msg.extend_from_slice(&entry_bytes);
        let sig = keys.signing().sign(&msg).to_bytes();
        Self::assemble(entry_bytes, sig)
    }

    /// Builds an envelope from an entry's bytes and a signature: [`Envelope::sign`]
    /// uses it on every entry authored, and tests use it for forged input.
    ///
    /// Written straight to CBOR, the bytes the value tree
    /// `{"entry": bytes, "sig": bytes}` gives (a test compares the two),
    /// without copying the entry into a tree first.
    pub fn assemble(entry_bytes: Vec<u8>, sig: [u8; 64]) -> Envelope {
        use ciborium_ll::{Encoder, Header};
        // The map's head, its two keys and the two heads fit in 24 bytes.
        let mut bytes = Vec::with_capacity(24 + entry_bytes.len() + sig.len());
        let mut enc = Encoder::from(&mut bytes);
        let written: std::io::Result<()> = (|| {
            enc.push(Header::Map(Some(2)))?;
            enc.text("entry", None)?;
            enc.bytes(&entry_bytes, None)?;
            enc.text("sig", None)?;
            enc.bytes(&sig, None)
        })();
        written.expect("writing CBOR to a Vec cannot fail");
        let end = bytes.len() - AFTER_ENTRY;
        let entry = end - entry_bytes.len()..end;
        debug_assert_eq!(bytes[entry.clone()], entry_bytes[..]);
        Envelope {
            bytes,
            entry,
            sig,
            hash: Default::default(),
        }
    }

    /// Decodes envelope bytes of at most `limit` bytes; the size is checked before anything else.
    pub fn decode(bytes: &[u8], limit: usize) -> Result<Envelope, ProtoError> {
        if bytes.len() > limit {
            return Err(ProtoError::TooLarge {
                size: bytes.len(),
                limit,
            });
        }
        const W: &str = "envelope";
        // Read in place by the strict reader (shortest forms, definite
        // lengths: what it accepts re-encodes to the same bytes), where a
        // `Value` tree copied the entry's bytes twice to check the same.
        let shape = |e: ProtoError| match e {
            ProtoError::TooLarge { .. } => ProtoError::Shape(W),
            e => e,
        };
        let mut r = Reader::new(bytes, W);
        if r.map()? != 2 || r.text()? != "entry" {
            return Err(ProtoError::Shape(W));
        }
        let entry_len = r.bytes(usize::MAX)?.len();
        let end = bytes.len() - r.remaining();
        if r.text()? != "sig" {
            return Err(ProtoError::Shape(W));
        }
        let sig: [u8; 64] = r
            .bytes(64)
            .map_err(shape)?
            .try_into()
            .map_err(|_| ProtoError::Shape(W))?;
        r.finish()?;
        Ok(Envelope {
            bytes: bytes.to_vec(),
            entry: end - entry_len..end,
            sig,
            hash: Default::default(),
        })
    }

    /// [`Envelope::decode`] through the `Value` tree: the reference the
    /// tests hold the reader to.
    #[cfg(test)]
    pub(crate) fn decode_via_value(bytes: &[u8]) -> Result<Envelope, ProtoError> {
        use crate::cbor;
        use ciborium::Value;
        const W: &str = "envelope";
        let v = cbor::from_canonical(bytes)?;
        let Value::Map(m) = v else {
            return Err(ProtoError::Shape(W));
        };
        let mut it = m.into_iter();
        let (entry_bytes, sig) = match (it.next(), it.next(), it.next()) {
            (
                Some((Value::Text(k1), Value::Bytes(e))),
                Some((Value::Text(k2), Value::Bytes(s))),
                None,
            ) if k1 == "entry" && k2 == "sig" => (e, s),
            _ => return Err(ProtoError::Shape(W)),
        };
        let sig: [u8; 64] = sig.try_into().map_err(|_| ProtoError::Shape(W))?;
        let end = bytes.len() - AFTER_ENTRY;
        Ok(Envelope {
            bytes: bytes.to_vec(),
            entry: end - entry_bytes.len()..end,
            sig,
            hash: Default::default(),
        })
    }

    /// Verifies the signature strictly under `key`, then decodes the entry.
    pub fn open(&self, key: &VerifyingKey) -> Result<Entry, ProtoError> {
        let mut msg = Vec::with_capacity(ENTRY_DOMAIN.len() + self.entry.len());
        msg.extend_from_slice(ENTRY_DOMAIN);
        msg.extend_from_slice(self.entry_bytes());
        key.verify_strict(&msg, &Signature::from_bytes(&self.sig))
            .map_err(|_| ProtoError::BadSignature)?;
        Entry::from_bytes(self.entry_bytes())
    }

    /// What checking this envelope's signature needs, owned: the signed
    /// message (domain and entry bytes) and the signature. A verifier that
    /// checks a batch on other threads while it goes on with the envelopes
    /// themselves takes these first (see [`verify_batch`]).
    pub fn signed(&self) -> Signed {
        let mut msg = Vec::with_capacity(ENTRY_DOMAIN.len() + self.entry.len());
        msg.extend_from_slice(ENTRY_DOMAIN);
        msg.extend_from_slice(self.entry_bytes());
        Signed {
            msg,
            sig: Signature::from_bytes(&self.sig),
        }
    }

    /// Decodes the entry without checking the signature: only for display of
    /// evidence and for finding which key to verify with (e.g. the `Open`'s tokens).
    pub fn peek(&self) -> Result<Entry, ProtoError> {
        Entry::from_bytes(self.entry_bytes())
    }

    /// The exact envelope bytes, as stored and sent.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The signed entry bytes.
    pub fn entry_bytes(&self) -> &[u8] {
        &self.bytes[self.entry.clone()]
    }

    /// The signature.
    pub fn sig(&self) -> &[u8; 64] {
        &self.sig
    }

    /// The entry's identity: SHA-256 of the envelope bytes (computed once).
    pub fn hash(&self) -> Hash {
        *self.hash.get_or_init(|| crate::sha256(&self.bytes))
    }
}

/// One envelope's signed message and signature ([`Envelope::signed`]).
#[derive(Debug, Clone)]
pub struct Signed {
    msg: Vec<u8>,
    sig: Signature,
}

/// Checks many envelopes' signatures at once (Ed25519 batch verification),
/// each under its key. All or nothing: `false` says that at least one fails,
/// not which; the caller then checks one by one with [`Envelope::open`] to
/// name it. A verifier's fast path: batch verification accepts what
/// [`Envelope::open`]'s strict check accepts from an honest signer, and it
/// never accepts a signature made without the key; a weak (small-order) key
/// fails the whole batch, as it fails the strict check.
pub fn verify_batch(items: &[(&Signed, &VerifyingKey)]) -> bool {
    if items.is_empty() {
        return true;
    }
    if items.iter().any(|(_, k)| k.is_weak()) {
        return false;
    }
    let msgs: Vec<&[u8]> = items.iter().map(|(s, _)| s.msg.as_slice()).collect();
    let sigs: Vec<Signature> = items.iter().map(|(s, _)| s.sig).collect();
    let keys: Vec<VerifyingKey> = items.iter().map(|(_, k)| **k).collect();
    ed25519_dalek::verify_batch(&msgs, &sigs, &keys).is_ok()
}

#[cfg(test)]
mod assemble_tests {
    use super::*;
    use crate::cbor;
    use ciborium::Value;

    /// An envelope written straight is byte for byte its value tree,
    /// across the sizes where CBOR heads change length.
    #[test]
    fn an_envelope_assembled_directly_equals_the_value_tree() {
        for len in [0usize, 1, 23, 24, 255, 256, 65_535, 65_536, 1 << 20] {
            let entry = vec![(len % 251) as u8; len];
            let sig = [len as u8; 64];
            let tree = cbor::to_bytes(&Value::Map(vec![
                (cbor::text("entry"), cbor::bytes(&entry)),
                (cbor::text("sig"), cbor::bytes(&sig)),
            ]));
            let env = Envelope::assemble(entry.clone(), sig);
            assert_eq!(env.bytes, tree, "an entry of {len} bytes");
            assert_eq!(env.entry_bytes(), &entry[..]);
        }
    }
}

#[cfg(test)]
mod tests {
    //! The strict readers of entries and envelopes against the `Value`
    //! tree they replace: on the fixed vectors (one entry of each kind) and
    //! on every damaged form proptest makes of them, both accept the same
    //! bytes and decode them to the same value.

    use super::Envelope;
    use crate::entry::Entry;
    use crate::error::ProtoError;
    use proptest::prelude::*;

    /// The vectors' entry and envelope bytes, in file order.
    fn vectors() -> Vec<Vec<u8>> {
        include_str!("../tests/vectors/entries.txt")
            .lines()
            .filter_map(|l| {
                let l = l.trim();
                l.strip_prefix("entry ")
                    .or_else(|| l.strip_prefix("envelope "))
            })
            .map(|h| {
                (0..h.len())
                    .step_by(2)
                    .map(|i| u8::from_str_radix(&h[i..i + 2], 16).unwrap())
                    .collect()
            })
            .collect()
    }

    fn agree(bytes: &[u8]) -> Result<(), TestCaseError> {
        let (fast, slow) = (Entry::from_bytes(bytes), Entry::from_bytes_via_value(bytes));
        prop_assert_eq!(
            fast.as_ref().ok(),
            slow.as_ref().ok(),
            "entry {:02x?}",
            bytes
        );
        prop_assert_eq!(fast.is_err(), slow.is_err());
        // Every part, not only the bytes that equality compares.
        let parts = |e: Result<Envelope, ProtoError>| {
            e.ok()
                .map(|e| (e.bytes().to_vec(), e.entry_bytes().to_vec(), *e.sig()))
        };
        let (fast, slow) = (
            parts(Envelope::decode(bytes, 1 << 20)),
            parts(Envelope::decode_via_value(bytes)),
        );
        prop_assert_eq!(fast, slow, "envelope {:02x?}", bytes);
        Ok(())
    }

    #[test]
    fn every_vector_decodes_the_same_both_ways() {
        let all = vectors();
        assert!(all.len() >= 30, "{} vectors", all.len());
        let mut entries = 0;
        for v in &all {
            agree(v).unwrap();
            entries += usize::from(Entry::from_bytes(v).is_ok());
        }
        // Half are entries, half envelopes; each decodes as its own kind.
        assert_eq!(entries * 2, all.len());
    }

    /// Bytes that mean something in CBOR's headers: simple values, each
    /// width of argument, empty and indefinite strings, arrays and maps, a
    /// tag, a break.
    const HEADERS: [u8; 29] = [
        0x00, 0x17, 0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x20, 0x40, 0x58, 0x5f, 0x60, 0x78, 0x7f, 0x80,
        0x82, 0x98, 0x9f, 0xa0, 0xb8, 0xbf, 0xc0, 0xf4, 0xf5, 0xf6, 0xf7, 0xf8, 0xf9, 0xff,
    ];

    #[test]
    fn every_header_byte_anywhere_in_an_entry_is_taken_or_refused_alike() {
        let entries: Vec<_> = vectors()
            .into_iter()
            .filter(|v| Entry::from_bytes(v).is_ok())
            .collect();
        for v in &entries {
            for i in 0..v.len() {
                for b in HEADERS {
                    let mut m = v.clone();
                    m[i] = b;
                    agree(&m).unwrap();
                }
                let mut m = v.clone();
                m.remove(i);
                agree(&m).unwrap();
                agree(&v[..i]).unwrap();
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]
        #[test]
        fn a_damaged_vector_is_taken_or_refused_alike(
            pick in any::<prop::sample::Index>(),
            at in any::<prop::sample::Index>(),
            how in 0u8..5,
            // Half the time one of the header bytes.
            byte in prop_oneof![any::<u8>(), prop::sample::select(HEADERS.to_vec())],
        ) {
            let all = vectors();
            let mut b = all[pick.index(all.len())].clone();
            let i = at.index(b.len());
            match how {
                0 => b[i] = byte,
                1 => b.insert(i, byte),
                2 => { b.remove(i); }
                3 => b.truncate(i),
                _ => b.push(byte),
            }
            agree(&b)?;
        }
    }
}
