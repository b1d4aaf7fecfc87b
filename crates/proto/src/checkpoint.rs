//! Checkpoints (SPEC §5): a station's signed statement of the heads it holds.
//!
//! Body: CBOR map `{0: version, 1: channel, 2: signer, 3: [[seq, hash] of author 0,
//! [seq, hash] of author 1], 4: time, 5: peer_checkpoint}`. Envelope:
//! `{"checkpoint": bytes, "sig": bytes(64)}`, signature over
//! `"hotline/checkpoint/v1" || checkpoint`. The version field lets the type grow
//! (Merkle roots, witness cosignatures) without changing this one.
//! Changing this encoding breaks signatures.

use crate::cbor::{self, Fields};
use crate::error::ProtoError;
use crate::identity::SecretKeys;
use crate::{Hash, CHECKPOINT_DOMAIN};
use ciborium::Value;
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
    fn to_bytes(&self) -> Vec<u8> {
        cbor::to_bytes(&cbor::imap(vec![
            cbor::uint(CHECKPOINT_VERSION),
            cbor::bytes(&self.channel),
            cbor::uint(self.signer as u64),
            Value::Array(vec![
                cbor::head(self.heads[0].0, &self.heads[0].1),
                cbor::head(self.heads[1].0, &self.heads[1].1),
            ]),
            cbor::uint(self.time),
            cbor::opt_hash(&self.peer_checkpoint),
        ]))
    }

    fn from_bytes(b: &[u8]) -> Result<Checkpoint, ProtoError> {
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

    /// Signs the checkpoint.
    pub fn sign(&self, keys: &SecretKeys) -> SignedCheckpoint {
        let body = self.to_bytes();
        let mut msg = CHECKPOINT_DOMAIN.to_vec();
        msg.extend_from_slice(&body);
        let sig = keys.signing().sign(&msg).to_bytes();
        let bytes = cbor::to_bytes(&Value::Map(vec![
            (cbor::text("checkpoint"), cbor::bytes(&body)),
            (cbor::text("sig"), cbor::bytes(&sig)),
        ]));
        SignedCheckpoint {
            bytes,
            sig,
            checkpoint: self.clone(),
        }
    }
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
        let mut msg = CHECKPOINT_DOMAIN.to_vec();
        msg.extend_from_slice(&body);
        key.verify_strict(&msg, &Signature::from_bytes(&sig))
            .map_err(|_| ProtoError::BadSignature)?;
        let checkpoint = Checkpoint::from_bytes(&body)?;
        Ok(SignedCheckpoint {
            bytes: bytes.to_vec(),
            sig,
            checkpoint,
        })
    }

    /// Decodes without verifying, to learn the signer before choosing the key.
    pub fn peek(bytes: &[u8]) -> Result<Checkpoint, ProtoError> {
        let (body, _) = Self::split(bytes)?;
        Checkpoint::from_bytes(&body)
    }

    fn split(bytes: &[u8]) -> Result<(Vec<u8>, [u8; 64]), ProtoError> {
        if bytes.len() > MAX_CHECKPOINT_BYTES {
            return Err(ProtoError::TooLarge {
                size: bytes.len(),
                limit: MAX_CHECKPOINT_BYTES,
            });
        }
        let Value::Map(m) = cbor::from_canonical(bytes)? else {
            return Err(ProtoError::Shape("checkpoint envelope"));
        };
        let mut it = m.into_iter();
        match (it.next(), it.next(), it.next()) {
            (
                Some((Value::Text(k1), Value::Bytes(c))),
                Some((Value::Text(k2), Value::Bytes(s))),
                None,
            ) if k1 == "checkpoint" && k2 == "sig" => {
                let sig = s
                    .try_into()
                    .map_err(|_| ProtoError::Shape("checkpoint signature"))?;
                Ok((c, sig))
            }
            _ => Err(ProtoError::Shape("checkpoint envelope")),
        }
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
