//! Alerts about a peer rather than a channel's policy: invalid input, a link
//! that stays down, a key that is not pinned. Each is raised once per cause
//! (its key) and cleared when the cause goes (SPEC §6).

use super::receive::on_channel;
use super::{Durable, Effect, Peer, Step};
use crate::policy::AlertKind;
use hotline_proto::{hex, Hash, LinkMsg};

/// Key prefixes of the alerts the policy engine raises and clears itself; a
/// restored channel takes these back from storage (SPEC §6).
const POLICY_KEYS: [&str; 4] = [
    "contact-missed",
    "ack-overdue:",
    "peer-ack-overdue:",
    "deadline-missed:",
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

/// A handshake from a key that is not pinned here (SPEC §3).
pub fn unpinned_key(dh_pk: &[u8; 32], from: &str, now: u64) -> Step {
    let mut step = Step::default();
    step.alert(Durable::RaiseAlert {
        kind: AlertKind::UnpinnedKey,
        channel: None,
        key: unpinned_key_key(dh_pk),
        cause: format!(
            "a station whose key is not pinned here tried to connect from {from} (X25519 key {})",
            hex(dh_pk)
        ),
        at: now,
    });
    step
}

/// The key of the unpinned-key alert of an X25519 key; pinning it clears the alert.
pub fn unpinned_key_key(dh_pk: &[u8; 32]) -> String {
    format!("unpinned-key:{}", hex(dh_pk))
}
