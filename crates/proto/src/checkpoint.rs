//! Checkpoints (SPEC §5): a station's signed statement of the heads it holds.
//!
//! Body: CBOR map `{0: version, 1: channel, 2: signer, 3: [[seq, hash] of author 0,
//! [seq, hash] of author 1], 4: time, 5: peer_checkpoint}`. Envelope:
//! `{"checkpoint": bytes, "sig": bytes(64)}`, signature over
//! `"hotline/checkpoint/v1" || checkpoint`. The version field lets the type grow
//! (Merkle roots, witness cosignatures) without changing this one.
//! Changing this encoding breaks signatures.

use crate::cbor::reader::Reader;
use crate::error::ProtoError;
use crate::identity::SecretKeys;
use crate::{Hash, CHECKPOINT_DOMAIN};
use ciborium_ll::{simple, Encoder, Header};
use ed25519_dalek::{Signature, Signer, VerifyingKey};

/// The checkpoint format this code writes and reads.
pub const CHECKPOINT_VERSION: u64 = 1;

/// What a checkpoint says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    /// The channel.
    pub channel: Hash,
    /// Which author signed it (0 or 1).
    pub signer: u8,
    /// `(seq, hash)` of the newest entry the signer holds of author 0 and of author 1.
    pub heads: [(u64, Hash); 2],
    /// Signer's clock, Unix milliseconds; informative.
    pub time: u64,
    /// Hash of the newest checkpoint the signer had received from the other side, if any:
    /// binds the pair, so an export cannot silently drop the counterpart's checkpoint.
    pub peer_checkpoint: Option<Hash>,
}

impl Checkpoint {
    /// Appends the body's CBOR to `out`, written straight: the bytes the
    /// value tree gives (a test compares the two), without its dozen
    /// allocations, on the path of every batch received.
    fn write(&self, out: &mut Vec<u8>) -> std::io::Result<()> {
        let mut enc = Encoder::from(out);
        enc.push(Header::Map(Some(6)))?;
        enc.push(Header::Positive(0))?;
        enc.push(Header::Positive(CHECKPOINT_VERSION))?;
        enc.push(Header::Positive(1))?;
        enc.bytes(&self.channel, None)?;
        enc.push(Header::Positive(2))?;
        enc.push(Header::Positive(self.signer as u64))?;
        enc.push(Header::Positive(3))?;
        enc.push(Header::Array(Some(2)))?;
        for (seq, hash) in &self.heads {
            enc.push(Header::Array(Some(2)))?;
            enc.push(Header::Positive(*seq))?;
            enc.bytes(hash, None)?;
        }
        enc.push(Header::Positive(4))?;
        enc.push(Header::Positive(self.time))?;
        enc.push(Header::Positive(5))?;
        match &self.peer_checkpoint {
            Some(h) => enc.bytes(h, None),
            None => enc.push(Header::Simple(simple::NULL)),
        }
    }

    /// Reads a body with the strict reader: shortest forms and definite
    /// lengths only, so what it accepts is canonical.
    fn from_bytes(b: &[u8]) -> Result<Checkpoint, ProtoError> {
        const W: &str = "checkpoint";
        let mut r = Reader::new(b, W);
        if r.map()? != 6 {
            return Err(ProtoError::Shape(W));
        }
        r.key(0)?;
        if r.uint()? != CHECKPOINT_VERSION {
            return Err(ProtoError::Shape("unsupported checkpoint version"));
        }
        r.key(1)?;
        let channel = r.hash()?;
        r.key(2)?;
        let signer = match r.uint()? {
            0 => 0,
            1 => 1,
            _ => return Err(ProtoError::Shape(W)),
        };
        r.key(3)?;
        r.tuple(2)?;
        let mut head = || -> Result<(u64, Hash), ProtoError> {
            r.tuple(2)?;
            Ok((r.uint()?, r.hash()?))
        };
        let heads = [head()?, head()?];
        r.key(4)?;
        let time = r.uint()?;
        r.key(5)?;
        let peer_checkpoint = if r.null() { None } else { Some(r.hash()?) };
        r.finish()?;
        Ok(Checkpoint {
            channel,
            signer,
            heads,
            time,
            peer_checkpoint,
        })
    }

    /// Signs the checkpoint.
    pub fn sign(&self, keys: &SecretKeys) -> SignedCheckpoint {
        // The signed message, `domain || body`, in one buffer; the body is its tail.
        let mut msg = Vec::with_capacity(CHECKPOINT_DOMAIN.len() + 160);
        msg.extend_from_slice(CHECKPOINT_DOMAIN);
        self.write(&mut msg)
            .expect("writing CBOR to a Vec cannot fail");
        let sig = keys.signing().sign(&msg).to_bytes();
        let body = &msg[CHECKPOINT_DOMAIN.len()..];
        let mut bytes = Vec::with_capacity(body.len() + 96);
        write_envelope(&mut bytes, body, &sig).expect("writing CBOR to a Vec cannot fail");
        SignedCheckpoint {
            bytes,
            sig,
            checkpoint: self.clone(),
        }
    }
}

