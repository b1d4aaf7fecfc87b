//! The policy engine (SPEC §6): regular contact, acknowledgement clocks and
//! decision deadlines, as a pure function of the book, the open alerts and now.
//!
//! The engine never remembers anything itself. Every fact it acts on is in the
//! transcript (which entries exist, which are acknowledged or answered, which
//! deadlines were already acted on) or in the set of open alerts, both of which
//! the station persists. So after a crash the same inputs give the same
//! answer, and an action that was committed is never produced again.

use crate::book::{deadline_reason, ChannelBook};
use crate::state::Phase;
use hotline_proto::{hex, Body, ContactSchedule, Hash, Kind, OnMiss};
use std::collections::BTreeSet;

const DAY_MS: u64 = 86_400_000;

/// The kinds of alert a station raises (the contract names them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum AlertKind {
    /// The counterpart has been silent past the contact grace.
    ContactMissed,
    /// A counterpart message is not acknowledged here within its window.
    AckOverdue,
    /// Our message is not acknowledged by the counterpart within its window.
    PeerAckOverdue,
    /// Our request's deadline passed with no decision.
    DeadlineMissed,
    /// The link to a peer is down.
    LinkDown,
    /// The counterpart sent something invalid.
    BadInput,
    /// A handshake from a key that is not pinned.
    UnpinnedKey,
    /// The counterpart signed two different entries with the same seq.
    Equivocation,
}

impl AlertKind {
    /// The kebab-case name used in the API and the CLI.
    pub fn name(self) -> &'static str {
        match self {
            AlertKind::ContactMissed => "contact-missed",
            AlertKind::AckOverdue => "ack-overdue",
            AlertKind::PeerAckOverdue => "peer-ack-overdue",
            AlertKind::DeadlineMissed => "deadline-missed",
            AlertKind::LinkDown => "link-down",
            AlertKind::BadInput => "bad-input",
            AlertKind::UnpinnedKey => "unpinned-key",
            AlertKind::Equivocation => "equivocation",
        }
    }

    /// Parses a name.
    pub fn parse(s: &str) -> Option<AlertKind> {
        use AlertKind::*;
        [
            ContactMissed,
            AckOverdue,
            PeerAckOverdue,
            DeadlineMissed,
            LinkDown,
            BadInput,
            UnpinnedKey,
            Equivocation,
        ]
        .into_iter()
        .find(|k| k.name() == s)
    }
}

/// What the policy asks the station to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Write an entry as the station itself.
    Author(Body),
    /// Raise an alert, unless one with the same key is open.
    Raise {
        /// Kind.
        kind: AlertKind,
        /// Identifies the cause within the channel; the alert clears when the cause does.
        key: String,
        /// A sentence for the operator.
        cause: String,
    },
    /// Clear the open alert with this key.
    Clear {
        /// The key given when it was raised.
        key: String,
    },
}

fn fmt_ms(ms: u64) -> String {
    if ms.is_multiple_of(3_600_000) {
        format!("{}h", ms / 3_600_000)
    } else if ms.is_multiple_of(60_000) {
        format!("{}m", ms / 60_000)
    } else if ms.is_multiple_of(1000) {
        format!("{}s", ms / 1000)
    } else {
        format!("{ms}ms")
    }
}

/// The contact interval the grace applies to: `contact_every`, or for fixed
/// times of day the longest gap between two consecutive times.
pub fn contact_interval(s: &ContactSchedule) -> u64 {
    match s {
        ContactSchedule::Every(ms) => *ms,
        ContactSchedule::At(mins) => {
            let mut gap = 0u64;
            for (i, m) in mins.iter().enumerate() {
                let next = mins.get(i + 1).copied().unwrap_or(mins[0] + 24 * 60);
                gap = gap.max((next - m) as u64 * 60_000);
            }
            gap.max(1)
        }
    }
}

/// Whether a contact check is due at `now` given the station's last own entry.
fn contact_due(s: &ContactSchedule, last_own: u64, now: u64) -> bool {
    match s {
        ContactSchedule::Every(ms) => now >= last_own.saturating_add(*ms),
        ContactSchedule::At(mins) => {
            let day = now - now % DAY_MS;
            let latest = mins
                .iter()
                .map(|m| {
                    let t = day + *m as u64 * 60_000;
                    if t > now {
                        t.saturating_sub(DAY_MS)
                    } else {
                        t
                    }
                })
                .max()
                .unwrap_or(0);
            last_own < latest
        }
    }
}

fn key_hash(key: &str, prefix: &str) -> Option<Hash> {
    let rest = key.strip_prefix(prefix)?;
    hotline_proto::parse_hash(rest.split(':').next()?).ok()
}

