//! The Noise IKpsk2 handshake with a hybrid post-quantum key (SPEC §3):
//! the initiator knows the responder's key and sends its own, encrypted,
//! with its clock, its leader epoch, a fresh ML-KEM-768 encapsulation key
//! and the generation of the stored pre-shared key it offers; the responder
//! accepts only pinned keys whose clock moved forward and whose epoch did
//! not fall, encapsulates to the KEM key, and both set the Noise `psk2` key
//! from the KEM secret and the stored key ([`crate::hybrid`]). A station
//! alone sends epoch 0; one on a shared database grows it on every takeover,
//! so a leader that lost its lease cannot speak again.
//!
//! Wire (each a length-prefixed frame, see the crate documentation):
//!
//! * message 1: [`WIRE_VERSION`] · Noise message 1 whose payload is
//!   clock (8) · epoch (8) · PSK generation (8) · ML-KEM key (1184);
//! * message 2: [`WIRE_VERSION`] · ML-KEM ciphertext (1088) · Noise message
//!   2 whose payload is the responder's epoch (8) · clock (8). The ciphertext travels in
//!   front of the Noise message because the initiator needs it to set the
//!   `psk2` key before it can read that message; it is bound into the key
//!   through the HKDF `info`, so a changed ciphertext fails the handshake;
//! * a responder that speaks another version answers with its version byte
//!   alone, so each end can say which versions met.

use snow::params::NoiseParams;
use snow::{Builder, HandshakeState};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use zeroize::{Zeroize, Zeroizing};

use crate::frame::{write_prefixed, FrameReader, PREFIX_LEN};
use crate::hybrid::{self, KemPair, PskChain, KEM_CIPHERTEXT_LEN, KEM_PUBLIC_LEN};
use crate::session::Session;
use crate::{LinkError, StaticSecret, EPOCH_LEN, PATTERN, PROLOGUE, TIMESTAMP_LEN, WIRE_VERSION};

/// Bytes of the PSK generation in message 1, a u64.
const GEN_LEN: usize = 8;
/// Message 1's payload: clock, epoch, generation, KEM key.
const HELLO_LEN: usize = TIMESTAMP_LEN + EPOCH_LEN + GEN_LEN + KEM_PUBLIC_LEN;
/// The Noise `psk2` token's slot.
const PSK_SLOT: usize = 2;
/// Message 1 on the wire: version, ephemeral key 32, encrypted static key
/// 32 + 16, encrypted payload + 16.
pub(crate) const MSG1_LEN: usize = 1 + 32 + 48 + HELLO_LEN + 16;
/// Message 2 on the wire: version, ciphertext, ephemeral key 32, encrypted epoch 8 + 16.
pub(crate) const MSG2_LEN: usize = 1 + KEM_CIPHERTEXT_LEN + 32 + REPLY_LEN + 16;
/// Message 2's payload: the responder's epoch and clock.
const REPLY_LEN: usize = EPOCH_LEN + TIMESTAMP_LEN;
/// Message 1 of link version 2 (before the hybrid handshake): IK with a
/// 16-byte payload, no version byte.
const V2_MSG1_LEN: usize = 112;
// A message of link version 2 is told by its length alone.
const _: () = assert!(MSG1_LEN != V2_MSG1_LEN && MSG2_LEN != V2_MSG1_LEN);

