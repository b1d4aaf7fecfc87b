//! The station machine: every decision a station takes about a channel or a
//! peer, as a sans-I/O state machine (SPEC §1 principle 2, v2).
//!
//! A call takes values in (envelope bytes, `now`, the peer as pinned here) and
//! returns a [`Step`]: the durable writes to commit, in order, then the
//! effects to perform only once that commit has returned. The machine reads
//! no clock, does no I/O and draws no randomness, so the daemon
//! (`hotline-station`) and the deterministic simulator (`hotline-sim`) drive
//! the very same code: the daemon commits through its group-commit writer and
//! performs effects on sockets and subscribers; the simulator commits into a
//! queue it can crash and performs effects on a network it can break. The
//! shape follows boringtun's `Tunn` (bytes in, a result to act on out) and
//! TigerBeetle's VOPR (the real replica, with storage, network and time
//! injected).
//!
//! In-memory state is changed as the call decides (the entry is applied to the
//! book before its commit), exactly as the station's single writer orders it:
//! the next decision sees this one, and a crash throws both away together.

mod alerts;
mod channel;
mod outbound;
mod receive;
mod recover;
mod rotate;
mod share;

pub use alerts::{
    bad_input, is_policy_key, key_replaced, link_check, unpinned_key_key, unverified_traffic_key,
    Strangers, KEY_REPLACED, STRANGER_NOTE_EVERY_MS, UNPINNED_KEY,
};
pub use channel::{Channel, ExportPlan, OpenRefusal, RestoreError, POLICY_ROUNDS};
pub use outbound::{hello, Outbound, BATCH_BYTES, BATCH_ENTRIES, WINDOW};
pub use receive::{
    open_checkpoint, receive_proposal, reject, CheckpointFault, Fault, OpenedCheckpoint,
    PENDING_PROPOSALS,
};
pub use recover::{Recovery, OWN_CHAIN_BEHIND};
pub use rotate::{key_peer_holds, may_propose, pin_change, PinMove};
pub use share::{disposition, guard, Disposition, Partner, Report, Withheld};

use crate::book::VerifiedEntry;
use crate::policy::AlertKind;
use hotline_proto::{Hash, Identity, Kind, LinkMsg};

/// The shell's handle of a pinned peer (its storage row id): the machine
/// only carries it through to the writes and effects that name the peer.
pub type PeerId = i64;

/// A pinned peer as the machine needs it: who it is and whether its
/// fingerprint was confirmed out of band (SPEC §2: unverified peers carry only
/// ROUTINE traffic).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Peer {
    /// The shell's handle for the peer.
    pub id: PeerId,
    /// The local name, used in alert keys and sentences.
    pub name: String,
    /// The pinned identity: entries and checkpoints must verify under it.
    pub identity: Identity,
    /// Whether an operator confirmed the fingerprint.
    pub verified: bool,
    /// Earlier pins of the same counterpart, whose keys this one replaced
    /// outside rotation (`peer repin`): a channel with one of them may be
    /// reopened with this one.
    pub earlier: Vec<PeerId>,
    /// The keys the counterpart rotated away from, oldest first (SPEC §4
    /// v2): each was followed by the next, and the last by `identity`.
    pub retired: Vec<Identity>,
}

impl Peer {
    /// Every key of the counterpart's, oldest first; the last is the pin.
    pub fn keys(&self) -> impl DoubleEndedIterator<Item = &Identity> {
        self.retired.iter().chain(std::iter::once(&self.identity))
    }
}

/// A write the shell must make durable before performing any effect of the
/// same step. Committed in order, in one transaction with whatever else is
/// queued (group commit).
// Each value is moved once, from the machine to the writer: boxing the entry
// would only add an allocation per entry on the hot path.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
pub enum Durable {
    /// A new channel row, before its first entry.
    Channel {
        /// SHA-256 of its `Open` envelope.
        id: Hash,
        /// The peer it is with.
        peer: PeerId,
        /// This station's author index in it.
        me: u8,
        /// This station's clock.
        created_at: u64,
    },
    /// A verified entry, ours or the peer's.
    Entry {
        /// Only the machine's validation or signing builds one.
        entry: VerifiedEntry,
        /// This station's clock: acknowledgement clocks start here.
        stored_at: u64,
    },
    /// The latest checkpoint of one signer, replacing the previous one.
    Checkpoint {
        /// The channel it covers.
        channel: Hash,
        /// Author index of the signer.
        signer: u8,
        /// Signed checkpoint bytes.
        envelope: Vec<u8>,
        /// This station's clock.
        stored_at: u64,
    },
    /// Equivocation evidence: the conflicting envelope; the store keeps it
    /// beside the stored twin it already holds at (channel, author, seq).
    Evidence {
        /// Where the equivocation happened.
        channel: Hash,
        /// The equivocating author.
        author: u8,
        /// The seq both envelopes claim.
        seq: u64,
        /// The second, conflicting envelope.
        conflicting: Vec<u8>,
        /// This station's clock.
        at: u64,
    },
    /// Raise an alert unless one with the same channel and key is open.
    RaiseAlert {
        /// What kind of trouble, as the API and hook name it.
        kind: AlertKind,
        /// Channel, if the alert belongs to one.
        channel: Option<Hash>,
        /// Identifies the cause; the alert clears when the cause does.
        key: String,
        /// A sentence for the operator.
        cause: String,
        /// This station's clock.
        at: u64,
    },
    /// Replace the cause of the open alert with this channel and key, if any;
    /// announces nothing (the alert was announced when it opened).
    NoteAlert {
        /// Channel, if the alert belongs to one.
        channel: Option<Hash>,
        /// The key it was raised with.
        key: String,
        /// The sentence brought up to date.
        cause: String,
    },
    /// Clear the open alert with this channel and key, if any.
    ClearAlert {
        /// Channel, if the alert belongs to one.
        channel: Option<Hash>,
        /// The key it was raised with.
        key: String,
        /// This station's clock.
        at: u64,
    },
    /// A channel restored from a backup heard from its peer what it holds
    /// of this station's chain: it is no longer marked restored.
    Confirmed {
        /// The channel.
        channel: Hash,
    },
    /// A report published here (SPEC §7).
    Report(Box<Report>),
    /// What became of a report for a partner (replaces the earlier one).
    Disposition {
        /// The report's id.
        report: Hash,
        /// The partner.
        peer: PeerId,
        /// [`Disposition::word`].
        disposition: &'static str,
        /// The entry that carried it, when released.
        entry: Option<Hash>,
        /// This station's clock.
        at: u64,
    },
    /// The counterpart rotated its keys: its pin moves to the new ones.
    PeerRotated(PinMove),
    /// A start-up snapshot of a channel's book (docs/DECISIONS.md,
    /// "Start-up snapshots"): the shell seals it with its key
    /// ([`crate::book::BookSnapshot::seal`]) before it is written.
    Snapshot(Box<crate::book::BookSnapshot>),
    /// Sharing with a partner paused or resumed.
    Sharing {
        /// The partner.
        peer: PeerId,
        /// Paused (true) or resumed.
        paused: bool,
        /// Who.
        by: String,
        /// Why (pausing).
        reason: String,
        /// This station's clock.
        at: u64,
    },
}

