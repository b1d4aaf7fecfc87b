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
use hotline_proto::{hex, Body, ContactSchedule, Hash, Kind, OnMiss, Precedence, Terms};
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
    /// Our message has not reached the counterpart's station within its
    /// acknowledgement window: the line, not a person, is holding it up.
    Undelivered,
    /// The counterpart sent traffic above ROUTINE before its fingerprint was
    /// verified here: stored and held, no acknowledgement clock, until verified.
    UnverifiedPeerTraffic,
    /// The counterpart's key was replaced here outside rotation (`peer
    /// repin`): a channel bound to the old key carries nothing more.
    PeerKeyReplaced,
    /// The peer holds more of this station's own chain than this station
    /// does (restored from an older backup): writing waits until it is back.
    OwnChainBehind,
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
            AlertKind::Undelivered => "undelivered",
            AlertKind::UnverifiedPeerTraffic => "unverified-peer-traffic",
            AlertKind::PeerKeyReplaced => "peer-key-replaced",
            AlertKind::OwnChainBehind => "own-chain-behind",
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
            Undelivered,
            UnverifiedPeerTraffic,
            PeerKeyReplaced,
            OwnChainBehind,
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

/// How long before a scheduled contact time an entry may be stored and still
/// count for it: the two stations' clocks may disagree by this much without a
/// false `contact-missed` (at most half the shortest gap, so that an entry
/// never counts for two scheduled times).
pub const CONTACT_SKEW_MS: u64 = 5 * 60_000;

/// The shortest gap between two consecutive fixed times of day, across midnight.
fn shortest_gap(mins: &[u32]) -> u64 {
    let mut sorted = mins.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    let first = sorted.first().map_or(0, |m| *m as u64 + 24 * 60);
    let next = sorted.iter().skip(1).map(|m| *m as u64).chain([first]);
    sorted
        .iter()
        .zip(next)
        .map(|(m, n)| (n - *m as u64) * 60_000)
        .min()
        .unwrap_or(DAY_MS)
        .max(1)
}

fn skew_tolerance(mins: &[u32]) -> u64 {
    CONTACT_SKEW_MS.min(shortest_gap(mins) / 2)
}

/// The first scheduled time of day strictly after `t` (Unix ms, UTC).
fn next_scheduled(mins: &[u32], t: u64) -> u64 {
    let day = t - t % DAY_MS;
    [day, day.saturating_add(DAY_MS)]
        .into_iter()
        .flat_map(|d| {
            mins.iter()
                .map(move |m| d.saturating_add(*m as u64 * 60_000))
        })
        .filter(|s| *s > t)
        .min()
        .unwrap_or(u64::MAX)
}

/// `HH:MM` of a Unix ms time, UTC.
fn fmt_hhmm(ms: u64) -> String {
    let m = ms % DAY_MS / 60_000;
    format!("{:02}:{:02}", m / 60, m % 60)
}

