//! Alerts about a peer rather than a channel's policy: invalid input, a link
//! that stays down, a key that is not pinned. Each is raised once per cause
//! (its key) and cleared when the cause goes (SPEC §6).

use super::receive::on_channel;
use super::{Durable, Effect, Peer, Step};
use crate::policy::AlertKind;
use hotline_proto::{hex, Hash, LinkMsg};

/// Key prefixes of the alerts the policy engine raises and clears itself; a
/// restored channel takes these back from storage (SPEC §6).
const POLICY_KEYS: [&str; 5] = [
    "contact-missed",
    "ack-overdue:",
    "peer-ack-overdue:",
    "deadline-missed:",
    "undelivered:",
];

/// Whether the policy engine owns an alert key.
pub fn is_policy_key(key: &str) -> bool {
    POLICY_KEYS.iter().any(|p| key.starts_with(p))
}

/// One open `bad-input` alert per peer, whatever the channel: it clears when
/// that peer's input is valid again.
pub(super) fn bad_input_key(peer: &str) -> String {
    format!("bad-input:{peer}")
}

/// Raises `bad-input` about a peer; with `reply`, answers the link with an
/// `Error` of that code carrying `what`; the link then closes.
pub fn bad_input(
    peer: &Peer,
    channel: Option<Hash>,
    what: &str,
    reply: Option<u64>,
    now: u64,
) -> Step {
    let mut step = Step::default();
    step.alert(Durable::RaiseAlert {
        kind: AlertKind::BadInput,
        channel: None,
        key: bad_input_key(&peer.name),
        cause: format!(
            "{} sent invalid input{}, rejected and not stored: {what}",
            peer.name,
            on_channel(channel)
        ),
        at: now,
    });
    if let Some(code) = reply {
        step.after.push(Effect::Reply(LinkMsg::Error {
            code,
            text: what.to_owned(),
        }));
    }
    step.after.push(Effect::Close);
    step
}

/// The key of the one `unverified-peer-traffic` alert of a peer; verifying
/// the peer's fingerprint clears it.
pub fn unverified_traffic_key(peer: &str) -> String {
    format!("unverified-peer-traffic:{peer}")
}

/// Traffic above ROUTINE from a peer that is not verified here was stored
/// and held (SPEC §2): the operator must verify the fingerprint to see it as
/// verified traffic and start its acknowledgement clocks.
pub(super) fn unverified_traffic(peer: &Peer, channel: Hash, now: u64) -> Durable {
    Durable::RaiseAlert {
        kind: AlertKind::UnverifiedPeerTraffic,
        channel: None,
        key: unverified_traffic_key(&peer.name),
        cause: format!(
            "{} sent traffic above ROUTINE{} before its fingerprint was verified here; \
             it is stored and held (no acknowledgement clock): confirm the fingerprint \
             out of band (peer verify) to take it as verified traffic",
            peer.name,
            on_channel(Some(channel))
        ),
        at: now,
    }
}

/// The once-a-second link check of one peer: `link-down` opens when the link
/// has been down past `threshold_ms` while a channel with the peer is live,
/// and clears when it is up again or nothing is live. `open` says whether the
/// alert is open now; `since` is when the link last went up or down.
#[allow(clippy::too_many_arguments)]
pub fn link_check(
    peer: &Peer,
    open: bool,
    up: bool,
    since: u64,
    live: bool,
    threshold_ms: u64,
    now: u64,
) -> Step {
    let key = format!("link-down:{}", peer.name);
    let mut step = Step::default();
    if !up && live && now.saturating_sub(since) > threshold_ms {
        if !open {
            step.alert(Durable::RaiseAlert {
                kind: AlertKind::LinkDown,
                channel: None,
                key,
                cause: format!(
                    "the link to {} has been down for {:.1} s",
                    peer.name,
                    (now - since) as f64 / 1000.0
                ),
                at: now,
            });
        }
    } else if open && (up || !live) {
        // Down but not yet past the threshold (just restarted, or a flap) is
        // not a cause gone: the alert stays open.
        step.alert(Durable::ClearAlert {
            channel: None,
            key,
            at: now,
        });
    }
    step
}

/// The key of the one alert about handshakes from keys not pinned here: one
/// for all strangers, so that a flood of fresh keys writes nothing per key.
pub const UNPINNED_KEY: &str = "unpinned-key";

