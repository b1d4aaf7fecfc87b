#![no_main]
//! Two stations' cores driven by fuzzer-chosen actions: send, deliver, drop,
//! shuffle, crash. Invariants: a causally delivered entry is never refused;
//! after a full drain both ends hold the same heads and the same state.
use hotline_core::book::Outcome;
use hotline_core::{ChannelBook, VerifiedEntry};
use hotline_proto::{Body, Precedence, SecretKeys, Terms};
use libfuzzer_sys::fuzz_target;

struct Side {
    keys: SecretKeys,
    book: ChannelBook,
    /// What was committed, in order: a crash rebuilds the book from it.
    committed: Vec<(u8, Vec<u8>)>,
    me: u8,
}

fn rebuild(s: &mut Side) {
    let (mut b, _) = ChannelBook::genesis(&s.committed[0].1, s.me).unwrap();
    for (author, bytes) in &s.committed[1..] {
        match b.check(*author, bytes, true).unwrap() {
            Outcome::New(v) => b.apply(&v, 0),
            o => panic!("committed entry refused on rebuild: {o:?}"),
        }
    }
    s.book = b;
}

fuzz_target!(|data: &[u8]| {
    let a_keys = SecretKeys::from_bytes(&[1u8; 96]).unwrap();
    let b_keys = SecretKeys::from_bytes(&[2u8; 96]).unwrap();
    let (ba, open) = ChannelBook::open(&a_keys, b_keys.identity(), Terms::default(), None, "a", 1);
    let (mut bb, _) = ChannelBook::genesis(open.envelope().bytes(), 1).unwrap();
    let acc = bb.author(&b_keys, Body::Accept { terms_hash: Terms::default().hash() }, "b", 2, true).unwrap();
    bb.apply(&acc, 2);
    let ob = open.envelope().bytes().to_vec();
    let mut sides = [
        Side { keys: a_keys, book: ba, committed: vec![(0, ob.clone())], me: 0 },
        Side { keys: b_keys, book: bb, committed: vec![(0, ob), (1, acc.envelope().bytes().to_vec())], me: 1 },
    ];
    // Network queues: entries in flight towards each side.
    let mut wire: [Vec<VerifiedEntry>; 2] = [vec![acc.clone()], vec![]];
    let mut t = 10u64;
    for &op in data.iter().take(400) {
        t += 1;
        let who = (op & 1) as usize;
        match op >> 1 {
            0..=39 => {
                let body = match op % 5 {
                    0 => Body::Message { precedence: Precedence::Routine, subject: String::new(), text: "m".into(), labels: vec![], reply_to: None },
                    1 => Body::ContactCheck,
                    2 => Body::Suspend { reason: "s".into() },
                    3 => Body::Resume,
                    _ => Body::Terminate { reason: "t".into() },
                };
                let s = &mut sides[who];
                if let Ok(v) = s.book.author(&s.keys, body, "x", t, true) {
                    s.book.apply(&v, t);
                    s.committed.push((s.me, v.envelope().bytes().to_vec()));
                    wire[1 - who].push(v);
                }
            }
            40..=89 => {
                // Deliver the oldest in-flight entry (links deliver in order, possibly repeated).
                if let Some(v) = wire[who].first().cloned() {
                    let s = &mut sides[who];
                    match s.book.check(v.entry().author, v.envelope().bytes(), true) {
                        Ok(Outcome::New(x)) => {
                            s.book.apply(&x, t);
                            s.committed.push((x.entry().author, x.envelope().bytes().to_vec()));
                            wire[who].remove(0);
                        }
                        Ok(Outcome::Duplicate) => {
                            wire[who].remove(0);
                        }
                        other => panic!("in-order delivery refused: {other:?}"),
                    }
                }
            }
            90..=99 => {
                // Duplicate the head of the queue (a retransmission).
                if let Some(v) = wire[who].first().cloned() {
                    wire[who].insert(0, v);
                }
            }
            100..=109 => {
                // Drop the in-flight queue: the sender resends from what the receiver holds.
                let from = 1 - who;
                let have = sides[who].book.len(from as u8);
                let resend: Vec<VerifiedEntry> = sides[from]
                    .committed
                    .iter()
                    .filter(|(a, _)| *a == from as u8)
                    .filter_map(|(_, b)| {
                        let key = sides[from].keys.identity();
                        VerifiedEntry::from_storage(b, &key).ok()
                    })
                    .filter(|v| v.entry().seq > have)
                    .collect();
                wire[who] = resend;
            }
            _ => rebuild(&mut sides[who]),
        }
    }
    // Drain: resend everything missing, both ways, in order.
    for _ in 0..2 {
        for who in 0..2 {
            let from = 1 - who;
            let have = sides[who].book.len(from as u8);
            let key = sides[from].keys.identity();
            let pending: Vec<Vec<u8>> = sides[from].committed.iter().filter(|(a, _)| *a == from as u8).map(|(_, b)| b.clone()).collect();
            for b in pending.iter().skip(have as usize) {
                match sides[who].book.check(from as u8, b, true) {
                    Ok(Outcome::New(x)) => {
                        sides[who].book.apply(&x, t);
                        sides[who].committed.push((from as u8, b.clone()));
                    }
                    other => panic!("drain refused: {other:?}"),
                }
            }
            let _ = key;
        }
    }
    assert_eq!(sides[0].book.head(0), sides[1].book.head(0));
    assert_eq!(sides[0].book.head(1), sides[1].book.head(1));
    assert_eq!(sides[0].book.state(), sides[1].book.state());
});
