//! The Noise IK handshake (SPEC §3): the initiator knows the responder's key
//! and sends its own, encrypted, with its clock; the responder accepts only
//! pinned keys whose clock moved forward.

use snow::params::NoiseParams;
use snow::{Builder, HandshakeState};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};

use crate::frame::{write_prefixed, FrameReader, PREFIX_LEN};
use crate::session::Session;
use crate::{LinkError, StaticSecret, PATTERN, PROLOGUE, TIMESTAMP_LEN};

/// What the responder's caller decides about an initiator's static key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PeerDecision {
    /// The key is pinned; a handshake must carry a timestamp above this one.
    Pinned {
        /// The timestamp of the last handshake accepted from this key (0 if none).
        last_timestamp: u64,
    },
    /// The key is not pinned here, so the handshake is refused.
    Unknown,
}

/// The parsed [`PATTERN`].
pub(crate) fn params() -> NoiseParams {
    PATTERN
        .parse()
        .expect("PATTERN is a valid Noise protocol name")
}

/// A builder with the parts both roles share: pattern, prologue, local key.
fn builder(local: &StaticSecret) -> Result<Builder<'_>, LinkError> {
    Builder::new(params())
        .prologue(PROLOGUE)
        .and_then(|b| b.local_private_key(local.as_bytes()))
        .map_err(|_| LinkError::Crypto)
}

/// The longest handshake message accepted: message 1 is exactly 104 bytes
/// (ephemeral key 32, encrypted static key 32 + 16, encrypted timestamp
/// 8 + 16) and message 2 exactly 48 (ephemeral key 32, empty payload's tag
/// 16), so a small bound keeps an unauthenticated connection cheap.
const MAX_HANDSHAKE_MESSAGE: usize = 256;

/// Buffers for the two handshake messages; their fixed, small size bounds
/// what a handshake can make us allocate.
struct Scratch {
    /// Reads the incoming message.
    frames: FrameReader,
    /// Outgoing message behind room for its length prefix.
    out: [u8; PREFIX_LEN + MAX_HANDSHAKE_MESSAGE],
    /// Decrypted payload of the incoming message.
    payload: [u8; MAX_HANDSHAKE_MESSAGE],
}

impl Scratch {
    fn new() -> Self {
        Scratch {
            frames: FrameReader::new(MAX_HANDSHAKE_MESSAGE),
            out: [0u8; PREFIX_LEN + MAX_HANDSHAKE_MESSAGE],
            payload: [0u8; MAX_HANDSHAKE_MESSAGE],
        }
    }

    /// Encrypts `payload` as the next handshake message, writes it and flushes.
    async fn send<S>(
        &mut self,
        hs: &mut HandshakeState,
        stream: &mut S,
        payload: &[u8],
    ) -> Result<(), LinkError>
    where
        S: AsyncWrite + Unpin,
    {
        let n = hs
            .write_message(payload, &mut self.out[PREFIX_LEN..])
            .map_err(|_| LinkError::Crypto)?;
        write_prefixed(stream, &mut self.out, n).await?;
        stream.flush().await?;
        Ok(())
    }

    /// Reads and decrypts the next handshake message; returns its payload.
    async fn recv<S>(&mut self, hs: &mut HandshakeState, stream: &mut S) -> Result<&[u8], LinkError>
    where
        S: AsyncRead + Unpin,
    {
        let message = self.frames.read(stream, false).await?;
        let n = hs
            .read_message(message, &mut self.payload)
            .map_err(|_| LinkError::Crypto)?;
        Ok(&self.payload[..n])
    }
}

/// Runs the initiator's side of the handshake: sends message 1 with
/// `timestamp_ns`, reads message 2, and returns the established session.
///
/// `remote_public` is the responder's pinned key; if the responder holds a
/// different one, the responder fails with [`LinkError::Crypto`] and hangs up,
/// so this side sees [`LinkError::Closed`]. A responder that refuses the
/// initiator's key or timestamp also hangs up without a word, which likewise
/// gives [`LinkError::Closed`].
pub async fn initiate<S>(
    mut stream: S,
    local: &StaticSecret,
    remote_public: &[u8; 32],
    timestamp_ns: u64,
) -> Result<Session<S>, LinkError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut hs = builder(local)?
        .remote_public_key(remote_public)
        .and_then(Builder::build_initiator)
        .map_err(|_| LinkError::Crypto)?;
    let mut scratch = Scratch::new();
    scratch
        .send(&mut hs, &mut stream, &timestamp_ns.to_be_bytes())
        .await?;
    if !scratch.recv(&mut hs, &mut stream).await?.is_empty() {
        return Err(LinkError::Malformed("handshake reply carries a payload"));
    }
    Session::establish(stream, hs)
}

/// Runs the responder's side of the handshake: reads message 1, asks `decide`
/// about the initiator's (authenticated) static key, checks that its
/// timestamp increased, and answers with message 2.
///
/// Returns the session, the initiator's static public key and the timestamp
/// it sent; the caller should record that timestamp as the new
/// `last_timestamp` for the key. On any error the stream is dropped, and for
/// an unpinned key or a replay nothing has been written to it.
pub async fn respond<S, F>(
    mut stream: S,
    local: &StaticSecret,
    decide: F,
) -> Result<(Session<S>, [u8; 32], u64), LinkError>
where
    S: AsyncRead + AsyncWrite + Unpin,
    F: FnOnce(&[u8; 32]) -> PeerDecision,
{
    let mut hs = builder(local)?
        .build_responder()
        .map_err(|_| LinkError::Crypto)?;
    let mut scratch = Scratch::new();
    let payload = scratch.recv(&mut hs, &mut stream).await?;
    // Message 1 decrypted, so the initiator proved it holds this key's secret.
    let initiator: [u8; 32] = hs
        .get_remote_static()
        .and_then(|key| key.try_into().ok())
        .ok_or(LinkError::Crypto)?;
    // Pinning is decided before the payload is parsed so every unpinned caller raises the same alert.
    let last = match decide(&initiator) {
        PeerDecision::Pinned { last_timestamp } => last_timestamp,
        PeerDecision::Unknown => return Err(LinkError::UnpinnedKey(initiator)),
    };
    let timestamp: [u8; TIMESTAMP_LEN] = payload
        .try_into()
        .map_err(|_| LinkError::Malformed("handshake timestamp is not 8 bytes"))?;
    let timestamp = u64::from_be_bytes(timestamp);
    if timestamp <= last {
        return Err(LinkError::Replay {
            last,
            got: timestamp,
        });
    }
    scratch.send(&mut hs, &mut stream, &[]).await?;
    let session = Session::establish(stream, hs)?;
    Ok((session, initiator, timestamp))
}
