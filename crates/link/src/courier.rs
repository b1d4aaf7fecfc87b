//! The envelope of a courier bundle (SPEC §5 v2): bytes one station seals
//! to a peer's X25519 key so that they can travel on removable media or
//! through a one-way link, and that only that peer can open, knowing which
//! pinned station sealed them.
//!
//! It is the one-way Noise pattern X (`Noise_X_25519_ChaChaPoly_SHA256`):
//! the sender knows the recipient's static key; its first message carries
//! an ephemeral key, the sender's static key (encrypted) and two DH results,
//! so it is both confidential to the recipient and authenticated as the
//! sender's, with no answer needed. The transport messages after it carry
//! the contents, in order, each authenticated with its own nonce.
//!
//! File layout: the 16-byte [`MAGIC`], then Noise messages, each as a u16
//! big-endian length and that many bytes. The first message's payload is
//! the contents' length as a u64 (big-endian); the transport messages that
//! follow carry the contents in chunks of at most [`CHUNK`] bytes, exactly
//! that many in all, with nothing after the last. A bundle cut short, with
//! a message dropped, reordered or altered, or with bytes added, does not
//! open.

use crate::StaticSecret;
use snow::params::NoiseParams;
use snow::Builder;

/// The Noise protocol of a bundle.
pub const COURIER_PATTERN: &str = "Noise_X_25519_ChaChaPoly_SHA256";
/// Mixed into the handshake hash: a bundle is not a link handshake, nor
/// anything else sealed with the same keys.
pub const COURIER_PROLOGUE: &[u8] = b"hotline/bundle/1";
/// The first bytes of every bundle file.
pub const MAGIC: &[u8; 16] = b"hotline-bundle/1";
/// Contents bytes per transport message: a Noise message's 65535 less the tag.
pub const CHUNK: usize = crate::MAX_NOISE_MESSAGE - 16;

/// Why bytes are not a bundle this station can open.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CourierError {
    /// The file does not start with [`MAGIC`].
    #[error(
        "not a hotline bundle (it does not start with {:?})",
        String::from_utf8_lossy(MAGIC)
    )]
    NotABundle,
    /// Larger than the caller's bound.
    #[error("the bundle is {size} bytes, over the {limit} a station takes")]
    TooLarge {
        /// The file's (or the announced contents') size.
        size: u64,
        /// The bound.
        limit: u64,
    },
    /// A length prefix runs past the end, the contents are shorter or
    /// longer than announced, or bytes trail.
    #[error("the bundle is damaged or cut short ({0})")]
    Malformed(&'static str),
    /// No key of this station opens it, or a message fails to decrypt:
    /// sealed to another station, or altered.
    #[error("this station cannot open the bundle: it was sealed to another station's key, or altered on the way")]
    NotForUs,
}

fn params() -> NoiseParams {
    COURIER_PATTERN.parse().expect("a valid Noise pattern name")
}

/// Seals `contents` from `local` to the station whose X25519 public key is `peer`.
pub fn seal(local: &StaticSecret, peer: &[u8; 32], contents: &[u8]) -> Vec<u8> {
    let mut hs = Builder::new(params())
        .local_private_key(local.as_bytes())
        .and_then(|b| b.remote_public_key(peer))
        .and_then(|b| b.prologue(COURIER_PROLOGUE))
        .and_then(|b| b.build_initiator())
        .expect("X with a 32-byte key and a prologue builds");
    let mut out = MAGIC.to_vec();
    let mut msg = vec![0u8; crate::MAX_NOISE_MESSAGE];
    let n = hs
        .write_message(&(contents.len() as u64).to_be_bytes(), &mut msg)
        .expect("a short first message fits");
    push_frame(&mut out, &msg[..n]);
    let mut t = hs
        .into_transport_mode()
        .expect("X is complete after its one message");
    for chunk in contents.chunks(CHUNK) {
        let n = t
            .write_message(chunk, &mut msg)
            .expect("a chunk fits a Noise message");
        push_frame(&mut out, &msg[..n]);
    }
    out
}

fn push_frame(out: &mut Vec<u8>, m: &[u8]) {
    out.extend_from_slice(&(m.len() as u16).to_be_bytes());
    out.extend_from_slice(m);
}

/// What opening a bundle gives: who sealed it and what it holds.
pub struct Opened {
    /// The sender's X25519 static public key: the caller finds which
    /// pinned peer that is, and refuses the bundle if none.
    pub sender: [u8; 32],
    /// The contents.
    pub contents: Vec<u8>,
}

