//! The station machine, driven directly: each procedure's writes, effects
//! and faults, with an injected clock and no storage. Two machines talk by
//! handing each other the bytes of their steps, as the daemon's link does.
//! This file: opening, authoring, receiving batches and checkpoints; the
//! tick, restore, export, the outbound cursor and the peer alerts are in
//! `machine_tick.rs`.

#[path = "common/line.rs"]
mod line;

use hotline_core::machine::{self, Channel, CheckpointFault, Durable, Effect, Fault, OpenRefusal};
use hotline_core::policy::AlertKind;
use hotline_core::Reject;
use hotline_proto::{Body, Entry, Envelope, Kind, LinkMsg, OnMiss, Precedence, Terms};
use line::*;

#[test]
fn open_writes_the_channel_then_its_open_and_reports_both() {
    let (ka, kb) = (keys(1), keys(2));
    let pb = peer(7, "bravo", &kb, false);
    let (ch, step) = Channel::open(&ka, &pb, Terms::default(), None, "ops", T0).unwrap();
    assert_eq!(ch.own_checkpoint(), None, "nothing signed yet");
    assert!(ch.peer_checkpoint().is_none());
    assert!(matches!(
        step.writes[0],
        Durable::Channel { peer: 7, me: 0, created_at: T0, id } if id == ch.id()
    ));
    assert!(
        matches!(&step.writes[1], Durable::Entry { stored_at: T0, entry } if entry.hash() == ch.id())
    );
    assert_eq!(step.after[0], Effect::ChannelCreated { channel: ch.id() });
    assert!(step.after.contains(&Effect::Committed {
        channel: ch.id(),
        write: 1,
        hash: ch.id(),
        author: 0,
        seq: 1,
        kind: Kind::Open,
        own: true
    }));
    assert!(step
        .after
        .contains(&Effect::StateChanged { channel: ch.id() }));
    assert!(step.after.contains(&Effect::Wake { peer: 7 }));
    assert_eq!(ch.book().len(0), 1);
    assert_eq!(ch.peer_id(), 7);
}

#[test]
fn reopening_needs_an_ended_channel_with_the_same_peer() {
    let mut l = line(Terms::default());
    let other = peer(9, "charlie", &keys(3), true);
    assert_eq!(
        Channel::open(
            &l.ka,
            &other,
            Terms::default(),
            Some((l.a.id(), &l.a)),
            "o",
            T0
        )
        .unwrap_err(),
        OpenRefusal::ReopenOtherPeer
    );
    assert!(matches!(
        Channel::open(
            &l.ka,
            &l.pb,
            Terms::default(),
            Some((l.a.id(), &l.a)),
            "o",
            T0
        ),
        Err(OpenRefusal::ReopenNotEnded {
            state: "active",
            ..
        })
    ));
    let _ = l.a_says(
        Body::Terminate {
            reason: "done".into(),
        },
        T0 + 1,
    );
    assert!(!l.a.is_live());
    let (ch, _) = Channel::open(
        &l.ka,
        &l.pb,
        Terms::default(),
        Some((l.a.id(), &l.a)),
        "o",
        T0,
    )
    .unwrap();
    assert_ne!(ch.id(), l.a.id());
}

#[test]
fn authoring_applies_at_once_and_reports_after_the_commit() {
    let mut l = line(Terms::default());
    let before = l.a.book().len(0);
    let (v, step) =
        l.a.author(&l.ka, &l.pb, msg(Precedence::Flash, "hi"), "ops", T0 + 5)
            .unwrap();
    assert_eq!(l.a.book().len(0), before + 1);
    assert_eq!(step.writes.len(), 1);
    assert!(
        matches!(&step.writes[0], Durable::Entry { entry, stored_at } if entry == &v && *stored_at == T0 + 5)
    );
    assert_eq!(
        step.after,
        vec![
            Effect::Committed {
                channel: l.a.id(),
                write: 0,
                hash: v.hash(),
                author: 0,
                seq: before + 1,
                kind: Kind::Message,
                own: true
            },
            Effect::Wake { peer: 2 }
        ]
    );
    // A refusal changes nothing.
    let unverified = peer(2, "bravo", &l.kb, false);
    assert!(l
        .a
        .author(&l.ka, &unverified, msg(Precedence::Flash, "x"), "o", T0)
        .is_err());
    assert_eq!(l.a.book().len(0), before + 1);
}

