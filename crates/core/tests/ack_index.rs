//! The index of acknowledgement clocks by start (`book/clocks.rs`): what the
//! policy finds through it is what a walk of every unacknowledged message
//! finds, at every instant, whatever mix of precedences, deliveries and
//! acknowledgements the channel holds.

#[path = "common/ends.rs"]
mod ends;

use ends::Ends;
use hotline_core::policy::{self, Action};
use hotline_core::ChannelBook;
use hotline_proto::{hex, sha256, Body, Precedence};
use std::collections::BTreeSet;

fn says(line: &mut Ends, who: u8, p: Precedence, i: usize) {
    line.says(
        who,
        Body::Message {
            precedence: p,
            subject: "s".into(),
            text: format!("m {i}"),
            labels: vec![],
            reply_to: None,
        },
    );
}

/// Every acknowledgement-clock alert key that should be raised at `now`,
/// and every instant after `now` at which one turns, by walking every message.
fn walk(book: &ChannelBook, now: u64) -> (BTreeSet<String>, Vec<u64>) {
    let (me, peer) = (book.me(), book.peer());
    let terms = book.terms();
    let (mut keys, mut turns) = (BTreeSet::new(), Vec::new());
    for (h, u) in book.unacked()[peer as usize]
        .iter()
        .filter(|(_, u)| !u.held)
    {
        let w = terms.ack_window(u.precedence);
        for (pct, t) in [(50, u.stored_at + w / 2), (100, u.stored_at + w)] {
            if now >= t {
                keys.insert(format!("ack-overdue:{}:{pct}", hex(h)));
            } else {
                turns.push(t);
            }
        }
    }
    for (h, u) in &book.unacked()[me as usize] {
        let w = terms.ack_window(u.precedence);
        let t = u.delivered_at.unwrap_or(u.stored_at) + w;
        if now < t {
            turns.push(t);
        } else if u.delivered_at.is_some() {
            keys.insert(format!("peer-ack-overdue:{}", hex(h)));
        } else {
            keys.insert(format!("undelivered:{}", hex(h)));
        }
    }
    (keys, turns)
}

fn raised_ack_keys(book: &ChannelBook, now: u64) -> BTreeSet<String> {
    policy::evaluate(book, &BTreeSet::new(), now)
        .into_iter()
        .filter_map(|a| match a {
            Action::Raise { key, .. }
                if ["ack-overdue:", "peer-ack-overdue:", "undelivered:"]
                    .iter()
                    .any(|p| key.starts_with(p)) =>
            {
                Some(key)
            }
            _ => None,
        })
        .collect()
}

#[test]
fn the_clocks_the_policy_finds_by_index_are_those_a_walk_finds() {
    let mut line = Ends::open([1, 2]);
    let ps = Precedence::ALL;
    for i in 0..120 {
        let who = (i % 3 % 2) as u8;
        says(&mut line, who, ps[i % 4], i);
        line.wait(7_000 * (i as u64 % 5));
        // Acknowledge some of the other's messages as they come.
        if i % 4 == 1 {
            let other = 1 - who;
            let of = line.stored[who as usize]
                .iter()
                .rev()
                .find(|(a, _, _, _)| *a == other)
                .map(|(_, _, e, _)| sha256(e))
                .unwrap();
            if line.channel(who).book().unacked()[other as usize].contains_key(&of) {
                line.says(who, Body::Ack { of });
            }
        }
    }
    for who in 0..2u8 {
        let book = line.channel(who).book();
        assert!(book.clocks_match());
        assert!(book.unacked().iter().all(|u| u.len() > 10), "a mix is open");
        let start = book.last_stored_at(who).unwrap();
        // From before the newest message to well past every window.
        for step in 0..400u64 {
            let now = start - 60_000 + step * 9_000_000;
            let (want, turns) = walk(book, now);
            assert_eq!(raised_ack_keys(book, now), want, "at {now}");
            let next = policy::next_due(book, now);
            let first_turn = turns.iter().copied().min();
            // No clock turns before the policy asks to be woken, and it
            // asks whenever one is still to turn.
            match (next, first_turn) {
                (Some(next), Some(t)) => {
                    assert!(now < next && next <= t, "next {next}, a turn at {t}")
                }
                (Some(next), None) => assert!(next > now),
                (None, t) => assert_eq!(t, None, "a clock turns after {now} unasked"),
            }
        }
    }
}
