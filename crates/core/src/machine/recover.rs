//! Taking back this station's own chain after a restore from a backup
//! (SPEC v2, operations): the peer holds every entry of ours it received, so
//! a station restored from an older copy learns from the peer's `Hello` how
//! far its own chain really went, takes the rest back from the peer, and
//! writes nothing on the channel until then: a sequence number once sent is
//! never written twice.
//!
//! The sending side of the same procedure, the merged-order resend, is
//! [`super::Outbound`]'s.

use super::{Channel, Durable, Step};
use crate::book::Refusal;
use crate::policy::AlertKind;
use hotline_proto::Hash;

/// The key of the alert a channel raises while the peer holds more of this
/// station's own chain than it does.
pub const OWN_CHAIN_BEHIND: &str = "own-chain-behind";

/// Where a channel stands in taking back its own chain.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Recovery {
    /// Restored from a backup; the peer has not yet said what it holds.
    pub unconfirmed: bool,
    /// Marked restored in storage, until the channel is confirmed caught
    /// up: a restart while taking back starts over from the peer's `Hello`.
    pub restored: bool,
    /// The peer holds this station's own chain to this seq, beyond what is
    /// held here; 0 when it does not.
    pub behind: u64,
}

impl Channel {
    /// Marks a channel restored from a backup: nothing is written on it
    /// until the peer's `Hello` says what it holds of this station's chain.
    pub fn mark_restored(&mut self) {
        self.recovery.unconfirmed = true;
        self.recovery.restored = true;
    }

    /// Where the channel stands in taking back its own chain.
    pub fn recovery(&self) -> Recovery {
        self.recovery
    }

    /// Whether this station may write on the channel now: not while it may
    /// be behind its own chain as the peer holds it.
    pub fn writable(&self) -> Result<(), Refusal> {
        if self.recovery.unconfirmed {
            return Err(Refusal::Unconfirmed);
        }
        let held = self.book().len(self.book().me());
        if self.recovery.behind > held {
            return Err(Refusal::Behind {
                held,
                peer_holds: self.recovery.behind,
            });
        }
        Ok(())
    }

    /// Whether entries of this station's own are expected from the peer.
    pub(super) fn taking_back(&self) -> bool {
        self.recovery.behind > self.book().len(self.book().me())
    }

    /// The peer's `Hello` named this channel with `theirs` heads (`None`:
    /// it holds nothing of it). If it holds more of our own chain than we
    /// do, writing waits until that is back; a restored channel is
    /// confirmed either way.
    pub fn hello(&mut self, theirs: Option<[(u64, Hash); 2]>, now: u64) -> Step {
        let mut step = Step::default();
        let me = self.book().me();
        let held = self.book().len(me);
        let peer_holds = theirs.map_or(0, |h| h[me as usize].0);
        if peer_holds > held && peer_holds > self.recovery.behind {
            let raise = self.recovery.behind <= held;
            self.recovery.behind = peer_holds;
            if raise {
                step.alert(Durable::RaiseAlert {
                    kind: AlertKind::OwnChainBehind,
                    channel: Some(self.id()),
                    key: OWN_CHAIN_BEHIND.into(),
                    cause: format!(
                        "this station holds its own entries of this channel to {held}, the peer \
                         to {peer_holds}: it was restored from an older backup. The peer sends \
                         the rest back; nothing is written here until then"
                    ),
                    at: now,
                });
            }
        }
        self.recovery.unconfirmed = false;
        self.confirm(&mut step);
        step
    }

    /// Clears the storage mark of a restored channel once nothing more of
    /// its own chain is owed to it.
    fn confirm(&mut self, step: &mut Step) {
        if self.recovery.restored && !self.taking_back() {
            self.recovery.restored = false;
            step.writes.push(Durable::Confirmed { channel: self.id() });
        }
    }

    /// After a batch was taken: if this station's own chain is back to what
    /// the peer holds, writing goes on and the alert clears.
    pub(super) fn took_back(&mut self, step: &mut Step, now: u64) {
        if self.recovery.behind > 0 && !self.taking_back() {
            self.recovery.behind = 0;
            step.alert(Durable::ClearAlert {
                channel: Some(self.id()),
                key: OWN_CHAIN_BEHIND.into(),
                at: now,
            });
            self.confirm(step);
        }
    }
}