#[test]
fn a_valid_batch_is_applied_checkpointed_and_answered() {
    let mut l = line(Terms::default());
    let (_, s1) =
        l.a.author(&l.ka, &l.pb, msg(Precedence::Routine, "one"), "a", T0 + 1)
            .unwrap();
    let (_, s2) =
        l.a.author(&l.ka, &l.pb, msg(Precedence::Routine, "two"), "a", T0 + 2)
            .unwrap();
    let mut batch = envelopes(&s1);
    batch.extend(envelopes(&s2));
    let old = match l.b.export_checkpoint(&l.kb, T0 + 3).after.pop() {
        Some(Effect::Export(p)) => p.checkpoints.last().unwrap().clone(),
        e => panic!("{e:?}"),
    };
    let r = l.b.receive(&l.kb, &l.pa, batch.clone(), T0 + 3);
    assert_eq!(r.fault, None);
    assert_eq!(l.b.book().len(0), 3);
    // Two entries, then our checkpoint, then the bad-input clear; the reply comes last.
    assert!(matches!(r.writes[0], Durable::Entry { .. }));
    assert!(matches!(r.writes[1], Durable::Entry { .. }));
    assert!(matches!(r.writes[2], Durable::Checkpoint { signer: 1, .. }));
    assert_eq!(cleared(&r), vec!["bad-input:alpha".to_string()]);
    assert!(matches!(
        r.after.last(),
        Some(Effect::Reply(LinkMsg::Checkpoint { .. }))
    ));
    let own = r
        .after
        .iter()
        .filter(|e| matches!(e, Effect::Committed { own: false, .. }))
        .count();
    assert_eq!(own, 2);
    let Durable::Checkpoint { envelope, .. } = &r.writes[2] else {
        unreachable!()
    };
    assert_eq!(l.b.own_checkpoint(), Some(hotline_proto::sha256(envelope)));
    // The checkpoint proves delivery to alpha.
    let ck = checkpoint_reply(&r);
    let d = l.a.receive_checkpoint(&l.pb, &ck, T0 + 10);
    assert_eq!(d.fault, None);
    assert_eq!(l.a.delivered_upto(), 3);
    assert_eq!(l.a.last_delivery_at(), Some(T0 + 10));
    assert!(d.after.contains(&Effect::Delivered {
        channel: l.a.id(),
        upto: 3,
        latencies: vec![10, 9, 8]
    }));
    assert!(d.after.contains(&Effect::Wake { peer: 2 }));
    // The next proof counts only what it newly covers.
    let (_, s3) =
        l.a.author(
            &l.ka,
            &l.pb,
            msg(Precedence::Routine, "three"),
            "a",
            T0 + 20,
        )
        .unwrap();
    let r3 = l.b.receive(&l.kb, &l.pa, envelopes(&s3), T0 + 21);
    let d3 =
        l.a.receive_checkpoint(&l.pb, &checkpoint_reply(&r3), T0 + 25);
    assert!(d3.after.contains(&Effect::Delivered {
        channel: l.a.id(),
        upto: 4,
        latencies: vec![5]
    }));
    // The same batch again: duplicates, nothing new, a fresh checkpoint, no clear.
    let again = l.b.receive(&l.kb, &l.pa, batch, T0 + 4);
    assert_eq!(again.fault, None);
    assert_eq!(again.entries().count(), 0);
    assert!(cleared(&again).is_empty());
    assert!(matches!(reply(&again), Some(LinkMsg::Checkpoint { .. })));
    // An older checkpoint after a newer one is not stored.
    assert!(l.a.receive_checkpoint(&l.pb, &old, T0 + 11).is_empty());
    assert_eq!(l.a.delivered_upto(), 4);
}

