//! The station machine, driven directly (see `machine.rs`): the policy
//! tick, restore and export, the outbound cursor, and the alerts about a
//! peer rather than a channel.

#[path = "common/line.rs"]
mod line;

use hotline_core::machine::{
    self, Channel, Durable, Effect, Fault, Outbound, Step, BATCH_BYTES, BATCH_ENTRIES, WINDOW,
};
use hotline_core::policy::AlertKind;
use hotline_proto::{Body, ContactSchedule, Hash, Kind, LinkMsg, OnMiss, Precedence, Terms};
use line::*;

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
    assert_eq!(r.book().unacked()[0].len(), 1);
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
        .write(rows.into_iter().map(|(a, s, e, _)| (a, s, e)), &[], &[])
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
