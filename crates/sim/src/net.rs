//! The simulated network: packets between stations that the world may
//! deliver in any order, duplicate, drop, or hold back behind a partition.

use hotline_proto::Hash;

/// What travels between stations: the link messages the receive path handles.
#[derive(Debug, Clone)]
pub(crate) enum Payload {
    /// `LinkMsg::Entries`, tagged with the sender's session so an `Error` can close it.
    Entries {
        /// The channel the batch claims to belong to.
        channel: Hash,
        /// Envelope bytes, in the author's order.
        envelopes: Vec<Vec<u8>>,
        /// The sender's outbound session that carried it.
        epoch: u64,
    },
    /// `LinkMsg::Checkpoint`: the receiver's signed statement of its heads.
    Checkpoint {
        /// Checkpoint envelope bytes.
        bytes: Vec<u8>,
    },
    /// `LinkMsg::Error`: the receiver rejected a batch and closes that session.
    Error {
        /// The session the rejected batch came on.
        epoch: u64,
        /// The receiver's sentence, kept for the trace.
        text: String,
    },
}

impl Payload {
    /// A short description for the trace.
    pub(crate) fn describe(&self) -> String {
        match self {
            Payload::Entries {
                channel,
                envelopes,
                epoch,
            } => format!(
                "entries[{}] ch {} s{epoch}",
                envelopes.len(),
                crate::short(channel)
            ),
            Payload::Checkpoint { .. } => "checkpoint".into(),
            Payload::Error { epoch, text } => format!("error s{epoch}: {text}"),
        }
    }
}

/// One message on the wire.
#[derive(Debug, Clone)]
pub(crate) struct Packet {
    /// Sending station.
    pub from: usize,
    /// Receiving station.
    pub to: usize,
    /// The receiver's incarnation when sent: a restarted process never reads
    /// what was addressed to its predecessor's connections.
    pub to_incarnation: u64,
    /// The message.
    pub payload: Payload,
    /// Sent by the simulator on purpose to a station outside the channel
    /// (isolation faults): the receiver must reject it and store nothing.
    pub foreign: bool,
}
