//! Link messages (SPEC §3), carried inside the Noise transport.
//!
//! CBOR map: key 0 is the message type, keys 1.. its fields:
//! `Hello{version, heads}`, `Entries{channel, [envelope]}`, `Checkpoint{envelope}`,
//! `Ping{n}`, `Pong{n}`, `Error{code, text}`, `LogNote{channel, note}`.

use crate::cbor::{self, reader::Reader};
use crate::error::ProtoError;
use crate::Hash;
use ciborium::Value;

/// The link protocol version spoken by this code.
pub const LINK_VERSION: u64 = 2;

/// Most envelopes in one `Entries` message: a sender packs no more
/// (`hotline_core::machine::BATCH_ENTRIES` is this number) and the decoder
/// refuses a larger count before allocating for it.
pub const MAX_ENVELOPES: usize = 1024;

/// The fewest bytes one `ChannelHeads` takes on the wire: array header (1),
/// channel (2 + 32), and two `[seq, hash]` heads of 1 + 1 + 34 each. A `Hello`
/// announcing more heads than its remaining bytes can hold is refused before
/// any is allocated, so its memory stays about the size of its input.
const HEADS_MIN_BYTES: usize = 1 + 34 + 2 * (1 + 1 + 34);

/// The largest checkpoint note a `LogNote` carries: the checkpoint text
/// (under 200 bytes) and its signature lines, a few dozen at most.
pub const MAX_LOG_NOTE: usize = 16 * 1024;

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
    /// A checkpoint of one author's log in a channel as a C2SP signed note
    /// (SPEC §5 v2): the author sends its own, signed and with the
    /// cosignatures it has collected; the counterpart sends it back with
    /// its own cosignature added once it has checked the root.
    LogNote {
        /// The channel.
        channel: Hash,
        /// The note bytes (at most [`MAX_LOG_NOTE`]).
        note: Vec<u8>,
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
            LinkMsg::Entries { channel, envelopes } => return entries_bytes(channel, envelopes),
            LinkMsg::Checkpoint { envelope } => vec![uint(2), bytes(envelope)],
            LinkMsg::Ping { n } => vec![uint(3), uint(*n)],
            LinkMsg::Pong { n } => vec![uint(4), uint(*n)],
            LinkMsg::Error { code, text } => vec![uint(5), uint(*code), cbor::text(text)],
            LinkMsg::LogNote { channel, note } => vec![uint(6), bytes(channel), bytes(note)],
        };
        cbor::to_bytes(&cbor::imap(v))
    }

    /// `Entries` through the value tree, as every other message: what
    /// [`entries_bytes`] must equal.
    #[cfg(test)]
    fn entries_tree_bytes(channel: &Hash, envelopes: &[Vec<u8>]) -> Vec<u8> {
        use cbor::{bytes, uint};
        cbor::to_bytes(&cbor::imap(vec![
            uint(1),
            bytes(channel),
            Value::Array(envelopes.iter().map(|e| bytes(e)).collect()),
        ]))
    }

    /// Decodes a link message from a peer; the caller has already bounded
    /// `bytes` (the link's reassembly limit).
    ///
    /// Typed and bounded, never through a generic CBOR tree: each header's
    /// count or length is checked before anything is allocated for it (at
    /// most [`MAX_ENVELOPES`] envelopes, each at most
    /// [`MAX_ENTRY_BYTES_CAP`](crate::MAX_ENTRY_BYTES_CAP) bytes; no more
    /// heads than the input can hold). Accepts exactly the bytes
    /// [`LinkMsg::to_bytes`] writes: keys 0, 1, 2 in order, each once, with
    /// the types above, definite lengths, shortest integers, nothing after.
    pub fn from_bytes(bytes: &[u8]) -> Result<LinkMsg, ProtoError> {
        const W: &str = "link message";
        let cap = usize::try_from(crate::MAX_ENTRY_BYTES_CAP).unwrap_or(usize::MAX);
        let mut r = Reader::new(bytes, W);
        let len = r.map()?;
        r.key(0)?;
        let ty = r.uint()?;
        let want = match ty {
            0 | 1 | 5 | 6 => 3,
            2..=4 => 2,
            _ => return Err(ProtoError::Shape("unknown link message type")),
        };
        if len != want {
            return Err(ProtoError::Shape(W));
        }
        r.key(1)?;
        let msg = match ty {
            0 => {
                let version = r.uint()?;
                r.key(2)?;
                let n = r.array("channel heads", usize::MAX, HEADS_MIN_BYTES)?;
                let mut heads = Vec::with_capacity(n);
                for _ in 0..n {
                    r.tuple(3)?;
                    let channel = r.hash()?;
                    let mut of_authors = [(0, crate::ZERO_HASH); 2];
                    for head in &mut of_authors {
                        r.tuple(2)?;
                        *head = (r.uint()?, r.hash()?);
                    }
                    heads.push(ChannelHeads {
                        channel,
                        heads: of_authors,
                    });
                }
                LinkMsg::Hello { version, heads }
            }
            1 => {
                let channel = r.hash()?;
                r.key(2)?;
                // Each envelope takes at least its one-byte header.
                let n = r.array("envelopes", MAX_ENVELOPES, 1)?;
                let mut envelopes = Vec::with_capacity(n);
                for _ in 0..n {
                    envelopes.push(r.bytes(cap)?.to_vec());
                }
                LinkMsg::Entries { channel, envelopes }
            }
            2 => LinkMsg::Checkpoint {
                envelope: r.bytes(cap)?.to_vec(),
            },
            3 => LinkMsg::Ping { n: r.uint()? },
            4 => LinkMsg::Pong { n: r.uint()? },
            6 => {
                let channel = r.hash()?;
                r.key(2)?;
                LinkMsg::LogNote {
                    channel,
                    note: r.bytes(MAX_LOG_NOTE)?.to_vec(),
                }
            }
            _ => {
                let code = r.uint()?;
                r.key(2)?;
                LinkMsg::Error {
                    code,
                    text: r.text()?.to_owned(),
                }
            }
        };
        r.finish()?;
        Ok(msg)
    }
}

