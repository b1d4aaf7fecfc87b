//! Station identities (SPEC §2): keys, the `hotline1…` token, and the fingerprint.

use crate::error::ProtoError;
use curve25519_dalek::montgomery::MontgomeryPoint;
use ed25519_dalek::{SigningKey, VerifyingKey};
use zeroize::{ZeroizeOnDrop, Zeroizing};

/// The prefix of every identity token.
pub const TOKEN_PREFIX: &str = "hotline1";

/// A station's public identity: its Ed25519 signing key and X25519 static key.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Identity {
    /// Ed25519 public key that signs entries and checkpoints.
    pub sig_pk: [u8; 32],
    /// X25519 public key pinned for the Noise handshake.
    pub dh_pk: [u8; 32],
}

impl std::fmt::Debug for Identity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.token())
    }
}

impl Identity {
    /// The 64 bytes `sig_pk || dh_pk` that the token and fingerprint encode.
    pub fn to_bytes(&self) -> [u8; 64] {
        let mut b = [0u8; 64];
        b[..32].copy_from_slice(&self.sig_pk);
        b[32..].copy_from_slice(&self.dh_pk);
        b
    }

    /// `hotline1` + lowercase unpadded base32 of the 64 bytes.
    pub fn token(&self) -> String {
        let b32 = data_encoding::BASE32_NOPAD.encode(&self.to_bytes());
        format!("{TOKEN_PREFIX}{}", b32.to_ascii_lowercase())
    }

    /// Parses a token; both keys must be ones a station could have generated
    /// (see [`Identity::check_keys`]).
    pub fn parse(token: &str) -> Result<Identity, ProtoError> {
        let t = token.trim();
        let rest = t.strip_prefix(TOKEN_PREFIX).ok_or(ProtoError::BadToken)?;
        if rest.bytes().any(|c| c.is_ascii_uppercase()) {
            return Err(ProtoError::BadToken);
        }
        let raw = data_encoding::BASE32_NOPAD
            .decode(rest.to_ascii_uppercase().as_bytes())
            .map_err(|_| ProtoError::BadToken)?;
        if raw.len() != 64 {
            return Err(ProtoError::BadToken);
        }
        let mut sig_pk = [0u8; 32];
        let mut dh_pk = [0u8; 32];
        sig_pk.copy_from_slice(&raw[..32]);
        dh_pk.copy_from_slice(&raw[32..]);
        let id = Identity { sig_pk, dh_pk };
        id.check_keys()?;
        Ok(id)
    }

    /// Refuses keys that no station generates, so that every pinned key gives
    /// a real secret and has one spelling (a duplicate check on bytes then
    /// finds every duplicate):
    /// - the Ed25519 key must decode, be of large order (a small-order key
    ///   verifies forged signatures) and be canonically encoded;
    /// - the X25519 key must be below the field prime (RFC 7748 §5 otherwise
    ///   reads it modulo p: a second spelling) and not of low order, whose
    ///   Diffie-Hellman output is all zeros whatever our secret
    ///   (x25519-dalek's `was_contributory`).
    pub fn check_keys(&self) -> Result<(), ProtoError> {
        let vk = self.verifying_key()?;
        if vk.is_weak() || vk.to_edwards().compress().to_bytes() != self.sig_pk {
            return Err(ProtoError::WeakKey);
        }
        if !below_field_prime(&self.dh_pk) || dh_is_low_order(&self.dh_pk) {
            return Err(ProtoError::WeakKey);
        }
        Ok(())
    }

    /// The Ed25519 verifying key.
    pub fn verifying_key(&self) -> Result<VerifyingKey, ProtoError> {
        VerifyingKey::from_bytes(&self.sig_pk).map_err(|_| ProtoError::BadKey)
    }

    /// The fingerprint two operators read to each other to confirm the pinning.
    pub fn fingerprint(&self) -> Fingerprint {
        Fingerprint::of(self)
    }
}

/// The field prime 2^255 - 19, little-endian as X25519 keys are written.
const FIELD_PRIME_LE: [u8; 32] = {
    let mut p = [0xff; 32];
    p[0] = 0xed;
    p[31] = 0x7f;
    p
};

/// Whether a little-endian X25519 u-coordinate is canonical: below p.
fn below_field_prime(u: &[u8; 32]) -> bool {
    // Compare from the most significant byte down.
    u.iter().rev().lt(FIELD_PRIME_LE.iter().rev())
}