/// What the responder's caller decides about an initiator's static key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PeerDecision {
    /// The key is pinned; a handshake must carry a timestamp above this one.
    Pinned {
        /// The timestamp of the last handshake accepted from this key (0 if none).
        last_timestamp: u64,
        /// The highest leader epoch accepted from this key (0 if none).
        min_epoch: u64,
        /// The stored keys of handshakes this key initiates.
        psk: PskChain,
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

/// The longest handshake message accepted; the fixed, small size bounds
/// what an unauthenticated connection can make us allocate.
const MAX_HANDSHAKE_MESSAGE: usize = MSG1_LEN;

/// Buffers for the two handshake messages.
struct Scratch {
    /// Reads the incoming message.
    frames: FrameReader,
    /// Outgoing message behind room for its length prefix.
    out: Vec<u8>,
    /// Decrypted payload of the incoming message.
    payload: Vec<u8>,
}

impl Scratch {
    fn new() -> Self {
        Scratch {
            frames: FrameReader::new(MAX_HANDSHAKE_MESSAGE),
            out: vec![0u8; PREFIX_LEN + MAX_HANDSHAKE_MESSAGE],
            payload: vec![0u8; MAX_HANDSHAKE_MESSAGE],
        }
    }

    /// Writes `front` (version byte, and the ciphertext in message 2) and
    /// then `payload` encrypted as the next handshake message, and flushes.
    async fn send<S>(
        &mut self,
        hs: &mut HandshakeState,
        stream: &mut S,
        front: &[&[u8]],
        payload: &[u8],
    ) -> Result<(), LinkError>
    where
        S: AsyncWrite + Unpin,
    {
        let mut at = PREFIX_LEN;
        for part in front {
            self.out[at..at + part.len()].copy_from_slice(part);
            at += part.len();
        }
        let n = hs
            .write_message(payload, &mut self.out[at..])
            .map_err(|_| LinkError::Crypto)?;
        write_prefixed(stream, &mut self.out, at - PREFIX_LEN + n).await?;
        stream.flush().await?;
        Ok(())
    }
}

/// Reads the next handshake message whole and checks its version byte;
/// returns what follows it.
async fn recv_raw<'f, S>(frames: &'f mut FrameReader, stream: &mut S) -> Result<&'f [u8], LinkError>
where
    S: AsyncRead + Unpin,
{
    let message = frames.read(stream, false).await?;
    let other = |theirs| LinkError::Version {
        ours: WIRE_VERSION,
        theirs,
    };
    match message {
        // Link version 2 sent IK message 1 bare: 112 bytes, the first of
        // them its random ephemeral key's, which may be any value, this
        // version's byte included. No message of this version is that long.
        _ if message.len() == V2_MSG1_LEN => Err(other(2)),
        [WIRE_VERSION, rest @ ..] if !rest.is_empty() => Ok(rest),
        [v, ..] => Err(other(*v)),
        [] => Err(LinkError::Malformed("an empty handshake message")),
    }
}

/// Decrypts `message` as the next handshake message into `payload`.
fn read_noise<'p>(
    hs: &mut HandshakeState,
    message: &[u8],
    payload: &'p mut [u8],
) -> Result<&'p [u8], LinkError> {
    let n = hs
        .read_message(message, payload)
        .map_err(|_| LinkError::Crypto)?;
    Ok(&payload[..n])
}

/// Runs the initiator's side of the handshake at epoch 0 (a station alone)
/// with a fresh chain of stored keys; see [`initiate_with`].
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

/// [`initiate_with`] at `epoch` with a fresh chain of stored keys; returns
/// the session and the responder's epoch.
pub async fn initiate_at<S>(
    stream: S,
    local: &StaticSecret,
    remote_public: &[u8; 32],
    timestamp_ns: u64,
    epoch: u64,
) -> Result<(Session<S>, u64), LinkError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let offer = Offer {
        timestamp_ns,
        epoch,
        psk: &PskChain::initial(None),
        use_prev: false,
    };
    initiate_with(stream, local, remote_public, offer)
        .await
        .map(|i| (i.session, i.epoch))
}

/// What an initiator sends besides its keys.
#[derive(Debug, Clone, Copy)]
pub struct Offer<'a> {
    /// This station's clock, Unix nanoseconds; must rise per responder.
    pub timestamp_ns: u64,
    /// This station's leader epoch (0 for a station alone).
    pub epoch: u64,
    /// The stored keys of the handshakes this station initiates to the peer.
    pub psk: &'a PskChain,
    /// Offer the generation before the newest: after a handshake that
    /// failed once message 1 was out (the peer may not have moved on).
    pub use_prev: bool,
}

