//! The station machine, driven directly: each procedure's writes, effects
//! and faults, with an injected clock and no storage. Two machines talk by
//! handing each other the bytes of their steps, as the daemon's link does.

use hotline_core::machine::{
    self, Channel, CheckpointFault, Durable, Effect, Fault, OpenRefusal, Outbound, Peer, Step,
    BATCH_BYTES, BATCH_ENTRIES, WINDOW,
};
use hotline_core::policy::AlertKind;
use hotline_core::Reject;
use hotline_proto::{
    Body, ContactSchedule, Entry, Envelope, Hash, Kind, LinkMsg, OnMiss, Precedence, SecretKeys,
    Terms,
};

const T0: u64 = 1_800_000_000_000;
const MIN: u64 = 60_000;

fn keys(n: u8) -> SecretKeys {
    SecretKeys::from_bytes(&[n; 96]).unwrap()
}

fn peer(id: i64, name: &str, k: &SecretKeys, verified: bool) -> Peer {
    Peer {
        id,
        name: name.into(),
        identity: k.identity(),
        verified,
    }
}

fn msg(p: Precedence, text: &str) -> Body {
    Body::Message {
        precedence: p,
        subject: String::new(),
        text: text.into(),
        labels: vec![],
        reply_to: None,
    }
}

/// The envelopes a step writes, as a link would carry them.
fn envelopes(step: &Step) -> Vec<Vec<u8>> {
    step.entries()
        .map(|v| v.envelope().bytes().to_vec())
        .collect()
}

fn reply(step: &Step) -> Option<&LinkMsg> {
    step.after.iter().find_map(|e| match e {
        Effect::Reply(m) => Some(m),
        _ => None,
    })
}

fn checkpoint_reply(step: &Step) -> Vec<u8> {
    match reply(step) {
        Some(LinkMsg::Checkpoint { envelope }) => envelope.clone(),
        other => panic!("expected a checkpoint reply, got {other:?}"),
    }
}

fn raised(step: &Step) -> Vec<(AlertKind, String)> {
    step.writes
        .iter()
        .filter_map(|w| match w {
            Durable::RaiseAlert { kind, key, .. } => Some((*kind, key.clone())),
            _ => None,
        })
        .collect()
}

fn cleared(step: &Step) -> Vec<String> {
    step.writes
        .iter()
        .filter_map(|w| match w {
            Durable::ClearAlert { key, .. } => Some(key.clone()),
            _ => None,
        })
        .collect()
}

/// Alpha (author 0, row 1 at bravo) and bravo (author 1, row 2 at alpha), both verified.
struct Line {
    ka: SecretKeys,
    kb: SecretKeys,
    /// Bravo as pinned at alpha.
    pb: Peer,
    /// Alpha as pinned at bravo.
    pa: Peer,
    a: Channel,
    b: Channel,
}

fn line(terms: Terms) -> Line {
    let (ka, kb) = (keys(1), keys(2));
    let pb = peer(2, "bravo", &kb, true);
    let pa = peer(1, "alpha", &ka, true);
    let (a, open) = Channel::open(&ka, &pb, terms, None, "ops", T0).unwrap();
    let (b, step) = machine::receive_proposal(&kb, &pa, a.id(), envelopes(&open), 0, T0);
    let mut l = Line {
        ka,
        kb,
        pb,
        pa,
        a,
        b: b.expect("the proposal is accepted"),
    };
    assert_eq!(step.fault, None);
    let th = l.b.book().terms().hash();
    let acc = l.b_says(Body::Accept { terms_hash: th }, T0);
    assert_eq!(acc.fault, None);
    l
}

