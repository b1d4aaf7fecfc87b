//! The channel-state fold through the station machine's receive path: the
//! state a station holds equals the fold, in merged order, of every entry it
//! holds, however the two chains arrive. (That a long run of state changes
//! costs each entry the same is checked in `state.rs`: a cut folds at most
//! five of them, whatever came before.)

#[path = "common/line.rs"]
mod line;

use hotline_core::machine::{self, Channel, Durable, Peer, Step};
use hotline_core::ChannelState;
use hotline_proto::{Body, Precedence, SecretKeys, Terms};
use line::{envelopes, keys, peer, T0};
use proptest::prelude::*;

/// Stored rows `(author, seq, envelope, stored_at)` of a station's steps, in commit order.
fn rows(steps: &[Step]) -> Vec<(u8, u64, Vec<u8>, u64)> {
    steps
        .iter()
        .flat_map(|s| &s.writes)
        .filter_map(|w| match w {
            Durable::Entry { entry, stored_at } => Some((
                entry.entry().author,
                entry.entry().seq,
                entry.envelope().bytes().to_vec(),
                *stored_at,
            )),
            _ => None,
        })
        .collect()
}

/// The reference fold (SPEC §4): the bodies of the held entries, sorted into
/// merged `(lamport, author)` order and applied one by one.
fn merged_fold(held: &[(u64, u8, Body)]) -> ChannelState {
    let mut all: Vec<&(u64, u8, Body)> = held.iter().collect();
    all.sort_by_key(|(l, a, _)| (*l, *a));
    let mut st = ChannelState::default();
    for (_, a, b) in all {
        st.apply(*a, b);
    }
    st
}

/// One station of a line as the test drives it: its channel, its keys, the
/// other side as pinned here, every step it took, and every entry it holds.
struct Side {
    ch: Channel,
    keys: SecretKeys,
    other: Peer,
    steps: Vec<Step>,
    held: Vec<(u64, u8, Body)>,
}

impl Side {
    fn take(&mut self, step: Step) {
        for v in step.entries() {
            let e = v.entry();
            self.held.push((e.lamport, e.author, e.body.clone()));
        }
        self.steps.push(step);
    }
}

/// Alpha has opened, bravo has accepted, and each holds both entries.
fn line() -> [Side; 2] {
    let (ka, kb) = (keys(1), keys(2));
    let (pa, pb) = (peer(1, "alpha", &ka, true), peer(2, "bravo", &kb, true));
    let (a, open) = Channel::open(&ka, &pb, Terms::default(), None, "a", T0).unwrap();
    let (b, got) = machine::receive_proposal(&kb, &pa, a.id(), envelopes(&open), 0, T0);
    let mut a = Side {
        ch: a,
        keys: ka,
        other: pb,
        steps: vec![],
        held: vec![],
    };
    let mut b = Side {
        ch: b.unwrap(),
        keys: kb,
        other: pa,
        steps: vec![],
        held: vec![],
    };
    a.take(open);
    b.take(got);
    let th = b.ch.book().terms().hash();
    let (_, acc) =
        b.ch.author(&b.keys, &b.other, Body::Accept { terms_hash: th }, "b", T0)
            .unwrap();
    let got = a.ch.receive(&a.keys, &a.other, envelopes(&acc), T0);
    assert_eq!(got.fault, None);
    b.take(acc);
    a.take(got);
    [a, b]
}

fn body(what: u8) -> Body {
    let reason = "r".repeat(64);
    match what {
        0 | 1 => Body::Suspend { reason },
        2 | 3 => Body::Resume,
        4 => Body::Message {
            precedence: Precedence::Routine,
            subject: String::new(),
            text: "m".into(),
            labels: vec![],
            reply_to: None,
        },
        5 => Body::ContactCheck,
        _ => Body::Terminate { reason },
    }
}

#[derive(Debug, Clone)]
enum Move {
    /// A side writes something (refused if its state forbids it).
    Say { side: usize, what: u8 },
    /// The first `n` undelivered entries of the other side reach `side`.
    Deliver { side: usize, n: usize },
}

fn moves() -> impl Strategy<Value = Vec<Move>> {
    prop::collection::vec(
        prop_oneof![
            3 => (0usize..2, 0u8..7).prop_map(|(side, what)| Move::Say { side, what }),
            2 => (0usize..2, 1usize..5).prop_map(|(side, n)| Move::Deliver { side, n }),
        ],
        1..80,
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    /// After every entry a station takes, by authoring it or by receiving it
    /// through `Channel::receive` in whatever order the network delivers the
    /// two chains, its state is the merged-order fold of all it holds; a
    /// station restored from its rows folds the same.
    #[test]
    fn the_state_held_is_the_merged_fold_of_what_is_held(moves in moves()) {
        let mut sides = line();
        // Entries written but not yet delivered to the other side.
        let mut outbox: [Vec<Vec<u8>>; 2] = [vec![], vec![]];
        let mut t = T0;
        for m in moves.into_iter().chain([Move::Deliver { side: 0, n: 999 }, Move::Deliver { side: 1, n: 999 }]) {
            t += 10;
            let side = match m {
                Move::Say { side, what } => {
                    let s = &mut sides[side];
                    if let Ok((_, step)) = s.ch.author(&s.keys, &s.other, body(what), "x", t) {
                        outbox[side].extend(envelopes(&step));
                        s.take(step);
                    }
                    side
                }
                Move::Deliver { side, n } => {
                    let from = &mut outbox[1 - side];
                    let batch: Vec<Vec<u8>> = from.drain(..n.min(from.len())).collect();
                    let s = &mut sides[side];
                    let step = s.ch.receive(&s.keys, &s.other, batch, t);
                    prop_assert_eq!(&step.fault, &None, "a causally delivered batch was refused");
                    s.take(step);
                    side
                }
            };
            let s = &sides[side];
            prop_assert_eq!(s.ch.book().state(), merged_fold(&s.held));
        }
        prop_assert_eq!(sides[0].ch.book().state(), sides[1].ch.book().state());
        for (me, s) in sides.iter().enumerate() {
            let r = Channel::restore(me as u8, s.other.id, rows(&s.steps), [None, None], Vec::<String>::new()).unwrap();
            prop_assert_eq!(r.book().state(), s.ch.book().state());
        }
    }
}