/// An initiator's finished handshake.
pub struct Initiated<S> {
    /// The established session.
    pub session: Session<S>,
    /// The responder's leader epoch, for the caller to check.
    pub epoch: u64,
    /// The responder's clock as it answered, Unix ns (0 from
    /// [`respond_at`]): against ours, how far apart the two clocks are.
    pub peer_clock_ns: u64,
    /// The chain after this handshake: the caller stores it before using
    /// the session.
    pub psk: PskChain,
}

/// Runs the initiator's side of the handshake: sends message 1 with the
/// clock, epoch, offered generation and a fresh ML-KEM key, reads message 2,
/// and returns the established session with the responder's epoch and the
/// advanced chain.
///
/// `remote_public` is the responder's pinned key; if the responder holds a
/// different one, the responder fails with [`LinkError::Crypto`] and hangs up,
/// so this side sees [`LinkError::Closed`]. A responder that refuses the
/// initiator's key, timestamp, epoch or generation also hangs up without a
/// word, which likewise gives [`LinkError::Closed`]; a stored key that
/// differs from the responder's gives [`LinkError::Crypto`].
pub async fn initiate_with<S>(
    stream: S,
    local: &StaticSecret,
    remote_public: &[u8; 32],
    offer: Offer<'_>,
) -> Result<Initiated<S>, LinkError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let b = builder(local)?
        .remote_public_key(remote_public)
        .map_err(|_| LinkError::Crypto)?;
    let hs = b.build_initiator().map_err(|_| LinkError::Crypto)?;
    initiate_inner(stream, hs, offer, KemPair::generate()).await
}

/// The initiator's side with its Noise state and KEM key pair given (tests
/// fix both to replay a handshake).
pub(crate) async fn initiate_inner<S>(
    mut stream: S,
    mut hs: HandshakeState,
    offer: Offer<'_>,
    kem: KemPair,
) -> Result<Initiated<S>, LinkError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let gen = offer.psk.offer(offer.use_prev);
    let stored = Zeroizing::new(
        *offer
            .psk
            .key_of(gen)
            .expect("the offered generation is one the chain holds"),
    );
    let mut scratch = Scratch::new();
    let mut hello = [0u8; HELLO_LEN];
    let (ts, rest) = hello.split_at_mut(TIMESTAMP_LEN);
    let (ep, rest) = rest.split_at_mut(EPOCH_LEN);
    let (g, ek) = rest.split_at_mut(GEN_LEN);
    ts.copy_from_slice(&offer.timestamp_ns.to_be_bytes());
    ep.copy_from_slice(&offer.epoch.to_be_bytes());
    g.copy_from_slice(&gen.to_be_bytes());
    ek.copy_from_slice(kem.public());
    scratch
        .send(&mut hs, &mut stream, &[&[WIRE_VERSION]], &hello)
        .await?;
    let h1 = hs.get_handshake_hash().to_vec();
    let reply = recv_raw(&mut scratch.frames, &mut stream).await?;
    if reply.len() != MSG2_LEN - 1 {
        return Err(LinkError::Malformed(
            "the handshake reply has the wrong length (the peer speaks another link version)",
        ));
    }
    let (ct, noise) = reply.split_at(KEM_CIPHERTEXT_LEN);
    let ct: &[u8; KEM_CIPHERTEXT_LEN] = ct.try_into().map_err(|_| LinkError::Crypto)?;
    let mut ss = kem.decapsulate(ct);
    let mut psk = hybrid::psk2(&stored, &ss, &h1, ct);
    let set = hs.set_psk(PSK_SLOT, &psk);
    psk.zeroize();
    set.map_err(|_| LinkError::Crypto)?;
    let their = read_noise(&mut hs, noise, &mut scratch.payload)?;
    let their: [u8; REPLY_LEN] = their.try_into().map_err(|_| {
        LinkError::Malformed(
            "handshake reply is not an epoch and a clock (the peer speaks another link version)",
        )
    })?;
    let (ep, clock) = their.split_at(EPOCH_LEN);
    let be = |b: &[u8]| {
        let mut x = [0u8; 8];
        x.copy_from_slice(b);
        u64::from_be_bytes(x)
    };
    let next = hybrid::ratchet(&stored, &ss, hs.get_handshake_hash());
    ss.zeroize();
    Ok(Initiated {
        session: Session::establish(stream, hs)?,
        epoch: be(ep),
        peer_clock_ns: be(clock),
        psk: PskChain::advanced(gen, &stored, next),
    })
}