impl Line {
    /// Bravo authors; alpha receives and answers; bravo takes the checkpoint.
    fn b_says(&mut self, body: Body, t: u64) -> Step {
        let (_, s) = self.b.author(&self.kb, &self.pa, body, "b", t).unwrap();
        let r = self.a.receive(&self.ka, &self.pb, envelopes(&s), t);
        if r.fault.is_none() {
            let ck = checkpoint_reply(&r);
            let _ = self.b.receive_checkpoint(&self.pa, &ck, t);
        }
        r
    }
    /// Alpha authors; bravo receives and answers; alpha takes the checkpoint.
    fn a_says(&mut self, body: Body, t: u64) -> Step {
        let (_, s) = self.a.author(&self.ka, &self.pb, body, "a", t).unwrap();
        let r = self.b.receive(&self.kb, &self.pa, envelopes(&s), t);
        if r.fault.is_none() {
            let ck = checkpoint_reply(&r);
            let _ = self.a.receive_checkpoint(&self.pb, &ck, t);
        }
        r
    }
}

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
        machine::checkpoint_channel(&l.pb, &[1, 2, 3]),
        Err(CheckpointFault::Undecodable(_))
    ));
    assert_eq!(machine::checkpoint_channel(&l.pb, &theirs), Ok(l.a.id()));
    // Routing verifies first: the same bytes from another peer are refused
    // as unsigned by it, before their body is read.
    assert!(matches!(
        machine::checkpoint_channel(&stranger, &theirs),
        Err(CheckpointFault::Signature(_))
    ));
    // A body the peer never signed (one byte of it changed) is not decoded.
    let mut forged = theirs.clone();
    let i = forged.len() / 2;
    forged[i] ^= 1;
    assert!(matches!(
        machine::checkpoint_channel(&l.pb, &forged),
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

#[test]
fn the_tick_writes_contact_checks_and_acts_on_missed_deadlines_once() {
    let terms = Terms {
        contact: ContactSchedule::Every(10 * MIN),
        ..Terms::default()
    };
    let mut l = line(terms);
    assert!(
        l.a.tick(&l.ka, &l.pb, T0 + MIN).is_empty(),
        "nothing due yet"
    );
    let s = l.a.tick(&l.ka, &l.pb, T0 + 11 * MIN);
    let bodies: Vec<Kind> = s.entries().map(|v| v.entry().body.kind()).collect();
    assert_eq!(bodies, vec![Kind::ContactCheck]);
    assert!(s.after.contains(&Effect::Wake { peer: 2 }));
    assert_eq!(s.fault, None);
    // A request whose deadline passes suspends the channel, once.
    let (req, rs) =
        l.a.author(
            &l.ka,
            &l.pb,
            Body::Request {
                question: "?".into(),
                options: vec!["yes".into()],
                deadline: T0 + 12 * MIN,
                on_miss: OnMiss::Suspend,
            },
            "a",
            T0 + 11 * MIN,
        )
        .unwrap();
    let _ = rs;
    let s = l.a.tick(&l.ka, &l.pb, T0 + 13 * MIN);
    let key = format!("deadline-missed:{}", hotline_proto::hex(&req.hash()));
    assert!(raised(&s).contains(&(AlertKind::DeadlineMissed, key.clone())));
    assert!(s
        .entries()
        .any(|v| matches!(v.entry().body, Body::Suspend { .. })));
    assert!(l.a.open_alerts().contains(&key));
    assert!(l.a.book().state().is_suspended());
    assert!(
        l.a.tick(&l.ka, &l.pb, T0 + 13 * MIN).is_empty(),
        "quiet after acting"
    );
}

#[test]
fn the_tick_raises_and_clears_acknowledgement_clocks() {
    let mut l = line(Terms::default());
    let s = l.b_says(msg(Precedence::Flash, "now"), T0);
    let h = s.entries().next().unwrap().hash();
    let s = l.a.tick(&l.ka, &l.pb, T0 + 5 * MIN);
    let key = format!("ack-overdue:{}:50", hotline_proto::hex(&h));
    assert!(raised(&s).contains(&(AlertKind::AckOverdue, key.clone())));
    assert!(s.after.iter().any(|e| matches!(e, Effect::Alert { .. })));
    let _ =
        l.a.author(&l.ka, &l.pb, Body::Ack { of: h }, "a", T0 + 6 * MIN)
            .unwrap();
    let s = l.a.tick(&l.ka, &l.pb, T0 + 6 * MIN);
    assert!(cleared(&s).contains(&key));
    assert!(!l.a.open_alerts().contains(&key));
}

/// What alpha's storage would hold: its entry writes in commit order, and the
/// latest checkpoint of each side.
/// Stored entry rows `(author, seq, envelope, stored_at)` and each side's checkpoint.
type Rows = (Vec<(u8, u64, Vec<u8>, u64)>, [Option<Vec<u8>>; 2]);

fn alpha_rows(steps: &[&Step]) -> Rows {
    let mut rows = vec![];
    let mut cps = [None, None];
    for s in steps {
        for w in &s.writes {
            match w {
                Durable::Entry { entry, stored_at } => rows.push((
                    entry.entry().author,
                    entry.entry().seq,
                    entry.envelope().bytes().to_vec(),
                    *stored_at,
                )),
                Durable::Checkpoint {
                    signer, envelope, ..
                } => cps[*signer as usize] = Some(envelope.clone()),
                _ => {}
            }
        }
    }
    (rows, cps)
}

/// Alpha's side of a short line: open, bravo accepts, alpha sends a FLASH and
/// bravo proves its delivery. Returns alpha's channel and every step alpha took.
fn alpha_history() -> (Channel, Vec<Step>) {
    let (ka, kb) = (keys(1), keys(2));
    let (pa, pb) = (peer(1, "alpha", &ka, true), peer(2, "bravo", &kb, true));
    let (mut a, open) = Channel::open(&ka, &pb, Terms::default(), None, "ops", T0).unwrap();
    let (b, _) = machine::receive_proposal(&kb, &pa, a.id(), envelopes(&open), 0, T0);
    let mut b = b.unwrap();
    let th = b.book().terms().hash();
    let (_, acc) = b
        .author(&kb, &pa, Body::Accept { terms_hash: th }, "b", T0 + 1)
        .unwrap();
    let got = a.receive(&ka, &pb, envelopes(&acc), T0 + 2);
    let (_, m) = a
        .author(&ka, &pb, msg(Precedence::Flash, "x"), "a", T0 + 3)
        .unwrap();
    let back = b.receive(&kb, &pa, envelopes(&m), T0 + 4);
    let proof = a.receive_checkpoint(&pb, &checkpoint_reply(&back), T0 + 5);
    (a, vec![open, got, m, proof])
}

#[test]
fn restore_rebuilds_the_same_channel_and_refuses_damage() {
    let (a, steps) = alpha_history();
    let (rows, cps) = alpha_rows(&steps.iter().collect::<Vec<_>>());
    let alerts = vec![
        "ack-overdue:00:50".to_string(),
        "bad-input:bravo".to_string(),
    ];
    let r = Channel::restore(0, 2, rows.clone(), cps.clone(), alerts).unwrap();
    assert_eq!(r.heads(), a.heads());
    assert_eq!(r.id(), a.id());
    assert_eq!(r.peer_id(), 2);
    assert_eq!(r.delivered_upto(), 2);
    assert_eq!(r.sent_upto(), 2, "what was proven delivered counts as sent");
    assert_eq!(r.own_checkpoint(), a.own_checkpoint());
    assert!(r.peer_checkpoint().is_some());
    assert!(r.last_delivery_at().is_some());
    assert_eq!(r.book().state(), a.book().state());
    assert_eq!(r.book().unacked[0].len(), 1);
    assert_eq!(
        r.open_alerts().iter().cloned().collect::<Vec<_>>(),
        vec!["ack-overdue:00:50".to_string()],
        "only policy alerts belong to the channel"
    );
    // A flipped byte in a stored entry is noticed.
    let mut bad = rows.clone();
    let last = bad.last_mut().unwrap();
    let n = last.2.len();
    last.2[n - 70] ^= 1;
    assert!(matches!(
        Channel::restore(0, 2, bad, cps.clone(), Vec::<String>::new()),
        Err(machine::RestoreError::Entry {
            author: 0,
            seq: 2,
            ..
        })
    ));
    // A checkpoint that does not verify is noticed.
    let mut cps2 = cps.clone();
    cps2[1].as_mut().unwrap()[10] ^= 1;
    assert!(matches!(
        Channel::restore(0, 2, rows.clone(), cps2, Vec::<String>::new()),
        Err(machine::RestoreError::Checkpoint { signer: 1, .. })
    ));
    let empty: Vec<(u8, u64, Vec<u8>, u64)> = vec![];
    assert!(matches!(
        Channel::restore(0, 2, empty, [None, None], Vec::<String>::new()),
        Err(machine::RestoreError::Empty(_))
    ));
    assert!(matches!(
        Channel::restore(
            0,
            2,
            vec![(0, 1, vec![1, 2], T0)],
            [None, None],
            Vec::<String>::new()
        ),
        Err(machine::RestoreError::Open { .. })
    ));
}

#[test]
fn an_export_covers_exactly_what_its_checkpoint_covers() {
    let (mut a, mut steps) = alpha_history();
    let (ka, pb) = (keys(1), peer(2, "bravo", &keys(2), true));
    let s = a.export_checkpoint(&ka, T0 + 6);
    assert!(matches!(s.writes[0], Durable::Checkpoint { signer: 0, .. }));
    let Some(Effect::Export(plan)) = s.after.first() else {
        panic!("no export plan")
    };
    assert_eq!(plan.heads, a.heads());
    assert_eq!(plan.checkpoints.len(), 2, "the peer's and ours");
    assert_eq!((plan.me, plan.at, plan.channel), (0, T0 + 6, a.id()));
    // An entry committed after the checkpoint was signed is left for the next export.
    let (_, late) = a
        .author(&ka, &pb, msg(Precedence::Routine, "late"), "a", T0 + 7)
        .unwrap();
    steps.push(late);
    let (rows, _) = alpha_rows(&steps.iter().collect::<Vec<_>>());
    let text = plan
        .write(rows.into_iter().map(|(a, s, e, _)| (a, s, e)), &[])
        .unwrap();
    let sum = hotline_core::export::verify(&text).unwrap();
    assert_eq!(sum.counts, [2, 1]);
}

#[test]
fn outbound_resumes_above_what_the_peer_holds_and_asks_for_owed_checkpoints() {
    let mut l = line(Terms::default());
    for i in 0..3 {
        let _ =
            l.a.author(
                &l.ka,
                &l.pb,
                msg(Precedence::Routine, &i.to_string()),
                "a",
                T0 + i,
            )
            .unwrap();
    }
    // Bravo's Hello says it holds alpha's entries up to 2 (of 4).
    let LinkMsg::Hello { mut heads, .. } = machine::hello([&l.b]) else {
        panic!()
    };
    heads[0].heads[0].0 = 2;
    let mut out = Outbound::new(&heads, [&l.a]);
    // delivered_upto is 1 (the Open, proven by the Accept's checkpoint), the peer holds 2.
    assert_eq!(
        out.checkpoint_requests(),
        vec![LinkMsg::Entries {
            channel: l.a.id(),
            envelopes: vec![]
        }]
    );
    assert!(out.checkpoint_requests().is_empty(), "asked once");
    assert_eq!(out.next(&l.a, 100), Some((3, 100)));
    assert_eq!(out.next(&l.a, 1), Some((3, 1)));
    assert!(!out.caught_up(&l.a));
    let rows = |from: u64, to: u64| -> Vec<(u64, Vec<u8>)> {
        (from..=to).map(|s| (s, vec![s as u8; 10])).collect()
    };
    // Rows that do not start right above the cursor are not packed.
    assert_eq!(out.pack(&l.a, rows(4, 5)), None);
    let (m, last) = out.pack(&l.a, rows(3, 5)).unwrap();
    assert!(matches!(m, LinkMsg::Entries { ref envelopes, .. } if envelopes.len() == 3));
    assert_eq!(last, 5);
    assert_eq!(l.a.sent_upto(), 0, "sent only once the shell has sent it");
    l.a.mark_sent(last);
    assert_eq!(l.a.sent_upto(), 5);
    assert_eq!(out.next(&l.a, 100), None);
    assert!(out.caught_up(&l.a));
}

#[test]
fn outbound_packs_within_the_byte_budget_and_the_window() {
    let l = line(Terms::default());
    let mut out = Outbound::new(&[], [&l.a]);
    assert_eq!(
        out.next(&l.a, 10),
        Some((1, 10)),
        "from the start when the peer holds nothing"
    );
    let big = BATCH_BYTES / 2 + 1;
    let rows: Vec<(u64, Vec<u8>)> = (1..=3).map(|s| (s, vec![0; big])).collect();
    let (m, _) = out.pack(&l.a, rows).unwrap();
    assert!(matches!(m, LinkMsg::Entries { ref envelopes, .. } if envelopes.len() == 1));
    // Envelopes that fit the budget together go together.
    let l2 = line(Terms::default());
    let mut out2 = Outbound::new(&[], [&l2.a]);
    let (m, _) = out2
        .pack(&l2.a, vec![(1, vec![0; 400_000]), (2, vec![0; 400_000])])
        .unwrap();
    assert!(matches!(m, LinkMsg::Entries { ref envelopes, .. } if envelopes.len() == 2));
    // Exactly the budget still fits.
    let l3 = line(Terms::default());
    let mut out3 = Outbound::new(&[], [&l3.a]);
    let half = BATCH_BYTES / 2;
    let (m, _) = out3
        .pack(
            &l3.a,
            vec![(1, vec![0; half]), (2, vec![0; BATCH_BYTES - half])],
        )
        .unwrap();
    assert!(matches!(m, LinkMsg::Entries { ref envelopes, .. } if envelopes.len() == 2));
    // A single envelope over the budget still goes alone.
    let (m, last) = out.pack(&l.a, vec![(2, vec![0; BATCH_BYTES + 1])]).unwrap();
    assert!(matches!(m, LinkMsg::Entries { ref envelopes, .. } if envelopes.len() == 1));
    assert_eq!(last, 2);
    const { assert!(WINDOW >= 1024) };
}

#[test]
fn outbound_keeps_at_most_a_window_in_flight() {
    let mut l = line(Terms::default());
    for i in 0..10 {
        let _ = l.a_says(msg(Precedence::Routine, &format!("d{i}")), T0 + i);
    }
    assert_eq!(
        l.a.delivered_upto(),
        11,
        "the Open and ten messages are proven"
    );
    for i in 0..4000u64 {
        let _ =
            l.a.author(
                &l.ka,
                &l.pb,
                msg(Precedence::Routine, "w"),
                "a",
                T0 + 100 + i,
            )
            .unwrap();
    }
    // The peer says it holds 4,000 of ours: 3,989 are in flight, unproven.
    let LinkMsg::Hello { mut heads, .. } = machine::hello([&l.b]) else {
        panic!()
    };
    heads[0].heads[0].0 = 4000;
    let mut out = Outbound::new(&heads, [&l.a]);
    assert_eq!(
        out.next(&l.a, BATCH_ENTRIES),
        Some((4001, (WINDOW - 3989) as usize)),
        "only what keeps the window full"
    );
    // All of it held: nothing to send, whatever the window.
    heads[0].heads[0].0 = 4011;
    let mut all = Outbound::new(&heads, [&l.a]);
    assert_eq!(all.next(&l.a, BATCH_ENTRIES), None);
}

#[test]
fn link_down_opens_once_after_the_threshold_and_clears_on_return() {
    let p = peer(2, "bravo", &keys(2), true);
    let t = 3000;
    assert!(machine::link_check(&p, false, false, T0, true, t, T0 + t).is_empty());
    let s = machine::link_check(&p, false, false, T0, true, t, T0 + t + 1);
    assert_eq!(
        raised(&s),
        vec![(AlertKind::LinkDown, "link-down:bravo".into())]
    );
    assert!(machine::link_check(&p, true, false, T0, true, t, T0 + 9 * t).is_empty());
    // Open, still down, but not yet past the threshold (just restarted): stays open.
    assert!(machine::link_check(&p, true, false, T0, true, t, T0 + 1).is_empty());
    assert!(machine::link_check(&p, false, false, T0, false, t, T0 + 9 * t).is_empty());
    assert_eq!(
        cleared(&machine::link_check(
            &p,
            true,
            true,
            T0,
            true,
            t,
            T0 + 9 * t
        )),
        vec!["link-down:bravo".to_string()]
    );
    assert_eq!(
        cleared(&machine::link_check(
            &p,
            true,
            false,
            T0,
            false,
            t,
            T0 + 9 * t
        )),
        vec!["link-down:bravo".to_string()]
    );
    assert!(machine::link_check(&p, false, true, T0, true, t, T0 + 9 * t).is_empty());
}

#[test]
fn bad_input_and_unpinned_keys_raise_one_alert_per_cause() {
    let p = peer(2, "bravo", &keys(2), true);
    let s = machine::bad_input(&p, Some([1; 32]), "garbage", Some(2), T0);
    assert_eq!(
        raised(&s),
        vec![(AlertKind::BadInput, "bad-input:bravo".into())]
    );
    assert!(
        matches!(&s.writes[0], Durable::RaiseAlert { channel: None, cause, .. } if cause.contains("garbage") && cause.contains("0101"))
    );
    assert_eq!(
        s.after,
        vec![
            Effect::Alert { write: 0 },
            Effect::Reply(LinkMsg::Error {
                code: 2,
                text: "garbage".into()
            }),
            Effect::Close
        ]
    );
    let s = machine::bad_input(&p, None, "x", None, T0);
    assert_eq!(s.after, vec![Effect::Alert { write: 0 }, Effect::Close]);
    assert_eq!(
        machine::unpinned_key_key(&[7; 32]),
        format!("unpinned-key:{}", "07".repeat(32))
    );
    assert!(machine::is_policy_key("ack-overdue:ab:50"));
    assert!(machine::is_policy_key("contact-missed"));
    assert!(!machine::is_policy_key("bad-input:bravo"));
    assert!(!machine::is_policy_key("link-down:bravo"));
}

#[test]
fn strangers_raise_one_alert_counted_in_memory_and_noted_once_a_minute() {
    let mut st = machine::Strangers::default();
    let s = st.knock(&[7; 32], "10.0.0.1:5", T0);
    assert_eq!(
        raised(&s),
        vec![(AlertKind::UnpinnedKey, machine::UNPINNED_KEY.to_owned())]
    );
    assert_eq!(s.after, vec![Effect::Alert { write: 0 }]);
    // A flood within the minute writes nothing at all.
    for i in 0..1000u64 {
        let key = [(i % 250) as u8; 32];
        assert!(st.knock(&key, "10.0.0.2:6", T0 + 1 + i).is_empty());
    }
    assert_eq!(st.count, 1001);
    // A minute on, the cause is brought up to date: count and last source.
    let s = st.knock(&[9; 32], "10.0.0.3:7", T0 + machine::STRANGER_NOTE_EVERY_MS);
    match &s.writes[..] {
        [Durable::NoteAlert { key, cause, .. }] => {
            assert_eq!(key, machine::UNPINNED_KEY);
            assert!(cause.contains("1002 handshakes"), "{cause}");
            assert!(cause.contains("10.0.0.3:7"), "{cause}");
        }
        w => panic!("{w:?}"),
    }
    assert!(
        s.after.is_empty(),
        "a note is not a new alert: no hook, no event"
    );
    // Pinning a key that is not the last to knock leaves the alert open.
    assert!(st.pinned(&[7; 32], T0 + 70_000).is_empty());
    // Pinning the last one clears it, and the next stranger raises it afresh.
    assert_eq!(
        cleared(&st.pinned(&[9; 32], T0 + 71_000)),
        vec![machine::UNPINNED_KEY.to_owned()]
    );
    assert_eq!(raised(&st.knock(&[1; 32], "x", T0 + 72_000)).len(), 1);
    // After a restart the last knocker is unknown: pinning any key clears.
    let mut restarted = machine::Strangers {
        open: true,
        ..Default::default()
    };
    assert_eq!(cleared(&restarted.pinned(&[3; 32], T0)).len(), 1);
    assert_eq!(
        machine::unpinned_key_key(&[7; 32]),
        format!("unpinned-key:{}", "07".repeat(32))
    );
}

#[test]
fn steps_extend_with_shifted_write_indices() {
    let p = peer(2, "bravo", &keys(2), true);
    let mut a = machine::bad_input(&p, None, "one", None, T0);
    let b = machine::reject(&p, None, Fault::OtherPeersChannel, T0);
    a.extend(b);
    assert_eq!(a.writes.len(), 2);
    assert!(a.after.contains(&Effect::Alert { write: 1 }));
    assert_eq!(a.fault, Some(Fault::OtherPeersChannel));
    let mut c = machine::reject(&p, None, Fault::ForeignProposal, T0);
    c.extend(machine::reject(&p, None, Fault::OtherPeersChannel, T0));
    assert_eq!(
        c.fault,
        Some(Fault::ForeignProposal),
        "the first fault stays"
    );
    assert!(!c.is_empty());
    // Entry reports shift too: their index must still name their own write.
    let (ka, kb) = (keys(1), keys(2));
    let (_, open) = Channel::open(
        &ka,
        &peer(2, "b", &kb, true),
        Terms::default(),
        None,
        "o",
        T0,
    )
    .unwrap();
    let mut d = machine::bad_input(&p, None, "first", None, T0);
    d.extend(open);
    assert!(d.after.iter().any(|e| matches!(
        e,
        Effect::Committed {
            write: 2,
            kind: Kind::Open,
            ..
        }
    )));
    assert!(matches!(d.writes[2], Durable::Entry { .. }));
    // Empty means nothing to write, nothing to do and no fault.
    let only_effect = Step {
        after: vec![Effect::Close],
        ..Step::default()
    };
    assert!(!only_effect.is_empty());
    let only_fault = Step {
        fault: Some(Fault::PolicyNotQuiet),
        ..Step::default()
    };
    assert!(!only_fault.is_empty());
    assert!(Step::default().is_empty());
    assert!(Fault::ForeignProposal.is_peer_fault());
    assert!(!Fault::PolicyNotQuiet.is_peer_fault());
    let _: Hash = [0; 32];
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
        b.unacked,
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