/// The last instant at which the counterpart's silence since its newest
/// entry, stored here at `last`, is still within the terms; after it,
/// `contact-missed` (SPEC §6).
///
/// With `contact_every`, the interval × the grace after `last`. With fixed
/// times, the counterpart owes a check at each of them: the first scheduled
/// time after `last` (an entry up to [`CONTACT_SKEW_MS`] early counts for
/// it), plus (grace − 1) × the shortest gap between scheduled times. So with
/// 09:00 and 17:00 and grace 1.5, a missed 09:00 check is reported at 13:00,
/// before the next one falls due, not 24 hours after the last contact
/// (docs/DECISIONS.md).
pub fn contact_missed_after(terms: &Terms, last: u64) -> u64 {
    let grace = terms.contact_grace_permille as u64;
    match &terms.contact {
        ContactSchedule::Every(ms) => last.saturating_add(ms.saturating_mul(grace) / 1000),
        ContactSchedule::At(mins) => {
            let slack = shortest_gap(mins).saturating_mul(grace.saturating_sub(1000)) / 1000;
            next_scheduled(mins, last.saturating_add(skew_tolerance(mins))).saturating_add(slack)
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

/// Raises and clears alerts against the set of open keys: a raise of an open
/// key and a clear of a closed one are left out, so carrying out the result
/// and evaluating again yields nothing new.
struct Out<'a> {
    open: &'a BTreeSet<String>,
    actions: Vec<Action>,
}

impl Out<'_> {
    fn raise(&mut self, kind: AlertKind, key: String, cause: String) {
        if !self.open.contains(&key) {
            self.actions.push(Action::Raise { kind, key, cause });
        }
    }
    fn clear(&mut self, key: &str) {
        if self.open.contains(key) {
            self.actions.push(Action::Clear {
                key: key.to_owned(),
            });
        }
    }
    /// Clears every open key with this prefix for which `gone` holds.
    fn clear_where(&mut self, prefix: &str, gone: impl Fn(&str) -> bool) {
        let keys: Vec<String> = self
            .open
            .iter()
            .filter(|k| k.starts_with(prefix) && gone(k))
            .cloned()
            .collect();
        for k in keys {
            self.actions.push(Action::Clear { key: k });
        }
    }
}

/// Evaluates the policy for one channel.
///
/// `open` holds the keys of this channel's open policy alerts. The result
/// lists the entries to author and the alerts to raise or clear; carrying them
/// out and then evaluating again yields nothing new.
///
/// A proposal has no clocks yet. An ended channel writes nothing and its
/// contact and deadline clocks stop (their alerts clear), but its
/// acknowledgement clocks run on over the messages it holds: a message that
/// was never acknowledged stays on record as an open alert, since no
/// acknowledgement can now come (docs/DECISIONS.md).
pub fn evaluate(book: &ChannelBook, open: &BTreeSet<String>, now: u64) -> Vec<Action> {
    debug_assert!(book.clocks_match(), "the clock index follows the messages");
    let mut out = Out {
        open,
        actions: Vec::new(),
    };
    match book.state().phase {
        Phase::Proposed => {
            for k in open {
                out.clear(k);
            }
            return out.actions;
        }
        Phase::Terminated => {
            out.clear("contact-missed");
            out.clear_where("deadline-missed:", |_| true);
        }
        Phase::Active => {
            // Decision deadlines first: a Terminate makes every other clock moot.
            if deadlines(book, &mut out, now) {
                // One state-changing action per evaluation: the next sees its effect.
                return out.actions;
            }
            contact(book, &mut out, now);
        }
    }
    acknowledgements(book, &mut out, now);
    out.actions
}

/// The first instant after `now` at which [`evaluate`] could ask for
/// something it does not ask for at `now`, if nothing else happens on the
/// channel meanwhile; `None` when no clock is running. Anything that does
/// happen (an entry, a checkpoint, a verification) calls for a fresh
/// evaluation anyway. The station evaluates a channel when it is due, not
/// every channel on every tick (issue: performance, scale): the cost of the
/// policy follows what is due, not what exists.
///
/// It names every instant at which one of [`evaluate`]'s conditions on the
/// clock turns: a decision deadline; the next contact check; the end of the
/// counterpart's contact grace; half and all of each acknowledgement window
/// of theirs; each window of ours, from delivery or, while undelivered, from
/// storing.
pub fn next_due(book: &ChannelBook, now: u64) -> Option<u64> {
    let mut due: Option<u64> = None;
    let mut at = |t: u64| {
        if t > now {
            due = Some(due.map_or(t, |d: u64| d.min(t)));
        }
    };
    let terms = book.terms();
    let (me, peer) = (book.me(), book.peer());
    match book.state().phase {
        Phase::Proposed => return None,
        Phase::Terminated => {}
        Phase::Active => {
            for (h, r) in &book.open_requests[me as usize] {
                if !book.deadline_acted.contains(h) {
                    at(r.deadline);
                }
            }
            let last_own = book.last_stored_at(me).unwrap_or(0);
            match &terms.contact {
                ContactSchedule::Every(ms) => at(last_own.saturating_add(*ms)),
                ContactSchedule::At(mins) => at(next_scheduled(mins, now)),
            }
            let last_peer = book
                .last_stored_at(peer)
                .or(book.last_stored_at(me))
                .unwrap_or(now);
            at(contact_missed_after(terms, last_peer).saturating_add(1));
        }
    }
    // Each clock's next turn, from the index of clocks by start: the first
    // clock of each precedence that turns after `now` is the one to wait for.
    for p in Precedence::ALL {
        let w = terms.ack_window(p);
        for (author, part) in [(peer, w / 2), (peer, w), (me, w)] {
            let from = now.saturating_add(1).saturating_sub(part);
            if let Some(s) = book.first_clock_from(author, p, from) {
                at(s.saturating_add(part));
            }
        }
    }
    due
}

/// Our requests past their deadline: the alert, and the `on_miss` entry if
/// the state allows it. True when an entry that changes the state was asked for.
fn deadlines(book: &ChannelBook, out: &mut Out, now: u64) -> bool {
    let (state, me) = (book.state(), book.me());
    for (h, r) in &book.open_requests[me as usize] {
        if now < r.deadline || book.deadline_acted.contains(h) {
            continue;
        }
        out.raise(
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
                out.actions.push(Action::Author(body));
                return true;
            }
        }
    }
    out.clear_where("deadline-missed:", |k| {
        key_hash(k, "deadline-missed:").is_some_and(|h| book.decided.contains(&h))
    });
    false
}

