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
use hotline_proto::{Hash, Identity, Keyring};

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
    pub fn rotate(&mut self, keys: &Keyring, by: &str, now: u64) -> Result<Step, Refusal> {
        if self.book().state().phase == Phase::Terminated {
            return Ok(Step::default());
        }
        self.writable()?;
        let mut step = Step::default();
        // One step per key the station went through since this chain's.
        while let Some(v) = self.book().rotate(keys, by, now)? {
            self.commit_own(&mut step, v, now);
        }
        if !step.writes.is_empty() {
            step.after.push(Effect::Wake {
                peer: self.peer_id(),
            });
        }
        Ok(step)
    }

    /// This station's key in this channel now, and the key the peer's
    /// latest checkpoint shows it holding for us (the key our chain was at
    /// after the last own entry that checkpoint covers).
    pub fn own_keys(&self) -> (Identity, Identity) {
        let book = self.book();
        let me = book.me();
        (
            book.signer(me),
            book.signer_after(me, self.delivered_upto()),
        )
    }

    /// Whether this station's chain here is behind its current keys and can
    /// still be rotated.
    pub fn rotation_due(&self, current: &Identity) -> bool {
        let book = self.book();
        book.state().phase != Phase::Terminated && book.signer(book.me()) != *current
    }
}

/// Our newest key the peer is known to pin, given our channels with it:
/// per channel, the key our chain was at after the last of our entries a
/// checkpoint of the peer's covers (the peer moves its pin in the same
/// commit as it stores our `KeyRotation`, before it checkpoints). `None`
/// without any channel to tell.
///
/// `channels` gives, per channel with the peer, [`Channel::own_keys`]
/// (gathered one channel at a time by a shell that locks each).
pub fn key_peer_holds(
    ring: &Keyring,
    channels: impl IntoIterator<Item = (Identity, Identity)>,
) -> Option<Identity> {
    let mut known: Option<Identity> = None;
    for (_, held) in channels {
        let newer = known
            .and_then(|k| ring.position(&k))
            .is_none_or(|k| ring.position(&held).is_some_and(|h| h > k));
        if newer && ring.position(&held).is_some() {
            known = Some(held);
        }
    }
    known
}

/// Whether a new channel may be proposed to the peer now: its `Open` names
/// our current key, which the peer must already pin, or it refuses the
/// proposal. A proposal signed by a key we rotated away from is never
/// made: a retired key writes nothing new.
///
/// A station that never rotated may always propose. One that did needs a
/// checkpoint of the peer's over its current key on some channel (a
/// channel the peer opened to the current key counts: the `Open` names it).
pub fn may_propose(
    ring: &Keyring,
    channels: impl IntoIterator<Item = (Identity, Identity)>,
) -> Result<(), super::OpenRefusal> {
    let current = ring.identity();
    if ring.identities().len() == 1 || key_peer_holds(ring, channels) == Some(current) {
        Ok(())
    } else {
        Err(super::OpenRefusal::PeerKeyBehind)
    }
}

/// What a counterpart's `KeyRotation` from `old` (the key its chain in
/// the channel is at) to `new` does to its pin: moves it from the current
/// pin to `new` (`Some((pin, new))`), finds it moved there already by the
/// same step on another channel (`None`), or contradicts the keys the
/// counterpart rotated through (an error: the batch is refused).
///
/// Every chain goes through its station's keys one step at a time, in the
/// order the station made them ([`ChannelBook::rotate`]), so the keys known
/// here for a peer are always a prefix of its sequence: a step to a key not
/// seen yet starts from the pin, and a step between two known keys joins
/// neighbours.
///
/// [`ChannelBook::rotate`]: crate::book::ChannelBook::rotate
pub fn pin_change(
    peer: &Peer,
    old: Identity,
    new: Identity,
) -> Result<Option<(Identity, Identity)>, Reject> {
    let known: Vec<Identity> = peer.keys().copied().collect();
    let pos = |id: &Identity| known.iter().position(|k| k == id);
    match (pos(&old), pos(&new)) {
        (Some(o), None) if o + 1 == known.len() => Ok(Some((old, new))),
        (Some(o), Some(n)) if n == o + 1 => Ok(None),
        _ => Err(Reject::BadRotation(
            "it is not the next step from a key this counterpart rotated through",
        )),
    }
}

/// The writes and effects of a counterpart's pin moving.
pub(super) fn pin_moved(step: &mut Step, m: PinMove) {
    step.writes.push(Durable::PeerRotated(m.clone()));
    step.after.push(Effect::PeerRotated(m));
}