/// The envelope's two keys, in the order they are written.
const ENVELOPE_BODY: &str = "checkpoint";
const ENVELOPE_SIG: &str = "sig";

/// `{"checkpoint": body, "sig": sig}`.
fn write_envelope(out: &mut Vec<u8>, body: &[u8], sig: &[u8; 64]) -> std::io::Result<()> {
    let mut enc = Encoder::from(out);
    enc.push(Header::Map(Some(2)))?;
    enc.text(ENVELOPE_BODY, None)?;
    enc.bytes(body, None)?;
    enc.text(ENVELOPE_SIG, None)?;
    enc.bytes(sig, None)
}

/// A checkpoint with its signature, as exact bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedCheckpoint {
    bytes: Vec<u8>,
    sig: [u8; 64],
    checkpoint: Checkpoint,
}

/// Upper bound on a checkpoint envelope: its fields are fixed-size.
pub const MAX_CHECKPOINT_BYTES: usize = 512;

impl SignedCheckpoint {
    /// Decodes the envelope and verifies the signature under `key`, then decodes the body.
    pub fn open(bytes: &[u8], key: &VerifyingKey) -> Result<SignedCheckpoint, ProtoError> {
        let (body, sig) = Self::split(bytes)?;
        // `domain || body` on the stack: the envelope's bound holds the body.
        let mut msg = [0u8; CHECKPOINT_DOMAIN.len() + MAX_CHECKPOINT_BYTES];
        let n = CHECKPOINT_DOMAIN.len() + body.len();
        msg[..CHECKPOINT_DOMAIN.len()].copy_from_slice(CHECKPOINT_DOMAIN);
        msg[CHECKPOINT_DOMAIN.len()..n].copy_from_slice(body);
        key.verify_strict(&msg[..n], &Signature::from_bytes(&sig))
            .map_err(|_| ProtoError::BadSignature)?;
        let checkpoint = Checkpoint::from_bytes(body)?;
        Ok(SignedCheckpoint {
            bytes: bytes.to_vec(),
            sig,
            checkpoint,
        })
    }

    /// Decodes without verifying, to learn the signer before choosing the key.
    pub fn peek(bytes: &[u8]) -> Result<Checkpoint, ProtoError> {
        let (body, _) = Self::split(bytes)?;
        Checkpoint::from_bytes(body)
    }

    /// The envelope's body and signature, borrowed from it.
    fn split(bytes: &[u8]) -> Result<(&[u8], [u8; 64]), ProtoError> {
        const W: &str = "checkpoint envelope";
        if bytes.len() > MAX_CHECKPOINT_BYTES {
            return Err(ProtoError::TooLarge {
                size: bytes.len(),
                limit: MAX_CHECKPOINT_BYTES,
            });
        }
        let mut r = Reader::new(bytes, W);
        if r.map()? != 2 || r.text()? != ENVELOPE_BODY {
            return Err(ProtoError::Shape(W));
        }
        let body = r.bytes(MAX_CHECKPOINT_BYTES)?;
        if r.text()? != ENVELOPE_SIG {
            return Err(ProtoError::Shape(W));
        }
        let sig = r
            .bytes(MAX_CHECKPOINT_BYTES)?
            .try_into()
            .map_err(|_| ProtoError::Shape("checkpoint signature"))?;
        r.finish()?;
        Ok((body, sig))
    }

    /// The exact bytes.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// What it says.
    pub fn checkpoint(&self) -> &Checkpoint {
        &self.checkpoint
    }

    /// SHA-256 of the envelope bytes.
    pub fn hash(&self) -> Hash {
        crate::sha256(&self.bytes)
    }

    /// The signature.
    pub fn sig(&self) -> &[u8; 64] {
        &self.sig
    }
}

#[cfg(test)]
mod direct_tests {
    //! The checkpoint written and read straight against the value tree it
    //! replaced: the same bytes out, and the same answer for any input.
    use super::*;
    use crate::cbor::{self, Fields};
    use ciborium::Value;
    use proptest::prelude::*;

    fn tree_body(c: &Checkpoint) -> Vec<u8> {
        cbor::to_bytes(&cbor::imap(vec![
            cbor::uint(CHECKPOINT_VERSION),
            cbor::bytes(&c.channel),
            cbor::uint(c.signer as u64),
            Value::Array(vec![
                cbor::head(c.heads[0].0, &c.heads[0].1),
                cbor::head(c.heads[1].0, &c.heads[1].1),
            ]),
            cbor::uint(c.time),
            cbor::opt_hash(&c.peer_checkpoint),
        ]))
    }

    fn tree_envelope(body: &[u8], sig: &[u8]) -> Vec<u8> {
        cbor::to_bytes(&Value::Map(vec![
            (cbor::text("checkpoint"), cbor::bytes(body)),
            (cbor::text("sig"), cbor::bytes(sig)),
        ]))
    }