/// Our scheduled contact checks, and the counterpart's silence.
fn contact(book: &ChannelBook, out: &mut Out, now: u64) {
    let terms = book.terms();
    let (me, peer) = (book.me(), book.peer());
    let last_own = book.last_stored_at(me).unwrap_or(0);
    if contact_due(&terms.contact, last_own, now)
        && book.state().check(me, Kind::ContactCheck).is_ok()
    {
        out.actions.push(Action::Author(Body::ContactCheck));
    }
    let last_peer = book
        .last_stored_at(peer)
        .or(book.last_stored_at(me))
        .unwrap_or(now);
    let missed_after = contact_missed_after(terms, last_peer);
    if now > missed_after {
        let grace = terms.contact_grace_permille as f64 / 1000.0;
        let cause = match &terms.contact {
            ContactSchedule::Every(ms) => format!(
                "nothing from the counterpart for {} (contact every {} × grace {grace})",
                fmt_ms(now - last_peer),
                fmt_ms(*ms),
            ),
            ContactSchedule::At(mins) => format!(
                "nothing from the counterpart for {}: its {} UTC contact check is missing \
                 (fixed times, grace {grace} × the shortest gap of {})",
                fmt_ms(now - last_peer),
                fmt_hhmm(next_scheduled(
                    mins,
                    last_peer.saturating_add(skew_tolerance(mins))
                )),
                fmt_ms(shortest_gap(mins)),
            ),
        };
        out.raise(AlertKind::ContactMissed, "contact-missed".into(), cause);
    } else {
        out.clear("contact-missed");
    }
}

/// Acknowledgement clocks, both ways. A counterpart message's clock starts
/// when we stored it; ours starts when the counterpart's station is known to
/// hold it, and until then its window running out says the line, not a
/// person, is holding it up (`undelivered`, SPEC §6: silence is never ambiguous).
fn acknowledgements(book: &ChannelBook, out: &mut Out, now: u64) {
    let terms = book.terms();
    let (me, peer) = (book.me(), book.peer());
    let ended = book.state().phase == Phase::Terminated;
    let never = if ended {
        "; the channel has ended, so it never will be"
    } else {
        ""
    };
    // Only the clocks that have turned, from the index by start (a held
    // message, from a counterpart not yet verified, has no clock), in the
    // messages' order.
    let turned = |author: u8, part: fn(u64) -> u64| -> BTreeSet<Hash> {
        Precedence::ALL
            .into_iter()
            .filter_map(|p| {
                let part = part(terms.ack_window(p));
                now.checked_sub(part)
                    .map(|until| book.clocks_until(author, p, until))
            })
            .flatten()
            .copied()
            .collect()
    };
    let theirs = turned(peer, |w| w / 2);
    let unacked = book.unacked();
    for (h, u) in theirs
        .iter()
        .filter_map(|h| unacked[peer as usize].get_key_value(h))
    {
        let w = terms.ack_window(u.precedence);
        let due = |part: u64| u.stored_at.saturating_add(part);
        for (pct, due) in [(50, due(w / 2)), (100, due(w))] {
            if now >= due {
                out.raise(
                    AlertKind::AckOverdue,
                    format!("ack-overdue:{}:{pct}", hex(h)),
                    format!(
                        "{} message {} not acknowledged here: {pct}% of its {} window{never}",
                        u.precedence.name().to_uppercase(),
                        &hex(h)[..12],
                        fmt_ms(w)
                    ),
                );
            }
        }
    }
    let ours = turned(me, |w| w);
    for (h, u) in ours
        .iter()
        .filter_map(|h| unacked[me as usize].get_key_value(h))
    {
        let w = terms.ack_window(u.precedence);
        let p = u.precedence.name().to_uppercase();
        match u.delivered_at {
            Some(d) if now >= d.saturating_add(w) => out.raise(
                AlertKind::PeerAckOverdue,
                format!("peer-ack-overdue:{}", hex(h)),
                format!(
                    "our {p} message {} reached the counterpart's station but no one there \
                     acknowledged it within {} of its delivery{never}",
                    &hex(h)[..12],
                    fmt_ms(w)
                ),
            ),
            None if now >= u.stored_at.saturating_add(w) => out.raise(
                AlertKind::Undelivered,
                format!("undelivered:{}", hex(h)),
                format!(
                    "our {p} message {} has not reached the counterpart's station after {} \
                     (its acknowledgement window): the line is holding it, not the counterpart",
                    &hex(h)[..12],
                    fmt_ms(w)
                ),
            ),
            _ => {}
        }
    }
    let unacked = |k: &str, prefix: &str, author: u8| {
        key_hash(k, prefix).and_then(|h| book.unacked()[author as usize].get(&h))
    };
    out.clear_where("ack-overdue:", |k| {
        unacked(k, "ack-overdue:", peer).is_none()
    });
    out.clear_where("peer-ack-overdue:", |k| {
        unacked(k, "peer-ack-overdue:", me).is_none()
    });
    // Delivered (or acknowledged, which needs delivery) is the cause gone.
    out.clear_where("undelivered:", |k| {
        unacked(k, "undelivered:", me).is_none_or(|u| u.delivered_at.is_some())
    });
}
