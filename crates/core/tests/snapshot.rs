//! Start-up snapshots (docs/DECISIONS.md, "Start-up snapshots"): a book
//! rebuilt from its newest snapshot and the entries stored after it is the
//! book replayed from every entry, whatever the traffic; a snapshot that is
//! cut short or whose segments changed is refused, never half used.

#[path = "common/ends.rs"]
mod ends;

use ends::{message, Ends};
use hotline_core::book::snapshot::{SEGMENT, SNAPSHOT_EVERY};
use hotline_core::book::{BookSnapshot, ChannelBook};
use hotline_core::machine::Channel;
use hotline_proto::{sha256, Body, OnMiss, Precedence};

/// A long line with every kind of traffic that leaves something open in the
/// book: messages both ways, some acknowledged, requests with and without
/// decisions, suspensions and resumptions, and a key rotation.
fn long_line(rounds: u64) -> Ends {
    let mut line = Ends::open([1, 2]);
    for i in 0..rounds {
        let who = (i % 2) as u8;
        match i % 13 {
            5 => line.says(
                who,
                Body::Message {
                    precedence: Precedence::Flash,
                    subject: "s".into(),
                    text: format!("flash {i}"),
                    labels: vec![],
                    reply_to: None,
                },
            ),
            7 => line.says(
                who,
                Body::Request {
                    question: format!("q {i}"),
                    options: vec![],
                    deadline: ends::T0 + 1_000_000_000,
                    on_miss: OnMiss::Alert,
                },
            ),
            _ => line.message(who, &format!("m {i}")),
        }
        // Acknowledge the other's message two rounds back, and answer
        // every other request.
        if i % 3 == 0 && i >= 2 {
            let other = 1 - who;
            let (a, s, env, _) = line.stored[who as usize]
                .iter()
                .rev()
                .find(|(a, _, _, _)| *a == other)
                .cloned()
                .expect("an entry of the other's");
            let meta = line.channel(who).book().meta(a, s).unwrap();
            let of = sha256(&env);
            match meta.kind {
                hotline_proto::Kind::Message => line.says(who, Body::Ack { of }),
                hotline_proto::Kind::Request if i % 2 == 0 => line.says(
                    who,
                    Body::Decision {
                        request: of,
                        choice: "yes".into(),
                        text: String::new(),
                    },
                ),
                _ => {}
            }
        }
        if i % 500 == 250 {
            line.says(
                0,
                Body::Suspend {
                    reason: "pause".into(),
                },
            );
            line.says(0, Body::Resume);
        }
        if i == rounds / 2 {
            line.rotate(1, 9);
        }
    }
    line
}

/// The segments of `author` written by the snapshots, in order.
fn segments(snaps: &[BookSnapshot], author: u8) -> Vec<Vec<u8>> {
    let mut segs: Vec<(u64, Vec<u8>)> = snaps
        .iter()
        .flat_map(|s| s.segments.iter())
        .filter(|(a, _, _)| *a == author)
        .map(|(_, i, b)| (*i, b.clone()))
        .collect();
    segs.sort_by_key(|(i, _)| *i);
    for (n, (i, _)) in segs.iter().enumerate() {
        assert_eq!(*i, n as u64, "each segment written once, in order");
    }
    segs.into_iter().map(|(_, b)| b).collect()
}

fn genesis(line: &Ends, who: u8) -> ChannelBook {
    let (a, s, env, at) = &line.stored[who as usize][0];
    assert_eq!((*a, *s), (0, 1), "the Open is stored first");
    ChannelBook::genesis_at(env, who, *at).unwrap().0
}

/// Everything a book answers, compared: the chains entry by entry, the
/// index, the state, the keys and the open books. An own message's
/// delivery time is compared only as known or not: the running book has it
/// from the peer's checkpoint, a replay from the entry's stored time.
fn assert_same(a: &ChannelBook, b: &ChannelBook, what: &str) {
    assert_eq!(a.id(), b.id());
    assert_eq!(a.state(), b.state());
    for author in 0..2u8 {
        assert_eq!(a.len(author), b.len(author));
        assert_eq!(a.head(author), b.head(author));
        assert_eq!(a.key_history(author), b.key_history(author));
        for seq in 1..=a.len(author) {
            let (x, y) = (a.meta(author, seq).unwrap(), b.meta(author, seq).unwrap());
            assert_eq!(
                (x.hash, x.lamport, x.kind, x.stored_at, x.seen_seq),
                (y.hash, y.lamport, y.kind, y.stored_at, y.seen_seq)
            );
            assert_eq!(a.locate(&x.hash), Some((author, seq)));
            assert_eq!(b.locate(&x.hash), Some((author, seq)));
        }
        let open = |book: &ChannelBook| {
            book.unacked()[author as usize]
                .iter()
                .map(|(h, u)| {
                    (
                        *h,
                        u.precedence,
                        u.stored_at,
                        u.delivered_at.is_some(),
                        u.held,
                    )
                })
                .collect::<Vec<_>>()
        };
        let (x, y) = (open(a), open(b));
        assert_eq!(x.len(), y.len(), "{what}: unacked of {author}");
        for (x, y) in x.iter().zip(&y) {
            assert_eq!(x, y, "{what}: unacked of {author}");
        }
        assert_eq!(
            a.open_requests[author as usize],
            b.open_requests[author as usize]
        );
    }
    assert_eq!(a.decided, b.decided);
    assert_eq!(a.deadline_acted, b.deadline_acted);
}