/// Something the shell does only after the step's writes are committed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// An entry is durable: report it accepted (own entries), publish it, count it.
    Committed {
        /// The channel, for subscribers.
        channel: Hash,
        /// Index of its [`Durable::Entry`] in the step's writes (for the commit cursor).
        write: usize,
        /// The entry's identity, as the API names it.
        hash: Hash,
        /// Whose chain it extends.
        author: u8,
        /// Its place in that chain: what a simulator checks is durable.
        seq: u64,
        /// For metrics by kind, and whether the state may have changed.
        kind: Kind,
        /// Whether this station wrote it.
        own: bool,
    },
    /// A channel exists here from now on (proposed by us or by the peer).
    ChannelCreated {
        /// The new channel, for subscribers.
        channel: Hash,
    },
    /// The channel's state may have changed (an entry that changes state committed).
    StateChanged {
        /// The channel whose views must be refreshed.
        channel: Hash,
    },
    /// An alert write committed: announce it if the store says it opened or
    /// closed one (a raise of an already open key changes nothing).
    Alert {
        /// Index of the [`Durable::RaiseAlert`] or [`Durable::ClearAlert`] in the step's writes.
        write: usize,
    },
    /// Answer on the link the input came on.
    Reply(LinkMsg),
    /// Close the link the input came on, after any reply.
    Close,
    /// The peer's checkpoint proves delivery of our entries up to `upto`.
    Delivered {
        /// The channel the proof is for.
        channel: Hash,
        /// Highest own seq now covered.
        upto: u64,
        /// Per newly covered entry, ms from our commit to the proof.
        latencies: Vec<u64>,
    },
    /// The sender to this peer has something new to carry (or room to carry it).
    Wake {
        /// Whose sender to wake.
        peer: PeerId,
    },
    /// An oversight export can be written: its fresh checkpoint is durable.
    Export(ExportPlan),
    /// The counterpart's new pin is durable: use it from now on.
    PeerRotated(PinMove),
}

/// What one machine call decided.
#[derive(Debug, Default)]
#[must_use = "a step's writes must be committed and then its effects performed"]
pub struct Step {
    /// Writes to commit, in order, before any effect.
    pub writes: Vec<Durable>,
    /// Effects to perform, in order, after the commit.
    pub after: Vec<Effect>,
    /// Why the call stopped short, if it did (input rejected, policy refused).
    pub fault: Option<Fault>,
    /// The writes may be committed without waiting for the disk: they only
    /// record what the peer signed (its checkpoint), nothing this station
    /// tells anyone depends on them, and a crash that loses them loses
    /// nothing the next session does not bring back. The next commit that
    /// waits for the disk makes them durable too (docs/DECISIONS.md, "The
    /// peer's checkpoint is stored without its own flush").
    pub relaxed: bool,
}

impl Step {
    /// Adds a write; returns its index for effects that refer to it.
    fn write(&mut self, d: Durable) -> usize {
        self.writes.push(d);
        self.writes.len() - 1
    }

    /// Adds an alert write together with the effect announcing it.
    fn alert(&mut self, d: Durable) {
        let write = self.write(d);
        self.after.push(Effect::Alert { write });
    }

    /// Appends another step: its writes after ours, its effects after ours
    /// (write indices shifted), its fault if we have none.
    pub fn extend(&mut self, other: Step) {
        let base = self.writes.len();
        self.writes.extend(other.writes);
        self.after.extend(other.after.into_iter().map(|mut e| {
            if let Effect::Committed { write, .. } | Effect::Alert { write } = &mut e {
                *write += base;
            }
            e
        }));
        self.relaxed = self.relaxed && other.relaxed;
        if self.fault.is_none() {
            self.fault = other.fault;
        }
    }

    /// Whether there is nothing to commit and nothing to do.
    pub fn is_empty(&self) -> bool {
        self.writes.is_empty() && self.after.is_empty() && self.fault.is_none()
    }

    /// The entries this step writes, in order.
    pub fn entries(&self) -> impl Iterator<Item = &VerifiedEntry> {
        self.writes.iter().filter_map(|d| match d {
            Durable::Entry { entry, .. } => Some(entry),
            _ => None,
        })
    }
}