#[test]
fn an_invalid_entry_refuses_the_whole_batch_and_is_alerted() {
    let mut l = line(Terms::default());
    let (_, s1) =
        l.a.author(&l.ka, &l.pb, msg(Precedence::Routine, "one"), "a", T0 + 1)
            .unwrap();
    let (v2, _) =
        l.a.author(&l.ka, &l.pb, msg(Precedence::Routine, "two"), "a", T0 + 2)
            .unwrap();
    let mut forged: Entry = v2.entry().clone();
    forged.time += 1;
    let bad = Envelope::sign(&forged, &keys(9)).bytes().to_vec();
    let mut batch = envelopes(&s1);
    batch.push(bad);
    let before = l.b.book().state();
    let r = l.b.receive(&l.kb, &l.pa, batch, T0 + 3);
    assert_eq!(
        r.fault,
        Some(Fault::Entry {
            index: 1,
            reject: Reject::BadSignature
        })
    );
    // Rejected whole (SPEC §1): the valid entry before the bad one is
    // neither stored nor taken, and nothing is checkpointed.
    assert_eq!(l.b.book().len(0), 1, "only the Open, from before the batch");
    assert_eq!(l.b.book().state(), before);
    assert!(
        r.entries().next().is_none(),
        "nothing of the batch is stored"
    );
    assert!(!r
        .writes
        .iter()
        .any(|w| matches!(w, Durable::Checkpoint { .. })));
    assert!(!r.after.iter().any(|e| matches!(
        e,
        Effect::Committed { .. } | Effect::Reply(LinkMsg::Checkpoint { .. })
    )));
    assert_eq!(
        raised(&r),
        vec![(AlertKind::BadInput, "bad-input:alpha".into())]
    );
    assert!(matches!(
        reply(&r),
        Some(LinkMsg::Error { code: 1, text }) if text.contains("signature")
    ));
    assert!(r.after.contains(&Effect::Close));
    assert!(cleared(&r).is_empty());
    // The book is as it was: the good entry alone is taken afterwards.
    let again = l.b.receive(&l.kb, &l.pa, envelopes(&s1), T0 + 4);
    assert_eq!(again.fault, None);
    assert_eq!(l.b.book().len(0), 2);
    // Nothing valid at all: no checkpoint is signed.
    let (v3, _) =
        l.a.author(&l.ka, &l.pb, msg(Precedence::Routine, "3"), "a", T0 + 4)
            .unwrap();
    let gap =
        l.b.receive(&l.kb, &l.pa, vec![v3.envelope().bytes().to_vec()], T0 + 5);
    assert!(matches!(
        gap.fault,
        Some(Fault::Entry {
            index: 0,
            reject: Reject::SeqGap {
                expected: 3,
                got: 4
            }
        })
    ));
    assert!(!gap
        .writes
        .iter()
        .any(|w| matches!(w, Durable::Checkpoint { .. })));
}

#[test]
fn equivocation_keeps_evidence_alerts_and_refuses_the_chain() {
    let mut l = line(Terms::default());
    let (v, _) =
        l.a.author(&l.ka, &l.pb, msg(Precedence::Routine, "one"), "a", T0 + 1)
            .unwrap();
    let _ =
        l.b.receive(&l.kb, &l.pa, vec![v.envelope().bytes().to_vec()], T0 + 2);
    let mut twin = v.entry().clone();
    twin.time += 7;
    let twin = Envelope::sign(&twin, &l.ka).bytes().to_vec();
    let r = l.b.receive(&l.kb, &l.pa, vec![twin.clone()], T0 + 3);
    assert_eq!(r.fault, Some(Fault::Equivocation { seq: 2 }));
    assert!(r.writes.iter().any(|w| matches!(
        w,
        Durable::Evidence { author: 0, seq: 2, conflicting, .. } if *conflicting == twin
    )));
    assert!(raised(&r).contains(&(AlertKind::Equivocation, "equivocation:0:2".into())));
    assert!(raised(&r).contains(&(AlertKind::BadInput, "bad-input:alpha".into())));
    assert!(l.b.book().refused(0));
}