#[test]
fn a_book_rebuilt_from_its_snapshot_and_the_entries_after_it_is_the_book_replayed_from_every_entry()
{
    let line = long_line(14_000);
    for who in 0..2u8 {
        let stored = &line.stored[who as usize];
        let snaps = &line.snapshots[who as usize];
        let total = stored.len() as u64;
        assert_eq!(
            snaps.len() as u64,
            total / SNAPSHOT_EVERY,
            "one every {SNAPSHOT_EVERY} entries"
        );
        let last = snaps.last().unwrap();
        assert!(
            last.lens.iter().any(|l| *l >= SEGMENT),
            "a full segment: {:?}",
            last.lens
        );
        let segs = [segments(snaps, 0), segments(snaps, 1)];
        let book = genesis(&line, who)
            .from_snapshot(last.lens, &last.body, segs)
            .expect("the snapshot is usable");
        let after: Vec<_> = stored
            .iter()
            .filter(|(a, s, _, _)| *s > last.lens[*a as usize])
            .cloned()
            .collect();
        assert!(
            (after.len() as u64) < SNAPSHOT_EVERY,
            "only the tail is checked"
        );
        let fast = Channel::restore_from(
            Some(book),
            who,
            1,
            after,
            [None, None],
            Vec::<String>::new(),
        )
        .expect("restored from the snapshot");
        let slow = Channel::restore(who, 1, stored.clone(), [None, None], Vec::<String>::new())
            .expect("replayed");
        assert_same(
            fast.book(),
            slow.book(),
            &format!("station {who}, snapshot and replay"),
        );
        assert_eq!(fast.snapshot_lens(), last.lens);
        assert!(fast.book().clocks_match(), "the clock index is rebuilt too");
        assert_eq!(fast.book().total(), line.channel(who).book().total());
        // Somewhat open on both sides, so the comparison has something to compare.
        assert!(!slow.book().decided.is_empty());
        assert!(slow.book().open_requests.iter().any(|r| !r.is_empty()));
        assert!(slow.book().unacked().iter().all(|u| !u.is_empty()));
        assert!(slow.book().key_history(1).len() == 2);
    }
}

#[test]
fn a_damaged_snapshot_is_refused_whole() {
    let line = long_line(7_000);
    let snaps = &line.snapshots[0];
    let last = snaps.last().unwrap().clone();
    let segs = || [segments(snaps, 0), segments(snaps, 1)];
    assert!(genesis(&line, 0)
        .from_snapshot(last.lens, &last.body, segs())
        .is_ok());
    // Cut short, one byte longer, or claiming other lengths.
    let cut = &last.body[..last.body.len() - 1];
    assert!(genesis(&line, 0)
        .from_snapshot(last.lens, cut, segs())
        .is_err());
    let mut longer = last.body.clone();
    longer.push(0);
    assert!(genesis(&line, 0)
        .from_snapshot(last.lens, &longer, segs())
        .is_err());
    let lens = [last.lens[0] + 1, last.lens[1]];
    assert!(genesis(&line, 0)
        .from_snapshot(lens, &last.body, segs())
        .is_err());
    // A segment changed or missing.
    let mut changed = segs();
    let seg = changed
        .iter_mut()
        .find(|s| !s.is_empty())
        .expect("a full segment");
    seg[0][40] ^= 1;
    assert!(genesis(&line, 0)
        .from_snapshot(last.lens, &last.body, changed)
        .is_err());
    assert!(genesis(&line, 0)
        .from_snapshot(last.lens, &last.body, [vec![], vec![]])
        .is_err());
    // Another channel's Open.
    let other = Ends::open_at([1, 2], ends::T0 + 5);
    let wrong = other.channel(0).book().clone();
    assert!(wrong.from_snapshot(last.lens, &last.body, segs()).is_err());
    let _ = message("unused");
}
