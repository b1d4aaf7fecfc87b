//! The channel-state fold through the station machine's receive path: the
//! state a station holds equals the fold, in merged order, of every entry it
//! holds, however the two chains arrive; and taking or restoring a long run
//! of state changes costs each entry the same, whatever came before.

use hotline_core::machine::{self, Channel, Durable, Peer, Step};
use hotline_core::ChannelState;
use hotline_proto::{Body, Precedence, SecretKeys, Terms};
use proptest::prelude::*;
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

const T0: u64 = 1_800_000_000_000;

/// Counts the bytes this thread allocates: a deterministic measure of work
/// (the same inputs allocate the same sizes on every run and machine), where
/// a timing would depend on the machine and its load.
struct Counting;

thread_local! {
    static ALLOCATED: Cell<u64> = const { Cell::new(0) };
}

fn count(bytes: usize) {
    // A thread being torn down has no counter left; its allocations do not matter here.
    let _ = ALLOCATED.try_with(|c| c.set(c.get() + bytes as u64));
}

// SAFETY: every call is passed unchanged to the system allocator; only sizes are counted.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count(layout.size());
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count(new_size);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Runs `f` and returns what it gave and the bytes it allocated on this thread.
fn allocated<T>(f: impl FnOnce() -> T) -> (T, u64) {
    let before = ALLOCATED.with(Cell::get);
    let out = f();
    (out, ALLOCATED.with(Cell::get) - before)
}

fn keys(n: u8) -> SecretKeys {
    SecretKeys::from_bytes(&[n; 96]).unwrap()
}

fn peer(id: i64, name: &str, k: &SecretKeys) -> Peer {
    Peer {
        id,
        name: name.into(),
        identity: k.identity(),
        verified: true,
    }
}

fn envelopes(step: &Step) -> Vec<Vec<u8>> {
    step.entries()
        .map(|v| v.envelope().bytes().to_vec())
        .collect()
}

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
    let (pa, pb) = (peer(1, "alpha", &ka), peer(2, "bravo", &kb));
    let (a, open) = Channel::open(&ka, &pb, Terms::default(), None, "a", T0).unwrap();
    let (b, got) = machine::receive_proposal(&kb, &pa, a.id(), envelopes(&open), T0);
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

/// Bytes alpha allocates to receive `n` Suspend/Resume entries with 1 KiB
/// reasons from bravo, one batch each, and then to restore from its rows.
fn suspend_resume_run(n: usize) -> (u64, u64) {
    let [mut a, mut b] = line();
    let reason = "x".repeat(1024);
    let mut receiving = 0;
    for i in 0..n {
        let body = if i % 2 == 0 {
            Body::Suspend {
                reason: reason.clone(),
            }
        } else {
            Body::Resume
        };
        let t = T0 + 1 + i as u64;
        let (_, step) = b.ch.author(&b.keys, &b.other, body, "b", t).unwrap();
        let batch = envelopes(&step);
        let (got, bytes) = allocated(|| a.ch.receive(&a.keys, &a.other, batch, t));
        assert_eq!(got.fault, None);
        receiving += bytes;
        a.steps.push(got);
    }
    let rows = rows(&a.steps);
    let (r, restoring) =
        allocated(|| Channel::restore(0, 2, rows, [None, None], Vec::<String>::new()));
    assert_eq!(r.unwrap().book().state(), a.ch.book().state());
    (receiving, restoring)
}

/// A peer alternating Suspend and Resume with long reasons must not make
/// each of its entries dearer than the last: taking one through
/// `Channel::receive`, and restoring it at start-up, costs the same after
/// 2,000 state changes as after 500. The fold this replaced kept every body
/// and re-sorted all of them for every entry checked and every entry applied,
/// so the cost per entry grew with the transcript (n² log n in all).
/// Measured in bytes allocated, which the same inputs make deterministic.
#[test]
fn a_long_run_of_state_changes_costs_each_entry_the_same_to_receive_and_to_restore() {
    let (small, large) = (500, 2000);
    let (recv_s, rest_s) = suspend_resume_run(small);
    let (recv_l, rest_l) = suspend_resume_run(large);
    let per = |total: u64, n: usize| total as f64 / n as f64;
    let receive_growth = per(recv_l, large) / per(recv_s, small);
    let restore_growth = per(rest_l, large) / per(rest_s, small);
    assert!(
        receive_growth < 1.25,
        "receiving: {:.0} bytes per entry after {large}, {:.0} after {small} (×{receive_growth:.2})",
        per(recv_l, large),
        per(recv_s, small)
    );
    assert!(
        restore_growth < 1.25,
        "restoring: {:.0} bytes per entry for {large}, {:.0} for {small} (×{restore_growth:.2})",
        per(rest_l, large),
        per(rest_s, small)
    );
}