#[test]
fn proposals_must_name_these_two_stations_and_this_channel() {
    let (ka, kb, kc) = (keys(1), keys(2), keys(3));
    let pa = peer(1, "alpha", &ka, true);
    // Alpha proposes a channel to charlie and sends it to bravo.
    let (to_c, s) = Channel::open(
        &ka,
        &peer(3, "c", &kc, true),
        Terms::default(),
        None,
        "o",
        T0,
    )
    .unwrap();
    let (ch, r) = machine::receive_proposal(&kb, &pa, to_c.id(), envelopes(&s), 0, T0);
    assert!(ch.is_none());
    assert_eq!(r.fault, Some(Fault::ForeignProposal));
    assert!(r
        .writes
        .iter()
        .all(|w| matches!(w, Durable::RaiseAlert { .. })));
    // A proposal to bravo labelled with another channel id.
    let (to_b, s) = Channel::open(
        &ka,
        &peer(2, "b", &kb, true),
        Terms::default(),
        None,
        "o",
        T0,
    )
    .unwrap();
    let (ch, r) = machine::receive_proposal(&kb, &pa, [9; 32], envelopes(&s), 0, T0);
    assert!(ch.is_none());
    assert_eq!(r.fault, Some(Fault::ForeignProposal));
    // Not an Open at all.
    let (ch, r) = machine::receive_proposal(&kb, &pa, to_b.id(), vec![vec![0xa0]], 0, T0);
    assert!(ch.is_none());
    assert!(matches!(r.fault, Some(Fault::Proposal(_))));
    // Nothing at all: nothing happens.
    let (ch, r) = machine::receive_proposal(&kb, &pa, to_b.id(), vec![], 0, T0);
    assert!(ch.is_none() && r.is_empty());
    // A bad entry right after a good Open is named by its place in the batch.
    let mut with_garbage = envelopes(&s);
    with_garbage.push(vec![0xa0]);
    let (ch, r) = machine::receive_proposal(&kb, &pa, to_b.id(), with_garbage, 0, T0);
    assert!(ch.is_none(), "rejected whole: not even the Open is taken");
    assert!(r.entries().next().is_none());
    assert!(!r
        .writes
        .iter()
        .any(|w| matches!(w, Durable::Channel { .. })));
    assert!(
        matches!(r.fault, Some(Fault::Entry { index: 1, .. })),
        "{:?}",
        r.fault
    );
    // A peer with as many proposals waiting as allowed gets no more stored.
    let (ch, r) = machine::receive_proposal(
        &kb,
        &pa,
        to_b.id(),
        envelopes(&s),
        machine::PENDING_PROPOSALS,
        T0,
    );
    assert!(ch.is_none());
    assert_eq!(
        r.fault,
        Some(Fault::TooManyProposals {
            limit: machine::PENDING_PROPOSALS
        })
    );
    assert!(r
        .writes
        .iter()
        .all(|w| matches!(w, Durable::RaiseAlert { .. })));
    // The right one creates the channel, proposed, from the peer.
    let (ch, r) = machine::receive_proposal(
        &kb,
        &pa,
        to_b.id(),
        envelopes(&s),
        machine::PENDING_PROPOSALS - 1,
        T0,
    );
    let ch = ch.unwrap();
    assert!(ch.awaits_acceptance());
    assert_eq!((ch.book().me(), ch.peer_id()), (1, 1));
    assert!(matches!(
        r.writes[0],
        Durable::Channel { me: 1, peer: 1, .. }
    ));
    assert!(r
        .after
        .contains(&Effect::ChannelCreated { channel: to_b.id() }));
}