/// `Entries` written straight to bytes, the hot path's message: the
/// encoding the value tree gives (shortest heads, definite lengths; a test
/// compares the two), without copying each envelope into a tree first and
/// with the buffer sized once.
fn entries_bytes(channel: &Hash, envelopes: &[Vec<u8>]) -> Vec<u8> {
    use ciborium_ll::{Encoder, Header};
    // A head is at most 9 bytes; the map, its keys and the channel's head fit in 16.
    let size = 16 + channel.len() + envelopes.iter().map(|e| 9 + e.len()).sum::<usize>();
    let mut out = Vec::with_capacity(size);
    let mut enc = Encoder::from(&mut out);
    let written: Result<(), std::io::Error> = (|| {
        enc.push(Header::Map(Some(3)))?;
        enc.push(Header::Positive(0))?;
        enc.push(Header::Positive(1))?;
        enc.push(Header::Positive(1))?;
        enc.bytes(channel, None)?;
        enc.push(Header::Positive(2))?;
        enc.push(Header::Array(Some(envelopes.len())))?;
        for e in envelopes {
            enc.bytes(e, None)?;
        }
        Ok(())
    })();
    written.expect("writing CBOR to a Vec cannot fail");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The hot path's direct encoding is byte for byte the value tree's,
    /// across the sizes where CBOR heads change length.
    #[test]
    fn entries_written_directly_equal_the_value_tree() {
        for n in [0usize, 1, 23, 24, 255, 256, 1024] {
            for len in [0usize, 1, 23, 24, 255, 256, 65_535, 65_536] {
                if n * len > 4 << 20 {
                    continue;
                }
                let channel = [n as u8; 32];
                let envelopes: Vec<Vec<u8>> = (0..n).map(|i| vec![i as u8; len]).collect();
                let direct = LinkMsg::Entries {
                    channel,
                    envelopes: envelopes.clone(),
                }
                .to_bytes();
                assert_eq!(
                    direct,
                    LinkMsg::entries_tree_bytes(&channel, &envelopes),
                    "{n} envelopes of {len} bytes"
                );
                assert_eq!(
                    LinkMsg::from_bytes(&direct).unwrap(),
                    LinkMsg::Entries { channel, envelopes }
                );
            }
        }
    }
}
