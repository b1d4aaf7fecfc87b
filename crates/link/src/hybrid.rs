//! The post-quantum half of the handshake (SPEC §3, v2): an ML-KEM-768
//! exchange whose shared secret, with a stored pre-shared key that ratchets
//! forward on every handshake, becomes the Noise `psk2` key.
//!
//! Recording a handshake today and breaking X25519 later is not enough to
//! read it: the `psk2` key also needs the KEM shared secret (ML-KEM, from
//! `libcrux-ml-kem`, formally verified) and the stored key, which itself
//! folds in every earlier KEM secret of the pair.
//!
//! Each direction of a pair (who initiates) has its own chain of stored keys:
//! generation 0 is the out-of-band key entered at pairing, or 32 zero bytes;
//! each handshake derives the next generation from the one the initiator
//! offered. Both sides keep the newest generation and the one before, so a
//! reply lost on the way (the responder moved on, the initiator did not)
//! does not lock the pair out.

use hkdf::Hkdf;
use libcrux_ml_kem::mlkem768;
use rand::RngCore;
use sha2::Sha256;
use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::LinkError;

/// Bytes of an ML-KEM-768 encapsulation key, sent in message 1.
pub const KEM_PUBLIC_LEN: usize = 1184;
/// Bytes of an ML-KEM-768 ciphertext, sent in front of message 2.
pub const KEM_CIPHERTEXT_LEN: usize = 1088;
/// Bytes of a stored pre-shared key and of the `psk2` key.
pub const PSK_LEN: usize = 32;

/// HKDF `info` prefix of the `psk2` key.
const INFO_PSK: &[u8] = b"hotline/hybrid/v1";
/// HKDF `info` prefix of the next stored generation.
const INFO_RATCHET: &[u8] = b"hotline/ratchet/v1";

/// One direction's stored keys: the newest generation and, once a handshake
/// moved it on, the one before.
#[derive(Clone, PartialEq, Eq, Zeroize, ZeroizeOnDrop)]
pub struct PskChain {
    /// The newest generation's number (0 before the first handshake).
    pub gen: u64,
    /// The newest generation's key.
    pub key: [u8; PSK_LEN],
    /// Generation `gen - 1`'s key, kept for a handshake whose reply was lost.
    pub prev: Option<[u8; PSK_LEN]>,
}

impl std::fmt::Debug for PskChain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The keys never reach a log.
        f.debug_struct("PskChain")
            .field("gen", &self.gen)
            .field("prev", &self.prev.is_some())
            .finish_non_exhaustive()
    }
}

impl PskChain {
    /// Generation 0: the out-of-band key entered at pairing, or zeros.
    pub fn initial(out_of_band: Option<[u8; PSK_LEN]>) -> PskChain {
        PskChain {
            gen: 0,
            key: out_of_band.unwrap_or([0; PSK_LEN]),
            prev: None,
        }
    }

    /// The key of generation `gen`, if this chain still holds it.
    pub fn key_of(&self, gen: u64) -> Option<&[u8; PSK_LEN]> {
        if gen == self.gen {
            Some(&self.key)
        } else if gen.checked_add(1) == Some(self.gen) {
            self.prev.as_ref()
        } else {
            None
        }
    }

    /// The generation an initiator offers: the newest, or the one before
    /// after a handshake that failed once its first message was out.
    pub fn offer(&self, use_prev: bool) -> u64 {
        match (use_prev, &self.prev) {
            (true, Some(_)) => self.gen - 1,
            _ => self.gen,
        }
    }

    /// The chain after a handshake that used generation `base` (whose key is
    /// `stored`): generation `base + 1` with `next`, and `base` kept.
    pub(crate) fn advanced(base: u64, stored: &[u8; PSK_LEN], next: [u8; PSK_LEN]) -> PskChain {
        PskChain {
            gen: base + 1,
            key: next,
            prev: Some(*stored),
        }
    }
}

/// `HKDF-SHA256(salt = stored, ikm = kem_ss, info = label || parts…)`.
fn derive(stored: &[u8; PSK_LEN], kem_ss: &[u8; 32], label: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    let hk = Hkdf::<Sha256>::new(Some(stored), kem_ss);
    let mut info = Vec::with_capacity(label.len() + parts.iter().map(|p| p.len()).sum::<usize>());
    info.extend_from_slice(label);
    for p in parts {
        info.extend_from_slice(p);
    }
    let mut out = [0u8; 32];
    hk.expand(&info, &mut out)
        .expect("32 bytes is a valid HKDF-SHA256 output length");
    out
}

/// The `psk2` key: `HKDF(stored, kem_ss, "hotline/hybrid/v1" || h1 || ct)`,
/// where `h1` is the handshake hash after message 1 and `ct` the ciphertext.
pub fn psk2(stored: &[u8; PSK_LEN], kem_ss: &[u8; 32], h1: &[u8], ct: &[u8]) -> [u8; 32] {
    derive(stored, kem_ss, INFO_PSK, &[h1, ct])
}

/// The next stored generation: `HKDF(stored, kem_ss, "hotline/ratchet/v1" || h)`,
/// where `h` is the final handshake hash.
pub fn ratchet(stored: &[u8; PSK_LEN], kem_ss: &[u8; 32], h: &[u8]) -> [u8; 32] {
    derive(stored, kem_ss, INFO_RATCHET, &[h])
}

/// The initiator's ephemeral ML-KEM key pair, one per handshake.
pub(crate) struct KemPair(mlkem768::MlKem768KeyPair);

impl KemPair {
    /// A key pair from the operating system's randomness.
    pub(crate) fn generate() -> KemPair {
        let mut seed = [0u8; 64];
        rand::rngs::OsRng.fill_bytes(&mut seed);
        let pair = KemPair::from_seed(seed);
        seed.zeroize();
        pair
    }

    /// The key pair FIPS 203 derives from `seed` (tests replay handshakes).
    pub(crate) fn from_seed(seed: [u8; 64]) -> KemPair {
        KemPair(mlkem768::generate_key_pair(seed))
    }

    /// The encapsulation key, sent in message 1.
    pub(crate) fn public(&self) -> &[u8; KEM_PUBLIC_LEN] {
        self.0.public_key().as_slice()
    }

    /// The shared secret in `ct`. ML-KEM rejects implicitly: a tampered
    /// ciphertext gives an unrelated secret, and the handshake then fails.
    pub(crate) fn decapsulate(&self, ct: &[u8; KEM_CIPHERTEXT_LEN]) -> [u8; 32] {
        let ct = mlkem768::MlKem768Ciphertext::from(*ct);
        mlkem768::decapsulate(self.0.private_key(), &ct)
    }
}

/// The responder's half: a ciphertext to `public` and the shared secret in
/// it. A key that fails FIPS 203's input check is refused whole.
pub(crate) fn encapsulate(
    public: &[u8; KEM_PUBLIC_LEN],
) -> Result<([u8; KEM_CIPHERTEXT_LEN], [u8; 32]), LinkError> {
    let key = mlkem768::MlKem768PublicKey::from(*public);
    if !mlkem768::validate_public_key(&key) {
        return Err(LinkError::Malformed(
            "the ML-KEM key in the handshake is not valid",
        ));
    }
    let mut r = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut r);
    let (ct, ss) = mlkem768::encapsulate(&key, r);
    r.zeroize();
    Ok((*ct.as_slice(), ss))
}