    fn tree_decode(b: &[u8]) -> Result<Checkpoint, ProtoError> {
        const W: &str = "checkpoint";
        let mut f = Fields::open(cbor::from_canonical(b)?, 6, W)?;
        if f.uint()? != CHECKPOINT_VERSION {
            return Err(ProtoError::Shape("unsupported checkpoint version"));
        }
        let channel = f.hash()?;
        let signer = match f.uint()? {
            0 => 0,
            1 => 1,
            _ => return Err(ProtoError::Shape(W)),
        };
        let mut heads = f.array()?.into_iter();
        let (h0, h1) = match (heads.next(), heads.next(), heads.next()) {
            (Some(a), Some(b), None) => (cbor::as_head(a, W)?, cbor::as_head(b, W)?),
            _ => return Err(ProtoError::Shape(W)),
        };
        let time = f.uint()?;
        let peer_checkpoint = f.opt_hash()?;
        f.done()?;
        Ok(Checkpoint {
            channel,
            signer,
            heads: [h0, h1],
            time,
            peer_checkpoint,
        })
    }

    fn tree_split(bytes: &[u8]) -> Result<(Vec<u8>, [u8; 64]), ProtoError> {
        if bytes.len() > MAX_CHECKPOINT_BYTES {
            return Err(ProtoError::Cbor);
        }
        let Value::Map(m) = cbor::from_canonical(bytes)? else {
            return Err(ProtoError::Cbor);
        };
        let mut it = m.into_iter();
        match (it.next(), it.next(), it.next()) {
            (
                Some((Value::Text(k1), Value::Bytes(c))),
                Some((Value::Text(k2), Value::Bytes(s))),
                None,
            ) if k1 == "checkpoint" && k2 == "sig" => {
                Ok((c, s.try_into().map_err(|_| ProtoError::Cbor)?))
            }
            _ => Err(ProtoError::Cbor),
        }
    }

    fn checkpoint() -> impl Strategy<Value = Checkpoint> {
        // Integers across every head size, hashes of any bytes.
        let n = prop_oneof![
            any::<u64>(),
            prop::sample::select(vec![
                0u64,
                23,
                24,
                255,
                256,
                65_535,
                65_536,
                u32::MAX as u64 + 1
            ]),
        ];
        (
            any::<[u8; 32]>(),
            0u8..2,
            (n.clone(), any::<[u8; 32]>(), n.clone(), any::<[u8; 32]>()),
            n,
            prop::option::of(any::<[u8; 32]>()),
        )
            .prop_map(
                |(channel, signer, (s0, h0, s1, h1), time, peer_checkpoint)| Checkpoint {
                    channel,
                    signer,
                    heads: [(s0, h0), (s1, h1)],
                    time,
                    peer_checkpoint,
                },
            )
    }

    /// A change to valid bytes: one byte set, one cut out, one put in, or
    /// the tail cut off.
    fn mutate(mut b: Vec<u8>, at: usize, byte: u8, how: u8) -> Vec<u8> {
        let at = at % (b.len() + 1);
        match how % 4 {
            0 if at < b.len() => b[at] = byte,
            1 if at < b.len() => {
                b.remove(at);
            }
            2 => b.insert(at, byte),
            _ => b.truncate(at),
        }
        b
    }

    proptest! {
        // Many cases: a change lands on any of some 180 bytes.
        #![proptest_config(ProptestConfig::with_cases(4096))]

        #[test]
        fn written_straight_equals_the_value_tree(c in checkpoint()) {
            let keys = SecretKeys::generate([5; 32], [6; 32]);
            let signed = c.sign(&keys);
            let mut body = Vec::new();
            c.write(&mut body).unwrap();
            prop_assert_eq!(&body, &tree_body(&c));
            prop_assert_eq!(signed.bytes(), &tree_envelope(&body, signed.sig())[..]);
            // And it opens as what was signed.
            let opened = SignedCheckpoint::open(signed.bytes(), &keys.signing().verifying_key()).unwrap();
            prop_assert_eq!(opened.checkpoint(), &c);
        }

        /// Any change to a valid body or envelope: the reader and the value
        /// tree both refuse it, or both read the same checkpoint.
        #[test]
        fn read_straight_answers_as_the_value_tree(
            c in checkpoint(),
            at in any::<usize>(),
            byte in any::<u8>(),
            how in any::<u8>(),
            in_envelope in any::<bool>(),
        ) {
            let keys = SecretKeys::generate([5; 32], [6; 32]);
            if in_envelope {
                let bytes = mutate(c.sign(&keys).bytes().to_vec(), at, byte, how);
                let old = tree_split(&bytes).and_then(|(b, _)| tree_decode(&b));
                let new = SignedCheckpoint::peek(&bytes);
                prop_assert_eq!(old.ok(), new.ok());
                let old_sig = tree_split(&bytes).map(|(_, s)| s);
                let new_sig = SignedCheckpoint::split(&bytes).map(|(_, s)| s);
                prop_assert_eq!(old_sig.ok(), new_sig.ok());
            } else {
                let bytes = mutate(tree_body(&c), at, byte, how);
                prop_assert_eq!(tree_decode(&bytes).ok(), Checkpoint::from_bytes(&bytes).ok());
            }
        }
    }
}
