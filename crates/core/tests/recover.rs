//! A channel restored from an older backup (`recover.rs` in the machine):
//! it writes nothing until the peer says what it holds, takes its own chain
//! back in merged order, and then writes on without reusing a sequence
//! number.

#[path = "common/line.rs"]
mod line;

use hotline_core::book::Refusal;
use hotline_core::machine::{Durable, Outbound};
use hotline_core::policy::AlertKind;
use hotline_proto::link::ChannelHeads;
use hotline_proto::{Envelope, LinkMsg, Precedence, Terms};
use line::*;
use std::collections::BTreeMap;

/// What bravo holds, by (author, seq), from the entries of its steps.
fn keep(held: &mut BTreeMap<(u8, u64), Vec<u8>>, step: &hotline_core::machine::Step) {
    for e in envelopes(step) {
        let entry = Envelope::decode(&e, 1 << 20).unwrap().peek().unwrap();
        held.insert((entry.author, entry.seq), e);
    }
}

fn confirmed(step: &hotline_core::machine::Step) -> bool {
    step.writes
        .iter()
        .any(|w| matches!(w, Durable::Confirmed { .. }))
}

#[test]
fn a_restored_channel_takes_its_own_chain_back_in_merged_order_before_writing_again() {
    let mut l = line(Terms::default());
    let _ = l.a_says(msg(Precedence::Routine, "m1"), T0 + 1);
    let _ = l.b_says(msg(Precedence::Routine, "r1"), T0 + 2);
    // The backup: alpha as it was here.
    let mut restored = l.a.clone();
    // After it, both write more; alpha's last entry has seen bravo's.
    let mut at_b = BTreeMap::new();
    keep(&mut at_b, &l.a_says(msg(Precedence::Routine, "m2"), T0 + 3));
    let b_step = l.b_says(msg(Precedence::Routine, "r2"), T0 + 4);
    // `b_says` returns alpha's receive step: bravo's entry is in its writes.
    keep(&mut at_b, &b_step);
    keep(&mut at_b, &l.a_says(msg(Precedence::Routine, "m3"), T0 + 5));
    let (own_then, _) = restored.heads()[0];
    let (own_now, _) = l.a.heads()[0];
    assert_eq!(own_now, own_then + 2);

    // Restored: nothing is written before the peer has spoken.
    restored.mark_restored();
    let m = msg(Precedence::Routine, "too early");
    assert_eq!(
        restored
            .author(&l.ka, &l.pb, m.clone(), "a", T0 + 6)
            .unwrap_err(),
        Refusal::Unconfirmed
    );
    // The policy writes nothing either (no contact check), and does not fault.
    let tick = restored.tick(&l.ka, &l.pb, T0 + 100 * MIN);
    assert_eq!(tick.entries().count(), 0);
    assert!(tick.fault.is_none(), "{:?}", tick.fault);

    // Bravo's Hello: it holds more of alpha's chain.
    let hello = restored.hello(Some(l.b.heads()), T0 + 7);
    assert!(raised(&hello)
        .iter()
        .any(|(k, _)| *k == AlertKind::OwnChainBehind));
    assert!(!confirmed(&hello), "not confirmed until the chain is back");
    assert_eq!(
        restored
            .author(&l.ka, &l.pb, m.clone(), "a", T0 + 8)
            .unwrap_err(),
        Refusal::Behind {
            held: own_then,
            peer_holds: own_now
        }
    );

    // Bravo resends both chains above what alpha holds, in merged order.
    let their = [ChannelHeads {
        channel: restored.id(),
        heads: restored.heads(),
    }];
    let mut out = Outbound::new(&their, [&l.b]);
    assert_eq!(
        out.next(&l.b, 100),
        None,
        "bravo's own go in the merged stream"
    );
    let items = out.resend_next(&l.b, 100).unwrap();
    assert_eq!(
        items,
        vec![(0, own_then + 1), (1, l.b.heads()[1].0), (0, own_now)],
        "m2, r2, m3: each after what it has seen"
    );
    let rows = items.iter().map(|k| (k.0, k.1, at_b[k].clone())).collect();
    let Some(LinkMsg::Entries { envelopes, .. }) = out.resend_pack(&l.b, rows) else {
        panic!("an Entries batch");
    };
    // A batch in another order is refused whole (r2 has seen m2).
    let mut wrong = envelopes.clone();
    wrong.swap(0, 1);
    let r = restored.receive(&l.ka, &l.pb, wrong, T0 + 9);
    assert!(r.fault.is_some());
    assert_eq!(restored.heads()[0].0, own_then);

    let r = restored.receive(&l.ka, &l.pb, envelopes, T0 + 9);
    assert!(r.fault.is_none(), "{:?}", r.fault);
    assert!(cleared(&r).iter().any(|k| k == "own-chain-behind"));
    assert!(confirmed(&r));
    assert_eq!(restored.heads(), l.a.heads());
    assert_eq!(out.resend_next(&l.b, 100), None, "all sent");

    // Writing goes on from the next sequence number, and bravo takes it.
    let (v, s) = restored.author(&l.ka, &l.pb, m, "a", T0 + 10).unwrap();
    assert_eq!(v.entry().seq, own_now + 1);
    let r = l.b.receive(&l.kb, &l.pa, line::envelopes(&s), T0 + 10);
    assert!(r.fault.is_none(), "{:?}", r.fault);
}

#[test]
fn a_restored_channel_the_peer_holds_nothing_more_of_is_confirmed_at_once() {
    let mut l = line(Terms::default());
    let _ = l.a_says(msg(Precedence::Routine, "m1"), T0 + 1);
    let mut restored = l.a.clone();
    restored.mark_restored();
    let hello = restored.hello(Some(l.b.heads()), T0 + 2);
    assert!(confirmed(&hello));
    assert!(raised(&hello).is_empty());
    assert!(restored
        .author(&l.ka, &l.pb, msg(Precedence::Routine, "on"), "a", T0 + 3)
        .is_ok());
}
