//! Link messages (SPEC §3), carried inside the Noise transport.
//!
//! CBOR map: key 0 is the message type, keys 1.. its fields:
//! `Hello{version, heads}`, `Entries{channel, [envelope]}`, `Checkpoint{envelope}`,
//! `Ping{n}`, `Pong{n}`, `Error{code, text}`.

use crate::cbor::{self, Fields};
use crate::error::ProtoError;
use crate::Hash;
use ciborium::Value;

/// The link protocol version spoken by this code.
pub const LINK_VERSION: u64 = 1;

/// One channel's heads in a `Hello`: what the sender holds of each author.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelHeads {
    /// The channel.
    pub channel: Hash,
    /// `(seq, hash)` of the newest entry held of author 0 and of author 1.
    pub heads: [(u64, Hash); 2],
}

/// A message on an established link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkMsg {
    /// First message each way: version and, per shared channel, the heads held.
    Hello {
        /// Link protocol version.
        version: u64,
        /// Heads per channel.
        heads: Vec<ChannelHeads>,
    },
    /// Entries of one channel, as envelope bytes, in the author's order.
    Entries {
        /// The channel (zero for a batch holding only an `Open`).
        channel: Hash,
        /// Envelope bytes.
        envelopes: Vec<Vec<u8>>,
    },
    /// A signed checkpoint envelope.
    Checkpoint {
        /// Checkpoint envelope bytes.
        envelope: Vec<u8>,
    },
    /// Liveness probe.
    Ping {
        /// Echoed in the `Pong`.
        n: u64,
    },
    /// Answer to a `Ping`.
    Pong {
        /// The `Ping`'s number.
        n: u64,
    },
    /// The sender reports a fault and will close.
    Error {
        /// Machine-readable code.
        code: u64,
        /// Human-readable text.
        text: String,
    },
}

/// Error codes sent in `LinkMsg::Error`.
pub mod codes {
    /// An entry failed validation; the batch was rejected whole.
    pub const REJECTED: u64 = 1;
    /// A message could not be decoded.
    pub const MALFORMED: u64 = 2;
    /// The peer sends faster than allowed.
    pub const RATE: u64 = 3;
    /// Unsupported protocol version.
    pub const VERSION: u64 = 4;
}

impl LinkMsg {
    /// Encodes for the link.
    pub fn to_bytes(&self) -> Vec<u8> {
        use cbor::{bytes, uint};
        let v = match self {
            LinkMsg::Hello { version, heads } => vec![
                uint(0),
                uint(*version),
                Value::Array(
                    heads
                        .iter()
                        .map(|h| {
                            Value::Array(vec![
                                bytes(&h.channel),
                                cbor::head(h.heads[0].0, &h.heads[0].1),
                                cbor::head(h.heads[1].0, &h.heads[1].1),
                            ])
                        })
                        .collect(),
                ),
            ],
            LinkMsg::Entries { channel, envelopes } => vec![
                uint(1),
                bytes(channel),
                Value::Array(envelopes.iter().map(|e| bytes(e)).collect()),
            ],
            LinkMsg::Checkpoint { envelope } => vec![uint(2), bytes(envelope)],
            LinkMsg::Ping { n } => vec![uint(3), uint(*n)],
            LinkMsg::Pong { n } => vec![uint(4), uint(*n)],
            LinkMsg::Error { code, text } => vec![uint(5), uint(*code), cbor::text(text)],
        };
        cbor::to_bytes(&cbor::imap(v))
    }

    /// Decodes a link message; the caller has already bounded `bytes`.
    pub fn from_bytes(bytes: &[u8]) -> Result<LinkMsg, ProtoError> {
        const W: &str = "link message";
        let (mut f, len) = Fields::open_any(cbor::from_bytes(bytes)?, W)?;
        let ty = f.uint()?;
        let want = match ty {
            0..=2 | 5 => {
                if ty == 2 {
                    2
                } else {
                    3
                }
            }
            3 | 4 => 2,
            _ => return Err(ProtoError::Shape("unknown link message type")),
        };
        if len != want {
            return Err(ProtoError::Shape(W));
        }
        let msg = match ty {
            0 => {
                let version = f.uint()?;
                let heads = f
                    .array()?
                    .into_iter()
                    .map(|v| {
                        let mut a = cbor::as_array(v, W)?.into_iter();
                        match (a.next(), a.next(), a.next(), a.next()) {
                            (Some(c), Some(h0), Some(h1), None) => Ok(ChannelHeads {
                                channel: cbor::as_hash(c, W)?,
                                heads: [cbor::as_head(h0, W)?, cbor::as_head(h1, W)?],
                            }),
                            _ => Err(ProtoError::Shape(W)),
                        }
                    })
                    .collect::<Result<_, _>>()?;
                LinkMsg::Hello { version, heads }
            }
            1 => LinkMsg::Entries {
                channel: f.hash()?,
                envelopes: f
                    .array()?
                    .into_iter()
                    .map(|v| match v {
                        Value::Bytes(b) => Ok(b),
                        _ => Err(ProtoError::Shape(W)),
                    })
                    .collect::<Result<_, _>>()?,
            },
            2 => LinkMsg::Checkpoint {
                envelope: f.bytes()?,
            },
            3 => LinkMsg::Ping { n: f.uint()? },
            4 => LinkMsg::Pong { n: f.uint()? },
            _ => LinkMsg::Error {
                code: f.uint()?,
                text: f.text()?,
            },
        };
        f.done()?;
        Ok(msg)
    }
}