/// Opens a bundle with whichever of `locals` it was sealed to (a station
/// that rotated its keys holds several); `limit` bounds the file and the
/// contents.
pub fn open(locals: &[&StaticSecret], bytes: &[u8], limit: u64) -> Result<Opened, CourierError> {
    if bytes.len() as u64 > limit {
        return Err(CourierError::TooLarge {
            size: bytes.len() as u64,
            limit,
        });
    }
    let rest = bytes
        .strip_prefix(MAGIC.as_slice())
        .ok_or(CourierError::NotABundle)?;
    let mut frames = Frames(rest);
    let first = frames
        .next_frame()?
        .ok_or(CourierError::Malformed("empty"))?;
    let mut buf = vec![0u8; crate::MAX_NOISE_MESSAGE];
    let (hs, n) = locals
        .iter()
        .find_map(|local| {
            let mut hs = Builder::new(params())
                .local_private_key(local.as_bytes())
                .and_then(|b| b.prologue(COURIER_PROLOGUE))
                .and_then(|b| b.build_responder())
                .ok()?;
            let n = hs.read_message(first, &mut buf).ok()?;
            Some((hs, n))
        })
        .ok_or(CourierError::NotForUs)?;
    let len: [u8; 8] = buf[..n]
        .try_into()
        .map_err(|_| CourierError::Malformed("first message"))?;
    let len = u64::from_be_bytes(len);
    if len > limit {
        return Err(CourierError::TooLarge { size: len, limit });
    }
    let sender: [u8; 32] = hs
        .get_remote_static()
        .and_then(|k| k.try_into().ok())
        .ok_or(CourierError::NotForUs)?;
    let mut t = hs
        .into_transport_mode()
        .map_err(|_| CourierError::NotForUs)?;
    let mut contents = Vec::with_capacity(len as usize);
    while let Some(frame) = frames.next_frame()? {
        let n = t
            .read_message(frame, &mut buf)
            .map_err(|_| CourierError::NotForUs)?;
        if contents.len() + n > len as usize {
            return Err(CourierError::Malformed("longer than announced"));
        }
        contents.extend_from_slice(&buf[..n]);
    }
    if contents.len() as u64 != len {
        return Err(CourierError::Malformed("shorter than announced"));
    }
    Ok(Opened { sender, contents })
}

/// The length-prefixed frames of a bundle, in order.
struct Frames<'a>(&'a [u8]);

impl<'a> Frames<'a> {
    fn next_frame(&mut self) -> Result<Option<&'a [u8]>, CourierError> {
        if self.0.is_empty() {
            return Ok(None);
        }
        let [a, b, rest @ ..] = self.0 else {
            return Err(CourierError::Malformed("a length prefix is cut"));
        };
        let n = u16::from_be_bytes([*a, *b]) as usize;
        if n == 0 || rest.len() < n {
            return Err(CourierError::Malformed("a message is cut"));
        }
        let (frame, rest) = rest.split_at(n);
        self.0 = rest;
        Ok(Some(frame))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::generate_keypair;

    const LIMIT: u64 = 1 << 24;

    #[test]
    fn a_sealed_bundle_opens_for_its_recipient_only_naming_its_sender() {
        let (a, a_pub) = generate_keypair();
        let (b, b_pub) = generate_keypair();
        let (c, _) = generate_keypair();
        // Empty, one chunk, several chunks with a short last one.
        for size in [0usize, 10, CHUNK, 3 * CHUNK + 17] {
            let contents: Vec<u8> = (0..size).map(|i| (i % 251) as u8).collect();
            let sealed = seal(&a, &b_pub, &contents);
            let o = open(&[&c, &b], &sealed, LIMIT).expect("opens with b's key");
            assert_eq!(o.sender, a_pub);
            assert_eq!(o.contents, contents);
            assert_eq!(
                open(&[&c], &sealed, LIMIT).err(),
                Some(CourierError::NotForUs),
                "another station cannot open it"
            );
        }
    }

    #[test]
    fn any_change_cut_or_addition_is_refused() {
        let (a, _) = generate_keypair();
        let (b, b_pub) = generate_keypair();
        let contents: Vec<u8> = (0..(2 * CHUNK + 5)).map(|i| i as u8).collect();
        let sealed = seal(&a, &b_pub, &contents);
        // A flipped byte anywhere past the magic.
        for at in [16, 17, 60, 200, CHUNK + 40, sealed.len() - 1] {
            let mut x = sealed.clone();
            x[at] ^= 0x40;
            assert!(open(&[&b], &x, LIMIT).is_err(), "flip at {at}");
        }
        // Cut anywhere, or the last message dropped whole.
        for cut in [10, 40, sealed.len() / 2, sealed.len() - 1] {
            assert!(open(&[&b], &sealed[..cut], LIMIT).is_err(), "cut at {cut}");
        }
        let last = sealed.len() - (contents.len() - 2 * CHUNK + 16) - 2;
        assert!(matches!(
            open(&[&b], &sealed[..last], LIMIT),
            Err(CourierError::Malformed(_))
        ));
        // Bytes added after the end.
        let mut longer = sealed.clone();
        longer.extend_from_slice(&[0, 1, 7]);
        assert!(open(&[&b], &longer, LIMIT).is_err());
        // Not a bundle, and over the bound.
        assert_eq!(
            open(&[&b], b"hello", LIMIT).err(),
            Some(CourierError::NotABundle)
        );
        assert!(matches!(
            open(&[&b], &sealed, 100),
            Err(CourierError::TooLarge { .. })
        ));
    }
}
