//! The simulated network: the link messages stations send each other, which
//! the world may deliver in any order, duplicate, drop, or hold back behind a
//! partition.

use hotline_proto::LinkMsg;

/// What travels between stations: the real link messages.
pub(crate) type Msg = LinkMsg;

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
    pub msg: Msg,
    /// The sender's outbound session that carries `Entries`, or the session an
    /// `Error` answers: an `Error` closes only its own session.
    pub epoch: u64,
    /// Sent by the simulator on purpose to a station outside the channel
    /// (isolation faults): the receiver must reject it and store nothing.
    pub foreign: bool,
}

/// A short description of a message for the trace.
pub(crate) fn describe(m: &Msg, epoch: u64) -> String {
    match m {
        Msg::Entries { channel, envelopes } => format!(
            "entries[{}] ch {} s{epoch}",
            envelopes.len(),
            crate::short(channel)
        ),
        Msg::Checkpoint { .. } => "checkpoint".into(),
        Msg::Error { text, .. } => format!("error s{epoch}: {text}"),
        other => format!("{other:?}"),
    }
}
