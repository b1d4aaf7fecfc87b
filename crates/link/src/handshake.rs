//! The Noise IK handshake (SPEC §3): the initiator knows the responder's key
//! and sends its own, encrypted, with its clock; the responder accepts only
//! pinned keys whose clock moved forward. Each side also tells its leader
//! epoch (a station on a shared database grows it on every takeover; a
//! station alone sends 0), and each refuses an epoch lower than the last it
//! accepted from that key: a leader that lost its lease cannot speak again.

use snow::params::NoiseParams;
use snow::{Builder, HandshakeState};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};

use crate::frame::{write_prefixed, FrameReader, PREFIX_LEN};
use crate::session::Session;
use crate::{LinkError, StaticSecret, EPOCH_LEN, PATTERN, PROLOGUE, TIMESTAMP_LEN};

/// What the responder's caller decides about an initiator's static key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PeerDecision {
    /// The key is pinned; a handshake must carry a timestamp above this one.
    Pinned {
        /// The timestamp of the last handshake accepted from this key (0 if none).
        last_timestamp: u64,
        /// The highest leader epoch accepted from this key (0 if none).
        min_epoch: u64,
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

/// The longest handshake message accepted: message 1 is exactly 112 bytes
/// (ephemeral key 32, encrypted static key 32 + 16, encrypted timestamp and
/// epoch 16 + 16) and message 2 exactly 56 (ephemeral key 32, encrypted
/// epoch 8 + 16), so a small bound keeps an unauthenticated connection cheap.
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

/// Runs the initiator's side of the handshake at epoch 0 (a station alone);
/// see [`initiate_at`].
pub async fn initiate<S>(
    stream: S,
    local: &StaticSecret,
    remote_public: &[u8; 32],
    timestamp_ns: u64,
) -> Result<Session<S>, LinkError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    initiate_at(stream, local, remote_public, timestamp_ns, 0)
        .await
        .map(|(s, _)| s)
}

/// Runs the initiator's side of the handshake: sends message 1 with
/// `timestamp_ns` and this station's leader `epoch`, reads message 2, and
/// returns the established session with the responder's epoch (which the
/// caller checks against the last it accepted from that key).
///
/// `remote_public` is the responder's pinned key; if the responder holds a
/// different one, the responder fails with [`LinkError::Crypto`] and hangs up,
/// so this side sees [`LinkError::Closed`]. A responder that refuses the
/// initiator's key, timestamp or epoch also hangs up without a word, which
/// likewise gives [`LinkError::Closed`].
pub async fn initiate_at<S>(
    mut stream: S,
    local: &StaticSecret,
    remote_public: &[u8; 32],
    timestamp_ns: u64,
    epoch: u64,
) -> Result<(Session<S>, u64), LinkError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut hs = builder(local)?
        .remote_public_key(remote_public)
        .and_then(Builder::build_initiator)
        .map_err(|_| LinkError::Crypto)?;
    let mut scratch = Scratch::new();
    let mut hello = [0u8; TIMESTAMP_LEN + EPOCH_LEN];
    hello[..TIMESTAMP_LEN].copy_from_slice(&timestamp_ns.to_be_bytes());
    hello[TIMESTAMP_LEN..].copy_from_slice(&epoch.to_be_bytes());
    scratch.send(&mut hs, &mut stream, &hello).await?;
    let reply = scratch.recv(&mut hs, &mut stream).await?;
    let their: [u8; EPOCH_LEN] = reply.try_into().map_err(|_| {
        LinkError::Malformed(
            "handshake reply is not an 8-byte epoch (the peer speaks another link version)",
        )
    })?;
    Ok((Session::establish(stream, hs)?, u64::from_be_bytes(their)))
}

/// Runs the responder's side of the handshake at epoch 0 (a station alone);
/// see [`respond_at`].
pub async fn respond<S, F>(
    stream: S,
    local: &StaticSecret,
    decide: F,
) -> Result<(Session<S>, [u8; 32], u64), LinkError>
where
    S: AsyncRead + AsyncWrite + Unpin,
    F: FnOnce(&[u8; 32]) -> PeerDecision,
{
    respond_at(stream, local, 0, decide)
        .await
        .map(|(s, k, t, _)| (s, k, t))
}

/// Runs the responder's side of the handshake: reads message 1, asks `decide`
/// about the initiator's (authenticated) static key, checks that its
/// timestamp increased and that its epoch did not fall, and answers with
/// message 2 carrying this station's `epoch`.
///
/// Returns the session, the initiator's static public key, the timestamp
/// and the epoch it sent; the caller should record both as the new
/// `last_timestamp` and `min_epoch` for the key. On any error the stream is
/// dropped, and for an unpinned key, a replay or a stale epoch nothing has
/// been written to it.
pub async fn respond_at<S, F>(
    mut stream: S,
    local: &StaticSecret,
    epoch: u64,
    decide: F,
) -> Result<(Session<S>, [u8; 32], u64, u64), LinkError>
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
    let (last, min_epoch) = match decide(&initiator) {
        PeerDecision::Pinned {
            last_timestamp,
            min_epoch,
        } => (last_timestamp, min_epoch),
        PeerDecision::Unknown => return Err(LinkError::UnpinnedKey(initiator)),
    };
    let hello: [u8; TIMESTAMP_LEN + EPOCH_LEN] = payload.try_into().map_err(|_| {
        LinkError::Malformed(
            "handshake payload is not a 16-byte clock and epoch (the peer speaks another link version)",
        )
    })?;
    let (ts, ep) = hello.split_at(TIMESTAMP_LEN);
    let timestamp = u64::from_be_bytes(ts.try_into().map_err(|_| LinkError::Crypto)?);
    let their_epoch = u64::from_be_bytes(ep.try_into().map_err(|_| LinkError::Crypto)?);
    if timestamp <= last {
        return Err(LinkError::Replay {
            last,
            got: timestamp,
        });
    }
    if their_epoch < min_epoch {
        return Err(LinkError::StaleEpoch {
            seen: min_epoch,
            got: their_epoch,
        });
    }
    scratch
        .send(&mut hs, &mut stream, &epoch.to_be_bytes())
        .await?;
    let session = Session::establish(stream, hs)?;
    Ok((session, initiator, timestamp, their_epoch))
}