/// Whether an X25519 public key lies in the small subgroup of the curve or
/// its twist. X25519 clamps every scalar to a multiple of 8, the cofactor, so
/// such a key gives the all-zero output for any scalar and every other key
/// gives a non-zero one; a fixed scalar therefore decides it. The key is
/// public, so the check need not run in constant time.
fn dh_is_low_order(u: &[u8; 32]) -> bool {
    MontgomeryPoint(*u).mul_clamped([0x42; 32]).to_bytes() == [0u8; 32]
}

/// SHA-256 of the identity's 64 bytes, shown as 12 groups of 5 decimal digits.
///
/// The digits are the low 60 decimal digits of the hash read as a big-endian
/// 256-bit integer: 199 bits, more than Signal's 30-digit half of a safety number.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Fingerprint([u8; 60]);

impl Fingerprint {
    fn of(id: &Identity) -> Fingerprint {
        let mut n = crate::sha256(&id.to_bytes());
        let mut digits = [0u8; 60];
        for d in digits.iter_mut().rev() {
            // Long division of the 256-bit big-endian number by 10.
            let mut rem: u32 = 0;
            for byte in n.iter_mut() {
                let cur = (rem << 8) | *byte as u32;
                *byte = (cur / 10) as u8;
                rem = cur % 10;
            }
            *d = b'0' + rem as u8;
        }
        Fingerprint(digits)
    }

    /// Compares with what an operator typed: digits only, spacing ignored.
    pub fn matches(&self, typed: &str) -> bool {
        let digits: Vec<u8> = typed.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
        digits == self.0
    }
}

impl std::fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, group) in self.0.chunks(5).enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            f.write_str(std::str::from_utf8(group).expect("ascii digits"))?;
        }
        Ok(())
    }
}

impl std::fmt::Debug for Fingerprint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(self, f)
    }
}

/// A station's secret keys. Zeroized on drop; deliberately no `Debug`.
#[derive(ZeroizeOnDrop)]
pub struct SecretKeys {
    /// Signs entries and checkpoints; ed25519-dalek zeroizes it on drop.
    signing: SigningKey,
    /// The X25519 secret the link's handshake uses.
    dh_secret: Zeroizing<[u8; 32]>,
    /// Its public key, kept beside it so the identity needs no curve code here.
    dh_public: [u8; 32],
}

impl SecretKeys {
    /// Builds from a fresh random Ed25519 key and a given X25519 keypair
    /// (the link crate generates that one, so all Noise code stays there).
    pub fn generate(dh_secret: [u8; 32], dh_public: [u8; 32]) -> SecretKeys {
        let signing = SigningKey::generate(&mut rand::rngs::OsRng);
        SecretKeys {
            signing,
            dh_secret: Zeroizing::new(dh_secret),
            dh_public,
        }
    }

    /// Serialized form for the key file: `sig_sk || dh_sk || dh_pk` (96 bytes).
    pub fn to_bytes(&self) -> Zeroizing<Vec<u8>> {
        let mut v = Zeroizing::new(Vec::with_capacity(96));
        v.extend_from_slice(&self.signing.to_bytes());
        v.extend_from_slice(&self.dh_secret[..]);
        v.extend_from_slice(&self.dh_public);
        v
    }

    /// Reads the key-file form.
    pub fn from_bytes(b: &[u8]) -> Result<SecretKeys, ProtoError> {
        if b.len() != 96 {
            return Err(ProtoError::BadKey);
        }
        let mut sk = Zeroizing::new([0u8; 32]);
        sk.copy_from_slice(&b[..32]);
        let mut dh = Zeroizing::new([0u8; 32]);
        dh.copy_from_slice(&b[32..64]);
        let mut dh_public = [0u8; 32];
        dh_public.copy_from_slice(&b[64..]);
        Ok(SecretKeys {
            signing: SigningKey::from_bytes(&sk),
            dh_secret: dh,
            dh_public,
        })
    }

    /// The signing key, for envelopes and checkpoints.
    pub(crate) fn signing(&self) -> &SigningKey {
        &self.signing
    }

    /// An Ed25519 signature over the text of a C2SP signed note whose first
    /// line is a hotline log origin (`hotline/<channel hex>/…`). Such a text
    /// can be no other signed message of hotline's: those start with their
    /// own domain tags (`hotline/entry/v1`, `hotline/checkpoint/v1`, …), and
    /// a channel's hex id cannot spell one. Anything else is refused.
    pub fn sign_log_note(&self, text: &[u8]) -> Option<[u8; 64]> {
        if !is_log_text(text) {
            return None;
        }
        use ed25519_dalek::Signer as _;
        Some(self.signing.sign(text).to_bytes())
    }