#[test]
fn a_channel_only_takes_entries_from_its_own_peer() {
    let mut l = line(Terms::default());
    let stranger = peer(5, "charlie", &keys(3), true);
    let r = l.b.receive(&l.kb, &stranger, vec![], T0);
    assert_eq!(r.fault, Some(Fault::OtherPeersChannel));
    assert_eq!(
        raised(&r),
        vec![(AlertKind::BadInput, "bad-input:charlie".into())]
    );
}

#[test]
fn checkpoints_are_checked_against_the_transcript() {
    let mut l = line(Terms::default());
    let _ = l.a_says(msg(Precedence::Routine, "one"), T0 + 1);
    // Our own checkpoint sent back to us is not signed by the peer: refused
    // on its signature, before its body is read.
    let (_, _) = (l.a.own_checkpoint(), ());
    let export = l.a.export_checkpoint(&l.ka, T0 + 2);
    let Some(Effect::Export(plan)) = export.after.first() else {
        panic!("no export plan")
    };
    let ours = plan.checkpoints.last().unwrap().clone();
    let r = l.a.receive_checkpoint(&l.pb, &ours, T0 + 3);
    assert!(
        matches!(
            r.fault,
            Some(Fault::Checkpoint(CheckpointFault::Signature(_)))
        ),
        "{:?}",
        r.fault
    );
    assert!(r.after.contains(&Effect::Close));
    assert!(
        reply(&r).is_none(),
        "a checkpoint fault closes without an Error"
    );
    // From the wrong peer.
    let theirs = l.b.export_checkpoint(&l.kb, T0 + 4);
    let Some(Effect::Export(p)) = theirs.after.first() else {
        panic!()
    };
    let theirs = p.checkpoints.last().unwrap().clone();
    let stranger = peer(5, "c", &keys(3), true);
    assert_eq!(
        l.a.receive_checkpoint(&stranger, &theirs, T0).fault,
        Some(Fault::Checkpoint(CheckpointFault::WrongSide))
    );
    // Garbage.
    assert!(matches!(
        machine::open_checkpoint(&l.pb, &[1, 2, 3]).map(|o| o.channel()),
        Err(CheckpointFault::Undecodable(_))
    ));
    assert_eq!(
        machine::open_checkpoint(&l.pb, &theirs).map(|o| o.channel()),
        Ok(l.a.id())
    );
    // Routing verifies first: the same bytes from another peer are refused
    // as unsigned by it, before their body is read.
    assert!(matches!(
        machine::open_checkpoint(&stranger, &theirs).map(|o| o.channel()),
        Err(CheckpointFault::Signature(_))
    ));
    // A body the peer never signed (one byte of it changed) is not decoded.
    let mut forged = theirs.clone();
    let i = forged.len() / 2;
    forged[i] ^= 1;
    assert!(matches!(
        machine::open_checkpoint(&l.pb, &forged).map(|o| o.channel()),
        Err(CheckpointFault::Signature(_) | CheckpointFault::Undecodable(_))
    ));
    // A checkpoint covering an own entry we never wrote disagrees.
    let mut other = line(Terms::default());
    let _ = other.a_says(msg(Precedence::Routine, "x"), T0 + 1);
    let _ = other.a_says(msg(Precedence::Routine, "y"), T0 + 2);
    let r = l.a.receive_checkpoint(
        &l.pb,
        &checkpoint_reply(&{
            let (_, s) = other
                .a
                .author(
                    &other.ka,
                    &other.pb,
                    msg(Precedence::Routine, "z"),
                    "a",
                    T0 + 3,
                )
                .unwrap();
            other.b.receive(&other.kb, &other.pa, envelopes(&s), T0 + 3)
        }),
        T0 + 5,
    );
    assert!(
        matches!(
            r.fault,
            Some(Fault::Checkpoint(CheckpointFault::Disagrees {
                ours: 4,
                ..
            }))
        ),
        "{:?}",
        r.fault
    );
}

