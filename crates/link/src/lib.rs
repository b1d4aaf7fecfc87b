//! hotline's link layer: the Noise handshake between two stations and the
//! framing of link messages over any async byte stream (SPEC §3).
//!
//! The crate never opens sockets, reads clocks or touches storage: the caller
//! hands in a connected stream, its own clock reading and a function that
//! answers "is this key pinned, and when did it last connect?".
//!
//! Wire format, in order:
//!
//! * every Noise message, handshake messages included, travels as a u16
//!   big-endian length followed by that many bytes (never zero);
//! * the two handshake messages and their payloads are laid out in
//!   [`handshake`](crate::initiate_with): a version byte, Noise IKpsk2 with
//!   the initiator's clock, leader epoch, PSK generation and ML-KEM-768 key
//!   in message 1, the KEM ciphertext and the responder's epoch in message 2;
//! * after the handshake a link message is cut into transport frames whose
//!   plaintext is one flag byte ([`FLAG_MORE`] or [`FLAG_LAST`]) followed by
//!   at most [`MAX_CHUNK`] bytes of the message.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod courier;
mod error;
mod frame;
mod handshake;
pub mod hybrid;
mod keys;
mod session;

#[cfg(test)]
mod hybrid_tests;
#[cfg(test)]
mod tests;

pub use error::LinkError;
pub use handshake::{
    initiate, initiate_at, initiate_with, respond, respond_at, respond_keys, respond_with,
    Initiated, Offer, PeerDecision, Responded,
};
pub use hybrid::PskChain;
pub use keys::{generate_keypair, public_key, StaticSecret};
pub use session::{Receiver, Sender, Session};

/// The Noise protocol name; changing it makes this station unable to talk to
/// any station built before the change.
pub const PATTERN: &str = "Noise_IKpsk2_25519_AESGCM_SHA256";

/// Mixed into the handshake hash so a handshake meant for another protocol
/// (or another version of this one) cannot be replayed as a hotline one.
pub const PROLOGUE: &[u8] = b"hotline/1";

/// The first byte of each handshake message: the link's wire version. 3 is
/// the hybrid post-quantum handshake; 2 (IK with clock and epoch) sent no
/// version byte and is recognised by its message length.
pub const WIRE_VERSION: u8 = 3;

/// The largest Noise message (Noise spec §3), which is why length prefixes
/// are two bytes.
pub const MAX_NOISE_MESSAGE: usize = 65535;

/// Bytes the AES-GCM tag adds to every transport message.
pub const TAG_LEN: usize = 16;

/// The largest plaintext one transport frame can carry.
pub const MAX_FRAME_PLAINTEXT: usize = MAX_NOISE_MESSAGE - TAG_LEN;

/// The largest piece of a link message one frame carries, after its flag byte.
pub const MAX_CHUNK: usize = MAX_FRAME_PLAINTEXT - 1;

/// Flag byte of a frame that more fragments of the same link message follow.
pub const FLAG_MORE: u8 = 0x00;

/// Flag byte of the frame that ends a link message.
pub const FLAG_LAST: u8 = 0x01;

/// Length in bytes of the initiator's clock in message 1, a u64.
pub const TIMESTAMP_LEN: usize = 8;

/// Length in bytes of a leader epoch in either handshake message, a u64.
pub const EPOCH_LEN: usize = 8;