    /// An Ed25519 signature over a C2SP `tlog-cosignature/v1` message
    /// (`cosignature/v1\ntime <t>\n` and then the text of a hotline log
    /// checkpoint): the station cosigning, as a witness, a checkpoint of
    /// its counterpart's log whose root it has checked. No other signed
    /// message of hotline's starts `cosignature/v1`. Anything else is refused.
    pub fn sign_log_cosignature(&self, msg: &[u8]) -> Option<[u8; 64]> {
        let rest = msg.strip_prefix(b"cosignature/v1\ntime ")?;
        let nl = rest.iter().position(|b| *b == b'\n')?;
        let (time, text) = (&rest[..nl], &rest[nl + 1..]);
        if time.is_empty() || !time.iter().all(u8::is_ascii_digit) || !is_log_text(text) {
            return None;
        }
        use ed25519_dalek::Signer as _;
        Some(self.signing.sign(msg).to_bytes())
    }

    /// The X25519 secret, handed to the link for the handshake.
    pub fn dh_secret(&self) -> &[u8; 32] {
        &self.dh_secret
    }

    /// This station's public identity.
    pub fn identity(&self) -> Identity {
        Identity {
            sig_pk: self.signing.verifying_key().to_bytes(),
            dh_pk: self.dh_public,
        }
    }
}

