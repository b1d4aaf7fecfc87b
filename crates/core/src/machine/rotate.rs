//! Key rotation in the station machine (SPEC §4 v2).
//!
//! This station rotates by authoring a `KeyRotation` on each channel whose
//! chain is not yet at its current keys ([`Channel::rotate`]); the shell
//! calls it for every channel when the keys change and again at start-up,
//! so a rotation that a crash interrupted is finished, never half done.
//!
//! A counterpart's `KeyRotation` re-pins it here ([`pin_change`]): the
//! signed entry is the only way a pinned key changes short of an operator's
//! `peer repin`. The counterpart writes one on each of its channels with
//! this station, in any order; the first to arrive moves the pin, the
//! others must name the same step of the same key sequence.

use super::{Channel, Durable, Effect, Peer, PeerId, Step};
use crate::book::{Refusal, Reject};
use crate::state::Phase;
use hotline_proto::{Hash, Identity, Signers};

/// A counterpart's key rotation, for the shell to make its new pin durable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PinMove {
    /// The peer.
    pub peer: PeerId,
    /// The key it rotated from: the pin it replaces.
    pub old: Identity,
    /// The key it rotated to: the new pin.
    pub new: Identity,
    /// The channel whose entry carried it first.
    pub channel: Hash,
    /// That `KeyRotation` entry.
    pub entry: Hash,
    /// This station's clock.
    pub at: u64,
}

impl Channel {
    /// Writes this station's `KeyRotation` here if the chain is not at the
    /// current keys yet; an empty step if it is, or if the channel ended
    /// (an ended channel's chain keeps its keys: nothing more is signed in
    /// it but checkpoints, which the keys it is at still sign).
    pub fn rotate(&mut self, keys: &impl Signers, by: &str, now: u64) -> Result<Step, Refusal> {
        if self.book().state().phase == Phase::Terminated {
            return Ok(Step::default());
        }
        self.writable()?;
        let mut step = Step::default();
        if let Some(v) = self.book().rotate(keys, by, now)? {
            self.commit_own(&mut step, v, now);
            step.after.push(Effect::Wake {
                peer: self.peer_id(),
            });
        }
        Ok(step)
    }

    /// Whether this station's chain here is behind its current keys and can
    /// still be rotated.
    pub fn rotation_due(&self, current: &Identity) -> bool {
        let book = self.book();
        book.state().phase != Phase::Terminated && book.signer(book.me()) != *current
    }
}

/// What a counterpart's `KeyRotation` from `old` to `new` does to its pin:
/// moves it (`Some`), finds it moved already by the same rotation on
/// another channel (`None`), or contradicts the keys the counterpart
/// rotated through (an error: the batch is refused).
pub fn pin_change(
    peer: &Peer,
    old: Identity,
    new: Identity,
) -> Result<Option<(Identity, Identity)>, Reject> {
    let known: Vec<Identity> = peer
        .retired
        .iter()
        .copied()
        .chain(std::iter::once(peer.identity))
        .collect();
    let pos = |id: &Identity| known.iter().position(|k| k == id);
    match (pos(&old), pos(&new)) {
        (Some(o), None) if o + 1 == known.len() => Ok(Some((old, new))),
        (Some(o), Some(n)) if n == o + 1 => Ok(None),
        _ => Err(Reject::BadRotation(
            "it disagrees with the keys this counterpart rotated through on its other channels",
        )),
    }
}

/// The writes and effects of a counterpart's pin moving.
pub(super) fn pin_moved(step: &mut Step, m: PinMove) {
    step.writes.push(Durable::PeerRotated(m.clone()));
    step.after.push(Effect::PeerRotated(m));
}