/// Runs the responder's side of the handshake at epoch 0 (a station alone);
/// see [`respond_with`].
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

/// [`respond_with`] returning the session, the initiator's key, its clock
/// and its epoch.
pub async fn respond_at<S, F>(
    stream: S,
    local: &StaticSecret,
    epoch: u64,
    decide: F,
) -> Result<(Session<S>, [u8; 32], u64, u64), LinkError>
where
    S: AsyncRead + AsyncWrite + Unpin,
    F: FnOnce(&[u8; 32]) -> PeerDecision,
{
    respond_with(stream, local, epoch, 0, decide)
        .await
        .map(|r| (r.session, r.initiator, r.timestamp, r.epoch))
}

/// A responder's finished handshake.
pub struct Responded<S> {
    /// The established session.
    pub session: Session<S>,
    /// The initiator's static public key, authenticated.
    pub initiator: [u8; 32],
    /// The clock it sent: the caller records it as the new `last_timestamp`.
    pub timestamp: u64,
    /// The epoch it sent: the caller records it as the new `min_epoch`.
    pub epoch: u64,
    /// The initiator's chain after this handshake: the caller stores it
    /// before using the session.
    pub psk: PskChain,
    /// Which of the local keys the initiator dialled (index into the
    /// slice given to [`respond_keys`]; 0 for [`respond_with`]).
    pub local: usize,
}

/// Runs the responder's side of the handshake: reads message 1, asks `decide`
/// about the initiator's (authenticated) static key, checks that its
/// timestamp increased, that its epoch did not fall and that it offers a
/// generation the chain holds, encapsulates to its ML-KEM key and answers
/// with message 2 carrying this station's `epoch` and its clock
/// `timestamp_ns` (Unix ns; the initiator learns how far apart the clocks are).
///
/// On any error the stream is dropped; for an unpinned key, a replay, a
/// stale epoch or an unknown generation nothing has been written to it. An
/// initiator of another link version is answered with this side's version
/// byte alone.
pub async fn respond_with<S, F>(
    stream: S,
    local: &StaticSecret,
    epoch: u64,
    timestamp_ns: u64,
    decide: F,
) -> Result<Responded<S>, LinkError>
where
    S: AsyncRead + AsyncWrite + Unpin,
    F: FnOnce(&[u8; 32]) -> PeerDecision,
{
    respond_keys(stream, &[local], epoch, timestamp_ns, |pk, _| decide(pk)).await
}