/// Whether `text` starts with a hotline log origin line's prefix
/// (`hotline/<64 hex digits>/`).
fn is_log_text(text: &[u8]) -> bool {
    let Some(rest) = text.strip_prefix(b"hotline/") else {
        return false;
    };
    rest.get(..64)
        .is_some_and(|h| h.iter().all(|b| b.is_ascii_hexdigit()))
        && rest.get(64) == Some(&b'/')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_round_trips_and_rejects_damage() {
        let k = SecretKeys::generate([7; 32], [9; 32]);
        let id = k.identity();
        let t = id.token();
        assert!(t.starts_with("hotline1"));
        assert_eq!(t, t.to_ascii_lowercase());
        assert_eq!(Identity::parse(&t).unwrap(), id);
        assert_eq!(
            Identity::parse(&t[..t.len() - 1]),
            Err(ProtoError::BadToken)
        );
        assert_eq!(
            Identity::parse(&t.to_uppercase()),
            Err(ProtoError::BadToken)
        );
        assert_eq!(Identity::parse("hotline2abc"), Err(ProtoError::BadToken));
    }

    #[test]
    fn log_signatures_sign_only_hotline_log_texts() {
        let k = SecretKeys::generate([7; 32], [9; 32]);
        let text = format!("hotline/{}/123\n1\nAA==\n", "ab".repeat(32));
        assert!(k.sign_log_note(text.as_bytes()).is_some());
        assert!(k.sign_log_note(b"hotline/entry/v1 anything").is_none());
        let cosig = format!("cosignature/v1\ntime 1700000000\n{text}");
        assert!(k.sign_log_cosignature(cosig.as_bytes()).is_some());
        for bad in [
            text.clone(),
            format!("cosignature/v1\ntime \n{text}"),
            format!("cosignature/v1\ntime 12x\n{text}"),
            "cosignature/v1\ntime 1\nhotline/entry/v1".to_string(),
        ] {
            assert!(k.sign_log_cosignature(bad.as_bytes()).is_none(), "{bad}");
        }
    }

    fn unhex(h: &str) -> [u8; 32] {
        let v = data_encoding::HEXLOWER.decode(h.as_bytes()).unwrap();
        v.try_into().unwrap()
    }

    /// `p + k`, little-endian: a non-canonical spelling of `k`.
    fn p_plus(k: u8) -> [u8; 32] {
        let mut b = FIELD_PRIME_LE;
        b[0] += k;
        b
    }

    #[test]
    fn tokens_with_low_order_or_non_canonical_dh_keys_are_refused() {
        let good = SecretKeys::generate([7; 32], [9; 32]).identity();
        assert_eq!(Identity::parse(&good.token()), Ok(good));
        // The small-order X25519 points (libsodium's blocklist): a handshake
        // with any of them gives the all-zero shared secret.
        let mut low = vec![
            [0u8; 32],
            {
                let mut one = [0u8; 32];
                one[0] = 1;
                one
            },
            unhex("e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800"),
            unhex("5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157"),
            {
                // p - 1
                let mut b = FIELD_PRIME_LE;
                b[0] -= 1;
                b
            },
        ];
        // Each again with the top bit set, which X25519 ignores.
        low.extend(low.clone().into_iter().map(|mut b| {
            b[31] |= 0x80;
            b
        }));
        // p and p + 1: 0 and 1 again.
        low.extend([p_plus(0), p_plus(1)]);
        for dh_pk in low {
            let id = Identity { dh_pk, ..good };
            assert_eq!(
                Identity::parse(&id.token()),
                Err(ProtoError::WeakKey),
                "{}",
                crate::hex(&dh_pk)
            );
        }
        // A sound key spelled a second way: with the top bit set, or plus p.
        let mut high = good.dh_pk;
        high[31] |= 0x80;
        let id = Identity {
            dh_pk: high,
            ..good
        };
        assert_eq!(Identity::parse(&id.token()), Err(ProtoError::WeakKey));
        let id = Identity {
            dh_pk: p_plus(9),
            ..good
        };
        assert_eq!(Identity::parse(&id.token()), Err(ProtoError::WeakKey));
        // The refusal says what to do.
        assert!(ProtoError::WeakKey.to_string().contains("hotline id"));
    }

    #[test]
    fn tokens_with_weak_or_non_canonical_signing_keys_are_refused() {
        let good = SecretKeys::generate([7; 32], [9; 32]).identity();
        // The identity point (y = 1): verifies a forged signature on anything.
        let mut identity_point = [0u8; 32];
        identity_point[0] = 1;
        // y = 1 spelled p + 1, and x = 0 with the sign bit set ("-0").
        let mut minus_zero = identity_point;
        minus_zero[31] |= 0x80;
        for sig_pk in [identity_point, p_plus(1), minus_zero] {
            let id = Identity { sig_pk, ..good };
            assert_eq!(Identity::parse(&id.token()), Err(ProtoError::WeakKey));
        }
        // A y at or above p that still decodes to a large-order point: accepted
        // by ed25519-dalek, refused here because it has a second spelling.
        let mut found = 0;
        for k in 2..19 {
            let sig_pk = p_plus(k);
            if VerifyingKey::from_bytes(&sig_pk).is_ok_and(|vk| !vk.is_weak()) {
                found += 1;
                let id = Identity { sig_pk, ..good };
                assert_eq!(Identity::parse(&id.token()), Err(ProtoError::WeakKey));
            }
        }
        assert!(found > 0, "no non-canonical large-order encoding to test");
    }

    #[test]
    fn secret_keys_zeroize_on_drop() {
        // Compile-time: the type promises to wipe itself when dropped.
        fn wipes<T: ZeroizeOnDrop>() {}
        wipes::<SecretKeys>();
    }

    #[test]
    fn fingerprint_is_twelve_groups_of_five_digits() {
        let id = SecretKeys::generate([1; 32], [2; 32]).identity();
        let s = id.fingerprint().to_string();
        let groups: Vec<&str> = s.split(' ').collect();
        assert_eq!(groups.len(), 12);
        assert!(groups
            .iter()
            .all(|g| g.len() == 5 && g.bytes().all(|b| b.is_ascii_digit())));
        assert!(id.fingerprint().matches(&s));
        assert!(id.fingerprint().matches(&s.replace(' ', "")));
        let mut wrong = s.clone().into_bytes();
        wrong[0] = if wrong[0] == b'1' { b'2' } else { b'1' };
        assert!(!id
            .fingerprint()
            .matches(std::str::from_utf8(&wrong).unwrap()));
    }

    #[test]
    fn fingerprint_is_the_low_decimal_digits_of_the_hash() {
        // A fixed identity pins the algorithm: the last group is the hash mod 100000.
        let id = Identity {
            sig_pk: [0; 32],
            dh_pk: [0; 32],
        };
        let h = crate::sha256(&[0u8; 64]);
        let low = u128::from_be_bytes(h[16..].try_into().unwrap());
        // 2^128 mod 100000 = 31456 (since 2^128 = 340282366920938463463374607431768211456).
        let high = u128::from_be_bytes(h[..16].try_into().unwrap());
        let expect = ((high % 100000) * 31456 + (low % 100000)) % 100000;
        let s = id.fingerprint().to_string();
        assert_eq!(s[s.len() - 5..].parse::<u128>().unwrap(), expect);
    }
}