/// Evaluates the policy for one channel.
///
/// `open` holds the keys of this channel's open policy alerts. The result
/// lists the entries to author and the alerts to raise or clear; carrying them
/// out and then evaluating again yields nothing new.
pub fn evaluate(book: &ChannelBook, open: &BTreeSet<String>, now: u64) -> Vec<Action> {
    let mut out = Vec::new();
    let state = book.state();
    let me = book.me();
    let peer = book.peer();
    let clear = |out: &mut Vec<Action>, key: &str| {
        if open.contains(key) {
            out.push(Action::Clear {
                key: key.to_owned(),
            });
        }
    };
    let raise = |out: &mut Vec<Action>, kind: AlertKind, key: String, cause: String| {
        if !open.contains(&key) {
            out.push(Action::Raise { kind, key, cause });
        }
    };

    if state.phase != Phase::Active {
        // A proposal has no clocks yet; an ended channel has none any more.
        for k in open {
            out.push(Action::Clear { key: k.clone() });
        }
        return out;
    }
    let terms = book.terms();

    // Decision deadlines first: a Terminate makes every other clock moot.
    for (h, r) in &book.open_requests[me as usize] {
        if now < r.deadline || book.deadline_acted.contains(h) {
            continue;
        }
        raise(
            &mut out,
            AlertKind::DeadlineMissed,
            format!("deadline-missed:{}", hex(h)),
            format!(
                "request {} had no decision by its deadline; on-miss: {}",
                &hex(h)[..12],
                r.on_miss.name()
            ),
        );
        let body = match r.on_miss {
            OnMiss::Alert => None,
            OnMiss::Suspend => Some(Body::Suspend {
                reason: deadline_reason(h),
            }),
            OnMiss::Terminate => Some(Body::Terminate {
                reason: deadline_reason(h),
            }),
        };
        if let Some(body) = body {
            if state.check(me, body.kind()).is_ok() {
                out.push(Action::Author(body));
                // One state-changing action per evaluation: the next sees its effect.
                return out;
            }
        }
    }
    for k in open {
        if let Some(h) = key_hash(k, "deadline-missed:") {
            if book.decided.contains(&h) {
                out.push(Action::Clear { key: k.clone() });
            }
        }
    }

    // Regular contact.
    let interval = contact_interval(&terms.contact);
    let last_own = book.last_stored_at(me).unwrap_or(0);
    if contact_due(&terms.contact, last_own, now) && state.check(me, Kind::ContactCheck).is_ok() {
        out.push(Action::Author(Body::ContactCheck));
    }
    let threshold = interval.saturating_mul(terms.contact_grace_permille as u64) / 1000;
    let last_peer = book
        .last_stored_at(peer)
        .or(book.last_stored_at(me))
        .unwrap_or(now);
    if now.saturating_sub(last_peer) > threshold {
        raise(
            &mut out,
            AlertKind::ContactMissed,
            "contact-missed".into(),
            format!(
                "nothing from the counterpart for {} (contact every {} × grace {})",
                fmt_ms(now - last_peer),
                fmt_ms(interval),
                terms.contact_grace_permille as f64 / 1000.0
            ),
        );
    } else {
        clear(&mut out, "contact-missed");
    }

    // Acknowledgement clocks, both ways.
    for (h, u) in &book.unacked[peer as usize] {
        let w = terms.ack_window(u.precedence);
        let due = |part: u64| u.stored_at.saturating_add(part);
        for (pct, due) in [(50, due(w / 2)), (100, due(w))] {
            if now >= due {
                raise(
                    &mut out,
                    AlertKind::AckOverdue,
                    format!("ack-overdue:{}:{pct}", hex(h)),
                    format!(
                        "{} message {} not acknowledged here: {pct}% of its {} window",
                        u.precedence.name().to_uppercase(),
                        &hex(h)[..12],
                        fmt_ms(w)
                    ),
                );
            }
        }
    }
    for (h, u) in &book.unacked[me as usize] {
        let w = terms.ack_window(u.precedence);
        if now >= u.stored_at.saturating_add(w) {
            raise(
                &mut out,
                AlertKind::PeerAckOverdue,
                format!("peer-ack-overdue:{}", hex(h)),
                format!(
                    "our {} message {} not acknowledged by the counterpart within {}",
                    u.precedence.name().to_uppercase(),
                    &hex(h)[..12],
                    fmt_ms(w)
                ),
            );
        }
    }
    for k in open {
        let acked = |prefix: &str, author: u8| {
            key_hash(k, prefix).is_some_and(|h| !book.unacked[author as usize].contains_key(&h))
        };
        if acked("ack-overdue:", peer) || acked("peer-ack-overdue:", me) {
            out.push(Action::Clear { key: k.clone() });
        }
    }
    out
}