/// The cause of the `unpinned-key` alert is brought up to date (count, last
/// source) at most this often while it stays open.
pub const STRANGER_NOTE_EVERY_MS: u64 = 60_000;

/// What the station remembers, in memory only, of handshakes from keys not
/// pinned here since the `unpinned-key` alert was last raised.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Strangers {
    /// Whether the `unpinned-key` alert is open (taken from storage at start).
    pub open: bool,
    /// Handshakes from unpinned keys since the alert was raised.
    pub count: u64,
    /// The last such key and where it came from.
    pub last: Option<([u8; 32], String)>,
    /// When the alert's cause was last written.
    pub noted_at: u64,
}

impl Strangers {
    /// A handshake from a key that is not pinned here (SPEC §3): the first
    /// raises the alert (once, for every stranger); later ones are counted in
    /// memory, and the alert's cause is brought up to date at most once a
    /// minute. A flood of fresh keys thus writes at most one row a minute.
    pub fn knock(&mut self, dh_pk: &[u8; 32], from: &str, now: u64) -> Step {
        let mut step = Step::default();
        self.count += 1;
        self.last = Some((*dh_pk, from.to_owned()));
        if !self.open {
            self.open = true;
            self.count = 1;
            self.noted_at = now;
            step.alert(Durable::RaiseAlert {
                kind: AlertKind::UnpinnedKey,
                channel: None,
                key: UNPINNED_KEY.to_owned(),
                cause: self.cause(),
                at: now,
            });
        } else if now.saturating_sub(self.noted_at) >= STRANGER_NOTE_EVERY_MS {
            self.noted_at = now;
            step.writes.push(Durable::NoteAlert {
                channel: None,
                key: UNPINNED_KEY.to_owned(),
                cause: self.cause(),
            });
        }
        step
    }

    /// A key was pinned: when it is the last stranger that knocked (or, after
    /// a restart, when which one knocked last is no longer known), the
    /// alert's cause is gone and it clears; otherwise others still knock and
    /// it stays open.
    pub fn pinned(&mut self, dh_pk: &[u8; 32], now: u64) -> Step {
        let mut step = Step::default();
        if self.open && self.last.as_ref().is_none_or(|(k, _)| k == dh_pk) {
            *self = Strangers::default();
            step.alert(Durable::ClearAlert {
                channel: None,
                key: UNPINNED_KEY.to_owned(),
                at: now,
            });
        }
        step
    }

    fn cause(&self) -> String {
        let (key, from) = self.last.clone().unwrap_or_default();
        let last = format!("from {from} (X25519 key {})", hex(&key));
        if self.count <= 1 {
            format!("a station whose key is not pinned here tried to connect {last}")
        } else {
            format!(
                "{} handshakes from keys not pinned here since this alert was raised; the last {last}",
                self.count
            )
        }
    }
}

/// The key of the per-key unpinned-key alert that earlier versions raised;
/// pinning the key still clears such an alert left open in storage.
pub fn unpinned_key_key(dh_pk: &[u8; 32]) -> String {
    format!("unpinned-key:{}", hex(dh_pk))
}

/// The key of the note a channel keeps when its counterpart's key was
/// replaced outside rotation.
pub const KEY_REPLACED: &str = "peer-key-replaced";

/// The counterpart's key was replaced here outside rotation (`peer repin`):
/// each of `channels` (those not terminated) is bound by its `Open` to the
/// old key, so it carries nothing more, and notes so in an alert that says
/// what to do. `old` and `new` are the two fingerprints, for the record.
pub fn key_replaced(peer: &str, old: &str, new: &str, channels: &[Hash], now: u64) -> Step {
    let mut step = Step::default();
    for id in channels {
        step.alert(Durable::RaiseAlert {
            kind: AlertKind::PeerKeyReplaced,
            channel: Some(*id),
            key: KEY_REPLACED.to_owned(),
            cause: format!(
                "the key pinned for {peer} was replaced outside rotation (fingerprint {old} \
                 replaced by {new}); this channel is bound to the old key and carries nothing \
                 more: verify the new fingerprint out of band, then open a channel that reopens \
                 this one ({})",
                hex(id)
            ),
            at: now,
        });
    }
    step
}
