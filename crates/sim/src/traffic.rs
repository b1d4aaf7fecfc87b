//! What the world asks of the stations: channel terms, and what a local user
//! writes, mostly sensible and sometimes what the state forbids.

use crate::rng::Rng;
use crate::world::{HOUR, MINUTE};
use hotline_core::{ChannelBook, Phase};
use hotline_proto::{Body, ContactSchedule, Hash, OnMiss, Precedence, Terms};
use std::collections::BTreeMap;

/// Terms of a new channel: contact every 5–60 min or at fixed times, grace and ack windows drawn.
pub fn random_terms(rng: &mut Rng) -> Terms {
    let contact = if rng.chance(750) {
        ContactSchedule::Every(rng.range(5, 60) * MINUTE)
    } else {
        let n = rng.range(1, 3);
        let mut mins: Vec<u32> = (0..n).map(|_| rng.below(1440) as u32).collect();
        mins.sort_unstable();
        mins.dedup();
        ContactSchedule::At(mins)
    };
    Terms {
        contact,
        contact_grace_permille: rng.range(1000, 3000) as u32,
        ack_windows_ms: [(1, 10), (5, 30), (30, 180), (60, 360)]
            .map(|(lo, hi)| rng.range(lo, hi) * MINUTE),
        ..Terms::default()
    }
}

/// What a local user asks for: mostly sensible, sometimes what the state forbids.
pub fn user_body(rng: &mut Rng, book: &ChannelBook, now: u64, p_terminate: u64) -> Option<Body> {
    let (me, peer) = (book.me() as usize, book.peer() as usize);
    fn pick<V>(rng: &mut Rng, m: &BTreeMap<Hash, V>) -> Option<Hash> {
        rng.index(m.len()).and_then(|i| m.keys().nth(i).copied())
    }
    if book.state().phase == Phase::Proposed {
        if me == 1 && rng.chance(800) {
            return Some(Body::Accept {
                terms_hash: book.terms().hash(),
            });
        }
        if rng.chance(800) {
            // Nothing to do yet but wait for the counterpart.
            return None;
        }
    }
    if rng.below(1000) < p_terminate {
        return Some(Body::Terminate {
            reason: "ended by a person".into(),
        });
    }
    let message = |rng: &mut Rng, reply_to: Option<Hash>| Body::Message {
        precedence: Precedence::ALL[rng.below(4) as usize],
        subject: format!("subject {}", rng.below(1000)),
        text: "text".repeat(rng.range(1, 20) as usize),
        labels: vec![],
        reply_to,
    };
    Some(match rng.below(100) {
        0..=34 => {
            let reply_to = rng.chance(300).then(|| pick(rng, &book.unacked()[peer]));
            message(rng, reply_to.flatten())
        }
        35..=54 => match pick(rng, &book.unacked()[peer]) {
            Some(of) => Body::Ack { of },
            None => message(rng, None),
        },
        55..=64 => Body::Request {
            question: "proceed?".into(),
            options: vec!["yes".into(), "no".into()],
            deadline: now.saturating_sub(MINUTE) + rng.below(2 * HOUR),
            on_miss: [OnMiss::Alert, OnMiss::Suspend, OnMiss::Terminate][rng.below(3) as usize],
        },
        65..=74 => match pick(rng, &book.open_requests[peer]) {
            Some(request) => Body::Decision {
                request,
                choice: "yes".into(),
                text: String::new(),
            },
            None => message(rng, None),
        },
        75..=79 => {
            match pick(rng, &book.unacked()[peer]).or_else(|| pick(rng, &book.unacked()[me])) {
                Some(of) => Body::Translation {
                    of,
                    lang: "fr".into(),
                    text: "texte".into(),
                },
                None => message(rng, None),
            }
        }
        80..=87 => Body::Suspend {
            reason: "a person suspends".into(),
        },
        _ => Body::Resume,
    })
}