/// [`respond_with`] for a station that holds several static keys (its
/// current one first, then keys it rotated away from, which a counterpart
/// that has not yet stored the rotation still dials): message 1 is tried
/// under each in turn, and `decide` learns which one it was addressed to.
/// A message that none of them opens is a handshake failure, as with one.
pub async fn respond_keys<S, F>(
    mut stream: S,
    locals: &[&StaticSecret],
    epoch: u64,
    timestamp_ns: u64,
    decide: F,
) -> Result<Responded<S>, LinkError>
where
    S: AsyncRead + AsyncWrite + Unpin,
    F: FnOnce(&[u8; 32], usize) -> PeerDecision,
{
    let mut scratch = Scratch::new();
    let message = match recv_raw(&mut scratch.frames, &mut stream).await {
        Err(e @ LinkError::Version { .. }) => {
            let mut refusal = [0u8; PREFIX_LEN + 1];
            refusal[PREFIX_LEN] = WIRE_VERSION;
            if write_prefixed(&mut stream, &mut refusal, 1).await.is_ok() {
                let _ = stream.flush().await;
            }
            return Err(e);
        }
        r => r?,
    };
    if message.len() != MSG1_LEN - 1 {
        return Err(LinkError::Malformed(
            "the first handshake message has the wrong length (the peer speaks another link version)",
        ));
    }
    // Each try is one X25519 operation on a message of fixed, small size.
    let mut opened = None;
    for (i, local) in locals.iter().enumerate() {
        let mut hs = builder(local)?
            .build_responder()
            .map_err(|_| LinkError::Crypto)?;
        if let Ok(n) = hs.read_message(message, &mut scratch.payload) {
            opened = Some((i, hs, n));
            break;
        }
    }
    let (local, mut hs, n) = opened.ok_or(LinkError::Crypto)?;
    let payload = &scratch.payload[..n];
    let hello: [u8; HELLO_LEN] = payload.try_into().map_err(|_| {
        LinkError::Malformed(
            "the handshake payload is not a clock, epoch, generation and KEM key (the peer speaks another link version)",
        )
    })?;
    // Message 1 decrypted, so the initiator proved it holds this key's secret.
    let initiator: [u8; 32] = hs
        .get_remote_static()
        .and_then(|key| key.try_into().ok())
        .ok_or(LinkError::Crypto)?;
    // Pinning is decided before the payload is looked at so every unpinned caller raises the same alert.
    let (last, min_epoch, chain) = match decide(&initiator, local) {
        PeerDecision::Pinned {
            last_timestamp,
            min_epoch,
            psk,
        } => (last_timestamp, min_epoch, psk),
        PeerDecision::Unknown => return Err(LinkError::UnpinnedKey(initiator)),
    };
    let u64_at = |at: usize| {
        let mut b = [0u8; 8];
        b.copy_from_slice(&hello[at..at + 8]);
        u64::from_be_bytes(b)
    };
    let timestamp = u64_at(0);
    let their_epoch = u64_at(TIMESTAMP_LEN);
    let gen = u64_at(TIMESTAMP_LEN + EPOCH_LEN);
    let ek: &[u8; KEM_PUBLIC_LEN] = hello[TIMESTAMP_LEN + EPOCH_LEN + GEN_LEN..]
        .try_into()
        .map_err(|_| LinkError::Crypto)?;
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
    let stored = Zeroizing::new(*chain.key_of(gen).ok_or(LinkError::PskGeneration {
        held: chain.gen,
        got: gen,
    })?);
    let h1 = hs.get_handshake_hash().to_vec();
    let (ct, mut ss) = hybrid::encapsulate(ek)?;
    let mut psk = hybrid::psk2(&stored, &ss, &h1, &ct);
    let set = hs.set_psk(PSK_SLOT, &psk);
    psk.zeroize();
    set.map_err(|_| LinkError::Crypto)?;
    let mut reply = [0u8; REPLY_LEN];
    reply[..EPOCH_LEN].copy_from_slice(&epoch.to_be_bytes());
    reply[EPOCH_LEN..].copy_from_slice(&timestamp_ns.to_be_bytes());
    scratch
        .send(&mut hs, &mut stream, &[&[WIRE_VERSION], &ct], &reply)
        .await?;
    let next = hybrid::ratchet(&stored, &ss, hs.get_handshake_hash());
    ss.zeroize();
    Ok(Responded {
        session: Session::establish(stream, hs)?,
        initiator,
        timestamp,
        epoch: their_epoch,
        psk: PskChain::advanced(gen, &stored, next),
        local,
    })
}