#[test]
fn a_checkpoint_naming_another_entry_at_the_peers_head_disagrees() {
    // Two lines with the same keys and the same start, whose bravos then say different things.
    let mut l = line(Terms::default());
    let mut other = line(Terms::default());
    assert_eq!(l.a.id(), other.a.id());
    let _ = l.b_says(msg(Precedence::Routine, "yes"), T0 + 1);
    let _ = other.b_says(msg(Precedence::Routine, "no"), T0 + 1);
    let forked = match other.b.export_checkpoint(&other.kb, T0 + 2).after.pop() {
        Some(Effect::Export(p)) => p.checkpoints.last().unwrap().clone(),
        e => panic!("{e:?}"),
    };
    // It covers bravo's seq 2, which alpha holds, with another hash.
    let r = l.a.receive_checkpoint(&l.pb, &forked, T0 + 3);
    assert!(
        matches!(
            r.fault,
            Some(Fault::Checkpoint(CheckpointFault::Disagrees {
                theirs: 2,
                held_theirs: 2,
                ..
            }))
        ),
        "{:?}",
        r.fault
    );
}

/// What a book holds that a batch can change, to compare before and after.
fn held(ch: &Channel) -> String {
    let b = ch.book();
    let sorted = |s: &std::collections::HashSet<hotline_proto::Hash>| {
        let mut v: Vec<_> = s.iter().copied().collect();
        v.sort();
        v
    };
    format!(
        "{:?} {:?} {:?} {:?} {:?} {:?} {:?} {:?}",
        [b.head(0), b.head(1)],
        b.state(),
        b.unacked(),
        b.open_requests,
        sorted(&b.decided),
        sorted(&b.deadline_acted),
        b.last_stored_at(0),
        b.last_stored_at(1),
    )
}

/// A refused batch leaves the book exactly as it was, whatever its valid
/// entries before the fault had changed: acknowledgements, decisions,
/// requests, a suspension, proof of delivery, new messages.
#[test]
fn a_refused_batch_leaves_the_book_exactly_as_it_was() {
    let mut l = line(Terms::default());
    // Bravo's message and request reach alpha; alpha's message reaches bravo.
    let b_msg = l.b_says(msg(Precedence::Flash, "from bravo"), T0 + 1);
    let b_msg = b_msg.entries().next().unwrap().hash();
    let q = Body::Request {
        question: "?".into(),
        options: vec!["yes".into()],
        deadline: T0 + 12 * MIN,
        on_miss: OnMiss::Suspend,
    };
    let b_req = l.b_says(q, T0 + 2).entries().next().unwrap().hash();
    let _ = l.a_says(msg(Precedence::Routine, "from alpha"), T0 + 3);
    // Alpha writes a batch that changes everything a batch can change.
    let mut batch = vec![];
    for (i, body) in [
        Body::Ack { of: b_msg },
        Body::Decision {
            request: b_req,
            choice: "yes".into(),
            text: String::new(),
        },
        msg(Precedence::Immediate, "new"),
        Body::Suspend {
            reason: "pause".into(),
        },
    ]
    .into_iter()
    .enumerate()
    {
        let (_, s) =
            l.a.author(&l.ka, &l.pb, body, "a", T0 + 10 + i as u64)
                .unwrap();
        batch.extend(envelopes(&s));
    }
    batch.push(vec![0xa0]);
    let before = held(&l.b);
    let r = l.b.receive(&l.kb, &l.pa, batch.clone(), T0 + 20);
    assert!(
        matches!(r.fault, Some(Fault::Entry { index: 4, .. })),
        "{:?}",
        r.fault
    );
    assert_eq!(held(&l.b), before);
    // And the same batch without the bad entry is then taken whole.
    batch.pop();
    let r = l.b.receive(&l.kb, &l.pa, batch, T0 + 21);
    assert_eq!(r.fault, None);
    assert_ne!(held(&l.b), before);
    assert!(l.b.book().state().is_suspended());
}
